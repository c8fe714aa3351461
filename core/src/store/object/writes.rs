//! Write-behind bookkeeping of a remote store.
//!
//! A `set` or `delete` registers the new value here, starts the request on
//! the I/O runtime and returns; the engine's thread goes back to encoding.
//! At most `max_in_flight` writes are outstanding (a further one waits for
//! room: back-pressure), and writes of one key are serialised (a second
//! write of a key waits for the first), so the last write of a key wins.
//! Until its request completes, a value is served from here to readers of
//! this handle (read-your-writes). A failed write is kept as a failure and
//! reported exactly once: by the next `set`/`delete` of this handle (which
//! then fails without being attempted) or by `flush`.

use std::collections::HashMap;

use parking_lot::{Condvar, Mutex};

use super::Bytes;
use crate::error::StoreError;

#[derive(Default)]
struct State {
    in_flight: usize,
    /// Latest in-flight value of each key (`None`: a delete).
    pending: HashMap<String, Option<Bytes>>,
    /// Failed writes not yet reported: (key, message).
    failures: Vec<(String, String)>,
}

/// The write-behind queue of one store handle.
pub(super) struct WriteQueue {
    state: Mutex<State>,
    cond: Condvar,
    max_in_flight: usize,
}

impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("WriteQueue")
            .field("in_flight", &s.in_flight)
            .field("failures", &s.failures.len())
            .finish()
    }
}

/// One error for a list of failed writes.
fn failure_error(mut failures: Vec<(String, String)>, when: &str) -> StoreError {
    let n = failures.len();
    let (key, message) = failures.swap_remove(0);
    let more = if n > 1 {
        format!(" ({} more writes failed too)", n - 1)
    } else {
        String::new()
    };
    StoreError::Backend {
        key,
        message: format!("{message}; the value was not stored{more} [reported {when}]"),
    }
}

impl WriteQueue {
    pub fn new(max_in_flight: usize) -> Self {
        WriteQueue {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// Registers a write of `key`, waiting for room and for an earlier write
    /// of the same key. Fails (without registering) if earlier writes failed
    /// and were not reported yet.
    pub fn begin(&self, key: &str, value: Option<Bytes>) -> Result<(), StoreError> {
        let mut s = self.state.lock();
        loop {
            if !s.failures.is_empty() {
                let f = std::mem::take(&mut s.failures);
                return Err(failure_error(
                    f,
                    "by a later write, which was not attempted",
                ));
            }
            if s.in_flight < self.max_in_flight && !s.pending.contains_key(key) {
                break;
            }
            self.cond.wait(&mut s);
        }
        s.in_flight += 1;
        s.pending.insert(key.to_string(), value);
        Ok(())
    }

    /// Marks the write of `key` as done.
    pub fn finish(&self, key: &str, result: Result<(), StoreError>) {
        let mut s = self.state.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.pending.remove(key);
        match result {
            Ok(()) => {}
            Err(StoreError::Backend { message, .. }) => s.failures.push((key.to_string(), message)),
            Err(e) => s.failures.push((key.to_string(), e.to_string())),
        }
        drop(s);
        self.cond.notify_all();
    }

    /// The in-flight value of `key`: `Some(None)` for a pending delete,
    /// `None` if no write of `key` is in flight.
    pub fn lookup(&self, key: &str) -> Option<Option<Bytes>> {
        self.state.lock().pending.get(key).cloned()
    }

    /// Whether any write under `prefix` is in flight.
    pub fn any_under(&self, prefix: &str) -> bool {
        let s = self.state.lock();
        s.pending.keys().any(|k| k.starts_with(prefix))
    }

    /// Waits until no write is in flight.
    pub fn wait_idle(&self) {
        let mut s = self.state.lock();
        while s.in_flight > 0 {
            self.cond.wait(&mut s);
        }
    }

    /// Waits until no write is in flight, then reports (and forgets) failed
    /// writes.
    pub fn drain(&self) -> Result<(), StoreError> {
        self.wait_idle();
        let f = std::mem::take(&mut self.state.lock().failures);
        if f.is_empty() {
            Ok(())
        } else {
            Err(failure_error(f, "by flush"))
        }
    }
}

/// Calls [`WriteQueue::finish`] when dropped, so that a write task that
/// ends abnormally still releases its slot (as a failure).
pub(super) struct Finish<'a> {
    pub queue: &'a WriteQueue,
    pub key: &'a str,
    pub result: Option<Result<(), StoreError>>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let r = self.result.take().unwrap_or_else(|| {
            Err(StoreError::Backend {
                key: self.key.to_string(),
                message: "the write task ended abnormally".into(),
            })
        });
        self.queue.finish(self.key, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_semantics() {
        let q = WriteQueue::new(2);
        q.begin("a", Some(Bytes::from_static(b"1"))).unwrap();
        q.begin("b", None).unwrap();
        assert_eq!(q.lookup("a"), Some(Some(Bytes::from_static(b"1"))));
        assert_eq!(q.lookup("b"), Some(None));
        assert_eq!(q.lookup("c"), None);
        assert!(q.any_under("a"));
        q.finish("a", Ok(()));
        q.finish(
            "b",
            Err(StoreError::Backend {
                key: "b".into(),
                message: "PUT s3://x/b failed".into(),
            }),
        );
        assert_eq!(q.lookup("a"), None);
        // The failure is reported once, by the next write.
        let e = q.begin("c", None).unwrap_err().to_string();
        assert!(e.contains("PUT s3://x/b failed"), "{e}");
        assert!(e.contains("not stored"), "{e}");
        q.begin("c", None).unwrap();
        q.finish("c", Ok(()));
        q.drain().unwrap();
    }

    #[test]
    fn same_key_waits() {
        let q = std::sync::Arc::new(WriteQueue::new(8));
        q.begin("k", Some(Bytes::from_static(b"1"))).unwrap();
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            q2.begin("k", Some(Bytes::from_static(b"2"))).unwrap();
            q2.finish("k", Ok(()));
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        // The second write is still waiting for the first.
        assert_eq!(q.lookup("k"), Some(Some(Bytes::from_static(b"1"))));
        {
            let _f = Finish {
                queue: &q,
                key: "k",
                result: Some(Ok(())),
            };
        }
        t.join().unwrap();
        q.drain().unwrap();
    }
}
