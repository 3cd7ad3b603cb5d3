//! The policy gate: which images and pull secrets break `policy:`, and the reports that say so
//! (plain text grouped by resource, JSON, and SARIF 2.1.0 for code-scanning tools).
//!
//! It reads the [`Report`] of a run, so every image the locate stage found is checked,
//! including those it only reported.

use serde::Serialize;
use serde_json::json;

use crate::locate::ReportOnly;
use crate::plan::Status;
use crate::reference::is_under;
use crate::report::{Finding, Report, SecretNote};
use crate::rules::Policy;

/// One broken rule at one place.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// `allowedRegistries`, `requireDigest`, `forbidLatest` or `removedPullSecret`.
    pub rule: &'static str,
    pub message: String,
    pub document: usize,
    pub source: Option<String>,
    /// `Kind/namespace/name`.
    pub resource: String,
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// The image (or secret name) at fault.
    pub value: String,
}

/// Every violation of `policy` (and of `pullSecrets.remove`) in a run's report.
pub fn violations(report: &Report, policy: &Policy, removed: &[String]) -> Vec<Violation> {
    let images = report
        .findings
        .iter()
        .flat_map(|f| image_violations(f, policy));
    let secrets = report.secrets.iter().flat_map(|note| {
        removed_in_use(note, removed).map(move |name| Violation {
            rule: "removedPullSecret",
            message: format!(
                "pull secret `{name}` is listed in pullSecrets.remove; it must not be used"
            ),
            document: note.document,
            source: note.source.clone(),
            resource: note.resource.clone(),
            path: note.path.clone(),
            line: note.line,
            column: 1,
            value: name.to_string(),
        })
    });
    let mut all: Vec<Violation> = images.chain(secrets).collect();
    all.sort_by_key(|v| (v.document, v.line, v.column));
    all
}

/// Whether `finding` breaks `policy`.
pub fn breaks(finding: &Finding, policy: &Policy) -> bool {
    !image_violations(finding, policy).is_empty()
}

/// Whether a holder still lists one of the `removed` pull secrets after the run.
pub fn uses_removed(note: &SecretNote, removed: &[String]) -> bool {
    removed_in_use(note, removed).next().is_some()
}

/// The `removed` pull secrets a holder still lists after the run.
fn removed_in_use<'n>(
    note: &'n SecretNote,
    removed: &'n [String],
) -> impl Iterator<Item = &'n str> + 'n {
    note.after()
        .filter(move |name| removed.iter().any(|r| r == name))
}

fn image_violations(finding: &Finding, policy: &Policy) -> Vec<Violation> {
    let image = &finding.final_value;
    let Some(reference) = &finding.final_reference else {
        return Vec::new();
    };
    let name = reference.normalized_name();
    let mut found = Vec::new();
    let allowed = &policy.allowed_registries;
    if !allowed.is_empty() && !allowed.iter().any(|prefix| is_under(&name, prefix)) {
        let list = allowed.join("`, `");
        found.push((
            "allowedRegistries",
            format!(
                "`{image}` is pulled from `{}`, which is not under an allowed registry (`{list}`)",
                reference.registry()
            ),
        ));
    }
    // An artifact is named by its repository alone: only where it comes from is checked.
    let artifact = finding.reported_as == Some(ReportOnly::Artifact);
    if policy.require_digest && reference.digest().is_none() && !artifact {
        found.push((
            "requireDigest",
            format!("`{image}` has no digest; pin it (digests.lock) or resolve it"),
        ));
    }
    let latest = match (reference.tag(), reference.digest()) {
        (Some("latest"), _) => Some("uses the tag `latest`"),
        (None, None) => Some("has no tag, so it means `latest`"),
        _ => None,
    };
    if let (true, Some(what), false) = (policy.forbid_latest, latest, artifact) {
        found.push((
            "forbidLatest",
            format!("`{image}` {what}; give it a fixed tag or a digest"),
        ));
    }
    found
        .into_iter()
        .map(|(rule, message)| {
            let how = match finding.status {
                Status::Reported => format!(" (found in a string: {}, not rewritten)", finding.how),
                _ => String::new(),
            };
            Violation {
                rule,
                message: format!("{message}{how}"),
                document: finding.document,
                source: finding.source.clone(),
                resource: finding.identity(),
                path: finding.path.clone(),
                line: finding.line,
                column: finding.column,
                value: image.clone(),
            }
        })
        .collect()
}

/// Plain text, grouped by resource, in input order.
pub fn text(violations: &[Violation]) -> String {
    let mut out = String::new();
    let mut last: Option<(usize, &str)> = None;
    for v in violations {
        if last != Some((v.document, v.resource.as_str())) {
            let source = v
                .source
                .as_ref()
                .map_or_else(String::new, |s| format!(", # Source: {s}"));
            out.push_str(&format!(
                "{} (document {}{source})\n",
                v.resource, v.document
            ));
            last = Some((v.document, v.resource.as_str()));
        }
        out.push_str(&format!(
            "  line {} {} [{}]: {}\n",
            v.line, v.path, v.rule, v.message
        ));
    }
    out
}

/// The rules of the SARIF report: (id, short description).
const RULES: &[(&str, &str)] = &[
    (
        "allowedRegistries",
        "Image pulled from a registry the policy does not allow",
    ),
    ("requireDigest", "Image without a digest"),
    ("forbidLatest", "Image on the latest tag, or on no tag"),
    (
        "removedPullSecret",
        "Pull secret that the rules remove is still used",
    ),
];

/// A SARIF 2.1.0 log with one run.
pub fn sarif(violations: &[Violation]) -> serde_json::Value {
    let rules: Vec<_> = RULES
        .iter()
        .map(|(id, text)| json!({"id": id, "shortDescription": {"text": text}}))
        .collect();
    let results: Vec<_> = violations.iter().map(sarif_result).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "reimage",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// A result points at the template (`# Source:`) when there is one, else at the stream; the
/// line and column are those of the rendered stream, kept as properties.
fn sarif_result(v: &Violation) -> serde_json::Value {
    let index = RULES
        .iter()
        .position(|(id, _)| *id == v.rule)
        .unwrap_or_default();
    let physical = match &v.source {
        Some(template) => json!({"artifactLocation": {"uri": uri_path(template)}}),
        None => json!({
            "artifactLocation": {"uri": "stdin"},
            "region": {"startLine": v.line, "startColumn": v.column},
        }),
    };
    json!({
        "ruleId": v.rule,
        "ruleIndex": index,
        "level": "error",
        "message": {"text": v.message},
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{"fullyQualifiedName": format!("{}:{}", v.resource, v.path), "kind": "resource"}],
        }],
        "properties": {"document": v.document, "renderedLine": v.line, "renderedColumn": v.column, "value": v.value},
    })
}

/// A `# Source:` path as a relative URI reference (SARIF's `artifactLocation.uri`): every byte
/// but an unreserved character or `/` is percent-encoded, so spaces, `%`, `[`, `:` or non-ASCII
/// names stay valid and cannot be read as a scheme.
fn uri_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use std::path::Path;

    fn check(rules: &str, input: &str) -> Vec<Violation> {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        let rendered = crate::render_unchecked(input.as_bytes(), &rules, None).unwrap();
        let policy = rules.policy.clone().unwrap_or_default();
        violations(&rendered.report, &policy, &rules.pull_secrets.remove)
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  imagePullSecrets: [{name: old}]\n  containers:\n  - name: a\n    image: quay.io/a/b\n    env: [{name: X, value: example/y:1.0}, {name: DB_REPOSITORY, value: ghcr.io/x/db}]\n";

    #[test]
    fn every_rule_is_checked() {
        let found = check("version: 1\npolicy: {allowedRegistries: [m.example.com], requireDigest: true, forbidLatest: true}\n", POD);
        let rules: Vec<_> = found.iter().map(|v| (v.rule, v.value.as_str())).collect();
        assert_eq!(
            rules,
            [
                ("allowedRegistries", "quay.io/a/b"),
                ("requireDigest", "quay.io/a/b"),
                ("forbidLatest", "quay.io/a/b"),
                ("allowedRegistries", "example/y:1.0"),
                ("requireDigest", "example/y:1.0"),
                ("allowedRegistries", "ghcr.io/x/db"),
            ]
        );
        assert!(
            found[3].message.contains("found in a string: env:X"),
            "{}",
            found[3].message
        );
    }

    #[test]
    fn a_mirror_satisfies_the_policy() {
        let rules = "version: 1\nregistries: [{from: '*', to: m.example.com/all}]\nscan: {env: off}\npolicy: {allowedRegistries: [m.example.com]}\n";
        assert!(check(rules, POD).is_empty());
    }

    #[test]
    fn allowed_registries_match_hosts_in_any_case() {
        let pod = POD.replace("quay.io/a/b", "MIRROR.EXAMPLE.COM/all/quay.io/a/b:1");
        let rules =
            "version: 1\nscan: {env: off}\npolicy: {allowedRegistries: [mirror.example.com]}\n";
        assert!(check(rules, &pod).is_empty());
        let rules =
            "version: 1\nscan: {env: off}\npolicy: {allowedRegistries: [Mirror.Example.com/ALL]}\n";
        assert!(
            Rules::from_yaml(rules, Path::new("")).is_err(),
            "a path is not folded"
        );
        let rules = "version: 1\nscan: {env: off}\npolicy: {allowedRegistries: [Mirror.Example.com/other]}\n";
        let found = check(rules, &pod);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .contains("is pulled from `mirror.example.com`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn removed_secrets_still_in_use_are_violations() {
        let as_is = "version: 1\npolicy: {}\n";
        let rules = Rules::from_yaml(as_is, Path::new("")).unwrap();
        let rendered = crate::render_unchecked(POD.as_bytes(), &rules, None).unwrap();
        let found = violations(&rendered.report, &Policy::default(), &["old".to_string()]);
        assert_eq!(found[0].rule, "removedPullSecret");
        let text = text(&found);
        assert!(
            text.starts_with(
                "Pod//p (document 1)\n  line 5 spec.imagePullSecrets [removedPullSecret]"
            ),
            "{text}"
        );
    }
}
