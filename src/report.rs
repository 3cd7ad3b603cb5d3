//! What a run saw and did, in owned form: the `--explain` lines, the `images` listings and the
//! warnings all read from here.

use serde::Serialize;

use crate::locate::{Found, Resource};
use crate::plan::{Plan, Status};

/// One image occurrence and what became of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub document: usize,
    pub source: Option<String>,
    pub kind: String,
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub path: String,
    pub container: Option<String>,
    pub line: usize,
    pub column: usize,
    pub original: String,
    #[serde(rename = "final")]
    pub final_value: String,
    pub status: &'static str,
    pub reason: Option<String>,
}

/// One pull secret added to or removed from a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNote {
    pub document: usize,
    pub resource: String,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Everything a run reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub secrets: Vec<SecretNote>,
}

impl Report {
    pub fn new(found: &Found<'_>, plan: &Plan) -> Report {
        let findings = found
            .images
            .iter()
            .zip(&plan.images)
            .map(|(site, decision)| {
                let resource = &found.resources[site.resource];
                let doc = &found.docs[resource.doc];
                let node = doc.tree.node(site.node);
                Finding {
                    document: doc.chunk.number,
                    source: resource.source.clone(),
                    kind: resource.kind.clone(),
                    api_version: resource.api_version.clone(),
                    namespace: resource.namespace.clone(),
                    name: resource.name.clone(),
                    path: site.path.clone(),
                    container: site.container.clone(),
                    line: node.line,
                    column: node.col + 1,
                    original: site.value.clone(),
                    final_value: decision.value.clone(),
                    status: match decision.status {
                        Status::Rewritten => "rewritten",
                        Status::Unchanged => "unchanged",
                        Status::Invalid => "invalid",
                    },
                    reason: decision.reason.clone(),
                }
            })
            .collect();
        let secrets = plan
            .secrets
            .iter()
            .map(|change| {
                let holder = &found.holders[change.holder];
                let resource = &found.resources[holder.resource];
                SecretNote {
                    document: found.docs[resource.doc].chunk.number,
                    resource: identity(resource),
                    path: join_path(&holder.path, "imagePullSecrets"),
                    added: change.add.clone(),
                    removed: change.remove.clone(),
                }
            })
            .collect();
        Report { findings, secrets }
    }

    /// One line per change, for `--explain` and `--log`.
    pub fn explain(&self) -> Vec<String> {
        let images = self
            .findings
            .iter()
            .filter(|f| f.status == "rewritten")
            .map(|f| {
                format!(
                    "document {} {} {}: {} → {} ({})",
                    f.document,
                    f.identity(),
                    f.path,
                    f.original,
                    f.final_value,
                    f.reason.as_deref().unwrap_or_default()
                )
            });
        let secrets =
            self.secrets.iter().flat_map(|s| {
                let added = s.added.iter().map(move |n| {
                    format!("document {} {} {}: + {n}", s.document, s.resource, s.path)
                });
                let removed = s.removed.iter().map(move |n| {
                    format!("document {} {} {}: - {n}", s.document, s.resource, s.path)
                });
                added.chain(removed)
            });
        images.chain(secrets).collect()
    }

    /// One line per reference that is not a valid image reference.
    pub fn warnings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.status == "invalid")
            .map(|f| {
                format!(
                    "warning: {} {}: `{}` is not a valid image reference ({}); left unchanged",
                    f.location(),
                    f.path,
                    f.original,
                    f.reason.as_deref().unwrap_or_default()
                )
            })
            .collect()
    }

    /// Unique references, sorted: the final ones, or (`source`) the ones found.
    pub fn image_list(&self, source: bool) -> Vec<&str> {
        let mut list: Vec<&str> = self
            .findings
            .iter()
            .map(|f| {
                if source {
                    f.original.as_str()
                } else {
                    f.final_value.as_str()
                }
            })
            .collect();
        list.sort_unstable();
        list.dedup();
        list
    }
}

impl Finding {
    /// `Kind/namespace/name` (the namespace part empty when the object sets none).
    pub fn identity(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kind,
            self.namespace.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default()
        )
    }

    /// `document N (# Source: file) Kind/ns/name, line L`.
    pub fn location(&self) -> String {
        let source = self
            .source
            .as_ref()
            .map_or_else(String::new, |s| format!(" (# Source: {s})"));
        format!(
            "document {}{source} {}, line {}",
            self.document,
            self.identity(),
            self.line
        )
    }
}

fn identity(resource: &Resource) -> String {
    format!(
        "{}/{}/{}",
        resource.kind,
        resource.namespace.as_deref().unwrap_or_default(),
        resource.name.as_deref().unwrap_or_default()
    )
}

fn join_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}
