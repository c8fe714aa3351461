//! Running a mount: the FUSE session on several request threads (each with
//! its own cloned `/dev/fuse` descriptor), readiness, signals, and a clean
//! unmount that stores pending writes first.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};

use fuser::{MountOption, SessionACL};
use nix::sys::signal::{SigSet, Signal};
use zarrcore::StoreRef;

use crate::errno::log;
use crate::fs::ZarrFs;
use crate::options::MountOptions;
use crate::shared::Shared;
use crate::unmount::detach;
use crate::write::flush_all;

/// Why a mount failed or ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The kernel mount could not be made.
    #[error("cannot mount on {mountpoint}: {source}")]
    Mount {
        /// The mount point.
        mountpoint: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start the mount: {0}")]
    Setup(#[source] io::Error),
    /// The session ended with an error.
    #[error("the FUSE session failed: {0}")]
    Session(#[source] io::Error),
    /// Writes could not be stored and no `close`/`fsync` reported it (see the log).
    #[error("some writes could not be stored (see the messages above)")]
    Unstored,
}

enum Event {
    Signal(Signal),
    Ended(io::Result<()>),
}

/// The name the mount carries in the mount table: `zarrcore:PID`.
pub(crate) const FSNAME_PREFIX: &str = "zarrcore:";

/// Mounts `store` on `mountpoint` and serves it until it is unmounted
/// (`umount`, `fusermount3 -u`, or SIGINT/SIGTERM/SIGHUP of this process,
/// which store pending writes and unmount, lazily if files are open).
/// `on_ready` runs once the mount answers requests.
///
/// Call before any other thread of the process starts: the termination
/// signals are blocked here and waited for by a thread of the mount.
pub fn serve(
    store: StoreRef,
    mountpoint: &Path,
    opts: &MountOptions,
    on_ready: impl FnOnce(),
) -> Result<(), MountError> {
    let mut signals = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| MountError::Setup(e.into()))?;

    let sh = Arc::new(Shared::new(store, opts.clone()));
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName(format!("{FSNAME_PREFIX}{}", std::process::id())),
        MountOption::Subtype("zarrcore".into()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
        if opts.read_write {
            MountOption::RW
        } else {
            MountOption::RO
        },
    ];
    config.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(opts.request_threads.max(1));
    config.clone_fd = true;
    let mut session = fuser::Session::new(ZarrFs::new(Arc::clone(&sh)), mountpoint, &config)
        .map_err(|source| MountError::Mount {
            mountpoint: mountpoint.to_path_buf(),
            source,
        })?;
    sh.inval.start(session.notifier());
    let mut unmounter = session.unmount_callable();

    let (tx, rx) = mpsc::channel();
    let tx_end = tx.clone();
    let runner = std::thread::Builder::new()
        .name("zarrcore-session".into())
        .spawn(move || {
            let r = session.run();
            let _ = tx_end.send(Event::Ended(r));
        })
        .map_err(MountError::Setup)?;
    std::thread::Builder::new()
        .name("zarrcore-signals".into())
        .spawn(move || {
            while let Ok(sig) = signals.wait() {
                if tx.send(Event::Signal(sig)).is_err() {
                    break;
                }
            }
        })
        .map_err(MountError::Setup)?;

    // The mount answers once a stat of its root returns.
    match std::fs::metadata(mountpoint) {
        Ok(md) => raise_readahead(md.dev(), opts.readahead),
        Err(e) => log(format_args!("the new mount does not answer: {e}")),
    }
    on_ready();

    let mut unmounting = false;
    let ended = loop {
        match rx.recv() {
            Ok(Event::Signal(sig)) if !unmounting => {
                unmounting = true;
                log(format_args!("{sig}: storing pending writes and unmounting"));
                for e in flush_all(&sh) {
                    log(format_args!(
                        "storing pending writes failed (kept, retried at the end): {e}"
                    ));
                }
                if unmounter.unmount().is_err() {
                    log(
                        "files are still open: the mount is detached and ends when they are closed",
                    );
                    if let Err(e) = detach(mountpoint) {
                        log(format_args!("cannot detach {}: {e}", mountpoint.display()));
                    }
                }
            }
            Ok(Event::Signal(_)) => {}
            Ok(Event::Ended(r)) => break r,
            Err(_) => break Ok(()),
        }
    };
    let _ = runner.join();
    match ended {
        // The kernel ends a connection that a lazy unmount detached with
        // ECONNABORTED once its last file is closed (or when it is aborted
        // through /sys/fs/fuse/connections). The session has been dropped by
        // now, which released every file and stored pending writes (see
        // `ZarrFs::destroy`); failures there set `unreported_failure`.
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {
            if !unmounting {
                log("the kernel aborted the FUSE connection");
            }
        }
        r => r.map_err(MountError::Session)?,
    }
    if sh.unreported_failure.load(Ordering::SeqCst) {
        return Err(MountError::Unstored);
    }
    Ok(())
}

/// Raises the kernel readahead of the mount (device `dev`) so sequential
/// reads arrive as large requests. Needs root; skipped quietly otherwise.
fn raise_readahead(dev: u64, bytes: u64) {
    if bytes == 0 {
        return;
    }
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let path = format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb");
    if let Err(e) = std::fs::write(&path, format!("{}\n", bytes.div_ceil(1024))) {
        if e.kind() != io::ErrorKind::PermissionDenied {
            log(format_args!("cannot raise the readahead ({path}): {e}"));
        }
    }
}
