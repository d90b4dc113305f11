//! The `vfio-netmap` command in the lab, starting from NICs on their kernel
//! driver: `status` lists them correctly, `bind` moves them to vfio-pci,
//! `info` shows the NIC's link, MAC and counters, `bind --user` lets an
//! unprivileged user open the device, and `unbind` gives the kernel driver
//! its interfaces back; `status --json` parses.

mod common;

use common::lab::*;

#[test]
fn status_bind_info_user_and_unbind() {
    let Some(_lab) = lab_ready() else { return };
    build_examples();
    let script = r#"V=target/release/vfio-netmap; A=${LAB_NICS%% *}; B=${LAB_NICS##* }
echo "== before"; $V status
$V status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("json ok", type(d).__name__)'
echo "== bind"; $V bind $LAB_NICS || exit 2
echo "== after"; $V status
echo "== info"; $V info $A
echo "== user"; $V bind --user nobody $A
setpriv --reuid=nobody --regid=nogroup --clear-groups target/release/examples/pkt-gen -i vfio:$A -f tx -n 100 | grep '^Sent' || exit 3
echo "== unbind"; $V unbind $LAB_NICS || exit 4
echo "== restored"; $V status; ls /sys/class/net"#;
    let out = lab_sh(&["--kernel-driver"], script);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let section = |name: &str| {
        let after = text.split(&format!("== {name}\n")).nth(1).unwrap_or("");
        after.split("\n== ").next().unwrap().to_string()
    };
    let before = section("before");
    let on_kernel = before.split("on a kernel driver").nth(1).unwrap_or("");
    for addr in ["0000:00:02.0", "0000:00:03.0"] {
        assert!(
            on_kernel.contains(&format!("{addr} '82540EM (e1000)' 8086:100e if=eth")),
            "{before}"
        );
    }
    assert!(text.contains("json ok"), "{text}");
    let after = section("after");
    let on_vfio = after.split("on a kernel driver").next().unwrap();
    assert!(
        on_vfio.matches("drv=vfio-pci").count() == 2 && on_vfio.contains("(viable)"),
        "{after}"
    );
    let info = section("info");
    assert!(info.contains("Link: up, 1000 Mb/s"), "{info}");
    assert!(info.contains("MAC: 52:54:00:6c:00:01"), "{info}");
    assert!(info.contains("GPRC="), "{info}");
    assert!(
        section("user").contains("Sent 100 packets"),
        "unprivileged user could not use the NIC: {text}"
    );
    let restored = section("restored");
    assert!(
        restored.contains("drv=e1000") && !restored.contains("drv=vfio-pci"),
        "{restored}"
    );
    assert!(
        restored.contains("eth0") && restored.contains("eth1"),
        "interfaces are back: {restored}"
    );
}
