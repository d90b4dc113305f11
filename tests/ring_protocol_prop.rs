//! Property tests of netmap's ring protocol over a pipe: random sequences of
//! application moves and syncs, legal and illegal. Invariants: the two
//! applications never own the same position, every buffer the receiver sees
//! is the one the sender put there (none lost or duplicated, with swaps on
//! both sides), packets arrive in order, and every illegal move gets its
//! error and leaves the ring usable.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use vfio_netmap::abi::slot_flags::NS_BUF_CHANGED;
use vfio_netmap::api::{ApiError, Port, Ring};

#[derive(Clone, Debug)]
enum Op {
    Fill(u8),
    Send,
    TxSync,
    RxSync,
    Release(u8),
    RxSwap(u8, u8),
    TxSwap(u8, u8),
    HeadPastTail,
    CurBeforeHead,
    BadBufIdx(u32),
    BadLen(u16),
    WriteTail(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u8>().prop_map(Op::Fill),
        4 => Just(Op::Send),
        4 => Just(Op::TxSync),
        4 => Just(Op::RxSync),
        4 => any::<u8>().prop_map(Op::Release),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::RxSwap(a, b)),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::TxSwap(a, b)),
        1 => Just(Op::HeadPastTail),
        1 => Just(Op::CurBeforeHead),
        1 => prop_oneof![Just(0u32), Just(1), Just(1 << 20), Just(u32::MAX)].prop_map(Op::BadBufIdx),
        1 => (2049u16..=u16::MAX).prop_map(Op::BadLen),
        1 => any::<u8>().prop_map(Op::WriteTail),
    ]
}

fn dist(n: u32, a: u32, b: u32) -> u32 {
    (b + n - a) % n
}

fn owned(r: &Ring<'_>) -> HashSet<u32> {
    let n = r.num_slots();
    (0..dist(n, r.head(), r.tail()))
        .map(|i| (r.head() + i) % n)
        .collect()
}

struct World {
    tx: Port,
    rx: Port,
    n: u32,
    next_seq: u64,
    expect_seq: u64,
    /// The buffer the sender left at each position when it sent it.
    sent_buf: Vec<Option<u32>>,
    /// Positions the receiver has seen and checked.
    seen: HashSet<u32>,
    all_bufs: HashSet<u32>,
    /// TX head at the last successful txsync (the port's hwcur).
    tx_hwcur: u32,
}

impl World {
    fn new(slots: u32) -> World {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "prop_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0")).unwrap();
        let rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0")).unwrap();
        let r = tx.tx_ring(0).unwrap();
        let all_bufs = (0..slots)
            .map(|k| r.slot(k).unwrap().buf_idx)
            .collect::<HashSet<_>>();
        assert_eq!(all_bufs.len(), slots as usize);
        let n = r.num_slots();
        World {
            tx,
            rx,
            n,
            next_seq: 0,
            expect_seq: 0,
            sent_buf: vec![None; n as usize],
            seen: HashSet::new(),
            all_bufs,
            tx_hwcur: 0,
        }
    }

    fn check_invariants(&mut self) {
        let t = self.tx.tx_ring(0).unwrap();
        let r = self.rx.rx_ring(0).unwrap();
        let (to, ro) = (owned(&t), owned(&r));
        assert!(
            to.is_disjoint(&ro),
            "a position is owned by both applications: tx {to:?} rx {ro:?}"
        );
        // Buffers the applications can see are distinct and from the pool.
        let mut bufs = HashSet::new();
        for &k in &to {
            assert!(bufs.insert(t.slot(k).unwrap().buf_idx), "buffer duplicated");
        }
        for &k in &ro {
            assert!(bufs.insert(r.slot(k).unwrap().buf_idx), "buffer duplicated");
        }
        assert!(bufs.is_subset(&self.all_bufs), "a foreign buffer appeared");
        // Newly received positions carry the sender's buffer and the next
        // sequence number.
        let mut k = r.head();
        while k != r.tail() {
            if self.seen.insert(k) {
                let s = r.slot(k);
                assert_eq!(
                    Some(s.unwrap().buf_idx),
                    self.sent_buf[k as usize],
                    "position {k} lost its buffer"
                );
                let pkt = r.packet(k).unwrap();
                let seq = u64::from_le_bytes(pkt[..8].try_into().unwrap());
                assert_eq!(seq, self.expect_seq, "out of order");
                self.expect_seq += 1;
            }
            k = r.next(k);
        }
    }

    fn apply(&mut self, op: &Op) {
        let n = self.n;
        match *op {
            Op::Fill(k) => {
                let mut t = self.tx.tx_ring(0).unwrap();
                let mut cur = t.cur();
                for _ in 0..k.min(t.space().min(255) as u8) {
                    let buf = t.buf_mut(cur).unwrap();
                    buf[..8].copy_from_slice(&self.next_seq.to_le_bytes());
                    t.set_len(cur, 64).unwrap();
                    self.next_seq += 1;
                    cur = t.next(cur);
                }
                t.set_cur(cur);
            }
            Op::Send => {
                let t = self.tx.tx_ring(0).unwrap();
                let mut k = t.head();
                while k != t.cur() {
                    self.sent_buf[k as usize] = Some(t.slot(k).unwrap().buf_idx);
                    self.seen.remove(&k);
                    k = t.next(k);
                }
                t.set_head(t.cur());
            }
            Op::TxSync => {
                self.tx.txsync().unwrap();
                self.tx_hwcur = self.tx.tx_ring(0).unwrap().head();
            }
            Op::RxSync => self.rx.rxsync().unwrap(),
            Op::Release(k) => {
                let r = self.rx.rx_ring(0).unwrap();
                let avail = dist(n, r.head(), r.tail());
                let head = (r.head() + (k as u32).min(avail)) % n;
                // Only release what was checked.
                self.check_invariants();
                let r = self.rx.rx_ring(0).unwrap();
                r.advance_to(head);
            }
            Op::RxSwap(a, b) => {
                let r = self.rx.rx_ring(0).unwrap();
                let avail = dist(n, r.head(), r.tail());
                if avail >= 2 {
                    self.check_invariants();
                    let r = self.rx.rx_ring(0).unwrap();
                    let (i, j) = (
                        (r.head() + a as u32 % avail) % n,
                        (r.head() + b as u32 % avail) % n,
                    );
                    let (si, sj) = (r.slot(i), r.slot(j));
                    r.set_buf_idx(i, sj.unwrap().buf_idx).unwrap();
                    r.set_buf_idx(j, si.unwrap().buf_idx).unwrap();
                    r.set_flags(i, NS_BUF_CHANGED).unwrap();
                    r.set_flags(j, NS_BUF_CHANGED).unwrap();
                }
            }
            Op::TxSwap(a, b) => {
                let t = self.tx.tx_ring(0).unwrap();
                let avail = dist(n, t.cur(), t.tail());
                if avail >= 2 {
                    let (i, j) = (
                        (t.cur() + a as u32 % avail) % n,
                        (t.cur() + b as u32 % avail) % n,
                    );
                    let (si, sj) = (t.slot(i), t.slot(j));
                    t.set_buf_idx(i, sj.unwrap().buf_idx).unwrap();
                    t.set_buf_idx(j, si.unwrap().buf_idx).unwrap();
                    t.set_flags(i, NS_BUF_CHANGED).unwrap();
                    t.set_flags(j, NS_BUF_CHANGED).unwrap();
                }
            }
            Op::HeadPastTail => {
                let t = self.tx.tx_ring(0).unwrap();
                let (head, cur, tail) = (t.head(), t.cur(), t.tail());
                // tail + 1 is illegal unless it wraps onto the port's hwcur.
                let bad = (tail + 1) % n;
                if bad != self.tx_hwcur {
                    t.set_head(bad);
                    t.set_cur(bad);
                    assert!(matches!(self.tx.txsync(), Err(ApiError::BadIndices { .. })));
                    let t = self.tx.tx_ring(0).unwrap();
                    t.set_head(head);
                    t.set_cur(cur);
                }
            }
            Op::CurBeforeHead => {
                let t = self.tx.tx_ring(0).unwrap();
                let (head, cur, tail) = (t.head(), t.cur(), t.tail());
                let bad = (head + n - 1) % n;
                if bad != tail {
                    t.set_cur(bad);
                    assert!(matches!(self.tx.txsync(), Err(ApiError::BadIndices { .. })));
                    self.tx.tx_ring(0).unwrap().set_cur(cur);
                }
            }
            Op::BadBufIdx(_) | Op::BadLen(_) => {
                let t = self.tx.tx_ring(0).unwrap();
                let k = t.cur();
                if t.head() != k || t.space() == 0 {
                    return; // only from a ring with nothing half-filled
                }
                let good = t.slot(k).unwrap();
                match *op {
                    Op::BadBufIdx(bad) => t.set_buf_idx(k, bad).unwrap(),
                    Op::BadLen(len) => t.set_len(k, len).unwrap(),
                    _ => unreachable!(),
                }
                t.advance_to(t.next(k));
                let err = self.tx.txsync().unwrap_err();
                match *op {
                    Op::BadBufIdx(bad) => assert!(
                        matches!(err, ApiError::BadBufIdx { buf_idx, slot, .. } if buf_idx == bad && slot == k),
                        "{err}"
                    ),
                    Op::BadLen(len) => assert!(
                        matches!(err, ApiError::BadLen { len: l, slot, .. } if l == len && slot == k),
                        "{err}"
                    ),
                    _ => unreachable!(),
                }
                // Slots before k were sent; the application fixes k and
                // takes it back, and the ring carries on.
                let t = self.tx.tx_ring(0).unwrap();
                t.set_slot(k, good).unwrap();
                t.advance_to(k);
                self.tx.txsync().unwrap();
                self.tx_hwcur = k;
            }
            Op::WriteTail(v) => {
                let r = self.rx.rx_ring(0).unwrap();
                let tail = r.tail();
                let bad = v as u32 % n;
                if bad != tail {
                    r.set_tail(bad);
                    assert!(matches!(
                        self.rx.rxsync(),
                        Err(ApiError::TailModified { .. })
                    ));
                    assert_eq!(self.rx.rx_ring(0).unwrap().tail(), tail);
                }
            }
        }
        self.check_invariants();
    }

    /// Sends and receives everything outstanding; every packet arrives.
    fn drain(&mut self) {
        // Unsent filled slots are sent too.
        self.apply(&Op::Send);
        for _ in 0..4 * self.n {
            self.apply(&Op::TxSync);
            self.apply(&Op::RxSync);
            self.apply(&Op::Release(255));
            self.apply(&Op::RxSync);
            if self.expect_seq == self.next_seq {
                break;
            }
        }
        assert_eq!(self.expect_seq, self.next_seq, "packets lost");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn ring_protocol_holds(ops in proptest::collection::vec(op(), 1..300), small in any::<bool>()) {
        let _ = small;
        let mut w = World::new(1024);
        for op in &ops {
            w.apply(op);
        }
        w.drain();
    }
}
