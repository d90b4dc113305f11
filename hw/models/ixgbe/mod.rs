//! A register-level model of an Intel 82599 for host tests of the ixgbe
//! driver: reset, EEPROM auto-read, DMA init, link (AUTOC/LINKS), 64 queue
//! pairs with advanced descriptors fetched through a checked DMA window,
//! RSS (Toeplitz, RETA), clear-on-read counters, drops, a wire joining two
//! models, fault injection, and a log of register writes with the
//! datasheet rules the init sequence must keep.
//!
//! Two modes: synchronous (a TDT write transmits at once, deterministic)
//! and threaded ([`IxgbeModel::start`]: a thread polls the tails like the
//! hardware does, concurrently with the driver).
//!
//! Reset values modelled: CTRL 0, EEC.ARD|PRES, RDRXCTL RSCFRSTSIZE = 8 and
//! DMAIDONE, DCA_RXCTRL bit 12, DTXMXSZRQ 0x10, RXPBSIZE0 512 KiB,
//! TXPBSIZE0 160 KiB, RAL0/RAH0 from the "EEPROM"; everything else 0.

#![allow(dead_code)]

pub mod pair;
pub mod toeplitz;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;

use vfio_netmap::driver::regs::RegisterAccess;

/// Device memory access, as the IOMMU would allow it.
pub trait Dma: Send + Sync {
    /// Copies `buf.len()` bytes from `iova`; false if not mapped.
    fn read(&self, iova: u64, buf: &mut [u8]) -> bool;
    /// Copies `data` to `iova`; false if not mapped. The copy may store
    /// some bytes more than once (memcpy does), so it never carries a
    /// descriptor's DD bit: see [`Dma::store_status`].
    fn write(&self, iova: u64, data: &[u8]) -> bool;
    /// Writes the dword at `iova` (4-byte aligned) with exactly one store,
    /// ordered after every earlier write: a descriptor's status, the last
    /// thing the device writes. Once DD shows, the driver owns the
    /// descriptor and may rewrite it at once; a second store of the same
    /// bytes landing later (as memcpy's overlapping stores can) would undo
    /// the driver's write, which real hardware never does.
    fn store_status(&self, iova: u64, value: u32) -> bool;
}

// Offsets (the model keeps its own copy: it must not trust the driver's).
const CTRL: usize = 0x0;
const STATUS: usize = 0x8;
const EEC: usize = 0x10010;
const EICR: usize = 0x800;
const EIMS: usize = 0x880;
const EIMC: usize = 0x888;
const FCTRL: usize = 0x5080;
const RXCSUM: usize = 0x5000;
const MRQC: usize = 0x5818;
const RETA: usize = 0x5c00;
const RSSRK: usize = 0x5c80;
const RAL0: usize = 0x5400;
const RAH0: usize = 0x5404;
const RDRXCTL: usize = 0x2f00;
const RXCTRL: usize = 0x3000;
const DMATXCTL: usize = 0x4a80;
const DTXMXSZRQ: usize = 0x8100;
const MTQC: usize = 0x8120;
const RTTDCS: usize = 0x4900;
const HLREG0: usize = 0x4240;
const AUTOC: usize = 0x42a0;
const LINKS: usize = 0x42a4;
const RXPBSIZE0: usize = 0x3c00;
const TXPBSIZE0: usize = 0xcc00;
const CRCERRS: usize = 0x4000;
const GPRC: usize = 0x4074;
const GPTC: usize = 0x4080;
const GORCL: usize = 0x4088;
const GOTCL: usize = 0x4090;
const TPR: usize = 0x40d0;
const TPT: usize = 0x40d4;
const MPC0: usize = 0x3fa0;
const RQSMR: usize = 0x2300;
const TQSM: usize = 0x8600;

const fn rdbal(q: usize) -> usize {
    0x1000 + 0x40 * q
}
const fn rdlen(q: usize) -> usize {
    0x1008 + 0x40 * q
}
const fn rdh(q: usize) -> usize {
    0x1010 + 0x40 * q
}
const fn rdt(q: usize) -> usize {
    0x1018 + 0x40 * q
}
const fn rxdctl(q: usize) -> usize {
    0x1028 + 0x40 * q
}
const fn srrctl(q: usize) -> usize {
    if q < 16 {
        0x2100 + 4 * q
    } else {
        0x1014 + 0x40 * q
    }
}
const fn dca_rxctrl(q: usize) -> usize {
    if q < 16 {
        0x2200 + 4 * q
    } else {
        0x100c + 0x40 * q
    }
}
const fn tdbal(q: usize) -> usize {
    0x6000 + 0x40 * q
}
const fn tdlen(q: usize) -> usize {
    0x6008 + 0x40 * q
}
const fn tdh(q: usize) -> usize {
    0x6010 + 0x40 * q
}
const fn tdt(q: usize) -> usize {
    0x6018 + 0x40 * q
}
const fn txdctl(q: usize) -> usize {
    0x6028 + 0x40 * q
}
const fn qprc(i: usize) -> usize {
    0x1030 + 0x40 * i
}
const fn qprdc(i: usize) -> usize {
    0x1430 + 0x40 * i
}
const fn qptc(i: usize) -> usize {
    0x6030 + 0x40 * i
}

const QUEUES: usize = 64;
const BAR_SIZE: usize = 0x2_0000;
const RST_MASK: u32 = (1 << 26) | (1 << 3);
const ENABLE: u32 = 1 << 25;
const RXEN: u32 = 1;
const LINKS_UP: u32 = 1 << 30;
const LINKS_10G: u32 = 0x3000_0000;
const RDRXCTL_DMAIDONE: u32 = 1 << 3;

/// Whether an offset is a clear-on-read statistics register.
fn clear_on_read(off: usize) -> bool {
    (0x4000..0x4200).contains(&off)
        || (0x3fa0..0x3fe0).contains(&off)
        || ((0x1030..0x1400).contains(&off) && off % 0x40 == 0x30)
        || ((0x1430..0x1800).contains(&off) && off % 0x40 == 0x30)
        || ((0x6030..0x6400).contains(&off) && off % 0x40 == 0x30)
}

/// Knobs of a model.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub mac: [u8; 6],
    /// CTRL reads before a reset completes (RST self-clears).
    pub reset_reads: u32,
    /// LINKS reads after reset or a restart before the link comes up.
    pub link_up_after_reads: u32,
}

impl Config {
    pub fn new(mac: [u8; 6]) -> Config {
        Config {
            mac,
            reset_reads: 2,
            link_up_after_reads: 3,
        }
    }
}

/// Device misbehaviour a test can ask for.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    /// Length to write back in the next RX write-backs (count).
    bad_rx_len: Option<(u16, u32)>,
    /// RX queues whose descriptors the device stopped fetching (bit mask).
    rx_stalled: u64,
    /// TX queues the device stopped fetching.
    tx_stalled: u64,
    /// Link forced down (a flap in progress).
    link_down: bool,
}

struct State {
    regs: Vec<u32>,
    /// Register writes in order, while recording.
    log: Vec<(usize, u32)>,
    recording: bool,
    /// DMA outside the mapped window.
    dma_faults: Vec<String>,
    /// Datasheet rules the driver broke.
    violations: Vec<String>,
    removed: bool,
    reset_pending: u32,
    link_reads: u32,
    faults: Faults,
    /// 64-bit octet counters behind GORCL/H and GOTCL/H.
    gorc: u64,
    gotc: u64,
    /// Frames received whose write-back was spoilt on purpose.
    injected: u64,
}

impl State {
    fn get(&self, off: usize) -> u32 {
        self.regs[off / 4]
    }
    fn set(&mut self, off: usize, v: u32) {
        self.regs[off / 4] = v;
    }
    fn bump(&mut self, off: usize) {
        self.regs[off / 4] = self.regs[off / 4].wrapping_add(1);
    }
    fn violation(&mut self, what: String) {
        if self.violations.len() < 1000 {
            self.violations.push(what);
        }
    }
    fn dma_fault(&mut self, what: String) {
        if self.dma_faults.len() < 1000 {
            self.dma_faults.push(what);
        }
    }

    fn reset(&mut self, cfg: &Config) {
        self.regs.iter_mut().for_each(|r| *r = 0);
        let m = cfg.mac;
        self.set(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.set(RAH0, u32::from_le_bytes([m[4], m[5], 0, 0]) | 1 << 31);
        self.set(EEC, (1 << 9) | (1 << 8));
        self.set(RDRXCTL, (0x8 << 17) | RDRXCTL_DMAIDONE);
        for q in 0..QUEUES {
            self.set(dca_rxctrl(q), 1 << 12);
        }
        self.set(DTXMXSZRQ, 0x10);
        self.set(RXPBSIZE0, 512 << 10);
        self.set(TXPBSIZE0, 160 << 10);
        self.set(AUTOC, 0x4 << 13);
        self.link_reads = 0;
        self.gorc = 0;
        self.gotc = 0;
    }

    fn link_up(&self, cfg: &Config) -> bool {
        !self.faults.link_down && self.link_reads >= cfg.link_up_after_reads
    }

    /// The stat counter set queue `q` maps to (RQSMR/TQSM), if any.
    fn counter_set(&self, base: usize, q: usize) -> usize {
        ((self.get(base + 4 * (q / 4)) >> (8 * (q % 4))) & 0xf) as usize
    }
}

/// The far end of a model's cable when it is not another model of this
/// process (a pipe to another process, for `model:` ports).
pub trait WireEnd: Send + Sync {
    /// Puts frames on the wire; what the far end cannot take is lost, as on
    /// a real cable.
    fn send(&self, frames: Vec<Vec<u8>>);
    /// Whether something is plugged in at the far end (the link).
    fn connected(&self) -> bool;
    /// How many frames the far end can take now: flow control (802.3x
    /// PAUSE). A threaded model fetches no more TX descriptors than this,
    /// so while the far end holds back, the descriptors stay with the
    /// device and the sending driver's ring fills, as on hardware. Called
    /// without the model's lock held.
    fn room(&self) -> usize {
        usize::MAX
    }
}

/// What the cable is plugged into.
enum Peer {
    Nothing,
    Model(Weak<IxgbeModel>),
    End(Arc<dyn WireEnd>),
}

/// One modelled 82599 port.
pub struct IxgbeModel {
    state: Mutex<State>,
    cfg: Config,
    dma: Arc<dyn Dma>,
    peer: Mutex<Peer>,
    threaded: AtomicBool,
}

/// A handle the driver owns: register access to one model.
#[derive(Clone)]
pub struct ModelRegs(pub Arc<IxgbeModel>);

impl RegisterAccess for ModelRegs {
    fn read32(&self, offset: usize) -> u32 {
        self.0.read(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.0.write(offset, value)
    }
}

/// The model's own thread (threaded mode); stops when dropped.
pub struct Runner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl IxgbeModel {
    pub fn new(cfg: Config, dma: Arc<dyn Dma>) -> Arc<IxgbeModel> {
        let mut state = State {
            regs: vec![0; BAR_SIZE / 4],
            log: Vec::new(),
            recording: true,
            dma_faults: Vec::new(),
            violations: Vec::new(),
            removed: false,
            reset_pending: 0,
            link_reads: 0,
            faults: Faults::default(),
            gorc: 0,
            gotc: 0,
            injected: 0,
        };
        state.reset(&cfg);
        Arc::new(IxgbeModel {
            state: Mutex::new(state),
            cfg,
            dma,
            peer: Mutex::new(Peer::Nothing),
            threaded: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins two models with a wire: what one sends, the other receives.
    pub fn connect(a: &Arc<IxgbeModel>, b: &Arc<IxgbeModel>) {
        *a.peer.lock().unwrap() = Peer::Model(Arc::downgrade(b));
        *b.peer.lock().unwrap() = Peer::Model(Arc::downgrade(a));
    }

    /// Plugs the cable into `end`: frames sent go to it, the link is up
    /// only while it is connected, and whatever feeds `deliver` is what
    /// arrives.
    pub fn plug(&self, end: Arc<dyn WireEnd>) {
        *self.peer.lock().unwrap_or_else(|e| e.into_inner()) = Peer::End(end);
    }

    /// A frame arrives from a wire with flow control (802.3x PAUSE): false
    /// if the frame's queue has no free descriptor, so the wire holds it
    /// (and the sender back) instead of the frame being dropped.
    pub fn deliver(&self, frame: &[u8]) -> bool {
        self.receive_or_wait(frame, true)
    }

    /// How many frames the cable takes now ([`WireEnd::room`]; no limit
    /// for a model-to-model wire).
    fn wire_room(&self) -> usize {
        let end = match &*self.peer.lock().unwrap_or_else(|e| e.into_inner()) {
            Peer::End(end) => end.clone(),
            _ => return usize::MAX,
        };
        end.room()
    }

    /// Whether the far end is there (always, for a model-to-model wire).
    fn far_end_present(&self) -> bool {
        match &*self.peer.lock().unwrap_or_else(|e| e.into_inner()) {
            Peer::End(end) => end.connected(),
            _ => true,
        }
    }

    /// Threaded mode: from now on a thread fetches TX descriptors when it
    /// sees tails move, instead of the TDT write doing it.
    pub fn start(self: &Arc<Self>) -> Runner {
        self.threaded.store(true, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let model = Arc::downgrade(self);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut idle = 0u32;
            while !flag.load(Ordering::Relaxed) {
                let Some(m) = model.upgrade() else { break };
                let pending = {
                    let s = m.lock();
                    (0..QUEUES).any(|q| s.get(tdt(q)) != s.get(tdh(q)))
                };
                let mut frames = Vec::new();
                if pending {
                    // Asked before taking the lock: a wire end takes its
                    // own, which its receive path holds while it calls in.
                    let mut room = m.wire_room();
                    let mut s = m.lock();
                    for q in 0..QUEUES {
                        if room == 0 {
                            break;
                        }
                        if s.get(tdt(q)) != s.get(tdh(q)) {
                            let sent = m.transmit(&mut s, q, room);
                            room -= sent.len();
                            frames.extend(sent);
                        }
                    }
                }
                if frames.is_empty() {
                    idle += 1;
                    if idle > 64 {
                        std::thread::sleep(std::time::Duration::from_micros(20));
                    } else {
                        std::thread::yield_now();
                    }
                } else {
                    idle = 0;
                    m.send(frames);
                }
            }
        });
        Runner {
            stop,
            thread: Some(thread),
        }
    }

    // ---- inspection -------------------------------------------------------

    /// DMA accesses outside the window seen so far.
    pub fn dma_faults(&self) -> Vec<String> {
        self.lock().dma_faults.clone()
    }
    /// Datasheet rules the driver broke (see `write`).
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }
    /// Register writes so far (since the last `take_log`).
    pub fn take_log(&self) -> Vec<(usize, u32)> {
        std::mem::take(&mut self.lock().log)
    }
    pub fn set_recording(&self, on: bool) {
        self.lock().recording = on;
    }
    /// A register's value, without side effects.
    pub fn peek(&self, off: usize) -> u32 {
        self.lock().get(off)
    }

    // ---- fault injection ----------------------------------------------------

    /// From now on every register reads all-ones and writes are lost.
    pub fn remove(&self) {
        self.lock().removed = true;
    }
    /// The next `count` RX write-backs report `len` bytes.
    pub fn inject_rx_length(&self, len: u16, count: u32) {
        self.lock().faults.bad_rx_len = Some((len, count));
    }
    /// Writes DD (and a garbage length) into every descriptor the driver
    /// has not given to the device: TX [TDT, TDH), RX [RDT, RDH).
    pub fn inject_spurious_dd(&self) {
        let mut s = self.lock();
        for q in 0..QUEUES {
            for (base_reg, len_reg, head, tail) in [
                (tdbal(q), tdlen(q), tdh(q), tdt(q)),
                (rdbal(q), rdlen(q), rdh(q), rdt(q)),
            ] {
                let n = s.get(len_reg) / 16;
                if n == 0 {
                    continue;
                }
                let base = s.get(base_reg) as u64 | (s.get(base_reg + 4) as u64) << 32;
                let (h, mut t) = (s.get(head) % n, s.get(tail) % n);
                while t != h {
                    let mut wb = [0u8; 16];
                    wb[8] = 0x3; // DD | EOP
                    wb[12..14].copy_from_slice(&0xfff0u16.to_le_bytes());
                    let at = base + t as u64 * 16;
                    if !self.dma.write(at, &wb) {
                        s.dma_fault(format!("spurious DD at {at:#x}"));
                    }
                    t = (t + 1) % n;
                }
            }
        }
    }
    /// RX queue `q` stops (or resumes) fetching descriptors.
    pub fn stall_rx(&self, q: usize, on: bool) {
        let mut s = self.lock();
        if on {
            s.faults.rx_stalled |= 1 << q;
        } else {
            s.faults.rx_stalled &= !(1 << q);
        }
    }
    /// TX queue `q` stops (or resumes) fetching descriptors.
    pub fn stall_tx(&self, q: usize, on: bool) {
        let frames = {
            let mut s = self.lock();
            if on {
                s.faults.tx_stalled |= 1 << q;
                return;
            }
            s.faults.tx_stalled &= !(1 << q);
            if self.threaded.load(Ordering::Relaxed) {
                return;
            }
            self.transmit(&mut s, q, usize::MAX)
        };
        self.send(frames);
    }
    /// Link goes down (frames on the wire are lost) or comes back.
    pub fn set_link(&self, up: bool) {
        let mut s = self.lock();
        s.faults.link_down = !up;
    }

    // ---- registers ------------------------------------------------------------

    fn read(&self, off: usize) -> u32 {
        let mut s = self.lock();
        if s.removed || off >= BAR_SIZE {
            return u32::MAX;
        }
        match off {
            CTRL if s.reset_pending > 0 => {
                s.reset_pending -= 1;
                if s.reset_pending == 0 {
                    s.reset(&self.cfg);
                    return 0;
                }
                RST_MASK
            }
            LINKS => {
                s.link_reads = s.link_reads.saturating_add(1);
                if s.link_up(&self.cfg) && self.far_end_present() {
                    LINKS_UP | LINKS_10G
                } else {
                    0
                }
            }
            GORCL | GOTCL => {
                let v = if off == GORCL { s.gorc } else { s.gotc };
                s.set(off + 4, (v >> 32) as u32 & 0xf);
                if off == GORCL {
                    s.gorc = 0
                } else {
                    s.gotc = 0
                }
                v as u32
            }
            _ => {
                let v = s.get(off);
                if clear_on_read(off) {
                    s.set(off, 0);
                }
                v
            }
        }
    }

    fn write(&self, off: usize, v: u32) {
        let frames = {
            let mut s = self.lock();
            if s.removed || off >= BAR_SIZE {
                return;
            }
            if s.recording && s.log.len() < 200_000 {
                s.log.push((off, v));
            }
            match off {
                CTRL if v & RST_MASK != 0 => {
                    s.set(CTRL, v);
                    s.reset_pending = self.cfg.reset_reads.max(1);
                    return;
                }
                EIMC => {
                    if v & (1 << 31) != 0 {
                        s.violation(format!("EIMC written with reserved bit 31 ({v:#x})"));
                    }
                    let m = s.get(EIMS) & !v;
                    s.set(EIMS, m);
                    return;
                }
                EIMS => {
                    let m = s.get(EIMS) | v;
                    s.set(EIMS, m);
                    return;
                }
                FCTRL => {
                    if s.get(RXCTRL) & RXEN != 0 {
                        s.violation(format!("FCTRL written ({v:#x}) while RXCTRL.RXEN is set"));
                    }
                    s.set(off, v);
                    return;
                }
                DTXMXSZRQ => {
                    if v & !0xfff != 0 {
                        s.violation(format!("DTXMXSZRQ reserved bits written ({v:#x})"));
                    }
                    s.set(off, v);
                    return;
                }
                MTQC => {
                    if s.get(RTTDCS) & (1 << 6) == 0 {
                        s.violation("MTQC written with the TX arbiter enabled".into());
                    }
                    s.set(off, v);
                    return;
                }
                RDRXCTL => {
                    // DMAIDONE is read only.
                    let keep = s.get(RDRXCTL) & RDRXCTL_DMAIDONE;
                    s.set(off, (v & !RDRXCTL_DMAIDONE) | keep);
                    return;
                }
                AUTOC => {
                    s.set(off, v & !(1 << 12));
                    if v & (1 << 12) != 0 {
                        s.link_reads = 0;
                    }
                    return;
                }
                LINKS | EEC | STATUS | EICR => return,
                RXCTRL => {
                    s.set(off, v);
                    return;
                }
                _ => {}
            }
            if (0x1000..0x2000).contains(&off) && off % 0x40 == 0x28 {
                // RXDCTL: the enable bit reads back once the queue runs.
                s.set(off, v);
                return;
            }
            if (0x6000..0x7000).contains(&off) && off % 0x40 == 0x28 {
                // TXDCTL: a queue only starts with transmit enabled.
                let v = if s.get(DMATXCTL) & 1 == 0 && v & ENABLE != 0 {
                    s.violation(format!(
                        "TXDCTL[{}].ENABLE set before DMATXCTL.TE",
                        (off - 0x6028) / 0x40
                    ));
                    v & !ENABLE
                } else {
                    v
                };
                s.set(off, v);
                return;
            }
            if (0x6000..0x7000).contains(&off) && off % 0x40 == 0x18 {
                let q = (off - 0x6018) / 0x40;
                s.set(off, v);
                if self.threaded.load(Ordering::Relaxed) {
                    return;
                }
                self.transmit(&mut s, q, usize::MAX)
            } else {
                s.set(off, v);
                return;
            }
        };
        self.send(frames);
    }

    // ---- transmit ----------------------------------------------------------------

    fn send(&self, frames: Vec<Vec<u8>>) {
        if frames.is_empty() {
            return;
        }
        if self.lock().faults.link_down {
            return;
        }
        let peer = match &*self.peer.lock().unwrap_or_else(|e| e.into_inner()) {
            Peer::Nothing => return,
            Peer::Model(m) => Ok(m.upgrade()),
            Peer::End(end) => Err(end.clone()),
        };
        match peer {
            Ok(Some(peer)) => {
                for f in frames {
                    peer.receive(&f);
                }
            }
            Ok(None) => {}
            Err(end) => end.send(frames),
        }
    }

    /// Processes queue `q`'s descriptors from TDH towards TDT, stopping
    /// before the frame that would exceed `limit` frames; returns the
    /// complete frames.
    fn transmit(&self, s: &mut State, q: usize, limit: usize) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        if s.get(txdctl(q)) & ENABLE == 0
            || s.get(DMATXCTL) & 1 == 0
            || s.faults.tx_stalled & (1 << q) != 0
        {
            return frames;
        }
        let base = s.get(tdbal(q)) as u64 | (s.get(tdbal(q) + 4) as u64) << 32;
        let n = s.get(tdlen(q)) / 16;
        if n == 0 {
            return frames;
        }
        let (mut head, tail) = (s.get(tdh(q)), s.get(tdt(q)));
        if tail >= n {
            s.violation(format!("TDT[{q}] = {tail} beyond the ring ({n})"));
            return frames;
        }
        let mut frame = Vec::new();
        let mut paylen = None;
        let counter = s.counter_set(TQSM, q);
        while head != tail && (frames.len() < limit || !frame.is_empty()) {
            let at = base + head as u64 * 16;
            let mut d = [0u8; 16];
            if !self.dma.read(at, &mut d) {
                s.dma_fault(format!("TX descriptor read at {at:#x}"));
                break;
            }
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap());
            let ctl = u32::from_le_bytes(d[8..12].try_into().unwrap());
            let olinfo = u32::from_le_bytes(d[12..16].try_into().unwrap());
            if (ctl >> 20) & 0xf != 0x3 || ctl & (1 << 29) == 0 {
                s.violation(format!(
                    "TX[{q}] descriptor {head}: not an advanced data descriptor ({ctl:#x})"
                ));
            }
            let len = (ctl & 0xffff) as usize;
            if paylen.is_none() {
                paylen = Some((olinfo >> 14) as usize);
            }
            let mut data = vec![0; len];
            if !self.dma.read(addr, &mut data) {
                s.dma_fault(format!("TX buffer read at {addr:#x}+{len}"));
            }
            frame.extend_from_slice(&data);
            if ctl & (1 << 24) != 0 {
                if paylen != Some(frame.len()) {
                    s.violation(format!(
                        "TX[{q}]: PAYLEN {paylen:?} but the packet has {} bytes",
                        frame.len()
                    ));
                }
                paylen = None;
                s.bump(GPTC);
                s.bump(TPT);
                s.gotc += frame.len() as u64 + 4;
                s.bump(qptc(counter));
                frames.push(std::mem::take(&mut frame));
            }
            if ctl & (1 << 27) != 0 {
                // The buffer reads above are done before DD shows.
                if !(self.dma.write(at, &[0u8; 12]) && self.dma.store_status(at + 12, 1)) {
                    s.dma_fault(format!("TX write-back at {at:#x}"));
                }
            }
            head = (head + 1) % n;
        }
        s.set(tdh(q), head);
        frames
    }

    // ---- receive --------------------------------------------------------------------

    fn accepts(s: &State, frame: &[u8]) -> bool {
        let fctrl = s.get(FCTRL);
        let dst = &frame[0..6];
        if dst == [0xff; 6] {
            return fctrl & (1 << 10) != 0;
        }
        if dst[0] & 1 != 0 {
            return fctrl & (1 << 8) != 0;
        }
        let l = s.get(RAL0).to_le_bytes();
        let h = s.get(RAH0).to_le_bytes();
        let own = s.get(RAH0) & (1 << 31) != 0 && dst == [l[0], l[1], l[2], l[3], h[0], h[1]];
        own || fctrl & (1 << 9) != 0
    }

    /// The RSS key as programmed (RSSRK little endian).
    fn rss_key(s: &State) -> [u8; 40] {
        let mut k = [0u8; 40];
        for i in 0..10 {
            k[4 * i..4 * i + 4].copy_from_slice(&s.get(RSSRK + 4 * i).to_le_bytes());
        }
        k
    }

    /// The queue, hash and RSS type for a frame.
    fn classify(s: &State, frame: &[u8]) -> (usize, u32, u16) {
        let mrqc = s.get(MRQC);
        if mrqc & 0xf != 1 {
            return (0, 0, 0);
        }
        match toeplitz::rss(&Self::rss_key(s), mrqc, frame) {
            Some((hash, t)) => {
                let i = (hash & 0x7f) as usize;
                let entry = (s.get(RETA + 4 * (i / 4)) >> (8 * (i % 4))) & 0xf;
                (entry as usize, hash, t)
            }
            None => (0, 0, 0),
        }
    }

    fn drop_frame(s: &mut State, q: usize) {
        if s.get(srrctl(q)) & (1 << 28) != 0 {
            let c = s.counter_set(RQSMR, q);
            s.bump(qprdc(c));
        } else {
            s.bump(MPC0);
        }
    }

    /// Stores a frame into its queue's next RX descriptors, or drops it.
    fn receive(&self, frame: &[u8]) {
        self.receive_or_wait(frame, false);
    }

    /// Receives `frame`; with `wait`, a frame that finds no free descriptor
    /// is neither stored nor dropped: false asks the wire to offer it again
    /// later (flow control).
    fn receive_or_wait(&self, frame: &[u8], wait: bool) -> bool {
        let mut s = self.lock();
        if s.removed || frame.len() < 14 {
            return true;
        }
        if s.get(RXCTRL) & RXEN == 0 {
            // Receive off (not set up yet, or filters being rewritten): a
            // wire with flow control holds the frame until it is on.
            return !wait;
        }
        if !Self::accepts(&s, frame) {
            return true;
        }
        s.bump(TPR);
        let (q, hash, rss_type) = Self::classify(&s, frame);
        if s.get(rxdctl(q)) & ENABLE == 0 || s.faults.rx_stalled & (1 << q) != 0 {
            Self::drop_frame(&mut s, q);
            return true;
        }
        let base = s.get(rdbal(q)) as u64 | (s.get(rdbal(q) + 4) as u64) << 32;
        let n = s.get(rdlen(q)) / 16;
        if n == 0 {
            Self::drop_frame(&mut s, q);
            return true;
        }
        let strip = s.get(HLREG0) & 2 != 0 && s.get(RDRXCTL) & 2 != 0;
        let mut data = frame.to_vec();
        if !strip {
            data.extend_from_slice(&[0; 4]); // the CRC stays
        }
        let bsize = match (s.get(srrctl(q)) & 0x1f) as usize * 1024 {
            0 => {
                s.violation(format!("SRRCTL[{q}].BSIZEPACKET is 0"));
                2048
            }
            b => b,
        };
        if (s.get(srrctl(q)) >> 25) & 7 != 1 {
            s.violation(format!("SRRCTL[{q}]: not advanced one-buffer descriptors"));
        }
        let needed = data.len().div_ceil(bsize) as u32;
        let (head, tail) = (s.get(rdh(q)), s.get(rdt(q)));
        if tail >= n {
            s.violation(format!("RDT[{q}] = {tail} beyond the ring ({n})"));
            return true;
        }
        let free = (tail + n - head) % n;
        if free < needed {
            if wait {
                // Not received after all: the wire offers it again later.
                let tpr = s.get(TPR);
                s.set(TPR, tpr.wrapping_sub(1));
                return false;
            }
            Self::drop_frame(&mut s, q);
            return true;
        }
        let pcsd = s.get(RXCSUM) & (1 << 13) != 0;
        let mut h = head;
        let chunks = data.chunks(bsize).count();
        for (i, chunk) in data.chunks(bsize).enumerate() {
            let at = base + h as u64 * 16;
            let mut d = [0u8; 16];
            if !self.dma.read(at, &mut d) {
                s.dma_fault(format!("RX descriptor read at {at:#x}"));
                return true;
            }
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap());
            if !self.dma.write(addr, chunk) {
                s.dma_fault(format!("RX buffer write at {addr:#x}+{}", chunk.len()));
            }
            let last = i + 1 == chunks;
            let mut len = chunk.len() as u16;
            if let Some((bad, count)) = s.faults.bad_rx_len {
                len = bad;
                s.injected += 1;
                s.faults.bad_rx_len = (count > 1).then_some((bad, count - 1));
            }
            let mut wb = [0u8; 16];
            wb[0..2].copy_from_slice(&rss_type.to_le_bytes());
            if pcsd {
                wb[4..8].copy_from_slice(&hash.to_le_bytes());
            }
            let status: u32 = if last { 0x3 } else { 0x1 };
            wb[12..14].copy_from_slice(&len.to_le_bytes());
            // As the hardware does: data, then the descriptor, with the
            // status dword (DD) last, in one store.
            let ok = self.dma.write(at, &wb[0..8]) && self.dma.write(at + 12, &wb[12..16]);
            if !ok || !self.dma.store_status(at + 8, status) {
                s.dma_fault(format!("RX write-back at {at:#x}"));
            }
            h = (h + 1) % n;
        }
        s.set(rdh(q), h);
        s.bump(GPRC);
        s.gorc += frame.len() as u64 + 4;
        let c = s.counter_set(RQSMR, q);
        s.bump(qprc(c));
        true
    }
}
