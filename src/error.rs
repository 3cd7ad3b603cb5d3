//! The errors of a run, one variant per stage, and the exit code each maps to.

use crate::apply::ApplyError;
use crate::locate::LocateError;
use crate::lock::LockError;
use crate::rules::RulesError;
use crate::stream::StreamError;

/// Exit code: the rules or policy refused the input.
pub const EXIT_POLICY: i32 = 1;
/// Exit code: bad input, bad rules or bad usage.
pub const EXIT_INPUT: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// `reimage import` cannot read its file.
    #[error(transparent)]
    Import(#[from] crate::rules::import::ImportError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A patch of `patches:` failed or cannot be made in place.
    #[error(transparent)]
    Patch(#[from] crate::patch::PatchError),
    /// A KRM `ResourceList` that cannot be run as a function (no rules, rules twice).
    #[error(transparent)]
    Function(#[from] crate::krm::FunctionError),
    /// `reimage images` cannot write the list asked for.
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    /// The changes cannot be written as JSON Patch (`--format json-patch`).
    #[error(transparent)]
    JsonPatch(#[from] crate::rfc6902::PatchError),
    /// Images could not be copied (`reimage mirror`).
    #[error(transparent)]
    Copy(#[from] crate::copy::CopyError),
    /// Registries could not give some digests (`reimage lock`, `--resolve`).
    #[error(transparent)]
    Resolve(#[from] crate::digest::ResolveError),
    /// A policy the rules set was broken: what, then every violation, one per line.
    #[error("{summary}:\n{}", .violations.join("\n"))]
    Policy {
        summary: String,
        violations: Vec<String>,
    },
    /// `reimage check` found violations (listed on standard output).
    #[error("{0} policy violation(s); see the report on standard output")]
    Violations(usize),
    #[error("cannot read standard input: {0}")]
    Input(std::io::Error),
    #[error("cannot write standard output: {0}")]
    Output(std::io::Error),
    /// A render was asked for without any rules.
    #[error("no rules given, so nothing would change: pass --rules FILE (or set REIMAGE_RULES), or --registry PREFIX, --pull-secret NAME, --lock FILE or --resolve; a rules file with only `version: 1` renders the input unchanged")]
    NoRules,
    /// `reimage check` was asked for with rules that set no policy.
    #[error("the rules set no `policy:`, so there is nothing to check; add `policy:` (allowedRegistries, requireDigest, forbidLatest) to the rules file")]
    NoPolicy,
    /// `--output-dir` given without `--format containerd-hosts`, or that format without it.
    #[error("{0}")]
    OutputDir(&'static str),
    /// A file of `--output-dir` could not be written.
    #[error("cannot write {}: {cause}", path.display())]
    WriteFile {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    /// `reimage init` was asked for without the mirror to move the images under.
    #[error("`init` needs the mirror to move every image under: pass --registry PREFIX, such as `--registry harbor.example.com/mirror`")]
    NoMirror,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Resolve(e) if e.is_setup() => EXIT_INPUT,
            Error::Policy { .. } | Error::Violations(_) | Error::Resolve(_) | Error::Copy(_) => {
                EXIT_POLICY
            }
            _ => EXIT_INPUT,
        }
    }
}
