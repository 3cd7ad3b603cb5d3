//! Copying images from the registries a render names to the final references the rules give
//! them, for `reimage mirror`: per image the manifest, or the index and every platform
//! manifest it lists, and every config and layer blob, byte for byte, so the digests stay
//! the ones the source serves and the lock written from the copy pins exactly what the
//! mirror holds.
//!
//! Where images come from is a [`Source`] and where they go a [`Destination`]: the digest
//! layer's registry client is both (see `digest::transfer`), and so is an OCI image layout
//! ([`layout`], as a directory or unpacked from a tar file by [`archive`]), for carrying
//! images across an air gap. Between them, [`copy_all`] copies a
//! bounded number of images at a time:
//!
//! - an image whose destination already serves the source's digest is skipped whole, and a
//!   blob the destination repository already has is not sent again, so a run after an
//!   interruption copies only what is missing;
//! - a blob this run has put in another repository of the same registry (or that sits in the
//!   source repository, when source and destination share a registry) is mounted, not
//!   uploaded;
//! - every blob is streamed to a scratch file while its digest is computed, checked against
//!   the digest its manifest gives, and streamed from that file to the destination, which
//!   checks it again; no blob is held in memory;
//! - every manifest is checked against the digest asked for (or served), and the digest the
//!   destination answers after the push must be the same.
//!
//! Failures are per image; all of them are listed together.

pub mod archive;
mod content;
pub mod layout;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use content::{Content, Descriptor, Manifest, Platform};

use crate::digest::ResolveError;
use crate::reference::Reference;

/// What a blob download saved: its size and the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub size: u64,
    pub digest: String,
}

/// Where images are copied from: a registry, or an OCI layout (`--from oci:DIR`). Every
/// `repo` is a reference whose registry and repository are the ones meant (its tag or digest
/// is not used).
pub trait Source: Sync {
    /// The manifest `image` names (by its digest, else its tag, else `latest`), as served;
    /// `None` when the source does not have it.
    fn manifest(&self, image: &Reference) -> Result<Option<Manifest>, ResolveError>;
    /// Streams the blob into the file `into`.
    fn fetch_blob(
        &self,
        repo: &Reference,
        digest: &str,
        into: &Path,
    ) -> Result<Fetched, ResolveError>;
}

/// Where images are copied to: a registry, or an OCI layout (`--to oci:DIR`).
pub trait Destination: Sync {
    /// The digest of the manifest `image` names, if the destination has it (a HEAD).
    fn manifest_digest(&self, image: &Reference) -> Result<Option<String>, ResolveError>;
    /// Whether the repository has the blob.
    fn has_blob(&self, repo: &Reference, digest: &str) -> Result<bool, ResolveError>;
    /// Asks the registry to mount the blob from `from`, another repository on it; whether it
    /// did (else nothing happened).
    fn mount_blob(
        &self,
        repo: &Reference,
        digest: &str,
        from: &Reference,
    ) -> Result<bool, ResolveError>;
    /// Uploads the file `file` as the blob `digest` (which the registry checks).
    fn push_blob(
        &self,
        repo: &Reference,
        digest: &str,
        file: &Path,
        size: u64,
    ) -> Result<(), ResolveError>;
    /// Puts the manifest under `image`'s tag (or digest); the digest the registry answers.
    fn push_manifest(
        &self,
        image: &Reference,
        manifest: &Manifest,
    ) -> Result<Option<String>, ResolveError>;
}

/// One image to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub source: Reference,
    /// By tag (pushed under it), or by digest.
    pub destination: Reference,
}

/// What the copy of one image did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// The digest of the top manifest (the index of a multi-platform image), the same on
    /// both ends.
    pub digest: String,
    /// Set when `--platform` kept only some platforms of the source's index: the top
    /// manifest is then one the copy made (that platform's manifest, or a smaller index), not
    /// the one the source serves under the tag.
    pub subset: Option<Subset>,
    /// The destination already served it: nothing was sent.
    pub already_there: bool,
    pub manifests: usize,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
    pub blobs_mounted: usize,
    pub blobs_skipped: usize,
    pub bytes_skipped: u64,
}

/// Which platforms of which index a copy kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subset {
    pub platforms: Vec<Platform>,
    /// The digest of the source's index.
    pub index: String,
}

impl fmt::Display for Subset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let platforms: Vec<String> = self.platforms.iter().map(Platform::to_string).collect();
        let what = match self.platforms.len() {
            1 => "its manifest",
            _ => "an index of those alone",
        };
        write!(
            f,
            "{} of the index `{}`: {what}",
            platforms.join(", "),
            self.index
        )
    }
}

/// The copy of every image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// In the order of the pairs.
    pub copied: Vec<Copied>,
    pub elapsed: Duration,
}

impl Outcome {
    /// `copied 3 image(s) (1 already there): 12 blob(s), 48.2 MB copied, 2 mounted, 5 (9.1
    /// MB) skipped, in 4.2 s`.
    pub fn summary(&self) -> String {
        let c = &self.copied;
        let sum = |f: fn(&Copied) -> u64| c.iter().map(f).sum::<u64>();
        let already = c.iter().filter(|c| c.already_there).count();
        format!(
            "copied {} image(s) ({already} already there): {} blob(s), {} copied, {} mounted, {} ({}) skipped, in {:.1} s",
            c.len(),
            sum(|c| c.blobs_copied as u64),
            megabytes(sum(|c| c.bytes_copied)),
            sum(|c| c.blobs_mounted as u64),
            sum(|c| c.blobs_skipped as u64),
            megabytes(sum(|c| c.bytes_skipped)),
            self.elapsed.as_secs_f64()
        ) + &match c.iter().filter(|c| c.subset.is_some()).count() {
            0 => String::new(),
            n => format!("; {n} index(es) cut to the platforms asked for"),
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Why images could not be copied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CopyError {
    /// One image.
    #[error("{from} → {to}: {cause}")]
    Image {
        from: String,
        to: String,
        cause: String,
    },
    /// An OCI layout (`--to`, `--from`) that cannot be used.
    #[error(transparent)]
    Layout(#[from] layout::LayoutError),
    /// Every failure of a run.
    #[error("{} of {total} image(s) could not be copied; no lock file was written (run again: what was copied is not copied twice):\n{}", .failures.len(), list(.failures))]
    Failed {
        total: usize,
        failures: Vec<CopyError>,
    },
}

fn list(failures: &[CopyError]) -> String {
    failures
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What one run knows across images: where blobs already sit on each destination registry.
struct Shared<'r> {
    source: &'r dyn Source,
    destination: &'r dyn Destination,
    /// `--platform`: the platforms of an index to copy; empty for all of them.
    platforms: &'r [Platform],
    scratch: PathBuf,
    /// `(registry, digest)` → a repository of that registry known to hold the blob.
    placed: Mutex<HashMap<(String, String), Reference>>,
    files: AtomicUsize,
    progress: &'r (dyn Fn(&str) + Sync),
}

/// Copies every pair, `parallel` at a time, with blobs staged in `scratch` (a directory
/// that exists); of an index, only the entries for `platforms` when it names any (a copy
/// of every platform keeps the index as it is). `progress` gets one line per image. Returns
/// what each copy did, in order, or every failure.
pub fn copy_all(
    source: &dyn Source,
    destination: &dyn Destination,
    pairs: &[Pair],
    platforms: &[Platform],
    parallel: usize,
    scratch: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Outcome, CopyError> {
    let started = Instant::now();
    let shared = Shared {
        source,
        destination,
        platforms,
        scratch: scratch.to_path_buf(),
        placed: Mutex::new(HashMap::new()),
        files: AtomicUsize::new(0),
        progress,
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Copied, CopyError>)>> = Mutex::new(Vec::new());
    let workers = parallel.clamp(1, pairs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(pair) = pairs.get(index) else {
                    break;
                };
                let result = shared.image(pair, index + 1, pairs.len());
                lock(&results).push((index, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(index, _)| *index);
    let mut copied = Vec::new();
    let mut failures = Vec::new();
    for (_, result) in results {
        match result {
            Ok(c) => copied.push(c),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(CopyError::Failed {
            total: pairs.len(),
            failures,
        });
    }
    Ok(Outcome {
        copied,
        elapsed: started.elapsed(),
    })
}

impl Shared<'_> {
    fn image(&self, pair: &Pair, number: usize, total: usize) -> Result<Copied, CopyError> {
        let fail = |cause: String| CopyError::Image {
            from: pair.source.to_string(),
            to: pair.destination.to_string(),
            cause,
        };
        let started = Instant::now();
        let mut copied = Copied::default();
        let top = self
            .source
            .manifest(&pair.source)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("the source registry does not have it (http 404); check the reference, or the rules that map it".into()))?;
        if let Some(asked) = pair.source.digest() {
            if asked != top.digest {
                return Err(fail(format!(
                    "the source served a manifest whose bytes hash to `{}`, not the `{asked}` asked for",
                    top.digest
                )));
            }
        }
        let (top, subset) = self.select(pair, top).map_err(fail)?;
        copied.digest = top.digest.clone();
        copied.subset = subset;
        let there = self
            .destination
            .manifest_digest(&pair.destination)
            .map_err(|e| fail(e.to_string()))?;
        if there.as_deref() == Some(top.digest.as_str()) {
            copied.already_there = true;
            (self.progress)(&format!(
                "[{number}/{total}] {} is already there ({})",
                pair.destination, top.digest
            ));
            return Ok(copied);
        }
        self.tree(pair, &top, &mut copied).map_err(fail)?;
        let pushed = self
            .destination
            .push_manifest(&pair.destination, &top)
            .map_err(|e| fail(e.to_string()))?;
        check_pushed(pushed, &top).map_err(fail)?;
        copied.manifests += 1;
        let subset = match &copied.subset {
            Some(subset) => format!("; {subset}"),
            None => String::new(),
        };
        (self.progress)(&format!(
            "[{number}/{total}] copied {} → {} ({} manifest(s), {} blob(s) {}, {} mounted, {} skipped{subset}) in {:.1} s",
            pair.source,
            pair.destination,
            copied.manifests,
            copied.blobs_copied,
            megabytes(copied.bytes_copied),
            copied.blobs_mounted,
            copied.blobs_skipped,
            started.elapsed().as_secs_f64()
        ));
        Ok(copied)
    }

    /// The manifest to copy for `top`: itself, unless it is an index and `--platform` keeps
    /// only some of its entries; then the one platform manifest kept (fetched and checked),
    /// or an index of those kept.
    fn select(&self, pair: &Pair, top: Manifest) -> Result<(Manifest, Option<Subset>), String> {
        if self.platforms.is_empty() {
            return Ok((top, None));
        }
        let Content::Index(children) = top.content()? else {
            return Ok((top, None));
        };
        // The entries for real platforms; the others (attestations, entries without a
        // platform) go with what they describe, or with the index when it is kept whole.
        let wanted = |child: &Descriptor| {
            child
                .real_platform()
                .is_some_and(|p| self.platforms.iter().any(|want| want.matches(p)))
        };
        let kept: Vec<&Descriptor> = children.iter().filter(|c| wanted(c)).collect();
        let listed: Vec<String> = children
            .iter()
            .filter_map(Descriptor::real_platform)
            .map(Platform::to_string)
            .collect();
        if kept.len() == listed.len() {
            return Ok((top, None));
        }
        if kept.is_empty() {
            let asked: Vec<String> = self.platforms.iter().map(Platform::to_string).collect();
            return Err(format!(
                "its index lists none of the platforms asked for ({}); it has {}",
                asked.join(", "),
                match listed.is_empty() {
                    true => "no platforms".to_string(),
                    false => listed.join(", "),
                }
            ));
        }
        let made = match kept.as_slice() {
            [child] => self.platform_manifest(&by_digest(&pair.source, &child.digest)?, child)?,
            _ => {
                let describes_kept = |child: &Descriptor| {
                    child
                        .describes
                        .as_ref()
                        .is_some_and(|d| kept.iter().any(|k| &k.digest == d))
                };
                let keep: Vec<usize> = children
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| wanted(c) || describes_kept(c))
                    .map(|(n, _)| n)
                    .collect();
                top.only(&keep)?
            }
        };
        if let Some(pinned) = pair.destination.digest() {
            if pinned != made.digest {
                return Err(format!(
                    "its final reference is pinned to `{pinned}`, but the platforms asked for make `{}`; copy every platform, or pin what the subset makes",
                    made.digest
                ));
            }
        }
        let subset = Subset {
            platforms: kept.iter().filter_map(|c| c.platform.clone()).collect(),
            index: top.digest,
        };
        Ok((made, Some(subset)))
    }

    /// The platform manifest an index entry lists, from `source` (its repository at the
    /// entry's digest), checked against that digest.
    fn platform_manifest(
        &self,
        source: &Reference,
        child: &Descriptor,
    ) -> Result<Manifest, String> {
        let manifest = self
            .source
            .manifest(source)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the source does not have its platform manifest `{}`",
                    child.digest
                )
            })?;
        if manifest.digest != child.digest {
            return Err(format!(
                "the platform manifest `{}` the index lists hashes to `{}` as served",
                child.digest, manifest.digest
            ));
        }
        Ok(manifest)
    }

    /// Everything `manifest` points at, before the manifest itself is pushed: the platform
    /// manifests of an index (each pushed by digest), or the blobs of an image.
    fn tree(&self, pair: &Pair, manifest: &Manifest, copied: &mut Copied) -> Result<(), String> {
        match manifest.content()? {
            Content::Image(blobs) => {
                for blob in blobs {
                    self.blob(pair, &blob, copied)?;
                }
            }
            Content::Index(children) => {
                for child in children {
                    let at = |image: &Reference| by_digest(image, &child.digest);
                    let (source, destination) = (at(&pair.source)?, at(&pair.destination)?);
                    if self
                        .destination
                        .manifest_digest(&destination)
                        .map_err(|e| e.to_string())?
                        .is_some()
                    {
                        continue;
                    }
                    let manifest = self.platform_manifest(&source, &child)?;
                    let inner = Pair {
                        source,
                        destination: destination.clone(),
                    };
                    self.tree(&inner, &manifest, copied)?;
                    let pushed = self
                        .destination
                        .push_manifest(&destination, &manifest)
                        .map_err(|e| e.to_string())?;
                    check_pushed(pushed, &manifest)?;
                    copied.manifests += 1;
                }
            }
        }
        Ok(())
    }

    fn blob(&self, pair: &Pair, blob: &Descriptor, copied: &mut Copied) -> Result<(), String> {
        let registry = self.destination;
        let destination = &pair.destination;
        let key = (destination.registry().into_owned(), blob.digest.clone());
        if registry
            .has_blob(destination, &blob.digest)
            .map_err(|e| e.to_string())?
        {
            copied.blobs_skipped += 1;
            copied.bytes_skipped += blob.size;
            lock(&self.placed)
                .entry(key)
                .or_insert_with(|| destination.clone());
            return Ok(());
        }
        let same_registry = pair.source.registry() == destination.registry();
        let known = lock(&self.placed).get(&key).cloned();
        let same_repository = same_registry && pair.source.repository() == destination.repository();
        let from =
            known.or_else(|| (same_registry && !same_repository).then(|| pair.source.clone()));
        if let Some(from) = from {
            if registry
                .mount_blob(destination, &blob.digest, &from)
                .map_err(|e| e.to_string())?
            {
                copied.blobs_mounted += 1;
                lock(&self.placed).insert(key, destination.clone());
                return Ok(());
            }
        }
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let file = self.scratch.join(format!("blob-{n}"));
        let result = self.through_file(pair, blob, &file);
        let _ = std::fs::remove_file(&file);
        let size = result?;
        copied.blobs_copied += 1;
        copied.bytes_copied += size;
        lock(&self.placed).insert(key, destination.clone());
        Ok(())
    }

    /// Downloads the blob into `file`, checks it, and uploads it: its size.
    fn through_file(&self, pair: &Pair, blob: &Descriptor, file: &Path) -> Result<u64, String> {
        let fetched = self
            .source
            .fetch_blob(&pair.source, &blob.digest, file)
            .map_err(|e| e.to_string())?;
        if fetched.digest != blob.digest {
            return Err(format!(
                "the source served blob `{}` with bytes that hash to `{}`; nothing was pushed",
                blob.digest, fetched.digest
            ));
        }
        if blob.size != 0 && fetched.size != blob.size {
            return Err(format!(
                "the source served blob `{}` with {} bytes, but its manifest says {}; nothing was pushed",
                blob.digest, fetched.size, blob.size
            ));
        }
        self.destination
            .push_blob(&pair.destination, &blob.digest, file, fetched.size)
            .map_err(|e| e.to_string())?;
        Ok(fetched.size)
    }
}

/// `image`'s repository at `digest`.
fn by_digest(image: &Reference, digest: &str) -> Result<Reference, String> {
    Reference::parse(&Reference::compose(image.name(), None, Some(digest)))
        .map_err(|e| format!("`{digest}` is not a digest a reference can hold: {e}"))
}

/// The destination must store the manifest under the digest it had at the source.
fn check_pushed(pushed: Option<String>, manifest: &Manifest) -> Result<(), String> {
    match pushed {
        Some(digest) if digest != manifest.digest => Err(format!(
            "the destination stored the manifest as `{digest}`, not `{}`; it must keep manifests byte for byte",
            manifest.digest
        )),
        _ => Ok(()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
