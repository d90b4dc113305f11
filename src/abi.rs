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

/// netmap's control path (`/dev/netmap` ioctls, API 14 and the legacy
/// `struct nmreq`), with netmap's exact layouts: what a C program passes
/// to `ioctl` and what the `/dev/netmap` emulation reads and fills in.
pub mod ctrl {
    use std::mem::{offset_of, size_of};

    /// Size of `nmreq_header.nr_name`.
    pub const NETMAP_REQ_IFNAMSIZ: usize = 64;
    /// Size of the legacy `nmreq.nr_name` (`IFNAMSIZ`).
    pub const IFNAMSIZ: usize = 16;

    /// `NETMAP_REQ_*`: request types of `nmreq_header.nr_reqtype`.
    pub mod req {
        /// Register a port: bind its rings to the file descriptor.
        pub const REGISTER: u16 = 1;
        /// A port's ring counts and sizes and its memory's size.
        pub const PORT_INFO_GET: u16 = 2;
        /// Attach a port to a VALE switch.
        pub const VALE_ATTACH: u16 = 3;
        /// Detach a port from a VALE switch.
        pub const VALE_DETACH: u16 = 4;
        /// List a VALE switch's ports.
        pub const VALE_LIST: u16 = 5;
        /// Set the port's virtio-net header length.
        pub const PORT_HDR_SET: u16 = 6;
        /// Get the port's virtio-net header length.
        pub const PORT_HDR_GET: u16 = 7;
        /// Create a persistent VALE port.
        pub const VALE_NEWIF: u16 = 8;
        /// Delete a persistent VALE port.
        pub const VALE_DELIF: u16 = 9;
        /// Start VALE polling threads.
        pub const VALE_POLLING_ENABLE: u16 = 10;
        /// Stop VALE polling threads.
        pub const VALE_POLLING_DISABLE: u16 = 11;
        /// Where the pools of a port's memory lie.
        pub const POOLS_INFO_GET: u16 = 12;
        /// Start an in-kernel sync loop.
        pub const SYNC_KLOOP_START: u16 = 13;
        /// Stop the in-kernel sync loop.
        pub const SYNC_KLOOP_STOP: u16 = 14;
        /// Enable CSB mode.
        pub const CSB_ENABLE: u16 = 15;
    }

    /// `NETMAP_REQ_OPT_*`: option types of `nmreq_option.nro_reqtype`.
    pub mod opt {
        /// Memory the application allocated (`@extmem`).
        pub const EXTMEM: u32 = 1;
        /// Eventfds for the sync loop.
        pub const SYNC_KLOOP_EVENTFDS: u32 = 2;
        /// CSB mode.
        pub const CSB: u32 = 3;
        /// Sync loop mode.
        pub const SYNC_KLOOP_MODE: u32 = 4;
        /// Packet offsets in the slots' `ptr` (`@offset`).
        pub const OFFSETS: u32 = 5;
        /// One past the last option type.
        pub const MAX: u32 = 6;
    }

    /// `NR_REG_*`: registration modes (`nr_mode`; low bits of the legacy
    /// `nr_flags`).
    pub mod mode {
        /// Legacy: the mode comes from `nr_ringid`'s flags.
        pub const DEFAULT: u32 = 0;
        /// Every NIC ring.
        pub const ALL_NIC: u32 = 1;
        /// The host rings.
        pub const SW: u32 = 2;
        /// NIC and host rings.
        pub const NIC_SW: u32 = 3;
        /// One NIC ring pair, `nr_ringid`.
        pub const ONE_NIC: u32 = 4;
        /// Legacy: master end of pipe `nr_ringid` of `nr_name`.
        pub const PIPE_MASTER: u32 = 5;
        /// Legacy: slave end of pipe `nr_ringid` of `nr_name`.
        pub const PIPE_SLAVE: u32 = 6;
        /// No rings.
        pub const NULL: u32 = 7;
        /// One host ring pair.
        pub const ONE_SW: u32 = 8;
        /// Extracts the mode from a legacy `nr_flags`.
        pub const MASK: u32 = 0xf;
    }

    /// `nr_flags` bits (both APIs).
    pub mod flags {
        /// Monitor a port's TX rings.
        pub const NR_MONITOR_TX: u64 = 0x100;
        /// Monitor a port's RX rings.
        pub const NR_MONITOR_RX: u64 = 0x200;
        /// Zero-copy monitor.
        pub const NR_ZCOPY_MON: u64 = 0x400;
        /// Exclusive access to the selected rings.
        pub const NR_EXCLUSIVE: u64 = 0x800;
        /// Bind only the RX rings.
        pub const NR_RX_RINGS_ONLY: u64 = 0x2000;
        /// Bind only the TX rings.
        pub const NR_TX_RINGS_ONLY: u64 = 0x4000;
        /// The application accepts virtio-net headers.
        pub const NR_ACCEPT_VNET_HDR: u64 = 0x8000;
        /// poll() runs rxsync even without POLLIN.
        pub const NR_DO_RX_POLL: u64 = 0x10000;
        /// poll() does not run txsync.
        pub const NR_NO_TX_POLL: u64 = 0x20000;
    }

    /// Legacy `nr_ringid` bits.
    pub mod ringid {
        /// The ring number.
        pub const RING_MASK: u16 = 0x0fff;
        /// No txsync on poll().
        pub const NO_TX_POLL: u16 = 0x1000;
        /// Only the host ring pair.
        pub const SW_RING: u16 = 0x2000;
        /// One NIC ring pair.
        pub const HW_RING: u16 = 0x4000;
        /// rxsync on every poll().
        pub const DO_RX_POLL: u16 = 0x8000;
    }

    /// `struct nmreq_header`: every API-14 request (`NIOCCTRL`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct NmreqHeader {
        /// `NETMAP_API`.
        pub nr_version: u16,
        /// `NETMAP_REQ_*`.
        pub nr_reqtype: u16,
        /// Must be zero.
        pub nr_reserved: u32,
        /// Port name; may lack a NUL.
        pub nr_name: [u8; NETMAP_REQ_IFNAMSIZ],
        /// Address of the first `nmreq_option`, or 0.
        pub nr_options: u64,
        /// Address of the request's body (`nmreq_register`, ...).
        pub nr_body: u64,
    }

    /// `struct nmreq_register`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NmreqRegister {
        /// (out) offset of the `netmap_if` in the region.
        pub nr_offset: u64,
        /// (out) size of the region.
        pub nr_memsize: u64,
        /// (in/out) slots per TX ring.
        pub nr_tx_slots: u32,
        /// (in/out) slots per RX ring.
        pub nr_rx_slots: u32,
        /// (in/out) TX rings.
        pub nr_tx_rings: u16,
        /// (in/out) RX rings.
        pub nr_rx_rings: u16,
        /// (in/out) host TX rings.
        pub nr_host_tx_rings: u16,
        /// (in/out) host RX rings.
        pub nr_host_rx_rings: u16,
        /// (in/out) memory region id.
        pub nr_mem_id: u16,
        /// (in) ring for `NR_REG_ONE_NIC`.
        pub nr_ringid: u16,
        /// (in) `NR_REG_*`.
        pub nr_mode: u32,
        /// (in/out) extra buffers wanted / given.
        pub nr_extra_bufs: u32,
        /// (in) `NR_*` flags.
        pub nr_flags: u64,
    }

    /// `struct nmreq_port_info_get`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NmreqPortInfoGet {
        /// Size of the region.
        pub nr_memsize: u64,
        /// Slots per TX ring.
        pub nr_tx_slots: u32,
        /// Slots per RX ring.
        pub nr_rx_slots: u32,
        /// TX rings.
        pub nr_tx_rings: u16,
        /// RX rings.
        pub nr_rx_rings: u16,
        /// Host TX rings.
        pub nr_host_tx_rings: u16,
        /// Host RX rings.
        pub nr_host_rx_rings: u16,
        /// (in/out) memory region id.
        pub nr_mem_id: u16,
        /// Padding.
        pub pad: [u16; 3],
    }

    /// `struct nmreq_pools_info`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NmreqPoolsInfo {
        /// Size of the region.
        pub nr_memsize: u64,
        /// (in/out) memory region id.
        pub nr_mem_id: u16,
        /// Padding.
        pub pad1: [u16; 3],
        /// Offset of the `netmap_if` pool.
        pub nr_if_pool_offset: u64,
        /// `netmap_if` objects.
        pub nr_if_pool_objtotal: u32,
        /// Bytes per `netmap_if` object.
        pub nr_if_pool_objsize: u32,
        /// Offset of the ring pool.
        pub nr_ring_pool_offset: u64,
        /// Ring objects.
        pub nr_ring_pool_objtotal: u32,
        /// Bytes per ring object.
        pub nr_ring_pool_objsize: u32,
        /// Offset of the buffer pool.
        pub nr_buf_pool_offset: u64,
        /// Buffers.
        pub nr_buf_pool_objtotal: u32,
        /// Bytes per buffer.
        pub nr_buf_pool_objsize: u32,
    }

    /// `struct nmreq_port_hdr` (`PORT_HDR_SET`/`GET`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NmreqPortHdr {
        /// virtio-net header length: 0, 10 or 12.
        pub nr_hdr_len: u32,
        /// Padding.
        pub pad1: u32,
    }

    /// `struct nmreq_option`: the header of every option in the list
    /// `nmreq_header.nr_options` starts.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NmreqOption {
        /// Address of the next option, or 0.
        pub nro_next: u64,
        /// `NETMAP_REQ_OPT_*`.
        pub nro_reqtype: u32,
        /// (out) 0 if the option was processed, else an errno.
        pub nro_status: u32,
        /// Size of a variable-size option.
        pub nro_size: u64,
    }

    /// The legacy `struct nmreq` (`NIOCGINFO`, `NIOCREGIF`), which
    /// netmap_user.h's `nm_open` sends.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Nmreq {
        /// Port name; may lack a NUL.
        pub nr_name: [u8; IFNAMSIZ],
        /// `NETMAP_API`.
        pub nr_version: u32,
        /// (out) offset of the `netmap_if` in the region.
        pub nr_offset: u32,
        /// (out) size of the region.
        pub nr_memsize: u32,
        /// (in/out) slots per TX ring.
        pub nr_tx_slots: u32,
        /// (in/out) slots per RX ring.
        pub nr_rx_slots: u32,
        /// (in/out) TX rings.
        pub nr_tx_rings: u16,
        /// (in/out) RX rings.
        pub nr_rx_rings: u16,
        /// (in) ring number and `NETMAP_*` bits ([`ringid`]).
        pub nr_ringid: u16,
        /// (in) 0 to register; VALE commands otherwise.
        pub nr_cmd: u16,
        /// (in) VALE argument.
        pub nr_arg1: u16,
        /// (in/out) memory region id.
        pub nr_arg2: u16,
        /// (in/out) extra buffers wanted / given.
        pub nr_arg3: u32,
        /// (in) `NR_REG_*` mode in the low 4 bits, `NR_*` flags above.
        pub nr_flags: u32,
        /// Reserved.
        pub spare2: [u32; 1],
    }

    const fn ioc(dir: u32, nr: u32, size: usize) -> u64 {
        ((dir << 30) | ((size as u32) << 16) | ((b'i' as u32) << 8) | nr) as u64
    }
    const READ_WRITE: u32 = 3;
    /// `NIOCCTRL`: `_IOWR('i', 151, struct nmreq_header)`.
    pub const NIOCCTRL: u64 = ioc(READ_WRITE, 151, size_of::<NmreqHeader>());
    /// `NIOCTXSYNC`: `_IO('i', 148)`.
    pub const NIOCTXSYNC: u64 = ioc(0, 148, 0);
    /// `NIOCRXSYNC`: `_IO('i', 149)`.
    pub const NIOCRXSYNC: u64 = ioc(0, 149, 0);
    /// `NIOCGINFO`: `_IOWR('i', 145, struct nmreq)`.
    pub const NIOCGINFO: u64 = ioc(READ_WRITE, 145, size_of::<Nmreq>());
    /// `NIOCREGIF`: `_IOWR('i', 146, struct nmreq)`.
    pub const NIOCREGIF: u64 = ioc(READ_WRITE, 146, size_of::<Nmreq>());

    /// A C structure's name, size and `(field, offset)`s.
    pub type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

    /// Every shared and control structure's layout, for the test that
    /// compares them with include/vfio_netmap.h.
    pub fn layouts() -> Vec<Layout> {
        macro_rules! layout {
            ($c:literal, $t:ty, $($f:ident),*) => {
                ($c, size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])
            };
        }
        use super::{NetmapIf, NetmapRing, NetmapSlot};
        vec![
            layout!("netmap_slot", NetmapSlot, buf_idx, len, flags, ptr),
            layout!(
                "netmap_ring",
                NetmapRing,
                buf_ofs,
                num_slots,
                nr_buf_size,
                ringid,
                dir,
                head,
                cur,
                tail,
                flags,
                ts,
                offset_mask,
                buf_align,
                sem
            ),
            layout!(
                "netmap_if",
                NetmapIf,
                ni_name,
                ni_version,
                ni_flags,
                ni_tx_rings,
                ni_rx_rings,
                ni_bufs_head,
                ni_host_tx_rings,
                ni_host_rx_rings,
                ni_spare1
            ),
            layout!(
                "nmreq_header",
                NmreqHeader,
                nr_version,
                nr_reqtype,
                nr_reserved,
                nr_name,
                nr_options,
                nr_body
            ),
            layout!(
                "nmreq_register",
                NmreqRegister,
                nr_offset,
                nr_memsize,
                nr_tx_slots,
                nr_rx_slots,
                nr_tx_rings,
                nr_rx_rings,
                nr_host_tx_rings,
                nr_host_rx_rings,
                nr_mem_id,
                nr_ringid,
                nr_mode,
                nr_extra_bufs,
                nr_flags
            ),
            layout!(
                "nmreq_port_info_get",
                NmreqPortInfoGet,
                nr_memsize,
                nr_tx_slots,
                nr_rx_slots,
                nr_tx_rings,
                nr_rx_rings,
                nr_host_tx_rings,
                nr_host_rx_rings,
                nr_mem_id
            ),
            layout!(
                "nmreq_pools_info",
                NmreqPoolsInfo,
                nr_memsize,
                nr_mem_id,
                nr_if_pool_offset,
                nr_if_pool_objtotal,
                nr_if_pool_objsize,
                nr_ring_pool_offset,
                nr_ring_pool_objtotal,
                nr_ring_pool_objsize,
                nr_buf_pool_offset,
                nr_buf_pool_objtotal,
                nr_buf_pool_objsize
            ),
            layout!("nmreq_port_hdr", NmreqPortHdr, nr_hdr_len),
            layout!(
                "nmreq_option",
                NmreqOption,
                nro_next,
                nro_reqtype,
                nro_status,
                nro_size
            ),
            layout!(
                "nmreq",
                Nmreq,
                nr_name,
                nr_version,
                nr_offset,
                nr_memsize,
                nr_tx_slots,
                nr_rx_slots,
                nr_tx_rings,
                nr_rx_rings,
                nr_ringid,
                nr_cmd,
                nr_arg1,
                nr_arg2,
                nr_arg3,
                nr_flags,
                spare2
            ),
        ]
    }

    const _: () = {
        assert!(size_of::<NmreqHeader>() == 88);
        assert!(offset_of!(NmreqHeader, nr_name) == 8);
        assert!(offset_of!(NmreqHeader, nr_options) == 72);
        assert!(size_of::<NmreqRegister>() == 56);
        assert!(offset_of!(NmreqRegister, nr_mode) == 36);
        assert!(offset_of!(NmreqRegister, nr_flags) == 48);
        assert!(size_of::<NmreqPortInfoGet>() == 32);
        assert!(size_of::<NmreqPoolsInfo>() == 64);
        assert!(size_of::<NmreqOption>() == 24);
        assert!(size_of::<Nmreq>() == 60);
        assert!(offset_of!(Nmreq, nr_flags) == 52);
        assert!(NIOCCTRL == 0xc058_6997);
        assert!(NIOCREGIF == 0xc03c_6992);
    };
}
