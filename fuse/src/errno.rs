//! Error numbers: how engine errors and refusals reach the kernel, and the
//! log line that says why.

use std::fmt::Display;

use fuser::Errno;
use zarrcore::error::{MetadataError, StoreError};
use zarrcore::Error;

use crate::npy_stream::StreamError;

/// The result of a handler's helper.
pub(crate) type FsResult<T> = Result<T, Errno>;

/// Writes one line to the mount's log (its standard error).
pub(crate) fn log(msg: impl Display) {
    eprintln!("zarrcore mount: {msg}");
}

/// The errno for an engine error.
pub(crate) fn errno_of(e: &Error) -> Errno {
    match e {
        Error::Busy { .. } => Errno::EBUSY,
        Error::AlreadyExists { .. } => Errno::EEXIST,
        Error::InvalidArgument(_) | Error::Region(_) => Errno::EINVAL,
        Error::Mode { .. } => Errno::EBADF,
        Error::Chunk { .. } => Errno::EIO,
        Error::Metadata(MetadataError::NotFound { .. }) => Errno::ENOENT,
        Error::Metadata(_) => Errno::EIO,
        Error::Store(StoreError::ReadOnly { .. }) => Errno::EROFS,
        Error::Store(StoreError::InvalidKey { .. }) => Errno::EINVAL,
        Error::Store(StoreError::Io { source, .. }) => {
            source.raw_os_error().map_or(Errno::EIO, Errno::from_i32)
        }
        Error::Store(_) => Errno::EIO,
        _ => Errno::EIO,
    }
}

/// Logs `what: e` and returns its errno (for `map_err`).
pub(crate) fn fail(what: impl Display) -> impl FnOnce(Error) -> Errno {
    move |e| {
        let n = errno_of(&e);
        log(format_args!("{what}: {e}"));
        n
    }
}

/// Logs a refusal and returns `errno`.
pub(crate) fn refuse(errno: Errno, what: impl Display) -> Errno {
    log(format_args!("refused: {what}"));
    errno
}

/// The errno of a refused `.npy` write, logged.
pub(crate) fn stream_errno(what: impl Display, e: StreamError) -> Errno {
    match e {
        StreamError::Invalid(m) => refuse(Errno::EINVAL, format_args!("{what}: {m}")),
        StreamError::TooBig(m) => refuse(Errno::EFBIG, format_args!("{what}: {m}")),
        StreamError::NotPermitted(m) => refuse(Errno::EPERM, format_args!("{what}: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let busy = Error::Busy {
            path: "a".into(),
            reason: "r".into(),
            pid: None,
        };
        assert_eq!(errno_of(&busy), Errno::EBUSY);
        let ro: Error = StoreError::ReadOnly {
            store: "s".into(),
            op: "write",
            key: "k".into(),
        }
        .into();
        assert_eq!(errno_of(&ro), Errno::EROFS);
        let nospc: Error = StoreError::io(
            "k",
            "write",
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        )
        .into();
        assert_eq!(errno_of(&nospc), Errno::ENOSPC);
        assert_eq!(errno_of(&Error::invalid("x")), Errno::EINVAL);
        assert_eq!(
            stream_errno("w", StreamError::TooBig("t".into())),
            Errno::EFBIG
        );
    }
}
