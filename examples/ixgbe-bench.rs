//! ixgbe driver cost per packet against the 82599 model (issue 6): receive,
//! transmit and zero-copy forwarding at batch sizes 1 to 512.
//!
//! ```text
//! cargo run --release --example ixgbe-bench -- [--modes rx,tx,fwd] [--batches 1,2,...,512]
//!     [--seconds 0.5] [--warmup 0.2] [--sync --packets N]
//! hw/bench-ixgbe        # the whole table, with callgrind instruction counts
//! ```
//!
//! Two models (`model:ixgbe0` = A, `model:ixgbe1` = B) joined by a wire, one
//! queue pair each, 1024-slot rings, 60-byte frames. One thread drives both
//! drivers; in the default (threaded) mode each model has its own thread
//! polling its TX tails like hardware. Per mode, what is *measured* (the
//! driver's calls) and what only keeps traffic flowing:
//!
//! * `tx`: A fills up to B free TX slots (length 60, buffers written once at
//!   start) and calls txsync (measured). Nobody drains B: its model drops
//!   what does not fit, which costs the driver nothing.
//! * `rx`: B transmits up to B frames per round to A (not measured); A calls
//!   rxsync (measured), reads the length of up to B packets and releases
//!   them (head).
//! * `fwd`: B seeds the wire with frames once; then A rxsync, `forward` (A RX
//!   ring -> B TX ring, swapping buffers, at most B) and B txsync are
//!   measured. B's frames arrive at A again (promiscuous), so the same
//!   packets circulate: A RX -> B TX -> wire -> A RX.
//!
//! Every measured call goes through one of the `drv_*` functions below
//! (never inlined), which is what `hw/bench-ixgbe` tells callgrind to count
//! (`--toggle-collect=*drv_*`); register accesses go through a counting
//! `RegisterAccess` wrapper whose model call (`excl_model_read`/`excl_model_write`,
//! also never inlined) toggles collection off again, so the model's work is
//! excluded, including the transmit the model does inside a TDT write in
//! synchronous mode.
//!
//! Cycles: TSC ticks (rdtsc) around each measured call, minus the ticks
//! spent inside the model's register handlers; TSC frequency calibrated
//! against `Instant` at start. Only calls that moved at least one packet
//! count ("busy"); calls that found nothing to do are reported apart as idle
//! polls. Mpps: packets moved by the measured side over the window's wall
//! time, model included, so it is bound by the (software) model.
//!
//! Every sync is checked to write at most one register (its tail) and to
//! read none; a violation aborts the run.

#[path = "../hw/models/ixgbe/mod.rs"]
#[allow(unused_imports)]
mod ixgbe_model;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ixgbe_model::pair::{self, RegionDma};
use ixgbe_model::{Config, Dma, IxgbeModel, ModelRegs};
use vfio_netmap::api::{ApiError, Port, forward};
use vfio_netmap::api::{NicParts, NicRings};
use vfio_netmap::driver::ixgbe::Ixgbe;
use vfio_netmap::driver::regs::RegisterAccess;
use vfio_netmap::mem::{Region, RegionConfig};

const SLOTS: u32 = 1024;
const FRAME: usize = 60;

#[derive(Parser, Debug)]
#[command(about = "ixgbe driver cost per packet against the 82599 model")]
struct Args {
    /// Modes to run: rx, tx, fwd.
    #[arg(long, value_delimiter = ',', default_value = "rx,tx,fwd")]
    modes: Vec<String>,
    /// Batch sizes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32,64,128,256,512"
    )]
    batches: Vec<u32>,
    /// Measurement window per configuration, seconds (threaded model).
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Warm-up per configuration, seconds (threaded model).
    #[arg(long, default_value_t = 0.2)]
    warmup: f64,
    /// Synchronous model (no model threads, no warm-up): for instruction
    /// counts under callgrind. Runs until `--packets` packets moved.
    #[arg(long)]
    sync: bool,
    /// Packets per configuration in `--sync` mode.
    #[arg(long, default_value_t = 65536)]
    packets: u64,
}

// ---------------------------------------------------------------- clocks

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ticks() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn ticks() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Ticks per second, measured against the monotonic clock.
fn calibrate_ticks() -> f64 {
    let (t0, i0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, i1) = (ticks(), Instant::now());
    (t1 - t0) as f64 / (i1 - i0).as_secs_f64()
}

// ------------------------------------------------- counting registers

/// Register accesses seen by one driver. Only the bench thread drives the
/// drivers, so plain load/store increments suffice (no locked RMW in the
/// driver's path).
#[derive(Default)]
struct Counts {
    reads: AtomicU64,
    writes: AtomicU64,
    /// Ticks spent inside the model's register handlers.
    model_ticks: AtomicU64,
    /// Set while the bench loop runs: register accesses go through the
    /// `excl_model_*` functions callgrind toggles on (init's accesses must
    /// not, or they would switch collection on outside the measured calls).
    measuring: AtomicBool,
}

fn bump(a: &AtomicU64, by: u64) {
    a.store(a.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

/// The model's registers, counting every access.
struct CountingRegs {
    inner: ModelRegs,
    counts: Arc<Counts>,
}

impl RegisterAccess for CountingRegs {
    #[inline]
    fn read32(&self, offset: usize) -> u32 {
        bump(&self.counts.reads, 1);
        if self.counts.measuring.load(Ordering::Relaxed) {
            excl_model_read(&self.inner, offset, &self.counts)
        } else {
            self.inner.read32(offset)
        }
    }
    #[inline]
    fn write32(&self, offset: usize, value: u32) {
        bump(&self.counts.writes, 1);
        if self.counts.measuring.load(Ordering::Relaxed) {
            excl_model_write(&self.inner, offset, value, &self.counts)
        } else {
            self.inner.write32(offset, value)
        }
    }
}

/// The model's read handler: the model's work, excluded from the driver's
/// cost (callgrind toggles collection off here; its ticks are subtracted).
#[inline(never)]
fn excl_model_read(regs: &ModelRegs, offset: usize, counts: &Counts) -> u32 {
    let t = ticks();
    let v = regs.read32(offset);
    bump(&counts.model_ticks, ticks() - t);
    v
}

/// The model's write handler (in synchronous mode a TDT write transmits
/// and delivers to the peer right here): excluded like `excl_model_read`.
#[inline(never)]
fn excl_model_write(regs: &ModelRegs, offset: usize, value: u32, counts: &Counts) {
    let t = ticks();
    regs.write32(offset, value);
    bump(&counts.model_ticks, ticks() - t);
}

// ------------------------------------------------- the measured calls

#[inline(never)]
fn drv_txsync(p: &mut Port) -> Result<(), ApiError> {
    p.txsync_ring(0)
}

#[inline(never)]
fn drv_rxsync(p: &mut Port) -> Result<(), ApiError> {
    p.rxsync_ring(0)
}

#[inline(never)]
fn drv_forward(from: &mut Port, to: &mut Port, limit: usize) -> Result<usize, ApiError> {
    forward(from, 0, to, 0, limit)
}

// ------------------------------------------------- the pair

struct Lab {
    a: Port,
    b: Port,
    ca: Arc<Counts>,
    cb: Arc<Counts>,
    models: [Arc<IxgbeModel>; 2],
    _runners: Vec<ixgbe_model::Runner>,
}

fn open(region: &Arc<Region>, model: &Arc<IxgbeModel>, name: &str) -> (Port, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let rings = NicRings::allocate(region, name, 1, SLOTS).expect("rings");
    let regs = CountingRegs {
        inner: ModelRegs(model.clone()),
        counts: counts.clone(),
    };
    let nic = Ixgbe::init(
        regs,
        pair::chip(),
        region,
        pair::window(region),
        &rings,
        pair::model_options(),
    )
    .expect("ixgbe init on the model");
    (
        Port::from_nic(name, NicParts::new(region.clone(), rings, Box::new(nic))),
        counts,
    )
}

fn lab(name: &str, threaded: bool) -> Lab {
    let cfg = RegionConfig {
        num_bufs: 8192,
        num_rings: 8,
        ..RegionConfig::default()
    };
    let region = Arc::new(Region::private(name, cfg).expect("region"));
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let ma = IxgbeModel::new(Config::new(pair::MAC_A), dma.clone());
    let mb = IxgbeModel::new(Config::new(pair::MAC_B), dma);
    IxgbeModel::connect(&ma, &mb);
    let runners = if threaded {
        vec![ma.start(), mb.start()]
    } else {
        Vec::new()
    };
    let (mut a, ca) = open(&region, &ma, "model:ixgbe0");
    let (b, cb) = open(&region, &mb, "model:ixgbe1");
    // A takes B's frames addressed to B (forwarding loops them back).
    a.set_promiscuous(true).expect("promiscuous");
    // Every TX buffer holds a frame once; tx only ever sets lengths.
    for p in [&a, &b] {
        let ring = p.tx_ring(0).expect("a model port has TX ring 0");
        for i in 0..ring.num_slots() {
            let idx = ring.slot(i).expect("i < num_slots").buf_idx;
            // SAFETY: nothing has been transmitted yet: the device and the
            // other ports do not touch these buffers, and no other slice
            // of them exists.
            let buf = unsafe { region.buf_mut(idx) }.expect("valid buffer");
            buf[..FRAME].fill(0);
            buf[0..6].copy_from_slice(&pair::MAC_B);
            buf[6..12].copy_from_slice(&pair::MAC_A);
            buf[12..14].copy_from_slice(&[0x88, 0xb5]);
        }
    }
    Lab {
        a,
        b,
        ca,
        cb,
        models: [ma, mb],
        _runners: runners,
    }
}

// ------------------------------------------------- one run

#[derive(Default, Clone, Copy)]
struct Tally {
    packets: u64,
    /// Measured calls that moved packets, and their ticks (model excluded).
    busy_calls: u64,
    busy_ticks: u64,
    idle_calls: u64,
    idle_ticks: u64,
    /// Ticks inside the model's register handlers during measured calls.
    model_ticks: u64,
    /// Register writes / reads during measured syncs, and the syncs.
    writes: u64,
    reads: u64,
    syncs: u64,
}

/// Hands up to `n` free TX slots of `p` (length 60) over; returns how many.
fn fill_tx(p: &Port, n: u32) -> u32 {
    let r = p.tx_ring(0).expect("a model port has TX ring 0");
    let k = n.min(r.space());
    let mut i = r.head();
    for _ in 0..k {
        r.set_len(i, FRAME as u16).expect("i is a slot of the ring");
        i = r.next(i);
    }
    r.advance_to(i);
    k
}

/// Releases up to `n` received packets of `p` (reading their lengths).
fn consume_rx(p: &Port, n: u32) -> (u32, u64) {
    let r = p.rx_ring(0).expect("a model port has RX ring 0");
    let k = n.min(r.space());
    let (mut i, mut bytes) = (r.head(), 0u64);
    for _ in 0..k {
        bytes += r.slot(i).map_or(0, |s| s.len as u64);
        i = r.next(i);
    }
    r.advance_to(i);
    (k, bytes)
}

/// One measured sync of the driver behind `counts`: checks the MMIO rule
/// (at most one write, no read) and books the call.
fn measured_sync(t: &mut Tally, counts: &Counts, call: impl FnOnce() -> Result<(), ApiError>) {
    let (w0, r0, m0) = (
        counts.writes.load(Ordering::Relaxed),
        counts.reads.load(Ordering::Relaxed),
        counts.model_ticks.load(Ordering::Relaxed),
    );
    call().expect("sync");
    let (w, r, m) = (
        counts.writes.load(Ordering::Relaxed) - w0,
        counts.reads.load(Ordering::Relaxed) - r0,
        counts.model_ticks.load(Ordering::Relaxed) - m0,
    );
    assert!(w <= 1, "a sync wrote {w} registers (at most its tail)");
    assert_eq!(r, 0, "a sync read a register");
    t.writes += w;
    t.reads += r;
    t.syncs += 1;
    t.model_ticks += m;
}

fn book(t: &mut Tally, moved: u64, ticks: u64) {
    t.packets += moved;
    if moved > 0 {
        t.busy_calls += 1;
        t.busy_ticks += ticks;
    } else {
        t.idle_calls += 1;
        t.idle_ticks += ticks;
    }
}

/// Runs `mode` at `batch` until `done(packets, now)`; returns the tally of
/// the measured side.
fn run(l: &mut Lab, mode: &str, batch: u32, mut done: impl FnMut(u64) -> bool) -> Tally {
    let mut t = Tally::default();
    let ca = l.ca.clone();
    let cb = l.cb.clone();
    // Only the measured drivers' accesses go through `excl_model_*` (the
    // generator's and the seeding syncs are outside the counted calls).
    ca.measuring.store(true, Ordering::Relaxed);
    match mode {
        "tx" => {
            while !done(t.packets) {
                let n = fill_tx(&l.a, batch);
                let m0 = ca.model_ticks.load(Ordering::Relaxed);
                let t0 = ticks();
                measured_sync(&mut t, &ca, || drv_txsync(&mut l.a));
                let dt = ticks() - t0 - (ca.model_ticks.load(Ordering::Relaxed) - m0);
                book(&mut t, n as u64, dt);
            }
        }
        "rx" => {
            while !done(t.packets) {
                fill_tx(&l.b, batch);
                l.b.txsync_ring(0).expect("generator txsync");
                let m0 = ca.model_ticks.load(Ordering::Relaxed);
                let t0 = ticks();
                measured_sync(&mut t, &ca, || drv_rxsync(&mut l.a));
                let dt = ticks() - t0 - (ca.model_ticks.load(Ordering::Relaxed) - m0);
                let (n, _) = consume_rx(&l.a, batch);
                book(&mut t, n as u64, dt);
            }
        }
        "fwd" => {
            // Seed the loop: enough packets in flight for full batches.
            let mut seeded = 0;
            let want = (4 * batch).clamp(64, 768);
            while seeded < want {
                seeded += fill_tx(&l.b, want - seeded);
                l.b.txsync_ring(0).expect("seed txsync");
            }
            cb.measuring.store(true, Ordering::Relaxed);
            while !done(t.packets) {
                let m0 =
                    ca.model_ticks.load(Ordering::Relaxed) + cb.model_ticks.load(Ordering::Relaxed);
                let t0 = ticks();
                measured_sync(&mut t, &ca, || drv_rxsync(&mut l.a));
                let moved = drv_forward(&mut l.a, &mut l.b, batch as usize).expect("forward");
                measured_sync(&mut t, &cb, || drv_txsync(&mut l.b));
                let dt = ticks()
                    - t0
                    - (ca.model_ticks.load(Ordering::Relaxed)
                        + cb.model_ticks.load(Ordering::Relaxed)
                        - m0);
                book(&mut t, moved as u64, dt);
            }
        }
        other => panic!("unknown mode {other}"),
    }
    ca.measuring.store(false, Ordering::Relaxed);
    cb.measuring.store(false, Ordering::Relaxed);
    t
}

fn main() {
    let args = Args::parse();
    let hz = calibrate_ticks();
    println!(
        "# ixgbe-bench: {} model, TSC {:.3} GHz, {} slots, {}-byte frames",
        if args.sync { "synchronous" } else { "threaded" },
        hz / 1e9,
        SLOTS,
        FRAME
    );
    println!(
        "| mode | batch | Mpps | driver cycles/pkt | model reg. cycles/pkt | avg batch | idle polls/pkt | MMIO writes/sync | MMIO writes/batch/sync |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for mode in &args.modes {
        for &batch in &args.batches {
            let name = format!("ixbench-{}-{mode}-{batch}", std::process::id());
            let mut l = lab(&name, !args.sync);
            let (t, secs) = if args.sync {
                let start = Instant::now();
                let n = args.packets;
                let t = run(&mut l, mode, batch, |p| p >= n);
                (t, start.elapsed().as_secs_f64())
            } else {
                let warm = ticks() + (args.warmup * hz) as u64;
                run(&mut l, mode, batch, |_| ticks() >= warm);
                let start = Instant::now();
                let end = ticks() + (args.seconds * hz) as u64;
                let t = run(&mut l, mode, batch, |_| ticks() >= end);
                (t, start.elapsed().as_secs_f64())
            };
            for m in &l.models {
                assert!(
                    m.dma_faults().is_empty(),
                    "DMA faults: {:?}",
                    m.dma_faults()
                );
                assert!(
                    m.violations().is_empty(),
                    "violations: {:?}",
                    m.violations()
                );
            }
            let p = t.packets.max(1) as f64;
            // A forwarded batch is two syncs (A rxsync, B txsync).
            let syncs_per_batch = if mode == "fwd" { 2 } else { 1 };
            println!(
                "| {mode} | {batch} | {:.3} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
                t.packets as f64 / secs / 1e6,
                t.busy_ticks as f64 / p,
                t.model_ticks as f64 / p,
                t.packets as f64 / t.busy_calls.max(1) as f64,
                t.idle_calls as f64 / p,
                t.writes as f64 / t.syncs.max(1) as f64,
                t.writes as f64 / (t.busy_calls.max(1) * syncs_per_batch) as f64,
            );
            // For hw/bench-ixgbe: exact packet count of the measured side.
            eprintln!("PACKETS {mode} {batch} {}", t.packets);
        }
    }
}
