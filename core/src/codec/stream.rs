//! Running a streaming decompressor (bz2, lzma) into a bounded buffer, as
//! Python's `bz2.decompress` / `lzma.decompress` do: streams one after the
//! other until the input ends; a stream cut short is an error. Python ignores
//! bytes after the first stream that do not form a valid stream; zarrcore
//! refuses them (numcodecs never writes them: they are corruption).

use std::borrow::Cow;

use super::DecodedSize;
use crate::error::CodecError;

/// One decoder step: consumes from `input`, writes into `output`, returns
/// `(consumed, written, stream_ended)`.
pub(crate) trait StreamDecoder {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String>;
}

/// Why a stream could not be decoded into the buffer.
enum Failure {
    /// More output than the buffer holds.
    TooLarge,
    /// Anything else (reason).
    Bad(String),
}

/// Decodes one stream from `input` into `out`: `(consumed, written)`.
fn one_stream<D: StreamDecoder>(
    d: &mut D,
    input: &[u8],
    out: &mut [u8],
) -> Result<(usize, usize), Failure> {
    let (mut pos, mut written) = (0, 0);
    loop {
        let full = written == out.len();
        let mut probe = [0u8; 1];
        let dst: &mut [u8] = if full {
            &mut probe
        } else {
            &mut out[written..]
        };
        let (c, w, ended) = d.step(&input[pos..], dst).map_err(Failure::Bad)?;
        if full && w > 0 {
            return Err(Failure::TooLarge);
        }
        pos += c;
        written += w;
        if ended {
            return Ok((pos, written));
        }
        if c == 0 && w == 0 {
            return Err(Failure::Bad(format!(
                "compressed data ends before the end-of-stream marker ({} bytes in, {written} out)",
                input.len()
            )));
        }
    }
}

/// Decodes every stream of `input` into `out`; the number of bytes written.
fn all_streams<D: StreamDecoder>(
    new: &dyn Fn() -> Result<D, String>,
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, Failure> {
    let (mut pos, mut written) = (0, 0);
    let mut first = true;
    while first || pos < input.len() {
        let mut d = new().map_err(Failure::Bad)?;
        match one_stream(&mut d, &input[pos..], &mut out[written..]) {
            Ok((c, w)) => {
                pos += c;
                written += w;
            }
            Err(Failure::Bad(e)) if !first => {
                return Err(Failure::Bad(format!(
                    "{} bytes after the end of the compressed stream are not a valid stream ({e})",
                    input.len() - pos
                )))
            }
            Err(e) => return Err(e),
        }
        first = false;
    }
    Ok(written)
}

/// Decodes into `out`, which must be exactly filled.
pub(crate) fn decode_into<D: StreamDecoder>(
    codec: &'static str,
    new: &dyn Fn() -> Result<D, String>,
    input: &[u8],
    out: &mut [u8],
) -> Result<(), CodecError> {
    match all_streams(new, input, out) {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(CodecError::new(
            codec,
            format!("decoded {n} bytes, expected {}", out.len()),
        )),
        Err(Failure::TooLarge) => Err(CodecError::new(
            codec,
            format!(
                "decoded data is larger than the expected {} bytes",
                out.len()
            ),
        )),
        Err(Failure::Bad(e)) => Err(CodecError::new(codec, e)),
    }
}

/// Decodes to a new buffer within `size`.
pub(crate) fn decode<D: StreamDecoder>(
    codec: &'static str,
    new: &dyn Fn() -> Result<D, String>,
    input: &[u8],
    size: DecodedSize,
) -> Result<Cow<'static, [u8]>, CodecError> {
    let limit = match size {
        DecodedSize::Exact(n) => {
            let mut out = crate::util::try_zeroed(n).map_err(|e| CodecError::new(codec, e))?;
            decode_into(codec, new, input, &mut out)?;
            return Ok(Cow::Owned(out));
        }
        DecodedSize::AtMost(n) => n,
    };
    // Unknown size: try a guess, doubling (and decoding again) up to the limit.
    let mut cap = input.len().saturating_mul(4).max(1 << 16).min(limit);
    loop {
        let mut out = crate::util::try_zeroed(cap).map_err(|e| CodecError::new(codec, e))?;
        match all_streams(new, input, &mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(Cow::Owned(out));
            }
            Err(Failure::TooLarge) if cap < limit => cap = cap.saturating_mul(2).min(limit),
            Err(Failure::TooLarge) => {
                return Err(CodecError::new(
                    codec,
                    format!("decoded data exceeds the bound of {limit} bytes"),
                ))
            }
            Err(Failure::Bad(e)) => return Err(CodecError::new(codec, e)),
        }
    }
}
