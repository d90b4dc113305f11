//! Opening NIC ports (`vfio:DDDD:BB:DD.F`): the device is opened through
//! VFIO, its rings are allocated in the process's NIC region, and that
//! region's buffer pool is mapped once for DMA into the process's VFIO
//! container. All NIC ports of a process share the region and the container,
//! so buffers move between NICs by swapping indices (zero-copy bridging).

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::desc_ring::{self, DmaWindow};
use super::e1000::{self, E1000};
use super::ixgbe::{self, Ixgbe};
use super::vfio::{Container, ContainerOptions, Device, DmaMap, Interrupts, IrqKind, MappedBar};
use super::{DriverError, Host, PciAddr};
use crate::api::abi::Direction;
use crate::api::nic::{NicBackend, NicInfo, NicRings, NicWait};
use crate::api::{ApiError, KRing, Port, QueueSet};
use crate::mem::{Region, RegionConfig, RingMem};

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

/// How to open a NIC port (from the port name's options).
#[derive(Clone, Debug)]
pub struct NicOptions {
    pub slots: u32,
    pub promiscuous: bool,
    pub link_wait: Duration,
    pub unsafe_noiommu: bool,
    pub region: RegionConfig,
    /// A named region shared with other ports and processes (`@N` in the
    /// port name: the region of pipes opened with the same `@N`), instead
    /// of the process's private NIC region.
    pub shared_region: Option<String>,
    /// Queue pairs to set up on a multi-queue NIC (`@conf:rings=N`); `-N`
    /// ports of one process then bind one each.
    pub rings: usize,
    /// Interrupt moderation of each queue's vector, in microseconds
    /// (`@conf:itr=US`; 0 = an interrupt per event).
    pub itr_us: u32,
    /// Model ports only: the cables' name (`@conf:wire=NAME`, default
    /// `ixgbewire`), so separate experiments (or tests) on one machine do
    /// not share cables.
    pub wire: Option<String>,
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
            wire: None,
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

/// A NIC driven through VFIO: the driver plus what must outlive it.
/// Fields drop in order: the driver (and its BAR mapping), the device, then
/// the shared context (which unmaps DMA when the last port goes).
struct VfioNic {
    nic: E1000<MappedBar>,
    /// The device's interrupt, when VFIO offers one (INTx on 8254x, MSI on
    /// 82574L).
    irq: Option<Interrupts>,
    _device: Device,
    _ctx: Arc<NicContext>,
}

impl NicBackend for VfioNic {
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.txsync(region, ring, mem, kring)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.rxsync(region, ring, mem, kring)
    }
    fn link_up(&self) -> bool {
        self.nic.link_up()
    }
    fn info(&mut self) -> NicInfo {
        self.nic.info()
    }
    fn set_promiscuous(&mut self, on: bool) {
        self.nic.set_promiscuous(on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        self.nic.set_mac(mac)
    }
    fn shutdown(&mut self, region: &Region) {
        self.nic.shutdown(region)
    }
    fn arm_wait(&self, dir: Direction, _ring: usize, kring: &KRing) -> NicWait {
        let Some(irq) = &self.irq else {
            return NicWait::Unavailable;
        };
        // Drain old signals first, so the fd wakes us only for new ones.
        let _ = irq.take(0);
        if self.nic.arm_interrupts(dir, kring) {
            return NicWait::Ready;
        }
        NicWait::Fd(irq.eventfd(0).as_raw_fd())
    }
    fn disarm_wait(&self) {
        self.nic.disarm_interrupts();
        if let Some(irq) = &self.irq {
            // INTx stays masked by the kernel after it fired, until the
            // cause is cleared at the device (done above) and we unmask.
            if irq.kind() == IrqKind::Intx {
                let _ = irq.unmask_intx();
            }
        }
    }
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

/// Opens `addr` as a port named `name`: all its rings, or with `queue`
/// (`-N`) one queue pair of a multi-queue NIC, which the other `-N` ports
/// of the process share (see [`QueueSet`]).
pub fn open(
    name: &str,
    addr: PciAddr,
    opts: &NicOptions,
    queue: Option<usize>,
) -> Result<Port, ApiError> {
    let key = format!("vfio:{addr}");
    if let Some(set) = queue.and_then(|_| QueueSet::find(&key)) {
        return Port::from_queue(name, &set, queue.unwrap_or_default());
    }
    let (ctx, device) = open_device(addr, opts)?;
    let (vendor, device_id) = (device.config_u16(0)?, device.config_u16(2)?);
    if let Some(chip) = ixgbe::Chip::from_device_id(vendor, device_id) {
        return match queue {
            None => {
                let (nic, irq, rings) = init_ixgbe(addr, chip, &ctx, &device, opts)?;
                let backend = VfioIxgbe {
                    nic,
                    irq,
                    _device: device,
                    _ctx: ctx.clone(),
                };
                Ok(Port::from_nic(
                    name,
                    ctx.region.clone(),
                    rings,
                    Box::new(backend),
                ))
            }
            Some(q) => {
                let set = QueueSet::find_or_create(&key, || {
                    let (nic, irq, rings) = init_ixgbe(addr, chip, &ctx, &device, opts)?;
                    let (irq, device) = (irq.map(Arc::new), Arc::new(device));
                    let queues = ixgbe::split(nic)
                        .into_iter()
                        .map(|queue| {
                            Box::new(VfioIxgbeQueue {
                                queue,
                                irq: irq.clone(),
                                _device: device.clone(),
                                _ctx: ctx.clone(),
                            }) as Box<dyn NicBackend>
                        })
                        .collect();
                    Ok((ctx.region.clone(), rings, queues))
                })?;
                Port::from_queue(name, &set, q)
            }
        };
    }
    let Some(model) = e1000::Model::from_device_id(vendor, device_id) else {
        return Err(DriverError::UnsupportedDevice {
            addr: addr.to_string(),
            vendor,
            device: device_id,
        }
        .into());
    };
    e1000_queue_request(addr, model, opts.rings, queue)?;
    device.enable_bus_master()?;
    let bar = device.map_bar(0)?;
    let region = &ctx.region;
    let rings = NicRings::allocate(region, &addr.to_string(), 1, opts.slots)?;
    let nic = init_e1000(bar, model, &ctx, &rings, opts, addr);
    match nic {
        Ok(nic) => {
            nic.disarm_interrupts();
            let irq = enable_irq(&device);
            let backend = VfioNic {
                nic,
                irq,
                _device: device,
                _ctx: ctx.clone(),
            };
            Ok(Port::from_nic(
                name,
                ctx.region.clone(),
                rings,
                Box::new(backend),
            ))
        }
        Err(e) => {
            rings.free(region);
            Err(e.into())
        }
    }
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
    let tx = region.ring(rings.tx[0].0, rings.num_slots);
    let rx = region.ring(rings.rx[0].0, rings.num_slots);
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
) -> Result<(Ixgbe<MappedBar>, Option<Interrupts>, NicRings), ApiError> {
    device.enable_bus_master()?;
    let bar = device.map_bar(0)?;
    let region = &ctx.region;
    let rings = NicRings::allocate(region, &addr.to_string(), opts.rings, opts.slots)?;
    let ixgbe_opts = ixgbe::Options {
        promiscuous: opts.promiscuous,
        link_wait: opts.link_wait,
        ..ixgbe::Options::default()
    };
    let nic = match Ixgbe::init(bar, chip, region, ctx.window, &rings, ixgbe_opts) {
        Ok(nic) => nic,
        Err(source) => {
            rings.free(region);
            return Err(DriverError::Ixgbe {
                device: format!("{addr} ({})", chip.name()),
                source,
            }
            .into());
        }
    };
    let vectors = opts.rings.min(16);
    let irq = match device.enable_interrupts(IrqKind::Msix, vectors as u32) {
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
    };
    Ok((nic, irq, rings))
}

/// An ixgbe NIC, all queues in one port.
struct VfioIxgbe {
    nic: Ixgbe<MappedBar>,
    irq: Option<Interrupts>,
    _device: Device,
    _ctx: Arc<NicContext>,
}

impl NicBackend for VfioIxgbe {
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.txsync(region, ring, mem, kring)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.nic.rxsync(region, ring, mem, kring)
    }
    fn link_up(&self) -> bool {
        self.nic.link_up()
    }
    fn info(&mut self) -> NicInfo {
        self.nic.info()
    }
    fn set_promiscuous(&mut self, on: bool) {
        Ixgbe::set_promiscuous(&mut self.nic, on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        Ixgbe::set_mac(&mut self.nic, mac)
    }
    fn shutdown(&mut self, region: &Region) {
        self.nic.shutdown(region)
    }
    fn arm_wait(&self, dir: Direction, ring: usize, kring: &KRing) -> NicWait {
        match &self.irq {
            Some(irq) if ring < irq.count() => {
                let _ = irq.take(ring);
                if self.nic.arm_queue_interrupt(dir, ring, kring) {
                    NicWait::Ready
                } else {
                    NicWait::Fd(irq.eventfd(ring).as_raw_fd())
                }
            }
            _ => NicWait::Unavailable,
        }
    }
    fn disarm_wait(&self) {
        self.nic.disarm_queue_interrupts();
    }
}

/// One queue pair of an ixgbe NIC, for a `-N` port.
struct VfioIxgbeQueue {
    queue: ixgbe::IxgbeQueue<MappedBar>,
    irq: Option<Arc<Interrupts>>,
    _device: Arc<Device>,
    _ctx: Arc<NicContext>,
}

impl NicBackend for VfioIxgbeQueue {
    fn txsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.queue.txsync(region, ring, mem, kring)
    }
    fn rxsync(
        &mut self,
        region: &Region,
        ring: usize,
        mem: &RingMem<'_>,
        kring: &mut KRing,
    ) -> Result<(), ApiError> {
        self.queue.rxsync(region, ring, mem, kring)
    }
    fn link_up(&self) -> bool {
        self.queue.link_up()
    }
    fn info(&mut self) -> NicInfo {
        self.queue.info()
    }
    fn set_promiscuous(&mut self, on: bool) {
        self.queue.set_promiscuous(on)
    }
    fn set_mac(&mut self, mac: [u8; 6]) {
        self.queue.set_mac(mac)
    }
    fn shutdown(&mut self, region: &Region) {
        self.queue.shutdown(region)
    }
    fn arm_wait(&self, dir: Direction, _ring: usize, kring: &KRing) -> NicWait {
        let vector = self.queue.index();
        match &self.irq {
            Some(irq) if vector < irq.count() => {
                let _ = irq.take(vector);
                if self.queue.arm_interrupt(dir, kring) {
                    NicWait::Ready
                } else {
                    NicWait::Fd(irq.eventfd(vector).as_raw_fd())
                }
            }
            _ => NicWait::Unavailable,
        }
    }
    fn disarm_wait(&self) {
        self.queue.disarm_interrupt();
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
