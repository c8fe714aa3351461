//! `zarrcore check STORE [ARRAY_PATH] [--repair [--delete-corrupt]] [--json]`.
//!
//! Exit status: 0 the store is clean (possibly after repairs), 1 problems
//! remain, 2 the check could not run (no such store or node, ...).

use std::process::ExitCode;

use anyhow::Result;
use zarrcore::check::{check_location, CheckOptions};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store: a directory, a .zip file or a URL.
    pub store: String,
    /// Node path to check ("" or "/" is the root: the whole store).
    #[arg(default_value = "")]
    pub path: String,
    /// Remove leftover temporary files of interrupted writes.
    #[arg(long)]
    pub repair: bool,
    /// With --repair: delete corrupt chunks (and clear the index entries of
    /// corrupt inner chunks of shards) so that they read as the fill value.
    #[arg(long, requires = "repair")]
    pub delete_corrupt: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode> {
    let opts = CheckOptions {
        repair: args.repair,
        delete_corrupt: args.delete_corrupt,
    };
    let report = match check_location(&args.store, &args.path, opts) {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "store": args.store, "path": args.path, "clean": false, "error": e.to_string(),
                    }))?
                );
            }
            eprintln!("zarrcore: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
