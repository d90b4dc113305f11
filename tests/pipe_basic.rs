//! Pipes inside one process: packets go in one end and come out the other,
//! byte for byte, in order, with back-pressure instead of drops.

use vfio_netmap::api::{ApiError, PipeEnd, PipeSpec, Port};
use vfio_netmap::ports::PortError;

fn unique(name: &str) -> String {
    format!("{name}_{}", std::process::id())
}

fn open_pair(name: &str, slots: u32) -> (Port, Port) {
    let region = unique(name);
    let mut spec = PipeSpec::new(&region, "0", PipeEnd::Master);
    spec.slots = slots;
    let master = Port::open_pipe(&format!("netmap:{region}{{0"), &spec).unwrap();
    spec.end = PipeEnd::Slave;
    let slave = Port::open_pipe(&format!("netmap:{region}}}0"), &spec).unwrap();
    (master, slave)
}

/// Fills as many TX slots as there is room for with packets numbered from
/// `next`, up to `limit`; returns how many it queued.
fn send_some(port: &mut Port, next: &mut u64, limit: u64) -> u64 {
    let mut ring = port.tx_ring(0).unwrap();
    let mut cur = ring.cur();
    let mut sent = 0;
    while ring.space() > 0 && *next < limit {
        let buf = ring.buf_mut(cur).unwrap();
        let len = 60 + (*next % 1400) as usize;
        buf[..8].copy_from_slice(&next.to_le_bytes());
        for (i, b) in buf[8..len].iter_mut().enumerate() {
            *b = (*next as usize + i) as u8;
        }
        ring.set_len(cur, len as u16).unwrap();
        cur = ring.next(cur);
        ring.advance_to(cur);
        *next += 1;
        sent += 1;
    }
    sent
}

fn receive_some(port: &mut Port, expect: &mut u64) -> u64 {
    let ring = port.rx_ring(0).unwrap();
    let mut head = ring.head();
    let mut got = 0;
    while head != ring.tail() {
        let pkt = ring.packet(head).unwrap();
        let seq = u64::from_le_bytes(pkt[..8].try_into().unwrap());
        assert_eq!(seq, *expect, "out of order");
        assert_eq!(
            pkt.len(),
            60 + (seq % 1400) as usize,
            "length of packet {seq}"
        );
        for (i, &b) in pkt[8..].iter().enumerate() {
            assert_eq!(b, (seq as usize + i) as u8, "byte {i} of packet {seq}");
        }
        *expect += 1;
        got += 1;
        head = ring.next(head);
    }
    ring.advance_to(head);
    got
}

#[test]
fn packets_cross_a_pipe_intact_and_in_order() {
    let (mut master, mut slave) = open_pair("basic", 256);
    let total = 100_000;
    let (mut next, mut expect) = (0, 0);
    while expect < total {
        send_some(&mut master, &mut next, total);
        master.txsync().unwrap();
        slave.rxsync().unwrap();
        receive_some(&mut slave, &mut expect);
        slave.rxsync().unwrap();
    }
    assert_eq!(expect, total);
}

/// `Ring::fill_from_cur` (the send loop in one call) across ring wraps and
/// uneven batches: every packet arrives, in order, byte for byte, and a
/// batch never takes more than the room there is.
#[test]
fn fill_from_cur_sends_in_order_across_wraps() {
    let (mut master, mut slave) = open_pair("fill", 64);
    let total = 20_000u64;
    let (mut next, mut expect) = (0u64, 0u64);
    let mut round = 0u32;
    while expect < total {
        let room = master.tx_ring(0).unwrap().space();
        let want = (round % 97 + 1).min((total - next) as u32);
        let first = next;
        let filled = master.tx_ring(0).unwrap().fill_from_cur(want, |buf, k| {
            let seq = first + k as u64;
            let len = 60 + (seq % 1400) as usize;
            buf[..8].copy_from_slice(&seq.to_le_bytes());
            for (i, b) in buf[8..len].iter_mut().enumerate() {
                *b = (seq as usize + i) as u8;
            }
            len
        });
        assert_eq!(filled, want.min(room), "round {round}: room {room}");
        assert_eq!(master.tx_ring(0).unwrap().space(), room - filled);
        next += filled as u64;
        master.txsync().unwrap();
        if round % 3 != 0 {
            slave.rxsync().unwrap();
            receive_some(&mut slave, &mut expect);
            slave.rxsync().unwrap();
        }
        round += 1;
    }
    assert_eq!((next, expect), (total, total));
}

/// A slot naming an invalid buffer stops the fill there, and a garbage
/// `cur` fills nothing: no write outside the pool, no panic.
#[test]
fn fill_from_cur_stops_at_bad_slots() {
    let (master, _slave) = open_pair("fill_bad", 64);
    let ring = master.tx_ring(0).unwrap();
    let good = ring.slot(3).unwrap().buf_idx;
    ring.set_buf_idx(3, 1).unwrap();
    let filled = master.tx_ring(0).unwrap().fill_from_cur(10, |buf, _| {
        buf[..60].fill(0xab);
        60
    });
    assert_eq!(filled, 3);
    let ring = master.tx_ring(0).unwrap();
    assert_eq!((ring.head(), ring.cur()), (3, 3));
    assert_eq!(ring.slot(2).unwrap().len, 60);
    ring.set_buf_idx(3, good).unwrap();
    ring.set_cur(1000);
    assert_eq!(master.tx_ring(0).unwrap().fill_from_cur(10, |_, _| 60), 0);
    master.tx_ring(0).unwrap().set_cur(3);
    // An over-long length is clamped to the buffer.
    assert_eq!(
        master.tx_ring(0).unwrap().fill_from_cur(1, |_, _| 1 << 20),
        1
    );
    assert_eq!(
        master.tx_ring(0).unwrap().slot(3).unwrap().len as u32,
        master.tx_ring(0).unwrap().buf_size()
    );
}

#[test]
fn a_full_pipe_pushes_back_instead_of_dropping() {
    let (mut master, mut slave) = open_pair("backpressure", 64);
    let (mut next, mut expect) = (0, 0);
    // Without the receiver, the sender can queue exactly one ring's worth
    // minus the always-empty slot, then no more.
    let mut queued = 0;
    for _ in 0..10 {
        queued += send_some(&mut master, &mut next, u64::MAX);
        master.txsync().unwrap();
    }
    assert_eq!(queued, 63);
    assert_eq!(master.tx_ring(0).unwrap().space(), 0);
    slave.rxsync().unwrap();
    assert_eq!(receive_some(&mut slave, &mut expect), 63);
    slave.rxsync().unwrap();
    master.txsync().unwrap();
    assert_eq!(master.tx_ring(0).unwrap().space(), 63);
}

#[test]
fn bad_indices_and_slots_are_errors_and_the_ring_recovers() {
    let (mut master, mut slave) = open_pair("errors", 64);
    let ring = master.tx_ring(0).unwrap();
    ring.set_head(70);
    assert!(matches!(
        master.txsync(),
        Err(ApiError::BadIndices { head: 70, .. })
    ));
    let ring = master.tx_ring(0).unwrap();
    ring.set_head(0);
    ring.set_cur(0);
    master.txsync().unwrap();

    let ring = master.tx_ring(0).unwrap();
    let good = ring.slot(0).unwrap().buf_idx;
    ring.set_buf_idx(0, 1).unwrap();
    ring.set_len(0, 60).unwrap();
    ring.advance_to(1);
    assert!(matches!(
        master.txsync(),
        Err(ApiError::BadBufIdx {
            buf_idx: 1,
            slot: 0,
            ..
        })
    ));
    let ring = master.tx_ring(0).unwrap();
    ring.set_len(0, 4000).unwrap();
    ring.set_buf_idx(0, good).unwrap();
    assert!(matches!(
        master.txsync(),
        Err(ApiError::BadLen { len: 4000, .. })
    ));
    master.tx_ring(0).unwrap().set_len(0, 60).unwrap();
    master.txsync().unwrap();
    slave.rxsync().unwrap();
    assert_eq!(slave.rx_ring(0).unwrap().space(), 1);

    master.tx_ring(0).unwrap().set_tail(5);
    assert!(matches!(
        master.txsync(),
        Err(ApiError::TailModified { tail: 5, .. })
    ));
    master.txsync().unwrap();
}

#[test]
fn an_end_has_one_owner_and_can_be_reopened() {
    let (master, slave) = open_pair("owner", 64);
    let region = unique("owner");
    let spec = PipeSpec::new(&region, "0", PipeEnd::Master);
    let err = Port::open_pipe("again", &spec).unwrap_err();
    assert!(matches!(err, ApiError::PipeEndBusy { .. }), "{err}");
    assert!(slave.peer_alive());
    drop(master);
    assert!(!slave.peer_alive());
    let master = Port::open_pipe("again", &spec).unwrap();
    assert!(slave.peer_alive());
    drop(master);
    drop(slave);
}

#[test]
fn names_select_rings_and_sizes() {
    let region = unique("names");
    let port =
        vfio_netmap::ports::open(&format!("{region}{{0@conf:slots=64,extra-bufs=4")).unwrap();
    assert_eq!(port.tx_ring(0).unwrap().num_slots(), 64);
    assert_eq!((port.num_tx_rings(), port.num_rx_rings()), (1, 1));
    let rx_only = vfio_netmap::ports::open(&format!("netmap:{region}}}0-0/R")).unwrap();
    assert_eq!((rx_only.num_tx_rings(), rx_only.num_rx_rings()), (0, 1));
    let err = vfio_netmap::ports::open(&format!("netmap:{region}{{1-1")).unwrap_err();
    assert!(
        matches!(err, PortError::Api(ApiError::NoSuchRing { index: 1, .. })),
        "{err}"
    );
    let err = vfio_netmap::ports::open(&format!("netmap:{region}{{2@conf:slots=many")).unwrap_err();
    assert!(err.to_string().contains("expected a number"), "{err}");
    let err = vfio_netmap::ports::open("netmap:a{1}2").unwrap_err();
    assert!(matches!(err, PortError::Name(_)), "{err}");
    let err = vfio_netmap::ports::open("netmap:eth0").unwrap_err();
    assert!(
        err.to_string().contains("vfio:"),
        "the message points at NIC ports: {err}"
    );
}

/// Deep rings need no `@conf:bufs`: two pipes of 16384 slots open in one
/// region by name alone (the first end sizes the region for two such
/// pipes), and 40,000 packets cross each intact and in order.
#[test]
fn deep_pipes_by_name_need_no_pool_option() {
    let region = unique("deep");
    let name = |end: char, id: u32| format!("netmap:{region}{end}{id}@conf:slots=16384");
    let mut pipes = Vec::new();
    for id in 0..2 {
        let master = vfio_netmap::ports::open(&name('{', id)).unwrap();
        let slave = vfio_netmap::ports::open(&name('}', id)).unwrap();
        assert_eq!(master.tx_ring(0).unwrap().num_slots(), 16384);
        pipes.push((master, slave));
    }
    for (master, slave) in &mut pipes {
        let total = 40_000;
        let (mut next, mut expect) = (0, 0);
        while expect < total {
            send_some(master, &mut next, total);
            master.txsync().unwrap();
            slave.rxsync().unwrap();
            receive_some(slave, &mut expect);
            slave.rxsync().unwrap();
        }
        assert_eq!(next, total);
    }
}

/// Every ring-index method of a port answers an index it does not have
/// (one past its last ring, or any ring of a direction it was opened
/// without, `/R` or `/T`) with `NoSuchRing`, never a panic.
#[test]
fn ring_indices_beyond_the_port_s_rings_are_errors_not_panics() {
    let region = unique("noring");
    let mut both = vfio_netmap::ports::open(&format!("netmap:{region}{{0")).unwrap();
    let mut rx_only = vfio_netmap::ports::open(&format!("netmap:{region}}}0/R")).unwrap();
    let mut tx_only = vfio_netmap::ports::open(&format!("netmap:{region}{{1/T")).unwrap();
    let no_ring = |r: Result<(), ApiError>, what: &str, index: u32, count: u32| {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, ApiError::NoSuchRing { what: w, index: i, count: c, .. }
                if *w == what && *i == index && *c == count),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(what), "{msg}");
        if count == 0 {
            assert!(msg.contains("/R") && msg.contains("/T"), "{msg}");
        } else {
            assert!(msg.contains(&format!("below {count}")), "{msg}");
        }
    };
    no_ring(both.tx_batch(1).map(drop), "tx ring", 1, 1);
    no_ring(both.rx_batch(1).map(drop), "rx ring", 1, 1);
    no_ring(both.tx_ring(1).map(drop), "tx ring", 1, 1);
    no_ring(both.rx_ring(usize::MAX).map(drop), "rx ring", u32::MAX, 1);
    no_ring(both.txsync_ring(1), "tx ring", 1, 1);
    no_ring(both.rxsync_ring(1), "rx ring", 1, 1);
    no_ring(rx_only.tx_batch(0).map(drop), "tx ring", 0, 0);
    no_ring(rx_only.tx_ring(0).map(drop), "tx ring", 0, 0);
    no_ring(rx_only.txsync_ring(0), "tx ring", 0, 0);
    no_ring(tx_only.rx_batch(0).map(drop), "rx ring", 0, 0);
    no_ring(tx_only.rx_ring(0).map(drop), "rx ring", 0, 0);
    no_ring(tx_only.rxsync_ring(0), "rx ring", 0, 0);
    // The rings it has still work.
    assert!(both.tx_batch(0).unwrap().push(&[1; 60]));
    both.txsync().unwrap();
    rx_only.rxsync().unwrap();
    assert_eq!(rx_only.rx_batch(0).unwrap().next(), Some(&[1u8; 60][..]));
    let (mut a, mut b) = (both, rx_only);
    let moved = vfio_netmap::api::forward(&mut b, 1, &mut a, 0, 1);
    no_ring(moved.map(drop), "rx ring", 1, 1);
    let moved = vfio_netmap::api::forward(&mut b, 0, &mut tx_only, 1, 1);
    no_ring(moved.map(drop), "tx ring", 1, 1);
}
