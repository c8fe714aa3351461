//! Replacing a file of a directory store safely against other processes.
//!
//! Every replacement of an existing key (a rename over it, or an unlink)
//! happens while holding an exclusive OFD lock on the file being replaced,
//! taken through a descriptor of that very inode. A waiter that gets the
//! lock after the file was replaced sees that the name now points to
//! another inode and starts over on the new one. So replacements of one key
//! are serialised across threads and processes without a lock file, and the
//! check of the stored [`Generation`] under the lock is atomic with the
//! rename. A key that does not exist yet is created with
//! `renameat2(RENAME_NOREPLACE)` (or `linkat` where the filesystem lacks
//! it), which fails if another writer created it first.
//!
//! A generation tag names the file's device, inode, size and modification
//! time, and a CRC-32C of its content: inode numbers are reused once a file
//! is gone, and timestamps are only as fine as the kernel's clock tick, so
//! the content decides when the rest matches.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};

use super::lock::lock_exclusive;
use super::Generation;

/// The identity part of a tag (everything but the checksum).
fn identity(m: &std::fs::Metadata) -> String {
    format!(
        "{}:{}:{}:{}.{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )
}

/// The generation tag of `content`, read from `file`.
pub(super) fn tag_of(file: &File, content: &[u8]) -> io::Result<Generation> {
    let m = file.metadata()?;
    Ok(Generation::Tag(format!(
        "{}:{:08x}",
        identity(&m),
        crc32c::crc32c(content)
    )))
}

/// Whether the locked `file` is still at generation `expected` (a tag).
fn matches(file: &File, expected: &str) -> io::Result<bool> {
    let m = file.metadata()?;
    let id = identity(&m);
    let Some(crc) = expected
        .strip_prefix(id.as_str())
        .and_then(|r| r.strip_prefix(':'))
    else {
        return Ok(false);
    };
    let mut buf = vec![0u8; m.size() as usize];
    file.read_exact_at(&mut buf, 0)?;
    Ok(format!("{:08x}", crc32c::crc32c(&buf)) == crc)
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn stat_at(dfd: RawFd, name: &CStr) -> io::Result<Option<(u64, u64)>> {
    // SAFETY: `stat` is a plain C struct for which all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, NUL-terminated name and out-pointer.
    let rc = unsafe { libc::fstatat(dfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        return Ok(Some((st.st_dev, st.st_ino)));
    }
    let e = last_err();
    match e.raw_os_error() {
        Some(libc::ENOENT) => Ok(None),
        _ => Err(e),
    }
}

/// What a replacement puts in place of the key.
#[derive(Clone, Copy)]
pub(super) enum NewValue<'a> {
    /// Rename this temporary (same directory) over the key.
    Temp(&'a CStr),
    /// Delete the key.
    Delete,
}

/// Why a key could not be locked for replacement.
fn lock_refused(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) {
        io::Error::new(
            e.kind(),
            format!(
                "cannot lock the file for a safe replacement ({e}): the file is not writable by this user"
            ),
        )
    } else {
        e
    }
}

/// Replaces `name` in the directory `dfd` with `new` if its current
/// generation is `expected` (`None`: whatever it is). Returns `Ok(false)`
/// when the generation differs; the temporary is then left for the caller
/// to remove.
pub(super) fn replace(
    dfd: RawFd,
    name: &CStr,
    new: NewValue<'_>,
    expected: Option<&Generation>,
) -> io::Result<bool> {
    loop {
        // Lock the file currently under the name, if any.
        // SAFETY: valid descriptor and NUL-terminated name; the result is
        // owned below.
        let fd = unsafe {
            libc::openat(
                dfd,
                name.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            )
        };
        let current: Option<File> = if fd >= 0 {
            // SAFETY: a fresh descriptor we own from here on.
            let f = File::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            if !f.metadata()?.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file",
                ));
            }
            lock_exclusive(&f).map_err(lock_refused)?;
            // Still the file under the name? (Another writer may have
            // replaced it while we waited for the lock.)
            let m = f.metadata()?;
            if stat_at(dfd, name)? != Some((m.dev(), m.ino())) {
                continue;
            }
            Some(f)
        } else {
            let e = last_err();
            match e.raw_os_error() {
                Some(libc::ENOENT) => None,
                Some(libc::EISDIR) if matches!(new, NewValue::Delete) => return Ok(true),
                Some(libc::EACCES) | Some(libc::EPERM) if expected.is_none() => {
                    // A file we may not open for writing: an unconditional
                    // replacement still works, as before this protocol, but
                    // is not serialised with conditional ones.
                    return finish_unlocked(dfd, name, new);
                }
                Some(libc::ELOOP) if expected.is_none() => {
                    // The name is a symbolic link (O_NOFOLLOW): an
                    // unconditional write replaces the link itself by a file
                    // in the store and a delete removes the link, never its
                    // target (rename and unlink do not follow it; see
                    // docs/reliability.md).
                    return finish_unlocked(dfd, name, new);
                }
                _ => return Err(lock_refused(e)),
            }
        };
        if let Some(exp) = expected {
            let same = match (exp, &current) {
                (Generation::Absent, None) => true,
                (Generation::Tag(t), Some(f)) => matches(f, t)?,
                _ => false,
            };
            if !same {
                return Ok(false);
            }
        }
        match (new, &current) {
            (NewValue::Delete, None) => return Ok(true),
            (NewValue::Delete, Some(_)) => {
                // SAFETY: valid descriptor and NUL-terminated name.
                if unsafe { libc::unlinkat(dfd, name.as_ptr(), 0) } != 0 {
                    let e = last_err();
                    if e.raw_os_error() != Some(libc::ENOENT) {
                        return Err(e);
                    }
                }
                return Ok(true);
            }
            (NewValue::Temp(tmp), Some(_)) => {
                rename(dfd, tmp, name, 0)?;
                return Ok(true);
            }
            (NewValue::Temp(tmp), None) => {
                if expected.is_none() {
                    rename(dfd, tmp, name, 0)?;
                    return Ok(true);
                }
                match create_new(dfd, tmp, name) {
                    Ok(()) => return Ok(true),
                    // Another writer created it first: compare against it.
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

fn finish_unlocked(dfd: RawFd, name: &CStr, new: NewValue<'_>) -> io::Result<bool> {
    match new {
        NewValue::Temp(tmp) => rename(dfd, tmp, name, 0)?,
        NewValue::Delete => {
            // SAFETY: valid descriptor and NUL-terminated name.
            if unsafe { libc::unlinkat(dfd, name.as_ptr(), 0) } != 0 {
                let e = last_err();
                if e.raw_os_error() != Some(libc::ENOENT) {
                    return Err(e);
                }
            }
        }
    }
    Ok(true)
}

fn rename(dfd: RawFd, from: &CStr, to: &CStr, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: valid descriptors and NUL-terminated names.
    let rc = unsafe { libc::renameat2(dfd, from.as_ptr(), dfd, to.as_ptr(), flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_err())
    }
}

/// Moves `tmp` to `name` only if `name` does not exist (`EEXIST` if it
/// does).
fn create_new(dfd: RawFd, tmp: &CStr, name: &CStr) -> io::Result<()> {
    match rename(dfd, tmp, name, libc::RENAME_NOREPLACE) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // No RENAME_NOREPLACE on this filesystem: a hard link fails the
            // same way when the name exists.
            // SAFETY: valid descriptors and NUL-terminated names.
            let rc = unsafe { libc::linkat(dfd, tmp.as_ptr(), dfd, name.as_ptr(), 0) };
            if rc != 0 {
                return Err(last_err());
            }
            // SAFETY: as above.
            unsafe { libc::unlinkat(dfd, tmp.as_ptr(), 0) };
            Ok(())
        }
        r => r,
    }
}
