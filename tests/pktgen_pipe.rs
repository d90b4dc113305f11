//! pkt-gen across processes over netmap pipes: throughput with full
//! verification, frame validity (checked with etherparse), ping/pong, rate
//! limiting, and a sender killed with SIGKILL.
//!
//! The tests run the example binary, built once with `--release` (a debug
//! build is far too slow for 10 million packets). They take a lock so that
//! only one runs at a time: each spawns busy-polling processes, and running
//! them side by side on a small machine would distort the timing checks.

mod common;

use common::tools::*;
use std::process::Command;
use std::time::{Duration, Instant};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

#[test]
fn ten_million_packets_cross_processes_verified() {
    let _g = serial();
    let name = unique("tenm");
    let n = "10000000";
    let t = Instant::now();
    let rx = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "rx", "-n", n]);
    let tx = pktgen(&["-i", &format!("netmap:{name}{{0"), "-f", "tx", "-n", n]);
    let tx = finish(tx, Duration::from_secs(120), "tx");
    let rx = finish(rx, Duration::from_secs(120), "rx");
    eprintln!("10M packets end to end in {:.2?}", t.elapsed());
    assert!(tx.status.success());
    assert!(rx.status.success());
    assert!(line(&tx.stdout, "Sent ").starts_with("Sent 10000000 packets 600000000 bytes"));
    assert!(line(&rx.stdout, "Received ").starts_with("Received 10000000 packets 600000000 bytes"));
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 10000000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
    assert!(line(&rx.stdout, "Speed: ").contains(" Mpps Bandwidth: "));
}

#[test]
fn receiver_reports_and_fails_on_a_short_count() {
    let _g = serial();
    let name = unique("short");
    let rx = pktgen(&[
        "-i",
        &format!("{name}}}0"),
        "-f",
        "rx",
        "-n",
        "2000",
        "-T",
        "100",
    ]);
    let tx = pktgen(&[
        "-i",
        &format!("{name}{{0"),
        "-f",
        "tx",
        "-n",
        "1000",
        "-l",
        "60-100",
    ]);
    let tx = finish(tx, Duration::from_secs(20), "tx");
    let rx = finish(rx, Duration::from_secs(20), "rx");
    assert!(tx.status.success());
    assert!(!rx.status.success(), "fewer packets than -n must fail");
    assert!(rx.stdout.contains("Peer gone"));
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 1000 ok, 1000 lost, 0 out-of-order, 0 corrupt"
    );
    let gap = line(&rx.stdout, "Lost in");
    assert!(
        gap.starts_with("Lost in 1 gap(s); the first: 1000 frame(s) from sequence number 1000,"),
        "{gap}"
    );
}

#[test]
fn killed_sender_is_detected_and_the_pipe_reopens() {
    let _g = serial();
    let name = unique("kill");
    let rx = pktgen(&[
        "-i",
        &format!("netmap:{name}}}0"),
        "-f",
        "rx",
        "-n",
        "0",
        "-T",
        "200",
    ]);
    let mut tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-n",
        "0",
        "-l",
        "60-1514",
    ]);
    std::thread::sleep(Duration::from_millis(700));
    tx.kill().unwrap(); // SIGKILL
    tx.wait().unwrap();
    let killed_at = Instant::now();
    let rx = finish(
        rx,
        Duration::from_secs(10),
        "rx after the sender was killed",
    );
    eprintln!(
        "rx noticed the dead sender and exited {:.2?} after the kill",
        killed_at.elapsed()
    );
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    assert!(
        rx.status.success(),
        "nothing lost or corrupt, so rx -n 0 succeeds"
    );
    assert!(rx.stdout.contains("Peer gone"));
    let received: u64 = line(&rx.stdout, "Received ")
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(received > 0);
    assert!(line(&rx.stdout, "Verified:").ends_with(" ok, 0 lost, 0 out-of-order, 0 corrupt"));

    // The same name works again for a new pair.
    let rx = pktgen(&[
        "-i",
        &format!("netmap:{name}}}0"),
        "-f",
        "rx",
        "-n",
        "100000",
    ]);
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-n",
        "100000",
    ]);
    let tx = finish(tx, Duration::from_secs(20), "tx (reopened)");
    let rx = finish(rx, Duration::from_secs(20), "rx (reopened)");
    assert!(tx.status.success() && rx.status.success());
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 100000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
}

#[test]
fn killed_receiver_stops_the_sender() {
    let _g = serial();
    let name = unique("killrx");
    let mut rx = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "rx"]);
    let tx = pktgen(&["-i", &format!("netmap:{name}{{0"), "-f", "tx", "-n", "0"]);
    std::thread::sleep(Duration::from_millis(700));
    rx.kill().unwrap();
    rx.wait().unwrap();
    let tx = finish(
        tx,
        Duration::from_secs(10),
        "tx after the receiver was killed",
    );
    assert!(tx.elapsed < Duration::from_secs(5));
    assert!(tx.stdout.contains("Peer gone"));
    assert!(tx.stdout.contains("Sent "));
}

/// Expected addresses of frame `k` for netmap's order: source port fastest,
/// then source IP, destination port, destination IP.
fn expected_addrs(k: u64) -> ([u8; 4], u16, [u8; 4], u16) {
    let (sp, k) = (1000 + k % 3, k / 3);
    let (si, k) = (1 + k % 3, k / 3);
    let (dp, k) = (2000 + k % 2, k / 2);
    let di = 1 + k % 2;
    (
        [10, 0, 0, si as u8],
        sp as u16,
        [10, 1, 0, di as u8],
        dp as u16,
    )
}

#[test]
fn frames_are_valid_udp_with_correct_checksums_and_cycling_addresses() {
    let _g = serial();
    let name = unique("valid");
    let mut port = vfio_netmap::ports::open(&format!("netmap:{name}}}0")).unwrap();
    let n = 20_000u64;
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-n",
        &n.to_string(),
        "-l",
        "60-1514",
        "-s",
        "10.0.0.1:1000-10.0.0.3:1002",
        "-d",
        "10.1.0.1:2000-10.1.0.2:2001",
        "-S",
        "02:00:00:00:00:01",
        "-D",
        "02:00:00:00:00:02",
        "-b",
        "64",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut k = 0u64;
    while k < n {
        assert!(Instant::now() < deadline, "only {k} of {n} frames arrived");
        port.rxsync().unwrap();
        let ring = port.rx_ring(0).unwrap();
        let mut head = ring.head();
        while head != ring.tail() {
            let frame = ring.packet(head).unwrap();
            assert_eq!(
                frame.len() as u64,
                60 + k % (1514 - 60 + 1),
                "length of frame {k}"
            );
            let p =
                SlicedPacket::from_ethernet(frame).unwrap_or_else(|e| panic!("frame {k}: {e:?}"));
            let Some(etherparse::LinkSlice::Ethernet2(eth)) = &p.link else {
                panic!("frame {k}: not Ethernet II")
            };
            assert_eq!(eth.source(), [2, 0, 0, 0, 0, 1]);
            assert_eq!(eth.destination(), [2, 0, 0, 0, 0, 2]);
            let Some(NetSlice::Ipv4(ip)) = &p.net else {
                panic!("frame {k}: not IPv4")
            };
            let iph = ip.header().to_header();
            assert_eq!(
                iph.header_checksum,
                iph.calc_header_checksum(),
                "IPv4 checksum of frame {k}"
            );
            assert_eq!(iph.total_len as usize, frame.len() - 14);
            let Some(TransportSlice::Udp(udp)) = &p.transport else {
                panic!("frame {k}: not UDP")
            };
            let udph = udp.to_header();
            assert_eq!(udph.length as usize, frame.len() - 34);
            let want = udph.calc_checksum_ipv4(&iph, udp.payload()).unwrap();
            assert_eq!(udph.checksum, want, "UDP checksum of frame {k}");
            let (sip, sport, dip, dport) = expected_addrs(k);
            assert_eq!(
                (
                    iph.source,
                    udph.source_port,
                    iph.destination,
                    udph.destination_port
                ),
                (sip, sport, dip, dport)
            );
            assert_eq!(
                u64::from_le_bytes(udp.payload()[..8].try_into().unwrap()),
                k,
                "sequence number"
            );
            k += 1;
            head = ring.next(head);
        }
        ring.advance_to(head);
    }
    port.rxsync().unwrap();
    let tx = finish(tx, Duration::from_secs(20), "tx");
    assert!(tx.status.success());
}

#[test]
fn ping_pong_round_trips() {
    let _g = serial();
    let name = unique("ping");
    let pong = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "pong"]);
    let ping = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "ping",
        "-n",
        "1000",
        "-T",
        "200",
    ]);
    let ping = finish(ping, Duration::from_secs(30), "ping");
    let pong = finish(pong, Duration::from_secs(10), "pong");
    assert!(ping.status.success());
    assert!(pong.status.success());
    assert_eq!(
        line(&ping.stdout, "Sent "),
        "Sent 1000 packets, 1000 replies, 0 timeouts."
    );
    let rtt = line(&ping.stdout, "RTT min/avg/max = ");
    let v: Vec<f64> = rtt
        .trim_start_matches("RTT min/avg/max = ")
        .trim_end_matches(" us")
        .split('/')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        v.len() == 3 && v[0] > 0.0 && v[0] <= v[1] && v[1] <= v[2],
        "{rtt}"
    );
    assert!(pong.stdout.contains("Received 1000 packets"));
}

#[test]
fn rate_limit_paces_the_sender() {
    let _g = serial();
    let name = unique("rate");
    let rx = pktgen(&[
        "-i",
        &format!("netmap:{name}}}0"),
        "-f",
        "rx",
        "-n",
        "20000",
    ]);
    let t = Instant::now();
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-R",
        "10000",
        "-n",
        "20000",
        "-T",
        "500",
    ]);
    let tx = finish(tx, Duration::from_secs(20), "tx -R 10000");
    let took = t.elapsed();
    let rx = finish(rx, Duration::from_secs(20), "rx");
    eprintln!("20000 packets at -R 10000 took {took:.2?}");
    assert!(tx.status.success() && rx.status.success());
    assert!(
        took > Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // The periodic line has netmap's shape.
    let periodic = tx
        .stdout
        .lines()
        .find(|l| l.contains(" avg_batch "))
        .expect("a periodic line");
    assert!(
        periodic.contains(" Mpps (")
            && periodic.contains(" Mpkts ")
            && periodic.ends_with(" min_space")
    );
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 20000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
}

#[test]
fn sigint_stops_a_receiver_with_a_summary() {
    let _g = serial();
    let name = unique("sig");
    let rx = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "rx"]);
    std::thread::sleep(Duration::from_millis(1500));
    // An idle receiver sleeps in poll() instead of spinning.
    let used = cpu_time(rx.id());
    eprintln!("idle rx used {used:?} of CPU in 1.5 s");
    assert!(
        used < Duration::from_millis(500),
        "idle receiver used {used:?} in 1.5 s"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(rx.id() as i32, libc::SIGINT) };
    let rx = finish(rx, Duration::from_secs(5), "idle rx after SIGINT");
    assert!(rx.stdout.contains("Received 0 packets"));
    assert!(rx.stdout.contains("Verified: 0 ok"));
}

/// CPU time (user + system) a child process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// With --busy nothing sleeps: an idle receiver spins, frames 10 ms apart
/// (-R 100) find it awake, and it still notices the sender go.
#[test]
fn busy_receiver_never_sleeps_and_still_sees_the_peer_go() {
    let _g = serial();
    let name = unique("busy");
    let rx = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "rx", "--busy"]);
    std::thread::sleep(Duration::from_millis(1500));
    let spun = cpu_time(rx.id());
    eprintln!("idle busy rx used {spun:?} of CPU in 1.5 s");
    assert!(spun > Duration::from_millis(900), "{spun:?}");
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-R",
        "100",
        "-n",
        "100",
        "--busy",
    ]);
    let tx = finish(tx, Duration::from_secs(10), "tx --busy -R 100");
    let rx = finish(rx, Duration::from_secs(5), "rx --busy after the sender");
    assert!(tx.status.success(), "{}", tx.stdout);
    assert!(rx.stdout.contains("Peer gone"), "{}", rx.stdout);
    assert!(rx.elapsed < Duration::from_secs(1), "{:?}", rx.elapsed);
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 100 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
    assert!(
        line(&rx.stdout, "Slept in poll()").starts_with("Slept in poll() between frames 0 time(s)"),
        "{}",
        rx.stdout
    );
}

#[test]
fn help_lists_netmap_options() {
    let out = Command::new(example("pkt-gen"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "-i,", "-f,", "-n,", "-l,", "-b,", "-R,", "-s,", "-d,", "-S,", "-D,", "-w,", "-T,",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    // The port names and `@conf:` keys a user needs for NICs, in both
    // tools.
    for tool in ["pkt-gen", "bridge"] {
        let out = Command::new(example(tool)).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for part in [
            "vfio:DDDD:BB:DD.F",
            "vfio-netmap bind",
            "model:ixgbeN",
            "slots=N",
            "rings=N",
            "promisc=1",
            "bufs=N",
        ] {
            assert!(help.contains(part), "{tool}: {part} missing:\n{help}");
        }
    }
}

/// A link wait too long to represent (`-w 2^63`) is a wait without end,
/// not a panic, and SIGINT ends it at once.
#[test]
fn a_huge_link_wait_ends_on_sigint() {
    let _g = serial();
    let name = unique("hugew");
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{0"),
        "-f",
        "tx",
        "-w",
        "9223372036854775808",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(tx.id() as i32, libc::SIGINT) };
    let tx = finish(tx, Duration::from_secs(2), "tx waiting for its peer");
    assert!(!tx.stderr.contains("panicked"), "{}", tx.stderr);
    assert!(tx.stdout.contains("Sent 0 packets"), "{}", tx.stdout);
}

/// `pkt-gen | head -1`: a closed stdout ends the tool quietly (SIGPIPE's
/// default action, as a C tool), with no panic message.
#[test]
fn a_closed_stdout_ends_pktgen_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let _g = serial();
    let name = unique("epipe");
    let rx = pktgen(&["-i", &format!("netmap:{name}}}0"), "-f", "rx"]);
    let mut tx = Command::new(example("pkt-gen"))
        .args(["-i", &format!("netmap:{name}{{0"), "-f", "tx", "-T", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(tx.stdout.take()); // the reader goes away, as `head` does
    let mut stderr = tx.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = tx.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "pkt-gen kept running");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status}: {err}");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(rx.id() as i32, libc::SIGINT) };
    finish(rx, Duration::from_secs(5), "rx");
}

/// A port opened for one direction only (`/R`: RX rings, `/T`: TX rings)
/// cannot serve a function that needs the other: pkt-gen says so at once
/// and exits 2, instead of panicking (tx on `/R`) or waiting forever for
/// frames that cannot come (rx on `/T`).
#[test]
fn a_function_on_a_port_without_its_rings_fails_at_once() {
    let _g = serial();
    let name = unique("dir");
    for (port, function, missing) in [
        (format!("netmap:{name}{{0/R"), "tx", "no TX rings"),
        (format!("netmap:{name}}}0/T"), "rx", "no RX rings"),
        (format!("netmap:{name}{{1/R"), "ping", "no TX rings"),
        (format!("netmap:{name}}}1/T"), "pong", "no RX rings"),
        (format!("netmap:{name}{{2/T"), "txrx", "no RX rings"),
    ] {
        let p = pktgen(&["-i", &port, "-f", function, "-n", "10"]);
        let out = finish(p, Duration::from_secs(5), &format!("{function} on {port}"));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{function} on {port}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(out.stderr.contains(missing), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("-f {function}")),
            "{}",
            out.stderr
        );
    }
    // The direction it has works: tx on `/T`, rx on `/R`.
    let rx = pktgen(&[
        "-i",
        &format!("netmap:{name}}}3/R"),
        "-f",
        "rx",
        "-n",
        "1000",
    ]);
    let tx = pktgen(&[
        "-i",
        &format!("netmap:{name}{{3/T"),
        "-f",
        "tx",
        "-n",
        "1000",
    ]);
    let tx = finish(tx, Duration::from_secs(20), "tx on /T");
    let rx = finish(rx, Duration::from_secs(20), "rx on /R");
    assert!(tx.status.success() && rx.status.success());
    assert_eq!(
        line(&rx.stdout, "Verified:"),
        "Verified: 1000 ok, 0 lost, 0 out-of-order, 0 corrupt"
    );
}

/// Durations from options saturate: the largest report interval (`-T`)
/// and link wait (`-w`) a u64 holds run normally, no overflow panic.
#[test]
fn the_largest_durations_do_not_overflow() {
    let _g = serial();
    let name = unique("maxdur");
    let max = u64::MAX.to_string();
    let rx = pktgen(&[
        "-i",
        &format!("{name}}}0"),
        "-f",
        "rx",
        "-n",
        "1000",
        "-T",
        &max,
    ]);
    let tx = pktgen(&[
        "-i",
        &format!("{name}{{0"),
        "-f",
        "tx",
        "-n",
        "1000",
        "-T",
        &max,
        "-w",
        &max,
    ]);
    let tx = finish(tx, Duration::from_secs(20), "tx");
    let rx = finish(rx, Duration::from_secs(20), "rx");
    assert!(!tx.stderr.contains("panicked") && !rx.stderr.contains("panicked"));
    assert!(tx.status.success() && rx.status.success());
    let br = bridge(&[
        "-i",
        &format!("{name}}}1"),
        "-i",
        &format!("{name}{{2"),
        "-T",
        &max,
    ]);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(br.id() as i32, libc::SIGINT) };
    let br = finish(br, Duration::from_secs(5), "bridge");
    assert!(br.status.success(), "{}", br.stderr);
}
