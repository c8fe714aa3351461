//! What a mount is asked to do.

use zarrcore::CodecSpec;

/// Choices for arrays created by writing a new `.npy` into the mount.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArrayOptions {
    /// Compressor of new arrays.
    pub codec: CodecSpec,
    /// Target bytes per chunk: the chunk shape halves the largest dimension
    /// until a chunk is at most this big.
    pub chunk_bytes: u64,
}

impl Default for NewArrayOptions {
    fn default() -> Self {
        NewArrayOptions {
            codec: CodecSpec::default(),
            chunk_bytes: 1 << 20,
        }
    }
}

/// Options of a mount.
#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    /// Allow writes (otherwise the mount is read-only and every write
    /// fails with EROFS).
    pub read_write: bool,
    /// Let other users reach the mount (`allow_other`); the kernel still
    /// checks permissions (`default_permissions`).
    pub allow_other: bool,
    /// Threads serving kernel requests.
    pub request_threads: usize,
    /// Kernel readahead of the mount in bytes (0 keeps the kernel's default).
    pub readahead: u64,
    /// How new arrays are stored.
    pub new_arrays: NewArrayOptions,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            read_write: false,
            allow_other: false,
            request_threads: 4,
            readahead: 4 << 20,
            new_arrays: NewArrayOptions::default(),
        }
    }
}

/// A chunk shape of at most `target` bytes for `shape`, shaped as C-order
/// slabs: the leading dimension is halved first, the next one only once the
/// leading one is down to 1, so a chunk keeps the trailing dimensions whole
/// as far as the target allows. Files are read and written in C order, so
/// a run of file bytes then maps to whole chunks.
pub(crate) fn chunks_for(shape: &[u64], item_size: usize, target: u64) -> Vec<u64> {
    let mut c: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    let mut d = 0;
    while d < c.len() {
        let bytes = c.iter().product::<u64>().saturating_mul(item_size as u64);
        if bytes <= target.max(1) {
            break;
        }
        if c[d] <= 1 {
            d += 1;
            continue;
        }
        c[d] = c[d].div_ceil(2);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_choice() {
        assert_eq!(
            chunks_for(&[1024, 1024, 512], 2, 1 << 20),
            vec![1, 1024, 512]
        );
        assert_eq!(chunks_for(&[2048, 4096], 8, 1 << 20), vec![32, 4096]);
        assert_eq!(chunks_for(&[3, 1 << 20], 8, 1 << 20), vec![1, 1 << 17]);
        assert_eq!(chunks_for(&[1000], 8, 800), vec![63]);
        assert_eq!(chunks_for(&[0, 5], 4, 1 << 20), vec![1, 5]);
        assert!(chunks_for(&[], 4, 1).is_empty());
    }
}
