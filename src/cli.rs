//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (empty input gives empty output)
  1  a rule or policy failed (digests.require, policy:), or `check` found violations
  2  bad input, bad rules file, bad lock file, or bad usage
On any failure nothing is written to standard output.";

/// Rewrite container image references in rendered Kubernetes manifests (a Helm post-renderer).
///
/// Reads a multi-document YAML stream on standard input and writes it to standard output with
/// image registries rewritten, single images overridden, pull secrets added where needed and
/// digests pinned, as the rules say. Only the bytes that change are touched.
#[derive(Debug, Parser)]
#[command(name = "reimage", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Write one line per change to standard error.
    #[arg(long, global = true)]
    pub explain: bool,
    /// Also append the change report and any error to FILE (Helm 4 discards a plugin's stderr).
    #[arg(long, value_name = "FILE", env = "REIMAGE_LOG", global = true)]
    pub log: Option<PathBuf>,
    /// Do not print warnings (invalid image references left unchanged).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Where the rules come from.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The rules file (see the README for its format).
    #[arg(long, value_name = "FILE", env = "REIMAGE_RULES", global = true)]
    pub rules: Option<PathBuf>,
    /// Mirror every image under PREFIX, keeping its source registry as the first path
    /// segment (the same as `registries: [{from: "*", to: PREFIX}]`).
    #[arg(long, value_name = "PREFIX", global = true)]
    pub registry: Option<String>,
    /// Add this pull secret to every pod spec that pulls from a rewritten registry
    /// (repeatable).
    #[arg(long = "pull-secret", value_name = "NAME", global = true)]
    pub pull_secrets: Vec<String>,
    /// Pin digests from this lock file.
    #[arg(long, value_name = "FILE", global = true)]
    pub lock: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every image reference found, after the rules are applied.
    Images(ImagesArgs),
    /// Check every image found (in strings too) against `policy:` in the rules; exit 1 and
    /// list the violations on standard output if there are any.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check the stream as it is, without applying the rules' registries, overrides and pins
    /// first (for output that reimage has already rendered).
    #[arg(long)]
    pub as_is: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Grouped by resource, with field paths and `# Source:` files.
    Text,
    /// A JSON array of violations.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// List the references as found in the input, before the rules.
    #[arg(long)]
    pub source: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Unique references, sorted, one per line.
    Text,
    /// Every occurrence with its location, as a JSON array.
    Json,
    /// `source<TAB>destination` pairs for `skopeo copy` or `crane copy`.
    Mirror,
    /// A source file for `skopeo sync --src yaml`.
    SkopeoSync,
    /// The `artifacthub.io/images` annotation block for a chart's Chart.yaml.
    HelmAnnotation,
}
