//! The one error type of the driver layer. Every message names what went
//! wrong *and* what the user can do about it, because these errors are what
//! people see when setting up VFIO goes wrong (the most common complaint
//! about every peer project).

use std::io;
use std::path::PathBuf;

use super::pci_addr::PciAddrError;

/// A member of an IOMMU group that keeps the group from being usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub addr: String,
    pub driver: String,
}

fn blockers_list(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| format!("{} (driver {})", b.addr, b.driver))
        .collect::<Vec<_>>()
        .join(", ")
}

fn blockers_addrs(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| b.addr.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn supported_list() -> String {
    super::pci_ids::supported_summary()
}

/// What an unsupported device is: "(8086:10c9 82576 (igb)) has no vfio-netmap
/// driver yet" for a NIC vfio-netmap knows without a driver, "(10ec:8139) is
/// not a NIC vfio-netmap can drive" otherwise.
fn unsupported_what(vendor: u16, device: u16) -> String {
    match super::pci_ids::known_without_driver(vendor, device) {
        Some(nic) => format!(
            "({vendor:04x}:{device:04x} {}) has no vfio-netmap driver yet",
            nic.name
        ),
        None => format!("({vendor:04x}:{device:04x}) is not a NIC vfio-netmap can drive"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    BadAddress(#[from] PciAddrError),

    #[error("{action} needs root privileges: run it as root, e.g. `sudo vfio-netmap {action} ...`")]
    NotRoot { action: String },

    #[error(
        "no PCI device {addr} under {sysfs_dir}: list the network devices with `vfio-netmap status`"
    )]
    DeviceNotFound { addr: String, sysfs_dir: PathBuf },

    #[error("{addr} is {}, not vfio-pci: run `vfio-netmap bind {addr}`",
        match .driver { Some(d) => format!("bound to {d}"), None => "not bound to any driver".to_string() })]
    NotBoundToVfio {
        addr: String,
        driver: Option<String>,
    },

    #[error(
        "{addr} has no IOMMU group, so the IOMMU is off: enable it on the kernel command line \
             (`intel_iommu=on iommu=pt`, or `amd_iommu=on`) and reboot; or, without DMA protection, \
             load vfio with `modprobe vfio enable_unsafe_noiommu_mode=1` and use the unsafe_noiommu option"
    )]
    NoIommuGroup { addr: String },

    #[error("IOMMU group {group} is not viable: {} {} on host drivers; bind them to vfio-pci too: \
             `vfio-netmap bind {}`", blockers_list(.blockers),
             if .blockers.len() == 1 { "is still" } else { "are still" }, blockers_addrs(.blockers))]
    GroupNotViable { group: u32, blockers: Vec<Blocker> },

    #[error("refusing to bind {addr}: IOMMU group {group} also holds {}, which would stay on a host \
             driver and make the group unusable; bind the whole group at once: `vfio-netmap bind {addr} {}`",
             blockers_list(.blockers), blockers_addrs(.blockers))]
    GroupShared {
        addr: String,
        group: u32,
        blockers: Vec<Blocker>,
    },

    #[error(
        "refusing to bind {addr}: its interface {iface} carries routes (*Active*), and binding it \
             would cut this host off that network; take it down first (`ip link set {iface} down` and \
             remove its addresses) or pass `--force`"
    )]
    InterfaceActive { addr: String, iface: String },

    #[error(
        "the vfio-pci driver is not loaded ({detail}): load it with `modprobe vfio-pci` \
             (the module ships with the kernel: CONFIG_VFIO_PCI)"
    )]
    VfioPciNotLoaded { detail: String },

    #[error("{addr} is still {} after asking vfio-pci to take it: the kernel refused; \
             look at `dmesg | tail` for the reason (often: IOMMU group not viable or vfio-pci rejected the device)",
             match .driver { Some(d) => format!("on {d}"), None => "unbound".to_string() })]
    BindDidNotTake {
        addr: String,
        driver: Option<String>,
    },

    #[error("{path} does not exist, so the VFIO modules are not loaded: run `modprobe vfio-pci`")]
    ContainerMissing { path: PathBuf },

    #[error(
        "{path} does not exist: no device of IOMMU group {group} is bound to vfio-pci; \
             run `vfio-netmap bind ADDR` for the device(s) of that group"
    )]
    GroupMissing { path: PathBuf, group: u32 },

    #[error(
        "permission denied opening {path}: run as root, or hand the group to your user with \
             `sudo vfio-netmap bind --user $USER ADDR` (or `sudo chown $USER {path}`)"
    )]
    PermissionDenied { path: PathBuf },

    #[error(
        "{path} is busy: another process (QEMU, DPDK, another vfio-netmap) holds it; \
             find it with `fuser -v {path}` and stop it"
    )]
    Busy { path: PathBuf },

    #[error(
        "this kernel speaks VFIO API version {found}, vfio-netmap speaks 0: use a kernel with the standard VFIO API (Linux 3.6 or later)"
    )]
    ApiVersion { found: i32 },

    #[error("the kernel's VFIO has no {iommu} IOMMU backend: {fix}")]
    IommuBackendMissing {
        iommu: &'static str,
        fix: &'static str,
    },

    #[error("{op} failed on {target}: {source}; `dmesg | tail` usually says why")]
    Ioctl {
        op: &'static str,
        target: String,
        source: io::Error,
    },

    #[error("{action} {path}: {source}; {fix}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
        fix: &'static str,
    },

    #[error("mapping {len} bytes for DMA failed ({source}): the locked-memory limit (RLIMIT_MEMLOCK) is {}, \
             at least {needed} bytes are needed; raise it with `ulimit -l unlimited` in the launching shell \
             or `prlimit --pid PID --memlock=unlimited`, or run as root",
             match .limit { Some(l) => format!("{l} bytes"), None => "unknown".to_string() })]
    MemlockTooLow {
        len: usize,
        needed: u64,
        limit: Option<u64>,
        source: io::Error,
    },

    #[error(
        "the IOMMU refused another DMA mapping ({source}): the vfio_iommu_type1 `dma_entry_limit` \
             (65535 by default) is reached; map fewer, larger buffers or raise it: \
             `modprobe vfio_iommu_type1 dma_entry_limit=N`"
    )]
    DmaEntryLimit { source: io::Error },

    #[error(
        "DMA range {vaddr:#x}+{len:#x} is not aligned to the IOMMU page size {page:#x}: \
             allocate DMA memory page-aligned and in whole pages (the mem module's regions are)"
    )]
    DmaUnaligned { vaddr: usize, len: usize, page: u64 },

    #[error(
        "no free IOVA range of {len:#x} bytes left in the IOMMU's usable ranges ({ranges}): \
             unmap DMA buffers that are no longer used, or use fewer, larger buffers"
    )]
    IovaExhausted { len: u64, ranges: String },

    #[error(
        "unmap_dma({iova:#x}, {len:#x}) does not match a mapping made by map_dma: \
             pass exactly the IOVA map_dma returned and the length given to it"
    )]
    NotMapped { iova: u64, len: usize },

    #[error(
        "DMA mapping needs an IOMMU attached to the container: open a device on it first \
             (Device::open), then map memory"
    )]
    NoIommuYet,

    #[error(
        "{addr} offers no VFIO reset (no FLR or PM reset): reset it through its own registers \
             instead (e1000 family: set CTRL.RST and wait for it to clear)"
    )]
    ResetUnsupported { addr: String },

    #[error(
        "BAR{bar} of {addr} cannot be mmapped ({reason}): access it with region reads/writes \
             (Device::read_region) or use another BAR"
    )]
    BarNotMappable {
        addr: String,
        bar: u32,
        reason: String,
    },

    #[error("{addr} offers {available} {kind} interrupt vector(s), {requested} requested: ask for at most {available}{}",
        if *.available == 0 { " (none: use another interrupt type, or poll)" } else { "" })]
    IrqUnavailable {
        addr: String,
        kind: &'static str,
        requested: u32,
        available: u32,
    },

    #[error(
        "no-IOMMU mode: no physical address for virtual address {vaddr:#x}: {reason}; \
             /proc/self/pagemap shows real frame numbers only to CAP_SYS_ADMIN: run as root, \
             and lock the memory (mlock) before mapping it"
    )]
    NoPhysicalAddress { vaddr: usize, reason: String },

    #[error(
        "no-IOMMU mode: the range {vaddr:#x}+{len:#x} is not physically contiguous: \
             the device needs one contiguous block per mapping without an IOMMU; use hugepage-backed \
             buffers no larger than one hugepage"
    )]
    NotPhysicallyContiguous { vaddr: usize, len: usize },

    #[error(
        "{addr} {}: open one of the supported NICs instead (`vfio-netmap status` names each \
         device and whether it is supported); supported: {}",
        unsupported_what(*.vendor, *.device),
        supported_list()
    )]
    UnsupportedDevice {
        addr: String,
        vendor: u16,
        device: u16,
    },

    #[error("unknown {what} `{name}`: give an existing {what} name or a numeric id")]
    UnknownOwner { what: &'static str, name: String },

    // ---- NIC drivers ----
    #[error(
        "{addr} is an {model}, which this driver runs with one queue pair; {asked} asks for \
         more: open `vfio:{addr}` without `@conf:rings` or a queue suffix"
    )]
    OneQueuePair {
        addr: String,
        model: &'static str,
        asked: String,
    },

    #[error(
        "{device} reads all-ones: it was removed, or its BAR is not mapped (check `vfio-netmap \
         status`, and that no other process reset it)"
    )]
    DeviceRemoved { device: String },

    #[error(
        "{device} did not finish its reset ({what} still set after {waited:?}); reset the device \
         (`vfio-netmap unbind` then `bind` it again)"
    )]
    ResetTimeout {
        device: String,
        what: &'static str,
        waited: std::time::Duration,
    },

    #[error(
        "{slots} descriptors per ring is not supported by {device}: use a multiple of {multiple} \
         between {min} and {max} (e.g. `@conf:slots=1024`)"
    )]
    BadRingSize {
        device: String,
        slots: u32,
        multiple: u32,
        min: u32,
        max: u32,
    },

    #[error(transparent)]
    Mem(#[from] crate::mem::MemError),

    #[error("{device}: {source}")]
    Ixgbe {
        device: String,
        source: super::ixgbe::IxgbeError,
    },
}

impl DriverError {
    /// An I/O error on `path` with the fix that fits the call site. Callers
    /// map errno values that have their own variant (ENOENT on /dev/vfio,
    /// EACCES, EBUSY) before falling back to this.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
        fix: &'static str,
    ) -> Self {
        DriverError::Io {
            action,
            path: path.into(),
            source,
            fix,
        }
    }
}
