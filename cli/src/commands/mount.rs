//! `zarrcore mount STORE MOUNTPOINT [--rw] [--foreground] [--cache SIZE]
//! [--threads N] [--allow-other]` and `zarrcore umount MOUNTPOINT`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use zarrcore::util::parse_size;
use zarrcore::{open_store, CodecSpec, StoreOptions};
use zarrcore_fuse::{MountOptions, NewArrayOptions, UnmountOutcome};

/// What a background mount prints on standard output once it is ready.
const READY: &str = "zarrcore-mount-ready";
/// How long `mount` waits for a background mount to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `mount`.
#[derive(clap::Args, Debug)]
pub struct MountArgs {
    /// Store: a directory or a .zip file (with --rw, a missing directory is created).
    pub store: String,
    /// Directory to mount on.
    pub mountpoint: PathBuf,
    /// Allow writes (otherwise the mount is read-only).
    #[arg(long)]
    pub rw: bool,
    /// Stay attached until unmounted (Ctrl-C or SIGTERM unmounts); by
    /// default the mount runs in the background once it is ready.
    #[arg(long)]
    pub foreground: bool,
    /// Size of the decoded-chunk cache, e.g. 512MiB or 4GiB.
    #[arg(long, value_name = "SIZE")]
    pub cache: Option<String>,
    /// Worker threads of the engine (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Let other users use the mount (permissions are still checked).
    #[arg(long)]
    pub allow_other: bool,
    /// Compressor of arrays created by writing a new .npy into the mount.
    #[arg(long, default_value = "zstd:1")]
    pub codec: String,
    /// Target size of one chunk of arrays created through the mount.
    #[arg(long, value_name = "SIZE", default_value = "1MiB")]
    pub chunk_size: String,
    /// Kernel readahead of the mount (root only), 0 to keep the default.
    #[arg(long, value_name = "SIZE", default_value = "4MiB")]
    pub readahead: String,
    /// Log file of a background mount (default: none).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Internal: this is the background process of a mount.
    #[arg(long, hide = true)]
    pub daemon_child: bool,
}

/// Arguments of `umount`.
#[derive(clap::Args, Debug)]
pub struct UmountArgs {
    /// The mount point.
    pub mountpoint: PathBuf,
    /// Seconds to wait for the mount to go away.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn size_arg(name: &str, v: &str) -> Result<u64> {
    parse_size(v)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("--{name}"))
}

/// Checks the options and builds the mount's.
fn options(args: &MountArgs, engine_threads: usize) -> Result<MountOptions> {
    let codec: CodecSpec = args
        .codec
        .parse()
        .map_err(anyhow::Error::msg)
        .context("--codec")?;
    Ok(MountOptions {
        read_write: args.rw,
        allow_other: args.allow_other,
        request_threads: (2 * engine_threads).clamp(4, 32),
        readahead: size_arg("readahead", &args.readahead)?,
        new_arrays: NewArrayOptions {
            codec,
            chunk_bytes: size_arg("chunk-size", &args.chunk_size)?.max(1),
        },
    })
}

/// Runs `mount`.
pub fn run(args: MountArgs) -> Result<ExitCode> {
    let engine_threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if engine_threads == 0 {
        bail!("--threads must be at least 1");
    }
    let opts = options(&args, engine_threads)?;
    let cache = args
        .cache
        .as_deref()
        .map(|c| size_arg("cache", c))
        .transpose()?;
    if !args.mountpoint.is_dir() {
        bail!(
            "mount point {} is not a directory",
            args.mountpoint.display()
        );
    }
    if !args.foreground && !args.daemon_child {
        return spawn_background();
    }
    if args.daemon_child {
        // Ignore failure: already a session leader.
        let _ = zarrcore_fuse::daemon::leave_terminal();
    }
    zarrcore::engine::pool::set_threads(engine_threads)?;
    if let Some(c) = cache {
        zarrcore::engine::cache::set_cache_budget(usize::try_from(c).unwrap_or(usize::MAX));
    }
    let store_opts = if args.rw {
        StoreOptions::create()
    } else {
        StoreOptions::read_only()
    };
    let store =
        open_store(&args.store, store_opts).with_context(|| format!("store {}", args.store))?;
    let daemon = args.daemon_child;
    let log = args.log.clone();
    let (store_name, mnt) = (args.store.clone(), args.mountpoint.display().to_string());
    let mut redirect_error = None;
    zarrcore_fuse::serve(store, &args.mountpoint, &opts, || {
        if daemon {
            println!("{READY}");
            let _ = std::io::stdout().flush();
            if let Err(e) = zarrcore_fuse::daemon::redirect_output(log.as_deref()) {
                redirect_error = Some(e);
            }
        } else {
            eprintln!(
                "zarrcore: {store_name} mounted on {mnt} ({}); Ctrl-C or `zarrcore umount {mnt}` unmounts",
                if opts.read_write { "read-write" } else { "read-only" }
            );
        }
    })?;
    if let Some(e) = redirect_error {
        eprintln!("zarrcore: could not open the log: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts this command again as a background process and waits until its
/// mount is ready (or it fails, whose message is shown).
fn spawn_background() -> Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the zarrcore executable")?;
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .arg("--daemon-child")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the mount process")?;
    let stdout = child.stdout.take().context("mount process output")?;
    let mut stderr = child.stderr.take().context("mount process errors")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim() == READY => Ok(ExitCode::SUCCESS),
        Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = child.wait()?;
            let mut msg = String::new();
            let _ = stderr.read_to_string(&mut msg);
            if msg.trim().is_empty() {
                bail!("the mount process ended ({status}) before the mount was ready");
            }
            eprint!("{msg}");
            Ok(ExitCode::FAILURE)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the mount was not ready after {READY_TIMEOUT:?}");
        }
    }
}

/// Runs `umount`.
pub fn run_umount(args: UmountArgs) -> Result<ExitCode> {
    let outcome =
        zarrcore_fuse::request_unmount(&args.mountpoint, Duration::from_secs(args.timeout))?;
    match outcome {
        UnmountOutcome::Done => {}
        UnmountOutcome::Detached => eprintln!(
            "zarrcore: {} unmounted; files still open keep working until they are closed",
            args.mountpoint.display()
        ),
        UnmountOutcome::Stale => eprintln!(
            "zarrcore: the process of the mount on {} had ended; the stale mount was removed",
            args.mountpoint.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
