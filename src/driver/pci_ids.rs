//! The one table of NICs vfio-netmap drives, by PCI vendor:device id: each
//! row names the driver that opens the device (with the chip value that
//! driver needs) and the device's human name. `status`, `info`, the error
//! messages and the device-opening code all read it, and the drivers'
//! own id lookups ([`e1000::Model::from_device_id`],
//! [`ixgbe::Chip::from_device_id`]) are derived from it, so they cannot
//! disagree.
//!
//! A device is in [`SUPPORTED_NICS`] only if a driver opens it. NICs that
//! users meet (QEMU's `igb` and `virtio-net-pci`) but that have no driver
//! yet are in [`KNOWN_WITHOUT_DRIVER`], so `status` can say so instead of
//! "not supported" alone.

use super::e1000::{self, Model};
use super::error::DriverError;
use super::ixgbe::{self, Chip, MacType};
use super::pci_addr::PciAddr;

/// Intel's PCI vendor id.
pub const INTEL: u16 = 0x8086;
/// Red Hat's (Qumranet's) PCI vendor id, used by virtio devices.
pub const REDHAT_VIRTIO: u16 = 0x1af4;

/// The driver that opens a supported device, with what it needs to know
/// about the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    /// The e1000 driver (`driver::e1000`): 8254x and 82574L, legacy descriptors.
    E1000(e1000::Model),
    /// The ixgbe driver (`driver::ixgbe`): 82599, X540, X550, X552, X553.
    Ixgbe(ixgbe::Chip),
}

impl DriverKind {
    /// The driver's name as vfio-netmap's modules and messages call it:
    /// `"e1000"` or `"ixgbe"`.
    pub fn driver_name(self) -> &'static str {
        match self {
            DriverKind::E1000(_) => "e1000",
            DriverKind::Ixgbe(_) => "ixgbe",
        }
    }
}

/// One row of the driver table: a device id, its human name and the driver
/// that opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedNic {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Human name, with the driver family in parentheses ("82540EM (e1000)").
    pub name: &'static str,
    /// The driver that opens the device.
    pub driver: DriverKind,
}

/// An e1000-driver row; the name is the model's own.
const fn e1000(device: u16, model: Model) -> SupportedNic {
    SupportedNic {
        vendor: INTEL,
        device,
        name: model.name(),
        driver: DriverKind::E1000(model),
    }
}

/// An ixgbe-driver row; the chip carries the same device id as the row.
const fn ixgbe(device: u16, mac: MacType, name: &'static str) -> SupportedNic {
    SupportedNic {
        vendor: INTEL,
        device,
        name,
        driver: DriverKind::Ixgbe(Chip {
            mac,
            device_id: device,
        }),
    }
}

/// Every device a vfio-netmap driver opens. Device ids and MAC types follow
/// Linux's `e1000_hw.h`, `e1000e/hw.h` and `ixgbe_type.h`; the ixgbe names
/// follow the `IXGBE_DEV_ID_*` names.
pub const SUPPORTED_NICS: &[SupportedNic] = &[
    e1000(0x100e, Model::I82540Em),
    e1000(0x100f, Model::I82545Em),
    e1000(0x10d3, Model::I82574L),
    // 82599
    ixgbe(0x10f7, MacType::I82599, "82599 KX4 (ixgbe)"),
    ixgbe(0x1514, MacType::I82599, "82599 KX4 mezzanine (ixgbe)"),
    ixgbe(0x1517, MacType::I82599, "82599 KR (ixgbe)"),
    ixgbe(0x151c, MacType::I82599, "82599 10GBASE-T LOM (ixgbe)"),
    ixgbe(0x10f9, MacType::I82599, "82599 CX4 (ixgbe)"),
    ixgbe(0x10fb, MacType::I82599, "82599ES SFP+ (ixgbe)"),
    ixgbe(0x152a, MacType::I82599, "82599 backplane FCoE (ixgbe)"),
    ixgbe(0x1529, MacType::I82599, "82599 SFP+ FCoE (ixgbe)"),
    ixgbe(0x1507, MacType::I82599, "82599 SFP+ EM (ixgbe)"),
    ixgbe(0x154d, MacType::I82599, "82599 SFP+ SF2 (ixgbe)"),
    ixgbe(0x1557, MacType::I82599, "82599EN SFP+ (ixgbe)"),
    ixgbe(0x10fc, MacType::I82599, "82599 XAUI LOM (ixgbe)"),
    ixgbe(0x10f8, MacType::I82599, "82599 combined backplane (ixgbe)"),
    ixgbe(0x154f, MacType::I82599, "82599 LS (ixgbe)"),
    ixgbe(0x154a, MacType::I82599, "82599 4-port SFP+ SF-QP (ixgbe)"),
    ixgbe(0x1558, MacType::I82599, "82599 QSFP+ SF-QP (ixgbe)"),
    // X540
    ixgbe(0x1528, MacType::X540, "X540-AT2 (ixgbe)"),
    ixgbe(0x1560, MacType::X540, "X540-AT1 (ixgbe)"),
    // X550
    ixgbe(0x1563, MacType::X550, "X550-T (ixgbe)"),
    ixgbe(0x15d1, MacType::X550, "X550-T1 (ixgbe)"),
    // X550EM_x: the X552 of the Xeon D-1500
    ixgbe(0x15aa, MacType::X550EmX, "X552 KX4 (ixgbe)"),
    ixgbe(0x15ab, MacType::X550EmX, "X552 KR (ixgbe)"),
    ixgbe(0x15ac, MacType::X550EmX, "X552 SFP+ (ixgbe)"),
    ixgbe(0x15ad, MacType::X550EmX, "X552/X557-AT 10GBASE-T (ixgbe)"),
    ixgbe(0x15ae, MacType::X550EmX, "X552 1000BASE-T (ixgbe)"),
    // X550EM_a: the X553 of the Atom C3000
    ixgbe(0x15c2, MacType::X550EmA, "X553 KR (ixgbe)"),
    ixgbe(0x15c3, MacType::X550EmA, "X553 KR_L (ixgbe)"),
    ixgbe(0x15c4, MacType::X550EmA, "X553 SFP+ N (ixgbe)"),
    ixgbe(0x15c6, MacType::X550EmA, "X553 SGMII (ixgbe)"),
    ixgbe(0x15c7, MacType::X550EmA, "X553 SGMII_L (ixgbe)"),
    ixgbe(0x15ce, MacType::X550EmA, "X553 SFP+ (ixgbe)"),
];

/// A NIC vfio-netmap recognises but has no driver for yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownNic {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// Human name, with the Linux driver in parentheses ("82576 (igb)").
    pub name: &'static str,
}

const fn known(vendor: u16, device: u16, name: &'static str) -> KnownNic {
    KnownNic {
        vendor,
        device,
        name,
    }
}

/// NICs QEMU offers that users will try, which no vfio-netmap driver opens
/// yet. Never overlaps [`SUPPORTED_NICS`] (a unit test checks).
pub const KNOWN_WITHOUT_DRIVER: &[KnownNic] = &[
    known(INTEL, 0x10c9, "82576 (igb)"),
    known(REDHAT_VIRTIO, 0x1000, "virtio-net (legacy)"),
    known(REDHAT_VIRTIO, 0x1041, "virtio-net (modern)"),
];

/// The driver-table row for `vendor:device`: which driver opens the device
/// and its name. `None` when no vfio-netmap driver opens it.
pub fn driver_for(vendor: u16, device: u16) -> Option<&'static SupportedNic> {
    SUPPORTED_NICS
        .iter()
        .find(|n| n.vendor == vendor && n.device == device)
}

/// Like [`driver_for`], but a device without a driver is an error that
/// says so and lists what is supported.
pub fn require_supported(
    addr: PciAddr,
    vendor: u16,
    device: u16,
) -> Result<&'static SupportedNic, DriverError> {
    driver_for(vendor, device).ok_or(DriverError::UnsupportedDevice {
        addr: addr.to_string(),
        vendor,
        device,
    })
}

/// The [`KNOWN_WITHOUT_DRIVER`] entry for `vendor:device`, if any.
pub fn known_without_driver(vendor: u16, device: u16) -> Option<&'static KnownNic> {
    KNOWN_WITHOUT_DRIVER
        .iter()
        .find(|n| n.vendor == vendor && n.device == device)
}

/// What vfio-netmap can do with a device, as `status` and `info` show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// A driver opens it (the table row).
    Driver(&'static SupportedNic),
    /// A NIC vfio-netmap knows by name but has no driver for yet.
    NoDriverYet(&'static KnownNic),
    /// Not a NIC vfio-netmap knows.
    Unknown,
}

impl Support {
    /// Looks `vendor:device` up in the driver table, then in the list of
    /// NICs known without a driver.
    pub fn of(vendor: u16, device: u16) -> Support {
        if let Some(nic) = driver_for(vendor, device) {
            Support::Driver(nic)
        } else if let Some(nic) = known_without_driver(vendor, device) {
            Support::NoDriverYet(nic)
        } else {
            Support::Unknown
        }
    }

    /// Whether a vfio-netmap driver opens the device.
    pub fn is_supported(self) -> bool {
        matches!(self, Support::Driver(_))
    }

    /// The device's human name, whether or not a driver opens it.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Support::Driver(nic) => Some(nic.name),
            Support::NoDriverYet(nic) => Some(nic.name),
            Support::Unknown => None,
        }
    }

    /// The driver that opens the device, if one does.
    pub fn driver(self) -> Option<DriverKind> {
        match self {
            Support::Driver(nic) => Some(nic.driver),
            _ => None,
        }
    }
}

/// "8086:100e 82540EM (e1000), ..." for error messages and `--help`.
pub fn supported_summary() -> String {
    SUPPORTED_NICS
        .iter()
        .map(|n| format!("{:04x}:{:04x} {}", n.vendor, n.device, n.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every vendor that has a row in either table, so the sweeps below
    /// cover every id a driver could accept.
    fn vendors() -> BTreeSet<u16> {
        let mut v: BTreeSet<u16> = SUPPORTED_NICS.iter().map(|n| n.vendor).collect();
        v.extend(KNOWN_WITHOUT_DRIVER.iter().map(|n| n.vendor));
        v.insert(0x10ec); // a vendor with no rows at all (Realtek)
        v
    }

    /// Direction 1: every id a driver accepts is a table row naming that
    /// driver, with the chip value the driver returns.
    #[test]
    fn every_id_a_driver_accepts_is_in_the_table_with_that_driver() {
        for vendor in vendors() {
            for device in 0..=u16::MAX {
                let row = driver_for(vendor, device).map(|n| n.driver);
                if let Some(chip) = Chip::from_device_id(vendor, device) {
                    assert_eq!(
                        row,
                        Some(DriverKind::Ixgbe(chip)),
                        "{vendor:04x}:{device:04x}"
                    );
                }
                if let Some(model) = Model::from_device_id(vendor, device) {
                    assert_eq!(
                        row,
                        Some(DriverKind::E1000(model)),
                        "{vendor:04x}:{device:04x}"
                    );
                }
            }
        }
    }

    /// Direction 2: every table row is opened by the driver it names, and
    /// that driver sees the same chip.
    #[test]
    fn every_table_row_opens_with_its_driver() {
        for nic in SUPPORTED_NICS {
            let id = format!("{:04x}:{:04x}", nic.vendor, nic.device);
            match nic.driver {
                DriverKind::Ixgbe(chip) => {
                    assert_eq!(chip.device_id, nic.device, "{id}");
                    assert_eq!(
                        Chip::from_device_id(nic.vendor, nic.device),
                        Some(chip),
                        "{id}"
                    );
                    assert_eq!(Model::from_device_id(nic.vendor, nic.device), None, "{id}");
                    assert!(nic.name.ends_with("(ixgbe)"), "{id}: {}", nic.name);
                }
                DriverKind::E1000(model) => {
                    assert_eq!(
                        Model::from_device_id(nic.vendor, nic.device),
                        Some(model),
                        "{id}"
                    );
                    assert_eq!(Chip::from_device_id(nic.vendor, nic.device), None, "{id}");
                    assert_eq!(nic.name, model.name(), "{id}");
                }
            }
        }
    }

    #[test]
    fn ids_are_unique_and_known_without_driver_is_disjoint() {
        let mut seen = BTreeSet::new();
        for (vendor, device) in SUPPORTED_NICS
            .iter()
            .map(|n| (n.vendor, n.device))
            .chain(KNOWN_WITHOUT_DRIVER.iter().map(|n| (n.vendor, n.device)))
        {
            assert!(
                seen.insert((vendor, device)),
                "{vendor:04x}:{device:04x} twice"
            );
        }
    }

    /// The ids the drivers open, pinned: dropping a row (or a driver
    /// dropping an id) must be a decision, not an accident. MAC types as
    /// in Linux `ixgbe_type.h` / `ixgbe_main.c`.
    #[test]
    fn the_table_holds_exactly_the_drivers_ids() {
        let e1000 = [
            (0x100e, Model::I82540Em),
            (0x100f, Model::I82545Em),
            (0x10d3, Model::I82574L),
        ];
        let ixgbe: &[(MacType, &[u16])] = &[
            (
                MacType::I82599,
                &[
                    0x10f7, 0x1514, 0x1517, 0x151c, 0x10f9, 0x10fb, 0x152a, 0x1529, 0x1507, 0x154d,
                    0x1557, 0x10fc, 0x10f8, 0x154f, 0x154a, 0x1558,
                ],
            ),
            (MacType::X540, &[0x1528, 0x1560]),
            (MacType::X550, &[0x1563, 0x15d1]),
            (MacType::X550EmX, &[0x15aa, 0x15ab, 0x15ac, 0x15ad, 0x15ae]),
            (
                MacType::X550EmA,
                &[0x15c2, 0x15c3, 0x15c4, 0x15c6, 0x15c7, 0x15ce],
            ),
        ];
        let mut expected = BTreeSet::new();
        for (device, model) in e1000 {
            expected.insert((device, DriverKind::E1000(model).driver_name()));
            assert_eq!(
                driver_for(INTEL, device).map(|n| n.driver),
                Some(DriverKind::E1000(model)),
                "{device:04x}"
            );
        }
        for &(mac, ids) in ixgbe {
            for &device in ids {
                expected.insert((device, "ixgbe"));
                let chip = Chip {
                    mac,
                    device_id: device,
                };
                assert_eq!(
                    driver_for(INTEL, device).map(|n| n.driver),
                    Some(DriverKind::Ixgbe(chip)),
                    "{device:04x}"
                );
            }
        }
        let table: BTreeSet<(u16, &str)> = SUPPORTED_NICS
            .iter()
            .map(|n| (n.device, n.driver.driver_name()))
            .collect();
        assert_eq!(table, expected);
        assert!(SUPPORTED_NICS.iter().all(|n| n.vendor == INTEL));
    }

    #[test]
    fn igb_and_virtio_are_known_but_not_supported() {
        for (vendor, device, name) in [
            (INTEL, 0x10c9, "82576 (igb)"),
            (REDHAT_VIRTIO, 0x1000, "virtio-net (legacy)"),
            (REDHAT_VIRTIO, 0x1041, "virtio-net (modern)"),
        ] {
            assert_eq!(driver_for(vendor, device), None);
            let support = Support::of(vendor, device);
            assert!(!support.is_supported(), "{name}");
            assert_eq!(support.name(), Some(name));
            assert_eq!(support.driver(), None);
        }
        let e1000 = Support::of(INTEL, 0x100e);
        assert!(e1000.is_supported());
        assert_eq!(e1000.driver(), Some(DriverKind::E1000(Model::I82540Em)));
        assert_eq!(Support::of(0x10ec, 0x8139), Support::Unknown);
        assert_eq!(Support::Unknown.name(), None);
    }
}
