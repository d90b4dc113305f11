//! The SIGBUS trap. A shared region is a file that other processes (and,
//! with `VFIO_NETMAP_SHM_GROUP`, other users) can open; if one truncates it,
//! touching the lost pages raises SIGBUS, which would kill every process
//! using the region. As Wayland compositors do for client shm pools, a
//! process-wide handler catches SIGBUS at an address inside a registered
//! mapping, maps zeroed anonymous memory over the whole mapping (so the
//! faulting access completes, reading zeros) and flags the mapping, which
//! [`Guard::truncated`] (and so `Region::intact`) then reports.
//!
//! The registry is a fixed table of atomics: the handler takes no lock and
//! allocates nothing. A fault anywhere else goes to the disposition that
//! was there before ours (Rust's own stack-overflow handler, or the
//! default): the handler puts it back and returns, so the access faults
//! again and that disposition handles it (which normally ends the process;
//! the trap is not reinstalled). So does a SIGBUS for another reason than a
//! missing page (a hardware memory error).

use std::sync::Once;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// Shared mappings one process can have under the trap at once.
pub const TRAP_SLOTS: usize = 1024;

const FREE: u8 = 0;
/// Being filled in or emptied: the handler skips it.
const BUSY: u8 = 1;
const LIVE: u8 = 2;

struct Entry {
    state: AtomicU8,
    start: AtomicUsize,
    len: AtomicUsize,
    truncated: AtomicBool,
}

impl Entry {
    const fn new() -> Entry {
        Entry {
            state: AtomicU8::new(FREE),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            truncated: AtomicBool::new(false),
        }
    }
}

static TABLE: [Entry; TRAP_SLOTS] = [const { Entry::new() }; TRAP_SLOTS];
/// The SIGBUS disposition in place before ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
static INSTALL: Once = Once::new();

/// A mapping under the trap; dropping it takes the mapping out, which must
/// happen before the mapping is unmapped.
#[derive(Debug)]
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Whether a SIGBUS in the mapping (its file was truncated) replaced it
    /// with zeroed memory. One relaxed load.
    #[inline]
    pub fn truncated(&self) -> bool {
        TABLE[self.slot].truncated.load(Ordering::Relaxed)
    }

    /// Records that the mapping's file was found shorter than the mapping
    /// (before any access faulted): [`Guard::truncated`] reports it from now
    /// on.
    pub fn mark_truncated(&self) {
        TABLE[self.slot].truncated.store(true, Ordering::Relaxed);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let e = &TABLE[self.slot];
        e.state.store(BUSY, Ordering::Release);
        e.len.store(0, Ordering::Relaxed);
        e.state.store(FREE, Ordering::Release);
    }
}

/// Puts the mapping `start..start + len` (page aligned, mapped now and
/// until the guard is dropped) under the trap. `None` when the table is full
/// (the mapping then works, unprotected; logged).
pub fn register(start: *mut u8, len: usize) -> Option<Guard> {
    install();
    let page = page_size();
    let len = len.div_ceil(page) * page;
    for (slot, e) in TABLE.iter().enumerate() {
        if e.state
            .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            e.start.store(start as usize, Ordering::Relaxed);
            e.len.store(len, Ordering::Relaxed);
            e.truncated.store(false, Ordering::Relaxed);
            e.state.store(LIVE, Ordering::Release);
            return Some(Guard { slot });
        }
    }
    log::warn!(
        "more than {TRAP_SLOTS} shared regions are mapped: a new one is not protected against \
         its file being truncated (SIGBUS)"
    );
    None
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(4096)
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: an all-zero sigaction is a valid value (no handler, empty
        // mask), which the query below overwrites.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only queries; `previous` is writable.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            log::warn!("cannot query the SIGBUS handler: shared regions are not protected");
            return;
        }
        let _ = PREVIOUS.set(previous);
        // SAFETY: as above.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            on_sigbus;
        ours.sa_sigaction = handler as libc::sighandler_t;
        // SA_NODEFER: a fault inside the handler must not deadlock on a
        // blocked SIGBUS; SA_ONSTACK: run on the alternate stack where the
        // thread has one (Rust sets one up to report stack overflows).
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
        // SAFETY: `ours` is a fully initialised action whose handler is an
        // async-signal-safe extern "C" function.
        if unsafe { libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) } != 0 {
            log::warn!("cannot install the SIGBUS handler: shared regions are not protected");
        }
    });
}

/// The handler: no locks, no allocation, only atomics and two syscalls.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: errno is thread-local; saved here and restored below so the
    // interrupted code does not see our syscalls' errors.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: for an SA_SIGINFO handler of SIGBUS the kernel passes a valid
    // siginfo whose si_addr is the faulting address.
    let (addr, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
    let mut handled = false;
    // BUS_ADRERR: no page behind the address (the file is shorter). Other
    // causes (a hardware memory error, BUS_MCEERR_*) are not ours to hide.
    let table = if code == libc::BUS_ADRERR {
        &TABLE[..]
    } else {
        &[]
    };
    for e in table {
        if e.state.load(Ordering::Acquire) != LIVE {
            continue;
        }
        let start = e.start.load(Ordering::Relaxed);
        let len = e.len.load(Ordering::Relaxed);
        if addr.wrapping_sub(start) >= len {
            continue;
        }
        // SAFETY: start..start+len is one of our shared mappings, live
        // (registered after it was mapped, removed before it is unmapped)
        // and in use by the faulting thread. MAP_FIXED puts anonymous memory
        // of the same size and protection in its place, so every pointer
        // into it stays valid; the original pages are gone with the file.
        let p = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            e.truncated.store(true, Ordering::Relaxed);
            handled = true;
        }
        break;
    }
    if !handled {
        if let Some(previous) = PREVIOUS.get() {
            // SAFETY: `previous` is the action sigaction returned; putting it
            // back is async-signal-safe. Returning re-executes the access,
            // which faults again into that disposition.
            unsafe { libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut()) };
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_file_reads_as_zeros_and_is_flagged() {
        use std::io::Write;
        let dir = std::env::temp_dir();
        let path = dir.join(format!("vfio-netmap-trap-unit-{}", std::process::id()));
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.write_all(&[7u8; 8192]).unwrap();
        let map = memmap2::MmapOptions::new()
            .len(8192)
            .map_raw(&file)
            .unwrap();
        let guard = register(map.as_mut_ptr(), map.len()).unwrap();
        // SAFETY: inside the mapping.
        assert_eq!(unsafe { map.as_ptr().add(4096).read_volatile() }, 7);
        assert!(!guard.truncated());
        file.set_len(0).unwrap();
        // SAFETY: inside the mapping; the file behind it is gone, so this
        // faults and the trap maps zeros in its place.
        assert_eq!(unsafe { map.as_ptr().add(4096).read_volatile() }, 0);
        assert!(guard.truncated());
        drop(guard);
        drop(map);
        let _ = std::fs::remove_file(&path);
    }
}
