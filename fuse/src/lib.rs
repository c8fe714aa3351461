//! # zarrcore-fuse
//!
//! A FUSE filesystem that shows a Zarr store as files: every group is a
//! directory, every array `a` the files `a.npy` (a NumPy `.npy`: a header
//! byte-exact with `numpy.save`, then the data in C order), `a.raw` (the
//! data alone) and `a.json` (its metadata). An array at the store root shows
//! as `array.npy`, `array.raw`, `array.json`. Reads and writes go through
//! the zarrcore engine; see `docs/mount.md` for the whole contract.
//!
//! * [`serve`] mounts a store and serves it until it is unmounted.
//! * [`request_unmount`] unmounts from another process (`zarrcore umount`).
//! * [`daemon`] helps running a mount in the background.
//!
//! Layout of the crate: the request handlers ([`fs`](crate) module `fs`)
//! call small helpers that return `Result<_, Errno>`: the inode table
//! (`inode`), names (`names`), directory listing and attributes (`tree`),
//! opening (`open`), the read path (`read`), the write path (`write`,
//! `npy_stream`, `linear`), hierarchy changes (`dirops`), extended
//! attributes (`xattr`), per-array state (`arrays`) and open handles
//! (`handles`).

mod arrays;
pub mod daemon;
mod dirops;
mod errno;
mod fs;
mod handles;
mod inode;
mod invalidate;
mod linear;
mod names;
mod npy_stream;
mod open;
mod options;
mod ranges;
mod read;
mod session;
mod shared;
mod tree;
mod unmount;
mod write;
mod xattr;

pub use crate::options::{MountOptions, NewArrayOptions};
pub use crate::session::{serve, MountError};
pub use crate::unmount::{
    absolute, detach, find_mount, request_unmount, MountEntry, UnmountError, UnmountOutcome,
};
