//! Digest resolution: asking registries which manifest digest a tag points to, for
//! `reimage lock` (which writes the lock file) and `--resolve` (which pins while rendering).
//! Nothing in the renderer uses this module unless one of those is asked for, so a plain
//! render never opens a socket.
//!
//! The network stays behind [`Resolver`]. [`RegistryClient`] is the real one:
//! `endpoint` (host, http or https) → `http` (ureq, timeouts, retries from `retry`) →
//! `challenge`, `token` and `credentials`/`helper` for logging in → `manifest` (Accept list,
//! digest checks). Around it, `wanted` picks the references to resolve from a render,
//! `parallel` resolves them a bounded number at a time, and `command` (the lock command) and
//! `inline` (`--resolve`) use the results. `settings` holds the knobs; `error` the one error
//! type.

mod challenge;
mod client;
pub mod command;
mod credentials;
mod endpoint;
mod error;
mod helper;
mod http;
mod inline;
mod manifest;
mod parallel;
mod retry;
mod settings;
mod token;
mod wanted;

pub use client::RegistryClient;
pub use command::{LockJob, LockOutcome, Mode};
pub use endpoint::plain_http_allowed;
pub use error::{ResolveError, Target};
pub use inline::complete_lock;
pub use manifest::sha256_of;
pub use settings::{resolve_requested, Settings};
pub use wanted::{source_reference, wanted, Wanted};

use crate::reference::Reference;

/// A reference's manifest digest, as a registry gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `sha256:` and 64 lowercase hex digits: of the index for a multi-arch image.
    pub digest: String,
    /// The manifest's media type, when the registry said.
    pub media_type: Option<String>,
}

/// Finds the digest of a reference; shared by the renderer, the lock command and tests.
pub trait Resolver: Sync {
    /// The digest of the manifest `image` names (its tag, or `latest`).
    fn resolve(&self, image: &Reference) -> Result<Resolved, ResolveError>;
}
