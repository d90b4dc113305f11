//! PCI discovery from sysfs: network devices, their drivers, IOMMU groups,
//! NUMA nodes and kernel interfaces.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use super::error::{Blocker, DriverError};
use super::host::Host;
use super::pci_addr::PciAddr;
use super::pci_ids::Support;
use super::routes::routed_interfaces;

/// PCI base class 0x02: network controller.
pub const CLASS_NETWORK: u32 = 0x02;

/// The vfio-pci driver's name, as sysfs spells it.
pub const VFIO_PCI: &str = "vfio-pci";

/// Drivers that do not let the device do DMA on the host's behalf, so they
/// keep an IOMMU group usable for VFIO (the kernel's `driver_managed_dma`
/// drivers). Unbound members are fine too.
pub fn driver_keeps_group_viable(driver: &str) -> bool {
    matches!(driver, "vfio-pci" | "pci-stub" | "pcieport") || driver.ends_with("-vfio-pci")
}

/// One member of an IOMMU group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// The member's PCI address.
    pub addr: String,
    /// The driver it is bound to; `None` if none.
    pub driver: Option<String>,
}

impl GroupMember {
    /// Whether its driver keeps VFIO from using the group (an unbound member does not).
    pub fn blocks_vfio(&self) -> bool {
        self.driver
            .as_deref()
            .is_some_and(|d| !driver_keeps_group_viable(d))
    }
}

/// An IOMMU group as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuGroup {
    /// The group number (`/sys/kernel/iommu_groups/N`).
    pub number: u32,
    /// Its devices, sorted by address.
    pub members: Vec<GroupMember>,
}

impl IommuGroup {
    /// The members that would make VFIO refuse the group.
    pub fn blockers(&self) -> Vec<Blocker> {
        self.members
            .iter()
            .filter(|m| m.blocks_vfio())
            .map(|m| Blocker {
                addr: m.addr.clone(),
                driver: m.driver.clone().unwrap_or_default(),
            })
            .collect()
    }

    /// Whether VFIO would accept the group as it is now.
    pub fn viable(&self) -> bool {
        self.members.iter().all(|m| !m.blocks_vfio())
    }
}

/// A PCI function as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// The function's PCI address.
    pub addr: PciAddr,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// 24-bit class code: base class, subclass, programming interface.
    pub class: u32,
    /// Whether a vfio-netmap driver opens the device, and its name if
    /// vfio-netmap knows it (from the driver table, [`pci_ids`](super::pci_ids)).
    pub support: Support,
    /// The driver it is bound to; `None` if none.
    pub driver: Option<String>,
    /// Its IOMMU group; `None` when it has none (the IOMMU is off).
    pub iommu_group: Option<IommuGroup>,
    /// `None` when sysfs says -1 (no NUMA information).
    pub numa_node: Option<u32>,
    /// Kernel interfaces (`net/` subdirectory); empty when not on a net driver.
    pub interfaces: Vec<String>,
    /// Whether any of the interfaces carries routes.
    pub active: bool,
}

impl PciDevice {
    /// Whether it is a network controller (PCI base class 0x02).
    pub fn is_network(&self) -> bool {
        self.class >> 16 == CLASS_NETWORK
    }

    /// Whether it is bound to vfio-pci.
    pub fn on_vfio(&self) -> bool {
        self.driver.as_deref() == Some(VFIO_PCI)
    }
}

fn read_trimmed(path: &Path) -> io::Result<String> {
    Ok(fs::read_to_string(path)?.trim().to_string())
}

fn parse_hex(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// The last component of a symlink's target (`driver` -> `.../drivers/e1000`).
fn link_name(path: &Path) -> Option<String> {
    let target = fs::read_link(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// The driver a device is bound to, read from its `driver` symlink.
pub fn current_driver(host: &Host, addr: &str) -> Option<String> {
    link_name(&host.pci_device_dir(addr).join("driver"))
}

/// The IOMMU group number of a device, from its `iommu_group` symlink.
pub fn iommu_group_number(host: &Host, addr: &str) -> Option<u32> {
    link_name(&host.pci_device_dir(addr).join("iommu_group"))?
        .parse()
        .ok()
}

/// The members of IOMMU group `number`, sorted by address.
pub fn iommu_group(host: &Host, number: u32) -> Result<IommuGroup, DriverError> {
    let dir = host.iommu_group_dir(number).join("devices");
    let entries = fs::read_dir(&dir).map_err(|e| {
        DriverError::io(
            "listing",
            &dir,
            e,
            "is sysfs mounted and the IOMMU enabled (`intel_iommu=on`)?",
        )
    })?;
    let mut members: Vec<GroupMember> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|addr| GroupMember {
            driver: current_driver(host, &addr),
            addr,
        })
        .collect();
    members.sort_by(|a, b| a.addr.cmp(&b.addr));
    Ok(IommuGroup { number, members })
}

fn dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Kernel interfaces of a device: its `net/` subdirectory, or for virtio
/// devices the `net/` of its `virtioN` child.
fn interfaces_of(dir: &Path) -> Vec<String> {
    let mut names = dir_names(&dir.join("net"));
    for child in dir_names(dir)
        .into_iter()
        .filter(|c| c.starts_with("virtio"))
    {
        names.extend(dir_names(&dir.join(child).join("net")));
    }
    names
}

/// Reads one device from sysfs. `routed` is the set of interfaces with routes
/// (see [`routed_interfaces`]), passed in so listing many devices reads
/// `/proc/net` once.
pub fn read_device(
    host: &Host,
    addr: PciAddr,
    routed: &BTreeSet<String>,
) -> Result<PciDevice, DriverError> {
    let name = addr.to_string();
    let dir = host.pci_device_dir(&name);
    if !dir.exists() {
        return Err(DriverError::DeviceNotFound {
            addr: name,
            sysfs_dir: host.pci_devices_dir(),
        });
    }
    let hex_file = |file: &'static str| -> Result<u32, DriverError> {
        let path = dir.join(file);
        let text = read_trimmed(&path).map_err(|e| {
            DriverError::io(
                "reading",
                &path,
                e,
                "is sysfs mounted (`mount -t sysfs sysfs /sys`)?",
            )
        })?;
        parse_hex(&text).ok_or_else(|| {
            DriverError::io(
                "parsing",
                &path,
                io::Error::new(io::ErrorKind::InvalidData, format!("`{text}` is not hex")),
                "the sysfs tree is not what Linux writes; check the path",
            )
        })
    };
    let vendor = hex_file("vendor")? as u16;
    let device = hex_file("device")? as u16;
    let class = hex_file("class")?;
    let driver = current_driver(host, &name);
    let iommu_group = match iommu_group_number(host, &name) {
        Some(n) => Some(iommu_group(host, n)?),
        None => None,
    };
    let numa_node = read_trimmed(&dir.join("numa_node"))
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|n| u32::try_from(n).ok());
    let mut interfaces = interfaces_of(&dir);
    interfaces.sort();
    let active = interfaces.iter().any(|i| routed.contains(i));
    Ok(PciDevice {
        addr,
        vendor,
        device,
        class,
        support: Support::of(vendor, device),
        driver,
        iommu_group,
        numa_node,
        interfaces,
        active,
    })
}

/// One device by address, of any class.
pub fn device(host: &Host, addr: PciAddr) -> Result<PciDevice, DriverError> {
    read_device(host, addr, &routed_interfaces(host))
}

/// Every network-class device (class 0x02xxxx), sorted by address.
pub fn network_devices(host: &Host) -> Result<Vec<PciDevice>, DriverError> {
    let dir = host.pci_devices_dir();
    let entries = fs::read_dir(&dir).map_err(|e| {
        DriverError::io(
            "listing",
            &dir,
            e,
            "is sysfs mounted (`mount -t sysfs sysfs /sys`)?",
        )
    })?;
    let routed = routed_interfaces(host);
    let mut addrs: Vec<PciAddr> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    addrs.sort();
    let mut devices = Vec::new();
    for addr in addrs {
        let class_path = host.pci_device_dir(&addr.to_string()).join("class");
        let is_network = read_trimmed(&class_path)
            .ok()
            .and_then(|t| parse_hex(&t))
            .is_some_and(|c| c >> 16 == CLASS_NETWORK);
        if is_network {
            devices.push(read_device(host, addr, &routed)?);
        }
    }
    Ok(devices)
}
