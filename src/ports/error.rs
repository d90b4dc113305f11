//! Errors of the ports layer: what opening a port by name can report.

use super::name::NameError;
use crate::api::ApiError;
use crate::driver::DriverError;

/// Why a port could not be opened by name.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The name does not follow netmap's grammar.
    #[error(transparent)]
    Name(#[from] NameError),

    /// An option in the name is unknown, malformed, or does not apply to
    /// this kind of port.
    #[error("bad option for `{port}`: {message}")]
    BadOption {
        /// The port name as given.
        port: String,
        /// What is wrong and what would be accepted.
        message: String,
    },

    /// The name asks for something this kind of port does not have.
    #[error("`{port}`: {what} is not supported{hint}")]
    Unsupported {
        /// The port name as given.
        port: String,
        /// What was asked for.
        what: String,
        /// What to use instead (starts with `:` or a space, or is empty).
        hint: String,
    },

    /// `model:NAME` names no model.
    #[error(
        "`{port}`: no such model port; the models are `model:ixgbe0` .. `model:ixgbe63` (82599 \
         models; ports 2k and 2k+1 are the two ends of one cable)"
    )]
    UnknownModel {
        /// The port name as given.
        port: String,
    },

    /// A model port's cable end is taken.
    #[error(
        "`{port}` is already open in another process or handle (its cable end is taken); close \
         it there first"
    )]
    ModelPortBusy {
        /// The port name as given.
        port: String,
    },

    /// Rings, pipes and regions.
    #[error(transparent)]
    Api(#[from] ApiError),

    /// The device: PCI, VFIO, the driver.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl From<crate::mem::MemError> for PortError {
    fn from(e: crate::mem::MemError) -> Self {
        PortError::Api(ApiError::Mem(e))
    }
}
