//! Pipe throughput: a transmitting process sends 60-byte frames through a
//! vfio-netmap pipe to a receiving process, side by side in one run with
//! baselines: a Unix-domain datagram socket pair (sendmmsg/recvmmsg, across
//! processes) and a crossbeam channel (`crossbeam_channel::bounded`) between
//! two threads.
//!
//! ```text
//! cargo run --release --example pipe-bench -- [--seconds S] [--warmup W] [--repeat N] [--batches 32,512] [--only pipe,unix,...]
//! ```
//!
//! The transmitter runs on CPU 0, the receiver on CPU 1. The receiver
//! process is forked from the single-threaded parent before each
//! cross-process run. The transmitter keeps the clock (TSC): after `--warmup`
//! seconds it opens the measurement window, after `--seconds` more it closes
//! it; both sides record their counters and CPU time when they see the
//! window open and close. Throughput is packets *received* in the window
//! divided by the window's wall time. Every configuration runs `--repeat`
//! times, rounds interleaved; the table shows the median run and the range.
//!
//! Transports, for each batch size B:
//! * `pipe`: master end in the parent, slave end in the child. The sender
//!   fills up to B free slots (slot length 60 plus an 8-byte sequence number
//!   written into the buffer) and calls txsync; the receiver calls rxsync,
//!   reads up to B packets (checking each sequence number), advances head.
//!   Both sides busy-poll, through the crate's public `Ring` API.
//! * `pipe-desc` (descriptors only): the same without touching buffers (the
//!   sender only sets the slot length, the receiver only reads it): the
//!   ceiling of the rings and syncs themselves.
//! * `unix`: `socketpair(AF_UNIX, SOCK_DGRAM)`, blocking `sendmmsg` of B
//!   messages of 60 bytes, `recvmmsg(MSG_WAITFORONE)` of up to B.
//! * `unix-spin`: the same with `MSG_DONTWAIT` on both sides, busy-polling
//!   (no sleeps and wake-ups), so the baseline is not handicapped by them.
//! * `mpsc-frame`: one `[u8; 60]` per message, bound 1024 (a pipe ring's
//!   capacity); B only sets how often the clock is read.
//! * `mpsc-batch`: one `Vec<[u8; 60]>` of B frames per message, bound
//!   1024 / B messages (the same number of frames in flight).
//!
//! (The `mpsc-*` names are kept for the command line; the channel is
//! crossbeam's, a dev-dependency of the crate.)

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use vfio_netmap::api::Port;

const FRAME: usize = 60;
/// Frames a pipe ring holds (netmap's default 1024 slots, one always empty);
/// the mpsc baselines get the same capacity.
const RING_FRAMES: usize = 1024;

#[derive(Parser, Debug)]
#[command(about = "Pipe throughput across processes vs. Unix sockets and a crossbeam channel")]
struct Args {
    /// Length of each measurement window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Warm-up before each window, in seconds.
    #[arg(long, default_value_t = 0.3)]
    warmup: f64,
    /// Rounds: every configuration runs this many times, interleaved; the
    /// table shows the median run and the min-max range.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Batch sizes (packets per sync / per sendmmsg / per mpsc message).
    #[arg(long, value_delimiter = ',', default_value = "32,512")]
    batches: Vec<usize>,
    /// Transports to run (pipe, pipe-desc, unix, unix-spin, mpsc-frame,
    /// mpsc-batch);
    /// all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
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

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET and
    // sched_setaffinity only read/write that local set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!(
                "warning: cannot pin to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

// ------------------------------------------------- shared control block

const NOT_STARTED: u32 = 0;
const WARMUP: u32 = 1;
const MEASURE: u32 = 2;
const STOP: u32 = 3;

/// What the receiver records when it sees the window open (`[0]`) and
/// close (`[1]`).
#[derive(Default)]
#[repr(C, align(64))]
struct RxMark {
    packets: AtomicU64,
    cpu_ns: AtomicU64,
    /// Receive calls that returned at least one packet.
    polls: AtomicU64,
}

/// Control block shared by the two sides (an anonymous shared mapping, so
/// it survives fork), each written field on its own cache line.
#[repr(C)]
struct Ctl {
    phase: RxMark, // only .packets used, as the phase word (own line)
    ready: RxMark, // .packets = 1 once the receiver is set up
    marks: [RxMark; 2],
    seq_errors: AtomicU64,
}

impl Ctl {
    fn phase(&self) -> u32 {
        self.phase.packets.load(Ordering::Relaxed) as u32
    }
    fn set_phase(&self, p: u32) {
        self.phase.packets.store(p as u64, Ordering::Release);
    }
    fn is_ready(&self) -> bool {
        self.ready.packets.load(Ordering::Acquire) == 1
    }
    fn set_ready(&self) {
        self.ready.packets.store(1, Ordering::Release);
    }
}

/// `Ctl` in memory that a forked child shares.
struct SharedCtl {
    ptr: *mut Ctl,
}

impl SharedCtl {
    fn new() -> SharedCtl {
        let len = std::mem::size_of::<Ctl>();
        // SAFETY: anonymous shared mapping of len bytes; zeroed memory is a
        // valid Ctl (all atomics).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(
            ptr != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        SharedCtl { ptr: ptr.cast() }
    }
    fn get(&self) -> &Ctl {
        // SAFETY: ptr is a live mapping of a Ctl (see new) until drop.
        unsafe { &*self.ptr }
    }
}

impl Drop for SharedCtl {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what new mapped; no reference outlives self.
        unsafe { libc::munmap(self.ptr.cast(), std::mem::size_of::<Ctl>()) };
    }
}

// SAFETY: Ctl is only atomics.
unsafe impl Sync for SharedCtl {}
// SAFETY: as above.
unsafe impl Send for SharedCtl {}

/// The receiver's view of the window: call `tick` after every receive
/// call; it records the counters when the phase changes and says whether
/// to go on.
struct RxProbe<'a> {
    ctl: &'a Ctl,
    seen: u32,
    packets: u64,
    polls: u64,
    marked: usize,
}

impl<'a> RxProbe<'a> {
    fn new(ctl: &'a Ctl) -> Self {
        RxProbe {
            ctl,
            seen: NOT_STARTED,
            packets: 0,
            polls: 0,
            marked: 0,
        }
    }

    #[inline(always)]
    fn got(&mut self, n: usize) {
        self.packets += n as u64;
        self.polls += (n != 0) as u64;
    }

    #[inline(always)]
    fn tick(&mut self) -> bool {
        let p = self.ctl.phase();
        p == self.seen || self.phase_changed(p)
    }

    /// Records whatever marks are still due when the receiver stops for a
    /// reason of its own (a channel whose sender is gone).
    fn finish(&mut self) {
        let p = self.ctl.phase();
        if p != self.seen {
            self.phase_changed(p);
        }
    }

    #[cold]
    #[inline(never)]
    fn phase_changed(&mut self, p: u32) -> bool {
        self.seen = p;
        let want = match p {
            MEASURE => 1,
            STOP => 2,
            _ => 0,
        };
        let cpu = thread_cpu_ns();
        while self.marked < want {
            let m = &self.ctl.marks[self.marked];
            m.packets.store(self.packets, Ordering::Relaxed);
            m.cpu_ns.store(cpu, Ordering::Relaxed);
            m.polls.store(self.polls, Ordering::Relaxed);
            self.marked += 1;
        }
        p != STOP
    }
}

/// The transmitter's clock: call `tick` after every batch.
struct TxClock<'a> {
    ctl: &'a Ctl,
    warmup: u64,
    window: u64,
    deadline: u64,
    marks: Vec<(u64, Instant, u64, u64)>, // ticks, wall, cpu ns, packets sent
    ticks_per_ms: f64,
    /// Longest time (ticks) the sender went without getting a packet out.
    last_sent: u64,
    last_progress: u64,
    longest_stall: u64,
}

impl<'a> TxClock<'a> {
    fn new(ctl: &'a Ctl, cfg: &Config) -> Self {
        TxClock {
            ctl,
            warmup: (cfg.warmup * cfg.tick_hz) as u64,
            window: (cfg.seconds * cfg.tick_hz) as u64,
            deadline: u64::MAX,
            marks: Vec::with_capacity(2),
            ticks_per_ms: cfg.tick_hz / 1e3,
            last_sent: 0,
            last_progress: 0,
            longest_stall: 0,
        }
    }

    fn start(&mut self) {
        self.ctl.set_phase(WARMUP);
        self.last_progress = ticks();
        self.deadline = self.last_progress + self.warmup;
    }

    #[inline(always)]
    fn tick(&mut self, sent: u64) -> bool {
        let now = ticks();
        if sent != self.last_sent {
            self.longest_stall = self.longest_stall.max(now - self.last_progress);
            self.last_sent = sent;
            self.last_progress = now;
        }
        now < self.deadline || self.deadline_passed(sent)
    }

    #[cold]
    #[inline(never)]
    fn deadline_passed(&mut self, sent: u64) -> bool {
        let now = ticks();
        self.marks
            .push((now, Instant::now(), thread_cpu_ns(), sent));
        if self.marks.len() == 1 {
            self.ctl.set_phase(MEASURE);
            self.deadline = now + self.window;
            true
        } else {
            self.ctl.set_phase(STOP);
            false
        }
    }
}

// ------------------------------------------------------------- results

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Pipe,
    PipeDesc,
    Unix,
    UnixSpin,
    MpscFrame,
    MpscBatch,
}

impl Transport {
    const ALL: [Transport; 6] = [
        Transport::Pipe,
        Transport::PipeDesc,
        Transport::Unix,
        Transport::UnixSpin,
        Transport::MpscFrame,
        Transport::MpscBatch,
    ];

    fn key(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::PipeDesc => "pipe-desc",
            Transport::Unix => "unix",
            Transport::UnixSpin => "unix-spin",
            Transport::MpscFrame => "mpsc-frame",
            Transport::MpscBatch => "mpsc-batch",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Transport::Pipe => "vfio-netmap pipe, 2 processes",
            Transport::PipeDesc => "vfio-netmap pipe, descriptors only",
            Transport::Unix => "unix dgram sendmmsg/recvmmsg, 2 processes",
            Transport::UnixSpin => "unix dgram, MSG_DONTWAIT busy-poll, 2 processes",
            Transport::MpscFrame => "crossbeam channel, per frame, 2 threads",
            Transport::MpscBatch => "crossbeam channel, per batch Vec, 2 threads",
        }
    }
}

struct Config {
    repeat: usize,
    seconds: f64,
    warmup: f64,
    tick_hz: f64,
}

struct Outcome {
    transport: Transport,
    batch: usize,
    received: u64,
    sent: u64,
    /// Sent since the start, warm-up included.
    total_sent: u64,
    wall: f64,
    ticks: u64,
    tx_cpu_ns: u64,
    rx_cpu_ns: u64,
    rx_polls: u64,
    seq_errors: u64,
    longest_stall_ms: f64,
    note: Option<String>,
}

impl Outcome {
    fn mpps(&self) -> f64 {
        self.received as f64 / self.wall / 1e6
    }
    fn ns_per_pkt(&self) -> f64 {
        self.wall * 1e9 / self.received.max(1) as f64
    }
    fn ticks_per_pkt(&self) -> f64 {
        self.ticks as f64 / self.received.max(1) as f64
    }
    fn cpu_ns_per_pkt(&self) -> f64 {
        (self.tx_cpu_ns + self.rx_cpu_ns) as f64 / self.received.max(1) as f64
    }
    fn avg_rx_batch(&self) -> f64 {
        self.received as f64 / self.rx_polls.max(1) as f64
    }
    /// Share of the two CPUs the two sides got during the window: below
    /// ~95 % for busy-polling transports means something else ran.
    fn cpu_share(&self) -> f64 {
        (self.tx_cpu_ns + self.rx_cpu_ns) as f64 / (2.0 * self.wall * 1e9)
    }
}

fn outcome(
    transport: Transport,
    batch: usize,
    ctl: &Ctl,
    clock: &TxClock<'_>,
    note: Option<String>,
) -> Outcome {
    let (m0, m1) = (&ctl.marks[0], &ctl.marks[1]);
    let get = |a: &AtomicU64, b: &AtomicU64| {
        b.load(Ordering::Relaxed)
            .saturating_sub(a.load(Ordering::Relaxed))
    };
    let (tx0, tx1) = match clock.marks.as_slice() {
        [a, b] => (*a, *b),
        _ => panic!("transmitter did not complete its window"),
    };
    Outcome {
        transport,
        batch,
        received: get(&m0.packets, &m1.packets),
        sent: tx1.3 - tx0.3,
        total_sent: tx1.3,
        wall: (tx1.1 - tx0.1).as_secs_f64(),
        ticks: tx1.0 - tx0.0,
        tx_cpu_ns: tx1.2 - tx0.2,
        rx_cpu_ns: get(&m0.cpu_ns, &m1.cpu_ns),
        rx_polls: get(&m0.polls, &m1.polls),
        seq_errors: ctl.seq_errors.load(Ordering::Relaxed),
        longest_stall_ms: clock.longest_stall as f64 / clock.ticks_per_ms,
        note,
    }
}

// ------------------------------------------------- running two sides

/// Forks a receiver pinned to CPU 1 running `rx`, runs `tx` here on CPU 0,
/// and waits for the child. Must be called while this process has a single
/// thread.
fn cross_process(
    ctl: &Ctl,
    rx: impl FnOnce(),
    tx: impl FnOnce(&dyn Fn() -> bool),
) -> Result<(), String> {
    std::io::stdout().flush().ok();
    std::io::stderr().flush().ok();
    // SAFETY: the process is single-threaded here (the mpsc runs join
    // their threads), so the child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        pin_to(1);
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(rx)).is_ok();
        // SAFETY: leaving the child without running the parent's
        // destructors or atexit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 101 }) };
    }
    let child_alive = || {
        let mut status = 0;
        // SAFETY: pid is our child; WNOHANG does not block.
        unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == 0 }
    };
    let tx_result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx(&child_alive)));
    ctl.set_phase(STOP);
    let mut status = 0;
    // SAFETY: waiting for our own child (may already be reaped by
    // child_alive, then this returns ECHILD and status stays 0).
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if tx_result.is_err() {
        return Err("transmitter panicked".into());
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "receiver exited with status {}",
            libc::WEXITSTATUS(status)
        ));
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "receiver killed by signal {}",
            libc::WTERMSIG(status)
        ));
    }
    Ok(())
}

/// Waits until the receiver says it is set up (or died).
fn wait_ready(ctl: &Ctl, alive: &dyn Fn() -> bool) {
    let start = Instant::now();
    while !ctl.is_ready() {
        assert!(alive(), "receiver died before it was ready");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "receiver not ready after 10 s"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

// ------------------------------------------------------------ the pipe

fn run_pipe(
    cfg: &Config,
    batch: usize,
    descriptors_only: bool,
    run_id: usize,
) -> Result<Outcome, String> {
    let transport = if descriptors_only {
        Transport::PipeDesc
    } else {
        Transport::Pipe
    };
    let region = format!("pbench{}x{run_id}", std::process::id());
    let master = format!("netmap:{region}{{0");
    let slave = format!("netmap:{region}}}0");
    let shared = SharedCtl::new();
    let ctl = shared.get();
    let mut clock = None;
    cross_process(
        ctl,
        || pipe_receiver(ctl, &slave, batch, descriptors_only),
        |alive| {
            let mut port = vfio_netmap::ports::open(&master).expect("open pipe master");
            wait_ready(ctl, alive);
            let mut c = TxClock::new(ctl, cfg);
            pipe_sender(&mut port, &mut c, batch, descriptors_only);
            clock = Some(c);
        },
    )?;
    let clock = clock.ok_or("no transmitter result")?;
    Ok(outcome(transport, batch, ctl, &clock, None))
}

fn pipe_sender(port: &mut Port, clock: &mut TxClock<'_>, batch: usize, descriptors_only: bool) {
    let batch = batch as u32;
    let mut seq: u64 = 0;
    clock.start();
    loop {
        {
            let mut ring = port.tx_ring(0).expect("a pipe end has TX ring 0");
            let n = ring.space().min(batch);
            if n > 0 {
                let mut cur = ring.cur();
                for _ in 0..n {
                    if !descriptors_only {
                        let buf = ring.buf_mut(cur).expect("tx slot owned");
                        buf[..8].copy_from_slice(&seq.to_le_bytes());
                    }
                    ring.set_len(cur, FRAME as u16)
                        .expect("cur is a slot of the ring");
                    cur = ring.next(cur);
                    seq += 1;
                }
                ring.advance_to(cur);
            }
        }
        port.txsync().expect("txsync");
        if !clock.tick(seq) {
            break;
        }
    }
}

fn pipe_receiver(ctl: &Ctl, name: &str, batch: usize, descriptors_only: bool) {
    let mut port = vfio_netmap::ports::open(name).expect("open pipe slave");
    ctl.set_ready();
    let batch = batch as u32;
    let mut probe = RxProbe::new(ctl);
    let mut expect: u64 = 0;
    let mut errors = 0;
    loop {
        port.rxsync().expect("rxsync");
        let ring = port.rx_ring(0).expect("a pipe end has RX ring 0");
        let n = ring.space().min(batch);
        let mut head = ring.head();
        for _ in 0..n {
            if descriptors_only {
                errors += ring.slot(head).is_none_or(|s| s.len as usize != FRAME) as u64;
            } else {
                let pkt = ring.packet(head).expect("rx slot owned");
                let seq = u64::from_le_bytes(pkt[..8].try_into().unwrap());
                if seq != expect || pkt.len() != FRAME {
                    errors += 1;
                }
                expect = seq + 1;
            }
            head = ring.next(head);
        }
        ring.advance_to(head);
        probe.got(n as usize);
        if !probe.tick() {
            break;
        }
    }
    ctl.seq_errors.store(errors, Ordering::Relaxed);
}

// -------------------------------------------------- unix socket pair

fn set_timeout(fd: i32, opt: i32, d: Duration) {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as _,
        tv_usec: d.subsec_micros() as _,
    };
    // SAFETY: fd is an open socket; tv is a valid timeval of the given size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&tv as *const libc::timeval).cast(),
            size_of_val(&tv) as u32,
        );
    }
}

fn sockopt_int(fd: i32, opt: i32) -> i32 {
    let mut v: i32 = 0;
    let mut len = 4u32;
    // SAFETY: fd is an open socket; v and len are valid for an int option.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    v
}

/// Message headers for `batch` 60-byte buffers in `bufs`.
fn mmsg_headers(bufs: &mut [[u8; FRAME]], iovs: &mut Vec<libc::iovec>) -> Vec<libc::mmsghdr> {
    iovs.clear();
    iovs.extend(bufs.iter_mut().map(|b| libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: FRAME,
    }));
    iovs.iter_mut()
        .map(|iov| {
            // SAFETY: a zeroed msghdr is valid (no name, no control).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect()
}

fn run_unix(cfg: &Config, batch: usize, spin: bool) -> Result<Outcome, String> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
    }
    let (txfd, rxfd) = (fds[0], fds[1]);
    // The largest send buffer the system allows without privileges, so a
    // whole batch of 512 fits in flight, then a bounded wait either way.
    let big: i32 = 4 << 20;
    // SAFETY: txfd is an open socket; big is an int.
    unsafe {
        libc::setsockopt(
            txfd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&big as *const i32).cast(),
            4,
        );
        libc::setsockopt(
            rxfd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&big as *const i32).cast(),
            4,
        );
    }
    set_timeout(txfd, libc::SO_SNDTIMEO, Duration::from_millis(50));
    set_timeout(rxfd, libc::SO_RCVTIMEO, Duration::from_millis(50));
    let note = format!("SO_SNDBUF {} bytes", sockopt_int(txfd, libc::SO_SNDBUF));
    let shared = SharedCtl::new();
    let ctl = shared.get();
    let mut clock = None;
    let result = cross_process(
        ctl,
        || {
            // SAFETY: closing the child's copy of the sending end.
            unsafe { libc::close(txfd) };
            unix_receiver(ctl, rxfd, batch, spin);
        },
        |alive| {
            wait_ready(ctl, alive);
            let mut c = TxClock::new(ctl, cfg);
            unix_sender(txfd, &mut c, batch, spin);
            clock = Some(c);
        },
    );
    // SAFETY: closing the parent's descriptors, opened above.
    unsafe {
        libc::close(txfd);
        libc::close(rxfd);
    }
    result?;
    let clock = clock.ok_or("no transmitter result")?;
    let transport = if spin {
        Transport::UnixSpin
    } else {
        Transport::Unix
    };
    Ok(outcome(transport, batch, ctl, &clock, Some(note)))
}

fn unix_sender(fd: i32, clock: &mut TxClock<'_>, batch: usize, spin: bool) {
    let flags = if spin { libc::MSG_DONTWAIT } else { 0 };
    let mut bufs = vec![[0u8; FRAME]; batch];
    let mut iovs = Vec::new();
    let mut hdrs = mmsg_headers(&mut bufs, &mut iovs);
    let mut seq: u64 = 0;
    let mut off = batch; // nothing pending
    clock.start();
    loop {
        if off == batch {
            for h in &hdrs {
                // SAFETY: each header's single iovec points at a 60-byte
                // buffer of `bufs`, which outlives this loop.
                unsafe { ((*h.msg_hdr.msg_iov).iov_base as *mut u64).write_unaligned(seq.to_le()) };
                seq += 1;
            }
            off = 0;
        }
        // SAFETY: hdrs[off..] are valid headers for live buffers.
        let n =
            unsafe { libc::sendmmsg(fd, hdrs[off..].as_mut_ptr(), (batch - off) as u32, flags) };
        if n > 0 {
            off += n as usize;
        }
        if !clock.tick(seq - (batch - off) as u64) {
            break;
        }
    }
    drop(iovs);
}

fn unix_receiver(ctl: &Ctl, fd: i32, batch: usize, spin: bool) {
    let flags = if spin {
        libc::MSG_DONTWAIT
    } else {
        libc::MSG_WAITFORONE
    };
    let mut bufs = vec![[0u8; FRAME]; batch];
    let mut iovs = Vec::new();
    let mut hdrs = mmsg_headers(&mut bufs, &mut iovs);
    ctl.set_ready();
    let mut probe = RxProbe::new(ctl);
    let mut expect: u64 = 0;
    let mut errors = 0;
    loop {
        // SAFETY: hdrs are valid headers for live 60-byte buffers.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                batch as u32,
                flags,
                std::ptr::null_mut(),
            )
        };
        let n = n.max(0) as usize;
        for h in &hdrs[..n] {
            // SAFETY: as above; the kernel filled the first msg_len bytes.
            let seq = u64::from_le(unsafe {
                ((*h.msg_hdr.msg_iov).iov_base as *const u64).read_unaligned()
            });
            if seq != expect || h.msg_len as usize != FRAME {
                errors += 1;
            }
            expect = seq + 1;
        }
        probe.got(n);
        if !probe.tick() {
            break;
        }
    }
    ctl.seq_errors.store(errors, Ordering::Relaxed);
}

// --------------------------------------------------------- std mpsc

fn run_mpsc(cfg: &Config, batch: usize, per_batch: bool) -> Result<Outcome, String> {
    let shared = SharedCtl::new();
    let ctl = shared.get();
    let mut clock = TxClock::new(ctl, cfg);
    std::thread::scope(|s| {
        if per_batch {
            let (tx, rx) =
                crossbeam_channel::bounded::<Vec<[u8; FRAME]>>((RING_FRAMES / batch).max(1));
            s.spawn(move || {
                pin_to(1);
                ctl.set_ready();
                let mut probe = RxProbe::new(ctl);
                let (mut expect, mut errors) = (0u64, 0u64);
                while let Ok(v) = rx.recv() {
                    for f in &v {
                        let seq = u64::from_le_bytes(f[..8].try_into().unwrap());
                        errors += (seq != expect) as u64;
                        expect = seq + 1;
                    }
                    probe.got(v.len());
                    if !probe.tick() {
                        break;
                    }
                }
                // The sender may hang up (setting STOP first) while this
                // side waits in recv: record the marks now.
                probe.finish();
                ctl.seq_errors.store(errors, Ordering::Relaxed);
            });
            wait_ready(ctl, &|| true);
            let mut seq = 0u64;
            clock.start();
            loop {
                let mut v = Vec::with_capacity(batch);
                for _ in 0..batch {
                    let mut f = [0u8; FRAME];
                    f[..8].copy_from_slice(&seq.to_le_bytes());
                    v.push(f);
                    seq += 1;
                }
                if tx.send(v).is_err() || !clock.tick(seq) {
                    break;
                }
            }
        } else {
            let (tx, rx) = crossbeam_channel::bounded::<[u8; FRAME]>(RING_FRAMES);
            s.spawn(move || {
                pin_to(1);
                ctl.set_ready();
                let mut probe = RxProbe::new(ctl);
                let (mut expect, mut errors) = (0u64, 0u64);
                while let Ok(f) = rx.recv() {
                    let seq = u64::from_le_bytes(f[..8].try_into().unwrap());
                    errors += (seq != expect) as u64;
                    expect = seq + 1;
                    probe.got(1);
                    if !probe.tick() {
                        break;
                    }
                }
                // The sender may hang up (setting STOP first) while this
                // side waits in recv: record the marks now.
                probe.finish();
                ctl.seq_errors.store(errors, Ordering::Relaxed);
            });
            wait_ready(ctl, &|| true);
            let mut seq = 0u64;
            clock.start();
            'outer: loop {
                for _ in 0..batch {
                    let mut f = [0u8; FRAME];
                    f[..8].copy_from_slice(&seq.to_le_bytes());
                    if tx.send(f).is_err() {
                        break 'outer;
                    }
                    seq += 1;
                }
                if !clock.tick(seq) {
                    break;
                }
            }
        }
        // The sender is dropped here: a receiver blocked in recv wakes up.
    });
    let transport = if per_batch {
        Transport::MpscBatch
    } else {
        Transport::MpscFrame
    };
    let note = per_batch.then(|| format!("bound {} messages", (RING_FRAMES / batch).max(1)));
    Ok(outcome(transport, batch, ctl, &clock, note))
}

// ---------------------------------------------------------------- main

fn main() {
    let args = Args::parse();
    let wanted = |t: Transport| args.only.is_empty() || args.only.iter().any(|k| k == t.key());
    for k in &args.only {
        if !Transport::ALL.iter().any(|t| t.key() == k) {
            eprintln!(
                "unknown transport `{k}`; known: pipe, pipe-desc, unix, unix-spin, mpsc-frame, mpsc-batch"
            );
            std::process::exit(2);
        }
    }
    if args.batches.iter().any(|&b| b == 0 || b > RING_FRAMES - 1) {
        eprintln!("batch sizes must be between 1 and {}", RING_FRAMES - 1);
        std::process::exit(2);
    }
    pin_to(0);
    let cfg = Config {
        repeat: args.repeat.max(1),
        seconds: args.seconds,
        warmup: args.warmup,
        tick_hz: calibrate_ticks(),
    };
    eprintln!(
        "pipe-bench: {FRAME}-byte frames, batches {:?}, {} s warm-up + {} s per run, TSC {:.3} GHz",
        args.batches,
        cfg.warmup,
        cfg.seconds,
        cfg.tick_hz / 1e9
    );
    let mut results = Vec::new();
    let mut run_id = 0;
    for round in 1..=cfg.repeat {
        eprintln!("round {round}/{}", cfg.repeat);
        for &batch in &args.batches {
            for t in Transport::ALL.into_iter().filter(|&t| wanted(t)) {
                run_id += 1;
                let r = match t {
                    Transport::Pipe => run_pipe(&cfg, batch, false, run_id),
                    Transport::PipeDesc => run_pipe(&cfg, batch, true, run_id),
                    Transport::Unix => run_unix(&cfg, batch, false),
                    Transport::UnixSpin => run_unix(&cfg, batch, true),
                    Transport::MpscFrame => run_mpsc(&cfg, batch, false),
                    Transport::MpscBatch => run_mpsc(&cfg, batch, true),
                };
                match r {
                    Ok(o) => {
                        eprintln!(
                            "  batch {batch:>4}  {:<48} {:>8.2} Mpps  CPU {:>3.0}%  (sent {}, received {}, \
                             seq errors {}, longest TX stall {:.1} ms, {} sent in all{})",
                            t.label(),
                            o.mpps(),
                            o.cpu_share() * 100.0,
                            o.sent,
                            o.received,
                            o.seq_errors,
                            o.longest_stall_ms,
                            o.total_sent,
                            o.note
                                .as_deref()
                                .map(|n| format!(", {n}"))
                                .unwrap_or_default()
                        );
                        results.push(o);
                    }
                    Err(e) => eprintln!("  batch {batch:>4}  {:<48} FAILED: {e}", t.label()),
                }
            }
        }
    }
    print_table(&results, &args.batches, &cfg);
}

/// The run with the median rate among `runs` (the lower middle one for an
/// even count).
fn median<'a>(runs: &[&'a Outcome]) -> &'a Outcome {
    let mut v = runs.to_vec();
    v.sort_by(|a, b| a.mpps().total_cmp(&b.mpps()));
    v[(v.len() - 1) / 2]
}

fn print_table(results: &[Outcome], batches: &[usize], cfg: &Config) {
    let runs = |batch: usize, t: Transport| -> Vec<&Outcome> {
        results
            .iter()
            .filter(|o| o.batch == batch && o.transport == t)
            .collect()
    };
    let med_mpps = |batch: usize, t: Transport| {
        let r = runs(batch, t);
        (!r.is_empty()).then(|| median(&r).mpps())
    };
    let ratio = |x: f64, b: Option<f64>| b.map_or("n/a".to_string(), |b| format!("{:.0}x", x / b));
    println!();
    println!(
        "| batch | transport | Mpps (median) | min-max | ns/pkt | TSC cycles/pkt | CPU ns/pkt (tx+rx) \
         | CPU share | avg rx batch | vs unix blocking | vs best unix | seq errors |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &batch in batches {
        let blocking = med_mpps(batch, Transport::Unix);
        let best = match (blocking, med_mpps(batch, Transport::UnixSpin)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for t in Transport::ALL {
            let r = runs(batch, t);
            if r.is_empty() {
                continue;
            }
            let m = median(&r);
            let lo = r.iter().map(|o| o.mpps()).fold(f64::INFINITY, f64::min);
            let hi = r.iter().map(|o| o.mpps()).fold(0.0, f64::max);
            println!(
                "| {} | {} | {:.2} | {:.2}-{:.2} | {:.2} | {:.1} | {:.2} | {:.0} % | {:.1} | {} | {} | {} |",
                batch,
                t.label(),
                m.mpps(),
                lo,
                hi,
                m.ns_per_pkt(),
                m.ticks_per_pkt(),
                m.cpu_ns_per_pkt(),
                m.cpu_share() * 100.0,
                m.avg_rx_batch(),
                ratio(m.mpps(), blocking),
                ratio(m.mpps(), best),
                r.iter().map(|o| o.seq_errors).sum::<u64>()
            );
        }
    }
    println!();
    println!(
        "{} run(s) per row, {:.1} s windows after {:.1} s warm-up; columns other than min-max are from the \
         median run. TSC {:.3} GHz: \"TSC cycles\" are TSC ticks per packet over the window (wall-clock \
         time), not core cycles. CPU ns/pkt adds both sides' CPU time; CPU share is that time over two \
         CPUs' worth of wall time (busy-polling transports should be near 100 %; less means other work ran \
         on these CPUs). \"best unix\" is the faster of the two Unix-socket rows at that batch.",
        cfg.repeat,
        cfg.seconds,
        cfg.warmup,
        cfg.tick_hz / 1e9
    );
}
