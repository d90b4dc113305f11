//! 8254x/82574 register offsets and bits used by the driver, checked against
//! Intel's 8254x and 82574 manuals, Linux's e1000/e1000e headers and QEMU's
//! e1000_regs.h.

pub const CTRL: usize = 0x0000;
pub const STATUS: usize = 0x0008;
pub const EERD: usize = 0x0014;
pub const ICR: usize = 0x00c0;
pub const IMS: usize = 0x00d0;
pub const IMC: usize = 0x00d8;
pub const RCTL: usize = 0x0100;
pub const TCTL: usize = 0x0400;
pub const TIPG: usize = 0x0410;
pub const RDBAL: usize = 0x2800;
pub const RDBAH: usize = 0x2804;
pub const RDLEN: usize = 0x2808;
pub const RDH: usize = 0x2810;
pub const RDT: usize = 0x2818;
pub const RDTR: usize = 0x2820;
pub const TDBAL: usize = 0x3800;
pub const TDBAH: usize = 0x3804;
pub const TDLEN: usize = 0x3808;
pub const TDH: usize = 0x3810;
pub const TDT: usize = 0x3818;
pub const TIDV: usize = 0x3820;
pub const MTA: usize = 0x5200;
pub const MTA_ENTRIES: usize = 128;
pub const RAL0: usize = 0x5400;
pub const RAH0: usize = 0x5404;

pub const CTRL_FD: u32 = 1 << 0;
pub const CTRL_ASDE: u32 = 1 << 5;
pub const CTRL_SLU: u32 = 1 << 6;
pub const CTRL_RST: u32 = 1 << 26;
pub const CTRL_PHY_RST: u32 = 1 << 31;

pub const STATUS_FD: u32 = 1 << 0;
pub const STATUS_LU: u32 = 1 << 1;
pub const STATUS_SPEED_SHIFT: u32 = 6;

pub const RCTL_EN: u32 = 1 << 1;
pub const RCTL_UPE: u32 = 1 << 3;
pub const RCTL_MPE: u32 = 1 << 4;
pub const RCTL_BAM: u32 = 1 << 15;
/// BSIZE = 00 with BSEX = 0: 2048-byte buffers.
pub const RCTL_BSIZE_2048: u32 = 0;
pub const RCTL_SECRC: u32 = 1 << 26;

pub const TCTL_EN: u32 = 1 << 1;
pub const TCTL_PSP: u32 = 1 << 3;
pub const TCTL_CT_SHIFT: u32 = 4;
pub const TCTL_COLD_SHIFT: u32 = 12;
/// Collision threshold 15 and full-duplex collision distance 64 bytes.
pub const TCTL_DEFAULT: u32 =
    TCTL_EN | TCTL_PSP | (0x0f << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT);
/// IPGT 10, IPGR1 8, IPGR2 6: the manual's values for copper.
pub const TIPG_DEFAULT: u32 = 10 | (8 << 10) | (6 << 20);

pub const RAH_AV: u32 = 1 << 31;

/// Interrupt causes: TX descriptor written back, RX timer (packet), link
/// status change, RX descriptors below threshold, RX overrun.
pub const ICR_TXDW: u32 = 1 << 0;
pub const ICR_LSC: u32 = 1 << 2;
pub const ICR_RXDMT0: u32 = 1 << 4;
pub const ICR_RXO: u32 = 1 << 6;
pub const ICR_RXT0: u32 = 1 << 7;

/// EERD on 82540EM/82545EM: start bit 0, done bit 4, address at bit 8.
pub const EERD_START: u32 = 1 << 0;
pub const EERD_DONE_8254X: u32 = 1 << 4;
pub const EERD_ADDR_SHIFT_8254X: u32 = 8;
/// EERD on 82574L: done bit 1, address at bit 2.
pub const EERD_DONE_82574: u32 = 1 << 1;
pub const EERD_ADDR_SHIFT_82574: u32 = 2;
pub const EERD_DATA_SHIFT: u32 = 16;

/// Statistics (clear on read).
pub mod stats {
    pub const CRCERRS: usize = 0x4000;
    pub const MPC: usize = 0x4010;
    pub const GPRC: usize = 0x4074;
    pub const GPTC: usize = 0x4080;
    pub const GORCL: usize = 0x4088;
    pub const GORCH: usize = 0x408c;
    pub const GOTCL: usize = 0x4090;
    pub const GOTCH: usize = 0x4094;
    pub const RNBC: usize = 0x40a0;
    pub const TPR: usize = 0x40d0;
    pub const TPT: usize = 0x40d4;
}
