//! The raw netmap view of a ring, for applications that do netmap's index
//! arithmetic themselves: `head`/`cur`/`tail`, slots, and the buffers of
//! the slots the application owns.
//!
//! ```
//! use vfio_netmap::api::Port;
//! # let name = format!("doc_raw_{}", std::process::id());
//! let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0"))?;
//! let mut rx = vfio_netmap::ports::open(&format!("netmap:{name}}}0"))?;
//!
//! // Transmit: fill slots from cur while there is space, then move head.
//! let mut ring = tx.tx_ring(0)?;
//! let mut cur = ring.cur();
//! for byte in [7u8, 8, 9] {
//!     ring.buf_mut(cur).unwrap()[..60].fill(byte);
//!     ring.set_len(cur, 60);
//!     cur = ring.next(cur);
//! }
//! ring.advance_to(cur); // head = cur: the three slots go to the port
//! tx.txsync()?;
//!
//! // Receive: [head, tail) holds packets; moving head releases them.
//! rx.rxsync()?;
//! let ring = rx.rx_ring(0)?;
//! let mut head = ring.head();
//! let mut first_bytes = vec![];
//! while head != ring.tail() {
//!     first_bytes.push(ring.packet(head).unwrap()[0]);
//!     head = ring.next(head);
//! }
//! ring.advance_to(head);
//! rx.rxsync()?;
//! assert_eq!(first_bytes, [7, 8, 9]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::error::ApiError;
use super::kring::RingId;
use crate::abi::NetmapSlot;
use crate::mem::{Region, RingMem};

/// One ring of an open port.
pub struct Ring<'a> {
    region: &'a Region,
    mem: RingMem<'a>,
    id: RingId,
}

impl<'a> Ring<'a> {
    pub(crate) fn new(region: &'a Region, mem: RingMem<'a>, id: RingId) -> Self {
        Ring { region, mem, id }
    }

    /// The ring's memory, for the library's own loops over slot runs.
    #[inline]
    pub(crate) fn mem(&self) -> &RingMem<'a> {
        &self.mem
    }

    /// Which ring this is: its direction and index.
    #[inline]
    pub fn id(&self) -> RingId {
        self.id
    }
    /// Number of slots in the ring.
    #[inline]
    pub fn num_slots(&self) -> u32 {
        self.mem.num_slots()
    }
    /// Size of each buffer, in bytes.
    #[inline]
    pub fn buf_size(&self) -> u32 {
        self.region.buf_size()
    }
    /// First slot the application owns.
    #[inline]
    pub fn head(&self) -> u32 {
        self.mem.head()
    }
    /// The wakeup point: the first slot the application has not yet
    /// looked at (at or after `head`).
    #[inline]
    pub fn cur(&self) -> u32 {
        self.mem.cur()
    }
    /// First slot the port owns: `[head, tail)` is the application's.
    #[inline]
    pub fn tail(&self) -> u32 {
        self.mem.tail()
    }
    /// Moves `head`, releasing the slots before it to the port at the
    /// next sync.
    #[inline]
    pub fn set_head(&self, v: u32) {
        self.mem.set_head(v)
    }
    /// Moves `cur`, the wakeup point.
    #[inline]
    pub fn set_cur(&self, v: u32) {
        self.mem.set_cur(v)
    }
    /// Sets head and cur together, the usual way to hand slots back.
    #[inline]
    pub fn advance_to(&self, v: u32) {
        self.mem.set_head(v);
        self.mem.set_cur(v);
    }
    /// Writing tail is the port's job; exposed so tests can check that a
    /// misbehaving application gets an error.
    #[inline]
    pub fn set_tail(&self, v: u32) {
        self.mem.set_tail(v)
    }

    /// `i + 1` modulo the ring (netmap's `nm_ring_next`); 0 for the last
    /// slot and for any `i` past it.
    #[inline]
    pub fn next(&self, i: u32) -> u32 {
        if i >= self.num_slots() - 1 { 0 } else { i + 1 }
    }

    /// Slots between cur and tail (netmap's `nm_ring_space`): free slots on
    /// a TX ring, received packets on an RX ring; 0 when either index is
    /// outside the ring (the next sync reports it).
    #[inline]
    pub fn space(&self) -> u32 {
        let (cur, tail, n) = (self.mem.cur(), self.mem.tail(), self.num_slots());
        if cur >= n || tail >= n {
            0
        } else if tail >= cur {
            tail - cur
        } else {
            tail + n - cur
        }
    }

    /// netmap's `nm_ring_empty`: no slot between cur and tail.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.mem.cur() == self.mem.tail()
    }

    /// Slot `i`, or `None` if the ring has no slot `i`.
    #[inline]
    pub fn slot(&self, i: u32) -> Option<NetmapSlot> {
        (i < self.num_slots()).then(|| self.mem.slot(i))
    }

    /// `Ok` if the ring has a slot `i`.
    #[inline]
    fn check_slot(&self, i: u32) -> Result<(), ApiError> {
        if i < self.num_slots() {
            Ok(())
        } else {
            Err(ApiError::NoSuchSlot {
                ring: self.id,
                slot: i,
                num_slots: self.num_slots(),
            })
        }
    }

    /// Writes the whole of slot `i`.
    #[inline]
    pub fn set_slot(&self, i: u32, s: NetmapSlot) -> Result<(), ApiError> {
        self.check_slot(i)?;
        self.mem.set_slot(i, s);
        Ok(())
    }
    /// Sets slot `i`'s packet length.
    #[inline]
    pub fn set_len(&self, i: u32, len: u16) -> Result<(), ApiError> {
        self.check_slot(i)?;
        self.mem.set_slot_len(i, len);
        Ok(())
    }
    /// Sets slot `i`'s `NS_*` flags.
    #[inline]
    pub fn set_flags(&self, i: u32, flags: u16) -> Result<(), ApiError> {
        self.check_slot(i)?;
        self.mem.set_slot_flags(i, flags);
        Ok(())
    }
    /// Makes slot `i` name buffer `buf_idx`; set `NS_BUF_CHANGED` too so
    /// the port notices.
    #[inline]
    pub fn set_buf_idx(&self, i: u32, buf_idx: u32) -> Result<(), ApiError> {
        self.check_slot(i)?;
        self.mem.set_slot_buf(i, buf_idx);
        Ok(())
    }

    /// Whether slot `i` is the application's (in `[head, tail)`); false for
    /// every slot while `head` or `tail` is outside the ring.
    #[inline]
    pub fn owns(&self, i: u32) -> bool {
        let (head, tail, n) = (self.mem.head(), self.mem.tail(), self.num_slots());
        if head >= n || tail >= n || i >= n {
            return false;
        }
        // [head, tail) without wrapping, or wrapping past the end.
        if head <= tail {
            head <= i && i < tail
        } else {
            i >= head || i < tail
        }
    }

    /// The packet in slot `i` without the ownership check, for batches
    /// that checked their whole range once: `None` if `i` is outside the
    /// ring or the slot names no valid buffer or a length past it.
    #[inline]
    pub(crate) fn packet_at(&self, i: u32) -> Option<&[u8]> {
        let s = self.slot(i)?;
        // SAFETY: the caller's batch lies in the application's part of the
        // ring (as in `buf`); the slice borrows self.
        let buf = unsafe { self.region.buf(s.buf_idx) }?;
        buf.get(..s.len as usize)
    }

    /// The whole buffer of slot `i` for writing, without the ownership
    /// check (see [`Ring::packet_at`]).
    #[inline]
    pub(crate) fn buf_mut_at(&mut self, i: u32) -> Option<&mut [u8]> {
        let s = self.slot(i)?;
        // SAFETY: as in `buf_mut`.
        unsafe { self.region.buf_mut(s.buf_idx) }
    }

    /// The whole buffer of slot `i`, if the application owns the slot and
    /// the slot names a valid buffer.
    #[inline]
    pub fn buf(&self, i: u32) -> Option<&[u8]> {
        if !self.owns(i) {
            return None;
        }
        // SAFETY: the application owns slot i under netmap's protocol, so
        // the port and the peer leave its buffer alone; the slice borrows
        // self, so the ring cannot be synced while it lives.
        unsafe { self.region.buf(self.mem.slot_buf(i)) }
    }

    /// The packet in slot `i`: its buffer cut to the slot's length.
    #[inline]
    pub fn packet(&self, i: u32) -> Option<&[u8]> {
        if !self.owns(i) {
            return None;
        }
        let (idx, len) = (self.mem.slot_buf(i), self.mem.slot_len(i) as usize);
        // SAFETY: as in `buf`.
        let buf = unsafe { self.region.buf(idx) }?;
        Some(&buf[..len.min(buf.len())])
    }

    /// Fills up to `max` free slots from `cur` on, in order, and moves
    /// `head` and `cur` past them (a TX ring's send loop in one call).
    /// `fill(buf, k)` writes the `k`-th packet of this call into the slot's
    /// whole buffer and returns its length (clamped to the buffer); the
    /// slot's flags are cleared. Returns how many slots were filled: fewer
    /// than `max` when the ring has less room or a slot names an invalid
    /// buffer (filling stops there), 0 when `cur` or `tail` is out of
    /// range. Ownership is checked once for the whole range rather than per
    /// slot as [`Ring::buf_mut`] does, which is what a sender at millions of
    /// packets per second (or in an emulated guest) pays for.
    pub fn fill_from_cur(
        &mut self,
        max: u32,
        mut fill: impl FnMut(&mut [u8], u32) -> usize,
    ) -> u32 {
        let n = self.num_slots();
        let (cur, tail) = (self.mem.cur(), self.mem.tail());
        if cur >= n || tail >= n {
            return 0;
        }
        let count = self.space().min(max);
        let first_end = (cur + count).min(n);
        let runs = [(cur, first_end), (0, count - (first_end - cur))];
        let mut done = 0;
        'runs: for (lo, hi) in runs {
            let run = self.mem.run(lo, hi);
            for j in 0..run.len() {
                // SAFETY: the slot lies in [cur, tail), the application's
                // part of the ring, so the port leaves its buffer alone;
                // the slice lives for one call of `fill` while `&mut self`
                // is held.
                let Some(buf) = (unsafe { self.region.buf_mut(run.head(j).buf_idx) }) else {
                    break 'runs;
                };
                let len = fill(buf, done).min(buf.len()).min(u16::MAX as usize);
                run.set_len_flags(j, len as u16, 0);
                done += 1;
            }
        }
        self.advance_to((cur + done) % n);
        done
    }

    /// The whole buffer of slot `i` for writing.
    #[inline]
    pub fn buf_mut(&mut self, i: u32) -> Option<&mut [u8]> {
        if !self.owns(i) {
            return None;
        }
        // SAFETY: as in `buf`; `&mut self` makes this the only slice handed
        // out by this view. Two slots naming the same buffer is an
        // application error netmap does not detect either.
        unsafe { self.region.buf_mut(self.mem.slot_buf(i)) }
    }
}
