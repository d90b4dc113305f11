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
//!
//! The cable has flow control, as Ethernet's PAUSE frames give: the model
//! fetches no more TX descriptors than the far end's pipe has room for,
//! so a receiver that falls behind (or stops) holds the sending driver's
//! ring full and its application waiting, for as long as it takes, and no
//! frame is lost. Only frames sent while nothing is plugged in at the far
//! end (the link is down) are lost; they are counted, and the port's
//! [`NicInfo`](crate::api::NicInfo) reports them as the `wire_lost`
//! counter (pkt-gen prints it and fails when it is not 0).

use std::collections::VecDeque;

use crossbeam_utils::Backoff;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::conf::{Accepts, Conf};
use super::error::PortError;
use super::name::PortName;
use super::nic::{from_opened, nic_options, queue};
use crate::abi::Direction;
use crate::api::{
    ApiError, Backend, KRing, NicControl, NicInfo, NicParts, NicRings, Port, QueueParts, QueueSet,
    Wait,
};
use crate::driver::ixgbe::{self, Ixgbe};
use crate::driver::{DriverError, NicOptions, OpenedNic};
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

/// What a model port's name may carry: a NIC's options, less interrupt
/// moderation (the model raises no interrupts), plus the cables' name.
const ACCEPTS: Accepts = Accepts {
    kind: "a model port",
    options: &[],
    conf: &["slots", "promisc", "link-wait", "bufs", "rings", "wire"],
};

/// Opens `model:NAME` (see the module documentation) as the port named
/// `port`.
pub(super) fn open(port: &str, parsed: &PortName, name: &str) -> Result<Port, PortError> {
    let conf = Conf::check(port, parsed, &ACCEPTS)?;
    if parsed.mem_id.is_some() {
        return Err(PortError::BadOption {
            port: port.to_string(),
            message: "`@N` does not apply to model ports: all model ports of a process share \
                      their own region"
                .to_string(),
        });
    }
    let opts = nic_options(port, &conf)?;
    // `@conf:wire=NAME` names another set of cables (default `ixgbewire`),
    // so separate experiments (or tests) on one machine do not share them.
    let cables = conf.text("wire").unwrap_or("ixgbewire");
    if cables.is_empty() || !cables.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(PortError::BadOption {
            port: port.to_string(),
            message: format!("`@conf:wire={cables}`: letters and digits only"),
        });
    }
    let index = name
        .strip_prefix("ixgbe")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n < MAX_PORTS)
        .ok_or_else(|| PortError::UnknownModel {
            port: port.to_string(),
        })?;
    let queue = queue(parsed, &opts);
    let key = format!("model:ixgbe{index}");
    let opened = match queue {
        None => {
            let (region, rings, nic, parts) = bring_up(port, cables, index, &opts)?;
            let wire = parts.wire.clone();
            OpenedNic::Whole(NicParts {
                region,
                rings,
                backend: Box::new(WireCounted { nic, wire }),
                keep_alive: Box::new(parts),
            })
        }
        Some(_) => OpenedNic::Queues(QueueSet::find_or_create(&key, || {
            let (region, rings, nic, parts) = bring_up(port, cables, index, &opts)?;
            let queues = ixgbe::split(nic)
                .into_iter()
                .map(|nic| {
                    let wire = parts.wire.clone();
                    Box::new(WireCounted { nic, wire }) as Box<dyn Backend>
                })
                .collect();
            Ok::<_, PortError>(QueueParts {
                region,
                rings,
                queues,
                keep_alive: Box::new(parts),
            })
        })?),
    };
    from_opened(port, opened, queue)
}

/// What keeps a model port's device alive: its cable and its thread.
struct ModelParts {
    /// Stopped first: no more frames into a model being torn down.
    _wire_thread: WireThread,
    _runner: Runner,
    /// The cable end, for its loss counter.
    wire: Arc<PipeWire>,
}

/// The process's model region (32768 buffers: room for several ports with
/// 4096-slot rings).
fn region(opts: &NicOptions) -> Result<Arc<Region>, PortError> {
    let mut shared = REGION.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = shared.upgrade() {
        return Ok(r);
    }
    let r = Arc::new(Region::private("model", opts.region)?);
    *shared = Arc::downgrade(&r);
    Ok(r)
}

type BroughtUp = (Arc<Region>, NicRings, Ixgbe<ModelRegs>, ModelParts);

/// Plugs model `index` into its cable in the set `cables`, starts it and
/// brings the driver up.
fn bring_up(
    port: &str,
    cables: &str,
    index: usize,
    opts: &NicOptions,
) -> Result<BroughtUp, PortError> {
    let wire = PipeWire::open(port, cables, index)?;
    let region = region(opts)?;
    let mac = [0x02, 0x00, 0x00, 0x82, 0x59, index as u8];
    let model = IxgbeModel::new(Config::new(mac), Arc::new(RegionDma(region.clone())));
    model.plug(wire.clone());
    let runner = model.start();
    let parts = ModelParts {
        _wire_thread: WireThread::start(wire.clone(), Arc::downgrade(&model)),
        _runner: runner,
        wire,
    };
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
            Err(DriverError::Ixgbe {
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
    /// Frames sent while the far end was not there (lost on the wire).
    lost: AtomicU64,
    /// Whether the far end is open, as the wire thread last saw it: the
    /// model asks while holding its own lock, so this must not take the
    /// port's (the wire thread holds that one while it delivers).
    far_end: AtomicBool,
}

impl PipeWire {
    fn open(port: &str, cables: &str, index: usize) -> Result<Arc<PipeWire>, PortError> {
        let end = if index % 2 == 0 { '{' } else { '}' };
        let pipe = format!("netmap:{cables}{}{end}0", index / 2);
        let wire = super::open(&pipe).map_err(|e| match e {
            PortError::Api(ApiError::PipeEndBusy { .. }) => PortError::ModelPortBusy {
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
        if let Ok(mut batch) = port.rxsync_ring(0).and_then(|()| port.rx_batch(0)) {
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
    /// Puts the frames in the pipe. The model sends no more than
    /// [`room`](WireEnd::room) said fits, so all fit while the far end is
    /// there; with no far end (or a frame larger than the pipe's buffers)
    /// they are lost, and counted.
    fn send(&self, frames: Vec<Vec<u8>>) {
        let mut lost = frames.len();
        if self.far_end.load(Ordering::Relaxed) {
            let mut port = self.lock();
            if let Ok(mut batch) = port.tx_batch(0) {
                for f in &frames {
                    lost -= batch.push(f) as usize;
                }
            }
            let _ = port.txsync();
        }
        if lost > 0 {
            self.lost.fetch_add(lost as u64, Ordering::Relaxed);
        }
    }
    fn connected(&self) -> bool {
        self.far_end.load(Ordering::Relaxed)
    }
    /// Flow control, as Ethernet's PAUSE frames give: the pipe's free
    /// slots while the far end is there, so a far end that falls behind
    /// or stops holds the model's transmit back (and with it the sending
    /// driver and its application), however long, instead of frames
    /// vanishing. With nothing plugged in, no limit: the link is down and
    /// what is sent is lost (and counted), as on a real cable.
    fn room(&self) -> usize {
        if !self.far_end.load(Ordering::Relaxed) {
            return usize::MAX;
        }
        let mut port = self.lock();
        let _ = port.txsync_ring(0);
        port.tx_ring(0).map_or(0, |r| r.space() as usize)
    }
}

/// A model port's driver, plus the cable's loss counter in its
/// [`NicInfo`] (`wire_lost`).
struct WireCounted<B> {
    nic: B,
    wire: Arc<PipeWire>,
}

impl<B: Backend + NicControl> Backend for WireCounted<B> {
    #[inline]
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        self.nic.txsync(region, mem, kring, head)
    }
    #[inline]
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        self.nic.rxsync(region, mem, kring, head)
    }
    fn arm_wait<'r>(&self, region: &'r Region, kring: &KRing) -> Wait<'r> {
        self.nic.arm_wait(region, kring)
    }
    fn disarm_wait(&self, region: &Region, dir: Direction) {
        self.nic.disarm_wait(region, dir)
    }
    fn peer_alive(&self, region: &Region) -> bool {
        self.nic.peer_alive(region)
    }
    fn close(&mut self, region: &Region) {
        self.nic.close(region)
    }
    fn nic(&mut self) -> Option<&mut dyn NicControl> {
        Some(self)
    }
}

impl<B: NicControl> NicControl for WireCounted<B> {
    fn info(&mut self) -> NicInfo {
        let mut info = self.nic.info();
        let lost = self.wire.lost.load(Ordering::Relaxed);
        info.counters.push(("wire_lost", lost));
        info
    }
    fn set_promiscuous(&mut self, on: bool) {
        self.nic.set_promiscuous(on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        self.nic.set_mac(mac)
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
            // Spin, then yield, while frames may be about to come; nap once
            // the wire has been quiet for a while.
            let idle = Backoff::new();
            let mut held = VecDeque::new();
            while !flag.load(Ordering::Relaxed) {
                let Some(model) = model.upgrade() else { break };
                if wire.receive_into(&model, &mut held) > 0 {
                    idle.reset();
                    continue;
                }
                drop(model);
                if idle.is_completed() {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    idle.snooze();
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
