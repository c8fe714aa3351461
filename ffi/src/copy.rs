//! `zarrcore_copy`: the out-of-core copy (transpose, rechunk, re-encode,
//! convert under a memory budget, with progress, cancellation and resume)
//! of `zarrcore::ops::copy`, with its options given as JSON text.

use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};
use serde_json::{Map, Value};
use zarrcore::metadata::ZarrFormat;
use zarrcore::ops::{self, Casting, CopyOptions, CopyProgress, CopyReport, Outcome, Shards};
use zarrcore::util::parse_size;
use zarrcore::{Array, CodecSpec, DataType, Mode, Region, StoreRef};

use crate::ffi::{opt_str_arg, slice_out, str_arg, Out};
use crate::json;
use crate::panic::guard;
use crate::status::{
    FfiError, Status, ZARRCORE_E_BUFFER_LENGTH, ZARRCORE_E_CANCELLED, ZARRCORE_E_INTERNAL,
    ZARRCORE_E_PANIC,
};
use crate::store::{store_arg_named, StoreHandle};

/// `zarrcore_copy`: a report buffer of this many bytes always holds the
/// report and its NUL. A non-NULL `report_buf` must be at least this long.
pub const ZARRCORE_COPY_REPORT_MAX_LEN: usize = 512;

/// The progress callback of `zarrcore_copy`: `done_bytes` of `total_bytes`
/// destination bytes (uncompressed, destination data type) are finished;
/// `user_data` is the pointer given to `zarrcore_copy`. Return 0 to go on,
/// anything else to cancel the copy cleanly. The callback must not unwind
/// (a C++ exception or a Rust panic escaping it aborts the process).
pub type CopyProgressFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done_bytes: u64, total_bytes: u64) -> i32>;

/// The keys `options_json` may have.
const KEYS: [&str; 12] = [
    "transpose",
    "region",
    "chunks",
    "shards",
    "codec",
    "zarr_format",
    "dtype",
    "casting",
    "memory",
    "threads",
    "resume",
    "overwrite",
];

fn bad(key: &str, reason: impl std::fmt::Display) -> FfiError {
    FfiError::invalid("options_json", format!("key \"{key}\": {reason}"))
}

fn expected(key: &str, what: &str, got: &Value) -> FfiError {
    bad(key, format!("expected {what}, not {}", json::kind(got)))
}

fn u64_of(key: &str, v: &Value, what: &str) -> Result<u64, FfiError> {
    v.as_u64().ok_or_else(|| match v {
        Value::Number(_) => bad(key, format!("expected {what}, not {v}")),
        _ => expected(key, what, v),
    })
}

fn usize_of(key: &str, v: &Value, what: &str) -> Result<usize, FfiError> {
    let n = u64_of(key, v, what)?;
    usize::try_from(n).map_err(|_| bad(key, format!("{n} is too large")))
}

fn ints(key: &str, v: &Value) -> Result<Vec<u64>, FfiError> {
    const WHAT: &str = "an array of non-negative integers";
    match v {
        Value::Array(items) => items.iter().map(|x| u64_of(key, x, WHAT)).collect(),
        other => Err(expected(key, WHAT, other)),
    }
}

fn string<'v>(key: &str, v: &'v Value) -> Result<&'v str, FfiError> {
    v.as_str().ok_or_else(|| expected(key, "a string", v))
}

fn boolean(key: &str, v: &Value) -> Result<bool, FfiError> {
    v.as_bool().ok_or_else(|| expected(key, "true or false", v))
}

/// Applies the keys of `options_json` to `o` (see `zarrcore_copy`). A
/// key whose value is `null` keeps its default.
fn apply_options(o: &mut CopyOptions, opts: &Map<String, Value>) -> Result<(), FfiError> {
    let mut region = None;
    for (key, v) in opts {
        let key = key.as_str();
        if !KEYS.contains(&key) {
            return Err(bad(
                key,
                format!("unknown option; the options are {}", KEYS.join(", ")),
            ));
        }
        if v.is_null() {
            continue;
        }
        match key {
            "transpose" => {
                let perm = ints(key, v)?
                    .into_iter()
                    .map(|a| usize::try_from(a).map_err(|_| bad(key, format!("axis {a}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                o.transpose = Some(perm);
            }
            "region" => region = Some(string(key, v)?),
            "chunks" => o.chunks = Some(ints(key, v)?),
            "shards" => {
                o.shards = match v {
                    Value::String(s) if s == "none" => Shards::Unsharded,
                    Value::Array(_) => Shards::Shape(ints(key, v)?),
                    other => {
                        return Err(expected(
                            key,
                            "an array of non-negative integers or \"none\"",
                            other,
                        ))
                    }
                }
            }
            "codec" => {
                o.codec = Some(
                    string(key, v)?
                        .parse::<CodecSpec>()
                        .map_err(|e| bad(key, e))?,
                )
            }
            "zarr_format" => {
                o.zarr_format = Some(match u64_of(key, v, "2 or 3")? {
                    2 => ZarrFormat::V2,
                    3 => ZarrFormat::V3,
                    n => return Err(bad(key, format!("is {n}; expected 2 or 3"))),
                })
            }
            "dtype" => o.dtype = Some(DataType::parse(string(key, v)?).map_err(|e| bad(key, e))?),
            "casting" => {
                o.casting = string(key, v)?
                    .parse::<Casting>()
                    .map_err(|e| bad(key, e))?
            }
            "memory" => {
                o.memory = match v {
                    Value::String(s) => parse_size(s).map_err(|e| bad(key, e))?,
                    _ => u64_of(key, v, "a number of bytes or a size such as \"256MiB\"")?,
                }
            }
            "threads" => {
                let n = usize_of(key, v, "a positive integer")?;
                if n == 0 {
                    return Err(bad(key, "must be at least 1"));
                }
                o.threads = Some(n);
            }
            "resume" => o.resume = boolean(key, v)?,
            "overwrite" => o.overwrite = boolean(key, v)?,
            _ => return Err(bad(key, "unknown option")),
        }
    }
    if let Some(r) = region {
        // The slice syntax needs the source's shape (negative indices, open ends).
        let shape = Array::open(&o.src_store, &o.src_path, Mode::Read)?.shape();
        o.region = Some(Region::parse(r, &shape).map_err(|e| bad("region", e))?);
    }
    Ok(())
}

/// The options of a copy from a JSON text (NULL: none).
fn options(
    src: StoreRef,
    src_path: &str,
    dst: StoreRef,
    dst_path: &str,
    text: Option<&str>,
) -> Result<CopyOptions, FfiError> {
    let mut o = CopyOptions::new(src, src_path, dst, dst_path);
    if let Some(text) = text {
        apply_options(&mut o, &json::parse_object(text, "options_json")?)?;
    }
    Ok(o)
}

/// The latest progress, handed from the engine's threads to the calling
/// thread, which alone calls the C callback.
struct Relay {
    state: Mutex<RelayState>,
    wake: Condvar,
}

struct RelayState {
    latest: Option<(u64, u64)>,
    high: u64,
    finished: bool,
}

impl Relay {
    fn post(&self, p: &CopyProgress) {
        let mut s = self.state.lock();
        // Workers may report out of order; the caller sees only increases.
        if p.done_bytes >= s.high {
            s.high = p.done_bytes;
            s.latest = Some((p.done_bytes, p.total_bytes));
            self.wake.notify_one();
        }
    }

    fn finish(&self) {
        self.state.lock().finished = true;
        self.wake.notify_one();
    }

    /// Waits for news: the latest progress (if any since the last call) and
    /// whether the copy has returned (then nothing more will come).
    fn next(&self) -> (Option<(u64, u64)>, bool) {
        let mut s = self.state.lock();
        while s.latest.is_none() && !s.finished {
            self.wake.wait(&mut s);
        }
        (s.latest.take(), s.finished)
    }
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> FfiError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".into());
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    FfiError::new(
        ZARRCORE_E_PANIC,
        format!("panic inside zarrcore (a bug; please report it): {what}"),
    )
}

/// Runs the copy on a helper thread while this thread relays progress to
/// `cb` (so the callback runs only on the caller's thread, one call at a
/// time) and turns a nonzero return into a cancel.
fn run_with_callback(
    opts: &CopyOptions,
    cb: unsafe extern "C" fn(*mut c_void, u64, u64) -> i32,
    user_data: *mut c_void,
) -> Result<CopyReport, FfiError> {
    let relay = Relay {
        state: Mutex::new(RelayState {
            latest: None,
            high: 0,
            finished: false,
        }),
        wake: Condvar::new(),
    };
    let cancel = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("zarrcore-copy".into())
            .spawn_scoped(scope, || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    ops::copy(opts, &|p: &CopyProgress| relay.post(p), &cancel)
                }));
                relay.finish();
                r
            })
            .map_err(|e| {
                FfiError::new(
                    ZARRCORE_E_INTERNAL,
                    format!("cannot start the copy thread: {e}"),
                )
            })?;
        let mut calling = true;
        loop {
            let (news, finished) = relay.next();
            if let (Some((done, total)), true) = (news, calling) {
                // SAFETY: the caller of `zarrcore_copy` promised that `cb`
                // is a valid callback for `user_data`; it runs on the
                // calling thread, never concurrently with itself.
                if unsafe { cb(user_data, done, total) } != 0 {
                    cancel.store(true, Ordering::Relaxed);
                    calling = false;
                }
            }
            if finished {
                break;
            }
        }
        match worker.join() {
            Ok(Ok(r)) => r.map_err(FfiError::from),
            Ok(Err(payload)) | Err(payload) => Err(panic_error(payload)),
        }
    })
}

/// Copies the array `src_path` of `src` into a new array `dst_path` of
/// `dst`, transposing, rechunking, re-encoding and converting it on the way,
/// with everything it holds in memory kept under a budget (default 1 GiB).
/// The same operation as `zarrcore copy` on the command line (see
/// docs/copy.md): the result is NumPy's
/// `source[region].transpose(transpose).astype(dtype)`. Each source chunk is
/// decoded once (or a bounded number of times, given in the report) and each
/// destination chunk or shard written once.
///
/// * `src`, `dst`: store handles (the same handle is allowed, for paths that
///   do not overlap); `dst` must be writable. `src_path`, `dst_path`: array
///   paths, UTF-8, NUL-terminated, borrowed for the call.
/// * `options_json`: NULL or a JSON object text (borrowed) with any of these
///   keys (a key with value `null` keeps its default):
///   `"transpose"`: `[2,1,0]`, destination axis j is source axis
///   `transpose[j]`; `"region"`: `"0:10,5:20"`, the source region (NumPy
///   slices per source axis, negative indices count from the end);
///   `"chunks"`: destination chunk shape (inner chunks when sharded), in
///   destination axis order; `"shards"`: destination shard shape or
///   `"none"`; `"codec"`: `"zstd:1"`, `"none"`, ... (as for
///   `zarrcore_array_create`); `"zarr_format"`: 2 or 3; `"dtype"`:
///   `"float32"`, `"<i2"`, ...; `"casting"`: `"safe"` (default) or
///   `"same_kind"`; `"memory"`: the budget, a number of bytes or a string
///   such as `"256MiB"`; `"threads"`: at most this many workers (at most the
///   engine's pool size); `"resume"`: continue an interrupted copy into the
///   existing destination; `"overwrite"`: replace an existing node at
///   `dst_path`. Defaults: the source's layout, all of it, permuted.
/// * `progress`: NULL or a callback, with `user_data` passed back to it
///   untouched. It is called on the thread that called `zarrcore_copy`,
///   never concurrently with itself, at the start and as destination chunks
///   finish (calls may lag behind the work and be coalesced; `done_bytes`
///   never decreases; the last call reports the final state). A nonzero return cancels the copy cleanly:
///   finished destination chunks are kept with a journal, the callback is
///   not called again, and a later call with `"resume": true` (and the same
///   other options) finishes the copy with the same result as an
///   uninterrupted one. It must not call `zarrcore_copy` on the same
///   destination and must not unwind.
/// * `report_buf`: NULL (with `report_buf_len` 0) for no report, or a
///   caller-owned buffer of `report_buf_len` bytes, at least
///   `ZARRCORE_COPY_REPORT_MAX_LEN`, which receives the NUL-terminated
///   report when the status is `ZARRCORE_OK` or `ZARRCORE_E_CANCELLED`:
///   `{"outcome":"complete"|"cancelled","cells_total":N,"cells_written":N,
///   "cells_empty":N,"cells_resumed":N,"bytes":N,"stored_bytes":N,
///   "source_decodes":N,"seconds":X}`. A shorter buffer is refused before
///   anything is copied (`ZARRCORE_E_BUFFER_LENGTH`, `*report_len` set to
///   `ZARRCORE_COPY_REPORT_MAX_LEN - 1`).
/// * `report_len`: NULL, or receives the report's length without the NUL
///   (0 after a failure).
///
/// Returns `ZARRCORE_OK` when the copy is complete; `ZARRCORE_E_CANCELLED`
/// when the callback cancelled it (the report says how far it got);
/// `ZARRCORE_E_INVALID_ARGUMENT` for malformed JSON, an unknown key or a
/// value of the wrong type (the message names the key), a bad permutation,
/// region, layout or conversion, or a memory budget too small to make
/// progress (the message gives the minimum); `ZARRCORE_E_ALREADY_EXISTS` if
/// `dst_path` exists without `"resume"` or `"overwrite"`;
/// `ZARRCORE_E_NOT_FOUND`, `ZARRCORE_E_BUSY` (an array open in the other
/// mode), `ZARRCORE_E_READ_ONLY`, `ZARRCORE_E_CODEC`, `ZARRCORE_E_IO`,
/// `ZARRCORE_E_STORE`, `ZARRCORE_E_UNSUPPORTED`, `ZARRCORE_E_NULL_ARGUMENT`,
/// `ZARRCORE_E_BUFFER_LENGTH`.
///
/// Threads: any thread. The work runs on the engine's thread pool (plus one
/// helper thread while a callback is given); copies may run concurrently
/// from several threads, each under its own budget.
///
/// # Safety
///
/// `src` and `dst` are NULL or live store handles; the strings are NULL or
/// NUL-terminated; `progress` is NULL or a function that may be called with
/// `user_data`; `report_buf` is NULL or has `report_buf_len` writable bytes;
/// `report_len` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn zarrcore_copy(
    src: *const StoreHandle,
    src_path: *const c_char,
    dst: *const StoreHandle,
    dst_path: *const c_char,
    options_json: *const c_char,
    progress: CopyProgressFn,
    user_data: *mut c_void,
    report_buf: *mut c_char,
    report_buf_len: usize,
    report_len: *mut usize,
) -> Status {
    guard("zarrcore_copy", || {
        let mut len_out = None;
        if !report_len.is_null() {
            // SAFETY: caller's contract for `report_len`.
            let mut l = unsafe { Out::new(report_len, "report_len") }?;
            l.set(0);
            len_out = Some(l);
        }
        if report_buf.is_null() && report_buf_len > 0 {
            return Err(FfiError::null("report_buf"));
        }
        if !report_buf.is_null() && report_buf_len < ZARRCORE_COPY_REPORT_MAX_LEN {
            if let Some(l) = len_out.as_mut() {
                l.set(ZARRCORE_COPY_REPORT_MAX_LEN - 1);
            }
            return Err(FfiError::new(
                ZARRCORE_E_BUFFER_LENGTH,
                format!(
                    "argument `report_buf`: {report_buf_len} bytes; it must hold at least \
                     ZARRCORE_COPY_REPORT_MAX_LEN ({ZARRCORE_COPY_REPORT_MAX_LEN}) bytes \
                     (nothing was copied)"
                ),
            ));
        }
        // SAFETY: caller's contract for the handles and strings.
        let (src, src_path, dst, dst_path, text) = unsafe {
            (
                store_arg_named(src, "src")?,
                str_arg(src_path, "src_path")?,
                store_arg_named(dst, "dst")?,
                str_arg(dst_path, "dst_path")?,
                opt_str_arg(options_json, "options_json")?,
            )
        };
        let opts = options(src.clone(), src_path, dst.clone(), dst_path, text)?;
        let report = match progress {
            None => ops::copy(&opts, &|_: &CopyProgress| {}, &AtomicBool::new(false))?,
            Some(cb) => run_with_callback(&opts, cb, user_data)?,
        };
        let text = json::to_string(&report.summary_json())?;
        if let Some(l) = len_out.as_mut() {
            l.set(text.len());
        }
        if !report_buf.is_null() {
            // SAFETY: caller's contract for `report_buf` (`report_buf_len`
            // writable bytes, at least the bound checked above).
            let buf = unsafe { slice_out(report_buf.cast::<u8>(), report_buf_len, "report_buf") }?;
            if text.len() >= buf.len() {
                return Err(FfiError::new(
                    ZARRCORE_E_INTERNAL,
                    format!(
                        "the report ({} bytes) exceeds its documented bound",
                        text.len()
                    ),
                ));
            }
            buf[..text.len()].copy_from_slice(text.as_bytes());
            buf[text.len()] = 0;
        }
        match report.outcome {
            Outcome::Complete => Ok(()),
            Outcome::Cancelled => Err(FfiError::new(
                ZARRCORE_E_CANCELLED,
                format!(
                    "cancelled by the progress callback after {} of {} destination chunks; \
                     call again with \"resume\": true to finish",
                    report.cells_resumed + report.cells_written,
                    report.plan.dst_cells
                ),
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ZARRCORE_E_INVALID_ARGUMENT;
    use serde_json::json;
    use zarrcore::{open_store, StoreOptions};

    fn opts(text: &str) -> Result<CopyOptions, FfiError> {
        let s = open_store("memory://ffi-copy-opts", StoreOptions::create()).unwrap();
        options(s.clone(), "a", s, "b", Some(text))
    }

    #[test]
    fn options_parse() {
        let o = opts(
            r#"{"transpose":[1,0],"chunks":[4,5],"shards":"none","codec":"zstd:1",
                "zarr_format":2,"dtype":"float32","casting":"same_kind","memory":"256MiB",
                "threads":2,"resume":true,"overwrite":false,"region":null}"#,
        )
        .unwrap();
        assert_eq!(o.transpose, Some(vec![1, 0]));
        assert_eq!(o.chunks, Some(vec![4, 5]));
        assert_eq!(o.shards, Shards::Unsharded);
        assert!(o.codec.is_some());
        assert_eq!(o.zarr_format, Some(ZarrFormat::V2));
        assert_eq!(o.dtype, Some(DataType::Float32));
        assert_eq!(o.casting, Casting::SameKind);
        assert_eq!(o.memory, 256 << 20);
        assert_eq!(o.threads, Some(2));
        assert!(o.resume && !o.overwrite && o.region.is_none());
        assert_eq!(opts(r#"{"memory": 1000}"#).unwrap().memory, 1000);
        assert_eq!(
            opts(r#"{"shards": [8, 8]}"#).unwrap().shards,
            Shards::Shape(vec![8, 8])
        );
        assert_eq!(opts("{}").unwrap().memory, ops::DEFAULT_MEMORY);
    }

    #[test]
    fn bad_options_name_the_key() {
        for (text, needle) in [
            (
                r#"{"transpos": [1, 0]}"#,
                "key \"transpos\": unknown option",
            ),
            (
                r#"{"transpose": "1,0"}"#,
                "key \"transpose\": expected an array",
            ),
            (
                r#"{"transpose": [1, -1]}"#,
                "key \"transpose\": expected an array",
            ),
            (r#"{"chunks": [1.5]}"#, "key \"chunks\""),
            (r#"{"shards": "some"}"#, "key \"shards\""),
            (r#"{"codec": "zstd:x"}"#, "key \"codec\""),
            (r#"{"zarr_format": 4}"#, "key \"zarr_format\": is 4"),
            (r#"{"dtype": "float33"}"#, "key \"dtype\""),
            (r#"{"casting": "unsafe"}"#, "key \"casting\""),
            (r#"{"memory": "lots"}"#, "key \"memory\""),
            (r#"{"memory": true}"#, "key \"memory\""),
            (r#"{"threads": 0}"#, "key \"threads\": must be at least 1"),
            (r#"{"resume": 1}"#, "key \"resume\": expected true or false"),
            (r#"{"overwrite": "yes"}"#, "key \"overwrite\""),
            ("[1]", "must be a JSON object"),
            ("{", "is not valid JSON"),
        ] {
            let e = opts(text).unwrap_err();
            assert_eq!(e.status, ZARRCORE_E_INVALID_ARGUMENT, "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
            assert!(e.message.contains("`options_json`"), "{}", e.message);
        }
    }

    extern "C" fn count_calls(user_data: *mut c_void, done: u64, total: u64) -> i32 {
        assert!(done <= total);
        // SAFETY: the test passes a pointer to a live `u64`, used only by
        // this thread (the callback runs on the calling thread).
        unsafe { *user_data.cast::<u64>() += 1 };
        0
    }

    /// A real copy through the callback path; its report, with every
    /// number at its largest, still fits the documented bound.
    #[test]
    fn copy_with_callback_and_report_bound() {
        let s = open_store("memory://ffi-copy-report", StoreOptions::create()).unwrap();
        let a = zarrcore::ArrayBuilder::new(vec![6, 4], DataType::UInt16)
            .chunks(vec![2, 3])
            .overwrite(true)
            .create(&s, "a")
            .unwrap();
        let data: Vec<u8> = (0..24u16).flat_map(|v| v.to_le_bytes()).collect();
        a.write_region(&Region::all(&[6, 4]), &data).unwrap();
        a.close().unwrap();
        let mut o = opts(r#"{"transpose": [1, 0], "overwrite": true}"#).unwrap();
        o.src_store = s.clone();
        o.dst_store = s.clone();
        let mut calls = 0u64;
        let r = run_with_callback(&o, count_calls, (&mut calls as *mut u64).cast()).unwrap();
        assert_eq!(r.outcome, Outcome::Complete);
        assert!(calls >= 1);
        let b = Array::open(&s, "b", Mode::Read).unwrap();
        assert_eq!(b.shape(), vec![4, 6]);
        let got = b.read_region_vec(&Region::all(&[4, 6])).unwrap();
        for i in 0..4usize {
            for j in 0..6usize {
                let v = u16::from_le_bytes([got[2 * (i * 6 + j)], got[2 * (i * 6 + j) + 1]]);
                assert_eq!(v as usize, j * 4 + i);
            }
        }
        let mut v = r.summary_json();
        assert_eq!(v["outcome"], "complete");
        assert_eq!(v["cells_written"], r.plan.dst_cells);
        for (k, x) in v.as_object_mut().unwrap() {
            *x = match k.as_str() {
                "outcome" => json!("cancelled"),
                "seconds" => json!(-f64::MAX),
                _ => json!(u64::MAX),
            };
        }
        assert!(json::to_string(&v).unwrap().len() < ZARRCORE_COPY_REPORT_MAX_LEN);
    }
}
