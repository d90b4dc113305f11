//! Physical addresses for VFIO's no-IOMMU mode, from /proc/self/pagemap.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::driver::error::DriverError;

const PAGEMAP_PRESENT: u64 = 1 << 63;
const PAGEMAP_PFN_MASK: u64 = (1 << 55) - 1;

/// The page frame number in one pagemap entry, if the page is present and
/// the PFN is visible (it reads as 0 without CAP_SYS_ADMIN).
pub fn pagemap_entry_pfn(entry: u64) -> Option<u64> {
    let pfn = entry & PAGEMAP_PFN_MASK;
    (entry & PAGEMAP_PRESENT != 0 && pfn != 0).then_some(pfn)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The physical address of `vaddr..vaddr+len`, which must be resident and
/// physically contiguous (a device without an IOMMU sees one flat block).
pub fn physical_range(vaddr: usize, len: usize) -> Result<u64, DriverError> {
    let page = page_size();
    let no_phys = |reason: String| DriverError::NoPhysicalAddress { vaddr, reason };
    let pagemap = File::open("/proc/self/pagemap")
        .map_err(|e| no_phys(format!("opening /proc/self/pagemap: {e}")))?;
    let first_page = vaddr / page;
    let last_page = (vaddr + len.max(1) - 1) / page;
    let mut first_pfn = 0;
    for (i, vpage) in (first_page..=last_page).enumerate() {
        let mut entry = [0u8; 8];
        pagemap
            .read_exact_at(&mut entry, (vpage * 8) as u64)
            .map_err(|e| no_phys(format!("reading /proc/self/pagemap: {e}")))?;
        let pfn = pagemap_entry_pfn(u64::from_ne_bytes(entry)).ok_or_else(|| {
            no_phys("the page is not resident or its frame number is hidden".into())
        })?;
        if i == 0 {
            first_pfn = pfn;
        } else if pfn != first_pfn + i as u64 {
            return Err(DriverError::NotPhysicallyContiguous { vaddr, len });
        }
    }
    Ok(first_pfn * page as u64 + (vaddr % page) as u64)
}
