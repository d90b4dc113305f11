//! Interrupts on NIC ports: an idle receiver sleeps on the device's
//! interrupt (INTx on 82540EM, MSI on 82574L) instead of spinning, and wakes
//! when frames arrive. Ping/pong at 20 frames per second makes the ponging
//! side fall asleep between frames, so its replies are only quick if the
//! interrupt wakes it (a missed wakeup costs up to 200 ms).
//!
//! QEMU's e1000 holds received frames for one second after RCTL is written,
//! so the very first reply can take about a second; the average over 60
//! pings still separates working interrupts (well under 10 ms) from naps.

mod common;

use common::lab::*;

fn interrupts_wake_sleepers(model: &str) {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"A=${LAB_NICS%% *}; B=${LAB_NICS##* }; PG=target/release/examples/pkt-gen
$PG -i vfio:$B -f rx -n 100 > /tmp/rx.log 2>&1 & p=$!
sleep 2
t0=$(awk '{print $14+$15}' /proc/$p/stat); sleep 4; t1=$(awk '{print $14+$15}' /proc/$p/stat)
echo "idle ticks: $((t1-t0)) of $((4 * $(getconf CLK_TCK)))"
$PG -i vfio:$A -f tx -n 100 -R 100 > /dev/null
wait $p; echo "rx status $?"
$PG -i vfio:$B -f pong > /tmp/pong.log 2>&1 & p=$!
sleep 2
$PG -i vfio:$A -f ping -n 60 -R 20 | grep -E 'replies|RTT'
kill $p; wait"#;
    let out = lab_sh(&["--nic", model, "--nic", model], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let ticks: Vec<u64> = text
        .lines()
        .find_map(|l| l.strip_prefix("idle ticks: "))
        .expect("idle measurement")
        .split(" of ")
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert!(
        ticks[0] * 10 < ticks[1],
        "an idle receiver used {} of {} ticks",
        ticks[0],
        ticks[1]
    );
    assert!(
        text.contains("rx status 0"),
        "the sleeping receiver missed frames: {text}"
    );
    assert!(
        text.contains("Sent 60 packets, 60 replies, 0 timeouts."),
        "{text}"
    );
    let avg_us: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("RTT min/avg/max = "))
        .and_then(|v| v.split('/').nth(1))
        .and_then(|v| v.parse().ok())
        .expect("RTT line");
    assert!(
        avg_us < 50_000.0,
        "average RTT {avg_us} us: wakeups are not interrupt-driven"
    );
}

#[test]
fn e1000_intx_wakes_sleepers() {
    interrupts_wake_sleepers("e1000");
}

#[test]
fn e1000e_msi_wakes_sleepers() {
    interrupts_wake_sleepers("e1000e");
}
