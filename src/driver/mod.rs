//! Everything that touches a device: PCI/sysfs, VFIO, register access and
//! one folder per NIC family. Drivers implement the API layer's
//! [`Backend`](crate::api::Backend); nothing here knows port names.

pub mod attach;
pub mod bind;
pub mod config;
pub mod desc_queue;
pub mod desc_ring;
pub mod e1000;
pub mod error;
#[cfg(feature = "models")]
pub mod fake_host;
pub mod host;
pub mod info;
pub mod ixgbe;
pub mod json;
pub mod link;
pub mod pci;
pub mod pci_addr;
pub mod pci_ids;
pub mod regs;
pub mod routes;
pub mod status;
pub mod vfio;

pub use attach::{NicOptions, OpenedNic};
pub use error::DriverError;
pub use host::Host;
pub use pci_addr::PciAddr;
pub use regs::{Mmio, RegisterAccess};
