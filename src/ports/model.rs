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

use crossbeam_utils::Backoff;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::conf::{Accepts, Conf};
use super::error::PortError;
use super::name::PortName;
use super::nic::{from_opened, nic_options, queue};
use crate::api::{ApiError, Backend, NicParts, NicRings, Port, QueueParts, QueueSet};
use crate::driver::ixgbe::{self, Ixgbe};
use crate::driver::{DriverError, NicOptions, OpenedNic};
use crate::mem::Region;

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
            OpenedNic::Whole(NicParts {
                region,
                rings,
                backend: Box::new(nic),
                keep_alive: Box::new(parts),
            })
        }
        Some(_) => OpenedNic::Queues(QueueSet::find_or_create(&key, || {
            let (region, rings, nic, parts) = bring_up(port, cables, index, &opts)?;
            let queues = ixgbe::split(nic)
                .into_iter()
                .map(|queue| Box::new(queue) as Box<dyn Backend>)
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
    _wire: WireThread,
    _runner: Runner,
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
    let wire = WireThread::start(wire, Arc::downgrade(&model));
    let parts = ModelParts {
        _wire: wire,
        _runner: runner,
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
    /// Frames the far end had no room for (lost on the wire).
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
            let mut sent = 0;
            if let Ok(mut batch) = port.tx_batch(0) {
                while sent < rest.len() && batch.push(&rest[sent]) {
                    sent += 1;
                }
            }
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
