//! Configuration of remote stores.
//!
//! Three layers, later ones winning: built-in defaults, environment variables
//! (`ZARRCORE_OBJECT_*` for zarrcore's own settings; the backend reads its
//! usual `AWS_*`, `GOOGLE_*`, `AZURE_*` variables itself), then options
//! given through the Rust API ([`RemoteConfig::option`]) or as URL query
//! parameters (`s3://bucket/prefix?endpoint=http://127.0.0.1:9000&retries=2`).
//!
//! zarrcore's own options are listed in [`ZARRCORE_KEYS`]; every other option
//! is handed to the backend as an `object_store` configuration key
//! (`endpoint`, `region`, `access_key_id`, `secret_access_key`,
//! `session_token`, `allow_http`, `virtual_hosted_style_request`,
//! `skip_signature`, `timeout`, `connect_timeout`, ...). Unknown keys are
//! refused with an error naming them.

use std::time::Duration;

/// zarrcore's own option names (everything else goes to the backend).
pub const ZARRCORE_KEYS: &[&str] = &[
    "retries",
    "retry_timeout",
    "retry_backoff",
    "concurrency",
    "write_behind",
    "coalesce",
    "single_writer",
    "version_ttl",
];

/// How a remote store talks to its server.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    /// Backend options (`object_store` configuration keys), applied over the
    /// backend's own environment variables.
    pub backend: Vec<(String, String)>,
    /// Retries of a failed request (transient errors only: connection
    /// failures, timeouts of idempotent requests, 5xx, 429). Option
    /// `retries`, variable `ZARRCORE_OBJECT_RETRIES`; default 10.
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt. Option
    /// `retry_timeout` (seconds), variable `ZARRCORE_OBJECT_RETRY_TIMEOUT`;
    /// default 180 s.
    pub retry_timeout: Duration,
    /// First backoff between retries (doubling, with jitter, up to
    /// `min(15 s, retry_timeout)`). Option `retry_backoff` (seconds),
    /// variable `ZARRCORE_OBJECT_RETRY_BACKOFF`; default 0.1 s.
    pub retry_backoff: Duration,
    /// Maximum concurrent requests of one store handle. Option
    /// `concurrency`, variable `ZARRCORE_OBJECT_CONCURRENCY`; default 32.
    pub concurrency: usize,
    /// `set`/`delete` return once the request is queued; `flush` waits for
    /// all of them and reports failures (see the store's docs). Option
    /// `write_behind`, variable `ZARRCORE_OBJECT_WRITE_BEHIND`; default true.
    pub write_behind: bool,
    /// Byte ranges of one object closer than this are fetched with one
    /// request by [`Store::get_many`](crate::store::Store::get_many). Option
    /// `coalesce` (bytes), variable `ZARRCORE_OBJECT_COALESCE`; default 1 MiB.
    pub coalesce: u64,
    /// This process is the only one writing the arrays it writes: partial
    /// chunk writes are stored unconditionally, even where the server does
    /// not honour conditional requests (`If-Match`), which otherwise makes
    /// them fail rather than risk losing another process's update. Option
    /// `single_writer`, variable `ZARRCORE_OBJECT_SINGLE_WRITER`; default
    /// false.
    pub single_writer: bool,
    /// How long the ETag seen for an object stands as its version before a
    /// cached chunk of it is revalidated with a HEAD request, so that a
    /// long-lived reader (a mount, a library host) does not serve a chunk
    /// another process has replaced more than this long ago. Option
    /// `version_ttl` (seconds), variable `ZARRCORE_OBJECT_VERSION_TTL`;
    /// default 1 s; 0 revalidates on every cache hit.
    pub version_ttl: Duration,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            backend: Vec::new(),
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            retry_backoff: Duration::from_millis(100),
            concurrency: 32,
            write_behind: true,
            coalesce: 1 << 20,
            single_writer: false,
            version_ttl: Duration::from_secs(1),
        }
    }
}

fn parse_secs(key: &str, v: &str) -> Result<Duration, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("option {key}: {v:?} is not a number of seconds"))
}

fn parse_uint(key: &str, v: &str) -> Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("option {key}: {v:?} is not a non-negative integer"))
}

/// Parses `true/false/1/0/yes/no/on/off`.
pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("option {key}: {v:?} is not a boolean")),
    }
}

impl RemoteConfig {
    /// Defaults overridden by the `ZARRCORE_OBJECT_*` environment variables.
    pub fn from_env() -> Result<Self, String> {
        let mut c = RemoteConfig::default();
        for key in ZARRCORE_KEYS {
            let var = format!("ZARRCORE_OBJECT_{}", key.to_ascii_uppercase());
            if let Ok(v) = std::env::var(&var) {
                c.apply(key, &v).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        Ok(c)
    }

    /// Adds an option (a zarrcore option or a backend key); see the module
    /// docs.
    pub fn option(mut self, key: &str, value: &str) -> Result<Self, String> {
        self.apply(key, value)?;
        Ok(self)
    }

    /// Applies one option.
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "retries" => self.max_retries = parse_uint(key, value)? as usize,
            "retry_timeout" => self.retry_timeout = parse_secs(key, value)?,
            "retry_backoff" => self.retry_backoff = parse_secs(key, value)?,
            "concurrency" => {
                self.concurrency = (parse_uint(key, value)? as usize).clamp(1, 4096);
            }
            "write_behind" => self.write_behind = parse_bool(key, value)?,
            "coalesce" => self.coalesce = parse_uint(key, value)?,
            "single_writer" => self.single_writer = parse_bool(key, value)?,
            "version_ttl" => self.version_ttl = parse_secs(key, value)?,
            _ => {
                let k = key.to_ascii_lowercase();
                self.backend.retain(|(old, _)| *old != k);
                self.backend.push((k, value.to_string()));
            }
        }
        Ok(())
    }

    /// Whether the backend options set `names` (any spelling given).
    pub(crate) fn has_backend(&self, names: &[&str]) -> bool {
        self.backend
            .iter()
            .any(|(k, _)| names.contains(&k.as_str()))
    }

    /// The `object_store` retry configuration.
    pub(crate) fn retry(&self) -> object_store::RetryConfig {
        let max_backoff = self.retry_timeout.min(Duration::from_secs(15));
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: self.retry_backoff.min(max_backoff),
                max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let c = RemoteConfig::default()
            .option("retries", "2")
            .unwrap()
            .option("retry_timeout", "1.5")
            .unwrap()
            .option("Endpoint", "http://127.0.0.1:1")
            .unwrap()
            .option("endpoint", "http://127.0.0.1:2")
            .unwrap()
            .option("write_behind", "no")
            .unwrap();
        assert_eq!(c.max_retries, 2);
        assert_eq!(c.retry_timeout, Duration::from_millis(1500));
        assert!(!c.write_behind);
        assert_eq!(
            c.backend,
            vec![("endpoint".to_string(), "http://127.0.0.1:2".to_string())]
        );
        assert!(c.has_backend(&["endpoint"]));
        let r = c.retry();
        assert_eq!(r.max_retries, 2);
        assert_eq!(r.backoff.max_backoff, Duration::from_millis(1500));
        for (k, v) in [
            ("retries", "-1"),
            ("retry_timeout", "x"),
            ("write_behind", "maybe"),
            ("coalesce", "1.5"),
        ] {
            let e = RemoteConfig::default().option(k, v).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
