//! txsync and rxsync of one queue pair on advanced descriptors: the
//! descriptor-ring engine (`desc_queue`) with the advanced formats and this
//! queue's tail registers.
//!
//! Per sync: descriptor writes in memory, at most one tail register write,
//! completion read from DD bits in memory (never TDH/RDH). Each queue is
//! independent: its registers are its own, so queues can be synced from
//! different threads once split.

use std::sync::atomic::{Ordering, fence};

use super::desc::*;
use super::regs::{rdt, tdt};
use crate::api::{ApiError, KRing};
use crate::driver::desc_queue::{RxFormat, RxRing, TxFormat, TxRing};
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::regs::RegisterAccess;
use crate::mem::{Region, RingMem};

pub use crate::driver::desc_queue::QueueErrors;

/// The command of a one-descriptor packet: advanced data descriptor, frame
/// check sequence added, end of packet (RS is added where a report is due).
const TXD_CMD_ONE: u32 = TXD_DTYP_DATA | TXD_CMD_DEXT | TXD_CMD_IFCS | TXD_CMD_EOP;

impl TxFormat for AdvTxRead {
    const STATUS: usize = TXD_STATUS_OFFSET;
    const DONE: u8 = TXD_STAT_DD as u8;
    const CMD: usize = TXD_CMD_OFFSET;
    const RS: u32 = TXD_CMD_RS;

    #[inline(always)]
    fn whole(iova: u64, len: u16) -> (u64, u64) {
        let len = len as u64;
        (
            iova,
            TXD_CMD_ONE as u64 | len | len << (32 + TXD_PAYLEN_SHIFT),
        )
    }

    fn piece(iova: u64, len: u16, end: bool, report: bool, paylen: Option<u32>) -> Self {
        AdvTxRead {
            addr: iova,
            cmd_type_len: TXD_DTYP_DATA
                | TXD_CMD_DEXT
                | TXD_CMD_IFCS
                | if end { TXD_CMD_EOP } else { 0 }
                | if report { TXD_CMD_RS } else { 0 }
                | len as u32,
            olinfo_status: paylen.map_or(0, |p| p << TXD_PAYLEN_SHIFT),
        }
    }

    /// PAYLEN (the whole packet's bytes) lives in the first descriptor.
    fn with_paylen(first: Self, paylen: u32) -> Self {
        AdvTxRead {
            olinfo_status: paylen << TXD_PAYLEN_SHIFT,
            ..first
        }
    }
}

impl RxFormat for AdvRxRead {
    const STATUS: usize = RXD_STATUS_OFFSET;
    const LENGTH: usize = RXD_LENGTH_OFFSET;
    const DONE: u32 = RXD_STAT_DD;
    const END: u32 = RXD_STAT_EOP;
    const ERRORS: u32 = RXD_ERR_FRAME;
    /// The 82599 never writes back an empty buffer.
    const ZERO_LENGTH_IS_BAD: bool = true;
}

/// One transmit queue.
pub struct TxQueue {
    /// The queue's number (its registers).
    pub index: usize,
    /// Its descriptors and outstanding reports.
    pub ring: TxRing<AdvTxRead>,
}

impl TxQueue {
    /// Queue `index` over `descs`.
    pub fn new(index: usize, descs: DescRing<AdvTxRead>) -> Self {
        TxQueue {
            index,
            ring: TxRing::new(descs),
        }
    }

    /// Transmits `[hwcur, head)` and reclaims completed slots.
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
        let tail = tdt(self.index);
        self.ring.sync(regs, tail, region, dma, ring, kring, head)
    }
}

/// One receive queue.
pub struct RxQueue {
    /// The queue's number (its registers).
    pub index: usize,
    /// Its descriptors and the errors seen in them.
    pub ring: RxRing<AdvRxRead>,
}

impl RxQueue {
    /// Queue `index` over `descs`, every descriptor given its slot's buffer.
    pub fn new(
        index: usize,
        descs: DescRing<AdvRxRead>,
        ring: &RingMem<'_>,
        dma: DmaWindow,
    ) -> Self {
        RxQueue {
            index,
            ring: RxRing::new(descs, ring, dma),
        }
    }

    /// Publishes received slots and gives released ones back to the device,
    /// writing RDT once if any were.
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
            fence(Ordering::Release);
            regs.write32(rdt(self.index), kring.prev(kring.hwcur));
        }
        given
    }
}
