//! Bringing an e1000-family NIC up and down, and the port backend.

use std::time::{Duration, Instant};

use super::desc::{RxDesc, TxDesc};
use super::queue::{RxQueue, TailWrites, TxQueue};
use super::regs::*;
use crate::abi::Direction;
use crate::api::cancel;
use crate::api::{ApiError, Backend, KRing, NicControl, NicInfo, Wait};
use crate::driver::DriverError;
use crate::driver::desc_queue::QueueErrors;
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::link::{Interrupted, wait_for_link};
use crate::driver::pci_ids::{self, DriverKind};
use crate::driver::regs::RegisterAccess;
use crate::driver::vfio::Interrupts;
use crate::mem::{Region, RingMem};

/// The largest ring we program: the largest a region holds (one slot per
/// descriptor), well within RDLEN/TDLEN's 65528 descriptors (bits 19:7, in
/// 128-byte units). Linux and DPDK stop at 4096; deeper rings absorb
/// longer stalls of the receiver (under QEMU's TCG, waits of milliseconds
/// for its global lock), at the cost of a larger buffer pool.
pub const MAX_DESCRIPTORS: u32 = crate::mem::MAX_RING_SLOTS;

/// The members of the family we drive (one per row of the driver table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Intel 82540EM (e1000), QEMU's default `e1000`.
    I82540Em,
    /// Intel 82545EM (e1000).
    I82545Em,
    /// Intel 82574L (e1000e).
    I82574L,
}

impl Model {
    /// The model of a device this driver opens, from the one driver table
    /// ([`pci_ids::SUPPORTED_NICS`]);
    /// `None` for any other device, including ixgbe ones.
    pub fn from_device_id(vendor: u16, device: u16) -> Option<Model> {
        match pci_ids::driver_for(vendor, device)?.driver {
            DriverKind::E1000(model) => Some(model),
            DriverKind::Ixgbe(_) => None,
        }
    }

    /// Human name, with the Linux driver in parentheses; also the name of
    /// the model's row in the driver table.
    pub const fn name(self) -> &'static str {
        match self {
            Model::I82540Em => "82540EM (e1000)",
            Model::I82545Em => "82545EM (e1000)",
            Model::I82574L => "82574L (e1000e)",
        }
    }
    fn eerd(self) -> (u32, u32) {
        match self {
            Model::I82574L => (EERD_DONE_82574, EERD_ADDR_SHIFT_82574),
            _ => (EERD_DONE_8254X, EERD_ADDR_SHIFT_8254X),
        }
    }
}

/// Options when bringing the NIC up.
#[derive(Clone, Debug)]
pub struct Options {
    /// How errors name the device (its PCI address, or a model's name).
    pub device: String,
    /// Accept every unicast and multicast frame (RCTL.UPE and RCTL.MPE).
    pub promiscuous: bool,
    /// How long to wait for link after reset (the link still may come later).
    pub link_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            device: "e1000".to_string(),
            promiscuous: false,
            link_wait: Duration::from_secs(2),
        }
    }
}

/// Hardware counters, accumulated into 64 bits (the registers clear on
/// read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Good packets received (GPRC).
    pub gprc: u64,
    /// Good packets transmitted (GPTC).
    pub gptc: u64,
    /// Good octets received (GORC).
    pub gorc: u64,
    /// Good octets transmitted (GOTC).
    pub gotc: u64,
    /// Packets missed for lack of receive buffer space (MPC).
    pub mpc: u64,
    /// Times a packet arrived with no receive descriptor free (RNBC).
    pub rnbc: u64,
    /// Packets received with a CRC error (CRCERRS).
    pub crcerrs: u64,
    /// Total packets received (TPR).
    pub tpr: u64,
    /// Total packets transmitted (TPT).
    pub tpt: u64,
    /// Impossible write-backs the receive queue has seen.
    pub queue: QueueErrors,
    /// The receive queue's RDT writes and their cost.
    pub rx_tail: TailWrites,
}

/// A statistics register the manual says clears on read, but which a
/// device may keep instead: QEMU's e1000 returns CRCERRS..MPC and RNBC
/// without clearing them (and keeps them across CTRL.RST). Adding such a
/// value at every read counts the same misses again and again. A nonzero
/// read is read twice: if the second read returns the same value, the
/// register keeps its count, and from then on only increases are added.
#[derive(Clone, Copy, Debug, Default)]
struct MaybeSticky {
    sticky: bool,
    /// The last value read, when sticky.
    last: u64,
}

impl MaybeSticky {
    /// What the counter gained since the previous read.
    fn delta(&mut self, read: impl Fn() -> u64) -> u64 {
        let v = read();
        if self.sticky {
            let d = v.saturating_sub(self.last);
            self.last = v;
            return d;
        }
        if v == 0 {
            return 0;
        }
        let again = read();
        if again == v {
            self.sticky = true;
            self.last = v;
        } else {
            // Cleared by the first read: `again` counts events since then.
            return v + again;
        }
        v
    }
}

/// One e1000-family NIC with one queue pair.
pub struct E1000<R: RegisterAccess> {
    regs: R,
    model: Model,
    window: DmaWindow,
    mac: [u8; 6],
    tx: TxQueue,
    rx: RxQueue,
    stats: Stats,
    /// MPC, RNBC, CRCERRS.
    sticky: [MaybeSticky; 3],
    promiscuous: bool,
    device: String,
    /// The device's interrupt, when VFIO gave one (INTx on 8254x, MSI on
    /// 82574L); without it a sleeper naps.
    irq: Option<Interrupts>,
}

impl<R: RegisterAccess> E1000<R> {
    /// Resets and programs the NIC for the given rings (from
    /// `NicRings::allocate` with one queue).
    pub fn init(
        regs: R,
        model: Model,
        region: &Region,
        window: DmaWindow,
        tx_ring: &RingMem<'_>,
        rx_ring: &RingMem<'_>,
        opts: Options,
    ) -> Result<Self, DriverError> {
        let n = tx_ring.num_slots();
        if n % 8 != 0 || !(8..=MAX_DESCRIPTORS).contains(&n) {
            return Err(DriverError::BadRingSize {
                device: opts.device,
                slots: n,
                multiple: 8,
                min: 8,
                max: MAX_DESCRIPTORS,
            });
        }
        if regs.read32(STATUS) == u32::MAX {
            return Err(DriverError::DeviceRemoved {
                device: opts.device,
            });
        }
        Self::reset(&regs, &opts.device, true)?;
        let mac = Self::read_mac(&regs, model);
        let tx = TxQueue::new(DescRing::<TxDesc>::new(region, n, window)?);
        let rx = RxQueue::new(DescRing::<RxDesc>::new(region, n, window)?, rx_ring, window);
        let mut nic = E1000 {
            regs,
            model,
            window,
            mac,
            tx,
            rx,
            stats: Stats::default(),
            sticky: [MaybeSticky::default(); 3],
            promiscuous: opts.promiscuous,
            device: opts.device,
            irq: None,
        };
        nic.clear_stats();
        nic.setup_rx(n);
        nic.setup_tx(n);
        if nic.wait_link(opts.link_wait).is_err() {
            nic.stop();
            nic.tx.descs.release(region);
            nic.rx.ring.descs.release(region);
            return Err(DriverError::Interrupted {
                device: nic.device.clone(),
                what: "the link",
            });
        }
        Ok(nic)
    }

    /// Resets the device and waits (at most 500 ms) for it; at open
    /// (`cancellable`) a requested cancellation ends the wait, when
    /// stopping nothing does (no DMA may outlive the stop).
    fn reset(regs: &R, device: &str, cancellable: bool) -> Result<(), DriverError> {
        regs.write32(IMC, u32::MAX);
        regs.write32(CTRL, regs.read32(CTRL) | CTRL_RST);
        let limit = Duration::from_millis(500);
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        loop {
            let ctrl = regs.read32(CTRL);
            if ctrl == u32::MAX {
                return Err(DriverError::DeviceRemoved {
                    device: device.to_string(),
                });
            }
            if ctrl & CTRL_RST == 0 {
                break;
            }
            if start.elapsed() > limit {
                return Err(DriverError::ResetTimeout {
                    device: device.to_string(),
                    what: "CTRL.RST",
                    waited: limit,
                });
            }
            if cancellable && cancel::requested() {
                return Err(DriverError::Interrupted {
                    device: device.to_string(),
                    what: "the reset",
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Interrupts stay off until someone asks for them; clear pending.
        regs.write32(IMC, u32::MAX);
        regs.read32(ICR);
        let ctrl = regs.read32(CTRL);
        regs.write32(CTRL, (ctrl | CTRL_SLU | CTRL_ASDE) & !CTRL_PHY_RST);
        Ok(())
    }

    /// The MAC from RAL0/RAH0 if valid there (QEMU and most firmware load
    /// it at reset), else from the EEPROM's first three words.
    fn read_mac(regs: &R, model: Model) -> [u8; 6] {
        let (ral, rah) = (regs.read32(RAL0), regs.read32(RAH0));
        if rah & RAH_AV != 0 && (ral != 0 || rah & 0xffff != 0) {
            let l = ral.to_le_bytes();
            let h = rah.to_le_bytes();
            return [l[0], l[1], l[2], l[3], h[0], h[1]];
        }
        let (done, shift) = model.eerd();
        let mut mac = [0u8; 6];
        for word in 0..3u32 {
            regs.write32(EERD, EERD_START | (word << shift));
            let start = Instant::now();
            let mut v = regs.read32(EERD);
            while v & done == 0 && start.elapsed() < Duration::from_millis(10) {
                v = regs.read32(EERD);
            }
            let data = (v >> EERD_DATA_SHIFT) as u16;
            mac[word as usize * 2..word as usize * 2 + 2].copy_from_slice(&data.to_le_bytes());
        }
        mac
    }

    fn setup_rx(&mut self, n: u32) {
        let r = &self.regs;
        r.write32(RCTL, 0);
        for i in 0..MTA_ENTRIES {
            r.write32(MTA + 4 * i, 0);
        }
        self.write_mac_filter();
        let iova = self.rx.ring.descs.iova();
        r.write32(RDBAL, iova as u32);
        r.write32(RDBAH, (iova >> 32) as u32);
        r.write32(RDLEN, self.rx.ring.descs.bytes());
        r.write32(RDH, 0);
        r.write32(RDTR, 0);
        // The device owns every descriptor but the one before head.
        r.write32(RDT, n - 1);
        r.write32(RCTL, self.rctl());
    }

    fn rctl(&self) -> u32 {
        let promisc = if self.promiscuous {
            RCTL_UPE | RCTL_MPE
        } else {
            0
        };
        RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_BSIZE_2048 | promisc
    }

    fn write_mac_filter(&self) {
        let m = self.mac;
        self.regs
            .write32(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.regs
            .write32(RAH0, u32::from_le_bytes([m[4], m[5], 0, 0]) | RAH_AV);
    }

    fn setup_tx(&mut self, _n: u32) {
        let r = &self.regs;
        let iova = self.tx.descs.iova();
        r.write32(TDBAL, iova as u32);
        r.write32(TDBAH, (iova >> 32) as u32);
        r.write32(TDLEN, self.tx.descs.bytes());
        r.write32(TDH, 0);
        r.write32(TDT, 0);
        r.write32(TIDV, 0);
        r.write32(TIPG, TIPG_DEFAULT);
        r.write32(TCTL, TCTL_DEFAULT);
    }

    fn wait_link(&self, limit: Duration) -> Result<(), Interrupted> {
        let removed = || self.regs.read32(STATUS) == u32::MAX;
        let step = Duration::from_millis(10);
        wait_for_link(
            self.model.name(),
            limit,
            step,
            || self.link_is_up(),
            removed,
        )
    }

    /// Whether STATUS reports link up (false if the device is gone).
    pub fn link_is_up(&self) -> bool {
        let s = self.regs.read32(STATUS);
        s != u32::MAX && s & STATUS_LU != 0
    }

    /// Link speed in Mb/s (10, 100, 1000), if up.
    pub fn link_speed(&self) -> Option<u32> {
        let s = self.regs.read32(STATUS);
        (s != u32::MAX && s & STATUS_LU != 0).then_some(speed_mbps(s))
    }

    /// Which member of the family this is.
    pub fn model(&self) -> Model {
        self.model
    }
    /// The MAC address the receive filter accepts.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }
    /// Sets the MAC address and programs it into the receive filter (RAL0/RAH0).
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        self.mac = mac;
        self.write_mac_filter();
    }
    /// Turns unicast and multicast promiscuous reception on or off.
    pub fn set_promiscuous(&mut self, on: bool) {
        self.promiscuous = on;
        self.regs.write32(RCTL, self.rctl());
    }

    /// Reads the clear-on-read counters and adds them to the totals.
    pub fn update_stats(&mut self) -> Stats {
        let r = &self.regs;
        let read = |off| {
            let v = r.read32(off);
            if v == u32::MAX { 0 } else { v as u64 }
        };
        let s = &mut self.stats;
        let [mpc, rnbc, crcerrs] = &mut self.sticky;
        s.crcerrs += crcerrs.delta(|| read(stats::CRCERRS));
        s.mpc += mpc.delta(|| read(stats::MPC));
        s.rnbc += rnbc.delta(|| read(stats::RNBC));
        s.gprc += read(stats::GPRC);
        s.gptc += read(stats::GPTC);
        // Low then high: the 64-bit octet counters clear when the high
        // half is read.
        s.gorc += read(stats::GORCL) | (read(stats::GORCH) << 32);
        s.gotc += read(stats::GOTCL) | (read(stats::GOTCH) << 32);
        s.tpr += read(stats::TPR);
        s.tpt += read(stats::TPT);
        s.queue = self.rx.errors();
        s.rx_tail = self.rx.tail_writes();
        self.stats
    }

    fn clear_stats(&mut self) {
        self.update_stats();
        self.stats = Stats::default();
    }

    /// Turns on the interrupts a sleeper needs (RX timer, TX descriptor
    /// written back, link change) and says whether progress in `dir` is
    /// already visible. The device raises its interrupt at once if a cause
    /// is latched, so nothing that happened before arming is missed.
    pub fn arm_interrupts(&self, dir: Direction, kring: &KRing) -> bool {
        if dir == Direction::Rx {
            self.rx.flush_tail(&self.regs, kring);
        }
        self.regs.write32(IMS, ICR_RXT0 | ICR_TXDW | ICR_LSC);
        match dir {
            Direction::Rx => self.rx.ring.has_frames(kring),
            Direction::Tx => self.tx.has_completions(),
        }
    }

    /// Lets `poll` sleep on the device's interrupt (masked until a sleeper
    /// arms it).
    pub fn attach_interrupts(&mut self, irq: Interrupts) {
        self.disarm_interrupts();
        self.irq = Some(irq);
    }

    /// Masks the interrupts again and acknowledges their causes (reading
    /// ICR clears it), so busy polling is not interrupted.
    pub fn disarm_interrupts(&self) {
        self.regs.write32(IMC, u32::MAX);
        self.regs.read32(ICR);
    }

    /// Stops RX and TX, then resets the device, so no DMA happens after this.
    pub fn stop(&mut self) {
        self.regs.write32(IMC, u32::MAX);
        self.regs.write32(RCTL, 0);
        self.regs.write32(TCTL, 0);
        let _ = Self::reset(&self.regs, &self.device, false);
    }
}

impl<R: RegisterAccess + Send> Backend for E1000<R> {
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        self.tx
            .sync(&self.regs, TDT, region, self.window, mem, kring, head)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        self.rx
            .sync(&self.regs, region, self.window, mem, kring, head)
    }
    fn arm_wait<'r>(&self, _: &'r Region, kring: &KRing) -> Wait<'r> {
        let Some(fd) = self.irq.as_ref().and_then(|irq| irq.prepare_wait(0)) else {
            return Wait::Nap;
        };
        if self.arm_interrupts(kring.id.dir, kring) {
            return Wait::Ready;
        }
        Wait::Fd(fd)
    }
    fn disarm_wait(&self, _: &Region, _: Direction) {
        if let Some(irq) = &self.irq {
            self.disarm_interrupts();
            irq.after_wake();
        }
    }
    fn peer_alive(&self, _: &Region) -> bool {
        self.link_is_up()
    }
    fn close(&mut self, region: &Region) {
        self.stop();
        self.tx.descs.release(region);
        self.rx.ring.descs.release(region);
    }
    fn nic(&mut self) -> Option<&mut dyn NicControl> {
        Some(self)
    }
}

impl<R: RegisterAccess> NicControl for E1000<R> {
    fn info(&mut self) -> NicInfo {
        let s = self.update_stats();
        NicInfo {
            model: self.model.name().to_string(),
            mac: self.mac,
            link_up: self.link_is_up(),
            speed: self.link_speed(),
            counters: vec![
                ("GPRC", s.gprc),
                ("GPTC", s.gptc),
                ("GORC", s.gorc),
                ("GOTC", s.gotc),
                ("MPC", s.mpc),
                ("RNBC", s.rnbc),
                ("CRCERRS", s.crcerrs),
                ("TPR", s.tpr),
                ("TPT", s.tpt),
                ("rx_bad_length", s.queue.rx_bad_length),
                ("rx_errors", s.queue.rx_errors),
                ("rx_tail_writes", s.rx_tail.count),
                (
                    "rx_tail_write_us_mean",
                    s.rx_tail.total_ns.checked_div(s.rx_tail.count).unwrap_or(0) / 1000,
                ),
                ("rx_tail_write_us_max", s.rx_tail.max_ns / 1000),
            ],
        }
    }
    fn set_promiscuous(&mut self, on: bool) {
        E1000::set_promiscuous(self, on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        E1000::set_mac(self, mac)
    }
}

/// Link, MAC and counters as `vfio-netmap info` shows them, read without
/// touching the device's configuration (counters clear on read).
pub fn read_state(regs: &impl RegisterAccess) -> Vec<(String, String)> {
    let status = regs.read32(STATUS);
    if status == u32::MAX {
        return vec![(
            "State".into(),
            "reads all-ones: removed or powered down".into(),
        )];
    }
    let link = if status & STATUS_LU != 0 {
        let speed = speed_mbps(status);
        let duplex = if status & STATUS_FD != 0 {
            "full"
        } else {
            "half"
        };
        format!("up, {speed} Mb/s, {duplex} duplex")
    } else {
        "down".to_string()
    };
    let (ral, rah) = (regs.read32(RAL0), regs.read32(RAH0));
    let m = [
        ral as u8,
        (ral >> 8) as u8,
        (ral >> 16) as u8,
        (ral >> 24) as u8,
        rah as u8,
        (rah >> 8) as u8,
    ];
    let mac = m
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let mut out = vec![("Link".to_string(), link), ("MAC".to_string(), mac)];
    let counters = [
        ("GPRC", stats::GPRC),
        ("GPTC", stats::GPTC),
        ("GORCL", stats::GORCL),
        ("GOTCL", stats::GOTCL),
        ("MPC", stats::MPC),
        ("RNBC", stats::RNBC),
        ("CRCERRS", stats::CRCERRS),
    ];
    let values: Vec<String> = counters
        .iter()
        .map(|(n, off)| format!("{n}={}", regs.read32(*off)))
        .collect();
    out.push(("Counters (since last read)".to_string(), values.join(" ")));
    out
}

/// Link speed in Mb/s from STATUS.SPEED.
fn speed_mbps(status: u32) -> u32 {
    match (status >> STATUS_SPEED_SHIFT) & 3 {
        0 => 10,
        1 => 100,
        _ => 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::MaybeSticky;
    use std::cell::Cell;

    /// A register that clears on read, as the manual says.
    #[test]
    fn clearing_counter_adds_each_read() {
        let reg = Cell::new(5u64);
        let read = || reg.replace(0);
        let mut c = MaybeSticky::default();
        assert_eq!(c.delta(read), 5);
        reg.set(3);
        assert_eq!(c.delta(read), 3);
        assert_eq!(c.delta(read), 0);
        assert!(!c.sticky);
    }

    /// A register that keeps its count (QEMU's e1000 MPC), already nonzero
    /// before the driver came (it survives resets).
    #[test]
    fn sticky_counter_adds_increases_only() {
        let reg = Cell::new(5905u64);
        let read = || reg.get();
        let mut c = MaybeSticky::default();
        c.delta(read); // at init: discarded by clear_stats
        assert!(c.sticky);
        assert_eq!(c.delta(read), 0);
        assert_eq!(c.delta(read), 0);
        reg.set(6000);
        assert_eq!(c.delta(read), 95);
        assert_eq!(c.delta(read), 0);
    }
}
