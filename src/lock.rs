//! The lock file: final image references mapped to the digests they are pinned to.
//!
//! ```yaml
//! version: 1
//! images:
//!   harbor.example.com/dockerhub/library/nginx:1.25.3: sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac
//! ```
//! Keys are compared normalised (`nginx:1` and `docker.io/library/nginx:1` are one key), so a
//! lock file written by hand or by `reimage lock` matches whatever spelling a chart uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::reference::Reference;

/// Digests by normalised `name[:tag]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    digests: BTreeMap<String, String>,
}

/// The lock file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lock file {}: {cause}; create it (see `digests.lock` in the README) or fix the path", file.display())]
    Read {
        file: PathBuf,
        cause: std::io::Error,
    },
    #[error("lock file {}: {message}", file.display())]
    Invalid { file: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    version: u32,
    #[serde(default)]
    images: BTreeMap<String, String>,
}

impl Lock {
    /// Reads and checks a lock file.
    pub fn load(file: &Path) -> Result<Lock, LockError> {
        let text = std::fs::read_to_string(file).map_err(|cause| LockError::Read {
            file: file.to_path_buf(),
            cause,
        })?;
        Lock::from_yaml(&text).map_err(|message| LockError::Invalid {
            file: file.to_path_buf(),
            message,
        })
    }

    /// Parses lock file text; the error says which entry is wrong.
    pub fn from_yaml(text: &str) -> Result<Lock, String> {
        let parsed: LockFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if parsed.version != 1 {
            return Err(format!(
                "version {} is not supported; this reimage reads version 1",
                parsed.version
            ));
        }
        let mut digests = BTreeMap::new();
        for (image, digest) in parsed.images {
            let reference = Reference::parse(&image)
                .map_err(|e| format!("images: `{image}` is not an image reference: {e}"))?;
            if reference.digest().is_some() {
                return Err(format!(
                    "images: `{image}` already carries a digest; keys are references without one"
                ));
            }
            if !is_sha256(&digest) {
                return Err(format!(
                    "images: `{image}`: `{digest}` is not a digest; write `sha256:` and 64 lowercase hex digits"
                ));
            }
            digests.insert(key(&reference), digest);
        }
        Ok(Lock { digests })
    }

    /// The digest pinned for this reference (its digest, if any, is ignored).
    pub fn digest_for(&self, reference: &Reference) -> Option<&str> {
        self.digests.get(&key(reference)).map(String::as_str)
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, reference: &Reference, digest: String) {
        self.digests.insert(key(reference), digest);
    }

    /// Entries in key order: normalised `name[:tag]` and digest.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.digests.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The lookup key: normalised name, and `:tag` when there is one.
fn key(reference: &Reference) -> String {
    match reference.tag() {
        Some(tag) => format!("{}:{tag}", reference.normalized_name()),
        None => reference.normalized_name(),
    }
}

/// Whether `text` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

    #[test]
    fn matches_any_spelling_of_a_reference() {
        let lock = Lock::from_yaml(&format!("version: 1\nimages:\n  nginx:1.25: {D}\n")).unwrap();
        for spelling in [
            "nginx:1.25",
            "docker.io/library/nginx:1.25",
            "index.docker.io/library/nginx:1.25",
        ] {
            assert_eq!(
                lock.digest_for(&Reference::parse(spelling).unwrap()),
                Some(D)
            );
        }
        assert_eq!(
            lock.digest_for(&Reference::parse("nginx:1.26").unwrap()),
            None
        );
        assert_eq!(lock.digest_for(&Reference::parse("nginx").unwrap()), None);
    }

    #[test]
    fn rejects_bad_entries() {
        let bad = Lock::from_yaml("version: 1\nimages:\n  nginx:1: sha256:abc\n").unwrap_err();
        assert!(bad.contains("not a digest"), "{bad}");
        let version = Lock::from_yaml("version: 2\n").unwrap_err();
        assert!(version.contains("version 2"), "{version}");
        let key = Lock::from_yaml("version: 1\nimages:\n  Nginx: x\n").unwrap_err();
        assert!(key.contains("not an image reference"), "{key}");
    }
}
