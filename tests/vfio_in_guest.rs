//! Real VFIO, inside the QEMU lab. Every test here is ignored on the host;
//! run them in the guest, where the NICs are bound to vfio-pci and
//! `LAB_NICS` lists them:
//!
//! ```text
//! hw/lab run --nic e1000 --nic igb -- cargo test --test vfio_in_guest -- --ignored --test-threads=1
//! ```
//!
//! (`--test-threads=1`: the tests open the same devices, and a VFIO group
//! can be open in only one container at a time.) `LAB_CYCLES` overrides the
//! number of open/close cycles of the leak test (default 1000).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use vfio_netmap::driver::vfio::{Container, ContainerOptions, Device, DmaMap, IrqKind};
use vfio_netmap::driver::{DriverError, Host, PciAddr, RegisterAccess, config, pci};

const STATUS: usize = 0x8;
const ICR: usize = 0xc0;
const ICS: usize = 0xc8;
const IMS: usize = 0xd0;
const IMC: usize = 0xd8;

fn lab_nics() -> Vec<PciAddr> {
    let list = std::env::var("LAB_NICS").unwrap_or_else(|_| {
        panic!("LAB_NICS is not set: run this inside the lab: `hw/lab run -- cargo test --test vfio_in_guest -- --ignored`")
    });
    let nics: Vec<PciAddr> = list
        .split_whitespace()
        .map(|a| a.parse().expect("LAB_NICS holds PCI addresses"))
        .collect();
    assert!(!nics.is_empty(), "LAB_NICS is empty");
    nics
}

fn open(addr: PciAddr) -> (Arc<Container>, Device) {
    let container = Container::open(&Host::system(), ContainerOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let device = Device::open(&container, addr).unwrap_or_else(|e| panic!("{e}"));
    (container, device)
}

fn ids(addr: PciAddr) -> (u16, u16) {
    let dev = pci::device(&Host::system(), addr).unwrap();
    (dev.vendor, dev.device)
}

fn is_e1000(device_id: u16) -> bool {
    matches!(device_id, 0x100e | 0x100f)
}

#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_each_nic_config_space_bar0_and_status() {
    for addr in lab_nics() {
        let (vendor, device_id) = ids(addr);
        let (_container, device) = open(addr);
        assert_eq!(
            device.config_u16(0).unwrap(),
            0x8086,
            "{addr}: vendor via VFIO config region"
        );
        assert_eq!(
            device.config_u16(2).unwrap(),
            device_id,
            "{addr}: device id via VFIO matches sysfs"
        );
        assert_eq!(vendor, 0x8086);
        device.enable_bus_master().unwrap();
        let command = device.config_u16(config::COMMAND as u64).unwrap();
        assert_eq!(command & 0x6, 0x6, "{addr}: memory space and bus master on");

        let bar0 = device.map_bar(0).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            bar0.registers().len() >= 0x20000,
            "{addr}: BAR0 is 128 KiB on all lab models"
        );
        let status = bar0.read32(STATUS);
        eprintln!("{addr} ({device_id:04x}): STATUS = {status:#010x}");
        match device_id {
            // e1000 reset value 0x80080783; the link and speed bits may differ.
            id if is_e1000(id) => assert_eq!(
                status & 0xffff_0000,
                0x8008_0000,
                "{addr}: STATUS {status:#x}"
            ),
            // igb reset value 0x80080481.
            0x10c9 => assert_eq!(
                status & 0xffff_0000,
                0x8008_0000,
                "{addr}: STATUS {status:#x}"
            ),
            _ => assert_ne!(
                status, 0xffff_ffff,
                "{addr}: all-ones means the BAR is not decoding"
            ),
        }
    }
}

#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_reset_matches_what_each_model_offers() {
    for addr in lab_nics() {
        let (_, device_id) = ids(addr);
        let (_container, device) = open(addr);
        let result = device.reset();
        if is_e1000(device_id) {
            // lab.md: QEMU's e1000 has no FLR, so VFIO offers no reset.
            assert!(
                matches!(result, Err(DriverError::ResetUnsupported { .. })),
                "{addr}: {result:?}"
            );
        } else if device.info().supports_reset() {
            result.unwrap_or_else(|e| panic!("{addr}: {e}"));
            assert_eq!(
                device.config_u16(0).unwrap(),
                0x8086,
                "{addr}: device answers after reset"
            );
        }
    }
}

#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_dma_map_unmap_2mib() {
    let addr = lab_nics()[0];
    let (container, _device) = open(addr);
    let mut buffer = memmap2::MmapMut::map_anon(2 << 20).unwrap();
    // SAFETY: the buffer outlives the mapping: it is unmapped below.
    let iova = unsafe { container.map_dma(buffer.as_mut_ptr(), buffer.len()) }
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(iova % (2 << 20), 0, "2 MiB mappings are 2 MiB aligned");
    let info = container.iommu_details().unwrap();
    let ranges = info
        .ranges
        .expect("the lab kernel (6.12) reports IOVA ranges");
    assert!(
        ranges
            .iter()
            .any(|r| iova >= r.start && iova + (2 << 20) - 1 <= r.end),
        "{iova:#x} outside {ranges:?}"
    );
    assert_eq!(container.dma_mapping_count(), 1);
    container.unmap_dma(iova, buffer.len()).unwrap();
    assert!(matches!(
        container.unmap_dma(iova, buffer.len()),
        Err(DriverError::NotMapped { .. })
    ));
    assert_eq!(container.dma_mapping_count(), 0);
}

#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_all_nics_share_one_container() {
    let nics = lab_nics();
    let container = Container::open(&Host::system(), ContainerOptions::default()).unwrap();
    let devices: Vec<Device> = nics
        .iter()
        .map(|&a| Device::open(&container, a).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut buffer = memmap2::MmapMut::map_anon(64 << 10).unwrap();
    // SAFETY: unmapped before `buffer` is dropped.
    let iova = unsafe { container.map_dma(buffer.as_mut_ptr(), buffer.len()) }.unwrap();
    for device in &devices {
        assert!(Arc::ptr_eq(device.container(), &container));
    }
    container.unmap_dma(iova, buffer.len()).unwrap();
}

/// INTx on the e1000 (its only interrupt): raise a cause through ICS and
/// expect the eventfd to fire; MSI/MSI-X on the others: enable and disable.
#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_interrupts_through_eventfds() {
    for addr in lab_nics() {
        let (_, device_id) = ids(addr);
        let (_container, device) = open(addr);
        let bar0 = device.map_bar(0).unwrap();
        if is_e1000(device_id) {
            let irqs = device
                .enable_interrupts(IrqKind::Intx, 1)
                .unwrap_or_else(|e| panic!("{e}"));
            bar0.write32(IMC, u32::MAX);
            let _ = bar0.read32(ICR);
            let _ = irqs.take(0);
            bar0.write32(IMS, 1); // TXDW
            bar0.write32(ICS, 1);
            let fired = irqs.wait(0, Some(Duration::from_secs(2))).unwrap();
            assert!(fired >= 1, "{addr}: no INTx after writing ICS");
            assert_ne!(
                bar0.read32(ICR) & 1,
                0,
                "{addr}: ICR shows the cause (and clears it)"
            );
            bar0.write32(IMC, u32::MAX);
            irqs.unmask_intx().unwrap();
            assert!(matches!(
                device.enable_interrupts(IrqKind::Msix, 1),
                Err(DriverError::IrqUnavailable { .. }) | Err(DriverError::Ioctl { .. })
            ));
        } else {
            for kind in [IrqKind::Msi, IrqKind::Msix] {
                let info = device.irq_info(kind).unwrap();
                eprintln!("{addr}: {} offers {} vector(s)", kind.name(), info.count);
                if info.count > 0 {
                    let irqs = device
                        .enable_interrupts(kind, info.count)
                        .unwrap_or_else(|e| panic!("{addr} {}: {e}", kind.name()));
                    assert_eq!(irqs.count(), info.count as usize);
                    drop(irqs); // disables them again
                }
            }
        }
    }
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 1000 open/map/unmap/close cycles leave fds, mappings, locked and pinned
/// memory where they started.
#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_open_close_cycles_leak_nothing() {
    let addr = lab_nics()[0];
    let cycles: usize = std::env::var("LAB_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let mut buffer = memmap2::MmapMut::map_anon(2 << 20).unwrap();
    let cycle = |buffer: &mut memmap2::MmapMut| {
        let (container, device) = open(addr);
        let bar0 = device.map_bar(0).unwrap();
        let _ = bar0.read32(STATUS);
        // SAFETY: unmapped (explicitly, or by the container's drop) before the buffer goes.
        let iova = unsafe { container.map_dma(buffer.as_mut_ptr(), buffer.len()) }.unwrap();
        container.unmap_dma(iova, buffer.len()).unwrap();
        // SAFETY: as above; this one is left to Container's Drop.
        let _left_mapped = unsafe { container.map_dma(buffer.as_mut_ptr(), buffer.len()) }.unwrap();
    };
    cycle(&mut buffer); // warm up lazily allocated process state
    let before = (
        fd_count(),
        map_count(),
        status_kib("VmLck:"),
        status_kib("VmPin:"),
    );
    for _ in 0..cycles {
        cycle(&mut buffer);
    }
    let after = (
        fd_count(),
        map_count(),
        status_kib("VmLck:"),
        status_kib("VmPin:"),
    );
    assert_eq!(
        before, after,
        "(fds, maps, VmLck kB, VmPin kB) before vs after {cycles} cycles"
    );
}

#[test]
#[ignore = "needs the lab: run inside hw/lab"]
fn lab_cli_status_and_info() {
    let nics = lab_nics();
    let bin = env!("CARGO_BIN_EXE_vfio-netmap");
    let out = Command::new(bin)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json = String::from_utf8(out.stdout).unwrap();
    for addr in &nics {
        assert!(json.contains(&format!("\"address\":\"{addr}\"")), "{json}");
    }
    let out = Command::new(bin)
        .args(["info", &nics[0].to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("VFIO:") && text.contains("BAR0: size 128 KiB"),
        "{text}"
    );
    assert!(text.contains("usable IOVA ranges"), "{text}");
}
