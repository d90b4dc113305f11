//! VFIO ioctl request numbers (`_IO(';', 100 + n)`): vfio-bindings has the
//! structures but not these.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

const fn vfio_io(n: u64) -> u64 {
    (b';' as u64) << 8 | (100 + n)
}

/// `VFIO_GET_API_VERSION`: the container's VFIO API version.
pub const GET_API_VERSION: u64 = vfio_io(0);
/// `VFIO_CHECK_EXTENSION`: whether the container supports an extension
/// (an IOMMU type such as Type1 or no-IOMMU).
pub const CHECK_EXTENSION: u64 = vfio_io(1);
/// `VFIO_SET_IOMMU`: selects the container's IOMMU model, once a group is
/// attached.
pub const SET_IOMMU: u64 = vfio_io(2);
/// `VFIO_GROUP_GET_STATUS`: whether the group is viable and attached to a
/// container.
pub const GROUP_GET_STATUS: u64 = vfio_io(3);
/// `VFIO_GROUP_SET_CONTAINER`: attaches the group to a container fd.
pub const GROUP_SET_CONTAINER: u64 = vfio_io(4);
/// `VFIO_GROUP_UNSET_CONTAINER`: detaches the group from its container.
pub const GROUP_UNSET_CONTAINER: u64 = vfio_io(5);
/// `VFIO_GROUP_GET_DEVICE_FD`: opens a device of the group by name (its
/// PCI address) and returns its fd.
pub const GROUP_GET_DEVICE_FD: u64 = vfio_io(6);
/// `VFIO_DEVICE_GET_INFO`: the device's flags and numbers of regions and
/// interrupt indices.
pub const DEVICE_GET_INFO: u64 = vfio_io(7);
/// `VFIO_DEVICE_GET_REGION_INFO`: a region's offset in the device fd, size,
/// flags and capabilities (such as sparse mmap areas).
pub const DEVICE_GET_REGION_INFO: u64 = vfio_io(8);
/// `VFIO_DEVICE_GET_IRQ_INFO`: the vector count and flags of an interrupt
/// index (INTx, MSI, MSI-X).
pub const DEVICE_GET_IRQ_INFO: u64 = vfio_io(9);
/// `VFIO_DEVICE_SET_IRQS`: sets eventfd signalling, masking or triggering
/// for vectors of an interrupt index.
pub const DEVICE_SET_IRQS: u64 = vfio_io(10);
/// `VFIO_DEVICE_RESET`: resets the device.
pub const DEVICE_RESET: u64 = vfio_io(11);
/// `VFIO_IOMMU_GET_INFO`: the Type1 IOMMU's page sizes and capabilities
/// (such as the usable IOVA ranges).
pub const IOMMU_GET_INFO: u64 = vfio_io(12);
/// `VFIO_IOMMU_MAP_DMA`: maps a range of our memory at an IOVA for device
/// DMA.
pub const IOMMU_MAP_DMA: u64 = vfio_io(13);
/// `VFIO_IOMMU_UNMAP_DMA`: removes a DMA mapping.
pub const IOMMU_UNMAP_DMA: u64 = vfio_io(14);

const _: () = assert!(
    GET_API_VERSION == 0x3b64 && IOMMU_UNMAP_DMA == 0x3b72 && GROUP_GET_DEVICE_FD == 0x3b6a
);

/// An ioctl whose argument is an integer (or none).
pub fn ioctl_value(
    fd: BorrowedFd<'_>,
    request: u64,
    value: libc::c_ulong,
) -> io::Result<libc::c_int> {
    // SAFETY: the requests used with this helper take an integer argument (or
    // ignore it), so the kernel reads no memory through it.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, value) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An ioctl whose argument points at `arg`.
///
/// # Safety
/// `arg` must point to memory laid out as `request` expects, valid for reads
/// and writes of the size the kernel will access (its `argsz` field, where
/// there is one).
pub unsafe fn ioctl_ptr<T>(
    fd: BorrowedFd<'_>,
    request: u64,
    arg: *mut T,
) -> io::Result<libc::c_int> {
    // SAFETY: forwarded to the caller.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// For the `argsz` ioctls whose reply can carry a capability chain: calls
/// `request` with `header` (a struct whose first u32 is `argsz`), and if the
/// kernel reports a larger `argsz` calls again with that much room. Returns
/// the whole reply, capabilities included.
pub fn ioctl_with_caps(fd: BorrowedFd<'_>, request: u64, header: &[u8]) -> io::Result<Vec<u8>> {
    let mut bytes = header.to_vec();
    for _ in 0..3 {
        let argsz = bytes.len() as u32;
        bytes[..4].copy_from_slice(&argsz.to_ne_bytes());
        // u64 words keep the buffer aligned for the structs' u64 fields.
        let mut words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_ne_bytes(w)
            })
            .collect();
        // SAFETY: words holds at least argsz bytes, 8-aligned, starting with
        // the struct `request` expects, whose argsz tells the kernel how much
        // it may write.
        unsafe { ioctl_ptr(fd, request, words.as_mut_ptr()) }?;
        let reply: Vec<u8> = words
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .take(bytes.len())
            .collect();
        let reported = u32::from_ne_bytes(reply[..4].try_into().expect("argsz"));
        if reported as usize <= reply.len() {
            return Ok(reply);
        }
        bytes = reply;
        bytes.resize(reported as usize, 0);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "the kernel kept asking for a larger argsz",
    ))
}
