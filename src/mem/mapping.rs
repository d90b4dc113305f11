//! File-backed shared mappings: hugepages when the system has them reserved,
//! ordinary pages (with a logged hint) otherwise.
//!
//! Every region is a file (a memfd for private regions, a file in hugetlbfs or
//! /dev/shm for named ones) so that one code path serves both, and so that
//! byte-range locks on the file can record which process holds what.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapOptions, MmapRaw};

use super::error::MemError;

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

/// A shared, read-write mapping of a whole file, unmapped on drop.
pub struct Mapping {
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
            map,
            file,
            backing: Backing::Memfd,
        })
    }

    /// Opens (creating if needed) the named shared file of a region. Returns
    /// the file and where it lives; the caller sizes and maps it under a lock.
    pub fn open_shared_file(name: &str, size_if_new: usize) -> Result<(File, Backing), MemError> {
        let file_name = format!("vfio-netmap.{name}");
        if let Some(dir) = std::env::var_os("VFIO_NETMAP_SHM_DIR") {
            let path = PathBuf::from(dir).join(&file_name);
            return open_rw(&path).map(|f| (f, Backing::ShmFile(path)));
        }
        if let Some(mount) = hugetlbfs_mount() {
            let path = mount.join(&file_name);
            // An existing file in hugetlbfs is reused whatever the free count.
            if path.exists() || hugepages_available(size_if_new) {
                if let Ok(f) = open_rw(&path) {
                    return Ok((f, Backing::HugetlbfsFile(path)));
                }
            }
        }
        log_no_hugepages(name, size_if_new);
        let path = PathBuf::from("/dev/shm").join(&file_name);
        open_rw(&path).map(|f| (f, Backing::ShmFile(path)))
    }

    /// Maps an already sized shared file.
    pub fn map_shared(name: &str, file: File, backing: Backing) -> Result<Mapping, MemError> {
        let map_err = |source| MemError::Map {
            name: name.to_string(),
            size: 0,
            source,
        };
        let size = file.metadata().map_err(map_err)?.len() as usize;
        let map = map_file(&file, size).map_err(|source| MemError::Map {
            name: name.to_string(),
            size,
            source,
        })?;
        Ok(Mapping { map, file, backing })
    }
}

/// `n` rounded up to a multiple of `to`.
pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn open_rw(path: &Path) -> Result<File, MemError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| MemError::SharedFile {
            path: path.to_path_buf(),
            source,
        })
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
