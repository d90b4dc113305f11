//! `vfio-netmap status`: network devices grouped like dpdk-devbind's
//! status, as text or JSON.

use std::fmt::Write;

use super::json::Json;
use super::pci::{IommuGroup, PciDevice};
use super::pci_ids::Support;

/// The three sections of the status listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Bound to vfio-pci.
    Vfio,
    /// Bound to another driver, usually the kernel's own driver for the NIC.
    Kernel,
    /// No driver bound.
    Other,
}

impl Category {
    /// The section `dev` is listed in, from its driver.
    pub fn of(dev: &PciDevice) -> Category {
        match dev.driver.as_deref() {
            Some(super::pci::VFIO_PCI) => Category::Vfio,
            Some(_) => Category::Kernel,
            None => Category::Other,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Category::Vfio => "Network devices bound to vfio-pci",
            Category::Kernel => "Network devices on a kernel driver",
            Category::Other => "Other network devices (no driver)",
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            Category::Vfio => "vfio",
            Category::Kernel => "kernel",
            Category::Other => "other",
        }
    }
}

fn group_text(group: &Option<IommuGroup>) -> String {
    match group {
        None => "group=none (IOMMU off)".to_string(),
        Some(g) if g.viable() => format!("group={} (viable)", g.number),
        Some(g) => {
            let blockers: Vec<String> = g
                .blockers()
                .iter()
                .map(|b| format!("{} on {}", b.addr, b.driver))
                .collect();
            format!("group={} (not viable: {})", g.number, blockers.join(", "))
        }
    }
}

/// What the quoted part of a status line says about a device: its name when
/// a driver opens it, the name and "no driver yet" for a NIC vfio-netmap
/// knows without a driver, "not supported by vfio-netmap" otherwise.
pub fn support_label(support: Support) -> String {
    match support {
        Support::Driver(nic) => nic.name.to_string(),
        Support::NoDriverYet(nic) => format!("{}: no driver yet", nic.name),
        Support::Unknown => "not supported by vfio-netmap".to_string(),
    }
}

/// One line per device, dpdk-devbind style.
pub fn device_line(dev: &PciDevice) -> String {
    let mut line = format!(
        "{} '{}' {:04x}:{:04x}",
        dev.addr,
        support_label(dev.support),
        dev.vendor,
        dev.device
    );
    if !dev.interfaces.is_empty() {
        let _ = write!(line, " if={}", dev.interfaces.join(","));
    }
    let _ = write!(
        line,
        " drv={} {}",
        dev.driver.as_deref().unwrap_or("none"),
        group_text(&dev.iommu_group)
    );
    if let Some(node) = dev.numa_node {
        let _ = write!(line, " numa={node}");
    }
    if dev.active {
        line.push_str(" *Active*");
    }
    line
}

/// The whole text listing; empty sections say so rather than vanish, so a
/// script or a reader can tell "nothing bound" from "section missing".
pub fn render_text(devices: &[PciDevice]) -> String {
    let mut out = String::new();
    for category in [Category::Vfio, Category::Kernel, Category::Other] {
        let title = category.title();
        let _ = writeln!(out, "{title}\n{}", "=".repeat(title.len()));
        let lines: Vec<String> = devices
            .iter()
            .filter(|d| Category::of(d) == category)
            .map(device_line)
            .collect();
        if lines.is_empty() {
            out.push_str("<none>\n");
        }
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    out
}

fn group_json(group: &Option<IommuGroup>) -> Json {
    let Some(g) = group else { return Json::Null };
    let members = g
        .members
        .iter()
        .map(|m| {
            Json::Object(vec![
                ("address", Json::str(&m.addr)),
                ("driver", Json::opt_str(m.driver.clone())),
            ])
        })
        .collect();
    Json::Object(vec![
        ("number", Json::Int(g.number.into())),
        ("viable", Json::Bool(g.viable())),
        ("members", Json::Array(members)),
    ])
}

/// One device as a JSON object. `name` is set for every NIC vfio-netmap
/// knows, `supported` only when one of its drivers opens the device.
pub fn device_json(dev: &PciDevice) -> Json {
    Json::Object(vec![
        ("address", Json::str(dev.addr.to_string())),
        ("vendor", Json::str(format!("{:04x}", dev.vendor))),
        ("device", Json::str(format!("{:04x}", dev.device))),
        ("class", Json::str(format!("{:06x}", dev.class))),
        ("name", Json::opt_str(dev.support.name())),
        ("supported", Json::Bool(dev.support.is_supported())),
        ("category", Json::str(Category::of(dev).json_name())),
        ("driver", Json::opt_str(dev.driver.clone())),
        (
            "interfaces",
            Json::Array(dev.interfaces.iter().map(Json::str).collect()),
        ),
        ("active", Json::Bool(dev.active)),
        (
            "numa_node",
            dev.numa_node.map_or(Json::Null, |n| Json::Int(n.into())),
        ),
        ("iommu_group", group_json(&dev.iommu_group)),
    ])
}

/// `{"devices":[...]}`, one object per device.
pub fn render_json(devices: &[PciDevice]) -> String {
    Json::Object(vec![(
        "devices",
        Json::Array(devices.iter().map(device_json).collect()),
    )])
    .to_string()
}
