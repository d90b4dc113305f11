//! A region file seen from outside, as a hostile third process sees it: the
//! layout is worked out from the header, and any field can be overwritten.
//! The offsets restate `src/mem/region.rs` and `src/api/pipe.rs`; the tests
//! check them against a live region before they rely on them.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::path::Path;

use memmap2::MmapRaw;

/// Bytes before the `netmap_if` area (header plus control area).
pub const HEADER_BYTES: usize = 64 << 10;
/// Where the pipe table starts.
pub const CONTROL_OFFSET: usize = 4096;
/// One pipe table entry.
pub const PIPE_ENTRY: usize = 384;
/// One `netmap_if` chunk.
pub const IF_CHUNK: usize = 4096;

/// Field offsets inside a pipe table entry.
pub mod entry {
    pub const IN_USE: usize = 0;
    pub const NUM_SLOTS: usize = 4;
    pub const ID_LEN: usize = 8;
    pub const IF_OFF: usize = 48;
    pub const RING_OFF: usize = 64;
    /// Direction `d`'s sender line at `DIRS + d * 128`, receiver line 64
    /// bytes later; five u32 words each.
    pub const DIRS: usize = 128;
}

pub struct RegionFile {
    map: MmapRaw,
}

impl RegionFile {
    pub fn open(path: &Path) -> RegionFile {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        RegionFile {
            map: MmapRaw::map_raw(&file).expect("mapping the region file"),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn read_u32(&self, off: usize) -> u32 {
        assert!(off % 4 == 0 && off + 4 <= self.len());
        // SAFETY: aligned and inside our own mapping of the file.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(off).cast::<u32>()) }
    }

    pub fn read_u64(&self, off: usize) -> u64 {
        assert!(off % 8 == 0 && off + 8 <= self.len());
        // SAFETY: as above.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(off).cast::<u64>()) }
    }

    pub fn write_u32(&self, off: usize, v: u32) {
        assert!(off % 4 == 0 && off + 4 <= self.len());
        // SAFETY: aligned and inside our own mapping; what the other
        // processes make of the value is what the tests are about.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(off).cast::<u32>(), v) }
    }

    pub fn write_u64(&self, off: usize, v: u64) {
        assert!(off % 8 == 0 && off + 8 <= self.len());
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(off).cast::<u64>(), v) }
    }

    pub fn num_bufs(&self) -> u32 {
        self.read_u32(16)
    }
    pub fn max_slots(&self) -> u32 {
        self.read_u32(20)
    }
    pub fn num_rings(&self) -> u32 {
        self.read_u32(24)
    }
    pub fn num_ifs(&self) -> u32 {
        self.read_u32(28)
    }
    pub fn if_area(&self) -> usize {
        HEADER_BYTES
    }
    pub fn ring_area(&self) -> usize {
        HEADER_BYTES + IF_CHUNK * self.num_ifs() as usize
    }
    pub fn ring_chunk(&self) -> usize {
        (256 + 16 * self.max_slots() as usize).div_ceil(4096) * 4096
    }
    pub fn bitmaps(&self) -> usize {
        self.ring_area() + self.ring_chunk() * self.num_rings() as usize
    }
    pub fn pipe_entry(&self, i: usize) -> usize {
        CONTROL_OFFSET + i * PIPE_ENTRY
    }
    /// Offset of pipe entry `i`'s ring `k` (`end * 2 + dir`), as recorded.
    pub fn pipe_ring(&self, i: usize, k: usize) -> usize {
        self.read_u64(self.pipe_entry(i) + entry::RING_OFF + 8 * k) as usize
    }

    /// Checks the offsets above against a live pipe in entry 0 with
    /// `num_slots` slots: the table says what the region's layout implies.
    pub fn check_layout(&self, num_slots: u32) {
        let e = self.pipe_entry(0);
        assert_eq!(self.read_u32(e + entry::IN_USE), 1, "entry 0 in use");
        assert_eq!(self.read_u32(e + entry::NUM_SLOTS), num_slots);
        for k in 0..4 {
            let off = self.pipe_ring(0, k);
            assert!(off >= self.ring_area() && off < self.bitmaps());
            assert_eq!((off - self.ring_area()) % self.ring_chunk(), 0);
            // netmap_ring.num_slots at byte 8 of the ring header.
            assert_eq!(self.read_u32(off + 8), num_slots, "ring {k}");
        }
        for end in 0..2 {
            let off = self.read_u64(e + entry::IF_OFF + 8 * end) as usize;
            assert!(off >= self.if_area() && off < self.ring_area());
        }
    }
}
