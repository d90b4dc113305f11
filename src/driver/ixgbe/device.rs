//! Bringing an ixgbe-family NIC up and down, RSS, statistics, the interrupt
//! extension point, and the port backend.

use std::time::{Duration, Instant};

use super::queue::{QueueErrors, RxQueue, TxQueue};
use super::regs::stats::{self as st, QUEUE_COUNTERS};
use super::regs::*;
use std::sync::Arc;

use crate::abi::Direction;
use crate::api::cancel;
use crate::api::{ApiError, Backend, KRing, NicControl, NicInfo, NicRings, Wait};
use crate::driver::desc_ring::{DescRing, DmaWindow};
use crate::driver::link::{Interrupted, wait_for_link};
use crate::driver::pci_ids::{self, DriverKind};
use crate::driver::regs::RegisterAccess;
use crate::driver::vfio::Interrupts;
use crate::mem::{MemError, Region, RingMem};

/// MAC generations: they differ in packet buffer sizes, link setup and a
/// few register locations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacType {
    /// 82599 (X520 adapters).
    I82599,
    /// X540 (10GBASE-T).
    X540,
    /// X550 (10GBASE-T and NBASE-T).
    X550,
    /// X550EM_x: the X552 MAC of Xeon D SoCs.
    X550EmX,
    /// X550EM_a: the X553 MAC of Atom C3000 SoCs.
    X550EmA,
}

impl MacType {
    /// The link speed a LINKS register value reports, in Mb/s: `None` when
    /// the link is down, the device reads all-ones, or the speed code is
    /// one this MAC does not define. X550 and later qualify the speed code
    /// with bit 27 (2.5 and 5 Gb/s, which NBASE-T copper negotiates); the
    /// 82599 and X540 ignore that bit (Linux `ixgbe_check_mac_link_generic`).
    pub fn links_speed(self, links: u32) -> Option<u32> {
        if links == u32::MAX || links & LINKS_UP == 0 {
            return None;
        }
        let non_std = links & LINKS_SPEED_NON_STD != 0
            && matches!(self, MacType::X550 | MacType::X550EmX | MacType::X550EmA);
        match (links & LINKS_SPEED_MASK, non_std) {
            (LINKS_SPEED_10G, false) => Some(10_000),
            (LINKS_SPEED_10G, true) => Some(2_500),
            (LINKS_SPEED_1G, _) => Some(1_000),
            (LINKS_SPEED_100M, false) => Some(100),
            (LINKS_SPEED_100M, true) => Some(5_000),
            _ => None,
        }
    }
}

/// "10 Gb/s", "2.5 Gb/s", "100 Mb/s": a speed in Mb/s as people write it.
fn speed_text(mbps: u32) -> String {
    match mbps {
        m if m >= 1000 && m % 1000 == 0 => format!("{} Gb/s", m / 1000),
        m if m >= 1000 => format!("{}.{} Gb/s", m / 1000, m % 1000 / 100),
        m => format!("{m} Mb/s"),
    }
}

/// One device: its MAC type and PCI device id (which tells the media).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chip {
    /// MAC generation.
    pub mac: MacType,
    /// PCI device id.
    pub device_id: u16,
}

impl Chip {
    /// The chip of a device this driver opens, from the one driver table
    /// ([`pci_ids::SUPPORTED_NICS`],
    /// which holds the ixgbe-family PF device ids of Linux `ixgbe_type.h`
    /// that we drive); `None` for any other device, including e1000 ones.
    pub fn from_device_id(vendor: u16, device: u16) -> Option<Chip> {
        match pci_ids::driver_for(vendor, device)?.driver {
            DriverKind::Ixgbe(chip) => Some(chip),
            DriverKind::E1000(_) => None,
        }
    }

    /// The MAC generation's name, shared by all its devices (the driver
    /// table, `pci_ids::SUPPORTED_NICS`, names each device).
    pub fn name(self) -> &'static str {
        match self.mac {
            MacType::I82599 => "82599 (ixgbe)",
            MacType::X540 => "X540 (ixgbe)",
            MacType::X550 => "X550 (ixgbe)",
            MacType::X550EmX => "X550EM_x (ixgbe)",
            MacType::X550EmA => "X550EM_a (ixgbe)",
        }
    }

    /// 82599 SFP+ parts: the MAC runs 10G serial (SFI) itself.
    pub fn is_82599_sfp(self) -> bool {
        self.mac == MacType::I82599
            && matches!(
                self.device_id,
                0x10fb | 0x1529 | 0x1507 | 0x154d | 0x1557 | 0x154a | 0x1558
            )
    }

    /// EEC moved on X550EM_a (ixgbe_type.h `IXGBE_EEC_X550EM_a`).
    pub fn eec(self) -> usize {
        if self.mac == MacType::X550EmA {
            0x1_5ff8
        } else {
            EEC
        }
    }

    /// Receive packet buffer, KiB: 512 on the 82599, 384 on X540/X550.
    pub fn rx_pb_kb(self) -> u32 {
        if self.mac == MacType::I82599 {
            512
        } else {
            384
        }
    }

    /// Transmit packet buffer, KiB (160 on all).
    pub fn tx_pb_kb(self) -> u32 {
        160
    }
}

/// Why bringing the NIC up failed.
#[derive(Debug, thiserror::Error)]
pub enum IxgbeError {
    /// The device reads all-ones.
    #[error(
        "the NIC reads all-ones: it was removed or its BAR is not mapped (check `vfio-netmap \
         status`, and that no other process reset it)"
    )]
    Removed,
    /// CTRL.RST was still set after the given time.
    #[error(
        "the NIC did not finish its reset (CTRL.RST still set after {0:?}); reset the device \
         (unbind and bind it again)"
    )]
    ResetTimeout(Duration),
    /// An init step's done bits were not all set in time.
    #[error(
        "the NIC did not finish {what} after {limit:?} ({reg} = {value:#010x}); its EEPROM/NVM \
         may be corrupt, or the device is wedged: power-cycle it"
    )]
    InitTimeout {
        /// The step that did not finish.
        what: &'static str,
        /// Name of the register polled.
        reg: &'static str,
        /// Its last value read.
        value: u32,
        /// How long the driver waited.
        limit: Duration,
    },
    /// A queue's ENABLE bit did not read back set in time.
    #[error(
        "{dir} queue {queue} did not report enabled after {limit:?}; the queue's ring \
         registers may be wrong, or the device is wedged"
    )]
    QueueEnableTimeout {
        /// "rx" or "tx".
        dir: &'static str,
        /// Queue index.
        queue: usize,
        /// How long the driver waited.
        limit: Duration,
    },
    /// The ring size asked for is not one the device takes.
    #[error(
        "{slots} descriptors per ring is not supported: use a multiple of 8 between 64 and \
         4096 (ring lengths are multiples of 128 bytes)"
    )]
    BadRingSize {
        /// Descriptors per ring asked for.
        slots: u32,
    },
    /// The number of queue pairs asked for is 0 or above [`MAX_QUEUES`], or
    /// the RX and TX counts differ.
    #[error("{queues} queue pairs asked for: the ixgbe driver supports 1 to {MAX_QUEUES}")]
    BadQueueCount {
        /// Queue pairs asked for (the TX count).
        queues: usize,
    },
    /// Allocating rings in the memory region failed.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// A wait while bringing the NIC up gave up because a cancellation was
    /// requested (`api::cancel::request`, which the tools' SIGINT/SIGTERM
    /// handlers call).
    #[error(
        "interrupted (SIGINT/SIGTERM) while waiting for {what}; nothing is wrong with the NIC: \
         open it again (with a shorter `@conf:link-wait=SECS` if its link is down)"
    )]
    Interrupted {
        /// What the driver was waiting for, e.g. "the link".
        what: &'static str,
    },
}

/// Options when bringing the NIC up.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Accept every unicast and multicast frame (FCTRL.UPE and FCTRL.MPE).
    pub promiscuous: bool,
    /// How long to wait for link after reset (the link still may come later).
    pub link_wait: Duration,
    /// Spread received flows over the queues with RSS (when more than one).
    pub rss: bool,
    /// Bound of every wait on the device during init (reset, EEPROM,
    /// DMA init, queue enable).
    pub init_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            promiscuous: false,
            link_wait: Duration::from_secs(10),
            rss: true,
            init_timeout: Duration::from_secs(1),
        }
    }
}

/// The RSS key the driver programs: the Microsoft verification key, the
/// one the 82599 datasheet's examples use (7.1.2.8.1), so hashes can be
/// checked against published values.
pub const DEFAULT_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Hash types the driver enables: IPv4/IPv6, with TCP and UDP ports.
pub const RSS_FIELDS: u32 = MRQC_RSS_FIELD_IPV4
    | MRQC_RSS_FIELD_IPV4_TCP
    | MRQC_RSS_FIELD_IPV4_UDP
    | MRQC_RSS_FIELD_IPV6
    | MRQC_RSS_FIELD_IPV6_TCP
    | MRQC_RSS_FIELD_IPV6_UDP;

/// Hardware counters, accumulated into 64 bits (the registers clear on
/// read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Good packets received (GPRC).
    pub gprc: u64,
    /// Good packets transmitted (GPTC).
    pub gptc: u64,
    /// Good octets received (GORC).
    pub gorc: u64,
    /// Good octets transmitted (GOTC).
    pub gotc: u64,
    /// Packets missed for lack of packet buffer space, over all packet buffers (MPC).
    pub mpc: u64,
    /// Times a packet arrived with no receive descriptor free, over all packet buffers (RNBC).
    pub rnbc: u64,
    /// Packets received with a CRC error (CRCERRS).
    pub crcerrs: u64,
    /// Receive length errors (RLEC).
    pub rlec: u64,
    /// Undersized packets received (RUC).
    pub ruc: u64,
    /// Oversized packets received (ROC).
    pub roc: u64,
    /// Total packets received (TPR).
    pub tpr: u64,
    /// Total packets transmitted (TPT).
    pub tpt: u64,
    /// Packets received per queue counter set (QPRC).
    pub qprc: [u64; QUEUE_COUNTERS],
    /// Packets transmitted per queue counter set (QPTC).
    pub qptc: [u64; QUEUE_COUNTERS],
    /// Received packets dropped per queue counter set (QPRDC).
    pub qprdc: [u64; QUEUE_COUNTERS],
    /// Sum over the receive queues.
    pub queue: QueueErrors,
}

/// RETA entry `i` when spreading over `queues`: round robin.
pub fn reta_entry(i: usize, queues: usize) -> u8 {
    (i % queues.clamp(1, MAX_RSS_QUEUES)) as u8
}

/// One ixgbe-family NIC with `tx.len()` queue pairs.
pub struct Ixgbe<R: RegisterAccess> {
    regs: R,
    chip: Chip,
    window: DmaWindow,
    mac: [u8; 6],
    tx: Vec<TxQueue>,
    rx: Vec<RxQueue>,
    stats: Stats,
    promiscuous: bool,
    /// MSI-X, one vector per queue pair (the first 16), when VFIO gave
    /// them; without them a sleeper naps.
    irq: Option<Arc<Interrupts>>,
}

/// What [`split`](super::split) takes apart.
pub(super) struct Parts<R> {
    pub regs: R,
    pub chip: Chip,
    pub window: DmaWindow,
    pub mac: [u8; 6],
    pub tx: Vec<TxQueue>,
    pub rx: Vec<RxQueue>,
    pub irq: Option<Arc<Interrupts>>,
}

impl<R: RegisterAccess> Ixgbe<R> {
    /// Resets and programs the NIC for `rings` (from `NicRings::allocate`,
    /// one queue pair per ring pair), in the order of datasheet 4.6.3.
    pub fn init(
        regs: R,
        chip: Chip,
        region: &Region,
        window: DmaWindow,
        rings: &NicRings,
        opts: Options,
    ) -> Result<Self, IxgbeError> {
        let n = rings.num_slots;
        if n % 8 != 0 || !(64..=4096).contains(&n) {
            return Err(IxgbeError::BadRingSize { slots: n });
        }
        let queues = rings.tx.len();
        if queues == 0 || queues > MAX_QUEUES || rings.rx.len() != queues {
            return Err(IxgbeError::BadQueueCount { queues });
        }
        if regs.read32(STATUS) == u32::MAX {
            return Err(IxgbeError::Removed);
        }
        Self::reset(&regs, chip, opts.init_timeout, true)?;
        let mac = Self::read_mac(&regs);
        let mut tx = Vec::with_capacity(queues);
        let mut rx = Vec::with_capacity(queues);
        let mut alloc = || -> Result<(), MemError> {
            for q in 0..queues {
                tx.push(TxQueue::new(q, DescRing::new(region, n, window)?));
                let mem = region.ring(rings.rx[q].0, n)?;
                rx.push(RxQueue::new(
                    q,
                    DescRing::new(region, n, window)?,
                    &mem,
                    window,
                ));
            }
            Ok(())
        };
        let allocated = alloc();
        let mut nic = Ixgbe {
            regs,
            chip,
            window,
            mac,
            tx,
            rx,
            stats: Stats::default(),
            promiscuous: opts.promiscuous,
            irq: None,
        };
        let brought_up = allocated.map_err(IxgbeError::from).and_then(|()| {
            nic.setup_link();
            nic.clear_stats();
            nic.setup_rx(n, opts)?;
            nic.setup_tx(n, opts)
        });
        if let Err(e) = brought_up {
            nic.stop();
            nic.release(region);
            return Err(e);
        }
        if nic.wait_link(opts.link_wait).is_err() {
            nic.stop();
            nic.release(region);
            return Err(IxgbeError::Interrupted { what: "the link" });
        }
        Ok(nic)
    }

    /// 4.6.3.1-4.6.3.2: mask interrupts, global reset, wait for it, mask
    /// again, wait for the EEPROM auto-read and the DMA init. At open
    /// (`cancellable`) a requested cancellation ends the waits; when
    /// stopping the NIC, nothing does (no DMA may outlive the stop).
    fn reset(regs: &R, chip: Chip, limit: Duration, cancellable: bool) -> Result<(), IxgbeError> {
        regs.write32(EIMC, EIMC_VALID_MASK);
        regs.write32(CTRL, regs.read32(CTRL) | CTRL_RST_MASK);
        // The datasheet asks for at least 1 ms before polling.
        std::thread::sleep(Duration::from_millis(1));
        let start = Instant::now();
        loop {
            let ctrl = regs.read32(CTRL);
            if ctrl == u32::MAX {
                return Err(IxgbeError::Removed);
            }
            if ctrl & CTRL_RST_MASK == 0 {
                break;
            }
            if start.elapsed() > limit {
                return Err(IxgbeError::ResetTimeout(limit));
            }
            if cancellable && cancel::requested() {
                return Err(IxgbeError::Interrupted { what: "the reset" });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        regs.write32(EIMC, EIMC_VALID_MASK);
        let eec = (chip.eec(), EEC_ARD, "EEPROM auto-read", "EEC");
        Self::wait_bits(regs, eec, limit, cancellable)?;
        let dma = (RDRXCTL, RDRXCTL_DMAIDONE, "DMA initialization", "RDRXCTL");
        Self::wait_bits(regs, dma, limit, cancellable)
    }

    /// Waits until all of `bits` read set in `reg` (`what` and `name` for
    /// the error), at most `limit`; and, if `cancellable`, until a
    /// cancellation is requested.
    fn wait_bits(
        regs: &R,
        (reg, bits, what, name): (usize, u32, &'static str, &'static str),
        limit: Duration,
        cancellable: bool,
    ) -> Result<(), IxgbeError> {
        let start = Instant::now();
        loop {
            let v = regs.read32(reg);
            if v == u32::MAX {
                return Err(IxgbeError::Removed);
            }
            if v & bits == bits {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(IxgbeError::InitTimeout {
                    what,
                    reg: name,
                    value: v,
                    limit,
                });
            }
            if cancellable && cancel::requested() {
                return Err(IxgbeError::Interrupted { what });
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// The MAC the EEPROM loaded into RAL0/RAH0 at reset.
    fn read_mac(regs: &R) -> [u8; 6] {
        let l = regs.read32(ral(0)).to_le_bytes();
        let h = regs.read32(rah(0)).to_le_bytes();
        [l[0], l[1], l[2], l[3], h[0], h[1]]
    }

    /// 4.6.4: link setup. The 82599's MAC runs the link itself (AUTOC);
    /// X540/X550 have a PHY the firmware brings up, left alone here.
    fn setup_link(&self) {
        if self.chip.mac != MacType::I82599 {
            return;
        }
        let r = &self.regs;
        let mut autoc = r.read32(AUTOC);
        if self.chip.is_82599_sfp() {
            // SFP+: 10G serial, as the EEPROM of these parts sets too.
            autoc = (autoc & !AUTOC_LMS_MASK) | AUTOC_LMS_10G_SERIAL;
        }
        r.write32(AUTOC, autoc | AUTOC_AN_RESTART);
    }

    /// 4.6.7: receive. Everything is programmed with RXCTRL.RXEN clear;
    /// queues are enabled, then receive is.
    fn setup_rx(&mut self, n: u32, opts: Options) -> Result<(), IxgbeError> {
        let r = &self.regs;
        r.write32(RXCTRL, r.read32(RXCTRL) & !RXCTRL_RXEN);
        // One packet buffer with all the memory (no DCB).
        r.write32(rxpbsize(0), self.chip.rx_pb_kb() << PB_SIZE_SHIFT);
        for i in 1..PACKET_BUFFERS {
            r.write32(rxpbsize(i), 0);
        }
        // CRC stripping in the MAC and the DMA must agree.
        r.write32(HLREG0, r.read32(HLREG0) | HLREG0_RXCRCSTRP);
        let rdrxctl = r.read32(RDRXCTL);
        r.write32(
            RDRXCTL,
            (rdrxctl & !RDRXCTL_RSCFRSTSIZE)
                | RDRXCTL_CRCSTRIP
                | RDRXCTL_RSCACKC
                | RDRXCTL_FCOE_WRFIX,
        );
        for i in 0..MTA_ENTRIES {
            r.write32(mta(i), 0);
        }
        self.write_filter();
        let r = &self.regs;
        let buf_kb = (self.window.buf_size / 1024).clamp(1, SRRCTL_BSIZEPKT_MASK as u64) as u32;
        for q in &self.rx {
            let i = q.index;
            let old = r.read32(srrctl(i))
                & !(SRRCTL_DESCTYPE_MASK | SRRCTL_BSIZEPKT_MASK | SRRCTL_BSIZEHDR_MASK);
            r.write32(
                srrctl(i),
                old | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN | buf_kb,
            );
            let iova = q.ring.descs.iova();
            r.write32(rdbal(i), iova as u32);
            r.write32(rdbah(i), (iova >> 32) as u32);
            r.write32(rdlen(i), q.ring.descs.bytes());
            r.write32(rdh(i), 0);
            r.write32(rdt(i), 0);
            // Reserved bit with reset value 1 that must be 0 (Linux, ixy).
            r.write32(dca_rxctrl(i), r.read32(dca_rxctrl(i)) & !DCA_RXCTRL_BIT12);
        }
        // Per-queue counters: queue q < 16 counts in set q.
        for i in 0..QUEUE_COUNTERS / 4 {
            let m = (0..4).fold(0u32, |m, j| m | (((4 * i + j) as u32) << (8 * j)));
            r.write32(st::rqsmr(i), m);
        }
        r.write32(CTRL_EXT, r.read32(CTRL_EXT) | CTRL_EXT_NS_DIS);
        self.setup_rss(opts.rss);
        let r = &self.regs;
        for q in &self.rx {
            let i = q.index;
            r.write32(rxdctl(i), r.read32(rxdctl(i)) | RXDCTL_ENABLE);
            Self::wait_queue(r, rxdctl(i), RXDCTL_ENABLE, opts.init_timeout, "rx", i)?;
            r.write32(rdt(i), n - 1);
        }
        r.write32(RXCTRL, r.read32(RXCTRL) | RXCTRL_RXEN);
        Ok(())
    }

    /// RSS: the key, a redirection table over the queues (at most 16),
    /// hash fields; the hash goes into the write-back (RXCSUM.PCSD).
    fn setup_rss(&self, enable: bool) {
        let r = &self.regs;
        let queues = self.rx.len();
        if !enable || queues < 2 {
            r.write32(MRQC, r.read32(MRQC) & !(MRQC_MRQE_MASK | 0xffff_0000));
            return;
        }
        for (i, k) in DEFAULT_RSS_KEY.chunks(4).enumerate() {
            r.write32(rssrk(i), u32::from_le_bytes([k[0], k[1], k[2], k[3]]));
        }
        for i in 0..RETA_REGS {
            let v = (0..4).fold(0u32, |v, j| {
                v | (reta_entry(4 * i + j, queues) as u32) << (8 * j)
            });
            r.write32(reta(i), v);
        }
        r.write32(RXCSUM, r.read32(RXCSUM) | RXCSUM_PCSD);
        let mrqc = r.read32(MRQC) & !(MRQC_MRQE_MASK | 0xffff_0000);
        r.write32(MRQC, mrqc | MRQC_RSSEN | RSS_FIELDS);
    }

    fn wait_queue(
        r: &R,
        reg: usize,
        bit: u32,
        limit: Duration,
        dir: &'static str,
        queue: usize,
    ) -> Result<(), IxgbeError> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let v = r.read32(reg);
            if v == u32::MAX {
                return Err(IxgbeError::Removed);
            }
            if v & bit != 0 {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(IxgbeError::QueueEnableTimeout { dir, queue, limit });
            }
            if cancel::requested() {
                return Err(IxgbeError::Interrupted {
                    what: "a queue to enable",
                });
            }
            spins += 1;
            if spins > 16 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    fn fctrl(&self) -> u32 {
        let promisc = if self.promiscuous {
            FCTRL_UPE | FCTRL_MPE
        } else {
            0
        };
        (self.regs.read32(FCTRL) & !(FCTRL_UPE | FCTRL_MPE)) | FCTRL_BAM | promisc
    }

    /// FCTRL and the unicast address; the caller has RXEN clear.
    fn write_filter(&self) {
        let m = self.mac;
        let r = &self.regs;
        r.write32(FCTRL, self.fctrl());
        r.write32(ral(0), u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        r.write32(rah(0), u32::from_le_bytes([m[4], m[5], 0, 0]) | RAH_AV);
    }

    /// Filters change only with receive off (8.2.3.7.1): stop, write,
    /// restart.
    fn rewrite_filter(&self) {
        let r = &self.regs;
        let rxctrl = r.read32(RXCTRL);
        if rxctrl == u32::MAX {
            return;
        }
        r.write32(RXCTRL, rxctrl & !RXCTRL_RXEN);
        self.write_filter();
        r.write32(RXCTRL, rxctrl);
    }

    /// 4.6.8: transmit.
    fn setup_tx(&mut self, _n: u32, opts: Options) -> Result<(), IxgbeError> {
        let r = &self.regs;
        r.write32(HLREG0, r.read32(HLREG0) | HLREG0_TXCRCEN | HLREG0_TXPADEN);
        let kb = self.chip.tx_pb_kb();
        r.write32(txpbsize(0), kb << PB_SIZE_SHIFT);
        // Room left for one maximum-size packet (Linux: size - 10 KiB).
        r.write32(txpbthresh(0), kb - 10);
        for i in 1..PACKET_BUFFERS {
            r.write32(txpbsize(i), 0);
            r.write32(txpbthresh(i), 0);
        }
        let dtx = r.read32(DTXMXSZRQ);
        r.write32(DTXMXSZRQ, (dtx & !DTXMXSZRQ_MASK) | DTXMXSZRQ_MASK);
        // MTQC may only change with the descriptor arbiter off.
        r.write32(RTTDCS, r.read32(RTTDCS) | RTTDCS_ARBDIS);
        r.write32(MTQC, MTQC_64Q_1PB);
        r.write32(RTTDCS, r.read32(RTTDCS) & !RTTDCS_ARBDIS);
        for i in 0..QUEUE_COUNTERS / 4 {
            let m = (0..4).fold(0u32, |m, j| m | (((4 * i + j) as u32) << (8 * j)));
            r.write32(st::tqsm(i), m);
        }
        for q in &self.tx {
            let i = q.index;
            let iova = q.ring.descs.iova();
            r.write32(tdbal(i), iova as u32);
            r.write32(tdbah(i), (iova >> 32) as u32);
            r.write32(tdlen(i), q.ring.descs.bytes());
            r.write32(tdh(i), 0);
            r.write32(tdt(i), 0);
            // Prefetch when fewer than 36 descriptors are cached and at
            // least 8 are available; WTHRESH 0: write back exactly the
            // descriptors with RS, at once.
            let thresh = (36 << TXDCTL_PTHRESH_SHIFT) | (8 << TXDCTL_HTHRESH_SHIFT);
            r.write32(
                txdctl(i),
                (r.read32(txdctl(i)) & !TXDCTL_THRESH_MASK) | thresh,
            );
        }
        r.write32(DMATXCTL, r.read32(DMATXCTL) | DMATXCTL_TE);
        for q in &self.tx {
            let i = q.index;
            r.write32(txdctl(i), r.read32(txdctl(i)) | TXDCTL_ENABLE);
            Self::wait_queue(r, txdctl(i), TXDCTL_ENABLE, opts.init_timeout, "tx", i)?;
        }
        Ok(())
    }

    fn wait_link(&self, limit: Duration) -> Result<(), Interrupted> {
        let step = Duration::from_millis(1);
        let (up, removed) = (|| self.link_is_up(), || self.removed());
        wait_for_link(self.chip.name(), limit, step, up, removed)
    }

    /// Whether the device has gone (reads all-ones).
    pub fn removed(&self) -> bool {
        self.regs.read32(STATUS) == u32::MAX
    }

    /// Whether LINKS reports link up (false if the device is gone).
    pub fn link_is_up(&self) -> bool {
        let l = self.regs.read32(LINKS);
        l != u32::MAX && l & LINKS_UP != 0
    }

    /// Link speed in Mb/s (100, 1000, 2500, 5000 or 10000), if up.
    pub fn link_speed(&self) -> Option<u32> {
        self.chip.mac.links_speed(self.regs.read32(LINKS))
    }

    /// Which chip this is.
    pub fn chip(&self) -> Chip {
        self.chip
    }
    /// The MAC address the receive filter accepts.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }
    /// Sets the MAC address and rewrites the receive filter.
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        self.mac = mac;
        self.rewrite_filter();
    }
    /// Turns unicast and multicast promiscuous reception on or off.
    pub fn set_promiscuous(&mut self, on: bool) {
        self.promiscuous = on;
        self.rewrite_filter();
    }

    /// Interrupt extension point (for VFIO MSI-X): routes RX and TX of
    /// `queue` to MSI-X `vector` (IVAR, 8.2.3.5.16) and throttles that
    /// vector to one interrupt per `interval_us` (EITR, 2 us units).
    /// Interrupts stay masked until [`Ixgbe::unmask_vectors`].
    pub fn route_queue_interrupt(&self, queue: usize, vector: u8, interval_us: u32) {
        let r = &self.regs;
        let reg = ivar(queue / 2);
        let shift = 16 * (queue % 2) as u32;
        let entry = (vector as u32 & 0x3f) | IVAR_ALLOC_VAL;
        let v = r.read32(reg) & !(0xffff << shift);
        r.write32(reg, v | (entry << shift) | (entry << (shift + 8)));
        let itr = ((interval_us / 2) << 3) & EITR_ITR_MASK;
        r.write32(eitr(vector as usize), itr | EITR_CNT_WDIS);
    }

    /// Turns on MSI-X mode with auto-clear of the queue causes and unmasks
    /// `vectors` (bit n = vector n, n < 16 through EIMS).
    pub fn unmask_vectors(&self, vectors: u16) {
        let r = &self.regs;
        r.write32(
            GPIE,
            r.read32(GPIE) | GPIE_MSIX_MODE | GPIE_PBA_SUPPORT | GPIE_EIAME,
        );
        r.write32(EIAC, vectors as u32);
        r.write32(EIMS, vectors as u32);
    }

    /// Before sleeping on queue `queue`'s vector (routed with
    /// [`Ixgbe::route_queue_interrupt`], vector = queue): unmasks it and
    /// says whether the ring already has progress (then do not sleep).
    /// Only vectors 0..16 are unmasked through EIMS; later queues nap.
    pub fn arm_queue_interrupt(&self, dir: Direction, queue: usize, kring: &KRing) -> bool {
        arm_queue_vector(&self.regs, queue);
        match dir {
            Direction::Tx => self.tx.get(queue).is_some_and(|q| q.ring.has_completions()),
            Direction::Rx => self.rx.get(queue).is_some_and(|q| q.ring.has_frames(kring)),
        }
    }

    /// After waking: masks every queue vector again (busy polling needs
    /// no interrupts).
    pub fn disarm_queue_interrupts(&self) {
        if self.regs.read32(STATUS) != u32::MAX {
            self.regs.write32(EIMC, EICR_RTX_QUEUE);
        }
    }

    /// Reads the clear-on-read counters and adds them to the totals.
    pub fn update_stats(&mut self) -> Stats {
        accumulate_stats(&self.regs, &mut self.stats);
        self.stats.queue = self
            .rx
            .iter()
            .fold(QueueErrors::default(), |a, q| QueueErrors {
                rx_bad_length: a.rx_bad_length + q.ring.errors.rx_bad_length,
                rx_errors: a.rx_errors + q.ring.errors.rx_errors,
            });
        self.stats.clone()
    }

    fn clear_stats(&mut self) {
        self.update_stats();
        self.stats = Stats::default();
    }

    /// Stops receive and the queues, then resets the device, so no DMA
    /// happens after this.
    pub fn stop(&mut self) {
        let r = &self.regs;
        if r.read32(STATUS) == u32::MAX {
            return;
        }
        r.write32(EIMC, EIMC_VALID_MASK);
        r.write32(RXCTRL, r.read32(RXCTRL) & !RXCTRL_RXEN);
        for q in &self.rx {
            r.write32(rxdctl(q.index), r.read32(rxdctl(q.index)) & !RXDCTL_ENABLE);
        }
        for q in &self.tx {
            r.write32(txdctl(q.index), r.read32(txdctl(q.index)) & !TXDCTL_ENABLE);
        }
        let _ = Self::reset(&self.regs, self.chip, Duration::from_millis(100), false);
    }

    fn release(&mut self, region: &Region) {
        for q in &mut self.tx {
            q.ring.descs.release(region);
        }
        for q in &mut self.rx {
            q.ring.descs.release(region);
        }
    }

    /// Takes the driver apart (for [`super::split`]).
    pub(super) fn into_parts(self) -> Parts<R> {
        Parts {
            regs: self.regs,
            chip: self.chip,
            window: self.window,
            mac: self.mac,
            tx: self.tx,
            rx: self.rx,
            irq: self.irq,
        }
    }

    /// Lets `poll` sleep on the queues' MSI-X vectors (vector = queue),
    /// routed with [`Ixgbe::route_queue_interrupt`].
    pub fn attach_interrupts(&mut self, irq: Interrupts) {
        self.irq = Some(Arc::new(irq));
    }
}

/// Adds the device's clear-on-read counters to `s` (all-ones reads, from
/// a removed device, count as 0).
pub(crate) fn accumulate_stats<R: RegisterAccess>(r: &R, s: &mut Stats) {
    let read = |off| {
        let v = r.read32(off);
        if v == u32::MAX { 0 } else { v as u64 }
    };
    s.crcerrs += read(st::CRCERRS);
    s.rlec += read(st::RLEC);
    s.ruc += read(st::RUC);
    s.roc += read(st::ROC);
    s.mpc += (0..PACKET_BUFFERS).map(|i| read(st::mpc(i))).sum::<u64>();
    s.rnbc += (0..PACKET_BUFFERS).map(|i| read(st::rnbc(i))).sum::<u64>();
    s.gprc += read(st::GPRC);
    s.gptc += read(st::GPTC);
    // Low then high: the 36-bit octet counters clear when the high half is
    // read.
    s.gorc += read(st::GORCL) | (read(st::GORCH) << 32);
    s.gotc += read(st::GOTCL) | (read(st::GOTCH) << 32);
    s.tpr += read(st::TPR);
    s.tpt += read(st::TPT);
    for q in 0..QUEUE_COUNTERS {
        s.qprc[q] += read(st::qprc(q));
        s.qptc[q] += read(st::qptc(q));
        s.qprdc[q] += read(st::qprdc(q));
    }
}

/// The `NicInfo` counters of `s` for `queues` queue pairs.
pub(crate) fn counters(s: &Stats, queues: std::ops::Range<usize>) -> Vec<(&'static str, u64)> {
    let mut counters = vec![
        ("GPRC", s.gprc),
        ("GPTC", s.gptc),
        ("GORC", s.gorc),
        ("GOTC", s.gotc),
        ("MPC", s.mpc),
        ("RNBC", s.rnbc),
        ("CRCERRS", s.crcerrs),
        ("RLEC", s.rlec),
        ("RUC", s.ruc),
        ("ROC", s.roc),
        ("TPR", s.tpr),
        ("TPT", s.tpt),
        ("rx_bad_length", s.queue.rx_bad_length),
        ("rx_errors", s.queue.rx_errors),
    ];
    for q in queues.filter(|&q| q < QUEUE_COUNTERS) {
        counters.push((QPRC_NAMES[q], s.qprc[q]));
        counters.push((QPTC_NAMES[q], s.qptc[q]));
        counters.push((QPRDC_NAMES[q], s.qprdc[q]));
    }
    counters
}

const QPRC_NAMES: [&str; 16] = [
    "QPRC0", "QPRC1", "QPRC2", "QPRC3", "QPRC4", "QPRC5", "QPRC6", "QPRC7", "QPRC8", "QPRC9",
    "QPRC10", "QPRC11", "QPRC12", "QPRC13", "QPRC14", "QPRC15",
];
const QPTC_NAMES: [&str; 16] = [
    "QPTC0", "QPTC1", "QPTC2", "QPTC3", "QPTC4", "QPTC5", "QPTC6", "QPTC7", "QPTC8", "QPTC9",
    "QPTC10", "QPTC11", "QPTC12", "QPTC13", "QPTC14", "QPTC15",
];
const QPRDC_NAMES: [&str; 16] = [
    "QPRDC0", "QPRDC1", "QPRDC2", "QPRDC3", "QPRDC4", "QPRDC5", "QPRDC6", "QPRDC7", "QPRDC8",
    "QPRDC9", "QPRDC10", "QPRDC11", "QPRDC12", "QPRDC13", "QPRDC14", "QPRDC15",
];

fn no_ring(what: &'static str, index: usize, count: usize) -> ApiError {
    ApiError::NoSuchRing {
        port: "ixgbe".into(),
        what,
        index: index as u32,
        count: count as u32,
    }
}

impl<R: RegisterAccess + Send> Backend for Ixgbe<R> {
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        // The ring's own index names the queue: a port bound to one ring
        // pair (`-N`) has it at position 0.
        let ring = kring.id.index as usize;
        let count = self.tx.len();
        let q = self
            .tx
            .get_mut(ring)
            .ok_or_else(|| no_ring("tx ring", ring, count))?;
        q.sync(&self.regs, region, self.window, mem, kring, head)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        let ring = kring.id.index as usize;
        let count = self.rx.len();
        let q = self
            .rx
            .get_mut(ring)
            .ok_or_else(|| no_ring("rx ring", ring, count))?;
        q.sync(&self.regs, region, self.window, mem, kring, head)
    }
    fn arm_wait<'r>(&self, _: &'r Region, kring: &KRing) -> Wait<'r> {
        let queue = kring.id.index as usize;
        let Some(fd) = self.irq.as_ref().and_then(|irq| irq.prepare_wait(queue)) else {
            return Wait::Nap;
        };
        if self.arm_queue_interrupt(kring.id.dir, queue, kring) {
            return Wait::Ready;
        }
        Wait::Fd(fd)
    }
    fn disarm_wait(&self, _: &Region, _: Direction) {
        if self.irq.is_some() {
            self.disarm_queue_interrupts();
        }
    }
    fn peer_alive(&self, _: &Region) -> bool {
        self.link_is_up()
    }
    fn close(&mut self, region: &Region) {
        self.stop();
        self.release(region);
    }
    fn nic(&mut self) -> Option<&mut dyn NicControl> {
        Some(self)
    }
}

impl<R: RegisterAccess> NicControl for Ixgbe<R> {
    fn info(&mut self) -> NicInfo {
        let s = self.update_stats();
        let counters = counters(&s, 0..self.tx.len());
        NicInfo {
            model: self.chip.name().to_string(),
            mac: self.mac,
            link_up: self.link_is_up(),
            speed: self.link_speed(),
            counters,
        }
    }
    fn set_promiscuous(&mut self, on: bool) {
        Ixgbe::set_promiscuous(self, on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        Ixgbe::set_mac(self, mac)
    }
}

/// Unmasks queue vector `queue` (< 16; EIMS bits 15:0 are the queue
/// vectors in MSI-X mode, 8.2.3.5.4).
pub(super) fn arm_queue_vector(regs: &impl RegisterAccess, queue: usize) {
    if queue < 16 && regs.read32(STATUS) != u32::MAX {
        regs.write32(EIMS, 1 << queue);
    }
}

/// Masks queue vector `queue` again.
pub(super) fn disarm_queue_vector(regs: &impl RegisterAccess, queue: usize) {
    if queue < 16 && regs.read32(STATUS) != u32::MAX {
        regs.write32(EIMC, 1 << queue);
    }
}

/// Link, MAC and counters as `vfio-netmap info` shows them, read without
/// touching the device's configuration (counters clear on read). The link
/// speed is decoded as the 82599 and X540 define it (no 2.5G/5G): use
/// [`read_chip_state`] when the chip is known.
pub fn read_state(regs: &impl RegisterAccess) -> Vec<(String, String)> {
    state(regs, MacType::I82599)
}

/// [`read_state`] for a known chip, so X550-family links at 2.5 and 5 Gb/s
/// read as such.
pub fn read_chip_state(regs: &impl RegisterAccess, chip: Chip) -> Vec<(String, String)> {
    state(regs, chip.mac)
}

fn state(regs: &impl RegisterAccess, mac: MacType) -> Vec<(String, String)> {
    if regs.read32(STATUS) == u32::MAX {
        return vec![(
            "State".into(),
            "reads all-ones: removed or powered down".into(),
        )];
    }
    let links = regs.read32(LINKS);
    let link = match mac.links_speed(links) {
        Some(mbps) => format!("up, {}", speed_text(mbps)),
        None if links & LINKS_UP != 0 => "up".to_string(),
        None => "down".to_string(),
    };
    let (lo, hi) = (regs.read32(ral(0)), regs.read32(rah(0)));
    let mac = [lo, lo >> 8, lo >> 16, lo >> 24, hi, hi >> 8]
        .iter()
        .map(|b| format!("{:02x}", *b as u8))
        .collect::<Vec<_>>()
        .join(":");
    let counters = [
        ("GPRC", st::GPRC),
        ("GPTC", st::GPTC),
        ("GORCL", st::GORCL),
        ("GOTCL", st::GOTCL),
        ("MPC0", st::mpc(0)),
        ("CRCERRS", st::CRCERRS),
        ("RLEC", st::RLEC),
    ]
    .iter()
    .map(|(n, off)| format!("{n}={}", regs.read32(*off)))
    .collect::<Vec<_>>()
    .join(" ");
    vec![
        ("Link".into(), link),
        ("MAC".into(), mac),
        ("Counters (since last read)".into(), counters),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    const UP: u32 = LINKS_UP;
    const BIT27: u32 = LINKS_SPEED_NON_STD;
    const X550_FAMILY: [MacType; 3] = [MacType::X550, MacType::X550EmX, MacType::X550EmA];

    #[test]
    fn links_bits_are_linux_s() {
        assert_eq!(LINKS_SPEED_NON_STD, 0x0800_0000);
        assert_eq!(
            (
                LINKS_SPEED_MASK,
                LINKS_SPEED_10G,
                LINKS_SPEED_1G,
                LINKS_SPEED_100M
            ),
            (0x3000_0000, 0x3000_0000, 0x2000_0000, 0x1000_0000)
        );
    }

    /// X550, X552, X553: bit 27 turns the 10G code into 2.5 Gb/s and the
    /// 100M code into 5 Gb/s; 1G stays 1G.
    #[test]
    fn x550_family_decodes_every_speed_with_bit_27() {
        for mac in X550_FAMILY {
            for (links, mbps) in [
                (UP | LINKS_SPEED_10G, 10_000),
                (UP | LINKS_SPEED_10G | BIT27, 2_500),
                (UP | LINKS_SPEED_100M | BIT27, 5_000),
                (UP | LINKS_SPEED_1G, 1_000),
                (UP | LINKS_SPEED_1G | BIT27, 1_000),
                (UP | LINKS_SPEED_100M, 100),
            ] {
                assert_eq!(mac.links_speed(links), Some(mbps), "{mac:?} {links:#010x}");
            }
        }
    }

    /// 82599 and X540: bit 27 is not a speed bit and must not change the
    /// speed.
    #[test]
    fn i82599_and_x540_ignore_bit_27() {
        for mac in [MacType::I82599, MacType::X540] {
            for (code, mbps) in [
                (LINKS_SPEED_10G, 10_000),
                (LINKS_SPEED_1G, 1_000),
                (LINKS_SPEED_100M, 100),
            ] {
                assert_eq!(mac.links_speed(UP | code), Some(mbps), "{mac:?} {code:#x}");
                assert_eq!(
                    mac.links_speed(UP | code | BIT27),
                    Some(mbps),
                    "{mac:?} {code:#x} with bit 27"
                );
            }
        }
    }

    #[test]
    fn no_speed_when_down_removed_or_reserved() {
        for mac in [MacType::I82599, MacType::X540]
            .into_iter()
            .chain(X550_FAMILY)
        {
            assert_eq!(mac.links_speed(LINKS_SPEED_10G), None, "{mac:?}: down");
            assert_eq!(mac.links_speed(u32::MAX), None, "{mac:?}: all-ones");
            assert_eq!(mac.links_speed(UP), None, "{mac:?}: code 00");
            assert_eq!(mac.links_speed(UP | BIT27), None, "{mac:?}: code 00");
        }
    }

    #[test]
    fn speeds_read_as_people_write_them() {
        let texts: Vec<String> = [10_000, 5_000, 2_500, 1_000, 100]
            .into_iter()
            .map(speed_text)
            .collect();
        assert_eq!(
            texts,
            ["10 Gb/s", "5 Gb/s", "2.5 Gb/s", "1 Gb/s", "100 Mb/s"]
        );
    }

    /// A register file that holds what is written.
    #[derive(Default)]
    struct Regs(RefCell<HashMap<usize, u32>>);

    impl RegisterAccess for Regs {
        fn read32(&self, offset: usize) -> u32 {
            self.0.borrow().get(&offset).copied().unwrap_or(0)
        }
        fn write32(&self, offset: usize, value: u32) {
            self.0.borrow_mut().insert(offset, value);
        }
    }

    fn link_line(regs: &Regs, chip: Chip) -> String {
        read_chip_state(regs, chip)
            .into_iter()
            .find(|(k, _)| k == "Link")
            .map(|(_, v)| v)
            .unwrap()
    }

    /// `vfio-netmap info` shows what the chip's LINKS means.
    #[test]
    fn info_shows_the_chip_s_speed() {
        let x550 = Chip::from_device_id(0x8086, 0x1563).unwrap();
        let i82599 = Chip::from_device_id(0x8086, 0x10fb).unwrap();
        let regs = Regs::default();
        regs.write32(LINKS, UP | LINKS_SPEED_10G | BIT27);
        assert_eq!(link_line(&regs, x550), "up, 2.5 Gb/s");
        assert_eq!(link_line(&regs, i82599), "up, 10 Gb/s");
        regs.write32(LINKS, UP | LINKS_SPEED_100M | BIT27);
        assert_eq!(link_line(&regs, x550), "up, 5 Gb/s");
        assert_eq!(link_line(&regs, i82599), "up, 100 Mb/s");
        regs.write32(LINKS, UP);
        assert_eq!(link_line(&regs, x550), "up", "reserved speed code");
        regs.write32(LINKS, LINKS_SPEED_10G);
        assert_eq!(link_line(&regs, x550), "down");
    }
}
