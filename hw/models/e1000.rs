//! A small register-level model of an e1000 (82540EM) for host tests of the
//! driver: reset, link, MAC registers, legacy TX/RX descriptor processing
//! through a checked DMA window, clear-on-read counters, and a wire joining
//! two models. Synchronous: a TDT write transmits at once.
//!
//! It is deliberately strict where QEMU is lenient: a DMA access outside the
//! window is recorded as a fault (and the access dropped), so tests can
//! assert the driver never points the device outside the buffer pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use vfio_netmap::driver::regs::RegisterAccess;

/// Device memory access, as the IOMMU would allow it.
pub trait Dma: Send + Sync {
    /// Copies `buf.len()` bytes from `iova`; false if not mapped.
    fn read(&self, iova: u64, buf: &mut [u8]) -> bool;
    /// Copies `data` to `iova`; false if not mapped.
    fn write(&self, iova: u64, data: &[u8]) -> bool;
}

const CTRL: usize = 0x0;
const STATUS: usize = 0x8;
const ICR: usize = 0xc0;
const RCTL: usize = 0x100;
const TCTL: usize = 0x400;
const RDBAL: usize = 0x2800;
const RDBAH: usize = 0x2804;
const RDLEN: usize = 0x2808;
const RDH: usize = 0x2810;
const RDT: usize = 0x2818;
const TDBAL: usize = 0x3800;
const TDBAH: usize = 0x3804;
const TDLEN: usize = 0x3808;
const TDH: usize = 0x3810;
const TDT: usize = 0x3818;
const RAL0: usize = 0x5400;
const RAH0: usize = 0x5404;
const MPC: usize = 0x4010;
const GPRC: usize = 0x4074;
const GPTC: usize = 0x4080;

#[derive(Default)]
struct State {
    regs: HashMap<usize, u32>,
    faults: Vec<String>,
    removed: bool,
    /// Bytes of a frame whose EOP descriptor has not come yet: kept across
    /// tail writes, as QEMU's e1000 keeps its `tx.packet`.
    tx_partial: Vec<u8>,
}

impl State {
    fn get(&self, off: usize) -> u32 {
        *self.regs.get(&off).unwrap_or(&0)
    }
    fn set(&mut self, off: usize, v: u32) {
        self.regs.insert(off, v);
    }
    fn bump(&mut self, off: usize) {
        let v = self.get(off).wrapping_add(1);
        self.set(off, v);
    }
    fn reset(&mut self, mac: [u8; 6]) {
        self.regs.clear();
        self.tx_partial.clear();
        self.set(CTRL, 0x4014_0240);
        self.set(STATUS, 0x8008_0780); // link down until SLU
        self.set(RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.set(RAH0, u32::from_le_bytes([mac[4], mac[5], 0, 0]) | 1 << 31);
    }
}

/// One modelled NIC.
pub struct E1000Model {
    state: Mutex<State>,
    mac: [u8; 6],
    dma: Arc<dyn Dma>,
    peer: Mutex<Weak<E1000Model>>,
}

/// A handle the driver owns: register access to one model.
#[derive(Clone)]
pub struct ModelRegs(pub Arc<E1000Model>);

impl E1000Model {
    pub fn new(mac: [u8; 6], dma: Arc<dyn Dma>) -> Arc<E1000Model> {
        let mut state = State::default();
        state.reset(mac);
        Arc::new(E1000Model {
            state: Mutex::new(state),
            mac,
            dma,
            peer: Mutex::new(Weak::new()),
        })
    }

    /// Joins two models with a wire: what one sends, the other receives.
    pub fn connect(a: &Arc<E1000Model>, b: &Arc<E1000Model>) {
        *a.peer.lock().unwrap() = Arc::downgrade(b);
        *b.peer.lock().unwrap() = Arc::downgrade(a);
    }

    /// DMA accesses outside the window seen so far.
    pub fn faults(&self) -> Vec<String> {
        self.state.lock().unwrap().faults.clone()
    }

    /// From now on every register reads all-ones, as after surprise removal.
    pub fn remove(&self) {
        self.state.lock().unwrap().removed = true;
    }

    fn read(&self, off: usize) -> u32 {
        let mut s = self.state.lock().unwrap();
        if s.removed {
            return u32::MAX;
        }
        let v = s.get(off);
        if (0x4000..0x4100).contains(&off) || off == ICR {
            s.set(off, 0); // clear on read
        }
        v
    }

    fn write(&self, off: usize, v: u32) {
        let frames = {
            let mut s = self.state.lock().unwrap();
            if s.removed {
                return;
            }
            match off {
                CTRL if v & (1 << 26) != 0 => {
                    s.reset(self.mac);
                    return;
                }
                CTRL => {
                    s.set(CTRL, v);
                    let status = s.get(STATUS);
                    let lu = if v & (1 << 6) != 0 { 0x2 } else { 0 };
                    s.set(STATUS, (status & !0x2) | lu);
                    return;
                }
                TDT => {
                    s.set(TDT, v);
                    self.transmit(&mut s)
                }
                _ => {
                    s.set(off, v);
                    return;
                }
            }
        };
        let peer = self.peer.lock().unwrap().upgrade();
        if let Some(peer) = peer {
            for f in frames {
                peer.receive(&f);
            }
        }
    }

    fn ring_base(s: &State, lo: usize, hi: usize) -> u64 {
        s.get(lo) as u64 | (s.get(hi) as u64) << 32
    }

    /// Processes TX descriptors from TDH to TDT; returns complete frames.
    fn transmit(&self, s: &mut State) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        if s.get(TCTL) & 0x2 == 0 {
            return frames;
        }
        let base = Self::ring_base(s, TDBAL, TDBAH);
        let n = s.get(TDLEN) / 16;
        if n == 0 {
            return frames;
        }
        let (mut head, tail) = (s.get(TDH), s.get(TDT) % n);
        let mut frame = std::mem::take(&mut s.tx_partial);
        while head != tail {
            let at = base + head as u64 * 16;
            let mut d = [0u8; 16];
            if !self.dma.read(at, &mut d) {
                s.faults.push(format!("TX descriptor read at {at:#x}"));
                break;
            }
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap());
            let len = u16::from_le_bytes([d[8], d[9]]) as usize;
            let cmd = d[11];
            let mut data = vec![0; len];
            if !self.dma.read(addr, &mut data) {
                s.faults.push(format!("TX buffer read at {addr:#x}+{len}"));
            }
            frame.extend_from_slice(&data);
            if cmd & 0x1 != 0 {
                frames.push(std::mem::take(&mut frame));
                s.bump(GPTC);
            }
            if cmd & 0x8 != 0 && !self.dma.write(at + 12, &[1]) {
                s.faults.push(format!("TX write-back at {at:#x}"));
            }
            head = (head + 1) % n;
        }
        s.set(TDH, head);
        s.tx_partial = frame;
        frames
    }

    /// Stores a frame into the next RX descriptors, or drops it (MPC) when
    /// the driver left none.
    fn receive(&self, frame: &[u8]) {
        let mut s = self.state.lock().unwrap();
        if s.removed || s.get(RCTL) & 0x2 == 0 {
            return;
        }
        let base = Self::ring_base(&s, RDBAL, RDBAH);
        let n = s.get(RDLEN) / 16;
        if n == 0 {
            return;
        }
        let needed = frame.len().div_ceil(2048).max(1) as u32;
        let (head, tail) = (s.get(RDH), s.get(RDT) % n);
        let free = (tail + n - head) % n;
        if free < needed {
            s.bump(MPC);
            return;
        }
        let mut h = head;
        for (i, chunk) in frame.chunks(2048).enumerate() {
            let at = base + h as u64 * 16;
            let mut d = [0u8; 16];
            if !self.dma.read(at, &mut d) {
                s.faults.push(format!("RX descriptor read at {at:#x}"));
                return;
            }
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap());
            if !self.dma.write(addr, chunk) {
                s.faults
                    .push(format!("RX buffer write at {addr:#x}+{}", chunk.len()));
            }
            let last = i as u32 + 1 == needed;
            let mut wb = [0u8; 8];
            wb[0..2].copy_from_slice(&(chunk.len() as u16).to_le_bytes());
            wb[4] = if last { 0x3 } else { 0x1 };
            if !self.dma.write(at + 8, &wb) {
                s.faults.push(format!("RX write-back at {at:#x}"));
            }
            h = (h + 1) % n;
        }
        s.set(RDH, h);
        s.bump(GPRC);
    }
}

impl RegisterAccess for ModelRegs {
    fn read32(&self, offset: usize) -> u32 {
        self.0.read(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.0.write(offset, value)
    }
}
