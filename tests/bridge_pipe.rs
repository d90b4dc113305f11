//! bridge between processes: pkt-gen tx -> pipe -> bridge -> pipe ->
//! pkt-gen rx, zero-copy (both pipes in one region) and copying (two
//! regions), fixed and mixed frame sizes, and both directions (ping through
//! the bridge to pong and back).
//!
//! Like tests/pktgen_pipe.rs, the tests run release-built examples, one test
//! at a time.

mod common;

use common::tools::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn total(out: &str, dir: &str) -> u64 {
    let l = line(out, "Total ");
    let at = l.find(dir).unwrap_or_else(|| panic!("no {dir} in `{l}`")) + dir.len();
    l[at..].split_whitespace().next().unwrap().parse().unwrap()
}

/// tx on `a{0` -> bridge `a}0`/`b{0` -> rx on `b}0` (a pipe id of 0 and 1
/// when `a == b`, so both pipes share one region).
fn run_chain(a: &str, b: &str, n: u64, len: &str, zero_copy: bool) {
    let (a_id, b_id) = if a == b { ("0", "1") } else { ("0", "0") };
    let n_s = n.to_string();
    let t = Instant::now();
    let rx = pktgen(&[
        "-i",
        &format!("netmap:{b}}}{b_id}"),
        "-f",
        "rx",
        "-n",
        &n_s,
        "-l",
        len,
    ]);
    let br = bridge(&[
        "-i",
        &format!("netmap:{a}}}{a_id}"),
        "-i",
        &format!("netmap:{b}{{{b_id}"),
        "-T",
        "500",
    ]);
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{a}{{{a_id}"),
        "-f",
        "tx",
        "-n",
        &n_s,
        "-l",
        len,
    ]);
    let tx = finish(tx, Duration::from_secs(120), "tx");
    let rx = finish(rx, Duration::from_secs(120), "rx");
    let br = finish(br, Duration::from_secs(20), "bridge");
    eprintln!(
        "{n} packets of {len} bytes through the bridge in {:.2?}",
        t.elapsed()
    );
    assert!(tx.status.success() && rx.status.success() && br.status.success());
    let start = br.stdout.lines().next().unwrap();
    if zero_copy {
        assert!(start.contains("zero-copy"), "{start}");
    } else {
        assert!(
            start.contains("copying") && !start.contains("zero-copy"),
            "{start}"
        );
    }
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        format!("Verified: {n} ok, 0 lost, 0 out-of-order, 0 corrupt")
    );
    assert_eq!(total(&br.stdout, "A->B: "), n);
    assert_eq!(total(&br.stdout, "B->A: "), 0);
}

#[test]
fn zero_copy_bridge_keeps_every_packet_in_order() {
    let _g = serial();
    let x = unique("zc");
    run_chain(&x, &x, 3_000_000, "60", true);
}

#[test]
fn zero_copy_bridge_with_mixed_sizes() {
    let _g = serial();
    let x = unique("zcmix");
    run_chain(&x, &x, 1_000_000, "60-1514", true);
}

#[test]
fn copying_bridge_between_two_regions() {
    let _g = serial();
    let (a, b) = (unique("cpa"), unique("cpb"));
    run_chain(&a, &b, 1_000_000, "60-1514", false);
}

#[test]
fn ping_through_the_bridge_to_pong_and_back() {
    let _g = serial();
    let x = unique("bping");
    let pong = pktgen(&["-i", &format!("netmap:{x}}}1"), "-f", "pong"]);
    let br = bridge(&[
        "-i",
        &format!("netmap:{x}}}0"),
        "-i",
        &format!("netmap:{x}{{1"),
    ]);
    let ping = pktgen(&[
        "-i",
        &format!("netmap:{x}{{0"),
        "-f",
        "ping",
        "-n",
        "1000",
        "-l",
        "60-1514",
    ]);
    let ping = finish(ping, Duration::from_secs(30), "ping");
    let br = finish(br, Duration::from_secs(10), "bridge");
    let pong = finish(pong, Duration::from_secs(10), "pong");
    assert!(ping.status.success() && br.status.success() && pong.status.success());
    assert_eq!(
        line(&ping.stdout, "Sent "),
        "Sent 1000 packets, 1000 replies, 0 timeouts."
    );
    assert!(line(&ping.stdout, "RTT min/avg/max = ").ends_with(" us"));
    assert_eq!(total(&br.stdout, "A->B: "), 1000);
    assert_eq!(total(&br.stdout, "B->A: "), 1000);
}

#[test]
fn bridge_stops_on_sigterm_with_totals() {
    let _g = serial();
    let x = unique("bterm");
    let br = bridge(&[
        "-i",
        &format!("netmap:{x}}}0"),
        "-i",
        &format!("netmap:{x}{{1"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(br.id() as i32, libc::SIGTERM) };
    let br = finish(br, Duration::from_secs(5), "bridge after SIGTERM");
    assert!(br.status.success());
    assert_eq!(total(&br.stdout, "A->B: "), 0);
}

#[test]
fn one_port_is_a_clear_error() {
    let x = unique("one");
    let out = Command::new(example("bridge"))
        .args(["-i", &format!("netmap:{x}}}0")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not supported") && err.contains("-i A -i B"),
        "{err}"
    );
}
