//! The hostile-peer test of issue 18: while two pkt-gen processes pass
//! 1,000,000 frames through a pipe, this process (a third one, with write
//! access to the region file) writes random and boundary values at every
//! field of the region header, the pipe table, the `netmap_if`s, the ring
//! headers, the slots and the allocation bitmaps, for a bounded time, while
//! a thread opens and closes another pipe of the same region. Both ends
//! must end with success or a typed error: never a signal (SIGSEGV,
//! SIGBUS), never a panic, never a hang (a SIGTERM ends them).
//!
//! `HOSTILE_ROUNDS=N` runs more rounds (default: one per target and one
//! at everything), `HOSTILE_SECONDS=S` attacks longer (default 1.5),
//! `HOSTILE_SEED` picks the random sequence (printed).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::region_file::{PIPE_ENTRY, RegionFile, entry};
use common::tools::{Done, finish, pktgen_env, serial, unique};

const FRAMES: &str = "1000000";

/// What a round writes at.
#[derive(Clone, Copy, Debug)]
enum Target {
    Header,
    PipeTable,
    NetmapIfs,
    RingHeaders,
    Slots,
    Bitmaps,
    Everything,
}

const TARGETS: [Target; 7] = [
    Target::Header,
    Target::PipeTable,
    Target::NetmapIfs,
    Target::RingHeaders,
    Target::Slots,
    Target::Bitmaps,
    Target::Everything,
];

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte ranges of the region a target covers.
fn ranges(file: &RegionFile, target: Target) -> Vec<(usize, usize)> {
    let rings: Vec<usize> = (0..4).map(|k| file.pipe_ring(0, k)).collect();
    let slots = 1024 * 16;
    match target {
        Target::Header => vec![(0, 48)],
        Target::PipeTable => vec![(file.pipe_entry(0), file.pipe_entry(0) + PIPE_ENTRY)],
        Target::NetmapIfs => (0..2)
            .map(|i| {
                let at = file.if_area() + i * 4096;
                (at, at + 128)
            })
            .collect(),
        Target::RingHeaders => rings.iter().map(|&r| (r, r + 256)).collect(),
        Target::Slots => rings.iter().map(|&r| (r + 256, r + 256 + slots)).collect(),
        Target::Bitmaps => vec![(file.bitmaps(), file.bitmaps() + 4096)],
        Target::Everything => TARGETS[..6].iter().flat_map(|&t| ranges(file, t)).collect(),
    }
}

/// Values that sit on the edges of what the code checks.
fn boundary_values(file: &RegionFile) -> Vec<u64> {
    let (n, ring) = (1024u64, file.pipe_ring(0, 0) as u64);
    let bufs = file.num_bufs() as u64;
    vec![
        0,
        1,
        2,
        7,
        8,
        n - 1,
        n,
        n + 1,
        file.max_slots() as u64,
        bufs - 1,
        bufs,
        u32::MAX as u64 - 1,
        u32::MAX as u64,
        i32::MAX as u64,
        u64::MAX,
        0xffff_ffff_ffff_ff80,
        1 << 63,
        ring + 128,
        ring - 128,
        file.ring_area() as u64,
        file.bitmaps() as u64,
        file.len() as u64,
    ]
}

/// Writes one hostile value somewhere in `ranges`.
fn strike(file: &RegionFile, ranges: &[(usize, usize)], values: &[u64], rng: &mut Rng) {
    let (lo, hi) = ranges[rng.below(ranges.len())];
    let wide = rng.next() % 2 == 0;
    let align = if wide { 8 } else { 4 };
    let at = (lo + rng.below(hi - lo)) / align * align;
    if at + align > hi.min(file.len()) {
        return;
    }
    let v = if rng.next() % 2 == 0 {
        values[rng.below(values.len())]
    } else {
        rng.next()
    };
    if wide {
        file.write_u64(at, v);
    } else {
        file.write_u32(at, v as u32);
    }
}

/// Waits for the region file and pipe entry 0 to exist.
fn wait_for_pipe(path: &Path) -> Option<RegionFile> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            let file = RegionFile::open(path);
            if file.read_u32(file.pipe_entry(0) + entry::IN_USE) == 1 {
                return Some(file);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn running(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Ends a child that is still running with SIGTERM, which pkt-gen must
/// honour; then collects it.
fn end(mut child: Child, what: &str) -> Done {
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(&mut child) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if running(&mut child) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    finish(child, Duration::from_secs(10), what)
}

fn check(done: &Done, what: &str, round: &str) -> bool {
    assert!(
        done.status.signal().is_none(),
        "{round}: {what} died of signal {:?}:\n{}",
        done.status.signal(),
        done.stderr
    );
    assert!(
        done.status.code() != Some(101) && !done.stderr.contains("panicked"),
        "{round}: {what} panicked:\n{}",
        done.stderr
    );
    done.status.success()
}

#[test]
fn a_hostile_writer_cannot_crash_hang_or_panic_either_end() {
    let _g = serial();
    let dir = PathBuf::from(format!("/tmp/vfio-netmap-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // SAFETY: set before this test starts threads; the binary has only this
    // test, and ports opened in this process look the variable up.
    unsafe { std::env::set_var("VFIO_NETMAP_SHM_DIR", &dir) };
    let env = [("VFIO_NETMAP_SHM_DIR", dir.to_str().unwrap())];
    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let seconds: f64 = std::env::var("HOSTILE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    let rounds: usize = std::env::var("HOSTILE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(TARGETS.len());
    eprintln!("HOSTILE_SEED={seed}, {rounds} rounds of {seconds} s");
    let mut rng = Rng(seed);
    let (mut ok_ends, mut error_ends, mut writes) = (0, 0, 0u64);
    for round in 0..rounds {
        let target = TARGETS[round % TARGETS.len()];
        let name = unique("hostile");
        let label = format!("round {round} ({target:?}, seed {seed})");
        let rx = pktgen_env(
            &["-i", &format!("netmap:{name}}}0"), "-f", "rx", "-n", FRAMES],
            &env,
        );
        let tx = pktgen_env(
            &["-i", &format!("netmap:{name}{{0"), "-f", "tx", "-n", FRAMES],
            &env,
        );
        let path = dir.join(format!("vfio-netmap.pipe-{name}"));
        let Some(file) = wait_for_pipe(&path) else {
            let (tx, rx) = (end(tx, "tx"), end(rx, "rx"));
            panic!(
                "{label}: the pipe never appeared:\n{}\n{}",
                tx.stderr, rx.stderr
            );
        };
        file.check_layout(1024);
        let (ranges, values) = (ranges(&file, target), boundary_values(&file));
        // Another pipe of the same region opened and closed meanwhile: the
        // open and close paths read the table too.
        let stop = AtomicBool::new(false);
        let (mut tx, mut rx) = (tx, rx);
        std::thread::scope(|s| {
            let churn = s.spawn(|| {
                let mut cycles = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let a = vfio_netmap::ports::open(&format!("netmap:{name}{{1"));
                    let b = vfio_netmap::ports::open(&format!("netmap:{name}}}1"));
                    drop((a, b));
                    cycles += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                cycles
            });
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < seconds && (running(&mut tx) || running(&mut rx))
            {
                for _ in 0..8 {
                    strike(&file, &ranges, &values, &mut rng);
                    writes += 1;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            stop.store(true, Ordering::Relaxed);
            let cycles = churn.join().expect("opening and closing a pipe panicked");
            eprintln!("{label}: {cycles} open/close cycles beside");
        });
        for (child, what) in [(tx, "tx"), (rx, "rx")] {
            let done = end(child, what);
            if check(&done, what, &label) {
                ok_ends += 1;
            } else {
                error_ends += 1;
                let first = done.stderr.lines().find(|l| l.contains("pkt-gen:"));
                eprintln!("{label}: {what} ended with {}: {first:?}", done.status);
            }
        }
        drop(file);
        let _ = std::fs::remove_file(&path);
    }
    eprintln!(
        "{writes} hostile writes; ends: {ok_ends} succeeded, {error_ends} ended with an error"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
