//! Open files and directories: what each file handle refers to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fuser::{FileHandle, FileType, INodeNo};
use parking_lot::{Mutex, RwLock};
use zarrcore::{Endian, Mode, Order};

use crate::arrays::ArrayEntry;
use crate::names::ViewKind;
use crate::npy_stream::NpyStream;

/// An array opened through `.npy` or `.raw`, as it was when opened (the
/// engine handle is the array entry's current one).
#[derive(Debug)]
pub(crate) struct Fixed {
    /// The `.npy` header shown before the data (empty for `.raw`).
    pub header: Vec<u8>,
    /// Bytes of data.
    pub data_len: u64,
    /// Byte order of the data as shown.
    pub endian: Endian,
}

impl Fixed {
    /// Size of the file.
    pub fn file_len(&self) -> u64 {
        self.header.len() as u64 + self.data_len
    }
}

/// A `.npy` being written from its first byte (a new array, or an existing
/// one truncated and rewritten).
#[derive(Debug)]
pub(crate) struct Stream {
    /// The bookkeeping.
    pub npy: NpyStream,
    /// The array exists (a new array: once its header is complete).
    pub has_array: bool,
}

impl Stream {
    /// Element order and byte order of the data being written.
    pub fn layout(&self) -> (Order, Endian) {
        match self.npy.header() {
            Some(h) if h.fortran_order => (Order::F, h.endian),
            Some(h) => (Order::C, h.endian),
            None => (Order::C, Endian::Little),
        }
    }
}

/// The contents behind a file handle.
#[derive(Debug)]
pub(crate) enum Body {
    /// `.json`: the document as it was when opened.
    Json(Vec<u8>),
    /// `.npy` / `.raw`.
    Data {
        /// The array as opened (`None` for a new file).
        fixed: Option<Fixed>,
        /// A write session from the first byte, if one is running.
        stream: Mutex<Option<Box<Stream>>>,
    },
}

/// One open file.
#[derive(Debug)]
pub(crate) struct OpenFile {
    /// Its handle.
    pub fh: FileHandle,
    /// Its inode.
    pub ino: INodeNo,
    /// The array's node path.
    pub path: String,
    /// Which file of the array.
    pub kind: ViewKind,
    /// The array's state.
    pub entry: Arc<ArrayEntry>,
    /// Opened for writing.
    pub writable: bool,
    /// The process that opened it (the holder recorded in the array entry).
    pub pid: u32,
    /// Contents.
    pub body: Body,
}

impl OpenFile {
    /// The kind of hold the file has on its array.
    pub fn mode(&self) -> Mode {
        if self.writable {
            Mode::Write
        } else {
            Mode::Read
        }
    }
}

/// One directory entry of a listing.
#[derive(Debug, Clone)]
pub(crate) struct DirEntry {
    /// Inode.
    pub ino: INodeNo,
    /// Kind.
    pub kind: FileType,
    /// Name.
    pub name: String,
}

/// The handle tables.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    files: RwLock<HashMap<u64, Arc<OpenFile>>>,
    dirs: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    next: AtomicU64,
}

impl Handles {
    fn next(&self) -> FileHandle {
        FileHandle(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// A new handle number, for a file registered later with [`Handles::put_file`].
    pub fn reserve(&self) -> FileHandle {
        self.next()
    }

    /// Registers an open file (under its `fh`).
    pub fn put_file(&self, f: OpenFile) -> Arc<OpenFile> {
        let f = Arc::new(f);
        self.files.write().insert(f.fh.0, Arc::clone(&f));
        f
    }

    /// The open file `fh`.
    pub fn file(&self, fh: FileHandle) -> Option<Arc<OpenFile>> {
        self.files.read().get(&fh.0).cloned()
    }

    /// Forgets `fh`.
    pub fn remove_file(&self, fh: FileHandle) -> Option<Arc<OpenFile>> {
        self.files.write().remove(&fh.0)
    }

    /// Every open file.
    pub fn all_files(&self) -> Vec<(FileHandle, Arc<OpenFile>)> {
        self.files
            .read()
            .iter()
            .map(|(&k, v)| (FileHandle(k), Arc::clone(v)))
            .collect()
    }

    /// Open files of inode `ino`.
    pub fn files_of(&self, ino: INodeNo) -> Vec<(FileHandle, Arc<OpenFile>)> {
        self.files
            .read()
            .iter()
            .filter(|(_, f)| f.ino == ino)
            .map(|(&k, v)| (FileHandle(k), Arc::clone(v)))
            .collect()
    }

    /// Registers a directory listing.
    pub fn put_dir(&self, list: Vec<DirEntry>) -> FileHandle {
        let fh = self.next();
        self.dirs.lock().insert(fh.0, Arc::new(list));
        fh
    }

    /// The listing of `fh`.
    pub fn dir(&self, fh: FileHandle) -> Option<Arc<Vec<DirEntry>>> {
        self.dirs.lock().get(&fh.0).cloned()
    }

    /// Forgets a listing.
    pub fn remove_dir(&self, fh: FileHandle) {
        self.dirs.lock().remove(&fh.0);
    }
}
