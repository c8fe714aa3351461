//! Tells the kernel to drop cached pages, attributes and names, from a
//! thread of its own: a notification sent while handling a request on a
//! related inode could wait on that very request.

use std::ffi::OsString;
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use fuser::{INodeNo, Notifier};
use parking_lot::Mutex;

enum Msg {
    Inode(INodeNo),
    Entry(INodeNo, OsString),
}

/// The invalidation queue (a no-op until [`Invalidator::start`]).
#[derive(Default)]
pub(crate) struct Invalidator {
    tx: OnceLock<Mutex<Sender<Msg>>>,
}

impl std::fmt::Debug for Invalidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Invalidator")
    }
}

impl Invalidator {
    /// Starts the worker that sends the notifications.
    pub fn start(&self, notifier: Notifier) {
        let (tx, rx) = channel::<Msg>();
        if self.tx.set(Mutex::new(tx)).is_err() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("zarrcore-inval".into())
            .spawn(move || {
                // Errors only mean the kernel no longer knows the inode or
                // name (or the mount is gone): nothing to drop.
                for m in rx {
                    let _ = match m {
                        Msg::Inode(ino) => notifier.inval_inode(ino, 0, 0),
                        Msg::Entry(parent, name) => notifier.inval_entry(parent, &name),
                    };
                }
            });
        if let Err(e) = spawned {
            crate::errno::log(format_args!("cannot start the invalidation thread: {e}"));
        }
    }

    fn send(&self, m: Msg) {
        if let Some(tx) = self.tx.get() {
            let _ = tx.lock().send(m);
        }
    }

    /// Drops the cached pages and attributes of `ino`.
    pub fn inode(&self, ino: INodeNo) {
        self.send(Msg::Inode(ino));
    }

    /// Drops the cached name `name` in directory `parent`.
    pub fn entry(&self, parent: INodeNo, name: impl Into<OsString>) {
        self.send(Msg::Entry(parent, name.into()));
    }
}
