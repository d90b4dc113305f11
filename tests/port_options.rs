//! Options in port names: each kind of port takes its own `@conf:` keys
//! and `@options`; anything else is an error naming the valid ones (with a
//! did-you-mean), never silently ignored.

use vfio_netmap::ports::{self, PortError};

fn unique(tag: &str) -> String {
    format!("opt_{tag}_{}", std::process::id())
}

fn bad_option(name: &str) -> String {
    match ports::open(name) {
        Err(PortError::BadOption { message, .. }) => message,
        Err(e) => panic!("{name}: expected a bad option, got {e}"),
        Ok(_) => panic!("{name}: opened"),
    }
}

#[test]
fn unknown_conf_keys_are_refused_with_the_valid_ones() {
    let pipe = unique("conf");
    let m = bad_option(&format!("netmap:{pipe}{{0@conf:slotz=64"));
    assert!(m.contains("unknown key `slotz`"), "{m}");
    assert!(m.contains("did you mean `slots`?"), "{m}");
    assert!(m.contains("`extra-bufs`"), "lists the valid keys: {m}");
    // A key another kind takes is still wrong here.
    let m = bad_option(&format!("netmap:{pipe}{{0@conf:promisc=1"));
    assert!(m.contains("for a pipe"), "{m}");
    // The pipe was not created by the refused opens: a valid open works.
    let port = ports::open(&format!("netmap:{pipe}{{0@conf:slots=64")).unwrap();
    assert_eq!(port.tx_ring(0).unwrap().num_slots(), 64);
}

#[test]
fn unknown_options_are_refused() {
    let pipe = unique("opt");
    let m = bad_option(&format!("netmap:{pipe}{{0@bogus"));
    assert!(m.contains("unknown option `@bogus`"), "{m}");
    let m = bad_option(&format!("netmap:{pipe}{{0@conf=3"));
    assert!(m.contains("`@conf:key=value"), "{m}");
    // Checked before any device is touched.
    let m = bad_option("vfio:0000:00:03.0@unsafe-noiommuu");
    assert!(m.contains("did you mean `unsafe-noiommu`?"), "{m}");
    let m = bad_option("vfio:0000:00:03.0@conf:wire=x");
    assert!(m.contains("for a VFIO NIC"), "{m}");
}

#[test]
fn options_that_do_not_apply_to_model_ports_are_refused() {
    let m = bad_option("model:ixgbe0@3");
    assert!(m.contains("`@N` does not apply to model ports"), "{m}");
    let m = bad_option("model:ixgbe0@conf:itr=5");
    assert!(m.contains("unknown key `itr`"), "{m}");
    let m = bad_option("model:ixgbe0@conf:wire=a-b");
    assert!(m.contains("letters and digits only"), "{m}");
}

#[test]
fn host_rings_and_monitors_are_not_there_yet() {
    let pipe = unique("sel");
    for name in [format!("netmap:{pipe}{{0^"), format!("netmap:{pipe}{{0/r")] {
        match ports::open(&name) {
            Err(PortError::Unsupported { .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}
