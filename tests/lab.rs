//! Tests of the lab (`hw/lab`): each boots a QEMU guest and checks, from
//! inside it, what the lab promises. See hw/README.md.
//!
//! They need QEMU and the guest image (`hw/lab setup`) and fail with that
//! advice if either is missing; `VFIO_NETMAP_SKIP_LAB=1` skips them.
//! Guests are serialized (LAB_LOCK): two TCG guests on a small machine
//! distort each other's timing.

mod common;

use common::lab::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Checked inside the guest for every NIC: bound to vfio-pci, IOMMU group
/// viable (every member on vfio-pci or on no driver), /dev/vfio/N present.
const VFIO_CHECK: &str = r#"
set -e
for bdf in $LAB_NICS; do
    d=/sys/bus/pci/devices/$bdf
    drv=$(basename "$(readlink $d/driver)")
    [ "$drv" = vfio-pci ] || { echo "$bdf bound to $drv"; exit 1; }
    for m in $d/iommu_group/devices/*; do
        if [ -e $m/driver ]; then
            md=$(basename "$(readlink $m/driver)")
            [ "$md" = vfio-pci ] || { echo "group of $bdf: $m bound to $md"; exit 1; }
        fi
    done
    g=$(basename "$(readlink $d/iommu_group)")
    [ -c /dev/vfio/$g ] || { echo "/dev/vfio/$g missing"; exit 1; }
    echo "ok $bdf group $g"
done
"#;

fn assert_vfio_bound(nic_args: &[&str], nics: usize) {
    let Some(_lab) = lab_ready() else { return };
    let out = lab_sh(nic_args, VFIO_CHECK);
    assert_eq!(out.status.code(), Some(0), "vfio check failed in the guest");
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        nics
    );
}

#[test]
fn e1000_is_bound_to_vfio() {
    assert_vfio_bound(&["--nic", "e1000"], 1);
}

#[test]
fn e1000_82545em_is_bound_to_vfio() {
    assert_vfio_bound(&["--nic", "e1000-82545em"], 1);
}

#[test]
fn e1000e_is_bound_to_vfio() {
    assert_vfio_bound(&["--nic", "e1000e"], 1);
}

#[test]
fn igb_is_bound_to_vfio() {
    assert_vfio_bound(&["--nic", "igb"], 1);
}

#[test]
fn virtio_net_is_bound_to_vfio() {
    assert_vfio_bound(&["--nic", "virtio-net-pci"], 1);
}

#[test]
fn two_igb_work() {
    assert_vfio_bound(&["--nic", "igb", "--nic", "igb"], 2);
}

#[test]
fn default_has_two_nics_one_group_each() {
    let Some(_lab) = lab_ready() else { return };
    let out = lab_sh(
        &[],
        "ls /dev/vfio; echo $LAB_NICS; echo $LAB_MODELS; echo $LAB_HUBS",
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let groups = lines.iter().filter(|l| l.parse::<u32>().is_ok()).count();
    assert_eq!(groups, 2, "one /dev/vfio group per NIC");
    assert!(lines.contains(&"vfio"));
    assert!(lines.contains(&"0000:00:02.0 0000:00:03.0"));
    assert!(lines.contains(&"e1000 e1000"));
    assert!(lines.contains(&"0 0"));
}

#[test]
fn exit_status_and_output_come_back_exactly() {
    let Some(_lab) = lab_ready() else { return };
    let out = lab_sh(&[], "echo hello; echo err >&2; exit 7");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn false_exits_1() {
    let Some(_lab) = lab_ready() else { return };
    let out = Command::new(repo().join("hw/lab"))
        .args(["run", "--", "false"])
        .output()
        .expect("cannot run hw/lab");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runs_in_the_checkout_with_the_environment() {
    let Some(_lab) = lab_ready() else { return };
    let out = Command::new(repo().join("hw/lab"))
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "pwd; echo $RUST_LOG; test -x lab && echo found",
        ])
        .current_dir(repo().join("hw"))
        .env("RUST_LOG", "debug")
        .output()
        .expect("cannot run hw/lab");
    assert_eq!(out.status.code(), Some(0));
    let want = format!("{}\ndebug\nfound\n", repo().join("hw").display());
    assert_eq!(stdout(&out), want, "cwd and RUST_LOG pass through");
}

#[test]
fn hung_command_is_killed_at_the_timeout() {
    let Some(_lab) = lab_ready() else { return };
    let start = std::time::Instant::now();
    // A kernel message at KERN_INFO, the level of a hung task's stack: a
    // timeout shows it (boot messages before COMMAND are left out).
    let out = lab_sh_once(
        &["--timeout", "30"],
        "echo '<6>lab-test: stuck here' > /dev/kmsg; sleep 1000",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(
        stderr.contains("console| [") && stderr.contains("] lab-test: stuck here"),
        "{stderr}"
    );
    assert!(stderr.contains("console log kept"), "{stderr}");
    assert!(start.elapsed().as_secs() < 60);
}

/// A guest whose kernel reports a CPU that stopped handling timers (here
/// a fake report written to the kernel log) is stopped at once, not at the
/// timeout, with the lab's own status and a message saying to run again.
#[test]
fn guest_timer_stall_stops_the_guest_early() {
    let Some(_lab) = lab_ready() else { return };
    let start = std::time::Instant::now();
    let out = lab_sh_once(
        &["--timeout", "300"],
        "echo before; echo '<3>rcu: Possible timer handling issue on cpu=1 timer-softirq=9' \
         > /dev/kmsg; sleep 200; echo after",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert_eq!(stdout(&out), "before\n");
    assert!(
        stderr.contains("guest vCPU 1 stopped handling timer interrupts"),
        "{stderr}"
    );
    assert!(is_guest_qemu_fault(&out), "{stderr}");
    assert!(stderr.contains("Run COMMAND again"), "{stderr}");
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

/// A guest whose kernel reports a CPU spinning in the IOMMU's invalidation
/// wait (a fake RCU stall backtrace written to the kernel log) is stopped
/// at once, as a QEMU fault.
#[test]
fn guest_stuck_on_the_emulated_iommu_stops_the_guest_early() {
    let Some(_lab) = lab_ready() else { return };
    let start = std::time::Instant::now();
    let out = lab_sh_once(
        &["--timeout", "300"],
        "echo before; for l in 'NMI backtrace for cpu 1' 'CPU: 1 UID: 0 PID: 278 Comm: pkt-gen' \
         'RIP: 0010:qi_submit_sync+0x333/0x830'; do echo \"<4>$l\" > /dev/kmsg; done; \
         sleep 200; echo after",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert_eq!(stdout(&out), "before\n");
    assert!(
        stderr.contains("guest vCPU 1 is stuck waiting for the emulated IOMMU"),
        "{stderr}"
    );
    assert!(is_guest_qemu_fault(&out), "{stderr}");
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

#[test]
fn capture_shows_kernel_driver_frames() {
    let Some(_lab) = lab_ready() else { return };
    let dir = capture_dir();
    // Both NICs on hub 0; the second in its own network namespace, so
    // the ping really crosses the wire.
    let script = r#"
set -e
set -- $LAB_IFACES
ip netns add peer
ip link set $2 netns peer
ip addr add 10.9.0.1/24 dev $1
ip link set $1 up
ip -n peer addr add 10.9.0.2/24 dev $2
ip -n peer link set $2 up
busybox ping -c 3 -W 5 10.9.0.2
"#;
    let out = lab_sh(
        &["--kernel-driver", "--capture", dir.to_str().unwrap()],
        script,
    );
    assert_eq!(out.status.code(), Some(0), "ping failed");
    let sender = [0x52, 0x54, 0x00, 0x6c, 0x00, 0x01]; // first NIC's MAC
    let frames = pcap_frames(&dir.join("hub0.pcap"));
    let from_sender = frames
        .iter()
        .filter(|f| f.len() >= 12 && f[6..12] == sender)
        .count();
    assert!(
        from_sender >= 3,
        "{from_sender} of {} frames from the sender",
        frames.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn capture_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vfio-netmap-lab-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The frames of a classic pcap file (24-byte global header, 16-byte
/// record headers), little- or big-endian.
fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(data.len() >= 24, "short pcap");
    let le = match data[0..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a pcap file"),
    };
    let u32_at = |o: usize| {
        let b = [data[o], data[o + 1], data[o + 2], data[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 1, "link type is not Ethernet");
    let mut frames = Vec::new();
    let mut o = 24;
    while o + 16 <= data.len() {
        let len = u32_at(o + 8) as usize;
        let end = (o + 16 + len).min(data.len());
        frames.push(data[o + 16..end].to_vec());
        o += 16 + len;
    }
    frames
}

/// The project's own binaries run in the guest from the shared checkout:
/// a pipe between two pkt-gen processes, on the guest's hugetlbfs.
#[test]
fn pipes_run_in_the_guest_on_hugepages() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let out = lab_sh(
        &[],
        "target/release/examples/pkt-gen -i 'netmap:g}0' -f rx -n 1000000 > /tmp/rx.log 2>&1 & \
         sleep 0.5; ls /dev/hugepages; \
         target/release/examples/pkt-gen -i 'netmap:g{0' -f tx -n 1000000 >/dev/null; \
         wait $!; rx=$?; cat /tmp/rx.log; exit $rx",
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("vfio-netmap.pipe-g"),
        "the region is not on hugetlbfs:\n{text}"
    );
    assert!(
        text.contains("Verified: 1000000 ok, 0 lost, 0 out-of-order, 0 corrupt"),
        "{text}"
    );
}
