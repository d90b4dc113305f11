//! Descriptor rings in DMA memory: contiguous buffers of the region, so they
//! are covered by the region's IOMMU mapping and freed with it.

use std::marker::PhantomData;
use std::ptr::{read_volatile, write_volatile};

use crate::abi::slot_flags::NS_BUF_CHANGED;
use crate::api::{ApiError, KRing};
use crate::mem::{BufBounds, MemError, Region, RingMem, SlotHead, SlotRun};

/// Where the region's buffer area sits in the device's address space:
/// buffer `idx` is at `base + idx * buf_size`, O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaWindow {
    /// Device address (IOVA) of buffer 0.
    pub base: u64,
    /// Bytes per buffer.
    pub buf_size: u64,
}

impl DmaWindow {
    /// Device address of buffer `idx`.
    #[inline]
    pub fn buf_iova(&self, idx: u32) -> u64 {
        self.base + idx as u64 * self.buf_size
    }
}

/// Bytes per descriptor in every format the drivers use (e1000's legacy
/// and ixgbe's advanced descriptors; each layout is checked in its
/// `desc.rs`, and [`DescRing::new`] takes no other size).
pub const DESC_BYTES: u32 = 16;

/// Pool buffers a ring of `count` descriptors takes (contiguous).
pub fn ring_bufs(count: u32, buf_size: u32) -> u32 {
    count.saturating_mul(DESC_BYTES).div_ceil(buf_size.max(1))
}

/// `count` descriptors of type `D` the device reads and writes.
pub struct DescRing<D> {
    ptr: *mut D,
    count: u32,
    iova: u64,
    first_buf: u32,
    nbufs: u32,
    _d: PhantomData<D>,
}

// SAFETY: the ring is memory shared with the device only; the queue that
// owns it is used by one thread at a time.
unsafe impl<D> Send for DescRing<D> {}

impl<D: Copy + Default> DescRing<D> {
    /// Allocates and zeroes a ring of `count` descriptors.
    pub fn new(region: &Region, count: u32, window: DmaWindow) -> Result<Self, MemError> {
        const { assert!(std::mem::size_of::<D>() == DESC_BYTES as usize) };
        let nbufs = ring_bufs(count, window.buf_size as u32);
        let first_buf = region.locked(|| region.alloc_contiguous_bufs(nbufs))??;
        let ring = DescRing {
            ptr: region.buf_ptr(first_buf).cast(),
            count,
            iova: window.buf_iova(first_buf),
            first_buf,
            nbufs,
            _d: PhantomData,
        };
        (0..count).for_each(|i| ring.write(i, D::default()));
        Ok(ring)
    }

    /// Device address of descriptor 0, for the ring's base address registers.
    pub fn iova(&self) -> u64 {
        self.iova
    }
    /// Number of descriptors.
    pub fn count(&self) -> u32 {
        self.count
    }
    /// Size of the ring in bytes, for the ring's length register.
    pub fn bytes(&self) -> u32 {
        self.count * std::mem::size_of::<D>() as u32
    }

    /// Reads descriptor `i` (volatile, as the device may write it).
    #[inline]
    pub fn read(&self, i: u32) -> D {
        assert!(i < self.count);
        // SAFETY: i < count, and the ring spans count descriptors of
        // contiguous buffers we allocated; the device may write it, hence
        // volatile.
        unsafe { read_volatile(self.ptr.add(i as usize)) }
    }

    /// Writes descriptor `i` (volatile, as the device may read it).
    #[inline]
    pub fn write(&self, i: u32, d: D) {
        assert!(i < self.count);
        // SAFETY: as in `read`.
        unsafe { write_volatile(self.ptr.add(i as usize), d) }
    }

    /// Reads the byte at `offset` in descriptor `i` (a status byte the
    /// device writes back), without reading the rest.
    #[inline]
    pub fn read_byte(&self, i: u32, offset: usize) -> u8 {
        assert!(i < self.count && offset < std::mem::size_of::<D>());
        // SAFETY: inside descriptor i (checked above).
        unsafe { read_volatile(self.ptr.add(i as usize).cast::<u8>().add(offset)) }
    }

    /// Descriptors `[start, end)` (no wrap), checked once; see [`DescRun`].
    #[inline]
    pub fn run(&self, start: u32, end: u32) -> DescRun<'_, D> {
        assert!(
            start <= end && end <= self.count,
            "descriptor run {start}..{end}"
        );
        DescRun {
            // SAFETY: start <= count: at most one past the last descriptor.
            first: unsafe { self.ptr.add(start as usize) },
            len: (end - start) as usize,
            _ring: PhantomData,
        }
    }

    /// Sets `bits` in the naturally aligned u32 at byte `offset` of
    /// descriptor `i` (a command bit added after the descriptor was
    /// written, before the device owns it).
    #[inline]
    pub fn or_u32(&self, i: u32, offset: usize, bits: u32) {
        const { assert!(std::mem::align_of::<D>() >= 4) };
        assert!(i < self.count && offset % 4 == 0 && offset + 4 <= std::mem::size_of::<D>());
        // SAFETY: inside descriptor i (checked), 4-aligned as in `DescRun::read_u32`.
        unsafe {
            let p = self
                .ptr
                .add(i as usize)
                .cast::<u8>()
                .add(offset)
                .cast::<u32>();
            write_volatile(p, read_volatile(p) | bits);
        }
    }

    /// Returns the ring's buffers to the region once the device has
    /// stopped; later calls do nothing.
    pub fn release(&mut self, region: &Region) {
        let bufs = self.first_buf..self.first_buf + self.nbufs;
        self.nbufs = 0;
        let _ = region.locked(|| {
            bufs.for_each(|b| {
                region.free_buf(b);
            })
        });
    }
}

/// Descriptors `[start, end)` of one ring, contiguous. Like the slot runs of
/// the netmap ring, the range is checked once, so a loop over `0..len()`
/// pays nothing per descriptor for bounds.
pub struct DescRun<'a, D> {
    first: *mut D,
    len: usize,
    _ring: PhantomData<&'a DescRing<D>>,
}

impl<D> Clone for DescRun<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for DescRun<'_, D> {}

impl<D: Copy> DescRun<'_, D> {
    /// Number of descriptors in the run.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the run holds no descriptors.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn desc_ptr(&self, j: usize) -> *mut D {
        assert!(j < self.len);
        // SAFETY: j < len and the run lies inside the ring (see `run`).
        unsafe { self.first.add(j) }
    }

    /// Writes the `j`-th descriptor of the run (volatile).
    #[inline(always)]
    pub fn write(&self, j: usize, d: D) {
        // SAFETY: an in-range descriptor (desc_ptr); the device may read it
        // concurrently, hence volatile.
        unsafe { write_volatile(self.desc_ptr(j), d) }
    }

    /// Writes a 16-byte descriptor as two 8-byte stores, low half first
    /// (building the struct in registers rather than on the stack).
    #[inline(always)]
    pub fn write_halves(&self, j: usize, lo: u64, hi: u64) {
        const { assert!(std::mem::size_of::<D>() == 16 && std::mem::align_of::<D>() >= 8) };
        let p = self.desc_ptr(j).cast::<u64>();
        // SAFETY: an in-range 16-byte descriptor, 8-aligned (checked above).
        unsafe {
            write_volatile(p, lo);
            write_volatile(p.add(1), hi);
        }
    }

    /// The naturally aligned u32 at byte `offset` of the `j`-th descriptor
    /// (a status dword the device writes back).
    #[inline(always)]
    pub fn read_u32(&self, j: usize, offset: usize) -> u32 {
        const { assert!(std::mem::align_of::<D>() >= 4) };
        assert!(offset % 4 == 0 && offset + 4 <= std::mem::size_of::<D>());
        // SAFETY: inside an in-range descriptor (checked), 4-aligned because
        // descriptors are at least 4-aligned and offset is a multiple of 4.
        unsafe { read_volatile(self.desc_ptr(j).cast::<u8>().add(offset).cast::<u32>()) }
    }

    /// The u16 at byte `offset` of the `j`-th descriptor.
    #[inline(always)]
    pub fn read_u16(&self, j: usize, offset: usize) -> u16 {
        const { assert!(std::mem::align_of::<D>() >= 2) };
        assert!(offset % 2 == 0 && offset + 2 <= std::mem::size_of::<D>());
        // SAFETY: as in `read_u32`.
        unsafe { read_volatile(self.desc_ptr(j).cast::<u8>().add(offset).cast::<u16>()) }
    }
}

/// Hands a run of released receive slots back to the device: per slot one
/// load, a buffer index check (flagged or not), one slot store consuming
/// NS_BUF_CHANGED and a descriptor whose first 8 bytes are the buffer's
/// address and the other 8 zero (which also clears the DD bit of the last
/// write-back) — the receive "read" format of both the legacy and the
/// advanced descriptors. Returns how many it gave (fewer than the run at a
/// bad index). Not inlined, so the loop has the registers to itself.
#[inline(never)]
pub fn give_buffers<D: Copy>(
    slots: SlotRun<'_>,
    descs: DescRun<'_, D>,
    bounds: BufBounds,
    dma: DmaWindow,
) -> usize {
    let n = slots.len().min(descs.len());
    let mut j = 0;
    while j < n {
        let h = slots.head(j);
        if !bounds.buf_ok(h.buf_idx) {
            break;
        }
        slots.set_head(
            j,
            SlotHead {
                flags: h.flags & !NS_BUF_CHANGED,
                ..h
            },
        );
        descs.write_halves(j, dma.buf_iova(h.buf_idx), 0);
        j += 1;
    }
    j
}

/// Re-arms the receive descriptors of the slots the application released,
/// `[hwcur, head)`, run by run through [`give_buffers`]. Returns the new
/// `hwcur` (past what was given: slots before a bad index are given, the
/// bad one and the rest are not) and the position and index of a bad slot
/// (the caller builds the error with [`bad_slot`] once its ring is
/// finalized: a small value here keeps the fast path's return cheap).
#[inline(always)]
pub fn give_released<D: Copy + Default>(
    ring: &RingMem<'_>,
    descs: &DescRing<D>,
    region: &Region,
    kring: &KRing,
    head: u32,
    dma: DmaWindow,
) -> (u32, Option<(u32, u32)>) {
    let bounds = region.buf_bounds();
    let mut given = 0;
    for (lo, hi) in kring.runs(kring.hwcur, kring.distance(kring.hwcur, head)) {
        if lo == hi {
            break;
        }
        let (slots, run) = (ring.run(lo, hi), descs.run(lo, hi));
        let j = give_buffers(slots, run, bounds, dma);
        given += j as u32;
        if j < slots.len() {
            let bad = (lo + j as u32, slots.head(j).buf_idx);
            return (kring.advance(kring.hwcur, given), Some(bad));
        }
    }
    (kring.advance(kring.hwcur, given), None)
}

/// The error for a slot naming no buffer of the region, or longer than a
/// buffer. Built off the fast path, which only tests
/// [`BufBounds::slot_ok`].
#[cold]
#[inline(never)]
pub fn bad_slot(region: &Region, kring: &KRing, k: u32, buf_idx: u32, len: u16) -> ApiError {
    if !region.valid_buf(buf_idx) {
        return ApiError::BadBufIdx {
            ring: kring.id,
            slot: k,
            buf_idx,
            num_bufs: region.num_bufs(),
        };
    }
    ApiError::BadLen {
        ring: kring.id,
        slot: k,
        len,
        buf_size: region.buf_size(),
    }
}
