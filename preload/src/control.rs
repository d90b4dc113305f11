//! netmap's control requests on Rust values: the hooks copy a request in
//! from the program's memory, these functions serve it, the hooks copy
//! the answer back.

use vfio_netmap::abi::NETMAP_API;
use vfio_netmap::abi::ctrl::{
    Nmreq, NmreqPoolsInfo, NmreqPortHdr, NmreqPortInfoGet, NmreqRegister, flags, mode, req, ringid,
};
use vfio_netmap::api::Port;

use crate::error::PreloadError;
use crate::handle::{self, Handle, Registered, Shared};
use crate::names::{self, Registration};

/// The body of an API-14 request, by type.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    /// `NETMAP_REQ_REGISTER`.
    Register(NmreqRegister),
    /// `NETMAP_REQ_PORT_INFO_GET`.
    PortInfo(NmreqPortInfoGet),
    /// `NETMAP_REQ_PORT_HDR_SET` (`true`) or `_GET`.
    PortHdr(bool, NmreqPortHdr),
    /// `NETMAP_REQ_POOLS_INFO_GET`.
    Pools(NmreqPoolsInfo),
}

/// What a port reports about itself.
#[derive(Clone, Copy, Debug)]
struct Info {
    memsize: usize,
    offset: usize,
    tx_slots: u32,
    rx_slots: u32,
    tx_rings: u16,
    rx_rings: u16,
    mem_id: u16,
}

fn info_of(port: &Port, mem_id: u16) -> Result<Info, PreloadError> {
    let region = port.region();
    let slots = |tx: bool| {
        let (n, m) = (port.num_tx_rings(), port.num_rx_rings());
        match (tx, n > 0, m > 0) {
            (true, true, _) | (false, true, false) => port.tx_ring(0).map_or(0, |r| r.num_slots()),
            (_, _, true) => port.rx_ring(0).map_or(0, |r| r.num_slots()),
            _ => 0,
        }
    };
    let (tx_rings, rx_rings) = region
        .netmap_if_rings(port.netmap_if_offset())
        .map_err(vfio_netmap::api::ApiError::from)?;
    Ok(Info {
        memsize: region.mapped_len(),
        offset: port.netmap_if_offset(),
        tx_slots: slots(true),
        rx_slots: slots(false),
        tx_rings: tx_rings.min(u16::MAX.into()) as u16,
        rx_rings: rx_rings.min(u16::MAX.into()) as u16,
        mem_id,
    })
}

/// Serves an API-14 request (`NIOCCTRL`) whose header checked out.
pub fn ctrl(
    this: &Shared,
    h: &mut Handle,
    name: &[u8],
    body: &mut Body,
) -> Result<(), PreloadError> {
    match body {
        Body::Register(r) => {
            let reg = Registration {
                name: names::c_name(name)?,
                mode: r.nr_mode,
                ring: r.nr_ringid & ringid::RING_MASK,
                flags: r.nr_flags,
                mem_id: r.nr_mem_id,
                slots: r.nr_tx_slots.max(r.nr_rx_slots),
                rings: r.nr_tx_rings.max(r.nr_rx_rings),
                extra_bufs: r.nr_extra_bufs,
            };
            let (info, extra) = register(h, reg)?;
            r.nr_offset = info.offset as u64;
            r.nr_memsize = info.memsize as u64;
            r.nr_tx_slots = info.tx_slots;
            r.nr_rx_slots = info.rx_slots;
            r.nr_tx_rings = info.tx_rings;
            r.nr_rx_rings = info.rx_rings;
            r.nr_host_tx_rings = 0;
            r.nr_host_rx_rings = 0;
            r.nr_mem_id = info.mem_id;
            r.nr_extra_bufs = extra;
            Ok(())
        }
        Body::PortInfo(p) => {
            let info = if name.first().is_some_and(|&b| b != 0) {
                with_port(this, h, &names::c_name(name)?, p.nr_mem_id, info_of)?
            } else {
                by_mem_id(this, h, p.nr_mem_id, info_of)?
            };
            p.nr_memsize = info.memsize as u64;
            p.nr_tx_slots = info.tx_slots;
            p.nr_rx_slots = info.rx_slots;
            p.nr_tx_rings = info.tx_rings;
            p.nr_rx_rings = info.rx_rings;
            p.nr_host_tx_rings = 0;
            p.nr_host_rx_rings = 0;
            p.nr_mem_id = info.mem_id;
            Ok(())
        }
        Body::PortHdr(set, p) => {
            if *set && p.nr_hdr_len != 0 {
                return Err(PreloadError::HdrLen(p.nr_hdr_len));
            }
            with_port(this, h, &names::c_name(name)?, 0, |_, _| Ok(()))?;
            p.nr_hdr_len = 0;
            Ok(())
        }
        Body::Pools(p) => {
            let pools =
                |port: &Port, id: u16| Ok((port.region().pools(), port.region().mapped_len(), id));
            let (pools, size, id) = if name.first().is_some_and(|&b| b != 0) {
                with_port(this, h, &names::c_name(name)?, p.nr_mem_id, pools)?
            } else {
                by_mem_id(this, h, p.nr_mem_id, pools)?
            };
            p.nr_memsize = size as u64;
            p.nr_mem_id = id;
            p.nr_if_pool_offset = pools.if_offset as u64;
            p.nr_if_pool_objtotal = pools.if_count;
            p.nr_if_pool_objsize = pools.if_size;
            p.nr_ring_pool_offset = pools.ring_offset as u64;
            p.nr_ring_pool_objtotal = pools.ring_count;
            p.nr_ring_pool_objsize = pools.ring_size;
            p.nr_buf_pool_offset = pools.buf_offset as u64;
            p.nr_buf_pool_objtotal = pools.buf_count;
            p.nr_buf_pool_objsize = pools.buf_size;
            Ok(())
        }
    }
}

/// The body an API-14 request type carries; `None` for types we do not
/// serve.
pub fn body_for(reqtype: u16) -> Option<Body> {
    Some(match reqtype {
        req::REGISTER => Body::Register(Default::default()),
        req::PORT_INFO_GET => Body::PortInfo(Default::default()),
        req::PORT_HDR_SET => Body::PortHdr(true, Default::default()),
        req::PORT_HDR_GET => Body::PortHdr(false, Default::default()),
        req::POOLS_INFO_GET => Body::Pools(Default::default()),
        _ => return None,
    })
}

/// Opens the port a registration names and binds it to `h`; returns what
/// to report and how many extra buffers were given.
fn register(h: &mut Handle, reg: Registration) -> Result<(Info, u32), PreloadError> {
    if let Some(r) = &h.reg {
        return Err(PreloadError::Busy(r.port_name.clone()));
    }
    let port_name = names::port_name(&reg, handle::is_assigned_mem_id)?;
    let port = vfio_netmap::ports::open(&port_name).inspect_err(|e| {
        log::warn!("/dev/netmap: `{}` (as `{port_name}`): {e}", reg.name);
    })?;
    let mem_id = handle::mem_id_of(port.region());
    let info = info_of(&port, mem_id)?;
    let extra = if port_name.contains("extra-bufs=") {
        reg.extra_bufs
    } else {
        0
    };
    log::info!(
        "/dev/netmap: registered `{}` as `{port_name}` (mem id {mem_id}, {} bytes)",
        reg.name,
        info.memsize
    );
    h.reg = Some(Registered {
        port,
        nr_name: reg.name,
        port_name,
        mem_id,
        tx_poll: reg.flags & flags::NR_NO_TX_POLL == 0,
    });
    Ok((info, extra))
}

/// Runs `f` on the port `name` names: this fd's or another fd's of this
/// process registered with that `nr_name`, or one opened for the
/// occasion (as netmap looks an interface up without binding it).
fn with_port<T>(
    this: &Shared,
    h: &Handle,
    name: &str,
    mem_id: u16,
    f: impl Fn(&Port, u16) -> Result<T, PreloadError>,
) -> Result<T, PreloadError> {
    if let Some(r) = h.reg.as_ref().filter(|r| r.nr_name == name) {
        return f(&r.port, r.mem_id);
    }
    for other in handle::others(this) {
        if let Ok(g) = other.try_lock()
            && let Some(r) = g.reg.as_ref().filter(|r| r.nr_name == name)
        {
            return f(&r.port, r.mem_id);
        }
    }
    let reg = Registration {
        name: name.to_string(),
        mode: mode::ALL_NIC,
        mem_id,
        ..Default::default()
    };
    let port = vfio_netmap::ports::open(&names::port_name(&reg, handle::is_assigned_mem_id)?)?;
    f(&port, handle::mem_id_of(port.region()))
}

/// Runs `f` on a registered port of this process in memory `mem_id`
/// (any port for 0).
fn by_mem_id<T>(
    this: &Shared,
    h: &Handle,
    mem_id: u16,
    f: impl Fn(&Port, u16) -> Result<T, PreloadError>,
) -> Result<T, PreloadError> {
    let hit = |r: &Registered| mem_id == 0 || r.mem_id == mem_id;
    if let Some(r) = h.reg.as_ref().filter(|r| hit(r)) {
        return f(&r.port, r.mem_id);
    }
    for other in handle::others(this) {
        if let Ok(g) = other.try_lock()
            && let Some(r) = g.reg.as_ref().filter(|r| hit(r))
        {
            return f(&r.port, r.mem_id);
        }
    }
    Err(PreloadError::MemId(mem_id))
}

/// Serves the legacy `NIOCREGIF` (`regif`) or `NIOCGINFO`.
pub fn legacy(
    this: &Shared,
    h: &mut Handle,
    r: &mut Nmreq,
    regif: bool,
) -> Result<(), PreloadError> {
    if !(11..=NETMAP_API).contains(&r.nr_version) {
        return Err(PreloadError::Version(r.nr_version));
    }
    if r.nr_cmd != 0 {
        return Err(PreloadError::LegacyCmd(r.nr_cmd));
    }
    let name = names::c_name(&r.nr_name)?;
    let info = if regif {
        let mut reg_flags = u64::from(r.nr_flags & !mode::MASK);
        if r.nr_ringid & ringid::NO_TX_POLL != 0 {
            reg_flags |= flags::NR_NO_TX_POLL;
        }
        let reg = Registration {
            name,
            mode: names::legacy_mode(r.nr_flags, r.nr_ringid),
            ring: r.nr_ringid & ringid::RING_MASK,
            flags: reg_flags,
            mem_id: r.nr_arg2,
            slots: r.nr_tx_slots.max(r.nr_rx_slots),
            rings: r.nr_tx_rings.max(r.nr_rx_rings),
            extra_bufs: r.nr_arg3,
        };
        let (info, extra) = register(h, reg)?;
        r.nr_arg3 = extra;
        info
    } else {
        with_port(this, h, &name, r.nr_arg2, info_of)?
    };
    let fit = |v: usize| u32::try_from(v).ok();
    let (Some(offset), Some(memsize)) = (fit(info.offset), fit(info.memsize)) else {
        // The legacy structure has 32-bit sizes: unbind what no legacy
        // program can map.
        h.reg = None;
        return Err(PreloadError::MapRange {
            len: info.memsize,
            offset: 0,
            size: u32::MAX as usize,
        });
    };
    r.nr_offset = offset;
    r.nr_memsize = memsize;
    r.nr_tx_slots = info.tx_slots;
    r.nr_rx_slots = info.rx_slots;
    r.nr_tx_rings = info.tx_rings;
    r.nr_rx_rings = info.rx_rings;
    r.nr_arg2 = info.mem_id;
    Ok(())
}

/// `NIOCTXSYNC` (`tx`) or `NIOCRXSYNC` on every bound ring.
pub fn sync(h: &mut Handle, tx: bool) -> Result<(), PreloadError> {
    let reg = h.reg.as_mut().ok_or(PreloadError::NotRegistered)?;
    if tx {
        reg.port.txsync()?;
    } else {
        reg.port.rxsync()?;
    }
    Ok(())
}
