//! What a run saw and did, in owned form: the `--explain` lines, the `images` listings and the
//! warnings all read from here.

use serde::Serialize;

use crate::locate::{Found, Holder, How, ImageSite, ReportOnly, Resource};
use crate::plan::{present_secrets, Decision, Plan, SecretChange, Status};
use crate::reference::Reference;
use crate::rfc6902::{PatchError, ResourcePatch};

/// One image occurrence and what became of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub document: usize,
    /// Where the resource sits in a `List` document ([`Resource::item`]).
    #[serde(skip)]
    pub item: Vec<usize>,
    pub source: Option<String>,
    pub kind: String,
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub path: String,
    /// How it was found: `field`, `env:NAME`, `arg`, `configmap:KEY`, `split`.
    pub how: How,
    pub container: Option<String>,
    pub line: usize,
    pub column: usize,
    pub original: String,
    #[serde(rename = "final")]
    pub final_value: String,
    pub status: Status,
    pub reason: Option<String>,
    /// `original` as a reference; `None` when it is not a valid one.
    #[serde(skip)]
    pub original_reference: Option<Reference>,
    /// `final` as a reference; `None` when it is not a valid one.
    #[serde(skip)]
    pub final_reference: Option<Reference>,
    /// Why it was only reported: `scan`, `weak`, `artifact` or `split`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_as: Option<ReportOnly>,
}

/// The pull secrets of one pod spec or ServiceAccount, and what the run changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNote {
    /// The names its `imagePullSecrets` listed before the run.
    pub present: Vec<String>,
    pub document: usize,
    pub line: usize,
    /// `document N (# Source: file) Kind/ns/name, line L`, with `items[I]` before the
    /// resource when it is an item of a `List` document.
    pub location: String,
    /// `Kind/namespace/name`.
    pub resource: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Where the resource sits in a `List` document ([`Resource::item`]).
    pub item: Vec<usize>,
    pub source: Option<String>,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Everything a run reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub secrets: Vec<SecretNote>,
    /// The operations of `patches:` carried out, in stream order.
    pub patches: Vec<crate::patch::PatchNote>,
    /// The changes as JSON Patch, per resource in stream order (kept only by a run that keeps
    /// the whole report, see [`crate::Detail`]).
    pub rfc6902: Vec<ResourcePatch>,
    /// Why the changes cannot be written as JSON Patch, if they cannot.
    pub unpatchable: Option<PatchError>,
}

impl Report {
    /// Everything `found` and `plan` say but the JSON Patch, which [`crate::rfc6902::patches`]
    /// writes.
    pub fn new(found: &Found<'_>, plan: &Plan) -> Report {
        Report::select(found, plan, |_| true, |_| true)
    }

    /// What `found` and `plan` say (but the JSON Patch), less the findings and pull-secret notes that the `keep`
    /// functions turn down: each is built, asked about and dropped at once, so a report kept
    /// for a few warnings costs no memory for the thousands of images that need none.
    pub fn select(
        found: &Found<'_>,
        plan: &Plan,
        keep_finding: impl Fn(&Finding) -> bool,
        keep_note: impl Fn(&SecretNote) -> bool,
    ) -> Report {
        let mut findings: Vec<Finding> = found
            .images
            .iter()
            .zip(&plan.images)
            .map(|(site, decision)| finding(found, site, decision))
            .filter(|f| keep_finding(f))
            .collect();
        findings.sort_by_key(|f| (f.document, f.line, f.column));
        // Each holder's change, by holder: looked up by index, not searched for, so a List of
        // many pod specs that all change stays linear.
        let mut changes: Vec<Option<&SecretChange>> = vec![None; found.holders.len()];
        for change in &plan.secrets {
            if let Some(slot) = changes.get_mut(change.holder.index()) {
                slot.get_or_insert(change);
            }
        }
        let secrets = found
            .holders
            .iter()
            .zip(changes)
            .map(|(holder, change)| note(found, holder, change))
            .filter(|n| keep_note(n))
            .collect();
        Report {
            findings,
            secrets,
            patches: Vec::new(),
            rfc6902: Vec::new(),
            unpatchable: None,
        }
    }

    /// The changes as JSON Patch ([`crate::rfc6902::text`]).
    pub fn json_patch(&self) -> Result<String, PatchError> {
        match &self.unpatchable {
            Some(e) => Err(e.clone()),
            None => Ok(crate::rfc6902::text(&self.rfc6902)),
        }
    }

    /// One line per change, for `--explain` and `--log`, in the order of the input.
    pub fn explain(&self) -> Vec<String> {
        let images = self
            .findings
            .iter()
            .filter(|f| f.status == Status::Rewritten)
            .map(|f| {
                let line = format!("{} {}: {}", f.location(), f.path, f.change());
                ((f.document, f.line), line)
            });
        let secrets = self.secrets.iter().flat_map(|s| {
            let at = format!("{} {}", s.location, s.path);
            let added = s.added.iter().map(|n| format!("+ {n}"));
            let removed = s.removed.iter().map(|n| format!("- {n}"));
            added
                .chain(removed)
                .map(move |change| ((s.document, s.line), format!("{at}: {change}")))
        });
        let patches = self.patches.iter().map(|p| {
            (
                (p.document, usize::MAX),
                format!("{}: {}", p.location, p.change),
            )
        });
        let mut lines: Vec<_> = images.chain(secrets).chain(patches).collect();
        lines.sort_by_key(|(at, _)| *at);
        lines
            .into_iter()
            .map(|(_, line)| printable(line, false))
            .collect()
    }

    /// One line per reference that was seen but could not be handled: not a valid image
    /// reference, or not safe to change.
    pub fn warnings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter_map(|f| {
                let line = format!("warning: {} {}: {}", f.location(), f.path, f.warning()?);
                Some(printable(line, false))
            })
            .collect()
    }
}

fn finding(found: &Found<'_>, site: &ImageSite, decision: &Decision) -> Finding {
    let resource = found.resource(site.resource);
    let doc = found.doc_of(site.resource);
    let node = doc.tree.node(site.node);
    Finding {
        document: doc.chunk.number,
        item: resource.item.clone(),
        source: resource.source.clone(),
        kind: resource.kind.clone(),
        api_version: resource.api_version.clone(),
        namespace: resource.namespace.clone(),
        name: resource.name.clone(),
        path: site.path.clone(),
        how: site.how.clone(),
        container: site.container.clone(),
        line: node.line,
        column: node.col + 1,
        original: site.value.clone(),
        final_value: decision.value.clone(),
        status: decision.status,
        reason: decision.reason.clone(),
        original_reference: match decision.status {
            Status::Rewritten => Reference::parse(&site.value).ok(),
            _ => decision.reference.clone(),
        },
        final_reference: decision.reference.clone(),
        reported_as: site
            .report_only
            .filter(|_| decision.status == Status::Reported),
    }
}

fn note(found: &Found<'_>, holder: &Holder, change: Option<&SecretChange>) -> SecretNote {
    let resource = found.resource(holder.resource);
    let doc = found.doc_of(holder.resource);
    let line = doc.tree.node(holder.node).line;
    SecretNote {
        present: present_secrets(found, holder.resource, holder.node),
        document: doc.chunk.number,
        line,
        location: location(
            doc.chunk.number,
            resource.source.as_deref(),
            &resource.item,
            &resource_identity(resource),
            line,
        ),
        resource: resource_identity(resource),
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
        namespace: resource.namespace.clone(),
        name: resource.name.clone(),
        item: resource.item.clone(),
        source: resource.source.clone(),
        path: join_path(&holder.path, "imagePullSecrets"),
        added: change.map(|c| c.add.clone()).unwrap_or_default(),
        removed: change.map(|c| c.remove.clone()).unwrap_or_default(),
    }
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`), so that a value from a chart
/// cannot move the cursor, recolour or clear a terminal, or split one report line in two.
/// Line breaks and tabs are kept when `multiline` (error messages of several lines).
pub fn printable(text: String, multiline: bool) -> String {
    let unsafe_char = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if !text.chars().any(unsafe_char) {
        return text;
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl SecretNote {
    /// The names listed after the run.
    pub fn after(&self) -> impl Iterator<Item = &str> {
        let kept = self.present.iter().filter(|n| !self.removed.contains(n));
        self.added.iter().chain(kept).map(String::as_str)
    }
}

impl Finding {
    /// What the run warns about it, if anything: not a valid image reference, not safe to
    /// change, or seen and only reported.
    pub fn warning(&self) -> Option<String> {
        let reason = self.reason.as_deref().unwrap_or_default();
        let original = &self.original;
        match self.status {
            Status::Invalid => Some(format!(
                "`{original}` is not a valid image reference ({reason}); left unchanged"
            )),
            Status::Skipped => Some(format!("`{original}`: {reason}")),
            Status::Reported => Some(format!(
                "`{original}` ({}) was not rewritten: {reason}",
                self.how
            )),
            _ => None,
        }
    }

    /// `old → new (reason)`: what the run made of it.
    pub fn change(&self) -> String {
        let reason = self.reason.as_deref().unwrap_or_default();
        format!("{} → {} ({reason})", self.original, self.final_value)
    }

    /// Whether the run warns about it: not a valid image reference, not safe to change, or
    /// seen and only reported.
    pub fn warns(&self) -> bool {
        matches!(
            self.status,
            Status::Invalid | Status::Skipped | Status::Reported
        )
    }

    /// Whether it is an image the rules may pin whose final value has no digest (what
    /// `digests.require` refuses). Reported strings are never pinned; see
    /// [`Finding::is_reported`].
    pub fn lacks_digest(&self) -> bool {
        self.is_pinnable() && !self.final_value.contains('@')
    }

    /// Whether it is an image the rules may pin: a valid reference, not only reported.
    pub fn is_pinnable(&self) -> bool {
        !matches!(self.status, Status::Invalid | Status::Reported)
    }

    /// Whether it was seen and only reported, never rewritten or pinned.
    pub fn is_reported(&self) -> bool {
        self.status == Status::Reported
    }

    /// `Kind/namespace/name` (the namespace part empty when the object sets none).
    pub fn identity(&self) -> String {
        identity(&self.kind, self.namespace.as_deref(), self.name.as_deref())
    }

    /// `document N (# Source: file) Kind/ns/name, line L`, with `items[I]` before the
    /// resource when it is an item of a `List` document.
    pub fn location(&self) -> String {
        location(
            self.document,
            self.source.as_deref(),
            &self.item,
            &self.identity(),
            self.line,
        )
    }
}

/// `document N (# Source: file) items[I] Kind/ns/name, line L`: where a finding or a patch
/// failure is, in every message.
pub(crate) fn location(
    document: usize,
    source: Option<&str>,
    item: &[usize],
    identity: &str,
    line: usize,
) -> String {
    let source = crate::stream::source_note(source);
    // `items[2]`, or `items[2].items[0]` for a list inside a list.
    let item: Vec<String> = item.iter().map(|i| format!("items[{i}]")).collect();
    let item = if item.is_empty() {
        String::new()
    } else {
        format!(" {}", item.join("."))
    };
    format!("document {document}{source}{item} {identity}, line {line}")
}

/// `Kind/namespace/name`, the namespace part empty when the object sets none.
pub(crate) fn identity(kind: &str, namespace: Option<&str>, name: Option<&str>) -> String {
    format!(
        "{kind}/{}/{}",
        namespace.unwrap_or_default(),
        name.unwrap_or_default()
    )
}

fn resource_identity(resource: &Resource) -> String {
    identity(
        &resource.kind,
        resource.namespace.as_deref(),
        resource.name.as_deref(),
    )
}

fn join_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped() {
        let plain = "document 1 Deployment//web: `nginx:1` → `m.example.com/nginx:1`";
        assert_eq!(printable(plain.to_string(), false), plain);
        assert_eq!(
            printable("`evil\u{1b}[2J:1`\nnext\tcol\r".to_string(), false),
            "`evil\\u{1b}[2J:1`\\nnext\\tcol\\r"
        );
        assert_eq!(
            printable("line one\n\tline \u{7}two".to_string(), true),
            "line one\n\tline \\u{7}two"
        );
    }
}
