//! The `zarrcore` command.

mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// zarrcore: inspect, import, export and serve Zarr v2/v3 arrays.
#[derive(Parser, Debug)]
#[command(name = "zarrcore", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// When an array is open in the other mode (reads and writes never mix,
    /// across processes too), wait up to this many seconds for it to close
    /// instead of failing at once.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_wait)]
    wait: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Command,
}

fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show an array's or group's metadata, chunk counts and stored vs uncompressed bytes.
    Info(commands::info::Args),
    /// Show the hierarchy of groups and arrays.
    Tree(commands::tree::Args),
    /// Write an array (or a region of it) to a standard .npy file.
    Export(commands::export::Args),
    /// Create an array from a .npy file (and any missing parent groups).
    Import(commands::import::Args),
    /// Transpose, rechunk, re-encode or convert an array into another, out of core.
    Copy(commands::copy::Args),
    /// Mount a store as a filesystem: groups are directories, arrays .npy/.raw/.json files.
    Mount(commands::mount::MountArgs),
    /// Store pending writes and unmount a mount made by `zarrcore mount`.
    Umount(commands::mount::UmountArgs),
    /// Validate metadata and decode every chunk; report (and repair) problems.
    Check(commands::check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::set_wait(cli.wait);
    let result = match cli.command {
        Command::Info(a) => commands::info::run(a),
        Command::Tree(a) => commands::tree::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Import(a) => commands::import::run(a),
        Command::Copy(a) => commands::copy::run(a),
        Command::Mount(a) => commands::mount::run(a),
        Command::Umount(a) => commands::mount::run_umount(a),
        Command::Check(a) => commands::check::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One clear line: the error and its causes.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("zarrcore: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
