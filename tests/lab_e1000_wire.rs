//! What crossed the wire, checked from outside our driver: a capture of the
//! QEMU hub read on the host (byte for byte against an independent
//! rebuild of pkt-gen's frames, and by tshark), the kernel's e1000 driver on
//! the other end, and our bridge between two hubs.
//!
//! Needs tshark on the host (`.ci/run` installs it):
//! `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark`.
//!
//! Run with `cargo test --release --test lab_e1000_wire`; each test boots one
//! guest (about 5 s) and prints its guest's output.

mod common;
#[path = "lab_e1000/parse.rs"]
mod parse;

use std::path::Path;
use std::process::Command;

use common::lab::*;
use etherparse::PacketBuilder;
use parse::*;

const MAC_A: [u8; 6] = [0x52, 0x54, 0x00, 0x6c, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x52, 0x54, 0x00, 0x6c, 0x00, 0x02];

/// pkt-gen's frame `seq`, rebuilt from its documented format (Ethernet /
/// IPv4 / UDP by etherparse, checksums computed from scratch; payload: seq
/// u64 LE, magic 0x4e56 LE, frame length LE, then 64-bit LE words starting
/// at a seq-derived value, each the previous + 0x0123456789abcdef).
struct Expected {
    len: (usize, usize),
    src: ([u8; 4], [u8; 4], u16, u16),
    dst: ([u8; 4], [u8; 4], u16, u16),
}

impl Expected {
    fn frame(&self, seq: u64) -> Vec<u8> {
        let len = self.len.0 + (seq % (self.len.1 - self.len.0 + 1) as u64) as usize;
        // Addresses advance per frame: source port fastest, then source IP,
        // destination port, destination IP.
        let ip = |a: [u8; 4]| u32::from_be_bytes(a);
        let (sips, sports) = (
            (ip(self.src.1) - ip(self.src.0) + 1) as u64,
            (self.src.3 - self.src.2 + 1) as u64,
        );
        let (dips, dports) = (
            (ip(self.dst.1) - ip(self.dst.0) + 1) as u64,
            (self.dst.3 - self.dst.2 + 1) as u64,
        );
        let mut k = seq;
        let sport = self.src.2 + (k % sports) as u16;
        k /= sports;
        let sip = ip(self.src.0) + (k % sips) as u32;
        k /= sips;
        let dport = self.dst.2 + (k % dports) as u16;
        k /= dports;
        let dip = ip(self.dst.0) + (k % dips) as u32;
        let mut payload = Vec::with_capacity(len - 42);
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&0x4e56u16.to_le_bytes());
        payload.extend_from_slice(&(len as u16).to_le_bytes());
        let mut w = (seq ^ 0x5bd1_e995_a5a5_5a5a).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        while payload.len() < len - 42 {
            let n = (len - 42 - payload.len()).min(8);
            payload.extend_from_slice(&w.to_le_bytes()[..n]);
            w = w.wrapping_add(0x0123_4567_89ab_cdef);
        }
        let mut frame = Vec::with_capacity(len);
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(sip.to_be_bytes(), dip.to_be_bytes(), 64)
            .udp(sport, dport)
            .write(&mut frame, &payload)
            .unwrap();
        frame
    }
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut frames = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.expect("a readable pcap record");
        assert_eq!(p.orig_len as usize, p.data.len(), "truncated capture");
        frames.push(p.data.into_owned());
    }
    frames
}

fn tshark() -> &'static str {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark is missing: run (as root) `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark`"
    );
    "tshark"
}

/// pkt-gen tx of 2,000 frames of 60..1514 bytes (every size, then again
/// from 60) with source and destination address/port ranges, at 20,000
/// frames/s, captured on the hub (`--capture`), also received by pkt-gen
/// rx on the second NIC. On the host: the capture holds exactly those
/// frames, in order, byte for byte as rebuilt here, and tshark finds every
/// one Ethernet/IPv4/UDP with good IP and UDP checksums. About 15 s.
#[test]
fn lab_e1000_wire_capture_matches() {
    let Some(_lab) = lab_ready() else { return };
    let tshark = tshark();
    build_examples();
    const N: u64 = 2000;
    let cap = std::env::temp_dir().join(format!("lab_e1000_wire.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cap);
    let script = format!(
        r#"{PRELUDE}
bg rx $PG -i vfio:$B$S -f rx -n {N} -l 60-1514
sleep 2
fg tx $PG -i vfio:$A$S -f tx -n {N} -l 60-1514 -R 20000 -S $MA -D $MB -s 10.0.0.1:1000-10.0.0.5:1004 -d 10.1.0.1:2000-10.1.0.3:2002
waitfor rx 20
report
"#
    );
    let out = lab_sh(
        &[
            "--nic",
            "e1000",
            "--nic",
            "e1000",
            "--capture",
            cap.to_str().unwrap(),
            "--timeout",
            "120",
        ],
        &script,
    );
    let out = stdout(&out);
    assert_eq!(rc(&out, "tx"), Some(0), "{}", section(&out, "tx"));
    assert_eq!(rc(&out, "rx"), Some(0), "{}", section(&out, "rx"));
    let v = verified(section(&out, "rx")).unwrap();
    assert_eq!((v.ok, v.lost, v.ooo, v.corrupt), (N, 0, 0, 0));

    let pcap = cap.join("hub0.pcap");
    let frames = read_pcap(&pcap);
    assert_eq!(frames.len() as u64, N, "frames on the wire");
    let expected = Expected {
        len: (60, 1514),
        src: ([10, 0, 0, 1], [10, 0, 0, 5], 1000, 1004),
        dst: ([10, 1, 0, 1], [10, 1, 0, 3], 2000, 2002),
    };
    for (seq, f) in frames.iter().enumerate() {
        let want = expected.frame(seq as u64);
        assert!(
            f[..] == want[..],
            "frame {seq} on the wire differs from pkt-gen's frame {seq}:\n got {:02x?}\nwant {:02x?}",
            &f[..f.len().min(64)],
            &want[..want.len().min(64)]
        );
    }

    // An independent dissector: every frame Ethernet/IPv4/UDP, checksums
    // good (status 1 = good, with checking on).
    let t = Command::new(tshark)
        .args(["-r", pcap.to_str().unwrap(), "-n"])
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.protocols",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
        ])
        .args([
            "-e",
            "ip.src",
            "-e",
            "udp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
        ])
        .output()
        .expect("running tshark");
    assert!(
        t.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let text = String::from_utf8_lossy(&t.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, N, "tshark's frame count");
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        assert!(f[0].starts_with("eth:ethertype:ip:udp"), "frame {i}: {l}");
        assert_eq!(
            (f[1], f[2]),
            ("1", "1"),
            "frame {i}: checksums not good: {l}"
        );
    }
    // The ranges cycled as asked (first and 26th frame).
    assert_eq!(
        &lines[0].split(',').collect::<Vec<_>>()[3..],
        ["10.0.0.1", "1000", "10.1.0.1", "2000"]
    );
    assert_eq!(
        &lines[25].split(',').collect::<Vec<_>>()[3..],
        ["10.0.0.1", "1000", "10.1.0.1", "2001"]
    );
    let _ = std::fs::remove_dir_all(&cap);
}

/// One NIC on our driver, one on the kernel's e1000 driver, one hub. Ours
/// sends 10,000 frames to the kernel's MAC (5,000/s); the kernel sends
/// 5,000 frames in pkt-gen's format from an AF_PACKET socket
/// (`hw/lab-kernel-send`, an independent implementation of the format) to
/// ours, where pkt-gen rx verifies them. The kernel's interface counters
/// (`/sys/class/net/IF/statistics`) agree with our GPTC/GPRC. About 20 s.
#[test]
fn lab_e1000_kernel_interop() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = format!(
        r#"{PRELUDE}
set -- $LAB_IFACES; IFB=$2
d=/sys/bus/pci/devices/$A
echo vfio-pci > $d/driver_override; echo $A > $d/driver/unbind; echo $A > /sys/bus/pci/drivers_probe
drv=$(readlink $d/driver); echo "driver_A=${{drv##*/}} iface_B=$IFB"
echo 1 > /proc/sys/net/ipv6/conf/$IFB/disable_ipv6
ip link set $IFB up
i=0; while [ "$(cat /sys/class/net/$IFB/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
# QEMU's e1000 holds reception back for 1 s after each RCTL write (the
# kernel driver writes it when the interface comes up).
sleep 2
st() {{ cat /sys/class/net/$IFB/statistics/$1; }}
echo k_rx0=$(st rx_packets); echo k_tx0=$(st tx_packets)
fg ours_tx $PG -i vfio:$A$S -f tx -n 10000 -R 5000 -S $MA -D $MB
sleep 1
echo k_rx1=$(st rx_packets); echo k_tx1=$(st tx_packets)
bg ours_rx $PG -i vfio:$A$S -f rx -n 5000
sleep 2
fg kernel_send python3 hw/lab-kernel-send $IFB $MA 5000 2500
waitfor ours_rx 30
echo k_rx2=$(st rx_packets); echo k_tx2=$(st tx_packets)
echo k_rx_dropped=$(st rx_dropped); echo k_rx_errors=$(st rx_errors); echo k_rx_missed=$(st rx_missed_errors)
report
"#
    );
    let out = lab_sh(
        &[
            "--kernel-driver",
            "--nic",
            "e1000",
            "--nic",
            "e1000",
            "--timeout",
            "180",
        ],
        &script,
    );
    let out = stdout(&out);
    assert!(
        out.contains("driver_A=vfio-pci"),
        "rebinding A to vfio-pci: {out}"
    );
    let val = |n| value(&out, n).unwrap_or_else(|| panic!("{n} missing: {out}"));
    // Ours -> kernel.
    let tx = section(&out, "ours_tx");
    assert_eq!(rc(&out, "ours_tx"), Some(0), "{tx}");
    assert_eq!(counter(tx, "GPTC"), Some(10000), "{tx}");
    assert_eq!(
        val("k_rx1") - val("k_rx0"),
        10000,
        "kernel rx_packets vs our GPTC"
    );
    assert_eq!(val("k_rx_errors"), 0);
    // Kernel -> ours.
    assert_eq!(
        rc(&out, "kernel_send"),
        Some(0),
        "{}",
        section(&out, "kernel_send")
    );
    let rx = section(&out, "ours_rx");
    assert_eq!(rc(&out, "ours_rx"), Some(0), "{rx}");
    let v = verified(rx).unwrap();
    assert_eq!((v.ok, v.lost, v.ooo, v.corrupt), (5000, 0, 0, 0), "{rx}");
    assert_eq!(
        counter(rx, "GPRC"),
        Some(val("k_tx2") - val("k_tx1")),
        "our GPRC vs kernel tx_packets"
    );
    assert_eq!(
        val("k_tx2") - val("k_tx1"),
        5000,
        "the kernel sent only ours"
    );
    // The kernel sent nothing while we sent, and received nothing else.
    assert_eq!(val("k_tx1"), val("k_tx0"));
    assert_eq!(val("k_rx2"), val("k_rx1"));
}

/// Our bridge between two hubs: A and B on hub 0, C and D on hub 1, the
/// bridge forwards B <-> C (promiscuous, zero-copy: one process, one
/// region). A and D each run `pkt-gen -f txrx` (send and verify at once on
/// one port) to the other: every frame arrives intact and in order, both
/// ways at the same time: 1,000,000 frames each way (60-200 bytes) at
/// 30,000 frames/s each (three busy processes share the guest's two
/// vCPUs; at 50,000/s each way a host busy with other work lost 5 % at the
/// hubs): 33 s of traffic, about 45 s in all. `LAB_BRIDGE_FRAMES=N` runs N
/// instead.
#[test]
fn lab_e1000_bridge_both_ways() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let n: u64 = std::env::var("LAB_BRIDGE_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rate = 30_000;
    let secs = n / rate + 30;
    let script = format!(
        r#"{PRELUDE}
P=@conf:slots=4096,promisc=1
# Two ports of 2 x 4096 slots each share the process's region.
bg bridge target/release/examples/bridge -i vfio:$B$P,bufs=20000 -i vfio:$C$P
sleep 2
bg a $PG -i vfio:$A$S -f txrx -n {n} -R {rate} -S $MA -D $MD -l 60-200
bg d $PG -i vfio:$D$S -f txrx -n {n} -R {rate} -S $MD -D $MA -l 60-200
waitfor a {secs}; waitfor d {secs}
sig bridge TERM; waitfor bridge 10
report
"#
    );
    let t0 = std::time::Instant::now();
    let out = lab_sh(
        &[
            "--nic", "e1000@0", "--nic", "e1000@0", "--nic", "e1000@1", "--nic", "e1000@1",
        ],
        &script,
    );
    eprintln!(
        "bridge test: {n} frames each way, guest run {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let out = stdout(&out);
    let bridge = section(&out, "bridge");
    assert!(bridge.contains("zero-copy"), "{bridge}");
    for side in ["a", "d"] {
        let s = section(&out, side);
        assert_eq!(rc(&out, side), Some(0), "{side}: {s}");
        assert_eq!(sent(s), Some(n), "{side}: {s}");
        let v = verified(s).unwrap();
        assert_eq!(
            (v.ok, v.lost, v.ooo, v.corrupt),
            (n, 0, 0, 0),
            "{side}: {s}"
        );
    }
    let total = bridge
        .lines()
        .find(|l| l.starts_with("Total A->B:"))
        .unwrap_or_else(|| panic!("no bridge total: {bridge}"));
    assert!(
        total.starts_with(&format!("Total A->B: {n} pkts"))
            && total.contains(&format!("B->A: {n} pkts")),
        "the bridge forwarded exactly the frames: {total}"
    );
}
