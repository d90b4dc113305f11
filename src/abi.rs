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
    /// Forward this slot to the other side (host stack / NIC) when the
    /// application releases it on an RX ring that has `NR_FORWARD` set.
    pub const NS_FORWARD: u16 = 0x0004;
    /// The VALE switch must not learn the source address of this packet.
    pub const NS_NO_LEARN: u16 = 0x0008;
    /// `ptr` points to the data, a userspace buffer (VALE TX rings only).
    pub const NS_INDIRECT: u16 = 0x0010;
    /// More fragments of this packet follow in the next slots.
    pub const NS_MOREFRAG: u16 = 0x0020;
    /// On a monitor port: the packet comes from the monitored port's TX ring.
    pub const NS_TXMON: u16 = 0x0040;
    /// High byte: if not zero, the VALE destination port, overriding the
    /// switch's lookup.
    pub const NS_PORT_MASK: u16 = 0xff00;
    /// Flags a port clears on a transmitted slot.
    pub const CLEARED_ON_TX: u16 = NS_BUF_CHANGED | NS_REPORT | NS_MOREFRAG;
}

/// Ring flags (`netmap_ring.flags`).
pub mod ring_flags {
    /// Update the ring's `ts` field on every sync.
    pub const NR_TIMESTAMP: u32 = 0x0002;
    /// Honour `NS_FORWARD` on this ring's slots.
    pub const NR_FORWARD: u32 = 0x0004;
}

/// `struct netmap_slot`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetmapSlot {
    /// Index of the slot's buffer in the region's buffer pool.
    pub buf_idx: u32,
    /// Length of the packet in the buffer, in bytes.
    pub len: u16,
    /// `NS_*` flags from [`slot_flags`].
    pub flags: u16,
    /// Address of the data when `NS_INDIRECT` is set (and, with netmap's
    /// offsets option, the packet's offset in the buffer).
    pub ptr: u64,
}

/// `struct timeval` on x86_64 Linux.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds.
    pub tv_usec: i64,
}

/// The header of `struct netmap_ring`; `num_slots` slots follow at offset 256.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct NetmapRing {
    /// Offset of the buffer pool from this ring, in bytes.
    pub buf_ofs: i64,
    /// Number of slots in the ring.
    pub num_slots: u32,
    /// Size of each buffer, in bytes.
    pub nr_buf_size: u32,
    /// Index of this ring among the port's rings of its direction.
    pub ringid: u16,
    /// Ring direction: 0 for TX, 1 for RX (see [`Direction`]).
    pub dir: u16,
    /// First slot the application owns; the application moves it to
    /// release slots to the port.
    pub head: u32,
    /// Wakeup point: the application moves it to say how far it has looked.
    pub cur: u32,
    /// First slot the port owns; only the port writes it.
    pub tail: u32,
    /// `NR_*` flags from [`ring_flags`].
    pub flags: u32,
    /// Padding to align `ts`.
    pub _pad: u32,
    /// Time of the last sync, set by the port when `NR_TIMESTAMP` is on.
    pub ts: Timeval,
    /// Bits of a slot's `ptr` holding an offset into its buffer; 0 unless
    /// the ring was opened with netmap's offsets option.
    pub offset_mask: u64,
    /// Required alignment, in bytes, of packet starts within buffers.
    pub buf_align: u64,
    /// Padding up to `sem`'s 128-byte alignment.
    pub _pad2: [u8; 56],
    /// Opaque room for a mutex or similar object.
    pub sem: [u8; 128],
}

/// Ring direction (`netmap_ring.dir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Direction {
    /// Transmit ring: the application fills slots, the port sends them.
    Tx = 0,
    /// Receive ring: the port fills slots, the application consumes them.
    Rx = 1,
}

/// `struct netmap_if` without its trailing `ring_ofs[]` (isize each).
#[repr(C)]
#[derive(Debug)]
pub struct NetmapIf {
    /// Name of the interface, NUL-terminated (`IFNAMSIZ` bytes).
    pub ni_name: [u8; 16],
    /// netmap API version ([`NETMAP_API`]).
    pub ni_version: u32,
    /// Interface properties (`NI_*` flags; netmap's `NI_PRIV_MEM` marks a
    /// private memory region).
    pub ni_flags: u32,
    /// Number of hardware TX rings.
    pub ni_tx_rings: u32,
    /// Number of hardware RX rings.
    pub ni_rx_rings: u32,
    /// First of the extra buffers allocated for this interface, each
    /// naming the next in its first u32 (0: none, or end of the chain).
    pub ni_bufs_head: u32,
    /// Number of host (software) TX rings.
    pub ni_host_tx_rings: u32,
    /// Number of host (software) RX rings.
    pub ni_host_rx_rings: u32,
    /// Reserved.
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
