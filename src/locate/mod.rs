//! Stage 2, locate: parse each document and find every image reference and every place that
//! holds pull secrets, by following the rows of the [`table`].
//!
//! Render, `images` and every report consume the same [`Found`]; nothing else walks documents.

pub mod path;
pub mod table;

pub use path::{FieldPath, PathError, Step};
pub use table::{Table, Target};

use crate::stream::{Chunk, Stream};
use crate::tree::{Kind, NodeId, Origin, SyntaxError, Tree};

/// Helm 4 names the template a document came from in this annotation.
pub const HELM_FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// Everything the locate stage saw.
#[derive(Debug)]
pub struct Found<'a> {
    pub docs: Vec<Doc<'a>>,
    pub resources: Vec<Resource>,
    pub images: Vec<ImageSite>,
    pub holders: Vec<Holder>,
}

/// One parsed YAML document and the chunk of the stream it came from.
#[derive(Debug)]
pub struct Doc<'a> {
    pub chunk: Chunk,
    pub tree: Tree<'a>,
}

/// A Kubernetes object: a document, or an item of a `*List` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Index into [`Found::docs`].
    pub doc: usize,
    pub kind: String,
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The template file, from Helm's `# Source:` comment or Helm 4's filename annotation.
    pub source: Option<String>,
}

/// An image reference found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    /// Index into [`Found::resources`].
    pub resource: usize,
    /// The value node (an alias node when the field is `*name`).
    pub node: NodeId,
    /// The field, with list indices: `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The `name` of the container (or volume) the image belongs to.
    pub container: Option<String>,
    /// The pod spec this image is pulled by: index into [`Found::holders`].
    pub holder: Option<usize>,
    /// The string as Kubernetes reads it (aliases resolved).
    pub value: String,
}

/// A mapping whose `imagePullSecrets` list decides which secrets pull its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub resource: usize,
    pub node: NodeId,
    /// `spec.template.spec`, or `` for a ServiceAccount.
    pub path: String,
    pub is_service_account: bool,
}

/// A document is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}{}: invalid YAML at line {}, column {}: {}", template_suffix(.template), .error.line, .error.column, .error.message)]
pub struct LocateError {
    pub document: usize,
    /// The `# Source:` template of the document.
    pub template: Option<String>,
    pub error: SyntaxError,
}

fn template_suffix(template: &Option<String>) -> String {
    template
        .as_ref()
        .map_or_else(String::new, |s| format!(" (# Source: {s})"))
}

/// Parses every document of the stream and finds what the table describes.
pub fn locate<'a>(stream: &Stream<'a>, table: &Table) -> Result<Found<'a>, LocateError> {
    let mut found = Found {
        docs: Vec::new(),
        resources: Vec::new(),
        images: Vec::new(),
        holders: Vec::new(),
    };
    for chunk in stream.chunks() {
        if table::is_skipped_document(stream.chunk_text(chunk)) {
            continue;
        }
        let origin = Origin {
            offset: chunk.range.start,
            first_line: chunk.first_line,
        };
        let trees =
            Tree::parse_all(stream.chunk_text(chunk), origin).map_err(|error| LocateError {
                document: chunk.number,
                template: chunk.source.clone(),
                error,
            })?;
        for tree in trees {
            let doc = found.docs.len();
            let root = tree.root();
            found.docs.push(Doc {
                chunk: chunk.clone(),
                tree,
            });
            if let Some(root) = root {
                Walker {
                    found: &mut found,
                    table,
                    doc,
                }
                .object(root, 0);
            }
        }
    }
    Ok(found)
}

/// Lists inside lists are followed this deep at most (a `List` of `List`s is already unusual).
const MAX_LIST_DEPTH: usize = 4;

struct Walker<'f, 'a, 't> {
    found: &'f mut Found<'a>,
    table: &'t Table,
    doc: usize,
}

impl Walker<'_, '_, '_> {
    fn tree(&self) -> &Tree<'_> {
        &self.found.docs[self.doc].tree
    }

    /// A Kubernetes object at `node`: record it, then search it.
    fn object(&mut self, node: NodeId, depth: usize) {
        let tree = self.tree();
        let node = tree.resolve(node);
        if !matches!(tree.node(node).kind, Kind::Map { .. }) {
            return;
        }
        let kind = tree.get_str(node, "kind").unwrap_or_default().to_string();
        if table::SKIPPED_KINDS.iter().any(|(k, _)| *k == kind) {
            return;
        }
        let api_version = tree
            .get_str(node, "apiVersion")
            .unwrap_or_default()
            .to_string();
        if kind.ends_with("List") && depth < MAX_LIST_DEPTH {
            if let Some(items) = tree.get(node, "items") {
                let items = tree.items(tree.resolve(items)).to_vec();
                for item in items {
                    self.object(item, depth + 1);
                }
                return;
            }
        }
        let resource = self.resource(node, kind.clone(), api_version.clone());
        let group = table::group_of(&api_version).to_string();
        let rows: Vec<_> = self.table.rows_for(&kind, &group).cloned().collect();
        for row in rows {
            for (target, path) in self.follow(node, &row.path, "") {
                match row.target {
                    Target::Image => self.image(resource, target, path, None, None),
                    Target::PodSpec => self.pod_spec(resource, target, path),
                }
            }
        }
        let (sa_kind, sa_groups) = table::SERVICE_ACCOUNT;
        if kind == sa_kind && sa_groups.contains(&group.as_str()) {
            self.found.holders.push(Holder {
                resource,
                node,
                path: String::new(),
                is_service_account: true,
            });
        }
    }

    fn resource(&mut self, node: NodeId, kind: String, api_version: String) -> usize {
        let tree = self.tree();
        let metadata = tree.get(node, "metadata").map(|m| tree.resolve(m));
        let meta = |key: &str| {
            metadata
                .and_then(|m| tree.get_str(m, key))
                .map(str::to_string)
        };
        let annotation = metadata
            .and_then(|m| tree.get(m, "annotations"))
            .and_then(|a| tree.get_str(tree.resolve(a), HELM_FILENAME_ANNOTATION))
            .map(str::to_string);
        let resource = Resource {
            doc: self.doc,
            kind,
            api_version,
            namespace: meta("namespace"),
            name: meta("name"),
            source: self.found.docs[self.doc]
                .chunk
                .source
                .clone()
                .or(annotation),
        };
        self.found.resources.push(resource);
        self.found.resources.len() - 1
    }

    fn pod_spec(&mut self, resource: usize, node: NodeId, path: String) {
        let tree = self.tree();
        if !matches!(tree.node(node).kind, Kind::Map { .. }) {
            return;
        }
        let holder = self.found.holders.len();
        self.found.holders.push(Holder {
            resource,
            node,
            path: path.clone(),
            is_service_account: false,
        });
        for (list, inner) in table::POD_SPEC_IMAGES {
            let Some(items) = self.tree().get(node, list) else {
                continue;
            };
            let items = self.tree().items(self.tree().resolve(items)).to_vec();
            let Ok(inner) = FieldPath::parse(inner) else {
                continue;
            };
            for (index, item) in items.into_iter().enumerate() {
                let item = self.tree().resolve(item);
                let name = self.tree().get_str(item, "name").map(str::to_string);
                let base = format!("{path}.{list}[{index}]");
                for (target, path) in self.follow(item, &inner, &base) {
                    self.image(resource, target, path, name.clone(), Some(holder));
                }
            }
        }
    }

    fn image(
        &mut self,
        resource: usize,
        node: NodeId,
        path: String,
        container: Option<String>,
        holder: Option<usize>,
    ) {
        let tree = self.tree();
        let Some(value) = tree.scalar(tree.resolve(node)) else {
            return;
        };
        if value.is_empty() || is_null(tree, tree.resolve(node)) {
            return;
        }
        let value = value.to_string();
        self.found.images.push(ImageSite {
            resource,
            node,
            path,
            container,
            holder,
            value,
        });
    }

    /// Every node the path leads to from `start`, with its concrete field path.
    fn follow(&self, start: NodeId, path: &FieldPath, base: &str) -> Vec<(NodeId, String)> {
        let tree = self.tree();
        let mut current = vec![(start, base.to_string())];
        for step in path.steps() {
            let mut next = Vec::new();
            for (node, at) in current {
                let node = tree.resolve(node);
                let (key, each) = match step {
                    Step::Key(key) => (key, false),
                    Step::EachOf(key) => (key, true),
                };
                let Some(value) = tree.get(node, key) else {
                    continue;
                };
                let at = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                if each {
                    for (i, item) in tree.items(tree.resolve(value)).iter().enumerate() {
                        next.push((*item, format!("{at}[{i}]")));
                    }
                } else {
                    next.push((value, at));
                }
            }
            current = next;
        }
        current
    }
}

/// Whether a scalar node is YAML null (`~`, `null`, or nothing) rather than a string.
fn is_null(tree: &Tree<'_>, node: NodeId) -> bool {
    match &tree.node(node).kind {
        Kind::Scalar { value, style } => {
            *style == granit_parser::ScalarStyle::Plain
                && matches!(value.as_ref(), "~" | "null" | "Null" | "NULL" | "")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Vec<(String, String, Option<String>)> {
        let stream = Stream::read(text.as_bytes()).unwrap();
        let found = locate(&stream, &Table::new(&[])).unwrap();
        found
            .images
            .iter()
            .map(|s| (s.path.clone(), s.value.clone(), s.container.clone()))
            .collect()
    }

    #[test]
    fn finds_containers_of_workloads() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      initContainers:\n      containers:\n      - name: web\n        image: nginx:1\n      volumes:\n      - name: v\n        image: {reference: 'quay.io/a/b:1'}\n";
        assert_eq!(
            find(text),
            [
                (
                    "spec.template.spec.containers[0].image".into(),
                    "nginx:1".into(),
                    Some("web".into())
                ),
                (
                    "spec.template.spec.volumes[0].image.reference".into(),
                    "quay.io/a/b:1".into(),
                    Some("v".into())
                ),
            ]
        );
    }

    #[test]
    fn skips_crds_and_unknown_groups_and_walks_lists() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec:\n  template:\n    spec:\n      containers: [{image: x}]\n";
        assert!(find(crd).is_empty());
        let other = "apiVersion: example.com/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{image: x}]}}}\n";
        assert!(find(other).is_empty());
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  spec: {containers: [{name: a, image: busybox}]}\n";
        assert_eq!(find(list)[0].0, "spec.containers[0].image");
    }

    #[test]
    fn reports_syntax_errors_with_document_and_source() {
        let text = "a: 1\n---\n# Source: c/t.yaml\nb: [1\n";
        let stream = Stream::read(text.as_bytes()).unwrap();
        let err = locate(&stream, &Table::new(&[])).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("document 2 (# Source: c/t.yaml): invalid YAML at line"),
            "{message}"
        );
    }
}
