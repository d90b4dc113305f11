//! VFIO regions (BARs, ROM, config space) and their capabilities.

use vfio_bindings::bindings::vfio as sys;

use super::iova::capability_chain;

/// A directly mappable part of a region (VFIO's sparse-mmap capability; an
/// MSI-X table BAR is mappable only around the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseArea {
    /// Start of the area, from the start of the region.
    pub offset: u64,
    /// Length of the area in bytes.
    pub size: u64,
}

/// What VFIO_DEVICE_GET_REGION_INFO says about one region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// The region index (BARs 0-5, ROM 6, config space 7).
    pub index: u32,
    /// `VFIO_REGION_INFO_FLAG_*` bits: readable, writable, mmappable, caps.
    pub flags: u32,
    /// Size of the region in bytes (0: not implemented by the device).
    pub size: u64,
    /// Offset of the region in the device fd (for pread/pwrite/mmap).
    pub offset: u64,
    /// `Some` when only these parts may be mmapped.
    pub sparse_areas: Option<Vec<SparseArea>>,
    /// The MSI-X table may be mapped too (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE).
    pub msix_mappable: bool,
}

impl RegionInfo {
    /// Whether the region may be read through the device fd.
    pub fn readable(&self) -> bool {
        self.flags & sys::VFIO_REGION_INFO_FLAG_READ != 0
    }
    /// Whether the region may be written through the device fd.
    pub fn writable(&self) -> bool {
        self.flags & sys::VFIO_REGION_INFO_FLAG_WRITE != 0
    }
    /// Whether (parts of) the region may be mmapped from the device fd.
    pub fn mmappable(&self) -> bool {
        self.flags & sys::VFIO_REGION_INFO_FLAG_MMAP != 0
    }

    /// The parts that may be mmapped: the sparse areas, or the whole region.
    pub fn mappable_areas(&self) -> Vec<SparseArea> {
        match &self.sparse_areas {
            Some(areas) if !self.msix_mappable => areas.clone(),
            _ => vec![SparseArea {
                offset: 0,
                size: self.size,
            }],
        }
    }

    /// Length of the mappable prefix starting at offset 0 (adjacent areas merged).
    pub fn mappable_prefix(&self) -> u64 {
        let mut areas = self.mappable_areas();
        areas.sort_by_key(|a| a.offset);
        let mut end = 0;
        for area in areas {
            if area.offset > end {
                break;
            }
            end = end.max(area.offset + area.size);
        }
        end.min(self.size)
    }
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

/// Parses a whole `vfio_region_info` reply including its capability chain.
pub fn parse_region_info(buf: &[u8]) -> Option<RegionInfo> {
    let flags = u32_at(buf, 4)?;
    let mut info = RegionInfo {
        index: u32_at(buf, 8)?,
        flags,
        size: u64_at(buf, 16)?,
        offset: u64_at(buf, 24)?,
        sparse_areas: None,
        msix_mappable: false,
    };
    if flags & sys::VFIO_REGION_INFO_FLAG_CAPS == 0 {
        return Some(info);
    }
    for cap in capability_chain(buf, u32_at(buf, 12)? as usize) {
        match u32::from(cap.id) {
            sys::VFIO_REGION_INFO_CAP_SPARSE_MMAP => {
                let count = u32_at(buf, cap.offset + 8)? as usize;
                let areas = (0..count)
                    .map(|i| {
                        let at = cap.offset + 16 + i * 16;
                        Some(SparseArea {
                            offset: u64_at(buf, at)?,
                            size: u64_at(buf, at + 8)?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                info.sparse_areas = Some(areas);
            }
            sys::VFIO_REGION_INFO_CAP_MSIX_MAPPABLE => info.msix_mappable = true,
            _ => {}
        }
    }
    Some(info)
}
