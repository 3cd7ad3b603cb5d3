//! How the registry client behaves: which hosts speak plain http, which certificates to
//! trust, how many lookups run at once, and how long one image may take. Built by the binary from the command line and the
//! rules' `digests:` section.

use std::path::PathBuf;
use std::time::Duration;

/// Lookups at once, unless `--parallel` says otherwise.
pub const DEFAULT_PARALLEL: usize = 8;
/// The time one image may take, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait for one connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Hosts (with or without port) that are talked to over plain http.
    pub insecure: Vec<String>,
    /// Lookups at once (at least 1).
    pub parallel: usize,
    /// The time one image may take, retries and logging in included.
    pub timeout: Duration,
    /// The longest wait for one connection (at most `timeout`).
    pub connect_timeout: Duration,
    /// CA bundles trusted for every registry, besides the system store.
    pub ca_files: Vec<PathBuf>,
    /// `certs.d` folders searched before the system ones.
    pub certs_dirs: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            insecure: Vec::new(),
            parallel: DEFAULT_PARALLEL,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            ca_files: Vec::new(),
            certs_dirs: Vec::new(),
        }
    }
}

impl Settings {
    /// Plain-http hosts (checked by [`crate::reference::parse_host`]), and the limits the
    /// command line gives; defaults for the others.
    pub fn new(
        insecure: Vec<String>,
        parallel: Option<usize>,
        timeout: Option<Duration>,
    ) -> Settings {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        Settings {
            insecure,
            parallel: parallel.unwrap_or(DEFAULT_PARALLEL).max(1),
            timeout,
            connect_timeout: CONNECT_TIMEOUT.min(timeout),
            ca_files: Vec::new(),
            certs_dirs: Vec::new(),
        }
    }
}
