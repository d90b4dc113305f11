//! txsync and rxsync on legacy descriptors.
//!
//! Per sync: descriptor writes in memory, one tail register write, and
//! completion read from DD bits in memory (never TDH/RDH: each MMIO read is
//! a trap in a VM and slow on real hardware).

use std::collections::VecDeque;
use std::sync::atomic::{Ordering, fence};

use super::desc::*;
use super::regs::{RDT, TDT};
use crate::api::abi::slot_flags::{CLEARED_ON_TX, NS_BUF_CHANGED, NS_MOREFRAG, NS_REPORT};
use crate::api::{ApiError, KRing};
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::regs::RegisterAccess;
use crate::mem::{Region, RingMem};

/// Ask for a completion report at least this often, so `tail` advances in
/// steps of at most this many slots even in one long batch.
pub const RS_EVERY: u32 = 64;
const TXD_STATUS_OFFSET: usize = 12;
const RXD_STATUS_OFFSET: usize = 12;

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
    since_report: u32,
}

impl TxQueue {
    pub fn new(descs: DescRing<TxDesc>) -> Self {
        let n = descs.count() as usize;
        TxQueue {
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
            let mut last: Option<(u32, TxDesc)> = None;
            while k != head {
                let s = ring.slot(k);
                if let Err(e) = check_slot(region, kring, k, s.buf_idx, s.len) {
                    result = Err(e);
                    break;
                }
                let next = kring.next(k);
                let report =
                    s.flags & NS_REPORT != 0 || next == head || self.since_report + 1 >= RS_EVERY;
                let eop = if s.flags & NS_MOREFRAG != 0 {
                    0
                } else {
                    TXD_CMD_EOP
                };
                let desc = TxDesc {
                    addr: dma.buf_iova(s.buf_idx),
                    length: s.len,
                    cmd: TXD_CMD_IFCS | eop | if report { TXD_CMD_RS } else { 0 },
                    ..TxDesc::default()
                };
                self.descs.write(k, desc);
                self.note_report(k, report);
                if s.flags & CLEARED_ON_TX != 0 {
                    ring.set_slot_flags(k, s.flags & !CLEARED_ON_TX);
                }
                last = Some((k, desc));
                k = next;
            }
            // A batch cut short by a bad slot still ends with a report, so
            // what was sent completes.
            if let Some((pos, desc)) = last.filter(|(_, d)| d.cmd & TXD_CMD_RS == 0) {
                self.descs.write(
                    pos,
                    TxDesc {
                        cmd: desc.cmd | TXD_CMD_RS,
                        ..desc
                    },
                );
                self.note_report(pos, true);
            }
            if k != kring.hwcur {
                fence(Ordering::Release);
                regs.write32(TDT, k);
                kring.hwcur = k;
            }
        }
        self.reclaim(kring);
        kring.finalize(ring);
        result
    }

    fn note_report(&mut self, pos: u32, report: bool) {
        if report {
            self.reports.push_back(pos);
            self.since_report = 0;
        } else {
            self.since_report += 1;
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
}

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
        }
    }

    /// Hands every released slot to the device now (before sleeping: a
    /// sleeper must not wait while descriptors are held back).
    pub fn flush_tail(&self, regs: &impl RegisterAccess, kring: &KRing) {
        let rdt = prev(kring.hwcur, kring.num_slots);
        if rdt != self.rdt.get() {
            fence(Ordering::Release);
            regs.write32(RDT, rdt);
            self.rdt.set(rdt);
        }
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
            if self.descs.read_byte(i, RXD_STATUS_OFFSET) & DESC_STA_DD == 0 {
                break;
            }
            fence(Ordering::Acquire);
            let d = self.descs.read(i);
            let mut len = d.length;
            if len as u32 > buf_size {
                self.errors.rx_bad_length += 1;
                len = buf_size as u16;
            }
            if d.errors != 0 {
                self.errors.rx_errors += 1;
            }
            ring.set_slot_len(i, len);
            ring.set_slot_flags(
                i,
                if d.status & RXD_STA_EOP != 0 {
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
                // Checked flagged or not: an application that changes
                // buf_idx without NS_BUF_CHANGED must not point the device
                // outside the pool.
                if let Err(e) = check_slot(region, kring, k, s.buf_idx, 0) {
                    result = Err(e);
                    break;
                }
                if s.flags & NS_BUF_CHANGED != 0 {
                    ring.set_slot_flags(k, s.flags & !NS_BUF_CHANGED);
                }
                self.descs.write(
                    k,
                    RxDesc {
                        addr: dma.buf_iova(s.buf_idx),
                        ..RxDesc::default()
                    },
                );
                k = kring.next(k);
            }
            if k != kring.hwcur {
                kring.hwcur = k;
                // Each RDT write is a trap to the hypervisor (and a flush
                // of QEMU's queue): hand slots back in batches of n/8,
                // unless the device is running short (under n/4 empty
                // descriptors), which also covers small releases.
                let n = kring.num_slots;
                let held_back = (prev(k, n) + n - self.rdt.get()) % n;
                let device_has = (self.rdt.get() + n - kring.hwtail) % n;
                if held_back >= (n / 8).max(1) || device_has < n / 4 {
                    self.flush_tail(regs, kring);
                }
            }
        }
        kring.finalize(ring);
        result
    }
}

/// The slot before `k` in a ring of `n`.
fn prev(k: u32, n: u32) -> u32 {
    if k == 0 { n - 1 } else { k - 1 }
}

fn check_slot(
    region: &Region,
    kring: &KRing,
    k: u32,
    buf_idx: u32,
    len: u16,
) -> Result<(), ApiError> {
    if !region.valid_buf(buf_idx) {
        return Err(ApiError::BadBufIdx {
            ring: kring.id,
            slot: k,
            buf_idx,
            num_bufs: region.num_bufs(),
        });
    }
    if len as u32 > region.buf_size() {
        return Err(ApiError::BadLen {
            ring: kring.id,
            slot: k,
            len,
            buf_size: region.buf_size(),
        });
    }
    Ok(())
}
