//! Why a `/dev/netmap` request failed, and the errno netmap returns for it.

use vfio_netmap::api::ApiError;
use vfio_netmap::driver::DriverError;
use vfio_netmap::mem::MemError;
use vfio_netmap::ports::PortError;

/// What went wrong serving a request on an emulated `/dev/netmap` fd.
#[derive(Debug, thiserror::Error)]
pub enum PreloadError {
    /// `nr_version` is not netmap API 14.
    #[error(
        "netmap API version {0} is not served: this /dev/netmap speaks API 14; build the program \
         against netmap 14's headers or include/vfio_netmap.h"
    )]
    Version(u32),
    /// `nr_reserved` is not zero.
    #[error("nmreq_header.nr_reserved is {0}; it must be zero (memset the header)")]
    Reserved(u32),
    /// A request type we do not serve.
    #[error(
        "request type {0} is not served: this /dev/netmap serves REGISTER (1), PORT_INFO_GET (2), \
         PORT_HDR_SET/GET (6/7) and POOLS_INFO_GET (12); VALE, sync-kloop and CSB requests need \
         netmap's kernel module"
    )]
    UnknownRequest(u16),
    /// The request has no body where one is needed.
    #[error("request type {0} needs a body: nr_body is NULL")]
    NoBody(u16),
    /// An option with type 0, a duplicate or a list too long.
    #[error("bad option list: {0}")]
    BadOptions(String),
    /// An option we do not serve.
    #[error(
        "option {0} is not served (extmem, offsets, CSB and sync-kloop options need netmap's \
         kernel module); register without it"
    )]
    Option(String),
    /// `nr_name` is empty or not UTF-8.
    #[error("port name {0:?}: {1}")]
    Name(String, &'static str),
    /// A registration mode we do not serve.
    #[error(
        "registration mode {0} is not served: use NR_REG_ALL_NIC (1) or NR_REG_ONE_NIC (4) with \
         nr_ringid, or the legacy pipe modes (5, 6)"
    )]
    Mode(u32),
    /// A pipe mode on a name that already names a pipe end.
    #[error(
        "`{0}` already names a pipe end: give either `NAME{{ID` in nr_name or the pipe mode, not \
         both"
    )]
    PipeTwice(String),
    /// This fd already has a port.
    #[error("this /dev/netmap fd is already registered to `{0}`: open /dev/netmap again")]
    Busy(String),
    /// A sync or mmap before registration.
    #[error("this /dev/netmap fd has no port: register one first (NIOCCTRL REGISTER or NIOCREGIF)")]
    NotRegistered,
    /// A virtio-net header on a port without one.
    #[error(
        "virtio-net header length {0}: our ports carry plain frames (header length 0); netmap \
         takes headers on VALE ports only"
    )]
    HdrLen(u32),
    /// A legacy VALE command.
    #[error("legacy nr_cmd {0} (a VALE command) is not served; use nr_cmd 0 to register")]
    LegacyCmd(u16),
    /// A memory id no port of this process has.
    #[error("memory id {0}: no port of this process uses it; name a port in nr_name")]
    MemId(u16),
    /// An mmap outside the region.
    #[error(
        "mmap of {len} bytes at offset {offset}: the region has {size} bytes; map nr_memsize bytes \
         from offset 0"
    )]
    MapRange {
        /// Bytes asked for.
        len: usize,
        /// Offset asked for.
        offset: i64,
        /// Size of the region.
        size: usize,
    },
    /// A NULL pointer where a structure is needed.
    #[error("{0} is NULL")]
    Fault(&'static str),
    /// Opening the port.
    #[error(transparent)]
    Port(#[from] PortError),
    /// A sync.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl PreloadError {
    /// The errno netmap's kernel module gives for the same condition.
    pub fn errno(&self) -> i32 {
        use PreloadError::*;
        match self {
            Option(_) => libc::EOPNOTSUPP,
            Busy(_) => libc::EBUSY,
            Fault(_) => libc::EFAULT,
            NotRegistered => libc::ENXIO,
            Port(e) => port_errno(e),
            Api(e) => api_errno(e),
            _ => libc::EINVAL,
        }
    }
}

fn port_errno(e: &PortError) -> i32 {
    match e {
        // A port that does not exist here (netmap: no such interface).
        PortError::Unsupported { what, .. }
            if what == "a kernel interface" || what == "a model port" =>
        {
            libc::ENXIO
        }
        PortError::UnknownModel { .. } => libc::ENXIO,
        PortError::ModelPortBusy { .. } => libc::EBUSY,
        PortError::Api(e) => api_errno(e),
        PortError::Driver(e) => driver_errno(e),
        _ => libc::EINVAL,
    }
}

fn api_errno(e: &ApiError) -> i32 {
    match e {
        ApiError::QueueBusy { .. } | ApiError::PipeEndBusy { .. } => libc::EBUSY,
        ApiError::TooManyPipes { .. } => libc::ENOMEM,
        ApiError::PeerGone { .. } => libc::ENXIO,
        ApiError::Wait(_) => libc::EIO,
        ApiError::Mem(MemError::Exhausted { .. } | MemError::Map { .. }) => libc::ENOMEM,
        ApiError::Mem(_) => libc::EIO,
        _ => libc::EINVAL,
    }
}

fn driver_errno(e: &DriverError) -> i32 {
    match e {
        DriverError::DeviceNotFound { .. } | DriverError::BadAddress(_) => libc::ENXIO,
        DriverError::NotRoot { .. } | DriverError::PermissionDenied { .. } => libc::EPERM,
        DriverError::Busy { .. } => libc::EBUSY,
        DriverError::Mem(MemError::Exhausted { .. }) => libc::ENOMEM,
        _ => libc::EIO,
    }
}
