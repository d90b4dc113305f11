//! What NIC ports share, whatever drives the NIC: the `@conf:` options a
//! NIC takes and queue ports (`-N` on a multi-queue NIC).

use super::conf::Conf;
use super::error::PortError;
use super::name::{PortName, RegMode};
use crate::api::Port;
use crate::driver::{NicOptions, OpenedNic};

/// The queue pair a `-N` name binds on a NIC set up with several (its own
/// backend); on a one-queue NIC, `-0` narrows as usual.
pub(super) fn queue(parsed: &PortName, opts: &NicOptions) -> Option<usize> {
    match parsed.mode {
        RegMode::OneNic(n) if opts.rings > 1 || n > 0 => Some(n as usize),
        _ => None,
    }
}

/// The port over what a driver opened.
pub(super) fn from_opened(
    port: &str,
    opened: OpenedNic,
    queue: Option<usize>,
) -> Result<Port, PortError> {
    Ok(match opened {
        OpenedNic::Whole(parts) => Port::from_nic(port, parts),
        OpenedNic::Queues(set) => Port::from_queue(port, &set, queue.unwrap_or_default())?,
    })
}

/// NIC options from a name: `@conf:slots=N`, `promisc=1`, `link-wait=SECS`,
/// `bufs=N` (the process's NIC region, when the first NIC port creates
/// it), `rings=N` (queue pairs of a multi-queue NIC), `itr=US` (interrupt
/// moderation).
pub(super) fn nic_options(port: &str, conf: &Conf<'_>) -> Result<NicOptions, PortError> {
    let mut opts = NicOptions::default();
    if let Some(slots) = conf.number("slots")? {
        opts.slots = slots;
        opts.region.max_slots = opts.region.max_slots.max(slots);
    }
    if let Some(p) = conf.number("promisc")? {
        opts.promiscuous = p != 0;
    }
    if let Some(w) = conf.seconds("link-wait")? {
        opts.link_wait = w;
    }
    if let Some(rings) = conf.number("rings")? {
        if !(1..=64).contains(&rings) {
            return Err(PortError::BadOption {
                port: port.to_string(),
                message: format!("`@conf:rings={rings}`: a NIC has 1 to 64 ring pairs"),
            });
        }
        opts.rings = rings as usize;
    }
    opts.size_region_for_two_nics();
    if let Some(bufs) = conf.number("bufs")? {
        opts.region.num_bufs = bufs;
    }
    if let Some(itr) = conf.number("itr")? {
        opts.itr_us = itr;
    }
    Ok(opts)
}
