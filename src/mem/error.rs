//! Errors of the memory layer.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong creating or using a memory region.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// Mapping the memory of a region failed, or sizing its file.
    #[error(
        "cannot map {size} bytes for region `{name}`: {source}; free memory or ask for fewer \
         buffers/slots (e.g. `@conf:bufs=4096`)"
    )]
    Map {
        /// The region's name.
        name: String,
        /// How many bytes were to be mapped.
        size: usize,
        /// The error the system returned.
        source: io::Error,
    },

    /// The file backing a shared region could not be created or opened.
    #[error("cannot open shared region file {path}: {source}; check that {dir} exists and is writable (or set VFIO_NETMAP_SHM_DIR to another directory)", dir = path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    SharedFile {
        /// The file.
        path: PathBuf,
        /// The error the system returned.
        source: io::Error,
    },

    /// A region file exists but is not a region of this version of vfio-netmap,
    /// or is truncated.
    #[error(
        "region file {path} is not a vfio-netmap region of this version (found magic {magic:#x}, \
         version {version}); remove it (`rm {path}`) if no process uses it"
    )]
    Foreign {
        /// The region file.
        path: PathBuf,
        /// The magic number found in the file (0 when it is shorter than a
        /// header; vfio-netmap's own when it is shorter than its layout).
        magic: u64,
        /// The format version found, on the same terms as `magic`.
        version: u32,
    },

    /// A shared region was opened with a configuration other than the one it was
    /// created with.
    #[error(
        "region `{name}` already exists with {existing}, but {requested} was requested; open it \
         without conflicting `@conf:` options, or close every port using it first"
    )]
    ConfigMismatch {
        /// The region's name.
        name: String,
        /// The configuration the region has.
        existing: String,
        /// The configuration that was asked for.
        requested: String,
    },

    /// A region configuration is out of range; the text names the bad value.
    #[error(
        "invalid region configuration: {0}; buffer size must be a multiple of 64 between 64 and \
         65536, slots between 8 and {max}",
        max = super::region::MAX_RING_SLOTS
    )]
    BadConfig(String),

    /// A region has run out of something sized when it was created.
    #[error(
        "region `{name}` is out of {what}: {wanted} wanted, {free} free; {fix}",
        what = what.name(),
        fix = what.fix()
    )]
    Exhausted {
        /// The region's name.
        name: String,
        /// What ran out.
        what: Scarce,
        /// How many were wanted.
        wanted: usize,
        /// How many were free.
        free: usize,
    },

    /// A value read from a shared region is outside the region's layout:
    /// another process wrote it (a bug or an attack). Nothing was accessed
    /// outside the mapping.
    #[error(
        "region `{name}` is corrupt: {what} is {value:#x}, outside the region's layout (another \
         process sharing it wrote there); close the ports that use it, and if it persists remove \
         the region file when no process uses it"
    )]
    Corrupt {
        /// The region's name.
        name: String,
        /// Which value was bad.
        what: &'static str,
        /// The value read.
        value: u64,
    },

    /// Taking or releasing a lock on the region's file failed.
    #[error("locking region `{name}` failed: {source}")]
    Lock {
        /// The region's name.
        name: String,
        /// The error the system returned.
        source: io::Error,
    },
}

/// What a region can run out of; all are sized when the region is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scarce {
    /// Packet buffers.
    Buffers,
    /// A run of adjacent packet buffers.
    ContiguousBuffers,
    /// Netmap rings, one per tx or rx ring of a port.
    Rings,
    /// `netmap_if` chunks, one per open port.
    Interfaces,
    /// Slots for processes using the region, one per process handle.
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
