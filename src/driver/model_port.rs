//! `model:ixgbeN` ports: the real ixgbe driver on a software 82599 (the
//! register-level model in `hw/models/ixgbe/`), so `pkt-gen`, `bridge` and
//! applications run end to end with no hardware.
//!
//! Ports 2k and 2k+1 are the two ends of cable k. The cable is the netmap
//! pipe pair `netmap:ixgbewire<k>{0` / `}0`, so the two ends can live in
//! different processes, as NICs on one wire would (`@conf:wire=NAME`
//! names another set of cables): each process runs its
//! model in a thread of its own (like hardware, concurrent with the
//! driver), copies what the model transmits into the pipe and feeds what
//! the pipe brings to the model's receive path. The link is up while both
//! ends are open. All model ports of a process share one region, so
//! `bridge` between two of them swaps buffers without copying.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::ixgbe::{self, Ixgbe};
use super::nic_port::NicOptions;
use crate::api::abi::Direction;
use crate::api::nic::{NicBackend, NicInfo, NicRings, NicWait};
use crate::api::{ApiError, KRing, Port, QueueSet};
use crate::mem::{Region, RingMem};

// The model allows its own dead code (it serves tests too).
#[path = "../../hw/models/ixgbe/mod.rs"]
pub mod ixgbe_model;

use ixgbe_model::pair::{RegionDma, chip, window};
use ixgbe_model::{Config, IxgbeModel, ModelRegs, Runner, WireEnd};

/// The region every model port of the process uses.
static REGION: Mutex<Weak<Region>> = Mutex::new(Weak::new());

/// Model ports a name may ask for (`model:ixgbe0` .. `model:ixgbe63`).
const MAX_PORTS: usize = 64;

/// Opens `model:NAME` (see the module documentation).
pub fn open(
    port: &str,
    name: &str,
    opts: &NicOptions,
    queue: Option<usize>,
) -> Result<Port, ApiError> {
    let index = name
        .strip_prefix("ixgbe")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n < MAX_PORTS)
        .ok_or_else(|| ApiError::UnknownModel {
            port: port.to_string(),
        })?;
    let key = format!("model:ixgbe{index}");
    match queue {
        None => {
            let (region, rings, nic, parts) = bring_up(port, index, opts)?;
            let backend = ModelNic { nic, _parts: parts };
            Ok(Port::from_nic(port, region, rings, Box::new(backend)))
        }
        Some(q) => {
            let set = QueueSet::find_or_create(&key, || {
                let (region, rings, nic, parts) = bring_up(port, index, opts)?;
                let queues = ixgbe::split(nic)
                    .into_iter()
                    .map(|queue| {
                        Box::new(ModelQueue {
                            queue,
                            _parts: parts.clone(),
                        }) as Box<dyn NicBackend>
                    })
                    .collect();
                Ok((region, rings, queues))
            })?;
            Port::from_queue(port, &set, q)
        }
    }
}

/// What keeps a model port's device alive: its cable and its thread.
struct ModelParts {
    /// Stopped first: no more frames into a model being torn down.
    _wire: WireThread,
    _runner: Runner,
}

/// The process's model region (32768 buffers: room for several ports with
/// 4096-slot rings).
fn region(opts: &NicOptions) -> Result<Arc<Region>, ApiError> {
    let mut shared = REGION.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = shared.upgrade() {
        return Ok(r);
    }
    let r = Arc::new(Region::private("model", opts.region)?);
    *shared = Arc::downgrade(&r);
    Ok(r)
}

type BroughtUp = (Arc<Region>, NicRings, Ixgbe<ModelRegs>, Arc<ModelParts>);

/// Plugs model `index` into its cable, starts it and brings the driver up.
fn bring_up(port: &str, index: usize, opts: &NicOptions) -> Result<BroughtUp, ApiError> {
    let wire = PipeWire::open(port, opts.wire.as_deref().unwrap_or("ixgbewire"), index)?;
    let region = region(opts)?;
    let mac = [0x02, 0x00, 0x00, 0x82, 0x59, index as u8];
    let model = IxgbeModel::new(Config::new(mac), Arc::new(RegionDma(region.clone())));
    model.plug(wire.clone());
    let runner = model.start();
    let wire = WireThread::start(wire, Arc::downgrade(&model));
    let parts = Arc::new(ModelParts {
        _wire: wire,
        _runner: runner,
    });
    let rings = NicRings::allocate(&region, port, opts.rings, opts.slots)?;
    let options = ixgbe::Options {
        promiscuous: opts.promiscuous,
        link_wait: opts.link_wait,
        init_timeout: Duration::from_millis(200),
        ..ixgbe::Options::default()
    };
    match Ixgbe::init(
        ModelRegs(model),
        chip(),
        &region,
        window(&region),
        &rings,
        options,
    ) {
        Ok(nic) => Ok((region, rings, nic, parts)),
        Err(source) => {
            rings.free(&region);
            Err(crate::driver::DriverError::Ixgbe {
                device: port.to_string(),
                source,
            }
            .into())
        }
    }
}

/// A cable end: one end of a netmap pipe.
struct PipeWire {
    port: Mutex<Port>,
    /// Frames the far end had no room for (lost on the wire).
    lost: AtomicU64,
    /// Whether the far end is open, as the wire thread last saw it: the
    /// model asks while holding its own lock, so this must not take the
    /// port's (the wire thread holds that one while it delivers).
    far_end: AtomicBool,
}

impl PipeWire {
    fn open(port: &str, cables: &str, index: usize) -> Result<Arc<PipeWire>, ApiError> {
        let end = if index % 2 == 0 { '{' } else { '}' };
        let pipe = format!("netmap:{cables}{}{end}0", index / 2);
        let wire = Port::open(&pipe).map_err(|e| match e {
            ApiError::PipeEndBusy { .. } => ApiError::ModelPortBusy {
                port: port.to_string(),
            },
            e => e,
        })?;
        let far_end = AtomicBool::new(wire.peer_alive());
        Ok(Arc::new(PipeWire {
            port: Mutex::new(wire),
            lost: AtomicU64::new(0),
            far_end,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Port> {
        self.port.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands what arrived from the far end to `model`; returns how many
    /// frames. Frames the model has no descriptors for wait in `held`
    /// (in order, ahead of anything newer), and nothing more is read from
    /// the pipe until they are in: the pipe fills and holds the far end's
    /// sender back.
    fn receive_into(&self, model: &IxgbeModel, held: &mut VecDeque<Vec<u8>>) -> usize {
        let mut n = 0;
        while let Some(f) = held.front() {
            if !model.deliver(f) {
                return n;
            }
            held.pop_front();
            n += 1;
        }
        let mut port = self.lock();
        if port.rxsync_ring(0).is_ok() {
            let mut batch = port.rx_batch(0);
            while let Some(f) = batch.next() {
                if !held.is_empty() || !model.deliver(f) {
                    held.push_back(f.to_vec());
                } else {
                    n += 1;
                }
            }
        }
        // Frames arriving prove the far end is there; look (a syscall)
        // only when none came.
        self.far_end
            .store(n > 0 || port.peer_alive(), Ordering::Relaxed);
        n
    }
}

impl WireEnd for PipeWire {
    /// With flow control, as Ethernet's PAUSE frames give: while the far
    /// end's pipe is full the model's transmit waits (so the sending
    /// driver's ring fills and its application waits), instead of frames
    /// vanishing on a wire that in reality runs at the receiver's pace.
    /// A far end that goes away, or stalls for a second, loses the rest.
    fn send(&self, frames: Vec<Vec<u8>>) {
        let mut rest = &frames[..];
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !rest.is_empty() {
            let mut port = self.lock();
            let mut batch = port.tx_batch(0);
            let mut sent = 0;
            while sent < rest.len() && batch.push(&rest[sent]) {
                sent += 1;
            }
            drop(batch);
            let _ = port.txsync();
            rest = &rest[sent..];
            if rest.is_empty() {
                break;
            }
            if !port.peer_alive() || std::time::Instant::now() > deadline {
                self.lost.fetch_add(rest.len() as u64, Ordering::Relaxed);
                break;
            }
            drop(port);
            std::thread::yield_now();
        }
    }
    fn connected(&self) -> bool {
        self.far_end.load(Ordering::Relaxed)
    }
}

/// Feeds what the pipe brings to the model, in a thread of its own.
struct WireThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WireThread {
    fn start(wire: Arc<PipeWire>, model: Weak<IxgbeModel>) -> WireThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut idle = 0u32;
            let mut held = VecDeque::new();
            while !flag.load(Ordering::Relaxed) {
                let Some(model) = model.upgrade() else { break };
                if wire.receive_into(&model, &mut held) > 0 {
                    idle = 0;
                    continue;
                }
                drop(model);
                idle += 1;
                if idle > 64 {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    std::thread::yield_now();
                }
            }
        });
        WireThread {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for WireThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A model port with all its queues.
struct ModelNic {
    nic: Ixgbe<ModelRegs>,
    _parts: Arc<ModelParts>,
}

impl NicBackend for ModelNic {
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.txsync(region, ring, mem, kring)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.rxsync(region, ring, mem, kring)
    }
    fn link_up(&self) -> bool {
        self.nic.link_up()
    }
    fn info(&mut self) -> NicInfo {
        self.nic.info()
    }
    fn set_promiscuous(&mut self, on: bool) {
        Ixgbe::set_promiscuous(&mut self.nic, on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        Ixgbe::set_mac(&mut self.nic, mac)
    }
    fn shutdown(&mut self, region: &Region) {
        self.nic.shutdown(region)
    }
    fn arm_wait(&self, _dir: Direction, _ring: usize, _kring: &KRing) -> NicWait {
        // The model raises no interrupts: sleepers nap and look again.
        NicWait::Unavailable
    }
}

/// One queue pair of a model port, for a `-N` port.
struct ModelQueue {
    queue: ixgbe::IxgbeQueue<ModelRegs>,
    _parts: Arc<ModelParts>,
}

impl NicBackend for ModelQueue {
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.queue.txsync(region, ring, mem, kring)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.queue.rxsync(region, ring, mem, kring)
    }
    fn link_up(&self) -> bool {
        self.queue.link_up()
    }
    fn info(&mut self) -> NicInfo {
        self.queue.info()
    }
    fn set_promiscuous(&mut self, on: bool) {
        self.queue.set_promiscuous(on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        self.queue.set_mac(mac)
    }
    fn shutdown(&mut self, region: &Region) {
        self.queue.shutdown(region)
    }
}
