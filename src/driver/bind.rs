//! Moving devices between their kernel driver and vfio-pci through sysfs,
//! the way dpdk-devbind does, with the checks it lacks.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::error::{Blocker, DriverError};
use super::host::Host;
use super::pci::{self, PciDevice, VFIO_PCI};
use super::pci_addr::PciAddr;

/// Who should own `/dev/vfio/N` after binding, so an unprivileged user can
/// open the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// The user to give the node to; `None` leaves the owner as it is.
    pub uid: Option<u32>,
    /// The group to give the node to; `None` leaves the group as it is.
    pub gid: Option<u32>,
}

/// How `bind` should go about it.
#[derive(Clone, Debug, Default)]
pub struct BindOptions {
    /// Bind even when the device's interface carries routes.
    pub force: bool,
    /// Who should own each `/dev/vfio/N` afterwards; the default changes nothing.
    pub owner: Owner,
}

/// What `bind` did to one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindOutcome {
    /// The device.
    pub addr: PciAddr,
    /// The driver it had before; `None` if it had none or was already on vfio-pci.
    pub previous_driver: Option<String>,
    /// Whether it was already on vfio-pci, so only its node's owner may have changed.
    pub already_bound: bool,
    /// Its IOMMU group number.
    pub group: u32,
}

/// What `unbind` did to one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnbindOutcome {
    /// The device.
    pub addr: PciAddr,
    /// `false` when the device was not on vfio-pci and was left alone.
    pub was_on_vfio: bool,
    /// The driver it is on now (`None` if the kernel found none).
    pub driver_now: Option<String>,
}

/// Refuses, with the typed error, when the effective uid is not 0.
pub fn require_root(action: &str, euid: u32) -> Result<(), DriverError> {
    if euid == 0 {
        Ok(())
    } else {
        Err(DriverError::NotRoot {
            action: action.to_string(),
        })
    }
}

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn write_sysfs(path: &Path, value: &str, action: &str) -> Result<(), DriverError> {
    fs::write(path, value).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => DriverError::NotRoot {
            action: action.to_string(),
        },
        _ => DriverError::io(
            "writing",
            path,
            e,
            "check `dmesg | tail`: the kernel rejected the write",
        ),
    })
}

/// Makes sure vfio-pci is registered as a PCI driver, loading it if allowed.
fn ensure_vfio_pci_loaded(host: &Host) -> Result<(), DriverError> {
    let dir = host.pci_driver_dir(VFIO_PCI);
    if dir.exists() {
        return Ok(());
    }
    if !host.allow_modprobe {
        return Err(DriverError::VfioPciNotLoaded {
            detail: format!("{} is missing", dir.display()),
        });
    }
    log::info!("vfio-pci is not loaded; running `modprobe vfio-pci`");
    let detail = match Command::new("modprobe").arg(VFIO_PCI).status() {
        Ok(status) if status.success() && dir.exists() => return Ok(()),
        Ok(status) => format!("`modprobe vfio-pci` exited with {status}"),
        Err(e) => format!("could not run modprobe: {e}"),
    };
    Err(DriverError::VfioPciNotLoaded { detail })
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        sleep(Duration::from_millis(10));
    }
}

/// Checks one device before anything is written: exists, has an IOMMU group
/// whose other members are all harmless or being bound in the same call, and
/// (unless forced) carries no routes.
fn check_bindable(dev: &PciDevice, batch: &[PciAddr], force: bool) -> Result<u32, DriverError> {
    let addr = dev.addr.to_string();
    if dev.active && !force {
        let iface = dev.interfaces.first().cloned().unwrap_or_default();
        return Err(DriverError::InterfaceActive { addr, iface });
    }
    let Some(group) = &dev.iommu_group else {
        return Err(DriverError::NoIommuGroup { addr });
    };
    let in_batch = |a: &str| batch.iter().any(|b| b.to_string() == a);
    let blockers: Vec<Blocker> = group
        .blockers()
        .into_iter()
        .filter(|b| b.addr != addr && !in_batch(&b.addr))
        .collect();
    if !blockers.is_empty() {
        return Err(DriverError::GroupShared {
            addr,
            group: group.number,
            blockers,
        });
    }
    Ok(group.number)
}

fn chown_group_node(host: &Host, group: u32, owner: Owner) -> Result<(), DriverError> {
    if owner == Owner::default() {
        return Ok(());
    }
    let node = host.vfio_group_path(group, false);
    // udev/devtmpfs creates the node shortly after vfio-pci binds.
    wait_for(host.settle_timeout, || node.exists());
    std::os::unix::fs::chown(&node, owner.uid, owner.gid).map_err(|e| {
        DriverError::io(
            "changing the owner of",
            &node,
            e,
            "run as root; the node appears once vfio-pci owns the device",
        )
    })
}

/// Binds every address to vfio-pci. All devices are checked before any is
/// touched, so a refusal leaves the system unchanged.
pub fn bind(
    host: &Host,
    addrs: &[PciAddr],
    opts: &BindOptions,
) -> Result<Vec<BindOutcome>, DriverError> {
    let devices: Vec<PciDevice> = addrs
        .iter()
        .map(|&a| pci::device(host, a))
        .collect::<Result<_, _>>()?;
    let groups: Vec<u32> = devices
        .iter()
        .map(|d| check_bindable(d, addrs, opts.force))
        .collect::<Result<_, _>>()?;
    ensure_vfio_pci_loaded(host)?;
    let mut outcomes = Vec::new();
    for (dev, group) in devices.iter().zip(groups) {
        let addr = dev.addr.to_string();
        if dev.on_vfio() {
            chown_group_node(host, group, opts.owner)?;
            outcomes.push(BindOutcome {
                addr: dev.addr,
                previous_driver: None,
                already_bound: true,
                group,
            });
            continue;
        }
        if let Some(driver) = &dev.driver {
            fs::create_dir_all(&host.state_dir).map_err(|e| {
                DriverError::io(
                    "creating",
                    &host.state_dir,
                    e,
                    "run as root (the state lives under /run)",
                )
            })?;
            write_sysfs(
                &host.prev_driver_file(&addr),
                &format!("{driver}\n"),
                "bind",
            )?;
        }
        let dir = host.pci_device_dir(&addr);
        write_sysfs(&dir.join("driver_override"), VFIO_PCI, "bind")?;
        if let Some(driver) = &dev.driver {
            log::info!("{addr}: unbinding from {driver}");
            write_sysfs(&host.pci_driver_dir(driver).join("unbind"), &addr, "bind")?;
        }
        write_sysfs(&host.sys.join("bus/pci/drivers_probe"), &addr, "bind")?;
        if !wait_for(host.settle_timeout, || {
            pci::current_driver(host, &addr).as_deref() == Some(VFIO_PCI)
        }) {
            let driver = pci::current_driver(host, &addr);
            return Err(DriverError::BindDidNotTake { addr, driver });
        }
        chown_group_node(host, group, opts.owner)?;
        outcomes.push(BindOutcome {
            addr: dev.addr,
            previous_driver: dev.driver.clone(),
            already_bound: false,
            group,
        });
    }
    Ok(outcomes)
}

/// The driver `bind` recorded for `addr`, if any.
pub fn remembered_driver(host: &Host, addr: &str) -> Option<String> {
    let text = fs::read_to_string(host.prev_driver_file(addr)).ok()?;
    Some(text.trim().to_string()).filter(|d| !d.is_empty())
}

/// Gives devices back to the driver they had before `bind`, or to whatever
/// the kernel picks when nothing was remembered.
pub fn unbind(host: &Host, addrs: &[PciAddr]) -> Result<Vec<UnbindOutcome>, DriverError> {
    let devices: Vec<PciDevice> = addrs
        .iter()
        .map(|&a| pci::device(host, a))
        .collect::<Result<_, _>>()?;
    let mut outcomes = Vec::new();
    for dev in devices {
        let addr = dev.addr.to_string();
        if !dev.on_vfio() {
            outcomes.push(UnbindOutcome {
                addr: dev.addr,
                was_on_vfio: false,
                driver_now: dev.driver.clone(),
            });
            continue;
        }
        let dir = host.pci_device_dir(&addr);
        // A lone newline clears driver_override.
        write_sysfs(&dir.join("driver_override"), "\n", "unbind")?;
        write_sysfs(
            &host.pci_driver_dir(VFIO_PCI).join("unbind"),
            &addr,
            "unbind",
        )?;
        let previous = remembered_driver(host, &addr);
        match previous
            .as_deref()
            .map(|d| (d, host.pci_driver_dir(d).join("bind")))
        {
            Some((driver, bind_file)) if bind_file.exists() => {
                log::info!("{addr}: giving it back to {driver}");
                write_sysfs(&bind_file, &addr, "unbind")?;
            }
            _ => write_sysfs(&host.sys.join("bus/pci/drivers_probe"), &addr, "unbind")?,
        }
        let _ = fs::remove_file(host.prev_driver_file(&addr));
        match &previous {
            Some(_) => {
                wait_for(host.settle_timeout, || {
                    pci::current_driver(host, &addr) == previous
                });
            }
            None => {
                // The kernel may find no driver at all, so wait less for one.
                wait_for(host.settle_timeout / 5, || {
                    pci::current_driver(host, &addr).is_some_and(|d| d != VFIO_PCI)
                });
            }
        }
        outcomes.push(UnbindOutcome {
            addr: dev.addr,
            was_on_vfio: true,
            driver_now: pci::current_driver(host, &addr),
        });
    }
    Ok(outcomes)
}

/// Resolves `--user`/`--group` names (or numeric ids) to ids.
pub fn resolve_owner(user: Option<&str>, group: Option<&str>) -> Result<Owner, DriverError> {
    Ok(Owner {
        uid: user.map(resolve_user).transpose()?,
        gid: group.map(resolve_group).transpose()?,
    })
}

fn resolve_user(name: &str) -> Result<u32, DriverError> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let unknown = || DriverError::UnknownOwner {
        what: "user",
        name: name.to_string(),
    };
    let c_name = CString::new(name).map_err(|_| unknown())?;
    // SAFETY: getpwnam reads a NUL-terminated string and returns a pointer to
    // static storage or null; we copy pw_uid out before any other call could
    // overwrite that storage.
    let uid = unsafe {
        let pw = libc::getpwnam(c_name.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some((*pw).pw_uid)
        }
    };
    uid.ok_or_else(unknown)
}

fn resolve_group(name: &str) -> Result<u32, DriverError> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let unknown = || DriverError::UnknownOwner {
        what: "group",
        name: name.to_string(),
    };
    let c_name = CString::new(name).map_err(|_| unknown())?;
    // SAFETY: as in resolve_user, for getgrnam.
    let gid = unsafe {
        let gr = libc::getgrnam(c_name.as_ptr());
        if gr.is_null() {
            None
        } else {
            Some((*gr).gr_gid)
        }
    };
    gid.ok_or_else(unknown)
}
