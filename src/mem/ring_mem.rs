//! Volatile access to one `netmap_ring` and its slots inside a region.
//!
//! The ring lives in memory shared with the application and, for pipes, with
//! another process; every field is read and written with volatile accesses so
//! the compiler neither caches nor invents them. Ordering between processes
//! comes from the atomics the sync code uses around these accesses.

use std::marker::PhantomData;
use std::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

use super::region::Region;
use crate::abi::{Direction, NETMAP_RING_HEADER, NetmapRing, NetmapSlot, Timeval};

/// A ring header plus `num_slots` slots inside a region.
#[derive(Clone, Copy)]
pub struct RingMem<'r> {
    ptr: *mut NetmapRing,
    num_slots: u32,
    _region: PhantomData<&'r Region>,
}

// SAFETY: the ring is plain shared memory accessed only through volatile
// reads and writes; which side may touch which slot is netmap's protocol,
// enforced by the sync code.
unsafe impl Send for RingMem<'_> {}
// SAFETY: as above.
unsafe impl Sync for RingMem<'_> {}

macro_rules! field {
    ($get:ident, $set:ident, $f:ident, $t:ty) => {
        #[doc = concat!("Reads the header's `", stringify!($f), "` (see [`NetmapRing`]).")]
        #[inline]
        pub fn $get(&self) -> $t {
            // SAFETY: ptr points to a live ring header (see `new`).
            unsafe { read_volatile(addr_of!((*self.ptr).$f)) }
        }
        #[doc = concat!("Writes the header's `", stringify!($f), "`.")]
        #[inline]
        pub fn $set(&self, v: $t) {
            // SAFETY: as above.
            unsafe { write_volatile(addr_of_mut!((*self.ptr).$f), v) }
        }
    };
}

impl<'r> RingMem<'r> {
    /// # Safety
    /// `ptr` must point to a 128-byte aligned ring chunk with room for the
    /// header and `num_slots` slots, inside a mapping that outlives `'r`.
    pub(crate) unsafe fn new(_region: &'r Region, ptr: *mut u8, num_slots: u32) -> Self {
        RingMem {
            ptr: ptr.cast(),
            num_slots,
            _region: PhantomData,
        }
    }

    /// Writes a fresh header: all constant fields, head = cur = 0 and
    /// `tail`, as netmap does when a ring is created.
    pub fn init(&self, ringid: u16, dir: Direction, buf_ofs: i64, buf_size: u32, tail: u32) {
        let header = NetmapRing {
            buf_ofs,
            num_slots: self.num_slots,
            nr_buf_size: buf_size,
            ringid,
            dir: dir as u16,
            head: 0,
            cur: 0,
            tail,
            flags: 0,
            _pad: 0,
            ts: Timeval::default(),
            offset_mask: 0,
            buf_align: 0,
            _pad2: [0; 56],
            sem: [0; 128],
        };
        // SAFETY: see `new`; the caller owns a ring it is initialising.
        unsafe { write_volatile(self.ptr, header) }
    }

    /// Number of slots in the ring, as given when the view was made.
    #[inline]
    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }

    field!(head, set_head, head, u32);
    field!(cur, set_cur, cur, u32);
    field!(tail, set_tail, tail, u32);
    field!(flags, set_flags, flags, u32);
    field!(buf_ofs, set_buf_ofs, buf_ofs, i64);
    field!(nr_buf_size, set_nr_buf_size, nr_buf_size, u32);
    field!(ringid, set_ringid, ringid, u16);
    field!(ts, set_ts, ts, Timeval);

    #[inline]
    fn slot_ptr(&self, i: u32) -> *mut NetmapSlot {
        assert!(
            i < self.num_slots,
            "slot {i} out of ring of {}",
            self.num_slots
        );
        // SAFETY: i < num_slots and the chunk holds num_slots slots after the
        // 256-byte header.
        unsafe {
            self.ptr
                .cast::<u8>()
                .add(NETMAP_RING_HEADER)
                .cast::<NetmapSlot>()
                .add(i as usize)
        }
    }

    /// Slot `i` (panics if `i >= num_slots`: callers index with values they
    /// have validated or computed modulo the ring).
    #[inline]
    pub fn slot(&self, i: u32) -> NetmapSlot {
        // SAFETY: slot_ptr checked the index.
        unsafe { read_volatile(self.slot_ptr(i)) }
    }

    /// Writes the whole of slot `i` (panics if `i >= num_slots`).
    #[inline]
    pub fn set_slot(&self, i: u32, s: NetmapSlot) {
        // SAFETY: slot_ptr checked the index.
        unsafe { write_volatile(self.slot_ptr(i), s) }
    }

    /// Writes slot `i`'s `flags` (panics if `i >= num_slots`).
    #[inline]
    pub fn set_slot_flags(&self, i: u32, flags: u16) {
        // SAFETY: slot_ptr checked the index.
        unsafe { write_volatile(addr_of_mut!((*self.slot_ptr(i)).flags), flags) }
    }

    /// Writes slot `i`'s `len` (panics if `i >= num_slots`).
    #[inline]
    pub fn set_slot_len(&self, i: u32, len: u16) {
        // SAFETY: slot_ptr checked the index.
        unsafe { write_volatile(addr_of_mut!((*self.slot_ptr(i)).len), len) }
    }

    /// Writes slot `i`'s `buf_idx` (panics if `i >= num_slots`).
    #[inline]
    pub fn set_slot_buf(&self, i: u32, buf_idx: u32) {
        // SAFETY: slot_ptr checked the index.
        unsafe { write_volatile(addr_of_mut!((*self.slot_ptr(i)).buf_idx), buf_idx) }
    }

    /// Reads slot `i`'s `buf_idx` (panics if `i >= num_slots`).
    #[inline]
    pub fn slot_buf(&self, i: u32) -> u32 {
        // SAFETY: slot_ptr checked the index.
        unsafe { read_volatile(addr_of!((*self.slot_ptr(i)).buf_idx)) }
    }

    /// Reads slot `i`'s `len` (panics if `i >= num_slots`).
    #[inline]
    pub fn slot_len(&self, i: u32) -> u16 {
        // SAFETY: slot_ptr checked the index.
        unsafe { read_volatile(addr_of!((*self.slot_ptr(i)).len)) }
    }

    /// Reads slot `i`'s `flags` (panics if `i >= num_slots`).
    #[inline]
    pub fn slot_flags(&self, i: u32) -> u16 {
        // SAFETY: slot_ptr checked the index.
        unsafe { read_volatile(addr_of!((*self.slot_ptr(i)).flags)) }
    }
}

/// A slot's `buf_idx`, `len` and `flags`: its first 8 bytes, which the
/// sync loops read and write with one access each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotHead {
    /// Index of the slot's buffer in the region's buffer pool.
    pub buf_idx: u32,
    /// Length of the packet in the buffer, in bytes.
    pub len: u16,
    /// The slot's `NS_*` flags.
    pub flags: u16,
}

/// Bit positions of `buf_idx`, `len` and `flags` in the slot's first 8
/// bytes loaded as one native-endian u64 (and of `len`, `flags` in bytes
/// 4..8 loaded as a u32).
#[cfg(target_endian = "little")]
const SHIFTS: (u32, u32, u32, u32, u32) = (0, 32, 48, 0, 16);
#[cfg(target_endian = "big")]
const SHIFTS: (u32, u32, u32, u32, u32) = (32, 16, 0, 16, 0);

impl SlotHead {
    /// Decodes the 8 bytes as `netmap_slot` lays them out in native byte
    /// order: `buf_idx` at 0, `len` at 4, `flags` at 6.
    #[inline(always)]
    fn from_word(w: u64) -> SlotHead {
        SlotHead {
            buf_idx: (w >> SHIFTS.0) as u32,
            len: (w >> SHIFTS.1) as u16,
            flags: (w >> SHIFTS.2) as u16,
        }
    }

    #[inline(always)]
    fn word(self) -> u64 {
        (self.buf_idx as u64) << SHIFTS.0
            | (self.len as u64) << SHIFTS.1
            | (self.flags as u64) << SHIFTS.2
    }
}

/// Slots `[start, end)` of one ring, contiguous (no wrap). The range is
/// checked once when the run is made; accesses by position `0..len()` then
/// need no comparison against the ring size, so a loop over a run costs
/// nothing per slot beyond its loads and stores. Two words, passed by
/// value.
#[derive(Clone, Copy)]
pub struct SlotRun<'a> {
    first: *mut NetmapSlot,
    len: usize,
    _ring: PhantomData<&'a ()>,
}

impl RingMem<'_> {
    /// The run of slots `[start, end)`; panics unless
    /// `start <= end <= num_slots` (callers pass ranges they computed from
    /// validated indices).
    #[inline]
    pub fn run(&self, start: u32, end: u32) -> SlotRun<'_> {
        assert!(
            start <= end && end <= self.num_slots,
            "slot run {start}..{end}"
        );
        SlotRun {
            // SAFETY: start <= num_slots: at most one past the last slot.
            first: unsafe {
                self.ptr
                    .cast::<u8>()
                    .add(NETMAP_RING_HEADER)
                    .cast::<NetmapSlot>()
                    .add(start as usize)
            },
            len: (end - start) as usize,
            _ring: PhantomData,
        }
    }
}

impl SlotRun<'_> {
    /// Number of slots in the run.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the run has no slots.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn slot_ptr(&self, j: usize) -> *mut NetmapSlot {
        assert!(j < self.len);
        // SAFETY: j < len, and the run lies inside the ring (see `run`).
        unsafe { self.first.add(j) }
    }

    /// `buf_idx`, `len` and `flags` of the run's `j`-th slot, one load.
    #[inline(always)]
    pub fn head(&self, j: usize) -> SlotHead {
        // SAFETY: an in-range slot (slot_ptr), 16-byte aligned, so its
        // first 8 bytes are an aligned u64.
        SlotHead::from_word(unsafe { read_volatile(self.slot_ptr(j).cast::<u64>()) })
    }

    /// Writes `buf_idx`, `len` and `flags` of the `j`-th slot, one store.
    #[inline(always)]
    pub fn set_head(&self, j: usize, h: SlotHead) {
        // SAFETY: as in `head`.
        unsafe { write_volatile(self.slot_ptr(j).cast::<u64>(), h.word()) }
    }

    /// Writes the `flags` of the run's `j`-th slot.
    #[inline(always)]
    pub fn set_flags(&self, j: usize, flags: u16) {
        // SAFETY: an in-range slot (slot_ptr).
        unsafe { write_volatile(addr_of_mut!((*self.slot_ptr(j)).flags), flags) }
    }

    /// Writes `len` and `flags` (adjacent, bytes 4..8) with one store.
    #[inline(always)]
    pub fn set_len_flags(&self, j: usize, len: u16, flags: u16) {
        let v = (len as u32) << SHIFTS.3 | (flags as u32) << SHIFTS.4;
        // SAFETY: an in-range slot (slot_ptr); bytes 4..8 are 4-aligned.
        unsafe { write_volatile(addr_of_mut!((*self.slot_ptr(j)).len).cast::<u32>(), v) }
    }
}
