//! The short codec spelling used by the CLI, the C API and the mount:
//! `none`, `zstd:LEVEL`, `gzip:LEVEL`, `blosc:CNAME:CLEVEL:SHUFFLE`,
//! `zlib:LEVEL`, `lz4:ACCELERATION` (the last two for v2 only).

use std::fmt;
use std::str::FromStr;

use super::{
    BloscCodec, BloscCompressor, BloscShuffle, BytesToBytes, DeflateCodec, DeflateFormat, Lz4Codec,
    ZstdCodec,
};
use crate::dtype::DataType;

/// A compressor choice in short form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecSpec {
    /// No compression.
    None,
    /// `zstd:LEVEL` (optionally `zstd:LEVEL:checksum`).
    Zstd {
        /// Level.
        level: i32,
        /// Frame checksum.
        checksum: bool,
    },
    /// `gzip:LEVEL`.
    Gzip(u32),
    /// `zlib:LEVEL` (v2 only).
    Zlib(u32),
    /// `lz4:ACCELERATION` (v2 only).
    Lz4(i64),
    /// `blosc:CNAME:CLEVEL:SHUFFLE`.
    Blosc {
        /// Internal compressor.
        cname: BloscCompressor,
        /// Level.
        clevel: u8,
        /// Shuffle.
        shuffle: BloscShuffle,
    },
}

impl Default for CodecSpec {
    fn default() -> Self {
        CodecSpec::Zstd {
            level: 1,
            checksum: false,
        }
    }
}

fn num<T: FromStr>(s: &str, what: &str, spec: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("codec {spec:?}: {what} {s:?} is not a number"))
}

impl FromStr for CodecSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let usage = || {
            format!(
                "codec {spec:?} not understood; use none, zstd:LEVEL, gzip:LEVEL, \
                 blosc:CNAME:CLEVEL:SHUFFLE, zlib:LEVEL or lz4:ACCELERATION"
            )
        };
        Ok(match parts.as_slice() {
            ["none"] | ["raw"] => CodecSpec::None,
            ["zstd"] => CodecSpec::default(),
            ["zstd", l] => CodecSpec::Zstd {
                level: num(l, "level", spec)?,
                checksum: false,
            },
            ["zstd", l, "checksum"] => CodecSpec::Zstd {
                level: num(l, "level", spec)?,
                checksum: true,
            },
            ["gzip"] => CodecSpec::Gzip(5),
            ["gzip", l] => CodecSpec::Gzip(num(l, "level", spec)?),
            ["zlib"] => CodecSpec::Zlib(1),
            ["zlib", l] => CodecSpec::Zlib(num(l, "level", spec)?),
            ["lz4"] => CodecSpec::Lz4(1),
            ["lz4", a] => CodecSpec::Lz4(num(a, "acceleration", spec)?),
            ["blosc", c, l, s] => CodecSpec::Blosc {
                cname: BloscCompressor::parse(c)?,
                clevel: num(l, "clevel", spec)?,
                shuffle: BloscShuffle::parse(s)?,
            },
            ["blosc", c, l] => CodecSpec::Blosc {
                cname: BloscCompressor::parse(c)?,
                clevel: num(l, "clevel", spec)?,
                shuffle: BloscShuffle::Shuffle,
            },
            ["blosc"] => CodecSpec::Blosc {
                cname: BloscCompressor::Lz4,
                clevel: 5,
                shuffle: BloscShuffle::Shuffle,
            },
            _ => return Err(usage()),
        })
        .and_then(|c: CodecSpec| c.validate().map(|_| c))
    }
}

impl CodecSpec {
    fn validate(&self) -> Result<(), String> {
        match self {
            CodecSpec::Gzip(l) | CodecSpec::Zlib(l) if *l > 9 => {
                Err(format!("level {l} out of range 0..=9"))
            }
            CodecSpec::Blosc { clevel, .. } if *clevel > 9 => {
                Err(format!("blosc clevel {clevel} out of range 0..=9"))
            }
            CodecSpec::Zstd { level, .. } if *level > 22 => {
                Err(format!("zstd level {level} out of range (at most 22)"))
            }
            _ => Ok(()),
        }
    }

    /// Whether Zarr v3 has a core codec for this (zlib and lz4 are v2 only).
    pub fn is_v3(&self) -> bool {
        !matches!(self, CodecSpec::Zlib(_) | CodecSpec::Lz4(_))
    }

    /// The `bytes→bytes` codec (none for `none`).
    pub fn to_codec(&self, dtype: DataType) -> Option<BytesToBytes> {
        Some(match *self {
            CodecSpec::None => return None,
            CodecSpec::Zstd { level, checksum } => {
                BytesToBytes::Zstd(ZstdCodec { level, checksum })
            }
            CodecSpec::Gzip(level) => BytesToBytes::Deflate(DeflateCodec {
                format: DeflateFormat::Gzip,
                level,
            }),
            CodecSpec::Zlib(level) => BytesToBytes::Deflate(DeflateCodec {
                format: DeflateFormat::Zlib,
                level,
            }),
            CodecSpec::Lz4(acceleration) => BytesToBytes::Lz4(Lz4Codec { acceleration }),
            CodecSpec::Blosc {
                cname,
                clevel,
                shuffle,
            } => BytesToBytes::Blosc(BloscCodec {
                cname,
                clevel,
                shuffle,
                typesize: dtype.size().max(1),
                blocksize: 0,
            }),
        })
    }
}

impl fmt::Display for CodecSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecSpec::None => write!(f, "none"),
            CodecSpec::Zstd {
                level,
                checksum: false,
            } => write!(f, "zstd:{level}"),
            CodecSpec::Zstd {
                level,
                checksum: true,
            } => write!(f, "zstd:{level}:checksum"),
            CodecSpec::Gzip(l) => write!(f, "gzip:{l}"),
            CodecSpec::Zlib(l) => write!(f, "zlib:{l}"),
            CodecSpec::Lz4(a) => write!(f, "lz4:{a}"),
            CodecSpec::Blosc {
                cname,
                clevel,
                shuffle,
            } => write!(f, "blosc:{}:{clevel}:{}", cname.name(), shuffle.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        for s in [
            "none",
            "zstd:3",
            "zstd:-1",
            "zstd:1:checksum",
            "gzip:6",
            "zlib:1",
            "lz4:1",
            "blosc:lz4:5:shuffle",
            "blosc:zstd:1:bitshuffle",
            "blosc:blosclz:9:noshuffle",
        ] {
            let c: CodecSpec = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
        for bad in [
            "zstd:x",
            "gzip:10",
            "blosc:foo:1:shuffle",
            "brotli:1",
            "blosc:lz4:5:twist",
        ] {
            assert!(bad.parse::<CodecSpec>().is_err(), "{bad}");
        }
    }
}
