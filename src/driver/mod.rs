//! Everything that touches a device: PCI/sysfs, VFIO, register access and
//! one module per NIC family.

pub mod bind;
pub mod config;
pub mod desc_ring;
pub mod e1000;
pub mod error;
pub mod fake_host;
pub mod host;
pub mod info;
pub mod ixgbe;
pub mod json;
pub mod model_port;
pub mod nic_port;
pub mod pci;
pub mod pci_addr;
pub mod pci_ids;
pub mod regs;
pub mod routes;
pub mod status;
pub mod vfio;

pub use error::DriverError;
pub use host::Host;
pub use pci_addr::PciAddr;
pub use regs::{Mmio, RegisterAccess};

// Extension points for the NIC drivers: `pci_ids::driver_for` selects the
// driver for a device (a new driver adds a `pci_ids::DriverKind` variant and
// its rows to `pci_ids::SUPPORTED_NICS`); drivers take `impl RegisterAccess`
// (a `vfio::MappedBar` on hardware, a software model in tests) and a
// `vfio::DmaMap` for memory; `info::DeviceReport::nic_state` is where
// `vfio-netmap info` shows link state, MAC address and counters once a
// driver can read them.
