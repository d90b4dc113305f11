//! A PCI device opened through VFIO: region info, config space, BAR
//! mappings, interrupts and reset.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;
use std::sync::Arc;

use vfio_bindings::bindings::vfio as sys;

use super::container::Container;
use super::group::Group;
use super::ioctl::{self, ioctl_ptr, ioctl_value, ioctl_with_caps};
use super::irq::{Interrupts, IrqInfo, IrqKind};
use super::region::{RegionInfo, parse_region_info};
use crate::driver::config;
use crate::driver::error::DriverError;
use crate::driver::host::Host;
use crate::driver::pci::{self, VFIO_PCI};
use crate::driver::pci_addr::PciAddr;
use crate::driver::regs::{Mmio, RegisterAccess};

/// What VFIO_DEVICE_GET_INFO says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_*` bits (PCI device, reset supported, …).
    pub flags: u32,
    /// Number of regions (for PCI: BARs 0-5, ROM, config space, VGA).
    pub num_regions: u32,
    /// Number of interrupt indices (for PCI: INTx, MSI, MSI-X, error, request).
    pub num_irqs: u32,
}

impl DeviceInfo {
    /// Whether the device offers `VFIO_DEVICE_RESET`.
    pub fn supports_reset(&self) -> bool {
        self.flags & sys::VFIO_DEVICE_FLAGS_RESET != 0
    }
}

/// Region index of PCI config space.
pub const CONFIG_REGION: u32 = sys::VFIO_PCI_CONFIG_REGION_INDEX;

/// The checks `Device::open` makes in sysfs before any VFIO call, so that
/// the common setup mistakes get specific errors: the device exists, is bound
/// to vfio-pci, has an IOMMU group whose other members are harmless, and the
/// group's `/dev/vfio` node exists. Returns the group number.
pub fn preflight(host: &Host, addr: PciAddr, noiommu: bool) -> Result<u32, DriverError> {
    let name = addr.to_string();
    if !host.pci_device_dir(&name).exists() {
        return Err(DriverError::DeviceNotFound {
            addr: name,
            sysfs_dir: host.pci_devices_dir(),
        });
    }
    let driver = pci::current_driver(host, &name);
    if driver.as_deref() != Some(VFIO_PCI) {
        return Err(DriverError::NotBoundToVfio { addr: name, driver });
    }
    let Some(group) = pci::iommu_group_number(host, &name) else {
        return Err(DriverError::NoIommuGroup { addr: name });
    };
    if let Ok(members) = pci::iommu_group(host, group) {
        let blockers = members.blockers();
        if !blockers.is_empty() {
            return Err(DriverError::GroupNotViable { group, blockers });
        }
    }
    let node = host.vfio_group_path(group, noiommu);
    if !node.exists() {
        if !host.vfio_container_path().exists() {
            return Err(DriverError::ContainerMissing {
                path: host.vfio_container_path(),
            });
        }
        return Err(DriverError::GroupMissing { path: node, group });
    }
    Ok(group)
}

/// A PCI device opened through VFIO, with its group and container kept
/// alive for as long as it is open.
#[derive(Debug)]
pub struct Device {
    addr: PciAddr,
    name: String,
    // Shared with Interrupts, which must disable the vectors on drop.
    file: Arc<File>,
    info: DeviceInfo,
    config_offset: u64,
    group: Arc<Group>,
    container: Arc<Container>,
}

impl Device {
    /// Opens `addr` through VFIO in `container`, attaching its IOMMU group
    /// (shared with other devices of the same group) on first use.
    pub fn open(container: &Arc<Container>, addr: PciAddr) -> Result<Device, DriverError> {
        let name = addr.to_string();
        let group_number = preflight(container.host(), addr, container.is_noiommu())?;
        let group = container.group(group_number)?;
        let file = File::from(group.device_fd(&name)?);
        let mut raw = sys::vfio_device_info {
            argsz: std::mem::size_of::<sys::vfio_device_info>() as u32,
            ..Default::default()
        };
        // SAFETY: raw is a complete vfio_device_info whose argsz excludes caps.
        unsafe { ioctl_ptr(file.as_fd(), ioctl::DEVICE_GET_INFO, &mut raw) }.map_err(|source| {
            DriverError::Ioctl {
                op: "VFIO_DEVICE_GET_INFO",
                target: name.clone(),
                source,
            }
        })?;
        let info = DeviceInfo {
            flags: raw.flags,
            num_regions: raw.num_regions,
            num_irqs: raw.num_irqs,
        };
        let mut device = Device {
            addr,
            name,
            file: Arc::new(file),
            info,
            config_offset: 0,
            group,
            container: container.clone(),
        };
        device.config_offset = device.region_info(CONFIG_REGION)?.offset;
        log::debug!("opened {} via VFIO: {info:?}", device.name);
        Ok(device)
    }

    /// The device's PCI address.
    pub fn addr(&self) -> PciAddr {
        self.addr
    }

    /// What `VFIO_DEVICE_GET_INFO` reported when the device was opened.
    pub fn info(&self) -> DeviceInfo {
        self.info
    }

    /// The device's IOMMU group number.
    pub fn group_number(&self) -> u32 {
        self.group.number()
    }

    /// The container the device's group is attached to.
    pub fn container(&self) -> &Arc<Container> {
        &self.container
    }

    fn ioctl_error(&self, op: &'static str, source: io::Error) -> DriverError {
        DriverError::Ioctl {
            op,
            target: self.name.clone(),
            source,
        }
    }

    /// Region `index`: BARs 0-5, ROM 6, config space 7.
    pub fn region_info(&self, index: u32) -> Result<RegionInfo, DriverError> {
        let mut header = [0u8; std::mem::size_of::<sys::vfio_region_info>()];
        header[8..12].copy_from_slice(&index.to_ne_bytes());
        let reply = ioctl_with_caps(self.file.as_fd(), ioctl::DEVICE_GET_REGION_INFO, &header)
            .map_err(|e| self.ioctl_error("VFIO_DEVICE_GET_REGION_INFO", e))?;
        parse_region_info(&reply).ok_or_else(|| {
            self.ioctl_error(
                "VFIO_DEVICE_GET_REGION_INFO",
                io::Error::new(io::ErrorKind::InvalidData, "malformed reply"),
            )
        })
    }

    /// Reads from region `index` at `offset` (for I/O-port BARs and ROM).
    pub fn read_region(
        &self,
        region: &RegionInfo,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), DriverError> {
        self.file
            .read_exact_at(buf, region.offset + offset)
            .map_err(|e| self.ioctl_error("pread on a VFIO region", e))
    }

    /// Reads `buf.len()` bytes of config space at `offset`.
    pub fn read_config(&self, offset: u64, buf: &mut [u8]) -> Result<(), DriverError> {
        self.file
            .read_exact_at(buf, self.config_offset + offset)
            .map_err(|e| self.ioctl_error("pread of config space", e))
    }

    /// Writes `buf` to config space at `offset`.
    pub fn write_config(&self, offset: u64, buf: &[u8]) -> Result<(), DriverError> {
        self.file
            .write_all_at(buf, self.config_offset + offset)
            .map_err(|e| self.ioctl_error("pwrite of config space", e))
    }

    /// The little-endian 16-bit config-space register at `offset`.
    pub fn config_u16(&self, offset: u64) -> Result<u16, DriverError> {
        let mut b = [0u8; 2];
        self.read_config(offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Writes the 16-bit config-space register at `offset` (little-endian).
    pub fn write_config_u16(&self, offset: u64, value: u16) -> Result<(), DriverError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    /// Turns on memory-space decoding and bus mastering (needed for DMA).
    pub fn enable_bus_master(&self) -> Result<(), DriverError> {
        let command = self.config_u16(config::COMMAND as u64)?;
        let wanted = command | config::COMMAND_MEMORY_SPACE | config::COMMAND_BUS_MASTER;
        if wanted != command {
            self.write_config_u16(config::COMMAND as u64, wanted)?;
        }
        Ok(())
    }

    /// Maps BAR `bar` through the device fd. A BAR holding the MSI-X table is
    /// mapped around it (sparse mmap); [`MappedBar::registers`] then covers
    /// the part from offset 0 up to the first hole.
    pub fn map_bar(&self, bar: u32) -> Result<MappedBar, DriverError> {
        let not_mappable = |reason: &str| DriverError::BarNotMappable {
            addr: self.name.clone(),
            bar,
            reason: reason.to_string(),
        };
        if bar > sys::VFIO_PCI_BAR5_REGION_INDEX {
            return Err(not_mappable("only BAR0-5 exist"));
        }
        let region = self.region_info(bar)?;
        if region.size == 0 {
            return Err(not_mappable("the device does not implement it"));
        }
        if !region.mmappable() {
            return Err(not_mappable(
                "VFIO does not allow mmap: an I/O-port BAR, or the platform forbids it",
            ));
        }
        MappedBar::map(&self.file, bar, &region).map_err(|e| self.ioctl_error("mmap of a BAR", e))
    }

    /// What `VFIO_DEVICE_GET_IRQ_INFO` reports for interrupts of `kind`.
    pub fn irq_info(&self, kind: IrqKind) -> Result<IrqInfo, DriverError> {
        let mut raw = sys::vfio_irq_info {
            argsz: std::mem::size_of::<sys::vfio_irq_info>() as u32,
            index: kind.index(),
            ..Default::default()
        };
        // SAFETY: raw is a complete vfio_irq_info.
        unsafe { ioctl_ptr(self.file.as_fd(), ioctl::DEVICE_GET_IRQ_INFO, &mut raw) }
            .map_err(|e| self.ioctl_error("VFIO_DEVICE_GET_IRQ_INFO", e))?;
        Ok(IrqInfo {
            index: raw.index,
            flags: raw.flags,
            count: raw.count,
        })
    }

    /// Enables `count` vectors of `kind`, each signalling its own eventfd.
    /// Only one kind can be enabled at a time; drop the previous
    /// [`Interrupts`] first.
    pub fn enable_interrupts(&self, kind: IrqKind, count: u32) -> Result<Interrupts, DriverError> {
        let info = self.irq_info(kind)?;
        Interrupts::enable(self.file.clone(), &self.name, kind, info, count)
    }

    /// VFIO_DEVICE_RESET (FLR or PM reset), when the device offers one.
    pub fn reset(&self) -> Result<(), DriverError> {
        if !self.info.supports_reset() {
            return Err(DriverError::ResetUnsupported {
                addr: self.name.clone(),
            });
        }
        ioctl_value(self.file.as_fd(), ioctl::DEVICE_RESET, 0)
            .map(drop)
            .map_err(|e| self.ioctl_error("VFIO_DEVICE_RESET", e))
    }
}

/// A BAR mapped into our address space; unmapped on drop.
#[derive(Debug)]
pub struct MappedBar {
    bar: u32,
    base: NonNull<u8>,
    len: usize,
    registers_len: usize,
}

// SAFETY: MappedBar owns a MAP_SHARED mapping of device memory; the mapping
// itself is valid from any thread, and all access goes through Mmio, whose
// Send/Sync reasoning applies.
unsafe impl Send for MappedBar {}
// SAFETY: see Send; &MappedBar only hands out Mmio windows.
unsafe impl Sync for MappedBar {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

impl MappedBar {
    fn map(file: &File, bar: u32, region: &RegionInfo) -> io::Result<MappedBar> {
        let page = page_size();
        // A device fd reports size 0, so the length is always given explicitly.
        let len = (region.size as usize).next_multiple_of(page);
        let areas = region.mappable_areas();
        let whole = areas.len() == 1 && areas[0].offset == 0 && areas[0].size >= region.size;
        let protection = libc::PROT_READ | libc::PROT_WRITE;
        let base = if whole {
            // SAFETY: a fresh shared mapping of the region; the kernel picks the address.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    protection,
                    libc::MAP_SHARED,
                    file.as_raw_fd(),
                    region.offset as libc::off_t,
                )
            }
        } else {
            // Reserve the whole BAR inaccessible, then map the allowed areas
            // over it, so offsets inside the BAR stay offsets in the mapping.
            // SAFETY: a fresh anonymous reservation.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            }
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(base.cast::<u8>()).expect("mmap never returns null on success");
        let mut mapped = MappedBar {
            bar,
            base,
            len,
            registers_len: region.mappable_prefix() as usize,
        };
        if !whole {
            for area in areas
                .iter()
                .filter(|a| a.size > 0 && a.offset + a.size <= len as u64)
            {
                // SAFETY: MAP_FIXED replaces part of our own reservation
                // (inside base..base+len), which nothing else uses.
                let at = unsafe {
                    libc::mmap(
                        base.as_ptr().add(area.offset as usize).cast(),
                        area.size as usize,
                        protection,
                        libc::MAP_SHARED | libc::MAP_FIXED,
                        file.as_raw_fd(),
                        (region.offset + area.offset) as libc::off_t,
                    )
                };
                if at == libc::MAP_FAILED {
                    // `mapped` unmaps the whole reservation on drop.
                    return Err(io::Error::last_os_error());
                }
            }
        }
        mapped.registers_len = mapped.registers_len.min(len);
        Ok(mapped)
    }

    /// Which BAR (0-5) this is.
    pub fn bar(&self) -> u32 {
        self.bar
    }

    /// Length of the whole mapping (the BAR size rounded up to pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The register window: the BAR from offset 0 up to the first part VFIO
    /// does not let us map (all of it for an ordinary BAR).
    pub fn registers(&self) -> Mmio<'_> {
        // SAFETY: base..base+registers_len is mapped read/write for as long
        // as self lives (Mmio borrows self), and page-aligned.
        unsafe { Mmio::new(self.base, self.registers_len) }
    }
}

impl RegisterAccess for MappedBar {
    #[inline(always)]
    fn read32(&self, offset: usize) -> u32 {
        self.registers().read32(offset)
    }
    #[inline(always)]
    fn write32(&self, offset: usize, value: u32) {
        self.registers().write32(offset, value)
    }
}

impl Drop for MappedBar {
    fn drop(&mut self) {
        // SAFETY: base..base+len is exactly the mapping (or reservation with
        // areas mapped over it) created in map(); nothing borrows it now.
        if unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) } != 0 {
            log::warn!(
                "munmap of BAR{} failed: {}",
                self.bar,
                io::Error::last_os_error()
            );
        }
    }
}
