//! The rules: what to rewrite, read from the rules file and the command-line shorthands.
//!
//! The YAML file is first read into the serde mirror in [`file`](mod@file) through `tracked`,
//! which keeps the path of every value (unknown keys refused, with a "did you mean" from
//! `suggest`), then checked and normalised here into the types below, which are what the
//! planner consumes. Every error names the file and the entry (`registries[2]`,
//! `images[0].newTag`), with a line and column when serde_yaml knows it, and says what to do.
//!
//! [`import`] writes a rules file from another tool's image list (kustomize's `images:`).

mod check;
mod convert;
pub mod file;
mod images;
pub mod import;
mod patches;
mod policy;
mod secrets;
pub mod selector;
mod suggest;
#[cfg(test)]
mod tests;
mod tracked;
mod version;

use std::path::{Path, PathBuf};

use crate::field_path::FieldPath;

pub use policy::{Policy, Scan, ScanMode};

/// Everything the rules ask for, checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    /// Registry mapping; the planner picks the rule with the longest matching `from`.
    pub registries: Vec<RegistryRule>,
    /// Per-image overrides, in file order.
    pub images: Vec<ImageOverride>,
    /// Pull secrets to add and remove.
    pub pull_secrets: PullSecrets,
    /// Digest pinning, when asked for.
    pub digests: Option<Digests>,
    /// Extra image locations for custom resources.
    pub paths: Vec<CustomPath>,
    /// What to do with references found inside strings.
    pub scan: Scan,
    /// What every image must satisfy, when a policy is set.
    pub policy: Option<Policy>,
    /// RFC 6902 patches, applied after the image rules, in file order.
    pub patches: Vec<Patch>,
}

/// One entry of `patches:`: the operations, and the resources they apply to.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub target: Target,
    /// Checked RFC 6902 operations: each has the members its `op` needs, and valid pointers.
    pub operations: Vec<json_patch::PatchOperation>,
    /// Position in `patches:`, for messages.
    pub index: usize,
}

/// Which resources a patch applies to; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    /// API group; `Some("")` is the core group.
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    /// `Some("")` matches resources without a namespace.
    pub namespace: Option<String>,
    /// On `metadata.labels`.
    pub labels: Option<selector::LabelSelector>,
    /// On `metadata.annotations`.
    pub annotations: Option<selector::LabelSelector>,
}

/// One entry of `registries:`. A `from` is normalised for comparison (`index.docker.io/x` is
/// `docker.io/x`, `Quay.io` is `quay.io`); a `to` is kept as written, because it is written into
/// the references it rewrites (compare it through [`crate::reference::normalize_prefix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryRule {
    /// Images under `from` move under `to` (which has no tag or digest).
    Map { from: String, to: String },
    /// Images under `from` are never rewritten.
    Keep { from: String },
    /// `from: "*"`: images no other rule matches move below `to`, keeping their source host
    /// as the first path segment.
    CatchAll { to: String },
}

/// One entry of `images:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    /// The normalised image name, such as `docker.io/library/nginx`.
    pub name: String,
    /// Which workloads and containers it applies to.
    pub select: Selector,
    /// What it changes.
    pub change: Change,
    /// Position in `images:`, for messages.
    pub index: usize,
}

/// Limits an override; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// Kind of the workload object.
    pub kind: Option<String>,
    /// Namespace of the workload object.
    pub namespace: Option<String>,
    /// Name of the workload object.
    pub name: Option<String>,
    /// Container name.
    pub container: Option<String>,
}

/// What an override changes; at least one field is `Some`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// New image name as written (checked: no tag or digest).
    pub new_name: Option<String>,
    /// New tag (checked syntax).
    pub new_tag: Option<String>,
    /// Digest to pin, `algorithm:encoded` (checked syntax).
    pub digest: Option<String>,
}

/// `pullSecrets:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullSecrets {
    /// Secrets to add, with the registries that need them.
    pub add: Vec<SecretGrant>,
    /// Secret names to remove.
    pub remove: Vec<String>,
    /// Whether ServiceAccounts are edited too.
    pub service_accounts: bool,
}

/// A secret to add to pod specs that pull from any of `registries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretGrant {
    /// Secret name (DNS-1123 subdomain).
    pub name: String,
    /// Normalised registry prefixes. When the file leaves them out: the hosts of every `to`
    /// (of `Map` and `CatchAll` rules), normalised, deduplicated and sorted.
    pub registries: Vec<String>,
}

/// `digests:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Digests {
    /// Lock file, resolved against the rules file's directory (or, from `--lock`, as given).
    pub lock: Option<PathBuf>,
    /// How pinned references are written.
    pub form: PinForm,
    /// Every image must end up with a digest.
    pub require: bool,
    /// Resolve missing digests from the registries while rendering.
    pub resolve: bool,
    /// Registry hosts spoken to over plain http (lowercase, checked).
    pub insecure_registries: Vec<String>,
    /// CA files trusted for every registry, resolved against the rules file's directory.
    pub ca_files: Vec<PathBuf>,
    /// A `certs.d` folder, resolved against the rules file's directory.
    pub certs_dir: Option<PathBuf>,
}

/// How a pinned reference is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinForm {
    /// `name:tag@sha256:...` (`form: tag+digest`, the default).
    #[default]
    TagAndDigest,
    /// `name@sha256:...` (`form: digest`).
    DigestOnly,
}

/// One entry of `paths:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPath {
    /// Object kind.
    pub kind: String,
    /// API group; `None` matches any group.
    pub group: Option<String>,
    /// What the path leads to.
    pub target: PathTarget,
}

/// Where a custom path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathTarget {
    /// An image string.
    Image(FieldPath),
    /// A pod spec, searched like the built-in ones.
    PodSpec(FieldPath),
}

/// Why the rules could not be used. Messages start with the file (or command-line option).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read rules file {}: {cause}; check the path", file.display())]
    Read {
        file: PathBuf,
        cause: std::io::Error,
    },
    /// YAML syntax, or a value of the wrong type; `message` carries the place.
    #[error("{origin}: {message}")]
    Yaml { origin: String, message: String },
    /// A key the format does not have.
    #[error("{origin}: unknown key `{key}` in {entry}{location}; {hint}")]
    UnknownKey {
        origin: String,
        key: String,
        entry: String,
        location: String,
        hint: String,
    },
    /// A value that breaks a rule of the format; `problem` says what to do.
    #[error("{origin}: {at}: {problem}")]
    Invalid {
        origin: String,
        at: String,
        problem: String,
    },
}

impl Rules {
    /// No rules: the identity transform.
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Reads rules from YAML text; `base_dir` resolves the lock file.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<Rules, RulesError> {
        Rules::from_text(text, base_dir, "rules file", Version::Required)
    }

    /// Reads rules from YAML text whose messages start with `origin` (a KRM
    /// `functionConfig`, say); `base_dir` resolves the lock file and the CA files.
    pub fn from_text(
        text: &str,
        base_dir: &Path,
        origin: &str,
        version: Version,
    ) -> Result<Rules, RulesError> {
        convert::parse(text, base_dir, &Origin::new(origin), version)
    }

    /// Reads the rules file at `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|cause| RulesError::Read {
            file: path.to_path_buf(),
            cause,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let origin = Origin::new(path.display().to_string());
        convert::parse(&text, base_dir, &origin, Version::Required)
    }

    /// Adds the command-line shorthands: `--registry PREFIX` (a CatchAll), `--pull-secret NAME`
    /// (a SecretGrant with default registries), `--lock FILE` (relative to the current
    /// directory; overrides `digests.lock`).
    ///
    /// A grant whose registries were the default set before `--registry` gets the new default
    /// set, so a file grant without `registries:` also covers the `--registry` host.
    pub fn with_shorthands(
        mut self,
        registry: Option<&str>,
        pull_secrets: &[String],
        lock: Option<&Path>,
    ) -> Result<Rules, RulesError> {
        if let Some(prefix) = registry {
            secrets::add_catch_all(&mut self, prefix)?;
        }
        for name in pull_secrets {
            secrets::add_grant(&mut self, name)?;
        }
        if let Some(lock) = lock {
            if lock.as_os_str().is_empty() {
                return Err(Origin::new("--lock").invalid("value", "empty; give the lock file"));
            }
            self.digests.get_or_insert_with(Digests::default).lock = Some(lock.to_path_buf());
        }
        Ok(self)
    }
}

/// Whether rules text must say which version of the format it is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// A rules file: `version: 1` is required.
    Required,
    /// The fields of an object whose `apiVersion` says the version already (a KRM
    /// `functionConfig` of `kind: Rules`): `version` may be left out, and means 1.
    Implied,
}

/// Where rules came from (the file, or a command-line option); makes errors.
#[derive(Debug, Clone)]
pub(crate) struct Origin(String);

impl Origin {
    pub(crate) fn new(name: impl Into<String>) -> Origin {
        Origin(name.into())
    }

    /// A rule broken at `at`.
    pub(crate) fn invalid(&self, at: impl Into<String>, problem: impl Into<String>) -> RulesError {
        RulesError::Invalid {
            origin: self.0.clone(),
            at: at.into(),
            problem: problem.into(),
        }
    }

    /// A failure to read the YAML, reworded.
    pub(crate) fn unreadable(&self, failure: tracked::Failure) -> RulesError {
        let origin = self.0.clone();
        match failure.problem {
            tracked::Problem::UnknownKey { key, expected } => RulesError::UnknownKey {
                origin,
                hint: suggest::hint(&key, &expected),
                key,
                entry: failure.entry.unwrap_or_else(|| "the top level".to_string()),
                location: failure.location,
            },
            tracked::Problem::Other(mut problem) => {
                problem.push_str(advice(&problem));
                let message = match failure.entry {
                    Some(entry) => format!("{entry}{}: {problem}", failure.location),
                    None => format!("{problem}{}", failure.location),
                };
                RulesError::Yaml { origin, message }
            }
        }
    }
}

/// What to do about the serde_yaml errors whose message does not say it.
fn advice(problem: &str) -> &'static str {
    if problem.starts_with("duplicate") {
        "; keep only one of the two"
    } else if problem.contains("more than one document") {
        "; put all the rules in one YAML document, without `---` between them"
    } else if problem.ends_with("expected a boolean") {
        "; write `true` or `false`, unquoted"
    } else {
        ""
    }
}
