//! txsync and rxsync of one queue pair on advanced descriptors.
//!
//! Per sync: descriptor writes in memory, at most one tail register write,
//! completion read from DD bits in memory (never TDH/RDH). Each queue is
//! independent: its registers are its own, so queues can be synced from
//! different threads once split.

use std::collections::VecDeque;
use std::sync::atomic::{Ordering, fence};

use super::desc::*;
use super::regs::{rdt, tdt};
use crate::abi::slot_flags::{CLEARED_ON_TX, NS_MOREFRAG, NS_REPORT};
use crate::api::{ApiError, KRing};
use crate::driver::desc_ring::{DescRing, DescRun, DmaWindow, bad_slot, give_released};
use crate::driver::regs::RegisterAccess;
use crate::mem::{BufBounds, Region, RingMem, SlotHead, SlotRun};

/// Ask for a completion report at least this often, so `tail` advances in
/// steps of at most this many slots even in one long batch.
pub const RS_EVERY: u32 = 64;

/// Device misbehaviour seen by a queue, reported through statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueErrors {
    /// Receive write-backs with a length of 0 or larger than the buffer
    /// (clamped to the buffer).
    pub rx_bad_length: u64,
    /// Receive descriptors with a frame error bit (CRC, length, ...).
    pub rx_errors: u64,
}

/// No position (a `u32` ring index never reaches it).
const NO_POS: u32 = u32::MAX;

/// The command of a one-descriptor packet: advanced data descriptor, frame
/// check sequence added, end of packet (RS is added where a report is due).
const TXD_CMD_ONE: u32 = TXD_DTYP_DATA | TXD_CMD_DEXT | TXD_CMD_IFCS | TXD_CMD_EOP;

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

/// One transmit queue.
pub struct TxQueue {
    pub index: usize,
    pub descs: DescRing<AdvTxRead>,
    /// Positions whose descriptor asked for a report (RS), oldest first.
    reports: VecDeque<u32>,
}

impl TxQueue {
    pub fn new(index: usize, descs: DescRing<AdvTxRead>) -> Self {
        let n = descs.count() as usize;
        TxQueue {
            index,
            descs,
            reports: VecDeque::with_capacity(n),
        }
    }

    /// Transmits `[hwcur, head)` and reclaims completed slots.
    ///
    /// One pass over the slots, in contiguous runs of at most `RS_EVERY`:
    /// a one-descriptor packet (the common case) is one slot load, two
    /// 8-byte descriptor stores and one flag store; fragments and NS_REPORT
    /// take the out-of-line path. Each run's last whole packet asks for a
    /// report.
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
        // A bad slot: position, buffer index and length. The error itself
        // is built only at the end, off the fast path.
        let mut bad: Option<(u32, SlotHead)> = None;
        if head != kring.hwcur {
            let bounds = region.buf_bounds();
            // A multi-descriptor packet not ended yet (its start and length
            // so far) goes slot by slot through the out-of-line path.
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
                    report_last(&self.descs, &mut self.reports, c, stop, &pkt);
                    if let Some(at) = cut {
                        bad = Some((stop, slots.head(at)));
                        end = stop;
                        break 'runs;
                    }
                    c = ce;
                }
            }
            // A packet whose end has not been handed over yet (the batch
            // ends inside it, or a bad slot cut it) waits for the next sync,
            // so a fragment never goes out without its end.
            if pkt.start != NO_POS {
                end = pkt.start;
            }
            if end != kring.hwcur {
                fence(Ordering::Release);
                regs.write32(tdt(self.index), end);
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
    /// Only positions that asked for a report are looked at: a DD bit the
    /// device wrote anywhere else is ignored.
    fn reclaim(&mut self, kring: &mut KRing) {
        while let Some(&pos) = self.reports.front() {
            if self.descs.read_byte(pos, TXD_STATUS_OFFSET) as u32 & TXD_STAT_DD == 0 {
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
        self.reports.front().is_some_and(|&pos| {
            self.descs.read_byte(pos, TXD_STATUS_OFFSET) as u32 & TXD_STAT_DD != 0
        })
    }
}

/// Writes one descriptor per slot from `j` on while the slots hold whole,
/// valid packets with no NS_REPORT: the common case. Returns the first
/// position it left (a fragment, a report, a bad slot, or the run's end).
/// Not inlined, so the loop has the registers to itself.
#[inline(never)]
fn write_whole_packets(
    slots: SlotRun<'_>,
    descs: DescRun<'_, AdvTxRead>,
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
        let len = h.len as u64;
        descs.write_halves(
            j,
            dma.buf_iova(h.buf_idx),
            TXD_CMD_ONE as u64 | len | len << (32 + TXD_PAYLEN_SHIFT),
        );
        slots.set_flags(j, h.flags & !CLEARED_ON_TX);
        j += 1;
    }
    j
}

/// Puts RS on the last packet that ended in the run `[c, stop)` the sync
/// just wrote, unless it already has it (NS_REPORT) or the run ended none.
/// With no packet open at `stop`, that is the slot before `stop`; with one
/// open, the slot before its start, if the start is in this run.
#[inline(always)]
fn report_last(
    descs: &DescRing<AdvTxRead>,
    reports: &mut VecDeque<u32>,
    c: u32,
    stop: u32,
    pkt: &Packet,
) {
    let boundary = if pkt.start != NO_POS { pkt.start } else { stop };
    if boundary <= c || boundary > stop {
        return;
    }
    let pos = boundary - 1;
    if reports.back() != Some(&pos) {
        descs.or_u32(pos, TXD_CMD_OFFSET, TXD_CMD_RS);
        reports.push_back(pos);
    }
}

/// What the out-of-line part of a txsync needs: fragments of
/// multi-descriptor packets and slots asking for a report.
struct SlowPath<'a, 'r> {
    descs: &'a DescRing<AdvTxRead>,
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

impl SlowPath<'_, '_> {
    /// Writes the run's slots from `j` until the packet there ends (or the
    /// run does, leaving it open); a packet that is whole in one slot just
    /// asks for a report. Returns where it stopped, or the position of a bad
    /// slot.
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

    /// One slot. PAYLEN (the whole packet's length) goes in the packet's
    /// first descriptor, patched once the end is known; the slots' flags are
    /// consumed only when the packet is whole, so a held-back fragment
    /// keeps its NS_MOREFRAG.
    fn slot(&mut self, pos: u32, h: SlotHead) {
        let pkt = &mut *self.pkt;
        let more = h.flags & NS_MOREFRAG != 0;
        let report = !more && h.flags & NS_REPORT != 0;
        let start = if pkt.start == NO_POS { pos } else { pkt.start };
        pkt.paylen += h.len as u32;
        let cmd = TXD_DTYP_DATA
            | TXD_CMD_DEXT
            | TXD_CMD_IFCS
            | if more { 0 } else { TXD_CMD_EOP }
            | if report { TXD_CMD_RS } else { 0 };
        self.descs.write(
            pos,
            AdvTxRead {
                addr: self.dma.buf_iova(h.buf_idx),
                cmd_type_len: cmd | h.len as u32,
                olinfo_status: if start == pos && !more {
                    pkt.paylen << TXD_PAYLEN_SHIFT
                } else {
                    0
                },
            },
        );
        if more {
            pkt.start = start;
            return;
        }
        if start != pos {
            let d = self.descs.read(start);
            self.descs.write(
                start,
                AdvTxRead {
                    olinfo_status: pkt.paylen << TXD_PAYLEN_SHIFT,
                    ..d
                },
            );
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

/// One receive queue.
pub struct RxQueue {
    pub index: usize,
    pub descs: DescRing<AdvRxRead>,
    pub errors: QueueErrors,
}

impl RxQueue {
    /// Programs every descriptor with its slot's buffer.
    pub fn new(
        index: usize,
        descs: DescRing<AdvRxRead>,
        ring: &RingMem<'_>,
        dma: DmaWindow,
    ) -> Self {
        for k in 0..descs.count() {
            descs.write(
                k,
                AdvRxRead {
                    pkt_addr: dma.buf_iova(ring.slot(k).buf_idx),
                    hdr_addr: 0,
                },
            );
        }
        RxQueue {
            index,
            descs,
            errors: QueueErrors::default(),
        }
    }

    /// Whether the device has written the descriptor at `hwtail` (an
    /// rxsync would publish a frame), so there is no point sleeping.
    pub fn has_frames(&self, kring: &KRing) -> bool {
        let limit = if kring.hwcur == 0 {
            kring.num_slots - 1
        } else {
            kring.hwcur - 1
        };
        kring.hwtail != limit
            && self.descs.read_byte(kring.hwtail, RXD_STATUS_OFFSET) as u32 & RXD_STAT_DD != 0
    }

    /// Publishes received slots and gives released ones back to the device.
    ///
    /// Both halves walk contiguous runs: per received frame a status load,
    /// a length load and one store of the slot's length and flags; per
    /// released slot one slot load and one descriptor store (and a flag
    /// store when the application swapped the buffer). Every released
    /// buffer index is checked, flagged or not: a descriptor never gets an
    /// address outside the pool.
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
            // Whole good frames in a loop with no call; anything else is
            // taken apart out of line, then the loop resumes.
            let mut j = 0;
            loop {
                j = publish_good_frames(slots, descs, j, max_len);
                if j == slots.len() || descs.read_u32(j, RXD_STATUS_OFFSET) & RXD_STAT_DD == 0 {
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

        // A bad slot: position, buffer index and length. The error itself
        // is built only at the end, off the fast path.
        let mut bad = None;
        if head != kring.hwcur {
            let (k, cut) = give_released(ring, &self.descs, region, kring, head, dma);
            bad = cut;
            if k != kring.hwcur {
                kring.hwcur = k;
                fence(Ordering::Release);
                regs.write32(rdt(self.index), kring.prev(k));
            }
        }
        match bad {
            None => Ok(()),
            Some((pos, buf_idx)) => Err(bad_slot(region, kring, pos, buf_idx, 0)),
        }
    }
}

/// Publishes the run's frames from `j` on while they are done, whole,
/// error-free and of a sane length (the common case): one status load, one
/// length load, one slot store each. Returns the first position it left.
#[inline(never)]
fn publish_good_frames(
    slots: SlotRun<'_>,
    descs: DescRun<'_, AdvRxRead>,
    mut j: usize,
    max_len: u32,
) -> usize {
    let n = slots.len().min(descs.len());
    while j < n {
        let status = descs.read_u32(j, RXD_STATUS_OFFSET);
        if status & (RXD_STAT_DD | RXD_STAT_EOP | RXD_ERR_FRAME) != RXD_STAT_DD | RXD_STAT_EOP {
            break;
        }
        fence(Ordering::Acquire);
        let len = descs.read_u16(j, RXD_LENGTH_OFFSET);
        if (len as u32).wrapping_sub(1) >= max_len {
            break;
        }
        slots.set_len_flags(j, len, 0);
        j += 1;
    }
    j
}

impl QueueErrors {
    /// A write-back that is not a whole good frame of a sane length: counts
    /// frame errors and bad lengths (clamped to the buffer), and marks a
    /// frame continued in the next descriptor with NS_MOREFRAG.
    #[cold]
    #[inline(never)]
    fn unusual(&mut self, len: u16, status: u32, max_len: u32) -> (u16, u16) {
        if status & RXD_ERR_FRAME != 0 {
            self.rx_errors += 1;
        }
        let mut len = len;
        if len == 0 || len as u32 > max_len {
            self.rx_bad_length += 1;
            len = len.min(max_len as u16);
        }
        let flags = if status & RXD_STAT_EOP != 0 {
            0
        } else {
            NS_MOREFRAG
        };
        (len, flags)
    }
}
