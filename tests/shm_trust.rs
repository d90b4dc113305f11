//! The shared region is a trust boundary (issue 18): region files live in
//! a directory other users can write (/dev/shm), so a planted symlink or
//! another user's file is refused, absurd sizes fail at once without leaving
//! a file, a file shrunk under a region is an error at open, and one
//! truncated while in use does not kill the processes using it.
//!
//! Every test runs its body in a child process (this binary run again with
//! the test's name as filter and `SHM_TRUST_CHILD` set), with its own
//! `VFIO_NETMAP_SHM_DIR`: environment variables are never changed in this
//! process, and a SIGBUS death shows as the child's exit status.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vfio_netmap::api::{ApiError, Port};
use vfio_netmap::mem::{FileProblem, MemError, SizeCap};
use vfio_netmap::ports::PortError;

const CHILD: &str = "SHM_TRUST_CHILD";
const NOBODY: u32 = 65534;

/// A private region directory, mode 1777 like /dev/shm, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let path =
            Path::new("/dev/shm").join(format!("vfio-netmap-test-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777)).unwrap();
        Dir(path)
    }
    fn file(&self, region: &str) -> PathBuf {
        self.0.join(format!("vfio-netmap.pipe-{region}"))
    }
    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether this process is the child that runs `test`'s body.
fn in_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Runs `test` in a child process with `envs` (`VFIO_NETMAP_SHM_DIR` is
/// `dir` unless `envs` sets it), kills it after 60 s, and asserts that it
/// exited normally and passed.
fn run_child(test: &str, dir: &Dir, envs: &[(&str, &str)]) {
    let (status, output) = child_status(test, dir, envs);
    assert_eq!(
        status.signal(),
        None,
        "{test}: the child was killed by signal {:?} (7 is SIGBUS); its output:\n{output}",
        status.signal()
    );
    assert!(
        status.success(),
        "{test}: the child failed: {status}; its output:\n{output}"
    );
}

/// Runs `test` in a child process as [`run_child`] does; returns how it
/// ended and what it printed.
fn child_status(
    test: &str,
    dir: &Dir,
    envs: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env("VFIO_NETMAP_SHM_DIR", &dir.0)
        .env_remove("VFIO_NETMAP_MAX_REGION_MB")
        .env_remove("VFIO_NETMAP_SHM_GROUP")
        .current_dir(&dir.0);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // The child's output goes to a file, shown if it fails.
    let log_path =
        std::env::temp_dir().join(format!("shm_trust-{test}-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test}: the child took more than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    (status, output)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `args` as nobody:nogroup.
fn as_nobody(args: &[&str]) {
    let status = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(args)
        .status()
        .expect("setpriv (util-linux)");
    assert!(status.success(), "as nobody: {args:?}: {status}");
}

fn mem_error(e: PortError) -> MemError {
    match e {
        PortError::Api(ApiError::Mem(m)) => m,
        other => panic!("not a memory error: {other}"),
    }
}

fn pipe(region: &str, end: char) -> Result<Port, PortError> {
    vfio_netmap::ports::open(&format!("netmap:{region}{end}0"))
}

const PRECIOUS: &[u8] = b"precious data that no region may overwrite\n";

/// A symlink another user planted at a region's path, pointing at a file of
/// ours: opening the port (as root) is refused with the typed error, and the
/// file it points at keeps its contents and length.
#[test]
fn a_planted_symlink_is_refused_and_its_target_untouched() {
    const TEST: &str = "a_planted_symlink_is_refused_and_its_target_untouched";
    if in_child(TEST) {
        let err = mem_error(pipe("planted", '{').unwrap_err());
        assert!(
            matches!(
                err,
                MemError::UntrustedFile {
                    problem: FileProblem::Symlink,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("is a symlink") && text.contains("rm "),
            "{text}"
        );
        return;
    }
    if !is_root() {
        eprintln!("skipped: planting a file as another user needs root");
        return;
    }
    let dir = Dir::new("symlink");
    let victim_dir = Dir::new("symlink-victim");
    std::fs::set_permissions(&victim_dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let victim = victim_dir.0.join("ours");
    std::fs::write(&victim, PRECIOUS).unwrap();
    let link = dir.file("planted");
    as_nobody(&["ln", "-s", victim.to_str().unwrap(), link.to_str().unwrap()]);
    assert_eq!(std::fs::symlink_metadata(&link).unwrap().uid(), NOBODY);
    run_child(TEST, &dir, &[]);
    assert_eq!(std::fs::read(&victim).unwrap(), PRECIOUS);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A region file another user owns is refused, and left as it was.
#[test]
fn another_users_region_file_is_refused() {
    const TEST: &str = "another_users_region_file_is_refused";
    if in_child(TEST) {
        let err = mem_error(pipe("theirs", '{').unwrap_err());
        assert!(
            matches!(
                err,
                MemError::UntrustedFile {
                    problem: FileProblem::Owner { uid: NOBODY, .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("VFIO_NETMAP_SHM_GROUP"), "{err}");
        return;
    }
    if !is_root() {
        eprintln!("skipped: making a file another user's needs root");
        return;
    }
    let dir = Dir::new("owner");
    let file = dir.file("theirs");
    std::fs::write(&file, PRECIOUS).unwrap();
    std::os::unix::fs::chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
    run_child(TEST, &dir, &[]);
    assert_eq!(std::fs::read(&file).unwrap(), PRECIOUS);
}

/// Region files are created 0600; with `VFIO_NETMAP_SHM_GROUP` they are
/// created 0660 in that group, and files of that group are accepted whoever
/// owns them.
#[test]
fn files_are_private_unless_a_group_is_named() {
    const TEST: &str = "files_are_private_unless_a_group_is_named";
    if in_child(TEST) {
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let file = |region: &str| dir.join(format!("vfio-netmap.pipe-{region}"));
        let group = std::env::var("VFIO_NETMAP_SHM_GROUP").ok();
        let port = pipe("mine", '{').unwrap();
        let meta = std::fs::metadata(file("mine")).unwrap();
        if group.is_none() {
            assert_eq!(meta.mode() & 0o777, 0o600);
            return;
        }
        assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, NOBODY));
        drop(port);
        // A file of nobody's in the group: accepted.
        let shared = pipe("shared", '{').unwrap();
        assert!(shared.region().intact().is_ok());
        return;
    }
    let dir = Dir::new("group");
    run_child(TEST, &dir, &[]);
    if !is_root() {
        eprintln!("skipped the group part: it needs root");
        return;
    }
    let planted = dir.file("shared");
    std::fs::write(&planted, b"").unwrap();
    std::os::unix::fs::chown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o660)).unwrap();
    run_child(TEST, &dir, &[("VFIO_NETMAP_SHM_GROUP", "nogroup")]);
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}

/// An absurd pool fails at once, naming the cap and how to change it, and
/// leaves no file behind; `VFIO_NETMAP_MAX_REGION_MB` sets the cap.
#[test]
fn an_absurd_pool_fails_fast_and_leaves_nothing() {
    const TEST: &str = "an_absurd_pool_fails_fast_and_leaves_nothing";
    if in_child(TEST) {
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let capped = std::env::var_os("VFIO_NETMAP_MAX_REGION_MB").is_some();
        let names: &[&str] = if capped {
            &["netmap:capped{0"]
        } else {
            &[
                "netmap:huge{0@conf:bufs=4294967295",
                "netmap:huge}0@conf:extra-bufs=4294967295",
            ]
        };
        for name in names {
            let start = Instant::now();
            let err = mem_error(vfio_netmap::ports::open(name).unwrap_err());
            let took = start.elapsed();
            assert!(took < Duration::from_secs(1), "{name}: took {took:?}");
            let cap = if capped {
                SizeCap::Env
            } else {
                SizeCap::PhysicalMemory
            };
            assert!(
                matches!(err, MemError::TooLarge { cap: c, .. } if c == cap),
                "{name}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains("VFIO_NETMAP_MAX_REGION_MB"), "{text}");
            if !capped {
                assert!(text.contains("physical memory"), "{text}");
            }
            let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert!(left.is_empty(), "{name} left {left:?}");
        }
        return;
    }
    let dir = Dir::new("absurd");
    run_child(TEST, &dir, &[]);
    // The default pipe region is over 32 MiB.
    run_child(TEST, &dir, &[("VFIO_NETMAP_MAX_REGION_MB", "16")]);
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}

/// A region file shrunk while a port uses it: opening another port on it is
/// an error at open (not a SIGBUS later), and closing the first port, whose
/// pages are gone, does not kill the process either.
#[test]
fn a_shrunk_file_is_an_error_at_open() {
    const TEST: &str = "a_shrunk_file_is_an_error_at_open";
    if in_child(TEST) {
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let file = dir.join("vfio-netmap.pipe-shrunk");
        let master = pipe("shrunk", '{').unwrap();
        for size in [1 << 20, 100] {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .unwrap()
                .set_len(size)
                .unwrap();
            let err = mem_error(pipe("shrunk", '}').unwrap_err());
            assert!(
                matches!(err, MemError::Shrunk { size: s, .. } if s == size),
                "{err}"
            );
            assert!(err.to_string().contains("shrunk"), "{err}");
        }
        drop(master); // touches its lost pages: the trap answers
        return;
    }
    let dir = Dir::new("shrunk");
    run_child(TEST, &dir, &[]);
}

/// Sizes in a region's header that another process rewrote are checked
/// before they are used: an impossible pool is an error at open.
#[test]
fn a_forged_header_is_an_error_at_open() {
    const TEST: &str = "a_forged_header_is_an_error_at_open";
    if in_child(TEST) {
        use std::os::unix::fs::FileExt;
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let file = dir.join("vfio-netmap.pipe-forged");
        let master = pipe("forged", '{').unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        // num_bufs, at offset 16 of the header (after magic, version and
        // buf_size).
        f.write_all_at(&u32::MAX.to_le_bytes(), 16).unwrap();
        let err = mem_error(pipe("forged", '}').unwrap_err());
        assert!(matches!(err, MemError::Foreign { .. }), "{err}");
        drop(master);
        return;
    }
    let dir = Dir::new("forged");
    run_child(TEST, &dir, &[]);
}

/// An open that fails after creating the region file removes it.
#[test]
fn a_failed_open_leaves_no_file() {
    const TEST: &str = "a_failed_open_leaves_no_file";
    if in_child(TEST) {
        // Too few buffers for the rings: fails after the region exists.
        let err = vfio_netmap::ports::open("netmap:small{0@conf:bufs=16,slots=64").unwrap_err();
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{err}: left {left:?}");
        return;
    }
    let dir = Dir::new("failed");
    run_child(TEST, &dir, &[]);
}

/// An open whose mapping fails after it created and sized the region file
/// (here: the address space is limited) removes the file.
#[test]
fn a_failed_mapping_leaves_no_file() {
    const TEST: &str = "a_failed_mapping_leaves_no_file";
    if in_child(TEST) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        // Room for 8 MiB more; the default pipe region is over 32 MiB.
        let limit = (vm_kb + (8 << 10)) << 10;
        let rlim = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: a valid rlimit, read during the call.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlim) }, 0);
        let err = mem_error(pipe("unmappable", '{').unwrap_err());
        assert!(matches!(err, MemError::Map { .. }), "{err}");
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{err}: left {left:?}");
        return;
    }
    let dir = Dir::new("unmappable");
    run_child(TEST, &dir, &[]);
}

/// A region file truncated while both ends of a pipe move packets through
/// it: neither end dies of SIGBUS, and `Region::intact` reports it on both.
#[test]
fn truncating_a_region_in_use_kills_nobody() {
    const TEST: &str = "truncating_a_region_in_use_kills_nobody";
    if in_child(TEST) {
        let mut master = pipe("cut", '{').unwrap();
        let mut slave = pipe("cut", '}').unwrap();
        let file = master.region().backing().path().unwrap().to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let moved = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    send_some(&mut master);
                    let _ = master.txsync();
                }
                master
            })
        };
        let receiver = {
            let (stop, moved) = (stop.clone(), moved.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = slave.rxsync();
                    moved.fetch_add(receive_some(&mut slave), Ordering::Relaxed);
                }
                slave
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while moved.load(Ordering::Relaxed) < 10_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(moved.load(Ordering::Relaxed) > 0, "no packets crossed");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(0)
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let master = sender.join().expect("the sending end panicked");
        let slave = receiver.join().expect("the receiving end panicked");
        for port in [&master, &slave] {
            let err = port.region().intact().unwrap_err();
            assert!(matches!(err, MemError::Truncated { .. }), "{err}");
            assert!(err.to_string().contains("truncated"), "{err}");
        }
        drop((master, slave));
        return;
    }
    let dir = Dir::new("cut");
    run_child(TEST, &dir, &[]);
}

/// The trap only catches faults in region mappings: a SIGBUS anywhere else
/// still goes to the disposition that was there before (here the default,
/// through Rust's own handler), and kills the process.
#[test]
fn a_sigbus_elsewhere_still_kills() {
    const TEST: &str = "a_sigbus_elsewhere_still_kills";
    if in_child(TEST) {
        let dir = PathBuf::from(std::env::var_os("VFIO_NETMAP_SHM_DIR").unwrap());
        let _port = pipe("trapped", '{').unwrap(); // the trap is installed
        let path = dir.join("not-a-region");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.set_len(8192).unwrap();
        let map = memmap2::MmapOptions::new()
            .len(8192)
            .map_raw(&file)
            .unwrap();
        file.set_len(0).unwrap();
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid rlimit, read during the call: no core dump of the
        // death to come.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        println!("touching a truncated mapping that is not a region");
        // SAFETY: inside the mapping, whose file is gone: this raises SIGBUS.
        let byte = unsafe { map.as_ptr().add(4096).read_volatile() };
        println!("survived, read {byte}");
        return;
    }
    let dir = Dir::new("elsewhere");
    let (status, output) = child_status(TEST, &dir, &[]);
    assert_eq!(
        status.signal(),
        Some(libc::SIGBUS),
        "the child ended with {status}; its output:\n{output}"
    );
}

fn send_some(port: &mut Port) {
    let Ok(mut ring) = port.tx_ring(0) else {
        return;
    };
    let mut cur = ring.cur();
    while ring.space() > 0 {
        let Some(buf) = ring.buf_mut(cur) else {
            return; // the ring is zeros now
        };
        buf[..60].fill(0x5a);
        let _ = ring.set_len(cur, 60);
        cur = ring.next(cur);
        ring.advance_to(cur);
    }
}

fn receive_some(port: &mut Port) -> u64 {
    let Ok(ring) = port.rx_ring(0) else {
        return 0;
    };
    let mut head = ring.head();
    let mut got = 0;
    while head != ring.tail() {
        if ring.packet(head).is_none() {
            break;
        }
        got += 1;
        head = ring.next(head);
    }
    ring.advance_to(head);
    got
}

/// An empty `VFIO_NETMAP_SHM_DIR` is an error (it used to put region files
/// in the current directory).
#[test]
fn an_empty_shm_dir_is_an_error() {
    const TEST: &str = "an_empty_shm_dir_is_an_error";
    if in_child(TEST) {
        let err = mem_error(pipe("nowhere", '{').unwrap_err());
        assert!(
            matches!(
                err,
                MemError::BadEnv {
                    var: "VFIO_NETMAP_SHM_DIR",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("empty"), "{err}");
        return;
    }
    // The child runs in `dir`, so a file made "in the current directory"
    // would show there.
    let dir = Dir::new("empty");
    run_child(TEST, &dir, &[("VFIO_NETMAP_SHM_DIR", "")]);
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}

/// A region name given through the API cannot leave the region directory.
#[test]
fn region_names_stay_in_the_directory() {
    const TEST: &str = "region_names_stay_in_the_directory";
    if in_child(TEST) {
        use vfio_netmap::api::{PipeEnd, PipeSpec};
        for name in ["../escape", "a/b", "x\0y"] {
            let spec = PipeSpec::new(name, "0", PipeEnd::Master);
            let err = Port::open_pipe("p", &spec).unwrap_err();
            assert!(
                matches!(err, ApiError::Mem(MemError::BadName { .. })),
                "{name:?}: {err}"
            );
        }
        return;
    }
    let dir = Dir::new("names");
    run_child(TEST, &dir, &[]);
    assert!(dir.entries().is_empty(), "left behind: {:?}", dir.entries());
}
