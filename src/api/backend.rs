//! What moves a port's slots: one trait that pipes, NIC queues and model
//! ports implement. [`Port`](super::Port) runs netmap's ring checks
//! (`prologue`/`finalize`) around every sync, so a backend only moves the
//! slots in `[hwcur, head)` and advances `hwtail`.

use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;

use super::error::ApiError;
use super::kring::KRing;
use crate::abi::Direction;
use crate::mem::{Region, RingMem};

/// A port's engine: moves slots between its rings and a device or a peer.
pub trait Backend: Send {
    /// Hands `[kring.hwcur, head)` of TX ring `mem` (ring `kring.id`) to the
    /// device or peer, advances `hwcur` past what it took, and `hwtail`
    /// past what completed. `head` has been checked against `kring`.
    /// On a bad slot, syncs the slots before it and returns the error.
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError>;

    /// Takes back `[kring.hwcur, head)` of RX ring `mem` (released by the
    /// application) and advances `hwtail` past what arrived.
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError>;

    /// Prepares to sleep until ring `kring.id` may progress (turns the
    /// device's interrupt on, announces a sleeper to a peer) and says what
    /// to wait on. `kring` is the ring's state as of its last sync.
    fn arm_wait<'r>(&self, region: &'r Region, kring: &KRing) -> Wait<'r>;

    /// Undoes [`arm_wait`](Backend::arm_wait) after waking.
    fn disarm_wait(&self, region: &Region, dir: Direction);

    /// Whether the other side is there: a pipe's peer, a NIC's link.
    fn peer_alive(&self, region: &Region) -> bool;

    /// Stops the device or leaves the peer, before the port's rings go
    /// back to the region. Called once, when the port closes.
    fn close(&mut self, region: &Region);

    /// The NIC behind the port, for identity, counters, MAC and promiscuous
    /// mode; `None` for ports without one (pipes).
    fn nic(&mut self) -> Option<&mut dyn NicControl> {
        None
    }
}

/// What to sleep on for one ring.
#[derive(Clone, Copy, Debug)]
pub enum Wait<'r> {
    /// Progress is already visible: do not sleep.
    Ready,
    /// A futex word in the region and the value it had when armed.
    Futex(&'r AtomicU32, u32),
    /// An eventfd the device's interrupt signals.
    Fd(RawFd),
    /// Nothing to sleep on: nap briefly and look again.
    Nap,
}

/// Control of the NIC behind a port.
pub trait NicControl {
    /// Identity, link and hardware counters (accumulated to 64 bits).
    fn info(&mut self) -> NicInfo;
    /// Turns promiscuous reception on or off.
    fn set_promiscuous(&mut self, on: bool);
    /// Changes the unicast address the NIC accepts (and reports).
    fn set_mac(&mut self, mac: [u8; 6]);
}

/// What a NIC port reports about its device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NicInfo {
    /// The device's model, e.g. "82540EM (e1000)".
    pub model: String,
    /// The unicast address it receives for.
    pub mac: [u8; 6],
    /// Whether the link is up.
    pub link_up: bool,
    /// Mb/s, when the link is up.
    pub speed: Option<u32>,
    /// Hardware counters by their datasheet names (GPRC, GPTC, ...).
    pub counters: Vec<(&'static str, u64)>,
}

impl NicInfo {
    /// The counter called `name`, if the device has it.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }
    /// The MAC address as `aa:bb:cc:dd:ee:ff`.
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}
