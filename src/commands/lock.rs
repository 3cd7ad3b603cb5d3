//! `reimage lock`: resolve the final references of a render and write the lock file that
//! `digests.lock` reads. Three modes: by default the file lists exactly this render's images,
//! keeping the digests it already has for them; `--update` also keeps every other entry;
//! `--refresh` asks the registries again for every image. The file is written whole or not
//! at all (see [`Lock::write`]).

use std::path::{Path, PathBuf};

use reimage::digest::{self, Resolver};
use reimage::error::Error;
use reimage::lock::Lock;
use reimage::reference::Reference;
use reimage::rules::Rules;

use super::pins::{wanted, Wanted};
use super::Session;
use crate::cli::LockArgs;

/// `reimage lock`: resolve and write the lock file; a summary on standard error and in the log.
pub fn run(session: &mut Session<'_>, args: &LockArgs) -> Result<(), Error> {
    let settings = session.settings;
    let output = args
        .output
        .clone()
        .or_else(|| settings.lock_file())
        .unwrap_or_else(|| PathBuf::from("images.lock.yaml"));
    let mode = match (args.update, args.refresh) {
        (true, _) => Mode::Update,
        (_, true) => Mode::Refresh,
        _ => Mode::Fresh,
    };
    let job = LockJob {
        output: &output,
        mode,
        source: args.source,
        parallel: settings.network.parallel,
    };
    let input = session.read_input()?;
    let client = digest::RegistryClient::new(&settings.network)?;
    let outcome = write_lock(&input, &settings.rules, &job, &client)?;
    session.explain(outcome.explain());
    session.summary(outcome.summary(&output));
    Ok(())
}

/// What to do with entries already in the lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Keep the digests of this render's images; drop the other entries.
    #[default]
    Fresh,
    /// Keep every entry; add this render's missing images.
    Update,
    /// Ignore the file; resolve every image of this render.
    Refresh,
}

/// One run of the lock command.
#[derive(Debug, Clone)]
struct LockJob<'a> {
    pub output: &'a Path,
    pub mode: Mode,
    /// Ask the registries the input names, not the final (mirror) references.
    pub source: bool,
    pub parallel: usize,
}

/// What the lock command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LockOutcome {
    /// Lock key, the reference asked about, digest.
    pub resolved: Vec<(String, String, String)>,
    /// Entries taken from the existing file.
    pub kept: usize,
    /// Entries written.
    pub entries: usize,
}

impl LockOutcome {
    /// One line per resolved image, for `--explain`.
    pub fn explain(&self) -> Vec<String> {
        self.resolved
            .iter()
            .map(|(key, asked, digest)| match key == asked {
                true => format!("lock: {key} → {digest}"),
                false => format!("lock: {key} → {digest} (resolved from `{asked}`)"),
            })
            .collect()
    }

    /// The closing line.
    pub fn summary(&self, output: &Path) -> String {
        format!(
            "wrote {}: {} image(s), {} resolved, {} kept from the file",
            output.display(),
            self.entries,
            self.resolved.len(),
            self.kept
        )
    }
}

/// Runs the lock command on rendered `input`.
fn write_lock(
    input: &[u8],
    rules: &Rules,
    job: &LockJob<'_>,
    resolver: &dyn Resolver,
) -> Result<LockOutcome, Error> {
    let report = reimage::preview(input, rules, None)?;
    let wanted = wanted(&report, job.source);
    let existing = existing(job)?;
    let todo: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| job.mode == Mode::Refresh || existing.digest_for(&w.key).is_none())
        .collect();
    let asks: Vec<&Reference> = todo.iter().map(|w| &w.ask).collect();
    let answers =
        digest::resolve_each(resolver, &asks, job.parallel, "; no lock file was written")?;
    let resolved = todo.iter().zip(answers);
    let mut lock = match job.mode {
        Mode::Update => existing.clone(),
        Mode::Fresh | Mode::Refresh => Lock::default(),
    };
    let kept = wanted.len() - todo.len();
    for w in wanted.iter().filter(|_| job.mode == Mode::Fresh) {
        if let Some(digest) = existing.digest_for(&w.key) {
            lock.insert(&w.key, digest.to_string());
        }
    }
    let mut outcome = LockOutcome {
        kept,
        ..LockOutcome::default()
    };
    for (w, r) in resolved {
        lock.insert(&w.key, r.digest.clone());
        outcome
            .resolved
            .push((w.key.to_string(), w.ask.to_string(), r.digest));
    }
    lock.write(job.output)?;
    outcome.entries = lock.entries().count();
    Ok(outcome)
}

/// The entries already in the output file: none for `--refresh` or a missing file.
fn existing(job: &LockJob<'_>) -> Result<Lock, Error> {
    if job.mode == Mode::Refresh || !job.output.exists() {
        return Ok(Lock::default());
    }
    Ok(Lock::load(job.output)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use reimage::digest::{ResolveError, Resolved};
    use std::sync::Mutex;

    /// Answers `sha256:` + 64 times the tag's first character; records what it was asked.
    #[derive(Default)]
    struct Fake(Mutex<Vec<String>>);

    impl Resolver for Fake {
        fn resolve(&self, image: &Reference) -> Result<Resolved, ResolveError> {
            self.0.lock().unwrap().push(image.to_string());
            let c = image.tag().unwrap_or("0").chars().next().unwrap();
            Ok(Resolved {
                digest: format!("sha256:{}", c.to_string().repeat(64)),
            })
        }
    }

    const INPUT: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: 'src.example/a:1'}\n  - {name: b, image: 'src.example/b:2'}\n";

    fn job(file: &Path, mode: Mode, source: bool) -> LockJob<'_> {
        LockJob {
            output: file,
            mode,
            source,
            parallel: 2,
        }
    }

    #[test]
    fn modes_keep_update_and_refresh() {
        let dir = std::env::temp_dir().join(format!("reimage-lockcmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("images.lock.yaml");
        let rules = Rules::from_yaml(
            "version: 1\nregistries: [{from: src.example, to: m.example/s}]\n",
            Path::new(""),
        )
        .unwrap();
        let fake = Fake::default();
        let out = write_lock(
            INPUT.as_bytes(),
            &rules,
            &job(&file, Mode::Fresh, true),
            &fake,
        )
        .unwrap();
        assert_eq!((out.entries, out.resolved.len(), out.kept), (2, 2, 0));
        assert_eq!(
            *fake.0.lock().unwrap(),
            ["src.example/a:1", "src.example/b:2"]
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("version: 1\nimages:\n  m.example/s/a:1: sha256:1111"),
            "{text}"
        );
        let stale = text.replace("m.example/s/b:2", "m.example/s/old:9");
        std::fs::write(&file, &stale).unwrap();
        let out = write_lock(
            INPUT.as_bytes(),
            &rules,
            &job(&file, Mode::Update, false),
            &fake,
        )
        .unwrap();
        assert_eq!((out.entries, out.resolved.len(), out.kept), (3, 1, 1));
        let out = write_lock(
            INPUT.as_bytes(),
            &rules,
            &job(&file, Mode::Fresh, false),
            &fake,
        )
        .unwrap();
        assert_eq!((out.entries, out.resolved.len(), out.kept), (2, 0, 2));
        let out = write_lock(
            INPUT.as_bytes(),
            &rules,
            &job(&file, Mode::Refresh, false),
            &fake,
        )
        .unwrap();
        assert_eq!((out.entries, out.resolved.len(), out.kept), (2, 2, 0));
        assert_eq!(fake.0.lock().unwrap().len(), 5);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
