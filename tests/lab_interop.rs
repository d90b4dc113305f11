//! Interoperation with the kernel: one NIC on the kernel's e1000 driver,
//! one on ours (bound with `vfio-netmap bind`), on one hub. Frames go both
//! ways and the kernel's counters agree with ours.

mod common;

use common::lab::*;

#[test]
fn frames_flow_both_ways_between_our_driver_and_the_kernels() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"set -- $LAB_NICS; A=$1; B=$2; set -- $LAB_MACS; MA=$1; MB=$2; IF=${LAB_IFACES%% *}
V=target/release/vfio-netmap; PG=target/release/examples/pkt-gen
$V bind $B > /dev/null || exit 2
# No IPv6 on the kernel's interface: its router solicitations and DAD
# frames would add to the kernel's count.
echo 1 > /proc/sys/net/ipv6/conf/$IF/disable_ipv6
ip link set $IF up || exit 3
sleep 2
st() { cat /sys/class/net/$IF/statistics/$1; }
rx0=$(st rx_packets); tx0=$(st tx_packets)
# ours -> kernel: frames to the kernel NIC's own MAC
$PG -i vfio:$B -f tx -n 1000 -R 5000 -D $MA | grep -E '^NIC counters' | sed 's/^/ours tx: /'
sleep 1
echo "kernel received $(( $(st rx_packets) - rx0 ))"
# kernel -> ours: 1000 raw frames from the kernel interface to our MAC
timeout -s TERM 15 $PG -i vfio:$B -f rx > /tmp/rx.log 2>&1 & rx=$!
sleep 2
tx1=$(st tx_packets)
python3 - "$IF" "$MB" "$MA" <<'PY'
import socket, sys
ifname, dst, src = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), bytes.fromhex(sys.argv[3].replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for i in range(1000):
    s.send(dst + src + b'\x88\xb5' + i.to_bytes(4, 'big') + bytes(42))
PY
sleep 1
echo "kernel sent $(( $(st tx_packets) - tx1 ))"
wait $rx
grep -E '^NIC counters' /tmp/rx.log | sed 's/^/ours rx: /'"#;
    let out = lab_sh(&["--kernel-driver"], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}`: {text}"))
    };
    assert!(line("ours tx: ").contains("GPTC=1000 "), "{text}");
    assert_eq!(line("kernel received "), "kernel received 1000", "{text}");
    assert_eq!(line("kernel sent "), "kernel sent 1000", "{text}");
    assert!(
        line("ours rx: ").contains("GPRC=1000 "),
        "our NIC counted what the kernel sent: {text}"
    );
}
