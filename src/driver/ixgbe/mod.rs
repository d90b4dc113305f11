//! Intel 82599 / X540 / X550 (ixgbe family): up to 64 queue pairs with
//! advanced descriptors, RSS over the first 16.

pub mod desc;
pub mod device;
pub mod queue;
pub mod regs;
pub mod split;

pub use device::{Chip, Ixgbe, IxgbeError, MacType, Options, Stats};
pub use queue::QueueErrors;
pub use split::{IxgbeQueue, split};
