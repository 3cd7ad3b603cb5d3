//! reimage: a Helm post-renderer that rewrites image references in rendered manifests,
//! editing only the bytes that change.
//!
//! The pipeline, one module per stage:
//! [`stream`] reads the input and splits it into documents →
//! [`locate`] parses each document (`tree`) and finds its images from a table →
//! [`plan`] decides every change ([`rewrite`] applies the [`rules`] and the [`lock`] file to
//! one reference) →
//! [`apply`] turns the plan into byte splices and writes the output →
//! [`patch`] applies the rules' RFC 6902 `patches:` to each document, byte for byte.
//! [`report`] keeps what was seen and done, for `--explain` and `reimage images`, and
//! [`rfc6902`] writes what the image rules did as RFC 6902 JSON Patch;
//! [`policy`] checks it against `policy:` (`reimage check`, and every render).
//! [`krm`] runs it all as a KRM function: the rules from a `ResourceList`'s `functionConfig`,
//! its `items` edited like any `List`'s, and `results` written from the report.
//! [`digest`] asks registries for digests (for `reimage lock` and `--resolve`, which the binary
//! drives); a plain render never uses it, so it never opens a socket.
#![forbid(unsafe_code)]
// Strings are sliced with `get`, which cannot panic on a bad range or a char boundary; tests
// may slice directly.
#![deny(clippy::string_slice)]
#![cfg_attr(test, allow(clippy::string_slice))]

pub mod apply;
pub mod copy;
pub mod digest;
pub mod error;
pub(crate) mod field_path;
pub mod inventory;
pub mod krm;
pub mod locate;
pub mod lock;
pub mod mirrors;
mod parallel;
pub mod patch;
pub mod plan;
pub mod policy;
pub(crate) mod quoting;
pub mod reference;
pub mod report;
pub mod rewrite;
pub mod rfc6902;
pub mod rules;
#[cfg(test)]
mod samples;
pub mod stream;
pub(crate) mod tree;

pub use error::Error;

use crate::locate::Table;
use crate::lock::Lock;
use crate::report::{Finding, Report, SecretNote};
use crate::rewrite::Rewriter;
use crate::rules::Rules;
use crate::stream::Stream;

/// The result of a run: the output stream (the input and its edits) and what was done.
#[derive(Debug)]
pub struct Rendered<'a> {
    pub output: apply::Output<'a>,
    pub report: Report,
}

/// How much of a run's report [`render_with`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every finding and pull-secret note, and the changes as JSON Patch: what `--explain`,
    /// `--log` and `reimage images` read.
    Full,
    /// Only the findings and notes the run itself reads: those it warns about, and those that
    /// break `digests.require` or `policy:`. A whole report costs far more memory than the
    /// stream it describes (a finding and a note take over 1 KB, a tiny Pod 100 bytes), and a
    /// plain render reads nothing else of it.
    Problems,
}

impl Detail {
    /// Whether a run with `rules` keeps `finding` in its report.
    fn keeps_finding(self, finding: &Finding, rules: &Rules) -> bool {
        self == Detail::Full
            || finding.warns()
            || (requires_digests(rules) && finding.lacks_digest())
            || rules
                .policy
                .as_ref()
                .is_some_and(|policy| policy::breaks(finding, policy))
    }

    /// Whether a run with `rules` keeps `note` in its report.
    fn keeps_note(self, note: &SecretNote, rules: &Rules) -> bool {
        self == Detail::Full
            || (rules.policy.is_some() && policy::uses_removed(note, &rules.pull_secrets.remove))
    }
}

/// Runs the whole pipeline on `input` (read → locate → plan → apply), then refuses the result
/// if it breaks `digests.require` or `policy:`.
pub fn render<'a>(
    input: &'a [u8],
    rules: &Rules,
    lock: Option<&Lock>,
) -> Result<Rendered<'a>, Error> {
    render_with(input, rules, lock, Detail::Full)
}

/// [`render`], keeping of the report what `detail` says. The checks read only what
/// [`Detail::Problems`] keeps, so they refuse exactly the same streams either way.
pub fn render_with<'a>(
    input: &'a [u8],
    rules: &Rules,
    lock: Option<&Lock>,
    detail: Detail,
) -> Result<Rendered<'a>, Error> {
    let rendered = run(input, rules, lock, detail, Stages::All)?;
    if requires_digests(rules) {
        require_digests(&rendered.report)?;
    }
    keeps_policy(&rendered.report, rules, "in the rendered stream")?;
    Ok(rendered)
}

/// The pipeline without the policy checks: read → locate → plan → apply.
pub fn render_unchecked<'a>(
    input: &'a [u8],
    rules: &Rules,
    lock: Option<&Lock>,
) -> Result<Rendered<'a>, Error> {
    run(input, rules, lock, Detail::Full, Stages::All)
}

/// What a render would report, without making its edits: read → locate → plan. For finding
/// what to resolve before the one render that edits.
pub fn preview(input: &[u8], rules: &Rules, lock: Option<&Lock>) -> Result<Report, Error> {
    Ok(run(input, rules, lock, Detail::Full, Stages::UpToPlan)?.report)
}

/// How far [`run`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stages {
    /// Read, locate, plan and apply.
    All,
    /// Read, locate and plan: the report, without the edits.
    UpToPlan,
}

/// The pipeline, keeping of the report what `detail` says.
fn run<'a>(
    input: &'a [u8],
    rules: &Rules,
    lock: Option<&Lock>,
    detail: Detail,
    stages: Stages,
) -> Result<Rendered<'a>, Error> {
    let documents = Stream::documents(input)?;
    let text = documents.text();
    let table = Table::new(&rules.paths, rules.scan.clone());
    let rewriter = Rewriter::new(rules, lock);
    // One document at a time (on every core for a long stream), each document's part merged
    // as soon as it is done: memory holds the input, the output, and the tree of each
    // document in flight.
    let work = |document: Stream<'a>| {
        let found = match locate::locate(&document, &table) {
            Ok(found) => found,
            Err(e) => return Some(Err(Error::from(e))),
        };
        let plan = plan::plan(&found, rules, &rewriter);
        let mut report = Report::select(
            &found,
            &plan,
            |finding| detail.keeps_finding(finding, rules),
            |note| detail.keeps_note(note, rules),
        );
        if detail == Detail::Full {
            match rfc6902::patches(&found, &plan) {
                Ok(patches) => report.rfc6902 = patches,
                Err(e) => report.unpatchable = Some(e),
            }
        }
        let part = Part {
            report,
            output: match stages {
                Stages::All => {
                    apply::splices(text, &found, &plan).and_then(|s| apply::apply(text, s))
                }
                Stages::UpToPlan => Ok(apply::Output::unchanged(text)),
            },
        };
        let part = match (stages, rules.patches.is_empty()) {
            (Stages::All, false) => {
                match patched(text, &document, (rules, &table, &rewriter), part) {
                    Ok(part) => part,
                    Err(e) => return Some(Err(e)),
                }
            }
            _ => part,
        };
        (!part.is_empty()).then_some(Ok(part))
    };
    let mut merged = Merged::new(text);
    parallel::for_each_in_order(documents, parallel::threads_for(text.len()), work, |part| {
        merged.add(part?);
        Ok::<(), Error>(())
    })?;
    merged.finish()
}

/// A document's part with the patches applied to its text after the image edits: one edit
/// then replaces the whole document. A document whose image edits cannot be made is left to
/// report that.
fn patched<'a>(
    text: &'a str,
    document: &Stream<'a>,
    (rules, table, rewriter): (&Rules, &Table, &Rewriter<'_>),
    part: Part<'a>,
) -> Result<Part<'a>, Error> {
    let Ok(output) = &part.output else {
        return Ok(part);
    };
    let Some(chunk) = document.chunks().first() else {
        return Ok(part);
    };
    let current = output.text_of(chunk.range.clone());
    let done = patch::document(&current, chunk, &rules.patches)?;
    let mut report = part.report;
    report.patches.extend(done.notes);
    let output = match done.text {
        Some(new) => {
            after_patches(&new, chunk, rules, table, rewriter)?;
            apply::apply(text, vec![apply::Splice::replace(chunk.range.clone(), new)])
        }
        None => part.output,
    };
    Ok(Part { report, output })
}

/// The image rules and the policy over a document the patches changed: nothing the patches
/// wrote may escape them. An image a patch adds (or changes) must be one the rules leave as it
/// is, since they have run already, and every image must keep the policy.
fn after_patches(
    new: &str,
    chunk: &stream::Chunk,
    rules: &Rules,
    table: &Table,
    rewriter: &Rewriter<'_>,
) -> Result<(), Error> {
    let stream = Stream::read(new.as_bytes())?;
    let found = locate::locate(&stream, table)?;
    let plan = plan::plan(&found, rules, rewriter);
    let mut report = Report::new(&found, &plan);
    let shift = chunk.first_line.saturating_sub(1);
    for finding in &mut report.findings {
        finding.document = chunk.number;
        finding.source.clone_from(&chunk.source);
        finding.line += shift;
    }
    let mut changes: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.status == plan::Status::Rewritten)
        .map(|f| {
            format!(
                "  {} {}: `{}` would become `{}`",
                f.location(),
                f.path,
                f.original,
                f.final_value
            )
        })
        .collect();
    changes.extend(
        report
            .secrets
            .iter()
            .filter(|n| !n.added.is_empty() || !n.removed.is_empty())
            .map(|n| {
                format!(
                    "  {} {}: the pull secrets would change (+{:?} -{:?})",
                    n.resource, n.path, n.added, n.removed
                )
            }),
    );
    if !changes.is_empty() {
        return Err(Error::Policy {
            summary: format!(
                "document {}{}: after the patches, the image rules would still change it, but patches apply after them, so this cannot be written; write the final reference (or pull secret) in the patch, or change the image rules",
                chunk.number,
                chunk.source_note()
            ),
            violations: changes,
        });
    }
    keeps_policy(&report, rules, "after the patches")
}

/// `policy:` over a report: every violation, `when` they were found, in one error.
fn keeps_policy(report: &Report, rules: &Rules, when: &str) -> Result<(), Error> {
    let Some(policy) = &rules.policy else {
        return Ok(());
    };
    let violations = policy::violations(report, policy, &rules.pull_secrets.remove);
    if violations.is_empty() {
        return Ok(());
    }
    Err(Error::Policy {
        summary: format!(
            "{} policy violation(s) {when}; nothing was written",
            violations.len()
        ),
        violations: policy::text(&violations)
            .lines()
            .map(|l| format!("  {l}"))
            .collect(),
    })
}

/// What one document adds to a run.
struct Part<'a> {
    report: Report,
    /// The document's edits, or why they cannot be made.
    output: Result<apply::Output<'a>, apply::ApplyError>,
}

impl Part<'_> {
    fn is_empty(&self) -> bool {
        self.report.findings.is_empty()
            && self.report.secrets.is_empty()
            && self.report.patches.is_empty()
            && self.report.rfc6902.is_empty()
            && self.report.unpatchable.is_none()
            && self.output.as_ref().is_ok_and(apply::Output::is_unchanged)
    }
}

/// The parts of a run so far, in stream order.
struct Merged<'a> {
    report: Report,
    output: apply::Output<'a>,
    /// The first edit this tool does not make (an unsupported form), which is reported before
    /// the first pair of edits that conflict.
    unsupported: Option<apply::ApplyError>,
    conflict: Option<apply::ApplyError>,
}

impl<'a> Merged<'a> {
    fn new(text: &'a str) -> Self {
        Merged {
            report: Report::default(),
            output: apply::Output::unchanged(text),
            unsupported: None,
            conflict: None,
        }
    }

    fn add(&mut self, part: Part<'a>) {
        let Part {
            report:
                Report {
                    findings,
                    secrets,
                    patches,
                    rfc6902,
                    unpatchable,
                },
            output,
        } = part;
        if self.report.unpatchable.is_none() {
            self.report.unpatchable = unpatchable;
        }
        self.report.findings.extend(findings);
        self.report.secrets.extend(secrets);
        self.report.patches.extend(patches);
        self.report.rfc6902.extend(rfc6902);
        let failed = output.and_then(|output| self.output.append(output));
        match failed {
            Ok(()) => {}
            Err(e @ apply::ApplyError::Unsupported { .. }) => {
                self.unsupported.get_or_insert(e);
            }
            Err(e) => {
                self.conflict.get_or_insert(e);
            }
        }
    }

    /// The run's result, once every part is in. Invalid YAML in any document has been
    /// reported before this, and before an edit that cannot be made.
    fn finish(self) -> Result<Rendered<'a>, Error> {
        if let Some(e) = self.unsupported.or(self.conflict) {
            return Err(e.into());
        }
        Ok(Rendered {
            output: self.output,
            report: self.report,
        })
    }
}

/// Whether the rules set `digests.require`.
fn requires_digests(rules: &Rules) -> bool {
    rules.digests.as_ref().is_some_and(|d| d.require)
}

/// `digests.require`: every image the rules may pin must end up with a digest. Strings that
/// were only reported are listed apart: no lock entry pins them.
fn require_digests(report: &Report) -> Result<(), Error> {
    let mut missing: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.lacks_digest())
        .map(|f| {
            format!(
                "  {} {}: `{}` has no digest; add it to the lock file, or pin it with `digest:` in `images:`",
                f.location(),
                f.path,
                f.final_value
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let count = missing.len();
    let reported: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.is_reported() && !f.final_value.contains('@'))
        .map(|f| {
            format!(
                "  {} {}: `{}` ({})",
                f.location(),
                f.path,
                f.original,
                f.how
            )
        })
        .collect();
    if !reported.is_empty() {
        missing.push(format!(
            "  also seen in strings and only reported, so never pinned ({}); if they are images, name their keys in `scan.imageKeys` (or pin them in the chart's values):",
            reported.len()
        ));
        missing.extend(reported);
    }
    Err(Error::Policy {
        summary: format!("digests.require is set and {count} image(s) have no digest"),
        violations: missing,
    })
}
