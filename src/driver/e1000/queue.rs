//! txsync and rxsync on legacy descriptors: the descriptor-ring engine
//! (`desc_queue`) with the legacy formats, and the receiver's doorbell
//! policy, which is e1000's own.
//!
//! Per sync: descriptor writes in memory, at most one tail register write,
//! and completion read from DD bits in memory (never TDH/RDH: each MMIO
//! read is a trap in a VM and slow on real hardware).

use std::cell::Cell;
use std::sync::atomic::{Ordering, fence};
use std::time::Instant;

use super::desc::*;
use super::regs::RDT;
use crate::api::{ApiError, KRing};
use crate::driver::desc_queue::{QueueErrors, RxFormat, RxRing, TxFormat, TxRing};
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::regs::RegisterAccess;
use crate::mem::{Region, RingMem};

/// The u32 holding length (bytes 8-9), cso (10) and cmd (11).
const TXD_LEN_CMD_OFFSET: usize = 8;
/// The command of a packet in one descriptor: FCS added, end of packet.
const TXD_CMD_WHOLE: u8 = TXD_CMD_IFCS | TXD_CMD_EOP;

impl TxFormat for TxDesc {
    const STATUS: usize = 12;
    const DONE: u8 = DESC_STA_DD;
    const CMD: usize = TXD_LEN_CMD_OFFSET;
    const RS: u32 = (TXD_CMD_RS as u32) << 24;

    #[inline(always)]
    fn whole(iova: u64, len: u16) -> (u64, u64) {
        // Bytes 8..16: length, cso 0, cmd, status 0 (DD clear), css 0,
        // special 0.
        (iova, (TXD_CMD_WHOLE as u64) << 24 | len as u64)
    }

    fn piece(iova: u64, len: u16, end: bool, report: bool, _paylen: Option<u32>) -> Self {
        TxDesc {
            addr: iova,
            length: len,
            cmd: TXD_CMD_IFCS
                | if end { TXD_CMD_EOP } else { 0 }
                | if report { TXD_CMD_RS } else { 0 },
            ..TxDesc::default()
        }
    }
}

impl RxFormat for RxDesc {
    /// The status byte (12) and the errors byte (13), read as the low half
    /// of the u32 at 12.
    const STATUS: usize = 12;
    const LENGTH: usize = 8;
    const DONE: u32 = DESC_STA_DD as u32;
    const END: u32 = RXD_STA_EOP as u32;
    /// The errors byte (CRC, symbol, sequence, carrier extension, RX data).
    const ERRORS: u32 = 0xff00;
    /// A legacy write-back may report 0 bytes (a frame the device cut).
    const ZERO_LENGTH_IS_BAD: bool = false;
}

/// The transmit queue.
pub type TxQueue = TxRing<TxDesc>;

/// The receive queue: the engine's ring plus e1000's doorbell policy.
pub struct RxQueue {
    /// Descriptors and the errors seen in them.
    pub ring: RxRing<RxDesc>,
    /// The RDT value last written: released slots are handed back in
    /// batches (see `sync`), so it may trail `hwcur - 1`. A `Cell`: the
    /// sleep path, which has `&self`, flushes it.
    rdt: Cell<u32>,
    /// Average duration of recent RDT writes, in nanoseconds (an
    /// exponentially weighted mean over about 8 writes): chooses how many
    /// released slots to gather before the next one.
    rdt_write_ns: Cell<u64>,
    tail_writes: Cell<TailWrites>,
}

/// How often the receiver wrote RDT and how long the writes took: under
/// QEMU each write waits for the global lock, and a receiver held up there
/// is where frames are lost (BENCHMARKS.md), so pkt-gen reports these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailWrites {
    /// RDT writes made.
    pub count: u64,
    /// Time spent in them, in nanoseconds.
    pub total_ns: u64,
    /// Longest single write, in nanoseconds.
    pub max_ns: u64,
}

/// RDT writes slower than this on average (nanoseconds) are treated as
/// expensive: a posted write on real hardware takes well under a
/// microsecond, and a trap to KVM a few; under QEMU's TCG each write also
/// waits for the global lock, tens of microseconds to milliseconds.
pub const SLOW_DOORBELL_NS: u64 = 20_000;

impl RxQueue {
    /// Programs every descriptor with its slot's buffer.
    pub fn new(descs: DescRing<RxDesc>, ring: &RingMem<'_>, dma: DmaWindow) -> Self {
        let rdt = Cell::new(descs.count() - 1);
        RxQueue {
            ring: RxRing::new(descs, ring, dma),
            rdt,
            rdt_write_ns: Cell::new(0),
            tail_writes: Cell::new(TailWrites::default()),
        }
    }

    /// Impossible write-backs seen so far.
    pub fn errors(&self) -> QueueErrors {
        self.ring.errors
    }

    /// How many released slots to gather before writing RDT, out of `n`.
    /// Where the write is cheap, an eighth of the ring: the device keeps
    /// nearly all of it to absorb bursts. Where it is slow (a write waits
    /// for QEMU's global lock, which a sending vCPU holds while it
    /// emulates each transmit batch, for milliseconds when its batches are
    /// small), half: fewer writes mean fewer stalls, and the half the
    /// device keeps absorbs one. In the lab, half-ring batches lost 3x
    /// fewer frames at burst 32 than eighth-ring batches (BENCHMARKS.md).
    pub fn release_batch(&self, n: u32) -> u32 {
        if self.rdt_write_ns.get() >= SLOW_DOORBELL_NS {
            (n / 2).max(1)
        } else {
            (n / 8).max(1)
        }
    }

    /// Hands every released slot to the device now (before sleeping: a
    /// sleeper must not wait while descriptors are held back).
    pub fn flush_tail(&self, regs: &impl RegisterAccess, kring: &KRing) {
        let rdt = kring.prev(kring.hwcur);
        if rdt != self.rdt.get() {
            fence(Ordering::Release);
            let started = Instant::now();
            regs.write32(RDT, rdt);
            let took = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
            let avg = self.rdt_write_ns.get();
            self.rdt_write_ns.set(avg - avg / 8 + took / 8);
            let w = self.tail_writes.get();
            self.tail_writes.set(TailWrites {
                count: w.count + 1,
                total_ns: w.total_ns.saturating_add(took),
                max_ns: w.max_ns.max(took),
            });
            self.rdt.set(rdt);
        }
    }

    /// RDT writes so far and how long they took.
    pub fn tail_writes(&self) -> TailWrites {
        self.tail_writes.get()
    }

    /// Publishes received slots and gives released ones back to the device.
    #[inline]
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        self.ring.receive(region, ring, kring);
        let before = kring.hwcur;
        let given = self.ring.give_back(region, dma, ring, kring, head);
        if kring.hwcur != before {
            // Each RDT write is a trap to the hypervisor (and, under QEMU,
            // a wait for its global lock): hand slots back in batches
            // (`release_batch`), unless the device is running short (under
            // n/4 empty descriptors), which also covers small releases.
            let n = kring.num_slots;
            let held_back = (kring.prev(kring.hwcur) + n - self.rdt.get()) % n;
            let device_has = (self.rdt.get() + n - kring.hwtail) % n;
            if held_back >= self.release_batch(n) || device_has < n / 4 {
                self.flush_tail(regs, kring);
            }
        }
        given
    }
}
