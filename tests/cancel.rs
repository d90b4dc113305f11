//! The library's long waits end when a cancellation is requested
//! (`api::cancel::request`, what the tools' SIGINT/SIGTERM handlers call).
//! One test: the flag is process-wide, and tests in one binary run in
//! parallel.

use std::time::{Duration, Instant};

use vfio_netmap::api::cancel;
use vfio_netmap::api::poll::{POLLIN, PollItem, poll};
use vfio_netmap::api::{ApiError, PipeEnd, PipeSpec, Port};
use vfio_netmap::driver::link::{Interrupted, wait_for_link};

/// Runs `wait` while another thread requests a cancellation after 100 ms;
/// returns what it returned and how long it took after the request.
fn cancelled<T: Send>(wait: impl FnOnce() -> T + Send) -> (T, Duration) {
    cancel::clear();
    let requested_at = std::sync::Mutex::new(None);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            *requested_at.lock().unwrap() = Some(Instant::now());
            cancel::request();
        });
        wait()
    });
    let took = requested_at.lock().unwrap().unwrap().elapsed();
    cancel::clear();
    (out, took)
}

#[test]
fn waits_end_soon_after_a_cancellation_request() {
    // A link wait without end (the longest `@conf:link-wait=` there is,
    // an hour-long step asked for): interrupted within 100 ms.
    let (out, took) = cancelled(|| {
        wait_for_link(
            "test",
            Duration::from_secs(u64::MAX),
            Duration::from_secs(3600),
            || false,
            || false,
        )
    });
    assert_eq!(out, Err(Interrupted));
    assert!(took < Duration::from_millis(100), "{took:?}");

    // A link that comes up, or a limit that passes, is no interruption.
    assert_eq!(
        wait_for_link("test", Duration::MAX, Duration::ZERO, || true, || false),
        Ok(())
    );
    assert_eq!(
        wait_for_link(
            "t",
            Duration::from_millis(20),
            Duration::MAX,
            || false,
            || false
        ),
        Ok(())
    );

    // poll() without a timeout on a pipe nobody writes to.
    let region = format!("cancel{}", std::process::id());
    let spec = PipeSpec::new(&region, "0", PipeEnd::Slave);
    let mut port = Port::open_pipe(&format!("netmap:{region}}}0"), &spec).unwrap();
    let (out, took) = cancelled(|| {
        let mut items = [PollItem::new(&mut port, POLLIN)];
        poll(&mut items, None)
    });
    assert!(matches!(out, Err(ApiError::Interrupted)), "{out:?}");
    assert!(took < Duration::from_millis(100), "{took:?}");
    let msg = ApiError::Interrupted.to_string();
    assert!(msg.contains("cancel::clear"), "{msg}");

    // Requested before the wait: it gives up at once; cleared: waits again.
    cancel::request();
    let t = Instant::now();
    let mut items = [PollItem::new(&mut port, POLLIN)];
    assert!(matches!(poll(&mut items, None), Err(ApiError::Interrupted)));
    assert!(!cancel::sleep(Duration::MAX));
    assert!(t.elapsed() < Duration::from_millis(100));
    cancel::clear();
    let mut items = [PollItem::new(&mut port, POLLIN)];
    assert_eq!(
        poll(&mut items, Some(Duration::from_millis(30))).unwrap(),
        0
    );
    assert!(cancel::sleep(Duration::from_millis(1)));
}
