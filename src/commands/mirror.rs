//! `reimage mirror`: copy the images a render needs to the final references the rules give
//! them, then write the lock file from what was copied. The copies are exactly the pairs of
//! `images --format mirror`; the lock lists every final reference of the render that has no
//! digest, those copied with the digest copied (the same on both ends), the others asked of
//! their registries as `reimage lock` does. Nothing is written unless every image copied and
//! every digest was found.

use std::path::PathBuf;

use reimage::copy;
use reimage::digest::{self, RegistryClient};
use reimage::error::Error;
use reimage::inventory;
use reimage::lock::{self, Lock};
use reimage::reference::Reference;

use super::pins::wanted;
use super::Session;
use crate::cli::MirrorArgs;

pub fn run(session: &mut Session<'_>, args: &MirrorArgs) -> Result<(), Error> {
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
    let output = args
        .output
        .clone()
        .or_else(|| settings.lock_file())
        .unwrap_or_else(|| PathBuf::from("images.lock.yaml"));
    let client = RegistryClient::new(&settings.network)?;
    let scratch = tempfile::Builder::new()
        .prefix("reimage-mirror-")
        .tempdir()
        .map_err(|cause| Error::WriteFile {
            path: std::env::temp_dir(),
            cause,
        })?;
    let quiet = settings.quiet;
    let progress = |line: &str| {
        if !quiet {
            eprintln!("reimage: {line}");
        }
    };
    let outcome = copy::copy_all(
        &client,
        &pairs,
        settings.network.parallel,
        scratch.path(),
        &progress,
    )?;
    let mut lock = Lock::default();
    let mut explain = Vec::new();
    for (pair, copied) in pairs.iter().zip(&outcome.copied) {
        if pair.destination.digest().is_none() {
            lock.insert(&pair.destination, copied.digest.clone());
            explain.push(format!(
                "lock: {} → {} (copied from `{}`)",
                lock::key(&pair.destination),
                copied.digest,
                pair.source
            ));
        }
    }
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
