//! Attaching a NIC through VFIO: the device is opened, its rings are
//! allocated in the process's NIC region, and that region's buffer pool is
//! mapped once for DMA into the process's VFIO container. All NICs of a
//! process share the region and the container, so buffers move between
//! NICs by swapping indices (zero-copy bridging).

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::desc_ring::{self, DmaWindow};
use super::e1000::{self, E1000};
use super::ixgbe::{self, Ixgbe};
use super::pci_ids::{self, DriverKind};
use super::vfio::{Container, ContainerOptions, Device, DmaMap, Interrupts, IrqKind, MappedBar};
use super::{DriverError, Host, PciAddr};
use crate::api::{Backend, NicParts, NicRings, QueueParts, QueueSet};
use crate::mem::{Region, RegionConfig};

/// What every NIC port of the process shares.
struct NicContext {
    container: Arc<Container>,
    region: Arc<Region>,
    window: DmaWindow,
    mapped_len: usize,
}

impl Drop for NicContext {
    fn drop(&mut self) {
        if let Err(e) = self.container.unmap_dma(self.window.base, self.mapped_len) {
            log::warn!("unmapping the NIC region from the IOMMU failed: {e}");
        }
    }
}

/// The process's VFIO container, shared by all its NIC ports.
static CONTAINER: Mutex<Weak<Container>> = Mutex::new(Weak::new());
/// The regions NIC ports use, by name ("" for the private default), each
/// mapped into the container once.
static CONTEXTS: Mutex<Vec<(String, Weak<NicContext>)>> = Mutex::new(Vec::new());

/// How to open a NIC.
#[derive(Clone, Debug)]
pub struct NicOptions {
    /// Descriptors (and netmap slots) per ring.
    pub slots: u32,
    /// Receive every frame, whatever its destination.
    pub promiscuous: bool,
    /// How long to wait for the link at open.
    pub link_wait: Duration,
    /// Use VFIO's no-IOMMU mode (needs physical addresses; unsafe).
    pub unsafe_noiommu: bool,
    /// The shape of the process's NIC region, when this NIC creates it.
    pub region: RegionConfig,
    /// A named region file shared with other ports and processes (the
    /// region of pipes opened with the same `@N`), instead of the
    /// process's private NIC region.
    pub shared_region: Option<String>,
    /// Queue pairs to set up on a multi-queue NIC; the queue ports of
    /// one process then bind one each.
    pub rings: usize,
    /// Interrupt moderation of each queue's vector, in microseconds (0 =
    /// an interrupt per event).
    pub itr_us: u32,
}

impl Default for NicOptions {
    fn default() -> Self {
        NicOptions {
            slots: 1024,
            promiscuous: false,
            link_wait: Duration::from_secs(2),
            unsafe_noiommu: false,
            // Room for a few NICs with 4096-slot rings (2 x 4096 buffers
            // each): all NIC ports of a process share this region.
            region: RegionConfig {
                num_bufs: 32768,
                ..RegionConfig::default()
            },
            shared_region: None,
            rings: 1,
            itr_us: 20,
        }
    }
}

impl NicOptions {
    /// Grows the region (made by the first NIC port of a process) to hold
    /// two NICs like this port, so deep rings or many ring pairs need no
    /// `@conf:bufs`: every TX and RX slot holds a buffer, each ring's
    /// descriptors take contiguous buffers of the same pool, each ring
    /// pair is two netmap rings, and a port per queue pair (`vfio:ADDR-K`)
    /// has a `netmap_if` of its own. The defaults already hold a few NICs
    /// with one ring pair of up to 4096 slots.
    pub fn size_region_for_two_nics(&mut self) {
        const NICS: u32 = 2;
        let (slots, rings) = (self.slots, self.rings as u32);
        let region = &mut self.region;
        let bufs = slots
            .saturating_add(desc_ring::ring_bufs(slots, region.buf_size))
            .saturating_mul(2 * rings * NICS)
            .saturating_add(crate::mem::FIRST_USABLE_BUF);
        region.num_bufs = region.num_bufs.max(bufs);
        region.num_rings = region.num_rings.max(2 * rings * NICS);
        region.num_ifs = region.num_ifs.max((rings + 1) * NICS);
    }
}

/// Opens the device in the process's container (created by the first NIC
/// port), and finds or creates the region it uses, mapped for DMA once.
fn open_device(addr: PciAddr, opts: &NicOptions) -> Result<(Arc<NicContext>, Device), DriverError> {
    let container = {
        let mut shared = CONTAINER.lock().unwrap_or_else(|p| p.into_inner());
        match shared.upgrade() {
            Some(c) => c,
            None => {
                let options = ContainerOptions {
                    unsafe_noiommu: opts.unsafe_noiommu,
                };
                let c = Container::open(&Host::default(), options)?;
                *shared = Arc::downgrade(&c);
                c
            }
        }
    };
    // The IOMMU type is set when the first group attaches: open the device
    // before mapping memory.
    let device = Device::open(&container, addr)?;
    let key = opts.shared_region.clone().unwrap_or_default();
    let mut contexts = CONTEXTS.lock().unwrap_or_else(|p| p.into_inner());
    contexts.retain(|(_, w)| w.strong_count() > 0);
    if let Some(ctx) = contexts
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok((ctx, device));
    }
    let region = match &opts.shared_region {
        None => Region::private("nic", opts.region)?,
        Some(name) => Region::open_shared(name, opts.region, false, |_| Ok(()))?.0,
    };
    let region = Arc::new(region);
    let (ptr, len) = region.buf_area_extent();
    // SAFETY: the buffer area belongs to `region`, which the context keeps
    // alive until after the unmap in its Drop.
    let base = unsafe { container.map_dma(ptr, len)? };
    let window = DmaWindow {
        base,
        buf_size: region.buf_size() as u64,
    };
    let ctx = Arc::new(NicContext {
        container,
        region,
        window,
        mapped_len: len,
    });
    contexts.push((key, Arc::downgrade(&ctx)));
    Ok((ctx, device))
}

/// What a VFIO NIC's driver needs alive: the device (closed after the
/// driver and its BAR mapping are gone) and the process's shared context
/// (which unmaps DMA when its last NIC goes). Fields drop in order.
struct Attachment {
    _device: Arc<Device>,
    _ctx: Arc<NicContext>,
}

/// What opening a NIC gives: the whole NIC for one port, or the set of its
/// queue pairs that `-N` ports of the process share.
pub enum OpenedNic {
    /// Every ring of the NIC, for one port.
    Whole(NicParts),
    /// The NIC's queue pairs (see [`QueueSet`]).
    Queues(Arc<QueueSet>),
}

/// The interrupt VFIO can give us for this device: MSI where offered (one
/// vector, no sharing), else INTx. None if neither works; then waits nap.
fn enable_irq(device: &Device) -> Option<Interrupts> {
    for kind in [IrqKind::Msi, IrqKind::Intx] {
        if device.irq_info(kind).is_ok_and(|info| info.count > 0) {
            match device.enable_interrupts(kind, 1) {
                Ok(irq) => return Some(irq),
                Err(e) => log::info!(
                    "{}: {} interrupts unavailable: {e}",
                    device.addr(),
                    kind.name()
                ),
            }
        }
    }
    log::warn!(
        "{}: no interrupt available; poll() will nap instead of sleeping",
        device.addr()
    );
    None
}

/// Opens the NIC at `addr`: all its rings, or with `queue` (`-N`) the
/// set of queue pairs of a multi-queue NIC, which the `-N` ports of the
/// process share (see [`QueueSet`]).
pub fn open(
    addr: PciAddr,
    opts: &NicOptions,
    queue: Option<usize>,
) -> Result<OpenedNic, DriverError> {
    let key = format!("vfio:{addr}");
    if let Some(set) = queue.and_then(|_| QueueSet::find(&key)) {
        return Ok(OpenedNic::Queues(set));
    }
    let (ctx, device) = open_device(addr, opts)?;
    let device = Arc::new(device);
    let (vendor, device_id) = (device.config_u16(0)?, device.config_u16(2)?);
    match pci_ids::require_supported(addr, vendor, device_id)?.driver {
        DriverKind::Ixgbe(chip) => open_ixgbe(addr, chip, ctx, device, opts, queue.map(|_| key)),
        DriverKind::E1000(model) => open_e1000(addr, model, ctx, device, opts, queue),
    }
}

/// An ixgbe-family NIC: all its queues for one port, or (with `set_key`)
/// split into the per-queue backends of a [`QueueSet`].
fn open_ixgbe(
    addr: PciAddr,
    chip: ixgbe::Chip,
    ctx: Arc<NicContext>,
    device: Arc<Device>,
    opts: &NicOptions,
    set_key: Option<String>,
) -> Result<OpenedNic, DriverError> {
    let (mut nic, rings) = init_ixgbe(addr, chip, &ctx, &device, opts)?;
    if let Some(irq) = enable_msix(addr, &device, &nic, opts) {
        nic.attach_interrupts(irq);
    }
    let region = ctx.region.clone();
    let keep_alive = Attachment {
        _device: device,
        _ctx: ctx,
    };
    let Some(key) = set_key else {
        return Ok(OpenedNic::Whole(NicParts {
            region,
            rings,
            backend: Box::new(nic),
            keep_alive: Box::new(keep_alive),
        }));
    };
    let set = QueueSet::find_or_create(&key, || {
        let queues = ixgbe::split(nic)
            .into_iter()
            .map(|queue| Box::new(queue) as Box<dyn Backend>)
            .collect();
        Ok::<_, DriverError>(QueueParts {
            region,
            rings,
            queues,
            keep_alive: Box::new(keep_alive),
        })
    })?;
    Ok(OpenedNic::Queues(set))
}

/// An e1000-family NIC: one queue pair, for one port.
fn open_e1000(
    addr: PciAddr,
    model: e1000::Model,
    ctx: Arc<NicContext>,
    device: Arc<Device>,
    opts: &NicOptions,
    queue: Option<usize>,
) -> Result<OpenedNic, DriverError> {
    e1000_queue_request(addr, model, opts.rings, queue)?;
    device.enable_bus_master()?;
    let bar = device.map_bar(0)?;
    let region = &ctx.region;
    let rings = NicRings::allocate(region, &addr.to_string(), 1, opts.slots)?;
    let mut nic = match init_e1000(bar, model, &ctx, &rings, opts, addr) {
        Ok(nic) => nic,
        Err(e) => {
            rings.free(region);
            return Err(e);
        }
    };
    if let Some(irq) = enable_irq(&device) {
        nic.attach_interrupts(irq);
    }
    Ok(OpenedNic::Whole(NicParts {
        region: ctx.region.clone(),
        rings,
        backend: Box::new(nic),
        keep_alive: Box::new(Attachment {
            _device: device,
            _ctx: ctx,
        }),
    }))
}

fn init_e1000(
    bar: MappedBar,
    model: e1000::Model,
    ctx: &NicContext,
    rings: &NicRings,
    opts: &NicOptions,
    addr: PciAddr,
) -> Result<E1000<MappedBar>, DriverError> {
    let region = &ctx.region;
    let tx = region.ring(rings.tx[0].0, rings.num_slots)?;
    let rx = region.ring(rings.rx[0].0, rings.num_slots)?;
    let e1000_opts = e1000::Options {
        device: format!("{addr} ({})", model.name()),
        promiscuous: opts.promiscuous,
        link_wait: opts.link_wait,
    };
    E1000::init(bar, model, region, ctx.window, &tx, &rx, e1000_opts)
}

/// The e1000 family runs one queue pair (ARCHITECTURE.md): a port asking
/// for more (`@conf:rings=N`, or a queue suffix `-K` other than `-0`) is
/// refused rather than silently given the one pair.
fn e1000_queue_request(
    addr: PciAddr,
    model: e1000::Model,
    rings: usize,
    queue: Option<usize>,
) -> Result<(), DriverError> {
    let asked = match queue {
        Some(q) if q > 0 => format!("queue {q} (`-{q}`)"),
        _ if rings > 1 => format!("`@conf:rings={rings}`"),
        _ => return Ok(()),
    };
    Err(DriverError::OneQueuePair {
        addr: addr.to_string(),
        model: model.name(),
        asked,
    })
}

/// Brings up an ixgbe-family NIC with `opts.rings` queue pairs, and one
/// MSI-X vector per queue pair (the first 16), masked until a poll sleeps.
fn init_ixgbe(
    addr: PciAddr,
    chip: ixgbe::Chip,
    ctx: &NicContext,
    device: &Device,
    opts: &NicOptions,
) -> Result<(Ixgbe<MappedBar>, NicRings), DriverError> {
    device.enable_bus_master()?;
    let bar = device.map_bar(0)?;
    let region = &ctx.region;
    let rings = NicRings::allocate(region, &addr.to_string(), opts.rings, opts.slots)?;
    let ixgbe_opts = ixgbe::Options {
        promiscuous: opts.promiscuous,
        link_wait: opts.link_wait,
        ..ixgbe::Options::default()
    };
    match Ixgbe::init(bar, chip, region, ctx.window, &rings, ixgbe_opts) {
        Ok(nic) => Ok((nic, rings)),
        Err(source) => {
            rings.free(region);
            Err(DriverError::Ixgbe {
                device: format!("{addr} ({})", chip.name()),
                source,
            })
        }
    }
}

/// One MSI-X vector per queue pair (the first 16), masked until a poll
/// sleeps; `None` (and waits nap) if VFIO offers none.
fn enable_msix(
    addr: PciAddr,
    device: &Device,
    nic: &Ixgbe<MappedBar>,
    opts: &NicOptions,
) -> Option<Interrupts> {
    let vectors = opts.rings.min(16);
    match device.enable_interrupts(IrqKind::Msix, vectors as u32) {
        Ok(irq) => {
            for q in 0..vectors {
                nic.route_queue_interrupt(q, q as u8, opts.itr_us);
            }
            nic.unmask_vectors(((1u32 << vectors) - 1) as u16);
            nic.disarm_queue_interrupts();
            Some(irq)
        }
        Err(e) => {
            log::warn!("{addr}: MSI-X unavailable ({e}); poll() will nap instead of sleeping");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1000_ports_may_ask_for_one_queue_pair_only() {
        let addr: PciAddr = "0000:00:03.0".parse().unwrap();
        let m = e1000::Model::I82574L;
        for ok in [(1, None), (1, Some(0))] {
            assert!(e1000_queue_request(addr, m, ok.0, ok.1).is_ok(), "{ok:?}");
        }
        let asked = |rings, queue| match e1000_queue_request(addr, m, rings, queue) {
            Err(DriverError::OneQueuePair { asked, .. }) => asked,
            other => panic!("{rings} {queue:?}: {other:?}"),
        };
        assert_eq!(asked(2, None), "`@conf:rings=2`");
        assert_eq!(asked(2, Some(0)), "`@conf:rings=2`");
        assert_eq!(asked(1, Some(1)), "queue 1 (`-1`)");
    }
}
