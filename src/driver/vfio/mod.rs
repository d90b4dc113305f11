//! VFIO: containers (IOMMU address spaces), groups, devices, BAR mappings,
//! DMA mappings and interrupts.
//!
//! Ownership: a [`Device`] keeps its [`Container`] alive (an `Arc`), and the
//! container keeps every group it attached, so dropping the last device and
//! container unmaps all DMA, closes the groups and then the container.

pub mod container;
pub mod device;
pub mod group;
pub mod ioctl;
pub mod iova;
pub mod irq;
pub mod noiommu;
pub mod region;

pub use container::{Container, ContainerOptions, DmaMap};
pub use device::{CONFIG_REGION, Device, DeviceInfo, MappedBar, preflight};
pub use group::Group;
pub use iova::{IommuInfo, IovaAllocator, IovaRange};
pub use irq::{Interrupts, IrqInfo, IrqKind};
pub use region::{RegionInfo, SparseArea};
