//! Running a mount in the background: leave the terminal's session, and
//! send standard output and error to a log file (or nowhere) once the mount
//! is ready.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Starts a new session so that the terminal's signals (^C, hang-up) no
/// longer reach this process.
pub fn leave_terminal() -> io::Result<()> {
    nix::unistd::setsid().map(|_| ()).map_err(io::Error::from)
}

/// Points standard output and standard error at `log` (appended to), or at
/// `/dev/null`; standard input reads `/dev/null`.
pub fn redirect_output(log: Option<&Path>) -> io::Result<()> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let out = match log {
        Some(p) => OpenOptions::new().create(true).append(true).open(p)?,
        None => null.try_clone()?,
    };
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&out)?;
    nix::unistd::dup2_stderr(&out)?;
    Ok(())
}
