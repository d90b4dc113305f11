//! bind/unbind against a fake sysfs whose "kernel" is a thread reacting to
//! the writes like Linux does.

use std::os::unix::fs::MetadataExt;

use vfio_netmap::driver::bind::{self, BindOptions, Owner};
use vfio_netmap::driver::fake_host::{FakeDevice, FakeHost};
use vfio_netmap::driver::{DriverError, PciAddr, pci};

fn addr(s: &str) -> PciAddr {
    s.parse().unwrap()
}

fn with_kernel(name: &str) -> FakeHost {
    let mut fake = FakeHost::new(name);
    fake.start_fake_kernel();
    fake
}

#[test]
fn bind_overrides_unbinds_probes_and_remembers_the_driver() {
    let fake = with_kernel("bind");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    let outcomes = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].previous_driver.as_deref(), Some("e1000"));
    assert_eq!(outcomes[0].group, 3);
    assert!(!outcomes[0].already_bound);

    assert_eq!(
        fake.read("sys/bus/pci/devices/0000:00:02.0/driver_override"),
        "vfio-pci"
    );
    assert_eq!(
        fake.read("kernel.log"),
        "unbind e1000 0000:00:02.0\nprobe 0000:00:02.0 -> vfio-pci\n"
    );
    assert_eq!(
        fake.read("run/vfio-netmap/0000:00:02.0.prev-driver"),
        "e1000\n"
    );
    assert_eq!(
        pci::current_driver(fake.host(), "0000:00:02.0").as_deref(),
        Some("vfio-pci")
    );
    assert!(fake.root().join("dev/vfio/3").exists());

    // Binding again is a no-op that says so.
    let again = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap();
    assert!(again[0].already_bound);
}

#[test]
fn unbind_restores_the_remembered_driver() {
    let fake = with_kernel("unbind");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap();
    let outcomes = bind::unbind(fake.host(), &[addr("0000:00:02.0")]).unwrap();
    assert!(outcomes[0].was_on_vfio);
    assert_eq!(outcomes[0].driver_now.as_deref(), Some("e1000"));
    assert_eq!(
        fake.read("sys/bus/pci/devices/0000:00:02.0/driver_override"),
        "\n",
        "override cleared"
    );
    assert!(
        fake.read("kernel.log")
            .ends_with("unbind vfio-pci 0000:00:02.0\nbind e1000 0000:00:02.0\n")
    );
    assert!(
        !fake
            .root()
            .join("run/vfio-netmap/0000:00:02.0.prev-driver")
            .exists(),
        "state removed"
    );
}

#[test]
fn unbind_without_memory_lets_the_kernel_choose() {
    let fake = with_kernel("unbind-probe");
    let mut dev = FakeDevice::e1000("0000:00:02.0", 3);
    dev.driver = Some("vfio-pci");
    fake.add_device(&dev);
    fake.set_default_driver("0000:00:02.0", "e1000");
    let outcomes = bind::unbind(fake.host(), &[addr("0000:00:02.0")]).unwrap();
    assert!(outcomes[0].was_on_vfio);
    assert_eq!(outcomes[0].driver_now.as_deref(), Some("e1000"));
    let log = fake.read("kernel.log");
    assert_eq!(
        log,
        "unbind vfio-pci 0000:00:02.0\nprobe 0000:00:02.0 -> e1000\n"
    );
}

#[test]
fn unbind_leaves_devices_on_other_drivers_alone() {
    let fake = with_kernel("unbind-other");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    let outcomes = bind::unbind(fake.host(), &[addr("0000:00:02.0")]).unwrap();
    assert!(!outcomes[0].was_on_vfio);
    assert_eq!(outcomes[0].driver_now.as_deref(), Some("e1000"));
    assert_eq!(fake.read("kernel.log"), "");
}

#[test]
fn bind_of_an_unbound_device_records_no_previous_driver() {
    let fake = with_kernel("bind-unbound");
    let mut dev = FakeDevice::e1000("0000:00:02.0", 3);
    dev.driver = None;
    fake.add_device(&dev);
    let outcomes = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap();
    assert_eq!(outcomes[0].previous_driver, None);
    assert_eq!(fake.read("kernel.log"), "probe 0000:00:02.0 -> vfio-pci\n");
}

#[test]
fn bind_refuses_an_interface_with_routes_unless_forced() {
    let fake = with_kernel("active");
    let mut dev = FakeDevice::e1000("0000:00:02.0", 3);
    dev.interfaces = vec!["eth0"];
    fake.add_device(&dev);
    fake.set_routes(
        "Iface\tDestination\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        "",
    );
    let err = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DriverError::InterfaceActive { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("eth0") && msg.contains("--force") && msg.contains("ip link set eth0 down"),
        "{msg}"
    );
    assert_eq!(
        fake.read("sys/bus/pci/devices/0000:00:02.0/driver_override"),
        "(null)\n",
        "nothing written"
    );

    let forced = BindOptions {
        force: true,
        ..Default::default()
    };
    bind::bind(fake.host(), &[addr("0000:00:02.0")], &forced).unwrap();
    assert_eq!(
        pci::current_driver(fake.host(), "0000:00:02.0").as_deref(),
        Some("vfio-pci")
    );
}

#[test]
fn bind_refuses_a_group_shared_with_a_host_driver_and_names_it() {
    let fake = with_kernel("shared");
    fake.add_device(&FakeDevice::e1000("0000:01:00.0", 7));
    let mut sibling = FakeDevice::e1000("0000:01:00.1", 7);
    sibling.driver = Some("e1000e");
    fake.add_device(&sibling);
    let err = bind::bind(
        fake.host(),
        &[addr("0000:01:00.0")],
        &BindOptions::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DriverError::GroupShared { group: 7, .. }),
        "{msg}"
    );
    assert!(msg.contains("0000:01:00.1 (driver e1000e)"), "{msg}");
    assert!(
        msg.contains("vfio-netmap bind 0000:01:00.0 0000:01:00.1"),
        "{msg}"
    );
    assert_eq!(fake.read("kernel.log"), "", "nothing touched");

    // Binding the whole group in one call works.
    bind::bind(
        fake.host(),
        &[addr("0000:01:00.0"), addr("0000:01:00.1")],
        &BindOptions::default(),
    )
    .unwrap();
    assert!(pci::iommu_group(fake.host(), 7).unwrap().viable());
}

#[test]
fn bind_without_iommu_group_explains_how_to_enable_the_iommu() {
    let fake = with_kernel("noiommu");
    let mut dev = FakeDevice::e1000("0000:00:02.0", 3);
    dev.iommu_group = None;
    fake.add_device(&dev);
    let msg = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("intel_iommu=on") && msg.contains("enable_unsafe_noiommu_mode"),
        "{msg}"
    );
}

#[test]
fn bind_without_vfio_pci_says_modprobe() {
    let fake = with_kernel("nomodule");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    fake.remove_driver("vfio-pci");
    let err = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0")],
        &BindOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DriverError::VfioPciNotLoaded { .. }));
    assert!(err.to_string().contains("modprobe vfio-pci"), "{err}");
}

#[test]
fn bind_that_the_kernel_ignores_is_reported() {
    // No fake kernel: the writes land but nothing rebinds.
    let mut fake = FakeHost::new("nokernel");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    let mut host = fake.host().clone();
    host.settle_timeout = std::time::Duration::from_millis(50);
    let err = bind::bind(&host, &[addr("0000:00:02.0")], &BindOptions::default()).unwrap_err();
    assert!(matches!(err, DriverError::BindDidNotTake { .. }));
    assert!(err.to_string().contains("dmesg"), "{err}");
    assert_eq!(
        fake.read("sys/bus/pci/drivers/e1000/unbind"),
        "0000:00:02.0"
    );
    assert_eq!(fake.read("sys/bus/pci/drivers_probe"), "0000:00:02.0");
    fake.start_fake_kernel(); // for a clean drop
}

#[test]
fn bind_of_a_missing_device_changes_nothing() {
    let fake = with_kernel("missing");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    let err = bind::bind(
        fake.host(),
        &[addr("0000:00:02.0"), addr("0000:00:09.0")],
        &BindOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DriverError::DeviceNotFound { .. }), "{err}");
    assert_eq!(
        pci::current_driver(fake.host(), "0000:00:02.0").as_deref(),
        Some("e1000")
    );
}

#[test]
fn bind_hands_the_group_node_to_a_user() {
    if bind::effective_uid() != 0 {
        eprintln!("skipped: chown needs root");
        return;
    }
    let fake = with_kernel("chown");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    let options = BindOptions {
        owner: Owner {
            uid: Some(4242),
            gid: Some(4343),
        },
        ..Default::default()
    };
    bind::bind(fake.host(), &[addr("0000:00:02.0")], &options).unwrap();
    let meta = std::fs::metadata(fake.root().join("dev/vfio/3")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));
}

#[test]
fn owner_resolution() {
    assert_eq!(
        bind::resolve_owner(Some("root"), Some("0")).unwrap(),
        Owner {
            uid: Some(0),
            gid: Some(0)
        }
    );
    assert_eq!(bind::resolve_owner(None, None).unwrap(), Owner::default());
    let msg = bind::resolve_owner(Some("no-such-user-xyz"), None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no-such-user-xyz") && msg.contains("numeric"),
        "{msg}"
    );
    let msg = bind::resolve_owner(None, Some("no-such-group-xyz"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("group"), "{msg}");
}

#[test]
fn not_root_error_says_to_run_as_root() {
    assert!(bind::require_root("bind", 0).is_ok());
    let msg = bind::require_root("bind", 1000).unwrap_err().to_string();
    assert!(
        msg.contains("root") && msg.contains("sudo vfio-netmap bind"),
        "{msg}"
    );
}
