//! A netmap memory region: one contiguous mapping holding a header,
//! `netmap_if`s, rings and a pool of fixed-size buffers, laid out so that
//! netmap's address arithmetic holds (`ring + buf_ofs + idx * nr_buf_size`).
//!
//! Regions are private (a memfd, one process) or named (a file in hugetlbfs
//! or /dev/shm that several processes map). Allocation of rings, interfaces
//! and buffers happens at open time under a lock; the fast path never
//! allocates.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::error::{MemError, Scarce};
use super::mapping::{Backing, HUGEPAGE_SIZE, Mapping, RangeLocks};
use super::ring_mem::RingMem;
use crate::abi::NETMAP_RING_HEADER;

const MAGIC: u64 = u64::from_le_bytes(*b"VFNMREG1");
const VERSION: u32 = 2;
const PAGE: usize = 4096;

/// The largest ring (slots) a region holds.
pub const MAX_RING_SLOTS: u32 = 16384;

/// Which buffer indices and lengths a slot may carry (see
/// [`Region::buf_bounds`]).
#[derive(Clone, Copy, Debug)]
pub struct BufBounds {
    usable: u32,
    buf_size: u32,
}

impl BufBounds {
    /// `idx` names a usable buffer and `len` fits in one: one subtraction
    /// and two compares.
    #[inline(always)]
    pub fn slot_ok(&self, idx: u32, len: u16) -> bool {
        idx.wrapping_sub(FIRST_USABLE_BUF) < self.usable && len as u32 <= self.buf_size
    }

    /// `idx` names a usable buffer: one subtraction and one compare.
    #[inline(always)]
    pub fn buf_ok(&self, idx: u32) -> bool {
        idx.wrapping_sub(FIRST_USABLE_BUF) < self.usable
    }
}

/// Bytes reserved at the start of the region for the header and the control
/// area that port types (pipes) keep there.
const HEADER_BYTES: usize = 64 << 10;
/// Start of the control area inside the header.
pub const CONTROL_OFFSET: usize = PAGE;
/// Size of the control area.
pub const CONTROL_BYTES: usize = HEADER_BYTES - PAGE;
/// Size of one `netmap_if` chunk: room for 56 bytes plus 500 ring offsets.
pub const IF_CHUNK: usize = PAGE;
/// Buffers 0 and 1 are reserved, as in netmap.
pub const FIRST_USABLE_BUF: u32 = 2;

/// Lock bytes on the region file. Byte 0 serialises open/close; each open
/// handle holds one "user" byte so the last one out can remove the file;
/// port types claim bytes from `PORT_LOCK_BASE` up.
const ADMIN_LOCK: u64 = 0;
const USER_LOCK_BASE: u64 = 1;
const MAX_USERS: u64 = 4095;
/// First lock byte available to port types (pipes claim one byte per end
/// from here).
pub const PORT_LOCK_BASE: u64 = 1 << 20;

/// Sizes of a region, fixed when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionConfig {
    /// Bytes per buffer (netmap's `nr_buf_size`).
    pub buf_size: u32,
    /// Buffers in the pool, including the two reserved ones.
    pub num_bufs: u32,
    /// Largest ring (slots) the region can hold.
    pub max_slots: u32,
    /// Rings the region can hold.
    pub num_rings: u32,
    /// `netmap_if`s the region can hold.
    pub num_ifs: u32,
}

impl Default for RegionConfig {
    fn default() -> Self {
        RegionConfig {
            buf_size: 2048,
            num_bufs: 16384,
            max_slots: 4096,
            num_rings: 64,
            num_ifs: 32,
        }
    }
}

impl RegionConfig {
    fn validate(&self) -> Result<(), MemError> {
        let bad = |m: String| Err(MemError::BadConfig(m));
        if !(64..=65536).contains(&self.buf_size) || self.buf_size % 64 != 0 {
            return bad(format!("buffer size {}", self.buf_size));
        }
        if !(8..=MAX_RING_SLOTS).contains(&self.max_slots) {
            return bad(format!("max slots {}", self.max_slots));
        }
        if self.num_bufs < FIRST_USABLE_BUF + 8 || self.num_rings == 0 || self.num_ifs == 0 {
            return bad(format!("{self:?}"));
        }
        if self.checked_layout().is_none() {
            return bad(format!(
                "{self:?} does not fit in this machine's address space"
            ));
        }
        Ok(())
    }

    fn ring_chunk(&self) -> usize {
        round_up(NETMAP_RING_HEADER + 16 * self.max_slots as usize, PAGE)
    }

    /// The layout of a validated configuration.
    fn layout(&self) -> Layout {
        self.checked_layout()
            .expect("validate() checked that the layout fits in usize")
    }

    /// The layout, or `None` if a size overflows `usize` (values come from
    /// port names and from region files other processes write).
    fn checked_layout(&self) -> Option<Layout> {
        let mul = |a: usize, b: u32| a.checked_mul(b as usize);
        let words = |bits: u32| (bits as usize).div_ceil(64);
        let if_area = HEADER_BYTES;
        let ring_area = if_area.checked_add(mul(IF_CHUNK, self.num_ifs)?)?;
        let bitmaps = ring_area.checked_add(mul(self.ring_chunk(), self.num_rings)?)?;
        let buf_bitmap = bitmaps;
        let ring_bitmap = buf_bitmap.checked_add(8 * words(self.num_bufs))?;
        let if_bitmap = ring_bitmap.checked_add(8 * words(self.num_rings))?;
        let buf_bytes = mul(self.buf_size as usize, self.num_bufs)?;
        // A pool of 2 MiB or more starts on a 2 MiB boundary, so that in
        // hugepage-backed memory the IOMMU (and a vIOMMU's IOTLB) can map
        // it with 2 MiB pages, the IOVA being 2 MiB-aligned as well.
        let buf_align = if buf_bytes >= HUGEPAGE_SIZE {
            HUGEPAGE_SIZE
        } else {
            PAGE
        };
        let bitmaps_end = if_bitmap.checked_add(8 * words(self.num_ifs))?;
        let buf_area = bitmaps_end.checked_next_multiple_of(buf_align)?;
        // Room to round the total up to a hugepage for hugetlbfs files.
        let total = buf_area.checked_add(buf_bytes)?;
        total.checked_add(HUGEPAGE_SIZE)?;
        Some(Layout {
            if_area,
            ring_area,
            buf_bitmap,
            ring_bitmap,
            if_bitmap,
            buf_area,
            total,
        })
    }
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// The region's pools of `netmap_if`s, rings and buffers: offsets from the
/// region's start, object counts and sizes (netmap's `nmreq_pools_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pools {
    /// Offset of the first `netmap_if` chunk.
    pub if_offset: usize,
    /// Number of `netmap_if` chunks.
    pub if_count: u32,
    /// Bytes per `netmap_if` chunk.
    pub if_size: u32,
    /// Offset of the first ring chunk.
    pub ring_offset: usize,
    /// Number of ring chunks.
    pub ring_count: u32,
    /// Bytes per ring chunk.
    pub ring_size: u32,
    /// Offset of buffer 0.
    pub buf_offset: usize,
    /// Number of buffers, the two reserved ones included.
    pub buf_count: u32,
    /// Bytes per buffer.
    pub buf_size: u32,
}

/// Byte offsets of the areas inside the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    if_area: usize,
    ring_area: usize,
    buf_bitmap: usize,
    ring_bitmap: usize,
    if_bitmap: usize,
    buf_area: usize,
    total: usize,
}

/// The first page of every region. Plain fields are written once before
/// `magic` is published and never change afterwards.
#[repr(C)]
struct RegionHeader {
    magic: AtomicU64,
    version: u32,
    buf_size: u32,
    num_bufs: u32,
    max_slots: u32,
    num_rings: u32,
    num_ifs: u32,
    total: u64,
    free_bufs: AtomicU32,
}

/// Marker for types that may live in a region's control area and be shared
/// between processes.
///
/// # Safety
/// The type must be valid for every bit pattern (the area starts zeroed and
/// another process may write anything) and have only interior-mutable fields
/// (atomics), since it is reached through a shared reference.
pub unsafe trait SharedControl: Sync {}

/// One open handle on a region.
pub struct Region {
    name: String,
    mapping: Mapping,
    config: RegionConfig,
    layout: Layout,
    user_lock: Option<u64>,
    /// Serialises allocation between threads of this process; the file's
    /// admin lock does it between processes.
    alloc: Mutex<()>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("backing", self.mapping.backing())
            .finish()
    }
}

// SAFETY: the region's memory is shared by design; every access through
// `Region` goes through atomics, volatile accessors or `unsafe` functions
// whose callers own the slot or buffer they touch.
unsafe impl Send for Region {}
// SAFETY: as above; allocation is serialised by `alloc`.
unsafe impl Sync for Region {}

impl Region {
    /// A region private to this process.
    pub fn private(name: &str, config: RegionConfig) -> Result<Region, MemError> {
        config.validate()?;
        let layout = config.layout();
        super::mapping::check_size(name, layout.total as u64)?;
        let mapping = Mapping::private(name, layout.total)?;
        let region = Region {
            name: name.to_string(),
            mapping,
            config,
            layout,
            user_lock: None,
            alloc: Mutex::new(()),
        };
        region.initialize();
        Ok(region)
    }

    /// Opens the named region shared between processes, creating it with
    /// `config` if it does not exist (or nobody uses it any more). `requested`
    /// says whether `config` was asked for explicitly (then an existing
    /// region of another shape is an error) or is only the default.
    /// `under_lock` runs with the region's admin lock held, so a caller can
    /// claim parts of it atomically with respect to other processes.
    pub fn open_shared<T>(
        name: &str,
        config: RegionConfig,
        requested: bool,
        under_lock: impl FnOnce(&Region) -> Result<T, MemError>,
    ) -> Result<(Region, T), MemError> {
        config.validate()?;
        let total = config.layout().total;
        // Refused before anything is created (hugetlbfs files round up).
        super::mapping::check_size(name, round_up(total, HUGEPAGE_SIZE) as u64)?;
        loop {
            let (file, backing, created) = Mapping::open_shared_file(name, total)?;
            // The admin lock belongs to the open file description, which this
            // second descriptor keeps open (and locked) until a failed open
            // has removed the file it created.
            let keep = file.try_clone().map_err(|e| lock_err(name, e))?;
            let locks = RangeLocks::new(&keep);
            let locked = locks.lock_wait(ADMIN_LOCK).map_err(|e| lock_err(name, e));
            if let Err(e) = locked {
                remove_if_created(created, &keep, &backing);
                return Err(e);
            }
            if !still_linked(&file, &backing) {
                continue; // removed by the last user while we waited: retry
            }
            let cleanup = created.then(|| backing.clone());
            let result =
                Self::open_locked(name, file, backing, config, requested).and_then(|mut region| {
                    region.claim_user_lock()?;
                    let value = under_lock(&region)?;
                    Ok((region, value))
                });
            match &result {
                Ok((region, _)) => {
                    let _ = RangeLocks::new(region.mapping.file()).unlock(ADMIN_LOCK);
                }
                // Closing `keep` (the last descriptor) releases the lock.
                Err(_) => {
                    if let Some(backing) = cleanup {
                        remove_if_created(true, &keep, &backing);
                    }
                }
            }
            return result;
        }
    }

    fn open_locked(
        name: &str,
        file: File,
        backing: Backing,
        config: RegionConfig,
        requested: bool,
    ) -> Result<Region, MemError> {
        let in_use = others_hold_users(&file);
        if !in_use {
            // New, or left behind by processes that are gone: (re)create.
            // hugetlbfs files are sized and mapped in whole hugepages.
            let total = if backing.hugepages() {
                super::mapping::round_up(config.layout().total, super::mapping::HUGEPAGE_SIZE)
            } else {
                config.layout().total
            };
            let size_err = |source| MemError::Map {
                name: name.to_string(),
                size: total,
                source,
            };
            file.set_len(0).map_err(size_err)?;
            file.set_len(total as u64).map_err(size_err)?;
            let mapping = Mapping::map_shared(name, file, backing)?;
            let region = Region::from_parts(name, mapping, config);
            region.initialize();
            return Ok(region);
        }
        // In use by others: its size and header are checked before anything
        // past the header is touched, so a file that shrank is an error
        // here and not a SIGBUS later.
        let path = backing.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let shrunk = |expected: usize| MemError::Shrunk {
            path: path.clone(),
            size,
            expected: expected as u64,
        };
        if size < HEADER_BYTES as u64 {
            return Err(shrunk(HEADER_BYTES));
        }
        let mapping = Mapping::map_shared(name, file, backing)?;
        let header = read_header_config(&mapping);
        // A truncation while the header was read shows as zeros: say so.
        let region_err = |e| {
            if mapping.truncated() {
                MemError::Truncated {
                    name: name.to_string(),
                    path: path.clone(),
                }
            } else {
                e
            }
        };
        let existing = header.map_err(|(magic, version)| {
            region_err(MemError::Foreign {
                path: path.clone(),
                magic,
                version,
            })
        })?;
        if existing.layout().total > mapping.len() {
            return Err(shrunk(existing.layout().total));
        }
        if requested && existing != config {
            return Err(MemError::ConfigMismatch {
                name: name.to_string(),
                existing: format!("{existing:?}"),
                requested: format!("{config:?}"),
            });
        }
        let region = Region::from_parts(name, mapping, existing);
        region.intact()?;
        Ok(region)
    }

    /// Whether the region's memory is still the shared file's. If someone
    /// truncated the file while this process used it, touching the lost
    /// pages raised SIGBUS, which the trap in `mem` answered by putting
    /// zeroed private memory in place of the whole region: the process lives
    /// on, but the region is dead and this returns
    /// [`MemError::Truncated`]. Cheap (one relaxed atomic load), for the
    /// sync path; always `Ok` for private regions.
    #[inline]
    pub fn intact(&self) -> Result<(), MemError> {
        if !self.mapping.truncated() {
            return Ok(());
        }
        Err(MemError::Truncated {
            name: self.name.clone(),
            path: self
                .mapping
                .backing()
                .path()
                .map(|p| p.to_path_buf())
                .unwrap_or_default(),
        })
    }

    fn from_parts(name: &str, mapping: Mapping, config: RegionConfig) -> Region {
        Region {
            name: name.to_string(),
            mapping,
            config,
            layout: config.layout(),
            user_lock: None,
            alloc: Mutex::new(()),
        }
    }

    fn claim_user_lock(&mut self) -> Result<(), MemError> {
        let locks = RangeLocks::new(self.mapping.file());
        for i in 0..MAX_USERS {
            if locks
                .try_lock(USER_LOCK_BASE + i)
                .map_err(|e| lock_err(&self.name, e))?
            {
                self.user_lock = Some(USER_LOCK_BASE + i);
                return Ok(());
            }
        }
        Err(MemError::Exhausted {
            name: self.name.clone(),
            what: Scarce::UserSlots,
            wanted: 1,
            free: 0,
        })
    }

    /// Writes a fresh header and reserves buffers 0 and 1.
    fn initialize(&self) {
        let h = self.header_ptr();
        // SAFETY: the header lies at the start of our mapping, which is at
        // least HEADER_BYTES long; nobody else uses the region yet (new
        // private mapping, or the admin lock is held with no other users).
        unsafe {
            (*h).version = VERSION;
            (*h).buf_size = self.config.buf_size;
            (*h).num_bufs = self.config.num_bufs;
            (*h).max_slots = self.config.max_slots;
            (*h).num_rings = self.config.num_rings;
            (*h).num_ifs = self.config.num_ifs;
            (*h).total = self.layout.total as u64;
        }
        self.bitmap_set(self.layout.buf_bitmap, 0, true);
        self.bitmap_set(self.layout.buf_bitmap, 1, true);
        self.header()
            .free_bufs
            .store(self.config.num_bufs - FIRST_USABLE_BUF, Ordering::Relaxed);
        self.header().magic.store(MAGIC, Ordering::Release);
    }

    fn header_ptr(&self) -> *mut RegionHeader {
        self.mapping.as_ptr().cast()
    }

    fn header(&self) -> &RegionHeader {
        // SAFETY: the mapping starts with a RegionHeader (HEADER_BYTES are
        // reserved for it); its shared fields are atomics.
        unsafe { &*self.header_ptr() }
    }

    /// The name the region was opened or created with.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The sizes the region was created with.
    pub fn config(&self) -> &RegionConfig {
        &self.config
    }
    /// What backs the region's memory (hugepages or not).
    pub fn backing(&self) -> &Backing {
        self.mapping.backing()
    }
    /// The file holding the region's memory (a memfd, or a file in
    /// hugetlbfs or /dev/shm). Mapping it again with `MAP_SHARED` gives
    /// another view of the same bytes, which is how the `/dev/netmap`
    /// emulation hands the region to a C program's `mmap`.
    pub fn file(&self) -> &File {
        self.mapping.file()
    }
    /// Length of this process's mapping of the region, in bytes: the
    /// whole file (hugetlbfs files are whole hugepages), what netmap
    /// reports as `nr_memsize`.
    pub fn mapped_len(&self) -> usize {
        self.mapping.len()
    }
    /// Where the region's three pools lie, in netmap's terms
    /// (`NETMAP_REQ_POOLS_INFO_GET`).
    pub fn pools(&self) -> Pools {
        Pools {
            if_offset: self.layout.if_area,
            if_count: self.config.num_ifs,
            if_size: IF_CHUNK as u32,
            ring_offset: self.layout.ring_area,
            ring_count: self.config.num_rings,
            ring_size: self.config.ring_chunk() as u32,
            buf_offset: self.layout.buf_area,
            buf_count: self.config.num_bufs,
            buf_size: self.config.buf_size,
        }
    }
    /// `ni_tx_rings` and `ni_rx_rings` of the `netmap_if` at `if_offset`:
    /// every ring of the interface, bound or not.
    pub fn netmap_if_rings(&self, if_offset: usize) -> Result<(u32, u32), MemError> {
        let at = self.check_if_offset(if_offset as u64)?;
        // SAFETY: `at` starts an if chunk inside the mapping (checked); the
        // two u32 fields lie 24 and 28 bytes into it, 4-aligned. Another
        // process may write them at any time: they are read as atomics.
        let (tx, rx) = unsafe {
            let base = self.mapping.as_ptr().add(at);
            (
                &*base.add(24).cast::<AtomicU32>(),
                &*base.add(28).cast::<AtomicU32>(),
            )
        };
        Ok((tx.load(Ordering::Relaxed), rx.load(Ordering::Relaxed)))
    }
    /// Bytes per buffer (netmap's `nr_buf_size`).
    #[inline]
    pub fn buf_size(&self) -> u32 {
        self.config.buf_size
    }
    /// Buffers in the pool, including the two reserved ones.
    #[inline]
    pub fn num_bufs(&self) -> u32 {
        self.config.num_bufs
    }
    /// Buffers currently free in the pool, across every process using the
    /// region.
    pub fn free_bufs(&self) -> u32 {
        self.header().free_bufs.load(Ordering::Relaxed)
    }
    /// Offset of buffer `idx` from the start of the region: with the region's
    /// IOVA this gives a buffer's device address in O(1).
    #[inline]
    pub fn buf_offset(&self, idx: u32) -> usize {
        self.layout.buf_area + idx as usize * self.config.buf_size as usize
    }
    /// Whether `idx` names a buffer an application may use.
    #[inline]
    pub fn valid_buf(&self, idx: u32) -> bool {
        self.buf_bounds().buf_ok(idx)
    }

    /// The region's buffer limits as a value the sync loops keep in
    /// registers.
    #[inline]
    pub fn buf_bounds(&self) -> BufBounds {
        BufBounds {
            usable: self.config.num_bufs - FIRST_USABLE_BUF,
            buf_size: self.config.buf_size,
        }
    }

    /// The control area shared by every user of the region.
    pub fn control<T: SharedControl>(&self) -> &T {
        const { assert!(std::mem::size_of::<T>() <= CONTROL_BYTES) };
        const { assert!(std::mem::align_of::<T>() <= PAGE) };
        // SAFETY: CONTROL_OFFSET..HEADER_BYTES is inside the mapping and page
        // aligned; T fits (checked above), is valid for any bit pattern and
        // only interior-mutable (SharedControl's contract).
        unsafe { &*self.mapping.as_ptr().add(CONTROL_OFFSET).cast::<T>() }
    }

    /// Runs `f` holding the region's allocation locks (this process's mutex
    /// and, for named regions, the file's admin lock). A region whose file
    /// was truncated is dead: `f` does not run and the error is
    /// [`MemError::Truncated`].
    pub fn locked<T>(&self, f: impl FnOnce() -> T) -> Result<T, MemError> {
        let _guard = self.alloc.lock().unwrap_or_else(|p| p.into_inner());
        let named = self.mapping.backing().path().is_some();
        let locks = RangeLocks::new(self.mapping.file());
        if named {
            locks
                .lock_wait(ADMIN_LOCK)
                .map_err(|e| lock_err(&self.name, e))?;
        }
        // Under the lock, so the allocation state is not read from (or
        // written into) zeros that stand for a truncated file.
        self.mapping.file_intact();
        let value = self.intact().map(|()| f());
        if named {
            let _ = locks.unlock(ADMIN_LOCK);
        }
        value
    }

    /// Byte-range locks on the region's file for port types (pipe ends).
    pub fn port_locks(&self) -> RangeLocks<'_> {
        RangeLocks::new(self.mapping.file())
    }

    // ---- allocation (callers hold `locked`) ----

    fn bitmap_word(&self, bitmap: usize, bit: u32) -> &AtomicU64 {
        let off = bitmap + 8 * (bit as usize / 64);
        // Bits are indices this process computed and checked against the
        // region's own sizes, never values read from shared memory.
        assert!(
            off + 8 <= self.layout.buf_area,
            "bitmap bit {bit} outside the bitmaps"
        );
        // SAFETY: bitmaps lie inside the mapping below buf_area, 8-aligned
        // (areas are page aligned and words are 8 bytes).
        unsafe { &*self.mapping.as_ptr().add(off).cast::<AtomicU64>() }
    }

    fn bitmap_get(&self, bitmap: usize, bit: u32) -> bool {
        self.bitmap_word(bitmap, bit).load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
    }

    fn bitmap_set(&self, bitmap: usize, bit: u32, value: bool) {
        let w = self.bitmap_word(bitmap, bit);
        let mask = 1u64 << (bit % 64);
        if value {
            w.fetch_or(mask, Ordering::Relaxed);
        } else {
            w.fetch_and(!mask, Ordering::Relaxed);
        }
    }

    fn bitmap_alloc(&self, bitmap: usize, count: u32) -> Option<u32> {
        (0..count)
            .find(|&i| !self.bitmap_get(bitmap, i))
            .inspect(|&i| self.bitmap_set(bitmap, i, true))
    }

    /// Allocates `n` buffers, or none.
    pub fn alloc_bufs(&self, n: usize) -> Result<Vec<u32>, MemError> {
        let free = self.free_bufs() as usize;
        if n > free {
            return Err(self.exhausted(Scarce::Buffers, n, free));
        }
        let mut out = Vec::with_capacity(n);
        let mut next = FIRST_USABLE_BUF;
        while out.len() < n && next < self.config.num_bufs {
            let word = self
                .bitmap_word(self.layout.buf_bitmap, next)
                .load(Ordering::Relaxed);
            if word == u64::MAX && next % 64 == 0 {
                next += 64;
                continue;
            }
            if !self.bitmap_get(self.layout.buf_bitmap, next) {
                self.bitmap_set(self.layout.buf_bitmap, next, true);
                out.push(next);
            }
            next += 1;
        }
        if out.len() < n {
            for &b in &out {
                self.bitmap_set(self.layout.buf_bitmap, b, false);
            }
            return Err(self.exhausted(Scarce::Buffers, n, out.len()));
        }
        self.header()
            .free_bufs
            .fetch_sub(n as u32, Ordering::Relaxed);
        Ok(out)
    }

    /// Allocates `n` consecutive buffers (for descriptor rings, which must be
    /// contiguous in IOVA space) and returns the first index.
    pub fn alloc_contiguous_bufs(&self, n: u32) -> Result<u32, MemError> {
        let bitmap = self.layout.buf_bitmap;
        let mut run = 0;
        for idx in FIRST_USABLE_BUF..self.config.num_bufs {
            run = if self.bitmap_get(bitmap, idx) {
                0
            } else {
                run + 1
            };
            if run == n {
                let first = idx + 1 - n;
                (first..=idx).for_each(|b| self.bitmap_set(bitmap, b, true));
                self.header().free_bufs.fetch_sub(n, Ordering::Relaxed);
                return Ok(first);
            }
        }
        Err(self.exhausted(Scarce::ContiguousBuffers, n as usize, 0))
    }

    /// Where buffer `idx` lives in this process (for the driver layer, which
    /// keeps descriptor rings in buffers).
    pub(crate) fn buf_ptr(&self, idx: u32) -> *mut u8 {
        assert!(idx < self.config.num_bufs);
        // SAFETY: idx is inside the pool, so the offset is inside the mapping.
        unsafe { self.mapping.as_ptr().add(self.buf_offset(idx)) }
    }

    /// The buffer area, which is what gets mapped for device DMA: buffer
    /// `idx` is at `dma_base + idx * buf_size` once the area is mapped at
    /// `dma_base`.
    #[allow(dead_code)] // used when NIC ports map the region
    pub(crate) fn buf_area_extent(&self) -> (*mut u8, usize) {
        // SAFETY: buf_area..total is inside the mapping.
        let start = unsafe { self.mapping.as_ptr().add(self.layout.buf_area) };
        (start, self.layout.total - self.layout.buf_area)
    }

    /// Returns a buffer to the pool; invalid or already free indices are
    /// ignored (and reported as false) so teardown never double-frees.
    pub fn free_buf(&self, idx: u32) -> bool {
        if !self.valid_buf(idx) || !self.bitmap_get(self.layout.buf_bitmap, idx) {
            return false;
        }
        self.bitmap_set(self.layout.buf_bitmap, idx, false);
        self.header().free_bufs.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Allocates a ring chunk and returns the ring's offset in the region.
    pub fn alloc_ring(&self) -> Result<usize, MemError> {
        let i = self
            .bitmap_alloc(self.layout.ring_bitmap, self.config.num_rings)
            .ok_or_else(|| self.exhausted(Scarce::Rings, 1, 0))?;
        Ok(self.layout.ring_area + i as usize * self.config.ring_chunk())
    }

    /// Returns the ring chunk at `offset` (from [`Region::alloc_ring`]) to
    /// the region; an offset that does not start a ring chunk (read from
    /// shared memory another process wrote) is refused.
    pub fn free_ring(&self, offset: usize) -> Result<(), MemError> {
        let i = self
            .ring_chunk_index(offset)
            .ok_or_else(|| self.corrupt("a ring offset", offset as u64))?;
        self.bitmap_set(self.layout.ring_bitmap, i, false);
        Ok(())
    }

    /// Allocates a `netmap_if` chunk and returns its offset.
    pub fn alloc_if(&self) -> Result<usize, MemError> {
        let i = self
            .bitmap_alloc(self.layout.if_bitmap, self.config.num_ifs)
            .ok_or_else(|| self.exhausted(Scarce::Interfaces, 1, 0))?;
        Ok(self.layout.if_area + i as usize * IF_CHUNK)
    }

    /// Returns the `netmap_if` chunk at `offset` (from [`Region::alloc_if`])
    /// to the region; an offset that does not start one is refused.
    pub fn free_if(&self, offset: usize) -> Result<(), MemError> {
        let i = self
            .if_chunk_index(offset)
            .ok_or_else(|| self.corrupt("a netmap_if offset", offset as u64))?;
        self.bitmap_set(self.layout.if_bitmap, i, false);
        Ok(())
    }

    /// Which `netmap_if` chunk starts at `offset`, if one does.
    fn if_chunk_index(&self, offset: usize) -> Option<u32> {
        let rel = offset.checked_sub(self.layout.if_area)?;
        let i = rel / IF_CHUNK;
        (rel % IF_CHUNK == 0 && i < self.config.num_ifs as usize).then_some(i as u32)
    }

    /// Which ring chunk starts at `offset`, if one does.
    fn ring_chunk_index(&self, offset: usize) -> Option<u32> {
        let chunk = self.config.ring_chunk();
        let rel = offset.checked_sub(self.layout.ring_area)?;
        let i = rel / chunk;
        (rel % chunk == 0 && i < self.config.num_rings as usize).then_some(i as u32)
    }

    /// Checks that `offset` starts a `netmap_if` chunk of this region (for
    /// offsets read from shared memory).
    pub fn check_if_offset(&self, offset: u64) -> Result<usize, MemError> {
        usize::try_from(offset)
            .ok()
            .filter(|&o| self.if_chunk_index(o).is_some())
            .ok_or_else(|| self.corrupt("a netmap_if offset", offset))
    }

    /// Checks that `offset` starts a ring chunk of this region (for offsets
    /// read from shared memory).
    pub fn check_ring_offset(&self, offset: u64) -> Result<usize, MemError> {
        usize::try_from(offset)
            .ok()
            .filter(|&o| self.ring_chunk_index(o).is_some())
            .ok_or_else(|| self.corrupt("a ring offset", offset))
    }

    /// Checks a ring size read from shared memory: between 8 and the
    /// region's largest ring.
    pub fn check_num_slots(&self, num_slots: u32) -> Result<u32, MemError> {
        if (8..=self.config.max_slots).contains(&num_slots) {
            Ok(num_slots)
        } else {
            Err(self.corrupt("a ring's number of slots", num_slots.into()))
        }
    }

    /// The error for a value from shared memory that does not fit the
    /// region's layout.
    pub fn corrupt(&self, what: &'static str, value: u64) -> MemError {
        MemError::Corrupt {
            name: self.name.clone(),
            what,
            value,
        }
    }

    fn exhausted(&self, what: Scarce, wanted: usize, free: usize) -> MemError {
        MemError::Exhausted {
            name: self.name.clone(),
            what,
            wanted,
            free,
        }
    }

    /// A handle on the ring at `offset` (from `alloc_ring`) with
    /// `num_slots` slots; an error unless the ring lies inside the ring area,
    /// 128-byte aligned, with at most the region's largest ring size.
    #[inline]
    pub fn ring(&self, offset: usize, num_slots: u32) -> Result<RingMem<'_>, MemError> {
        // Cheap enough for every sync (no division). A ring that does not
        // start a chunk would overlap others, which only another process's
        // corruption can cause; what matters here is that every access stays
        // inside the ring area. The ring area ends where the bitmaps start.
        let bytes = NETMAP_RING_HEADER + 16 * num_slots as usize;
        let fits = offset >= self.layout.ring_area
            && offset % 128 == 0
            && num_slots <= self.config.max_slots
            && offset
                .checked_add(bytes)
                .is_some_and(|end| end <= self.layout.buf_bitmap);
        if !fits {
            return Err(self.corrupt("a ring offset", offset as u64));
        }
        // SAFETY: offset..offset+bytes is inside the ring area of the mapping
        // (checked above) and 128-byte aligned: a header and num_slots slots.
        Ok(unsafe { RingMem::new(self, self.mapping.as_ptr().add(offset), num_slots) })
    }

    /// Writes a `netmap_if` at `if_offset` describing rings at the given
    /// offsets (tx rings then rx rings; host rings are not used).
    pub fn write_netmap_if(
        &self,
        if_offset: usize,
        name: &str,
        tx_rings: &[usize],
        rx_rings: &[usize],
    ) -> Result<(), MemError> {
        use crate::abi::{NETMAP_API, NETMAP_IF_RING_OFS, NetmapIf};
        let n = tx_rings.len() + rx_rings.len();
        if NETMAP_IF_RING_OFS + 8 * n > IF_CHUNK {
            return Err(MemError::BadConfig(format!(
                "{n} rings do not fit one netmap_if (at most {})",
                (IF_CHUNK - NETMAP_IF_RING_OFS) / 8
            )));
        }
        self.check_if_offset(if_offset as u64)?;
        let mut ni_name = [0u8; 16];
        let bytes = name.as_bytes();
        let len = bytes.len().min(15);
        ni_name[..len].copy_from_slice(&bytes[..len]);
        let nifp = NetmapIf {
            ni_name,
            ni_version: NETMAP_API,
            ni_flags: 0,
            ni_tx_rings: tx_rings.len() as u32,
            ni_rx_rings: rx_rings.len() as u32,
            ni_bufs_head: 0,
            ni_host_tx_rings: 0,
            ni_host_rx_rings: 0,
            ni_spare1: [0; 3],
        };
        // SAFETY: the if chunk lies in the if area inside the mapping
        // (asserted above) and is owned by the caller, who allocated it.
        unsafe {
            let base = self.mapping.as_ptr().add(if_offset);
            std::ptr::write_volatile(base.cast::<NetmapIf>(), nifp);
            let ofs = base.add(NETMAP_IF_RING_OFS).cast::<isize>();
            for (i, &ring) in tx_rings.iter().chain(rx_rings).enumerate() {
                std::ptr::write_volatile(ofs.add(i), ring as isize - if_offset as isize);
            }
        }
        Ok(())
    }

    /// The `ni_bufs_head` field of the `netmap_if` at `if_offset`.
    pub fn if_bufs_head(&self, if_offset: usize) -> Result<&AtomicU32, MemError> {
        let at = self.check_if_offset(if_offset as u64)?;
        // SAFETY: `at` starts an if chunk inside the mapping (checked), the
        // field lies 32 bytes into it and is 4-aligned.
        Ok(unsafe { &*self.mapping.as_ptr().add(at + 32).cast::<AtomicU32>() })
    }

    /// The link word at the start of buffer `idx` (netmap chains extra
    /// buffers through it).
    pub fn buf_link(&self, idx: u32) -> Option<&AtomicU32> {
        if !self.valid_buf(idx) {
            return None;
        }
        // SAFETY: idx is a valid buffer index, so the word is inside the
        // buffer area; buffers are at least 64-byte aligned.
        Some(unsafe {
            &*self
                .mapping
                .as_ptr()
                .add(self.buf_offset(idx))
                .cast::<AtomicU32>()
        })
    }

    /// Read access to buffer `idx`.
    ///
    /// # Safety
    /// The caller must own the buffer under netmap's protocol (it sits in a
    /// slot of the application's part of a ring, or on its extra list) and
    /// nobody may write it while the slice lives.
    #[inline]
    pub unsafe fn buf(&self, idx: u32) -> Option<&[u8]> {
        self.valid_buf(idx).then(|| {
            // SAFETY: valid index, so the range is inside the buffer area;
            // exclusivity is the caller's contract.
            unsafe {
                std::slice::from_raw_parts(
                    self.mapping.as_ptr().add(self.buf_offset(idx)),
                    self.config.buf_size as usize,
                )
            }
        })
    }

    /// Write access to buffer `idx`.
    ///
    /// # Safety
    /// As for [`Region::buf`], and no other reference to the buffer may live.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn buf_mut(&self, idx: u32) -> Option<&mut [u8]> {
        self.valid_buf(idx).then(|| {
            // SAFETY: as in `buf`; exclusivity is the caller's contract.
            unsafe {
                std::slice::from_raw_parts_mut(
                    self.mapping.as_ptr().add(self.buf_offset(idx)),
                    self.config.buf_size as usize,
                )
            }
        })
    }

    /// Offset of the buffer area relative to a ring at `ring_offset`.
    pub fn buf_ofs_from(&self, ring_offset: usize) -> i64 {
        self.layout.buf_area as i64 - ring_offset as i64
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Err(e) = self.intact() {
            log::warn!("closing: {e}");
        }
        let Some(user) = self.user_lock else { return };
        let Some(path) = self.mapping.backing().path().map(|p| p.to_path_buf()) else {
            return;
        };
        let locks = RangeLocks::new(self.mapping.file());
        if locks.lock_wait(ADMIN_LOCK).is_err() {
            return;
        }
        let _ = locks.unlock(user);
        // Only our file: not one someone put at the path since.
        if !others_hold_users(self.mapping.file())
            && still_linked(self.mapping.file(), self.backing())
        {
            let _ = std::fs::remove_file(&path);
        }
        let _ = locks.unlock(ADMIN_LOCK);
    }
}

fn lock_err(name: &str, source: std::io::Error) -> MemError {
    MemError::Lock {
        name: name.to_string(),
        source,
    }
}

/// After a failed open: removes the region file if this open created it and
/// it is still the file at the path, and nobody else uses it. `file` must
/// hold the admin lock, so no other process has started using it.
fn remove_if_created(created: bool, file: &File, backing: &Backing) {
    if !created || others_hold_users(file) || !still_linked(file, backing) {
        return;
    }
    if let Some(path) = backing.path() {
        let _ = std::fs::remove_file(path);
    }
}

fn still_linked(file: &File, backing: &Backing) -> bool {
    let Some(path) = backing.path() else {
        return true;
    };
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Whether any other open handle holds a user byte of the region file.
fn others_hold_users(file: &File) -> bool {
    RangeLocks::new(file)
        .any_held_elsewhere(USER_LOCK_BASE, MAX_USERS)
        .unwrap_or(false)
}

/// The configuration in a region file's header, each field read once and
/// validated (so that its layout is computed without overflow); the
/// caller then checks that the file holds that layout.
fn read_header_config(mapping: &Mapping) -> Result<RegionConfig, (u64, u32)> {
    if mapping.len() < HEADER_BYTES {
        return Err((0, 0));
    }
    // SAFETY: the mapping holds at least a header; fields are plain integers
    // valid for any bit pattern, published before `magic` (acquire below).
    let h = unsafe { &*mapping.as_ptr().cast::<RegionHeader>() };
    let magic = h.magic.load(Ordering::Acquire);
    // SAFETY: same header, read after the acquire.
    let version = unsafe { std::ptr::read_volatile(&h.version) };
    if magic != MAGIC || version != VERSION {
        return Err((magic, version));
    }
    // SAFETY: as above.
    let config = unsafe {
        RegionConfig {
            buf_size: std::ptr::read_volatile(&h.buf_size),
            num_bufs: std::ptr::read_volatile(&h.num_bufs),
            max_slots: std::ptr::read_volatile(&h.max_slots),
            num_rings: std::ptr::read_volatile(&h.num_rings),
            num_ifs: std::ptr::read_volatile(&h.num_ifs),
        }
    };
    config.validate().map_err(|_| (magic, version))?;
    // SAFETY: as above.
    let total = unsafe { std::ptr::read_volatile(&h.total) };
    if total != config.layout().total as u64 {
        return Err((magic, version));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_region_allocates_and_frees() {
        let cfg = RegionConfig {
            num_bufs: 128,
            num_rings: 4,
            num_ifs: 2,
            max_slots: 64,
            buf_size: 2048,
        };
        let r = Region::private("unit", cfg).unwrap();
        assert_eq!(r.free_bufs(), 126);
        let bufs = r.alloc_bufs(100).unwrap();
        assert!(bufs.iter().all(|&b| (2..128).contains(&b)));
        let short = r.alloc_bufs(27).unwrap_err();
        assert!(matches!(short, MemError::Exhausted { .. }));
        assert!(short.to_string().contains("`@conf:bufs=N`"), "{short}");
        assert_eq!(r.free_bufs(), 26, "a failed allocation takes nothing");
        assert!(r.free_buf(bufs[0]));
        assert!(!r.free_buf(bufs[0]), "double free is refused");
        assert!(!r.free_buf(1), "reserved buffers are never freed");
        let rings: Vec<_> = (0..4).map(|_| r.alloc_ring().unwrap()).collect();
        let no_ring = r.alloc_ring().unwrap_err().to_string();
        assert!(
            no_ring.contains("out of rings") && !no_ring.contains("@conf:bufs"),
            "{no_ring}"
        );
        r.free_ring(rings[2]).unwrap();
        assert!(r.free_ring(rings[2] + 128).is_err(), "not a chunk start");
        assert!(
            r.ring(usize::MAX - 127, 64).is_err(),
            "an offset that wraps"
        );
        assert!(
            r.ring(rings[0], 65).is_err(),
            "more slots than the region holds"
        );
        assert_eq!(r.alloc_ring().unwrap(), rings[2]);
        assert_eq!(r.buf_offset(3) - r.buf_offset(2), 2048);
    }

    /// A pool of 2 MiB or more starts on a 2 MiB boundary of the mapping
    /// (so the IOMMU can use 2 MiB pages for it); a smaller one stays
    /// packed behind the bitmaps.
    #[test]
    fn large_pools_start_on_a_hugepage_boundary() {
        let cfg = |num_bufs| RegionConfig {
            num_bufs,
            ..RegionConfig::default()
        };
        let big = cfg(16384).layout();
        assert_eq!(big.buf_area % HUGEPAGE_SIZE, 0);
        assert!(big.buf_area > big.if_bitmap);
        let small = cfg(512).layout();
        assert_eq!(small.buf_area % PAGE, 0);
        assert!(small.buf_area < small.if_bitmap + PAGE);
        let r = Region::private("aligned", cfg(1024)).unwrap();
        let (start, _) = r.buf_area_extent();
        if r.backing().hugepages() {
            assert_eq!(start as usize % HUGEPAGE_SIZE, 0);
        }
    }

    /// With hugepages reserved (as root), a private region is backed by them.
    #[test]
    fn private_region_uses_hugepages_when_reserved() {
        let path = "/proc/sys/vm/nr_hugepages";
        let before: usize = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        if super::super::mapping::free_hugepages() < 8
            && std::fs::write(path, (before + 8).to_string()).is_err()
        {
            eprintln!("skipped: cannot reserve hugepages (not root)");
            return;
        }
        let cfg = RegionConfig {
            num_bufs: 1024,
            num_rings: 4,
            num_ifs: 2,
            max_slots: 64,
            buf_size: 2048,
        };
        let r = Region::private("huge", cfg).unwrap();
        assert!(r.backing().hugepages(), "backing is {:?}", r.backing());
        drop(r);
        let _ = std::fs::write(path, before.to_string());
    }
}
