//! The C functions this library exports in place of the C library's: they
//! serve `/dev/netmap` fds and pass everything else through unchanged.
//!
//! Every pointer the program hands us is used as the C function would use
//! it (a bad pointer crashes here as it would have faulted in the kernel);
//! sizes and lengths are checked, and nothing else the program passes can
//! make us panic. Variadic C functions (`open`, `ioctl`) are declared with
//! their one optional argument, which x86_64 and aarch64 pass in the same
//! register either way.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, MutexGuard, Once};
use std::time::Duration;

use libc::{c_char, c_int, c_ulong, c_void, nfds_t, off_t, pollfd, size_t, timespec};
use vfio_netmap::abi::NETMAP_API;
use vfio_netmap::abi::ctrl::{
    NIOCCTRL, NIOCGINFO, NIOCREGIF, NIOCRXSYNC, NIOCTXSYNC, Nmreq, NmreqHeader, NmreqOption, opt,
};
use vfio_netmap::api::poll::{POLLIN, POLLOUT, PollItem, poll_with_fds};

use crate::control::{self, Body};
use crate::error::PreloadError;
use crate::handle::{self, Handle, Shared};
use crate::real;

const DEV_NETMAP: &[u8] = b"/dev/netmap";
/// Options followed before giving up on a list (a loop, or garbage).
const MAX_OPTIONS: usize = 64;

fn set_errno(e: c_int) {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() = e };
}

/// Whether `path` is `/dev/netmap`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn is_dev_netmap(path: *const c_char) -> bool {
    // SAFETY: the caller's contract, as for open(2).
    !path.is_null() && unsafe { CStr::from_ptr(path) }.to_bytes() == DEV_NETMAP
}

static INIT: Once = Once::new();

fn init() {
    INIT.call_once(|| {
        let _ =
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("error"))
                .try_init();
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(at_exit) };
    });
}

/// At exit, each registration ends as a close would end it.
extern "C" fn at_exit() {
    let all = handle::drain();
    for (fd, _) in &all {
        // SAFETY: closing an fd this library created (or a dup of one).
        unsafe { real::close(*fd) };
    }
    for (_, h) in &all {
        // A thread still in poll() on it holds the lock: leave it to the kernel.
        if h.try_lock().is_ok() {
            handle::release(h);
        }
    }
}

/// A new emulated `/dev/netmap` fd.
fn open_netmap(flags: c_int) -> c_int {
    init();
    let mut sv = [-1; 2];
    // SAFETY: `sv` has room for the two fds.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return -1;
    }
    if flags & libc::O_CLOEXEC == 0 {
        // SAFETY: plain fcntl on an fd we just created.
        unsafe { libc::fcntl(sv[0], libc::F_SETFD, 0) };
    }
    // SAFETY: sv[1] is a fresh fd nobody else owns.
    handle::insert(sv[0], unsafe { OwnedFd::from_raw_fd(sv[1]) });
    log::debug!("/dev/netmap: opened as fd {}", sv[0]);
    sv[0]
}

macro_rules! open_hook {
    ($name:ident($($a:ident: $t:ty),*), $path:ident, $flags:ident) => {
        #[doc = concat!("`", stringify!($name), "`: `/dev/netmap` is served here.")]
        ///
        /// # Safety
        /// As for the C function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($a: $t),*) -> c_int {
            // SAFETY: the path comes from the program, as for open(2).
            if unsafe { is_dev_netmap($path) } {
                return open_netmap($flags);
            }
            // SAFETY: passing the call on unchanged.
            unsafe { real::$name($($a),*) }
        }
    };
}

open_hook!(open(path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
open_hook!(open64(path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
open_hook!(openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
open_hook!(openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
open_hook!(__open_2(path: *const c_char, flags: c_int), path, flags);
open_hook!(__open64_2(path: *const c_char, flags: c_int), path, flags);
open_hook!(__openat_2(dirfd: c_int, path: *const c_char, flags: c_int), path, flags);
open_hook!(__openat64_2(dirfd: c_int, path: *const c_char, flags: c_int), path, flags);

/// `close`: closing the last copy of an emulated fd unregisters its port.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    let h = handle::remove(fd);
    // SAFETY: passing the call on.
    let rc = unsafe { real::close(fd) };
    if let Some(h) = h {
        closed(&h);
    }
    rc
}

/// After one fd on `h` was closed (or replaced by `dup2`).
fn closed(h: &Shared) {
    if !handle::still_held(h) {
        handle::release(h);
    }
}

/// After `new` was made a copy of `old` (or failed, `new < 0`): `new` is
/// an emulated fd if `old` is; an emulated fd `new` replaced is closed.
fn duplicated(old: c_int, new: c_int, replaced: Option<(c_int, Shared)>) {
    if new < 0 {
        if let Some((fd, r)) = replaced {
            handle::alias(fd, r); // nothing was replaced after all
        }
        return;
    }
    if let Some(h) = handle::lookup(old) {
        handle::alias(new, h);
    }
    if let Some((_, r)) = replaced {
        closed(&r);
    }
}

/// `dup`: the copy of an emulated fd is one too.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: passing the call on.
    let new = unsafe { real::dup(fd) };
    duplicated(fd, new, None);
    new
}

/// `dup2`: as `dup`; an emulated fd it replaces is closed.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        // SAFETY: passing the call on (nothing changes).
        return unsafe { real::dup2(old, new) };
    }
    let replaced = handle::remove(new).map(|r| (new, r));
    // SAFETY: passing the call on.
    let rc = unsafe { real::dup2(old, new) };
    duplicated(old, rc, replaced);
    rc
}

/// `dup3`: as `dup2`.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    let replaced = if old == new {
        None
    } else {
        handle::remove(new).map(|r| (new, r))
    };
    // SAFETY: passing the call on.
    let rc = unsafe { real::dup3(old, new, flags) };
    duplicated(old, rc, replaced);
    rc
}

macro_rules! fcntl_hook {
    ($name:ident) => {
        #[doc = concat!("`", stringify!($name), "`: `F_DUPFD` copies of an emulated fd are emulated fds.")]
        ///
        /// # Safety
        /// As for the C function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
            // SAFETY: passing the call on.
            let rc = unsafe { real::$name(fd, cmd, arg) };
            if (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) && handle::any() {
                duplicated(fd, rc, None);
            }
            rc
        }
    };
}

fcntl_hook!(fcntl);
fcntl_hook!(fcntl64);

/// `ioctl`: netmap's requests on emulated fds.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let Some(h) = handle::lookup(fd) else {
        // SAFETY: passing the call on.
        return unsafe { real::ioctl(fd, request, arg) };
    };
    // c_ulong is u64 on the 64-bit targets we serve, not on every target.
    #[allow(clippy::unnecessary_cast)]
    let req = request as u64;
    let result = match req {
        // SAFETY: NIOCCTRL's argument is a struct nmreq_header.
        NIOCCTRL => unsafe { niocctrl(&h, arg.cast()) },
        NIOCTXSYNC | NIOCRXSYNC => control::sync(&mut handle::lock(&h), req == NIOCTXSYNC),
        // SAFETY: the legacy requests' argument is a struct nmreq.
        NIOCREGIF | NIOCGINFO => unsafe { legacy(&h, arg.cast(), req == NIOCREGIF) },
        // SAFETY: anything else goes to the socket underneath (FIONBIO...).
        _ => return unsafe { real::ioctl(fd, request, arg) },
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            log::warn!("/dev/netmap fd {fd}: {e}");
            set_errno(e.errno());
            -1
        }
    }
}

/// `NIOCCTRL`.
///
/// # Safety
/// `hp` is NULL or points to a `struct nmreq_header` whose `nr_body` and
/// `nr_options` are NULL or point to what its request type says.
unsafe fn niocctrl(this: &Shared, hp: *mut NmreqHeader) -> Result<(), PreloadError> {
    if hp.is_null() {
        return Err(PreloadError::Fault("the nmreq_header"));
    }
    // SAFETY: the caller's contract.
    let hdr = unsafe { hp.read_unaligned() };
    if u32::from(hdr.nr_version) != NETMAP_API {
        return Err(PreloadError::Version(hdr.nr_version.into()));
    }
    if hdr.nr_reserved != 0 {
        return Err(PreloadError::Reserved(hdr.nr_reserved));
    }
    // SAFETY: the caller's contract.
    unsafe { check_options(hdr.nr_options) }?;
    let mut body =
        control::body_for(hdr.nr_reqtype).ok_or(PreloadError::UnknownRequest(hdr.nr_reqtype))?;
    let at = hdr.nr_body as usize as *mut u8;
    if at.is_null() {
        return Err(PreloadError::NoBody(hdr.nr_reqtype));
    }
    // SAFETY (all four): `at` points to the body of this request type.
    match &mut body {
        Body::Register(b) => *b = unsafe { read(at) },
        Body::PortInfo(b) => *b = unsafe { read(at) },
        Body::PortHdr(_, b) => *b = unsafe { read(at) },
        Body::Pools(b) => *b = unsafe { read(at) },
    }
    let result = control::ctrl(this, &mut handle::lock(this), &hdr.nr_name, &mut body);
    // SAFETY (all four): as above; netmap writes the body back in any case.
    match body {
        Body::Register(b) => unsafe { write(at, b) },
        Body::PortInfo(b) => unsafe { write(at, b) },
        Body::PortHdr(_, b) => unsafe { write(at, b) },
        Body::Pools(b) => unsafe { write(at, b) },
    }
    result
}

/// Reads a `T` at `at`.
///
/// # Safety
/// `at` points to a readable `T` (alignment not needed).
unsafe fn read<T>(at: *const u8) -> T {
    // SAFETY: the caller's contract.
    unsafe { at.cast::<T>().read_unaligned() }
}

/// Writes `v` at `at`.
///
/// # Safety
/// `at` points to a writable `T` (alignment not needed).
unsafe fn write<T>(at: *mut u8, v: T) {
    // SAFETY: the caller's contract.
    unsafe { at.cast::<T>().write_unaligned(v) }
}

fn option_name(t: u32) -> String {
    match t {
        opt::EXTMEM => "extmem".into(),
        opt::SYNC_KLOOP_EVENTFDS => "sync-kloop-eventfds".into(),
        opt::CSB => "csb".into(),
        opt::SYNC_KLOOP_MODE => "sync-kloop-mode".into(),
        opt::OFFSETS => "offsets".into(),
        t => format!("type {t}"),
    }
}

/// Walks the option list, marking each option as netmap does: type 0 or
/// a duplicate is `EINVAL`, anything else `EOPNOTSUPP` (we serve none).
///
/// # Safety
/// `at` is 0 or the address of a list of `struct nmreq_option`s.
unsafe fn check_options(mut at: u64) -> Result<(), PreloadError> {
    let mut seen = Vec::new();
    for _ in 0..MAX_OPTIONS {
        if at == 0 {
            break;
        }
        let p = at as usize as *mut NmreqOption;
        // SAFETY: the caller's contract.
        let o = unsafe { p.read_unaligned() };
        let bad = o.nro_reqtype == 0 || seen.contains(&o.nro_reqtype);
        let status = if bad { libc::EINVAL } else { libc::EOPNOTSUPP };
        // SAFETY: as above; nro_status is a field of that option.
        unsafe { std::ptr::addr_of_mut!((*p).nro_status).write_unaligned(status as u32) };
        if bad {
            return Err(PreloadError::BadOptions(format!(
                "option {} is {}",
                option_name(o.nro_reqtype),
                if o.nro_reqtype == 0 {
                    "type 0"
                } else {
                    "given twice"
                }
            )));
        }
        seen.push(o.nro_reqtype);
        at = o.nro_next;
    }
    if at != 0 {
        return Err(PreloadError::BadOptions(format!(
            "more than {MAX_OPTIONS} options (does the list loop?)"
        )));
    }
    if seen.is_empty() {
        return Ok(());
    }
    Err(PreloadError::Option(
        seen.iter()
            .map(|&t| option_name(t))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// `NIOCREGIF` / `NIOCGINFO`.
///
/// # Safety
/// `rp` is NULL or points to a `struct nmreq`.
unsafe fn legacy(this: &Shared, rp: *mut Nmreq, regif: bool) -> Result<(), PreloadError> {
    if rp.is_null() {
        return Err(PreloadError::Fault("the nmreq"));
    }
    // SAFETY: the caller's contract.
    let mut r = unsafe { rp.read_unaligned() };
    let result = control::legacy(this, &mut handle::lock(this), &mut r, regif);
    // SAFETY: as above.
    unsafe { rp.write_unaligned(r) };
    result
}

macro_rules! mmap_hook {
    ($name:ident) => {
        #[doc = concat!("`", stringify!($name), "`: an emulated fd maps its port's region.")]
        ///
        /// # Safety
        /// As for the C function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            addr: *mut c_void,
            len: size_t,
            prot: c_int,
            flags: c_int,
            fd: c_int,
            off: off_t,
        ) -> *mut c_void {
            // Anonymous mappings (fd -1: the allocator's) skip the lookup.
            let Some(h) = (fd >= 0).then(|| handle::lookup(fd)).flatten() else {
                // SAFETY: passing the call on.
                return unsafe { real::$name(addr, len, prot, flags, fd, off) };
            };
            match region_fd(&handle::lock(&h), len, off) {
                // SAFETY: mapping the region's own file, inside its size.
                Ok(rfd) => unsafe { real::$name(addr, len, prot, flags, rfd, off) },
                Err(e) => {
                    log::warn!("/dev/netmap fd {fd}: mmap: {e}");
                    set_errno(e.errno());
                    libc::MAP_FAILED
                }
            }
        }
    };
}

mmap_hook!(mmap);
mmap_hook!(mmap64);

/// The file to map for `len` bytes at `off` of the port's region.
fn region_fd(h: &Handle, len: usize, off: off_t) -> Result<c_int, PreloadError> {
    let reg = h.reg.as_ref().ok_or(PreloadError::NotRegistered)?;
    let region = reg.port.region();
    let size = region.mapped_len();
    let fits = usize::try_from(off)
        .ok()
        .and_then(|o| o.checked_add(len))
        .is_some_and(|end| len > 0 && end <= size);
    if !fits {
        return Err(PreloadError::MapRange {
            len,
            offset: off,
            size,
        });
    }
    Ok(region.file().as_raw_fd())
}

/// poll over a mix of emulated and other fds; `None` if none is ours.
fn poll_fds(pfds: &mut [pollfd], timeout: Option<Duration>) -> Option<c_int> {
    if !handle::any() {
        return None;
    }
    let ours: Vec<(usize, Shared)> = pfds
        .iter()
        .enumerate()
        .filter(|(_, p)| p.fd >= 0)
        .filter_map(|(i, p)| handle::lookup(p.fd).map(|h| (i, h)))
        .collect();
    if ours.is_empty() {
        return None;
    }
    let mut uniq: Vec<Shared> = Vec::new();
    for (_, h) in &ours {
        if !uniq.iter().any(|u| Arc::ptr_eq(u, h)) {
            uniq.push(h.clone());
        }
    }
    // One lock order for every caller.
    uniq.sort_by_key(|h| Arc::as_ptr(h) as usize);
    let which = |h: &Shared| uniq.iter().position(|u| Arc::ptr_eq(u, h)).unwrap_or(0);
    let mut events = vec![0u8; uniq.len()];
    for (i, h) in &ours {
        let e = pfds[*i].events;
        let mut want = 0;
        if e & (libc::POLLIN | libc::POLLRDNORM) != 0 {
            want |= POLLIN;
        }
        if e & (libc::POLLOUT | libc::POLLWRNORM) != 0 {
            want |= POLLOUT;
        }
        events[which(h)] |= want;
    }
    let other_idx: Vec<usize> = (0..pfds.len())
        .filter(|i| pfds[*i].fd >= 0 && !ours.iter().any(|(j, _)| j == i))
        .collect();
    let mut others: Vec<pollfd> = other_idx.iter().map(|&i| pfds[i]).collect();
    let mut guards: Vec<MutexGuard<'_, Handle>> = uniq.iter().map(handle::lock).collect();
    let mut item_of = vec![None; uniq.len()];
    let mut items = Vec::new();
    for (k, g) in guards.iter_mut().enumerate() {
        if let Some(reg) = g.reg.as_mut() {
            item_of[k] = Some(items.len());
            let mut item = PollItem::new(&mut reg.port, events[k]);
            item.tx_poll = reg.tx_poll;
            items.push(item);
        }
    }
    // An fd without a port is ready at once, with POLLERR, as in netmap.
    let unregistered = item_of.iter().any(Option::is_none);
    let timeout = if unregistered {
        Some(Duration::ZERO)
    } else {
        timeout
    };
    poll_with_fds(&mut items, &mut others, timeout);
    for item in &items {
        if let Some(e) = &item.error {
            log::warn!("/dev/netmap: poll on `{}`: {e}", item.port.name());
        }
    }
    for p in pfds.iter_mut() {
        p.revents = 0;
    }
    for (i, h) in &ours {
        let p = &mut pfds[*i];
        p.revents = match item_of[which(h)] {
            Some(n) => {
                let r = items[n].revents as i16;
                r & (p.events | libc::POLLERR | libc::POLLHUP)
            }
            None => libc::POLLERR,
        };
    }
    for (k, &i) in other_idx.iter().enumerate() {
        pfds[i].revents = others[k].revents;
    }
    Some(pfds.iter().filter(|p| p.revents != 0).count() as c_int)
}

fn ms_timeout(ms: c_int) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn ts_timeout(ts: *const timespec) -> Option<Duration> {
    // SAFETY: NULL or a timespec from the program, as for ppoll(2).
    let ts = unsafe { ts.as_ref() }?;
    Some(Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    ))
}

/// The program's fd array, or an empty one.
///
/// # Safety
/// `fds` is NULL or points to `nfds` pollfds.
unsafe fn pollfds<'a>(fds: *mut pollfd, nfds: nfds_t) -> &'a mut [pollfd] {
    if fds.is_null() || nfds == 0 {
        return &mut [];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) }
}

/// `poll`: netmap's poll on emulated fds, mixed with the others.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    // SAFETY: as for poll(2).
    match poll_fds(unsafe { pollfds(fds, nfds) }, ms_timeout(timeout)) {
        Some(n) => n,
        // SAFETY: passing the call on.
        None => unsafe { real::poll(fds, nfds, timeout) },
    }
}

/// `__poll_chk` (poll under `_FORTIFY_SOURCE`).
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    if (nfds as usize).saturating_mul(size_of::<pollfd>()) > fdslen {
        // SAFETY: as glibc does on an overflow.
        unsafe { libc::abort() };
    }
    // SAFETY: as for poll(2).
    unsafe { poll(fds, nfds, timeout) }
}

/// Runs `f` with the signal mask `mask` (if not NULL) in place. Unlike
/// the kernel's ppoll/pselect the swap is not atomic with the wait.
fn with_sigmask<T>(mask: *const libc::sigset_t, f: impl FnOnce() -> T) -> T {
    if mask.is_null() {
        return f();
    }
    // SAFETY: an all-zero sigset_t is a valid empty set.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `mask` is the program's sigset; `old` is ours.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, &mut old) };
    let r = f();
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    r
}

/// `ppoll`.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: as for ppoll(2).
    let pfds = unsafe { pollfds(fds, nfds) };
    if !pfds.iter().any(|p| handle::lookup(p.fd).is_some()) {
        // SAFETY: passing the call on.
        return unsafe { real::ppoll(fds, nfds, timeout, sigmask) };
    }
    let t = ts_timeout(timeout);
    with_sigmask(sigmask, || poll_fds(pfds, t)).unwrap_or(0)
}

/// `__ppoll_chk` (ppoll under `_FORTIFY_SOURCE`).
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __ppoll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
    fdslen: size_t,
) -> c_int {
    if (nfds as usize).saturating_mul(size_of::<pollfd>()) > fdslen {
        // SAFETY: as glibc does on an overflow.
        unsafe { libc::abort() };
    }
    // SAFETY: as for ppoll(2).
    unsafe { ppoll(fds, nfds, timeout, sigmask) }
}

/// select/pselect over emulated fds: through poll.
///
/// # Safety
/// The sets are NULL or valid `fd_set`s.
unsafe fn select_fds(
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
    timeout: Option<Duration>,
) -> Option<c_int> {
    let n = nfds.clamp(0, libc::FD_SETSIZE as c_int);
    // SAFETY: each set is NULL or valid (caller).
    let isset = |s: *mut libc::fd_set, fd| !s.is_null() && unsafe { libc::FD_ISSET(fd, s) };
    let mut pfds: Vec<pollfd> = (0..n)
        .filter_map(|fd| {
            let mut events = 0;
            if isset(sets[0], fd) {
                events |= libc::POLLIN;
            }
            if isset(sets[1], fd) {
                events |= libc::POLLOUT;
            }
            if isset(sets[2], fd) {
                events |= libc::POLLPRI;
            }
            (events != 0).then_some(pollfd {
                fd,
                events,
                revents: 0,
            })
        })
        .collect();
    if !pfds.iter().any(|p| handle::lookup(p.fd).is_some()) {
        return None;
    }
    poll_fds(&mut pfds, timeout)?;
    for s in sets.into_iter().filter(|s| !s.is_null()) {
        // SAFETY: a valid set (caller).
        unsafe { libc::FD_ZERO(s) };
    }
    let mut count = 0;
    let bits = [
        libc::POLLIN | libc::POLLHUP | libc::POLLERR,
        libc::POLLOUT | libc::POLLERR,
        libc::POLLPRI,
    ];
    for p in &pfds {
        for (s, mask) in sets.iter().zip(bits) {
            if !s.is_null() && p.revents & mask != 0 && isset_wanted(p, mask) {
                // SAFETY: a valid set (caller); fd < FD_SETSIZE.
                unsafe { libc::FD_SET(p.fd, *s) };
                count += 1;
            }
        }
    }
    Some(count)
}

/// Whether `p` asked for the set `mask` stands for.
fn isset_wanted(p: &pollfd, mask: i16) -> bool {
    if mask == libc::POLLPRI {
        p.events & libc::POLLPRI != 0
    } else if mask & libc::POLLIN != 0 {
        p.events & libc::POLLIN != 0
    } else {
        p.events & libc::POLLOUT != 0
    }
}

/// `select`.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn select(
    nfds: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    if handle::any() {
        // SAFETY: NULL or the program's timeval.
        let t = unsafe { timeout.as_ref() }.map(|tv| {
            Duration::from_micros(tv.tv_sec.max(0) as u64 * 1_000_000 + tv.tv_usec.max(0) as u64)
        });
        // SAFETY: the program's sets, as for select(2).
        if let Some(n) = unsafe { select_fds(nfds, [r, w, e], t) } {
            return n;
        }
    }
    // SAFETY: passing the call on.
    unsafe { real::select(nfds, r, w, e, timeout) }
}

/// `pselect`.
///
/// # Safety
/// As for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if handle::any() {
        let t = ts_timeout(timeout);
        // SAFETY: the program's sets, as for pselect(2).
        if let Some(n) = with_sigmask(sigmask, || unsafe { select_fds(nfds, [r, w, e], t) }) {
            return n;
        }
    }
    // SAFETY: passing the call on.
    unsafe { real::pselect(nfds, r, w, e, timeout, sigmask) }
}
