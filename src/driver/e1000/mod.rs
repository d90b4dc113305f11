//! Intel 8254x (82540EM, 82545EM) and 82574L (e1000e) with legacy
//! descriptors: one TX and one RX queue.

pub mod desc;
pub mod device;
pub mod queue;
pub mod regs;

pub use device::{E1000, MAX_DESCRIPTORS, Model, Options, Stats};
