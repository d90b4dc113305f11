//! The descriptor-ring engine every NIC driver runs: netmap slots moved to
//! and from a ring of 16-byte descriptors, in contiguous runs, with
//! completion read from DD bits in memory (never from head registers) and
//! at most one tail register write per sync. A driver keeps only what is
//! its own: the descriptor formats (as [`TxFormat`] and [`RxFormat`]), its
//! tail registers, and when it rings a receive doorbell.
//!
//! Per transmitted packet in the common case (one slot, no report): one
//! slot load, a buffer and length check, two 8-byte descriptor stores and
//! a flag store, in a call-free loop (`write_whole_packets`). Per received
//! frame: a status load, a length load and one slot store
//! (`publish_good_frames`). Everything else (fragments, reports, errors,
//! impossible lengths, bad indices) goes out of line and the loop resumes.

use std::collections::VecDeque;
use std::sync::atomic::{Ordering, fence};

use super::desc_ring::{DescRing, DescRun, DmaWindow, bad_slot, give_released};
use super::regs::RegisterAccess;
use crate::abi::slot_flags::{CLEARED_ON_TX, NS_MOREFRAG, NS_REPORT};
use crate::api::{ApiError, KRing};
use crate::mem::{BufBounds, Region, RingMem, SlotHead, SlotRun};

/// Ask for a completion report at least this often, so `tail` advances in
/// steps of at most this many slots even in one long batch.
pub const RS_EVERY: u32 = 64;

/// No position (a `u32` ring index never reaches it).
const NO_POS: u32 = u32::MAX;

/// Device misbehaviour seen by a queue, reported through statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueErrors {
    /// Receive write-backs with an impossible length (larger than the
    /// buffer, or 0 where the format never writes 0), clamped to the
    /// buffer.
    pub rx_bad_length: u64,
    /// Receive descriptors with a frame error bit (CRC, symbol, length...).
    pub rx_errors: u64,
}

/// A transmit descriptor format, as the engine writes it.
pub trait TxFormat: Copy + Default {
    /// Byte offset of the status byte holding DD in the write-back.
    const STATUS: usize;
    /// DD in that byte.
    const DONE: u8;
    /// Byte offset of the naturally aligned u32 holding the RS bit.
    const CMD: usize;
    /// RS in that u32.
    const RS: u32;
    /// The two 8-byte halves of the descriptor of a packet whole in one
    /// slot, with no report asked.
    fn whole(iova: u64, len: u16) -> (u64, u64);
    /// The descriptor of one slot of a packet the out-of-line path writes:
    /// `end` if it is the packet's last slot, `report` to ask for a
    /// write-back, `paylen` the packet's whole length when known here.
    fn piece(iova: u64, len: u16, end: bool, report: bool, paylen: Option<u32>) -> Self;
    /// The packet's first descriptor, given the whole packet's length once
    /// its last piece is known (formats without a PAYLEN field keep it).
    fn with_paylen(first: Self, _paylen: u32) -> Self {
        first
    }
}

/// A receive descriptor format's write-back, as the engine reads it.
pub trait RxFormat: Copy + Default {
    /// Byte offset of the naturally aligned status u32.
    const STATUS: usize;
    /// Byte offset of the u16 length.
    const LENGTH: usize;
    /// DD in the status u32.
    const DONE: u32;
    /// EOP in the status u32.
    const END: u32;
    /// Frame error bits in the status u32.
    const ERRORS: u32;
    /// Whether a length of 0 is impossible (a format that never writes it).
    const ZERO_LENGTH_IS_BAD: bool;
}

/// One transmit ring: descriptors and the positions that asked for a
/// completion report, oldest first.
pub struct TxRing<D> {
    /// The descriptors, in pool buffers.
    pub descs: DescRing<D>,
    reports: VecDeque<u32>,
}

/// A multi-descriptor packet a txsync has started but not ended.
struct Packet {
    /// Its first descriptor.
    start: u32,
    /// Its bytes so far.
    paylen: u32,
}

impl Packet {
    const NONE: Packet = Packet {
        start: NO_POS,
        paylen: 0,
    };
}

impl<D: TxFormat> TxRing<D> {
    /// A ring over `descs`, nothing outstanding.
    pub fn new(descs: DescRing<D>) -> Self {
        let n = descs.count() as usize;
        TxRing {
            descs,
            reports: VecDeque::with_capacity(n),
        }
    }

    /// Transmits `[hwcur, head)` and reclaims completed slots, writing the
    /// tail register `tail` once if anything was handed over.
    ///
    /// In contiguous runs of at most [`RS_EVERY`] slots, whose last whole
    /// packet asks for a report. A packet whose last piece is not in the
    /// batch (or is cut by a bad slot) is held back whole until a later
    /// sync, so a fragment never goes out without its end.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        tail: usize,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        // A bad slot: position and head. The error itself is built only at
        // the end, off the fast path.
        let mut bad: Option<(u32, SlotHead)> = None;
        if head != kring.hwcur {
            let bounds = region.buf_bounds();
            let mut pkt = Packet::NONE;
            let mut end = head;
            'runs: for (lo, hi) in kring.runs(kring.hwcur, kring.distance(kring.hwcur, head)) {
                let mut c = lo;
                while c < hi {
                    let ce = hi.min(c + RS_EVERY);
                    let (slots, descs) = (ring.run(c, ce), self.descs.run(c, ce));
                    let n = slots.len();
                    // Alternate between the common case and the out-of-line
                    // path until the run is written or a bad slot cuts it.
                    let mut j = 0;
                    let cut = loop {
                        if pkt.start == NO_POS {
                            j = write_whole_packets(slots, descs, j, bounds, dma);
                        }
                        if j == n {
                            break None;
                        }
                        let mut slow = SlowPath {
                            descs: &self.descs,
                            reports: &mut self.reports,
                            ring,
                            kring,
                            dma,
                            bounds,
                            slots: &slots,
                            first: c,
                            pkt: &mut pkt,
                        };
                        match slow.finish_packet(j) {
                            Ok(next) => j = next,
                            Err(at) => break Some(at),
                        }
                    };
                    let stop = cut.map_or(ce, |at| c + at as u32);
                    self.report_last(c, stop, &pkt);
                    if let Some(at) = cut {
                        bad = Some((stop, slots.head(at)));
                        end = stop;
                        break 'runs;
                    }
                    c = ce;
                }
            }
            if pkt.start != NO_POS {
                end = pkt.start;
            }
            if end != kring.hwcur {
                fence(Ordering::Release);
                regs.write32(tail, end);
                kring.hwcur = end;
            }
        }
        self.reclaim(kring);
        match bad {
            None => Ok(()),
            Some((pos, h)) => Err(bad_slot(region, kring, pos, h.buf_idx, h.len)),
        }
    }

    /// Puts RS on the last packet that ended in the run `[c, stop)` just
    /// written, unless it already has it (NS_REPORT) or the run ended none.
    /// With no packet open at `stop`, that is the slot before `stop`; with
    /// one open, the slot before its start, if the start is in this run.
    #[inline(always)]
    fn report_last(&mut self, c: u32, stop: u32, pkt: &Packet) {
        let boundary = if pkt.start != NO_POS { pkt.start } else { stop };
        if boundary <= c || boundary > stop {
            return;
        }
        let pos = boundary - 1;
        if self.reports.back() != Some(&pos) {
            self.descs.or_u32(pos, D::CMD, D::RS);
            self.reports.push_back(pos);
        }
    }

    /// Advances hwtail past every reported descriptor the device finished.
    /// Only positions that asked for a report are looked at: a DD bit the
    /// device wrote anywhere else is ignored.
    fn reclaim(&mut self, kring: &mut KRing) {
        while let Some(&pos) = self.reports.front() {
            if self.descs.read_byte(pos, D::STATUS) & D::DONE == 0 {
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

    /// Whether the oldest outstanding report is done (a txsync would move
    /// `tail`), so there is no point sleeping.
    pub fn has_completions(&self) -> bool {
        self.reports
            .front()
            .is_some_and(|&pos| self.descs.read_byte(pos, D::STATUS) & D::DONE != 0)
    }
}

/// Writes one descriptor per slot from `j` on while the slots hold whole,
/// valid packets with no NS_REPORT: the common case. Returns the first
/// position it left (a fragment, a report, a bad slot, or the run's end).
/// Not inlined, so the loop has the registers to itself.
#[inline(never)]
fn write_whole_packets<D: TxFormat>(
    slots: SlotRun<'_>,
    descs: DescRun<'_, D>,
    mut j: usize,
    bounds: BufBounds,
    dma: DmaWindow,
) -> usize {
    let n = slots.len().min(descs.len());
    while j < n {
        let h = slots.head(j);
        if !bounds.slot_ok(h.buf_idx, h.len) || h.flags & (NS_MOREFRAG | NS_REPORT) != 0 {
            break;
        }
        let (lo, hi) = D::whole(dma.buf_iova(h.buf_idx), h.len);
        descs.write_halves(j, lo, hi);
        slots.set_flags(j, h.flags & !CLEARED_ON_TX);
        j += 1;
    }
    j
}

/// What the out-of-line part of a txsync needs: fragments of
/// multi-descriptor packets and slots asking for a report.
struct SlowPath<'a, 'r, D> {
    descs: &'a DescRing<D>,
    reports: &'a mut VecDeque<u32>,
    ring: &'a RingMem<'r>,
    kring: &'a KRing,
    dma: DmaWindow,
    bounds: BufBounds,
    /// The run being written and its first position.
    slots: &'a SlotRun<'a>,
    first: u32,
    pkt: &'a mut Packet,
}

impl<D: TxFormat> SlowPath<'_, '_, D> {
    /// Writes the run's slots from `j` until the packet there ends (or the
    /// run does, leaving it open); a packet whole in one slot just asks for
    /// a report. Returns where it stopped, or the position of a bad slot.
    #[inline(never)]
    fn finish_packet(&mut self, mut j: usize) -> Result<usize, usize> {
        while j < self.slots.len() {
            let h = self.slots.head(j);
            if !self.bounds.slot_ok(h.buf_idx, h.len) {
                return Err(j);
            }
            self.slot(self.first + j as u32, h);
            j += 1;
            if self.pkt.start == NO_POS {
                break;
            }
        }
        Ok(j)
    }

    /// One slot. The whole packet's length goes in its first descriptor,
    /// patched once the end is known; the slots' flags are consumed only
    /// when the packet is whole, so a held-back fragment keeps its
    /// NS_MOREFRAG.
    fn slot(&mut self, pos: u32, h: SlotHead) {
        let pkt = &mut *self.pkt;
        let more = h.flags & NS_MOREFRAG != 0;
        let report = !more && h.flags & NS_REPORT != 0;
        let start = if pkt.start == NO_POS { pos } else { pkt.start };
        pkt.paylen += h.len as u32;
        let paylen = (start == pos && !more).then_some(pkt.paylen);
        let iova = self.dma.buf_iova(h.buf_idx);
        self.descs
            .write(pos, D::piece(iova, h.len, !more, report, paylen));
        if more {
            pkt.start = start;
            return;
        }
        if start != pos {
            let first = self.descs.read(start);
            self.descs.write(start, D::with_paylen(first, pkt.paylen));
        }
        let mut k = start;
        loop {
            let flags = self.ring.slot_flags(k);
            if flags & CLEARED_ON_TX != 0 {
                self.ring.set_slot_flags(k, flags & !CLEARED_ON_TX);
            }
            if k == pos {
                break;
            }
            k = self.kring.next(k);
        }
        if report {
            self.reports.push_back(pos);
        }
        *pkt = Packet::NONE;
    }
}

/// One receive ring: descriptors, every one holding a real buffer address
/// at all times, and what the device got wrong.
pub struct RxRing<D> {
    /// The descriptors, in pool buffers.
    pub descs: DescRing<D>,
    /// Impossible write-backs seen so far.
    pub errors: QueueErrors,
}

impl<D: RxFormat> RxRing<D> {
    /// Programs every descriptor with its slot's buffer, the one the tail
    /// leaves unused included: QEMU's e1000 treats an address of 0 as
    /// "skip" and runs past the tail.
    pub fn new(descs: DescRing<D>, ring: &RingMem<'_>, dma: DmaWindow) -> Self {
        for k in 0..descs.count() {
            let run = descs.run(k, k + 1);
            run.write_halves(0, dma.buf_iova(ring.slot(k).buf_idx), 0);
        }
        RxRing {
            descs,
            errors: QueueErrors::default(),
        }
    }

    /// Whether the device has written the descriptor at `hwtail` (an rxsync
    /// would publish a frame), so there is no point sleeping.
    pub fn has_frames(&self, kring: &KRing) -> bool {
        kring.hwtail != kring.prev(kring.hwcur)
            && self.descs.read_byte(kring.hwtail, D::STATUS) as u32 & D::DONE != 0
    }

    /// Publishes what the device received: advances `hwtail` past every
    /// done descriptor in `[hwtail, hwcur - 1)`, the range the device may
    /// fill; never further, even if it wrote DD where it should not have.
    #[inline]
    pub fn receive(&mut self, region: &Region, ring: &RingMem<'_>, kring: &mut KRing) {
        let room = kring.distance(kring.hwtail, kring.prev(kring.hwcur));
        let max_len = region.buf_size().min(u16::MAX as u32);
        let mut got = 0;
        for (lo, hi) in kring.runs(kring.hwtail, room) {
            if lo == hi {
                break;
            }
            let (slots, descs) = (ring.run(lo, hi), self.descs.run(lo, hi));
            let mut j = 0;
            loop {
                j = publish_good_frames(slots, descs, j, max_len);
                if j == slots.len() || descs.read_u32(j, D::STATUS) & D::DONE == 0 {
                    break;
                }
                fence(Ordering::Acquire);
                let status = descs.read_u32(j, D::STATUS);
                let len = descs.read_u16(j, D::LENGTH);
                let (len, flags) = unusual::<D>(&mut self.errors, len, status, max_len);
                slots.set_len_flags(j, len, flags);
                j += 1;
            }
            got += j as u32;
            if j < slots.len() {
                break;
            }
        }
        kring.hwtail = kring.advance(kring.hwtail, got);
    }

    /// Re-arms the descriptors of the slots the application released,
    /// `[hwcur, head)`, with their buffers (every index checked, flagged or
    /// not) and advances `hwcur` past them; the caller rings the doorbell.
    /// A bad slot is an error; the slots before it were given back.
    #[inline]
    pub fn give_back(
        &mut self,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        if head == kring.hwcur {
            return Ok(());
        }
        let (k, bad) = give_released(ring, &self.descs, region, kring, head, dma);
        kring.hwcur = k;
        match bad {
            None => Ok(()),
            Some((pos, buf_idx)) => Err(bad_slot(region, kring, pos, buf_idx, 0)),
        }
    }
}

/// Publishes the run's frames from `j` on while they are done, whole,
/// error-free and of a possible length (the common case): one status load,
/// one length load, one slot store each. Returns the first position it
/// left.
#[inline(never)]
fn publish_good_frames<D: RxFormat>(
    slots: SlotRun<'_>,
    descs: DescRun<'_, D>,
    mut j: usize,
    max_len: u32,
) -> usize {
    let n = slots.len().min(descs.len());
    while j < n {
        let status = descs.read_u32(j, D::STATUS);
        if status & (D::DONE | D::END | D::ERRORS) != D::DONE | D::END {
            break;
        }
        fence(Ordering::Acquire);
        let len = descs.read_u16(j, D::LENGTH);
        if impossible_length::<D>(len, max_len) {
            break;
        }
        slots.set_len_flags(j, len, 0);
        j += 1;
    }
    j
}

#[inline(always)]
fn impossible_length<D: RxFormat>(len: u16, max_len: u32) -> bool {
    if D::ZERO_LENGTH_IS_BAD {
        (len as u32).wrapping_sub(1) >= max_len
    } else {
        len as u32 > max_len
    }
}

/// A write-back that is not a whole good frame of a possible length:
/// counts frame errors and impossible lengths (clamped to the buffer), and
/// marks a frame continued in the next descriptor with NS_MOREFRAG.
#[cold]
#[inline(never)]
fn unusual<D: RxFormat>(
    errors: &mut QueueErrors,
    len: u16,
    status: u32,
    max_len: u32,
) -> (u16, u16) {
    if status & D::ERRORS != 0 {
        errors.rx_errors += 1;
    }
    let mut len = len;
    if impossible_length::<D>(len, max_len) {
        errors.rx_bad_length += 1;
        len = len.min(max_len as u16);
    }
    let flags = if status & D::END != 0 { 0 } else { NS_MOREFRAG };
    (len, flags)
}
