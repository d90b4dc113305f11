//! netmap pipes, usable across processes.
//!
//! A pipe is two ends, master (`{`) and slave (`}`), each with one TX and one
//! RX ring, in a named region that both processes map. As in netmap, the TX
//! ring of one end and the RX ring of the other use the same slot indices:
//! txsync copies slot descriptors `[hwcur, head)` into the peer's RX ring at
//! the same positions, and the peer's rxsync hands released positions back
//! (with the buffer it put there, if it swapped one). Payload bytes never
//! move, and the sender can only use positions the receiver released, which
//! is the back-pressure: nothing is ever dropped.
//!
//! The two indices each side publishes to the other (`pipe_tail`s) live in
//! the region's control area as atomics, on separate cache lines. A futex
//! word per direction lets an idle side sleep; it is touched on the fast path
//! only when the other side announced it sleeps.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

use super::backend::{Backend, Wait};
use super::error::ApiError;
use super::futex;
use super::kring::{KRing, RingId};
use crate::abi::{Direction, NetmapSlot, slot_flags};
use crate::mem::region::PORT_LOCK_BASE;
use crate::mem::{MemError, Region, RingMem, SharedControl};

/// Pipes one region can hold.
pub const MAX_PIPES: usize = 32;
/// Longest pipe id, in bytes.
pub const MAX_ID: usize = 32;

/// What one side of a direction publishes: the sender's line.
#[repr(C, align(64))]
struct SenderLine {
    /// End of the complete packets published to the receiver (its hwtail).
    rx_tail: AtomicU32,
    /// Bumped to wake a sleeping receiver.
    rx_seq: AtomicU32,
    /// Sender's kring, kept here so an end can be reopened after a crash.
    tx_hwcur: AtomicU32,
    tx_hwtail: AtomicU32,
    /// Set by a sender about to sleep waiting for room.
    tx_waiters: AtomicU32,
}

/// The receiver's line.
#[repr(C, align(64))]
struct ReceiverLine {
    /// The last position the sender may fill (its hwtail).
    tx_tail: AtomicU32,
    /// Bumped to wake a sender waiting for room.
    tx_seq: AtomicU32,
    rx_hwcur: AtomicU32,
    rx_hwtail: AtomicU32,
    /// Set by a receiver about to sleep waiting for packets.
    rx_waiters: AtomicU32,
}

#[repr(C)]
struct PipeDirection {
    sender: SenderLine,
    receiver: ReceiverLine,
}

#[repr(C, align(64))]
struct PipeEntry {
    in_use: AtomicU32,
    num_slots: AtomicU32,
    id_len: AtomicU32,
    id: [AtomicU64; MAX_ID / 8],
    /// `netmap_if` of the master and of the slave.
    if_off: [AtomicU64; 2],
    /// Rings: `[end * 2 + dir]`, dir 0 = TX, 1 = RX.
    ring_off: [AtomicU64; 4],
    /// Direction 0 carries master TX to slave RX, direction 1 the reverse.
    dirs: [PipeDirection; 2],
}

/// The pipe table in a region's control area.
#[repr(C)]
pub(crate) struct PipeTable {
    entries: [PipeEntry; MAX_PIPES],
}

// SAFETY: PipeTable is made only of atomics (valid for every bit pattern,
// interior-mutable), and fits the control area (checked by Region::control).
unsafe impl SharedControl for PipeTable {}

impl PipeEntry {
    fn id_matches(&self, id: &[u8]) -> bool {
        self.in_use.load(Ordering::Relaxed) == 1
            && self.id_len.load(Ordering::Relaxed) as usize == id.len()
            && self.id_words_eq(id)
    }

    fn id_words_eq(&self, id: &[u8]) -> bool {
        let mut buf = [0u8; MAX_ID];
        buf[..id.len()].copy_from_slice(id);
        buf.chunks(8)
            .zip(&self.id)
            .all(|(c, w)| w.load(Ordering::Relaxed) == u64::from_le_bytes(c.try_into().unwrap()))
    }

    fn set_id(&self, id: &[u8]) {
        let mut buf = [0u8; MAX_ID];
        buf[..id.len()].copy_from_slice(id);
        for (c, w) in buf.chunks(8).zip(&self.id) {
            w.store(u64::from_le_bytes(c.try_into().unwrap()), Ordering::Relaxed);
        }
        self.id_len.store(id.len() as u32, Ordering::Relaxed);
    }
}

/// A pipe's shape: its ring size and where its rings and `netmap_if`s are,
/// read once from the shared table and checked against the region's own
/// layout, so that no later access depends on what another process writes
/// there afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PipeLayout {
    pub num_slots: u32,
    /// `netmap_if` of the master and of the slave.
    pub if_off: [usize; 2],
    /// Rings: `[end * 2 + dir]`, dir 0 = TX, 1 = RX.
    pub ring_off: [usize; 4],
}

impl PipeLayout {
    fn read(region: &Region, e: &PipeEntry) -> Result<PipeLayout, MemError> {
        let num_slots = region.check_num_slots(e.num_slots.load(Ordering::Relaxed))?;
        let mut layout = PipeLayout {
            num_slots,
            if_off: [0; 2],
            ring_off: [0; 4],
        };
        for (off, shared) in layout.if_off.iter_mut().zip(&e.if_off) {
            *off = region.check_if_offset(shared.load(Ordering::Relaxed))?;
        }
        for (off, shared) in layout.ring_off.iter_mut().zip(&e.ring_off) {
            *off = region.check_ring_offset(shared.load(Ordering::Relaxed))?;
            region.ring(*off, num_slots)?;
        }
        Ok(layout)
    }

    fn ring(&self, end: usize, dir: Direction) -> usize {
        self.ring_off[end * 2 + dir as usize]
    }
}

/// Which end of a pipe: `{` in a port name is the master, `}` the slave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeEnd {
    /// `NAME{ID`.
    Master = 0,
    /// `NAME}ID`.
    Slave = 1,
}

impl PipeEnd {
    fn peer(self) -> usize {
        1 - self as usize
    }
}

/// What opening a pipe end produced: where its rings and interface live.
#[derive(Debug)]
pub(crate) struct OpenedPipe {
    pub entry: usize,
    pub end: PipeEnd,
    /// The pipe's shape as checked at open: closing frees exactly this,
    /// whatever the shared table says by then.
    pub layout: PipeLayout,
    pub num_slots: u32,
    pub if_offset: usize,
    pub tx: KRing,
    pub rx: KRing,
    pub tx_offset: usize,
    pub rx_offset: usize,
    /// The peer's rings, which this end's syncs write into.
    pub peer_tx_offset: usize,
    pub peer_rx_offset: usize,
}

fn lock_byte(entry: usize, end: usize) -> u64 {
    PORT_LOCK_BASE + (entry * 2 + end) as u64
}

/// Opens one end of pipe `id` in `region`; runs under the region's admin
/// lock (from `Region::open_shared`), so creating, claiming and resetting are
/// atomic with respect to other processes.
pub(crate) fn open_end(
    region: &Region,
    port: &str,
    id: &str,
    end: PipeEnd,
    num_slots: u32,
) -> Result<Result<OpenedPipe, ApiError>, MemError> {
    let table: &PipeTable = region.control();
    let locks = region.port_locks();
    let idb = id.as_bytes();
    if idb.len() > MAX_ID {
        return Ok(Err(ApiError::BadOption {
            port: port.to_string(),
            message: format!("pipe id `{id}` is longer than {MAX_ID} bytes"),
        }));
    }
    let existing = table.entries.iter().position(|e| e.id_matches(idb));
    let lock_err = |e| MemError::Lock {
        name: region.name().to_string(),
        source: e,
    };
    let entry = match existing {
        Some(i) => {
            let peer_alive = locks
                .held_elsewhere(lock_byte(i, end.peer()))
                .map_err(lock_err)?;
            let self_alive = locks
                .held_elsewhere(lock_byte(i, end as usize))
                .map_err(lock_err)?;
            if !peer_alive && !self_alive {
                // Left over by processes that are gone: start afresh.
                free_stale_pipe(region, &table.entries[i]);
                create_pipe(region, table, port, idb, num_slots)?
            } else {
                Ok(i)
            }
        }
        None => create_pipe(region, table, port, idb, num_slots)?,
    };
    let entry = match entry {
        Ok(i) => i,
        Err(e) => return Ok(Err(e)),
    };
    if !locks
        .try_lock(lock_byte(entry, end as usize))
        .map_err(lock_err)?
    {
        return Ok(Err(ApiError::PipeEndBusy {
            port: port.to_string(),
        }));
    }
    let e = &table.entries[entry];
    let layout = match PipeLayout::read(region, e) {
        Ok(layout) => layout,
        Err(err) => {
            let _ = locks.unlock(lock_byte(entry, end as usize));
            return Err(err);
        }
    };
    let n = layout.num_slots;
    let me = end as usize;
    let tx_line = &e.dirs[me].sender;
    let rx_line = &e.dirs[end.peer()].receiver;
    let tx = KRing {
        id: RingId {
            dir: Direction::Tx,
            index: 0,
        },
        num_slots: n,
        hwcur: tx_line.tx_hwcur.load(Ordering::Relaxed) % n,
        hwtail: tx_line.tx_hwtail.load(Ordering::Relaxed) % n,
    };
    let rx = KRing {
        id: RingId {
            dir: Direction::Rx,
            index: 0,
        },
        num_slots: n,
        hwcur: rx_line.rx_hwcur.load(Ordering::Relaxed) % n,
        hwtail: rx_line.rx_hwtail.load(Ordering::Relaxed) % n,
    };
    // A reopened end resumes where its kring was: whatever the previous
    // owner had prepared beyond hwcur is discarded.
    for (k, off) in [
        (&tx, layout.ring(me, Direction::Tx)),
        (&rx, layout.ring(me, Direction::Rx)),
    ] {
        let ring = region.ring(off, n)?;
        ring.set_head(k.hwcur);
        ring.set_cur(k.hwcur);
        ring.set_tail(k.hwtail);
    }
    Ok(Ok(OpenedPipe {
        entry,
        end,
        layout,
        num_slots: n,
        if_offset: layout.if_off[me],
        tx,
        rx,
        tx_offset: layout.ring(me, Direction::Tx),
        rx_offset: layout.ring(me, Direction::Rx),
        peer_tx_offset: layout.ring(end.peer(), Direction::Tx),
        peer_rx_offset: layout.ring(end.peer(), Direction::Rx),
    }))
}

fn create_pipe(
    region: &Region,
    table: &PipeTable,
    port: &str,
    id: &[u8],
    num_slots: u32,
) -> Result<Result<usize, ApiError>, MemError> {
    let Some(i) = table
        .entries
        .iter()
        .position(|e| e.in_use.load(Ordering::Relaxed) == 0)
    else {
        return Ok(Err(ApiError::TooManyPipes {
            region: region.name().to_string(),
            max: MAX_PIPES,
        }));
    };
    if num_slots < 8 || num_slots > region.config().max_slots {
        return Ok(Err(ApiError::BadOption {
            port: port.to_string(),
            message: format!(
                "{num_slots} slots per ring: must be between 8 and {} for this region",
                region.config().max_slots
            ),
        }));
    }
    let e = &table.entries[i];
    let mut rings = [0usize; 4];
    let mut ifs = [0usize; 2];
    let mut bufs = Vec::new();
    let allocated = (|| -> Result<(), MemError> {
        for r in rings.iter_mut() {
            *r = region.alloc_ring()?;
        }
        for f in ifs.iter_mut() {
            *f = region.alloc_if()?;
        }
        bufs = region.alloc_bufs(2 * num_slots as usize)?;
        Ok(())
    })();
    let free_all = |rings: &[usize], ifs: &[usize], bufs: &[u32]| {
        rings.iter().filter(|&&r| r != 0).for_each(|&r| {
            let _ = region.free_ring(r);
        });
        ifs.iter().filter(|&&f| f != 0).for_each(|&f| {
            let _ = region.free_if(f);
        });
        bufs.iter().for_each(|&b| {
            region.free_buf(b);
        });
    };
    if let Err(err) = allocated {
        free_all(&rings, &ifs, &bufs);
        return Err(err);
    }
    if let Err(err) = init_pipe(region, e, id, num_slots, &rings, &ifs, &bufs) {
        free_all(&rings, &ifs, &bufs);
        return Err(err);
    }
    e.num_slots.store(num_slots, Ordering::Relaxed);
    e.set_id(id);
    e.in_use.store(1, Ordering::Release);
    Ok(Ok(i))
}

/// Writes a new pipe's rings, interfaces and table entry (everything but
/// `in_use`), from the parts just allocated.
fn init_pipe(
    region: &Region,
    e: &PipeEntry,
    id: &[u8],
    num_slots: u32,
    rings: &[usize; 4],
    ifs: &[usize; 2],
    bufs: &[u32],
) -> Result<(), MemError> {
    let buf_size = region.buf_size();
    for end in 0..2 {
        let (tx_off, rx_off) = (rings[end * 2], rings[end * 2 + 1]);
        let tx = region.ring(tx_off, num_slots)?;
        tx.init(
            0,
            Direction::Tx,
            region.buf_ofs_from(tx_off),
            buf_size,
            num_slots - 1,
        );
        let rx = region.ring(rx_off, num_slots)?;
        rx.init(0, Direction::Rx, region.buf_ofs_from(rx_off), buf_size, 0);
        e.ring_off[end * 2].store(tx_off as u64, Ordering::Relaxed);
        e.ring_off[end * 2 + 1].store(rx_off as u64, Ordering::Relaxed);
        e.if_off[end].store(ifs[end] as u64, Ordering::Relaxed);
        let name = format!(
            "{}{}",
            if end == 0 { "{" } else { "}" },
            String::from_utf8_lossy(id)
        );
        region.write_netmap_if(ifs[end], &name, &[tx_off], &[rx_off])?;
    }
    // Buffers belong to positions of each direction: the sender's TX slot
    // and the receiver's RX slot at position k name the same buffer.
    for dir in 0..2 {
        let tx = region.ring(rings[dir * 2], num_slots)?;
        let peer_rx = region.ring(rings[(1 - dir) * 2 + 1], num_slots)?;
        for k in 0..num_slots {
            let slot = NetmapSlot {
                buf_idx: bufs[dir * num_slots as usize + k as usize],
                len: 0,
                flags: 0,
                ptr: 0,
            };
            tx.set_slot(k, slot);
            peer_rx.set_slot(k, slot);
        }
        let d = &e.dirs[dir];
        d.sender.rx_tail.store(0, Ordering::Relaxed);
        d.sender.tx_hwcur.store(0, Ordering::Relaxed);
        d.sender.tx_hwtail.store(num_slots - 1, Ordering::Relaxed);
        d.sender.tx_waiters.store(0, Ordering::Relaxed);
        d.receiver.tx_tail.store(num_slots - 1, Ordering::Relaxed);
        d.receiver.rx_hwcur.store(0, Ordering::Relaxed);
        d.receiver.rx_hwtail.store(0, Ordering::Relaxed);
        d.receiver.rx_waiters.store(0, Ordering::Relaxed);
    }
    Ok(())
}

/// Frees a pipe both of whose ends are gone, found in the table when
/// opening. Its shape is read from the table; if that is corrupt, what it
/// held cannot be named safely and stays allocated (the entry is reused).
fn free_stale_pipe(region: &Region, e: &PipeEntry) {
    match PipeLayout::read(region, e) {
        Ok(layout) => free_pipe(region, e, &layout),
        Err(err) => {
            log::warn!("{err}: the pipe's rings and buffers stay allocated");
            e.in_use.store(0, Ordering::Release);
        }
    }
}

/// Returns a pipe's rings, interfaces and buffers to the region. `layout`
/// was read and checked before; buffer indices read from the rings are
/// checked by `free_buf`.
fn free_pipe(region: &Region, e: &PipeEntry, layout: &PipeLayout) {
    let n = layout.num_slots;
    // Each position of a direction holds one buffer, named by the sender's
    // TX slot, except where the receiver holds it ([rx_hwcur, rx_tail)):
    // there the receiver may have swapped it for another (zero-copy
    // forwarding) without an rxsync, and its RX slot is the truth.
    for dir in 0..2 {
        let d = &e.dirs[dir];
        let (Ok(tx), Ok(rx)) = (
            region.ring(layout.ring(dir, Direction::Tx), n),
            region.ring(layout.ring(1 - dir, Direction::Rx), n),
        ) else {
            continue;
        };
        let held_from = d.receiver.rx_hwcur.load(Ordering::Relaxed) % n;
        let held_to = d.sender.rx_tail.load(Ordering::Relaxed) % n;
        let held = (held_to + n - held_from) % n;
        for k in 0..n {
            let by_receiver = (k + n - held_from) % n < held;
            let slot = if by_receiver { rx.slot(k) } else { tx.slot(k) };
            region.free_buf(slot.buf_idx);
        }
    }
    for end in 0..2 {
        for dir in [Direction::Tx, Direction::Rx] {
            let _ = region.free_ring(layout.ring(end, dir));
        }
        free_extra_list(region, layout.if_off[end]);
        let _ = region.free_if(layout.if_off[end]);
    }
    e.in_use.store(0, Ordering::Release);
}

/// Frees the extra buffers chained from a `netmap_if`'s `ni_bufs_head`,
/// stopping at an invalid or already free index so a corrupt list cannot
/// loop forever.
pub(crate) fn free_extra_list(region: &Region, if_offset: usize) {
    let Ok(head) = region.if_bufs_head(if_offset) else {
        return;
    };
    let mut idx = head.swap(0, Ordering::Relaxed);
    let mut budget = region.num_bufs();
    while idx != 0 && budget > 0 {
        let Some(link) = region.buf_link(idx) else {
            break;
        };
        let next = link.load(Ordering::Relaxed);
        if !region.free_buf(idx) {
            break;
        }
        idx = next;
        budget -= 1;
    }
}

/// Closes an end: releases its claim and, if the peer is gone too, frees
/// the pipe. Runs under the region's lock.
pub(crate) fn close_end(region: &Region, opened: &OpenedPipe) {
    let (entry, end) = (opened.entry, opened.end);
    let table: &PipeTable = region.control();
    let locks = region.port_locks();
    let _ = locks.unlock(lock_byte(entry, end as usize));
    free_extra_list(region, opened.layout.if_off[end as usize]);
    let peer_alive = locks
        .held_elsewhere(lock_byte(entry, end.peer()))
        .unwrap_or(true);
    if !peer_alive {
        free_pipe(region, &table.entries[entry], &opened.layout);
    }
}

/// Whether the other end of the pipe is open (in any process).
pub(crate) fn peer_open(region: &Region, entry: usize, end: PipeEnd) -> bool {
    region
        .port_locks()
        .held_elsewhere(lock_byte(entry, end.peer()))
        .unwrap_or(false)
}

fn validate(region: &Region, ring: RingId, k: u32, s: &NetmapSlot) -> Result<(), ApiError> {
    if !region.valid_buf(s.buf_idx) {
        return Err(ApiError::BadBufIdx {
            ring,
            slot: k,
            buf_idx: s.buf_idx,
            num_bufs: region.num_bufs(),
        });
    }
    if s.len as u32 > region.buf_size() {
        return Err(ApiError::BadLen {
            ring,
            slot: k,
            len: s.len,
            buf_size: region.buf_size(),
        });
    }
    Ok(())
}

/// txsync of a pipe end: moves `[hwcur, head)` to the peer.
fn txsync(
    region: &Region,
    p: &OpenedPipe,
    tx: &RingMem<'_>,
    kring: &mut KRing,
    head: u32,
) -> Result<(), ApiError> {
    let table: &PipeTable = region.control();
    let e = &table.entries[p.entry];
    let d = &e.dirs[p.end as usize];
    let n = p.num_slots;
    kring.hwtail = in_ring(d.receiver.tx_tail.load(Ordering::Acquire), n);
    let mut result = Ok(());
    if head != kring.hwcur {
        let peer_rx = region.ring(p.peer_rx_offset, n)?;
        let mut k = kring.hwcur;
        let mut complete = None;
        while k != head {
            let s = tx.slot(k);
            if let Err(err) = validate(region, kring.id, k, &s) {
                result = Err(err);
                break;
            }
            peer_rx.set_slot(
                k,
                NetmapSlot {
                    flags: s.flags & slot_flags::NS_MOREFRAG,
                    ..s
                },
            );
            if s.flags & slot_flags::CLEARED_ON_TX != 0 {
                tx.set_slot_flags(k, s.flags & !slot_flags::CLEARED_ON_TX);
            }
            k = kring.next(k);
            if s.flags & slot_flags::NS_MOREFRAG == 0 {
                complete = Some(k);
            }
        }
        kring.hwcur = k;
        if let Some(end) = complete {
            d.sender.rx_tail.store(end, Ordering::Release);
            fence(Ordering::SeqCst);
            if d.receiver.rx_waiters.load(Ordering::Relaxed) != 0 {
                d.sender.rx_seq.fetch_add(1, Ordering::Release);
                futex::wake(&d.sender.rx_seq);
            }
        }
    }
    d.sender.tx_hwcur.store(kring.hwcur, Ordering::Relaxed);
    d.sender.tx_hwtail.store(kring.hwtail, Ordering::Relaxed);
    result
}

/// rxsync of a pipe end: publishes what the peer sent and hands released
/// positions back to it.
fn rxsync(
    region: &Region,
    p: &OpenedPipe,
    rx: &RingMem<'_>,
    kring: &mut KRing,
    head: u32,
) -> Result<(), ApiError> {
    let table: &PipeTable = region.control();
    let e = &table.entries[p.entry];
    let d = &e.dirs[p.end.peer()];
    let n = p.num_slots;
    kring.hwtail = in_ring(d.sender.rx_tail.load(Ordering::Acquire), n);
    let mut result = Ok(());
    if head != kring.hwcur {
        let peer_tx = region.ring(p.peer_tx_offset, n)?;
        let mut k = kring.hwcur;
        while k != head {
            let flags = rx.slot_flags(k);
            if flags & slot_flags::NS_BUF_CHANGED != 0 {
                let s = rx.slot(k);
                if !region.valid_buf(s.buf_idx) {
                    result = Err(ApiError::BadBufIdx {
                        ring: kring.id,
                        slot: k,
                        buf_idx: s.buf_idx,
                        num_bufs: region.num_bufs(),
                    });
                    break;
                }
                peer_tx.set_slot_buf(k, s.buf_idx);
                rx.set_slot_flags(k, flags & !slot_flags::NS_BUF_CHANGED);
            }
            k = kring.next(k);
        }
        if k != kring.hwcur {
            kring.hwcur = k;
            let last = if k == 0 { n - 1 } else { k - 1 };
            d.receiver.tx_tail.store(last, Ordering::Release);
            fence(Ordering::SeqCst);
            if d.sender.tx_waiters.load(Ordering::Relaxed) != 0 {
                d.receiver.tx_seq.fetch_add(1, Ordering::Release);
                futex::wake(&d.receiver.tx_seq);
            }
        }
    }
    d.receiver.rx_hwcur.store(kring.hwcur, Ordering::Relaxed);
    d.receiver.rx_hwtail.store(kring.hwtail, Ordering::Relaxed);
    result
}

/// A futex word to sleep on until `dir` of this end may have progressed,
/// with the value it had; `None` if progress already happened (no sleep).
/// Announces the sleeper so the other side wakes it.
fn arm_wait<'r>(
    region: &'r Region,
    p: &OpenedPipe,
    dir: Direction,
    kring: &KRing,
) -> Option<(&'r AtomicU32, u32)> {
    let table: &PipeTable = region.control();
    let e = &table.entries[p.entry];
    let (seq, waiters, progressed): (&AtomicU32, &AtomicU32, &dyn Fn() -> bool) = match dir {
        Direction::Rx => {
            let d = &e.dirs[p.end.peer()];
            (&d.sender.rx_seq, &d.receiver.rx_waiters, &|| {
                d.sender.rx_tail.load(Ordering::Acquire) != kring.hwtail
            })
        }
        Direction::Tx => {
            let d = &e.dirs[p.end as usize];
            (&d.receiver.tx_seq, &d.sender.tx_waiters, &|| {
                d.receiver.tx_tail.load(Ordering::Acquire) != kring.hwtail
            })
        }
    };
    let snapshot = seq.load(Ordering::Acquire);
    waiters.store(1, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    if progressed() {
        waiters.store(0, Ordering::Relaxed);
        return None;
    }
    Some((seq, snapshot))
}

/// Withdraws the sleeper announcement made by `arm_wait`.
fn disarm_wait(region: &Region, p: &OpenedPipe, dir: Direction) {
    let table: &PipeTable = region.control();
    let e = &table.entries[p.entry];
    match dir {
        Direction::Rx => e.dirs[p.end.peer()]
            .receiver
            .rx_waiters
            .store(0, Ordering::Relaxed),
        Direction::Tx => e.dirs[p.end as usize]
            .sender
            .tx_waiters
            .store(0, Ordering::Relaxed),
    }
}

/// One end of a pipe, as a port's backend.
pub(crate) struct PipeBackend {
    pub opened: OpenedPipe,
}

impl Backend for PipeBackend {
    fn txsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        txsync(region, &self.opened, mem, kring, head)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        mem: &RingMem<'_>,
        kring: &mut KRing,
        head: u32,
    ) -> Result<(), ApiError> {
        rxsync(region, &self.opened, mem, kring, head)
    }
    fn arm_wait<'r>(&self, region: &'r Region, kring: &KRing) -> Wait<'r> {
        match arm_wait(region, &self.opened, kring.id.dir, kring) {
            Some((word, value)) => Wait::Futex(word, value),
            None => Wait::Ready,
        }
    }
    fn disarm_wait(&self, region: &Region, dir: Direction) {
        disarm_wait(region, &self.opened, dir)
    }
    fn peer_alive(&self, region: &Region) -> bool {
        peer_open(region, self.opened.entry, self.opened.end)
    }
    fn close(&mut self, region: &Region) {
        let _ = region.locked(|| close_end(region, &self.opened));
    }
}

/// The shared region file of pipes whose region is called `region` (the
/// pipe's name, or `memN` for `@N`).
pub fn region_file(region: &str) -> String {
    format!("pipe-{region}")
}

/// Default slots per pipe ring.
pub const DEFAULT_SLOTS: u32 = 1024;

/// How long a blocked wait sleeps before rechecking whether the peer died.
pub const PEER_CHECK: Duration = Duration::from_millis(200);

/// An index published by the other process, forced into the ring: a
/// corrupt value must not send us outside it (a division only then).
#[inline]
fn in_ring(v: u32, n: u32) -> u32 {
    if v < n { v } else { v % n }
}
