//! Helpers shared by the example tools (pkt-gen, bridge): port names,
//! signals, idle handling and report formatting.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use vfio_netmap::api::poll::{POLLHUP, PollItem, poll};
use vfio_netmap::api::{ApiError, Port};

/// What `--help` says about port names (pkt-gen and bridge).
pub const PORT_NAMES_HELP: &str = "\
Ports (-i):
  netmap:NAME{ID  netmap:NAME}ID   the master and slave ends of pipe ID
                   (zero-copy, also between processes); a bare NAME{ID
                   gets netmap: prepended
  vfio:DDDD:BB:DD.F                a NIC bound to vfio-pci (run
                   `vfio-netmap status`, then `vfio-netmap bind ADDR`):
                   e1000 82540EM/82545EM, e1000e 82574L, ixgbe
                   82599/X540/X550; all its rings, one process at a time
  vfio:ADDR-K                      queue pair K of an ixgbe NIC, a port
                   per thread (the first of them sets @conf:rings)
  model:ixgbeN                     the ixgbe driver on a software 82599;
                   ports 2k and 2k+1 are the ends of one cable
Options after the name (@conf:KEY=VALUE, comma-separated after one @conf:):
  slots=N     slots per ring, one descriptor each on NICs (default 1024):
              pipes 8-16384, e1000 8-16384 and ixgbe 64-4096 in steps of 8
  rings=N     queue pairs of an ixgbe NIC, 1-64 (default 1)
  promisc=1   receive frames for any MAC
  link-wait=S seconds to wait for the link when opening (default 2; any
              number, SIGINT ends the wait)
  itr=US      ixgbe interrupt moderation (default 20)
  bufs=N      buffers in the memory region, if this port creates it (a
              NIC port otherwise sizes it for two NICs like itself)
  @N          (after the name) share memory region N with pipes opened
              with the same @N, so frames move between them by index";

/// A tool's `--help` epilogue: its examples, then the port names.
pub fn help_with_port_names(examples: &str) -> String {
    format!("{examples}\n\n{PORT_NAMES_HELP}")
}

/// Set by SIGINT/SIGTERM.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The signal that set [`STOP`] (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: atomic stores only.
    SIGNAL.store(sig, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
    // Ends the library's own waits too (the link wait while a NIC port
    // opens, poll()).
    vfio_netmap::api::cancel::request();
}

/// The exit status of a tool a signal stopped before it could start:
/// 128 + the signal's number, as a shell reports a process the signal
/// killed (130 for SIGINT, 143 for SIGTERM).
pub fn signal_exit_status() -> u8 {
    128 + SIGNAL.load(Ordering::Relaxed).clamp(0, 127) as u8
}

/// Installs SIGINT/SIGTERM handlers that set [`STOP`] and request the
/// library's cancellation (`vfio_netmap::api::cancel`), and gives SIGPIPE
/// its default action back (Rust ignores it, which makes a closed stdout,
/// as in `pkt-gen | head -1`, a panic in `println!`): the tool then ends
/// quietly, as a C tool would.
pub fn install_signal_handlers() {
    // SAFETY: restoring a signal's default disposition has no
    // preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is given a zeroed, then filled, struct; the
        // handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// pkt-gen's rule: a name without a `prefix:` gets `netmap:` prepended.
pub fn port_name(name: &str) -> String {
    if name.contains(':') {
        name.to_string()
    } else {
        format!("netmap:{name}")
    }
}

/// Opens a port or exits with a clear message: status 2, or 128 + the
/// signal's number (130 for SIGINT) when SIGINT/SIGTERM interrupted the
/// opening (a NIC's link wait).
pub fn open_port(tool: &str, name: &str) -> Port {
    match vfio_netmap::ports::open(&port_name(name)) {
        Ok(p) => p,
        Err(e) if stopped() => {
            eprintln!("{tool}: stopped while opening {}: {e}", port_name(name));
            std::process::exit(signal_exit_status().into());
        }
        Err(e) => {
            eprintln!("{tool}: cannot open {}: {e}", port_name(name));
            std::process::exit(2);
        }
    }
}

/// Empty rounds of busy polling before an idle loop falls back to poll()...
const SPIN_ROUNDS: u32 = 1000;
/// ...and, after those, time without work. A wake-up by interrupt can take
/// milliseconds in a virtual machine (in QEMU's TCG lab, 1-10 ms were
/// measured while the other vCPU transmitted), and a stream paced with
/// gaps of a fraction of a millisecond would fill a ring meanwhile; a
/// round count alone would sleep in such gaps where rounds are slow.
const SPIN_TIME: Duration = Duration::from_millis(5);

/// With `--busy`, how often an idle loop still looks (in a poll() that
/// does not sleep) whether its peer is gone.
const BUSY_PEER_CHECK: Duration = Duration::from_millis(100);

/// When an idle loop stops busy polling and sleeps in poll().
#[derive(Default)]
pub struct Idle {
    rounds: u32,
    since: Option<Instant>,
    busy: bool,
}

impl Idle {
    /// An idle loop that never sleeps (`busy`), as DPDK's poll-mode loops
    /// do: in a VM each wake-up from sleep is an interrupt, and under
    /// QEMU's TCG one that waits for the global lock the other vCPU holds.
    pub fn new(busy: bool) -> Idle {
        Idle {
            busy,
            ..Idle::default()
        }
    }

    /// How long the poll() after `should_sleep` may wait: not at all when
    /// busy (it only reports a peer gone).
    pub fn timeout(&self) -> Duration {
        if self.busy {
            Duration::ZERO
        } else {
            POLL_SLICE
        }
    }

    /// Whether the poll() that `should_sleep` allowed really slept.
    pub fn sleeps(&self) -> bool {
        !self.busy
    }

    /// Work was found: spin again next time the loop runs dry.
    #[inline]
    pub fn reset(&mut self) {
        self.rounds = 0;
        self.since = None;
    }

    /// Counts an empty round; true once the loop has been idle for
    /// `SPIN_ROUNDS` rounds and `SPIN_TIME`, and from then on until
    /// `reset`.
    #[inline]
    pub fn should_sleep(&mut self) -> bool {
        if self.rounds < SPIN_ROUNDS {
            self.rounds += 1;
            return false;
        }
        let now = Instant::now();
        match self.since {
            None => {
                self.since = Some(now);
                false
            }
            Some(t) if self.busy => {
                let check = now.duration_since(t) >= BUSY_PEER_CHECK;
                if check {
                    self.since = Some(now);
                }
                check
            }
            Some(t) => now.duration_since(t) >= SPIN_TIME,
        }
    }
}

/// How long a receive loop slept in poll() between frames (idle periods
/// that ended with more frames; the wait after the last one is not
/// counted). A receiver asleep for longer than its ring lasts loses the
/// overflow; a poll() that timed out although frames came afterwards
/// means a wake-up that came late or never.
#[derive(Default)]
pub struct Sleeps {
    waits: u64,
    total: Duration,
    longest: Duration,
    timed_out: u64,
    current: Duration,
    current_timed_out: u64,
}

impl Sleeps {
    /// One poll() call of this idle period: how long it took and whether
    /// it returned without an event.
    pub fn slept(&mut self, took: Duration, timed_out: bool) {
        self.current += took;
        self.current_timed_out += timed_out as u64;
    }

    /// Frames came: the idle period, if any, counts.
    #[inline]
    pub fn frames_came(&mut self) {
        if self.current > Duration::ZERO {
            self.waits += 1;
            self.total += self.current;
            self.longest = self.longest.max(self.current);
            self.timed_out += self.current_timed_out;
            self.current = Duration::ZERO;
            self.current_timed_out = 0;
        }
    }
}

impl std::fmt::Display for Sleeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Slept in poll() between frames {} time(s), {:.3} s in all, the longest {:.1} ms; \
             {} poll() call(s) timed out meanwhile",
            self.waits,
            self.total.as_secs_f64(),
            self.longest.as_secs_f64() * 1e3,
            self.timed_out
        )
    }
}

/// Longest single poll() sleep, so signals and reports are noticed.
pub const POLL_SLICE: Duration = Duration::from_millis(100);

/// Waits (in poll()) for `events` on one port, at most `timeout`; returns
/// poll's revents for it (POLLHUP when its peer is gone).
pub fn wait_port(port: &mut Port, events: u8, timeout: Duration) -> u8 {
    let mut items = [PollItem::new(port, events)];
    match poll(&mut items, Some(timeout)) {
        Ok(_) => items[0].revents,
        // SIGINT/SIGTERM: the caller's loop sees `stopped()`.
        Err(ApiError::Interrupted) => 0,
        Err(e) => {
            eprintln!("poll: {e}");
            POLLHUP
        }
    }
}

/// Waits up to `secs` for the peer of `port` to be there ("wait for link").
pub fn wait_for_link(port: &Port, secs: u64) -> bool {
    if port.peer_alive() {
        return true;
    }
    eprintln!("Wait {secs} secs for link to come up...");
    // A wait too long to represent is a wait without end (until a signal).
    let deadline = Instant::now().checked_add(Duration::from_secs(secs));
    while deadline.is_none_or(|d| Instant::now() < d) && !stopped() {
        if port.peer_alive() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    port.peer_alive()
}

/// Sleeps for `duration`, or less if SIGINT/SIGTERM arrives (checked
/// every 10 ms).
pub fn sleep_unless_stopped(duration: Duration) {
    let deadline = Instant::now().checked_add(duration);
    while !stopped() {
        let left = deadline.map_or(Duration::from_millis(10), |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(10)));
    }
}

/// The report interval `-T MS` asks for, at least 1 ms and at most 2^40
/// ms (35 years): an `Instant` plus it never overflows.
pub fn report_interval(ms: u64) -> Duration {
    Duration::from_millis(ms.clamp(1, 1 << 40))
}

/// Counters for one reporting interval (netmap pkt-gen's `my_ctrs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub pkts: u64,
    pub bytes: u64,
    pub events: u64,
    pub min_space: u32,
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            min_space: u32::MAX,
            ..Default::default()
        }
    }
}

/// netmap pkt-gen's periodic line:
/// `X.XXX Mpps (Y.YYY Mpkts Z.ZZZ Mbps in N usec) A.AA avg_batch M min_space`.
pub fn periodic_line(d: &Counters, usec: u64) -> String {
    let secs = usec.max(1) as f64 / 1e6;
    let pps = d.pkts as f64 / secs;
    let bps = d.bytes as f64 * 8.0 / secs;
    let batch = if d.events > 0 {
        d.pkts as f64 / d.events as f64
    } else {
        0.0
    };
    let min_space = if d.min_space == u32::MAX {
        0
    } else {
        d.min_space
    };
    format!(
        "{:.3} Mpps ({:.3} Mpkts {:.3} Mbps in {} usec) {:.2} avg_batch {} min_space",
        pps / 1e6,
        d.pkts as f64 / 1e6,
        bps / 1e6,
        usec,
        batch,
        min_space
    )
}

/// netmap pkt-gen's final `Speed:` line.
pub fn speed_line(pkts: u64, bytes: u64, events: u64, secs: f64) -> String {
    let secs = secs.max(1e-9);
    let pps = pkts as f64 / secs;
    let bw = bytes as f64 * 8.0 / secs;
    let raw = (bytes + 24 * pkts) as f64 * 8.0 / secs;
    let batch = if events > 0 {
        pkts as f64 / events as f64
    } else {
        0.0
    };
    format!(
        "Speed: {:.3} Mpps Bandwidth: {:.3} Mbps (raw {:.3} Mbps). Average batch: {:.2} pkts",
        pps / 1e6,
        bw / 1e6,
        raw / 1e6,
        batch
    )
}

/// How long [`drain_tx`] waits without the device taking a frame.
pub const DRAIN_STALL: Duration = Duration::from_secs(1);

/// Waits until the device has sent every frame handed to it, as netmap's
/// pkt-gen flushes before it exits: a NIC whose DMA runs behind the driver
/// (real hardware, the threaded model) would otherwise lose the last
/// frames to the closing reset, and the counters printed next would not
/// have them. Gives up once the device has taken no frame for
/// [`DRAIN_STALL`] (a receiver holding a flow-controlled link back that
/// long, a link down, a hung device), also after SIGINT/SIGTERM (this is
/// how a stopped tool finishes what it sent); returns how many frames it
/// left in the TX rings (0: all sent).
pub fn drain_tx(port: &mut Port) -> u64 {
    let pending = |port: &Port| -> u64 {
        (0..port.num_tx_rings())
            .filter_map(|i| port.tx_ring(i).ok())
            .map(|r| ((r.head() + r.num_slots() - r.next(r.tail())) % r.num_slots()) as u64)
            .sum()
    };
    let mut left = pending(port);
    let mut since = Instant::now();
    while left > 0 && since.elapsed() < DRAIN_STALL && port.txsync().is_ok() {
        let now = pending(port);
        if now < left {
            since = Instant::now();
        }
        left = now;
        std::thread::yield_now();
    }
    left
}
