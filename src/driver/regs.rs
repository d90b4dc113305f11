//! Register access: the one trait NIC drivers are generic over, so a software
//! model of a NIC can stand in for a mapped BAR in tests.

use std::marker::PhantomData;
use std::ptr::NonNull;

/// 32-bit register reads and writes by byte offset into a register file.
pub trait RegisterAccess {
    /// Reads the 32-bit register at byte `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Writes `value` to the 32-bit register at byte `offset`.
    fn write32(&self, offset: usize, value: u32);

    /// Read-modify-write setting `bits`.
    fn set_bits32(&self, offset: usize, bits: u32) {
        self.write32(offset, self.read32(offset) | bits);
    }

    /// Read-modify-write clearing `bits`.
    fn clear_bits32(&self, offset: usize, bits: u32) {
        self.write32(offset, self.read32(offset) & !bits);
    }
}

impl<T: RegisterAccess + ?Sized> RegisterAccess for &T {
    fn read32(&self, offset: usize) -> u32 {
        (**self).read32(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        (**self).write32(offset, value)
    }
}

/// A window of device memory (a mapped BAR) accessed with volatile loads and
/// stores by offset.
///
/// Why raw `read_volatile`/`write_volatile` rather than the `volatile` crate:
/// 0.6's `VolatilePtr` is `!Send` and its slice methods need nightly, and NIC
/// register files are best addressed by offset (per-queue arrays such as
/// RDT(n) = 0x1018 + 0x40 n) rather than as typed structs.
///
/// Every access checks its offset (in release builds too: one compare per
/// register access, and a sync makes at most one): an offset outside the
/// window or not 4-byte aligned reads as all-ones, what a removed device
/// returns and every driver already handles, and a write there is dropped
/// and logged. Safe code cannot reach outside the mapping through it.
///
/// The lifetime ties the window to whatever owns the mapping (a
/// [`MappedBar`](super::vfio::MappedBar) or, in tests, a buffer).
#[derive(Clone, Copy, Debug)]
pub struct Mmio<'a> {
    base: NonNull<u8>,
    len: usize,
    _mapping: PhantomData<&'a [u8]>,
}

// SAFETY: an Mmio is a pointer to device memory that stays mapped for 'a.
// Every access is a single aligned 32-bit volatile load or store, which the
// device (and, for a test buffer, the CPU) performs atomically; there is no
// Rust-visible state behind the pointer that a data race could corrupt.
// Ordering between registers and between threads is the driver's business,
// as with any MMIO (it needs fences anyway for DMA descriptors).
unsafe impl Send for Mmio<'_> {}
// SAFETY: as for Send: shared access only performs independent volatile
// 32-bit accesses through `&self`.
unsafe impl Sync for Mmio<'_> {}

impl<'a> Mmio<'a> {
    /// # Safety
    /// `base..base+len` must be readable and writable memory (device or
    /// ordinary) that stays mapped for `'a`, and 4-byte aligned; nothing may
    /// hold a Rust reference to it while the `Mmio` is used.
    pub(crate) unsafe fn new(base: NonNull<u8>, len: usize) -> Mmio<'a> {
        debug_assert_eq!(
            base.as_ptr() as usize % 4,
            0,
            "register window not 4-byte aligned"
        );
        Mmio {
            base,
            len,
            _mapping: PhantomData,
        }
    }

    /// A window over ordinary memory, for tests and software models.
    pub fn from_buffer(buffer: &'a mut [u32]) -> Mmio<'a> {
        let len = std::mem::size_of_val(buffer);
        let base = NonNull::from(&mut buffer[..]).cast::<u8>();
        // SAFETY: the buffer is exclusively borrowed for 'a, so it stays valid
        // and nothing else references it; u32 storage is 4-byte aligned.
        unsafe { Mmio::new(base, len) }
    }

    /// Size of the window in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is zero bytes long.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The register at `offset`, if it lies inside the window and is
    /// 4-byte aligned.
    #[inline(always)]
    fn register(&self, offset: usize) -> Option<*mut u32> {
        let inside = offset % 4 == 0 && offset.checked_add(4).is_some_and(|end| end <= self.len);
        if !inside {
            return None;
        }
        // SAFETY: the caller of `new` guaranteed base..base+len is one
        // mapping, and offset+4 <= len was just checked.
        Some(unsafe { self.base.as_ptr().add(offset).cast::<u32>() })
    }
}

impl RegisterAccess for Mmio<'_> {
    #[inline(always)]
    fn read32(&self, offset: usize) -> u32 {
        match self.register(offset) {
            // SAFETY: register() checked the offset; base is 4-byte aligned
            // (see new()), so the pointer is aligned and inside the mapping.
            Some(reg) => unsafe { reg.read_volatile() },
            None => u32::MAX,
        }
    }

    #[inline(always)]
    fn write32(&self, offset: usize, value: u32) {
        match self.register(offset) {
            // SAFETY: as in read32.
            Some(reg) => unsafe { reg.write_volatile(value) },
            None => log::error!(
                "register write {value:#x} at {offset:#x} outside the {:#x}-byte window (or \
                 unaligned): dropped",
                self.len
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_outside_the_window_read_all_ones_and_write_nothing() {
        let mut regs = [0u32; 4];
        let mmio = Mmio::from_buffer(&mut regs);
        mmio.write32(12, 7);
        assert_eq!(mmio.read32(12), 7);
        for bad in [16, 14, 2, usize::MAX - 1, usize::MAX & !3] {
            assert_eq!(mmio.read32(bad), u32::MAX, "{bad:#x}");
            mmio.write32(bad, 9);
        }
        assert_eq!(regs, [0, 0, 0, 7]);
    }
}
