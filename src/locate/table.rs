//! Where images live, as data: the built-in rows, and rows the rules file adds.
//!
//! A row names a kind (and the API groups it may come from) and a path from the document root
//! to either an image string or a pod spec. Inside a pod spec, [`POD_SPEC_IMAGES`] says where
//! the images are. `CustomResourceDefinition` documents are never searched: their OpenAPI
//! schemas describe fields called `image`, which are not images.

pub use super::known::Target;
use super::known::CUSTOM_RESOURCES;
use crate::field_path::FieldPath;
use crate::rules::{CustomPath, PathTarget, Scan};

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

/// Kinds never searched, by their parsed `kind` and API group, and why.
pub const SKIPPED_KINDS: &[(&str, &str, &str)] = &[(
    "CustomResourceDefinition",
    "apiextensions.k8s.io",
    "its schema describes `image` fields; it holds no images",
)];

/// Whether an object of this kind and group is one of [`SKIPPED_KINDS`].
pub fn is_skipped(kind: &str, group: &str) -> bool {
    SKIPPED_KINDS
        .iter()
        .any(|(k, g, _)| *k == kind && *g == group)
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

/// The rows searched in every document, and how far strings are searched.
#[derive(Debug, Clone)]
pub struct Table {
    rows: Vec<Row>,
    pub scan: Scan,
}

impl Table {
    /// The built-in rows, the well-known custom resources, then the rules file's `paths:`.
    pub fn new(custom: &[CustomPath], scan: Scan) -> Table {
        let builtin = WORKLOADS.iter().map(|(kind, groups, path)| {
            let groups = groups.iter().map(|g| (*g).to_string()).collect();
            (*kind, Groups::OneOf(groups), Target::PodSpec, *path)
        });
        let known = CUSTOM_RESOURCES
            .iter()
            .flat_map(|(group, kinds, target, path)| {
                kinds.iter().map(|kind| {
                    (
                        *kind,
                        Groups::OneOf(vec![(*group).to_string()]),
                        target.clone(),
                        *path,
                    )
                })
            });
        let rows = builtin
            .chain(known)
            .filter_map(|(kind, groups, target, path)| {
                Some(Row {
                    kind: kind.to_string(),
                    groups,
                    path: FieldPath::parse(path).ok()?,
                    target,
                })
            });
        let custom = custom.iter().map(|c| {
            let (path, target) = match &c.target {
                PathTarget::Image(path) => (path.clone(), Target::Image),
                PathTarget::PodSpec(path) => (path.clone(), Target::PodSpec),
            };
            let groups = c
                .group
                .as_ref()
                .map_or(Groups::Any, |g| Groups::OneOf(vec![g.clone()]));
            Row {
                kind: c.kind.clone(),
                groups,
                path,
                target,
            }
        });
        Table {
            rows: rows.chain(custom).collect(),
            scan,
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
        let rows: usize = CUSTOM_RESOURCES
            .iter()
            .map(|(_, kinds, _, _)| kinds.len())
            .sum();
        assert_eq!(
            Table::new(&[], Scan::default()).rows.len(),
            WORKLOADS.len() + rows
        );
        for (_, inner) in POD_SPEC_IMAGES {
            assert!(FieldPath::parse(inner).is_ok());
        }
    }

    #[test]
    fn only_real_crds_are_skipped() {
        assert!(is_skipped(
            "CustomResourceDefinition",
            "apiextensions.k8s.io"
        ));
        assert!(!is_skipped("CustomResourceDefinition", "example.com"));
        assert!(!is_skipped("Deployment", "apps"));
    }

    #[test]
    fn rows_match_kind_and_group() {
        let table = Table::new(&[], Scan::default());
        assert_eq!(table.rows_for("Deployment", "apps").count(), 1);
        assert_eq!(table.rows_for("Deployment", "example.com").count(), 0);
        assert_eq!(table.rows_for("Pod", "").count(), 1);
        assert_eq!(group_of("batch/v1"), "batch");
        assert_eq!(group_of("v1"), "");
    }
}
