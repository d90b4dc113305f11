//! Device interrupts delivered through eventfds (VFIO_DEVICE_SET_IRQS).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use vfio_bindings::bindings::vfio as sys;

use super::ioctl::{self, ioctl_ptr};
use crate::driver::error::DriverError;

/// The interrupt mechanisms of a PCI device, by VFIO irq index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqKind {
    /// The legacy, level-triggered interrupt line (one vector).
    Intx,
    /// Message-signalled interrupts.
    Msi,
    /// MSI-X: message-signalled interrupts with a per-vector table.
    Msix,
}

impl IrqKind {
    /// The VFIO irq index of this mechanism.
    pub fn index(self) -> u32 {
        match self {
            IrqKind::Intx => sys::VFIO_PCI_INTX_IRQ_INDEX,
            IrqKind::Msi => sys::VFIO_PCI_MSI_IRQ_INDEX,
            IrqKind::Msix => sys::VFIO_PCI_MSIX_IRQ_INDEX,
        }
    }

    /// The usual name of the mechanism, for messages.
    pub fn name(self) -> &'static str {
        match self {
            IrqKind::Intx => "INTx",
            IrqKind::Msi => "MSI",
            IrqKind::Msix => "MSI-X",
        }
    }
}

/// What VFIO_DEVICE_GET_IRQ_INFO says about one irq index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqInfo {
    /// The VFIO irq index (see [`IrqKind::index`]).
    pub index: u32,
    /// `VFIO_IRQ_INFO_*` bits.
    pub flags: u32,
    /// Number of vectors the index offers (0: not supported).
    pub count: u32,
}

impl IrqInfo {
    /// Whether the vectors can be masked and unmasked through
    /// `VFIO_DEVICE_SET_IRQS`.
    pub fn maskable(&self) -> bool {
        self.flags & sys::VFIO_IRQ_INFO_MASKABLE != 0
    }
    /// Whether the kernel masks the interrupt each time it fires (INTx),
    /// so it must be unmasked before it can fire again.
    pub fn automasked(&self) -> bool {
        self.flags & sys::VFIO_IRQ_INFO_AUTOMASKED != 0
    }
}

/// Calls VFIO_DEVICE_SET_IRQS with `fds` as eventfd data (an empty list with
/// DATA_NONE disables the index).
fn set_irqs(
    device: BorrowedFd<'_>,
    index: u32,
    flags: u32,
    start: u32,
    fds: &[i32],
    count: u32,
) -> io::Result<()> {
    let header_words = std::mem::size_of::<sys::vfio_irq_set>() / 4;
    let mut words = vec![0u32; header_words + fds.len()];
    words[0] = (words.len() * 4) as u32;
    words[1] = flags;
    words[2] = index;
    words[3] = start;
    words[4] = count;
    for (slot, fd) in words[header_words..].iter_mut().zip(fds) {
        *slot = *fd as u32;
    }
    // SAFETY: words is a vfio_irq_set header followed by `fds.len()` s32
    // eventfds, argsz covering exactly that; all u32-aligned.
    unsafe { ioctl_ptr(device, ioctl::DEVICE_SET_IRQS, words.as_mut_ptr()) }.map(drop)
}

/// Enabled interrupt vectors, one eventfd each; disabled again on drop.
#[derive(Debug)]
pub struct Interrupts {
    device: Arc<File>,
    addr: String,
    kind: IrqKind,
    eventfds: Vec<File>,
}

fn new_eventfd() -> io::Result<File> {
    // SAFETY: eventfd has no memory arguments.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

impl Interrupts {
    pub(super) fn enable(
        device: Arc<File>,
        addr: &str,
        kind: IrqKind,
        info: IrqInfo,
        count: u32,
    ) -> Result<Interrupts, DriverError> {
        let max = if kind == IrqKind::Intx {
            info.count.min(1)
        } else {
            info.count
        };
        if count == 0 || count > max {
            return Err(DriverError::IrqUnavailable {
                addr: addr.to_string(),
                kind: kind.name(),
                requested: count,
                available: max,
            });
        }
        let ioctl_error = |op, source| DriverError::Ioctl {
            op,
            target: format!("{addr} {}", kind.name()),
            source,
        };
        let eventfds = (0..count)
            .map(|_| new_eventfd())
            .collect::<io::Result<Vec<File>>>()
            .map_err(|e| ioctl_error("eventfd", e))?;
        let raw: Vec<i32> = eventfds.iter().map(|f| f.as_raw_fd()).collect();
        set_irqs(
            device.as_fd(),
            kind.index(),
            sys::VFIO_IRQ_SET_DATA_EVENTFD | sys::VFIO_IRQ_SET_ACTION_TRIGGER,
            0,
            &raw,
            count,
        )
        .map_err(|e| ioctl_error("VFIO_DEVICE_SET_IRQS", e))?;
        Ok(Interrupts {
            device,
            addr: addr.to_string(),
            kind,
            eventfds,
        })
    }

    /// Which mechanism is enabled.
    pub fn kind(&self) -> IrqKind {
        self.kind
    }

    /// Number of enabled vectors, each with its own eventfd.
    pub fn count(&self) -> usize {
        self.eventfds.len()
    }

    /// The eventfd of `vector`, to poll/epoll alongside other fds.
    pub fn eventfd(&self, vector: usize) -> BorrowedFd<'_> {
        self.eventfds[vector].as_fd()
    }

    /// Waits up to `timeout` (forever if `None`) for `vector` and returns how
    /// many interrupts arrived since the last call (0 on timeout).
    pub fn wait(&self, vector: usize, timeout: Option<Duration>) -> io::Result<u64> {
        let mut pollfd = libc::pollfd {
            fd: self.eventfds[vector].as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
        if ready < 0 {
            return Err(io::Error::last_os_error());
        }
        self.take(vector)
    }

    /// Reads and resets `vector`'s counter without blocking.
    pub fn take(&self, vector: usize) -> io::Result<u64> {
        let mut count = [0u8; 8];
        match (&self.eventfds[vector]).read(&mut count) {
            Ok(_) => Ok(u64::from_ne_bytes(count)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Before sleeping on `vector`: forgets the interrupts already counted,
    /// so its eventfd wakes the sleeper only for new ones, and returns that
    /// fd; `None` if there is no such vector.
    pub fn prepare_wait(&self, vector: usize) -> Option<std::os::fd::RawFd> {
        let fd = self.eventfds.get(vector)?.as_raw_fd();
        let _ = self.take(vector);
        Some(fd)
    }

    /// After waking, once the device's interrupt cause is cleared: INTx
    /// stays masked by the kernel after it fired until it is unmasked.
    pub fn after_wake(&self) {
        if self.kind == IrqKind::Intx {
            let _ = self.unmask_intx();
        }
    }

    /// INTx is masked by the kernel when it fires; unmask it once the device's
    /// interrupt cause is cleared.
    pub fn unmask_intx(&self) -> Result<(), DriverError> {
        set_irqs(
            self.device.as_fd(),
            IrqKind::Intx.index(),
            sys::VFIO_IRQ_SET_DATA_NONE | sys::VFIO_IRQ_SET_ACTION_UNMASK,
            0,
            &[],
            1,
        )
        .map_err(|source| DriverError::Ioctl {
            op: "VFIO_DEVICE_SET_IRQS (unmask)",
            target: self.addr.clone(),
            source,
        })
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        let flags = sys::VFIO_IRQ_SET_DATA_NONE | sys::VFIO_IRQ_SET_ACTION_TRIGGER;
        if let Err(e) = set_irqs(self.device.as_fd(), self.kind.index(), flags, 0, &[], 0) {
            log::warn!(
                "{}: disabling {} interrupts failed: {e}",
                self.addr,
                self.kind.name()
            );
        }
    }
}
