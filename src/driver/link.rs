//! Waiting for a link at open, the same for every driver.

use std::time::{Duration, Instant};

/// Waits up to `limit` for `up()`, polling every `step`, and stops early
/// when `gone()` says the device was removed. A link still down is logged,
/// not an error: the port opens and its link state is reported.
pub fn wait_for_link(
    device: &str,
    limit: Duration,
    step: Duration,
    up: impl Fn() -> bool,
    gone: impl Fn() -> bool,
) {
    let start = Instant::now();
    while !up() && start.elapsed() < limit && !gone() {
        std::thread::sleep(step);
    }
    if !up() {
        log::warn!("{device}: link still down after {limit:?}; carrying on");
    }
}
