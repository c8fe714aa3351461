//! `zarrcore-bench`: the zarrcore runner of the side-by-side Zarr engine
//! benchmark (`../shared/bench`, see its README for the runner contract).
//!
//! ```text
//! zarrcore-bench write     --workload W1|W2|W3 --npy data/w1.npy --store PATH
//! zarrcore-bench read      --store PATH
//! zarrcore-bench random    --store PATH --regions data/w4_regions.txt [--size 16]
//! zarrcore-bench transpose --store SRC --out-store DST [--memory 256MiB]
//! zarrcore-bench touch     [--bytes 1GiB]
//! ```
//!
//! Arguments are `--key value` (or `--key=value`) pairs after the op; keys the
//! runner does not know are ignored. `--threads N` overrides the engine's
//! default pool size (the number of cores, or `ZARRCORE_THREADS`).
//!
//! The last stdout line is one JSON object with `seconds` (the timed
//! section), `bytes` (uncompressed bytes read or written), `checksum` (the
//! u64 sum of the uint16 values, computed outside the timed section) and
//! extras (`engine`, `engine_version`, `threads`, `peak_rss_mb`, ...).
//!
//! Exit status: 0 ok, 64 op or workload not supported, 2 bad usage, 1 any
//! other error.

mod ops;
mod stats;
mod workload;

use std::collections::HashMap;
use std::process::ExitCode;

use serde_json::{Map, Value};

/// Exit status meaning "op/workload not supported" (runner contract).
const EXIT_UNSUPPORTED: u8 = 64;
/// Exit status for bad usage (missing or malformed arguments).
const EXIT_USAGE: u8 = 2;

const USAGE: &str = "\
usage: zarrcore-bench <op> [--key value]...
  write     --workload W1|W2|W3 --npy FILE.npy --store PATH
  read      --store PATH
  random    --store PATH --regions FILE [--size 16]
  transpose --store SRC --out-store DST [--memory SIZE, default 256MiB]
  touch     [--bytes SIZE, default 1GiB]   (the fresh-buffer floor, not a workload)
optional: --threads N (engine pool size; default: the engine's default)
Unknown keys are ignored. Prints one JSON line; exit 64 = unsupported.";

/// An op or workload this runner does not implement (exit status 64).
#[derive(Debug)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not supported: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

/// A missing or malformed argument (exit status 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for Usage {}

/// The `--key value` arguments of one invocation.
#[derive(Debug, Default)]
pub struct Args(HashMap<String, String>);

impl Args {
    /// Parses `--key value` and `--key=value` pairs; a key with no value
    /// (last argument, or followed by another `--key`) maps to "".
    /// Positional words that are not values are ignored.
    fn parse(rest: &[String]) -> Args {
        let mut m = HashMap::new();
        let mut i = 0;
        while i < rest.len() {
            let a = &rest[i];
            i += 1;
            let Some(k) = a.strip_prefix("--") else {
                continue;
            };
            if let Some((k, v)) = k.split_once('=') {
                m.insert(k.to_string(), v.to_string());
                continue;
            }
            let v = match rest.get(i) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    v.clone()
                }
                _ => String::new(),
            };
            m.insert(k.to_string(), v);
        }
        Args(m)
    }

    /// A required value.
    pub fn get(&self, key: &str) -> Result<&str, Usage> {
        match self.0.get(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Usage(format!("missing --{key} VALUE"))),
        }
    }

    /// An optional value parsed as `T`.
    pub fn parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, Usage> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Usage(format!("--{key} {v:?} is not a valid value"))),
        }
    }
}

/// The measured result of one op.
#[derive(Debug)]
pub struct Outcome {
    /// The timed section in seconds.
    pub seconds: f64,
    /// CPU seconds (user + system, all threads) the timed section used.
    pub cpu_seconds: Option<f64>,
    /// Uncompressed bytes read or written.
    pub bytes: u64,
    /// Sum of all uint16 values read or written (`None` if not computed).
    pub checksum: Option<u64>,
    /// Extra keys for the JSON line.
    pub extra: Map<String, Value>,
}

fn run(op: &str, args: &Args) -> anyhow::Result<Outcome> {
    if let Some(n) = args.parsed::<usize>("threads")? {
        zarrcore::engine::pool::set_threads(n)?;
    }
    match op {
        "write" => ops::write(args),
        "read" => ops::read(args),
        "random" => ops::random(args),
        "transpose" => ops::transpose(args),
        "touch" => ops::touch(args),
        _ => Err(Unsupported(format!(
            "op {op:?} (supported: write, read, random, transpose, touch)"
        ))
        .into()),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(op) = argv.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    };
    if op == "--help" || op == "-h" || op == "help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = Args::parse(&argv[1..]);
    match run(op, &args) {
        Ok(o) => {
            let mut out = Map::new();
            out.insert("engine".into(), "zarrcore".into());
            out.insert(
                "engine_version".into(),
                format!("zarrcore {}", zarrcore::VERSION).into(),
            );
            out.insert("op".into(), op.as_str().into());
            out.insert("seconds".into(), o.seconds.into());
            out.insert("cpu_seconds".into(), o.cpu_seconds.into());
            out.insert("bytes".into(), o.bytes.into());
            out.insert("checksum".into(), o.checksum.into());
            out.insert(
                "threads".into(),
                (zarrcore::engine::pool::threads() as u64).into(),
            );
            out.insert(
                "cache_budget_mb".into(),
                (zarrcore::engine::cache::cache_budget() as f64 / (1 << 20) as f64).into(),
            );
            out.insert("vm_hwm_mb".into(), stats::peak_rss_mb().into());
            out.extend(o.extra);
            println!("{}", Value::Object(out));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = if e.downcast_ref::<Unsupported>().is_some() {
                EXIT_UNSUPPORTED
            } else if e.downcast_ref::<Usage>().is_some() {
                eprintln!("{USAGE}");
                EXIT_USAGE
            } else {
                1
            };
            eprintln!("zarrcore-bench: {op}: {e:#}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_pairs_and_ignores_unknown() {
        let a = args(&[
            "--store",
            "s.zarr",
            "--size=8",
            "--flag",
            "--workload",
            "W2",
            "stray",
        ]);
        assert_eq!(a.get("store").unwrap(), "s.zarr");
        assert_eq!(a.parsed::<u64>("size").unwrap(), Some(8));
        assert_eq!(a.get("workload").unwrap(), "W2");
        assert!(a.get("flag").is_err());
        assert!(a.get("npy").is_err());
        assert!(a.parsed::<u64>("workload").is_err());
        assert_eq!(a.parsed::<u64>("threads").unwrap(), None);
    }
}
