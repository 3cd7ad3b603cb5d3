//! `reimage mirror`: copy the images a render needs to the final references the rules give
//! them, then write the lock file from what was copied. The copies are exactly the pairs of
//! `images --format mirror`; the lock lists every final reference of the render that has no
//! digest, those copied with the digest copied (the same on both ends), the others asked of
//! their registries as `reimage lock` does. Nothing is written unless every image copied and
//! every digest was found.
//!
//! Across an air gap, `--to oci:DIR` copies into an OCI image layout instead (with the rules
//! and the stream beside the images), and `--from oci:DIR` pushes a layout's images to the
//! final references they are named by and writes the lock from them. `oci-archive:FILE` is
//! the same layout as one tar file, unpacked into a scratch directory beside it while used.

use std::path::PathBuf;

use reimage::copy::archive;
use reimage::copy::layout::{Layout, LayoutError};
use reimage::copy::{self, Destination, Outcome, Pair, Platform, Source};
use reimage::digest::{self, RegistryClient};
use reimage::error::Error;
use reimage::inventory;
use reimage::lock::{self, Lock};
use reimage::reference::Reference;

use super::pins::wanted;
use super::Session;
use crate::cli::{Bundle, MirrorArgs};

/// Where the bundle keeps what it was made from.
const BUNDLE_FILES: &str = "reimage";

pub fn run(session: &mut Session<'_>, args: &MirrorArgs) -> Result<(), Error> {
    if let Some(bundle) = &args.from {
        return from_bundle(session, args, bundle);
    }
    let settings = session.settings;
    let input = session.read_input()?;
    let report = reimage::preview(&input, &settings.rules, None)?;
    let pairs = inventory::copy_pairs(&report)?;
    if args.dry_run {
        return super::write_stdout(|out| {
            use std::io::Write as _;
            for pair in &pairs {
                writeln!(out, "{}\t{}", pair.source, pair.destination)?;
            }
            Ok(())
        });
    }
    let client = RegistryClient::new(&settings.network)?;
    if let Some(bundle) = &args.to {
        let place = Place::new(bundle, true)?;
        let name = bundle.to_string();
        let layout = Layout::create(&place.dir, &name).map_err(copy::CopyError::from)?;
        let outcome = copy_with(session, &client, &layout, &pairs, &args.platforms)?;
        layout.finish().map_err(copy::CopyError::from)?;
        let files = place.dir.join(BUNDLE_FILES);
        let write = |name: &str, bytes: &[u8]| {
            let path = files.join(name);
            std::fs::create_dir_all(&files)
                .and_then(|()| std::fs::write(&path, bytes))
                .map_err(|cause| Error::WriteFile { path, cause })
        };
        write("stream.yaml", &input)?;
        if let Some(rules) = &settings.rules_file {
            let text = std::fs::read(rules).map_err(|cause| Error::WriteFile {
                path: rules.clone(),
                cause,
            })?;
            write("rules.yaml", &text)?;
        }
        place.close()?;
        session.summary(format!(
            "{}; wrote the bundle {name} ({} image(s)); carry it across and run `reimage mirror --from {name}`",
            outcome.summary(),
            layout.refs().len(),
        ));
        return Ok(());
    }
    let outcome = copy_with(session, &client, &client, &pairs, &args.platforms)?;
    let mut lock = Lock::default();
    let mut explain = pinned(&pairs, &outcome, &mut lock);
    // The render's other images (already where the rules want them): their digests as the
    // registries give them.
    let others: Vec<_> = wanted(&report, false)
        .into_iter()
        .filter(|w| lock.digest_for(&w.key).is_none())
        .collect();
    let asks: Vec<&Reference> = others.iter().map(|w| &w.ask).collect();
    let resolved = digest::resolve_each(
        &client,
        &asks,
        settings.network.parallel,
        "; the images were copied, but no lock file was written",
    )?;
    for (w, r) in others.iter().zip(resolved) {
        explain.push(format!("lock: {} → {}", lock::key(&w.key), r.digest));
        lock.insert(&w.key, r.digest);
    }
    write_lock(session, args, &lock, &outcome, explain)
}

/// `--from`: every image of the bundle to the reference it is named by.
fn from_bundle(session: &mut Session<'_>, args: &MirrorArgs, bundle: &Bundle) -> Result<(), Error> {
    let place = Place::new(bundle, false)?;
    let layout = Layout::open(&place.dir, &bundle.to_string()).map_err(copy::CopyError::from)?;
    let mut pairs = Vec::new();
    for name in layout.refs() {
        let reference = Reference::parse(&name).map_err(|e| {
            copy::CopyError::from(LayoutError {
                bundle: bundle.to_string(),
                problem: format!(
                    "index.json names an image `{name}`, which is not a reference: {e}"
                ),
            })
        })?;
        pairs.push(Pair {
            source: reference.clone(),
            destination: reference,
        });
    }
    let client = RegistryClient::new(&session.settings.network)?;
    let outcome = copy_with(session, &layout, &client, &pairs, &args.platforms)?;
    let mut lock = Lock::default();
    let explain = pinned(&pairs, &outcome, &mut lock);
    write_lock(session, args, &lock, &outcome, explain)
}

/// Where a bundle's layout is while it is used: its directory, or for an archive a scratch
/// directory beside the file (so a large bundle needs no room in the temporary directory)
/// that the archive is unpacked into and, for `--to`, packed from again.
struct Place {
    dir: PathBuf,
    archive: Option<(PathBuf, tempfile::TempDir)>,
}

impl Place {
    /// `writing`: for `--to`, where a missing archive is a new, empty bundle.
    fn new(bundle: &Bundle, writing: bool) -> Result<Place, Error> {
        let file = match bundle {
            Bundle::Directory(dir) => {
                return Ok(Place {
                    dir: dir.clone(),
                    archive: None,
                })
            }
            Bundle::Archive(file) => file,
        };
        let parent = archive::beside(file);
        let scratch = tempfile::Builder::new()
            .prefix(".reimage-bundle-")
            .tempdir_in(parent)
            .map_err(|cause| Error::WriteFile {
                path: parent.to_path_buf(),
                cause,
            })?;
        if !writing || file.exists() {
            archive::unpack(file, scratch.path()).map_err(copy::CopyError::from)?;
        }
        Ok(Place {
            dir: scratch.path().to_path_buf(),
            archive: Some((file.clone(), scratch)),
        })
    }

    /// Packs an archive from what is now in the directory; a directory is already written.
    fn close(self) -> Result<(), Error> {
        if let Some((file, scratch)) = &self.archive {
            archive::pack(scratch.path(), file).map_err(copy::CopyError::from)?;
        }
        Ok(())
    }
}

fn copy_with(
    session: &Session<'_>,
    source: &dyn Source,
    destination: &dyn Destination,
    pairs: &[Pair],
    platforms: &[Platform],
) -> Result<Outcome, Error> {
    let scratch = tempfile::Builder::new()
        .prefix("reimage-mirror-")
        .tempdir()
        .map_err(|cause| Error::WriteFile {
            path: std::env::temp_dir(),
            cause,
        })?;
    let shown = Progress::new(session.settings.quiet, pairs.len());
    let progress = |line: &str| shown.line(line);
    let parallel = session.settings.network.parallel;
    Ok(copy::copy_all(
        source,
        destination,
        pairs,
        platforms,
        parallel,
        scratch.path(),
        &progress,
    )?)
}

/// Progress on standard error: a line per image, and on a terminal a bar below the lines,
/// redrawn as images finish and cleared at the end.
struct Progress {
    quiet: bool,
    bar: bool,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    started: std::time::Instant,
}

impl Progress {
    /// The width of the bar, in characters.
    const WIDTH: usize = 30;

    fn new(quiet: bool, total: usize) -> Progress {
        use std::io::IsTerminal as _;
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Progress {
            quiet,
            bar: !quiet && !dumb && std::io::stderr().is_terminal(),
            total,
            done: Default::default(),
            started: std::time::Instant::now(),
        }
    }

    /// One image finished: its line, and the bar again.
    fn line(&self, line: &str) {
        use std::io::Write as _;
        if self.quiet {
            return;
        }
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mut err = std::io::stderr().lock();
        if !self.bar {
            let _ = writeln!(err, "reimage: {line}");
            return;
        }
        let filled = (done * Self::WIDTH)
            .checked_div(self.total)
            .unwrap_or(Self::WIDTH);
        let _ = write!(
            err,
            "\r\x1b[Kreimage: {line}\n[{}{}] {done}/{} image(s), {:.1} s",
            "#".repeat(filled.min(Self::WIDTH)),
            ".".repeat(Self::WIDTH.saturating_sub(filled)),
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.bar && self.done.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            eprint!("\r\x1b[K");
        }
    }
}

/// The copied digests of the pairs pushed by tag, into `lock`; a line for each.
fn pinned(pairs: &[Pair], outcome: &Outcome, lock: &mut Lock) -> Vec<String> {
    let mut explain = Vec::new();
    for (pair, copied) in pairs.iter().zip(&outcome.copied) {
        if pair.destination.digest().is_none() {
            lock.insert(&pair.destination, copied.digest.clone());
            let made = match &copied.subset {
                Some(subset) => format!("; made by the copy: {subset}"),
                None => String::new(),
            };
            explain.push(format!(
                "lock: {} → {} (copied from `{}`{made})",
                lock::key(&pair.destination),
                copied.digest,
                pair.source
            ));
        }
    }
    explain
}

fn write_lock(
    session: &mut Session<'_>,
    args: &MirrorArgs,
    lock: &Lock,
    outcome: &Outcome,
    explain: Vec<String>,
) -> Result<(), Error> {
    let output = args
        .output
        .clone()
        .or_else(|| session.settings.lock_file())
        .unwrap_or_else(|| PathBuf::from("images.lock.yaml"));
    lock.write(&output)?;
    session.explain(explain);
    session.summary(format!(
        "{}; wrote {}: {} image(s)",
        outcome.summary(),
        output.display(),
        lock.entries().count()
    ));
    Ok(())
}
