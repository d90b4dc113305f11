//! Where the kernel's interfaces live. Everything that reads sysfs, procfs,
//! `/dev/vfio` or our own state directory goes through a [`Host`], so tests
//! can point it at a fake tree in a temporary directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the kernel's interfaces are: the running system's, or a fake tree for tests.
#[derive(Clone, Debug)]
pub struct Host {
    /// sysfs, normally `/sys`.
    pub sys: PathBuf,
    /// procfs, normally `/proc` (for `net/route` and `net/ipv6_route`).
    pub proc_root: PathBuf,
    /// VFIO's device nodes, normally `/dev/vfio`.
    pub dev_vfio: PathBuf,
    /// Where `bind` remembers each device's previous driver.
    pub state_dir: PathBuf,
    /// Whether `bind` may run `modprobe vfio-pci`. Off for fake trees, so a
    /// test never loads modules into the machine running it.
    pub allow_modprobe: bool,
    /// How long to wait for the kernel to (re)bind a driver or create a
    /// `/dev/vfio/N` node after a sysfs write.
    pub settle_timeout: Duration,
}

impl Host {
    /// The running system.
    pub fn system() -> Host {
        Host {
            sys: PathBuf::from("/sys"),
            proc_root: PathBuf::from("/proc"),
            dev_vfio: PathBuf::from("/dev/vfio"),
            state_dir: PathBuf::from("/run/vfio-netmap"),
            allow_modprobe: true,
            settle_timeout: Duration::from_secs(5),
        }
    }

    /// A fake host whose `sys`, `proc`, `dev/vfio` and `run/vfio-netmap`
    /// live under `root`.
    pub fn under(root: &Path) -> Host {
        Host {
            sys: root.join("sys"),
            proc_root: root.join("proc"),
            dev_vfio: root.join("dev/vfio"),
            state_dir: root.join("run/vfio-netmap"),
            allow_modprobe: false,
            settle_timeout: Duration::from_secs(2),
        }
    }

    /// sysfs's directory of PCI devices (`bus/pci/devices`).
    pub fn pci_devices_dir(&self) -> PathBuf {
        self.sys.join("bus/pci/devices")
    }

    /// The sysfs directory of the device at `addr` (`DDDD:BB:DD.F`).
    pub fn pci_device_dir(&self, addr: &str) -> PathBuf {
        self.pci_devices_dir().join(addr)
    }

    /// The sysfs directory of PCI driver `driver`, with its `bind` and `unbind` files.
    pub fn pci_driver_dir(&self, driver: &str) -> PathBuf {
        self.sys.join("bus/pci/drivers").join(driver)
    }

    /// The sysfs directory of IOMMU group `group`.
    pub fn iommu_group_dir(&self, group: u32) -> PathBuf {
        self.sys.join("kernel/iommu_groups").join(group.to_string())
    }

    /// The VFIO container node, normally `/dev/vfio/vfio`.
    pub fn vfio_container_path(&self) -> PathBuf {
        self.dev_vfio.join("vfio")
    }

    /// The VFIO node of IOMMU group `group`: `/dev/vfio/N`, or
    /// `/dev/vfio/noiommu-N` in no-IOMMU mode.
    pub fn vfio_group_path(&self, group: u32, noiommu: bool) -> PathBuf {
        if noiommu {
            self.dev_vfio.join(format!("noiommu-{group}"))
        } else {
            self.dev_vfio.join(group.to_string())
        }
    }

    /// The file where `bind` records the driver `addr` had before.
    pub fn prev_driver_file(&self, addr: &str) -> PathBuf {
        self.state_dir.join(format!("{addr}.prev-driver"))
    }
}

impl Default for Host {
    fn default() -> Self {
        Host::system()
    }
}
