//! `vfio-netmap info`: what sysfs, config space and (for a device on
//! vfio-pci) VFIO itself say about one device.

use std::fmt::Write;
use std::fs;
use std::sync::Arc;

use super::config::{BarInfo, ConfigSummary, human_size, parse_config, parse_resource};
use super::error::DriverError;
use super::host::Host;
use super::pci::{self, PciDevice};
use super::pci_addr::PciAddr;
use super::pci_ids::{self, DriverKind};
use super::status::device_line;
use super::vfio::{
    Container, ContainerOptions, Device, DeviceInfo, IommuInfo, IrqInfo, IrqKind, RegionInfo,
};
use super::{e1000, ixgbe};

/// What VFIO reports for an opened device.
#[derive(Clone, Debug)]
pub struct VfioReport {
    /// What VFIO_DEVICE_GET_INFO says: flags, number of regions and of interrupt indexes.
    pub info: DeviceInfo,
    /// The first nine regions (BAR0-5, ROM, config space, VGA), those of size
    /// zero left out.
    pub regions: Vec<RegionInfo>,
    /// What VFIO says about each interrupt type it answers for.
    pub irqs: Vec<(IrqKind, IrqInfo)>,
    /// The container's IOMMU page sizes and usable IOVA ranges; `None` if no
    /// IOMMU is attached.
    pub iommu: Option<IommuInfo>,
}

/// Everything `info` shows about a device.
#[derive(Debug)]
pub struct DeviceReport {
    /// The device as sysfs shows it.
    pub device: PciDevice,
    /// Its BARs, from sysfs `resource`.
    pub bars: Vec<BarInfo>,
    /// What its config space says; `None` when fewer than 64 bytes could be read.
    pub config: Option<ConfigSummary>,
    /// How much of config space sysfs let us read (64 bytes unless root).
    pub config_bytes: usize,
    /// The kernel's reset methods (sysfs `reset_method`), if it lists them.
    pub reset_methods: Option<String>,
    /// `None` when the device is not on vfio-pci; `Some(Err)` when opening failed.
    pub vfio: Option<Result<VfioReport, DriverError>>,
    /// Link state, MAC address and counters, filled in by the NIC drivers
    /// once they exist (the extension point for `info`).
    pub nic_state: Option<Vec<(String, String)>>,
}

/// Opens the device through VFIO and asks it about regions and interrupts.
pub fn vfio_report(host: &Host, addr: PciAddr) -> Result<VfioReport, DriverError> {
    let container: Arc<Container> = Container::open(host, ContainerOptions::default())?;
    let device = Device::open(&container, addr)?;
    let info = device.info();
    let regions = (0..info.num_regions.min(9))
        .filter_map(|i| device.region_info(i).ok())
        .filter(|r| r.size > 0)
        .collect();
    let irqs = [IrqKind::Intx, IrqKind::Msi, IrqKind::Msix]
        .into_iter()
        .filter_map(|k| device.irq_info(k).ok().map(|i| (k, i)))
        .collect();
    Ok(VfioReport {
        info,
        regions,
        irqs,
        iommu: container.iommu_details(),
    })
}

/// Gathers the report; `open_vfio` opens devices bound to vfio-pci.
pub fn gather(host: &Host, addr: PciAddr, open_vfio: bool) -> Result<DeviceReport, DriverError> {
    let device = pci::device(host, addr)?;
    let dir = host.pci_device_dir(&addr.to_string());
    let bars = fs::read_to_string(dir.join("resource"))
        .map(|t| parse_resource(&t))
        .unwrap_or_default();
    let config_bytes = fs::read(dir.join("config")).unwrap_or_default();
    let config = (config_bytes.len() >= 64).then(|| parse_config(&config_bytes));
    let reset_methods = fs::read_to_string(dir.join("reset_method"))
        .ok()
        .map(|t| t.trim().to_string());
    let vfio = (open_vfio && device.on_vfio()).then(|| vfio_report(host, addr));
    let nic_state = if open_vfio && device.on_vfio() {
        nic_state(host, addr).ok().flatten()
    } else {
        None
    };
    Ok(DeviceReport {
        device,
        bars,
        config,
        config_bytes: config_bytes.len(),
        reset_methods,
        vfio,
        nic_state,
    })
}

/// Link, MAC and counters of a supported NIC, read from its registers
/// without resetting it (the counters clear on read: they count since the
/// last reader).
fn nic_state(host: &Host, addr: PciAddr) -> Result<Option<Vec<(String, String)>>, DriverError> {
    let container: Arc<Container> = Container::open(host, ContainerOptions::default())?;
    let device = Device::open(&container, addr)?;
    let (vendor, id) = (device.config_u16(0)?, device.config_u16(2)?);
    let Some(nic) = pci_ids::driver_for(vendor, id) else {
        return Ok(None);
    };
    let bar = device.map_bar(0)?;
    Ok(Some(match nic.driver {
        DriverKind::E1000(_) => e1000::device::read_state(&bar),
        DriverKind::Ixgbe(chip) => ixgbe::device::read_chip_state(&bar, chip),
    }))
}

fn region_name(index: u32) -> String {
    match index {
        0..=5 => format!("BAR{index}"),
        6 => "ROM".into(),
        7 => "config".into(),
        8 => "VGA".into(),
        n => format!("region{n}"),
    }
}

fn interrupts_text(cfg: &ConfigSummary) -> String {
    let intx = match cfg.intx_pin {
        Some(pin @ 1..=4) => format!("INTx pin {}", (b'A' + pin - 1) as char),
        _ => "no INTx".into(),
    };
    let msi = cfg
        .msi_vectors
        .map_or("no MSI".into(), |n| format!("MSI {n} vector(s)"));
    let msix = cfg.msix.map_or("no MSI-X".into(), |m| {
        format!(
            "MSI-X {} vector(s) (table in BAR{} at {:#x}, PBA in BAR{} at {:#x})",
            m.vectors, m.table_bar, m.table_offset, m.pba_bar, m.pba_offset
        )
    });
    format!("{intx}, {msi}, {msix}")
}

/// The report as `vfio-netmap info` prints it.
pub fn render_text(report: &DeviceReport) -> String {
    let dev = &report.device;
    let mut out = String::new();
    let _ = writeln!(out, "{}", device_line(dev));
    let _ = writeln!(
        out,
        "  class {:06x}, vendor:device {:04x}:{:04x}",
        dev.class, dev.vendor, dev.device
    );
    match &dev.iommu_group {
        None => out
            .push_str("  IOMMU group: none (IOMMU off: boot with intel_iommu=on / amd_iommu=on)\n"),
        Some(g) => {
            let members: Vec<String> = g
                .members
                .iter()
                .map(|m| {
                    format!(
                        "{} ({})",
                        m.addr,
                        m.driver.as_deref().unwrap_or("no driver")
                    )
                })
                .collect();
            let viable = if g.viable() { "viable" } else { "NOT viable" };
            let _ = writeln!(
                out,
                "  IOMMU group {} ({viable}): {}",
                g.number,
                members.join(", ")
            );
        }
    }
    out.push_str("  BARs (sysfs resource):\n");
    if report.bars.is_empty() {
        out.push_str("    none readable\n");
    }
    for bar in &report.bars {
        let _ = writeln!(out, "    {bar}");
    }
    match &report.config {
        Some(cfg) => {
            let _ = writeln!(out, "  Interrupts (config space): {}", interrupts_text(cfg));
            if report.config_bytes <= 64 {
                out.push_str("    (only 64 bytes of config space readable: run as root to see capabilities)\n");
            }
            let mut reset = Vec::new();
            if cfg.flr {
                reset.push("FLR");
            }
            if cfg.pm_reset {
                reset.push("PM D3hot->D0");
            }
            let kernel = report
                .reset_methods
                .as_deref()
                .map(|m| format!("; kernel methods: {m}"))
                .unwrap_or_default();
            let offered = if reset.is_empty() {
                "no function reset".to_string()
            } else {
                reset.join(", ")
            };
            let _ = writeln!(out, "  Reset: {offered}{kernel}");
        }
        None => out.push_str("  Config space: not readable from sysfs\n"),
    }
    match &report.vfio {
        None if dev.on_vfio() => {}
        None => {
            let _ = writeln!(
                out,
                "  VFIO: not bound to vfio-pci (run `vfio-netmap bind {}` to see what VFIO reports)",
                dev.addr
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(out, "  VFIO: could not open: {e}");
        }
        Some(Ok(v)) => render_vfio(&mut out, v),
    }
    match &report.nic_state {
        None => out.push_str(
            "  Link/MAC/counters: shown for supported NICs bound to vfio-pci and not in use\n",
        ),
        Some(fields) => {
            for (key, value) in fields {
                let _ = writeln!(out, "  {key}: {value}");
            }
        }
    }
    out
}

fn render_vfio(out: &mut String, v: &VfioReport) {
    let reset = if v.info.supports_reset() {
        "VFIO_DEVICE_RESET offered"
    } else {
        "no VFIO reset"
    };
    let _ = writeln!(
        out,
        "  VFIO: {} regions, {} irq indexes, {reset}",
        v.info.num_regions, v.info.num_irqs
    );
    for r in &v.regions {
        let mut access = String::new();
        access.push_str(if r.readable() { "r" } else { "-" });
        access.push_str(if r.writable() { "w" } else { "-" });
        access.push_str(if r.mmappable() { " mmap" } else { "" });
        let sparse = match &r.sparse_areas {
            Some(areas) => {
                let parts: Vec<String> = areas
                    .iter()
                    .map(|a| format!("{:#x}+{:#x}", a.offset, a.size))
                    .collect();
                format!(", mmappable only at {}", parts.join(" "))
            }
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "    {}: size {}, fd offset {:#x}, {access}{sparse}",
            region_name(r.index),
            human_size(r.size),
            r.offset
        );
    }
    for (kind, irq) in &v.irqs {
        let mut flags = Vec::new();
        if irq.maskable() {
            flags.push("maskable");
        }
        if irq.automasked() {
            flags.push("automasked");
        }
        let _ = writeln!(
            out,
            "    {}: {} vector(s) {}",
            kind.name(),
            irq.count,
            flags.join(", ")
        );
    }
    if let Some(iommu) = &v.iommu {
        let ranges = iommu
            .ranges
            .as_ref()
            .map_or("not reported".to_string(), |r| {
                r.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        let _ = writeln!(
            out,
            "    IOMMU page sizes {:#x}, usable IOVA ranges: {ranges}",
            iommu.page_sizes
        );
    }
}
