//! vfio-netmap: a userspace, poll-mode NIC driver with netmap's ring API.
//!
//! * [`mem`]: memory regions (hugepage-backed when possible) laid out like
//!   netmap's allocator: `netmap_if`s, rings and a pool of fixed-size buffers.
//! * [`driver`]: PCI discovery, VFIO and the NIC drivers.
//! * [`api`]: the netmap-compatible API: port names, rings, sync, poll, pipes.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod api;
pub mod driver;
pub mod mem;
