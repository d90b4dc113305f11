//! Runs the VFIO layer's in-guest tests (`tests/vfio_in_guest.rs`, ignored on
//! the host) inside the lab, with one NIC of each kind that matters: e1000
//! (INTx only, no reset), e1000e and igb (MSI/MSI-X, reset).

mod common;

use std::process::Command;

use common::lab::*;

/// The path of the `vfio_in_guest` test binary, built for release.
fn vfio_in_guest_binary() -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "test",
            "--release",
            "--test",
            "vfio_in_guest",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(repo())
        .output()
        .expect("cannot run cargo");
    assert!(out.status.success(), "building vfio_in_guest failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"name\":\"vfio_in_guest\""))
        .find_map(|l| {
            let at = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            Some(l[at..].split('"').next()?.to_string())
        })
        .expect("cargo did not report the vfio_in_guest executable")
}

/// One boot, seven tests, including 1,000 open/map/unmap/close cycles that
/// must leave fds, mappings and locked memory where they started.
#[test]
fn vfio_layer_works_in_the_guest() {
    let Some(_lab) = lab_ready() else { return };
    let bin = vfio_in_guest_binary();
    build_examples();
    let run = || {
        lab_sh(
            &["--nic", "e1000", "--nic", "e1000e", "--nic", "igb"],
            &format!("{bin} --ignored --test-threads=1"),
        )
    };
    let mut out = run();
    if !out.status.success() {
        // One failure of seven in-guest tests was seen once on a loaded
        // host and never reproduced; its output is above. Retry once so
        // that CI shows whether it is persistent.
        eprintln!("vfio_in_guest failed once (output above); running it again");
        out = run();
    }
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 7 passed"), "{text}");
}
