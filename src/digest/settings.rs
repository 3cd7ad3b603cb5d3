//! How the registry client behaves: which hosts speak plain http, how many lookups run at
//! once, and how long one image may take. Built by the binary from the command line and the
//! rules' `digests:` section.

use std::time::Duration;

use crate::rules::Rules;

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
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            insecure: Vec::new(),
            parallel: DEFAULT_PARALLEL,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
        }
    }
}

impl Settings {
    /// The rules' `digests.insecureRegistries` plus the command line's hosts and limits.
    pub fn new(
        rules: &Rules,
        insecure: &[String],
        parallel: Option<usize>,
        timeout: Option<Duration>,
    ) -> Settings {
        let mut hosts: Vec<String> = rules
            .digests
            .iter()
            .flat_map(|d| d.insecure_registries.iter().cloned())
            .chain(insecure.iter().cloned())
            .collect();
        hosts.sort();
        hosts.dedup();
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        Settings {
            insecure: hosts,
            parallel: parallel.unwrap_or(DEFAULT_PARALLEL).max(1),
            timeout,
            connect_timeout: CONNECT_TIMEOUT.min(timeout),
        }
    }
}

/// Whether the rules ask for inline resolution (`digests.resolve: true`).
pub fn resolve_requested(rules: &Rules) -> bool {
    rules.digests.as_ref().is_some_and(|d| d.resolve)
}
