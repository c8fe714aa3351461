//! Cross-process locks on local files: Linux open-file-description locks
//! (`F_OFD_SETLK`).
//!
//! OFD locks belong to an open file description, not to a process: closing
//! some other descriptor of the same file elsewhere in the process does not
//! drop them (the flaw of classic POSIX `fcntl` locks that SQLite's
//! `os_unix.c` documents), two descriptors opened separately in one process
//! exclude each other like two processes do, and the kernel releases them
//! the moment their last descriptor closes, including when the process is
//! killed. NFS (with lock support), Lustre and GPFS carry them across hosts.
//!
//! Two uses:
//! * [`ModeLock`]: the read-or-write rule of one array (or one zip file)
//!   across processes. Readers and writers each hold a *shared* lock on a
//!   byte of their own, and check that nobody holds the other group's byte.
//!   Shared locks need only a read-only descriptor, so readers of a
//!   read-only store take part too.
//! * [`lock_exclusive`]: an exclusive lock on a whole file (a chunk being
//!   replaced), blocking until it is free.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// First byte of the mode-lock bytes (far past any real file's end, so the
/// range never overlaps a lock a foreign program takes on real data).
const MODE_BASE: i64 = 1 << 40;

fn flock_struct(kind: i16, start: i64, len: i64) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero is valid.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as i16;
    fl.l_start = start;
    fl.l_len = len;
    fl
}

fn fcntl_lock(fd: RawFd, cmd: i32, fl: &mut libc::flock) -> io::Result<()> {
    loop {
        // SAFETY: valid descriptor and a pointer to a live `flock` struct.
        let rc = unsafe { libc::fcntl(fd, cmd, fl as *mut libc::flock) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Takes an exclusive lock on the whole of `file` (opened for writing),
/// waiting as long as another open file description holds one.
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    let mut fl = flock_struct(libc::F_WRLCK as i16, 0, 0);
    fcntl_lock(file.as_raw_fd(), libc::F_OFD_SETLKW, &mut fl)
}

/// Which group a [`ModeLock`] joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// Readers: exclude writers.
    Readers,
    /// Writers: exclude readers; any number of writers.
    Writers,
    /// One writer: excludes readers and other writers.
    SoleWriter,
}

/// Who holds the lock that refused a [`ModeLock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    /// `readers` or `writers`.
    pub group: &'static str,
    /// The holding process, where `/proc` tells it.
    pub pid: Option<u32>,
}

/// A held mode lock; dropping it (or the death of the process) releases it.
#[derive(Debug)]
pub struct ModeLock {
    _file: File,
}

/// Bytes of slot `slot` (several independent mode locks can share one file,
/// e.g. the zip files of one directory): the readers', the writers' and
/// the sole writer's byte.
fn bytes_of(slot: u64) -> (i64, i64, i64) {
    let base = MODE_BASE + (slot % (1 << 36)) as i64 * 3;
    (base, base + 1, base + 2)
}

/// Whether a lock of another open file description covers byte `at`.
fn other_holds(fd: RawFd, at: i64) -> io::Result<bool> {
    let mut fl = flock_struct(libc::F_WRLCK as i16, at, 1);
    fcntl_lock(fd, libc::F_OFD_GETLK, &mut fl)?;
    Ok(fl.l_type != libc::F_UNLCK as i16)
}

impl ModeLock {
    /// Joins `group` on `file` (any descriptor, read-only is enough) in
    /// `slot`, waiting up to `wait` for the other group to leave. Returns
    /// `Ok(Err(holder))` when the other group still holds it.
    pub(crate) fn acquire(
        file: File,
        slot: u64,
        group: Group,
        wait: Option<Duration>,
    ) -> io::Result<Result<ModeLock, Holder>> {
        let (r, w, s) = bytes_of(slot);
        let fd = file.as_raw_fd();
        let (mine, others): (i64, &[(i64, &'static str)]) = match group {
            Group::Readers => (r, &[(w, "writers"), (s, "writers")]),
            Group::Writers => (w, &[(r, "readers"), (s, "writers")]),
            Group::SoleWriter => (s, &[(r, "readers"), (w, "writers"), (s, "writers")]),
        };
        let deadline = wait.map(|d| Instant::now() + d);
        let mut pause = Duration::from_millis(1);
        loop {
            let mut fl = flock_struct(libc::F_RDLCK as i16, mine, 1);
            fcntl_lock(fd, libc::F_OFD_SETLK, &mut fl)?;
            let mut conflict = None;
            for &(at, name) in others {
                if other_holds(fd, at)? {
                    conflict = Some((at, name));
                    break;
                }
            }
            let Some((at, name)) = conflict else {
                return Ok(Ok(ModeLock { _file: file }));
            };
            // Step back so that two processes entering opposite groups at
            // once do not both keep waiting on each other.
            let mut un = flock_struct(libc::F_UNLCK as i16, mine, 1);
            fcntl_lock(fd, libc::F_OFD_SETLK, &mut un)?;
            match deadline {
                Some(d) if Instant::now() < d => {
                    let left = d.saturating_duration_since(Instant::now());
                    std::thread::sleep(pause.min(left) + jitter(pause));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                _ => {
                    return Ok(Err(Holder {
                        group: name,
                        pid: holder_pid(&file, at),
                    }))
                }
            }
        }
    }
}

/// Up to `scale`/2 of random delay, so that racing processes spread out.
fn jitter(scale: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let x = (nanos ^ (std::process::id() as u64).wrapping_mul(0x9e37_79b9)) % 1024;
    scale.mul_f64(x as f64 / 2048.0)
}

/// The pid of a process holding an OFD lock on byte `at` of `file`'s inode:
/// OFD locks show `-1` as their pid in `/proc/locks`, so this looks for a
/// descriptor whose `fdinfo` lists the lock. Only processes whose `/proc`
/// entries this process may read are found.
fn holder_pid(file: &File, at: i64) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().ok()?;
    let (major, minor) = (libc::major(m.dev()), libc::minor(m.dev()));
    let needle = format!("{major:02x}:{minor:02x}:{} {at} ", m.ino());
    let me = std::process::id();
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(info) = std::fs::read_to_string(fd.path()) else {
                continue;
            };
            if info
                .lines()
                .any(|l| l.starts_with("lock:") && l.contains("OFDLCK") && l.contains(&needle))
            {
                return Some(pid);
            }
        }
    }
    None
}

/// Joins the readers or writers of node `node` on `file` in `slot`: the
/// common part of the stores' [`Store::lock_node`](super::Store::lock_node).
pub(crate) fn lock_node_on(
    file: File,
    slot: u64,
    node: &str,
    access: super::NodeAccess,
    wait: Option<Duration>,
) -> Result<Option<ModeLock>, super::StoreError> {
    let group = match access {
        super::NodeAccess::Read => Group::Readers,
        super::NodeAccess::Write => Group::Writers,
    };
    match ModeLock::acquire(file, slot, group, wait) {
        Ok(Ok(lock)) => Ok(Some(lock)),
        Ok(Err(holder)) => Err(holder.into_error(node)),
        Err(e) => Err(super::StoreError::io(node, "lock", e)),
    }
}

impl Holder {
    /// The error of a lock of `node` held by the other group.
    pub(crate) fn into_error(self, node: &str) -> super::StoreError {
        super::StoreError::Locked {
            node: node.to_string(),
            held_by: if self.group == "readers" {
                "reading"
            } else {
                "writing"
            },
            who: self
                .pid
                .map_or_else(|| "another process".to_string(), |p| format!("process {p}")),
            pid: self.pid,
        }
    }
}

/// FNV-1a of a name: the slot of a mode lock shared by several names.
pub(crate) fn slot_of(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(p: &std::path::Path) -> File {
        File::open(p).unwrap()
    }

    #[test]
    fn groups_exclude_each_other_within_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let r1 = ModeLock::acquire(open(p), 0, Group::Readers, None)
            .unwrap()
            .unwrap();
        let _r2 = ModeLock::acquire(open(p), 0, Group::Readers, None)
            .unwrap()
            .unwrap();
        let busy = ModeLock::acquire(open(p), 0, Group::Writers, None)
            .unwrap()
            .unwrap_err();
        assert_eq!(busy.group, "readers");
        // Another slot is independent.
        let _w = ModeLock::acquire(open(p), 1, Group::Writers, None)
            .unwrap()
            .unwrap();
        drop(r1);
        drop(_r2);
        let w1 = ModeLock::acquire(open(p), 0, Group::Writers, None)
            .unwrap()
            .unwrap();
        let _w2 = ModeLock::acquire(open(p), 0, Group::Writers, None)
            .unwrap()
            .unwrap();
        assert!(ModeLock::acquire(open(p), 0, Group::SoleWriter, None)
            .unwrap()
            .is_err());
        drop(w1);
        drop(_w2);
        let _sole = ModeLock::acquire(open(p), 0, Group::SoleWriter, None)
            .unwrap()
            .unwrap();
        assert!(ModeLock::acquire(open(p), 0, Group::Writers, None)
            .unwrap()
            .is_err());
    }

    #[test]
    fn waiting_succeeds_once_the_other_group_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_path_buf();
        let r = ModeLock::acquire(open(&p), 7, Group::Readers, None)
            .unwrap()
            .unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(r);
        });
        let started = Instant::now();
        let w =
            ModeLock::acquire(open(&p), 7, Group::Writers, Some(Duration::from_secs(20))).unwrap();
        assert!(w.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(90));
        t.join().unwrap();
    }

    #[test]
    fn exclusive_file_lock_serialises_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, b"x").unwrap();
        let rw = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap()
        };
        let a = rw();
        lock_exclusive(&a).unwrap();
        let b = rw();
        let mut fl = flock_struct(libc::F_WRLCK as i16, 0, 0);
        let e = fcntl_lock(b.as_raw_fd(), libc::F_OFD_SETLK, &mut fl).unwrap_err();
        assert!(matches!(
            e.raw_os_error(),
            Some(libc::EAGAIN) | Some(libc::EACCES)
        ));
        drop(a);
        lock_exclusive(&b).unwrap();
    }
}
