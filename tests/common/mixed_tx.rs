//! One transmit/receive workload shared by the driver tests on the NIC
//! models: the transmit path's out-of-line cases mixed with the common one.
#![allow(dead_code)]

use std::collections::VecDeque;

use vfio_netmap::abi::slot_flags::{NS_MOREFRAG, NS_REPORT};
use vfio_netmap::api::{ApiError, Port};

/// Sends `total` frames from `a` to `b` (rings of `SLOTS` = 256 slots, on
/// a synchronous model whose peer ring holds 255): multi-buffer frames,
/// NS_REPORT, batches past the 64-slot report interval, batches ending
/// inside a frame, and bad slots that cut a batch and are then fixed, over
/// ring wraps. Asserts that every frame arrives whole, in order, byte for
/// byte, that all transmit slots come back after every batch, and that the
/// odd cases happened often enough to mean something.
pub fn mixed_transmit(
    a: &mut Port,
    b: &mut Port,
    total: u64,
    frame: impl Fn(u64, usize) -> Vec<u8>,
) {
    const SLOTS: u32 = 256;
    const BUF: usize = 2048;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut sent, mut got, mut cuts, mut held) = (0u64, 0u64, 0, 0);
    let mut expected: VecDeque<Vec<u8>> = VecDeque::new();
    let mut partial = Vec::new();
    while got < total {
        // Fill up to 200 buffers (the peer's ring holds 255), in batches
        // that reach past the 64-slot report interval.
        let mut ring = a.tx_ring(0).unwrap();
        let (head, tail) = (ring.head(), ring.tail());
        let free = (tail + SLOTS - head) % SLOTS;
        let budget = free.min(1 + rand(200) as u32);
        let (mut cur, mut used) = (head, 0);
        let mut starts = Vec::new();
        while sent < total {
            let len = 60 + rand(3900) as usize;
            let pieces = len.div_ceil(BUF) as u32;
            if used + pieces > budget {
                break;
            }
            let f = frame(sent, len);
            let report = rand(5) == 0;
            starts.push(cur);
            for (k, chunk) in f.chunks(BUF).enumerate() {
                ring.buf_mut(cur).unwrap()[..chunk.len()].copy_from_slice(chunk);
                ring.set_len(cur, chunk.len() as u16).unwrap();
                let last = k as u32 == pieces - 1;
                let flags = match (last, report) {
                    (false, _) => NS_MOREFRAG,
                    (true, true) => NS_REPORT,
                    (true, false) => 0,
                };
                ring.set_flags(cur, flags).unwrap();
                cur = ring.next(cur);
            }
            expected.push_back(f);
            used += pieces;
            sent += 1;
        }
        // Now and then: a batch handed over up to inside its last frame
        // (held back by the driver until the rest comes), or
        // a bad slot at a frame's start (an error; what precedes it goes,
        // the rest once it is fixed).
        let last_start = starts.last().copied();
        let prev = if cur == 0 { SLOTS - 1 } else { cur - 1 };
        if rand(4) == 0 && last_start.is_some_and(|s| s != prev) {
            ring.advance_to(prev);
            a.txsync().unwrap();
            held += 1;
            // The driver holds the frame's first pieces back until the rest
            // comes: only that frame is still the application's.
            drop(starts.drain(..starts.len() - 1));
        }
        let ring = a.tx_ring(0).unwrap();
        if rand(4) == 0 && !starts.is_empty() {
            let at = starts[rand(starts.len() as u64) as usize];
            let good = ring.slot(at).unwrap().buf_idx;
            ring.set_buf_idx(at, 0).unwrap();
            ring.advance_to(cur);
            let err = a.txsync().unwrap_err();
            assert!(
                matches!(err, ApiError::BadBufIdx { slot, .. } if slot == at),
                "{err}"
            );
            a.tx_ring(0).unwrap().set_buf_idx(at, good).unwrap();
            cuts += 1;
        }
        let ring = a.tx_ring(0).unwrap();
        ring.advance_to(cur);
        a.txsync().unwrap();
        // The model completes at the tail write and every batch ends with
        // a report: all transmit slots are the application's again.
        let ring = a.tx_ring(0).unwrap();
        assert_eq!(
            (ring.tail() + SLOTS - ring.head()) % SLOTS,
            SLOTS - 1,
            "transmit slots not reclaimed after frame {sent}"
        );

        b.rxsync().unwrap();
        let rx = b.rx_ring(0).unwrap();
        let mut h = rx.head();
        while h != rx.tail() {
            partial.extend_from_slice(rx.packet(h).unwrap());
            if rx.slot(h).unwrap().flags & NS_MOREFRAG == 0 {
                let want = expected.pop_front().expect("a frame nobody sent");
                assert!(
                    partial == want,
                    "frame {got}: {} bytes, sent {}",
                    partial.len(),
                    want.len()
                );
                partial.clear();
                got += 1;
            }
            h = rx.next(h);
        }
        rx.advance_to(h);
        b.rxsync().unwrap();
        assert!(sent < total || got == total || !expected.is_empty());
    }
    assert!(cuts > 50 && held > 50, "cuts {cuts}, held {held}");
    // Every transmit slot came back: the application owns all but one.
    a.txsync().unwrap();
    let ring = a.tx_ring(0).unwrap();
    assert_eq!((ring.tail() + SLOTS - ring.head()) % SLOTS, SLOTS - 1);
}
