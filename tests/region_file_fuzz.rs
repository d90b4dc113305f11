//! Opening a region file whose contents another process wrote: random
//! bytes, a real region with random values at its fields, random headers
//! that look valid, files cut short. Opening and using both ends of a pipe
//! in it must give a port or a typed error: no panic, no signal, no hang.
//!
//! The file is kept "in use" by a child process holding a user lock on
//! it, so the contents are parsed (a file nobody uses is recreated). CI
//! runs `REGION_FUZZ_CASES` cases (default 3000); for a long run:
//! `REGION_FUZZ_CASES=100000 cargo test --release --test region_file_fuzz`.

mod common;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use common::region_file::{PIPE_ENTRY, RegionFile};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The lock byte of pipe entry 0's slave end (`PORT_LOCK_BASE + 1` in
/// src/mem/region.rs and src/api/pipe.rs).
const SLAVE_END_LOCK: i64 = (1 << 20) + 1;

/// A change to the file before it is opened.
#[derive(Clone, Debug)]
enum Edit {
    /// Write `value` (4 or 8 bytes) at interesting offset number `field`.
    Field {
        field: usize,
        wide: bool,
        value: u64,
    },
    /// Write `value` at a random offset.
    Anywhere { at: usize, wide: bool, value: u64 },
}

#[derive(Clone, Debug)]
enum Case {
    /// A real region with some fields changed.
    Edited(Vec<Edit>),
    /// A real region cut to `len` bytes, then edited.
    Cut(usize, Vec<Edit>),
    /// Random bytes behind a header that passes the magic and version
    /// check.
    RandomAfterHeader(Vec<u8>, Vec<u32>),
    /// Nothing but random bytes.
    Random(Vec<u8>),
}

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(7),
        Just(8),
        Just(63),
        Just(64),
        Just(65),
        Just(4096),
        Just(16384),
        Just(16385),
        Just(u32::MAX as u64),
        Just(u32::MAX as u64 - 1),
        Just(i32::MAX as u64),
        Just(u64::MAX),
        Just(0xffff_ffff_ffff_ff80),
        Just(1 << 63),
        any::<u64>(),
        0u64..0x100_0000,
    ]
}

fn edits(fields: usize, len: usize) -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0..fields, any::<bool>(), value())
                .prop_map(|(field, wide, value)| Edit::Field { field, wide, value }),
            1 => (0..len, any::<bool>(), value())
                .prop_map(|(at, wide, value)| Edit::Anywhere { at, wide, value }),
        ],
        1..8,
    )
}

fn case(fields: usize, len: usize) -> impl Strategy<Value = Case> {
    prop_oneof![
        6 => edits(fields, len).prop_map(Case::Edited),
        1 => (0..len, edits(fields, len)).prop_map(|(cut, e)| Case::Cut(cut, e)),
        1 => (
            prop::collection::vec(any::<u8>(), 0..200_000),
            prop::collection::vec(any::<u32>(), 6)
        )
            .prop_map(|(bytes, header)| Case::RandomAfterHeader(bytes, header)),
        1 => prop::collection::vec(any::<u8>(), 0..100_000).prop_map(Case::Random),
    ]
}

/// Offsets of every field worth aiming at in `snapshot`'s layout.
fn interesting_offsets(file: &RegionFile) -> Vec<usize> {
    let mut v: Vec<usize> = (0..48).step_by(4).collect();
    let e = file.pipe_entry(0);
    v.extend((e..e + PIPE_ENTRY).step_by(4));
    for end in 0..2 {
        let at = file.if_area() + end * 4096;
        v.extend((at..at + 80).step_by(4));
    }
    for k in 0..4 {
        let r = file.pipe_ring(0, k);
        v.extend((r..r + 64).step_by(4));
        v.extend((r + 256..r + 256 + 16 * 64).step_by(4));
    }
    v.extend((file.bitmaps()..file.bitmaps() + 256).step_by(4));
    v
}

fn apply(bytes: &mut [u8], offsets: &[usize], edits: &[Edit]) {
    for edit in edits {
        let (at, wide, value) = match *edit {
            Edit::Field { field, wide, value } => (offsets[field], wide, value),
            Edit::Anywhere { at, wide, value } => (at, wide, value),
        };
        let at = at / 4 * 4;
        let n = if wide { 8 } else { 4 };
        if at + n <= bytes.len() {
            bytes[at..at + n].copy_from_slice(&value.to_le_bytes()[..n]);
        }
    }
}

/// Forks a child that holds user lock byte 1 of `file` until it is killed,
/// so that openers treat the file as a region in use and parse it, and the
/// lock byte of pipe entry 0's slave end, so that the master end joins
/// that pipe (reading its table entry) rather than starting it afresh.
fn hold_user_lock(file: &File) -> libc::pid_t {
    let fd = file.as_raw_fd();
    // SAFETY: the child only calls async-signal-safe functions (fcntl,
    // pause, _exit) before it is killed, as fork in a threaded process
    // requires.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut lock: libc::flock = std::mem::zeroed();
            lock.l_type = libc::F_WRLCK as i16;
            lock.l_whence = libc::SEEK_SET as i16;
            for byte in [1, SLAVE_END_LOCK] {
                lock.l_start = byte;
                lock.l_len = 1;
                if libc::fcntl(fd, libc::F_SETLK, &lock) != 0 {
                    libc::_exit(1);
                }
            }
            loop {
                libc::pause();
            }
        }
        pid
    }
}

fn snapshot(dir: &Path, name: &str) -> Vec<u8> {
    let a = vfio_netmap::ports::open(&format!("netmap:{name}{{0@conf:slots=64,bufs=512")).unwrap();
    let b = vfio_netmap::ports::open(&format!("netmap:{name}}}0@conf:slots=64,bufs=512")).unwrap();
    let path = a.region().backing().path().unwrap().to_path_buf();
    assert!(path.starts_with(dir));
    let bytes = std::fs::read(&path).unwrap();
    drop((a, b));
    bytes
}

/// Opens both ends of the pipe and moves a packet if it can; every
/// outcome but a panic or a signal is fine. Returns how opening the first
/// end went, for the tally.
fn exercise(name: &str) -> String {
    let mut a = match vfio_netmap::ports::open(&format!("netmap:{name}{{0@conf:slots=64")) {
        Ok(a) => a,
        Err(e) => return e.to_string().chars().take(48).collect(),
    };
    let b = vfio_netmap::ports::open(&format!("netmap:{name}}}0"));
    if let Ok(mut batch) = a.tx_batch(0) {
        batch.push(b"fuzz");
    }
    let _ = a.txsync();
    if let Ok(mut b) = b {
        let _ = b.rxsync();
        if let Ok(mut batch) = b.rx_batch(0) {
            while batch.next().is_some() {}
        }
        let _ = b.rxsync();
    }
    "opened".into()
}

#[test]
fn region_files_with_hostile_contents_never_panic() {
    let dir = PathBuf::from(format!("/tmp/vfio-netmap-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // SAFETY: set before any thread of this test starts; the binary has
    // only this test.
    unsafe { std::env::set_var("VFIO_NETMAP_SHM_DIR", &dir) };
    let good = snapshot(&dir, "fzsnap");
    let name = "fz";
    let path = dir.join(format!("vfio-netmap.pipe-{name}"));
    std::fs::write(&path, &good).unwrap();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let holder = hold_user_lock(&file);
    let offsets = interesting_offsets(&RegionFile::open(&path));
    let cases: u32 = std::env::var("REGION_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = std::sync::Mutex::new(std::collections::BTreeMap::<String, u32>::new());
    let result = runner.run(&case(offsets.len(), good.len()), |case| {
        let mut bytes = good.clone();
        match &case {
            Case::Edited(edits) => apply(&mut bytes, &offsets, edits),
            Case::Cut(len, edits) => {
                bytes.truncate(*len);
                apply(&mut bytes, &offsets, edits);
            }
            Case::RandomAfterHeader(random, header) => {
                let keep = 16.min(bytes.len());
                bytes.truncate(keep);
                for w in header {
                    bytes.extend_from_slice(&w.to_le_bytes());
                }
                bytes.extend_from_slice(random);
            }
            Case::Random(random) => bytes = random.clone(),
        }
        file.set_len(0).unwrap();
        file.write_all_at(&bytes, 0).unwrap();
        let outcome = exercise(name);
        *tally.lock().unwrap().entry(outcome).or_default() += 1;
        Ok(())
    });
    // SAFETY: kill(2) and waitpid(2) on our own child.
    unsafe {
        libc::kill(holder, libc::SIGKILL);
        libc::waitpid(holder, std::ptr::null_mut(), 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap();
    let tally = tally.into_inner().unwrap();
    eprintln!("{cases} region files with hostile contents opened without a panic: {tally:#?}");
    // The files were parsed, not recreated: some were refused.
    assert!(tally.len() > 1, "every case ended the same way: {tally:?}");
}
