//! txsync and rxsync on legacy descriptors.
//!
//! Per sync: descriptor writes in memory, one tail register write, and
//! completion read from DD bits in memory (never TDH/RDH: each MMIO read is
//! a trap in a VM and slow on real hardware).

use std::collections::VecDeque;
use std::sync::atomic::{Ordering, fence};
use std::time::Instant;

use super::desc::*;
use super::regs::{RDT, TDT};
use crate::abi::slot_flags::{CLEARED_ON_TX, NS_MOREFRAG, NS_REPORT};
use crate::api::{ApiError, KRing};
use crate::driver::desc_ring::{DescRing, DescRun, DmaWindow, bad_slot, give_released};
use crate::driver::regs::RegisterAccess;
use crate::mem::{BufBounds, Region, RingMem, SlotHead, SlotRun};

/// Ask for a completion report at least this often, so `tail` advances in
/// steps of at most this many slots even in one long batch.
pub const RS_EVERY: u32 = 64;
const TXD_STATUS_OFFSET: usize = 12;
/// The u32 holding length (bytes 8-9), cso (10) and cmd (11).
const TXD_LEN_CMD_OFFSET: usize = 8;
/// The RX write-back's status byte (12) and errors byte (13), read as the
/// low half of the u32 at 12.
const RXD_STATUS_OFFSET: usize = 12;
const RXD_LENGTH_OFFSET: usize = 8;
const RXD_ERRORS_MASK: u32 = 0xff00;

/// Device misbehaviour seen by the queues, reported through statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueErrors {
    /// Receive write-backs with a length larger than the buffer (clamped).
    pub rx_bad_length: u64,
    /// Receive descriptors with an error bit (CRC, symbol, ...).
    pub rx_errors: u64,
}

pub struct TxQueue {
    pub descs: DescRing<TxDesc>,
    /// Positions whose descriptor asked for a report (RS), oldest first.
    reports: VecDeque<u32>,
}

impl TxQueue {
    pub fn new(descs: DescRing<TxDesc>) -> Self {
        let n = descs.count() as usize;
        TxQueue {
            descs,
            reports: VecDeque::with_capacity(n),
        }
    }

    /// Transmits `[hwcur, head)` and reclaims completed slots.
    ///
    /// In contiguous runs of at most `RS_EVERY` slots, the last of each
    /// asking for a report: the common slot (no NS_REPORT, no NS_MOREFRAG)
    /// goes through a call-free loop, the others one by one out of line.
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        let mut bad: Option<(u32, SlotHead)> = None;
        if head != kring.hwcur {
            let bounds = region.buf_bounds();
            let mut end = head;
            'runs: for (lo, hi) in kring.runs(kring.hwcur, kring.distance(kring.hwcur, head)) {
                let mut c = lo;
                while c < hi {
                    let ce = hi.min(c + RS_EVERY);
                    let (slots, descs) = (ring.run(c, ce), self.descs.run(c, ce));
                    let mut j = 0;
                    let cut = loop {
                        j = write_plain_slots(slots, descs, j, bounds, dma);
                        if j == slots.len() {
                            break None;
                        }
                        let h = slots.head(j);
                        if !bounds.slot_ok(h.buf_idx, h.len) {
                            break Some(j);
                        }
                        write_special(&self.descs, &mut self.reports, c + j as u32, h, dma);
                        slots.set_flags(j, h.flags & !CLEARED_ON_TX);
                        j += 1;
                    };
                    let stop = cut.map_or(ce, |at| c + at as u32);
                    // What was handed over ends with a report, so it
                    // completes.
                    if stop > c && self.reports.back() != Some(&(stop - 1)) {
                        self.descs
                            .or_u32(stop - 1, TXD_LEN_CMD_OFFSET, (TXD_CMD_RS as u32) << 24);
                        self.reports.push_back(stop - 1);
                    }
                    if let Some(at) = cut {
                        bad = Some((stop, slots.head(at)));
                        end = stop;
                        break 'runs;
                    }
                    c = ce;
                }
            }
            if end != kring.hwcur {
                fence(Ordering::Release);
                regs.write32(TDT, end);
                kring.hwcur = end;
            }
        }
        self.reclaim(kring);
        match bad {
            None => Ok(()),
            Some((pos, h)) => Err(bad_slot(region, kring, pos, h.buf_idx, h.len)),
        }
    }

    /// Advances hwtail past every reported descriptor the device finished.
    fn reclaim(&mut self, kring: &mut KRing) {
        while let Some(&pos) = self.reports.front() {
            if self.descs.read_byte(pos, TXD_STATUS_OFFSET) & DESC_STA_DD == 0 {
                break;
            }
            kring.hwtail = pos;
            self.reports.pop_front();
        }
        fence(Ordering::Acquire);
    }

    /// Whether the device still holds slots (reports outstanding).
    pub fn busy(&self) -> bool {
        !self.reports.is_empty()
    }

    /// Whether a txsync would now move `tail` (the oldest report is done).
    pub fn completion_pending(&self) -> bool {
        self.reports
            .front()
            .is_some_and(|&pos| self.descs.read_byte(pos, TXD_STATUS_OFFSET) & DESC_STA_DD != 0)
    }
}

pub struct RxQueue {
    pub descs: DescRing<RxDesc>,
    pub errors: QueueErrors,
    /// The RDT value last written: released slots are handed back in
    /// batches (see `sync`), so it may trail `hwcur - 1`. A `Cell`: the
    /// sleep path, which has `&self`, flushes it.
    rdt: std::cell::Cell<u32>,
    /// Average duration of recent RDT writes, in nanoseconds (an
    /// exponentially weighted mean over about 8 writes): chooses how many
    /// released slots to gather before the next one.
    rdt_write_ns: std::cell::Cell<u64>,
    tail_writes: std::cell::Cell<TailWrites>,
}

/// How often the receiver wrote RDT and how long the writes took: under
/// QEMU each write waits for the global lock, and a receiver held up there
/// is where frames are lost (BENCHMARKS.md), so pkt-gen reports these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailWrites {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
}

/// RDT writes slower than this on average (nanoseconds) are treated as
/// expensive: a posted write on real hardware takes well under a
/// microsecond, and a trap to KVM a few; under QEMU's TCG each write also
/// waits for the global lock, tens of microseconds to milliseconds.
pub const SLOW_DOORBELL_NS: u64 = 20_000;

impl RxQueue {
    /// Programs every descriptor with its slot's buffer: QEMU's e1000 treats
    /// an address of 0 as "skip" and runs past the tail (see lab notes).
    pub fn new(descs: DescRing<RxDesc>, ring: &RingMem<'_>, dma: DmaWindow) -> Self {
        for k in 0..descs.count() {
            descs.write(
                k,
                RxDesc {
                    addr: dma.buf_iova(ring.slot(k).buf_idx),
                    ..RxDesc::default()
                },
            );
        }
        let rdt = std::cell::Cell::new(descs.count() - 1);
        RxQueue {
            descs,
            errors: QueueErrors::default(),
            rdt,
            rdt_write_ns: std::cell::Cell::new(0),
            tail_writes: std::cell::Cell::new(TailWrites::default()),
        }
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

    pub fn tail_writes(&self) -> TailWrites {
        self.tail_writes.get()
    }

    /// Whether a frame waits at `hwtail` (an rxsync would deliver it).
    pub fn frame_pending(&self, kring: &KRing) -> bool {
        self.descs.read_byte(kring.hwtail, RXD_STATUS_OFFSET) & DESC_STA_DD != 0
    }

    /// Publishes received slots and gives released ones back to the device.
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        // The device may fill [hwtail, hwcur - 1): never scan further, even
        // if it wrote DD where it should not have.
        let room = kring.distance(kring.hwtail, kring.prev(kring.hwcur));
        let max_len = region.buf_size().min(u16::MAX as u32);
        let mut got = 0;
        for (lo, hi) in kring.runs(kring.hwtail, room) {
            if lo == hi {
                break;
            }
            let (slots, descs) = (ring.run(lo, hi), self.descs.run(lo, hi));
            // Whole good frames in a call-free loop; anything else out of
            // line, then the loop resumes.
            let mut j = 0;
            loop {
                j = publish_good_frames(slots, descs, j, max_len);
                if j == slots.len()
                    || descs.read_u32(j, RXD_STATUS_OFFSET) & DESC_STA_DD as u32 == 0
                {
                    break;
                }
                fence(Ordering::Acquire);
                let status = descs.read_u32(j, RXD_STATUS_OFFSET);
                let len = descs.read_u16(j, RXD_LENGTH_OFFSET);
                let (len, flags) = self.errors.unusual(len, status, max_len);
                slots.set_len_flags(j, len, flags);
                j += 1;
            }
            got += j as u32;
            if j < slots.len() {
                break;
            }
        }
        kring.hwtail = kring.advance(kring.hwtail, got);

        let mut bad = None;
        if head != kring.hwcur {
            let (k, cut) = give_released(ring, &self.descs, region, kring, head, dma);
            bad = cut;
            if k != kring.hwcur {
                kring.hwcur = k;
                // Each RDT write is a trap to the hypervisor (and, under
                // QEMU, a wait for its global lock): hand slots back in
                // batches (`release_batch`), unless the device is running
                // short (under n/4 empty descriptors), which also covers
                // small releases.
                let n = kring.num_slots;
                let held_back = (kring.prev(k) + n - self.rdt.get()) % n;
                let device_has = (self.rdt.get() + n - kring.hwtail) % n;
                if held_back >= self.release_batch(n) || device_has < n / 4 {
                    self.flush_tail(regs, kring);
                }
            }
        }
        match bad {
            None => Ok(()),
            Some((pos, buf_idx)) => Err(bad_slot(region, kring, pos, buf_idx, 0)),
        }
    }
}

impl QueueErrors {
    /// A write-back that is not a whole good frame within the buffer:
    /// counts errors and over-long lengths (clamped), and marks a frame
    /// continued in the next descriptor with NS_MOREFRAG.
    #[cold]
    #[inline(never)]
    fn unusual(&mut self, len: u16, status: u32, max_len: u32) -> (u16, u16) {
        if status & RXD_ERRORS_MASK != 0 {
            self.rx_errors += 1;
        }
        let mut len = len;
        if len as u32 > max_len {
            self.rx_bad_length += 1;
            len = max_len as u16;
        }
        let flags = if status & RXD_STA_EOP as u32 != 0 {
            0
        } else {
            NS_MOREFRAG
        };
        (len, flags)
    }
}

/// A fragment (no EOP) or a slot asking for a report (RS now).
#[inline(never)]
fn write_special(
    descs: &DescRing<TxDesc>,
    reports: &mut VecDeque<u32>,
    pos: u32,
    h: SlotHead,
    dma: DmaWindow,
) {
    let report = h.flags & NS_REPORT != 0;
    let eop = if h.flags & NS_MOREFRAG != 0 {
        0
    } else {
        TXD_CMD_EOP
    };
    descs.write(
        pos,
        TxDesc {
            addr: dma.buf_iova(h.buf_idx),
            length: h.len,
            cmd: TXD_CMD_IFCS | eop | if report { TXD_CMD_RS } else { 0 },
            ..TxDesc::default()
        },
    );
    if report {
        reports.push_back(pos);
    }
}

/// Writes one legacy descriptor per slot from `j` on while the slots are
/// valid, end their packet and ask for no report (the common case). Returns
/// the first position it left. Not inlined, so the loop has the registers
/// to itself.
#[inline(never)]
fn write_plain_slots(
    slots: SlotRun<'_>,
    descs: DescRun<'_, TxDesc>,
    mut j: usize,
    bounds: BufBounds,
    dma: DmaWindow,
) -> usize {
    // Bytes 8..16: length, cso 0, cmd, status 0 (DD clear), css 0, special 0.
    const CMD: u64 = ((TXD_CMD_IFCS | TXD_CMD_EOP) as u64) << 24;
    let n = slots.len().min(descs.len());
    while j < n {
        let h = slots.head(j);
        if !bounds.slot_ok(h.buf_idx, h.len) || h.flags & (NS_MOREFRAG | NS_REPORT) != 0 {
            break;
        }
        descs.write_halves(j, dma.buf_iova(h.buf_idx), CMD | h.len as u64);
        slots.set_flags(j, h.flags & !CLEARED_ON_TX);
        j += 1;
    }
    j
}

/// Publishes the run's frames from `j` on while they are done, whole,
/// error-free and fit the buffer: a status load, a length load and one
/// slot store each. Returns the first position it left.
#[inline(never)]
fn publish_good_frames(
    slots: SlotRun<'_>,
    descs: DescRun<'_, RxDesc>,
    mut j: usize,
    max_len: u32,
) -> usize {
    const GOOD: u32 = (DESC_STA_DD | RXD_STA_EOP) as u32;
    let n = slots.len().min(descs.len());
    while j < n {
        let status = descs.read_u32(j, RXD_STATUS_OFFSET);
        if status & (GOOD | RXD_ERRORS_MASK) != GOOD {
            break;
        }
        fence(Ordering::Acquire);
        let len = descs.read_u16(j, RXD_LENGTH_OFFSET);
        if len as u32 > max_len {
            break;
        }
        slots.set_len_flags(j, len, 0);
        j += 1;
    }
    j
}
