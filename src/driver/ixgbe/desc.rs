//! Advanced descriptors of the 82599 family (datasheet 7.1.6 for receive,
//! 7.2.3.2.4 for the transmit data descriptor). Each format is 16 bytes and
//! is overwritten in place by the device's write-back.

/// Receive descriptor as the driver hands it to the device ("read" format,
/// 7.1.6.1): packet buffer address; the header address is unused with
/// one-buffer descriptors and its bit 0 must be 0 (it becomes DD).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvRxRead {
    /// Device address of the packet buffer.
    pub pkt_addr: u64,
    /// Device address of the header buffer; 0 here (bit 0 becomes DD on write-back).
    pub hdr_addr: u64,
}

/// Receive descriptor after write-back (7.1.6.2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvRxWb {
    /// RSS type (bits 3:0) and packet type (bits 16:4, low part).
    pub pkt_info: u16,
    /// Header length / split header (unused here).
    pub hdr_info: u16,
    /// RSS hash (or fragment checksum / IP id).
    pub rss_hash: u32,
    /// Extended status (bits 19:0) and errors (bits 31:20).
    pub status_error: u32,
    /// Bytes written to this descriptor's buffer.
    pub length: u16,
    /// VLAN tag of the packet, if stripped.
    pub vlan: u16,
}

/// Byte of `status_error` holding DD and EOP.
pub const RXD_STATUS_OFFSET: usize = 8;
/// Byte of the write-back holding the length.
pub const RXD_LENGTH_OFFSET: usize = 12;
/// RX status: descriptor done (bit 0), end of packet (bit 1).
pub const RXD_STAT_DD: u32 = 1 << 0;
/// RX status EOP: last descriptor of a packet.
pub const RXD_STAT_EOP: u32 = 1 << 1;
/// RX errors (bits 31:20): frame errors the device reports (CE, LE, PE,
/// OSE, USE) and checksum errors (TCPE, IPE).
pub const RXD_ERR_MASK: u32 = 0xfff0_0000;
/// The frame error bits: CE (24), LE (25), PE (27), OSE (28), USE (29).
pub const RXD_ERR_FRAME: u32 = 0x3b00_0000;
/// pkt_info RSS type (bits 3:0): 1 IPv4/TCP, 2 IPv4, 3 IPv6/TCP, 5 IPv6,
/// 7 IPv4/UDP, 8 IPv6/UDP.
pub const RSSTYPE_MASK: u16 = 0xf;

/// Transmit data descriptor as the driver writes it ("read" format,
/// 7.2.3.2.4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvTxRead {
    /// Device address of the packet buffer.
    pub addr: u64,
    /// DTALEN (15:0), MAC (19:18), DTYP (23:20), DCMD (31:24).
    pub cmd_type_len: u32,
    /// STA (3:0), IDX (6:4), CC (7), POPTS (13:8), PAYLEN (31:14).
    pub olinfo_status: u32,
}

/// Transmit descriptor after write-back (7.2.3.2.4): only `status` is
/// meaningful.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvTxWb {
    /// Reserved.
    pub rsvd: u64,
    /// Next IPsec sequence number / seed (unused here).
    pub nxtseq_seed: u32,
    /// STA (3:0): DD once the device is done with the descriptor.
    pub status: u32,
}

/// Byte offset of `cmd_type_len` in the read format.
pub const TXD_CMD_OFFSET: usize = 8;
/// Byte of the write-back `status` holding DD.
pub const TXD_STATUS_OFFSET: usize = 12;
/// TX status DD: descriptor done.
pub const TXD_STAT_DD: u32 = 1 << 0;
/// DTYP = 0011b: advanced data descriptor.
pub const TXD_DTYP_DATA: u32 = 0x3 << 20;
/// The DTYP field (bits 23:20).
pub const TXD_DTYP_MASK: u32 = 0xf << 20;
/// DCMD bits: EOP (24), IFCS (25), RS (27), DEXT (29).
pub const TXD_CMD_EOP: u32 = 1 << 24;
/// DCMD.IFCS: insert the Ethernet FCS (CRC).
pub const TXD_CMD_IFCS: u32 = 1 << 25;
/// DCMD.RS: report status (write back DD when done).
pub const TXD_CMD_RS: u32 = 1 << 27;
/// DCMD.DEXT: descriptor extension (advanced format).
pub const TXD_CMD_DEXT: u32 = 1 << 29;
/// DTALEN (bits 15:0): bytes of this descriptor's buffer to send.
pub const TXD_DTALEN_MASK: u32 = 0xffff;
/// olinfo PAYLEN: the whole packet's length, in the first descriptor.
pub const TXD_PAYLEN_SHIFT: u32 = 14;

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<AdvRxRead>() == 16);
    assert!(size_of::<AdvRxWb>() == 16);
    assert!(size_of::<AdvTxRead>() == 16);
    assert!(size_of::<AdvTxWb>() == 16);
    assert!(offset_of!(AdvRxRead, hdr_addr) == 8);
    assert!(offset_of!(AdvRxWb, rss_hash) == 4);
    assert!(offset_of!(AdvRxWb, status_error) == RXD_STATUS_OFFSET);
    assert!(offset_of!(AdvRxWb, length) == RXD_LENGTH_OFFSET);
    assert!(offset_of!(AdvRxWb, vlan) == 14);
    assert!(offset_of!(AdvTxRead, cmd_type_len) == TXD_CMD_OFFSET);
    assert!(offset_of!(AdvTxRead, olinfo_status) == 12);
    assert!(offset_of!(AdvTxWb, status) == TXD_STATUS_OFFSET);
};
