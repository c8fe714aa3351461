//! The I/O runtime of remote stores: one multi-threaded tokio runtime per
//! process, on its own threads (`zarrcore-io-N`; `ZARRCORE_IO_THREADS`,
//! default 2). Network waits happen there, never on the engine's rayon pool:
//! a synchronous [`Store`](crate::store::Store) method spawns its request on
//! this runtime and waits for the answer on a channel, and batch methods
//! (`get_many`, write-behind `set`) keep many requests in flight from one
//! waiting thread. The I/O threads block asynchronous signals (see
//! [`block_async_signals`]).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::error::StoreError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// Blocks asynchronous signals (SIGTERM, SIGINT, SIGHUP, SIGUSR1, ...) on
/// the calling thread. The I/O threads run library code only: a signal sent
/// to the process must reach the application's own threads or its
/// `sigwait` thread (the FUSE mount blocks its termination signals and waits
/// for them in one thread), never kill the process from an I/O thread.
fn block_async_signals() {
    // SAFETY: `set` is plain data initialised by `sigfillset`;
    // `pthread_sigmask` only changes the calling thread's mask and does not
    // keep the pointer.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for s in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGABRT,
        ] {
            libc::sigdelset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn io_threads() -> usize {
    std::env::var("ZARRCORE_IO_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2)
}

/// The process's I/O runtime (started on first use).
pub(super) fn runtime() -> Result<&'static Runtime, StoreError> {
    RUNTIME
        .get_or_init(|| {
            // TLS for https endpoints: rustls with the ring provider. An
            // embedding application may have installed a provider already,
            // which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(io_threads())
                .thread_name_fn(|| {
                    use std::sync::atomic::{AtomicUsize, Ordering};
                    static N: AtomicUsize = AtomicUsize::new(0);
                    format!("zarrcore-io-{}", N.fetch_add(1, Ordering::Relaxed))
                })
                .on_thread_start(block_async_signals)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StoreError::Open {
            location: "remote store".into(),
            reason: format!("cannot start the I/O runtime: {e}"),
        })
}

/// Runs `fut` on the I/O runtime and blocks the calling thread until it
/// completes. Must not be called from a task of the I/O runtime itself.
pub(super) fn block_on<F>(fut: F) -> Result<F::Output, StoreError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| StoreError::Backend {
        key: String::new(),
        message: "a remote-store I/O task ended without an answer (it panicked)".into(),
    })
}

/// Starts `fut` on the I/O runtime without waiting for it.
pub(super) fn spawn<F>(fut: F) -> Result<(), StoreError>
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime()?.spawn(fut);
    Ok(())
}
