//! The process's emulated `/dev/netmap` file descriptors and what each
//! has registered.
//!
//! Each fd the program gets is one end of a socketpair; the other end
//! (`watch`, close-on-exec) stays here. When every copy of the program's
//! end is closed — in this process and in children that inherited it —
//! `watch` sees end-of-file: that is how `close` knows whether it closed
//! the last reference to the registration (netmap's semantics: the
//! registration lives as long as the file description) or whether a
//! forked child still holds it.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use vfio_netmap::api::Port;
use vfio_netmap::mem::Region;

/// A registered port and how to serve it.
pub struct Registered {
    /// The port.
    pub port: Port,
    /// `nr_name` as the program gave it (info requests on this name use
    /// this port instead of opening it again).
    pub nr_name: String,
    /// Our port name it became.
    pub port_name: String,
    /// The memory id reported in `nr_mem_id`.
    pub mem_id: u16,
    /// poll() runs txsync (not `NR_NO_TX_POLL`).
    pub tx_poll: bool,
}

/// One emulated `/dev/netmap` open file.
pub struct Handle {
    /// Our end of the socketpair; end-of-file on it means every copy of the
    /// program's end is closed.
    pub watch: OwnedFd,
    /// The port, once registered.
    pub reg: Option<Registered>,
}

/// A shared handle.
pub type Shared = Arc<Mutex<Handle>>;

static TABLE: Mutex<BTreeMap<RawFd, Shared>> = Mutex::new(BTreeMap::new());
/// How many fds the table holds: hooks skip the lock when it is 0.
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Memory ids handed out to regions without `@N`: (region key, id).
static MEM_IDS: Mutex<Vec<(String, u16)>> = Mutex::new(Vec::new());
/// The first id handed out to a region without `@N`.
pub const FIRST_ASSIGNED_MEM_ID: u16 = 0x8000;

fn table() -> MutexGuard<'static, BTreeMap<RawFd, Shared>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Locks a handle, whatever a panicking holder left.
pub fn lock(h: &Shared) -> MutexGuard<'_, Handle> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether any emulated fd exists (cheap; no lock).
pub fn any() -> bool {
    COUNT.load(Ordering::Acquire) > 0
}

/// The handle behind `fd`, if it is one of ours.
pub fn lookup(fd: RawFd) -> Option<Shared> {
    if !any() {
        return None;
    }
    table().get(&fd).cloned()
}

/// Records `fd` as an emulated `/dev/netmap` fd.
pub fn insert(fd: RawFd, watch: OwnedFd) {
    let h = Arc::new(Mutex::new(Handle { watch, reg: None }));
    if table().insert(fd, h).is_none() {
        COUNT.fetch_add(1, Ordering::Release);
    }
}

/// Records `fd` as another fd on handle `h` (`dup`).
pub fn alias(fd: RawFd, h: Shared) {
    if table().insert(fd, h).is_none() {
        COUNT.fetch_add(1, Ordering::Release);
    }
}

/// Whether another fd of this process still refers to `h`.
pub fn still_held(h: &Shared) -> bool {
    any() && table().values().any(|x| Arc::ptr_eq(x, h))
}

/// Forgets `fd`; returns its handle.
pub fn remove(fd: RawFd) -> Option<Shared> {
    if !any() {
        return None;
    }
    let h = table().remove(&fd);
    if h.is_some() {
        COUNT.fetch_sub(1, Ordering::Release);
    }
    h
}

/// Every handle but `except`, for lookups by name.
pub fn others(except: &Shared) -> Vec<Shared> {
    table()
        .values()
        .filter(|h| !Arc::ptr_eq(h, except))
        .cloned()
        .collect()
}

/// Every fd and handle, removed from the table (at exit).
pub fn drain() -> Vec<(RawFd, Shared)> {
    let all: Vec<_> = std::mem::take(&mut *table()).into_iter().collect();
    COUNT.store(0, Ordering::Release);
    all
}

/// After the program's end was closed here: unregister if no copy of it
/// is left anywhere (netmap's last close), otherwise leave the
/// registration to the process that still holds it (a forked child): this
/// process forgets its copy without tearing the port down.
pub fn release(h: &Shared) {
    let mut h = lock(h);
    let Some(reg) = h.reg.take() else {
        return;
    };
    if last_reference(&h.watch) {
        log::debug!("/dev/netmap: `{}` unregistered", reg.port_name);
        drop(reg);
    } else {
        log::debug!(
            "/dev/netmap: `{}` is still open in another process (a forked child): left to it",
            reg.port_name
        );
        std::mem::forget(reg);
    }
}

/// Whether the program's end of the socketpair is closed everywhere.
fn last_reference(watch: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: watch.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLIN | libc::POLLHUP) != 0
}

/// The `nr_mem_id` to report for `region`: `N` for the region `@N`
/// names (`memN`), otherwise an id from [`FIRST_ASSIGNED_MEM_ID`] up,
/// one per region of the process (ports in one region get one id, so
/// programs see they can swap buffers between them).
pub fn mem_id_of(region: &Region) -> u16 {
    if let Some(n) = region
        .name()
        .strip_prefix("mem")
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|&n| n > 0 && n < FIRST_ASSIGNED_MEM_ID)
    {
        return n;
    }
    let key = match region.backing().path() {
        Some(p) => p.display().to_string(),
        None => format!("private:{}:{:p}", region.name(), region),
    };
    let mut ids = MEM_IDS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&(_, id)) = ids.iter().find(|(k, _)| *k == key) {
        return id;
    }
    let id = FIRST_ASSIGNED_MEM_ID.saturating_add(ids.len() as u16);
    ids.push((key, id));
    id
}

/// Whether `id` is one [`mem_id_of`] handed out.
pub fn is_assigned_mem_id(id: u16) -> bool {
    let ids = MEM_IDS.lock().unwrap_or_else(|p| p.into_inner());
    ids.iter().any(|&(_, i)| i == id)
}
