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
        fix = exhausted_fix(what)
    )]
    Exhausted {
        name: String,
        what: &'static str,
        wanted: usize,
        free: usize,
    },

    #[error("locking region `{name}` failed: {source}")]
    Lock { name: String, source: io::Error },
}

/// How to get more of what a region ran out of: only its buffer pool has a
/// size the port name sets (the region is sized when created, so the
/// option goes on the port that creates it).
fn exhausted_fix(what: &str) -> &'static str {
    if what.contains("buffers") {
        "give the port that creates the region more (`@conf:bufs=N`) or close ports that use it"
    } else {
        "close ports that use it (how many rings and netmap_ifs a region holds is fixed by \
         the port that creates it)"
    }
}
