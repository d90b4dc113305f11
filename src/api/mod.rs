//! netmap's ring API in userspace: rings and their sync semantics, ports
//! over a [`Backend`], `poll`, and pipes. This layer knows nothing of PCI,
//! drivers or port names (the ports layer above turns names into ports).

pub mod backend;
pub mod batch;
pub mod cancel;
pub mod error;
mod futex;
pub mod kring;
pub mod nic_rings;
pub mod pipe;
pub mod poll;
pub mod port;
pub mod queue_set;
pub mod ring;

pub use backend::{Backend, NicControl, NicInfo, Wait};
pub use batch::{RxBatch, TxBatch, forward};
pub use error::ApiError;
pub use kring::{KRing, RingId};
pub use nic_rings::NicRings;
pub use pipe::PipeEnd;
pub use port::{NicParts, PipeSpec, Port, RingSelection};
pub use queue_set::{QueueParts, QueueSet};
pub use ring::Ring;
