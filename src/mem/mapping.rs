//! File-backed shared mappings: hugepages when the system has them reserved,
//! ordinary pages (with a logged hint) otherwise.
//!
//! Every region is a file (a memfd for private regions, a file in hugetlbfs or
//! /dev/shm for named ones) so that one code path serves both, and so that
//! byte-range locks on the file can record which process holds what.
//!
//! The directory of named regions is shared with other users (/dev/shm is
//! world-writable), so region files are created with `O_EXCL|O_NOFOLLOW`,
//! mode 0600 (0660 and the group `VFIO_NETMAP_SHM_GROUP` names, if set),
//! and an existing one is opened with `O_NOFOLLOW` and used only if it is
//! a regular file with one name, not world-writable, owned by us, by root
//! or (with `VFIO_NETMAP_SHM_GROUP`) in that group. Region sizes are capped
//! (physical memory, or `VFIO_NETMAP_MAX_REGION_MB`) before anything is
//! created, and shared mappings are put under the SIGBUS trap (`trap.rs`)
//! so that a file truncated under us cannot kill the process.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use memmap2::{MmapOptions, MmapRaw};

use super::error::{FileProblem, MemError, SizeCap};
use super::trap;

/// 2 MiB, the hugepage size we ask for.
pub const HUGEPAGE_SIZE: usize = 2 << 20;

/// How a mapping is backed; reported so users know whether they got hugepages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// A file in a mounted hugetlbfs.
    HugetlbfsFile(PathBuf),
    /// A file in /dev/shm (or `VFIO_NETMAP_SHM_DIR`): ordinary pages.
    ShmFile(PathBuf),
    /// memfd_create(MFD_HUGETLB): private, hugepages.
    MemfdHuge,
    /// memfd_create without hugepages: private, ordinary pages.
    Memfd,
}

impl Backing {
    /// Whether the memory is backed by hugepages.
    pub fn hugepages(&self) -> bool {
        matches!(self, Backing::HugetlbfsFile(_) | Backing::MemfdHuge)
    }
    /// The backing file's path, for file-backed mappings (`None` for memfds).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Backing::HugetlbfsFile(p) | Backing::ShmFile(p) => Some(p),
            _ => None,
        }
    }
}

/// The longest region name (the file name adds a prefix; NAME_MAX is 255).
pub const MAX_NAME_BYTES: usize = 200;

/// A shared, read-write mapping of a whole file, unmapped on drop.
pub struct Mapping {
    /// Shared mappings are under the SIGBUS trap; declared first so that it
    /// is dropped (leaves the trap) before `map` is unmapped.
    trap: Option<trap::Guard>,
    map: MmapRaw,
    file: File,
    backing: Backing,
}

impl Mapping {
    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    /// Length of the mapping in bytes: the whole file.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether the mapping has no bytes.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }
    /// The mapped file, on which [`RangeLocks`] are taken.
    pub fn file(&self) -> &File {
        &self.file
    }
    /// What backs the mapping.
    pub fn backing(&self) -> &Backing {
        &self.backing
    }
    /// Whether the mapping's file was truncated under it: touching the lost
    /// pages raised SIGBUS and the trap put zeroed memory in place of the
    /// whole mapping. One relaxed atomic load; always false for private
    /// mappings, which nobody else can truncate.
    #[inline]
    pub fn truncated(&self) -> bool {
        self.trap.as_ref().is_some_and(|t| t.truncated())
    }

    /// Whether the file is still as long as the mapping (one `fstat`):
    /// catches a truncation before any access faults on it, and records it
    /// so that [`Mapping::truncated`] reports it too.
    pub fn file_intact(&self) -> bool {
        let Some(trap) = &self.trap else {
            return true;
        };
        if trap.truncated() {
            return false;
        }
        let shorter = self
            .file
            .metadata()
            .is_ok_and(|m| m.len() < self.map.len() as u64);
        if shorter {
            trap.mark_truncated();
        }
        !shorter
    }

    /// A private region of at least `size` bytes.
    pub fn private(name: &str, size: usize) -> Result<Mapping, MemError> {
        // 1 GiB pages only for regions that fill most of one.
        let sizes = [
            (1usize << 30, libc::MFD_HUGE_1GB),
            (HUGEPAGE_SIZE, libc::MFD_HUGE_2MB),
        ];
        for (page, flag) in sizes {
            if (page > HUGEPAGE_SIZE && size < page / 2)
                || free_hugepages_of(page) * page < round_up(size, page)
            {
                continue;
            }
            let rounded = round_up(size, page);
            let mapped = memfd(name, libc::MFD_HUGETLB | flag)
                .and_then(|f| f.set_len(rounded as u64).map(|_| f))
                .and_then(|file| map_file(&file, rounded).map(|map| (file, map)));
            match mapped {
                Ok((file, map)) => {
                    return Ok(Mapping {
                        trap: None,
                        map,
                        file,
                        backing: Backing::MemfdHuge,
                    });
                }
                Err(e) => log::warn!("{} KiB hugepages for `{name}` failed ({e})", page >> 10),
            }
        }
        log::warn!("{}", no_hugepages_hint(name, size));
        let map_err = |source| MemError::Map {
            name: name.to_string(),
            size,
            source,
        };
        let file = memfd(name, 0).map_err(map_err)?;
        file.set_len(size as u64).map_err(map_err)?;
        let map = map_file(&file, size).map_err(map_err)?;
        Ok(Mapping {
            trap: None,
            map,
            file,
            backing: Backing::Memfd,
        })
    }

    /// Opens (creating if needed) the named shared file of a region. Returns
    /// the file, where it lives and whether this call created it; the caller
    /// sizes and maps it under a lock. An existing file is refused unless it
    /// is trustworthy (see the module documentation).
    pub fn open_shared_file(
        name: &str,
        size_if_new: usize,
    ) -> Result<(File, Backing, bool), MemError> {
        let file_name = region_file_name(name)?;
        let group = shm_group()?;
        if let Some(dir) = std::env::var_os("VFIO_NETMAP_SHM_DIR") {
            if dir.is_empty() {
                return Err(MemError::BadEnv {
                    var: "VFIO_NETMAP_SHM_DIR",
                    value: String::new(),
                    problem: "is empty; set it to the directory for region files, or unset it \
                              to use hugetlbfs or /dev/shm"
                        .to_string(),
                });
            }
            let path = PathBuf::from(dir).join(&file_name);
            return open_region_file(&path, group).map(|(f, c)| (f, Backing::ShmFile(path), c));
        }
        if let Some(mount) = hugetlbfs_mount() {
            let path = mount.join(&file_name);
            // An existing file in hugetlbfs is reused whatever the free count
            // (and anything else at the path is refused, not bypassed).
            if path.symlink_metadata().is_ok() || hugepages_available(size_if_new) {
                match open_region_file(&path, group) {
                    Ok((f, created)) => return Ok((f, Backing::HugetlbfsFile(path), created)),
                    Err(e @ MemError::UntrustedFile { .. }) => return Err(e),
                    Err(_) => {}
                }
            }
        }
        log_no_hugepages(name, size_if_new);
        let path = PathBuf::from("/dev/shm").join(&file_name);
        open_region_file(&path, group).map(|(f, c)| (f, Backing::ShmFile(path), c))
    }

    /// Maps an already sized shared file, under the SIGBUS trap.
    pub fn map_shared(name: &str, file: File, backing: Backing) -> Result<Mapping, MemError> {
        let map_err = |source| MemError::Map {
            name: name.to_string(),
            size: 0,
            source,
        };
        let len = file.metadata().map_err(map_err)?.len();
        // A file made bigger behind our back is not mapped (and populated)
        // whole either.
        check_size(name, len)?;
        let size = len as usize;
        let map = map_file(&file, size).map_err(|source| MemError::Map {
            name: name.to_string(),
            size,
            source,
        })?;
        let trap = trap::register(map.as_mut_ptr(), map.len());
        Ok(Mapping {
            trap,
            map,
            file,
            backing,
        })
    }
}

/// Refuses a region of `size` bytes that is larger than the cap:
/// `VFIO_NETMAP_MAX_REGION_MB` if set, else the machine's physical memory.
/// Called before anything is created or mapped, so that an absurd
/// `@conf:bufs=N` fails at once instead of populating terabytes.
///
/// RLIMIT_MEMLOCK is not checked: it does not apply to these mappings,
/// which are neither mlock()ed nor MAP_LOCKED (MAP_POPULATE only faults the
/// pages in). Where pages are pinned, for a NIC's DMA mapping, the kernel
/// charges them against it and VFIO reports the error itself.
pub fn check_size(name: &str, size: u64) -> Result<(), MemError> {
    let (limit, cap) = match std::env::var("VFIO_NETMAP_MAX_REGION_MB") {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(mb) if mb > 0 => (mb.saturating_mul(1 << 20), SizeCap::Env),
            _ => {
                return Err(MemError::BadEnv {
                    var: "VFIO_NETMAP_MAX_REGION_MB",
                    value: v,
                    problem: "is not a size in MiB; set it to a positive whole number of MiB \
                              (the largest region allowed), or unset it to cap regions at the \
                              machine's physical memory"
                        .to_string(),
                });
            }
        },
        Err(std::env::VarError::NotUnicode(v)) => {
            return Err(MemError::BadEnv {
                var: "VFIO_NETMAP_MAX_REGION_MB",
                value: v.to_string_lossy().into_owned(),
                problem: "is not a number; set it to a whole number of MiB, or unset it"
                    .to_string(),
            });
        }
        Err(std::env::VarError::NotPresent) => match mem_total() {
            Some(bytes) => (bytes, SizeCap::PhysicalMemory),
            None => return Ok(()), // no /proc/meminfo: nothing to compare with
        },
    };
    if size > limit {
        return Err(MemError::TooLarge {
            name: name.to_string(),
            size,
            limit,
            cap,
        });
    }
    Ok(())
}

/// Physical memory in bytes (`MemTotal` in /proc/meminfo).
fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// The file name of region `name`, which must stay inside the region
/// directory. The port-name parser only lets letters, digits and `_`
/// through, but regions are also named through the API.
fn region_file_name(name: &str) -> Result<String, MemError> {
    let bad = |reason| {
        Err(MemError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("is too long");
    }
    if name.contains('/') || name.contains("..") {
        return bad("contains `/` or `..`, which would leave the region directory");
    }
    if name.bytes().any(|b| b.is_ascii_control()) {
        return bad("contains control characters");
    }
    Ok(format!("vfio-netmap.{name}"))
}

/// The group `VFIO_NETMAP_SHM_GROUP` names (a group name or a gid): region
/// files are then created 0660 in that group, and files of that group are
/// accepted whoever owns them.
fn shm_group() -> Result<Option<libc::gid_t>, MemError> {
    const VAR: &str = "VFIO_NETMAP_SHM_GROUP";
    let Some(value) = std::env::var_os(VAR) else {
        return Ok(None);
    };
    let value = value.to_string_lossy().into_owned();
    let bad = |problem: &str| {
        Err(MemError::BadEnv {
            var: VAR,
            value: value.clone(),
            problem: problem.to_string(),
        })
    };
    if value.is_empty() {
        return bad(
            "is empty; set it to the group (name or gid) that may share region files, or unset \
             it to keep them private to their owner",
        );
    }
    if let Ok(gid) = value.parse::<libc::gid_t>() {
        return Ok(Some(gid));
    }
    match group_id(&value) {
        Some(gid) => Ok(Some(gid)),
        None => bad("names no group on this system; give an existing group's name or gid"),
    }
}

/// The gid of the group called `name` (through NSS, as `id -g` would).
fn group_id(name: &str) -> Option<libc::gid_t> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    // SAFETY: an all-zero `group` is a valid value for getgrnam_r to fill.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the name is
    // NUL-terminated, buf is writable for buf.len() bytes, group and result
    // are writable.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(group.gr_gid)
}

/// Creates the region file at `path` (`O_EXCL|O_NOFOLLOW`, mode 0600, or
/// 0660 in `group`), or opens the one there (`O_NOFOLLOW`) and checks it.
/// Returns the file and whether it was created here.
fn open_region_file(path: &Path, group: Option<libc::gid_t>) -> Result<(File, bool), MemError> {
    let sys_err = |source| MemError::SharedFile {
        path: path.to_path_buf(),
        source,
    };
    // A file removed between the failed create and the open: try again,
    // a few times (someone else's creates and removes could go on forever).
    for _ in 0..64 {
        let created = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
        match created {
            Ok(file) => {
                if let Some(gid) = group {
                    if let Err(e) = share_with_group(&file, gid) {
                        let _ = std::fs::remove_file(path);
                        return Err(sys_err(e));
                    }
                }
                return Ok((file, true));
            }
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(sys_err(e)),
            Err(_) => {}
        }
        let existing = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
        match existing {
            Ok(file) => {
                check_file(&file, path, group)?;
                return Ok((file, false));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                let symlink = path
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink());
                return Err(if symlink {
                    MemError::UntrustedFile {
                        path: path.to_path_buf(),
                        problem: FileProblem::Symlink,
                    }
                } else {
                    sys_err(e)
                });
            }
        }
    }
    Err(sys_err(std::io::Error::other(
        "it keeps being created and removed by someone else",
    )))
}

/// Makes a file we just created readable and writable by `gid`.
fn share_with_group(file: &File, gid: libc::gid_t) -> std::io::Result<()> {
    // SAFETY: fchown and fchmod take an open descriptor and integers.
    let rc = unsafe { libc::fchown(file.as_raw_fd(), u32::MAX, gid) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    let rc = unsafe { libc::fchmod(file.as_raw_fd(), 0o660) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether an existing region file may be used: a regular file with one
/// name, not world-writable, owned by this process's user, by root, or
/// (when `group` is set) in that group.
fn check_file(file: &File, path: &Path, group: Option<libc::gid_t>) -> Result<(), MemError> {
    let meta = file.metadata().map_err(|source| MemError::SharedFile {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: geteuid has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let problem = if !meta.file_type().is_file() {
        Some(FileProblem::NotRegular)
    } else if meta.uid() != euid && meta.uid() != 0 && group != Some(meta.gid()) {
        Some(FileProblem::Owner {
            uid: meta.uid(),
            gid: meta.gid(),
            euid,
        })
    } else if meta.mode() & 0o002 != 0 {
        Some(FileProblem::WorldWritable)
    } else if meta.nlink() != 1 {
        Some(FileProblem::HardLinked {
            links: meta.nlink(),
        })
    } else {
        None
    };
    match problem {
        Some(problem) => Err(MemError::UntrustedFile {
            path: path.to_path_buf(),
            problem,
        }),
        None => Ok(()),
    }
}

/// `n` rounded up to a multiple of `to`.
pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn map_file(file: &File, len: usize) -> std::io::Result<MmapRaw> {
    // Populate now: buffers are touched at line rate later, and DMA mapping
    // pins them anyway.
    MmapOptions::new().len(len).populate().map_raw(file)
}

fn memfd(name: &str, extra_flags: libc::c_uint) -> std::io::Result<File> {
    let cname = CString::new(format!("vfio-netmap:{name}")).unwrap_or_default();
    // SAFETY: cname is a valid NUL-terminated string; memfd_create has no
    // other memory arguments.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | extra_flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly created descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Free 2 MiB hugepages, from /proc/meminfo.
pub fn free_hugepages() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn hugepages_available(size: usize) -> bool {
    free_hugepages() * HUGEPAGE_SIZE >= round_up(size, HUGEPAGE_SIZE)
}

/// The first mounted hugetlbfs with 2 MiB pages.
pub fn hugetlbfs_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, fstype, opts) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        let two_mb = !opts.contains("pagesize=") || opts.contains("pagesize=2M");
        (fstype == "hugetlbfs" && two_mb).then(|| PathBuf::from(dir))
    })
}

fn log_no_hugepages(name: &str, size: usize) {
    log::info!("{}", no_hugepages_hint(name, size));
}

fn no_hugepages_hint(name: &str, size: usize) -> String {
    let pages = round_up(size, HUGEPAGE_SIZE) / HUGEPAGE_SIZE;
    format!(
        "region `{name}`: not enough free hugepages for {size} bytes; using 4 KiB pages \
         (reserve hugepages as root: `echo {pages} > /proc/sys/vm/nr_hugepages`, and for named \
         regions mount hugetlbfs, e.g. `mount -t hugetlbfs none /dev/hugepages`)"
    )
}

/// Free hugepages of `page` bytes (2 MiB or 1 GiB), from sysfs.
pub fn free_hugepages_of(page: usize) -> usize {
    let path = format!(
        "/sys/kernel/mm/hugepages/hugepages-{}kB/free_hugepages",
        page >> 10
    );
    std::fs::read_to_string(path)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Byte-range locks (open file description locks) on a region's file: held
/// while a process uses a part of the region, released by the kernel when the
/// process dies, even by SIGKILL.
pub struct RangeLocks<'a> {
    file: &'a File,
}

impl<'a> RangeLocks<'a> {
    /// The locks on `file`, taken through its open file description.
    pub fn new(file: &'a File) -> Self {
        RangeLocks { file }
    }

    fn fcntl(
        &self,
        cmd: libc::c_int,
        kind: libc::c_short,
        byte: u64,
    ) -> std::io::Result<libc::flock> {
        self.fcntl_range(cmd, kind, byte, 1)
    }

    fn fcntl_range(
        &self,
        cmd: libc::c_int,
        kind: libc::c_short,
        start: u64,
        len: u64,
    ) -> std::io::Result<libc::flock> {
        let mut fl = libc::flock {
            l_type: kind,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: start as libc::off_t,
            l_len: len as libc::off_t,
            l_pid: 0,
        };
        // SAFETY: fl is a valid flock structure that outlives the call; the
        // fd is open for as long as self.file is borrowed.
        let rc = unsafe { libc::fcntl(self.file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(fl)
        }
    }

    /// Waits for an exclusive lock on `byte`.
    pub fn lock_wait(&self, byte: u64) -> std::io::Result<()> {
        loop {
            match self.fcntl(libc::F_OFD_SETLKW, libc::F_WRLCK as libc::c_short, byte) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other.map(|_| ()),
            }
        }
    }

    /// Takes an exclusive lock on `byte` if nobody else holds it.
    pub fn try_lock(&self, byte: u64) -> std::io::Result<bool> {
        match self.fcntl(libc::F_OFD_SETLK, libc::F_WRLCK as libc::c_short, byte) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Releases this open file description's lock on `byte`, if it holds one.
    pub fn unlock(&self, byte: u64) -> std::io::Result<()> {
        self.fcntl(libc::F_OFD_SETLK, libc::F_UNLCK as libc::c_short, byte)
            .map(|_| ())
    }

    /// Whether another open file description holds `byte`.
    pub fn held_elsewhere(&self, byte: u64) -> std::io::Result<bool> {
        self.any_held_elsewhere(byte, 1)
    }

    /// Whether another open file description holds any byte of the range.
    pub fn any_held_elsewhere(&self, start: u64, len: u64) -> std::io::Result<bool> {
        let fl = self.fcntl_range(
            libc::F_OFD_GETLK,
            libc::F_WRLCK as libc::c_short,
            start,
            len,
        )?;
        Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
    }
}
