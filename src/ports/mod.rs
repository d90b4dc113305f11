//! The ports layer: turns a port name (netmap's grammar, see [`name`]) into
//! an open [`Port`] over the right backend. The one place that knows every
//! kind of port; everything below it (api, driver, mem) knows no names.
//!
//! | prefix | kind | module |
//! |---|---|---|
//! | `netmap:NAME{ID`, `netmap:NAME}ID` | pipe ends | [`pipe`](self) |
//! | `vfio:DDDD:BB:DD.F` | a NIC bound to vfio-pci | `vfio` |
//! | `model:ixgbeN` | the ixgbe driver on a software 82599 (feature `models`) | `model` |
//!
//! Adding a kind: a module here with its `Accepts` table (`conf.rs`) and an
//! `open`, and a row in [`open`]'s match (ARCHITECTURE.md).

mod conf;
pub mod error;
#[cfg(feature = "models")]
mod model;
pub mod name;
mod nic;
mod pipe;
mod vfio;

pub use error::PortError;
pub use name::{PortKind, PortName};

use crate::api::{Port, RingSelection};
use name::RegMode;

/// Opens a port by name, in netmap's grammar (a bare name gets `netmap:`
/// in front, as in netmap's pkt-gen):
/// - `netmap:NAME{ID` / `netmap:NAME}ID`: master / slave end of a pipe;
///   pipes of one NAME share one region (or the region `@N` names);
/// - `vfio:DDDD:BB:DD.F`: a NIC bound to vfio-pci;
/// - `model:ixgbeN`: a software 82599 (with the `models` feature);
/// - `@conf:slots=N,…`: options; each kind lists the keys it takes, and
///   any other is an error;
/// - `/R`, `/T`: bind only the RX or only the TX rings; `-N`: ring pair N.
///
/// ```
/// # let name = format!("doc_open_{}", std::process::id());
/// let tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0"))?;
/// assert_eq!(tx.num_tx_rings(), 1);
/// # Ok::<(), vfio_netmap::ports::PortError>(())
/// ```
pub fn open(name: &str) -> Result<Port, PortError> {
    let parsed = name::parse_lenient(name)?;
    let unsupported = |what: &str, hint: &str| PortError::Unsupported {
        port: name.to_string(),
        what: what.to_string(),
        hint: hint.to_string(),
    };
    let selection = selection(name, &parsed)?;
    let mut port = match &parsed.kind {
        PortKind::Pipe {
            prefix,
            name: pipe_name,
            id,
            end,
        } if prefix == "netmap" => pipe::open(name, &parsed, pipe_name, id, *end)?,
        PortKind::Pipe { .. } | PortKind::Vale { .. } => {
            return Err(unsupported(
                "the VALE switch",
                ": use netmap pipes (`netmap:NAME{ID`) between processes",
            ));
        }
        PortKind::Netmap { .. } => {
            return Err(unsupported(
                "a kernel interface",
                " without the netmap module: open a NIC bound to vfio-pci as \
                 `vfio:DDDD:BB:DD.F` (see `vfio-netmap status`), or a pipe `netmap:NAME{ID`",
            ));
        }
        PortKind::Vfio { addr } => vfio::open(name, &parsed, *addr)?,
        #[cfg(feature = "models")]
        PortKind::Model { name: model } => model::open(name, &parsed, model)?,
        #[cfg(not(feature = "models"))]
        PortKind::Model { .. } => {
            return Err(unsupported(
                "a model port",
                " in this build: the device models are test rigs, built with `--features \
                 models` (the tests and examples enable it)",
            ));
        }
    };
    port.bind(selection)?;
    Ok(port)
}

/// The rings a name binds (`-N`, `/R`, `/T`); host rings and monitors are
/// not there yet.
fn selection(port: &str, parsed: &PortName) -> Result<RingSelection, PortError> {
    let unsupported = |what: &str, hint: &str| PortError::Unsupported {
        port: port.to_string(),
        what: what.to_string(),
        hint: hint.to_string(),
    };
    let pair = match parsed.mode {
        RegMode::AllNic => None,
        RegMode::OneNic(n) => Some(n as usize),
        _ => {
            return Err(unsupported(
                "host rings (`^`, `*`)",
                ": there is no host stack behind a userspace port",
            ));
        }
    };
    let flags = &parsed.flags;
    if flags.monitor_rx || flags.monitor_tx || flags.zcopy_monitor {
        return Err(unsupported("monitor ports", " yet"));
    }
    Ok(RingSelection {
        pair,
        rx_only: flags.rx_rings_only,
        tx_only: flags.tx_rings_only,
    })
}
