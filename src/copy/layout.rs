//! An OCI image layout on disk, to carry images across an air gap: `oci-layout`,
//! `blobs/<algorithm>/<hex>` and `index.json`, whose entries name each image by its final
//! reference in the `org.opencontainers.image.ref.name` annotation (so `skopeo copy
//! oci:DIR:REF docker://REF` reads it too). A [`Destination`] for `mirror --to oci:DIR` and a
//! [`Source`] for `mirror --from oci:DIR`. Blobs are shared by every image, so each is stored
//! once; everything read back is checked against its digest.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{Destination, Fetched, Manifest, Source};
use crate::digest::{ResolveError, Target};
use crate::reference::{self, Reference};

/// The annotation that names an image of the layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// One layout directory.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    /// How messages name the bundle: `oci:DIR`, or `oci-archive:FILE` for an archive unpacked
    /// into `dir`.
    name: String,
    /// `index.json`'s entries by ref name.
    entries: Mutex<BTreeMap<String, Entry>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Entry>,
}

/// A bundle that cannot be read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{bundle}: {problem}")]
pub struct LayoutError {
    /// `oci:DIR` or `oci-archive:FILE`.
    pub bundle: String,
    pub problem: String,
}

impl Layout {
    /// The layout in `dir`, named `name` in messages, created (with its parents) when it does
    /// not exist; the entries of an existing `index.json` are kept, so a bundle can be filled
    /// in several runs.
    pub fn create(dir: &Path, name: &str) -> Result<Layout, LayoutError> {
        let fail = |problem: String| LayoutError {
            bundle: name.to_string(),
            problem,
        };
        std::fs::create_dir_all(dir.join("blobs"))
            .map_err(|e| fail(format!("cannot create the layout: {e}")))?;
        std::fs::write(
            dir.join("oci-layout"),
            b"{\"imageLayoutVersion\":\"1.0.0\"}",
        )
        .map_err(|e| fail(format!("cannot write oci-layout: {e}")))?;
        let entries = match dir.join("index.json").exists() {
            true => read_index(dir, name)?,
            false => BTreeMap::new(),
        };
        Ok(Layout {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            entries: Mutex::new(entries),
        })
    }

    /// The existing layout in `dir`, named `name` in messages.
    pub fn open(dir: &Path, name: &str) -> Result<Layout, LayoutError> {
        if !dir.join("oci-layout").is_file() {
            return Err(LayoutError {
                bundle: name.to_string(),
                problem: "no OCI image layout here (no `oci-layout` file at its top); give the bundle `reimage mirror --to` wrote (a tar file made with `tar -cf FILE DIR` holds it one folder down: unpack it and give `oci:…/DIR`)".into(),
            });
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            entries: Mutex::new(read_index(dir, name)?),
        })
    }

    /// How messages name it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ref names of its images, sorted.
    pub fn refs(&self) -> Vec<String> {
        lock(&self.entries).keys().cloned().collect()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `index.json` (sorted by ref name), through a temporary file renamed over it.
    pub fn finish(&self) -> Result<(), LayoutError> {
        let index = Index {
            schema_version: 2,
            media_type: Some(INDEX_TYPE.into()),
            manifests: lock(&self.entries).values().cloned().collect(),
        };
        let fail = |e: std::io::Error| LayoutError {
            bundle: self.name.clone(),
            problem: format!("cannot write index.json: {e}"),
        };
        let mut text = serde_json::to_vec_pretty(&index).unwrap_or_default();
        text.push(b'\n');
        let partial = self.dir.join("index.json.partial");
        std::fs::write(&partial, text).map_err(fail)?;
        std::fs::rename(&partial, self.dir.join("index.json")).map_err(fail)
    }

    fn blob_path(&self, image: &Reference, digest: &str) -> Result<PathBuf, ResolveError> {
        reference::check_digest(digest)
            .map_err(|e| self.error(image, format!("`{digest}` is not a digest: {e}")))?;
        let (algorithm, hex) = digest.split_once(':').unwrap_or_default();
        Ok(self.dir.join("blobs").join(algorithm).join(hex))
    }

    fn error(&self, image: &Reference, problem: String) -> ResolveError {
        ResolveError::Local {
            target: Box::new(Target {
                image: image.as_str().to_string(),
                registry: self.name.clone(),
                repository: image.repository().into_owned(),
                tag: image
                    .digest()
                    .or(image.tag())
                    .unwrap_or("latest")
                    .to_string(),
            }),
            problem,
        }
    }

    /// Stores `bytes` (or the file `from`) as the blob `digest`, unless it is there already.
    fn store(
        &self,
        image: &Reference,
        digest: &str,
        from: Content<'_>,
    ) -> Result<(), ResolveError> {
        let path = self.blob_path(image, digest)?;
        if path.is_file() {
            return Ok(());
        }
        let write =
            |e: std::io::Error| self.error(image, format!("cannot write {}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        let partial = path.with_extension("partial");
        match from {
            Content::Bytes(bytes) => std::fs::write(&partial, bytes).map_err(write)?,
            Content::File(file) => {
                // The scratch file is removed after the push: moving it is enough, unless
                // it lives on another file system.
                if std::fs::rename(file, &partial).is_err() {
                    std::fs::copy(file, &partial).map_err(write)?;
                }
            }
        }
        std::fs::rename(&partial, &path).map_err(write)
    }
}

enum Content<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

fn read_index(dir: &Path, name: &str) -> Result<BTreeMap<String, Entry>, LayoutError> {
    let fail = |problem: String| LayoutError {
        bundle: name.to_string(),
        problem,
    };
    let text = std::fs::read(dir.join("index.json"))
        .map_err(|e| fail(format!("cannot read index.json: {e}")))?;
    let index: Index = serde_json::from_slice(&text)
        .map_err(|e| fail(format!("index.json is not an OCI index: {e}")))?;
    let mut entries = BTreeMap::new();
    for entry in index.manifests {
        if let Some(name) = entry.annotations.get(REF_NAME).cloned() {
            entries.insert(name, entry);
        }
    }
    Ok(entries)
}

impl Source for Layout {
    fn manifest(&self, image: &Reference) -> Result<Option<Manifest>, ResolveError> {
        let (digest, media_type) = match image.digest() {
            Some(digest) => (digest.to_string(), None),
            None => match lock(&self.entries).get(image.as_str()) {
                Some(entry) => (entry.digest.clone(), Some(entry.media_type.clone())),
                None => return Ok(None),
            },
        };
        let path = self.blob_path(image, &digest)?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(image, format!("cannot read {}: {e}", path.display()))),
        };
        let actual = crate::digest::sha256_of(&bytes);
        if digest.starts_with("sha256:") && actual != digest {
            return Err(self.error(
                image,
                format!("the manifest `{digest}` in the bundle hashes to `{actual}`: it changed in transit; make the bundle again"),
            ));
        }
        let media_type = media_type
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()?
                    .get("mediaType")?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Ok(Some(Manifest {
            media_type,
            bytes,
            digest,
        }))
    }

    fn fetch_blob(
        &self,
        repo: &Reference,
        digest: &str,
        into: &Path,
    ) -> Result<Fetched, ResolveError> {
        let path = self.blob_path(repo, digest)?;
        let read =
            |e: std::io::Error| self.error(repo, format!("cannot read {}: {e}", path.display()));
        let mut file = std::fs::File::open(&path).map_err(read)?;
        let mut hasher = crate::digest::Hasher::new(crate::digest::Algorithm::of(digest));
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(into)
                .map_err(|e| self.error(repo, format!("cannot write {}: {e}", into.display())))?,
        );
        let mut buffer = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(read)?;
            if n == 0 {
                break;
            }
            let chunk = buffer.get(..n).unwrap_or_default();
            hasher.update(chunk);
            std::io::Write::write_all(&mut out, chunk)
                .map_err(|e| self.error(repo, format!("cannot write {}: {e}", into.display())))?;
            size += n as u64;
        }
        std::io::Write::flush(&mut out)
            .map_err(|e| self.error(repo, format!("cannot write {}: {e}", into.display())))?;
        Ok(Fetched {
            size,
            digest: hasher.finish(),
        })
    }
}

impl Destination for Layout {
    fn manifest_digest(&self, image: &Reference) -> Result<Option<String>, ResolveError> {
        if let Some(digest) = image.digest() {
            return Ok(self
                .blob_path(image, digest)?
                .is_file()
                .then(|| digest.to_string()));
        }
        Ok(lock(&self.entries)
            .get(image.as_str())
            .map(|e| e.digest.clone()))
    }

    fn has_blob(&self, repo: &Reference, digest: &str) -> Result<bool, ResolveError> {
        Ok(self.blob_path(repo, digest)?.is_file())
    }

    fn mount_blob(&self, _: &Reference, _: &str, _: &Reference) -> Result<bool, ResolveError> {
        // Every image of the layout shares its blobs: a blob stored is there for all.
        Ok(false)
    }

    fn push_blob(
        &self,
        repo: &Reference,
        digest: &str,
        file: &Path,
        _size: u64,
    ) -> Result<(), ResolveError> {
        self.store(repo, digest, Content::File(file))
    }

    fn push_manifest(
        &self,
        image: &Reference,
        manifest: &Manifest,
    ) -> Result<Option<String>, ResolveError> {
        self.store(image, &manifest.digest, Content::Bytes(&manifest.bytes))?;
        if image.digest().is_none() {
            let entry = Entry {
                media_type: manifest.media_type.clone(),
                digest: manifest.digest.clone(),
                size: manifest.bytes.len() as u64,
                annotations: BTreeMap::from([(REF_NAME.to_string(), image.as_str().to_string())]),
            };
            lock(&self.entries).insert(image.as_str().to_string(), entry);
        }
        Ok(Some(manifest.digest.clone()))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
