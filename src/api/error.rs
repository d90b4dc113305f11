//! Errors of the API layer.

use super::kring::RingId;
use crate::mem::MemError;

/// Everything the netmap API can report to an application.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "{ring}: head {head}, cur {cur} are inconsistent with the last sync (head was {hwcur}, \
         tail is {tail}, {num_slots} slots): the application may only move head and cur \
         forward, with head <= cur <= tail (modulo the ring); nothing was synced, fix the \
         indices and sync again"
    )]
    BadIndices {
        ring: RingId,
        head: u32,
        cur: u32,
        hwcur: u32,
        tail: u32,
        num_slots: u32,
    },

    #[error(
        "{ring}: the application wrote tail = {tail}, but tail belongs to the port (it is \
         {expected}); it has been restored, sync again"
    )]
    TailModified {
        ring: RingId,
        tail: u32,
        expected: u32,
    },

    #[error(
        "{ring}, slot {slot}: buffer index {buf_idx} is not a usable buffer (valid: 2..{num_bufs}; \
         0 and 1 are reserved); slots before it were synced, fix this slot and sync again"
    )]
    BadBufIdx {
        ring: RingId,
        slot: u32,
        buf_idx: u32,
        num_bufs: u32,
    },

    #[error(
        "{ring}, slot {slot}: length {len} exceeds the buffer size {buf_size}; slots before it \
         were synced, fix this slot and sync again"
    )]
    BadLen {
        ring: RingId,
        slot: u32,
        len: u16,
        buf_size: u32,
    },

    #[error("port `{port}` has no {what} {index} (it has {count}); use `-N` with N < {count}")]
    NoSuchRing {
        port: String,
        what: &'static str,
        index: u32,
        count: u32,
    },

    #[error(
        "`{port}`: the NIC was set up with {count} ring pair(s) by the first port of this process \
         that opened it; ask for more there with `@conf:rings=M` (M > {index}), or use `-N` with \
         N < {count}"
    )]
    QueueOutOfRange {
        port: String,
        index: u32,
        count: u32,
    },

    #[error(
        "`{port}`: ring pair {index} is already bound by another port of this process; each ring \
         pair has one owner (give each thread its own `-N`)"
    )]
    QueueBusy { port: String, index: u32 },

    #[error(
        "pipe end `{port}` is already open in another process or handle; close it there first \
         (each pipe end has one owner)"
    )]
    PipeEndBusy { port: String },

    #[error("too many pipes in region `{region}` (at most {max}); close unused pipes")]
    TooManyPipes { region: String, max: usize },

    #[error("the peer of `{port}` has closed or died")]
    PeerGone { port: String },

    #[error("`{port}`: {what} is not supported{hint}")]
    Unsupported {
        port: String,
        what: String,
        hint: String,
    },

    #[error(
        "ports `{a}` and `{b}` do not share a memory region, so buffers cannot be swapped \
         between them; open them in one region (pipes of one name, or the same `@N`) or copy"
    )]
    DifferentRegions { a: String, b: String },

    #[error("bad option for `{port}`: {message}")]
    BadOption { port: String, message: String },

    #[error(transparent)]
    Mem(#[from] MemError),

    #[error("waiting failed: {0}")]
    Wait(std::io::Error),
}
