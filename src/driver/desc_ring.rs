//! Descriptor rings in DMA memory: contiguous buffers of the region, so they
//! are covered by the region's IOMMU mapping and freed with it.

use std::marker::PhantomData;
use std::ptr::{read_volatile, write_volatile};

use crate::mem::{MemError, Region};

/// Where the region's buffer area sits in the device's address space:
/// buffer `idx` is at `base + idx * buf_size`, O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaWindow {
    pub base: u64,
    pub buf_size: u64,
}

impl DmaWindow {
    #[inline]
    pub fn buf_iova(&self, idx: u32) -> u64 {
        self.base + idx as u64 * self.buf_size
    }
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
        let bytes = count as u64 * std::mem::size_of::<D>() as u64;
        let nbufs = bytes.div_ceil(window.buf_size) as u32;
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

    pub fn iova(&self) -> u64 {
        self.iova
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn bytes(&self) -> u32 {
        self.count * std::mem::size_of::<D>() as u32
    }

    #[inline]
    pub fn read(&self, i: u32) -> D {
        assert!(i < self.count);
        // SAFETY: i < count, and the ring spans count descriptors of
        // contiguous buffers we allocated; the device may write it, hence
        // volatile.
        unsafe { read_volatile(self.ptr.add(i as usize)) }
    }

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
