//! The NICs vfio-netmap knows, by PCI vendor:device id.

use super::error::DriverError;
use super::pci_addr::PciAddr;

pub const INTEL: u16 = 0x8086;
pub const REDHAT_VIRTIO: u16 = 0x1af4;

/// Which driver family handles a supported device. The NIC drivers key on
/// this, so a new family starts here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NicFamily {
    /// 8254x: legacy descriptors (QEMU `e1000`, `e1000-82545em`).
    E1000,
    /// 82574L (QEMU `e1000e`).
    E1000e,
    /// 82576 (QEMU `igb`): advanced descriptors.
    Igb,
    /// 82599 / X540 / X550 (ixgbe): no QEMU model.
    Ixgbe,
    /// virtio-net, legacy and modern.
    VirtioNet,
}

/// A supported device id with its human name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedNic {
    pub vendor: u16,
    pub device: u16,
    pub name: &'static str,
    pub family: NicFamily,
}

const fn nic(vendor: u16, device: u16, name: &'static str, family: NicFamily) -> SupportedNic {
    SupportedNic {
        vendor,
        device,
        name,
        family,
    }
}

use NicFamily::*;

pub const SUPPORTED_NICS: &[SupportedNic] = &[
    nic(INTEL, 0x100e, "82540EM (e1000)", E1000),
    nic(INTEL, 0x100f, "82545EM (e1000)", E1000),
    nic(INTEL, 0x10d3, "82574L (e1000e)", E1000e),
    nic(INTEL, 0x10c9, "82576 (igb)", Igb),
    nic(INTEL, 0x10fb, "82599ES SFP+ (ixgbe)", Ixgbe),
    nic(INTEL, 0x10fc, "82599 XAUI/BX4 (ixgbe)", Ixgbe),
    nic(INTEL, 0x1557, "82599 SFP SF-QP (ixgbe)", Ixgbe),
    nic(INTEL, 0x10f8, "82599 backplane (ixgbe)", Ixgbe),
    nic(INTEL, 0x154d, "82599 SFP SF2 (ixgbe)", Ixgbe),
    nic(INTEL, 0x10f7, "82599 KX4 (ixgbe)", Ixgbe),
    nic(INTEL, 0x1517, "82599 KR (ixgbe)", Ixgbe),
    nic(INTEL, 0x10f9, "82599 CX4 (ixgbe)", Ixgbe),
    nic(INTEL, 0x1514, "82599 KX4 mezzanine (ixgbe)", Ixgbe),
    nic(INTEL, 0x1507, "82599 SFP+ VF-capable (ixgbe)", Ixgbe),
    nic(INTEL, 0x154a, "82599 4-port SFP+ (ixgbe)", Ixgbe),
    nic(INTEL, 0x1529, "82599 SFP FCoE (ixgbe)", Ixgbe),
    nic(INTEL, 0x151c, "82599 10GBASE-T (ixgbe)", Ixgbe),
    nic(INTEL, 0x1528, "X540-AT2 (ixgbe)", Ixgbe),
    nic(INTEL, 0x1560, "X540-AT1 (ixgbe)", Ixgbe),
    nic(INTEL, 0x1563, "X550-T (ixgbe)", Ixgbe),
    nic(INTEL, 0x15d1, "X550-T1 (ixgbe)", Ixgbe),
    nic(INTEL, 0x15ad, "X552/X557-AT 10GBASE-T (ixgbe)", Ixgbe),
    nic(REDHAT_VIRTIO, 0x1000, "virtio-net (legacy)", VirtioNet),
    nic(REDHAT_VIRTIO, 0x1041, "virtio-net (modern)", VirtioNet),
];

/// The supported entry for `vendor:device`, if any.
pub fn lookup(vendor: u16, device: u16) -> Option<&'static SupportedNic> {
    SUPPORTED_NICS
        .iter()
        .find(|n| n.vendor == vendor && n.device == device)
}

/// Like [`lookup`], but an unsupported id is an error that lists what is supported.
pub fn require_supported(
    addr: PciAddr,
    vendor: u16,
    device: u16,
) -> Result<&'static SupportedNic, DriverError> {
    lookup(vendor, device).ok_or(DriverError::UnsupportedDevice {
        addr: addr.to_string(),
        vendor,
        device,
    })
}

/// "8086:100e 82540EM (e1000), ..." for error messages and `--help`.
pub fn supported_summary() -> String {
    SUPPORTED_NICS
        .iter()
        .map(|n| format!("{:04x}:{:04x} {}", n.vendor, n.device, n.name))
        .collect::<Vec<_>>()
        .join(", ")
}
