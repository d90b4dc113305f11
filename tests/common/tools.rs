//! Running the example binaries (pkt-gen, bridge) from integration tests:
//! built once in release, one test at a time per binary (busy-polling
//! processes on a 2-CPU machine distort each other), with unique pipe names.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

static BUILD: Once = Once::new();
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Path of a release-built example, building the examples once.
pub fn example(name: &str) -> PathBuf {
    BUILD.call_once(|| {
        let t = Instant::now();
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build --release --examples failed");
        eprintln!("built examples in {:.1?}", t.elapsed());
    });
    // target/<profile>/deps/<this test> -> target/release/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().parent().unwrap();
    target.join("release").join("examples").join(name)
}

/// A pipe name no other test (or test run) uses.
pub fn unique(tag: &str) -> String {
    format!(
        "{tag}{}n{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn pktgen(args: &[&str]) -> Child {
    Command::new(example("pkt-gen"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning pkt-gen")
}

/// pkt-gen with extra environment variables.
pub fn pktgen_env(args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(example("pkt-gen"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning pkt-gen")
}

pub struct Done {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Waits for `child` at most `limit` (killing it and failing after that).
pub fn finish(mut child: Child, limit: Duration, what: &str) -> Done {
    let start = Instant::now();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            let st = child.wait().unwrap();
            let (o, e) = (t_out.join().unwrap(), t_err.join().unwrap());
            panic!("{what} did not finish within {limit:?} ({st}):\n{o}\n{e}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let done = Done {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        elapsed: start.elapsed(),
    };
    eprintln!(
        "--- {what}: {} in {:.2?}\n{}{}",
        done.status, done.elapsed, done.stdout, done.stderr
    );
    done
}

pub fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
}

pub fn bridge(args: &[&str]) -> Child {
    Command::new(example("bridge"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bridge")
}
