//! Where images live, as data: the built-in rows, and rows the rules file adds.
//!
//! A row names a kind (and the API groups it may come from) and a path from the document root
//! to either an image string or a pod spec. Inside a pod spec, [`POD_SPEC_IMAGES`] says where
//! the images are. `CustomResourceDefinition` documents are never searched: their OpenAPI
//! schemas describe fields called `image`, which are not images.

use crate::locate::FieldPath;
use crate::rules::{CustomPath, PathTarget};

/// What a row's path leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A string that is an image reference.
    Image,
    /// A pod spec: its containers, init containers, ephemeral containers and image volumes.
    PodSpec,
}

/// The API groups a row accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Groups {
    Any,
    OneOf(Vec<String>),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub kind: String,
    pub groups: Groups,
    pub path: FieldPath,
    pub target: Target,
}

/// Kinds never searched, and why.
pub const SKIPPED_KINDS: &[(&str, &str)] = &[(
    "CustomResourceDefinition",
    "its schema describes `image` fields; it holds no images",
)];

/// Whether a document is, by its top-level `kind:` line, one of [`SKIPPED_KINDS`]. Such a
/// document is passed through without being parsed: CRDs are most of the bytes of many streams
/// (an operator bundle is 4 MB of schemas) and nothing in them is ever edited. Only block style
/// is recognised (`kind: CustomResourceDefinition` at column 0); anything else is parsed.
pub fn is_skipped_document(text: &str) -> bool {
    let kinds = text.lines().filter_map(|line| {
        let value = line.strip_prefix("kind:")?;
        let value = value.split(" #").next().unwrap_or_default().trim();
        Some(value.trim_matches(|c| c == '"' || c == '\''))
    });
    let mut kinds = kinds;
    let Some(first) = kinds.next() else {
        return false;
    };
    // A duplicated top-level key: the last one counts, as in Kubernetes.
    let last = kinds.next_back().unwrap_or(first);
    SKIPPED_KINDS.iter().any(|(kind, _)| *kind == last)
}

const CORE: &[&str] = &[""];
const APPS: &[&str] = &["apps", "extensions"];
const BATCH: &[&str] = &["batch"];

/// The built-in workloads: (kind, groups, path to the pod spec).
const WORKLOADS: &[(&str, &[&str], &str)] = &[
    ("Pod", CORE, "spec"),
    ("PodTemplate", CORE, "template.spec"),
    ("ReplicationController", CORE, "spec.template.spec"),
    ("Deployment", APPS, "spec.template.spec"),
    ("ReplicaSet", APPS, "spec.template.spec"),
    ("StatefulSet", APPS, "spec.template.spec"),
    ("DaemonSet", APPS, "spec.template.spec"),
    ("Job", BATCH, "spec.template.spec"),
    ("CronJob", BATCH, "spec.jobTemplate.spec.template.spec"),
];

/// Image fields inside a pod spec: (list of containers or volumes, path inside each item).
pub const POD_SPEC_IMAGES: &[(&str, &str)] = &[
    ("containers", "image"),
    ("initContainers", "image"),
    ("ephemeralContainers", "image"),
    ("volumes", "image.reference"),
];

/// Kinds whose top-level `imagePullSecrets` can hold pull secrets.
pub const SERVICE_ACCOUNT: (&str, &[&str]) = ("ServiceAccount", CORE);

/// The rows searched in every document.
#[derive(Debug, Clone)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// The built-in rows followed by the rules file's `paths:`.
    pub fn new(custom: &[CustomPath]) -> Table {
        let builtin = WORKLOADS.iter().filter_map(|(kind, groups, path)| {
            Some(Row {
                kind: (*kind).to_string(),
                groups: Groups::OneOf(groups.iter().map(|g| (*g).to_string()).collect()),
                path: FieldPath::parse(path).ok()?,
                target: Target::PodSpec,
            })
        });
        let custom = custom.iter().map(|c| {
            let (path, target) = match &c.target {
                PathTarget::Image(path) => (path.clone(), Target::Image),
                PathTarget::PodSpec(path) => (path.clone(), Target::PodSpec),
            };
            Row {
                kind: c.kind.clone(),
                groups: c
                    .group
                    .as_ref()
                    .map_or(Groups::Any, |g| Groups::OneOf(vec![g.clone()])),
                path,
                target,
            }
        });
        Table {
            rows: builtin.chain(custom).collect(),
        }
    }

    /// The rows for a resource of this kind and group.
    pub fn rows_for<'t>(&'t self, kind: &'t str, group: &'t str) -> impl Iterator<Item = &'t Row> {
        self.rows
            .iter()
            .filter(move |row| row.kind == kind && row.groups.accepts(group))
    }
}

impl Groups {
    pub fn accepts(&self, group: &str) -> bool {
        match self {
            Groups::Any => true,
            Groups::OneOf(groups) => groups.iter().any(|g| g == group),
        }
    }
}

/// The API group of an `apiVersion`: `apps/v1` → `apps`, `v1` → `` (core).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_path_parses() {
        assert_eq!(Table::new(&[]).rows.len(), WORKLOADS.len());
        for (_, inner) in POD_SPEC_IMAGES {
            assert!(FieldPath::parse(inner).is_ok());
        }
    }

    #[test]
    fn crds_are_recognised_by_their_kind_line() {
        let crd =
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition # x\nspec: {}\n";
        assert!(is_skipped_document(crd));
        assert!(is_skipped_document("kind: 'CustomResourceDefinition'\n"));
        assert!(!is_skipped_document("kind: Deployment\n"));
        assert!(!is_skipped_document(
            "spec:\n  kind: CustomResourceDefinition\n"
        ));
        assert!(!is_skipped_document(
            "kind: CustomResourceDefinition\nkind: Pod\n"
        ));
        assert!(!is_skipped_document("{kind: CustomResourceDefinition}\n"));
    }

    #[test]
    fn rows_match_kind_and_group() {
        let table = Table::new(&[]);
        assert_eq!(table.rows_for("Deployment", "apps").count(), 1);
        assert_eq!(table.rows_for("Deployment", "example.com").count(), 0);
        assert_eq!(table.rows_for("Pod", "").count(), 1);
        assert_eq!(group_of("batch/v1"), "batch");
        assert_eq!(group_of("v1"), "");
    }
}
