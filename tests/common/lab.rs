//! Running commands in the lab guest from integration tests (shared by the
//! lab test files). Guests are serialized within a test binary (LAB_LOCK),
//! and cargo runs test binaries one after another.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

static LAB_LOCK: Mutex<()> = Mutex::new(());

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Takes the lab lock (even if a failed test poisoned it) and checks that
/// the lab can run; `None` means skipped.
pub fn lab_ready() -> Option<MutexGuard<'static, ()>> {
    if std::env::var("VFIO_NETMAP_SKIP_LAB").as_deref() == Ok("1") {
        eprintln!("skipped: VFIO_NETMAP_SKIP_LAB=1");
        return None;
    }
    let guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let out = Command::new(repo().join("hw/lab"))
            .arg("check")
            .output()
            .map_err(|e| format!("cannot run hw/lab: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(why) = check {
        panic!(
            "the lab is not available; run `hw/lab setup` (as root), or set VFIO_NETMAP_SKIP_LAB=1 to skip.\n{why}"
        );
    }
    Some(guard)
}

/// `hw/lab run ARGS -- sh -c SCRIPT`, from the repository root; run a
/// second time if one of the guest's emulated CPUs got stuck for good (a
/// fault of QEMU's the lab recognises, hw/README.md), never more.
pub fn lab_sh(args: &[&str], script: &str) -> Output {
    let out = lab_sh_once(args, script);
    if !is_guest_qemu_fault(&out) {
        return out;
    }
    eprintln!("a guest CPU got stuck (output above): running it again");
    lab_sh_once(args, script)
}

/// `hw/lab run` stopped the guest because one of its CPUs got stuck for
/// good in a way the lab knows as a fault of QEMU's (status 125 and the
/// lab's message).
pub fn is_guest_qemu_fault(out: &Output) -> bool {
    out.status.code() == Some(125)
        && String::from_utf8_lossy(&out.stderr)
            .contains("a fault of QEMU's, not COMMAND's; the guest was stopped")
}

/// `hw/lab run ARGS -- sh -c SCRIPT` once, whatever happens to the guest.
pub fn lab_sh_once(args: &[&str], script: &str) -> Output {
    let out = Command::new(repo().join("hw/lab"))
        .arg("run")
        .args(args)
        .args(["--", "sh", "-c", script])
        .current_dir(repo())
        .output()
        .expect("cannot run hw/lab");
    eprintln!(
        "hw/lab run {args:?}: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the examples (release) once per test binary, on the host: the
/// guest runs the host's binaries from the shared checkout.
pub fn build_examples() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--examples"])
            .current_dir(repo())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "building the examples failed");
    });
}
