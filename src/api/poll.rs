//! Waiting on several ports at once, netmap's `poll()`.
//!
//! As in netmap, polling flushes every bound TX ring (txsync), and with
//! [`POLLIN`] runs rxsync. A port is ready for [`POLLOUT`] when a TX ring
//! has room (cur != tail) and for [`POLLIN`] when an RX ring holds packets.
//! An idle caller sleeps on futex words in the shared region, so it costs
//! no CPU; busy polling (calling the syncs in a loop) stays the fast path.

use std::time::{Duration, Instant};

use super::backend::Wait;
use super::cancel;
use super::error::ApiError;
use super::futex;
use super::pipe::PEER_CHECK;
use super::port::Port;
use crate::abi::Direction;

/// Readiness flag, as in poll(2): an RX ring holds packets.
pub const POLLIN: u8 = 0x1;
/// Readiness flag, as in poll(2): a TX ring has room (cur != tail).
pub const POLLOUT: u8 = 0x4;
/// An error condition: a sync failed (see [`PollItem::error`]).
pub const POLLERR: u8 = 0x8;
/// The other side of the port has gone (closed, or its process died).
pub const POLLHUP: u8 = 0x10;

/// One port to wait on.
pub struct PollItem<'a> {
    /// The port to check and wait on.
    pub port: &'a mut Port,
    /// POLLIN and/or POLLOUT.
    pub events: u8,
    /// Filled in by [`poll`].
    pub revents: u8,
    /// Whether polling runs txsync on the port's TX rings (netmap's
    /// default; `NR_NO_TX_POLL` turns it off).
    pub tx_poll: bool,
    /// Set by [`poll_with_fds`] when a sync of this port failed (its
    /// `revents` is then [`POLLERR`]).
    pub error: Option<ApiError>,
}

impl<'a> PollItem<'a> {
    /// Waits on `port` for `events`, with `revents` cleared.
    pub fn new(port: &'a mut Port, events: u8) -> Self {
        PollItem {
            port,
            events,
            revents: 0,
            tx_poll: true,
            error: None,
        }
    }
}

fn check(item: &mut PollItem<'_>) -> Result<u8, ApiError> {
    let port = &mut *item.port;
    let mut revents = 0;
    if item.tx_poll {
        port.txsync()?;
    }
    if item.events & POLLOUT != 0
        && (0..port.num_tx_rings()).any(|i| port.tx_ring(i).is_ok_and(|r| !r.is_empty()))
    {
        revents |= POLLOUT;
    }
    if item.events & POLLIN != 0 {
        port.rxsync()?;
        if (0..port.num_rx_rings()).any(|i| port.rx_ring(i).is_ok_and(|r| !r.is_empty())) {
            revents |= POLLIN;
        }
    }
    Ok(revents)
}

/// Waits until one of `items` is ready or `timeout` passes (`None`: no
/// limit). Returns how many items are ready; each item's `revents` says how.
/// Returns [`ApiError::Interrupted`] instead of sleeping once a
/// cancellation was requested ([`cancel`]), which it
/// looks at every [`cancel::CHECK_EVERY`] while asleep: the way out of a
/// wait without end on Ctrl-C, as poll(2)'s `EINTR`.
pub fn poll(items: &mut [PollItem<'_>], timeout: Option<Duration>) -> Result<usize, ApiError> {
    // A timeout too long to represent waits without end, as `None` does.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let mut ready = 0;
        for item in items.iter_mut() {
            item.revents = check(item)?;
            ready += (item.revents != 0) as usize;
        }
        if ready > 0 {
            return Ok(ready);
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining != Some(Duration::ZERO) && cancel::requested() {
            return Err(ApiError::Interrupted);
        }
        if !sleep_for_progress(items, &mut [], remaining) {
            let mut hup = 0;
            for item in items.iter_mut().filter(|item| item.port.peer_gone()) {
                item.revents |= POLLHUP;
                hup += 1;
            }
            if hup > 0 || remaining == Some(Duration::ZERO) {
                return Ok(hup);
            }
        }
    }
}

/// Sleeps until progress, for at most `remaining` and one PEER_CHECK (peers
/// are looked at between those), in steps of CHECK_EVERY so that a
/// cancellation request ends the sleep; whether progress came.
fn sleep_for_progress(
    items: &[PollItem<'_>],
    extra: &mut [libc::pollfd],
    remaining: Option<Duration>,
) -> bool {
    let slice = remaining.map_or(PEER_CHECK, |r| r.min(PEER_CHECK));
    let started = Instant::now();
    while remaining != Some(Duration::ZERO) && !cancel::requested() {
        let left = slice.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        if sleep_until_progress(items, extra, left.min(cancel::CHECK_EVERY)) {
            return true;
        }
    }
    false
}

/// Sleeps on every relevant ring's futex word; returns whether it woke for
/// (or found) progress rather than the timeout.
/// `extra`: other file descriptors to wake for (with their own events);
/// their `revents` are left set.
fn sleep_until_progress(
    items: &[PollItem<'_>],
    extra: &mut [libc::pollfd],
    slice: Duration,
) -> bool {
    let mut words = Vec::new();
    let mut fds = Vec::new();
    let mut nap = false;
    let mut armed = Vec::new();
    let mut progressed = false;
    for (n, item) in items.iter().enumerate() {
        let mut dirs = vec![];
        if item.events & POLLOUT != 0 {
            dirs.push((Direction::Tx, item.port.num_tx_rings()));
        }
        if item.events & POLLIN != 0 {
            dirs.push((Direction::Rx, item.port.num_rx_rings()));
        }
        for (dir, count) in dirs {
            for i in 0..count {
                armed.push((n, dir));
                match item.port.arm_wait(dir, i) {
                    Wait::Futex(word, value) => words.push((word, value)),
                    Wait::Fd(fd) => fds.push(fd),
                    Wait::Nap => nap = true,
                    Wait::Ready => progressed = true,
                }
            }
        }
    }
    if !progressed {
        let start = Instant::now();
        // Futexes and eventfds cannot be waited on together: with both, poll
        // the fds in short slices and let the loop recheck the rings.
        let short = Duration::from_millis(1).min(slice);
        let nap_slice = Duration::from_micros(50).min(slice);
        if !fds.is_empty() || !extra.is_empty() {
            let t = if words.is_empty() && !nap {
                slice
            } else if nap {
                nap_slice
            } else {
                short
            };
            wait_fds(&fds, extra, t);
        } else if nap {
            std::thread::sleep(nap_slice);
        } else {
            futex::wait_any(&words, Some(slice));
        }
        progressed = start.elapsed() < slice || extra.iter().any(|p| p.revents != 0);
    }
    for (n, dir) in armed {
        items[n].port.disarm_wait(dir);
    }
    progressed
}

/// poll(2) on eventfds for readability, and on `extra` for their events
/// (whose `revents` are copied back).
fn wait_fds(fds: &[std::os::fd::RawFd], extra: &mut [libc::pollfd], timeout: Duration) {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .chain(extra.iter().map(|p| libc::pollfd { revents: 0, ..*p }))
        .collect();
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: pfds is a live array of pollfd structures of the given length.
    unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    for (p, q) in extra.iter_mut().zip(&pfds[fds.len()..]) {
        p.revents = q.revents;
    }
}

/// poll(2) on `fds` without waiting; how many are ready.
fn poll_now(fds: &mut [libc::pollfd]) -> usize {
    if fds.is_empty() {
        return 0;
    }
    // SAFETY: fds is a live array of pollfd structures of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    n.max(0) as usize
}

/// [`poll`] over ports and other file descriptors together, as poll(2)
/// does for a process that mixes netmap ports with sockets or timers.
/// A port whose sync fails is reported ready with [`POLLERR`] and the
/// error in its [`PollItem::error`], instead of failing the whole call.
/// Returns how many ports and descriptors are ready.
///
/// Sleeping: with only pipes, on their futex words; with interrupt
/// eventfds or other descriptors, in poll(2) — and when both futex words
/// and descriptors are involved, in slices of 1 ms (a futex and a file
/// descriptor cannot be waited on together).
pub fn poll_with_fds(
    items: &mut [PollItem<'_>],
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
) -> usize {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let mut ready = 0;
        for item in items.iter_mut() {
            (item.revents, item.error) = match check(item) {
                Ok(r) => (r, None),
                Err(e) => (POLLERR, Some(e)),
            };
            ready += (item.revents != 0) as usize;
        }
        ready += poll_now(fds);
        if ready > 0 {
            return ready;
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if !sleep_for_progress(items, fds, remaining) {
            let mut hup = 0;
            for item in items.iter_mut().filter(|item| item.port.peer_gone()) {
                item.revents |= POLLHUP;
                hup += 1;
            }
            // A cancellation request ends the wait as its timeout would.
            if hup > 0 || remaining == Some(Duration::ZERO) || cancel::requested() {
                return hup + poll_now(fds);
            }
        }
    }
}
