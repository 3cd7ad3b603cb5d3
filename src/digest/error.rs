//! The one error type of the digest layer: why an image could not be resolved, or why the lock
//! command failed as a whole. Every message names the image, the registry, the repository and
//! the tag, and says what to try; none ever carries a credential.

use std::fmt;

/// The image a failure is about, as the registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The reference as asked for.
    pub image: String,
    /// The registry host on the wire (`registry-1.docker.io` for Docker Hub).
    pub registry: String,
    /// The repository path (`library/nginx`).
    pub repository: String,
    /// The tag, `latest` when the reference has none, or the digest asked for.
    pub tag: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (registry {}, repository {}, tag {})",
            self.image, self.registry, self.repository, self.tag
        )
    }
}

/// Why a digest could not be found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The registry answered with an error status (after any retries).
    #[error("{target}: http {status}{detail}; {hint}")]
    Status {
        target: Box<Target>,
        status: u16,
        /// The registry's own error code, such as ` (MANIFEST_UNKNOWN)`, or empty.
        detail: String,
        hint: String,
    },
    /// No answer in time.
    #[error("{target}: no answer within {seconds} s ({stage}); check that the registry is up and reachable, or give more time with `--timeout SECONDS`")]
    Timeout {
        target: Box<Target>,
        seconds: u64,
        stage: String,
    },
    /// The connection failed.
    #[error("{target}: cannot reach the registry: {cause}; {hint}")]
    Network {
        target: Box<Target>,
        cause: String,
        hint: String,
    },
    /// The registry asked for authentication that could not be given.
    #[error("{target}: authentication failed: {problem}")]
    Auth {
        target: Box<Target>,
        problem: String,
    },
    /// The answer did not hold a usable digest.
    #[error("{target}: {problem}")]
    Digest {
        target: Box<Target>,
        problem: String,
    },
    /// A file on this machine (a blob being copied) cannot be written or read.
    #[error("{target}: {problem}")]
    Local {
        target: Box<Target>,
        problem: String,
    },
    /// A CA file, client certificate or key cannot be used; its content is never shown.
    #[error("`{}`: {problem}", .path.display())]
    Material {
        path: std::path::PathBuf,
        problem: String,
    },
    /// A redirect that would leave https, or one too many.
    #[error("{target}: {problem}")]
    Redirect {
        target: Box<Target>,
        problem: String,
    },
    /// A proxy variable cannot be used; its credentials are never shown.
    #[error("{variable}: {problem}")]
    Proxy { variable: String, problem: String },
    /// Some images failed: every failure, one per line.
    #[error("{} of {total} image(s) could not be resolved{consequence}:\n{}", .failures.len(), list(.failures))]
    Failed {
        total: usize,
        /// What was not done because of it, such as `; no lock file was written`.
        consequence: &'static str,
        failures: Vec<ResolveError>,
    },
}

impl ResolveError {
    /// Whether this is about the setup (a file or variable the user gave), not an image: a
    /// usage error, exit code 2.
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            ResolveError::Material { .. } | ResolveError::Proxy { .. }
        )
    }
}

fn list(failures: &[ResolveError]) -> String {
    failures
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_image_and_list_every_failure() {
        let target = Target {
            image: "r.example/a:1".into(),
            registry: "r.example".into(),
            repository: "a".into(),
            tag: "1".into(),
        };
        let one = ResolveError::Status {
            target: Box::new(target.clone()),
            status: 404,
            detail: " (MANIFEST_UNKNOWN)".into(),
            hint: "check the tag".into(),
        };
        let text = one.to_string();
        assert_eq!(text, "`r.example/a:1` (registry r.example, repository a, tag 1): http 404 (MANIFEST_UNKNOWN); check the tag");
        let all = ResolveError::Failed {
            total: 3,
            consequence: "; no lock file was written",
            failures: vec![
                one,
                ResolveError::Auth {
                    target: Box::new(target),
                    problem: "x".into(),
                },
            ],
        };
        let text = all.to_string();
        assert!(text.starts_with("2 of 3 image(s) could not be resolved; no lock file was written:\n  `r.example/a:1`"), "{text}");
        assert_eq!(text.lines().count(), 3);
    }
}
