//! `zarrcore-engine-helper`: the processes of the chunk engine's
//! multi-process tests.
//!
//! ```text
//! zarrcore-engine-helper crash-create DIR
//! zarrcore-engine-helper crash-writer DIR START_GEN PROGRESS_FILE [durable]
//! zarrcore-engine-helper dask DIR NPROCS
//! zarrcore-engine-helper dask-worker DIR WORKER COUNT
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zarrcore_engine_helper::{crash, dask};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T> {
    args.get(i)
        .with_context(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {what}: {:?}", args[i]))
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
        other => bail!("unknown role {other:?} (crash-create, crash-writer, dask, dask-worker)"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("zarrcore-engine-helper: {e:#}");
        std::process::exit(1);
    }
}
