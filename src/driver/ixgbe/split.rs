//! One backend per queue pair, so each queue can be synced from its own
//! thread (one `-N` port per thread): a queue touches only its own tail
//! registers and descriptors; what the queues share (registers, counters,
//! teardown) sits behind an `Arc`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use super::device::Parts;
use super::device::{
    Chip, Ixgbe, Stats, accumulate_stats, arm_queue_vector, counters, disarm_queue_vector,
};
use super::queue::{RxQueue, TxQueue};
use super::regs::*;
use crate::abi::Direction;
use crate::api::{ApiError, Backend, KRing, NicControl, NicInfo, Wait};
use crate::driver::desc_ring::DmaWindow;
use crate::driver::regs::RegisterAccess;
use crate::driver::vfio::Interrupts;
use crate::mem::{Region, RingMem};

struct Shared<R> {
    regs: R,
    chip: Chip,
    /// Shared by the queues: any of them may change it.
    mac: Mutex<[u8; 6]>,
    window: DmaWindow,
    stats: Mutex<Stats>,
    /// Queues not shut down yet; the last one stops the device.
    open: AtomicUsize,
    /// One MSI-X vector per queue (vector = queue index), if any.
    irq: Option<Arc<Interrupts>>,
}

/// Queue pair `index` of a split [`Ixgbe`].
pub struct IxgbeQueue<R: RegisterAccess> {
    shared: Arc<Shared<R>>,
    index: usize,
    tx: TxQueue,
    rx: RxQueue,
    down: bool,
}

/// Splits a running NIC into one backend per queue pair (in queue order).
/// Each serves the ring pair of its queue whatever index the port passes;
/// counters in `info` are the device's (plus this queue's own errors).
pub fn split<R: RegisterAccess + Send + Sync>(nic: Ixgbe<R>) -> Vec<IxgbeQueue<R>> {
    let Parts {
        regs,
        chip,
        window,
        mac,
        tx,
        rx,
        irq,
    } = nic.into_parts();
    let shared = Arc::new(Shared {
        regs,
        chip,
        mac: Mutex::new(mac),
        window,
        stats: Mutex::new(Stats::default()),
        open: AtomicUsize::new(tx.len()),
        irq,
    });
    tx.into_iter()
        .zip(rx)
        .map(|(tx, rx)| IxgbeQueue {
            shared: shared.clone(),
            index: tx.index,
            tx,
            rx,
            down: false,
        })
        .collect()
}

impl<R: RegisterAccess> IxgbeQueue<R> {
    /// Filters are the device's and change only with receive off
    /// (8.2.3.7.1); nothing is written to a removed device.
    fn with_receive_off(&self, write: impl FnOnce(&R)) {
        let r = &self.shared.regs;
        let rxctrl = r.read32(RXCTRL);
        if rxctrl == u32::MAX {
            return;
        }
        r.write32(RXCTRL, rxctrl & !RXCTRL_RXEN);
        write(r);
        r.write32(RXCTRL, rxctrl);
    }

    /// This queue's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Stops this queue's DMA (both directions), waiting (bounded) for the
    /// device to report it stopped.
    fn disable(&self) {
        let r = &self.shared.regs;
        let q = self.index;
        for (reg, bit) in [(rxdctl(q), RXDCTL_ENABLE), (txdctl(q), TXDCTL_ENABLE)] {
            let v = r.read32(reg);
            if v == u32::MAX {
                return;
            }
            r.write32(reg, v & !bit);
            let start = Instant::now();
            let backoff = Backoff::new();
            while r.read32(reg) & bit != 0 && start.elapsed() < Duration::from_millis(10) {
                backoff.spin();
            }
        }
    }
}

impl<R: RegisterAccess> IxgbeQueue<R> {
    /// Before sleeping on this queue's vector (vector = queue index):
    /// unmasks it and says whether the ring already has progress.
    pub fn arm_interrupt(&self, dir: Direction, kring: &KRing) -> bool {
        arm_queue_vector(&self.shared.regs, self.index);
        match dir {
            Direction::Tx => self.tx.ring.has_completions(),
            Direction::Rx => self.rx.ring.has_frames(kring),
        }
    }

    /// After waking: masks this queue's vector again.
    pub fn disarm_interrupt(&self) {
        disarm_queue_vector(&self.shared.regs, self.index);
    }
}

impl<R: RegisterAccess + Send + Sync> Backend for IxgbeQueue<R> {
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        let s = &self.shared;
        self.tx.sync(&s.regs, region, s.window, mem, kring, head)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        let s = &self.shared;
        self.rx.sync(&s.regs, region, s.window, mem, kring, head)
    }
    fn arm_wait<'r>(&self, _: &'r Region, kring: &KRing) -> Wait<'r> {
        let irq = self.shared.irq.as_ref();
        let Some(fd) = irq.and_then(|irq| irq.prepare_wait(self.index)) else {
            return Wait::Nap;
        };
        if self.arm_interrupt(kring.id.dir, kring) {
            return Wait::Ready;
        }
        Wait::Fd(fd)
    }
    fn disarm_wait(&self, _: &Region, _: Direction) {
        if self.shared.irq.is_some() {
            self.disarm_interrupt();
        }
    }
    fn peer_alive(&self, _: &Region) -> bool {
        let l = self.shared.regs.read32(LINKS);
        l != u32::MAX && l & LINKS_UP != 0
    }
    fn close(&mut self, region: &Region) {
        self.shutdown(region);
    }
    fn nic(&mut self) -> Option<&mut dyn NicControl> {
        Some(self)
    }
}

impl<R: RegisterAccess> NicControl for IxgbeQueue<R> {
    fn info(&mut self) -> NicInfo {
        let s = &self.shared;
        let mut stats = {
            let mut total = s.stats.lock().unwrap_or_else(|e| e.into_inner());
            accumulate_stats(&s.regs, &mut total);
            total.clone()
        };
        stats.queue = self.rx.ring.errors;
        let l = s.regs.read32(LINKS);
        let up = l != u32::MAX && l & LINKS_UP != 0;
        let speed = s.chip.mac.links_speed(l);
        NicInfo {
            model: s.chip.name().to_string(),
            mac: *s.mac.lock().unwrap_or_else(|e| e.into_inner()),
            link_up: up,
            speed,
            counters: counters(&stats, self.index..self.index + 1),
        }
    }
    fn set_promiscuous(&mut self, on: bool) {
        let f = self.shared.regs.read32(FCTRL) & !(FCTRL_UPE | FCTRL_MPE);
        self.with_receive_off(|r| r.write32(FCTRL, f | if on { FCTRL_UPE | FCTRL_MPE } else { 0 }));
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        *self.shared.mac.lock().unwrap_or_else(|e| e.into_inner()) = mac;
        self.with_receive_off(|r| {
            r.write32(ral(0), u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
            r.write32(rah(0), u32::from_le_bytes([mac[4], mac[5], 0, 0]) | RAH_AV);
        });
    }
}

impl<R: RegisterAccess> IxgbeQueue<R> {
    /// Stops this queue; the last queue to stop resets the device.
    fn shutdown(&mut self, region: &Region) {
        if self.down {
            return;
        }
        self.down = true;
        self.disable();
        if self.shared.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last queue: receive off and a reset, as `Ixgbe::stop`.
            let r = &self.shared.regs;
            if r.read32(STATUS) != u32::MAX {
                r.write32(EIMC, EIMC_VALID_MASK);
                r.write32(RXCTRL, r.read32(RXCTRL) & !RXCTRL_RXEN);
                r.write32(CTRL, r.read32(CTRL) | CTRL_RST_MASK);
                let start = Instant::now();
                loop {
                    let ctrl = r.read32(CTRL);
                    if ctrl == u32::MAX
                        || ctrl & CTRL_RST_MASK == 0
                        || start.elapsed() > Duration::from_millis(100)
                    {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        self.tx.ring.descs.release(region);
        self.rx.ring.descs.release(region);
    }
}
