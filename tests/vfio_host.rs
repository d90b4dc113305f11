//! VFIO pieces that can be exercised without /dev/vfio: error paths, sysfs
//! preflight checks, capability-chain parsing, the IOVA allocator, Mmio.

use std::io;
use std::path::PathBuf;

use proptest::prelude::*;
use vfio_netmap::driver::error::Blocker;
use vfio_netmap::driver::fake_host::{FakeDevice, FakeHost};
use vfio_netmap::driver::vfio::iova::{MIN_IOVA, capability_chain, parse_iommu_info};
use vfio_netmap::driver::vfio::noiommu::pagemap_entry_pfn;
use vfio_netmap::driver::vfio::region::parse_region_info;
use vfio_netmap::driver::vfio::{
    Container, ContainerOptions, IovaAllocator, IovaRange, SparseArea, ioctl, preflight,
};
use vfio_netmap::driver::{DriverError, Mmio, PciAddr, RegisterAccess};

fn addr(s: &str) -> PciAddr {
    s.parse().unwrap()
}

// ---- container and preflight errors, provoked ----

#[test]
fn missing_container_node_says_modprobe() {
    let fake = FakeHost::new("nocontainer");
    let err = Container::open(fake.host(), ContainerOptions::default()).unwrap_err();
    assert!(matches!(err, DriverError::ContainerMissing { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("dev/vfio/vfio") && msg.contains("modprobe vfio-pci"),
        "{msg}"
    );
}

#[test]
fn a_container_node_that_is_not_vfio_fails_the_version_ioctl() {
    let fake = FakeHost::new("notvfio");
    std::fs::write(fake.root().join("dev/vfio/vfio"), "").unwrap();
    let err = Container::open(fake.host(), ContainerOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            DriverError::Ioctl {
                op: "VFIO_GET_API_VERSION",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("dmesg"), "{msg}");
}

fn vfio_fake() -> FakeHost {
    let fake = FakeHost::new("preflight");
    let mut bound = FakeDevice::e1000("0000:00:02.0", 3);
    bound.driver = Some("vfio-pci");
    fake.add_device(&bound);
    fake.add_device(&FakeDevice::e1000("0000:00:03.0", 4));
    let mut no_group = FakeDevice::e1000("0000:00:04.0", 0);
    no_group.iommu_group = None;
    no_group.driver = Some("vfio-pci");
    fake.add_device(&no_group);
    let mut shared = FakeDevice::e1000("0000:00:05.0", 5);
    shared.driver = Some("vfio-pci");
    fake.add_device(&shared);
    let mut sibling = FakeDevice::e1000("0000:00:05.1", 5);
    sibling.driver = Some("e1000e");
    fake.add_device(&sibling);
    std::fs::write(fake.root().join("dev/vfio/vfio"), "").unwrap();
    fake
}

#[test]
fn preflight_accepts_a_bound_device_and_returns_its_group() {
    let fake = vfio_fake();
    assert_eq!(
        preflight(fake.host(), addr("0000:00:02.0"), false).unwrap(),
        3
    );
}

#[test]
fn preflight_device_not_on_vfio_prints_the_bind_command() {
    let fake = vfio_fake();
    let msg = preflight(fake.host(), addr("0000:00:03.0"), false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "0000:00:03.0 is bound to e1000, not vfio-pci: run `vfio-netmap bind 0000:00:03.0`"
    );
}

#[test]
fn preflight_unbound_device_prints_the_bind_command() {
    let fake = vfio_fake();
    fake.set_driver("0000:00:03.0", None);
    let msg = preflight(fake.host(), addr("0000:00:03.0"), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("not bound to any driver") && msg.contains("vfio-netmap bind 0000:00:03.0"),
        "{msg}"
    );
}

#[test]
fn preflight_without_group_explains_the_iommu() {
    let fake = vfio_fake();
    let msg = preflight(fake.host(), addr("0000:00:04.0"), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("intel_iommu=on") && msg.contains("unsafe_noiommu"),
        "{msg}"
    );
}

#[test]
fn preflight_group_not_viable_names_the_other_members() {
    let fake = vfio_fake();
    let err = preflight(fake.host(), addr("0000:00:05.0"), false).unwrap_err();
    assert!(matches!(err, DriverError::GroupNotViable { group: 5, .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("0000:00:05.1 (driver e1000e)")
            && msg.contains("vfio-netmap bind 0000:00:05.1"),
        "{msg}"
    );
}

#[test]
fn preflight_missing_group_node_and_container() {
    let fake = vfio_fake();
    std::fs::remove_file(fake.root().join("dev/vfio/3")).unwrap();
    let msg = preflight(fake.host(), addr("0000:00:02.0"), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("dev/vfio/3") && msg.contains("vfio-netmap bind"),
        "{msg}"
    );
    std::fs::remove_file(fake.root().join("dev/vfio/vfio")).unwrap();
    let msg = preflight(fake.host(), addr("0000:00:02.0"), false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("modprobe vfio-pci"), "{msg}");
    let msg = preflight(fake.host(), addr("0000:00:09.0"), false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("vfio-netmap status"), "{msg}");
}

#[test]
fn preflight_noiommu_uses_the_noiommu_node() {
    let fake = vfio_fake();
    let msg = preflight(fake.host(), addr("0000:00:02.0"), true)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("noiommu-3"), "{msg}");
    std::fs::write(fake.root().join("dev/vfio/noiommu-3"), "").unwrap();
    assert_eq!(
        preflight(fake.host(), addr("0000:00:02.0"), true).unwrap(),
        3
    );
}

// ---- every other error names its fix ----

fn os_err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

#[test]
fn every_error_message_names_the_fix() {
    let blockers = vec![Blocker {
        addr: "0000:00:05.1".into(),
        driver: "e1000e".into(),
    }];
    let cases: Vec<(DriverError, &[&str])> = vec![
        (
            DriverError::NotRoot {
                action: "bind".into(),
            },
            &["root", "sudo"],
        ),
        (
            DriverError::PermissionDenied {
                path: PathBuf::from("/dev/vfio/3"),
            },
            &["/dev/vfio/3", "bind --user", "chown"],
        ),
        (
            DriverError::Busy {
                path: PathBuf::from("/dev/vfio/3"),
            },
            &["fuser", "QEMU"],
        ),
        (DriverError::ApiVersion { found: 1 }, &["version 1"]),
        (
            DriverError::IommuBackendMissing {
                iommu: "Type1v2",
                fix: "load it with `modprobe vfio_iommu_type1`",
            },
            &["vfio_iommu_type1"],
        ),
        (
            DriverError::MemlockTooLow {
                len: 2 << 20,
                needed: 4 << 20,
                limit: Some(65536),
                source: os_err(libc::ENOMEM),
            },
            &["4194304 bytes", "65536 bytes", "ulimit -l", "prlimit"],
        ),
        (
            DriverError::DmaEntryLimit {
                source: os_err(libc::ENOSPC),
            },
            &["dma_entry_limit", "fewer, larger"],
        ),
        (
            DriverError::DmaUnaligned {
                vaddr: 0x1001,
                len: 4096,
                page: 4096,
            },
            &["0x1001", "page-aligned"],
        ),
        (
            DriverError::IovaExhausted {
                len: 0x1000,
                ranges: "0x100000-0xfedfffff".into(),
            },
            &["0x100000-0xfedfffff", "unmap"],
        ),
        (
            DriverError::NotMapped {
                iova: 0x200000,
                len: 4096,
            },
            &["0x200000", "exactly the IOVA"],
        ),
        (DriverError::NoIommuYet, &["Device::open"]),
        (
            DriverError::ResetUnsupported {
                addr: "0000:00:02.0".into(),
            },
            &["CTRL.RST"],
        ),
        (
            DriverError::BarNotMappable {
                addr: "0000:00:02.0".into(),
                bar: 1,
                reason: "I/O ports".into(),
            },
            &["BAR1", "read_region"],
        ),
        (
            DriverError::IrqUnavailable {
                addr: "0000:00:02.0".into(),
                kind: "MSI-X",
                requested: 4,
                available: 0,
            },
            &["MSI-X", "poll"],
        ),
        (
            DriverError::NoPhysicalAddress {
                vaddr: 0x1000,
                reason: "hidden".into(),
            },
            &["CAP_SYS_ADMIN", "root"],
        ),
        (
            DriverError::NotPhysicallyContiguous {
                vaddr: 0x1000,
                len: 8192,
            },
            &["hugepage"],
        ),
        (
            DriverError::GroupNotViable {
                group: 5,
                blockers: blockers.clone(),
            },
            &[
                "0000:00:05.1 (driver e1000e)",
                "vfio-netmap bind 0000:00:05.1",
            ],
        ),
        (
            DriverError::GroupShared {
                addr: "0000:00:05.0".into(),
                group: 5,
                blockers,
            },
            &["vfio-netmap bind 0000:00:05.0 0000:00:05.1"],
        ),
        (
            DriverError::UnsupportedDevice {
                addr: "0000:00:05.0".into(),
                vendor: 0x10ec,
                device: 0x8139,
            },
            &["supported:", "8086:100e 82540EM"],
        ),
        (
            DriverError::OneQueuePair {
                addr: "0000:00:03.0".into(),
                model: "82574L (e1000e)",
                asked: "`@conf:rings=2`".into(),
            },
            &[
                "one queue pair",
                "`vfio:0000:00:03.0`",
                "without `@conf:rings`",
            ],
        ),
        (
            DriverError::VfioPciNotLoaded { detail: "x".into() },
            &["modprobe vfio-pci"],
        ),
        (
            DriverError::BindDidNotTake {
                addr: "0000:00:02.0".into(),
                driver: Some("e1000".into()),
            },
            &["on e1000", "dmesg"],
        ),
    ];
    for (err, needles) in cases {
        let msg = err.to_string();
        for needle in needles {
            assert!(msg.contains(needle), "`{msg}` lacks `{needle}`");
        }
    }
}

// ---- capability chains ----

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}
fn put_cap(buf: &mut [u8], at: usize, id: u16, next: u32) {
    buf[at..at + 2].copy_from_slice(&id.to_ne_bytes());
    buf[at + 2..at + 4].copy_from_slice(&1u16.to_ne_bytes());
    put_u32(buf, at + 4, next);
}

/// A VFIO_IOMMU_GET_INFO reply like an x86 host's: a DMA-avail capability,
/// then the IOVA ranges around the MSI window.
fn iommu_info_reply() -> Vec<u8> {
    let mut buf = vec![0u8; 40 + 16 + 2 * 16];
    let total = buf.len() as u32;
    put_u32(&mut buf, 0, total);
    put_u32(&mut buf, 4, 1 | 2); // PGSIZES | CAPS
    put_u64(&mut buf, 8, 0x4020_1000); // 4K, 2M, 1G
    put_u32(&mut buf, 16, 24);
    put_cap(&mut buf, 24, 3, 40); // DMA avail -> IOVA ranges (8-aligned at 40)
    put_u32(&mut buf, 32, 65000);
    put_cap(&mut buf, 40, 1, 0);
    put_u32(&mut buf, 48, 2);
    put_u64(&mut buf, 56, 0);
    put_u64(&mut buf, 64, 0xfedf_ffff);
    put_u64(&mut buf, 72, 0xfef0_0000);
    put_u64(&mut buf, 80, (1 << 39) - 1);
    buf
}

#[test]
fn iova_ranges_from_the_capability_chain() {
    let info = parse_iommu_info(&iommu_info_reply()).unwrap();
    assert_eq!(info.page_sizes, 0x4020_1000);
    assert_eq!(info.min_page_size(), 4096);
    assert_eq!(info.dma_mappings_available, Some(65000));
    assert_eq!(
        info.ranges.unwrap(),
        [
            IovaRange {
                start: 0,
                end: 0xfedf_ffff
            },
            IovaRange {
                start: 0xfef0_0000,
                end: (1 << 39) - 1
            }
        ]
    );
}

#[test]
fn iommu_info_without_caps_or_truncated() {
    let mut reply = iommu_info_reply();
    put_u32(&mut reply, 4, 1); // no CAPS flag
    assert_eq!(parse_iommu_info(&reply).unwrap().ranges, None);
    let reply = iommu_info_reply();
    assert_eq!(
        parse_iommu_info(&reply[..70]),
        None,
        "range array cut short"
    );
    assert_eq!(parse_iommu_info(&reply[..10]), None);
}

#[test]
fn capability_chain_survives_loops_and_bad_offsets() {
    let mut buf = vec![0u8; 32];
    put_cap(&mut buf, 8, 1, 16);
    put_cap(&mut buf, 16, 2, 8); // loops back
    assert_eq!(capability_chain(&buf, 8).len(), 64);
    put_cap(&mut buf, 16, 2, 1000); // points outside
    let ids: Vec<u16> = capability_chain(&buf, 8).iter().map(|c| c.id).collect();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn region_info_with_sparse_mmap() {
    // BAR3 of an e1000e: 16 KiB with the MSI-X table at 0 and PBA at 0x2000.
    let mut buf = vec![0u8; 32 + 16 + 16];
    let total = buf.len() as u32;
    put_u32(&mut buf, 0, total);
    put_u32(&mut buf, 4, 1 | 2 | 4 | 8);
    put_u32(&mut buf, 8, 3);
    put_u32(&mut buf, 12, 32);
    put_u64(&mut buf, 16, 0x4000);
    put_u64(&mut buf, 24, 3 << 40);
    put_cap(&mut buf, 32, 1, 0);
    put_u32(&mut buf, 40, 1);
    put_u64(&mut buf, 48, 0x3000);
    put_u64(&mut buf, 56, 0x1000);
    let info = parse_region_info(&buf).unwrap();
    assert_eq!((info.index, info.size, info.offset), (3, 0x4000, 3 << 40));
    assert!(info.readable() && info.writable() && info.mmappable());
    assert_eq!(
        info.sparse_areas,
        Some(vec![SparseArea {
            offset: 0x3000,
            size: 0x1000
        }])
    );
    assert_eq!(info.mappable_prefix(), 0, "nothing mappable at offset 0");

    // BAR0: plain, no caps.
    let mut bar0 = vec![0u8; 32];
    put_u32(&mut bar0, 4, 1 | 2 | 4);
    put_u64(&mut bar0, 16, 0x20000);
    let info = parse_region_info(&bar0).unwrap();
    assert_eq!(info.sparse_areas, None);
    assert_eq!(info.mappable_prefix(), 0x20000);
    assert_eq!(
        info.mappable_areas(),
        [SparseArea {
            offset: 0,
            size: 0x20000
        }]
    );
}

// ---- IOVA allocator ----

#[test]
fn allocator_skips_low_iovas_and_holes_and_aligns() {
    let ranges = [
        IovaRange {
            start: 0,
            end: 0xfedf_ffff,
        },
        IovaRange {
            start: 0xfef0_0000,
            end: (1 << 39) - 1,
        },
    ];
    let mut a = IovaAllocator::new(&ranges, 4096);
    let first = a.allocate(4096).unwrap();
    assert_eq!(
        first, MIN_IOVA,
        "IOVA 0 and the low MiB are never handed out"
    );
    let huge = a.allocate(2 << 20).unwrap();
    assert_eq!(huge % (2 << 20), 0, "2 MiB buffers are 2 MiB aligned");
    let odd = a.allocate(5000).unwrap();
    assert_eq!(
        odd % 8192,
        0,
        "5000 bytes round to two pages, aligned to 8 KiB"
    );
    assert!(a.free(odd, 5000));
    assert!(!a.free(odd, 5000), "double free refused");
    assert_eq!(a.allocate(8192).unwrap(), odd, "freed space is reused");
    assert_eq!(a.allocate(0), None);
}

#[test]
fn allocator_uses_the_second_range_and_reports_exhaustion() {
    let ranges = [
        IovaRange {
            start: 0x10_0000,
            end: 0x10_3fff,
        },
        IovaRange {
            start: 0x20_0000,
            end: 0x20_1fff,
        },
    ];
    let mut a = IovaAllocator::new(&ranges, 4096);
    let sizes = [0x4000, 0x2000];
    let got: Vec<u64> = sizes.iter().map(|&s| a.allocate(s).unwrap()).collect();
    assert_eq!(got, [0x10_0000, 0x20_0000]);
    assert_eq!(a.allocate(4096), None);
    assert_eq!(a.live(), 2);
    assert_eq!(a.describe_ranges(), "0x100000-0x103fff, 0x200000-0x201fff");
}

#[test]
fn allocator_handles_the_top_of_the_address_space() {
    let mut a = IovaAllocator::new(
        &[IovaRange {
            start: u64::MAX - 0x1_ffff,
            end: u64::MAX,
        }],
        4096,
    );
    assert_eq!(a.allocate(0x1_0000), Some(u64::MAX - 0x1_ffff));
    assert_eq!(
        a.allocate(0x1_0000),
        Some(u64::MAX - 0xffff),
        "ends exactly at u64::MAX"
    );
    assert_eq!(a.allocate(0x1000), None);
}

proptest! {
    #[test]
    fn allocations_are_aligned_in_range_and_disjoint(ops in proptest::collection::vec((1u64..(8 << 20), any::<bool>()), 1..80)) {
        let ranges = [IovaRange { start: 0, end: 0x7ff_ffff }, IovaRange { start: 0x900_0000, end: 0xfff_ffff }];
        let mut a = IovaAllocator::new(&ranges, 4096);
        let mut live: Vec<(u64, u64)> = Vec::new();
        for (len, free_one) in ops {
            if free_one && !live.is_empty() {
                let (iova, l) = live.remove(len as usize % live.len());
                prop_assert!(a.free(iova, l));
                continue;
            }
            if let Some(iova) = a.allocate(len) {
                let rounded = len.next_multiple_of(4096);
                prop_assert_eq!(iova % a.alignment_for(rounded), 0);
                prop_assert!(iova >= MIN_IOVA);
                prop_assert!(ranges.iter().any(|r| iova >= r.start && iova + rounded - 1 <= r.end));
                for &(other, other_len) in &live {
                    let other_rounded = other_len.next_multiple_of(4096);
                    prop_assert!(iova + rounded <= other || other + other_rounded <= iova, "overlap");
                }
                live.push((iova, len));
            }
        }
        prop_assert_eq!(a.live(), live.len());
    }
}

// ---- Mmio and RegisterAccess ----

const STATUS: usize = 0x8;
const CTRL: usize = 0x0;

/// What a driver function generic over the register trait looks like.
fn reset_requested<R: RegisterAccess>(regs: &R) -> bool {
    regs.set_bits32(CTRL, 1 << 26);
    regs.read32(CTRL) & (1 << 26) != 0
}

#[test]
fn mmio_over_a_heap_buffer() {
    let mut buffer = vec![0u32; 0x20000 / 4];
    buffer[STATUS / 4] = 0x8008_0783;
    {
        let mmio = Mmio::from_buffer(&mut buffer);
        assert_eq!(mmio.len(), 0x20000);
        assert_eq!(mmio.read32(STATUS), 0x8008_0783);
        mmio.write32(0x1_fffc, 0xdead_beef);
        assert!(reset_requested(&mmio));
        mmio.clear_bits32(STATUS, 0x3);
        assert!(reset_requested(&&mmio), "works through references too");
    }
    assert_eq!(buffer[0x1_fffc / 4], 0xdead_beef);
    assert_eq!(buffer[CTRL / 4], 1 << 26);
    assert_eq!(buffer[STATUS / 4], 0x8008_0780);
}

#[test]
fn mmio_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mmio<'static>>();
    assert_send_sync::<vfio_netmap::driver::vfio::MappedBar>();
    let mut buffer = vec![0u32; 16];
    let mmio = Mmio::from_buffer(&mut buffer);
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = &mmio;
            s.spawn(move || m.write32(t * 4, t as u32 + 1));
        }
    });
    assert_eq!(
        (0..4).map(|t| mmio.read32(t * 4)).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "outside")]
fn mmio_out_of_bounds_is_caught_in_debug_builds() {
    let mut buffer = vec![0u32; 4];
    Mmio::from_buffer(&mut buffer).read32(16);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "not 4-byte aligned")]
fn mmio_misaligned_is_caught_in_debug_builds() {
    let mut buffer = vec![0u32; 4];
    Mmio::from_buffer(&mut buffer).write32(2, 0);
}

// ---- no-IOMMU physical addresses, ioctl numbers ----

#[test]
fn pagemap_entries() {
    assert_eq!(pagemap_entry_pfn((1 << 63) | 0x1234), Some(0x1234));
    assert_eq!(pagemap_entry_pfn(0x1234), None, "not present");
    assert_eq!(
        pagemap_entry_pfn(1 << 63),
        None,
        "PFN hidden (no CAP_SYS_ADMIN)"
    );
    assert_eq!(
        pagemap_entry_pfn((1 << 63) | (1 << 55) | 7),
        Some(7),
        "soft-dirty bit ignored"
    );
}

#[test]
fn physical_address_of_a_resident_page() {
    let mut page = vec![0u8; 8192];
    let start = page.as_mut_ptr() as usize;
    let aligned = start.next_multiple_of(4096);
    // SAFETY: writing inside our own buffer makes the page resident.
    unsafe { (aligned as *mut u8).write_volatile(1) };
    match vfio_netmap::driver::vfio::noiommu::physical_range(aligned, 4096) {
        Ok(phys) => assert_eq!(phys % 4096, 0),
        Err(e) => {
            // Without CAP_SYS_ADMIN the PFN is hidden: the error must say so.
            assert!(e.to_string().contains("CAP_SYS_ADMIN"), "{e}");
        }
    }
}

#[test]
fn ioctl_numbers_match_the_kernel() {
    let expected = [
        (ioctl::GET_API_VERSION, 0x3b64),
        (ioctl::CHECK_EXTENSION, 0x3b65),
        (ioctl::SET_IOMMU, 0x3b66),
        (ioctl::GROUP_GET_STATUS, 0x3b67),
        (ioctl::GROUP_SET_CONTAINER, 0x3b68),
        (ioctl::GROUP_GET_DEVICE_FD, 0x3b6a),
        (ioctl::DEVICE_GET_INFO, 0x3b6b),
        (ioctl::DEVICE_GET_REGION_INFO, 0x3b6c),
        (ioctl::DEVICE_GET_IRQ_INFO, 0x3b6d),
        (ioctl::DEVICE_SET_IRQS, 0x3b6e),
        (ioctl::DEVICE_RESET, 0x3b6f),
        (ioctl::IOMMU_GET_INFO, 0x3b70),
        (ioctl::IOMMU_MAP_DMA, 0x3b71),
        (ioctl::IOMMU_UNMAP_DMA, 0x3b72),
    ];
    for (got, want) in expected {
        assert_eq!(got, want);
    }
}
