//! PCI configuration space and BAR layout, parsed from bytes so the same code
//! serves sysfs `config`/`resource` files and VFIO's config region.

use std::fmt;

/// Offset of the command register in config space.
pub const COMMAND: usize = 0x04;
/// Offset of the status register.
pub const STATUS: usize = 0x06;
/// Offset of the pointer to the first capability.
pub const CAPABILITIES_POINTER: usize = 0x34;
/// Offset of the interrupt pin register (0: no INTx).
pub const INTERRUPT_PIN: usize = 0x3d;

/// Command register bit: the device answers I/O-port accesses.
pub const COMMAND_IO_SPACE: u16 = 1 << 0;
/// Command register bit: the device answers memory accesses (its memory BARs).
pub const COMMAND_MEMORY_SPACE: u16 = 1 << 1;
/// Command register bit: the device may do DMA.
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// Command register bit: legacy INTx interrupts are masked.
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;
const STATUS_CAP_LIST: u16 = 1 << 4;

const CAP_PM: u8 = 0x01;
const CAP_MSI: u8 = 0x05;
const CAP_PCIE: u8 = 0x10;
const CAP_MSIX: u8 = 0x11;
const CAP_AF: u8 = 0x13;

/// What the config space says about interrupts and reset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigSummary {
    /// PCI vendor id (0xffff when config space could not be read).
    pub vendor: u16,
    /// PCI device id (0xffff when config space could not be read).
    pub device: u16,
    /// The command register (see the `COMMAND_*` bits).
    pub command: u16,
    /// INTx pin (1 = INTA#); `None` when the device has no legacy interrupt.
    pub intx_pin: Option<u8>,
    /// MSI vectors the device can request (1, 2, 4, ..., 32).
    pub msi_vectors: Option<u32>,
    /// The MSI-X capability, if the device has one.
    pub msix: Option<MsixCapability>,
    /// Function-level reset through the PCIe or AF capability.
    pub flr: bool,
    /// PM capability present and it resets the device on D3hot -> D0.
    pub pm_reset: bool,
    /// Whether the device has a PCI Express capability.
    pub is_pcie: bool,
}

/// Where a device keeps its MSI-X vector table and pending-bit array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixCapability {
    /// How many vectors the table holds.
    pub vectors: u32,
    /// The BAR holding the vector table.
    pub table_bar: u8,
    /// Offset of the table in that BAR.
    pub table_offset: u32,
    /// The BAR holding the pending-bit array.
    pub pba_bar: u8,
    /// Offset of the pending-bit array in that BAR.
    pub pba_offset: u32,
}

fn u16_at(cfg: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(cfg.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(cfg: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(cfg.get(off..off + 4)?.try_into().ok()?))
}

/// Parses the standard header and the capability list. A truncated buffer
/// (an unprivileged read of sysfs `config` yields only 64 bytes) gives what
/// it can: capabilities past the end are simply not reported.
pub fn parse_config(cfg: &[u8]) -> ConfigSummary {
    let mut s = ConfigSummary {
        vendor: u16_at(cfg, 0).unwrap_or(0xffff),
        device: u16_at(cfg, 2).unwrap_or(0xffff),
        command: u16_at(cfg, COMMAND).unwrap_or(0),
        intx_pin: cfg.get(INTERRUPT_PIN).copied().filter(|&p| p != 0),
        ..Default::default()
    };
    if u16_at(cfg, STATUS).unwrap_or(0) & STATUS_CAP_LIST == 0 {
        return s;
    }
    let mut ptr = cfg.get(CAPABILITIES_POINTER).map_or(0, |p| p & !3) as usize;
    // A malformed or hostile list could loop; 48 is the most that fits in 256 bytes.
    for _ in 0..48 {
        if ptr < 0x40 {
            break;
        }
        let (Some(&id), Some(&next)) = (cfg.get(ptr), cfg.get(ptr + 1)) else {
            break;
        };
        match id {
            CAP_PM => {
                if let Some(pmcsr) = u16_at(cfg, ptr + 4) {
                    const NO_SOFT_RESET: u16 = 1 << 3;
                    s.pm_reset = pmcsr & NO_SOFT_RESET == 0;
                }
            }
            CAP_MSI => {
                if let Some(control) = u16_at(cfg, ptr + 2) {
                    s.msi_vectors = Some(1 << ((control >> 1) & 0x7).min(5));
                }
            }
            CAP_MSIX => {
                if let (Some(control), Some(table), Some(pba)) = (
                    u16_at(cfg, ptr + 2),
                    u32_at(cfg, ptr + 4),
                    u32_at(cfg, ptr + 8),
                ) {
                    s.msix = Some(MsixCapability {
                        vectors: u32::from(control & 0x7ff) + 1,
                        table_bar: (table & 7) as u8,
                        table_offset: table & !7,
                        pba_bar: (pba & 7) as u8,
                        pba_offset: pba & !7,
                    });
                }
            }
            CAP_PCIE => {
                s.is_pcie = true;
                const DEVCAP_FLR: u32 = 1 << 28;
                s.flr |= u32_at(cfg, ptr + 4).is_some_and(|devcap| devcap & DEVCAP_FLR != 0);
            }
            CAP_AF => {
                const AF_CAP_TP_FLR: u8 = 0x3;
                s.flr |= cfg
                    .get(ptr + 3)
                    .is_some_and(|c| c & AF_CAP_TP_FLR == AF_CAP_TP_FLR);
            }
            _ => {}
        }
        ptr = (next & !3) as usize;
    }
    s
}

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// Memory, below 4 GiB (a 32-bit BAR).
    Memory32,
    /// Memory, anywhere in the 64-bit space (a 64-bit BAR, two slots wide).
    Memory64,
    /// I/O ports.
    Io,
}

/// One BAR from sysfs `resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarInfo {
    /// The BAR number (0-5).
    pub index: u8,
    /// Its start address, as the kernel assigned it.
    pub start: u64,
    /// Its size in bytes.
    pub size: u64,
    /// What it decodes.
    pub kind: BarKind,
    /// Whether it is marked prefetchable.
    pub prefetchable: bool,
}

impl fmt::Display for BarInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            BarKind::Memory32 => "memory, 32-bit",
            BarKind::Memory64 => "memory, 64-bit",
            BarKind::Io => "I/O ports",
        };
        let prefetch = if self.prefetchable {
            ", prefetchable"
        } else {
            ""
        };
        write!(
            f,
            "BAR{}: {:#x} size {} ({kind}{prefetch})",
            self.index,
            self.start,
            human_size(self.size)
        )
    }
}

/// A byte count for people: whole GiB, MiB or KiB when exact, bytes otherwise.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_MEM_64: u64 = 0x0010_0000;

/// Parses sysfs `resource`: one `start end flags` line per resource, the first
/// six being BAR0-5. Unused BARs (all zero) are skipped.
pub fn parse_resource(text: &str) -> Vec<BarInfo> {
    let mut bars = Vec::new();
    for (index, line) in text.lines().take(6).enumerate() {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
            .collect();
        let [start, end, flags] = fields[..] else {
            continue;
        };
        if end == 0 || end < start {
            continue;
        }
        let kind = if flags & IORESOURCE_IO != 0 {
            BarKind::Io
        } else if flags & IORESOURCE_MEM_64 != 0 {
            BarKind::Memory64
        } else {
            BarKind::Memory32
        };
        bars.push(BarInfo {
            index: index as u8,
            start,
            size: end - start + 1,
            kind,
            prefetchable: flags & IORESOURCE_PREFETCH != 0,
        });
    }
    bars
}
