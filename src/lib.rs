//! reimage: a Helm post-renderer that rewrites image references in rendered manifests,
//! editing only the bytes that change.
//!
//! The pipeline, one module per stage:
//! [`stream`] reads the input and splits it into documents →
//! [`locate`] parses each document ([`tree`]) and finds its images from a table →
//! [`plan`] decides every change ([`rewrite`] applies the [`rules`] and the [`lock`] file to
//! one reference) →
//! [`apply`] turns the plan into byte splices and writes the output.
//! [`report`] keeps what was seen and done, for `--explain` and `reimage images`;
//! [`policy`] checks it against `policy:` (`reimage check`, and every render).
#![forbid(unsafe_code)]

pub mod apply;
pub mod error;
pub mod inventory;
pub mod locate;
pub mod lock;
pub mod plan;
pub mod policy;
pub mod reference;
pub mod report;
pub mod rewrite;
pub mod rules;
pub mod stream;
pub mod tree;

pub use error::Error;

use crate::locate::Table;
use crate::lock::Lock;
use crate::report::Report;
use crate::rewrite::Rewriter;
use crate::rules::Rules;
use crate::stream::Stream;

/// The result of a run: the output stream and what was done.
#[derive(Debug)]
pub struct Rendered {
    pub output: Vec<u8>,
    pub report: Report,
}

/// Runs the whole pipeline on `input` (read → locate → plan → apply), then refuses the result
/// if it breaks `digests.require` or `policy:`.
pub fn render(input: &[u8], rules: &Rules, lock: Option<&Lock>) -> Result<Rendered, Error> {
    let rendered = render_unchecked(input, rules, lock)?;
    if rules.digests.as_ref().is_some_and(|d| d.require) {
        require_digests(&rendered.report)?;
    }
    if let Some(policy) = &rules.policy {
        let violations = policy::violations(&rendered.report, policy, &rules.pull_secrets.remove);
        if !violations.is_empty() {
            return Err(Error::Policy {
                rule: "the rendered images break the policy",
                violations: policy::text(&violations)
                    .lines()
                    .map(|l| format!("  {l}"))
                    .collect(),
            });
        }
    }
    Ok(rendered)
}

/// The pipeline without the policy checks: read → locate → plan → apply.
pub fn render_unchecked(
    input: &[u8],
    rules: &Rules,
    lock: Option<&Lock>,
) -> Result<Rendered, Error> {
    let stream = Stream::read(input)?;
    let found = locate::locate(&stream, &Table::new(&rules.paths, rules.scan))?;
    let plan = plan::plan(&found, rules, &Rewriter::new(rules, lock));
    let report = Report::new(&found, &plan);
    let splices = apply::splices(stream.text(), &found, &plan)?;
    let output = apply::apply(stream.text(), splices)?;
    Ok(Rendered { output, report })
}

/// The lock file the rules name, if any.
pub fn load_lock(rules: &Rules) -> Result<Option<Lock>, Error> {
    let Some(path) = rules.digests.as_ref().and_then(|d| d.lock.as_ref()) else {
        return Ok(None);
    };
    Ok(Some(Lock::load(path)?))
}

/// `digests.require`: every final reference must carry a digest.
fn require_digests(report: &Report) -> Result<(), Error> {
    let missing: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.status != "invalid" && !f.final_value.contains('@'))
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
        Ok(())
    } else {
        Err(Error::Policy {
            rule: "digests.require is set and some images have no digest",
            violations: missing,
        })
    }
}
