//! The ixgbe driver against the 82599 register model: the init sequence
//! keeps the datasheet's order and reserved bits, frames cross the model
//! wire intact, RSS lands flows where the Toeplitz vectors predict, counters
//! match, and injected faults give errors or counters, never hangs, panics
//! or DMA outside the pool.

mod common;
#[path = "../hw/models/ixgbe/mod.rs"]
mod ixgbe_model;

use std::sync::Arc;

use common::mixed_tx::mixed_transmit;
use std::time::{Duration, Instant};

use ixgbe_model::pair::{self, ModelPair, RegionDma};
use ixgbe_model::toeplitz::{rss, toeplitz};
use ixgbe_model::{Config, Dma, IxgbeModel};
use vfio_netmap::api::{ApiError, Port};
use vfio_netmap::driver::ixgbe::device::{DEFAULT_RSS_KEY, RSS_FIELDS, reta_entry};
use vfio_netmap::driver::ixgbe::regs::*;
use vfio_netmap::driver::ixgbe::{IxgbeError, Options};
use vfio_netmap::mem::{Region, RegionConfig};

fn region(name: &str, bufs: u32) -> Arc<Region> {
    let cfg = RegionConfig {
        num_bufs: bufs,
        num_rings: 160,
        ..RegionConfig::default()
    };
    Arc::new(Region::private(name, cfg).unwrap())
}

fn lab(name: &str, queues: usize, slots: u32) -> ModelPair {
    pair::connected_pair(&region(name, 32768), queues, slots, false).unwrap()
}

fn assert_clean(p: &ModelPair) {
    for m in [&p.model_a, &p.model_b] {
        assert!(
            m.dma_faults().is_empty(),
            "DMA faults: {:?}",
            m.dma_faults()
        );
        assert!(
            m.violations().is_empty(),
            "violations: {:?}",
            m.violations()
        );
    }
}

/// An Ethernet/IPv4/UDP (or TCP) frame from MAC_A to MAC_B carrying `seq`.
fn ipv4_frame(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    tcp: bool,
    seq: u64,
    len: usize,
) -> Vec<u8> {
    let mut f = vec![0u8; len.max(64)];
    f[0..6].copy_from_slice(&pair::MAC_B);
    f[6..12].copy_from_slice(&pair::MAC_A);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    let total = (len.max(64) - 14) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = if tcp { 6 } else { 17 };
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[22..24].copy_from_slice(&dport.to_be_bytes());
    let body = &mut f[14 + 40..];
    body[..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in body[8..].iter_mut().enumerate() {
        *b = (seq as usize * 7 + i) as u8;
    }
    f
}

fn ipv6_frame(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, tcp: bool) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + 20 + 8];
    f[0..6].copy_from_slice(&pair::MAC_B);
    f[6..12].copy_from_slice(&pair::MAC_A);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    let ip = &mut f[14..];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&28u16.to_be_bytes());
    ip[6] = if tcp { 6 } else { 17 };
    ip[7] = 64;
    ip[8..24].copy_from_slice(&src);
    ip[24..40].copy_from_slice(&dst);
    ip[40..42].copy_from_slice(&sport.to_be_bytes());
    ip[42..44].copy_from_slice(&dport.to_be_bytes());
    f
}

/// A plain test frame (ethertype 0x88b5) of length `len` carrying `seq`.
fn frame(seq: u64, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&pair::MAC_B);
    f[6..12].copy_from_slice(&pair::MAC_A);
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

fn ip4(s: &str) -> [u8; 4] {
    let v: Vec<u8> = s.split('.').map(|x| x.parse().unwrap()).collect();
    v.try_into().unwrap()
}

fn ip6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

// ---- RSS -----------------------------------------------------------------

/// The Microsoft RSS verification suite, as the 82599 datasheet (7.1.2.8.1)
/// publishes it: (source, destination, IPv4-only hash, with ports).
const IPV4_VECTORS: [(&str, u16, &str, u16, u32, u32); 5] = [
    (
        "66.9.149.187",
        2794,
        "161.142.100.80",
        1766,
        0x323e8fc2,
        0x51ccc178,
    ),
    (
        "199.92.111.2",
        14230,
        "65.69.140.83",
        4739,
        0xd718262a,
        0xc626b0ea,
    ),
    (
        "24.19.198.95",
        12898,
        "12.22.207.184",
        38024,
        0xd2d0a5de,
        0x5c2b394a,
    ),
    (
        "38.27.205.30",
        48228,
        "209.142.163.6",
        2217,
        0x82989176,
        0xafc7327f,
    ),
    (
        "153.39.163.191",
        44251,
        "202.188.127.2",
        1303,
        0x5d1809c5,
        0x10e828a2,
    ),
];

const IPV6_VECTORS: [(&str, u16, &str, u16, u32, u32); 3] = [
    (
        "3ffe:2501:200:1fff::7",
        2794,
        "3ffe:2501:200:3::1",
        1766,
        0x2cc18cd5,
        0x40207d3d,
    ),
    (
        "3ffe:501:8::260:97ff:fe40:efab",
        14230,
        "ff02::1",
        4739,
        0x0f0c461c,
        0xdde51bbf,
    ),
    (
        "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
        44251,
        "fe80::200:f8ff:fe21:67cf",
        38024,
        0x4b61e985,
        0x02d1feef,
    ),
];

#[test]
fn toeplitz_matches_the_published_verification_vectors() {
    let key = DEFAULT_RSS_KEY;
    for (src, sp, dst, dp, ip_only, with_ports) in IPV4_VECTORS {
        let mut input = ip4(src).to_vec();
        input.extend_from_slice(&ip4(dst));
        assert_eq!(toeplitz(&key, &input), ip_only, "{src} -> {dst}");
        input.extend_from_slice(&sp.to_be_bytes());
        input.extend_from_slice(&dp.to_be_bytes());
        assert_eq!(
            toeplitz(&key, &input),
            with_ports,
            "{src}:{sp} -> {dst}:{dp}"
        );
    }
    for (src, sp, dst, dp, ip_only, with_ports) in IPV6_VECTORS {
        let mut input = ip6(src).to_vec();
        input.extend_from_slice(&ip6(dst));
        assert_eq!(toeplitz(&key, &input), ip_only, "{src} -> {dst}");
        input.extend_from_slice(&sp.to_be_bytes());
        input.extend_from_slice(&dp.to_be_bytes());
        assert_eq!(
            toeplitz(&key, &input),
            with_ports,
            "[{src}]:{sp} -> [{dst}]:{dp}"
        );
    }
    // The frame parser feeds the same input: TCP frames hash with ports.
    let (src, sp, dst, dp, _, with_ports) = IPV4_VECTORS[0];
    let f = ipv4_frame(ip4(src), ip4(dst), sp, dp, true, 0, 64);
    assert_eq!(rss(&key, RSS_FIELDS, &f), Some((with_ports, 1)));
    let (src, sp, dst, dp, _, with_ports) = IPV6_VECTORS[0];
    let f = ipv6_frame(ip6(src), ip6(dst), sp, dp, true);
    assert_eq!(rss(&key, RSS_FIELDS, &f), Some((with_ports, 3)));
}

/// Which RX queue of `port` holds packets after a sync, as (queue, payload).
fn drain(port: &mut Port) -> Vec<(usize, Vec<u8>)> {
    let mut got = Vec::new();
    for q in 0..port.num_rx_rings() {
        port.rxsync_ring(q).unwrap();
        let mut b = port.rx_batch(q).unwrap();
        while let Some(p) = b.next() {
            got.push((q, p.to_vec()));
        }
        drop(b);
        port.rxsync_ring(q).unwrap();
    }
    got
}

#[test]
fn rss_lands_flows_in_the_queues_the_vectors_predict() {
    let queues = 4;
    let mut l = lab("ixgbe-rss", queues, 256);
    let mut expected = Vec::new();
    for (src, sp, dst, dp, _, with_ports) in IPV4_VECTORS {
        let f = ipv4_frame(ip4(src), ip4(dst), sp, dp, true, 0, 64);
        expected.push((f, reta_entry((with_ports & 0x7f) as usize, queues)));
    }
    for (src, sp, dst, dp, _, with_ports) in IPV6_VECTORS {
        let f = ipv6_frame(ip6(src), ip6(dst), sp, dp, true);
        expected.push((f, reta_entry((with_ports & 0x7f) as usize, queues)));
    }
    // Plus many UDP flows, predicted with the same hash.
    for i in 0..400u32 {
        let src = [10, 0, (i >> 8) as u8, i as u8];
        let f = ipv4_frame(src, [10, 1, 0, 1], 1000 + i as u16, 53, false, i as u64, 64);
        let (h, t) = rss(&DEFAULT_RSS_KEY, RSS_FIELDS, &f).unwrap();
        assert_eq!(t, 7, "IPv4/UDP");
        expected.push((f, reta_entry((h & 0x7f) as usize, queues)));
    }
    let mut per_queue = vec![0u64; queues];
    for (f, q) in &expected {
        per_queue[*q as usize] += 1;
        assert!(l.a.tx_batch(0).unwrap().push(f));
        l.a.txsync().unwrap();
        let got = drain(&mut l.b);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, *q as usize, "flow landed in the wrong queue");
        assert_eq!(&got[0].1, f);
    }
    assert!(
        per_queue.iter().all(|&n| n > 0),
        "RSS did not spread: {per_queue:?}"
    );
    let info = l.b.nic_info().unwrap();
    for (q, n) in per_queue.iter().enumerate() {
        assert_eq!(info.counter(&format!("QPRC{q}")), Some(*n), "QPRC{q}");
    }
    assert_clean(&l);
}

// ---- init sequence ---------------------------------------------------------

fn first(log: &[(usize, u32)], pred: impl Fn(usize, u32) -> bool) -> Option<usize> {
    log.iter().position(|&(o, v)| pred(o, v))
}

fn last(log: &[(usize, u32)], pred: impl Fn(usize, u32) -> bool) -> Option<usize> {
    log.iter().rposition(|&(o, v)| pred(o, v))
}

#[test]
fn init_writes_follow_the_datasheet_order_and_reserved_bits() {
    let queues = 4;
    let region = region("ixgbe-init", 16384);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = IxgbeModel::new(Config::new(pair::MAC_A), dma);
    let reset_rdrxctl = model.peek(RDRXCTL);
    let port =
        pair::open_port(&region, &model, "init", queues, 512, pair::model_options()).unwrap();
    let log = model.take_log();
    assert!(model.violations().is_empty(), "{:?}", model.violations());
    let at = |pred: &dyn Fn(usize, u32) -> bool| first(&log, pred).expect("write missing");

    // Interrupts off first, never with reserved EIMC bit 31.
    assert_eq!(log[0], (EIMC, EIMC_VALID_MASK));
    assert!(log.iter().all(|&(o, v)| o != EIMC || v & (1 << 31) == 0));
    let reset = at(&|o, v| o == CTRL && v & CTRL_RST_MASK == CTRL_RST_MASK);
    assert!(
        first(&log[reset + 1..], |o, _| o == EIMC).is_some(),
        "interrupts masked again after reset"
    );
    // Link before RX/TX; stats were read (cleared) by then.
    let autoc = at(&|o, _| o == AUTOC);
    assert!(autoc > reset);

    // RX: everything programmed with RXEN clear; RXEN last.
    let rxen = at(&|o, v| o == RXCTRL && v & RXCTRL_RXEN != 0);
    let rx_off = at(&|o, v| o == RXCTRL && v & RXCTRL_RXEN == 0);
    assert!(rx_off > autoc && rx_off < rxen);
    assert_eq!(
        last(&log, |o, v| o == RXCTRL && v & RXCTRL_RXEN != 0),
        Some(rxen)
    );
    for q in 0..queues {
        let srr = at(&|o, _| o == srrctl(q));
        let (_, v) = log[srr];
        assert_eq!(v & SRRCTL_DESCTYPE_MASK, SRRCTL_DESCTYPE_ADV_ONEBUF);
        assert_ne!(v & SRRCTL_DROP_EN, 0);
        assert_eq!(v & SRRCTL_BSIZEPKT_MASK, 2, "2 KiB buffers");
        let base = at(&|o, _| o == rdbal(q));
        let len = at(&|o, v| o == rdlen(q) && v == 512 * 16);
        let en = at(&|o, v| o == rxdctl(q) && v & RXDCTL_ENABLE != 0);
        let tail = at(&|o, v| o == rdt(q) && v == 511);
        assert!(
            srr < en && base < en && len < en && en < tail && tail < rxen,
            "queue {q}"
        );
    }
    // FCTRL: broadcast accepted, written with RXEN clear (also checked by
    // the model, which records a violation otherwise).
    let fctrl = at(&|o, _| o == FCTRL);
    assert!(fctrl > rx_off && fctrl < rxen);
    assert_ne!(log[fctrl].1 & FCTRL_BAM, 0);
    // RDRXCTL: CRC strip and the values the datasheet requires of the RSC
    // bits; every other bit as the reset left it.
    let rdrx = model.peek(RDRXCTL);
    let required = RDRXCTL_CRCSTRIP | RDRXCTL_RSCACKC | RDRXCTL_FCOE_WRFIX;
    assert_eq!(rdrx & required, required);
    assert_eq!(rdrx & RDRXCTL_RSCFRSTSIZE, 0);
    let touched = required | RDRXCTL_RSCFRSTSIZE;
    assert_eq!(
        rdrx & !touched,
        reset_rdrxctl & !touched,
        "other RDRXCTL bits changed"
    );
    assert_ne!(model.peek(HLREG0) & HLREG0_RXCRCSTRP, 0);
    // RSS over the 4 queues.
    assert_eq!(model.peek(MRQC), MRQC_RSSEN | RSS_FIELDS);
    assert_eq!(model.peek(reta(0)), 0x0302_0100);
    assert_eq!(
        model.peek(rssrk(0)),
        u32::from_le_bytes([0x6d, 0x5a, 0x56, 0xda])
    );

    // TX: DTXMXSZRQ within its field, MTQC with the arbiter off, TE before
    // any queue enable.
    assert!(
        log.iter()
            .all(|&(o, v)| o != DTXMXSZRQ || v & !DTXMXSZRQ_MASK == 0)
    );
    let arb_off = at(&|o, v| o == RTTDCS && v & RTTDCS_ARBDIS != 0);
    let mtqc = at(&|o, _| o == MTQC);
    let arb_on = last(&log, |o, v| o == RTTDCS && v & RTTDCS_ARBDIS == 0).unwrap();
    assert!(arb_off < mtqc && mtqc < arb_on);
    let te = at(&|o, v| o == DMATXCTL && v & DMATXCTL_TE != 0);
    for q in 0..queues {
        let en = at(&|o, v| o == txdctl(q) && v & TXDCTL_ENABLE != 0);
        assert!(te < en, "TXDCTL[{q}].ENABLE before DMATXCTL.TE");
        let (_, v) = log[en];
        assert_eq!((v >> TXDCTL_PTHRESH_SHIFT) & 0x7f, 36);
        assert_eq!((v >> TXDCTL_HTHRESH_SHIFT) & 0x7f, 8);
        assert_eq!(model.peek(txdctl(q)) & TXDCTL_ENABLE, TXDCTL_ENABLE);
    }
    assert_ne!(model.peek(HLREG0) & (HLREG0_TXCRCEN | HLREG0_TXPADEN), 0);
    drop(port);
    assert!(model.dma_faults().is_empty());
}

#[test]
fn enable_masks_and_interrupt_routing_reach_the_registers() {
    let region = region("ixgbe-irq", 8192);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = IxgbeModel::new(Config::new(pair::MAC_A), dma);
    let rings = vfio_netmap::api::NicRings::allocate(&region, "irq", 3, 128).unwrap();
    let nic = vfio_netmap::driver::ixgbe::Ixgbe::init(
        ixgbe_model::ModelRegs(model.clone()),
        pair::chip(),
        &region,
        pair::window(&region),
        &rings,
        pair::model_options(),
    )
    .unwrap();
    nic.route_queue_interrupt(0, 0, 100);
    nic.route_queue_interrupt(1, 1, 100);
    nic.route_queue_interrupt(2, 5, 0);
    assert_eq!(model.peek(ivar(0)), 0x8181_8080);
    assert_eq!(model.peek(ivar(1)) & 0xffff, 0x8585);
    assert_eq!(model.peek(eitr(0)) & EITR_ITR_MASK, 50 << 3);
    nic.unmask_vectors(0b10_0011);
    assert_eq!(model.peek(EIMS), 0b10_0011);
    assert!(model.violations().is_empty());
}

// ---- traffic ------------------------------------------------------------------

/// Sends `total` frames a -> b on queue 0, keeping at most `window` in
/// flight, verifying every payload; returns the elapsed time.
fn stream(l: &mut ModelPair, total: u64, window: u64, vary_len: bool) -> Duration {
    let start = Instant::now();
    let (mut sent, mut got) = (0u64, 0u64);
    let len = |s: u64| if vary_len { len_of(s) } else { 60 };
    let deadline = Instant::now() + Duration::from_secs(600);
    while got < total {
        assert!(Instant::now() < deadline, "stalled at {got}/{total}");
        let mut batch = l.a.tx_batch(0).unwrap();
        while sent < total && sent - got < window && batch.push(&frame(sent, len(sent))) {
            sent += 1;
        }
        batch.commit();
        l.a.txsync().unwrap();
        l.b.rxsync_ring(0).unwrap();
        let mut rx = l.b.rx_batch(0).unwrap();
        while let Some(p) = rx.next() {
            let seq = u64::from_le_bytes(p[14..22].try_into().unwrap());
            assert_eq!(seq, got, "lost or reordered");
            assert_eq!(p, &frame(got, len(got))[..], "frame {got}");
            got += 1;
        }
        drop(rx);
        l.b.rxsync_ring(0).unwrap();
    }
    start.elapsed()
}

#[test]
fn frames_cross_the_wire_intact_and_in_order() {
    let mut l = lab("ixgbe-wire", 1, 512);
    stream(&mut l, 100_000, 400, true);
    assert_clean(&l);
    let a = l.a.nic_info().unwrap();
    let b = l.b.nic_info().unwrap();
    assert_eq!(a.counter("GPTC"), Some(100_000));
    assert_eq!(b.counter("GPRC"), Some(100_000));
    assert_eq!(b.counter("QPRC0"), Some(100_000));
    assert_eq!(a.counter("QPTC0"), Some(100_000));
    let bytes: u64 = (0..100_000).map(|s| len_of(s) as u64 + 4).sum();
    assert_eq!(a.counter("GOTC"), Some(bytes));
    assert_eq!(b.counter("GORC"), Some(bytes));
    assert_eq!(b.counter("MPC"), Some(0));
    assert!(b.link_up);
    assert_eq!(b.speed, Some(10_000));
    assert_eq!(b.model, "82599 (ixgbe)");
}

/// 10,000,000 frames from one model port over the wire to the other,
/// every one checked byte for byte and in order, with the model running
/// synchronously.
#[test]
fn ten_million_frames_sync() {
    let mut l = lab("ixgbe-10m", 1, 1024);
    let t = stream(&mut l, 10_000_000, 900, false);
    eprintln!("10,000,000 frames (sync model) in {t:?}");
    assert_clean(&l);
}

/// The same with the model in its own thread, concurrent with the driver
/// as hardware is (this found a model bug: DD stored twice by memcpy).
#[test]
fn ten_million_frames_threaded() {
    let mut l = pair::connected_pair(&region("ixgbe-10mt", 32768), 1, 1024, true).unwrap();
    let t = stream(&mut l, 10_000_000, 900, false);
    eprintln!("10,000,000 frames (threaded model) in {t:?}");
    assert_clean(&l);
}

#[test]
fn every_queue_carries_traffic_independently() {
    let queues = 8;
    let mut l = lab("ixgbe-mq", queues, 128);
    // TX on every queue; RSS spreads them on the receiver.
    let mut sent = 0u64;
    for round in 0..50u64 {
        for q in 0..queues {
            let mut b = l.a.tx_batch(q).unwrap();
            for k in 0..8u64 {
                let seq = round * 1000 + q as u64 * 10 + k;
                let f = ipv4_frame(
                    [10, 0, q as u8, k as u8],
                    [10, 9, 9, 9],
                    4000 + k as u16,
                    80,
                    false,
                    seq,
                    128,
                );
                assert!(b.push(&f));
                sent += 1;
            }
            b.commit();
            l.a.txsync_ring(q).unwrap();
        }
        drain(&mut l.b);
    }
    let a = l.a.nic_info().unwrap();
    for q in 0..queues {
        assert_eq!(a.counter(&format!("QPTC{q}")), Some(50 * 8), "QPTC{q}");
    }
    let b = l.b.nic_info().unwrap();
    assert_eq!(b.counter("GPRC"), Some(sent));
    let spread = (0..queues)
        .filter(|q| b.counter(&format!("QPRC{q}")).unwrap() > 0)
        .count();
    assert_eq!(spread, queues, "RSS over 8 queues: {:?}", b.counters);
    assert_clean(&l);
}

// ---- faults -----------------------------------------------------------------------

#[test]
fn impossible_write_back_lengths_are_clamped_and_counted() {
    let mut l = lab("ixgbe-badlen", 1, 128);
    l.model_b.inject_rx_length(0xffff, 2);
    for seq in 0..3 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 100));
        l.a.txsync().unwrap();
    }
    let got = drain(&mut l.b);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1.len(), 2048, "clamped to the buffer");
    assert_eq!(got[2].1, frame(2, 100));
    l.model_b.inject_rx_length(0, 1);
    l.a.tx_batch(0).unwrap().push(&frame(3, 100));
    l.a.txsync().unwrap();
    assert_eq!(drain(&mut l.b).len(), 1);
    let info = l.b.nic_info().unwrap();
    assert_eq!(info.counter("rx_bad_length"), Some(3));
    assert_clean(&l);
}

#[test]
fn dd_on_descriptors_never_given_is_ignored() {
    let mut l = lab("ixgbe-spurious", 1, 64);
    // Some traffic first, so heads and tails are mid-ring.
    for seq in 0..10 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 60));
        l.a.txsync().unwrap();
    }
    assert_eq!(drain(&mut l.b).len(), 10);
    // TX: the device holds a batch it will not fetch; DD appears on
    // descriptors never given.
    l.model_a.stall_tx(0, true);
    let mut b = l.a.tx_batch(0).unwrap();
    for seq in 10..20 {
        assert!(b.push(&frame(seq, 60)));
    }
    b.commit();
    l.a.txsync().unwrap();
    let room = l.a.tx_ring(0).unwrap().space();
    l.model_a.inject_spurious_dd();
    l.model_b.inject_spurious_dd();
    l.a.txsync().unwrap();
    assert_eq!(
        l.a.tx_ring(0).unwrap().space(),
        room,
        "completions from spurious DD"
    );
    assert!(drain(&mut l.b).is_empty(), "packets from spurious DD");
    // The queue resumes: the held frames arrive, in order.
    l.model_a.stall_tx(0, false);
    l.a.txsync().unwrap();
    let got = drain(&mut l.b);
    assert_eq!(got.len(), 10);
    for (i, (_, p)) in got.iter().enumerate() {
        assert_eq!(p, &frame(10 + i as u64, 60));
    }
    assert_clean(&l);
}

#[test]
fn a_queue_that_stops_fetching_drops_and_counts_without_hanging() {
    let mut l = lab("ixgbe-stall", 1, 64);
    l.model_b.stall_rx(0, true);
    for seq in 0..500 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 60));
        l.a.txsync().unwrap();
        l.b.rxsync().unwrap();
    }
    assert!(drain(&mut l.b).is_empty());
    let info = l.b.nic_info().unwrap();
    assert_eq!(
        info.counter("QPRDC0"),
        Some(500),
        "DROP_EN drops count per queue"
    );
    l.model_b.stall_rx(0, false);
    // A TX queue that stops: the ring fills, txsync keeps returning.
    l.model_a.stall_tx(0, true);
    let start = Instant::now();
    let mut pushed = 0;
    for seq in 0..1000 {
        if l.a.tx_batch(0).unwrap().push(&frame(seq, 60)) {
            pushed += 1;
        }
        l.a.txsync().unwrap();
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(pushed, 63, "a full ring, then no room");
    l.model_a.stall_tx(0, false);
    l.a.txsync().unwrap();
    assert_eq!(drain(&mut l.b).len(), 63);
    // Ring overflow on the receiver: more than the ring holds, no sync.
    for seq in 0..100 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 60));
        l.a.txsync().unwrap();
    }
    assert_eq!(drain(&mut l.b).len(), 63);
    let info = l.b.nic_info().unwrap();
    assert_eq!(info.counter("QPRDC0"), Some(500 + 37));
    assert_clean(&l);
}

#[test]
fn link_flaps_are_reported_and_survived() {
    let mut l = lab("ixgbe-flap", 1, 64);
    assert!(l.b.peer_alive());
    l.model_a.set_link(false);
    l.model_b.set_link(false);
    assert!(!l.b.peer_alive());
    assert_eq!(l.b.nic_info().unwrap().speed, None);
    for seq in 0..10 {
        l.a.tx_batch(0).unwrap().push(&frame(seq, 60));
        l.a.txsync().unwrap();
    }
    assert!(drain(&mut l.b).is_empty(), "nothing crosses a down link");
    l.model_a.set_link(true);
    l.model_b.set_link(true);
    assert!(l.b.peer_alive());
    l.a.txsync().unwrap();
    l.a.tx_batch(0).unwrap().push(&frame(99, 60));
    l.a.txsync().unwrap();
    let got = drain(&mut l.b);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, frame(99, 60));
    assert_clean(&l);
}

#[test]
fn surprise_removal_gives_errors_not_hangs() {
    let region = region("ixgbe-gone", 8192);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = IxgbeModel::new(Config::new(pair::MAC_A), dma);
    model.remove();
    let free = region.free_bufs();
    let err = pair::open_port(&region, &model, "gone", 1, 64, pair::model_options()).unwrap_err();
    assert!(matches!(err, IxgbeError::Removed), "{err}");
    assert_eq!(region.free_bufs(), free, "a failed open leaks nothing");

    let mut l = lab("ixgbe-gone2", 2, 64);
    l.model_b.remove();
    l.model_a.remove();
    let start = Instant::now();
    l.a.tx_batch(0).unwrap().push(&frame(0, 60));
    l.a.txsync().unwrap();
    l.b.rxsync().unwrap();
    assert!(!l.b.peer_alive(), "link reads down once the device is gone");
    let info = l.b.nic_info().unwrap();
    assert!(!info.link_up);
    drop(l);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_device_that_never_finishes_reset_is_an_error() {
    let region = region("ixgbe-wedged", 8192);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let cfg = Config {
        reset_reads: u32::MAX,
        ..Config::new(pair::MAC_A)
    };
    let model = IxgbeModel::new(cfg, dma);
    let opts = Options {
        init_timeout: Duration::from_millis(20),
        ..pair::model_options()
    };
    let err = pair::open_port(&region, &model, "wedged", 1, 64, opts).unwrap_err();
    assert!(matches!(err, IxgbeError::ResetTimeout(_)), "{err}");
}

#[test]
fn bad_slots_are_rejected_before_the_device_sees_them() {
    let mut l = lab("ixgbe-badslot", 1, 64);
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
    let ring = l.a.tx_ring(0).unwrap();
    ring.set_buf_idx(0, 1000).unwrap();
    ring.set_len(0, 4000).unwrap();
    assert!(matches!(l.a.txsync(), Err(ApiError::BadLen { .. })));
    assert_clean(&l);
}

#[test]
fn closing_ports_returns_every_buffer() {
    let region = region("ixgbe-leak", 16384);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = IxgbeModel::new(Config::new(pair::MAC_A), dma);
    let free = region.free_bufs();
    for queues in [1, 4, 16] {
        let port =
            pair::open_port(&region, &model, "cycle", queues, 256, pair::model_options()).unwrap();
        assert!(region.free_bufs() < free);
        drop(port);
        assert_eq!(region.free_bufs(), free, "{queues} queues leaked buffers");
    }
}

#[test]
fn promiscuous_mode_rewrites_filters_with_receive_off() {
    let mut l = lab("ixgbe-promisc", 1, 64);
    let mut other = frame(0, 60);
    other[0..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
    l.a.tx_batch(0).unwrap().push(&other);
    l.a.txsync().unwrap();
    assert!(
        drain(&mut l.b).is_empty(),
        "unicast for someone else is filtered"
    );
    l.b.set_promiscuous(true).unwrap();
    l.a.tx_batch(0).unwrap().push(&other);
    l.a.txsync().unwrap();
    assert_eq!(drain(&mut l.b).len(), 1);
    assert_clean(&l);
}

#[test]
fn multi_buffer_frames_go_out_whole_and_come_back_in_fragments() {
    use vfio_netmap::abi::slot_flags::NS_MOREFRAG;
    let mut l = lab("ixgbe-frag", 1, 64);
    let big = frame(7, 3000);
    let mut ring = l.a.tx_ring(0).unwrap();
    ring.buf_mut(0).unwrap()[..2048].copy_from_slice(&big[..2048]);
    ring.set_len(0, 2048).unwrap();
    ring.set_flags(0, NS_MOREFRAG).unwrap();
    // A batch that ends inside the packet: held back, nothing goes out.
    ring.advance_to(1);
    let tail = ring.tail();
    l.a.txsync().unwrap();
    assert!(drain(&mut l.b).is_empty(), "a fragment went out alone");
    let mut ring = l.a.tx_ring(0).unwrap();
    assert_eq!(ring.tail(), tail);
    assert_eq!(
        ring.slot(0).unwrap().flags & NS_MOREFRAG,
        NS_MOREFRAG,
        "flag kept"
    );
    ring.buf_mut(1).unwrap()[..952].copy_from_slice(&big[2048..]);
    ring.set_len(1, 952).unwrap();
    ring.set_flags(1, 0).unwrap();
    ring.advance_to(2);
    l.a.txsync().unwrap();
    // PAYLEN was right (the model checks it); the receiver sees two
    // buffers, the first marked NS_MOREFRAG.
    l.b.rxsync().unwrap();
    let rx = l.b.rx_ring(0).unwrap();
    assert_eq!(rx.space(), 2);
    let (h, n) = (rx.head(), rx.next(rx.head()));
    assert_eq!(rx.slot(h).unwrap().flags & NS_MOREFRAG, NS_MOREFRAG);
    assert_eq!(rx.slot(n).unwrap().flags & NS_MOREFRAG, 0);
    let mut whole = rx.packet(h).unwrap().to_vec();
    whole.extend_from_slice(rx.packet(n).unwrap());
    assert_eq!(whole, big);
    assert_clean(&l);
}

#[test]
fn x540_init_leaves_the_phy_alone_and_sizes_its_buffers() {
    let region = region("ixgbe-x540", 8192);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model = IxgbeModel::new(Config::new(pair::MAC_A), dma);
    let rings = vfio_netmap::api::NicRings::allocate(&region, "x540", 2, 128).unwrap();
    let chip = vfio_netmap::driver::ixgbe::Chip::from_device_id(0x8086, 0x1528).unwrap();
    let nic = vfio_netmap::driver::ixgbe::Ixgbe::init(
        ixgbe_model::ModelRegs(model.clone()),
        chip,
        &region,
        pair::window(&region),
        &rings,
        pair::model_options(),
    )
    .unwrap();
    let log = model.take_log();
    assert!(log.iter().all(|&(o, _)| o != AUTOC), "AUTOC is the 82599's");
    assert_eq!(model.peek(rxpbsize(0)), 384 << PB_SIZE_SHIFT);
    assert_eq!(model.peek(txpbsize(0)), 160 << PB_SIZE_SHIFT);
    assert_eq!(nic.chip().name(), "X540 (ixgbe)");
    assert!(model.violations().is_empty(), "{:?}", model.violations());
}

#[test]
fn split_queues_transmit_from_their_own_threads() {
    use vfio_netmap::abi::Direction;
    use vfio_netmap::api::{Backend, NicControl, NicRings};
    use vfio_netmap::driver::ixgbe::{Ixgbe, split};
    let queues = 4;
    let per_queue = 200u64;
    let slots = 256;
    let region = region("ixgbe-split", 32768);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model_a = IxgbeModel::new(Config::new(pair::MAC_A), dma.clone());
    let model_b = IxgbeModel::new(Config::new(pair::MAC_B), dma);
    IxgbeModel::connect(&model_a, &model_b);
    let mut b =
        pair::open_port(&region, &model_b, "b", queues, 1024, pair::model_options()).unwrap();
    let rings = NicRings::allocate(&region, "a", queues, slots).unwrap();
    let nic = Ixgbe::init(
        ixgbe_model::ModelRegs(model_a.clone()),
        pair::chip(),
        &region,
        pair::window(&region),
        &rings,
        pair::model_options(),
    )
    .unwrap();
    let threads: Vec<_> = split(nic)
        .into_iter()
        .zip(rings.tx.clone())
        .map(|(mut q, (off, mut kring))| {
            let region = region.clone();
            std::thread::spawn(move || {
                let qi = q.index();
                let mem = region.ring(off, slots).unwrap();
                let deadline = Instant::now() + Duration::from_secs(10);
                for seq in 0..per_queue {
                    loop {
                        let (cur, tail) = (mem.cur(), mem.tail());
                        if cur != tail {
                            break;
                        }
                        assert!(Instant::now() < deadline, "queue {qi} stalled");
                        sync(&mut q, Direction::Tx, &region, &mem, &mut kring);
                    }
                    let cur = mem.cur();
                    let f = ipv4_frame(
                        [10, 0, qi as u8, 1],
                        [10, 9, 9, 9],
                        5000 + qi as u16,
                        80,
                        false,
                        seq,
                        100,
                    );
                    // SAFETY: slot `cur` is in [head, tail): the
                    // application's, so its buffer is ours to fill.
                    let buf = unsafe { region.buf_mut(mem.slot(cur).buf_idx) }.unwrap();
                    buf[..f.len()].copy_from_slice(&f);
                    mem.set_slot_len(cur, f.len() as u16);
                    let next = if cur + 1 == slots { 0 } else { cur + 1 };
                    mem.set_head(next);
                    mem.set_cur(next);
                    if seq % 16 == 15 {
                        sync(&mut q, Direction::Tx, &region, &mem, &mut kring);
                    }
                }
                // Wait for every completion.
                loop {
                    sync(&mut q, Direction::Tx, &region, &mem, &mut kring);
                    let prev = if mem.head() == 0 {
                        slots - 1
                    } else {
                        mem.head() - 1
                    };
                    if mem.tail() == prev {
                        break;
                    }
                    assert!(Instant::now() < deadline, "queue {qi} completions");
                    std::thread::yield_now();
                }
                q
            })
        })
        .collect();
    let mut backends: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut seen = std::collections::HashSet::new();
    for (_, p) in drain(&mut b) {
        let src_q = p[14 + 14] as u64; // third byte of the source address
        let seq = u64::from_le_bytes(p[54..62].try_into().unwrap());
        assert!(seen.insert((src_q, seq)), "duplicate {src_q}/{seq}");
    }
    assert_eq!(seen.len() as u64, queues as u64 * per_queue, "frames lost");
    let info = backends[0].info();
    for (q, backend) in backends.iter_mut().enumerate() {
        let info = backend.info();
        assert_eq!(info.counter(&format!("QPTC{q}")), Some(per_queue));
    }
    assert_eq!(info.counter("GPTC"), Some(queues as u64 * per_queue));
    for q in &mut backends {
        q.close(&region);
    }
    rings.free(&region);
    assert!(model_a.dma_faults().is_empty() && model_b.dma_faults().is_empty());
    assert!(
        model_a.violations().is_empty(),
        "{:?}",
        model_a.violations()
    );
}

/// `-N` ports: receiver B's four queue pairs are bound by four ports, each
/// in its own thread, over the threaded model. 4,000 UDP flows' frames
/// land in the port RSS predicts, intact and in per-flow order; a second
/// port for a bound queue, or one beyond the set, is refused; a queue
/// closed and reopened continues where it stopped; the last port's close
/// stops the device and returns every buffer.
#[test]
fn queue_ports_receive_their_flows_in_their_own_threads() {
    use std::collections::HashMap;
    use vfio_netmap::api::{Backend, NicRings, QueueParts, QueueSet};
    use vfio_netmap::driver::ixgbe::{Ixgbe, split};
    let queues = 4;
    let slots = 512;
    let region = region("ixgbe-qports", 32768);
    let free_at_start = region.free_bufs();
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model_a = IxgbeModel::new(Config::new(pair::MAC_A), dma.clone());
    let model_b = IxgbeModel::new(Config::new(pair::MAC_B), dma);
    IxgbeModel::connect(&model_a, &model_b);
    let runners = vec![model_a.start(), model_b.start()];
    let mut a = pair::open_port(&region, &model_a, "a", 1, 1024, pair::model_options()).unwrap();
    let make = || {
        let rings = NicRings::allocate(&region, "b", queues, slots)?;
        let nic = Ixgbe::init(
            ixgbe_model::ModelRegs(model_b.clone()),
            pair::chip(),
            &region,
            pair::window(&region),
            &rings,
            pair::model_options(),
        )
        .map_err(|e| ApiError::BadOption {
            port: "b".into(),
            message: e.to_string(),
        })?;
        let queues: Vec<Box<dyn Backend>> = split(nic)
            .into_iter()
            .map(|q| Box::new(q) as Box<dyn Backend>)
            .collect();
        Ok::<_, ApiError>(QueueParts {
            region: region.clone(),
            rings,
            queues,
            keep_alive: Box::new(()),
        })
    };
    let set = QueueSet::find_or_create("model:b", make).unwrap();
    assert_eq!(set.queues(), queues);

    // Frames: flow i carries seqs 0..per_flow; RSS predicts its queue.
    let flows = 4000u32;
    let per_flow = 3u64;
    let mut predicted = vec![0u64; queues];
    let mut queue_of = HashMap::new();
    for i in 0..flows {
        let src = [10, 2, (i >> 8) as u8, i as u8];
        let f = ipv4_frame(src, [10, 1, 0, 1], 2000 + (i % 50) as u16, 53, false, 0, 64);
        let (h, _) = rss(&DEFAULT_RSS_KEY, RSS_FIELDS, &f).unwrap();
        let q = reta_entry((h & 0x7f) as usize, queues) as usize;
        predicted[q] += per_flow;
        queue_of.insert(i, q);
    }
    let queue_of = Arc::new(queue_of);
    // Frames in flight stay below one queue's ring, so none is dropped for
    // want of descriptors (the device would drop them, and count them).
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));

    // One port per queue, each in its own thread.
    let threads: Vec<_> = (0..queues)
        .map(|q| {
            let mut port = Port::from_queue(&format!("model:b-{q}"), &set, q).unwrap();
            assert_eq!((port.num_rx_rings(), port.num_tx_rings()), (1, 1));
            let want = predicted[q];
            let queue_of = queue_of.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                let mut next_seq: HashMap<u32, u64> = HashMap::new();
                let mut got = 0u64;
                let deadline = Instant::now() + Duration::from_secs(60);
                while got < want {
                    assert!(Instant::now() < deadline, "queue {q}: {got}/{want}");
                    port.rxsync_ring(0).unwrap();
                    let mut b = port.rx_batch(0).unwrap();
                    while let Some(p) = b.next() {
                        // Source address bytes 2..4 name the flow; the
                        // payload's first u64 is its sequence number.
                        let flow = u32::from(p[28]) << 8 | u32::from(p[29]);
                        let seq = u64::from_le_bytes(p[54..62].try_into().unwrap());
                        assert_eq!(queue_of[&flow], q, "flow {flow} in the wrong queue");
                        let n = next_seq.entry(flow).or_default();
                        assert_eq!(seq, *n, "flow {flow}: lost or reordered");
                        *n += 1;
                        got += 1;
                        received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    drop(b);
                    std::thread::yield_now();
                }
                (port, got)
            })
        })
        .collect();
    // A bound queue, and one beyond the set, are refused.
    let busy = Port::from_queue("model:b-1", &set, 1).unwrap_err();
    assert!(
        matches!(busy, ApiError::QueueBusy { index: 1, .. }),
        "{busy}"
    );
    let beyond = Port::from_queue("model:b-4", &set, 4).unwrap_err();
    assert!(
        matches!(beyond, ApiError::QueueOutOfRange { count: 4, .. }),
        "{beyond}"
    );

    let mut sent = 0u64;
    for seq in 0..per_flow {
        for i in 0..flows {
            let src = [10, 2, (i >> 8) as u8, i as u8];
            let f = ipv4_frame(
                src,
                [10, 1, 0, 1],
                2000 + (i % 50) as u16,
                53,
                false,
                seq,
                64,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while sent - received.load(std::sync::atomic::Ordering::Relaxed) >= 256 {
                a.txsync().unwrap();
                assert!(Instant::now() < deadline, "receivers stalled");
                std::thread::yield_now();
            }
            while !a.tx_batch(0).unwrap().push(&f) {
                a.txsync().unwrap();
                assert!(Instant::now() < deadline, "sender stalled");
                std::thread::yield_now();
            }
            sent += 1;
            if sent % 64 == 0 {
                a.txsync().unwrap();
            }
        }
    }
    a.txsync().unwrap();
    let mut ports = Vec::new();
    for (q, t) in threads.into_iter().enumerate() {
        let (port, got) = t.join().unwrap();
        assert_eq!(got, predicted[q], "queue {q}");
        ports.push(port);
    }
    assert_eq!(predicted.iter().sum::<u64>(), sent);
    assert!(predicted.iter().all(|&n| n > 0), "{predicted:?}");

    // Close queue 2's port and reopen it: it carries on.
    let mut reopened = {
        ports.remove(2);
        Port::from_queue("model:b-2", &set, 2).unwrap()
    };
    let flow = (0..flows).find(|i| queue_of[i] == 2).unwrap();
    let src = [10, 2, (flow >> 8) as u8, flow as u8];
    let f = ipv4_frame(
        src,
        [10, 1, 0, 1],
        2000 + (flow % 50) as u16,
        53,
        false,
        99,
        64,
    );
    assert!(a.tx_batch(0).unwrap().push(&f));
    a.txsync().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        reopened.rxsync_ring(0).unwrap();
        let mut b = reopened.rx_batch(0).unwrap();
        if let Some(p) = b.next() {
            break p.to_vec();
        }
        drop(b);
        assert!(Instant::now() < deadline, "reopened queue got nothing");
        std::thread::yield_now();
    };
    assert_eq!(got, f);

    // Last close: the device stops, every buffer comes back.
    drop(reopened);
    drop(ports);
    drop(set);
    drop(a);
    drop(runners);
    for m in [&model_a, &model_b] {
        assert!(m.dma_faults().is_empty(), "{:?}", m.dma_faults());
        assert!(m.violations().is_empty(), "{:?}", m.violations());
    }
    assert_eq!(region.free_bufs(), free_at_start, "buffers leaked");
}

/// Sleeping on a queue: arming unmasks exactly that queue's vector and
/// says "ready" when the ring already has a frame (so poll does not sleep
/// past it); disarming masks it again.
#[test]
fn queue_interrupts_arm_only_their_vector_and_see_pending_frames() {
    use vfio_netmap::abi::Direction;
    use vfio_netmap::api::{Backend, NicRings};
    use vfio_netmap::driver::ixgbe::{Ixgbe, split};
    let region = region("ixgbe-qirq", 8192);
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model_a = IxgbeModel::new(Config::new(pair::MAC_A), dma.clone());
    let model_b = IxgbeModel::new(Config::new(pair::MAC_B), dma);
    IxgbeModel::connect(&model_a, &model_b);
    let mut a = pair::open_port(&region, &model_a, "a", 1, 128, pair::model_options()).unwrap();
    let rings = NicRings::allocate(&region, "b", 2, 128).unwrap();
    let nic = Ixgbe::init(
        ixgbe_model::ModelRegs(model_b.clone()),
        pair::chip(),
        &region,
        pair::window(&region),
        &rings,
        Options {
            rss: false,
            ..pair::model_options()
        },
    )
    .unwrap();
    nic.route_queue_interrupt(0, 0, 0);
    nic.route_queue_interrupt(1, 1, 0);
    nic.unmask_vectors(0b11);
    nic.disarm_queue_interrupts();
    assert_eq!(model_b.peek(EIMS) & 0xffff, 0, "all masked after disarm");
    let mut queues = split(nic);
    let (off, mut kring) = rings.rx[0];
    let mem = region.ring(off, 128).unwrap();
    assert!(
        !queues[0].arm_interrupt(Direction::Rx, &kring),
        "nothing yet"
    );
    assert_eq!(model_b.peek(EIMS) & 0xffff, 0b01, "queue 0's vector only");
    queues[0].disarm_interrupt();
    assert_eq!(model_b.peek(EIMS) & 0xffff, 0);
    // A frame arrives (RSS off: queue 0): arming now says ready.
    assert!(a.tx_batch(0).unwrap().push(&frame(0, 60)));
    a.txsync().unwrap();
    assert!(
        queues[0].arm_interrupt(Direction::Rx, &kring),
        "a frame is waiting"
    );
    queues[0].disarm_interrupt();
    sync(&mut queues[0], Direction::Rx, &region, &mem, &mut kring);
    assert_eq!(mem.tail(), 1, "the frame the arm saw");
    for mut q in queues {
        q.close(&region);
    }
    rings.free(&region);
}

/// `@conf:rings=` is checked before any device is touched.
#[test]
fn rings_option_out_of_range_is_refused_with_its_bounds() {
    for bad in ["0", "65"] {
        let e =
            vfio_netmap::ports::open(&format!("vfio:0000:00:03.0@conf:rings={bad}")).unwrap_err();
        assert!(
            matches!(&e, vfio_netmap::ports::PortError::BadOption { message, .. } if message.contains("1 to 64")),
            "{e}"
        );
    }
}

/// What `vfio-netmap info` shows for an ixgbe NIC, read from the model's
/// registers after traffic.
#[test]
fn info_state_shows_link_mac_and_counters() {
    let mut l = lab("ixgbe-info", 1, 128);
    stream(&mut l, 10, 10, false);
    let state =
        vfio_netmap::driver::ixgbe::device::read_state(&ixgbe_model::ModelRegs(l.model_b.clone()));
    let get = |k: &str| state.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("Link").as_deref(), Some("up, 10 Gb/s"));
    assert_eq!(get("MAC").as_deref(), Some("02:00:00:00:10:0b"));
    let counters = get("Counters (since last read)").unwrap();
    assert!(counters.contains("GPRC=10 "), "{counters}");
}

/// The transmit path's out-of-line cases mixed with the common one, over
/// ring wraps (see `common::mixed_tx`).
#[test]
fn mixed_fragments_reports_long_batches_and_cut_batches_arrive_whole_in_order() {
    let mut l = lab("ixgbe-mixed", 1, 256);
    let total = 30_000;
    mixed_transmit(&mut l.a, &mut l.b, total, frame);
    assert_eq!(l.b.nic_info().unwrap().counter("GPRC"), Some(total));
    assert_clean(&l);
}

/// What a port does around a backend's sync: netmap's checks of the
/// application's indices before, `tail` published after.
fn sync(
    backend: &mut dyn vfio_netmap::api::Backend,
    dir: vfio_netmap::abi::Direction,
    region: &Region,
    mem: &vfio_netmap::mem::RingMem<'_>,
    kring: &mut vfio_netmap::api::KRing,
) {
    let head = kring.prologue(mem).unwrap();
    let result = match dir {
        vfio_netmap::abi::Direction::Tx => backend.txsync(region, mem, kring, head),
        vfio_netmap::abi::Direction::Rx => backend.rxsync(region, mem, kring, head),
    };
    kring.finalize(mem);
    result.unwrap();
}
