//! Everything that touches a device: PCI/sysfs, VFIO, register access and
//! one module per NIC family.

pub mod pci_addr;

pub use pci_addr::PciAddr;
