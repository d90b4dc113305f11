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
use crate::api::abi::slot_flags::{CLEARED_ON_TX, NS_BUF_CHANGED, NS_MOREFRAG, NS_REPORT};
use crate::api::{ApiError, KRing};
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::regs::RegisterAccess;
use crate::mem::{Region, RingMem};

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

/// One transmit queue.
pub struct TxQueue {
    pub index: usize,
    pub descs: DescRing<AdvTxRead>,
    /// Positions whose descriptor asked for a report (RS), oldest first.
    reports: VecDeque<u32>,
    since_report: u32,
}

impl TxQueue {
    pub fn new(index: usize, descs: DescRing<AdvTxRead>) -> Self {
        let n = descs.count() as usize;
        TxQueue {
            index,
            descs,
            reports: VecDeque::with_capacity(n),
            since_report: 0,
        }
    }

    /// Transmits `[hwcur, head)` and reclaims completed slots.
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        let head = kring.prologue(ring)?;
        let mut result = Ok(());
        if head != kring.hwcur {
            let mut k = kring.hwcur;
            let mut last: Option<(u32, AdvTxRead)> = None;
            // PAYLEN of a multi-descriptor packet goes in its first
            // descriptor: remember where the packet started.
            let mut first: Option<u32> = None;
            let mut paylen = 0u32;
            while k != head {
                let s = ring.slot(k);
                if let Err(e) = check_slot(region, kring, k, s.buf_idx, s.len) {
                    result = Err(e);
                    break;
                }
                let next = kring.next(k);
                let more = s.flags & NS_MOREFRAG != 0;
                let report = !more
                    && (s.flags & NS_REPORT != 0
                        || next == head
                        || self.since_report + 1 >= RS_EVERY);
                let cmd = TXD_DTYP_DATA
                    | TXD_CMD_DEXT
                    | TXD_CMD_IFCS
                    | if more { 0 } else { TXD_CMD_EOP }
                    | if report { TXD_CMD_RS } else { 0 };
                let start = *first.get_or_insert(k);
                paylen += s.len as u32;
                // A one-descriptor packet (the common case) gets its PAYLEN
                // in this single write; a longer one's first descriptor is
                // patched once its end is known.
                let desc = AdvTxRead {
                    addr: dma.buf_iova(s.buf_idx),
                    cmd_type_len: cmd | s.len as u32,
                    olinfo_status: if !more && start == k {
                        paylen << TXD_PAYLEN_SHIFT
                    } else {
                        0
                    },
                };
                self.descs.write(k, desc);
                if !more {
                    if start != k {
                        let d = self.descs.read(start);
                        self.descs.write(
                            start,
                            AdvTxRead {
                                olinfo_status: paylen << TXD_PAYLEN_SHIFT,
                                ..d
                            },
                        );
                    }
                    first = None;
                    paylen = 0;
                }
                self.note_report(k, report);
                last = Some((k, desc));
                k = next;
            }
            // A batch cut short (bad slot) or ending inside a packet: hand
            // the device only whole packets, so a fragment never goes out
            // without its end (no report was asked inside a packet, so
            // none is outstanding there); the rest waits for the next sync.
            if let Some(start) = first {
                k = start;
                last = (k != kring.hwcur).then(|| {
                    let p = if k == 0 { kring.num_slots - 1 } else { k - 1 };
                    (p, self.descs.read(p))
                });
            }
            // What was handed over ends with a report, so it completes.
            if let Some((pos, desc)) = last.filter(|(_, d)| d.cmd_type_len & TXD_CMD_RS == 0) {
                self.descs.write(
                    pos,
                    AdvTxRead {
                        cmd_type_len: desc.cmd_type_len | TXD_CMD_RS,
                        ..desc
                    },
                );
                self.note_report(pos, true);
            }
            if k != kring.hwcur {
                // Flags of the slots handed over are consumed (a held-back
                // fragment keeps its NS_MOREFRAG for the next sync).
                let mut j = kring.hwcur;
                while j != k {
                    let flags = ring.slot(j).flags;
                    if flags & CLEARED_ON_TX != 0 {
                        ring.set_slot_flags(j, flags & !CLEARED_ON_TX);
                    }
                    j = kring.next(j);
                }
                fence(Ordering::Release);
                regs.write32(tdt(self.index), k);
                kring.hwcur = k;
            }
        }
        self.reclaim(kring);
        kring.finalize(ring);
        result
    }

    #[inline(always)]
    fn note_report(&mut self, pos: u32, report: bool) {
        if report {
            self.reports.push_back(pos);
            self.since_report = 0;
        } else {
            self.since_report += 1;
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
    pub fn sync(
        &mut self,
        regs: &impl RegisterAccess,
        region: &Region,
        dma: DmaWindow,
        ring: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        let head = kring.prologue(ring)?;
        // The device may fill [hwtail, hwcur - 1): never scan further, even
        // if it wrote DD where it should not have.
        let limit = if kring.hwcur == 0 {
            kring.num_slots - 1
        } else {
            kring.hwcur - 1
        };
        let buf_size = region.buf_size();
        let mut i = kring.hwtail;
        while i != limit {
            if self.descs.read_byte(i, RXD_STATUS_OFFSET) as u32 & RXD_STAT_DD == 0 {
                break;
            }
            fence(Ordering::Acquire);
            let wb = rx_writeback(self.descs.read(i));
            let mut len = wb.length;
            if len == 0 || len as u32 > buf_size {
                self.errors.rx_bad_length += 1;
                len = len.min(buf_size.min(u16::MAX as u32) as u16);
            }
            if wb.status_error & RXD_ERR_FRAME != 0 {
                self.errors.rx_errors += 1;
            }
            ring.set_slot_len(i, len);
            ring.set_slot_flags(
                i,
                if wb.status_error & RXD_STAT_EOP != 0 {
                    0
                } else {
                    NS_MOREFRAG
                },
            );
            i = kring.next(i);
        }
        kring.hwtail = i;

        let mut result = Ok(());
        if head != kring.hwcur {
            let mut k = kring.hwcur;
            while k != head {
                let s = ring.slot(k);
                if s.flags & NS_BUF_CHANGED != 0 {
                    if let Err(e) = check_slot(region, kring, k, s.buf_idx, 0) {
                        result = Err(e);
                        break;
                    }
                    ring.set_slot_flags(k, s.flags & !NS_BUF_CHANGED);
                }
                // hdr_addr 0 also clears the DD bit of the last write-back.
                self.descs.write(
                    k,
                    AdvRxRead {
                        pkt_addr: dma.buf_iova(s.buf_idx),
                        hdr_addr: 0,
                    },
                );
                k = kring.next(k);
            }
            if k != kring.hwcur {
                kring.hwcur = k;
                fence(Ordering::Release);
                regs.write32(
                    rdt(self.index),
                    if k == 0 { kring.num_slots - 1 } else { k - 1 },
                );
            }
        }
        kring.finalize(ring);
        result
    }
}

/// Rejects a slot naming no buffer of the region or longer than a buffer.
/// Inlined into the per-slot loops: the passing case is two compares; the
/// error is built out of line.
#[inline(always)]
fn check_slot(
    region: &Region,
    kring: &KRing,
    k: u32,
    buf_idx: u32,
    len: u16,
) -> Result<(), ApiError> {
    if !region.valid_buf(buf_idx) || len as u32 > region.buf_size() {
        return Err(bad_slot(region, kring, k, buf_idx, len));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn bad_slot(region: &Region, kring: &KRing, k: u32, buf_idx: u32, len: u16) -> ApiError {
    if !region.valid_buf(buf_idx) {
        return ApiError::BadBufIdx {
            ring: kring.id,
            slot: k,
            buf_idx,
            num_bufs: region.num_bufs(),
        };
    }
    ApiError::BadLen {
        ring: kring.id,
        slot: k,
        len,
        buf_size: region.buf_size(),
    }
}
