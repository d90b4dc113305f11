//! Register access: the trait drivers are generic over, so that the same
//! driver code runs on a mapped BAR and on a software model.

/// 32-bit register file access by byte offset.
pub trait RegisterAccess {
    fn read32(&self, offset: usize) -> u32;
    fn write32(&self, offset: usize, value: u32);
}
