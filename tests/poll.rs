//! poll(): an idle reader sleeps (no CPU), wakes when a packet arrives,
//! reports POLLHUP once its peer has gone, and not before the peer came.

use std::time::{Duration, Instant};

use vfio_netmap::api::poll::{POLLHUP, POLLIN, POLLOUT, PollItem, poll};

fn thread_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid rusage to fill.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    Duration::new(ru.ru_utime.tv_sec as u64, ru.ru_utime.tv_usec as u32 * 1000)
        + Duration::new(ru.ru_stime.tv_sec as u64, ru.ru_stime.tv_usec as u32 * 1000)
}

#[test]
fn idle_reader_sleeps_wakes_on_a_packet_and_sees_the_peer_leave() {
    let name = format!("poll_{}", std::process::id());
    let mut rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0")).unwrap();

    // No peer yet: a timeout, not a hang-up.
    let mut items = [PollItem::new(&mut rx, POLLIN)];
    let n = poll(&mut items, Some(Duration::from_millis(50))).unwrap();
    assert_eq!(
        (n, items[0].revents),
        (0, 0),
        "a peer that never came is not gone"
    );

    let sender = {
        let name = name.clone();
        std::thread::spawn(move || {
            let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0")).unwrap();
            std::thread::sleep(Duration::from_millis(400));
            tx.tx_batch(0).unwrap().push(b"wake up");
            tx.txsync().unwrap();
            std::thread::sleep(Duration::from_millis(200));
            // dropping tx closes the master end
        })
    };
    let (cpu0, t0) = (thread_cpu(), Instant::now());
    let mut items = [PollItem::new(&mut rx, POLLIN)];
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 1);
    assert_eq!(items[0].revents & POLLIN, POLLIN);
    let (cpu, waited) = (thread_cpu() - cpu0, t0.elapsed());
    assert!(
        waited >= Duration::from_millis(300),
        "woke after {waited:?} with nothing sent"
    );
    assert!(
        cpu < waited / 4,
        "an idle wait burned {cpu:?} of CPU in {waited:?}"
    );
    assert_eq!(rx.rx_batch(0).unwrap().next(), Some(&b"wake up"[..]));
    rx.rxsync().unwrap();

    sender.join().unwrap();
    let mut items = [PollItem::new(&mut rx, POLLIN)];
    poll(&mut items, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(
        items[0].revents & POLLHUP,
        POLLHUP,
        "the closed peer is reported"
    );
    let mut items = [PollItem::new(&mut rx, POLLIN)];
    assert_eq!(
        poll(&mut items, Some(Duration::ZERO)).unwrap(),
        1,
        "also without waiting"
    );
}

#[test]
fn a_full_sender_sleeps_until_the_receiver_releases() {
    let name = format!("pollout_{}", std::process::id());
    let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0")).unwrap();
    let mut rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0")).unwrap();
    let mut batch = tx.tx_batch(0).unwrap();
    while batch.push(&[0u8; 60]) {}
    batch.commit();
    tx.txsync().unwrap();
    let mut items = [PollItem::new(&mut tx, POLLOUT)];
    assert_eq!(
        poll(&mut items, Some(Duration::from_millis(50))).unwrap(),
        0,
        "no room yet"
    );
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        rx.rxsync().unwrap();
        rx.rx_batch(0).unwrap().for_each(|_| {});
        rx.rxsync().unwrap();
        rx
    });
    let mut items = [PollItem::new(&mut tx, POLLOUT)];
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 1);
    assert!(tx.tx_ring(0).unwrap().space() > 0);
    drop(reader.join().unwrap());
}

/// A sender that came, sent and left before the reader ever looked for
/// it: its frames prove it was there, so its absence is a hang-up.
#[test]
fn a_peer_gone_before_the_reader_looked_is_a_hang_up() {
    let name = format!("pollgone_{}", std::process::id());
    let mut rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0")).unwrap();
    {
        let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0")).unwrap();
        tx.tx_batch(0).unwrap().push(b"one");
        tx.txsync().unwrap();
    }
    rx.rxsync().unwrap();
    assert_eq!(rx.rx_batch(0).unwrap().next(), Some(&b"one"[..]));
    rx.rxsync().unwrap();
    let mut items = [PollItem::new(&mut rx, POLLIN)];
    let n = poll(&mut items, Some(Duration::from_secs(5))).unwrap();
    assert_eq!((n, items[0].revents & POLLHUP), (1, POLLHUP));
}
