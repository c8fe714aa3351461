//! Conditional writes of a remote store: versioned reads, `If-Match` /
//! `If-None-Match: *` PUTs, and the one-time check that the server honours
//! them (some S3-compatible servers ignore the headers and store anyway,
//! which would silently lose updates).

use std::sync::Arc;

use object_store::{GetOptions, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::{is_missing, Bytes, Shared};
use crate::error::StoreError;
use crate::store::{Concurrency, Generation};

/// Separates the ETag from the object version inside a generation tag.
const SEP: char = '\u{1f}';

fn tag(e_tag: Option<String>, version: Option<String>) -> Generation {
    Generation::Tag(format!(
        "{}{SEP}{}",
        e_tag.unwrap_or_default(),
        version.unwrap_or_default()
    ))
}

fn update_version(t: &str) -> UpdateVersion {
    let (e, v) = t.split_once(SEP).unwrap_or((t, ""));
    UpdateVersion {
        e_tag: (!e.is_empty()).then(|| e.to_string()),
        version: (!v.is_empty()).then(|| v.to_string()),
    }
}

/// The outcome of a conditional PUT.
pub(super) enum PutIf {
    Done,
    Conflict,
    /// The server or client cannot make the request conditional.
    Unsupported(String),
}

impl Shared {
    /// A whole object with its generation (ETag and version).
    pub(super) async fn get_versioned(
        self: Arc<Self>,
        key: String,
    ) -> Result<(Option<Bytes>, Generation), StoreError> {
        let path = self.path(&key)?;
        let _p = self.permit().await?;
        super::bump(&self.counters.get, 1);
        let result = match self.inner.get_opts(&path, GetOptions::default()).await {
            Ok(r) => r,
            Err(e) if is_missing(&e) => return Ok((None, Generation::Absent)),
            Err(e) => return Err(self.err("GET", &key, e)),
        };
        self.note_version(&key, &result.meta);
        let g = tag(result.meta.e_tag.clone(), result.meta.version.clone());
        let size = result.meta.size;
        let bytes = result.bytes().await.map_err(|e| self.err("GET", &key, e))?;
        if bytes.len() as u64 != size {
            return Err(self.err(
                "GET",
                &key,
                format!("received {} bytes, expected {size}", bytes.len()),
            ));
        }
        super::bump(&self.counters.bytes_read, bytes.len() as u64);
        Ok((Some(bytes), g))
    }

    /// PUT `value` if the object is at `expected`.
    pub(super) async fn put_if(
        self: Arc<Self>,
        key: String,
        value: Bytes,
        expected: Generation,
    ) -> Result<PutIf, StoreError> {
        let path = self.path(&key)?;
        let mode = match &expected {
            Generation::Absent => PutMode::Create,
            Generation::Tag(t) => {
                let v = update_version(t);
                if v.e_tag.is_none() && v.version.is_none() {
                    return Ok(PutIf::Unsupported(
                        "the server returned no ETag for the object".into(),
                    ));
                }
                PutMode::Update(v)
            }
        };
        let _p = self.permit().await?;
        super::bump(&self.counters.put, 1);
        let n = value.len() as u64;
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        self.forget_version(&key);
        match self
            .inner
            .put_opts(&path, PutPayload::from(value), opts)
            .await
        {
            Ok(_) => {
                super::bump(&self.counters.bytes_written, n);
                Ok(PutIf::Done)
            }
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::AlreadyExists { .. }) => Ok(PutIf::Conflict),
            Err(e @ object_store::Error::NotImplemented { .. }) => {
                Ok(PutIf::Unsupported(e.to_string()))
            }
            Err(e) => Err(self.err("conditional PUT", &key, e)),
        }
    }

    /// Checks once that the server honours `If-None-Match: *` and
    /// `If-Match` on PUT, with a probe object that is deleted afterwards.
    pub(super) async fn probe(self: Arc<Self>) -> Concurrency {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let key = format!(".zarrcore-probe.{}.{nanos}", std::process::id());
        let c = self.clone().probe_key(&key).await;
        // Best effort: a probe object left behind is invisible to Zarr
        // readers (not a node, not a chunk key).
        let _ = self.clone().delete(key).await;
        c
    }

    async fn probe_key(self: Arc<Self>, key: &str) -> Concurrency {
        let unprotected = |reason: String| Concurrency::Unprotected { reason };
        let put = |g: Generation| {
            self.clone()
                .put_if(key.to_string(), Bytes::from_static(b"zarrcore"), g)
        };
        match put(Generation::Absent).await {
            Ok(PutIf::Done) => {}
            Ok(PutIf::Conflict) => {
                return unprotected("a create-only PUT of a new object was refused".into())
            }
            Ok(PutIf::Unsupported(r)) => return unprotected(r),
            Err(e) => return unprotected(format!("a create-only PUT failed: {e}")),
        }
        match put(Generation::Absent).await {
            Ok(PutIf::Conflict) => {}
            Ok(PutIf::Done) => {
                return unprotected(
                    "the server ignores If-None-Match: it replaced an existing object on a create-only PUT"
                        .into(),
                )
            }
            Ok(PutIf::Unsupported(r)) => return unprotected(r),
            Err(e) => return unprotected(format!("a create-only PUT failed: {e}")),
        }
        let stale = Generation::Tag(format!("\"zarrcore-stale-etag\"{SEP}"));
        match put(stale).await {
            Ok(PutIf::Conflict) => Concurrency::Atomic,
            Ok(PutIf::Done) => unprotected(
                "the server ignores If-Match: it replaced an object whose ETag did not match"
                    .into(),
            ),
            Ok(PutIf::Unsupported(r)) => unprotected(r),
            Err(e) => unprotected(format!("a PUT with If-Match failed: {e}")),
        }
    }
}
