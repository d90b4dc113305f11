//! Memory: file-backed mappings (hugepages when reserved) laid out as netmap
//! regions: a header, `netmap_if`s, rings and a pool of fixed-size buffers.

pub mod error;
pub mod mapping;
pub mod region;
pub mod ring_mem;
mod trap;

pub use error::{FileProblem, MemError, Scarce, SizeCap};
pub use mapping::Backing;
pub use region::{
    BufBounds, FIRST_USABLE_BUF, MAX_RING_SLOTS, Pools, Region, RegionConfig, SharedControl,
};
pub use ring_mem::{RingMem, SlotHead, SlotRun};
