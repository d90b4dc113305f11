//! Cancelling the library's long waits: one process-wide flag that a
//! SIGINT/SIGTERM handler sets, and that every wait inside the library
//! that can last longer than a moment (the link wait when a NIC port
//! opens, the drivers' reset waits, [`poll`](super::poll::poll)) looks at
//! at least every [`CHECK_EVERY`]. A wait that sees it gives up with its
//! layer's "interrupted" error ([`ApiError::Interrupted`](super::ApiError),
//! `DriverError::Interrupted`, `IxgbeError::Interrupted`).
//!
//! The library installs no signal handler: an application decides what a
//! signal means. To let Ctrl-C end a wait, call [`request`] from the
//! handler (it is one atomic store, so async-signal-safe):
//!
//! ```
//! extern "C" fn on_signal(_: libc::c_int) {
//!     vfio_netmap::api::cancel::request();
//! }
//! // SAFETY: the handler only stores to an atomic.
//! unsafe { libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t) };
//! ```
//!
//! The flag stays set (every later wait gives up at once) until [`clear`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest a library wait goes without looking at the flag.
pub const CHECK_EVERY: Duration = Duration::from_millis(10);

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every wait in the library to give up, now and until [`clear`].
/// Async-signal-safe: call it from a signal handler.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a cancellation was requested (and not cleared since).
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Lets waits run again after a [`request`].
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Sleeps for `duration` (any length: one too long to represent sleeps
/// until cancelled), looking at the flag every [`CHECK_EVERY`]; false if
/// it gave up because a cancellation was requested.
pub fn sleep(duration: Duration) -> bool {
    let deadline = Instant::now().checked_add(duration);
    loop {
        if requested() {
            return false;
        }
        let left = deadline.map_or(CHECK_EVERY, |d| d.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(CHECK_EVERY));
    }
}
