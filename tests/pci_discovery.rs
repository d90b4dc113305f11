//! PCI discovery against fake sysfs trees: classes, ids, drivers, IOMMU
//! groups, NUMA, interfaces and routes; config space and BAR parsing.

use vfio_netmap::driver::config::{BarKind, parse_config, parse_resource};
use vfio_netmap::driver::fake_host::{FakeDevice, FakeHost};
use vfio_netmap::driver::pci::{self, GroupMember};
use vfio_netmap::driver::pci_ids::{self, DriverKind, Support};
use vfio_netmap::driver::routes::{parse_ipv4_routes, parse_ipv6_routes, routed_interfaces};
use vfio_netmap::driver::{DriverError, PciAddr, e1000, ixgbe};

const IPV4_ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

const IPV6_ROUTES: &str = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     ens4\n\
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n";

fn addr(s: &str) -> PciAddr {
    s.parse().unwrap()
}

fn lab_like_host() -> FakeHost {
    let fake = FakeHost::new("discovery");
    let mut e1000 = FakeDevice::e1000("0000:00:02.0", 3);
    e1000.interfaces = vec!["eth0"];
    e1000.numa_node = 0;
    fake.add_device(&e1000);
    let mut e1000e = FakeDevice::e1000("0000:00:03.0", 4);
    e1000e.device = 0x10d3;
    e1000e.driver = Some("e1000e");
    e1000e.interfaces = vec!["ens4"];
    fake.add_device(&e1000e);
    let mut igb = FakeDevice::e1000("0000:00:04.0", 5);
    igb.device = 0x10c9;
    igb.driver = Some("vfio-pci");
    fake.add_device(&igb);
    let mut unknown = FakeDevice::e1000("0000:00:05.0", 6);
    unknown.vendor = 0x10ec;
    unknown.device = 0x8139;
    unknown.driver = None;
    fake.add_device(&unknown);
    let mut vga = FakeDevice::e1000("0000:00:01.0", 2);
    vga.class = 0x030000;
    vga.vendor = 0x1234;
    vga.device = 0x1111;
    vga.driver = Some("bochs-drm");
    fake.add_device(&vga);
    fake.set_routes(IPV4_ROUTES, IPV6_ROUTES);
    fake
}

#[test]
fn lists_network_devices_with_everything_sysfs_knows() {
    let fake = lab_like_host();
    let devices = pci::network_devices(fake.host()).unwrap();
    let addrs: Vec<String> = devices.iter().map(|d| d.addr.to_string()).collect();
    assert_eq!(
        addrs,
        [
            "0000:00:02.0",
            "0000:00:03.0",
            "0000:00:04.0",
            "0000:00:05.0"
        ],
        "VGA must be skipped"
    );

    let e1000 = &devices[0];
    assert_eq!(
        (e1000.vendor, e1000.device, e1000.class),
        (0x8086, 0x100e, 0x020000)
    );
    assert_eq!(e1000.support.name(), Some("82540EM (e1000)"));
    assert!(e1000.support.is_supported());
    assert_eq!(e1000.driver.as_deref(), Some("e1000"));
    assert_eq!(e1000.numa_node, Some(0));
    assert_eq!(e1000.interfaces, ["eth0"]);
    assert!(e1000.active, "eth0 has IPv4 routes");
    let group = e1000.iommu_group.as_ref().unwrap();
    assert_eq!(group.number, 3);
    assert_eq!(
        group.members,
        [GroupMember {
            addr: "0000:00:02.0".into(),
            driver: Some("e1000".into())
        }]
    );

    let e1000e = &devices[1];
    assert_eq!(e1000e.support.name(), Some("82574L (e1000e)"));
    assert!(e1000e.support.is_supported());
    assert!(e1000e.active, "ens4 has an IPv6 route");
    assert_eq!(e1000e.numa_node, None, "-1 means no NUMA information");

    let igb = &devices[2];
    assert!(
        !igb.support.is_supported(),
        "no driver opens an 82576: {:?}",
        igb.support
    );
    assert_eq!(igb.support.name(), Some("82576 (igb)"), "known by name");
    assert!(igb.on_vfio());
    assert!(!igb.active);
    assert!(igb.iommu_group.as_ref().unwrap().viable());

    let unknown = &devices[3];
    assert_eq!(unknown.support, Support::Unknown);
    assert_eq!(unknown.driver, None);
}

#[test]
fn missing_device_error_says_how_to_list_devices() {
    let fake = lab_like_host();
    let err = pci::device(fake.host(), addr("0000:00:1f.0")).unwrap_err();
    assert!(matches!(err, DriverError::DeviceNotFound { .. }));
    assert!(err.to_string().contains("vfio-netmap status"), "{err}");
}

#[test]
fn missing_sysfs_error_names_the_path_and_the_fix() {
    let fake = FakeHost::new("nosysfs");
    std::fs::remove_dir_all(fake.host().pci_devices_dir()).unwrap();
    let err = pci::network_devices(fake.host()).unwrap_err().to_string();
    assert!(
        err.contains("bus/pci/devices") && err.contains("mount -t sysfs"),
        "{err}"
    );
}

#[test]
fn group_viability_follows_member_drivers() {
    let fake = FakeHost::new("groups");
    let mut a = FakeDevice::e1000("0000:01:00.0", 9);
    a.driver = Some("vfio-pci");
    fake.add_device(&a);
    let mut b = FakeDevice::e1000("0000:01:00.1", 9);
    b.driver = Some("pcieport");
    b.class = 0x060400;
    fake.add_device(&b);
    let group = pci::iommu_group(fake.host(), 9).unwrap();
    assert!(group.viable(), "pcieport does not block a group");

    fake.set_driver("0000:01:00.1", Some("e1000e"));
    let group = pci::iommu_group(fake.host(), 9).unwrap();
    assert!(!group.viable());
    let blockers = group.blockers();
    assert_eq!(blockers.len(), 1);
    assert_eq!(
        (blockers[0].addr.as_str(), blockers[0].driver.as_str()),
        ("0000:01:00.1", "e1000e")
    );

    fake.set_driver("0000:01:00.1", None);
    assert!(
        pci::iommu_group(fake.host(), 9).unwrap().viable(),
        "unbound members are harmless"
    );
}

#[test]
fn virtio_interfaces_are_found_under_the_virtio_child() {
    let fake = FakeHost::new("virtio");
    let mut dev = FakeDevice::e1000("0000:00:06.0", 7);
    dev.vendor = 0x1af4;
    dev.device = 0x1041;
    dev.driver = Some("virtio-pci");
    fake.add_device(&dev);
    std::fs::create_dir_all(
        fake.host()
            .pci_device_dir("0000:00:06.0")
            .join("virtio2/net/enp0s6"),
    )
    .unwrap();
    let d = pci::device(fake.host(), addr("0000:00:06.0")).unwrap();
    assert_eq!(d.interfaces, ["enp0s6"]);
    assert_eq!(d.support.name(), Some("virtio-net (modern)"));
    assert!(!d.support.is_supported(), "no virtio-net driver yet");
}

#[test]
fn route_parsing() {
    let v4 = parse_ipv4_routes(IPV4_ROUTES);
    assert_eq!(v4.into_iter().collect::<Vec<_>>(), ["eth0"]);
    let v6 = parse_ipv6_routes(IPV6_ROUTES);
    assert_eq!(
        v6.into_iter().collect::<Vec<_>>(),
        ["ens4"],
        "lo is ignored"
    );
    assert!(
        parse_ipv4_routes("Iface\tDestination\n").is_empty(),
        "header only"
    );
    assert!(parse_ipv6_routes("").is_empty());
}

#[test]
fn missing_proc_files_mean_no_routes() {
    let fake = FakeHost::new("noproc");
    assert!(routed_interfaces(fake.host()).is_empty());
}

#[test]
fn the_driver_table_names_each_devices_driver() {
    for (device, name) in [
        (0x100e, "82540EM (e1000)"),
        (0x100f, "82545EM (e1000)"),
        (0x10d3, "82574L (e1000e)"),
    ] {
        let nic = pci_ids::driver_for(0x8086, device).unwrap();
        assert_eq!(nic.name, name);
        assert_eq!(
            nic.driver,
            DriverKind::E1000(e1000::Model::from_device_id(0x8086, device).unwrap())
        );
    }
    // Every ixgbe id, including the 82599, X552 and X553 ids the table once
    // left out while the driver opened them.
    let ixgbe_ids = [
        0x10f7, 0x1514, 0x1517, 0x151c, 0x10f9, 0x10fb, 0x152a, 0x1529, 0x1507, 0x154d, 0x1557,
        0x10fc, 0x10f8, 0x154f, 0x154a, 0x1558, 0x1528, 0x1560, 0x1563, 0x15d1, 0x15aa, 0x15ab,
        0x15ac, 0x15ad, 0x15ae, 0x15c2, 0x15c3, 0x15c4, 0x15c6, 0x15c7, 0x15ce,
    ];
    for device in ixgbe_ids {
        let nic = pci_ids::driver_for(0x8086, device).unwrap_or_else(|| panic!("{device:04x}"));
        let chip = ixgbe::Chip::from_device_id(0x8086, device).unwrap();
        assert_eq!(nic.driver, DriverKind::Ixgbe(chip), "{device:04x}");
        assert!(nic.name.contains("ixgbe"), "{device:04x}: {}", nic.name);
    }
    assert_eq!(pci_ids::SUPPORTED_NICS.len(), 3 + ixgbe_ids.len());
    // Known NICs without a driver are not in the driver table.
    for (vendor, device) in [(0x8086, 0x10c9), (0x1af4, 0x1000), (0x1af4, 0x1041)] {
        assert_eq!(pci_ids::driver_for(vendor, device), None);
        assert!(!Support::of(vendor, device).is_supported());
    }
}

#[test]
fn unsupported_device_error_lists_only_what_a_driver_opens() {
    let err = pci_ids::require_supported(addr("0000:00:05.0"), 0x10ec, 0x8139)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("0000:00:05.0 (10ec:8139) is not a NIC vfio-netmap can drive")
            && err.contains("`vfio-netmap status`")
            && err.contains("8086:100e 82540EM (e1000)")
            && err.contains("8086:15ce X553 SFP+ (ixgbe)"),
        "{err}"
    );
    for gone in ["1af4:1041", "1af4:1000", "8086:10c9"] {
        assert!(!err.contains(gone), "{gone} has no driver: {err}");
    }
    let err = pci_ids::require_supported(addr("0000:00:04.0"), 0x8086, 0x10c9)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("0000:00:04.0 (8086:10c9 82576 (igb)) has no vfio-netmap driver yet: ")
            && err.contains("supported: 8086:100e"),
        "{err}"
    );
    let nic = pci_ids::require_supported(addr("0000:00:03.0"), 0x8086, 0x1563).unwrap();
    assert_eq!(nic.name, "X550-T (ixgbe)");
    assert!(matches!(nic.driver, DriverKind::Ixgbe(c) if c.mac == ixgbe::MacType::X550));
}

/// A config space with MSI (4 vectors), MSI-X (5 vectors, table in BAR3) and
/// a PCIe capability with FLR, like QEMU's e1000e.
fn e1000e_like_config() -> Vec<u8> {
    let mut cfg = vec![0u8; 256];
    cfg[0..4].copy_from_slice(&[0x86, 0x80, 0xd3, 0x10]);
    cfg[0x06] = 0x10; // capability list
    cfg[0x34] = 0xc8;
    cfg[0x3d] = 1;
    // PM at 0xc8 -> MSI at 0xd0
    cfg[0xc8..0xcc].copy_from_slice(&[0x01, 0xd0, 0x02, 0x00]);
    cfg[0xcc..0xce].copy_from_slice(&0x0008u16.to_le_bytes()); // NoSoftReset
    // MSI at 0xd0, MMC = 2 (4 vectors) -> PCIe at 0xe0
    cfg[0xd0..0xd4].copy_from_slice(&[0x05, 0xe0, 0x04, 0x00]);
    // PCIe at 0xe0 with DEVCAP.FLR -> MSI-X at 0xa0
    cfg[0xe0..0xe2].copy_from_slice(&[0x10, 0xa0]);
    cfg[0xe4..0xe8].copy_from_slice(&(1u32 << 28).to_le_bytes());
    // MSI-X at 0xa0: 5 vectors, table BAR3+0, PBA BAR3+0x2000, end of list
    cfg[0xa0..0xa4].copy_from_slice(&[0x11, 0x00, 0x04, 0x00]);
    cfg[0xa4..0xa8].copy_from_slice(&3u32.to_le_bytes());
    cfg[0xa8..0xac].copy_from_slice(&(0x2000u32 | 3).to_le_bytes());
    cfg
}

#[test]
fn config_space_capabilities() {
    let s = parse_config(&e1000e_like_config());
    assert_eq!((s.vendor, s.device), (0x8086, 0x10d3));
    assert_eq!(s.intx_pin, Some(1));
    assert_eq!(s.msi_vectors, Some(4));
    let msix = s.msix.unwrap();
    assert_eq!(
        (
            msix.vectors,
            msix.table_bar,
            msix.table_offset,
            msix.pba_bar,
            msix.pba_offset
        ),
        (5, 3, 0, 3, 0x2000)
    );
    assert!(s.flr && s.is_pcie);
    assert!(!s.pm_reset, "NoSoftReset set");
}

#[test]
fn config_space_without_capabilities_and_truncated() {
    // QEMU's e1000: no capability list, INTx only.
    let mut cfg = vec![0u8; 256];
    cfg[0..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
    cfg[0x3d] = 1;
    let s = parse_config(&cfg);
    assert_eq!(
        (s.intx_pin, s.msi_vectors, s.msix, s.flr),
        (Some(1), None, None, false)
    );
    // An unprivileged sysfs read gives 64 bytes: capabilities are out of reach, no panic.
    let s = parse_config(&e1000e_like_config()[..64]);
    assert_eq!(s.device, 0x10d3);
    assert_eq!(s.msix, None);
    // A looping capability list terminates.
    let mut looping = e1000e_like_config();
    looping[0xa1] = 0xc8;
    let _ = parse_config(&looping);
}

#[test]
fn resource_file_parsing() {
    let text = "0x00000000febc0000 0x00000000febdffff 0x0000000000040200\n\
                0x000000000000c000 0x000000000000c01f 0x0000000000040101\n\
                0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                0x0000004000100000 0x000000400017ffff 0x0000000000142204\n";
    let bars = parse_resource(text);
    assert_eq!(bars.len(), 3);
    assert_eq!(
        (bars[0].index, bars[0].start, bars[0].size, bars[0].kind),
        (0, 0xfebc0000, 0x20000, BarKind::Memory32)
    );
    assert_eq!(
        (bars[1].index, bars[1].size, bars[1].kind),
        (1, 32, BarKind::Io)
    );
    assert_eq!(
        (bars[2].index, bars[2].kind, bars[2].prefetchable),
        (3, BarKind::Memory64, true)
    );
    assert_eq!(
        bars[0].to_string(),
        "BAR0: 0xfebc0000 size 128 KiB (memory, 32-bit)"
    );
}
