//! netmap's shared-memory structures with netmap's exact C layout (API
//! version 14, x86_64), so a C program using netmap_user.h's macros on our
//! memory computes the same pointers.

use std::mem::{align_of, offset_of, size_of};

/// netmap API version these layouts follow.
pub const NETMAP_API: u32 = 14;

/// Slot flags (`netmap_slot.flags`).
pub mod slot_flags {
    /// The slot's `buf_idx` changed: the port must reprogram its descriptor.
    pub const NS_BUF_CHANGED: u16 = 0x0001;
    /// Ask for a completion report on this slot.
    pub const NS_REPORT: u16 = 0x0002;
    pub const NS_FORWARD: u16 = 0x0004;
    pub const NS_NO_LEARN: u16 = 0x0008;
    pub const NS_INDIRECT: u16 = 0x0010;
    /// More fragments of this packet follow in the next slots.
    pub const NS_MOREFRAG: u16 = 0x0020;
    pub const NS_TXMON: u16 = 0x0040;
    pub const NS_PORT_MASK: u16 = 0xff00;
    /// Flags a port clears on a transmitted slot.
    pub const CLEARED_ON_TX: u16 = NS_BUF_CHANGED | NS_REPORT | NS_MOREFRAG;
}

/// Ring flags (`netmap_ring.flags`).
pub mod ring_flags {
    pub const NR_TIMESTAMP: u32 = 0x0002;
    pub const NR_FORWARD: u32 = 0x0004;
}

/// `struct netmap_slot`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetmapSlot {
    pub buf_idx: u32,
    pub len: u16,
    pub flags: u16,
    pub ptr: u64,
}

/// `struct timeval` on x86_64 Linux.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}

/// The header of `struct netmap_ring`; `num_slots` slots follow at offset 256.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct NetmapRing {
    pub buf_ofs: i64,
    pub num_slots: u32,
    pub nr_buf_size: u32,
    pub ringid: u16,
    pub dir: u16,
    pub head: u32,
    pub cur: u32,
    pub tail: u32,
    pub flags: u32,
    pub _pad: u32,
    pub ts: Timeval,
    pub offset_mask: u64,
    pub buf_align: u64,
    pub _pad2: [u8; 56],
    pub sem: [u8; 128],
}

/// Ring direction (`netmap_ring.dir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Direction {
    Tx = 0,
    Rx = 1,
}

/// `struct netmap_if` without its trailing `ring_ofs[]` (isize each).
#[repr(C)]
#[derive(Debug)]
pub struct NetmapIf {
    pub ni_name: [u8; 16],
    pub ni_version: u32,
    pub ni_flags: u32,
    pub ni_tx_rings: u32,
    pub ni_rx_rings: u32,
    pub ni_bufs_head: u32,
    pub ni_host_tx_rings: u32,
    pub ni_host_rx_rings: u32,
    pub ni_spare1: [u32; 3],
    // ring_ofs: [isize; ...] follows at offset 56
}

/// Offset of `ring_ofs[0]` from the start of a `netmap_if`.
pub const NETMAP_IF_RING_OFS: usize = 56;
/// Size of the ring header before `slot[0]`.
pub const NETMAP_RING_HEADER: usize = 256;

const _: () = {
    assert!(size_of::<NetmapSlot>() == 16 && align_of::<NetmapSlot>() == 8);
    assert!(offset_of!(NetmapSlot, buf_idx) == 0);
    assert!(offset_of!(NetmapSlot, len) == 4);
    assert!(offset_of!(NetmapSlot, flags) == 6);
    assert!(offset_of!(NetmapSlot, ptr) == 8);

    assert!(size_of::<NetmapRing>() == NETMAP_RING_HEADER && align_of::<NetmapRing>() == 128);
    assert!(offset_of!(NetmapRing, buf_ofs) == 0);
    assert!(offset_of!(NetmapRing, num_slots) == 8);
    assert!(offset_of!(NetmapRing, nr_buf_size) == 12);
    assert!(offset_of!(NetmapRing, ringid) == 16);
    assert!(offset_of!(NetmapRing, dir) == 18);
    assert!(offset_of!(NetmapRing, head) == 20);
    assert!(offset_of!(NetmapRing, cur) == 24);
    assert!(offset_of!(NetmapRing, tail) == 28);
    assert!(offset_of!(NetmapRing, flags) == 32);
    assert!(offset_of!(NetmapRing, ts) == 40);
    assert!(offset_of!(NetmapRing, offset_mask) == 56);
    assert!(offset_of!(NetmapRing, buf_align) == 64);
    assert!(offset_of!(NetmapRing, sem) == 128);

    assert!(size_of::<NetmapIf>() == NETMAP_IF_RING_OFS && align_of::<NetmapIf>() == 4);
    assert!(offset_of!(NetmapIf, ni_name) == 0);
    assert!(offset_of!(NetmapIf, ni_version) == 16);
    assert!(offset_of!(NetmapIf, ni_flags) == 20);
    assert!(offset_of!(NetmapIf, ni_tx_rings) == 24);
    assert!(offset_of!(NetmapIf, ni_rx_rings) == 28);
    assert!(offset_of!(NetmapIf, ni_bufs_head) == 32);
    assert!(offset_of!(NetmapIf, ni_host_tx_rings) == 36);
    assert!(offset_of!(NetmapIf, ni_host_rx_rings) == 40);
    assert!(offset_of!(NetmapIf, ni_spare1) == 44);
};
