//! A VFIO group (`/dev/vfio/N`): the unit of IOMMU isolation. All devices of
//! a group must be on vfio-pci (or harmless drivers) before it can be used.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use vfio_bindings::bindings::vfio as sys;

use super::container::open_rw;
use super::ioctl::{self, ioctl_ptr};
use crate::driver::error::DriverError;
use crate::driver::host::Host;
use crate::driver::pci;

/// An open VFIO group (`/dev/vfio/N`), attached to a container.
#[derive(Debug)]
pub struct Group {
    number: u32,
    path: PathBuf,
    fd: OwnedFd,
}

impl Group {
    /// Opens the group, checks it is viable and attaches it to the container.
    pub(super) fn open(
        host: &Host,
        number: u32,
        noiommu: bool,
        container: BorrowedFd<'_>,
    ) -> Result<Group, DriverError> {
        let path = host.vfio_group_path(number, noiommu);
        let fd = open_rw(
            &path,
            DriverError::GroupMissing {
                path: path.clone(),
                group: number,
            },
        )?;
        let group = Group { number, path, fd };
        let mut status = sys::vfio_group_status {
            argsz: std::mem::size_of::<sys::vfio_group_status>() as u32,
            flags: 0,
        };
        // SAFETY: status is a complete vfio_group_status.
        unsafe { ioctl_ptr(group.fd.as_fd(), ioctl::GROUP_GET_STATUS, &mut status) }
            .map_err(|e| group.ioctl_error("VFIO_GROUP_GET_STATUS", e))?;
        if status.flags & sys::VFIO_GROUP_FLAGS_VIABLE == 0 {
            let blockers = pci::iommu_group(host, number)
                .map(|g| g.blockers())
                .unwrap_or_default();
            return Err(DriverError::GroupNotViable {
                group: number,
                blockers,
            });
        }
        let mut container_fd = container.as_raw_fd();
        // SAFETY: the ioctl reads one int (the container fd) through the pointer.
        unsafe {
            ioctl_ptr(
                group.fd.as_fd(),
                ioctl::GROUP_SET_CONTAINER,
                &mut container_fd,
            )
        }
        .map_err(|e| group.ioctl_error("VFIO_GROUP_SET_CONTAINER", e))?;
        Ok(group)
    }

    /// The IOMMU group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    fn ioctl_error(&self, op: &'static str, source: std::io::Error) -> DriverError {
        DriverError::Ioctl {
            op,
            target: self.path.display().to_string(),
            source,
        }
    }

    /// A device fd for the PCI address `addr` ("DDDD:BB:DD.F").
    pub(super) fn device_fd(&self, addr: &str) -> Result<OwnedFd, DriverError> {
        let name = std::ffi::CString::new(addr).expect("PCI addresses contain no NUL");
        // SAFETY: the ioctl reads a NUL-terminated string and returns a new fd.
        let fd = unsafe {
            ioctl_ptr(
                self.fd.as_fd(),
                ioctl::GROUP_GET_DEVICE_FD,
                name.as_ptr().cast_mut(),
            )
        }
        .map_err(|e| self.ioctl_error("VFIO_GROUP_GET_DEVICE_FD", e))?;
        // SAFETY: on success the kernel returned a fresh fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}
