//! Ports: a bound set of rings in a region plus the backend that moves their
//! slots (a pipe now; NICs and models plug in the same way).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::abi::Direction;
use super::error::ApiError;
use super::kring::KRing;
use super::name::{PipeRole, PortKind, PortName, RegMode};
use super::nic::{NicBackend, NicInfo, NicRings, NicWait};
use super::pipe::{self, OpenedPipe, PipeEnd};
use super::queue_set::{IdleQueue, QueueSet};
use super::ring::Ring;
use crate::mem::{Region, RegionConfig, RingMem};

/// How to open a pipe end (what a port name resolves to).
#[derive(Clone, Debug)]
pub struct PipeSpec {
    /// Region name: pipes of one name share one region.
    pub region: String,
    pub id: String,
    pub end: PipeEnd,
    pub slots: u32,
    pub region_config: RegionConfig,
    /// Whether `region_config` was asked for (then a mismatch is an error).
    pub config_requested: bool,
    pub extra_bufs: u32,
}

impl PipeSpec {
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

enum Backend {
    Pipe(OpenedPipe),
    Nic {
        driver: Box<dyn NicBackend>,
        owner: NicOwner,
    },
}

/// Who owns a NIC port's rings.
enum NicOwner {
    /// The port: all the NIC's rings, stopped and freed when it closes.
    Whole(NicRings),
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

/// Stands in for a backend given back to its queue set, while the port
/// that held it finishes dropping.
struct Released;

impl NicBackend for Released {
    fn txsync(
        &mut self,
        _: &Region,
        _: usize,
        _: &RingMem<'_>,
        _: &mut KRing,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    fn rxsync(
        &mut self,
        _: &Region,
        _: usize,
        _: &RingMem<'_>,
        _: &mut KRing,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    fn link_up(&self) -> bool {
        false
    }
    fn info(&mut self) -> NicInfo {
        NicInfo::default()
    }
    fn set_promiscuous(&mut self, _: bool) {}
    fn set_mac(&mut self, _: [u8; 6]) {}
    fn shutdown(&mut self, _: &Region) {}
}

/// An open port: netmap's file descriptor plus `netmap_if`.
pub struct Port {
    name: String,
    region: Arc<Region>,
    if_offset: usize,
    tx: Vec<(usize, KRing)>,
    rx: Vec<(usize, KRing)>,
    backend: Backend,
    /// Whether the peer was ever seen alive: a peer that has not arrived
    /// yet is not "gone".
    peer_seen: std::cell::Cell<bool>,
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
    /// Opens a port by name, in netmap's grammar (a bare name gets
    /// `netmap:` in front, as in netmap's pkt-gen):
    /// - `netmap:NAME{ID` / `netmap:NAME}ID`: master / slave end of a pipe;
    ///   pipes of one NAME share one region (or the region `@N` names);
    /// - `@conf:slots=N,bufs=N,buf-size=N,extra-bufs=N`: ring size (up to
    ///   16384; an e1000-family NIC takes multiples of 8), and the region's
    ///   shape when the port creates it;
    /// - `/R`, `/T`: bind only the RX or only the TX rings; `-N`: ring pair N.
    pub fn open(name: &str) -> Result<Port, ApiError> {
        let parsed = super::name::parse_lenient(name)?;
        let unsupported = |what: &str, hint: &str| ApiError::Unsupported {
            port: name.to_string(),
            what: what.to_string(),
            hint: hint.to_string(),
        };
        match &parsed.kind {
            PortKind::Pipe {
                prefix,
                name: pipe_name,
                id,
                role,
            } if prefix == "netmap" => {
                let spec = pipe_spec(name, &parsed, pipe_name, id, *role)?;
                let mut port = Port::open_pipe(name, &spec)?;
                port.bind_rings(&parsed)?;
                Ok(port)
            }
            PortKind::Pipe { .. } | PortKind::Vale { .. } => Err(unsupported(
                "the VALE switch",
                ": use netmap pipes (`netmap:NAME{ID`) between processes",
            )),
            PortKind::Netmap { .. } => Err(unsupported(
                "a kernel interface",
                " without the netmap module: open a NIC bound to vfio-pci as `vfio:DDDD:BB:DD.F` \
                 (see `vfio-netmap status`), or a pipe `netmap:NAME{ID`",
            )),
            PortKind::Vfio { addr } => Port::open_nic(name, &parsed, |opts, queue| {
                crate::driver::nic_port::open(name, *addr, opts, queue)
            }),
            PortKind::Model { name: model } => Port::open_nic(name, &parsed, |opts, queue| {
                crate::driver::model_port::open(name, model, opts, queue)
            }),
        }
    }

    /// A NIC port (VFIO or model): `-N` on a NIC set up with several queue
    /// pairs binds one (its own backend); on a one-queue NIC it narrows as
    /// usual.
    fn open_nic(
        name: &str,
        parsed: &PortName,
        open: impl FnOnce(&crate::driver::nic_port::NicOptions, Option<usize>) -> Result<Port, ApiError>,
    ) -> Result<Port, ApiError> {
        let opts = nic_options(name, parsed)?;
        let queue = match parsed.mode {
            RegMode::OneNic(n) if opts.rings > 1 || n > 0 => Some(n as usize),
            _ => None,
        };
        let mut port = open(&opts, queue)?;
        if port.is_queue_port() {
            let mut all = parsed.clone();
            all.mode = RegMode::AllNic;
            port.bind_rings(&all)?;
        } else {
            port.bind_rings(parsed)?;
        }
        Ok(port)
    }

    /// Applies the ring selection of a parsed name (`-N`, `/R`, `/T`).
    fn bind_rings(&mut self, parsed: &PortName) -> Result<(), ApiError> {
        let count = self.tx.len().max(self.rx.len()) as u32;
        match parsed.mode {
            RegMode::AllNic => {}
            RegMode::OneNic(n) if (n as u32) < count => {
                let keep = |v: &mut Vec<(usize, KRing)>| {
                    if (n as usize) < v.len() {
                        *v = vec![v[n as usize]];
                    }
                };
                keep(&mut self.tx);
                keep(&mut self.rx);
            }
            RegMode::OneNic(n) => {
                return Err(ApiError::NoSuchRing {
                    port: self.name.clone(),
                    what: "ring pair",
                    index: n as u32,
                    count,
                });
            }
            _ => {
                return Err(ApiError::Unsupported {
                    port: self.name.clone(),
                    what: "host rings (`^`, `*`)".into(),
                    hint: ": there is no host stack behind a userspace port".into(),
                });
            }
        }
        if parsed.flags.rx_rings_only {
            self.tx.clear();
        }
        if parsed.flags.tx_rings_only {
            self.rx.clear();
        }
        if parsed.flags.monitor_rx || parsed.flags.monitor_tx || parsed.flags.zcopy_monitor {
            return Err(ApiError::Unsupported {
                port: self.name.clone(),
                what: "monitor ports".into(),
                hint: " yet".into(),
            });
        }
        Ok(())
    }

    /// Wraps rings allocated with [`NicRings::allocate`] and the driver that
    /// serves them into a port.
    pub fn from_nic(
        name: &str,
        region: Arc<Region>,
        rings: NicRings,
        driver: Box<dyn NicBackend>,
    ) -> Port {
        Port {
            name: name.to_string(),
            if_offset: rings.if_offset,
            tx: rings.tx.clone(),
            rx: rings.rx.clone(),
            region,
            backend: Backend::Nic {
                driver,
                owner: NicOwner::Whole(rings),
            },
            peer_seen: std::cell::Cell::new(false),
        }
    }

    /// Binds queue pair `queue` of a multi-queue NIC (`-N` on a NIC): the
    /// port has that ring pair only, and its own backend, so each thread
    /// can own one queue without locks. The `netmap_if` lists every ring of
    /// the NIC, as netmap's does.
    pub fn from_queue(name: &str, set: &Arc<QueueSet>, queue: usize) -> Result<Port, ApiError> {
        let idle = set.take(name, queue)?;
        Ok(Port {
            name: name.to_string(),
            if_offset: set.rings.if_offset,
            tx: vec![(set.rings.tx[queue].0, idle.tx)],
            rx: vec![(set.rings.rx[queue].0, idle.rx)],
            region: set.region.clone(),
            backend: Backend::Nic {
                driver: idle.driver,
                owner: NicOwner::Queue {
                    set: set.clone(),
                    queue,
                    tx: idle.tx,
                    rx: idle.rx,
                },
            },
            peer_seen: std::cell::Cell::new(false),
        })
    }

    /// Opens one end of a pipe.
    pub fn open_pipe(name: &str, spec: &PipeSpec) -> Result<Port, ApiError> {
        let (region, opened) = Region::open_shared(
            &pipe_region_file(&spec.region),
            spec.region_config,
            spec.config_requested,
            |region| pipe::open_end(region, name, &spec.id, spec.end, spec.slots),
        )?;
        let opened = opened?;
        let region = Arc::new(region);
        let port = Port {
            name: name.to_string(),
            if_offset: opened.if_offset,
            tx: vec![(opened.tx_offset, opened.tx)],
            rx: vec![(opened.rx_offset, opened.rx)],
            region,
            backend: Backend::Pipe(opened),
            peer_seen: std::cell::Cell::new(false),
        };
        port.peer_alive();
        if spec.extra_bufs > 0 {
            port.alloc_extra_bufs(spec.extra_bufs)?;
        }
        Ok(port)
    }

    /// Chains `n` extra buffers from `ni_bufs_head`, as netmap's
    /// `nr_extra_bufs` does: each buffer's first u32 names the next, 0 ends.
    fn alloc_extra_bufs(&self, n: u32) -> Result<(), ApiError> {
        let bufs = self
            .region
            .locked(|| self.region.alloc_bufs(n as usize))??;
        let head = self.region.if_bufs_head(self.if_offset);
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

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this port binds one queue pair of a shared multi-queue NIC.
    fn is_queue_port(&self) -> bool {
        matches!(
            self.backend,
            Backend::Nic {
                owner: NicOwner::Queue { .. },
                ..
            }
        )
    }
    pub fn region(&self) -> &Region {
        &self.region
    }
    /// Offset of this port's `netmap_if` from the start of its region (what
    /// netmap's `NIOCREGIF` returns as `nr_offset`).
    pub fn netmap_if_offset(&self) -> usize {
        self.if_offset
    }
    pub fn num_tx_rings(&self) -> usize {
        self.tx.len()
    }
    pub fn num_rx_rings(&self) -> usize {
        self.rx.len()
    }

    /// Whether two ports live in the same memory, so buffer indices mean the
    /// same buffers in both (zero-copy swaps between them are possible).
    pub fn shares_region_with(&self, other: &Port) -> bool {
        Arc::ptr_eq(&self.region, &other.region)
            || (self.region.name() == other.region.name()
                && self.region.backing().path().is_some()
                && self.region.backing() == other.region.backing())
    }

    /// Transmit ring `i` (raw netmap view).
    pub fn tx_ring(&self, i: usize) -> Ring<'_> {
        let (off, k) = &self.tx[i];
        Ring::new(&self.region, self.region.ring(*off, k.num_slots), k.id)
    }

    /// Receive ring `i` (raw netmap view).
    pub fn rx_ring(&self, i: usize) -> Ring<'_> {
        let (off, k) = &self.rx[i];
        Ring::new(&self.region, self.region.ring(*off, k.num_slots), k.id)
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

    pub fn txsync_ring(&mut self, i: usize) -> Result<(), ApiError> {
        let (off, kring) = &mut self.tx[i];
        match &mut self.backend {
            Backend::Pipe(p) => {
                let before = kring.hwtail;
                let r = pipe::txsync(&self.region, p, kring);
                note_peer_progress(&self.peer_seen, before, kring);
                r
            }
            Backend::Nic { driver, .. } => {
                let mem = self.region.ring(*off, kring.num_slots);
                driver.txsync(&self.region, kring.id.index as usize, &mem, kring)
            }
        }
    }

    pub fn rxsync_ring(&mut self, i: usize) -> Result<(), ApiError> {
        let (off, kring) = &mut self.rx[i];
        match &mut self.backend {
            Backend::Pipe(p) => {
                let before = kring.hwtail;
                let r = pipe::rxsync(&self.region, p, kring);
                note_peer_progress(&self.peer_seen, before, kring);
                r
            }
            Backend::Nic { driver, .. } => {
                let mem = self.region.ring(*off, kring.num_slots);
                driver.rxsync(&self.region, kring.id.index as usize, &mem, kring)
            }
        }
    }

    /// The device behind a NIC port: identity, link, counters (`None` for
    /// pipes).
    pub fn nic_info(&mut self) -> Option<NicInfo> {
        match &mut self.backend {
            Backend::Nic { driver, .. } => Some(driver.info()),
            Backend::Pipe(_) => None,
        }
    }

    /// Sets the MAC a NIC port receives unicast frames for; an error on
    /// pipes.
    pub fn set_mac(&mut self, mac: [u8; 6]) -> Result<(), ApiError> {
        match &mut self.backend {
            Backend::Nic { driver, .. } => {
                driver.set_mac(mac);
                Ok(())
            }
            Backend::Pipe(_) => Err(ApiError::Unsupported {
                port: self.name.clone(),
                what: "a MAC address".into(),
                hint: " on a pipe".into(),
            }),
        }
    }

    /// Promiscuous reception on a NIC port; an error on pipes.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<(), ApiError> {
        match &mut self.backend {
            Backend::Nic { driver, .. } => {
                driver.set_promiscuous(on);
                Ok(())
            }
            Backend::Pipe(_) => Err(ApiError::Unsupported {
                port: self.name.clone(),
                what: "promiscuous mode".into(),
                hint: " on a pipe (pipes deliver every frame)".into(),
            }),
        }
    }

    /// Whether the other side of the port is still there (the peer of a
    /// pipe). A dead peer's end is released by the kernel, even after
    /// SIGKILL.
    pub fn peer_alive(&self) -> bool {
        let alive = match &self.backend {
            Backend::Pipe(p) => pipe::peer_open(&self.region, p.entry, p.end),
            Backend::Nic { driver, .. } => driver.link_up(),
        };
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
    pub(crate) fn arm_wait(&self, dir: Direction, i: usize) -> WaitOn<'_> {
        let kring = if dir == Direction::Tx {
            &self.tx[i].1
        } else {
            &self.rx[i].1
        };
        match &self.backend {
            Backend::Pipe(p) => match pipe::arm_wait(&self.region, p, dir, kring) {
                Some((word, value)) => WaitOn::Futex(word, value),
                None => WaitOn::Ready,
            },
            Backend::Nic { driver, .. } => {
                match driver.arm_wait(dir, kring.id.index as usize, kring) {
                    NicWait::Ready => WaitOn::Ready,
                    NicWait::Fd(fd) => WaitOn::Fd(fd),
                    NicWait::Unavailable => WaitOn::Nap,
                }
            }
        }
    }

    pub(crate) fn disarm_wait(&self, dir: Direction, _i: usize) {
        match &self.backend {
            Backend::Pipe(p) => pipe::disarm_wait(&self.region, p, dir),
            Backend::Nic { driver, .. } => driver.disarm_wait(),
        }
    }
}

/// What `poll` sleeps on for one ring.
pub(crate) enum WaitOn<'a> {
    Ready,
    Futex(&'a std::sync::atomic::AtomicU32, u32),
    Fd(std::os::fd::RawFd),
    Nap,
}

impl Drop for Port {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Pipe(p) => {
                let (entry, end) = (p.entry, p.end);
                let region = &self.region;
                let _ = region.locked(|| pipe::close_end(region, entry, end));
            }
            Backend::Nic {
                driver,
                owner: NicOwner::Whole(rings),
            } => {
                driver.shutdown(&self.region);
                rings.free(&self.region);
            }
            Backend::Nic {
                driver,
                owner: NicOwner::Queue { set, queue, tx, rx },
            } => {
                let driver = std::mem::replace(driver, Box::new(Released));
                let now = |v: &Vec<(usize, KRing)>, at_open: &KRing| {
                    v.first().map_or(*at_open, |(_, k)| *k)
                };
                set.give_back(
                    *queue,
                    IdleQueue {
                        driver,
                        tx: now(&self.tx, tx),
                        rx: now(&self.rx, rx),
                    },
                );
            }
        }
    }
}

/// The pipe a parsed name asks for, with its `@conf:` options.
fn pipe_spec(
    port: &str,
    parsed: &PortName,
    name: &str,
    id: &str,
    role: PipeRole,
) -> Result<PipeSpec, ApiError> {
    let end = if role == PipeRole::Master {
        PipeEnd::Master
    } else {
        PipeEnd::Slave
    };
    let region = match parsed.mem_id {
        Some(n) => format!("mem{n}"),
        None => name.to_string(),
    };
    let mut spec = PipeSpec::new(&region, id, end);
    let number = |key: &str| conf_number(port, parsed, key);
    if let Some(slots) = number("slots")? {
        spec.slots = slots;
    }
    if let Some(n) = number("extra-bufs")? {
        spec.extra_bufs = n;
    }
    if let Some(bufs) = number("bufs")? {
        spec.region_config.num_bufs = bufs;
        spec.config_requested = true;
    }
    if let Some(size) = number("buf-size")? {
        spec.region_config.buf_size = size;
        spec.config_requested = true;
    }
    if spec.slots > spec.region_config.max_slots {
        spec.region_config.max_slots = spec.slots;
    }
    if !spec.config_requested {
        // Deep rings must not need `@conf:bufs`: room for two pipes like
        // this one (every slot of both ends' TX and RX rings holds a
        // buffer) and the extra buffers it asks for.
        const PIPES: u32 = 2;
        const RINGS_PER_PIPE: u32 = 4;
        let two_pipes = spec
            .slots
            .saturating_mul(PIPES * RINGS_PER_PIPE)
            .saturating_add(spec.extra_bufs)
            .saturating_add(crate::mem::FIRST_USABLE_BUF);
        spec.region_config.num_bufs = spec.region_config.num_bufs.max(two_pipes);
    }
    Ok(spec)
}

/// NIC options from a parsed name: `@conf:slots=N`, `@conf:promisc=1`,
/// `@conf:link-wait=SECS`, `@conf:bufs=N` (the process's NIC region, when
/// the first NIC port creates it), `@conf:rings=N` (queue pairs of a
/// multi-queue NIC), `@conf:itr=US` (interrupt moderation), `/z`-free.
fn nic_options(
    port: &str,
    parsed: &PortName,
) -> Result<crate::driver::nic_port::NicOptions, ApiError> {
    let mut opts = crate::driver::nic_port::NicOptions::default();
    let number = |key: &str| conf_number(port, parsed, key);
    if let Some(slots) = number("slots")? {
        opts.slots = slots;
        opts.region.max_slots = opts.region.max_slots.max(slots);
    }
    if let Some(p) = number("promisc")? {
        opts.promiscuous = p != 0;
    }
    if let Some(w) = number("link-wait")? {
        opts.link_wait = std::time::Duration::from_secs(w as u64);
    }
    if let Some(rings) = number("rings")? {
        if !(1..=64).contains(&rings) {
            return Err(ApiError::BadOption {
                port: port.to_string(),
                message: format!("`@conf:rings={rings}`: a NIC has 1 to 64 ring pairs"),
            });
        }
        opts.rings = rings as usize;
    }
    opts.size_region_for_two_nics();
    if let Some(bufs) = number("bufs")? {
        opts.region.num_bufs = bufs;
    }
    if let Some(itr) = number("itr")? {
        opts.itr_us = itr;
    }
    if let Some(wire) = parsed.conf("wire") {
        if wire.is_empty() || !wire.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::BadOption {
                port: port.to_string(),
                message: format!("`@conf:wire={wire}`: letters and digits only"),
            });
        }
        opts.wire = Some(wire.to_string());
    }
    opts.unsafe_noiommu = parsed.option("unsafe-noiommu").is_some();
    // `@N`: the region pipes opened with the same `@N` use, so buffers move
    // between this NIC and those pipes (and their processes) by index.
    opts.shared_region = parsed.mem_id.map(|n| pipe_region_file(&format!("mem{n}")));
    Ok(opts)
}

/// The shared region file of pipes named `name` (or of `@N` as `memN`).
fn pipe_region_file(name: &str) -> String {
    format!("pipe-{name}")
}

/// The number in `@conf:KEY=N`, if given.
fn conf_number(port: &str, parsed: &PortName, key: &str) -> Result<Option<u32>, ApiError> {
    parsed
        .conf(key)
        .map(|v| {
            v.parse::<u32>().map_err(|_| ApiError::BadOption {
                port: port.to_string(),
                message: format!("`@conf:{key}={v}`: expected a number"),
            })
        })
        .transpose()
}

/// A pipe's `hwtail` moves only when the peer acts (it puts frames on our
/// receive ring, or frees our transmit slots): the peer was there, even if
/// it left before anyone looked, so its absence is now a hang-up
/// (POLLHUP), not a late start.
fn note_peer_progress(peer_seen: &std::cell::Cell<bool>, hwtail_before: u32, kring: &KRing) {
    if kring.hwtail != hwtail_before {
        peer_seen.set(true);
    }
}
