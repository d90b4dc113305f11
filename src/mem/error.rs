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

    /// A region file exists but is not a region of this version of vfio-netmap
    /// (or its header describes an impossible region).
    #[error(
        "region file {path} is not a vfio-netmap region of this version (found magic {magic:#x}, \
         version {version}); remove it (`rm {path}`) if no process uses it"
    )]
    Foreign {
        /// The region file.
        path: PathBuf,
        /// The magic number found in the file (vfio-netmap's own when the
        /// sizes in its header are out of range or disagree).
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

    /// A region name that cannot be part of a file name (it would leave
    /// the region directory or is not a name at all).
    #[error(
        "region name `{name}` {reason}; use letters, digits, `_`, `-` and `.` (at most {max} \
         bytes)",
        max = super::mapping::MAX_NAME_BYTES
    )]
    BadName {
        /// The name, as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An environment variable that steers where or how regions are made
    /// has a value that cannot be used.
    #[error("environment variable {var}={value:?} {problem}")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to do.
        problem: String,
    },

    /// An existing file at a region's path is not one this process may
    /// trust: a symlink, not a regular file, or another user's.
    #[error("refusing region file {path}: {}", problem.explain(path))]
    UntrustedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },

    /// A region would be larger than the cap on region sizes; nothing was
    /// created.
    #[error(
        "region `{name}` would take {size} bytes ({} MiB), more than its cap of {} MiB ({}); ask \
         for fewer or smaller buffers (`@conf:bufs=N`, `@conf:extra-bufs=N`, \
         `@conf:buf-size=N`), or set VFIO_NETMAP_MAX_REGION_MB to the cap you want (in MiB)",
        size >> 20,
        limit >> 20,
        cap.name()
    )]
    TooLarge {
        /// The region's name.
        name: String,
        /// The bytes it would take.
        size: u64,
        /// The cap, in bytes.
        limit: u64,
        /// Where the cap comes from.
        cap: SizeCap,
    },

    /// An existing region file is shorter than the layout its header
    /// describes: someone truncated it.
    #[error(
        "region file {path} has shrunk: it is {size} bytes but its region needs {expected}; \
         someone truncated it: close every port using it and remove it (`rm {path}`)"
    )]
    Shrunk {
        /// The region file.
        path: PathBuf,
        /// Its size now.
        size: u64,
        /// The size its header describes.
        expected: u64,
    },

    /// The file of a region in use was truncated: touching the lost pages
    /// raised SIGBUS, which vfio-netmap caught and answered by putting zeroed
    /// memory in place of the whole region.
    #[error(
        "region `{name}` ({path}) was truncated while in use (by another process or user); its \
         contents are lost and this process sees zeros in their place: close every port using \
         it, and find out who truncates files in {dir}",
        dir = path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    )]
    Truncated {
        /// The region's name.
        name: String,
        /// The region file.
        path: PathBuf,
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

/// Why an existing region file is refused (see [`MemError::UntrustedFile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// The path is a symbolic link (it could point anywhere, e.g. at a file
    /// of ours that would then be truncated).
    Symlink,
    /// The path is not a regular file (a directory, fifo, device…).
    NotRegular,
    /// The file belongs to another user (and not to root, nor to the group
    /// `VFIO_NETMAP_SHM_GROUP` allows).
    Owner {
        /// The file's owner.
        uid: u32,
        /// The file's group.
        gid: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// Every user may write the file.
    WorldWritable,
    /// The file has more than one name (a hard link to some other file).
    HardLinked {
        /// How many names it has.
        links: u64,
    },
}

impl FileProblem {
    /// Why the file at `path` is refused and what to do about it.
    fn explain(&self, path: &std::path::Path) -> String {
        let p = path.display();
        let dir = path
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        match *self {
            FileProblem::Symlink => format!(
                "it is a symlink, which could point at any file; remove it (`rm {p}`) or choose \
                 another region name (or another directory with VFIO_NETMAP_SHM_DIR)"
            ),
            FileProblem::NotRegular => format!(
                "it is not a regular file; remove {p} or choose another region name (or \
                 directory with VFIO_NETMAP_SHM_DIR)"
            ),
            FileProblem::Owner { uid, gid, euid } => format!(
                "it belongs to uid {uid} (gid {gid}), not to this process's user (uid {euid}) or \
                 root; another user may have planted it in {dir}: remove it if no process uses \
                 it, choose another region name, or, to share regions between users on \
                 purpose, set VFIO_NETMAP_SHM_GROUP to a group both belong to"
            ),
            FileProblem::WorldWritable => format!(
                "every user may write it; remove {p} (`rm {p}`) if no process uses it, or choose \
                 another region name"
            ),
            FileProblem::HardLinked { links } => format!(
                "it has {links} names (a hard link to another file); remove {p} (`rm {p}`), or \
                 choose another region name"
            ),
        }
    }
}

/// Where the cap on a region's size comes from (see [`MemError::TooLarge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeCap {
    /// The machine's physical memory (`MemTotal` in /proc/meminfo).
    PhysicalMemory,
    /// `VFIO_NETMAP_MAX_REGION_MB`.
    Env,
}

impl SizeCap {
    fn name(self) -> &'static str {
        match self {
            SizeCap::PhysicalMemory => "the machine's physical memory, MemTotal",
            SizeCap::Env => "set by VFIO_NETMAP_MAX_REGION_MB",
        }
    }
}
