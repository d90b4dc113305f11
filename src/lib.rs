//! vfio-netmap: a userspace, poll-mode NIC driver with netmap's ring API.
//!
//! Layers, each importing only those below it:
//! * [`abi`]: netmap's C structures, with netmap's exact layout;
//! * [`mem`]: memory regions (hugepage-backed when possible) laid out like
//!   netmap's allocator: `netmap_if`s, rings and a pool of fixed-size
//!   buffers;
//! * [`api`]: rings, sync semantics, [`Port`](api::Port) over a
//!   [`Backend`](api::Backend), `poll`, pipes;
//! * [`driver`]: PCI discovery, VFIO and the NIC drivers (backends);
//! * [`ports`]: port names, and opening a port by name.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

// The device models in hw/ (included by the `model:` ports with the
// `models` feature) name this crate as its users do.
#[cfg(feature = "models")]
extern crate self as vfio_netmap;

pub mod abi;
pub mod api;
pub mod driver;
pub mod mem;
pub mod ports;
