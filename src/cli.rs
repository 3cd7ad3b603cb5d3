//! The command line: clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reimage::copy::Platform;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (empty input gives empty output)
  1  a rule or policy failed (digests.require, policy:), `check` found violations, or a
     registry could not give a digest (`lock`, --resolve), or an image could not be copied
     (`mirror`)
  2  bad input, bad rules file, bad lock file, or bad usage (a render without any rules,
     `check` without a policy, a log file that cannot be written, a CA file or proxy
     variable that cannot be used)
On any failure nothing is written to standard output (a KRM function writes its ResourceList
with an error result).";

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
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Write what changed to standard error: one line per change (`text`, the default), or
    /// the changes as RFC 6902 JSON Patch, per resource (`--explain=json-patch`, the form of
    /// `images --format json-patch`). The log always gets the lines, and `lock` writes its
    /// lines either way.
    #[arg(long, global = true, value_enum, value_name = "FORMAT", num_args = 0..=1,
          require_equals = true, default_missing_value = "text")]
    pub explain: Option<ExplainFormat>,
    /// Also append a header line, the warnings, the change report and any error to FILE (Helm 4
    /// discards a plugin's stderr).
    #[arg(long, value_name = "FILE", env = "REIMAGE_LOG", global = true)]
    pub log: Option<PathBuf>,
    /// Do not print warnings (references seen but not rewritten) on standard error; the log
    /// still gets them.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl Cli {
    /// The command's name, for the log.
    pub fn command_name(&self) -> &'static str {
        match self.command {
            None => "render",
            Some(Command::Images(_)) => "images",
            Some(Command::Lock(_)) => "lock",
            Some(Command::Mirror(_)) => "mirror",
            Some(Command::Check(_)) => "check",
            Some(Command::Schema) => "schema",
            Some(Command::Init) => "init",
            Some(Command::Import(_)) => "import",
            Some(Command::Completions(_)) => "completions",
            Some(Command::Man) => "man",
        }
    }
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

/// Registry access: only `reimage lock` and `--resolve` use the network.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Ask the registries for the digests the lock file lacks while rendering (also
    /// `digests.resolve: true`). Without it, only `reimage lock` opens network connections.
    #[arg(long, global = true)]
    pub resolve: bool,
    /// Talk plain http to this registry host (`host` or `host:port`; repeatable). Loopback
    /// hosts are, unless TLS material is configured for them.
    #[arg(long = "insecure-registry", value_name = "HOST", global = true,
          value_parser = reimage::reference::parse_host)]
    pub insecure_registries: Vec<String>,
    /// Trust the CA certificates in this PEM file for every registry, besides the system
    /// store (repeatable; also `digests.caFiles`). Makes loopback registries speak https.
    #[arg(long = "registry-ca-file", value_name = "FILE", global = true)]
    pub registry_ca_files: Vec<PathBuf>,
    /// Read per-registry TLS material from DIR/HOST[:PORT]/ (`*.crt` CAs, `client.cert` +
    /// `client.key`) before /etc/containers/certs.d and /etc/docker/certs.d (also
    /// `digests.certsDir`).
    #[arg(long = "certs-dir", value_name = "DIR", global = true)]
    pub certs_dir: Option<PathBuf>,
    /// Registry lookups at once [default: 8].
    #[arg(long, value_name = "N", global = true,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: Option<u16>,
    /// Give up on an image after SECONDS, retries included [default: 30; connecting: 10].
    #[arg(long, value_name = "SECONDS", global = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: Option<u64>,
}

/// `reimage lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The lock file to write [default: the rules' `digests.lock`, else images.lock.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep every entry already in the file; resolve only the references it lacks.
    #[arg(long, conflicts_with = "refresh")]
    pub update: bool,
    /// Resolve every reference again, even those the file already has.
    #[arg(long)]
    pub refresh: bool,
    /// Ask the registries the input names instead of the final (mirror) references; the keys
    /// are still the final references. For mirrors that are not filled yet.
    #[arg(long)]
    pub source: bool,
}

/// `reimage mirror`.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The lock file to write [default: the rules' `digests.lock`, else images.lock.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the copies that would be made (`source<TAB>destination`, as `images --format
    /// mirror`) and touch neither the network nor the lock file.
    #[arg(long)]
    pub dry_run: bool,
    /// Copy into an OCI image layout instead of the registries, to carry across an air gap:
    /// every image under its final reference, with the rules and the rendered stream; no lock
    /// is written (the `--from` side writes it). `oci:DIR` is a directory, `oci-archive:FILE`
    /// one tar file; an existing bundle keeps its images and gains the new ones.
    #[arg(long, value_name = "oci:DIR|oci-archive:FILE", value_parser = Bundle::parse, conflicts_with = "from")]
    pub to: Option<Bundle>,
    /// Push the images of a bundle `--to` wrote to their final references, and write the lock
    /// from them; standard input is not read.
    #[arg(long, value_name = "oci:DIR|oci-archive:FILE", value_parser = Bundle::parse, conflicts_with = "dry_run")]
    pub from: Option<Bundle>,
    /// Of a multi-platform image, copy only this platform (os/architecture[/variant];
    /// repeatable). The tag then gets what the copy made — the one platform's manifest, or an
    /// index of the platforms kept — and the lock pins that, saying so; an index whose
    /// platforms are all asked for is copied as it is.
    #[arg(long = "platform", value_name = "OS/ARCH", value_parser = Platform::parse)]
    pub platforms: Vec<Platform>,
}

/// A bundle of images on disk: an OCI image layout, as a directory or as one tar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bundle {
    /// `oci:DIR`.
    Directory(PathBuf),
    /// `oci-archive:FILE`.
    Archive(PathBuf),
}

impl Bundle {
    fn parse(text: &str) -> Result<Bundle, String> {
        let path = |rest: &str| match rest.is_empty() {
            true => Err(format!("`{text}` names no path")),
            false => Ok(PathBuf::from(rest)),
        };
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            return path(rest).map(Bundle::Archive);
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            return path(rest).map(Bundle::Directory);
        }
        Err(format!(
            "`{text}` is neither `oci:DIR` (a directory) nor `oci-archive:FILE` (a tar file)"
        ))
    }
}

impl std::fmt::Display for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bundle::Directory(dir) => write!(f, "oci:{}", dir.display()),
            Bundle::Archive(file) => write!(f, "oci-archive:{}", file.display()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every image reference found, after the rules are applied.
    Images(ImagesArgs),
    /// Resolve the digest of every final image reference from its registry and write the
    /// lock file (atomically; nothing is written if any image fails).
    Lock(LockArgs),
    /// Copy every image whose final reference differs from its source (the pairs of `images
    /// --format mirror`) to that final reference, byte for byte, then write the lock file
    /// from the digests copied (and the others' from their registries), so the install pins
    /// exactly what the mirror holds. Nothing is written unless every image copied.
    Mirror(MirrorArgs),
    /// Check every image found (in strings too) against `policy:` in the rules; exit 1 and
    /// list the violations on standard output if there are any. Rules without a policy are an
    /// error.
    Check(CheckArgs),
    /// Print the JSON Schema of the rules file, for editors and validators (the README shows
    /// how to point an editor at it).
    Schema,
    /// Write a starting rules file for the stream on standard input: every registry it pulls
    /// from mirrored under --registry PREFIX, a pull secret (--pull-secret NAME, default
    /// `mirror-pull`), a policy that allows only the mirror, and a comment on each string that
    /// is only reported.
    Init,
    /// Turn a kustomization's `images:` (or a Flux HelmRelease's
    /// `spec.postRenderers[].kustomize.images`) into a rules file, saying on standard error
    /// what cannot be expressed.
    Import(ImportArgs),
    /// Print a completion script for a shell
    /// (`reimage completions bash > /etc/bash_completion.d/reimage`).
    Completions(CompletionsArgs),
    /// Print the manual page, in roff (`reimage man | man -l -`).
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The kustomization (kustomization.yaml) or the file with the HelmRelease.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
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
    /// Where `--format containerd-hosts` writes its `HOST/hosts.toml` files (created if
    /// missing; the files written are listed on standard error). Only for that format.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// What `--explain` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// One line per change: where, old → new, and which rule.
    Text,
    /// A JSON array of kustomize patch targets and their RFC 6902 operations.
    JsonPatch,
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
    /// What the rules change, as RFC 6902 JSON Patch operations per resource, each with its
    /// kustomize patch target.
    JsonPatch,
    /// containers-registries.conf(5) v2 mirrors for CRI-O, podman and skopeo: a
    /// `[[registry]]` per source prefix the rules move, with its `[[registry.mirror]]`.
    RegistriesConf,
    /// containerd's registry host configuration: one `HOST/hosts.toml` per source registry,
    /// written under `--output-dir DIR` (for containerd's `config_path`).
    ContainerdHosts,
    /// OpenShift `ImageDigestMirrorSet` and `ImageTagMirrorSet` (config.openshift.io/v1).
    Idms,
    /// A Hauler `Images` manifest of the images to copy (`hauler store sync -f FILE`).
    Hauler,
    /// A `zarf.yaml` with one component carrying the images to copy (`zarf package create`).
    Zarf,
    /// An oc-mirror v2 `ImageSetConfiguration` of the images to copy (`oc mirror --v2`).
    OcMirror,
}
