//! Sleeping on words in shared memory (futexes without FUTEX_PRIVATE work
//! across processes that map the same file).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, for at most `timeout`.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(to_timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: word is a live, 4-aligned u32; ts_ptr is null or points to a
    // timespec that outlives the call. Errors (EAGAIN, EINTR, ETIMEDOUT) all
    // mean "recheck", which the caller does.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            0usize,
            0u32,
        );
    }
}

/// Wakes every sleeper on `word`.
pub fn wake(word: &AtomicU32) {
    // SAFETY: word is a live u32; FUTEX_WAKE only uses its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            0usize,
            0usize,
            0u32,
        );
    }
}

/// Sleeps until any of `words` differs from its expected value, or the
/// timeout passes. Uses futex_waitv (Linux 5.16+); on older kernels it
/// sleeps on the first word for at most a millisecond, so callers that
/// recheck in a loop still make progress.
pub fn wait_any(words: &[(&AtomicU32, u32)], timeout: Option<Duration>) {
    match words {
        [] => std::thread::sleep(timeout.unwrap_or(Duration::from_millis(1))),
        [(w, v)] => wait(w, *v, timeout),
        _ => {
            if !waitv(words, timeout) {
                let slice = timeout.map_or(Duration::from_millis(1), |t| {
                    t.min(Duration::from_millis(1))
                });
                wait(words[0].0, words[0].1, Some(slice));
            }
        }
    }
}

#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

const SYS_FUTEX_WAITV: libc::c_long = 449;
const FUTEX2_SIZE_U32: u32 = 2;

/// Returns false if the kernel lacks futex_waitv.
fn waitv(words: &[(&AtomicU32, u32)], timeout: Option<Duration>) -> bool {
    let waiters: Vec<FutexWaitv> = words
        .iter()
        .take(128)
        .map(|(w, v)| FutexWaitv {
            val: *v as u64,
            uaddr: w.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        })
        .collect();
    let deadline = timeout.map(|t| {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: now is a valid timespec to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let total = Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + t;
        to_timespec(total)
    });
    let ts_ptr = deadline
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: waiters is a live array of futex_waitv structures pointing at
    // live u32 words; ts_ptr is null or a live timespec.
    let rc = unsafe {
        libc::syscall(
            SYS_FUTEX_WAITV,
            waiters.as_ptr(),
            waiters.len() as u32,
            0u32,
            ts_ptr,
            libc::CLOCK_MONOTONIC,
        )
    };
    !(rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

fn to_timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}
