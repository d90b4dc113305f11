//! Legacy 16-byte descriptors (8254x manual 3.2.3 and 3.3.3).

/// TX command bits.
pub const TXD_CMD_EOP: u8 = 1 << 0;
/// TXD.CMD.IFCS: insert the Ethernet FCS (CRC).
pub const TXD_CMD_IFCS: u8 = 1 << 1;
/// TXD.CMD.RS: report status (write back DD when done).
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TX and RX status: descriptor done.
pub const DESC_STA_DD: u8 = 1 << 0;
/// RX status: end of packet.
pub const RXD_STA_EOP: u8 = 1 << 1;

/// Legacy transmit descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    /// Device address of the packet buffer.
    pub addr: u64,
    /// Bytes to send from the buffer.
    pub length: u16,
    /// Checksum offset: where to insert a TCP/UDP checksum (unused).
    pub cso: u8,
    /// Command bits (`TXD_CMD_*`).
    pub cmd: u8,
    /// Status written back by the device ([`DESC_STA_DD`]).
    pub status: u8,
    /// Checksum start: where the checksummed bytes begin (unused).
    pub css: u8,
    /// VLAN tag to insert (unused).
    pub special: u16,
}

/// Legacy receive descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    /// Device address of the packet buffer.
    pub addr: u64,
    /// Bytes the device wrote to the buffer.
    pub length: u16,
    /// Packet checksum computed by the device.
    pub csum: u16,
    /// Status bits written back (`DESC_STA_DD`, `RXD_STA_EOP`).
    pub status: u8,
    /// Error bits written back (CRC, symbol, sequence, carrier extension, RX data).
    pub errors: u8,
    /// VLAN tag of the packet, if stripped.
    pub special: u16,
}

const _: () = {
    assert!(std::mem::size_of::<TxDesc>() == 16);
    assert!(std::mem::size_of::<RxDesc>() == 16);
    assert!(std::mem::offset_of!(TxDesc, cmd) == 11);
    assert!(std::mem::offset_of!(TxDesc, status) == 12);
    assert!(std::mem::offset_of!(RxDesc, status) == 12);
    assert!(std::mem::offset_of!(RxDesc, errors) == 13);
};
