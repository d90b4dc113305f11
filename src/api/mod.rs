//! netmap's ring API in userspace.

pub mod abi;
pub mod batch;
pub mod error;
mod futex;
pub mod kring;
pub mod name;
pub mod nic;
pub mod pipe;
pub mod poll;
pub mod port;
pub mod queue_set;
pub mod ring;

pub use abi::{NetmapSlot, slot_flags};
pub use batch::{RxBatch, TxBatch, forward};
pub use error::ApiError;
pub use kring::{KRing, RingId};
pub use name::{
    NameError, OptionValue, PipeRole, PortKind, PortName, PortOption, RegFlags, RegMode,
};
pub use pipe::PipeEnd;
pub use port::{PipeSpec, Port};
pub use queue_set::QueueSet;
pub use ring::Ring;
