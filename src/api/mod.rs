//! netmap's ring API in userspace.

pub mod name;

pub use name::{
    NameError, OptionValue, PipeRole, PortKind, PortName, PortOption, RegFlags, RegMode,
};
