//! `zarrcore-engine-helper`: the processes of the chunk engine's
//! multi-process tests.
//!
//! ```text
//! zarrcore-engine-helper crash-create DIR
//! zarrcore-engine-helper crash-writer DIR START_GEN PROGRESS_FILE [durable]
//! zarrcore-engine-helper dask DIR NPROCS
//! zarrcore-engine-helper dask-worker DIR WORKER COUNT
//! zarrcore-engine-helper strips STORE ARRAY_PATH --proc P --nprocs N
//!     [--writes W] [--flush-every F] [--seed S] [--strip K]
//! zarrcore-engine-helper hold STORE ARRAY_PATH --mode read|write --seconds T
//! ```
//!
//! `strips` and `hold` are the processes of the many-processes tests
//! (`tests/python/test_procs.py`, see `procs`); `hold` exits with 3 when the
//! open fails with `Error::Busy`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zarrcore::Mode;
use zarrcore_engine_helper::procs::{self, StripArgs};
use zarrcore_engine_helper::{crash, dask};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T> {
    args.get(i)
        .with_context(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {what}: {:?}", args[i]))
}

/// The value of `--name` among `args` (parsed), or `default` when absent.
fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: Option<T>) -> Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let v = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| anyhow::anyhow!("bad {name}: {v:?}"))
        }
        None => default.with_context(|| format!("missing {name}")),
    }
}

fn strip_args(args: &[String]) -> Result<StripArgs> {
    Ok(StripArgs {
        store: arg(args, 1, "STORE")?,
        path: arg(args, 2, "ARRAY_PATH")?,
        proc: opt(args, "--proc", None)?,
        nprocs: opt(args, "--nprocs", None)?,
        writes: opt(args, "--writes", Some(0))?,
        flush_every: opt(args, "--flush-every", Some(0))?,
        seed: opt(args, "--seed", Some(1))?,
        strip: opt(args, "--strip", Some(4))?,
    })
}

fn hold(args: &[String]) -> Result<i32> {
    let mode = match opt::<String>(args, "--mode", None)?.as_str() {
        "read" => Mode::Read,
        "write" => Mode::Write,
        other => bail!("--mode {other:?}: use read or write"),
    };
    Ok(procs::run_hold(
        &arg::<String>(args, 1, "STORE")?,
        &arg::<String>(args, 2, "ARRAY_PATH")?,
        mode,
        opt(args, "--seconds", Some(30.0))?,
    ))
}

fn run(args: &[String]) -> Result<()> {
    let role = args.first().map(String::as_str).unwrap_or("");
    let dir = PathBuf::from(arg::<String>(args, 1, "DIR")?);
    match role {
        "crash-create" => crash::create(&dir),
        "crash-writer" => crash::run_writer(
            &dir,
            arg(args, 2, "START_GEN")?,
            Path::new(&arg::<String>(args, 3, "PROGRESS_FILE")?),
            args.get(4).is_some_and(|a| a == "durable"),
        ),
        "dask" => {
            let exe = std::env::current_exe().context("locating this executable")?;
            dask::run(&exe, &dir, arg(args, 2, "NPROCS")?)
        }
        "dask-worker" => dask::run_worker(&dir, arg(args, 2, "WORKER")?, arg(args, 3, "COUNT")?),
        "strips" => procs::run_strips(&strip_args(args)?).map(|_| ()),
        "hold" => std::process::exit(hold(args)?),
        other => bail!(
            "unknown role {other:?} (crash-create, crash-writer, dask, dask-worker, strips, hold)"
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("zarrcore-engine-helper: {e:#}");
        std::process::exit(1);
    }
}
