//! The VFIO container: one IOMMU address space shared by any number of
//! groups and devices, so a buffer mapped once can be DMAed by every NIC in
//! it (zero-copy forwarding between NICs).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use vfio_bindings::bindings::vfio as sys;

use super::group::Group;
use super::ioctl::{self, ioctl_ptr, ioctl_value};
use super::iova::{IommuInfo, IovaAllocator, IovaRange, parse_iommu_info};
use super::noiommu;
use crate::driver::error::DriverError;
use crate::driver::host::Host;

/// How to open a container.
#[derive(Clone, Debug, Default)]
pub struct ContainerOptions {
    /// Use VFIO's no-IOMMU mode: no DMA protection at all, DMA addresses are
    /// physical addresses. Only when explicitly asked for.
    pub unsafe_noiommu: bool,
}

/// Mapping DMA memory for devices. The memory module is written against this
/// trait so it can be tested with a fake.
pub trait DmaMap {
    /// Makes `len` bytes at `vaddr` reachable by the devices and returns the
    /// address they must use (the IOVA).
    ///
    /// # Safety
    /// `vaddr..vaddr+len` must be a mapping owned by the caller that stays
    /// valid (not unmapped or remapped) until `unmap_dma` is called for the
    /// returned IOVA; devices may write to it at any time until then.
    unsafe fn map_dma(&self, vaddr: *mut u8, len: usize) -> Result<u64, DriverError>;

    /// Undoes one `map_dma`, given the IOVA it returned and the same length.
    fn unmap_dma(&self, iova: u64, len: usize) -> Result<(), DriverError>;
}

#[derive(Clone, Copy, Debug)]
struct DmaMapping {
    vaddr: usize,
    len: usize,
}

#[derive(Default)]
struct ContainerState {
    groups: BTreeMap<u32, Arc<Group>>,
    /// Set once the first group is attached and the IOMMU type chosen.
    iommu: Option<(IommuInfo, IovaAllocator)>,
    /// IOVA -> mapping, for unmap checks and cleanup on drop.
    mappings: BTreeMap<u64, DmaMapping>,
}

/// An open VFIO container (`/dev/vfio/vfio`): the groups attached to it and
/// the memory mapped for DMA in it, shared by every device opened on it.
pub struct Container {
    // Declared first so it is dropped (closed) last, after the groups in `state`.
    state: Mutex<ContainerState>,
    fd: OwnedFd,
    host: Host,
    noiommu: bool,
}

fn open_error(path: &Path, e: io::Error, missing: DriverError) -> DriverError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) => missing,
        Some(libc::EACCES) | Some(libc::EPERM) => DriverError::PermissionDenied {
            path: path.to_path_buf(),
        },
        Some(libc::EBUSY) => DriverError::Busy {
            path: path.to_path_buf(),
        },
        _ => DriverError::io(
            "opening",
            path,
            e,
            "check that the VFIO modules are loaded (`modprobe vfio-pci`)",
        ),
    }
}

pub(super) fn open_rw(path: &Path, missing: DriverError) -> Result<OwnedFd, DriverError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| open_error(path, e, missing))
}

fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid struct we pass.
    let ret = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    (ret == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("fd", &self.fd)
            .field("noiommu", &self.noiommu)
            .finish_non_exhaustive()
    }
}

impl Container {
    /// Opens `/dev/vfio/vfio` (under `host.dev_vfio`) and checks the API
    /// version and the IOMMU backend.
    pub fn open(host: &Host, options: ContainerOptions) -> Result<Arc<Container>, DriverError> {
        let path = host.vfio_container_path();
        let fd = open_rw(&path, DriverError::ContainerMissing { path: path.clone() })?;
        let target = path.display().to_string();
        let ioctl_err = |op, source| DriverError::Ioctl {
            op,
            target: target.clone(),
            source,
        };
        let version = ioctl_value(fd.as_fd(), ioctl::GET_API_VERSION, 0)
            .map_err(|e| ioctl_err("VFIO_GET_API_VERSION", e))?;
        if version != sys::VFIO_API_VERSION as i32 {
            return Err(DriverError::ApiVersion { found: version });
        }
        let (extension, iommu, fix) = if options.unsafe_noiommu {
            log::warn!(
                "VFIO no-IOMMU mode: devices can DMA anywhere in physical memory; \
                 this gives NO protection and is meant for machines without an IOMMU only"
            );
            (
                sys::VFIO_NOIOMMU_IOMMU,
                "no-IOMMU",
                "load vfio with `modprobe vfio enable_unsafe_noiommu_mode=1` (needs a kernel built with CONFIG_VFIO_NOIOMMU)",
            )
        } else {
            (
                sys::VFIO_TYPE1v2_IOMMU,
                "Type1v2",
                "load it with `modprobe vfio_iommu_type1`",
            )
        };
        let supported = ioctl_value(fd.as_fd(), ioctl::CHECK_EXTENSION, extension.into())
            .map_err(|e| ioctl_err("VFIO_CHECK_EXTENSION", e))?;
        if supported != 1 {
            return Err(DriverError::IommuBackendMissing { iommu, fix });
        }
        Ok(Arc::new(Container {
            state: Mutex::new(ContainerState::default()),
            fd,
            host: host.clone(),
            noiommu: options.unsafe_noiommu,
        }))
    }

    /// The host the container was opened on.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the container runs in VFIO's no-IOMMU mode.
    pub fn is_noiommu(&self) -> bool {
        self.noiommu
    }

    fn state(&self) -> MutexGuard<'_, ContainerState> {
        // A panic while holding the lock leaves bookkeeping that is still
        // consistent enough to clean up; never propagate the poison.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group `number`, opened and attached on first use. Attaching the
    /// first group also selects the IOMMU and reads its usable IOVA ranges.
    pub fn group(&self, number: u32) -> Result<Arc<Group>, DriverError> {
        let mut state = self.state();
        if let Some(group) = state.groups.get(&number) {
            return Ok(group.clone());
        }
        let group = Arc::new(Group::open(
            &self.host,
            number,
            self.noiommu,
            self.fd.as_fd(),
        )?);
        if state.iommu.is_none() {
            state.iommu = Some(self.set_iommu()?);
        }
        state.groups.insert(number, group.clone());
        Ok(group)
    }

    fn set_iommu(&self) -> Result<(IommuInfo, IovaAllocator), DriverError> {
        let target = self.host.vfio_container_path().display().to_string();
        let ioctl_err = |op, source| DriverError::Ioctl {
            op,
            target: target.clone(),
            source,
        };
        let iommu_type = if self.noiommu {
            sys::VFIO_NOIOMMU_IOMMU
        } else {
            sys::VFIO_TYPE1v2_IOMMU
        };
        ioctl_value(self.fd.as_fd(), ioctl::SET_IOMMU, iommu_type.into())
            .map_err(|e| ioctl_err("VFIO_SET_IOMMU", e))?;
        if self.noiommu {
            let info = IommuInfo {
                page_sizes: 0,
                ranges: None,
                dma_mappings_available: None,
            };
            return Ok((info, IovaAllocator::new(&[], 4096)));
        }
        let info = self
            .iommu_info()
            .map_err(|e| ioctl_err("VFIO_IOMMU_GET_INFO", e))?;
        let ranges = info.ranges.clone().unwrap_or_else(|| {
            log::warn!(
                "the kernel does not report usable IOVA ranges (Linux < 5.4); \
                 using 1 MiB..0xfedfffff, below the x86 MSI window"
            );
            vec![IovaRange {
                start: 0,
                end: 0xfedf_ffff,
            }]
        });
        log::debug!(
            "IOMMU page sizes {:#x}, IOVA ranges {ranges:?}",
            info.page_sizes
        );
        let allocator = IovaAllocator::new(&ranges, info.min_page_size());
        Ok((info, allocator))
    }

    /// VFIO_IOMMU_GET_INFO with its capability chain.
    fn iommu_info(&self) -> io::Result<IommuInfo> {
        let header = [0u8; std::mem::size_of::<sys::vfio_iommu_type1_info>()];
        let reply = ioctl::ioctl_with_caps(self.fd.as_fd(), ioctl::IOMMU_GET_INFO, &header)?;
        parse_iommu_info(&reply).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed VFIO_IOMMU_GET_INFO reply",
            )
        })
    }

    /// The IOMMU's page sizes and usable IOVA ranges (after a device is open).
    pub fn iommu_details(&self) -> Option<IommuInfo> {
        self.state().iommu.as_ref().map(|(info, _)| info.clone())
    }

    /// Number of live DMA mappings.
    pub fn dma_mapping_count(&self) -> usize {
        self.state().mappings.len()
    }

    fn map_noiommu(
        &self,
        state: &mut ContainerState,
        vaddr: usize,
        len: usize,
    ) -> Result<u64, DriverError> {
        let phys = noiommu::physical_range(vaddr, len)?;
        state.mappings.insert(phys, DmaMapping { vaddr, len });
        Ok(phys)
    }
}

impl DmaMap for Container {
    unsafe fn map_dma(&self, vaddr: *mut u8, len: usize) -> Result<u64, DriverError> {
        let vaddr = vaddr as usize;
        let mut state = self.state();
        if self.noiommu {
            return self.map_noiommu(&mut state, vaddr, len);
        }
        let mapped_so_far: u64 = state.mappings.values().map(|m| m.len as u64).sum();
        let Some((_, allocator)) = state.iommu.as_mut() else {
            return Err(DriverError::NoIommuYet);
        };
        let page = allocator.page_size();
        if len == 0 || vaddr as u64 % page != 0 || len as u64 % page != 0 {
            return Err(DriverError::DmaUnaligned { vaddr, len, page });
        }
        let iova = allocator
            .allocate(len as u64)
            .ok_or_else(|| DriverError::IovaExhausted {
                len: len as u64,
                ranges: allocator.describe_ranges(),
            })?;
        let mut request = sys::vfio_iommu_type1_dma_map {
            argsz: std::mem::size_of::<sys::vfio_iommu_type1_dma_map>() as u32,
            flags: sys::VFIO_DMA_MAP_FLAG_READ | sys::VFIO_DMA_MAP_FLAG_WRITE,
            vaddr: vaddr as u64,
            iova,
            size: len as u64,
        };
        // SAFETY: request is a complete vfio_iommu_type1_dma_map; the caller
        // guarantees the memory stays mapped until unmap_dma.
        let result = unsafe { ioctl_ptr(self.fd.as_fd(), ioctl::IOMMU_MAP_DMA, &mut request) };
        if let Err(source) = result {
            allocator.free(iova, len as u64);
            return Err(match source.raw_os_error() {
                Some(libc::ENOMEM) | Some(libc::EPERM) => DriverError::MemlockTooLow {
                    len,
                    needed: mapped_so_far + len as u64,
                    limit: memlock_limit(),
                    source,
                },
                Some(libc::ENOSPC) => DriverError::DmaEntryLimit { source },
                _ => DriverError::Ioctl {
                    op: "VFIO_IOMMU_MAP_DMA",
                    target: format!("{vaddr:#x}+{len:#x} at IOVA {iova:#x}"),
                    source,
                },
            });
        }
        state.mappings.insert(iova, DmaMapping { vaddr, len });
        Ok(iova)
    }

    fn unmap_dma(&self, iova: u64, len: usize) -> Result<(), DriverError> {
        let mut state = self.state();
        match state.mappings.get(&iova) {
            Some(m) if m.len == len => {}
            _ => return Err(DriverError::NotMapped { iova, len }),
        }
        if !self.noiommu {
            unmap_ioctl(&self.fd, iova, len)?;
            if let Some((_, allocator)) = state.iommu.as_mut() {
                allocator.free(iova, len as u64);
            }
        }
        state.mappings.remove(&iova);
        Ok(())
    }
}

fn unmap_ioctl(fd: &OwnedFd, iova: u64, len: usize) -> Result<(), DriverError> {
    let mut request = sys::vfio_iommu_type1_dma_unmap {
        argsz: std::mem::size_of::<sys::vfio_iommu_type1_dma_unmap>() as u32,
        flags: 0,
        iova,
        size: len as u64,
        ..Default::default()
    };
    // SAFETY: request is a complete vfio_iommu_type1_dma_unmap without a bitmap.
    unsafe { ioctl_ptr(fd.as_fd(), ioctl::IOMMU_UNMAP_DMA, &mut request) }
        .map(drop)
        .map_err(|source| DriverError::Ioctl {
            op: "VFIO_IOMMU_UNMAP_DMA",
            target: format!("IOVA {iova:#x}+{len:#x}"),
            source,
        })
}

impl Drop for Container {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if !self.noiommu {
            for (&iova, mapping) in &state.mappings {
                log::debug!(
                    "container dropped with DMA mapping {iova:#x}+{:#x} (vaddr {:#x}) still live; unmapping",
                    mapping.len,
                    mapping.vaddr
                );
                if let Err(e) = unmap_ioctl(&self.fd, iova, mapping.len) {
                    log::warn!("{e}");
                }
            }
        }
        state.mappings.clear();
        // Groups close here (before `fd`), detaching from the container.
        state.groups.clear();
    }
}
