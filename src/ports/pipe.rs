//! `netmap:NAME{ID` and `netmap:NAME}ID`: the two ends of a pipe.

use super::conf::{Accepts, Conf};
use super::error::PortError;
use super::name::PortName;
use crate::api::{PipeEnd, PipeSpec, Port};
use crate::mem::FIRST_USABLE_BUF;

/// What a pipe's name may carry.
const ACCEPTS: Accepts = Accepts {
    kind: "a pipe",
    options: &[],
    conf: &["slots", "bufs", "buf-size", "extra-bufs"],
};

/// The region a pipe (or a NIC with `@N`) uses: pipes of one name share
/// one, `@N` names region `memN`.
pub(super) fn region_name(parsed: &PortName, pipe: &str) -> String {
    match parsed.mem_id {
        Some(n) => format!("mem{n}"),
        None => pipe.to_string(),
    }
}

/// Opens end `end` of pipe `pipe{id` as the port named `port`.
pub(super) fn open(
    port: &str,
    parsed: &PortName,
    pipe: &str,
    id: &str,
    end: PipeEnd,
) -> Result<Port, PortError> {
    let spec = spec(port, parsed, pipe, id, end)?;
    Ok(Port::open_pipe(port, &spec)?)
}

/// The pipe a parsed name asks for, with its `@conf:` options.
fn spec(
    port: &str,
    parsed: &PortName,
    pipe: &str,
    id: &str,
    end: PipeEnd,
) -> Result<PipeSpec, PortError> {
    let conf = Conf::check(port, parsed, &ACCEPTS)?;
    let mut spec = PipeSpec::new(&region_name(parsed, pipe), id, end);
    if let Some(slots) = conf.number("slots")? {
        spec.slots = slots;
    }
    if let Some(n) = conf.number("extra-bufs")? {
        spec.extra_bufs = n;
    }
    if let Some(bufs) = conf.number("bufs")? {
        spec.region_config.num_bufs = bufs;
        spec.config_requested = true;
    }
    if let Some(size) = conf.number("buf-size")? {
        spec.region_config.buf_size = size;
        spec.config_requested = true;
    }
    if spec.slots > spec.region_config.max_slots {
        spec.region_config.max_slots = spec.slots;
    }
    if !spec.config_requested {
        // Deep rings must not need `@conf:bufs`: room for two pipes like
        // this one (every slot of both ends' TX and RX rings holds a
        // buffer) and the extra buffers it asks for.
        const PIPES: u32 = 2;
        const RINGS_PER_PIPE: u32 = 4;
        let two_pipes = spec
            .slots
            .saturating_mul(PIPES * RINGS_PER_PIPE)
            .saturating_add(spec.extra_bufs)
            .saturating_add(FIRST_USABLE_BUF);
        spec.region_config.num_bufs = spec.region_config.num_bufs.max(two_pipes);
    }
    Ok(spec)
}
