//! vfio-netmap: a userspace, poll-mode NIC driver with netmap's ring API.
//!
//! * [`mem`]: memory regions (hugepage-backed when possible) laid out like
//!   netmap's allocator: `netmap_if`s, rings and a pool of fixed-size buffers.
//! * [`driver`]: PCI discovery, VFIO and the NIC drivers.
//! * [`api`]: the netmap-compatible API: port names, rings, sync, poll, pipes.
#![deny(unsafe_op_in_unsafe_fn)]

// The 82599 model in hw/ (included by `driver::model_port`) names this
// crate as its users do.
extern crate self as vfio_netmap;

pub mod api;
pub mod driver;
pub mod mem;
