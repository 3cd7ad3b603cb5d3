//! The lock file: final image references mapped to the digests they are pinned to.
//!
//! ```yaml
//! version: 1
//! images:
//!   harbor.example.com/dockerhub/library/nginx:1.25.3: sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac
//! ```
//! Keys are compared normalised (`nginx:1` and `docker.io/library/nginx:1` are one key, and so
//! are `Quay.io/x:1` and `quay.io/x:1`: registry hosts in lowercase), so a lock file written by
//! hand or by `reimage lock` matches whatever spelling a chart uses. Two entries that are one
//! image with two digests (a key written twice after a merge, or two spellings of it) are an
//! error naming both lines, never a silent choice; with the same digest they are one entry.

mod entries;

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reference::{self, Reference, DIGEST_FORM};

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

/// The file as read: `images:` in file order, duplicates kept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    version: u32,
    #[serde(default, deserialize_with = "entries::in_order")]
    images: Vec<(String, String)>,
}

/// The file as written: entries in key order.
#[derive(Serialize)]
struct LockFileOut<'a> {
    version: u32,
    images: &'a BTreeMap<String, String>,
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

    /// Parses lock file text; the error says which entry is wrong, and on which line.
    pub fn from_yaml(text: &str) -> Result<Lock, String> {
        // A byte order mark, as some editors write, is not counted in lines.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let parsed: LockFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if parsed.version != 1 {
            return Err(format!(
                "version {} is not supported; this reimage reads version 1",
                parsed.version
            ));
        }
        let lines = entries::KeyLines::new(text, parsed.images.len());
        // Key → (index of its first entry, its digest).
        let mut digests: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut conflicts = Vec::new();
        for (index, (image, digest)) in parsed.images.iter().enumerate() {
            // `images: `nginx:1` (line 3)`; the lines are looked up only for a message.
            let entry = || format!("images: `{image}`{}", lines.at(index));
            let reference = Reference::parse(image)
                .map_err(|e| format!("{} is not an image reference: {e}", entry()))?;
            if reference.digest().is_some() {
                return Err(format!(
                    "{} already carries a digest; keys are references without one",
                    entry()
                ));
            }
            if let Err(why) = reference::check_digest(digest) {
                return Err(format!(
                    "{}: `{digest}` is not a valid digest: {why}; {DIGEST_FORM}",
                    entry()
                ));
            }
            match digests.entry(key(&reference)) {
                Entry::Vacant(slot) => {
                    slot.insert((index, digest.clone()));
                }
                Entry::Occupied(first) => {
                    let (first, pinned) = first.get();
                    let reported = conflicts.iter().any(|&(f, _)| f == *first);
                    if pinned != digest && !reported {
                        conflicts.push((*first, index));
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(two_digests(&parsed.images, &conflicts, &lines));
        }
        let digests = digests
            .into_iter()
            .map(|(key, (_, digest))| (key, digest))
            .collect();
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
        serde_yaml::to_string(&LockFileOut {
            version: 1,
            images: &self.digests,
        })
    }

    /// Writes the lock file whole or not at all: a temporary file beside it, flushed to disk,
    /// then renamed over it. The temporary file is made by `tempfile`: a name no one can
    /// guess, opened only if it does not exist, so a symlink planted in the folder is never
    /// followed; it is removed if anything fails.
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
        let dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let text = self
            .to_yaml()
            .map_err(|e| error(std::io::Error::other(e)))?;
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut temp = temp_file(&prefix).tempfile_in(dir).map_err(error)?;
        write_synced(temp.as_file_mut(), text.as_bytes()).map_err(error)?;
        temp.persist(file).map_err(|e| error(e.error))?;
        Ok(())
    }
}

/// A temporary file `<prefix>XXXXXX.tmp`, created as `File::create` creates files (0666 less
/// the umask) rather than owner-only: the lock file is shared, through Git and CI checkouts.
fn temp_file(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
}

/// `images: `a` (line 3) and `b` (line 5) are one image with two digests; keep one`, for
/// each pair of entries (first entry, first entry with another digest).
fn two_digests(
    images: &[(String, String)],
    conflicts: &[(usize, usize)],
    lines: &entries::KeyLines<'_>,
) -> String {
    let spelled = |index: usize| {
        let image = images.get(index).map_or("", |(image, _)| image.as_str());
        format!("`{image}`{}", lines.at(index))
    };
    let pairs: Vec<String> = conflicts
        .iter()
        .map(|&(first, second)| {
            format!(
                "{} and {} are one image with two digests",
                spelled(first),
                spelled(second)
            )
        })
        .collect();
    let keep = if pairs.len() == 1 {
        "keep one"
    } else {
        "keep one of each"
    };
    format!("images: {}; {keep}", pairs.join("; "))
}

fn write_synced(out: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
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

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("reimage-locks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        // The names an earlier version wrote to, guessable from the process id.
        for pid in [std::process::id(), 1, 2] {
            let planted = dir.join(format!(".images.lock.yaml.{pid}.tmp"));
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        let mut lock = Lock::default();
        lock.insert(&Reference::parse("nginx:1").unwrap(), D.to_string());
        let file = dir.join("images.lock.yaml");
        lock.write(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            lock.to_yaml().unwrap()
        );
        assert!(!std::fs::symlink_metadata(&file).unwrap().is_symlink());
        // Readable as any file the user creates, not only by its owner.
        let plain = dir.join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), mode(&plain));
        // Only the lock file, the victim, the three symlinks and `plain`: no temporary left.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 6);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejects_bad_entries() {
        let bad = Lock::from_yaml("version: 1\nimages:\n  nginx:1: sha256:abc\n").unwrap_err();
        assert_eq!(
            bad,
            "images: `nginx:1` (line 3): `sha256:abc` is not a valid digest: sha256 needs exactly \
             64 hex characters, got 3; a digest is `sha256:` and 64 lowercase hex digits, or \
             `sha512:` and 128"
        );
        let version = Lock::from_yaml("version: 2\n").unwrap_err();
        assert!(version.contains("version 2"), "{version}");
        let key = Lock::from_yaml("version: 1\nimages:\n  Nginx: x\n").unwrap_err();
        assert!(
            key.starts_with("images: `Nginx` (line 3) is not an image reference"),
            "{key}"
        );
        let pinned = Lock::from_yaml(&format!("version: 1\nimages:\n  a:1: {D}\n  b@{D}: {D}\n"));
        assert!(pinned.unwrap_err().starts_with(&format!(
            "images: `b@{D}` (line 4) already carries a digest"
        )),);
        let empty = Lock::from_yaml("version: 1\nimages:\n").unwrap();
        assert_eq!(empty, Lock::default());
    }

    /// A sha512 digest, as a registry that hashes by sha512 gives it: read and written as it is.
    #[test]
    fn sha512_digests_are_read_and_written_back() {
        let d512 = format!("sha512:{}", "0123456789abcdef".repeat(8));
        let text = format!("version: 1\nimages:\n  docker.io/library/nginx:1.25: {d512}\n");
        let lock = Lock::from_yaml(&text).unwrap();
        assert_eq!(
            lock.digest_for(&Reference::parse("nginx:1.25").unwrap()),
            Some(d512.as_str())
        );
        assert_eq!(lock.to_yaml().unwrap(), text);
    }

    const E: &str = "sha256:0bc88eb15f9e7f84e8e56c14fa5735aaa488b840983f87bd79b1054190e660de";

    #[test]
    fn one_image_with_two_digests_names_both_lines() {
        let merged =
            format!("version: 1\nimages:\n  nginx:1: {D}\n  redis:7: {D}\n  nginx:1: {E}\n");
        assert_eq!(
            Lock::from_yaml(&merged).unwrap_err(),
            "images: `nginx:1` (line 3) and `nginx:1` (line 5) are one image with two digests; keep one"
        );
        let spellings =
            format!("version: 1\nimages:\n  nginx:1: {D}\n\n  docker.io/library/nginx:1: {E}\n");
        assert_eq!(
            Lock::from_yaml(&spellings).unwrap_err(),
            "images: `nginx:1` (line 3) and `docker.io/library/nginx:1` (line 5) are one image with two digests; keep one"
        );
        let hosts = format!("version: 1\nimages: {{Quay.io/x:1: {D},\n  quay.io/x:1: {E}}}\n");
        assert_eq!(
            Lock::from_yaml(&hosts).unwrap_err(),
            "images: `Quay.io/x:1` (line 2) and `quay.io/x:1` (line 3) are one image with two digests; keep one"
        );
        // Each image once, paired with its first entry; every image with two digests listed.
        let many = format!(
            "version: 1\nimages:\n  a:1: {D}\n  b:1: {D}\n  a:1: {D}\n  \
             index.docker.io/library/a:1: {E}\n  a:1: {E}\n  b:1: {E}\n"
        );
        assert_eq!(
            Lock::from_yaml(&many).unwrap_err(),
            "images: `a:1` (line 3) and `index.docker.io/library/a:1` (line 6) are one image with two digests; \
             `b:1` (line 4) and `b:1` (line 8) are one image with two digests; keep one of each"
        );
    }

    #[test]
    fn one_image_with_one_digest_under_two_spellings_is_one_entry() {
        let text = format!(
            "version: 1\nimages:\n  nginx:1: {D}\n  docker.io/library/nginx:1: {D}\n  nginx:1: {D}\n"
        );
        let lock = Lock::from_yaml(&text).unwrap();
        assert_eq!(
            lock.entries().collect::<Vec<_>>(),
            [("docker.io/library/nginx:1", D)]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_lines_stay_right() {
        let lock = Lock::from_yaml(&format!("\u{feff}version: 1\nimages:\n  nginx:1: {D}\n"));
        assert_eq!(lock.unwrap().entries().count(), 1);
        let text = format!("\u{feff}version: 1\nimages:\n  nginx:1: {D}\n  nginx:1: {E}\n");
        let message = Lock::from_yaml(&text).unwrap_err();
        assert!(
            message.contains("(line 3) and `nginx:1` (line 4)"),
            "{message}"
        );
        let bad = Lock::from_yaml("\u{feff}version: 1\nimagse: {}\n").unwrap_err();
        assert!(bad.contains("unknown field `imagse`"), "{bad}");
        assert!(bad.contains("line 2 column 1"), "{bad}");
    }

    #[test]
    fn keys_are_read_as_written() {
        let text = format!("version: 1\nimages:\n  12345678901234567890123: {D}\n  1.20: {E}\n");
        let lock = Lock::from_yaml(&text).unwrap();
        let keys: Vec<&str> = lock.entries().map(|(key, _)| key).collect();
        assert_eq!(
            keys,
            [
                "docker.io/library/1.20",
                "docker.io/library/12345678901234567890123"
            ]
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("reimage-lockr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("images.lock.yaml");
        std::fs::write(
            &file,
            format!("version: 1\nimages:\n  nginx:1: {D}\n  nginx:1: {E}\n"),
        )
        .unwrap();
        let message = Lock::load(&file).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "lock file {}: images: `nginx:1` (line 3) and `nginx:1` (line 4) are one image with two digests; keep one",
                file.display()
            )
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
