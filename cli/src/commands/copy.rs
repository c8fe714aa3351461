//! `zarrcore copy SRC_STORE SRC_ARRAY DST_STORE DST_ARRAY [--transpose 2,1,0]
//! [--chunks ..] [--shards ..] [--codec ..] [--zarr-format 2|3] [--dtype ..]
//! [--casting safe|same_kind] [--region ..] [--memory 1GiB] [--threads N]
//! [--resume] [--overwrite] [--quiet] [--progress ..] [--dry-run] [--json]`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use zarrcore::metadata::ZarrFormat;
use zarrcore::ops::{self, Casting, CopyOptions, CopyProgress, CopyReport, Outcome, Shards};
use zarrcore::store::{DirectoryStore, TEMP_MARKER};
use zarrcore::util::{human_bytes, parse_shape, parse_size};
use zarrcore::{CodecSpec, DataType, Region, StoreOptions};

/// How progress is shown.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// An indicatif bar (bytes, throughput, ETA).
    Bar,
    /// One plain line every second.
    Plain,
    /// One JSON object per line every second.
    Json,
    /// Nothing.
    None,
}

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Source store: a directory, a .zip file or a URL.
    pub src_store: String,
    /// Source array path ("" or "/" is the root).
    pub src_array: String,
    /// Destination store (created if missing).
    pub dst_store: String,
    /// Destination array path.
    pub dst_array: String,
    /// Axis order of the result, NumPy style: 2,1,0 reverses three axes.
    #[arg(long)]
    pub transpose: Option<String>,
    /// Destination chunk shape (inner chunk shape when sharded), in
    /// destination axis order. Default: the source's, permuted.
    #[arg(long)]
    pub chunks: Option<String>,
    /// Destination shard shape (v3), a multiple of the chunk shape, or `none`.
    /// Default: the source's (permuted) if it is sharded and --chunks is not given.
    #[arg(long)]
    pub shards: Option<String>,
    /// Destination compressor: none, zstd:LEVEL, gzip:LEVEL,
    /// blosc:CNAME:CLEVEL:SHUFFLE, and for v2 also zlib:LEVEL, lz4:ACCELERATION.
    /// Default: the source's.
    #[arg(long)]
    pub codec: Option<String>,
    /// Destination Zarr format (default: the source's).
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub zarr_format: Option<u8>,
    /// Destination data type (int16, float32, <f4, ...), converted as NumPy's astype.
    #[arg(long)]
    pub dtype: Option<String>,
    /// Which conversions --dtype may make: safe (no value lost, NumPy's table)
    /// or same_kind (also narrowing: float64->float32, int32->int8 wraps).
    #[arg(long, default_value = "safe")]
    pub casting: String,
    /// Source region to copy, numpy-style per source axis: `0:10,5:20`
    /// (negative indices count from the end).
    #[arg(long, allow_hyphen_values = true)]
    pub region: Option<String>,
    /// Memory budget for everything the copy holds (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "1GiB")]
    pub memory: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Continue an interrupted copy into the existing destination.
    #[arg(long)]
    pub resume: bool,
    /// Replace an existing array or group at DST_ARRAY.
    #[arg(long)]
    pub overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Progress display.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Print the plan (JSON) and the destination metadata, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn shape_arg(s: &Option<String>, what: &str) -> Result<Option<Vec<u64>>> {
    s.as_deref()
        .map(|v| {
            parse_shape(v)
                .map_err(anyhow::Error::msg)
                .with_context(|| what.to_string())
        })
        .transpose()
}

fn options(args: &Args) -> Result<CopyOptions> {
    let src = super::open_read(&args.src_store)?;
    let dst = if args.dry_run {
        // Nothing is written (the plan needs only the source).
        zarrcore::open_store("memory://zarrcore-copy-dry-run", StoreOptions::create())?
    } else {
        super::open_write(&args.dst_store)?
    };
    let mut o = CopyOptions::new(src, &args.src_array, dst, &args.dst_array);
    o.transpose = shape_arg(&args.transpose, "--transpose")?
        .map(|v| v.into_iter().map(|x| x as usize).collect());
    o.chunks = shape_arg(&args.chunks, "--chunks")?;
    o.shards = match args.shards.as_deref() {
        None => Shards::Inherit,
        Some("none") => Shards::Unsharded,
        Some(s) => Shards::Shape(
            parse_shape(s)
                .map_err(anyhow::Error::msg)
                .context("--shards")?,
        ),
    };
    o.codec = args
        .codec
        .as_deref()
        .map(|c| c.parse::<CodecSpec>().map_err(anyhow::Error::msg))
        .transpose()?;
    o.zarr_format = args.zarr_format.map(|f| {
        if f == 2 {
            ZarrFormat::V2
        } else {
            ZarrFormat::V3
        }
    });
    o.dtype = args
        .dtype
        .as_deref()
        .map(|d| DataType::parse(d).map_err(anyhow::Error::msg))
        .transpose()
        .context("--dtype")?;
    o.casting = args
        .casting
        .parse::<Casting>()
        .map_err(anyhow::Error::msg)
        .context("--casting")?;
    o.memory = parse_size(&args.memory)
        .map_err(anyhow::Error::msg)
        .context("--memory")?;
    o.threads = args.threads;
    o.resume = args.resume;
    o.overwrite = args.overwrite;
    if let Some(r) = &args.region {
        let a = zarrcore::Array::open(&o.src_store, &o.src_path, zarrcore::Mode::Read)?;
        o.region = Some(
            Region::parse(r, &a.shape())
                .map_err(anyhow::Error::msg)
                .context("--region")?,
        );
    }
    Ok(o)
}

/// This process's peak resident set size (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn report_json(r: &CopyReport) -> Value {
    let mut v = r.summary_json();
    v["peak_rss_bytes"] = json!(peak_rss_bytes());
    v["plan"] = r.plan.to_json();
    v["mb_per_s"] = json!(if r.seconds > 0.0 {
        r.bytes as f64 / r.seconds / 1e6
    } else {
        0.0
    });
    v
}

/// The progress display, fed from worker threads.
struct Display {
    mode: ProgressMode,
    bar: OnceLock<ProgressBar>,
    line: Mutex<LineState>,
}

struct LineState {
    start: Instant,
    first_bytes: Option<u64>,
    last: Option<Instant>,
}

impl Display {
    fn new(mode: ProgressMode, quiet: bool) -> Display {
        let mode = match (mode, quiet) {
            (_, true) => ProgressMode::None,
            (ProgressMode::Auto, _) if std::io::stderr().is_terminal() => ProgressMode::Bar,
            (ProgressMode::Auto, _) => ProgressMode::Plain,
            (m, _) => m,
        };
        Display {
            mode,
            bar: OnceLock::new(),
            line: Mutex::new(LineState {
                start: Instant::now(),
                first_bytes: None,
                last: None,
            }),
        }
    }

    fn update(&self, p: &CopyProgress) {
        match self.mode {
            ProgressMode::None | ProgressMode::Auto => {}
            ProgressMode::Bar => {
                let bar = self.bar.get_or_init(|| {
                    let pb = ProgressBar::new(p.total_bytes).with_position(p.done_bytes);
                    pb.set_style(
                        ProgressStyle::with_template(
                            "copy [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    pb.reset_eta();
                    pb
                });
                bar.set_position(p.done_bytes);
                bar.set_message(format!("{}/{} chunks", p.done_cells, p.total_cells));
            }
            ProgressMode::Plain | ProgressMode::Json => self.line(p, false),
        }
    }

    /// A progress line at most once a second (always when `last`).
    fn line(&self, p: &CopyProgress, last: bool) {
        let Ok(mut st) = (if last {
            self.line.lock().map_err(|_| ())
        } else {
            self.line.try_lock().map_err(|_| ())
        }) else {
            return;
        };
        let first = *st.first_bytes.get_or_insert(p.done_bytes);
        let now = Instant::now();
        if !last
            && st
                .last
                .is_some_and(|t| now.duration_since(t).as_secs_f64() < 1.0)
        {
            return;
        }
        if st.last.is_none() && !last {
            // The first call only starts the clock.
            st.last = Some(now);
            return;
        }
        st.last = Some(now);
        let secs = now.duration_since(st.start).as_secs_f64().max(1e-9);
        let rate = (p.done_bytes - first) as f64 / secs;
        let eta = if rate > 0.0 {
            (p.total_bytes - p.done_bytes) as f64 / rate
        } else {
            f64::NAN
        };
        let pct = if p.total_bytes > 0 {
            100.0 * p.done_bytes as f64 / p.total_bytes as f64
        } else {
            100.0
        };
        if self.mode == ProgressMode::Json {
            let v = json!({
                "event": "progress",
                "done_bytes": p.done_bytes,
                "total_bytes": p.total_bytes,
                "done_chunks": p.done_cells,
                "total_chunks": p.total_cells,
                "elapsed_s": secs,
                "mb_per_s": rate / 1e6,
                "eta_s": if eta.is_finite() { json!(eta) } else { Value::Null },
            });
            eprintln!("{v}");
        } else {
            eprintln!(
                "copy: {pct:5.1}% {} / {}, {}/{} chunks, {:.0} MB/s, ETA {}",
                human_bytes(p.done_bytes),
                human_bytes(p.total_bytes),
                p.done_cells,
                p.total_cells,
                rate / 1e6,
                if eta.is_finite() {
                    format!("{eta:.0}s")
                } else {
                    "?".into()
                }
            );
        }
    }

    fn finish(&self, p: Option<&CopyProgress>) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
        if let (Some(p), ProgressMode::Plain | ProgressMode::Json) = (p, self.mode) {
            self.line(p, true);
        }
    }
}

/// Removes temporaries left in the destination by a killed writer (their
/// names carry the writer's process id; only dead writers' files go).
fn clean_stale_temporaries(location: &str, array: &str) -> Result<usize> {
    let pid_of = |name: &str| -> Option<u32> {
        let rest = &name[name.find(TEMP_MARKER)? + TEMP_MARKER.len()..];
        rest.split('.').next()?.parse().ok()
    };
    let dead = |pid: u32| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
    let mut n = 0;
    if location.contains("://") && !location.starts_with("file://") {
        return Ok(0);
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let p = Path::new(path);
    if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        // A zip store stages writes in `.NAME<marker>PID.staging` beside it
        // and rebuilds into `.NAME<marker>PID.zip`.
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return Ok(0);
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let prefix = format!(".{}{TEMP_MARKER}", name.to_string_lossy());
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let f = e.file_name().to_string_lossy().to_string();
            if f.starts_with(&prefix) && pid_of(&f).is_some_and(dead) {
                let q = e.path();
                let r = if q.is_dir() {
                    std::fs::remove_dir_all(&q)
                } else {
                    std::fs::remove_file(&q)
                };
                r.with_context(|| format!("remove stale {}", q.display()))?;
                n += 1;
            }
        }
        return Ok(n);
    }
    if !p.is_dir() {
        return Ok(0);
    }
    let store = DirectoryStore::open(path, StoreOptions::create())?;
    let prefix = zarrcore::store::normalize_path(array)?;
    for key in store.list_temporaries(&prefix)? {
        let name = key.rsplit('/').next().unwrap_or(&key);
        if pid_of(name).is_some_and(dead) {
            store.remove_temporary(&key)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        zarrcore::engine::pool::set_threads(n)?;
    }
    let opts = options(&args)?;
    if args.dry_run {
        let p = ops::plan_copy(&opts)?;
        let v = json!({
            "plan": p.plan.to_json(),
            "destination": p.dst_meta.to_json(),
            "region": {"start": p.region.start, "shape": p.region.shape},
            "transpose": p.perm,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let c = Arc::clone(&cancel);
        // First Ctrl-C (or SIGTERM): stop cleanly; second: exit at once.
        ctrlc::set_handler(move || {
            if c.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    if args.resume {
        let n = clean_stale_temporaries(&args.dst_store, &args.dst_array)?;
        if n > 0 && !args.quiet {
            eprintln!("zarrcore copy: removed {n} temporary file(s) left by the interrupted run");
        }
    }
    let display = Display::new(args.progress, args.quiet);
    if !args.quiet {
        let p = ops::plan_copy(&opts)?;
        eprintln!("zarrcore copy: plan: {}", p.plan);
    }
    let last = Mutex::new(None::<CopyProgress>);
    let progress = |p: &CopyProgress| {
        display.update(p);
        if let Ok(mut l) = last.try_lock() {
            *l = Some(p.clone());
        }
    };
    let report = ops::copy(&opts, &progress, &cancel);
    let final_progress = last.lock().ok().and_then(|l| l.clone());
    display.finish(final_progress.as_ref());
    let report = report?;
    if args.json {
        println!("{}", report_json(&report));
    }
    match report.outcome {
        Outcome::Complete => {
            if !args.quiet {
                eprintln!(
                    "zarrcore copy: {} in {:.2} s ({:.0} MB/s), {} chunks ({} all fill, {} done before), {} stored; source chunks decoded {:.2}x",
                    human_bytes(report.bytes),
                    report.seconds,
                    if report.seconds > 0.0 { report.bytes as f64 / report.seconds / 1e6 } else { 0.0 },
                    report.cells_written,
                    report.cells_empty,
                    report.cells_resumed,
                    human_bytes(report.stored_bytes),
                    if report.plan.source_chunks > 0 {
                        report.source_decodes as f64 / report.plan.source_chunks as f64
                    } else {
                        1.0
                    },
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Cancelled => {
            eprintln!(
                "zarrcore copy: interrupted: {} of {} chunks done; run the same command with --resume to continue",
                report.cells_written + report.cells_resumed,
                report.plan.dst_cells
            );
            Ok(ExitCode::from(130))
        }
    }
}
