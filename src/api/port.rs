//! Ports: a bound set of rings in a region plus the [`Backend`] that moves
//! their slots. The port runs netmap's checks of the application's indices
//! (`prologue`) and publishes `tail` (`finalize`) around every sync, the
//! same for every kind of backend.
//!
//! Ports are opened by name in the ports layer (`vfio_netmap::ports::open`);
//! this module knows nothing of names, PCI or drivers.

use std::any::Any;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::backend::{Backend, NicInfo, Wait};
use super::error::ApiError;
use super::kring::{KRing, RingId};
use super::nic_rings::NicRings;
use super::pipe::{self, PipeBackend, PipeEnd};
use super::queue_set::{IdleQueue, QueueSet};
use super::ring::Ring;
use crate::abi::Direction;
use crate::mem::{Region, RegionConfig};

/// How to open a pipe end (what a pipe's port name resolves to).
#[derive(Clone, Debug)]
pub struct PipeSpec {
    /// Region name: pipes of one name share one region.
    pub region: String,
    /// The pipe's id within the region (`ID` in `NAME{ID`).
    pub id: String,
    /// Which end to open.
    pub end: PipeEnd,
    /// Slots per ring.
    pub slots: u32,
    /// The region's shape, if this end creates it.
    pub region_config: RegionConfig,
    /// Whether `region_config` was asked for (then a mismatch is an error).
    pub config_requested: bool,
    /// Extra buffers chained from `ni_bufs_head` (netmap's `nr_extra_bufs`).
    pub extra_bufs: u32,
}

impl PipeSpec {
    /// End `end` of pipe `id` in region `region`, with default sizes.
    pub fn new(region: &str, id: &str, end: PipeEnd) -> PipeSpec {
        PipeSpec {
            region: region.to_string(),
            id: id.to_string(),
            end,
            slots: pipe::DEFAULT_SLOTS,
            region_config: RegionConfig::default(),
            config_requested: false,
            extra_bufs: 0,
        }
    }
}

/// Which of a port's rings a handle binds (netmap's `-N`, `/R`, `/T`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingSelection {
    /// One ring pair (`-N`); `None` for all of them.
    pub pair: Option<usize>,
    /// Bind no TX rings (`/R`).
    pub rx_only: bool,
    /// Bind no RX rings (`/T`).
    pub tx_only: bool,
}

/// What a NIC driver hands over to become a port: its rings, the backend
/// serving them, and whatever must outlive the backend (a VFIO device, a
/// DMA mapping, a model's threads), dropped after it.
pub struct NicParts {
    /// The region the rings live in.
    pub region: Arc<Region>,
    /// The rings, freed when the port closes.
    pub rings: NicRings,
    /// The driver.
    pub backend: Box<dyn Backend>,
    /// Dropped after the backend.
    pub keep_alive: Box<dyn Any + Send>,
}

impl NicParts {
    /// Rings and their driver, with nothing else to keep alive.
    pub fn new(region: Arc<Region>, rings: NicRings, backend: Box<dyn Backend>) -> NicParts {
        NicParts {
            region,
            rings,
            backend,
            keep_alive: Box::new(()),
        }
    }
}

/// Who gives a port's rings back when it closes.
enum RingOwner {
    /// The backend, in [`Backend::close`] (pipes).
    Backend,
    /// The port: all the NIC's rings, freed after the backend closed.
    Port(NicRings),
    /// A [`QueueSet`]: the port holds queue pair `queue` and gives it back.
    /// `tx`/`rx`: the rings' state when the port took them, given back
    /// as is for a direction the port did not bind (`/R`, `/T`).
    Queue {
        set: Arc<QueueSet>,
        queue: usize,
        tx: KRing,
        rx: KRing,
    },
}

/// A port's `netmap_if` offset, TX rings and RX rings.
type BoundRings = (usize, Vec<(usize, KRing)>, Vec<(usize, KRing)>);

/// An open port: netmap's file descriptor plus `netmap_if`.
pub struct Port {
    name: String,
    region: Arc<Region>,
    if_offset: usize,
    tx: Vec<(usize, KRing)>,
    rx: Vec<(usize, KRing)>,
    /// `None` only while a queue port gives its backend back in `drop`.
    backend: Option<Box<dyn Backend>>,
    owner: RingOwner,
    /// Whether the peer was ever seen alive: a peer that has not arrived
    /// yet is not "gone".
    peer_seen: Cell<bool>,
    /// Declared after `backend`, so it drops after it.
    _keep_alive: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("name", &self.name)
            .field("region", &self.region)
            .finish()
    }
}

impl Port {
    fn new(
        name: &str,
        region: Arc<Region>,
        (if_offset, tx, rx): BoundRings,
        backend: Box<dyn Backend>,
        owner: RingOwner,
        keep_alive: Option<Box<dyn Any + Send>>,
    ) -> Port {
        Port {
            name: name.to_string(),
            region,
            if_offset,
            tx,
            rx,
            backend: Some(backend),
            owner,
            peer_seen: Cell::new(false),
            _keep_alive: keep_alive,
        }
    }

    /// Wraps a NIC's rings and the driver that serves them into a port.
    pub fn from_nic(name: &str, parts: NicParts) -> Port {
        let NicParts {
            region,
            rings,
            backend,
            keep_alive,
        } = parts;
        let (if_offset, tx, rx) = (rings.if_offset, rings.tx.clone(), rings.rx.clone());
        let owner = RingOwner::Port(rings);
        Port::new(
            name,
            region,
            (if_offset, tx, rx),
            backend,
            owner,
            Some(keep_alive),
        )
    }

    /// Binds queue pair `queue` of a multi-queue NIC (`-N` on a NIC): the
    /// port has that ring pair only, and its own backend, so each thread
    /// can own one queue without locks. The `netmap_if` lists every ring of
    /// the NIC, as netmap's does.
    pub fn from_queue(name: &str, set: &Arc<QueueSet>, queue: usize) -> Result<Port, ApiError> {
        let idle = set.take(name, queue)?;
        let owner = RingOwner::Queue {
            set: set.clone(),
            queue,
            tx: idle.tx,
            rx: idle.rx,
        };
        Ok(Port::new(
            name,
            set.region.clone(),
            (
                set.rings.if_offset,
                vec![(set.rings.tx[queue].0, idle.tx)],
                vec![(set.rings.rx[queue].0, idle.rx)],
            ),
            idle.driver,
            owner,
            None,
        ))
    }

    /// Opens one end of a pipe.
    pub fn open_pipe(name: &str, spec: &PipeSpec) -> Result<Port, ApiError> {
        let (region, opened) = Region::open_shared(
            &pipe::region_file(&spec.region),
            spec.region_config,
            spec.config_requested,
            |region| pipe::open_end(region, name, &spec.id, spec.end, spec.slots),
        )?;
        let opened = opened?;
        let port = Port::new(
            name,
            Arc::new(region),
            (
                opened.if_offset,
                vec![(opened.tx_offset, opened.tx)],
                vec![(opened.rx_offset, opened.rx)],
            ),
            Box::new(PipeBackend { opened }),
            RingOwner::Backend,
            None,
        );
        port.peer_alive();
        if spec.extra_bufs > 0 {
            port.alloc_extra_bufs(spec.extra_bufs)?;
        }
        Ok(port)
    }

    /// Narrows the port to the rings `selection` names. A queue port (one
    /// ring pair of a multi-queue NIC) has only its pair, so `-N` there
    /// selects nothing more.
    pub fn bind(&mut self, selection: RingSelection) -> Result<(), ApiError> {
        let count = self.tx.len().max(self.rx.len());
        match selection.pair {
            Some(_) if matches!(self.owner, RingOwner::Queue { .. }) => {}
            None => {}
            Some(n) if n < count => {
                let keep = |v: &mut Vec<(usize, KRing)>| {
                    if n < v.len() {
                        *v = vec![v[n]];
                    }
                };
                keep(&mut self.tx);
                keep(&mut self.rx);
            }
            Some(n) => {
                return Err(ApiError::NoSuchRing {
                    port: self.name.clone(),
                    what: "ring pair",
                    index: n as u32,
                    count: count as u32,
                });
            }
        }
        if selection.rx_only {
            self.tx.clear();
        }
        if selection.tx_only {
            self.rx.clear();
        }
        Ok(())
    }

    /// Chains `n` extra buffers from `ni_bufs_head`, as netmap's
    /// `nr_extra_bufs` does: each buffer's first u32 names the next, 0 ends.
    fn alloc_extra_bufs(&self, n: u32) -> Result<(), ApiError> {
        let bufs = self
            .region
            .locked(|| self.region.alloc_bufs(n as usize))??;
        let head = self.region.if_bufs_head(self.if_offset)?;
        let mut next = head.load(Ordering::Relaxed);
        for &b in bufs.iter().rev() {
            if let Some(link) = self.region.buf_link(b) {
                link.store(next, Ordering::Relaxed);
            }
            next = b;
        }
        head.store(next, Ordering::Release);
        Ok(())
    }

    /// The name the port was opened with.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The region holding the port's rings and buffers.
    pub fn region(&self) -> &Region {
        &self.region
    }
    /// Offset of this port's `netmap_if` from the start of its region (what
    /// netmap's `NIOCREGIF` returns as `nr_offset`).
    pub fn netmap_if_offset(&self) -> usize {
        self.if_offset
    }
    /// Bound TX rings.
    pub fn num_tx_rings(&self) -> usize {
        self.tx.len()
    }
    /// Bound RX rings.
    pub fn num_rx_rings(&self) -> usize {
        self.rx.len()
    }

    /// Whether two ports live in the same memory, so buffer indices mean the
    /// same buffers in both (zero-copy swaps between them are possible).
    #[inline]
    pub fn shares_region_with(&self, other: &Port) -> bool {
        Arc::ptr_eq(&self.region, &other.region)
            || (self.region.name() == other.region.name()
                && self.region.backing().path().is_some()
                && self.region.backing() == other.region.backing())
    }

    /// Transmit ring `i` (raw netmap view), of the bound ones; a port
    /// without it (fewer rings, or bound `/R`) says
    /// [`ApiError::NoSuchRing`].
    pub fn tx_ring(&self, i: usize) -> Result<Ring<'_>, ApiError> {
        self.ring(Direction::Tx, i)
    }

    /// Receive ring `i` (raw netmap view), of the bound ones; a port
    /// without it (fewer rings, or bound `/T`) says
    /// [`ApiError::NoSuchRing`].
    pub fn rx_ring(&self, i: usize) -> Result<Ring<'_>, ApiError> {
        self.ring(Direction::Rx, i)
    }

    fn ring(&self, dir: Direction, i: usize) -> Result<Ring<'_>, ApiError> {
        let rings = if dir == Direction::Tx {
            &self.tx
        } else {
            &self.rx
        };
        let (off, k) = rings.get(i).ok_or_else(|| self.no_ring(dir, i))?;
        // Offsets and sizes of a port's own rings were computed by this
        // process (NICs) or checked when the port opened (pipes).
        Ok(Ring::new(
            &self.region,
            self.region.ring(*off, k.num_slots)?,
            k.id,
        ))
    }

    /// netmap's NIOCTXSYNC on every bound TX ring.
    pub fn txsync(&mut self) -> Result<(), ApiError> {
        for i in 0..self.tx.len() {
            self.txsync_ring(i)?;
        }
        Ok(())
    }

    /// netmap's NIOCRXSYNC on every bound RX ring.
    pub fn rxsync(&mut self) -> Result<(), ApiError> {
        for i in 0..self.rx.len() {
            self.rxsync_ring(i)?;
        }
        Ok(())
    }

    /// txsync of bound TX ring `i` only.
    pub fn txsync_ring(&mut self, i: usize) -> Result<(), ApiError> {
        self.sync::<true>(i)
    }

    /// rxsync of bound RX ring `i` only.
    pub fn rxsync_ring(&mut self, i: usize) -> Result<(), ApiError> {
        self.sync::<false>(i)
    }

    /// netmap's sync of one ring: check the application's indices, let the
    /// backend move slots, publish `tail`. A bad slot still publishes what
    /// moved before it. `TX` picks the direction at compile time: this is
    /// every packet's path.
    #[inline]
    fn sync<const TX: bool>(&mut self, i: usize) -> Result<(), ApiError> {
        let rings = if TX { &mut self.tx } else { &mut self.rx };
        let (Some((off, kring)), Some(backend)) = (rings.get_mut(i), self.backend.as_mut()) else {
            let dir = if TX { Direction::Tx } else { Direction::Rx };
            return Err(self.no_ring(dir, i));
        };
        // A region file truncated under us reads as zeros from now on:
        // say so rather than sync garbage.
        self.region.intact()?;
        let mem = self.region.ring(*off, kring.num_slots)?;
        let head = kring.prologue(&mem)?;
        let before = kring.hwtail;
        let result = if TX {
            backend.txsync(&self.region, &mem, kring, head)
        } else {
            backend.rxsync(&self.region, &mem, kring, head)
        };
        kring.finalize(&mem);
        // `hwtail` moves only when the other side acts: it was there, even
        // if it left before anyone looked, so its absence is now a hang-up
        // (POLLHUP), not a late start.
        if kring.hwtail != before {
            self.peer_seen.set(true);
        }
        result
    }

    fn no_ring(&self, dir: Direction, i: usize) -> ApiError {
        let (what, count) = if dir == Direction::Tx {
            ("tx ring", self.tx.len())
        } else {
            ("rx ring", self.rx.len())
        };
        ApiError::NoSuchRing {
            port: self.name.clone(),
            what,
            index: i as u32,
            count: count as u32,
        }
    }

    /// Makes slot `slot` of the bound ring `ring` (as an error names it:
    /// [`ApiError::BadBufIdx`], [`ApiError::BadLen`]) valid again after
    /// another process wrote into it: a bad buffer index is replaced by a
    /// fresh buffer from the pool (the buffer the slot named before cannot
    /// be found and stays lost to the pool), a length past the buffer
    /// becomes 0, and the slot is marked `NS_BUF_CHANGED`. Returns whether
    /// the slot needed repair. This is the way out of a sync that keeps
    /// failing on the same slot.
    pub fn repair_slot(&mut self, ring: RingId, slot: u32) -> Result<bool, ApiError> {
        let rings = if ring.dir == Direction::Tx {
            &self.tx
        } else {
            &self.rx
        };
        let Some(&(off, kring)) = rings.iter().find(|(_, k)| k.id == ring) else {
            return Err(self.no_ring(ring.dir, ring.index.into()));
        };
        let mem = self.region.ring(off, kring.num_slots)?;
        if slot >= kring.num_slots {
            return Err(ApiError::NoSuchSlot {
                ring,
                slot,
                num_slots: kring.num_slots,
            });
        }
        let s = mem.slot(slot);
        let bounds = self.region.buf_bounds();
        if bounds.slot_ok(s.buf_idx, s.len) {
            return Ok(false);
        }
        let buf_idx = if bounds.buf_ok(s.buf_idx) {
            s.buf_idx
        } else {
            self.region.locked(|| self.region.alloc_bufs(1))??[0]
        };
        let len = if s.len as u32 <= self.region.buf_size() {
            s.len
        } else {
            0
        };
        mem.set_slot(
            slot,
            crate::abi::NetmapSlot {
                buf_idx,
                len,
                flags: crate::abi::slot_flags::NS_BUF_CHANGED,
                ptr: 0,
            },
        );
        Ok(true)
    }

    /// Repairs the slot `err` names (see [`Port::repair_slot`]); `Ok(false)`
    /// for an error that names no slot.
    pub fn repair(&mut self, err: &ApiError) -> Result<bool, ApiError> {
        match *err {
            ApiError::BadBufIdx { ring, slot, .. } | ApiError::BadLen { ring, slot, .. } => {
                self.repair_slot(ring, slot)
            }
            _ => Ok(false),
        }
    }

    /// The device behind a NIC port: identity, link, counters (`None` for
    /// pipes).
    pub fn nic_info(&mut self) -> Option<NicInfo> {
        Some(self.backend.as_mut()?.nic()?.info())
    }

    /// Sets the MAC a NIC port receives unicast frames for; an error on
    /// pipes.
    pub fn set_mac(&mut self, mac: [u8; 6]) -> Result<(), ApiError> {
        match self.backend.as_mut().and_then(|b| b.nic()) {
            Some(nic) => {
                nic.set_mac(mac);
                Ok(())
            }
            None => Err(ApiError::Unsupported {
                port: self.name.clone(),
                what: "a MAC address".into(),
                hint: " on a port without a NIC".into(),
            }),
        }
    }

    /// Promiscuous reception on a NIC port; an error on pipes.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<(), ApiError> {
        match self.backend.as_mut().and_then(|b| b.nic()) {
            Some(nic) => {
                nic.set_promiscuous(on);
                Ok(())
            }
            None => Err(ApiError::Unsupported {
                port: self.name.clone(),
                what: "promiscuous mode".into(),
                hint: " on a port without a NIC (pipes deliver every frame)".into(),
            }),
        }
    }

    /// Whether the other side of the port is there: the peer of a pipe
    /// (released by the kernel when it dies, even after SIGKILL), a NIC's
    /// link.
    pub fn peer_alive(&self) -> bool {
        let alive = self
            .backend
            .as_ref()
            .is_some_and(|b| b.peer_alive(&self.region));
        if alive {
            self.peer_seen.set(true);
        }
        alive
    }

    /// Whether the peer was there once and is gone now (what `poll`
    /// reports as [`POLLHUP`](super::poll::POLLHUP)). A peer that never
    /// arrived is not gone: wait for it with a timeout.
    pub fn peer_gone(&self) -> bool {
        !self.peer_alive() && self.peer_seen.get()
    }

    /// What to sleep on for progress in `dir` on bound ring `i`; arms the
    /// wake-up (a pipe's waiter flag, a NIC's interrupt).
    pub(crate) fn arm_wait(&self, dir: Direction, i: usize) -> Wait<'_> {
        let rings = if dir == Direction::Tx {
            &self.tx
        } else {
            &self.rx
        };
        match (rings.get(i), &self.backend) {
            (Some((_, kring)), Some(backend)) => backend.arm_wait(&self.region, kring),
            _ => Wait::Ready,
        }
    }

    /// Undoes [`arm_wait`](Port::arm_wait) after waking.
    pub(crate) fn disarm_wait(&self, dir: Direction) {
        if let Some(backend) = &self.backend {
            backend.disarm_wait(&self.region, dir);
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let Some(mut backend) = self.backend.take() else {
            return;
        };
        match &self.owner {
            RingOwner::Backend => backend.close(&self.region),
            RingOwner::Port(rings) => {
                backend.close(&self.region);
                drop(backend);
                rings.free(&self.region);
            }
            RingOwner::Queue { set, queue, tx, rx } => {
                let now = |v: &Vec<(usize, KRing)>, at_open: &KRing| {
                    v.first().map_or(*at_open, |(_, k)| *k)
                };
                set.give_back(
                    *queue,
                    IdleQueue {
                        driver: backend,
                        tx: now(&self.tx, tx),
                        rx: now(&self.rx, rx),
                    },
                );
            }
        }
    }
}
