//! Everything that touches a device: PCI/sysfs, VFIO, register access and
//! one module per NIC family.

pub mod desc_ring;
pub mod e1000;
pub mod ixgbe;
pub mod pci_addr;
pub mod regs;

pub use pci_addr::PciAddr;
