//! The C library's own definitions of the functions the hooks replace,
//! found with `dlsym(RTLD_NEXT, ...)` on first use.

use std::sync::atomic::{AtomicUsize, Ordering};

use libc::{c_char, c_int, c_ulong, c_void, nfds_t, off_t, pollfd, size_t, timespec};

/// The next definition of `name` (NUL-terminated) after this library's;
/// aborts with a message if there is none (no C library loaded).
fn resolve(slot: &AtomicUsize, name: &str) -> usize {
    let p = slot.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: `name` is a NUL-terminated symbol name (built by the macro).
    let q = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) } as usize;
    if q == 0 {
        let msg = b"vfio-netmap preload: the C library's functions are not found (dlsym)\n";
        // SAFETY: writing a static buffer to stderr, then aborting.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::abort();
        }
    }
    slot.store(q, Ordering::Relaxed);
    q
}

macro_rules! real_fn {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty;)*) => {$(
        #[doc = concat!("The C library's `", stringify!($name), "`.")]
        ///
        /// # Safety
        /// As for the C function.
        pub unsafe fn $name($($a: $t),*) -> $r {
            static SLOT: AtomicUsize = AtomicUsize::new(0);
            let p = resolve(&SLOT, concat!(stringify!($name), "\0"));
            // SAFETY: `p` is the C library's definition of this function,
            // whose C signature this is (variadic ones take their one
            // optional argument in the same register on x86_64 and aarch64).
            let f: unsafe extern "C" fn($($t),*) -> $r = unsafe { std::mem::transmute(p) };
            // SAFETY: the caller keeps the C function's contract.
            unsafe { f($($a),*) }
        }
    )*};
}

real_fn! {
    open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int;
    open64(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int;
    openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int;
    openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int;
    __open_2(path: *const c_char, flags: c_int) -> c_int;
    __open64_2(path: *const c_char, flags: c_int) -> c_int;
    __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    close(fd: c_int) -> c_int;
    dup(fd: c_int) -> c_int;
    dup2(old: c_int, new: c_int) -> c_int;
    dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
    fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int;
    fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int;
    ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int;
    mmap(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off_t) -> *mut c_void;
    mmap64(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off_t) -> *mut c_void;
    poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int;
    ppoll(fds: *mut pollfd, nfds: nfds_t, timeout: *const timespec, sigmask: *const libc::sigset_t) -> c_int;
    select(nfds: c_int, r: *mut libc::fd_set, w: *mut libc::fd_set, e: *mut libc::fd_set, timeout: *mut libc::timeval) -> c_int;
    pselect(nfds: c_int, r: *mut libc::fd_set, w: *mut libc::fd_set, e: *mut libc::fd_set, timeout: *const timespec, sigmask: *const libc::sigset_t) -> c_int;
}
