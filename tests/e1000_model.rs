//! The e1000 driver against a register-level model on the host: frames go
//! in one port and come out the other byte for byte, in order; the device
//! never DMAs outside the buffer pool; bad slots and removed hardware give
//! errors, not hangs.

mod common;
#[path = "../hw/models/e1000.rs"]
mod e1000_model;

use std::sync::Arc;

use common::mixed_tx::mixed_transmit;

use e1000_model::{Dma, E1000Model, ModelRegs};
use vfio_netmap::api::{ApiError, Port};
use vfio_netmap::api::{NicParts, NicRings};
use vfio_netmap::driver::DriverError;
use vfio_netmap::driver::desc_ring::DmaWindow;
use vfio_netmap::driver::e1000::regs::RDT;
use vfio_netmap::driver::e1000::{self, E1000, Model, Options};
use vfio_netmap::driver::regs::RegisterAccess;
use vfio_netmap::mem::{Region, RegionConfig};

const IOVA_BASE: u64 = 0x7_0000_0000;

/// The IOMMU stand-in: only the region's buffer pool is mapped.
struct RegionDma(Arc<Region>);

impl RegionDma {
    fn locate(&self, iova: u64, len: usize) -> Option<(u32, usize)> {
        let bs = self.0.buf_size() as u64;
        let rel = iova.checked_sub(IOVA_BASE)?;
        let (idx, off) = ((rel / bs) as u32, (rel % bs) as usize);
        (self.0.valid_buf(idx) && off + len <= bs as usize).then_some((idx, off))
    }
}

impl Dma for RegionDma {
    fn read(&self, iova: u64, buf: &mut [u8]) -> bool {
        let Some((idx, off)) = self.locate(iova, buf.len()) else {
            return false;
        };
        // SAFETY: the model plays the device, which owns these buffers by
        // the descriptor protocol while it processes them.
        let src = unsafe { self.0.buf(idx) }.unwrap();
        buf.copy_from_slice(&src[off..off + buf.len()]);
        true
    }
    fn write(&self, iova: u64, data: &[u8]) -> bool {
        let Some((idx, off)) = self.locate(iova, data.len()) else {
            return false;
        };
        // SAFETY: as above.
        let dst = unsafe { self.0.buf_mut(idx) }.unwrap();
        dst[off..off + data.len()].copy_from_slice(data);
        true
    }
}

struct Lab {
    a: Port,
    b: Port,
    model_a: Arc<E1000Model>,
    model_b: Arc<E1000Model>,
}

fn open_port(
    region: &Arc<Region>,
    model: &Arc<E1000Model>,
    name: &str,
    slots: u32,
) -> Result<Port, DriverError> {
    open_port_with(ModelRegs(model.clone()), region, name, slots)
}

fn open_port_with<R: RegisterAccess + Send + 'static>(
    regs: R,
    region: &Arc<Region>,
    name: &str,
    slots: u32,
) -> Result<Port, DriverError> {
    let window = DmaWindow {
        base: IOVA_BASE,
        buf_size: region.buf_size() as u64,
    };
    let rings = NicRings::allocate(region, name, 1, slots)?;
    let tx = region.ring(rings.tx[0].0, slots)?;
    let rx = region.ring(rings.rx[0].0, slots)?;
    let opts = Options {
        link_wait: std::time::Duration::from_millis(50),
        ..Options::default()
    };
    let nic = E1000::init(regs, Model::I82540Em, region, window, &tx, &rx, opts);
    match nic {
        Ok(nic) => Ok(Port::from_nic(
            name,
            NicParts::new(region.clone(), rings, Box::new(nic)),
        )),
        Err(e) => {
            rings.free(region);
            Err(e)
        }
    }
}

fn lab(slots: u32) -> Lab {
    lab_in(slots, RegionConfig::default())
}

fn lab_in(slots: u32, config: RegionConfig) -> Lab {
    lab_with(slots, config, |regs| regs)
}

/// Two connected models; port B reaches its model through `regs_b`, a
/// wrapper around the plain model registers.
fn lab_with<R: RegisterAccess + Send + 'static>(
    slots: u32,
    config: RegionConfig,
    regs_b: impl FnOnce(ModelRegs) -> R,
) -> Lab {
    let region = Arc::new(Region::private("e1000-test", config).unwrap());
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model_a = E1000Model::new([2, 0, 0, 0, 0, 0xa], dma.clone());
    let model_b = E1000Model::new([2, 0, 0, 0, 0, 0xb], dma);
    E1000Model::connect(&model_a, &model_b);
    let a = open_port(&region, &model_a, "a", slots).unwrap();
    let b = open_port_with(regs_b(ModelRegs(model_b.clone())), &region, "b", slots).unwrap();
    Lab {
        a,
        b,
        model_a,
        model_b,
    }
}

fn frame(seq: u64, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xb]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xa]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..22].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in f[22..].iter_mut().enumerate() {
        *b = (seq as usize * 7 + i) as u8;
    }
    f
}

fn len_of(seq: u64) -> usize {
    60 + (seq as usize * 37) % (1514 - 60 + 1)
}

#[test]
fn frames_cross_the_model_wire_intact_and_in_order() {
    let mut l = lab(256);
    let total = 50_000u64;
    let (mut sent, mut got) = (0u64, 0u64);
    while got < total {
        let mut batch = l.a.tx_batch(0).unwrap();
        while sent < total && sent - got < 200 && batch.push(&frame(sent, len_of(sent))) {
            sent += 1;
        }
        batch.commit();
        l.a.txsync().unwrap();
        l.b.rxsync().unwrap();
        let mut rx = l.b.rx_batch(0).unwrap();
        while let Some(p) = rx.next() {
            assert_eq!(p, &frame(got, len_of(got))[..], "frame {got}");
            got += 1;
        }
        drop(rx);
        l.b.rxsync().unwrap();
    }
    assert_eq!(got, total);
    assert!(
        l.model_a.faults().is_empty() && l.model_b.faults().is_empty(),
        "{:?}",
        l.model_a.faults()
    );
}

/// Rings deeper than Linux's and DPDK's 4096 descriptors, up to the
/// deepest the driver takes: a receiver that stalls can leave nearly the
/// whole ring full, and every frame still arrives, in order, once it
/// catches up.
#[test]
fn the_deepest_ring_holds_a_whole_ring_of_frames_while_the_receiver_waits() {
    let slots = e1000::MAX_DESCRIPTORS;
    let config = RegionConfig {
        max_slots: slots,
        num_bufs: 5 * slots, // two ports: both rings' buffers, and descriptors
        ..RegionConfig::default()
    };
    let mut l = lab_in(slots, config);
    // The receiver may own at most n - 1 descriptors.
    let backlog = u64::from(slots) - 1;
    let mut sent = 0u64;
    while sent < backlog {
        let mut batch = l.a.tx_batch(0).unwrap();
        while sent < backlog && batch.push(&frame(sent, 60 + (sent % 64) as usize)) {
            sent += 1;
        }
        batch.commit();
        l.a.txsync().unwrap();
    }
    let mut got = 0u64;
    for _ in 0..4 {
        l.b.rxsync().unwrap();
        let mut rx = l.b.rx_batch(0).unwrap();
        while let Some(p) = rx.next() {
            assert_eq!(p, &frame(got, 60 + (got % 64) as usize)[..], "frame {got}");
            got += 1;
        }
    }
    assert_eq!(got, backlog, "frames lost by a full deep ring");
    assert!(l.model_a.faults().is_empty() && l.model_b.faults().is_empty());
}

#[test]
fn ring_sizes_beyond_what_the_device_takes_are_refused() {
    let deepest = e1000::MAX_DESCRIPTORS;
    let config = RegionConfig {
        max_slots: deepest,
        num_bufs: 5 * deepest,
        ..RegionConfig::default()
    };
    let region = Arc::new(Region::private("e1000-sizes", config).unwrap());
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = E1000Model::new([2, 0, 0, 0, 0, 1], dma);
    for slots in [12u32, 4] {
        let err = open_port(&region, &model, "odd", slots).unwrap_err();
        assert!(
            matches!(err, DriverError::BadRingSize { slots: s, .. } if s == slots),
            "{slots}: {err}"
        );
    }
    let free = region.free_bufs();
    drop(open_port(&region, &model, "deep", deepest).unwrap());
    assert_eq!(region.free_bufs(), free);
}

#[test]
fn tx_completions_come_back_to_the_application() {
    let mut l = lab(64);
    // Fill the ring several times over: tail must keep advancing.
    for round in 0..20u64 {
        let mut batch = l.a.tx_batch(0).unwrap();
        let mut n = 0;
        while batch.push(&frame(round, 60)) {
            n += 1;
        }
        batch.commit();
        assert!(n > 0, "no room in round {round}: completions not reclaimed");
        l.a.txsync().unwrap();
        l.b.rxsync().unwrap();
        l.b.rx_batch(0).unwrap().for_each(|_| {});
        l.b.rxsync().unwrap();
        l.a.txsync().unwrap();
    }
}

#[test]
fn bad_slots_are_rejected_before_the_device_sees_them() {
    let mut l = lab(64);
    let ring = l.a.tx_ring(0).unwrap();
    ring.set_buf_idx(0, 1).unwrap();
    ring.set_len(0, 60).unwrap();
    ring.advance_to(1);
    assert!(matches!(
        l.a.txsync(),
        Err(ApiError::BadBufIdx { buf_idx: 1, .. })
    ));
    let ring = l.a.tx_ring(0).unwrap();
    ring.set_buf_idx(0, u32::MAX).unwrap();
    assert!(matches!(l.a.txsync(), Err(ApiError::BadBufIdx { .. })));
    assert!(
        l.model_a.faults().is_empty(),
        "the device was pointed outside the pool"
    );
}

#[test]
fn removed_hardware_gives_errors_not_hangs() {
    let region = Arc::new(Region::private("e1000-gone", RegionConfig::default()).unwrap());
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = E1000Model::new([2, 0, 0, 0, 0, 1], dma);
    model.remove();
    let err = open_port(&region, &model, "gone", 64).unwrap_err();
    assert!(matches!(err, DriverError::DeviceRemoved { .. }), "{err}");

    let mut l = lab(64);
    l.model_b.remove();
    l.a.tx_batch(0).unwrap().push(&frame(0, 60));
    l.a.txsync().unwrap();
    l.b.rxsync().unwrap();
    assert!(!l.b.peer_alive(), "link reads down once the device is gone");
    drop(l);
}

#[test]
fn closing_ports_returns_every_buffer() {
    let region = Arc::new(Region::private("e1000-leak", RegionConfig::default()).unwrap());
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = E1000Model::new([2, 0, 0, 0, 0, 1], dma);
    let free = region.free_bufs();
    for _ in 0..20 {
        let port = open_port(&region, &model, "cycle", 512).unwrap();
        assert!(region.free_bufs() < free);
        drop(port);
        assert_eq!(
            region.free_bufs(),
            free,
            "buffers leaked by an open/close cycle"
        );
    }
}

#[test]
fn counters_match_what_was_sent() {
    let mut l = lab(128);
    for seq in 0..100 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 60));
        l.a.txsync().unwrap();
        l.b.rxsync().unwrap();
        l.b.rx_batch(0).unwrap().for_each(|_| {});
        l.b.rxsync().unwrap();
    }
    let a = l.a.nic_info().unwrap();
    let b = l.b.nic_info().unwrap();
    assert_eq!(a.counter("GPTC"), Some(100));
    assert_eq!(b.counter("GPRC"), Some(100));
    assert_eq!(b.mac_string(), "02:00:00:00:00:0b");
    assert!(b.link_up);
    // Clear-on-read registers accumulate: reading again keeps the totals.
    assert_eq!(l.b.nic_info().unwrap().counter("GPRC"), Some(100));
}

#[test]
fn mac_and_promiscuous_mode_through_the_port() {
    let mut l = lab(64);
    l.b.set_mac([2, 0, 0, 0, 0, 0x42]).unwrap();
    assert_eq!(l.b.nic_info().unwrap().mac_string(), "02:00:00:00:00:42");
    l.b.set_promiscuous(true).unwrap();
    l.b.set_promiscuous(false).unwrap();
    let mut pipe =
        vfio_netmap::ports::open(&format!("netmap:macpipe_{}{{0", std::process::id())).unwrap();
    assert!(pipe.set_mac([0; 6]).is_err() && pipe.set_promiscuous(true).is_err());
}

/// A released receive slot whose buffer index was changed without
/// NS_BUF_CHANGED is checked all the same: the device never gets an address
/// outside the pool, and the ring works once the index is fixed.
#[test]
fn unflagged_bad_rx_buffer_is_rejected_and_the_ring_recovers() {
    let mut l = lab(64);
    l.a.tx_batch(0).unwrap().push(&frame(1, 60));
    l.a.txsync().unwrap();
    l.b.rxsync().unwrap();
    let rx = l.b.rx_ring(0).unwrap();
    let h = rx.head();
    assert_ne!(h, rx.tail(), "the frame arrived");
    let good = rx.slot(h).unwrap().buf_idx;
    rx.set_buf_idx(h, u32::MAX).unwrap();
    rx.advance_to(rx.next(h));
    assert!(matches!(
        l.b.rxsync(),
        Err(ApiError::BadBufIdx {
            buf_idx: u32::MAX,
            ..
        })
    ));
    l.b.rx_ring(0).unwrap().set_buf_idx(h, good).unwrap();
    l.b.rxsync().unwrap();
    l.a.tx_batch(0).unwrap().push(&frame(2, 60));
    l.a.txsync().unwrap();
    l.b.rxsync().unwrap();
    let rx = l.b.rx_ring(0).unwrap();
    assert_eq!(rx.packet(rx.head()), Some(&frame(2, 60)[..]));
    assert!(
        l.model_b.faults().is_empty(),
        "the device was pointed outside the pool"
    );
}

/// The transmit path's out-of-line cases mixed with the common one, over
/// ring wraps (see `common::mixed_tx`).
#[test]
fn e1000_mixed_fragments_reports_long_batches_and_cut_batches_arrive_whole_in_order() {
    let mut l = lab(256);
    let total = 30_000;
    mixed_transmit(&mut l.a, &mut l.b, total, frame);
    assert_eq!(l.b.nic_info().unwrap().counter("GPRC"), Some(total));
    assert!(
        l.model_a.faults().is_empty() && l.model_b.faults().is_empty(),
        "{:?} {:?}",
        l.model_a.faults(),
        l.model_b.faults()
    );
}

/// Model registers whose RDT writes take `delay` (as under QEMU, where
/// each waits for the global lock) and are counted.
struct SlowRdt {
    inner: ModelRegs,
    delay: std::time::Duration,
    rdt_writes: Arc<std::sync::atomic::AtomicU32>,
}

impl RegisterAccess for SlowRdt {
    fn read32(&self, offset: usize) -> u32 {
        self.inner.read32(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        if offset == RDT {
            self.rdt_writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(self.delay);
        }
        self.inner.write32(offset, value)
    }
}

/// RDT writes during `total` frames sent 16 at a time, every frame checked
/// byte for byte and in order.
fn rdt_writes_receiving(delay: std::time::Duration, slots: u32, total: u64) -> u32 {
    let writes = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut l = lab_with(slots, RegionConfig::default(), |inner| SlowRdt {
        inner,
        delay,
        rdt_writes: writes.clone(),
    });
    let at_start = writes.load(std::sync::atomic::Ordering::Relaxed);
    let (mut sent, mut got) = (0u64, 0u64);
    while got < total {
        let mut batch = l.a.tx_batch(0).unwrap();
        while sent < total && sent - got < 16 && batch.push(&frame(sent, 60)) {
            sent += 1;
        }
        batch.commit();
        l.a.txsync().unwrap();
        l.b.rxsync().unwrap();
        let mut rx = l.b.rx_batch(0).unwrap();
        while let Some(p) = rx.next() {
            assert_eq!(p, &frame(got, 60)[..], "frame {got}");
            got += 1;
        }
        drop(rx);
        l.b.rxsync().unwrap();
    }
    assert!(l.model_b.faults().is_empty(), "{:?}", l.model_b.faults());
    let counted = writes.load(std::sync::atomic::Ordering::Relaxed) - at_start;
    // The receiver's own account of its tail writes (what pkt-gen prints)
    // agrees with the device's, and so does the time they took.
    let info = l.b.nic_info().unwrap();
    assert_eq!(info.counter("rx_tail_writes"), Some(counted as u64));
    let max_us = info.counter("rx_tail_write_us_max").unwrap();
    let mean_us = info.counter("rx_tail_write_us_mean").unwrap();
    assert!(mean_us <= max_us, "mean {mean_us} us, max {max_us} us");
    if !delay.is_zero() {
        assert!(
            mean_us >= delay.as_micros() as u64,
            "writes that sleep {delay:?} took {mean_us} us on average"
        );
    }
    counted
}

/// Where RDT writes are cheap the driver hands descriptors back every
/// eighth of the ring; where they are slow (QEMU), every half, so a
/// receiver stalls on them a quarter as often. No frame is lost either way.
#[test]
fn slow_rdt_writes_are_batched_in_half_rings() {
    let (slots, total) = (256u32, 256 * 16);
    let fast = rdt_writes_receiving(std::time::Duration::ZERO, slots, total);
    let slow = rdt_writes_receiving(std::time::Duration::from_micros(200), slots, total);
    // An eighth of 256 is 32 slots, a half 128: 4096 frames make about 128
    // writes in the first case and 32 in the second (the first few slow
    // writes are still counted as fast while the average builds up).
    assert!(
        (110..=140).contains(&fast),
        "fast doorbell: {fast} RDT writes"
    );
    assert!(
        (30..=50).contains(&slow),
        "slow doorbell: {slow} RDT writes"
    );
}
