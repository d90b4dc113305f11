//! Legacy 16-byte descriptors (8254x manual 3.2.3 and 3.3.3).

/// TX command bits.
pub const TXD_CMD_EOP: u8 = 1 << 0;
pub const TXD_CMD_IFCS: u8 = 1 << 1;
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TX and RX status: descriptor done.
pub const DESC_STA_DD: u8 = 1 << 0;
/// RX status: end of packet.
pub const RXD_STA_EOP: u8 = 1 << 1;

/// Legacy transmit descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    pub addr: u64,
    pub length: u16,
    pub cso: u8,
    pub cmd: u8,
    pub status: u8,
    pub css: u8,
    pub special: u16,
}

/// Legacy receive descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    pub addr: u64,
    pub length: u16,
    pub csum: u16,
    pub status: u8,
    pub errors: u8,
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
