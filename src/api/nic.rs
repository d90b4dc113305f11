//! NIC ports: rings in a region whose slots a driver turns into device
//! descriptors.

use std::sync::Arc;

use super::abi::Direction;
use super::error::ApiError;
use super::kring::{KRing, RingId};
use crate::mem::{MemError, Region, RingMem};

/// What a NIC driver provides to a port. The port does netmap's bookkeeping
/// (`KRing`), the driver moves slots to and from its descriptors.
pub trait NicBackend: Send {
    /// Transmits `[hwcur, head)` of TX ring `ring` and reclaims completed
    /// slots (must call `kring.prologue` and `kring.finalize`).
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError>;
    /// Publishes received slots of RX ring `ring` and refills released ones.
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError>;
    /// Whether the link is up (a NIC's "peer").
    fn link_up(&self) -> bool;
    /// Identity, link and hardware counters (accumulated to 64 bits).
    fn info(&mut self) -> NicInfo;
    /// Turns promiscuous reception on or off.
    fn set_promiscuous(&mut self, on: bool);
    /// Changes the unicast address the NIC accepts (and reports).
    fn set_mac(&mut self, mac: [u8; 6]);
    /// Stops the device's DMA before the memory goes away.
    fn shutdown(&mut self, region: &Region);
    /// Prepares to sleep until ring `ring` (hardware index) in `dir` may
    /// have progressed: turns the device's interrupt on and says what to
    /// wait on. `kring` is the ring's state as of its last sync.
    fn arm_wait(&self, _dir: Direction, _ring: usize, _kring: &KRing) -> NicWait {
        NicWait::Unavailable
    }
    /// Undoes `arm_wait` after waking: acknowledges and masks the interrupt.
    fn disarm_wait(&self) {}
}

/// What to sleep on for a NIC ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicWait {
    /// Progress is already visible: do not sleep.
    Ready,
    /// An eventfd the device's interrupt signals.
    Fd(std::os::fd::RawFd),
    /// No interrupt: the caller naps briefly and checks again.
    Unavailable,
}

/// What a NIC port reports about its device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NicInfo {
    pub model: String,
    pub mac: [u8; 6],
    pub link_up: bool,
    /// Mb/s, when the link is up.
    pub speed: Option<u32>,
    /// Hardware counters by their datasheet names (GPRC, GPTC, ...).
    pub counters: Vec<(&'static str, u64)>,
}

impl NicInfo {
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Rings of a NIC port, allocated in a region: one TX and one RX ring per
/// queue, every slot with its own buffer.
#[derive(Debug)]
pub struct NicRings {
    pub if_offset: usize,
    pub tx: Vec<(usize, KRing)>,
    pub rx: Vec<(usize, KRing)>,
    pub num_slots: u32,
}

impl NicRings {
    pub fn allocate(
        region: &Region,
        name: &str,
        queues: usize,
        num_slots: u32,
    ) -> Result<NicRings, MemError> {
        region.locked(|| -> Result<NicRings, MemError> {
            let if_offset = region.alloc_if()?;
            let mut tx = Vec::new();
            let mut rx = Vec::new();
            for dir in [Direction::Tx, Direction::Rx] {
                for q in 0..queues {
                    let off = region.alloc_ring()?;
                    let id = RingId {
                        dir,
                        index: q as u16,
                    };
                    let kring = KRing::new(id, num_slots);
                    let ring = region.ring(off, num_slots);
                    ring.init(
                        q as u16,
                        dir,
                        region.buf_ofs_from(off),
                        region.buf_size(),
                        kring.hwtail,
                    );
                    let bufs = region.alloc_bufs(num_slots as usize)?;
                    for (k, b) in bufs.into_iter().enumerate() {
                        ring.set_slot(
                            k as u32,
                            super::abi::NetmapSlot {
                                buf_idx: b,
                                len: 0,
                                flags: 0,
                                ptr: 0,
                            },
                        );
                    }
                    if dir == Direction::Tx {
                        tx.push((off, kring))
                    } else {
                        rx.push((off, kring))
                    }
                }
            }
            let offs = |v: &Vec<(usize, KRing)>| v.iter().map(|(o, _)| *o).collect::<Vec<_>>();
            region.write_netmap_if(if_offset, name, &offs(&tx), &offs(&rx));
            Ok(NicRings {
                if_offset,
                tx,
                rx,
                num_slots,
            })
        })?
    }

    /// Returns rings and their buffers to the region.
    pub fn free(&self, region: &Region) {
        let _ = region.locked(|| {
            for (off, _) in self.tx.iter().chain(&self.rx) {
                let ring = region.ring(*off, self.num_slots);
                (0..self.num_slots).for_each(|k| {
                    region.free_buf(ring.slot(k).buf_idx);
                });
                region.free_ring(*off);
            }
            super::pipe::free_extra_list(region, self.if_offset);
            region.free_if(self.if_offset);
        });
    }
}

/// A region shared by the NIC ports of one process (and their drivers).
pub type SharedRegion = Arc<Region>;
