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
    /// The member's PCI address.
    pub addr: String,
    /// The host driver it is bound to.
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

/// Everything the driver layer can report: binding devices, opening them
/// through VFIO, mapping DMA memory and running the NIC drivers.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A PCI address did not parse.
    #[error(transparent)]
    BadAddress(#[from] PciAddrError),

    /// `bind` or `unbind` was run without root, or the kernel refused one of
    /// their sysfs writes for lack of privileges.
    #[error("{action} needs root privileges: run it as root, e.g. `sudo vfio-netmap {action} ...`")]
    NotRoot {
        /// The command that needs root, e.g. `bind`.
        action: String,
    },

    /// No PCI device with that address exists in sysfs.
    #[error(
        "no PCI device {addr} under {sysfs_dir}: list the network devices with `vfio-netmap status`"
    )]
    DeviceNotFound {
        /// The PCI address, as given.
        addr: String,
        /// The sysfs directory searched (`/sys/bus/pci/devices`).
        sysfs_dir: PathBuf,
    },

    /// A device was opened through VFIO while not bound to vfio-pci.
    #[error("{addr} is {}, not vfio-pci: run `vfio-netmap bind {addr}`",
        match .driver { Some(d) => format!("bound to {d}"), None => "not bound to any driver".to_string() })]
    NotBoundToVfio {
        /// The PCI address of the device.
        addr: String,
        /// The driver it is bound to now; `None` if it has none.
        driver: Option<String>,
    },

    /// The device has no IOMMU group: the IOMMU is off or missing.
    #[error(
        "{addr} has no IOMMU group, so the IOMMU is off: enable it on the kernel command line \
             (`intel_iommu=on iommu=pt`, or `amd_iommu=on`) and reboot; or, without DMA protection, \
             load vfio with `modprobe vfio enable_unsafe_noiommu_mode=1` and use the unsafe_noiommu option"
    )]
    NoIommuGroup {
        /// The PCI address of the device.
        addr: String,
    },

    /// An IOMMU group cannot be used because members of it are still on host drivers.
    #[error("IOMMU group {group} is not viable: {} {} on host drivers; bind them to vfio-pci too: \
             `vfio-netmap bind {}`", blockers_list(.blockers),
             if .blockers.len() == 1 { "is still" } else { "are still" }, blockers_addrs(.blockers))]
    GroupNotViable {
        /// The IOMMU group number.
        group: u32,
        /// The members still on host drivers.
        blockers: Vec<Blocker>,
    },

    /// `bind` was asked for a device whose IOMMU group holds other devices on
    /// host drivers that were not named in the same call.
    #[error("refusing to bind {addr}: IOMMU group {group} also holds {}, which would stay on a host \
             driver and make the group unusable; bind the whole group at once: `vfio-netmap bind {addr} {}`",
             blockers_list(.blockers), blockers_addrs(.blockers))]
    GroupShared {
        /// The PCI address of the device to bind.
        addr: String,
        /// Its IOMMU group number.
        group: u32,
        /// The other members on host drivers, not named in this `bind`.
        blockers: Vec<Blocker>,
    },

    /// `bind` (without `--force`) was asked for a device whose interface carries routes.
    #[error(
        "refusing to bind {addr}: its interface {iface} carries routes (*Active*), and binding it \
             would cut this host off that network; take it down first (`ip link set {iface} down` and \
             remove its addresses) or pass `--force`"
    )]
    InterfaceActive {
        /// The PCI address of the device.
        addr: String,
        /// The kernel interface that carries routes.
        iface: String,
    },

    /// vfio-pci is not registered as a PCI driver and could not be loaded.
    #[error(
        "the vfio-pci driver is not loaded ({detail}): load it with `modprobe vfio-pci` \
             (the module ships with the kernel: CONFIG_VFIO_PCI)"
    )]
    VfioPciNotLoaded {
        /// Why: the driver directory is missing, or what `modprobe` said.
        detail: String,
    },

    /// The kernel did not move a device to vfio-pci after `bind` asked it to.
    #[error("{addr} is still {} after asking vfio-pci to take it: the kernel refused; \
             look at `dmesg | tail` for the reason (often: IOMMU group not viable or vfio-pci rejected the device)",
             match .driver { Some(d) => format!("on {d}"), None => "unbound".to_string() })]
    BindDidNotTake {
        /// The PCI address of the device.
        addr: String,
        /// The driver it is on now; `None` if it is unbound.
        driver: Option<String>,
    },

    /// `/dev/vfio/vfio` is missing: the VFIO modules are not loaded.
    #[error("{path} does not exist, so the VFIO modules are not loaded: run `modprobe vfio-pci`")]
    ContainerMissing {
        /// The container node, normally `/dev/vfio/vfio`.
        path: PathBuf,
    },

    /// `/dev/vfio/N` is missing: no device of the group is on vfio-pci.
    #[error(
        "{path} does not exist: no device of IOMMU group {group} is bound to vfio-pci; \
             run `vfio-netmap bind ADDR` for the device(s) of that group"
    )]
    GroupMissing {
        /// The group node that is missing.
        path: PathBuf,
        /// The IOMMU group number.
        group: u32,
    },

    /// Opening a VFIO node was refused for lack of permission.
    #[error(
        "permission denied opening {path}: run as root, or hand the group to your user with \
             `sudo vfio-netmap bind --user $USER ADDR` (or `sudo chown $USER {path}`)"
    )]
    PermissionDenied {
        /// The node that could not be opened.
        path: PathBuf,
    },

    /// A VFIO group or device is already held by another process.
    #[error(
        "{path} is busy: another process (QEMU, DPDK, another vfio-netmap) holds it; \
             find it with `fuser -v {path}` and stop it"
    )]
    Busy {
        /// The node that is busy.
        path: PathBuf,
    },

    /// The kernel's VFIO API version is not the one vfio-netmap speaks.
    #[error(
        "this kernel speaks VFIO API version {found}, vfio-netmap speaks 0: use a kernel with the standard VFIO API (Linux 3.6 or later)"
    )]
    ApiVersion {
        /// The version the kernel reports.
        found: i32,
    },

    /// The kernel's VFIO lacks the IOMMU backend the container needs (Type1v2,
    /// or no-IOMMU when asked for).
    #[error("the kernel's VFIO has no {iommu} IOMMU backend: {fix}")]
    IommuBackendMissing {
        /// The backend's name (`Type1v2` or `no-IOMMU`).
        iommu: &'static str,
        /// How to load it.
        fix: &'static str,
    },

    /// A VFIO ioctl (or mmap) failed for a reason without a variant of its own.
    #[error("{op} failed on {target}: {source}; `dmesg | tail` usually says why")]
    Ioctl {
        /// The operation, e.g. `VFIO_GROUP_SET_CONTAINER`.
        op: &'static str,
        /// What it was done on: a device node, a device, a DMA range.
        target: String,
        /// The error the kernel returned.
        source: io::Error,
    },

    /// A file operation on sysfs, `/dev/vfio` or the state directory failed.
    #[error("{action} {path}: {source}; {fix}")]
    Io {
        /// What was being done to `path`, e.g. `opening` or `writing`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error the operation returned.
        source: io::Error,
        /// What to do about it at this call site.
        fix: &'static str,
    },

    /// The kernel refused to pin memory for DMA (ENOMEM or EPERM), most likely
    /// because of the locked-memory limit.
    #[error("mapping {len} bytes for DMA failed ({source}): the locked-memory limit (RLIMIT_MEMLOCK) is {}, \
             at least {needed} bytes are needed; raise it with `ulimit -l unlimited` in the launching shell \
             or `prlimit --pid PID --memlock=unlimited`, or run as root",
             match .limit { Some(l) => format!("{l} bytes"), None => "unknown".to_string() })]
    MemlockTooLow {
        /// The size of the mapping that failed, in bytes.
        len: usize,
        /// The bytes mapped for DMA in this container, this mapping included.
        needed: u64,
        /// RLIMIT_MEMLOCK in bytes; `None` when unlimited or unreadable.
        limit: Option<u64>,
        /// The error the kernel returned.
        source: io::Error,
    },

    /// The IOMMU driver holds as many DMA mappings as it allows (ENOSPC).
    #[error(
        "the IOMMU refused another DMA mapping ({source}): the vfio_iommu_type1 `dma_entry_limit` \
             (65535 by default) is reached; map fewer, larger buffers or raise it: \
             `modprobe vfio_iommu_type1 dma_entry_limit=N`"
    )]
    DmaEntryLimit {
        /// The error the kernel returned.
        source: io::Error,
    },

    /// A DMA mapping was asked for memory that is empty or not in whole,
    /// aligned IOMMU pages.
    #[error(
        "DMA range {vaddr:#x}+{len:#x} is not aligned to the IOMMU page size {page:#x}: \
             allocate DMA memory page-aligned and in whole pages (the mem module's regions are)"
    )]
    DmaUnaligned {
        /// Start of the memory, as a virtual address.
        vaddr: usize,
        /// The length asked for, in bytes.
        len: usize,
        /// The IOMMU page size, in bytes.
        page: u64,
    },

    /// No free range of device addresses (IOVAs) is large enough for a new DMA mapping.
    #[error(
        "no free IOVA range of {len:#x} bytes left in the IOMMU's usable ranges ({ranges}): \
             unmap DMA buffers that are no longer used, or use fewer, larger buffers"
    )]
    IovaExhausted {
        /// The size asked for, in bytes.
        len: u64,
        /// The IOMMU's usable IOVA ranges, as text.
        ranges: String,
    },

    /// `unmap_dma` was given an IOVA and length that no `map_dma` call returned.
    #[error(
        "unmap_dma({iova:#x}, {len:#x}) does not match a mapping made by map_dma: \
             pass exactly the IOVA map_dma returned and the length given to it"
    )]
    NotMapped {
        /// The IOVA given.
        iova: u64,
        /// The length given, in bytes.
        len: usize,
    },

    /// Memory was mapped for DMA before any device was opened on the container.
    #[error(
        "DMA mapping needs an IOMMU attached to the container: open a device on it first \
             (Device::open), then map memory"
    )]
    NoIommuYet,

    /// A VFIO reset was asked of a device that offers neither FLR nor PM reset.
    #[error(
        "{addr} offers no VFIO reset (no FLR or PM reset): reset it through its own registers \
             instead (e1000 family: set CTRL.RST and wait for it to clear)"
    )]
    ResetUnsupported {
        /// The PCI address of the device.
        addr: String,
    },

    /// A BAR cannot be memory-mapped: it does not exist, or VFIO does not allow mmap of it.
    #[error(
        "BAR{bar} of {addr} cannot be mmapped ({reason}): access it with region reads/writes \
             (Device::read_region) or use another BAR"
    )]
    BarNotMappable {
        /// The PCI address of the device.
        addr: String,
        /// The BAR's index (0-5).
        bar: u32,
        /// Why it cannot be mapped.
        reason: String,
    },

    /// More interrupt vectors of a kind were asked for than the device offers, or none.
    #[error("{addr} offers {available} {kind} interrupt vector(s), {requested} requested: ask for at most {available}{}",
        if *.available == 0 { " (none: use another interrupt type, or poll)" } else { "" })]
    IrqUnavailable {
        /// The PCI address of the device.
        addr: String,
        /// The interrupt type: `INTx`, `MSI` or `MSI-X`.
        kind: &'static str,
        /// How many vectors were asked for.
        requested: u32,
        /// How many vectors the device offers.
        available: u32,
    },

    /// No-IOMMU mode could not find the physical address of memory to map for DMA.
    #[error(
        "no-IOMMU mode: no physical address for virtual address {vaddr:#x}: {reason}; \
             /proc/self/pagemap shows real frame numbers only to CAP_SYS_ADMIN: run as root, \
             and lock the memory (mlock) before mapping it"
    )]
    NoPhysicalAddress {
        /// Start of the memory, as a virtual address.
        vaddr: usize,
        /// Why: `/proc/self/pagemap` could not be read, or a page is not resident
        /// or its frame number is hidden.
        reason: String,
    },

    /// No-IOMMU mode was asked to map memory that is not physically contiguous.
    #[error(
        "no-IOMMU mode: the range {vaddr:#x}+{len:#x} is not physically contiguous: \
             the device needs one contiguous block per mapping without an IOMMU; use hugepage-backed \
             buffers no larger than one hugepage"
    )]
    NotPhysicallyContiguous {
        /// Start of the memory, as a virtual address.
        vaddr: usize,
        /// Its length, in bytes.
        len: usize,
    },

    /// The device is not one a vfio-netmap NIC driver can run.
    #[error(
        "{addr} {}: open one of the supported NICs instead (`vfio-netmap status` names each \
         device and whether it is supported); supported: {}",
        unsupported_what(*.vendor, *.device),
        supported_list()
    )]
    UnsupportedDevice {
        /// The PCI address, as given.
        addr: String,
        /// Its PCI vendor id.
        vendor: u16,
        /// Its PCI device id.
        device: u16,
    },

    /// A `--user` or `--group` name matches no user or group.
    #[error("unknown {what} `{name}`: give an existing {what} name or a numeric id")]
    UnknownOwner {
        /// `user` or `group`.
        what: &'static str,
        /// The name, as given.
        name: String,
    },

    // ---- NIC drivers ----
    /// A port asked an e1000-family NIC for more than its one queue pair
    /// (`@conf:rings=N` or a queue suffix other than `-0`).
    #[error(
        "{addr} is an {model}, which this driver runs with one queue pair; {asked} asks for \
         more: open `vfio:{addr}` without `@conf:rings` or a queue suffix"
    )]
    OneQueuePair {
        /// The PCI address, as given.
        addr: String,
        /// The NIC model.
        model: &'static str,
        /// What asked for more, e.g. `` `@conf:rings=2` `` or `` queue 1 (`-1`) ``.
        asked: String,
    },

    /// The NIC's registers read all-ones: it is gone or its BAR is not reachable.
    #[error(
        "{device} reads all-ones: it was removed, or its BAR is not mapped (check `vfio-netmap \
         status`, and that no other process reset it)"
    )]
    DeviceRemoved {
        /// The device, as `ADDR (model)`.
        device: String,
    },

    /// The NIC did not clear its reset bit in time.
    #[error(
        "{device} did not finish its reset ({what} still set after {waited:?}); reset the device \
         (`vfio-netmap unbind` then `bind` it again)"
    )]
    ResetTimeout {
        /// The device, as `ADDR (model)`.
        device: String,
        /// The bit still set, e.g. `CTRL.RST`.
        what: &'static str,
        /// How long the driver waited.
        waited: std::time::Duration,
    },

    /// The ring size asked for is one the NIC cannot use.
    #[error(
        "{slots} descriptors per ring is not supported by {device}: use a multiple of {multiple} \
         between {min} and {max} (e.g. `@conf:slots=1024`)"
    )]
    BadRingSize {
        /// The device, as `ADDR (model)`.
        device: String,
        /// The descriptors per ring asked for.
        slots: u32,
        /// Ring sizes must be a multiple of this.
        multiple: u32,
        /// The smallest ring size the NIC takes.
        min: u32,
        /// The largest ring size the NIC takes.
        max: u32,
    },

    /// Creating or using a memory region failed.
    #[error(transparent)]
    Mem(#[from] crate::mem::MemError),

    /// A wait while opening a device gave up because a cancellation was
    /// requested (`api::cancel::request`, which the tools' SIGINT/SIGTERM
    /// handlers call).
    #[error(
        "{device}: interrupted (SIGINT/SIGTERM) while waiting for {what}; nothing is wrong with \
         the device: open it again (with a shorter `@conf:link-wait=SECS` if its link is down)"
    )]
    Interrupted {
        /// The device, as `ADDR (model)`, or the port name.
        device: String,
        /// What the driver was waiting for, e.g. "the link".
        what: &'static str,
    },

    /// The ixgbe driver failed to set up or run the NIC.
    #[error("{device}: {source}")]
    Ixgbe {
        /// The device, as `ADDR (chip)`, or the port name.
        device: String,
        /// What went wrong in the ixgbe driver.
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
