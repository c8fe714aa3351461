//! The state every request handler shares.

use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use zarrcore::StoreRef;

use crate::arrays::Arrays;
use crate::handles::Handles;
use crate::inode::InodeTable;
use crate::invalidate::Invalidator;
use crate::options::MountOptions;

/// Shared state of one mount.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The store.
    pub store: StoreRef,
    /// Options.
    pub opts: MountOptions,
    /// Inode numbers.
    pub inodes: InodeTable,
    /// Per-array state.
    pub arrays: Arrays,
    /// Open files and directories.
    pub handles: Handles,
    /// Kernel cache invalidation.
    pub inval: Invalidator,
    /// Owner of every file (the mounting user).
    pub uid: u32,
    /// Group of every file.
    pub gid: u32,
    /// When the mount started (the times of unchanged files).
    pub started: SystemTime,
    /// A store or encode error happened that no `close`/`fsync` reported.
    pub unreported_failure: AtomicBool,
}

impl Shared {
    /// New state for `store`.
    pub fn new(store: StoreRef, opts: MountOptions) -> Shared {
        Shared {
            store,
            opts,
            inodes: InodeTable::new(),
            arrays: Arrays::default(),
            handles: Handles::default(),
            inval: Invalidator::default(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            started: SystemTime::now(),
            unreported_failure: AtomicBool::new(false),
        }
    }
}
