//! A fake sysfs/procfs/`/dev/vfio` tree in a temporary directory, with an
//! optional thread that plays the kernel's part in driver binding. Test
//! support for this crate and for NIC driver tests; std only.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::host::Host;

/// A device to create in the fake tree.
#[derive(Clone, Debug)]
pub struct FakeDevice {
    /// PCI address, `DDDD:BB:DD.F`.
    pub addr: &'static str,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// PCI class code (0x020000 for an Ethernet controller).
    pub class: u32,
    /// The driver it is bound to, if any.
    pub driver: Option<&'static str>,
    /// Its IOMMU group, if the host has an IOMMU.
    pub iommu_group: Option<u32>,
    /// -1 like sysfs when there is no NUMA information.
    pub numa_node: i32,
    /// Network interfaces the kernel driver made for it (`net/NAME`).
    pub interfaces: Vec<&'static str>,
    /// Raw config space; a minimal header is generated when `None`.
    pub config: Option<Vec<u8>>,
    /// sysfs `resource` text; 128 KiB at BAR0 when `None`.
    pub resource: Option<String>,
}

impl FakeDevice {
    /// An 82540EM (QEMU `e1000`) on the e1000 driver in its own group.
    pub fn e1000(addr: &'static str, group: u32) -> FakeDevice {
        FakeDevice {
            addr,
            vendor: 0x8086,
            device: 0x100e,
            class: 0x020000,
            driver: Some("e1000"),
            iommu_group: Some(group),
            numa_node: -1,
            interfaces: vec![],
            config: None,
            resource: None,
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The temporary tree; removed on drop.
pub struct FakeHost {
    root: PathBuf,
    host: Host,
    /// addr -> the driver the fake kernel picks when nothing overrides it.
    default_drivers: Arc<Mutex<BTreeMap<String, String>>>,
    kernel: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

fn write(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create fake sysfs dir");
    }
    fs::write(path, contents).expect("write fake sysfs file");
}

impl FakeHost {
    /// An empty tree (with `bus/pci/drivers_probe` and a vfio-pci driver).
    pub fn new(name: &str) -> FakeHost {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root =
            std::env::temp_dir().join(format!("vfio-netmap-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create fake root");
        let host = Host::under(&root);
        write(&host.sys.join("bus/pci/drivers_probe"), "");
        fs::create_dir_all(host.pci_devices_dir()).expect("create devices dir");
        fs::create_dir_all(&host.dev_vfio).expect("create dev/vfio");
        let fake = FakeHost {
            root,
            host,
            default_drivers: Arc::default(),
            kernel: None,
        };
        fake.add_driver("vfio-pci");
        fake
    }

    /// The directory standing in for `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The paths the code under test reads, inside the fake tree.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Registers a PCI driver (`bus/pci/drivers/NAME` with `bind`/`unbind`).
    pub fn add_driver(&self, name: &str) {
        let dir = self.host.pci_driver_dir(name);
        write(&dir.join("bind"), "");
        write(&dir.join("unbind"), "");
    }

    /// Unregisters a PCI driver.
    pub fn remove_driver(&self, name: &str) {
        let _ = fs::remove_dir_all(self.host.pci_driver_dir(name));
    }

    /// Creates `dev` under `bus/pci/devices`, with its attributes, config
    /// space, resources, driver link and interfaces.
    pub fn add_device(&self, dev: &FakeDevice) {
        let dir = self.host.pci_device_dir(dev.addr);
        write(&dir.join("vendor"), format!("0x{:04x}\n", dev.vendor));
        write(&dir.join("device"), format!("0x{:04x}\n", dev.device));
        write(&dir.join("class"), format!("0x{:06x}\n", dev.class));
        write(&dir.join("numa_node"), format!("{}\n", dev.numa_node));
        write(&dir.join("driver_override"), "(null)\n");
        let resource = dev.resource.clone().unwrap_or_else(|| {
            let mut text = "0x00000000febc0000 0x00000000febdffff 0x0000000000040200\n".to_string();
            text.push_str(&"0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(12));
            text
        });
        write(&dir.join("resource"), resource);
        let config = dev.config.clone().unwrap_or_else(|| {
            let mut cfg = vec![0u8; 256];
            cfg[0..2].copy_from_slice(&dev.vendor.to_le_bytes());
            cfg[2..4].copy_from_slice(&dev.device.to_le_bytes());
            cfg[0x3d] = 1;
            cfg
        });
        write(&dir.join("config"), config);
        for iface in &dev.interfaces {
            fs::create_dir_all(dir.join("net").join(iface)).expect("create net dir");
        }
        if let Some(group) = dev.iommu_group {
            let group_dir = self.host.iommu_group_dir(group);
            fs::create_dir_all(group_dir.join("devices")).expect("create group dir");
            symlink(&dir, group_dir.join("devices").join(dev.addr)).expect("group member link");
            symlink(&group_dir, dir.join("iommu_group")).expect("iommu_group link");
        }
        if let Some(driver) = dev.driver {
            self.add_driver(driver);
            self.default_drivers
                .lock()
                .unwrap()
                .insert(dev.addr.to_string(), driver.to_string());
        }
        self.set_driver(dev.addr, dev.driver);
    }

    /// The driver the fake kernel binds on `drivers_probe` without an override.
    pub fn set_default_driver(&self, addr: &str, driver: &str) {
        self.add_driver(driver);
        self.default_drivers
            .lock()
            .unwrap()
            .insert(addr.to_string(), driver.to_string());
    }

    /// Points the device's `driver` link at `driver` (or removes it), and
    /// creates `/dev/vfio/N` when the driver is vfio-pci.
    pub fn set_driver(&self, addr: &str, driver: Option<&str>) {
        set_driver_link(&self.host, addr, driver);
    }

    /// Writes `/proc/net/route` and `/proc/net/ipv6_route`.
    pub fn set_routes(&self, ipv4: &str, ipv6: &str) {
        write(&self.host.proc_root.join("net/route"), ipv4);
        write(&self.host.proc_root.join("net/ipv6_route"), ipv6);
    }

    /// Contents of a file relative to the fake root (empty if missing).
    pub fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.root.join(relative)).unwrap_or_default()
    }

    /// Starts a thread that reacts to sysfs writes like the kernel:
    /// `drivers/X/unbind` unbinds, `drivers/X/bind` binds, `drivers_probe`
    /// binds to `driver_override` or the device's default driver.
    pub fn start_fake_kernel(&mut self) {
        let stop = Arc::new(AtomicBool::new(false));
        let host = self.host.clone();
        let defaults = self.default_drivers.clone();
        let stop_flag = stop.clone();
        let handle = thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                fake_kernel_round(&host, &defaults.lock().unwrap());
                thread::sleep(Duration::from_millis(2));
            }
        });
        self.kernel = Some((stop, handle));
    }
}

fn take(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return None;
    }
    fs::write(path, "").ok()?;
    Some(text)
}

fn set_driver_link(host: &Host, addr: &str, driver: Option<&str>) {
    let link = host.pci_device_dir(addr).join("driver");
    let _ = fs::remove_file(&link);
    if let Some(driver) = driver {
        symlink(host.pci_driver_dir(driver), &link).expect("driver link");
        if driver == "vfio-pci" {
            if let Some(group) = super::pci::iommu_group_number(host, addr) {
                let _ = fs::write(host.vfio_group_path(group, false), "");
            }
        }
    }
}

/// Appends what the fake kernel did to `kernel.log` in the fake root, so
/// tests can check the sequence of sysfs writes.
fn log_action(host: &Host, line: &str) {
    use std::io::Write;
    let path = host
        .sys
        .parent()
        .expect("fake sys has a parent")
        .join("kernel.log");
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

fn fake_kernel_round(host: &Host, defaults: &BTreeMap<String, String>) {
    let drivers_dir = host.sys.join("bus/pci/drivers");
    let drivers: Vec<String> = fs::read_dir(&drivers_dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // Taken first: a probe request is always written after the unbind that
    // precedes it, so this round also sees that unbind.
    let probe = take(&host.sys.join("bus/pci/drivers_probe"));
    for driver in &drivers {
        if let Some(addr) = take(&drivers_dir.join(driver).join("unbind")) {
            log_action(host, &format!("unbind {driver} {addr}"));
            if super::pci::current_driver(host, &addr).as_deref() == Some(driver) {
                set_driver_link(host, &addr, None);
            }
        }
    }
    for driver in &drivers {
        if let Some(addr) = take(&drivers_dir.join(driver).join("bind")) {
            log_action(host, &format!("bind {driver} {addr}"));
            set_driver_link(host, &addr, Some(driver));
        }
    }
    if let Some(addr) = probe {
        if super::pci::current_driver(host, &addr).is_some() {
            log_action(host, &format!("probe {addr} ignored: already bound"));
        } else {
            let over = fs::read_to_string(host.pci_device_dir(&addr).join("driver_override"))
                .unwrap_or_default();
            let over = over.trim();
            let choice = if over.is_empty() || over == "(null)" {
                defaults.get(&addr).cloned()
            } else {
                Some(over.to_string())
            };
            log_action(
                host,
                &format!("probe {addr} -> {}", choice.as_deref().unwrap_or("none")),
            );
            if let Some(driver) = choice.filter(|d| drivers.contains(d)) {
                set_driver_link(host, &addr, Some(&driver));
            }
        }
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.kernel.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}
