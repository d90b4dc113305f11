//! Errors of the memory layer.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong creating or using a memory region.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    #[error(
        "cannot map {size} bytes for region `{name}`: {source}; free memory or ask for fewer \
         buffers/slots (e.g. `@conf:bufs=4096`)"
    )]
    Map {
        name: String,
        size: usize,
        source: io::Error,
    },

    #[error("cannot open shared region file {path}: {source}; check that {dir} exists and is writable (or set VFIO_NETMAP_SHM_DIR to another directory)", dir = path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    SharedFile { path: PathBuf, source: io::Error },

    #[error(
        "region file {path} is not a vfio-netmap region of this version (found magic {magic:#x}, \
         version {version}); remove it (`rm {path}`) if no process uses it"
    )]
    Foreign {
        path: PathBuf,
        magic: u64,
        version: u32,
    },

    #[error(
        "region `{name}` already exists with {existing}, but {requested} was requested; open it \
         without conflicting `@conf:` options, or close every port using it first"
    )]
    ConfigMismatch {
        name: String,
        existing: String,
        requested: String,
    },

    #[error(
        "invalid region configuration: {0}; buffer size must be a multiple of 64 between 64 and \
         65536, slots between 8 and {max}",
        max = super::region::MAX_RING_SLOTS
    )]
    BadConfig(String),

    #[error(
        "region `{name}` is out of {what}: {wanted} wanted, {free} free; {fix}",
        what = what.name(),
        fix = what.fix()
    )]
    Exhausted {
        name: String,
        what: Scarce,
        wanted: usize,
        free: usize,
    },

    #[error("locking region `{name}` failed: {source}")]
    Lock { name: String, source: io::Error },
}

/// What a region can run out of; all are sized when the region is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scarce {
    Buffers,
    ContiguousBuffers,
    Rings,
    Interfaces,
    UserSlots,
}

impl Scarce {
    fn name(self) -> &'static str {
        match self {
            Scarce::Buffers => "buffers",
            Scarce::ContiguousBuffers => "contiguous buffers",
            Scarce::Rings => "rings",
            Scarce::Interfaces => "netmap_if slots",
            Scarce::UserSlots => "user slots",
        }
    }

    /// How to get more: only the buffer pool has a size the port name sets
    /// (on the port that creates the region).
    fn fix(self) -> &'static str {
        match self {
            Scarce::Buffers | Scarce::ContiguousBuffers => {
                "give the port that creates the region more (`@conf:bufs=N`) or close ports that \
                 use it"
            }
            Scarce::Rings | Scarce::Interfaces | Scarce::UserSlots => {
                "close ports that use it (how many rings, netmap_ifs and users a region holds is \
                 fixed by the port that creates it)"
            }
        }
    }
}
