//! A store in a directory tree: key `a/b/c` is the file `ROOT/a/b/c`.
//!
//! # Path rule
//! Keys are validated lexically (no `..`, no NUL, ...), and every file is
//! opened relative to the root directory with Linux `openat2(RESOLVE_BENEATH)`:
//! relative symbolic links inside the store are followed as long as they
//! resolve inside it; a link (or any path) that would resolve outside the
//! root is refused with an error, and so is any absolute symbolic link (even
//! one that happens to point inside the root: `RESOLVE_BENEATH` treats every
//! absolute target as an escape). On kernels without `openat2` the store refuses
//! symbolic links altogether (`O_NOFOLLOW` on every component it creates and
//! a check of the resolved path on every open).
//!
//! # Atomic writes
//! `set` writes `.<name>.zarrcore-tmp.<pid>.<n>` in the target directory,
//! optionally `fsync`s it, and `rename`s it over the target (then `fsync`s the
//! directory when durable). Readers never see partial values; temporaries
//! left by a crash are ignored by listings and can be removed by
//! `zarrcore check --repair`.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::key::{is_temp_name, validate_key, TEMP_MARKER};
use super::lock::{lock_node_on, ModeLock};
use super::replace::{self, NewValue};
use super::{
    ByteRange, Bytes, Concurrency, Generation, ListDir, NodeAccess, Store, StoreError, StoreOptions,
};

/// Values at least this large are memory-mapped instead of read.
const MMAP_THRESHOLD: u64 = 1 << 20;

/// A directory-tree store.
#[derive(Debug)]
pub struct DirectoryStore {
    root: PathBuf,
    root_fd: OwnedFd,
    writable: bool,
    durable: bool,
    counter: AtomicU64,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// `openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
fn open_beneath(dirfd: RawFd, path: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let mut how: libc::open_how =
        // SAFETY: `open_how` is a plain C struct for which all-zero is valid.
        unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & libc::O_CREAT != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `c` is a valid NUL-terminated string, `how` a valid `open_how`
    // whose size we pass; the syscall does not retain the pointers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel returned a new descriptor that we now own.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOSYS) {
        return open_nofollow_fallback(dirfd, path, flags, mode);
    }
    if err.raw_os_error() == Some(libc::EXDEV) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "path resolves outside the store (symbolic link out of the root)",
        ));
    }
    Err(err)
}

/// Fallback without `openat2`: refuse symbolic links on the last component
/// and check that the opened file's real path is under the root.
fn open_nofollow_fallback(dirfd: RawFd, path: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: valid NUL-terminated path; the returned descriptor is owned below.
    let fd = unsafe {
        libc::openat(
            dirfd,
            c.as_ptr(),
            flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor we own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let root = std::fs::read_link(format!("/proc/self/fd/{dirfd}"))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", owned.as_raw_fd()))?;
    if !real.starts_with(&root) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "path resolves outside the store",
        ));
    }
    Ok(owned)
}

fn split_parent(key: &str) -> (&str, &str) {
    match key.rsplit_once('/') {
        Some((d, f)) => (d, f),
        None => ("", key),
    }
}

impl DirectoryStore {
    /// Opens (or with `opts.create`, creates) a directory store.
    pub fn open(path: impl AsRef<Path>, opts: StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let loc = path.display().to_string();
        if opts.create {
            std::fs::create_dir_all(path).map_err(|e| StoreError::Open {
                location: loc.clone(),
                reason: e.to_string(),
            })?;
        }
        let root = path.canonicalize().map_err(|e| StoreError::Open {
            location: loc.clone(),
            reason: if e.kind() == io::ErrorKind::NotFound {
                "no such directory".into()
            } else {
                e.to_string()
            },
        })?;
        if !root.is_dir() {
            return Err(StoreError::Open {
                location: loc,
                reason: "not a directory".into(),
            });
        }
        let c = CString::new(root.as_os_str().as_bytes()).map_err(|_| StoreError::Open {
            location: loc.clone(),
            reason: "NUL byte in path".into(),
        })?;
        // SAFETY: valid NUL-terminated path; we take ownership of the result.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(StoreError::Open {
                location: loc,
                reason: io::Error::last_os_error().to_string(),
            });
        }
        Ok(DirectoryStore {
            root,
            // SAFETY: fresh descriptor owned from here on.
            root_fd: unsafe { OwnedFd::from_raw_fd(fd) },
            writable: opts.writable || opts.create,
            durable: opts.durable,
            counter: AtomicU64::new(0),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_file(&self, key: &str) -> Result<Option<File>, StoreError> {
        validate_key(key)?;
        match open_beneath(self.root_fd.as_raw_fd(), key, libc::O_RDONLY, 0) {
            Ok(fd) => {
                let f = File::from(fd);
                match f.metadata() {
                    Ok(m) if m.is_dir() => Ok(None),
                    Ok(_) => Ok(Some(f)),
                    Err(e) => Err(StoreError::io(key, "stat", e)),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
            Err(e) => Err(StoreError::io(key, "open", e)),
        }
    }

    /// Opens (creating as needed) the directory `dir` beneath the root.
    fn dir_fd(&self, dir: &str, create: bool) -> Result<Option<OwnedFd>, StoreError> {
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let path = if dir.is_empty() { "." } else { dir };
        match open_beneath(self.root_fd.as_raw_fd(), path, flags, 0) {
            Ok(fd) => return Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // A component is a file: there is no such directory.
            Err(e) if !create && e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
            Err(e) => return Err(StoreError::io(dir, "open directory", e)),
        }
        // Create component by component, each relative to its parent.
        let mut cur = open_beneath(self.root_fd.as_raw_fd(), ".", flags, 0)
            .map_err(|e| StoreError::io(dir, "open root", e))?;
        for seg in dir.split('/') {
            let c = cstr(seg).map_err(|e| StoreError::io(dir, "mkdir", e))?;
            // SAFETY: valid descriptor and NUL-terminated name.
            let rc = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o777) };
            if rc != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(StoreError::io(dir, "mkdir", e));
                }
            }
            cur = open_beneath(cur.as_raw_fd(), seg, flags, 0)
                .map_err(|e| StoreError::io(dir, "open directory", e))?;
        }
        Ok(Some(cur))
    }

    fn check_writable(&self, op: &'static str, key: &str) -> Result<(), StoreError> {
        if self.writable {
            Ok(())
        } else {
            Err(StoreError::ReadOnly {
                store: self.describe(),
                op,
                key: key.to_string(),
            })
        }
    }

    /// The real path of a node directory beneath the root (for recursive
    /// deletion), `None` if missing.
    fn real_dir(&self, prefix: &str) -> Result<Option<PathBuf>, StoreError> {
        match self.dir_fd(prefix, false)? {
            None => Ok(None),
            Some(fd) => {
                let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .map_err(|e| StoreError::io(prefix, "resolve", e))?;
                if !real.starts_with(&self.root) {
                    return Err(StoreError::InvalidKey {
                        key: prefix.to_string(),
                        reason: "resolves outside the store".into(),
                    });
                }
                Ok(Some(real))
            }
        }
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(rel, "list", e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io(rel, "list", e))?;
            let name = match entry.file_name().to_str() {
                Some(n) => n.to_string(),
                None => continue,
            };
            if is_temp_name(&name) {
                continue;
            }
            let key = super::key::join(rel, &name);
            let ft = entry
                .file_type()
                .map_err(|e| StoreError::io(&key, "list", e))?;
            if ft.is_dir() {
                self.walk(&entry.path(), &key, out)?;
            } else if ft.is_file() || ft.is_symlink() {
                out.push(key);
            }
        }
        Ok(())
    }

    /// Lists leftover temporary files of interrupted writes (keys relative to
    /// the root), for `zarrcore check`.
    pub fn list_temporaries(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        if let Some(dir) = self.real_dir(prefix)? {
            walk_temps(&dir, prefix, &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// Removes one leftover temporary file.
    pub fn remove_temporary(&self, key: &str) -> Result<(), StoreError> {
        self.check_writable("delete", key)?;
        let (dir, name) = split_parent(key);
        if !is_temp_name(name) {
            return Err(StoreError::InvalidKey {
                key: key.to_string(),
                reason: "not a temporary file".into(),
            });
        }
        if !dir.is_empty() {
            super::key::validate_key(dir)?;
        }
        if let Some(dfd) = self.dir_fd(dir, false)? {
            let c = cstr(name).map_err(|e| StoreError::io(key, "delete", e))?;
            // SAFETY: valid directory descriptor and NUL-terminated name.
            let rc = unsafe { libc::unlinkat(dfd.as_raw_fd(), c.as_ptr(), 0) };
            if rc != 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(StoreError::io(key, "delete", e));
                }
            }
        }
        Ok(())
    }
}

fn walk_temps(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(rel, "list", e)),
    };
    for entry in rd.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let key = super::key::join(rel, &name);
        match entry.file_type() {
            Ok(ft) if ft.is_dir() => walk_temps(&entry.path(), &key, out)?,
            Ok(ft) if ft.is_file() && is_temp_name(&name) => out.push(key),
            _ => {}
        }
    }
    Ok(())
}

/// The whole content of an open store file.
fn read_whole(f: &File, key: &str) -> Result<Bytes, StoreError> {
    let size = f
        .metadata()
        .map_err(|e| StoreError::io(key, "stat", e))?
        .len();
    if size >= MMAP_THRESHOLD {
        // SAFETY: the mapping is read-only. Files in a store are replaced
        // by rename, never modified in place by zarrcore, so the mapped
        // inode's contents do not change under us; a foreign process
        // truncating a chunk file in place could fault the reader, which
        // is the documented limit of mapping (see DESIGN.md).
        let map = unsafe { memmap2::MmapOptions::new().populate().map(f) }
            .map_err(|e| StoreError::io(key, "mmap", e))?;
        if map.len() as u64 == size {
            return Ok(Bytes::from_owner(map));
        }
    }
    let mut buf = Vec::with_capacity(size as usize);
    let mut r: &File = f;
    r.read_to_end(&mut buf)
        .map_err(|e| StoreError::io(key, "read", e))?;
    Ok(Bytes::from(buf))
}

impl DirectoryStore {
    /// Writes `value` to a temporary beside `key` (nothing for a delete) and
    /// puts it in place under the key's lock if the key is at `expected`
    /// (`None`: unconditionally). See [`replace`].
    fn replace_value(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: Option<&Generation>,
    ) -> Result<bool, StoreError> {
        validate_key(key)?;
        let op = if value.is_some() { "write" } else { "delete" };
        self.check_writable(op, key)?;
        let (dir, name) = split_parent(key);
        let name_c = cstr(name).map_err(|e| StoreError::io(key, op, e))?;
        let Some(value) = value else {
            let Some(dfd) = self.dir_fd(dir, false)? else {
                return Ok(matches!(expected, None | Some(Generation::Absent)));
            };
            return replace::replace(dfd.as_raw_fd(), &name_c, NewValue::Delete, expected)
                .map_err(|e| StoreError::io(key, "delete", e));
        };
        let dfd = self
            .dir_fd(dir, true)?
            .ok_or_else(|| StoreError::io(key, "write", io::ErrorKind::NotFound.into()))?;
        // A name already taken (a crashed writer whose pid we reuse, or
        // another store handle of this directory in this process) is skipped.
        let mut attempts = 0;
        let (fd, tmp_c) = loop {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let tmp = format!(".{name}{TEMP_MARKER}{}.{n}", std::process::id());
            let tmp_c = cstr(&tmp).map_err(|e| StoreError::io(key, "write", e))?;
            match open_beneath(
                dfd.as_raw_fd(),
                &tmp,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                0o666,
            ) {
                Ok(fd) => break (fd, tmp_c),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 1000 => {
                    attempts += 1
                }
                Err(e) => return Err(StoreError::io(key, "create temporary", e)),
            }
        };
        let mut f = File::from(fd);
        let written =
            f.write_all(value)
                .and_then(|_| if self.durable { f.sync_data() } else { Ok(()) });
        drop(f);
        let result = written.and_then(|_| {
            replace::replace(dfd.as_raw_fd(), &name_c, NewValue::Temp(&tmp_c), expected)
        });
        match result {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                // SAFETY: valid descriptor and NUL-terminated name.
                unsafe { libc::unlinkat(dfd.as_raw_fd(), tmp_c.as_ptr(), 0) };
            }
        }
        let done = result.map_err(|e| StoreError::io(key, "write", e))?;
        if done && self.durable {
            // `dfd` is an O_PATH descriptor and fsync needs a real one, so
            // reopen the directory read-only.
            if let Ok(d) = open_beneath(dfd.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            {
                File::from(d)
                    .sync_all()
                    .map_err(|e| StoreError::io(key, "fsync directory", e))?;
            }
        }
        Ok(done)
    }
}

impl Store for DirectoryStore {
    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn identity(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn is_writable(&self) -> bool {
        self.writable
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.open_file(key)? {
            None => Ok(None),
            Some(f) => read_whole(&f, key).map(Some),
        }
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        let Some(f) = self.open_file(key)? else {
            return Ok(None);
        };
        let size = f
            .metadata()
            .map_err(|e| StoreError::io(key, "stat", e))?
            .len();
        let (start, end) = range
            .resolve(size)
            .ok_or_else(|| StoreError::RangeOutOfBounds {
                key: key.to_string(),
                range: range.to_string(),
                size,
            })?;
        let mut buf = vec![0u8; (end - start) as usize];
        f.read_exact_at(&mut buf, start)
            .map_err(|e| StoreError::io(key, "read", e))?;
        Ok(Some(Bytes::from(buf)))
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.open_file(key)? {
            None => Ok(None),
            Some(f) => Ok(Some(
                f.metadata()
                    .map_err(|e| StoreError::io(key, "stat", e))?
                    .len(),
            )),
        }
    }

    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        let c = cstr(key).map_err(|e| StoreError::io(key, "stat", e))?;
        // SAFETY: `statx` is a plain C struct for which all-zero is valid.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor, NUL-terminated path and out-pointer. The
        // call only reads metadata (no data is exposed), and does not follow a
        // final symbolic link.
        let rc = unsafe {
            libc::statx(
                self.root_fd.as_raw_fd(),
                c.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
                libc::STATX_INO | libc::STATX_MTIME | libc::STATX_SIZE,
                &mut st,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(None),
                _ => Err(StoreError::io(key, "stat", e)),
            };
        }
        // Atomic replacement renames a new inode over the key, so the inode
        // number (with the modification time and size against inode reuse)
        // identifies the value.
        let mut h = st.stx_ino;
        for v in [
            st.stx_mtime.tv_sec as u64,
            st.stx_mtime.tv_nsec as u64,
            st.stx_size,
        ] {
            h = h.rotate_left(21) ^ v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        Ok(Some(h))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.replace_value(key, Some(value), None).map(|_| ())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.replace_value(key, None, None).map(|_| ())
    }

    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        let Some(f) = self.open_file(key)? else {
            return Ok((None, Generation::Absent));
        };
        let bytes = read_whole(&f, key)?;
        let tag = replace::tag_of(&f, &bytes).map_err(|e| StoreError::io(key, "stat", e))?;
        Ok((Some(bytes), tag))
    }

    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        self.replace_value(key, value, Some(expected))
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Atomic
    }

    fn lock_node(
        &self,
        node: &str,
        access: NodeAccess,
        wait: Option<std::time::Duration>,
    ) -> Result<Option<ModeLock>, StoreError> {
        let dir = if node.is_empty() { "." } else { node };
        if !node.is_empty() {
            validate_key(node)?;
        }
        let fd = match open_beneath(
            self.root_fd.as_raw_fd(),
            dir,
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        ) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(node, "open for locking", e)),
        };
        lock_node_on(File::from(fd), 0, node, access, wait)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let p = prefix.trim_end_matches('/');
        self.check_writable("delete", p)?;
        if p.is_empty() {
            // Delete everything under the root, but keep the root itself.
            let rd = std::fs::read_dir(&self.root).map_err(|e| StoreError::io("", "list", e))?;
            for entry in rd.flatten() {
                let path = entry.path();
                let r = match entry.file_type() {
                    Ok(ft) if ft.is_dir() => std::fs::remove_dir_all(&path),
                    _ => std::fs::remove_file(&path),
                };
                r.map_err(|e| StoreError::io(path.display().to_string(), "delete", e))?;
            }
            return Ok(());
        }
        validate_key(p)?;
        if let Some(real) = self.real_dir(p)? {
            std::fs::remove_dir_all(&real).map_err(|e| StoreError::io(p, "delete", e))?;
        } else {
            self.delete(p)?;
        }
        Ok(())
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (dir, _) = match prefix.rfind('/') {
            Some(i) => (&prefix[..i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        let mut out = Vec::new();
        if dir.is_empty() {
            self.walk(&self.root, "", &mut out)?;
        } else {
            validate_key(dir)?;
            if let Some(real) = self.real_dir(dir)? {
                self.walk(&real, dir, &mut out)?;
            }
        }
        out.retain(|k| k.starts_with(prefix));
        out.sort();
        Ok(out)
    }

    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        let p = prefix.trim_end_matches('/');
        let real = if p.is_empty() {
            Some(self.root.clone())
        } else {
            validate_key(p)?;
            self.real_dir(p)?
        };
        let mut out = ListDir::default();
        let Some(real) = real else {
            return Ok(out);
        };
        let rd = match std::fs::read_dir(&real) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(p, "list", e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io(p, "list", e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_temp_name(&name) {
                continue;
            }
            let key = super::key::join(p, &name);
            match entry.file_type() {
                Ok(ft) if ft.is_dir() => out.prefixes.push(key),
                Ok(ft) if ft.is_symlink() => match std::fs::metadata(entry.path()) {
                    Ok(m) if m.is_dir() => out.prefixes.push(key),
                    _ => out.keys.push(key),
                },
                Ok(_) => out.keys.push(key),
                Err(e) => return Err(StoreError::io(&key, "list", e)),
            }
        }
        out.keys.sort();
        out.prefixes.sort();
        Ok(out)
    }
}
