//! Remote object stores through the `object_store` crate: `s3://bucket/prefix`
//! (and S3-compatible servers), `gs://bucket/prefix`, `az://container/prefix`
//! and read-only `http(s)://host/path`.
//!
//! # Configuration
//! The backend reads its usual environment variables (`AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`, `AWS_ALLOW_HTTP`, `GOOGLE_*`, `AZURE_*`, ...); options from
//! the Rust API ([`RemoteConfig`]) or URL query parameters override them
//! (see [`RemoteConfig`] and `docs/object_store.md`). S3 requests use
//! path-style addressing unless `virtual_hosted_style_request=true`; plain
//! `http://` endpoints are allowed automatically on loopback addresses and
//! with `allow_http=true` elsewhere.
//!
//! # Threads
//! Requests run on a tokio runtime on its own threads ([`runtime`]); the
//! synchronous [`Store`] methods wait for them, and
//! [`Store::get_many`] keeps up to `concurrency` requests in flight from one
//! waiting thread. The read path of the engine uses `get_many` for remote
//! stores ([`Store::is_local`] is false) so that its rayon workers only
//! decode.
//!
//! # Writes
//! A `set` is one whole-object PUT, atomic per object as S3 guarantees. By
//! default writes are *write-behind* ([`writes`]): `set` and `delete`
//! return once the request is queued (at most `2 × concurrency` outstanding),
//! `flush` waits for all of them and reports any failure, and a failure not
//! yet reported makes the next `set`/`delete` fail instead. Reads through
//! the same handle see queued values. With `write_behind=false`, `set`
//! returns when the PUT has completed.
//!
//! # Errors
//! Transient failures (connection errors, 5xx, 429, timeouts of idempotent
//! requests) are retried with exponential backoff within the retry budget
//! (`retries`, `retry_timeout`); a permanent failure is a
//! [`StoreError::Backend`] naming the key, the method and the object's URL.

mod conditional;
mod config;
mod runtime;
mod writes;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStoreExt as _, ObjectStoreScheme, PutPayload};

use self::conditional::PutIf;
pub use self::config::RemoteConfig;
use self::writes::{Finish, WriteQueue};
use super::key::validate_key;
use super::{
    ByteRange, Bytes, Concurrency, Generation, GetRequest, ListDir, Store, StoreError, StoreOptions,
};

/// URL schemes served by [`RemoteStore`].
const SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl", "http", "https",
];

/// Whether `location` is a URL that [`RemoteStore`] serves.
pub fn is_remote_url(location: &str) -> bool {
    location
        .split_once("://")
        .is_some_and(|(s, _)| SCHEMES.contains(&s.to_ascii_lowercase().as_str()))
}

/// Whether `e` means "no such object" (and not "no such bucket", which
/// S3-compatible servers also answer with 404).
fn is_missing(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::NotFound { .. } => {
            let text = e.to_string();
            !["NoSuchBucket", "ContainerNotFound", "bucket does not exist"]
                .iter()
                .any(|m| text.contains(m))
        }
        _ => false,
    }
}

/// Which kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    S3,
    Gcs,
    Azure,
    Http,
}

#[derive(Debug, Default)]
struct Counters {
    get: AtomicU64,
    range_get: AtomicU64,
    head: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    list: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Requests made by one [`RemoteStore`] handle (not counting retries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// Whole-object GETs.
    pub get_requests: u64,
    /// Byte-range GETs.
    pub range_requests: u64,
    /// HEAD requests (sizes).
    pub head_requests: u64,
    /// PUTs.
    pub put_requests: u64,
    /// Objects deleted.
    pub delete_requests: u64,
    /// Listing requests.
    pub list_requests: u64,
    /// Bytes received in GET bodies.
    pub bytes_read: u64,
    /// Bytes sent in PUT bodies.
    pub bytes_written: u64,
}

impl std::fmt::Display for RemoteStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{\"get_requests\": {}, \"range_requests\": {}, \"head_requests\": {}, \"put_requests\": {}, \"delete_requests\": {}, \"list_requests\": {}, \"bytes_read\": {}, \"bytes_written\": {}}}",
            self.get_requests,
            self.range_requests,
            self.head_requests,
            self.put_requests,
            self.delete_requests,
            self.list_requests,
            self.bytes_read,
            self.bytes_written
        )
    }
}

/// State shared with the I/O tasks.
struct Shared {
    /// The URL as given, without its query.
    url: String,
    /// Prefix of object URLs in messages (`s3://bucket/prefix`).
    object_base: String,
    /// Key prefix inside the bucket (`""` or `a/b`).
    prefix: String,
    identity: String,
    inner: Arc<dyn object_store::ObjectStore>,
    limit: tokio::sync::Semaphore,
    coalesce: u64,
    counters: Counters,
    /// The last version (a hash of ETag and object version) seen for each
    /// object, and when: [`Store::version`] answers from here while fresh.
    versions: parking_lot::Mutex<std::collections::HashMap<String, (u64, std::time::Instant)>>,
    version_ttl: std::time::Duration,
}

impl Shared {
    fn full(&self, key: &str) -> String {
        super::key::join(&self.prefix, key)
    }

    fn path(&self, key: &str) -> Result<Path, StoreError> {
        Path::parse(self.full(key)).map_err(|e| StoreError::InvalidKey {
            key: key.to_string(),
            reason: e.to_string(),
        })
    }

    /// The key relative to the store of an object path (None if outside).
    fn relative(&self, p: &Path) -> Option<String> {
        let s = p.as_ref();
        if self.prefix.is_empty() {
            Some(s.to_string())
        } else {
            s.strip_prefix(self.prefix.as_str())?
                .strip_prefix('/')
                .map(str::to_string)
        }
    }

    fn object_url(&self, key: &str) -> String {
        if key.is_empty() {
            self.object_base.clone()
        } else {
            format!("{}/{key}", self.object_base)
        }
    }

    fn err(&self, op: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            key: key.to_string(),
            message: format!("{op} {} failed: {e}", self.object_url(key)),
        }
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, StoreError> {
        self.limit.acquire().await.map_err(|_| StoreError::Backend {
            key: String::new(),
            message: format!("remote store {} is closed", self.url),
        })
    }

    async fn head_size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(key)?;
        let _p = self.permit().await?;
        bump(&self.counters.head, 1);
        match self.inner.head(&path).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("HEAD", key, e)),
        }
    }

    /// Records the version of an object as a response showed it.
    fn note_version(&self, key: &str, meta: &object_store::ObjectMeta) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&meta.e_tag, &meta.version, meta.size).hash(&mut h);
        let mut v = self.versions.lock();
        if v.len() > 1 << 20 {
            v.clear();
        }
        v.insert(key.to_string(), (h.finish(), std::time::Instant::now()));
    }

    /// Forgets the version of an object this handle replaced or deleted.
    fn forget_version(&self, key: &str) {
        self.versions.lock().remove(key);
    }

    /// The object's version: as last seen if that is fresh, else from a
    /// HEAD request. `None` if it does not exist.
    async fn current_version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        if let Some(&(v, at)) = self.versions.lock().get(key) {
            if at.elapsed() < self.version_ttl {
                return Ok(Some(v));
            }
        }
        let path = self.path(key)?;
        let _p = self.permit().await?;
        bump(&self.counters.head, 1);
        match self.inner.head(&path).await {
            Ok(m) => {
                self.note_version(key, &m);
                Ok(self.versions.lock().get(key).map(|&(v, _)| v))
            }
            Err(object_store::Error::NotFound { .. }) => {
                self.forget_version(key);
                Ok(None)
            }
            Err(e) => Err(self.err("HEAD", key, e)),
        }
    }

    fn out_of_bounds(key: &str, range: ByteRange, size: u64) -> StoreError {
        StoreError::RangeOutOfBounds {
            key: key.to_string(),
            range: range.to_string(),
            size,
        }
    }

    /// An empty range: only whether the key exists and the range fits.
    async fn empty_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        match self.head_size(key).await? {
            None => Ok(None),
            Some(size) => match range.resolve(size) {
                Some(_) => Ok(Some(Bytes::new())),
                None => Err(Self::out_of_bounds(key, range, size)),
            },
        }
    }

    /// GET of a whole value (`range` None) or of a byte range.
    async fn get(
        self: Arc<Self>,
        key: String,
        range: Option<ByteRange>,
    ) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(&key)?;
        let get_range = match range {
            None => None,
            Some(ByteRange::Range { len: 0, .. }) | Some(ByteRange::Suffix(0)) => {
                return self
                    .empty_range(&key, range.unwrap_or(ByteRange::Suffix(0)))
                    .await
            }
            Some(r @ ByteRange::Range { offset, len }) => match offset.checked_add(len) {
                Some(end) => Some(GetRange::Bounded(offset..end)),
                None => {
                    return match self.head_size(&key).await? {
                        None => Ok(None),
                        Some(size) => Err(Self::out_of_bounds(&key, r, size)),
                    }
                }
            },
            Some(ByteRange::Suffix(n)) => Some(GetRange::Suffix(n)),
        };
        let permit = self.permit().await?;
        bump(
            if range.is_some() {
                &self.counters.range_get
            } else {
                &self.counters.get
            },
            1,
        );
        let opts = GetOptions {
            range: get_range,
            ..Default::default()
        };
        let result = match self.inner.get_opts(&path, opts).await {
            Ok(r) => r,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => {
                drop(permit);
                // A range the value cannot satisfy (HTTP 416, or a response
                // the client refused): report it as such.
                if let Some(r) = range {
                    if let Ok(size) = self.head_size(&key).await {
                        match size {
                            None => return Ok(None),
                            Some(size) if r.resolve(size).is_none() => {
                                return Err(Self::out_of_bounds(&key, r, size))
                            }
                            Some(_) => {}
                        }
                    }
                }
                return Err(self.err("GET", &key, e));
            }
        };
        self.note_version(&key, &result.meta);
        let size = result.meta.size;
        let expected = match range {
            None => 0..size,
            Some(r) => match r.resolve(size) {
                Some((s, e)) => s..e,
                None => return Err(Self::out_of_bounds(&key, r, size)),
            },
        };
        if result.range != expected {
            return Err(self.err(
                "GET",
                &key,
                format!(
                    "the server returned bytes {:?} for the requested {expected:?}",
                    result.range
                ),
            ));
        }
        let bytes = result.bytes().await.map_err(|e| self.err("GET", &key, e))?;
        bump(&self.counters.bytes_read, bytes.len() as u64);
        if bytes.len() as u64 != expected.end - expected.start {
            return Err(self.err(
                "GET",
                &key,
                format!(
                    "received {} bytes, expected {}",
                    bytes.len(),
                    expected.end - expected.start
                ),
            ));
        }
        Ok(Some(bytes))
    }

    /// Several byte ranges of one object, nearby ones fetched together.
    /// Falls back to one request per range (with exact error reporting)
    /// if the combined fetch fails.
    async fn get_ranges(
        self: Arc<Self>,
        key: String,
        ranges: Vec<Range<u64>>,
    ) -> Vec<Result<Option<Bytes>, StoreError>> {
        let combined = async {
            let path = self.path(&key)?;
            let this = &self;
            let path = &path;
            object_store::coalesce_ranges(
                &ranges,
                |r: Range<u64>| async move {
                    let _p = this.permit().await?;
                    bump(&this.counters.range_get, 1);
                    let want = r.end - r.start;
                    let b = this
                        .inner
                        .get_range(path, r)
                        .await
                        .map_err(|e| this.err("GET", "", e))?;
                    bump(&this.counters.bytes_read, b.len() as u64);
                    if b.len() as u64 != want {
                        return Err(this.err("GET", "", "short range"));
                    }
                    Ok::<Bytes, StoreError>(b)
                },
                self.coalesce,
            )
            .await
        }
        .await;
        match combined {
            Ok(v) => v.into_iter().map(|b| Ok(Some(b))).collect(),
            Err(_) => {
                let mut out = Vec::with_capacity(ranges.len());
                for r in ranges {
                    let range = ByteRange::Range {
                        offset: r.start,
                        len: r.end - r.start,
                    };
                    out.push(self.clone().get(key.clone(), Some(range)).await);
                }
                out
            }
        }
    }

    async fn put(self: Arc<Self>, key: String, value: Bytes) -> Result<(), StoreError> {
        let path = self.path(&key)?;
        self.forget_version(&key);
        let _p = self.permit().await?;
        bump(&self.counters.put, 1);
        let n = value.len() as u64;
        self.inner
            .put(&path, PutPayload::from(value))
            .await
            .map_err(|e| self.err("PUT", &key, e))?;
        bump(&self.counters.bytes_written, n);
        Ok(())
    }

    async fn delete(self: Arc<Self>, key: String) -> Result<(), StoreError> {
        let path = self.path(&key)?;
        self.forget_version(&key);
        let _p = self.permit().await?;
        bump(&self.counters.delete, 1);
        match self.inner.delete(&path).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(self.err("DELETE", &key, e)),
        }
    }

    /// Every key under the directory `dir` (a key prefix, `""` for all).
    async fn list_all(self: Arc<Self>, dir: String) -> Result<Vec<String>, StoreError> {
        let full = self.full(&dir);
        let path = if full.is_empty() {
            None
        } else {
            Some(self.path(&dir)?)
        };
        let _p = self.permit().await?;
        bump(&self.counters.list, 1);
        let metas: Vec<object_store::ObjectMeta> = self
            .inner
            .list(path.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.err("LIST", &dir, e))?;
        Ok(metas
            .iter()
            .filter_map(|m| self.relative(&m.location))
            .collect())
    }

    async fn list_dir(self: Arc<Self>, dir: String) -> Result<ListDir, StoreError> {
        let path = if self.full(&dir).is_empty() {
            None
        } else {
            Some(self.path(&dir)?)
        };
        let _p = self.permit().await?;
        bump(&self.counters.list, 1);
        let r = self
            .inner
            .list_with_delimiter(path.as_ref())
            .await
            .map_err(|e| self.err("LIST", &dir, e))?;
        let mut out = ListDir {
            keys: r
                .objects
                .iter()
                .filter_map(|m| self.relative(&m.location))
                .collect(),
            prefixes: r
                .common_prefixes
                .iter()
                .filter_map(|p| self.relative(p))
                .collect(),
        };
        out.keys.sort();
        out.prefixes.sort();
        Ok(out)
    }

    async fn delete_paths(self: Arc<Self>, keys: Vec<String>) -> Result<(), StoreError> {
        let paths: Vec<Result<Path, object_store::Error>> = keys
            .iter()
            .map(|k| {
                Path::parse(self.full(k)).map_err(|e| object_store::Error::Generic {
                    store: "zarrcore",
                    source: Box::new(e),
                })
            })
            .collect();
        bump(&self.counters.delete, keys.len() as u64);
        let _p = self.permit().await?;
        let mut results = self
            .inner
            .delete_stream(futures::stream::iter(paths).boxed());
        while let Some(r) = results.next().await {
            match r {
                Ok(_) => {}
                Err(e) if is_missing(&e) => {}
                Err(e) => return Err(self.err("DELETE", "", e)),
            }
        }
        Ok(())
    }
}

/// A store on a remote object server (see the module docs).
pub struct RemoteStore {
    shared: Arc<Shared>,
    writable: bool,
    /// Write-behind queue (`None`: synchronous writes).
    writes: Option<Arc<WriteQueue>>,
    concurrency: usize,
    /// The `single_writer` option: conditional writes are not needed.
    single_writer: bool,
    /// Whether the server honours conditional requests (probed once).
    conditional: std::sync::OnceLock<Concurrency>,
    print_stats: bool,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("url", &self.shared.url)
            .field("writable", &self.writable)
            .field("writes", &self.writes)
            .finish()
    }
}

fn is_loopback(endpoint: &str) -> bool {
    url::Url::parse(endpoint).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    })
}

fn env_set(names: &[&str]) -> bool {
    names.iter().any(|n| std::env::var_os(n).is_some())
}

/// Builds the backend store; returns it with the key prefix and the object
/// URL base used in messages.
fn build_backend(
    url: &url::Url,
    config: &RemoteConfig,
) -> Result<(Arc<dyn object_store::ObjectStore>, String, String, Backend), String> {
    let (scheme, path) = ObjectStoreScheme::parse(url).map_err(|e| e.to_string())?;
    let prefix = path.as_ref().to_string();
    let retry = config.retry();
    let bad_key = |k: &str, e: object_store::Error| format!("option {k:?}: {e}");
    let (store, backend): (Arc<dyn object_store::ObjectStore>, Backend) = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut b = AmazonS3Builder::from_env().with_url(url.as_str());
            for (k, v) in &config.backend {
                let key: AmazonS3ConfigKey = k.parse().map_err(|e| bad_key(k, e))?;
                b = b.with_config(key, v);
            }
            let endpoint = b.get_config_value(&AmazonS3ConfigKey::Endpoint);
            let allow_http_given = config.has_backend(&["allow_http", "aws_allow_http"])
                || env_set(&["AWS_ALLOW_HTTP"]);
            if !allow_http_given && endpoint.as_deref().is_some_and(is_loopback) {
                b = b.with_allow_http(true);
            }
            let store = b.with_retry(retry).build().map_err(|e| e.to_string())?;
            (Arc::new(store), Backend::S3)
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (k, v) in &config.backend {
                let key: GoogleConfigKey = k.parse().map_err(|e| bad_key(k, e))?;
                b = b.with_config(key, v);
            }
            let store = b.with_retry(retry).build().map_err(|e| e.to_string())?;
            (Arc::new(store), Backend::Gcs)
        }
        ObjectStoreScheme::MicrosoftAzure => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let mut b = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (k, v) in &config.backend {
                let key: AzureConfigKey = k.parse().map_err(|e| bad_key(k, e))?;
                b = b.with_config(key, v);
            }
            let store = b.with_retry(retry).build().map_err(|e| e.to_string())?;
            (Arc::new(store), Backend::Azure)
        }
        ObjectStoreScheme::Http => {
            use object_store::http::HttpBuilder;
            use object_store::ClientConfigKey;
            let base = url.as_str().trim_end_matches('/').to_string();
            let mut b = HttpBuilder::new().with_url(base.clone());
            for (k, v) in &config.backend {
                let key: ClientConfigKey = k.parse().map_err(|e| bad_key(k, e))?;
                b = b.with_config(key, v);
            }
            if url.scheme() == "http" && !config.has_backend(&["allow_http"]) {
                // An http:// URL names plain HTTP explicitly.
                b = b.with_config(ClientConfigKey::AllowHttp, "true");
            }
            let store = b.with_retry(retry).build().map_err(|e| e.to_string())?;
            // Keys are relative to the URL itself.
            return Ok((Arc::new(store), String::new(), base, Backend::Http));
        }
        other => return Err(format!("{other:?} URLs are not remote stores")),
    };
    let base = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        if matches!(scheme, ObjectStoreScheme::AmazonS3) && url.scheme().starts_with("http") {
            // https://s3.region.amazonaws.com/bucket/prefix: keep the bucket.
            url.path().trim_end_matches('/').to_string()
        } else if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        }
    );
    Ok((store, prefix, base, backend))
}

impl RemoteStore {
    /// Opens a remote store with options from the environment and the URL's
    /// query (`s3://bucket/prefix?endpoint=...&retries=3`).
    pub fn open(location: &str, opts: StoreOptions) -> Result<Self, StoreError> {
        let config = RemoteConfig::from_env().map_err(|reason| StoreError::Open {
            location: redact(location),
            reason,
        })?;
        Self::open_with(location, opts, config)
    }

    /// Opens a remote store with `config` (URL query options still apply on
    /// top of it).
    pub fn open_with(
        location: &str,
        opts: StoreOptions,
        mut config: RemoteConfig,
    ) -> Result<Self, StoreError> {
        let shown = redact(location);
        let open_err = |reason: String| StoreError::Open {
            location: shown.clone(),
            reason,
        };
        let mut url = url::Url::parse(location).map_err(|e| open_err(e.to_string()))?;
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        url.set_fragment(None);
        for (k, v) in &query {
            config.apply(k, v).map_err(&open_err)?;
        }
        // Starts the runtime and installs the TLS provider, which building
        // the HTTP client needs; a failure shows at open.
        runtime::runtime()?;
        let (inner, prefix, object_base, backend) =
            build_backend(&url, &config).map_err(&open_err)?;
        let writable = (opts.writable || opts.create) && backend != Backend::Http;
        if (opts.writable || opts.create) && backend == Backend::Http {
            return Err(open_err(
                "http(s):// stores are read-only; open them without write access".into(),
            ));
        }
        let plain = url.as_str().trim_end_matches('/').to_string();
        let endpoint = config
            .backend
            .iter()
            .find(|(k, _)| matches!(k.as_str(), "endpoint" | "aws_endpoint" | "endpoint_url"))
            .map(|(_, v)| v.clone())
            .or_else(|| {
                if backend == Backend::S3 {
                    std::env::var("AWS_ENDPOINT_URL")
                        .or_else(|_| std::env::var("AWS_ENDPOINT"))
                        .ok()
                } else {
                    None
                }
            });
        let identity = match &endpoint {
            Some(e) => format!("{plain}@{e}"),
            None => plain.clone(),
        };
        let concurrency = config.concurrency.max(1);
        let shared = Arc::new(Shared {
            url: plain,
            object_base,
            prefix,
            identity,
            inner,
            limit: tokio::sync::Semaphore::new(concurrency),
            coalesce: config.coalesce,
            counters: Counters::default(),
            versions: parking_lot::Mutex::new(std::collections::HashMap::new()),
            version_ttl: config.version_ttl,
        });
        Ok(RemoteStore {
            shared,
            writable,
            writes: (writable && config.write_behind)
                .then(|| Arc::new(WriteQueue::new(2 * concurrency))),
            concurrency,
            single_writer: config.single_writer,
            conditional: std::sync::OnceLock::new(),
            print_stats: std::env::var("ZARRCORE_OBJECT_STATS")
                .is_ok_and(|v| config::parse_bool("ZARRCORE_OBJECT_STATS", &v) == Ok(true)),
        })
    }

    /// The store's URL (without query options).
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Requests made so far through this handle.
    pub fn stats(&self) -> RemoteStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RemoteStats {
            get_requests: l(&c.get),
            range_requests: l(&c.range_get),
            head_requests: l(&c.head),
            put_requests: l(&c.put),
            delete_requests: l(&c.delete),
            list_requests: l(&c.list),
            bytes_read: l(&c.bytes_read),
            bytes_written: l(&c.bytes_written),
        }
    }

    fn check_writable(&self, op: &'static str, key: &str) -> Result<(), StoreError> {
        if self.writable {
            Ok(())
        } else {
            Err(StoreError::ReadOnly {
                store: self.describe(),
                op,
                key: key.to_string(),
            })
        }
    }

    /// A value queued by write-behind, if any.
    fn queued(&self, key: &str) -> Option<Option<Bytes>> {
        self.writes.as_ref().and_then(|w| w.lookup(key))
    }

    fn write(&self, key: &str, value: Option<Bytes>) -> Result<(), StoreError> {
        let shared = self.shared.clone();
        let owned = key.to_string();
        let Some(queue) = &self.writes else {
            return runtime::block_on(async move {
                match value {
                    Some(v) => shared.put(owned, v).await,
                    None => shared.delete(owned).await,
                }
            })?;
        };
        queue.begin(key, value.clone())?;
        let q = queue.clone();
        let spawned = runtime::spawn(async move {
            let mut guard = Finish {
                queue: &q,
                key: &owned,
                result: None,
            };
            let r = match value {
                Some(v) => shared.clone().put(owned.clone(), v).await,
                None => shared.clone().delete(owned.clone()).await,
            };
            guard.result = Some(r);
        });
        if let Err(e) = spawned {
            queue.finish(key, Ok(()));
            return Err(e);
        }
        Ok(())
    }

    /// Waits for queued writes under `prefix` (all of them, if any is).
    fn settle(&self, prefix: &str) {
        if let Some(w) = &self.writes {
            if w.any_under(prefix) {
                w.wait_idle();
            }
        }
    }
}

/// The URL without its query (which may hold credentials).
fn redact(location: &str) -> String {
    match location.split_once('?') {
        Some((u, _)) => format!("{u}?…"),
        None => location.to_string(),
    }
}

impl Drop for RemoteStore {
    fn drop(&mut self) {
        if let Some(w) = &self.writes {
            if let Err(e) = w.drain() {
                eprintln!(
                    "zarrcore: remote store {}: writes failed before the store was closed: {e} (call flush to handle this error)",
                    self.shared.url
                );
            }
        }
        if self.print_stats {
            eprintln!(
                "zarrcore: remote store {} stats: {}",
                self.shared.url,
                self.stats()
            );
        }
    }
}

impl Store for RemoteStore {
    fn describe(&self) -> String {
        self.shared.url.clone()
    }

    fn identity(&self) -> String {
        self.shared.identity.clone()
    }

    fn is_writable(&self) -> bool {
        self.writable
    }

    fn is_local(&self) -> bool {
        false
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        validate_key(key)?;
        if let Some(v) = self.queued(key) {
            return Ok(v);
        }
        runtime::block_on(self.shared.clone().get(key.to_string(), None))?
    }

    fn get_range(&self, key: &str, range: ByteRange) -> Result<Option<Bytes>, StoreError> {
        validate_key(key)?;
        if let Some(v) = self.queued(key) {
            return slice_queued(key, v, range);
        }
        runtime::block_on(self.shared.clone().get(key.to_string(), Some(range)))?
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        if let Some(v) = self.queued(key) {
            return Ok(v.map(|b| b.len() as u64));
        }
        let shared = self.shared.clone();
        let key = key.to_string();
        runtime::block_on(async move { shared.head_size(&key).await })?
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        self.check_writable("write", key)?;
        self.write(key, Some(Bytes::copy_from_slice(value)))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.check_writable("delete", key)?;
        self.write(key, None)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let p = prefix.trim_end_matches('/');
        self.check_writable("delete", p)?;
        if !p.is_empty() {
            validate_key(p)?;
        }
        if let Some(w) = &self.writes {
            w.wait_idle();
        }
        let dir = if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
        let mut keys = self.list_prefix(&dir)?;
        if !p.is_empty() {
            keys.push(p.to_string());
        }
        if keys.is_empty() {
            return Ok(());
        }
        runtime::block_on(self.shared.clone().delete_paths(keys))?
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.settle(prefix);
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        if !dir.is_empty() {
            validate_key(dir)?;
        }
        let mut keys = runtime::block_on(self.shared.clone().list_all(dir.to_string()))??;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    fn list_dir(&self, prefix: &str) -> Result<ListDir, StoreError> {
        let p = prefix.trim_end_matches('/');
        if !p.is_empty() {
            validate_key(p)?;
        }
        self.settle(p);
        runtime::block_on(self.shared.clone().list_dir(p.to_string()))?
    }

    fn flush(&self) -> Result<(), StoreError> {
        match &self.writes {
            Some(w) => w.drain(),
            None => Ok(()),
        }
    }

    fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        validate_key(key)?;
        if self.queued(key).is_some() {
            // This handle's own write in flight: the engine invalidated its
            // cached chunk already.
            return Ok(None);
        }
        let shared = self.shared.clone();
        let key = key.to_string();
        runtime::block_on(async move { shared.current_version(&key).await })?
    }

    fn get_versioned(&self, key: &str) -> Result<(Option<Bytes>, Generation), StoreError> {
        validate_key(key)?;
        // A queued write of this key must land first: its ETag is the
        // generation a conditional write compares against.
        self.settle(key);
        runtime::block_on(self.shared.clone().get_versioned(key.to_string()))?
    }

    fn set_if(
        &self,
        key: &str,
        value: Option<&[u8]>,
        expected: &Generation,
    ) -> Result<bool, StoreError> {
        validate_key(key)?;
        self.check_writable("write", key)?;
        if self.single_writer {
            match value {
                Some(v) => self.set(key, v)?,
                None => self.delete(key)?,
            }
            return Ok(true);
        }
        self.settle(key);
        let unsupported = |reason: String| StoreError::Unsupported {
            store: self.describe(),
            op: "conditional write",
            reason,
        };
        let Some(value) = value else {
            // Object stores cannot delete conditionally; deleting what was
            // never there needs no condition.
            let (v, _) = self.get_versioned(key)?;
            return match (v, expected) {
                (None, Generation::Absent) => Ok(true),
                (Some(_), Generation::Absent) => Ok(false),
                _ => Err(unsupported(format!(
                    "{key:?} cannot be deleted conditionally on this store"
                ))),
            };
        };
        let shared = self.shared.clone();
        let (k, v, g) = (
            key.to_string(),
            Bytes::copy_from_slice(value),
            expected.clone(),
        );
        match runtime::block_on(shared.put_if(k, v, g))?? {
            PutIf::Done => Ok(true),
            PutIf::Conflict => Ok(false),
            PutIf::Unsupported(r) => Err(unsupported(r)),
        }
    }

    fn concurrency(&self) -> Concurrency {
        if self.single_writer {
            return Concurrency::SingleWriter;
        }
        if !self.writable {
            return Concurrency::Unprotected {
                reason: "the store is read-only".into(),
            };
        }
        self.conditional
            .get_or_init(|| {
                let shared = self.shared.clone();
                runtime::block_on(shared.probe()).unwrap_or_else(|e| Concurrency::Unprotected {
                    reason: e.to_string(),
                })
            })
            .clone()
    }

    fn get_many(&self, requests: &[GetRequest<'_>]) -> Vec<Result<Option<Bytes>, StoreError>> {
        let mut out: Vec<Option<Result<Option<Bytes>, StoreError>>> =
            (0..requests.len()).map(|_| None).collect();
        // Bounded ranges grouped per key (fetched together), the rest alone.
        let mut grouped: BTreeMap<&str, Vec<(usize, Range<u64>)>> = BTreeMap::new();
        let mut single: Vec<(usize, String, Option<ByteRange>)> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if let Err(e) = validate_key(r.key) {
                out[i] = Some(Err(e));
                continue;
            }
            if let Some(v) = self.queued(r.key) {
                out[i] = Some(match r.range {
                    None => Ok(v),
                    Some(range) => slice_queued(r.key, v, range),
                });
                continue;
            }
            match r.range {
                Some(ByteRange::Range { offset, len })
                    if len > 0 && offset.checked_add(len).is_some() =>
                {
                    grouped
                        .entry(r.key)
                        .or_default()
                        .push((i, offset..offset + len));
                }
                range => single.push((i, r.key.to_string(), range)),
            }
        }
        for (key, v) in std::mem::take(&mut grouped) {
            if v.len() == 1 {
                let (i, r) = v[0].clone();
                let range = ByteRange::Range {
                    offset: r.start,
                    len: r.end - r.start,
                };
                single.push((i, key.to_string(), Some(range)));
            } else {
                grouped.insert(key, v);
            }
        }
        type Batch = Vec<(usize, Result<Option<Bytes>, StoreError>)>;
        let mut tasks: Vec<futures::future::BoxFuture<'static, Batch>> = Vec::new();
        for (i, key, range) in single {
            let s = self.shared.clone();
            tasks.push(Box::pin(async move { vec![(i, s.get(key, range).await)] }));
        }
        for (key, v) in grouped {
            let s = self.shared.clone();
            let key = key.to_string();
            tasks.push(Box::pin(async move {
                let (idx, ranges): (Vec<usize>, Vec<Range<u64>>) = v.into_iter().unzip();
                let results = s.get_ranges(key, ranges).await;
                idx.into_iter().zip(results).collect()
            }));
        }
        let n = self.concurrency;
        let fetched = runtime::block_on(async move {
            futures::stream::iter(tasks)
                .buffer_unordered(n)
                .collect::<Vec<Batch>>()
                .await
        });
        match fetched {
            Ok(batches) => {
                for (i, r) in batches.into_iter().flatten() {
                    out[i] = Some(r);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for slot in out.iter_mut().filter(|s| s.is_none()) {
                    *slot = Some(Err(StoreError::Backend {
                        key: String::new(),
                        message: msg.clone(),
                    }));
                }
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StoreError::Backend {
                        key: String::new(),
                        message: "request was not answered".into(),
                    })
                })
            })
            .collect()
    }
}

/// A byte range of a value queued by write-behind.
fn slice_queued(
    key: &str,
    v: Option<Bytes>,
    range: ByteRange,
) -> Result<Option<Bytes>, StoreError> {
    let Some(b) = v else { return Ok(None) };
    match range.resolve(b.len() as u64) {
        Some((s, e)) => Ok(Some(b.slice(s as usize..e as usize))),
        None => Err(Shared::out_of_bounds(key, range, b.len() as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_remote_url("s3://b/p"));
        assert!(is_remote_url("S3://b/p"));
        assert!(is_remote_url("gs://b"));
        assert!(is_remote_url("az://c/p"));
        assert!(is_remote_url("https://example.invalid/x"));
        assert!(!is_remote_url("memory://x"));
        assert!(!is_remote_url("file:///x"));
        assert!(!is_remote_url("/data/x.zarr"));
        assert_eq!(redact("s3://b/p?secret_access_key=x"), "s3://b/p?…");
        assert!(is_loopback("http://127.0.0.1:9000"));
        assert!(is_loopback("http://localhost:9000"));
        assert!(is_loopback("http://[::1]:9000"));
        assert!(!is_loopback("http://10.0.0.1:9000"));
    }

    fn open(url: &str) -> Result<RemoteStore, StoreError> {
        RemoteStore::open_with(url, StoreOptions::read_only(), RemoteConfig::default())
    }

    #[test]
    fn open_without_network() {
        // Building a store makes no request.
        let s = open("s3://bucket/a/b?endpoint=http://127.0.0.1:1&region=us-east-1&access_key_id=k&secret_access_key=s").unwrap();
        assert_eq!(s.describe(), "s3://bucket/a/b");
        assert_eq!(s.identity(), "s3://bucket/a/b@http://127.0.0.1:1");
        assert!(!s.is_local());
        assert!(!s.is_writable());
        assert_eq!(s.shared.prefix, "a/b");
        assert_eq!(
            s.shared.object_url("zarr.json"),
            "s3://bucket/a/b/zarr.json"
        );
        let e = s.set("x", b"1").unwrap_err().to_string();
        assert!(e.contains("read-only"), "{e}");
        let g = open("gs://bucket/p?service_account_key={}&skip_signature=true");
        // Whether a GCS store builds without credentials depends on the
        // environment; the URL itself parses.
        if let Ok(g) = g {
            assert_eq!(g.describe(), "gs://bucket/p");
        }
        let a = open("az://container/p?account_name=acc&access_key=a2V5&allow_http=true").unwrap();
        assert_eq!(a.describe(), "az://container/p");
        assert_eq!(a.shared.prefix, "p");
        let h = open("http://127.0.0.1:1/bucket/data/").unwrap();
        assert_eq!(h.describe(), "http://127.0.0.1:1/bucket/data");
        assert_eq!(h.shared.prefix, "");
        assert_eq!(
            h.shared.object_url("zarr.json"),
            "http://127.0.0.1:1/bucket/data/zarr.json"
        );
        let e = RemoteStore::open_with(
            "http://127.0.0.1:1/x",
            StoreOptions::create(),
            RemoteConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("read-only"), "{e}");
        let e = open("s3://bucket/p?no_such_option=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no_such_option"), "{e}");
        let e = open("s3://bucket/p?retries=x&secret_access_key=hidden")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retries") && !e.contains("hidden"), "{e}");
    }

    #[test]
    fn unreachable_server_fails_within_budget() {
        // Port 1 on loopback refuses connections: transient errors, retried
        // within the budget, then a clear error naming the URL and key.
        let s = open(
            "s3://bucket/p?endpoint=http://127.0.0.1:1&region=us-east-1&access_key_id=k&secret_access_key=s&retries=2&retry_timeout=1&retry_backoff=0.01",
        )
        .unwrap();
        let t = std::time::Instant::now();
        let e = s.get("a/zarr.json").unwrap_err().to_string();
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        assert!(e.contains("a/zarr.json"), "{e}");
        assert!(e.contains("s3://bucket/p/a/zarr.json"), "{e}");
        assert!(e.contains("GET"), "{e}");
        let r = s.get_many(&[
            GetRequest {
                key: "x",
                range: None,
            },
            GetRequest {
                key: "../x",
                range: None,
            },
        ]);
        assert!(r[0].is_err());
        assert!(matches!(r[1], Err(StoreError::InvalidKey { .. })));
    }
}
