//! Rings of a NIC port, allocated in a region: one TX and one RX ring per
//! queue, every slot with its own buffer.

use crate::abi::{Direction, NetmapSlot};
use crate::mem::{MemError, Region};

use super::kring::{KRing, RingId};

/// Rings of a NIC port, allocated in a region: one TX and one RX ring per
/// queue, every slot with its own buffer.
#[derive(Debug)]
pub struct NicRings {
    /// Offset of the `netmap_if` in the region.
    pub if_offset: usize,
    /// TX rings in queue order: (offset in the region, initial state).
    pub tx: Vec<(usize, KRing)>,
    /// RX rings in queue order: (offset in the region, initial state).
    pub rx: Vec<(usize, KRing)>,
    /// Slots per ring.
    pub num_slots: u32,
}

impl NicRings {
    /// Allocates `queues` ring pairs of `num_slots` slots (each slot with a
    /// buffer) and a `netmap_if` listing them, named `name`.
    pub fn allocate(
        region: &Region,
        name: &str,
        queues: usize,
        num_slots: u32,
    ) -> Result<NicRings, MemError> {
        region.locked(|| -> Result<NicRings, MemError> {
            let if_offset = region.alloc_if()?;
            let mut tx = Vec::new();
            let mut rx = Vec::new();
            for dir in [Direction::Tx, Direction::Rx] {
                for q in 0..queues {
                    let off = region.alloc_ring()?;
                    let id = RingId {
                        dir,
                        index: q as u16,
                    };
                    let kring = KRing::new(id, num_slots);
                    let ring = region.ring(off, num_slots)?;
                    ring.init(
                        q as u16,
                        dir,
                        region.buf_ofs_from(off),
                        region.buf_size(),
                        kring.hwtail,
                    );
                    let bufs = region.alloc_bufs(num_slots as usize)?;
                    for (k, b) in bufs.into_iter().enumerate() {
                        ring.set_slot(
                            k as u32,
                            NetmapSlot {
                                buf_idx: b,
                                len: 0,
                                flags: 0,
                                ptr: 0,
                            },
                        );
                    }
                    if dir == Direction::Tx {
                        tx.push((off, kring))
                    } else {
                        rx.push((off, kring))
                    }
                }
            }
            let offs = |v: &Vec<(usize, KRing)>| v.iter().map(|(o, _)| *o).collect::<Vec<_>>();
            region.write_netmap_if(if_offset, name, &offs(&tx), &offs(&rx))?;
            Ok(NicRings {
                if_offset,
                tx,
                rx,
                num_slots,
            })
        })?
    }

    /// Returns rings and their buffers to the region. The offsets are this
    /// process's own; buffer indices in the slots are checked by
    /// `free_buf`.
    pub fn free(&self, region: &Region) {
        let _ = region.locked(|| {
            for (off, _) in self.tx.iter().chain(&self.rx) {
                if let Ok(ring) = region.ring(*off, self.num_slots) {
                    (0..self.num_slots).for_each(|k| {
                        region.free_buf(ring.slot(k).buf_idx);
                    });
                }
                let _ = region.free_ring(*off);
            }
            super::pipe::free_extra_list(region, self.if_offset);
            let _ = region.free_if(self.if_offset);
        });
    }
}
