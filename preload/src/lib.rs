//! `/dev/netmap` served in userspace: under `LD_PRELOAD`, this library
//! lets unmodified netmap programs (netmap_user.h's `nm_open`, libnetmap's
//! `nmport_open`, or raw `ioctl`s) run on vfio-netmap's ports.
//!
//! * `open("/dev/netmap")` (and `open64`, `openat`, `__open_2`, ...)
//!   returns a real fd: one end of a socketpair (see [`handle`]);
//! * `ioctl` serves `NIOCCTRL` (`REGISTER`, `PORT_INFO_GET`,
//!   `PORT_HDR_SET`/`GET`, `POOLS_INFO_GET`), the legacy `NIOCGINFO` and
//!   `NIOCREGIF`, and `NIOCTXSYNC`/`NIOCRXSYNC` ([`control`]); the name,
//!   mode and flags become one of our port names ([`names`]) for
//!   `vfio_netmap::ports::open`;
//! * `mmap` of the fd maps the port's region file again, `MAP_SHARED`, so
//!   netmap_user.h's macros find the rings and buffers;
//! * `poll`, `ppoll`, `select` and `pselect` sync and wait as netmap's
//!   poll does, mixing in the process's other fds;
//! * `close` unregisters when no copy of the fd is left (a forked child
//!   keeps a registration its parent closed); `dup`, `dup2`, `dup3` and
//!   `fcntl(F_DUPFD)` copies are emulated fds too.
//!
//! Errors get netmap's errno, and a message under `RUST_LOG=warn`. The
//! C-facing `unsafe` is all in `hooks`.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod control;
pub mod error;
pub mod handle;
#[cfg(not(test))]
pub mod hooks;
pub mod names;
#[cfg(not(test))]
mod real;
