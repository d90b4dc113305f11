//! Waiting for a link at open, the same for every driver.

use std::time::{Duration, Instant};

use crate::api::cancel;

/// Waits up to `limit` for `up()`, polling every `step` (at most
/// [`cancel::CHECK_EVERY`]), and stops early when `gone()` says the device
/// was removed. A link still down is logged, not an error: the port opens
/// and its link state is reported. Any `limit` works: one too long to
/// represent (`@conf:link-wait=` a huge number) waits until the link comes
/// up or a cancellation is requested ([`cancel::request`], which the
/// tools' SIGINT/SIGTERM handlers call): then it returns `Err(Interrupted)`
/// at once, for the driver to turn into its "interrupted" error.
pub fn wait_for_link(
    device: &str,
    limit: Duration,
    step: Duration,
    up: impl Fn() -> bool,
    gone: impl Fn() -> bool,
) -> Result<(), Interrupted> {
    let start = Instant::now();
    let step = step.min(cancel::CHECK_EVERY);
    while !up() && start.elapsed() < limit && !gone() {
        if cancel::requested() {
            log::warn!(
                "{device}: link wait interrupted after {:?}",
                start.elapsed()
            );
            return Err(Interrupted);
        }
        std::thread::sleep(step);
    }
    if !up() {
        log::warn!("{device}: link still down after {limit:?}; carrying on");
    }
    Ok(())
}

/// A driver's wait gave up because a cancellation was requested
/// ([`cancel::request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;
