//! `vfio:DDDD:BB:DD.F`: a NIC bound to vfio-pci, driven by our driver.

use super::conf::{Accepts, Conf};
use super::error::PortError;
use super::name::PortName;
use super::nic::{from_opened, nic_options, queue};
use crate::api::{Port, pipe};
use crate::driver::{PciAddr, attach};

/// What a VFIO NIC's name may carry.
const ACCEPTS: Accepts = Accepts {
    kind: "a VFIO NIC",
    options: &["unsafe-noiommu"],
    conf: &["slots", "promisc", "link-wait", "bufs", "rings", "itr"],
};

/// Opens the NIC at `addr` as the port named `port`.
pub(super) fn open(port: &str, parsed: &PortName, addr: PciAddr) -> Result<Port, PortError> {
    let conf = Conf::check(port, parsed, &ACCEPTS)?;
    let mut opts = nic_options(port, &conf)?;
    opts.unsafe_noiommu = conf.has("unsafe-noiommu");
    // `@N`: the region pipes opened with the same `@N` use, so buffers move
    // between this NIC and those pipes (and their processes) by index.
    opts.shared_region = parsed.mem_id.map(|n| pipe::region_file(&format!("mem{n}")));
    let queue = queue(parsed, &opts);
    from_opened(port, attach::open(addr, &opts, queue)?, queue)
}
