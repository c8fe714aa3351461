//! The FUSE request handlers. Each one calls a helper that returns
//! `Result<_, Errno>` and replies exactly once with its outcome.

use std::ffi::OsStr;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use crate::errno::{log, refuse, FsResult};
use crate::inode::{Inode, NodeRef};
use crate::shared::Shared;
use crate::{dirops, open, read, tree, write, xattr};

/// The filesystem: a Zarr store as directories and `.npy`/`.raw`/`.json` files.
#[derive(Debug)]
pub(crate) struct ZarrFs {
    sh: Arc<Shared>,
}

fn name_str(name: &OsStr) -> FsResult<&str> {
    name.to_str().ok_or(Errno::ENOENT)
}

impl ZarrFs {
    pub(crate) fn new(sh: Arc<Shared>) -> ZarrFs {
        ZarrFs { sh }
    }

    fn inode(&self, ino: INodeNo) -> FsResult<Arc<Inode>> {
        self.sh.inodes.get(ino).ok_or(Errno::ENOENT)
    }

    fn do_lookup(&self, parent: INodeNo, name: &OsStr) -> FsResult<(FileAttr, Duration)> {
        let p = self.inode(parent)?;
        let NodeRef::Dir(dir) = &p.node else {
            return Err(Errno::ENOTDIR);
        };
        let node = tree::resolve(&self.sh, dir, name_str(name)?)?;
        let inode = self.sh.inodes.intern(node);
        tree::attr(&self.sh, &inode)
    }

    fn do_getattr(&self, ino: INodeNo) -> FsResult<(FileAttr, Duration)> {
        tree::attr(&self.sh, &*self.inode(ino)?)
    }

    fn do_setattr(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        owner: (Option<u32>, Option<u32>),
        size: Option<u64>,
        fh: Option<FileHandle>,
    ) -> FsResult<(FileAttr, Duration)> {
        let inode = self.inode(ino)?;
        if !self.sh.opts.read_write {
            return Err(Errno::EROFS);
        }
        if mode.is_some() || owner.0.is_some() || owner.1.is_some() {
            return Err(refuse(
                Errno::EPERM,
                format_args!(
                    "{:?}: permissions and owners are fixed by the mount",
                    inode.node
                ),
            ));
        }
        if let Some(size) = size {
            write::set_size(&self.sh, &inode, fh, size)?;
        }
        // Times are accepted and not kept (they follow the array's changes).
        tree::attr(&self.sh, &inode)
    }

    fn do_open(
        &self,
        ino: INodeNo,
        flags: OpenFlags,
        pid: u32,
    ) -> FsResult<(FileHandle, FopenFlags)> {
        let r = open::open(&self.sh, &self.inode(ino)?, flags, open::process_of(pid));
        if std::env::var_os("ZARRCORE_FUSE_TRACE").is_some() {
            log(format_args!("open {ino:?} {flags:?} -> {r:?}"));
        }
        r
    }

    fn do_read(&self, fh: FileHandle, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let f = self.sh.handles.file(fh).ok_or(Errno::EBADF)?;
        read::read(&f, offset, size)
    }

    fn do_write(&self, fh: FileHandle, offset: u64, data: &[u8]) -> FsResult<u32> {
        let f = self.sh.handles.file(fh).ok_or(Errno::EBADF)?;
        write::write(&self.sh, &f, offset, data)
    }

    fn do_flush(&self, fh: FileHandle, closing: bool) -> FsResult<()> {
        let f = self.sh.handles.file(fh).ok_or(Errno::EBADF)?;
        write::flush(&f, closing)
    }

    fn do_release(&self, fh: FileHandle) -> FsResult<()> {
        if std::env::var_os("ZARRCORE_FUSE_TRACE").is_some() {
            log(format_args!("release {fh:?}"));
        }
        let f = self.sh.handles.remove_file(fh).ok_or(Errno::EBADF)?;
        write::release(&self.sh, &f);
        Ok(())
    }

    fn do_opendir(&self, ino: INodeNo) -> FsResult<FileHandle> {
        let inode = self.inode(ino)?;
        let NodeRef::Dir(dir) = &inode.node else {
            return Err(Errno::ENOTDIR);
        };
        let list = tree::listing(&self.sh, dir, ino)?;
        Ok(self.sh.handles.put_dir(list))
    }

    fn do_fsyncdir(&self) -> FsResult<()> {
        let errors = write::flush_all(&self.sh);
        match errors.first() {
            None => Ok(()),
            Some(_) => {
                for e in &errors {
                    log(format_args!("sync failed: {e}"));
                }
                Err(Errno::EIO)
            }
        }
    }

    fn do_create(
        &self,
        parent: INodeNo,
        name: &OsStr,
        pid: u32,
    ) -> FsResult<(FileAttr, FileHandle)> {
        let p = self.inode(parent)?;
        dirops::create(
            &self.sh,
            &p,
            name.to_str().ok_or(Errno::EINVAL)?,
            open::process_of(pid),
        )
    }

    fn do_mkdir(&self, parent: INodeNo, name: &OsStr) -> FsResult<FileAttr> {
        let p = self.inode(parent)?;
        dirops::mkdir(&self.sh, &p, name.to_str().ok_or(Errno::EINVAL)?)
    }

    fn do_unlink(&self, parent: INodeNo, name: &OsStr) -> FsResult<()> {
        let p = self.inode(parent)?;
        dirops::unlink(&self.sh, &p, name_str(name)?)
    }

    fn do_rmdir(&self, parent: INodeNo, name: &OsStr) -> FsResult<()> {
        let p = self.inode(parent)?;
        dirops::rmdir(&self.sh, &p, name_str(name)?)
    }

    fn do_getxattr(&self, ino: INodeNo, name: &OsStr) -> FsResult<Vec<u8>> {
        let inode = self.inode(ino)?;
        xattr::get(&self.sh, &inode, name.to_str().ok_or(Errno::NO_XATTR)?)
    }

    fn do_setxattr(&self, ino: INodeNo, name: &OsStr, value: &[u8]) -> FsResult<()> {
        let inode = self.inode(ino)?;
        xattr::set(
            &self.sh,
            &inode,
            name.to_str().ok_or(Errno::ENOTSUP)?,
            value,
        )
    }

    fn do_removexattr(&self, ino: INodeNo, name: &OsStr) -> FsResult<()> {
        let inode = self.inode(ino)?;
        xattr::remove(&self.sh, &inode, name.to_str().ok_or(Errno::NO_XATTR)?)
    }

    fn do_listxattr(&self, ino: INodeNo) -> FsResult<Vec<u8>> {
        xattr::list(&self.sh, &*self.inode(ino)?)
    }
}

/// Replies with an xattr value: its size when `size` is 0, ERANGE if it
/// does not fit.
fn reply_xattr(r: FsResult<Vec<u8>>, size: u32, reply: ReplyXattr) {
    match r {
        Ok(v) if size == 0 => reply.size(v.len() as u32),
        Ok(v) if v.len() > size as usize => reply.error(Errno::ERANGE),
        Ok(v) => reply.data(&v),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(r: FsResult<()>, reply: ReplyEmpty) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for ZarrFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Offsets and sizes are ours to check, so the kernel may pass O_TRUNC
        // to open; directory operations may run in parallel.
        for cap in [
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_PARALLEL_DIROPS,
        ] {
            let _ = config.add_capabilities(cap);
        }
        let want = u32::try_from(self.sh.opts.readahead.max(128 << 10)).unwrap_or(u32::MAX);
        if let Err(max) = config.set_max_readahead(want) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        Ok(())
    }

    fn destroy(&mut self) {
        write::release_all(&self.sh);
        for e in write::flush_all(&self.sh) {
            log(format_args!(
                "storing pending writes at unmount failed: {e}"
            ));
            self.sh.unreported_failure.store(true, Ordering::SeqCst);
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.do_lookup(parent, name) {
            Ok((attr, ttl)) => reply.entry(&ttl, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.do_getattr(ino) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.do_setattr(ino, mode, (uid, gid), size, fh) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(refuse(
            Errno::EPERM,
            format_args!("mknod {name:?}: only NAME.npy files can be created"),
        ));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.do_mkdir(parent, name) {
            Ok(attr) => reply.entry(&tree::TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.do_unlink(parent, name), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.do_rmdir(parent, name), reply);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        // EXDEV makes `mv` copy and delete, which works for arrays.
        reply.error(refuse(
            Errno::EXDEV,
            format_args!("rename {name:?}: nodes are not renamed in place"),
        ));
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.do_open(ino, flags, req.pid()) {
            Ok((fh, fl)) => reply.opened(fh, fl),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.do_read(fh, offset, size) {
            Ok(buf) => reply.data(&buf),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(fh, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.do_flush(fh, true), reply);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.do_release(fh), reply);
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.do_flush(fh, false), reply);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.do_opendir(ino) {
            Ok(fh) => reply.opened(fh, FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(list) = self.sh.handles.dir(fh) else {
            reply.error(Errno::EBADF);
            return;
        };
        for (i, e) in list.iter().enumerate().skip(offset as usize) {
            if reply.add(e.ino, i as u64 + 1, e.kind, &e.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.sh.handles.remove_dir(fh);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.do_fsyncdir(), reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.do_setxattr(ino, name, value), reply);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        reply_xattr(self.do_getxattr(ino, name), size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        reply_xattr(self.do_listxattr(ino), size, reply);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.do_removexattr(ino, name), reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.do_create(parent, name, req.pid()) {
            Ok((attr, fh)) => reply.created(
                &Duration::ZERO,
                &attr,
                Generation(0),
                fh,
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }
}
