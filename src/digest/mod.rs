//! Digest resolution: asking registries which manifest digest a tag points to, for
//! `reimage lock` (which writes the lock file) and `--resolve` (which pins while rendering).
//! Nothing in the renderer uses this module unless one of those is asked for, so a plain
//! render never opens a socket.
//!
//! The network stays behind [`Resolver`]. [`RegistryClient`] is the real one:
//! `endpoint` (host, http or https) → `http` (ureq, timeouts, retries from `retry`, the
//! proxy from `proxy`, the TLS identity from `trust`, redirects) →
//! `challenge`, `token` and `credentials`/`helper` for logging in → `manifest` (Accept list,
//! digest checks). Around it,
//! `parallel` resolves many references a bounded number at a time. What to resolve, and what
//! to do with the answers, is up to the callers (the `lock` command, `--resolve`). `settings`
//! holds the knobs; `error` the one error type.

mod challenge;
mod client;
mod credentials;
mod endpoint;
mod error;
mod helper;
mod http;
mod login;
mod manifest;
mod parallel;
mod proxy;
mod retry;
mod settings;
mod token;
mod transfer;
mod trust;

pub use client::RegistryClient;
pub use endpoint::plain_http_allowed;
pub use error::{ResolveError, Target};
pub use manifest::{sha256_of, Algorithm, Hasher};
pub use parallel::resolve_each;
pub use settings::Settings;

use crate::reference::Reference;

/// A reference's manifest digest, as a registry gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `sha256:` and 64 lowercase hex digits, or `sha512:` and 128, as the registry named
    /// it: of the index for a multi-arch image.
    pub digest: String,
}

/// Finds the digest of a reference; shared by the renderer, the lock command and tests.
pub trait Resolver: Sync {
    /// The digest of the manifest `image` names (its tag, or `latest`).
    fn resolve(&self, image: &Reference) -> Result<Resolved, ResolveError>;
}
