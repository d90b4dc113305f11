//! The port side of one ring ("kring" in netmap): the indices the port last
//! agreed with the application, and netmap's checks of the application's
//! moves, returning errors where netmap logs and skips.

use super::error::ApiError;
use crate::abi::Direction;
use crate::mem::RingMem;

/// Which ring an error or a sync is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingId {
    /// TX or RX.
    pub dir: Direction,
    /// Index of the ring among the port's rings of that direction.
    pub index: u16,
}

impl std::fmt::Display for RingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = if self.dir == Direction::Tx {
            "tx"
        } else {
            "rx"
        };
        write!(f, "{d} ring {}", self.index)
    }
}

/// Port-side state of a ring: `[hwcur, hwtail)` is what the port handed the
/// application at the last sync (netmap's `nr_hwcur`/`nr_hwtail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KRing {
    /// Which ring this is.
    pub id: RingId,
    /// Number of slots in the ring.
    pub num_slots: u32,
    /// The application's `head` as of the last sync: slots before it have
    /// been handed back to the port.
    pub hwcur: u32,
    /// The `tail` the port published at the last sync: the first slot the
    /// port still owns.
    pub hwtail: u32,
}

impl KRing {
    /// Initial state as netmap creates it: TX owns all but one slot, RX none.
    pub fn new(id: RingId, num_slots: u32) -> KRing {
        let hwtail = if id.dir == Direction::Tx {
            num_slots - 1
        } else {
            0
        };
        KRing {
            id,
            num_slots,
            hwcur: 0,
            hwtail,
        }
    }

    /// `(to - from) mod num_slots`.
    #[inline]
    pub fn distance(&self, from: u32, to: u32) -> u32 {
        if to >= from {
            to - from
        } else {
            to + self.num_slots - from
        }
    }

    /// The slot after `i`, wrapping at the end of the ring.
    #[inline]
    pub fn next(&self, i: u32) -> u32 {
        if i + 1 == self.num_slots { 0 } else { i + 1 }
    }

    /// `(i + n) mod num_slots`, for `i` a slot and `n` at most the ring size.
    #[inline]
    pub fn advance(&self, i: u32, n: u32) -> u32 {
        let j = i + n;
        if j >= self.num_slots {
            j - self.num_slots
        } else {
            j
        }
    }

    /// `[from, from + count)` modulo the ring as two contiguous ranges
    /// `(start, end)`, the second empty unless the range wraps. `from` must
    /// be a slot and `count` at most the ring size.
    #[inline]
    pub fn runs(&self, from: u32, count: u32) -> [(u32, u32); 2] {
        let room = self.num_slots - from;
        if count <= room {
            [(from, from + count), (0, 0)]
        } else {
            [(from, self.num_slots), (0, count - room)]
        }
    }

    /// The slot before `i`.
    #[inline]
    pub fn prev(&self, i: u32) -> u32 {
        if i == 0 { self.num_slots - 1 } else { i - 1 }
    }

    /// Checks the application's `head`/`cur` against the last sync:
    /// `hwcur <= head <= cur <= hwtail` modulo the ring, and `tail` untouched.
    /// Returns the new head. On error nothing changes, so the ring works
    /// again once the application fixes its indices.
    #[inline]
    pub fn prologue(&self, ring: &RingMem<'_>) -> Result<u32, ApiError> {
        let (head, cur, tail) = (ring.head(), ring.cur(), ring.tail());
        if tail != self.hwtail {
            ring.set_tail(self.hwtail);
            return Err(ApiError::TailModified {
                ring: self.id,
                tail,
                expected: self.hwtail,
            });
        }
        let n = self.num_slots;
        let span = self.distance(self.hwcur, self.hwtail);
        let ok = head < n
            && cur < n
            && self.distance(self.hwcur, head) <= span
            && self.distance(head, cur) <= self.distance(head, self.hwtail);
        if !ok {
            return Err(ApiError::BadIndices {
                ring: self.id,
                head,
                cur,
                hwcur: self.hwcur,
                tail: self.hwtail,
                num_slots: n,
            });
        }
        Ok(head)
    }

    /// Publishes the port's view: `tail = hwtail`.
    #[inline]
    pub fn finalize(&self, ring: &RingMem<'_>) {
        ring.set_tail(self.hwtail);
    }
}
