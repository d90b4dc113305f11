//! Multi-queue NICs shared by `-N` ports of one process: netmap lets each
//! thread bind one ring pair of a NIC (`vfio:ADDR-3`), so the device is
//! initialised once, with all its queues, by the first such port; every
//! queue pair gets its own backend (its own tail registers and descriptors,
//! no lock on the fast path), and ports take and give back those backends.
//!
//! A queue keeps running while no port holds it (its ring state is kept,
//! so a reopened port continues where the last one stopped); the device
//! stops and its rings return to the pool when the last port of the set
//! closes.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use super::backend::Backend;
use super::error::ApiError;
use super::kring::KRing;
use super::nic_rings::NicRings;
use crate::mem::Region;

/// A queue pair nobody holds: its backend and its rings' state.
pub(crate) struct IdleQueue {
    pub driver: Box<dyn Backend>,
    pub tx: KRing,
    pub rx: KRing,
}

/// One multi-queue NIC, opened once, served to `-N` ports.
pub struct QueueSet {
    key: String,
    pub(crate) region: Arc<Region>,
    pub(crate) rings: NicRings,
    idle: Mutex<Vec<Option<IdleQueue>>>,
    /// What the backends need alive (the device, a DMA mapping), dropped
    /// after them.
    _keep_alive: Box<dyn Any + Send + Sync>,
}

/// What a driver hands over to serve `-N` ports: the region, the rings,
/// one backend per queue pair in queue order, and what must outlive them.
pub struct QueueParts {
    /// The region the rings live in.
    pub region: Arc<Region>,
    /// Every ring of the NIC.
    pub rings: NicRings,
    /// One backend per queue pair.
    pub queues: Vec<Box<dyn Backend>>,
    /// Dropped after the backends.
    pub keep_alive: Box<dyn Any + Send + Sync>,
}

/// Every set of the process, by key (e.g. `vfio:0000:00:03.0`).
static SETS: Mutex<Vec<Weak<QueueSet>>> = Mutex::new(Vec::new());

impl QueueSet {
    /// The set for `key`, created by `create` (region, rings, one backend
    /// per queue pair in queue order) if no port of the process has it open.
    pub fn find_or_create<E>(
        key: &str,
        create: impl FnOnce() -> Result<QueueParts, E>,
    ) -> Result<Arc<QueueSet>, E> {
        let mut sets = SETS.lock().unwrap_or_else(|e| e.into_inner());
        sets.retain(|w| w.strong_count() > 0);
        if let Some(set) = sets.iter().filter_map(Weak::upgrade).find(|s| s.key == key) {
            return Ok(set);
        }
        let QueueParts {
            region,
            rings,
            queues,
            keep_alive,
        } = create()?;
        let idle = queues
            .into_iter()
            .enumerate()
            .map(|(q, driver)| {
                Some(IdleQueue {
                    driver,
                    tx: rings.tx[q].1,
                    rx: rings.rx[q].1,
                })
            })
            .collect();
        let set = Arc::new(QueueSet {
            key: key.to_string(),
            region,
            rings,
            idle: Mutex::new(idle),
            _keep_alive: keep_alive,
        });
        sets.push(Arc::downgrade(&set));
        Ok(set)
    }

    /// The set for `key`, if a port of the process has it open.
    pub fn find(key: &str) -> Option<Arc<QueueSet>> {
        let sets = SETS.lock().unwrap_or_else(|e| e.into_inner());
        sets.iter().filter_map(Weak::upgrade).find(|s| s.key == key)
    }

    /// How many queue pairs the device was set up with.
    pub fn queues(&self) -> usize {
        self.rings.tx.len()
    }

    /// Takes queue pair `q` for port `port`.
    pub(crate) fn take(&self, port: &str, q: usize) -> Result<IdleQueue, ApiError> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let count = idle.len() as u32;
        match idle.get_mut(q) {
            None => Err(ApiError::QueueOutOfRange {
                port: port.to_string(),
                index: q as u32,
                count,
            }),
            Some(slot) => slot.take().ok_or_else(|| ApiError::QueueBusy {
                port: port.to_string(),
                index: q as u32,
            }),
        }
    }

    /// Gives queue pair `q` back when its port closes.
    pub(crate) fn give_back(&self, q: usize, queue: IdleQueue) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = idle.get_mut(q) {
            *slot = Some(queue);
        }
    }
}

impl Drop for QueueSet {
    fn drop(&mut self) {
        // Every port is closed, so every queue is here: stop them all (the
        // last one stops the device), then the rings go back to the pool.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        for mut queue in idle.into_iter().flatten() {
            queue.driver.close(&self.region);
        }
        self.rings.free(&self.region);
    }
}
