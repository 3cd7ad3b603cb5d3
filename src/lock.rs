//! The lock file: final image references mapped to the digests they are pinned to.
//!
//! ```yaml
//! version: 1
//! images:
//!   harbor.example.com/dockerhub/library/nginx:1.25.3: sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac
//! ```
//! Keys are compared normalised (`nginx:1` and `docker.io/library/nginx:1` are one key, and so
//! are `Quay.io/x:1` and `quay.io/x:1`: registry hosts in lowercase), so a lock file written by
//! hand or by `reimage lock` matches whatever spelling a chart uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    #[error("cannot write lock file {}: {cause}; check that its folder exists and is writable", file.display())]
    Write {
        file: PathBuf,
        cause: std::io::Error,
    },
}

#[derive(Deserialize, Serialize)]
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

    /// The lock file text: `version: 1` and the entries in key order; the same entries always
    /// give the same bytes (no timestamps), and [`Lock::from_yaml`] reads them back.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(&LockFile {
            version: 1,
            images: self.digests.clone(),
        })
    }

    /// Writes the lock file whole or not at all: a temporary file beside it, flushed to disk,
    /// then renamed over it.
    pub fn write(&self, file: &Path) -> Result<(), LockError> {
        let error = |cause| LockError::Write {
            file: file.to_path_buf(),
            cause,
        };
        let name = file.file_name().ok_or_else(|| {
            error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file name",
            ))
        })?;
        let temp = file.with_file_name(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let text = self
            .to_yaml()
            .map_err(|e| error(std::io::Error::other(e)))?;
        let written =
            write_synced(&temp, text.as_bytes()).and_then(|()| std::fs::rename(&temp, file));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(error)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::fs::File::create(path)?;
    out.write_all(bytes)?;
    out.sync_all()
}

/// The lookup key: normalised name, and `:tag` when there is one.
pub fn key(reference: &Reference) -> String {
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
        let hosts =
            Lock::from_yaml(&format!("version: 1\nimages:\n  Quay.io/a/b:v1: {D}\n")).unwrap();
        for spelling in ["quay.io/a/b:v1", "QUAY.IO/a/b:v1"] {
            assert_eq!(
                hosts.digest_for(&Reference::parse(spelling).unwrap()),
                Some(D)
            );
        }
        // The tag is not a host: it keeps its case.
        assert_eq!(
            hosts.digest_for(&Reference::parse("quay.io/a/b:V1").unwrap()),
            None
        );
        assert_eq!(lock.digest_for(&Reference::parse("nginx").unwrap()), None);
    }

    #[test]
    fn writes_what_it_reads_atomically() {
        let mut lock = Lock::default();
        lock.insert(&Reference::parse("[::1]:5000/a:1").unwrap(), D.to_string());
        lock.insert(&Reference::parse("nginx:1.25").unwrap(), D.to_string());
        let text = lock.to_yaml().unwrap();
        assert_eq!(
            text,
            format!("version: 1\nimages:\n  '[::1]:5000/a:1': {D}\n  docker.io/library/nginx:1.25: {D}\n")
        );
        assert_eq!(Lock::from_yaml(&text).unwrap(), lock);
        assert_eq!(
            Lock::default().to_yaml().unwrap(),
            "version: 1\nimages: {}\n"
        );
        let dir = std::env::temp_dir().join(format!("reimage-lockw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("images.lock.yaml");
        lock.write(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        let missing = dir.join("no/such/dir/l.yaml");
        assert!(matches!(lock.write(&missing), Err(LockError::Write { .. })));
        std::fs::remove_dir_all(dir).unwrap();
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
