//! The engine's thread pool.
//!
//! One work-stealing pool (rayon) per process, sized to the machine's cores
//! (or `ZARRCORE_THREADS`, or [`set_threads`] before first use). Callers on any
//! number of threads hand their chunk tasks to this one pool, so concurrent
//! requests share the cores instead of oversubscribing them.
//!
//! Code that holds a chunk lock must not start parallel work (a thread
//! waiting for a nested parallel loop may steal a task that wants the same
//! lock); [`Sequential`] marks such sections and [`may_parallelize`] tells
//! codecs to stay on the current thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::error::Error;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SEQUENTIAL: Cell<u32> = const { Cell::new(0) };
}

/// Sets the number of worker threads; must be called before the first array
/// operation (later calls return an error).
pub fn set_threads(n: usize) -> Result<(), Error> {
    if POOL.get().is_some() {
        return Err(Error::invalid(
            "the thread pool is already running; set the thread count before the first array operation",
        ));
    }
    THREADS.store(n, Ordering::SeqCst);
    Ok(())
}

/// Number of worker threads of the pool.
pub fn threads() -> usize {
    pool().current_num_threads()
}

fn default_threads() -> usize {
    let n = THREADS.load(Ordering::SeqCst);
    if n > 0 {
        return n;
    }
    if let Some(n) = std::env::var("ZARRCORE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The pool.
pub fn pool() -> &'static rayon::ThreadPool {
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(default_threads())
            .thread_name(|i| format!("zarrcore-{i}"))
            .build()
            .unwrap_or_else(|_| {
                // Thread creation failed (resource limits): fall back to one
                // worker rather than aborting the caller.
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .expect("a one-thread pool")
            })
    })
}

/// Runs `f` inside the pool (directly if already on one of its threads).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let p = pool();
    if p.current_thread_index().is_some() {
        f()
    } else {
        p.install(f)
    }
}

/// Whether parallel loops may be started here.
pub fn may_parallelize() -> bool {
    SEQUENTIAL.with(|s| s.get() == 0) && pool().current_thread_index().is_some()
}

/// A guard during which [`may_parallelize`] is false on this thread.
pub struct Sequential(());

impl Sequential {
    /// Enters a sequential section.
    pub fn enter() -> Sequential {
        SEQUENTIAL.with(|s| s.set(s.get() + 1));
        Sequential(())
    }
}

impl Drop for Sequential {
    fn drop(&mut self) {
        SEQUENTIAL.with(|s| s.set(s.get().saturating_sub(1)));
    }
}
