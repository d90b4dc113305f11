//! The idiomatic layer: packets as byte slices, no index arithmetic.
//!
//! ```
//! use vfio_netmap::api::Port;
//! # let name = format!("doc_batch_{}", std::process::id());
//! let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0"))?;
//! let mut rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0"))?;
//!
//! // Fill transmit buffers in place, then send them.
//! let mut batch = tx.tx_batch(0)?;
//! for i in 0..3u8 {
//!     batch.push_with(|buf| {
//!         buf[..4].copy_from_slice(&[i; 4]);
//!         4
//!     });
//! }
//! assert_eq!(batch.commit(), 3);
//! tx.txsync()?;
//!
//! // Receive them as &[u8]; they are handed back when the batch drops.
//! rx.rxsync()?;
//! let mut got = Vec::new();
//! let mut packets = rx.rx_batch(0)?;
//! while let Some(pkt) = packets.next() {
//!     got.push(pkt.to_vec());
//! }
//! drop(packets);
//! assert_eq!(got, vec![vec![0; 4], vec![1; 4], vec![2; 4]]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::error::ApiError;
use super::port::Port;
use super::ring::Ring;
use crate::abi::slot_flags::{NS_BUF_CHANGED, NS_MOREFRAG};
use crate::mem::SlotHead;

/// Received packets of one RX ring, from `head` to `tail`. Each packet is
/// released (head advances past it) once the batch is dropped; call
/// [`Port::rxsync`] to get more.
///
/// `head` and `tail` are read once when the batch is made; if either is
/// outside the ring (the ring's memory is shared, and another process may
/// have written there) the batch is empty and leaves `head` alone, and the
/// next sync reports the bad index.
pub struct RxBatch<'a> {
    ring: Ring<'a>,
    next: u32,
    tail: u32,
    /// Whether `head` was valid, so that dropping the batch may move it.
    valid: bool,
    skipped: u32,
}

impl RxBatch<'_> {
    /// The next packet, valid until the following call. A slot whose
    /// buffer index or length is not valid (only another process writing
    /// into the ring can cause it) is skipped and counted in
    /// [`RxBatch::skipped`].
    #[allow(clippy::should_implement_trait)] // a lending iterator: items borrow the batch
    pub fn next(&mut self) -> Option<&[u8]> {
        while self.next != self.tail {
            let i = self.next;
            self.next = self.ring.next(i);
            if let Some(packet) = self.ring.packet_at(i) {
                return Some(packet);
            }
            self.skipped += 1;
        }
        None
    }

    /// Slots skipped by [`RxBatch::next`] because they named no valid
    /// buffer: lost packets, to be reported.
    pub fn skipped(&self) -> u32 {
        self.skipped
    }

    /// Packets left in the batch.
    pub fn len(&self) -> u32 {
        slots_between(self.next, self.tail, self.ring.num_slots())
    }

    /// Whether no packet is left in the batch.
    pub fn is_empty(&self) -> bool {
        self.next == self.tail
    }

    /// Calls `f` on every packet of the batch.
    pub fn for_each(mut self, mut f: impl FnMut(&[u8])) {
        while let Some(p) = self.next() {
            f(p);
        }
    }
}

impl Drop for RxBatch<'_> {
    fn drop(&mut self) {
        if self.valid {
            self.ring.advance_to(self.next);
        }
    }
}

/// Free slots of one TX ring, filled in order; [`TxBatch::commit`] (or
/// drop) hands the filled ones to the port, [`Port::txsync`] sends them.
/// Like [`RxBatch`], an empty batch that leaves `head` alone if `head` or
/// `tail` is outside the ring.
pub struct TxBatch<'a> {
    ring: Ring<'a>,
    next: u32,
    tail: u32,
    filled: u32,
    valid: bool,
    bad_slot: Option<u32>,
}

impl TxBatch<'_> {
    /// Free slots left.
    pub fn room(&self) -> u32 {
        slots_between(self.next, self.tail, self.ring.num_slots())
    }

    /// Fills the next free buffer: `fill` writes the packet and returns its
    /// length (clamped to the buffer size). Returns false when the ring is
    /// full, or when the next slot names no valid buffer (only another
    /// process writing into the ring can cause it): then
    /// [`TxBatch::bad_slot`] names the slot, and [`Port::repair_slot`]
    /// gives it a fresh buffer.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if self.next == self.tail {
            return false;
        }
        let i = self.next;
        let Some(buf) = self.ring.buf_mut_at(i) else {
            self.bad_slot = Some(i);
            return false;
        };
        let len = fill(buf).min(buf.len());
        self.ring.mem().set_slot_len(i, len as u16);
        self.next = self.ring.next(i);
        self.filled += 1;
        true
    }

    /// The slot that stopped [`TxBatch::push_with`] because it named no
    /// valid buffer, if one did.
    pub fn bad_slot(&self) -> Option<u32> {
        self.bad_slot
    }

    /// Copies `packet` into the next free buffer; false when the ring is full
    /// or the packet is larger than a buffer.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        if packet.len() > self.ring.buf_size() as usize {
            return false;
        }
        self.push_with(|buf| {
            buf[..packet.len()].copy_from_slice(packet);
            packet.len()
        })
    }

    /// Hands the filled slots to the port; returns how many.
    pub fn commit(mut self) -> u32 {
        self.publish();
        self.filled
    }

    fn publish(&mut self) {
        if self.valid {
            self.ring.advance_to(self.next);
        }
    }
}

impl Drop for TxBatch<'_> {
    fn drop(&mut self) {
        self.publish();
    }
}

impl Port {
    /// The packets waiting on RX ring `ring` (after the last rxsync);
    /// [`ApiError::NoSuchRing`] if the port has no such RX ring.
    pub fn rx_batch(&mut self, ring: usize) -> Result<RxBatch<'_>, ApiError> {
        let r = self.rx_ring(ring)?;
        let (next, tail, valid) = batch_range(&r);
        Ok(RxBatch {
            ring: r,
            next,
            tail,
            valid,
            skipped: 0,
        })
    }

    /// The free slots of TX ring `ring` (after the last txsync);
    /// [`ApiError::NoSuchRing`] if the port has no such TX ring.
    pub fn tx_batch(&mut self, ring: usize) -> Result<TxBatch<'_>, ApiError> {
        let r = self.tx_ring(ring)?;
        let (next, tail, valid) = batch_range(&r);
        Ok(TxBatch {
            ring: r,
            next,
            tail,
            filled: 0,
            valid,
            bad_slot: None,
        })
    }
}

/// `(tail - next) mod n`, for `next` and `tail` both below `n`.
fn slots_between(next: u32, tail: u32, n: u32) -> u32 {
    if tail >= next {
        tail - next
    } else {
        tail + n - next
    }
}

/// `[head, tail)` of a ring, read once, and whether both lie in the ring
/// (else an empty range at 0). Sets `cur = head`, as netmap's batch loops
/// do.
fn batch_range(r: &Ring<'_>) -> (u32, u32, bool) {
    let (head, tail, n) = (r.head(), r.tail(), r.num_slots());
    if head < n && tail < n {
        r.set_cur(head);
        (head, tail, true)
    } else {
        (0, 0, false)
    }
}

/// Moves up to `limit` received packets from `from`'s RX ring to `to`'s TX
/// ring, zero-copy: the two slots swap buffers (both marked
/// `NS_BUF_CHANGED`), so payload bytes never move. Fragment flags travel
/// with the packet. Needs both ports in one region; returns how many moved.
/// Call `to.txsync()` to send and `from.rxsync()` to release.
///
/// ```
/// use vfio_netmap::api::{Port, forward};
/// # let name = format!("doc_fwd_{}", std::process::id());
/// let mut a_tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0"))?;
/// let mut a_rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0"))?;
/// let mut b_tx = vfio_netmap::ports::open(&format!("netmap:{name}{{1"))?;
/// let mut b_rx = vfio_netmap::ports::open(&format!("netmap:{name}}}1"))?;
/// let mut batch = a_tx.tx_batch(0)?;
/// batch.push(b"hello");
/// batch.commit();
/// a_tx.txsync()?;
/// a_rx.rxsync()?;
/// assert_eq!(forward(&mut a_rx, 0, &mut b_tx, 0, usize::MAX)?, 1);
/// b_tx.txsync()?;
/// a_rx.rxsync()?;
/// b_rx.rxsync()?;
/// assert_eq!(b_rx.rx_batch(0)?.next(), Some(&b"hello"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn forward(
    from: &mut Port,
    rx_ring: usize,
    to: &mut Port,
    tx_ring: usize,
    limit: usize,
) -> Result<usize, ApiError> {
    if !from.shares_region_with(to) {
        return Err(ApiError::DifferentRegions {
            a: from.name().to_string(),
            b: to.name().to_string(),
        });
    }
    let rx = from.rx_ring(rx_ring)?;
    let tx = to.tx_ring(tx_ring)?;
    let (ri, ti) = (rx.head(), tx.head());
    // Tails move only in a sync, never during this loop: read them once.
    let (rx_tail, tx_tail) = (rx.tail(), tx.tail());
    let (rn, tn) = (rx.num_slots(), tx.num_slots());
    for (r, pos, tail, n) in [(&rx, ri, rx_tail, rn), (&tx, ti, tx_tail, tn)] {
        if pos >= n || tail >= n {
            return Err(ApiError::BadIndices {
                ring: r.id(),
                head: pos,
                cur: r.cur(),
                hwcur: pos,
                tail,
                num_slots: n,
            });
        }
    }
    let distance = |from: u32, to: u32, n: u32| if to >= from { to - from } else { to + n - from };
    let count = (limit.min(u32::MAX as usize) as u32)
        .min(distance(ri, rx_tail, rn))
        .min(distance(ti, tx_tail, tn));
    // Contiguous stretches on both rings: a slot load and a slot store on
    // each side per packet, no index wrap inside.
    let (mut ri, mut ti, mut left) = (ri, ti, count);
    while left > 0 {
        let len = left.min(rn - ri).min(tn - ti);
        let (rs, ts) = (rx.mem().run(ri, ri + len), tx.mem().run(ti, ti + len));
        for j in 0..rs.len() {
            let (r, t) = (rs.head(j), ts.head(j));
            ts.set_head(
                j,
                SlotHead {
                    buf_idx: r.buf_idx,
                    len: r.len,
                    flags: NS_BUF_CHANGED | (r.flags & NS_MOREFRAG),
                },
            );
            // The released RX slot's length means nothing any more.
            rs.set_head(
                j,
                SlotHead {
                    buf_idx: t.buf_idx,
                    len: 0,
                    flags: NS_BUF_CHANGED,
                },
            );
        }
        ri = if ri + len == rn { 0 } else { ri + len };
        ti = if ti + len == tn { 0 } else { ti + len };
        left -= len;
    }
    rx.advance_to(ri);
    tx.advance_to(ti);
    Ok(count as usize)
}
