//! Everything a run is asked to do, built once from the command line, the environment and the
//! rules file: the commands read this and nothing else.

use std::path::PathBuf;
use std::time::Duration;

use reimage::digest;
use reimage::error::Error;
use reimage::lock::{Lock, LockError};
use reimage::rules::Rules;

use crate::cli::{Cli, Command, ExplainFormat};

/// The settings of one run.
#[derive(Debug)]
pub struct Settings {
    /// The rules file and the shorthand flags, checked and combined.
    pub rules: Rules,
    /// The options that give rules (`--rules FILE`, `--registry PREFIX`, `--pull-secret NAME`,
    /// `--lock FILE`), as written; a KRM `functionConfig` cannot be given them too.
    pub rule_options: Vec<String>,
    /// What changed, on standard error (`--explain`), in this form.
    pub explain: Option<ExplainFormat>,
    /// No warnings on standard error (the log still gets them).
    pub quiet: bool,
    /// Whether the log asks for the whole report.
    pub logging: bool,
    /// Ask the registries for the digests the lock file lacks while rendering.
    pub resolve: bool,
    /// How the registries are spoken to.
    pub network: digest::Settings,
    /// The rules file `--rules` (or REIMAGE_RULES) named, if any.
    pub rules_file: Option<PathBuf>,
}

impl Settings {
    /// Reads the rules and checks what the command needs of them.
    pub fn new(cli: &Cli) -> Result<Settings, Error> {
        if matches!(cli.command, Some(Command::Init)) && cli.rules.registry.is_none() {
            return Err(Error::NoMirror);
        }
        let rules = match &cli.rules.rules {
            Some(path) => Rules::load(path)?,
            None => Rules::empty(),
        };
        let shorthands = |rules: Rules| {
            rules.with_shorthands(
                cli.rules.registry.as_deref(),
                &cli.rules.pull_secrets,
                cli.rules.lock.as_deref(),
            )
        };
        let rules = if matches!(cli.command, Some(Command::Init)) {
            // `init` writes new rules from the flags, checked on their own; the file lends
            // only where images are found, and its own catch-all does not clash with them.
            shorthands(Rules::empty())?;
            rules
        } else {
            shorthands(rules)?
        };
        let nothing_to_check = rules.policy.is_none() && rules.pull_secrets.remove.is_empty();
        if matches!(cli.command, Some(Command::Check(_))) && nothing_to_check {
            return Err(Error::NoPolicy);
        }
        let mut network = digest::Settings::new(
            cli.network.insecure_registries.clone(),
            cli.network.parallel.map(usize::from),
            cli.network.timeout.map(Duration::from_secs),
        );
        network.ca_files = cli.network.registry_ca_files.clone();
        network.certs_dirs = cli.network.certs_dir.iter().cloned().collect();
        let settings = Settings {
            rules: Rules::empty(),
            rule_options: rule_options(cli)
                .into_iter()
                .map(|(option, value)| format!("{option} {value}"))
                .collect(),
            explain: cli.explain,
            quiet: cli.quiet,
            logging: cli.log.is_some(),
            resolve: cli.network.resolve,
            network,
            rules_file: cli.rules.rules.clone(),
        };
        Ok(settings.with_rules(rules))
    }

    /// These settings with `rules` in place of the command line's (which must be empty, as
    /// they are when a KRM `functionConfig` gives the rules): what their `digests:` says
    /// about registries is added to the command line's.
    pub fn with_rules(&self, rules: Rules) -> Settings {
        let mut network = self.network.clone();
        let mut resolve = self.resolve;
        // The command line's material first, then the rules'.
        if let Some(digests) = &rules.digests {
            network
                .insecure
                .extend(digests.insecure_registries.iter().cloned());
            network.insecure.sort();
            network.insecure.dedup();
            network.ca_files.extend(digests.ca_files.iter().cloned());
            network.certs_dirs.extend(digests.certs_dir.iter().cloned());
            resolve |= digests.resolve;
        }
        Settings {
            rules,
            rule_options: self.rule_options.clone(),
            network,
            resolve,
            rules_file: self.rules_file.clone(),
            ..*self
        }
    }

    /// Whether a render has something to do: rules, a shorthand or `--resolve`. Without, it
    /// would install every image unchanged without a word.
    pub fn asks_for_changes(&self) -> bool {
        !self.rule_options.is_empty() || self.resolve
    }

    /// The lock file the rules name, if any.
    pub fn lock(&self) -> Result<Option<Lock>, Error> {
        match self.lock_file() {
            Some(path) => Ok(Some(Lock::load(&path)?)),
            None => Ok(None),
        }
    }

    /// The lock file the rules name, or none while it does not exist yet.
    pub fn lock_if_present(&self) -> Result<Option<Lock>, Error> {
        match self.lock() {
            Err(Error::Lock(LockError::Read { cause, .. }))
                if cause.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            other => other,
        }
    }

    /// The rules' `digests.lock` (or `--lock`).
    pub fn lock_file(&self) -> Option<PathBuf> {
        self.rules.digests.as_ref().and_then(|d| d.lock.clone())
    }
}

/// Where the rules come from, for the log: the file, then the flags that ask for changes.
pub fn rules_named(cli: &Cli) -> Option<String> {
    let mut parts: Vec<String> = rule_options(cli)
        .into_iter()
        .map(|(option, value)| match option {
            "--rules" => value,
            _ => format!("{option} {value}"),
        })
        .collect();
    if cli.network.resolve {
        parts.push("--resolve".to_string());
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The options that give rules and their values: the file, then the shorthands.
fn rule_options(cli: &Cli) -> Vec<(&'static str, String)> {
    let mut options = Vec::new();
    if let Some(file) = &cli.rules.rules {
        options.push(("--rules", file.display().to_string()));
    }
    if let Some(prefix) = &cli.rules.registry {
        options.push(("--registry", prefix.clone()));
    }
    for name in &cli.rules.pull_secrets {
        options.push(("--pull-secret", name.clone()));
    }
    if let Some(lock) = &cli.rules.lock {
        options.push(("--lock", lock.display().to_string()));
    }
    options
}
