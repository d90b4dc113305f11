//! Values another process writes into a shared region: each reproducer of
//! issue 18 as a test. A third party (here: this test, through its own
//! mapping of the region file) writes a bad value; the ports using the
//! region must answer with typed errors, never a panic or an access outside
//! the mapping, and must close cleanly.

mod common;

use common::region_file::{RegionFile, entry};
use vfio_netmap::abi::slot_flags::NS_BUF_CHANGED;
use vfio_netmap::api::{ApiError, Port, Ring};
use vfio_netmap::mem::MemError;
use vfio_netmap::ports::{self, PortError};

const SLOTS: u32 = 64;

fn unique(tag: &str) -> String {
    format!("hv{tag}{}", std::process::id())
}

fn open(name: &str) -> Result<Port, PortError> {
    ports::open(name)
}

fn master(pipe: &str) -> String {
    format!("netmap:{pipe}{{0@conf:slots={SLOTS}")
}

fn slave(pipe: &str) -> String {
    format!("netmap:{pipe}}}0@conf:slots={SLOTS}")
}

fn region_of(port: &Port) -> RegionFile {
    let path = port
        .region()
        .backing()
        .path()
        .expect("a pipe region is a file");
    let file = RegionFile::open(path);
    file.check_layout(SLOTS);
    file
}

fn is_corrupt(e: &PortError) -> bool {
    matches!(e, PortError::Api(ApiError::Mem(MemError::Corrupt { .. })))
}

/// Sends `count` packets numbered from `first` and receives them, checking
/// order and contents.
fn pass(tx: &mut Port, rx: &mut Port, first: u64, count: u64) {
    let (mut next, mut expect) = (first, first);
    let end = first + count;
    while expect < end {
        let mut batch = tx.tx_batch(0).unwrap();
        while next < end && batch.push(&next.to_le_bytes()) {
            next += 1;
        }
        drop(batch);
        tx.txsync().unwrap();
        rx.rxsync().unwrap();
        let mut batch = rx.rx_batch(0).unwrap();
        while let Some(p) = batch.next() {
            assert_eq!(p, expect.to_le_bytes(), "in order, byte for byte");
            expect += 1;
        }
        assert_eq!(batch.skipped(), 0);
    }
}

#[test]
fn a_ring_offset_that_wraps_is_refused_at_open_and_the_victim_closes() {
    let pipe = unique("wrap");
    let victim = open(&slave(&pipe)).unwrap();
    let file = region_of(&victim);
    // Master TX ring: 8 bytes at the pipe table entry.
    file.write_u64(file.pipe_entry(0) + entry::RING_OFF, 0xffff_ffff_ffff_ff80);
    let err = open(&master(&pipe)).unwrap_err();
    assert!(is_corrupt(&err), "{err}");
    assert!(err.to_string().contains("0xffffffffffffff80"), "{err}");
    drop(victim);
}

#[test]
fn offsets_flipped_between_open_and_close_free_what_was_opened() {
    let pipe = unique("flip");
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    pass(&mut tx, &mut rx, 0, 100);
    let file = region_of(&tx);
    let e = file.pipe_entry(0);
    for k in 0..4 {
        file.write_u64(e + entry::RING_OFF + 8 * k, u64::MAX - k as u64);
    }
    file.write_u64(e + entry::IF_OFF, 3);
    file.write_u32(e + entry::NUM_SLOTS, 0);
    // Traffic goes on: each end uses the layout it checked at open.
    pass(&mut tx, &mut rx, 100, 300);
    drop(tx);
    drop(rx);
    // The pipe was freed with the checked layout: its rings are free
    // again, and the same pipe opens afresh and works.
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    pass(&mut tx, &mut rx, 0, 500);
}

#[test]
fn zero_slots_in_the_table_is_an_error_at_open_not_a_division() {
    let pipe = unique("zero");
    let victim = open(&slave(&pipe)).unwrap();
    let file = region_of(&victim);
    file.write_u32(file.pipe_entry(0) + entry::NUM_SLOTS, 0);
    let err = open(&master(&pipe)).unwrap_err();
    assert!(is_corrupt(&err), "{err}");
    for bad in [1, 7, SLOTS * 1024, u32::MAX] {
        file.write_u32(file.pipe_entry(0) + entry::NUM_SLOTS, bad);
        let err = open(&master(&pipe)).unwrap_err();
        assert!(is_corrupt(&err), "{bad}: {err}");
    }
    drop(victim);
}

#[test]
fn a_netmap_if_offset_outside_its_area_is_refused() {
    let pipe = unique("ifoff");
    let victim = open(&slave(&pipe)).unwrap();
    let file = region_of(&victim);
    for bad in [0, 1, file.ring_area() as u64, u64::MAX, u64::MAX - 4095] {
        file.write_u64(file.pipe_entry(0) + entry::IF_OFF, bad);
        let err = open(&master(&pipe)).unwrap_err();
        assert!(is_corrupt(&err), "{bad:#x}: {err}");
    }
    drop(victim);
}

#[test]
fn head_and_tail_past_the_ring_give_nothing_and_errors_never_panics() {
    let pipe = unique("idx");
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    pass(&mut tx, &mut rx, 0, 10);
    for (head, tail) in [(u32::MAX, 3), (3, SLOTS), (SLOTS, SLOTS + 1), (0, u32::MAX)] {
        {
            let mut ring = tx.tx_ring(0).unwrap();
            let saved = indices(&ring);
            set_indices(&ring, (head, head, tail));
            assert_eq!(ring.space(), 0);
            assert!((0..SLOTS + 2).all(|i| !ring.owns(i)));
            assert!(ring.buf(head).is_none() && ring.packet(3).is_none());
            assert!(ring.buf_mut(0).is_none());
            assert_eq!(ring.next(u32::MAX), 0);
            assert_eq!(ring.next(SLOTS - 1), 0);
            assert!(ring.slot(SLOTS).is_none() && ring.slot(u32::MAX).is_none());
            assert!(matches!(
                ring.set_len(SLOTS, 60),
                Err(ApiError::NoSuchSlot { slot: SLOTS, .. })
            ));
            assert!(ring.set_buf_idx(u32::MAX, 2).is_err());
            assert!(ring.set_flags(u32::MAX, 0).is_err());
            assert_eq!(ring.fill_from_cur(8, |_, _| 60), 0);
            set_indices(&ring, saved);
        }
        // A batch over bad indices is empty and leaves head alone.
        let saved = indices(&tx.tx_ring(0).unwrap());
        set_indices(&tx.tx_ring(0).unwrap(), (head, head, tail));
        let mut batch = tx.tx_batch(0).unwrap();
        assert_eq!(batch.room(), 0);
        assert!(!batch.push(b"x"));
        drop(batch);
        assert_eq!(tx.tx_ring(0).unwrap().head(), head);
        // The sync reports it, and the port works again once fixed.
        let err = tx.txsync().unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::BadIndices { .. } | ApiError::TailModified { .. }
            ),
            "{err}"
        );
        set_indices(&tx.tx_ring(0).unwrap(), saved);
        tx.txsync().unwrap();
        let saved = indices(&rx.rx_ring(0).unwrap());
        set_indices(&rx.rx_ring(0).unwrap(), (head, head, tail));
        {
            let batch = rx.rx_batch(0).unwrap();
            assert_eq!(batch.len(), 0);
            assert!(batch.is_empty());
        }
        assert_eq!(rx.rx_ring(0).unwrap().head(), head);
        assert!(rx.rxsync().is_err());
        set_indices(&rx.rx_ring(0).unwrap(), saved);
        rx.rxsync().unwrap();
    }
    pass(&mut tx, &mut rx, 10, 200);
}

fn indices(ring: &Ring) -> (u32, u32, u32) {
    (ring.head(), ring.cur(), ring.tail())
}

fn set_indices(ring: &Ring, (head, cur, tail): (u32, u32, u32)) {
    ring.set_head(head);
    ring.set_cur(cur);
    ring.set_tail(tail);
}

#[test]
fn a_planted_bad_buffer_wedges_rxsync_until_repaired() {
    let pipe = unique("plant");
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    pass(&mut tx, &mut rx, 0, 5);
    // The receiver released slots 0..5 (head = 5) but has not synced: a
    // third process plants a swapped-in buffer that does not exist.
    rx.rx_ring(0).unwrap().set_buf_idx(2, u32::MAX - 7).unwrap();
    rx.rx_ring(0).unwrap().set_flags(2, NS_BUF_CHANGED).unwrap();
    let err = rx.rxsync().unwrap_err();
    assert!(
        matches!(err, ApiError::BadBufIdx { slot: 2, buf_idx, .. } if buf_idx == u32::MAX - 7),
        "{err}"
    );
    assert!(err.to_string().contains("slot 2"), "{err}");
    // Wedged: the same error again.
    let again = rx.rxsync().unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
    assert!(rx.repair(&err).unwrap(), "the slot needed repair");
    assert!(!rx.repair(&err).unwrap(), "once is enough");
    rx.rxsync().unwrap();
    // Traffic flows again, wrapping the ring several times.
    pass(&mut tx, &mut rx, 5, 10 * SLOTS as u64);
}

#[test]
fn a_bad_buffer_in_a_tx_slot_stops_the_batch_and_is_repaired() {
    let pipe = unique("txbad");
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    pass(&mut tx, &mut rx, 0, 3);
    let k = tx.tx_ring(0).unwrap().head();
    tx.tx_ring(0).unwrap().set_buf_idx(k, 0).unwrap(); // buffer 0 is reserved
    let mut batch = tx.tx_batch(0).unwrap();
    assert!(!batch.push(b"payload"));
    assert_eq!(batch.bad_slot(), Some(k));
    drop(batch);
    let ring = tx.tx_ring(0).unwrap().id();
    assert!(tx.repair_slot(ring, k).unwrap());
    pass(&mut tx, &mut rx, 3, 3 * SLOTS as u64);
}

#[test]
fn rx_batch_skips_and_counts_a_slot_without_a_valid_buffer() {
    let pipe = unique("skip");
    let mut tx = open(&master(&pipe)).unwrap();
    let mut rx = open(&slave(&pipe)).unwrap();
    let mut batch = tx.tx_batch(0).unwrap();
    for i in 0..4u8 {
        assert!(batch.push(&[i; 20]));
    }
    drop(batch);
    tx.txsync().unwrap();
    rx.rxsync().unwrap();
    let h = rx.rx_ring(0).unwrap().head();
    rx.rx_ring(0).unwrap().set_len(h + 1, u16::MAX).unwrap(); // longer than a buffer
    rx.rx_ring(0).unwrap().set_buf_idx(h + 2, u32::MAX).unwrap();
    let mut batch = rx.rx_batch(0).unwrap();
    assert_eq!(batch.len(), 4);
    let mut got = vec![];
    while let Some(p) = batch.next() {
        got.push(p.to_vec());
    }
    assert_eq!(got, vec![vec![0u8; 20], vec![3u8; 20]]);
    assert_eq!(batch.skipped(), 2);
}
