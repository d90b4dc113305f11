//! Errors of the API layer.

use super::kring::RingId;
use crate::mem::MemError;

/// How to ask for a ring a port has: a port bound to one direction has no
/// rings of the other; otherwise, a smaller index.
fn no_such_ring_fix(what: &str, count: u32) -> String {
    match count {
        0 => format!(
            "it has no {what}s: it was opened `/R` (RX rings only) or `/T` (TX rings only); \
             open it without that suffix to use both"
        ),
        _ => format!(
            "it has {count}: use an index below {count} (in a port name, `-N` with N < {count})"
        ),
    }
}

/// Everything the netmap API can report to an application.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The application moved `head` or `cur` backwards, past `tail`, or off the
    /// ring; the sync did nothing.
    #[error(
        "{ring}: head {head}, cur {cur} are inconsistent with the last sync (head was {hwcur}, \
         tail is {tail}, {num_slots} slots): the application may only move head and cur \
         forward, with head <= cur <= tail (modulo the ring); nothing was synced, fix the \
         indices and sync again"
    )]
    BadIndices {
        /// The ring that was being synced.
        ring: RingId,
        /// The `head` the application left in the ring.
        head: u32,
        /// The `cur` the application left in the ring.
        cur: u32,
        /// Where `head` was after the last sync.
        hwcur: u32,
        /// The ring's `tail`, as the port last set it.
        tail: u32,
        /// How many slots the ring has.
        num_slots: u32,
    },

    /// The application changed `tail`, which only the port may write; the port
    /// has put it back.
    #[error(
        "{ring}: the application wrote tail = {tail}, but tail belongs to the port (it is \
         {expected}); it has been restored, sync again"
    )]
    TailModified {
        /// The ring that was being synced.
        ring: RingId,
        /// The `tail` the application wrote.
        tail: u32,
        /// The `tail` the port had set, now restored.
        expected: u32,
    },

    /// A slot handed to a sync names no buffer of the region (or a reserved
    /// one); the slots before it were synced.
    #[error(
        "{ring}, slot {slot}: buffer index {buf_idx} is not a usable buffer (valid: 2..{num_bufs}; \
         0 and 1 are reserved); slots before it were synced, fix this slot and sync again"
    )]
    BadBufIdx {
        /// The ring holding the slot.
        ring: RingId,
        /// The index of the slot.
        slot: u32,
        /// The buffer index the slot holds.
        buf_idx: u32,
        /// How many buffers the region has.
        num_bufs: u32,
    },

    /// A slot handed to a sync is longer than a buffer; the slots before it were synced.
    #[error(
        "{ring}, slot {slot}: length {len} exceeds the buffer size {buf_size}; slots before it \
         were synced, fix this slot and sync again"
    )]
    BadLen {
        /// The ring holding the slot.
        ring: RingId,
        /// The index of the slot.
        slot: u32,
        /// The length the slot holds.
        len: u16,
        /// The size of the region's buffers, in bytes.
        buf_size: u32,
    },

    /// A slot index past the end of a ring.
    #[error("{ring} has no slot {slot} (it has {num_slots}): slot indices run from 0 to {}", num_slots.saturating_sub(1))]
    NoSuchSlot {
        /// Which ring.
        ring: RingId,
        /// The index given.
        slot: u32,
        /// Slots in the ring.
        num_slots: u32,
    },

    /// A wait gave up because a cancellation was requested
    /// ([`cancel::request`](super::cancel::request), which a SIGINT/SIGTERM
    /// handler calls).
    #[error(
        "interrupted: a cancellation was requested (SIGINT/SIGTERM, through \
         `api::cancel::request`); nothing is wrong with the port: call `api::cancel::clear` \
         to wait again"
    )]
    Interrupted,

    /// A ring or ring pair was asked for by an index the port does not have.
    #[error("port `{port}` has no {what} {index} ({})", no_such_ring_fix(what, *count))]
    NoSuchRing {
        /// The port's name.
        port: String,
        /// What was asked for: `tx ring`, `rx ring` or `ring pair`.
        what: &'static str,
        /// The index asked for.
        index: u32,
        /// How many the port has.
        count: u32,
    },

    /// A port asked for a queue pair beyond those the NIC was set up with by the
    /// first port of this process that opened it.
    #[error(
        "`{port}`: the NIC was set up with {count} ring pair(s) by the first port of this process \
         that opened it; ask for more there with `@conf:rings=M` (M > {index}), or use `-N` with \
         N < {count}"
    )]
    QueueOutOfRange {
        /// The name of the port being opened.
        port: String,
        /// The queue pair asked for.
        index: u32,
        /// How many queue pairs the NIC was set up with.
        count: u32,
    },

    /// A port asked for a queue pair that another open port of this process holds.
    #[error(
        "`{port}`: ring pair {index} is already bound by another port of this process; each ring \
         pair has one owner (give each thread its own `-N`)"
    )]
    QueueBusy {
        /// The name of the port being opened.
        port: String,
        /// The queue pair asked for.
        index: u32,
    },

    /// A pipe end was opened while another process or handle holds it.
    #[error(
        "pipe end `{port}` is already open in another process or handle; close it there first \
         (each pipe end has one owner)"
    )]
    PipeEndBusy {
        /// The pipe end's port name.
        port: String,
    },

    /// A region's pipe table is full.
    #[error("too many pipes in region `{region}` (at most {max}); close unused pipes")]
    TooManyPipes {
        /// The region's name.
        region: String,
        /// How many pipes a region holds.
        max: usize,
    },

    /// The other side of a port (the peer of a pipe) has closed or died.
    #[error("the peer of `{port}` has closed or died")]
    PeerGone {
        /// The port's name.
        port: String,
    },

    /// The port does not support what was asked of it, e.g. a MAC address on a pipe.
    #[error("`{port}`: {what} is not supported{hint}")]
    Unsupported {
        /// The port's name.
        port: String,
        /// What was asked for, e.g. `promiscuous mode`.
        what: String,
        /// Text appended to the message, starting with a space; may be empty.
        hint: String,
    },

    /// Buffers were to be swapped between ports that do not share a memory region.
    #[error(
        "ports `{a}` and `{b}` do not share a memory region, so buffers cannot be swapped \
         between them; open them in one region (pipes of one name, or the same `@N`) or copy"
    )]
    DifferentRegions {
        /// The name of the port received from.
        a: String,
        /// The name of the port sent to.
        b: String,
    },

    /// An option in a port name is invalid, e.g. a pipe id that is too long.
    #[error("bad option for `{port}`: {message}")]
    BadOption {
        /// The port's name.
        port: String,
        /// What is wrong with the option.
        message: String,
    },

    /// Creating or using the memory region failed.
    #[error(transparent)]
    Mem(#[from] MemError),

    /// Waiting for a port to become ready failed.
    #[error("waiting failed: {0}")]
    Wait(std::io::Error),
}
