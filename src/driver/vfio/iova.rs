//! The IOMMU's usable IOVA space (parsed from VFIO_IOMMU_GET_INFO's
//! capability chain) and a simple allocator handing out aligned ranges in it.

use std::collections::BTreeMap;
use std::fmt;

/// An inclusive range of usable IOVAs, as VFIO reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IovaRange {
    /// First usable IOVA.
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

impl fmt::Display for IovaRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end)
    }
}

/// What VFIO_IOMMU_GET_INFO says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuInfo {
    /// Bitmap of supported IOMMU page sizes.
    pub page_sizes: u64,
    /// Usable IOVA ranges; `None` when the kernel has no IOVA-range
    /// capability (before Linux 5.4).
    pub ranges: Option<Vec<IovaRange>>,
    /// How many more DMA mappings the container accepts (`dma_entry_limit`).
    pub dma_mappings_available: Option<u32>,
}

impl IommuInfo {
    /// The smallest IOMMU page size (4 KiB when the bitmap is empty).
    pub fn min_page_size(&self) -> u64 {
        if self.page_sizes == 0 {
            4096
        } else {
            1 << self.page_sizes.trailing_zeros()
        }
    }
}

const INFO_FLAG_CAPS: u32 = vfio_bindings::bindings::vfio::VFIO_IOMMU_INFO_CAPS;
const CAP_IOVA_RANGE: u16 =
    vfio_bindings::bindings::vfio::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE as u16;
const CAP_DMA_AVAIL: u16 = vfio_bindings::bindings::vfio::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL as u16;

fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        buf.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        buf.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        buf.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// One entry of a VFIO capability chain: its id, version and the offset of
/// its header in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapEntry {
    /// Capability id (its meaning depends on the ioctl that returned it).
    pub id: u16,
    /// Version of the capability's layout.
    pub version: u16,
    /// Offset of the capability's header from the start of the buffer.
    pub offset: usize,
}

/// Walks a VFIO capability chain (`vfio_info_cap_header { id, version, next }`,
/// `next` an offset from the start of `buf`, 0 ending the chain). Stops at a
/// header that does not fit, and after 64 entries in case the chain loops.
pub fn capability_chain(buf: &[u8], first: usize) -> Vec<CapEntry> {
    let mut caps = Vec::new();
    let mut offset = first;
    while offset != 0 && caps.len() < 64 {
        let (Some(id), Some(version), Some(next)) = (
            u16_at(buf, offset),
            u16_at(buf, offset + 2),
            u32_at(buf, offset + 4),
        ) else {
            break;
        };
        caps.push(CapEntry {
            id,
            version,
            offset,
        });
        offset = next as usize;
    }
    caps
}

/// Parses a whole `vfio_iommu_type1_info` buffer including its capabilities.
/// Returns `None` if the fixed part does not fit or a capability claims
/// more entries than the buffer holds.
pub fn parse_iommu_info(buf: &[u8]) -> Option<IommuInfo> {
    let flags = u32_at(buf, 4)?;
    let page_sizes = u64_at(buf, 8)?;
    let cap_offset = u32_at(buf, 16)? as usize;
    let mut info = IommuInfo {
        page_sizes,
        ranges: None,
        dma_mappings_available: None,
    };
    if flags & INFO_FLAG_CAPS == 0 {
        return Some(info);
    }
    for cap in capability_chain(buf, cap_offset) {
        match cap.id {
            CAP_IOVA_RANGE => {
                let count = u32_at(buf, cap.offset + 8)? as usize;
                let ranges = (0..count)
                    .map(|i| {
                        let at = cap.offset + 16 + i * 16;
                        Some(IovaRange {
                            start: u64_at(buf, at)?,
                            end: u64_at(buf, at + 8)?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                info.ranges = Some(ranges);
            }
            CAP_DMA_AVAIL => info.dma_mappings_available = u32_at(buf, cap.offset + 8),
            _ => {}
        }
    }
    Some(info)
}

/// IOVAs below this are never handed out. A zero DMA address is the classic
/// uninitialised-descriptor bug (and QEMU's e1000 treats address 0 as "skip
/// this descriptor"); keeping the low MiB unmapped turns such bugs into IOMMU
/// faults instead of DMA into someone's buffer.
pub const MIN_IOVA: u64 = 1 << 20;

/// Largest alignment the allocator gives (1 GiB: the largest IOMMU superpage).
const MAX_ALIGN: u64 = 1 << 30;

/// First-fit allocator over the usable ranges. Each allocation is aligned to
/// its size rounded up to a power of two (at least a page, at most 1 GiB), so
/// the IOMMU can use superpages for hugepage-backed buffers.
#[derive(Clone, Debug)]
pub struct IovaAllocator {
    ranges: Vec<IovaRange>,
    page_size: u64,
    /// start -> length of every live allocation.
    used: BTreeMap<u64, u64>,
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

impl IovaAllocator {
    /// `page_size` must be a power of two.
    pub fn new(ranges: &[IovaRange], page_size: u64) -> IovaAllocator {
        assert!(
            page_size.is_power_of_two(),
            "IOMMU page size {page_size:#x} is not a power of two"
        );
        let mut ranges: Vec<IovaRange> = ranges
            .iter()
            .filter(|r| r.end >= MIN_IOVA && r.end >= r.start)
            .map(|r| IovaRange {
                start: r.start.max(MIN_IOVA),
                end: r.end,
            })
            .collect();
        ranges.sort_by_key(|r| r.start);
        IovaAllocator {
            ranges,
            page_size,
            used: BTreeMap::new(),
        }
    }

    /// The ranges allocations come from, sorted by start (IOVAs below
    /// [`MIN_IOVA`] cut off).
    pub fn ranges(&self) -> &[IovaRange] {
        &self.ranges
    }

    /// IOMMU page size: every allocation is a multiple of it.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The alignment an allocation of `len` bytes gets.
    pub fn alignment_for(&self, len: u64) -> u64 {
        len.checked_next_power_of_two()
            .unwrap_or(MAX_ALIGN)
            .clamp(self.page_size, MAX_ALIGN.max(self.page_size))
    }

    /// An aligned, unused IOVA range of `len` bytes (rounded up to pages).
    pub fn allocate(&mut self, len: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let len = align_up(len, self.page_size)?;
        let align = self.alignment_for(len);
        for range in &self.ranges {
            let mut candidate = align_up(range.start, align);
            while let Some(start) = candidate {
                let Some(last) = start.checked_add(len - 1).filter(|&last| last <= range.end)
                else {
                    break;
                };
                // Allocations never overlap, so only the last one starting
                // at or before `last` can reach into the candidate.
                match self.used.range(..=last).next_back() {
                    // Inclusive ends: an allocation may end at u64::MAX.
                    Some((&used_start, &used_len)) if used_start + (used_len - 1) >= start => {
                        candidate = (used_start + (used_len - 1))
                            .checked_add(1)
                            .and_then(|end| align_up(end, align));
                    }
                    _ => {
                        self.used.insert(start, len);
                        return Some(start);
                    }
                }
            }
        }
        None
    }

    /// Releases an allocation made by [`allocate`](Self::allocate) with the
    /// same `len`. Returns `false` (and changes nothing) if there is none.
    pub fn free(&mut self, iova: u64, len: u64) -> bool {
        let Some(len) = align_up(len, self.page_size) else {
            return false;
        };
        if self.used.get(&iova) == Some(&len) {
            self.used.remove(&iova);
            true
        } else {
            false
        }
    }

    /// Number of live allocations.
    pub fn live(&self) -> usize {
        self.used.len()
    }

    /// The usable ranges as `start-end, …` in hex, for error messages.
    pub fn describe_ranges(&self) -> String {
        self.ranges
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
