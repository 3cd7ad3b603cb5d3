//! `reimage init --registry PREFIX`: a starting rules file for the stream on standard input,
//! on standard output.
//!
//! The images are found as `reimage images --source` finds them (the same locate and plan,
//! with only the `paths:` and `scan:` of a `--rules` file, if one is given). Every registry of
//! an image the rules may rewrite gets a `registries:` entry that puts it at `PREFIX/<host>`,
//! where `from: "*"` would put it, so that each can be edited (a `to` of its own, or
//! `keep: true`) and a registry the stream did not use is refused by the policy rather than
//! mirrored unseen. Then a pull secret (`--pull-secret`, default [`DEFAULT_SECRET`]) for the
//! mirror, and a policy that allows the mirror alone. Strings that are only reported get a
//! comment each: where they are, why, and what to do, since the policy checks them too.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;

use reimage::error::Error;
use reimage::locate::ReportOnly;
use reimage::reference;
use reimage::report::{printable, Finding, Report};
use reimage::rules::Rules;

use super::{write_stdout, Session};

/// The pull secret's name when `--pull-secret` is not given.
pub const DEFAULT_SECRET: &str = "mirror-pull";

pub fn run(
    session: &mut Session<'_>,
    prefix: Option<&str>,
    secrets: &[String],
) -> Result<(), Error> {
    let prefix = prefix.ok_or(Error::NoMirror)?;
    let rules = &session.settings.rules;
    // Only where images are found comes from the rules, as for `check --as-is`.
    let find = Rules {
        paths: rules.paths.clone(),
        scan: rules.scan.clone(),
        ..Rules::empty()
    };
    let input = session.read_input()?;
    let report = reimage::preview(&input, &find, None)?;
    let secrets: Vec<&str> = match secrets {
        [] => vec![DEFAULT_SECRET],
        names => names.iter().map(String::as_str).collect(),
    };
    let text = rules_file(&report, prefix, &secrets);
    write_stdout(|stdout| stdout.write_all(text.as_bytes()))
}

/// The rules file for the images of `report`, mirrored under `prefix`.
fn rules_file(report: &Report, prefix: &str, secrets: &[&str]) -> String {
    let hosts = source_hosts(report, prefix);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `reimage init --registry {prefix}`: a start, to read and edit."
    );
    out.push_str("version: 1\n");
    if hosts.is_empty() {
        out.push_str(
            "# No image of the input is outside the mirror, so there is nothing to map.\n",
        );
        out.push_str("registries: []\n");
    } else {
        let _ = writeln!(
            out,
            "# Each registry the input pulls from, at {prefix}/<host> as `from: \"*\"` would put it.\n\
             # A registry missing here is not rewritten, and the policy below then refuses the render:\n\
             # add an entry for it, or `{{from: \"*\", to: {prefix}}}` to mirror every other one."
        );
        out.push_str("registries:\n");
        for host in &hosts {
            let _ = writeln!(
                out,
                "  - from: {host}\n    to: {prefix}/{}",
                host.replace(':', "_")
            );
        }
    }
    out.push_str("# Added to every pod spec that pulls from the mirror.\n");
    out.push_str("pullSecrets:\n  add:\n");
    for name in secrets {
        let _ = writeln!(out, "    - name: {name}");
    }
    let _ = writeln!(out, "policy:\n  allowedRegistries:\n    - {prefix}");
    out.push_str(&reported(report, prefix));
    out
}

/// The registry hosts of the images the rules may rewrite, unless already under `prefix`;
/// as hosts are compared ([`reference::host_key`]), sorted.
fn source_hosts(report: &Report, prefix: &str) -> BTreeSet<String> {
    let mirror = reference::normalize_prefix(prefix).unwrap_or_default();
    report
        .findings
        .iter()
        .filter(|f| f.is_pinnable())
        .filter_map(|f| f.original_reference.as_ref())
        .filter(|r| !reference::is_under(&r.normalized_name(), &mirror))
        .map(|r| r.registry().into_owned())
        .collect()
}

/// A comment block for the strings that are only reported, one entry each, in stream order.
fn reported(report: &Report, prefix: &str) -> String {
    let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.is_reported()).collect();
    if findings.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "# Seen in strings and only reported, never rewritten ({}). The policy checks them too:\n\
         # until each is under {prefix}, `reimage check` and every render refuse the stream.\n",
        findings.len()
    );
    for finding in findings {
        let lines = [
            format!("- `{}` ({})", finding.original, finding.how),
            format!("  in {}, {}", finding.location(), finding.path),
            format!("  {}", advice(finding)),
        ];
        for line in lines {
            let _ = writeln!(out, "# {}", printable(line, false));
        }
    }
    out
}

/// Why a string was only reported, and what to do about it.
fn advice(finding: &Finding) -> String {
    let registry = finding
        .original_reference
        .as_ref()
        .map(|r| r.registry().into_owned())
        .unwrap_or_default();
    match finding.reported_as {
        Some(ReportOnly::Scan) => {
            "`scan:` says `report` for this kind of string; set it to `rewrite` to rewrite it"
                .to_string()
        }
        Some(ReportOnly::Weak) => format!(
            "it may be an image, but neither a registry nor its name says so; if it is one, name \
             its key or flag in `scan.imageKeys` (its registry is {registry})"
        ),
        Some(ReportOnly::Artifact) => format!(
            "a repository without a tag, read as an OCI artifact (a database, a policy bundle); \
             mirror it from {registry} and point the chart's value at the mirror"
        ),
        Some(ReportOnly::Split) => {
            "a repository with its tag (or registry) in another key; mirror the image and set \
             the repository in the chart's values"
                .to_string()
        }
        None => finding.reason.clone().unwrap_or_default(),
    }
}
