//! 82599 / X540 / X550 register offsets and bits the driver uses.
//!
//! Each group names the section of the Intel 82599 10 GbE Controller
//! Datasheet (rev. 3.x) that describes it; every offset and bit was checked
//! against Linux's `drivers/net/ethernet/intel/ixgbe/ixgbe_type.h`. X540 and
//! X550 keep these offsets for everything used here (their EEC/SWSM moves on
//! X550EM_a only, which the driver does not touch).
//!
//! Per-queue registers are functions of the queue index; queues 0..64 are
//! the ones with per-queue blocks at 0x1000 (RX) and 0x6000 (TX).

/// Queue pairs the driver can use (the RX/TX blocks below 0x2000 / 0x8000).
pub const MAX_QUEUES: usize = 64;
/// Queues an RSS redirection table entry can name on the 82599 (4-bit
/// entries; datasheet 7.1.2.8.2).
pub const MAX_RSS_QUEUES: usize = 16;

// ---- 8.2.3.1 General control --------------------------------------------
/// Device Control (8.2.3.1.1).
pub const CTRL: usize = 0x0_0000;
/// Device Status (8.2.3.1.2).
pub const STATUS: usize = 0x0_0008;
/// Extended Device Control (8.2.3.1.3).
pub const CTRL_EXT: usize = 0x0_0018;

/// CTRL.LRST: link reset (8.2.3.1.1, bit 3).
pub const CTRL_LRST: u32 = 1 << 3;
/// CTRL.RST: device reset, self-clearing (8.2.3.1.1, bit 26).
pub const CTRL_RST: u32 = 1 << 26;
/// Both reset bits, as the datasheet's init sequence sets them (4.6.3.2).
pub const CTRL_RST_MASK: u32 = CTRL_LRST | CTRL_RST;
/// CTRL_EXT.NS_DIS: no-snoop disable (8.2.3.1.3, bit 16).
pub const CTRL_EXT_NS_DIS: u32 = 1 << 16;
/// CTRL_EXT.DRV_LOAD: driver loaded, for the firmware (8.2.3.1.3, bit 28).
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

// ---- 8.2.3.2 EEPROM / flash ---------------------------------------------
/// EEPROM/Flash Control (8.2.3.2.1).
pub const EEC: usize = 0x1_0010;
/// EEC.ARD: EEPROM auto-read done (8.2.3.2.1, bit 9).
pub const EEC_ARD: u32 = 1 << 9;

// ---- 8.2.3.5 Interrupts ---------------------------------------------------
/// Extended Interrupt Cause Read (8.2.3.5.1).
pub const EICR: usize = 0x0_0800;
/// Extended Interrupt Cause Set (8.2.3.5.3).
pub const EICS: usize = 0x0_0808;
/// Extended Interrupt Mask Set/Read (8.2.3.5.4).
pub const EIMS: usize = 0x0_0880;
/// Extended Interrupt Mask Clear (8.2.3.5.5).
pub const EIMC: usize = 0x0_0888;
/// Extended Interrupt Auto Clear (8.2.3.5.6).
pub const EIAC: usize = 0x0_0810;
/// General Purpose Interrupt Enable (8.2.3.5.18).
pub const GPIE: usize = 0x0_0898;
/// Every EIMC bit that is not reserved: bit 31 is reserved on the 82599
/// (8.2.3.5.5) and must not be written (ixy.rs issue #29).
pub const EIMC_VALID_MASK: u32 = 0x7fff_ffff;
/// EICR/EIMS: RX/TX queue causes (bits 15:0), link status change (bit 20).
pub const EICR_RTX_QUEUE: u32 = 0x0000_ffff;
/// EICR.LSC: link status change (bit 20).
pub const EICR_LSC: u32 = 1 << 20;
/// GPIE: MSI-X mode (bit 4), EIAME (bit 30), PBA support (bit 31).
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
/// GPIE.EIAME: extended interrupt auto-mask enable (bit 30).
pub const GPIE_EIAME: u32 = 1 << 30;
/// GPIE.PBA_SUPPORT: MSI-X pending bit array support (bit 31).
pub const GPIE_PBA_SUPPORT: u32 = 1 << 31;

/// Interrupt Throttle Register of vector `v` (8.2.3.5.12; vectors 0..24 at
/// 0x820, 24..64 at 0x12300).
pub const fn eitr(v: usize) -> usize {
    if v < 24 {
        0x0_0820 + 4 * v
    } else {
        0x1_2300 + 4 * (v - 24)
    }
}
/// EITR interval field: bits 11:3, in 2 us units (8.2.3.5.12).
pub const EITR_ITR_MASK: u32 = 0x0000_0ff8;
/// EITR.CNT_WDIS: don't touch the counter on write (bit 31).
pub const EITR_CNT_WDIS: u32 = 1 << 31;
/// Interrupt Vector Allocation register `i` (8.2.3.5.16): each covers RX and
/// TX of queues 2i and 2i+1, one byte each: [RX 2i, TX 2i, RX 2i+1, TX 2i+1].
pub const fn ivar(i: usize) -> usize {
    0x0_0900 + 4 * i
}
/// IVAR entry valid bit (bit 7 of each byte).
pub const IVAR_ALLOC_VAL: u32 = 0x80;
/// IVAR for "other causes" (8.2.3.5.17).
pub const IVAR_MISC: usize = 0x0_0a00;

// ---- 8.2.3.7 Receive filters, RSS ----------------------------------------
/// Filter Control (8.2.3.7.1). Write only while RXCTRL.RXEN is clear.
pub const FCTRL: usize = 0x0_5080;
/// FCTRL.MPE multicast promiscuous (bit 8), UPE unicast promiscuous (bit 9),
/// BAM broadcast accept (bit 10).
pub const FCTRL_MPE: u32 = 1 << 8;
/// FCTRL.UPE: unicast promiscuous enable (bit 9).
pub const FCTRL_UPE: u32 = 1 << 9;
/// FCTRL.BAM: broadcast accept mode (bit 10).
pub const FCTRL_BAM: u32 = 1 << 10;
/// Receive Checksum Control (8.2.3.7.2).
pub const RXCSUM: usize = 0x0_5000;
/// RXCSUM.PCSD (bit 13): report the RSS hash in the receive write-back
/// instead of the fragment checksum.
pub const RXCSUM_PCSD: u32 = 1 << 13;
/// Multicast Table Array, 128 entries (8.2.3.7.7).
pub const fn mta(i: usize) -> usize {
    0x0_5200 + 4 * i
}
/// Number of 32-bit MTA registers (4096 hash bits).
pub const MTA_ENTRIES: usize = 128;
/// Receive Address Low/High `i` (8.2.3.7.9, 8.2.3.7.10): entries 0..16 at
/// 0x5400.
pub const fn ral(i: usize) -> usize {
    0x0_5400 + 8 * i
}
/// Receive Address High `i`: high 16 bits of the MAC address and the valid bit.
pub const fn rah(i: usize) -> usize {
    0x0_5404 + 8 * i
}
/// RAH.AV: address valid (bit 31).
pub const RAH_AV: u32 = 1 << 31;
/// Multiple Receive Queues Command (8.2.3.7.12).
pub const MRQC: usize = 0x0_5818;
/// MRQC.MRQE = 0001b: RSS only (bits 3:0).
pub const MRQC_RSSEN: u32 = 0x1;
/// MRQC.MRQE: the multiple receive queues mode field (bits 3:0).
pub const MRQC_MRQE_MASK: u32 = 0xf;
/// MRQC RSS field enables (bits 31:16).
pub const MRQC_RSS_FIELD_IPV4_TCP: u32 = 1 << 16;
/// MRQC: hash IPv4 headers (bit 17).
pub const MRQC_RSS_FIELD_IPV4: u32 = 1 << 17;
/// MRQC: hash IPv6 headers (bit 20).
pub const MRQC_RSS_FIELD_IPV6: u32 = 1 << 20;
/// MRQC: hash IPv6/TCP headers (bit 21).
pub const MRQC_RSS_FIELD_IPV6_TCP: u32 = 1 << 21;
/// MRQC: hash IPv4/UDP headers (bit 22).
pub const MRQC_RSS_FIELD_IPV4_UDP: u32 = 1 << 22;
/// MRQC: hash IPv6/UDP headers (bit 23).
pub const MRQC_RSS_FIELD_IPV6_UDP: u32 = 1 << 23;
/// Redirection Table, 32 registers of four 8-bit entries (8.2.3.7.13).
pub const fn reta(i: usize) -> usize {
    0x0_5c00 + 4 * i
}
/// Number of RETA registers.
pub const RETA_REGS: usize = 32;
/// Number of redirection table entries (four per register).
pub const RETA_ENTRIES: usize = 128;
/// RSS Random Key, 10 registers = 40 bytes (8.2.3.7.14).
pub const fn rssrk(i: usize) -> usize {
    0x0_5c80 + 4 * i
}
/// Number of RSSRK registers.
pub const RSSRK_REGS: usize = 10;

// ---- 8.2.3.8 Receive DMA ---------------------------------------------------
const fn rxq(base: usize, q: usize) -> usize {
    base + 0x40 * q
}
/// Receive Descriptor Base Address Low (8.2.3.8.1).
pub const fn rdbal(q: usize) -> usize {
    rxq(0x0_1000, q)
}
/// Receive Descriptor Base Address High (8.2.3.8.2).
pub const fn rdbah(q: usize) -> usize {
    rxq(0x0_1004, q)
}
/// Receive Descriptor Length (8.2.3.8.3).
pub const fn rdlen(q: usize) -> usize {
    rxq(0x0_1008, q)
}
/// Receive Descriptor Head (8.2.3.8.4).
pub const fn rdh(q: usize) -> usize {
    rxq(0x0_1010, q)
}
/// Receive Descriptor Tail (8.2.3.8.5).
pub const fn rdt(q: usize) -> usize {
    rxq(0x0_1018, q)
}
/// Receive Descriptor Control (8.2.3.8.6).
pub const fn rxdctl(q: usize) -> usize {
    rxq(0x0_1028, q)
}
/// Split and Replication Receive Control (8.2.3.8.7): queues 0..16 at
/// 0x2100, the others in the per-queue block.
pub const fn srrctl(q: usize) -> usize {
    if q < 16 {
        0x0_2100 + 4 * q
    } else {
        rxq(0x0_1014, q)
    }
}
/// RX DCA Control (8.2.3.11.1): queues 0..16 at 0x2200.
pub const fn dca_rxctrl(q: usize) -> usize {
    if q < 16 {
        0x0_2200 + 4 * q
    } else {
        rxq(0x0_100c, q)
    }
}
/// DCA_RXCTRL bit 12: reserved, reset value 1, must be cleared for relaxed
/// ordering of descriptor write-back to work as ixy/Linux note.
pub const DCA_RXCTRL_BIT12: u32 = 1 << 12;
/// RXDCTL.ENABLE (bit 25).
pub const RXDCTL_ENABLE: u32 = 1 << 25;
/// SRRCTL.BSIZEPACKET: buffer size in KiB (bits 4:0).
pub const SRRCTL_BSIZEPKT_MASK: u32 = 0x1f;
/// SRRCTL.BSIZEHEADER (bits 13:8): header buffer size in 64-byte units.
pub const SRRCTL_BSIZEHDR_MASK: u32 = 0x3f00;
/// SRRCTL.DESCTYPE (bits 27:25) = 001b: advanced, one buffer.
pub const SRRCTL_DESCTYPE_MASK: u32 = 0x0e00_0000;
/// SRRCTL.DESCTYPE = 001b: advanced descriptors, one buffer.
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 0x0200_0000;
/// SRRCTL.DROP_EN: drop when the queue has no descriptors (bit 28).
pub const SRRCTL_DROP_EN: u32 = 1 << 28;
/// Receive DMA Control (8.2.3.8.8).
pub const RDRXCTL: usize = 0x0_2f00;
/// RDRXCTL.CRCSTRIP (bit 1): must match HLREG0.RXCRCSTRP.
pub const RDRXCTL_CRCSTRIP: u32 = 1 << 1;
/// RDRXCTL.DMAIDONE: DMA init done (bit 3, read only).
pub const RDRXCTL_DMAIDONE: u32 = 1 << 3;
/// RDRXCTL.RSCFRSTSIZE (bits 21:17): reset value 0x8, software sets 0.
pub const RDRXCTL_RSCFRSTSIZE: u32 = 0x003e_0000;
/// RDRXCTL.RSCACKC (bit 25) and FCOE_WRFIX (bit 26): reset value 0,
/// software sets 1 (8.2.3.8.8; ixy.rs issue #29).
pub const RDRXCTL_RSCACKC: u32 = 1 << 25;
/// RDRXCTL.FCOE_WRFIX (bit 26): reset value 0, software sets 1.
pub const RDRXCTL_FCOE_WRFIX: u32 = 1 << 26;
/// Receive Packet Buffer Size `i` (8.2.3.8.9): size in KiB at bits 19:10.
pub const fn rxpbsize(i: usize) -> usize {
    0x0_3c00 + 4 * i
}
/// Bit position of the size field (KiB) in RXPBSIZE and TXPBSIZE.
pub const PB_SIZE_SHIFT: u32 = 10;
/// Number of packet buffers (RXPBSIZE / TXPBSIZE registers).
pub const PACKET_BUFFERS: usize = 8;
/// Receive Control (8.2.3.8.10).
pub const RXCTRL: usize = 0x0_3000;
/// RXCTRL.RXEN (bit 0).
pub const RXCTRL_RXEN: u32 = 1 << 0;

// ---- 8.2.3.9 Transmit ------------------------------------------------------
const fn txq(base: usize, q: usize) -> usize {
    base + 0x40 * q
}
/// DMA Tx Control (8.2.3.9.2).
pub const DMATXCTL: usize = 0x0_4a80;
/// DMATXCTL.TE: transmit enable (bit 0).
pub const DMATXCTL_TE: u32 = 1 << 0;
/// Transmit Descriptor Base Address Low (8.2.3.9.5).
pub const fn tdbal(q: usize) -> usize {
    txq(0x0_6000, q)
}
/// Transmit Descriptor Base Address High (8.2.3.9.6).
pub const fn tdbah(q: usize) -> usize {
    txq(0x0_6004, q)
}
/// Transmit Descriptor Length (8.2.3.9.7).
pub const fn tdlen(q: usize) -> usize {
    txq(0x0_6008, q)
}
/// Transmit Descriptor Head (8.2.3.9.8).
pub const fn tdh(q: usize) -> usize {
    txq(0x0_6010, q)
}
/// Transmit Descriptor Tail (8.2.3.9.9).
pub const fn tdt(q: usize) -> usize {
    txq(0x0_6018, q)
}
/// Transmit Descriptor Control (8.2.3.9.10).
pub const fn txdctl(q: usize) -> usize {
    txq(0x0_6028, q)
}
/// TXDCTL thresholds: PTHRESH bits 6:0, HTHRESH bits 14:8, WTHRESH bits
/// 22:16; ENABLE bit 25.
pub const TXDCTL_PTHRESH_SHIFT: u32 = 0;
/// TXDCTL.HTHRESH: host threshold field position (bits 14:8).
pub const TXDCTL_HTHRESH_SHIFT: u32 = 8;
/// TXDCTL.WTHRESH: write-back threshold field position (bits 22:16).
pub const TXDCTL_WTHRESH_SHIFT: u32 = 16;
/// All three TXDCTL threshold fields.
pub const TXDCTL_THRESH_MASK: u32 = 0x007f_7f7f;
/// TXDCTL.ENABLE: enable the transmit queue (bit 25).
pub const TXDCTL_ENABLE: u32 = 1 << 25;
/// Transmit Packet Buffer Size `i` (8.2.3.9.13), KiB at bits 19:10.
pub const fn txpbsize(i: usize) -> usize {
    0x0_cc00 + 4 * i
}
/// Tx Packet Buffer Threshold `i` (8.2.3.9.16), KiB at bits 9:0.
pub const fn txpbthresh(i: usize) -> usize {
    0x0_4950 + 4 * i
}
/// DMA Tx TCP Max Allow Size Requests (8.2.3.9.1): only bits 11:0 are
/// defined (the 82599 reserves 31:12; ixy.rs issue #29).
pub const DTXMXSZRQ: usize = 0x0_8100;
/// DTXMXSZRQ.MAX_BYTES_NUM_REQ: the defined bits 11:0.
pub const DTXMXSZRQ_MASK: u32 = 0x0000_0fff;
/// Multiple Transmit Queues Command (8.2.3.9.15): 0 = 64 queues, one
/// packet buffer, no DCB, no virtualization. Written with the arbiter off.
pub const MTQC: usize = 0x0_8120;
/// MTQC value for 64 queues, one packet buffer, no DCB, no virtualization.
pub const MTQC_64Q_1PB: u32 = 0x0;

// ---- 8.2.3.10 DCB ------------------------------------------------------------
/// DCB Transmit Descriptor Plane Control and Status (8.2.3.10.2).
pub const RTTDCS: usize = 0x0_4900;
/// RTTDCS.ARBDIS: descriptor arbiter disable (bit 6).
pub const RTTDCS_ARBDIS: u32 = 1 << 6;

// ---- 8.2.3.22 MAC --------------------------------------------------------------
/// MAC Core Control 0 (8.2.3.22.8).
pub const HLREG0: usize = 0x0_4240;
/// HLREG0: TXCRCEN (bit 0), RXCRCSTRP (bit 1), TXPADEN (bit 10).
pub const HLREG0_TXCRCEN: u32 = 1 << 0;
/// HLREG0.RXCRCSTRP: strip the Ethernet CRC from received frames (bit 1).
pub const HLREG0_RXCRCSTRP: u32 = 1 << 1;
/// HLREG0.TXPADEN: pad short transmitted frames to 64 bytes (bit 10).
pub const HLREG0_TXPADEN: u32 = 1 << 10;
/// Max Frame Size (8.2.3.22.13): MFS at bits 31:16.
pub const MAXFRS: usize = 0x0_4268;
/// Auto-Negotiation Control (8.2.3.22.19; 82599 only).
pub const AUTOC: usize = 0x0_42a0;
/// AUTOC.LMS: link mode select (bits 15:13); 011b = 10G serial,
/// 100b = KX4/KX/KR autoneg.
pub const AUTOC_LMS_SHIFT: u32 = 13;
/// The AUTOC.LMS field.
pub const AUTOC_LMS_MASK: u32 = 0x7 << AUTOC_LMS_SHIFT;
/// AUTOC.LMS = 011b: 10 Gb/s serial link, no autonegotiation.
pub const AUTOC_LMS_10G_SERIAL: u32 = 0x3 << AUTOC_LMS_SHIFT;
/// AUTOC.LMS = 100b: KX4/KX/KR backplane autonegotiation.
pub const AUTOC_LMS_KX4_KX_KR: u32 = 0x4 << AUTOC_LMS_SHIFT;
/// AUTOC.10G_PMA_PMD_PARALLEL (bits 8:7).
pub const AUTOC_10G_PMA_PMD_MASK: u32 = 0x0000_0180;
/// AUTOC.RESTART_AN (bit 12).
pub const AUTOC_AN_RESTART: u32 = 1 << 12;
/// Link Status (8.2.3.22.20).
pub const LINKS: usize = 0x0_42a4;
/// LINKS.LINK_UP (bit 30); LINK_SPEED (bits 29:28): 01b 100M, 10b 1G,
/// 11b 10G. On X550 and later, bit 27 ([`LINKS_SPEED_NON_STD`]) turns 11b
/// into 2.5G and 01b into 5G (see `MacType::links_speed`).
pub const LINKS_UP: u32 = 1 << 30;
/// LINKS.LINK_SPEED field (bits 29:28).
pub const LINKS_SPEED_MASK: u32 = 0x3000_0000;
/// LINKS.LINK_SPEED = 11b: 10 Gb/s (2.5 Gb/s with [`LINKS_SPEED_NON_STD`]).
pub const LINKS_SPEED_10G: u32 = 0x3000_0000;
/// LINKS.LINK_SPEED = 10b: 1 Gb/s.
pub const LINKS_SPEED_1G: u32 = 0x2000_0000;
/// LINKS.LINK_SPEED = 01b: 100 Mb/s (5 Gb/s with [`LINKS_SPEED_NON_STD`]).
pub const LINKS_SPEED_100M: u32 = 0x1000_0000;
/// LINKS bit 27 on X550, X552 and X553 (Linux `IXGBE_LINKS_SPEED_NON_STD`):
/// the LINK_SPEED code means a non-standard speed, 11b 2.5 Gb/s and 01b
/// 5 Gb/s. Undefined on the 82599 and X540, whose drivers ignore it.
pub const LINKS_SPEED_NON_STD: u32 = 1 << 27;

/// Statistics (datasheet 8.2.3.23, one group). All clear on read; the 36-bit octet counters'
/// high halves clear with the read of the high register.
pub mod stats {
    /// CRC Error Count.
    pub const CRCERRS: usize = 0x0_4000;
    /// Illegal Byte Error Count.
    pub const ILLERRC: usize = 0x0_4004;
    /// Error Byte Count.
    pub const ERRBC: usize = 0x0_4008;
    /// Missed Packets Count of packet buffer `i`.
    pub const fn mpc(i: usize) -> usize {
        0x0_3fa0 + 4 * i
    }
    /// Receive Length Error Count.
    pub const RLEC: usize = 0x0_4040;
    /// Good Packets Received Count.
    pub const GPRC: usize = 0x0_4074;
    /// Broadcast Packets Received Count.
    pub const BPRC: usize = 0x0_4078;
    /// Multicast Packets Received Count.
    pub const MPRC: usize = 0x0_407c;
    /// Good Packets Transmitted Count.
    pub const GPTC: usize = 0x0_4080;
    /// Good Octets Received Count, low 32 bits.
    pub const GORCL: usize = 0x0_4088;
    /// Good Octets Received Count, high bits (35:32).
    pub const GORCH: usize = 0x0_408c;
    /// Good Octets Transmitted Count, low 32 bits.
    pub const GOTCL: usize = 0x0_4090;
    /// Good Octets Transmitted Count, high bits (35:32).
    pub const GOTCH: usize = 0x0_4094;
    /// Receive No Buffers Count of packet buffer `i`.
    pub const fn rnbc(i: usize) -> usize {
        0x0_3fc0 + 4 * i
    }
    /// Receive Undersize Count.
    pub const RUC: usize = 0x0_40a4;
    /// Receive Oversize Count.
    pub const ROC: usize = 0x0_40ac;
    /// Total Packets Received.
    pub const TPR: usize = 0x0_40d0;
    /// Total Packets Transmitted.
    pub const TPT: usize = 0x0_40d4;
    /// Queue Packets Received Count of queue `q` < 16.
    pub const fn qprc(q: usize) -> usize {
        0x0_1030 + 0x40 * q
    }
    /// Queue Packets Received Drop Count.
    pub const fn qprdc(q: usize) -> usize {
        0x0_1430 + 0x40 * q
    }
    /// Queue Packets Transmitted Count.
    pub const fn qptc(q: usize) -> usize {
        0x0_6030 + 0x40 * q
    }
    /// Queue counter sets: queues map to them through RQSMR/TQSM, whose
    /// reset value maps every queue to set 0; the driver maps queue q < 16
    /// to set q.
    pub const QUEUE_COUNTERS: usize = 16;
    /// Receive Queue Statistic Mapping `i`: one byte per queue 4i..4i+4.
    pub const fn rqsmr(i: usize) -> usize {
        0x0_2300 + 4 * i
    }
    /// Transmit Queue Statistic Mapping `i` (82599 and later).
    pub const fn tqsm(i: usize) -> usize {
        0x0_8600 + 4 * i
    }
}
