//! 8254x/82574 register offsets and bits used by the driver, checked against
//! Intel's 8254x and 82574 manuals, Linux's e1000/e1000e headers and QEMU's
//! e1000_regs.h.

/// Device Control (CTRL).
pub const CTRL: usize = 0x0000;
/// Device Status (STATUS).
pub const STATUS: usize = 0x0008;
/// EEPROM Read (EERD): reads one 16-bit EEPROM word.
pub const EERD: usize = 0x0014;
/// Interrupt Cause Read (ICR): pending causes, cleared by the read.
pub const ICR: usize = 0x00c0;
/// Interrupt Mask Set/Read (IMS): writing 1s enables those causes.
pub const IMS: usize = 0x00d0;
/// Interrupt Mask Clear (IMC): writing 1s disables those causes.
pub const IMC: usize = 0x00d8;
/// Receive Control (RCTL).
pub const RCTL: usize = 0x0100;
/// Transmit Control (TCTL).
pub const TCTL: usize = 0x0400;
/// Transmit Inter Packet Gap (TIPG).
pub const TIPG: usize = 0x0410;
/// Receive Descriptor Base Address Low (RDBAL): low 32 bits of the RX ring's address.
pub const RDBAL: usize = 0x2800;
/// Receive Descriptor Base Address High (RDBAH): high 32 bits of the RX ring's address.
pub const RDBAH: usize = 0x2804;
/// Receive Descriptor Length (RDLEN): RX ring size in bytes, a multiple of 128.
pub const RDLEN: usize = 0x2808;
/// Receive Descriptor Head (RDH): the next descriptor the device will fill.
pub const RDH: usize = 0x2810;
/// Receive Descriptor Tail (RDT): the last descriptor the driver gave the device, plus one.
pub const RDT: usize = 0x2818;
/// Receive Delay Timer (RDTR): delay of the RX timer interrupt; 0 disables it.
pub const RDTR: usize = 0x2820;
/// Transmit Descriptor Base Address Low (TDBAL): low 32 bits of the TX ring's address.
pub const TDBAL: usize = 0x3800;
/// Transmit Descriptor Base Address High (TDBAH): high 32 bits of the TX ring's address.
pub const TDBAH: usize = 0x3804;
/// Transmit Descriptor Length (TDLEN): TX ring size in bytes, a multiple of 128.
pub const TDLEN: usize = 0x3808;
/// Transmit Descriptor Head (TDH): the next descriptor the device will send.
pub const TDH: usize = 0x3810;
/// Transmit Descriptor Tail (TDT): the last descriptor the driver queued, plus one.
pub const TDT: usize = 0x3818;
/// Transmit Interrupt Delay Value (TIDV): delay of the TX write-back interrupt.
pub const TIDV: usize = 0x3820;
/// Multicast Table Array (MTA): the first of the [`MTA_ENTRIES`] 32-bit
/// registers of the multicast hash filter.
pub const MTA: usize = 0x5200;
/// Number of 32-bit MTA registers (4096 hash bits).
pub const MTA_ENTRIES: usize = 128;
/// Receive Address Low 0 (RAL0): low 32 bits of the first unicast address filter entry.
pub const RAL0: usize = 0x5400;
/// Receive Address High 0 (RAH0): high 16 bits of that MAC address and the valid bit.
pub const RAH0: usize = 0x5404;

/// CTRL.FD: full duplex.
pub const CTRL_FD: u32 = 1 << 0;
/// CTRL.ASDE: auto-speed detection enable.
pub const CTRL_ASDE: u32 = 1 << 5;
/// CTRL.SLU: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL.RST: device reset, self-clearing.
pub const CTRL_RST: u32 = 1 << 26;
/// CTRL.PHY_RST: PHY reset.
pub const CTRL_PHY_RST: u32 = 1 << 31;

/// STATUS.FD: link is full duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS.LU: link up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS.SPEED (bits 7:6): 00 10 Mb/s, 01 100 Mb/s, 1x 1000 Mb/s.
pub const STATUS_SPEED_SHIFT: u32 = 6;

/// RCTL.EN: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL.UPE: unicast promiscuous enable.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL.MPE: multicast promiscuous enable.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL.BAM: broadcast accept mode.
pub const RCTL_BAM: u32 = 1 << 15;
/// BSIZE = 00 with BSEX = 0: 2048-byte buffers.
pub const RCTL_BSIZE_2048: u32 = 0;
/// RCTL.SECRC: strip the Ethernet CRC from received packets.
pub const RCTL_SECRC: u32 = 1 << 26;

/// TCTL.EN: transmitter enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL.PSP: pad short packets to 64 bytes.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL.CT (bits 11:4): collision threshold.
pub const TCTL_CT_SHIFT: u32 = 4;
/// TCTL.COLD (bits 21:12): collision distance.
pub const TCTL_COLD_SHIFT: u32 = 12;
/// Collision threshold 15 and full-duplex collision distance 64 bytes.
pub const TCTL_DEFAULT: u32 =
    TCTL_EN | TCTL_PSP | (0x0f << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT);
/// IPGT 10, IPGR1 8, IPGR2 6: the manual's values for copper.
pub const TIPG_DEFAULT: u32 = 10 | (8 << 10) | (6 << 20);

/// RAH.AV: the receive address entry is valid.
pub const RAH_AV: u32 = 1 << 31;

/// Interrupt causes: TX descriptor written back, RX timer (packet), link
/// status change, RX descriptors below threshold, RX overrun.
pub const ICR_TXDW: u32 = 1 << 0;
/// ICR.LSC: link status change.
pub const ICR_LSC: u32 = 1 << 2;
/// ICR.RXDMT0: free RX descriptors fell below the minimum threshold.
pub const ICR_RXDMT0: u32 = 1 << 4;
/// ICR.RXO: receiver overrun.
pub const ICR_RXO: u32 = 1 << 6;
/// ICR.RXT0: receiver timer interrupt (a packet was received).
pub const ICR_RXT0: u32 = 1 << 7;

/// EERD on 82540EM/82545EM: start bit 0, done bit 4, address at bit 8.
pub const EERD_START: u32 = 1 << 0;
/// EERD.DONE on 82540EM/82545EM (bit 4): the read has completed.
pub const EERD_DONE_8254X: u32 = 1 << 4;
/// EERD.ADDR on 82540EM/82545EM: word address field starts at bit 8.
pub const EERD_ADDR_SHIFT_8254X: u32 = 8;
/// EERD on 82574L: done bit 1, address at bit 2.
pub const EERD_DONE_82574: u32 = 1 << 1;
/// EERD.ADDR on 82574L: word address field starts at bit 2.
pub const EERD_ADDR_SHIFT_82574: u32 = 2;
/// EERD.DATA (bits 31:16): the word read.
pub const EERD_DATA_SHIFT: u32 = 16;

/// Statistics (clear on read).
pub mod stats {
    /// CRC Error Count (CRCERRS).
    pub const CRCERRS: usize = 0x4000;
    /// Missed Packets Count (MPC): packets dropped for lack of RX buffer space.
    pub const MPC: usize = 0x4010;
    /// Good Packets Received Count (GPRC).
    pub const GPRC: usize = 0x4074;
    /// Good Packets Transmitted Count (GPTC).
    pub const GPTC: usize = 0x4080;
    /// Good Octets Received Count, low 32 bits (GORCL).
    pub const GORCL: usize = 0x4088;
    /// Good Octets Received Count, high 32 bits (GORCH).
    pub const GORCH: usize = 0x408c;
    /// Good Octets Transmitted Count, low 32 bits (GOTCL).
    pub const GOTCL: usize = 0x4090;
    /// Good Octets Transmitted Count, high 32 bits (GOTCH).
    pub const GOTCH: usize = 0x4094;
    /// Receive No Buffers Count (RNBC): times no RX descriptor was available.
    pub const RNBC: usize = 0x40a0;
    /// Total Packets Received (TPR).
    pub const TPR: usize = 0x40d0;
    /// Total Packets Transmitted (TPT).
    pub const TPT: usize = 0x40d4;
}
