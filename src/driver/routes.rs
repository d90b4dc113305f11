//! Which network interfaces carry routes: binding one of those to vfio-pci
//! cuts the host off a network (dpdk-devbind calls them `*Active*`).

use std::collections::BTreeSet;

use super::host::Host;

/// Interfaces named in `/proc/net/route` (IPv4). The first line is a header;
/// the first column of every other line is the interface.
pub fn parse_ipv4_routes(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Interfaces named in `/proc/net/ipv6_route`: no header, the device is the
/// last of ten columns. The loopback's routes are not a reason to refuse.
pub fn parse_ipv6_routes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.split_whitespace().count() >= 10)
        .filter_map(|l| l.split_whitespace().last())
        .filter(|ifname| *ifname != "lo")
        .map(str::to_string)
        .collect()
}

/// All interfaces with an IPv4 or IPv6 route. Missing files (no IPv6, a
/// container without `/proc/net`) count as "no routes".
pub fn routed_interfaces(host: &Host) -> BTreeSet<String> {
    let read = |name: &str| {
        std::fs::read_to_string(host.proc_root.join("net").join(name)).unwrap_or_default()
    };
    let mut all = parse_ipv4_routes(&read("route"));
    all.extend(parse_ipv6_routes(&read("ipv6_route")));
    all
}
