//! Model-backed ports: the IOMMU stand-in over a region's buffer pool and a
//! builder of two connected `Port`s, each an ixgbe driver on an 82599
//! model (what `model:ixgbe0` / `model:ixgbe1` open).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Config, Dma, IxgbeModel, ModelRegs, Runner};
use vfio_netmap::api::Port;
use vfio_netmap::api::{NicParts, NicRings};
use vfio_netmap::driver::desc_ring::DmaWindow;
use vfio_netmap::driver::ixgbe::{Chip, Ixgbe, IxgbeError, Options};
use vfio_netmap::mem::Region;

/// Where the model sees the region's buffer pool.
pub const IOVA_BASE: u64 = 0x7_0000_0000;

/// The IOMMU stand-in: only the region's buffer pool is mapped, at
/// `IOVA_BASE`; an access that leaves a buffer fails.
pub struct RegionDma(pub Arc<Region>);

impl RegionDma {
    fn locate(&self, iova: u64, len: usize) -> Option<(u32, usize)> {
        let bs = self.0.buf_size() as u64;
        let rel = iova.checked_sub(IOVA_BASE)?;
        let (idx, off) = ((rel / bs) as u32, (rel % bs) as usize);
        let idx_ok = rel / bs <= u32::MAX as u64 && self.0.valid_buf(idx);
        (idx_ok && off + len <= bs as usize).then_some((idx, off))
    }
}

impl Dma for RegionDma {
    fn read(&self, iova: u64, buf: &mut [u8]) -> bool {
        let Some((idx, off)) = self.locate(iova, buf.len()) else {
            return false;
        };
        // SAFETY: the model plays the device, which owns these buffers by
        // the descriptor protocol while it processes them.
        let Some(src) = (unsafe { self.0.buf(idx) }) else {
            return false;
        };
        buf.copy_from_slice(&src[off..off + buf.len()]);
        true
    }
    fn write(&self, iova: u64, data: &[u8]) -> bool {
        let Some((idx, off)) = self.locate(iova, data.len()) else {
            return false;
        };
        // SAFETY: as above.
        let Some(dst) = (unsafe { self.0.buf_mut(idx) }) else {
            return false;
        };
        dst[off..off + data.len()].copy_from_slice(data);
        true
    }
    fn store_status(&self, iova: u64, value: u32) -> bool {
        let Some((idx, off)) = self.locate(iova, 4) else {
            return false;
        };
        // SAFETY: as above.
        let Some(dst) = (unsafe { self.0.buf_mut(idx) }) else {
            return false;
        };
        let ptr = dst[off..].as_mut_ptr().cast::<u32>();
        if !ptr.is_aligned() {
            return false;
        }
        // SAFETY: aligned, inside the buffer (checked by `locate`), and
        // every access the model makes to it is this one atomic store.
        let status = unsafe { AtomicU32::from_ptr(ptr) };
        status.store(u32::to_le(value), Ordering::Release);
        true
    }
}

/// The DMA window matching [`RegionDma`].
pub fn window(region: &Region) -> DmaWindow {
    DmaWindow {
        base: IOVA_BASE,
        buf_size: region.buf_size() as u64,
    }
}

/// The 82599 SFP+ the model stands for.
pub fn chip() -> Chip {
    Chip::from_device_id(0x8086, 0x10fb).expect("82599 SFP+ id")
}

/// Options for model ports: short waits.
pub fn model_options() -> Options {
    Options {
        link_wait: Duration::from_millis(200),
        init_timeout: Duration::from_millis(200),
        ..Options::default()
    }
}

/// Opens a port named `name` with `queues` queue pairs of `slots` slots on
/// `model`.
pub fn open_port(
    region: &Arc<Region>,
    model: &Arc<IxgbeModel>,
    name: &str,
    queues: usize,
    slots: u32,
    opts: Options,
) -> Result<Port, IxgbeError> {
    let rings = NicRings::allocate(region, name, queues, slots)?;
    match Ixgbe::init(
        ModelRegs(model.clone()),
        chip(),
        region,
        window(region),
        &rings,
        opts,
    ) {
        Ok(nic) => Ok(Port::from_nic(
            name,
            NicParts::new(region.clone(), rings, Box::new(nic)),
        )),
        Err(e) => {
            rings.free(region);
            Err(e)
        }
    }
}

/// Two ports whose models are joined by a wire.
pub struct ModelPair {
    pub a: Port,
    pub b: Port,
    pub model_a: Arc<IxgbeModel>,
    pub model_b: Arc<IxgbeModel>,
    /// Model threads (threaded mode); dropped after the ports.
    pub runners: Vec<Runner>,
}

/// MAC addresses of the pair's ports.
pub const MAC_A: [u8; 6] = [2, 0, 0, 0, 0x10, 0xa];
pub const MAC_B: [u8; 6] = [2, 0, 0, 0, 0x10, 0xb];

/// Builds `model:ixgbe0` (a) and `model:ixgbe1` (b) in `region`: two
/// 82599 models on a wire, each driven by the ixgbe driver with `queues`
/// queue pairs of `slots` slots. `threaded`: the models run in their own
/// threads, polling tails like hardware.
pub fn connected_pair(
    region: &Arc<Region>,
    queues: usize,
    slots: u32,
    threaded: bool,
) -> Result<ModelPair, IxgbeError> {
    let dma: Arc<dyn Dma> = Arc::new(RegionDma(region.clone()));
    let model_a = IxgbeModel::new(Config::new(MAC_A), dma.clone());
    let model_b = IxgbeModel::new(Config::new(MAC_B), dma);
    IxgbeModel::connect(&model_a, &model_b);
    let runners = if threaded {
        vec![model_a.start(), model_b.start()]
    } else {
        Vec::new()
    };
    let a = open_port(
        region,
        &model_a,
        "model:ixgbe0",
        queues,
        slots,
        model_options(),
    )?;
    let b = open_port(
        region,
        &model_b,
        "model:ixgbe1",
        queues,
        slots,
        model_options(),
    )?;
    Ok(ModelPair {
        a,
        b,
        model_a,
        model_b,
        runners,
    })
}
