//! The e1000 driver against QEMU's device models (an implementation nobody
//! here wrote), through real VFIO behind the emulated IOMMU: pkt-gen
//! transmits through NIC A, pkt-gen receives through NIC B on the same hub,
//! 1,000,000 frames each of 60 B, 1514 B and mixed sizes. Every frame must
//! arrive, intact and in order, and the hardware counters must agree.

mod common;

use common::lab::*;

const FRAMES: u64 = 1_000_000;

/// One guest per model; three runs in it. The rate is what the TCG guest
/// sustains with 4096-slot rings (QEMU's hub drops silently beyond that).
fn tx_to_rx(model: &str) {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = format!(
        r#"A=${{LAB_NICS%% *}}; B=${{LAB_NICS##* }}; PG=target/release/examples/pkt-gen
for L in 60 1514 60-1514; do
  timeout -s TERM 120 $PG -i "vfio:$B@conf:slots=4096" -f rx -n {FRAMES} -l $L > /tmp/rx.log 2>&1 &
  rx=$!
  sleep 2
  $PG -i "vfio:$A@conf:slots=4096" -f tx -n {FRAMES} -l $L -R 150000 > /tmp/tx.log 2>&1 || exit 3
  wait $rx; status=$?
  echo "== length $L rx status $status"
  grep -E '^(Sent|Speed|NIC counters)' /tmp/tx.log | sed 's/^/tx: /'
  grep -E '^(Received|Speed|Verified|NIC)' /tmp/rx.log | sed 's/^/rx: /'
  [ $status = 0 ] || exit 4
done"#
    );
    let out = lab_sh(&["--nic", model, "--nic", model], &script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for len in ["60", "1514", "60-1514"] {
        let run = text
            .split(&format!("== length {len} "))
            .nth(1)
            .unwrap_or("");
        let run = run.split("== length").next().unwrap();
        assert!(run.starts_with("rx status 0"), "length {len}: {run}");
        assert!(
            run.contains(&format!(
                "Verified: {FRAMES} ok, 0 lost, 0 out-of-order, 0 corrupt"
            )),
            "length {len}: {run}"
        );
        assert!(
            run.contains(&format!("tx: Sent {FRAMES} packets")),
            "length {len}: {run}"
        );
        // The receiving NIC counted every frame, the sending NIC sent them.
        assert!(
            run.contains(&format!("GPRC={FRAMES} ")),
            "length {len}: receiver's GPRC: {run}"
        );
        assert!(
            run.contains(&format!("GPTC={FRAMES} ")),
            "length {len}: sender's GPTC: {run}"
        );
    }
}

#[test]
fn e1000_82540em_tx_to_rx() {
    tx_to_rx("e1000");
}

#[test]
fn e1000_82545em_tx_to_rx() {
    tx_to_rx("e1000-82545em");
}

#[test]
fn e1000e_82574l_tx_to_rx() {
    tx_to_rx("e1000e");
}

/// netmap's `lb` pattern: a NIC port and pipes in one region (`@1`), so the
/// bridge moves frames from the NIC into a pipe by swapping buffers, and a
/// worker process reads them from the pipe's other end.
#[test]
fn nic_to_pipe_zero_copy_to_another_process() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"A=${LAB_NICS%% *}; B=${LAB_NICS##* }
PG=target/release/examples/pkt-gen; BR=target/release/examples/bridge
timeout -s TERM 60 $PG -i "netmap:lb}0@1@conf:slots=4096,bufs=32768" -f rx -n 100000 > /tmp/rx.log 2>&1 & rx=$!
timeout -s TERM 60 $BR -i "vfio:$B@1@conf:slots=4096" -i "netmap:lb{0@1@conf:slots=4096" > /tmp/br.log 2>&1 & br=$!
sleep 3
# Three busy processes share the guest's two vCPUs: a rate they all keep.
$PG -i "vfio:$A@conf:slots=4096" -f tx -n 100000 -R 25000 | grep '^Sent'
wait $rx; echo "rx status $?"; wait $br
head -1 /tmp/br.log; tail -1 /tmp/br.log; grep -E '^(Received|Verified)' /tmp/rx.log"#;
    let out = lab_sh(&[], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("zero-copy"),
        "NIC and pipe should share the @1 region: {text}"
    );
    assert!(text.contains("rx status 0"), "{text}");
    assert!(
        text.contains("Verified: 100000 ok, 0 lost, 0 out-of-order, 0 corrupt"),
        "{text}"
    );
}

/// QEMU filters unicast by the MAC the driver programs (RAL0/RAH0 with
/// address-valid): frames to B's own MAC arrive, frames to a foreign MAC
/// do not, unless B is promiscuous (RCTL.UPE).
#[test]
fn unicast_filter_and_promiscuous_mode() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"A=${LAB_NICS%% *}; B=${LAB_NICS##* }; MB=${LAB_MACS##* }
PG=target/release/examples/pkt-gen
run() { # $1: rx port options, $2: destination MAC
  timeout -s TERM 8 $PG -i "vfio:$B$1" -f rx -n 1000 > /tmp/rx.log 2>&1 & rx=$!
  sleep 2; $PG -i vfio:$A -f tx -n 1000 -R 2000 -D $2 > /dev/null; wait $rx
  grep '^Received' /tmp/rx.log | cut -d' ' -f2
}
echo "own: $(run '' $MB)"
echo "foreign: $(run '' 02:11:22:33:44:55)"
echo "foreign-promisc: $(run '@conf:promisc=1' 02:11:22:33:44:55)""#;
    let out = lab_sh(&[], script);
    let text = stdout(&out);
    assert!(text.contains("own: 1000\n"), "{text}");
    assert!(text.contains("foreign: 0\n"), "{text}");
    assert!(text.contains("foreign-promisc: 1000\n"), "{text}");
}

/// A process killed with SIGKILL mid-transmit leaves the NIC running with
/// its DMA mapping gone; the next process resets it and works. 100 more
/// open/close cycles leave no hugepages or locked memory behind and the
/// NIC still delivers every frame.
#[test]
fn sigkill_then_reopen_and_100_open_close_cycles() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"A=${LAB_NICS%% *}; B=${LAB_NICS##* }; PG=target/release/examples/pkt-gen
free0=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
$PG -i vfio:$A -f tx -n 0 > /dev/null 2>&1 & p=$!
sleep 3; kill -9 $p; wait $p; echo "killed status $?"
i=0; while [ $i -lt 100 ]; do $PG -i vfio:$A -f tx -n 1 -w 0 > /dev/null 2>&1 || exit 5; i=$((i+1)); done
echo "cycles done"
free1=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
echo "hugepages free before $free0 after $free1"
timeout -s TERM 30 $PG -i "vfio:$B@conf:slots=4096" -f rx -n 100000 > /tmp/rx.log 2>&1 & rx=$!
sleep 2
$PG -i "vfio:$A@conf:slots=4096" -f tx -n 100000 -R 100000 > /dev/null
wait $rx; echo "rx status $?"; grep '^Verified' /tmp/rx.log"#;
    let out = lab_sh(&[], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("killed status 137"), "{text}");
    assert!(text.contains("cycles done"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("hugepages free"))
        .expect("hugepage line");
    let nums: Vec<&str> = line
        .split_whitespace()
        .filter(|w| w.parse::<u64>().is_ok())
        .collect();
    assert_eq!(nums[0], nums[1], "hugepages leaked: {line}");
    assert!(text.contains("rx status 0"), "{text}");
    assert!(
        text.contains("Verified: 100000 ok, 0 lost, 0 out-of-order, 0 corrupt"),
        "{text}"
    );
}

/// The receiver's RX ring is full (a bridge into a pipe nobody reads):
/// the sender finishes anyway (the hub drops what does not fit, no hang),
/// and once a reader comes, what was held arrives intact. Then both ends
/// are closed in the middle of traffic (SIGTERM), and a new pair delivers
/// every frame.
#[test]
fn full_peer_ring_and_close_during_traffic() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"A=${LAB_NICS%% *}; B=${LAB_NICS##* }
PG=target/release/examples/pkt-gen; BR=target/release/examples/bridge
timeout -s TERM 60 $BR -i "vfio:$B@1" -i "netmap:full{0@1" > /tmp/br.log 2>&1 & br=$!
sleep 3
timeout 30 $PG -i vfio:$A -f tx -n 50000 -R 50000 > /tmp/tx.log 2>&1; echo "sender with a full peer: status $?"
timeout -s TERM 5 $PG -i "netmap:full}0@1" -f rx > /tmp/rx.log 2>&1
grep '^Verified' /tmp/rx.log | sed 's/^/late reader: /'
kill $br; wait $br
timeout -s TERM 5 $PG -i "vfio:$B@conf:slots=4096" -f rx > /dev/null 2>&1 & rx=$!
sleep 2
timeout -s TERM 2 $PG -i "vfio:$A@conf:slots=4096" -f tx -n 0 -R 100000 > /dev/null 2>&1
wait $rx
echo "closed during traffic"
timeout -s TERM 30 $PG -i "vfio:$B@conf:slots=4096" -f rx -n 50000 > /tmp/rx.log 2>&1 & rx=$!
sleep 2
$PG -i "vfio:$A@conf:slots=4096" -f tx -n 50000 -R 100000 > /dev/null
wait $rx; echo "new pair: status $?"; grep '^Verified' /tmp/rx.log"#;
    let out = lab_sh(&[], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("sender with a full peer: status 0"), "{text}");
    let late = text
        .lines()
        .find(|l| l.starts_with("late reader: "))
        .expect("late reader line");
    assert!(late.contains(", 0 out-of-order, 0 corrupt"), "{late}");
    assert!(text.contains("closed during traffic"), "{text}");
    assert!(text.contains("new pair: status 0"), "{text}");
    assert!(
        text.contains("Verified: 50000 ok, 0 lost, 0 out-of-order, 0 corrupt"),
        "{text}"
    );
}
