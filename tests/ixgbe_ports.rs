//! `model:ixgbeN` ports as users run them: pkt-gen and bridge in separate
//! processes, each port the real ixgbe driver on an 82599 model, cables
//! joining ports 2k and 2k+1. Each test has cables of its own
//! (`@conf:wire=NAME`), apart from other tests and from whoever tries the
//! README's commands on the same machine.

mod common;

use std::time::Duration;

use common::tools::*;
use vfio_netmap::api::Port;
use vfio_netmap::ports::PortError;

/// pkt-gen tx on one end of a cable, pkt-gen rx on the other, in two
/// processes: 1,000,000 frames of every size from 60 to 1514 bytes arrive
/// intact and in order, and both models' counters agree.
#[test]
fn pkt_gen_over_a_model_cable_delivers_every_frame() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let rx = pktgen(&["-i", &m(1), "-f", "rx", "-n", "1000000"]);
    std::thread::sleep(Duration::from_millis(1500));
    let tx = pktgen(&["-i", &m(0), "-f", "tx", "-n", "1000000", "-l", "60-1514"]);
    let tx = finish(tx, Duration::from_secs(60), "pkt-gen tx");
    let rx = finish(rx, Duration::from_secs(60), "pkt-gen rx");
    assert!(tx.status.success() && rx.status.success());
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 1000000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
    let tx_nic = line(&tx.stdout, "NIC counters:");
    let rx_nic = line(&rx.stdout, "NIC counters:");
    assert!(tx_nic.contains(" GPTC=1000000 "), "{tx_nic}");
    assert!(rx_nic.contains(" GPRC=1000000 "), "{rx_nic}");
    assert!(rx_nic.contains(" QPRDC0=0"), "nothing dropped: {rx_nic}");
    assert!(line(&rx.stdout, "NIC:").contains("82599 (ixgbe)"));
}

/// pkt-gen tx on cable 28's first end, bridge between the other end and
/// cable 29's first end (zero-copy: one process, one region), pkt-gen rx on
/// the last end: 1,000,000 frames cross four models and three processes
/// intact and in order.
#[test]
fn bridge_between_model_cables_forwards_every_frame() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let rx = pktgen(&["-i", &m(3), "-f", "rx", "-n", "1000000"]);
    let bridge = bridge(&["-i", &m(1), "-i", &m(2)]);
    std::thread::sleep(Duration::from_millis(1500));
    let tx = pktgen(&["-i", &m(0), "-f", "tx", "-n", "1000000", "-l", "60-1514"]);
    let tx = finish(tx, Duration::from_secs(60), "pkt-gen tx");
    let rx = finish(rx, Duration::from_secs(60), "pkt-gen rx");
    // Stop the bridge as a user would (SIGTERM): it prints its totals.
    let pid = bridge.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let bridge = finish(bridge, Duration::from_secs(10), "bridge");
    assert!(tx.status.success() && rx.status.success());
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 1000000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
    assert!(
        bridge.stdout.contains("zero-copy"),
        "two model ports of one process share a region: {}",
        bridge.stdout
    );
    let total = line(&bridge.stdout, "Total A->B:");
    assert!(total.starts_with("Total A->B: 1000000 pkts"), "{total}");
}

/// A cable end has one owner; names outside the models are refused with
/// the list of valid ones.
#[test]
fn model_ports_refuse_a_second_owner_and_unknown_names() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let first = vfio_netmap::ports::open(&format!("{},link-wait=0", m(0))).unwrap();
    let second = vfio_netmap::ports::open(&format!("{},link-wait=0", m(0))).unwrap_err();
    assert!(
        matches!(second, PortError::ModelPortBusy { .. }),
        "{second}"
    );
    drop(first);
    // Closed: the end can be opened again.
    drop(vfio_netmap::ports::open(&format!("{},link-wait=0", m(0))).unwrap());
    for bad in ["model:ixgbe64", "model:e1000", "model:ixgbe"] {
        let e = vfio_netmap::ports::open(bad).unwrap_err();
        assert!(matches!(e, PortError::UnknownModel { .. }), "{bad}: {e}");
        assert!(e.to_string().contains("`model:ixgbe0` .. `model:ixgbe63`"));
    }
}

/// The link is up only while both ends of a cable are open.
#[test]
fn the_link_follows_the_far_end() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let a = vfio_netmap::ports::open(&format!("{},link-wait=0", m(0))).unwrap();
    // The model's wire thread notices the far end within milliseconds.
    let link_becomes = |p: &Port, want: bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while p.peer_alive() != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        p.peer_alive() == want
    };
    assert!(!a.peer_alive(), "nothing at the far end yet");
    let b = vfio_netmap::ports::open(&format!("{},link-wait=0", m(1))).unwrap();
    assert!(link_becomes(&a, true), "far end plugged in: link up");
    drop(b);
    assert!(link_becomes(&a, false), "far end gone: link down");
}

/// Flow control on the cable: a receiver that does not read for a while
/// (its 256 descriptors fill) holds the sender back instead of losing
/// frames; once it reads, all 2,000 arrive intact and in order, and its
/// model counted no drop.
#[test]
fn a_receiver_out_of_descriptors_holds_the_sender_back() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let frame = |k: u32| {
        let mut f = vec![0u8; 60 + k as usize % 200];
        f[..6].fill(0xff);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f[14..18].copy_from_slice(&k.to_le_bytes());
        f
    };
    let mut a = vfio_netmap::ports::open(&format!("{},link-wait=0", m(0))).unwrap();
    let mut b = vfio_netmap::ports::open(&format!("{},slots=256,link-wait=0", m(1))).unwrap();
    let sender = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for k in 0..2000u32 {
            while !a.tx_batch(0).unwrap().push(&frame(k)) {
                a.txsync().unwrap();
                assert!(std::time::Instant::now() < deadline, "sender stuck at {k}");
                std::thread::yield_now();
            }
        }
        a.txsync().unwrap();
        a
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut got = 0u32;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got < 2000 {
        assert!(std::time::Instant::now() < deadline, "received {got}");
        b.rxsync().unwrap();
        let mut batch = b.rx_batch(0).unwrap();
        while let Some(f) = batch.next() {
            assert_eq!(f, &frame(got)[..], "frame {got}");
            got += 1;
        }
    }
    let _a = sender.join().unwrap();
    let info = b.nic_info().unwrap();
    assert_eq!(info.counter("GPRC"), Some(2000));
    assert_eq!(info.counter("QPRDC0"), Some(0), "none dropped");
    assert_eq!(info.counter("MPC"), Some(0));
}

/// A NIC with many ring pairs opens without `@conf:bufs` (the first NIC
/// port sizes the process's region for two such NICs), up to the 64 pairs
/// `@conf:rings` allows, and its last pair carries frames: 500 sent on
/// TX ring 63 of one end arrive intact and in order at the other.
#[test]
fn many_ring_pairs_need_no_pool_option() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w},link-wait=0,rings=64");
    let mut a = vfio_netmap::ports::open(&m(0)).unwrap();
    let mut b = vfio_netmap::ports::open(&m(1)).unwrap();
    assert!(a.shares_region_with(&b));
    assert_eq!((a.num_tx_rings(), b.num_rx_rings()), (64, 64));
    let frame = |k: u32| {
        let mut f = vec![0u8; 60 + k as usize % 100];
        f[..6].fill(0xff);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f[14..18].copy_from_slice(&k.to_le_bytes());
        f
    };
    let last = 63;
    let (mut sent, mut got) = (0u32, 0u32);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got < 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "received {got} of {sent}"
        );
        while sent < 500 && a.tx_batch(last).unwrap().push(&frame(sent)) {
            sent += 1;
        }
        a.txsync_ring(last).unwrap();
        b.rxsync().unwrap();
        for r in 0..b.num_rx_rings() {
            let mut batch = b.rx_batch(r).unwrap();
            while let Some(f) = batch.next() {
                assert_eq!(f, &frame(got)[..], "frame {got} on ring {r}");
                got += 1;
            }
        }
    }
    assert_eq!(b.nic_info().unwrap().counter("GPRC"), Some(500));
}

/// A model port whose cable has no far end keeps its link down, so
/// opening it waits the whole `@conf:link-wait` (any number of seconds:
/// one beyond u64 saturates instead of being refused or overflowing).
/// SIGINT ends that wait at once: pkt-gen says it was interrupted and
/// exits 130 (128 + SIGINT), as a shell reports a process SIGINT ended.
#[test]
fn sigint_ends_a_link_wait_while_opening() {
    let _serial = serial();
    for secs in [
        "4294967295",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        let w = unique("mw");
        let port = format!("model:ixgbe0@conf:wire={w},link-wait={secs}");
        let p = pktgen(&["-i", &port, "-f", "tx", "-n", "1"]);
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(p.id() as i32, libc::SIGINT) };
        let t = std::time::Instant::now();
        let out = finish(p, Duration::from_secs(5), "pkt-gen waiting for link");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "SIGINT took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
        assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
        assert!(out.stderr.contains("link-wait"), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

/// The cable's flow control holds: a receiver stopped (SIGSTOP) for 2 s
/// while the sender runs holds the sender back, and once it resumes every
/// frame arrives; nothing is lost and the sender's `wire_lost` is 0. A
/// sender with nothing at the cable's far end loses its frames: counted
/// (`wire_lost`), reported, exit status 1, never silently.
#[test]
fn a_stalled_receiver_holds_the_sender_back_and_loss_is_never_silent() {
    let _serial = serial();
    let w = unique("mw");
    let m = |n: u32| format!("model:ixgbe{n}@conf:wire={w}");
    let rx = pktgen(&["-i", &m(1), "-f", "rx", "-n", "200000"]);
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(rx.id() as i32, libc::SIGSTOP) };
    let tx = pktgen(&["-i", &m(0), "-f", "tx", "-n", "200000"]);
    std::thread::sleep(Duration::from_millis(2500));
    // SAFETY: as above.
    unsafe { libc::kill(rx.id() as i32, libc::SIGCONT) };
    let tx = finish(tx, Duration::from_secs(60), "pkt-gen tx");
    let rx = finish(rx, Duration::from_secs(60), "pkt-gen rx");
    assert!(tx.status.success() && rx.status.success());
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 200000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
    assert!(line(&tx.stdout, "NIC counters:").ends_with(" wire_lost=0"));

    let lone = format!("model:ixgbe0@conf:wire={}", unique("mw"));
    let tx = pktgen(&["-i", &lone, "-f", "tx", "-n", "1000", "-w", "0"]);
    let tx = finish(tx, Duration::from_secs(20), "pkt-gen tx with no far end");
    assert_eq!(tx.status.code(), Some(1), "{}", tx.stdout);
    assert!(line(&tx.stdout, "NIC counters:").ends_with(" wire_lost=1000"));
    assert!(line(&tx.stdout, "Wire lost: 1000 frame(s)").contains("far end"));
}
