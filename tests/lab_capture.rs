//! What really crossed the wire, seen by tools that are not ours: QEMU's
//! filter-dump writes every frame on the hub to a pcap on the host, and
//! tshark (Wireshark's dissectors, from Debian) checks that pkt-gen's frames
//! through our e1000 driver are valid Ethernet/IPv4/UDP with correct
//! checksums, all of them, in order, with the lengths and addresses pkt-gen
//! meant to send.

mod common;

use std::process::Command;

use common::lab::*;

const FRAMES: u64 = 1000;

#[test]
fn pcap_holds_exactly_the_frames_pkt_gen_sent() {
    let Some(_lab) = lab_ready() else { return };
    if Command::new("tshark").arg("--version").output().is_err() {
        panic!(
            "tshark is needed to check the capture: `apt-get install -y --no-install-recommends \
             tshark` (as root; .ci/run does it)"
        );
    }
    build_examples();
    let dir = std::env::temp_dir().join(format!("vfio-netmap-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "A=${{LAB_NICS%% *}}; target/release/examples/pkt-gen -i vfio:$A -f tx -n {FRAMES} -R 5000 \
         -l 60-1514 -s 10.0.0.1:1000-10.0.0.5:1004 -d 10.1.0.9:2000 -D 02:00:00:00:00:99 | grep '^Sent'; \
         echo \"mac $(echo $LAB_MACS | cut -d' ' -f1)\""
    );
    let out = lab_sh(&["--capture", dir.to_str().unwrap()], &script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let mac = text
        .lines()
        .find_map(|l| l.strip_prefix("mac "))
        .expect("sender MAC")
        .trim()
        .to_string();
    let pcap = dir.join("hub0.pcap");
    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-Y", &format!("eth.src == {mac}")])
        .args(["-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.len",
            "-e",
            "ip.src",
            "-e",
            "udp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
        ])
        .args([
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "udp.payload",
        ])
        .output()
        .expect("running tshark");
    assert!(
        tshark.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    let rows = String::from_utf8_lossy(&tshark.stdout).into_owned();
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.len() as u64,
        FRAMES,
        "frames from {mac} in the capture"
    );
    for (k, row) in rows.iter().enumerate() {
        let k = k as u64;
        let [len, src, sport, dst, dport, ip_ok, udp_ok, payload] = row[..] else {
            panic!("frame {k}: unexpected fields {row:?}");
        };
        // tshark: checksum status 1 = good (2 = not verified, 0 = bad).
        assert_eq!((ip_ok, udp_ok), ("1", "1"), "frame {k}: checksums {row:?}");
        assert_eq!(
            len.parse::<u64>().unwrap(),
            60 + k % 1455,
            "frame {k}: length"
        );
        // Source port varies fastest, then the source address (netmap's order).
        assert_eq!(
            sport.parse::<u64>().unwrap(),
            1000 + k % 5,
            "frame {k}: source port"
        );
        assert_eq!(
            src,
            format!("10.0.0.{}", 1 + (k / 5) % 5),
            "frame {k}: source address"
        );
        assert_eq!((dst, dport), ("10.1.0.9", "2000"), "frame {k}: destination");
        let seq = u64::from_str_radix(&payload[..16], 16)
            .map(u64::swap_bytes)
            .unwrap();
        assert_eq!(seq, k, "frame {k}: sequence number in the payload");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
