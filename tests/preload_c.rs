//! Unmodified-style netmap C programs (tests/c/*.c, built with gcc against
//! include/vfio_netmap.h) on our ports through the preload library
//! (`preload/`, libvfio_netmap_preload.so): the header's layout against
//! src/abi.rs, 1,000,000 frames between two processes over a pipe with the
//! NIOCCTRL and the legacy NIOCREGIF paths and over a `model:` cable, a
//! forked child keeping its parent's registration, and the error numbers
//! of bad requests. Skipped, saying why, when gcc is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use vfio_netmap::abi::ctrl;

const FRAMES: u64 = 1_000_000;
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One frame-moving test at a time: two busy processes each on 2 CPUs.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn unique(tag: &str) -> String {
    format!(
        "{tag}{}n{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// target/release, where cargo leaves the preload library and binaries.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The preload library, built once (with `model:` ports, as the tests
/// and examples build the crate with its `models` feature).
fn preload() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let t = Instant::now();
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--release",
                    "-p",
                    "vfio-netmap-preload",
                    "--features",
                    "models",
                ])
                .current_dir(root())
                .status()
                .expect("running cargo build");
            assert!(
                status.success(),
                "cargo build -p vfio-netmap-preload failed"
            );
            eprintln!("built the preload library in {:.1?}", t.elapsed());
            let lib = release_dir().join("libvfio_netmap_preload.so");
            assert!(lib.is_file(), "{} missing after the build", lib.display());
            lib
        })
        .clone()
}

/// Whether gcc is there; prints why the test is skipped if not.
fn have_gcc() -> bool {
    let ok = Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: gcc is not installed (apt-get install gcc)");
    }
    ok
}

/// tests/c/NAME.c compiled against include/ into target/release/c-tests/,
/// once per test binary (into a temporary name, then renamed, so runs at
/// the same time never see half a binary).
fn c_program(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let dir = release_dir().join("c-tests");
    let out = dir.join(name);
    if built.iter().any(|b| b == name) {
        return out;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let o = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-O2", "-I"])
        .arg(root().join("include"))
        .arg(root().join("tests/c").join(format!("{name}.c")))
        .arg("-o")
        .arg(&tmp)
        .output()
        .expect("running gcc");
    assert!(
        o.status.success(),
        "gcc {name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    built.push(name.to_string());
    out
}

/// Runs a C program under the preload library.
fn spawn(prog: &Path, args: &[&str]) -> Child {
    Command::new(prog)
        .args(args)
        .env("LD_PRELOAD", preload())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning a C test program")
}

/// Waits at most `limit` for `child`, killing it after that.
fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "{what} still running after {limit:?}:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A receiver, then (after it has slept in poll for a while) a sender;
/// checks that every frame arrived in order, and, if `idle_check`, that
/// the receiver slept rather than spun while waiting.
fn frames(rx: &[&str], tx: &[&str], idle_check: bool) -> String {
    let prog = c_program("nm_frames");
    let receiver = spawn(&prog, rx);
    std::thread::sleep(Duration::from_millis(500));
    let sender = spawn(&prog, tx);
    let limit = Duration::from_secs(60);
    let s = finish(sender, limit, "the C sender");
    let r = finish(receiver, limit, "the C receiver");
    let (out, sent) = (
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&s.stdout).into_owned(),
    );
    assert!(sent.contains(&format!("sent {FRAMES}")), "sender: {sent}");
    assert!(
        out.contains(&format!("received {FRAMES} in order")),
        "receiver: {out}"
    );
    // "idle cpu C ms over W ms": the first poll, before the sender came.
    let nums: Vec<f64> = out
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [_, polls, cpu, wall] = nums[..] else {
        panic!("unexpected receiver output: {out}");
    };
    assert!(
        polls >= 2.0 && polls < FRAMES as f64 / 8.0,
        "the receiver should wake per batch: {out}"
    );
    if idle_check {
        assert!(
            wall >= 200.0 && cpu < wall / 10.0,
            "the receiver should sleep in poll(), not spin: {out}"
        );
    }
    out
}

#[test]
fn header_layout_matches_abi() {
    if !have_gcc() {
        return;
    }
    let o = Command::new(c_program("layout")).output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let mut checked = 0;
    for (name, size, fields) in ctrl::layouts() {
        let line = format!("{name} size {size}");
        assert!(
            text.lines().any(|l| l == line),
            "C disagrees: want `{line}`"
        );
        for (field, offset) in fields {
            let line = format!("{name}.{field} offset {offset}");
            assert!(
                text.lines().any(|l| l == line),
                "C disagrees: want `{line}`"
            );
            checked += 1;
        }
    }
    for (name, value) in [
        ("NIOCCTRL", ctrl::NIOCCTRL),
        ("NIOCTXSYNC", ctrl::NIOCTXSYNC),
        ("NIOCRXSYNC", ctrl::NIOCRXSYNC),
        ("NIOCGINFO", ctrl::NIOCGINFO),
        ("NIOCREGIF", ctrl::NIOCREGIF),
    ] {
        let line = format!("ioctl {name} {value}");
        assert!(
            text.lines().any(|l| l == line),
            "C disagrees: want `{line}`"
        );
    }
    assert!(checked > 80, "only {checked} fields compared");
}

#[test]
fn pipe_million_frames_nioctrl_poll_driven() {
    if !have_gcc() {
        return;
    }
    let _g = serial();
    let p = unique("cctl");
    let count = FRAMES.to_string();
    frames(
        &["rx", "ctrl", &format!("netmap:{p}}}0"), &count],
        &["tx", "ctrl", &format!("netmap:{p}{{0"), &count],
        true,
    );
}

#[test]
fn pipe_million_frames_legacy_nm_open_path() {
    if !have_gcc() {
        return;
    }
    let _g = serial();
    let p = unique("cleg");
    let count = FRAMES.to_string();
    frames(
        &["rx", "legacy", &format!("netmap:{p}}}0"), &count],
        &["tx", "legacy", &format!("netmap:{p}{{0"), &count],
        true,
    );
}

#[test]
fn model_cable_million_frames() {
    if !have_gcc() {
        return;
    }
    let _g = serial();
    // A cable of its own (`@conf:wire=`, which nr_name can carry in the
    // API-14 path). Model ports nap (no interrupts): no idle check here.
    let w = unique("cwire");
    let count = FRAMES.to_string();
    frames(
        &[
            "rx",
            "ctrl",
            &format!("netmap:model:ixgbe1@conf:wire={w}"),
            &count,
        ],
        &[
            "tx",
            "ctrl",
            &format!("netmap:model:ixgbe0@conf:wire={w}"),
            &count,
        ],
        false,
    );
}

#[test]
fn forked_child_keeps_the_registration() {
    if !have_gcc() {
        return;
    }
    let _g = serial();
    let p = unique("cfork");
    let count = FRAMES.to_string();
    // The sender registers, forks, closes its fd in the parent at once;
    // the child sends every frame through the inherited rings.
    frames(
        &["rx", "ctrl", &format!("netmap:{p}}}0"), &count],
        &["tx", "ctrl", &format!("netmap:{p}{{0"), &count, "fork"],
        true,
    );
}

#[test]
fn bad_requests_get_netmaps_error_numbers() {
    if !have_gcc() {
        return;
    }
    let o = finish(
        spawn(&c_program("nm_errors"), &[&unique("cerr")]),
        Duration::from_secs(30),
        "nm_errors",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\n0 failures"), "{out}");
    assert!(
        out.lines().filter(|l| l.starts_with("ok: ")).count() >= 40,
        "{out}"
    );
}

#[test]
fn launcher_runs_a_program_under_the_preload() {
    if !have_gcc() {
        return;
    }
    let _g = serial();
    preload();
    let p = unique("cexec");
    let prog = c_program("nm_frames");
    let launcher = env!("CARGO_BIN_EXE_vfio-netmap");
    let run = |args: &[&str]| {
        Command::new(launcher)
            .arg("exec")
            .arg("--")
            .arg(&prog)
            .args(args)
            .env_remove("LD_PRELOAD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let rx = run(&["rx", "ctrl", &format!("netmap:{p}}}0"), "10000"]);
    std::thread::sleep(Duration::from_millis(200));
    let tx = run(&["tx", "ctrl", &format!("netmap:{p}{{0"), "10000"]);
    finish(tx, Duration::from_secs(30), "tx under vfio-netmap exec");
    let o = finish(rx, Duration::from_secs(30), "rx under vfio-netmap exec");
    assert!(String::from_utf8_lossy(&o.stdout).contains("received 10000 in order"));
}

#[test]
fn launcher_without_the_library_says_how_to_build_it() {
    let dir = std::env::temp_dir().join(unique("nolib"));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("vfio-netmap");
    std::fs::copy(env!("CARGO_BIN_EXE_vfio-netmap"), &copy).unwrap();
    let o = Command::new(&copy)
        .args(["exec", "--", "true"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("libvfio_netmap_preload.so is missing")
            && err.contains("cargo build --release"),
        "{err}"
    );
}
