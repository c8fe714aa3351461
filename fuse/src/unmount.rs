//! Unmounting from outside the mount process (`zarrcore umount`): find the
//! mount, have its process store pending writes and unmount, and clean up a
//! mount whose process is gone.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::session::FSNAME_PREFIX;

/// A line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// Filesystem type (`fuse`, `fuse.zarrcore`).
    pub fstype: String,
    /// Source (`zarrcore:PID` for zarrcore mounts).
    pub source: String,
}

impl MountEntry {
    /// Whether this is a zarrcore mount.
    pub fn is_zarrcore(&self) -> bool {
        self.source.starts_with(FSNAME_PREFIX) && self.fstype.starts_with("fuse")
    }

    /// The process serving the mount, as recorded when it was mounted.
    pub fn pid(&self) -> Option<u32> {
        self.source.strip_prefix(FSNAME_PREFIX)?.parse().ok()
    }
}

/// What [`request_unmount`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnmountOutcome {
    /// The mount process stored pending writes, unmounted and exited.
    Done,
    /// Unmounted; the process still serves files that were open and exits
    /// when they are closed.
    Detached,
    /// The mount process was gone; the stale mount was detached.
    Stale,
}

/// Why an unmount failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnmountError {
    /// Nothing is mounted there.
    #[error("{} is not a mount point", .0.display())]
    NotMounted(PathBuf),
    /// Something else is mounted there.
    #[error("{} is not a zarrcore mount (it is {fstype} from {from})", path.display())]
    NotZarrcore {
        /// The mount point.
        path: PathBuf,
        /// Its type.
        fstype: String,
        /// Its source.
        from: String,
    },
    /// Pending writes could not be stored; the mount is left in place.
    #[error("pending writes to {} could not be stored (see the mount's log); it stays mounted", .0.display())]
    Unstored(PathBuf),
    /// The mount did not go away in time.
    #[error("{} is still mounted after {:?}", .0.display(), .1)]
    Timeout(PathBuf, Duration),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> UnmountError {
    let what = what.into();
    move |source| UnmountError::Io { what, source }
}

/// The absolute form of `path` without touching it (a mount point whose
/// process died cannot be stat'ed): the parent is resolved, the last
/// component kept.
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    match (clean.parent(), clean.file_name()) {
        (Some(parent), Some(name)) => Ok(parent.canonicalize()?.join(name)),
        _ => Ok(clean),
    }
}

/// Undoes the octal escapes of `/proc/self/mountinfo` (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &s[i + 1..i + 4];
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the mount table text.
fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mountpoint = unescape(pre.split(' ').nth(4)?);
            let mut post = post.split(' ');
            let fstype = post.next()?.to_string();
            let source = unescape(post.next()?);
            Some(MountEntry {
                mountpoint: PathBuf::from(mountpoint),
                fstype,
                source,
            })
        })
        .collect()
}

/// The mount at `path` (absolute), the last one mounted there.
pub fn find_mount(path: &Path) -> io::Result<Option<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .rev()
        .find(|m| m.mountpoint == path))
}

/// Detaches the mount at `path` at once; it ends when its last open file is
/// closed (`umount -l`; `fusermount3 -u -z` for other users than root).
pub fn detach(path: &Path) -> io::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let mut last = io::Error::from(io::ErrorKind::NotFound);
            for tool in ["fusermount3", "fusermount"] {
                match Command::new(tool)
                    .arg("-u")
                    .arg("-z")
                    .arg("--")
                    .arg(path)
                    .output()
                {
                    Ok(o) if o.status.success() => return Ok(()),
                    Ok(o) => {
                        return Err(io::Error::other(format!(
                            "{tool}: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        )))
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        Err(e) => Err(e.into()),
    }
}

/// The state letter of process `pid` (`R`, `S`, `Z`, ...), if it exists.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether `pid` is a live zarrcore mount process.
fn is_mount_process(pid: u32) -> bool {
    if matches!(process_state(pid), None | Some('Z') | Some('X')) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|&b| b == 0).any(|a| a == b"mount"))
        .unwrap_or(false)
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Unmounts the zarrcore mount at `path`: its process stores pending
/// writes (an error leaves the mount in place) and unmounts, lazily if
/// files are open; a mount whose process is gone is detached.
pub fn request_unmount(path: &Path, timeout: Duration) -> Result<UnmountOutcome, UnmountError> {
    let abs = absolute(path).map_err(io_err(format!("resolve {}", path.display())))?;
    let m = find_mount(&abs)
        .map_err(io_err("read /proc/self/mountinfo"))?
        .ok_or_else(|| UnmountError::NotMounted(abs.clone()))?;
    if !m.is_zarrcore() {
        return Err(UnmountError::NotZarrcore {
            path: abs,
            fstype: m.fstype,
            from: m.source,
        });
    }
    let pid = m.pid().filter(|&p| is_mount_process(p));
    let Some(pid) = pid else {
        detach(&abs).map_err(io_err(format!("detach {}", abs.display())))?;
        return Ok(UnmountOutcome::Stale);
    };
    // fsync of the root directory stores every pending write and reports
    // whether that worked.
    let synced = std::fs::File::open(&abs).and_then(|d| d.sync_all());
    match synced {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            detach(&abs).map_err(io_err(format!("detach {}", abs.display())))?;
            return Ok(UnmountOutcome::Stale);
        }
        Err(e) if e.raw_os_error() == Some(libc::EIO) => return Err(UnmountError::Unstored(abs)),
        Err(e) => return Err(io_err(format!("sync {}", abs.display()))(e)),
    }
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM)
        .map_err(|e| io_err(format!("signal mount process {pid}"))(e.into()))?;
    let gone = wait_until(timeout, || {
        find_mount(&abs)
            .map(|m| m.is_none_or(|m| m.pid() != Some(pid)))
            .unwrap_or(false)
    });
    if !gone {
        return Err(UnmountError::Timeout(abs, timeout));
    }
    if wait_until(timeout.min(Duration::from_secs(10)), || {
        !is_mount_process(pid)
    }) {
        Ok(UnmountOutcome::Done)
    } else {
        Ok(UnmountOutcome::Detached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let text = "36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    90 25 0:52 / /tmp/with\\040space rw,nosuid,nodev,relatime - fuse zarrcore:4242 rw,user_id=0,group_id=0\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].mountpoint, PathBuf::from("/tmp/with space"));
        assert!(m[1].is_zarrcore());
        assert_eq!(m[1].pid(), Some(4242));
        assert!(!m[0].is_zarrcore());
        assert_eq!(unescape("a\\134b"), "a\\b");
    }
}
