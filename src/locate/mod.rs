//! Stage 2, locate: parse each document and find every image reference and every place that
//! holds pull secrets, by following the rows of the [`table`].
//!
//! Render, `images` and every report consume the same [`Found`]; nothing else walks documents.

mod known;
mod strings;
pub mod table;
mod walker;

pub use table::Table;

use std::fmt;
use std::ops::Range;

use crate::stream::{Chunk, Stream};
use crate::tree::{Kind, NodeId, Origin, SyntaxError, Tree};
use walker::Walker;

/// Helm 4 names the template a document came from in this annotation.
pub const HELM_FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// Everything the locate stage saw.
#[derive(Debug)]
pub struct Found<'a> {
    pub docs: Vec<Doc<'a>>,
    pub resources: Vec<Resource>,
    pub images: Vec<ImageSite>,
    pub holders: Vec<Holder>,
    /// In documents where one node can be read from several places (aliases, merge keys):
    /// for each (document, scalar node) that holds an image, how many distinct places
    /// (resource and field path) read it as one. Compared with how many places Kubernetes
    /// reads it at all, it tells whether an edit would leak outside image fields.
    pub image_reads: std::collections::HashMap<(DocId, NodeId), usize>,
}

/// The index of a document in [`Found::docs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(usize);

/// The index of a resource in [`Found::resources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(usize);

/// The index of a pull-secret holder in [`Found::holders`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HolderId(pub(super) usize);

impl DocId {
    /// Its place among the documents, for tables indexed by document.
    pub fn index(self) -> usize {
        self.0
    }
}

impl HolderId {
    /// Its place among the holders, for tables indexed by holder.
    pub fn index(self) -> usize {
        self.0
    }
}

impl<'a> Found<'a> {
    /// A resource by its id. Ids (`ImageSite::resource`, `Holder::resource`) are indexes
    /// handed out by `locate` as it pushes resources, never read from the input.
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are handed out by locate itself"
    )]
    pub fn resource(&self, id: ResourceId) -> &Resource {
        &self.resources[id.0]
    }

    /// A document by its id (`Resource::doc`).
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are handed out by locate itself"
    )]
    pub fn doc(&self, id: DocId) -> &Doc<'a> {
        &self.docs[id.0]
    }

    /// The document a resource was found in.
    pub fn doc_of(&self, resource: ResourceId) -> &Doc<'a> {
        self.doc(self.resource(resource).doc)
    }

    /// A pull-secret holder by its id (`SecretChange::holder`, `ImageSite::holder`).
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are handed out by locate itself"
    )]
    pub fn holder(&self, id: HolderId) -> &Holder {
        &self.holders[id.0]
    }

    /// Every holder with its id.
    pub fn holders(&self) -> impl Iterator<Item = (HolderId, &Holder)> {
        self.holders
            .iter()
            .enumerate()
            .map(|(i, h)| (HolderId(i), h))
    }

    pub(super) fn push_resource(&mut self, resource: Resource) -> ResourceId {
        self.resources.push(resource);
        ResourceId(self.resources.len() - 1)
    }

    pub(super) fn push_holder(&mut self, holder: Holder) -> HolderId {
        self.holders.push(holder);
        HolderId(self.holders.len() - 1)
    }
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
    pub doc: DocId,
    pub kind: String,
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The template file, from Helm's `# Source:` comment or Helm 4's filename annotation.
    pub source: Option<String>,
    /// Where it sits in a `List` document (a `ResourceList` too): its index in `items`, then,
    /// for a list inside that list, its index there, and so on. Empty when the document is
    /// the object itself.
    pub item: Vec<usize>,
}

/// An image reference found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    pub resource: ResourceId,
    /// The value node (an alias node when the field is `*name`).
    pub node: NodeId,
    /// The field, with list indices: `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The `name` of the container (or volume) the image belongs to.
    pub container: Option<String>,
    /// The pod spec this image is pulled by: index into [`Found::holders`].
    pub holder: Option<HolderId>,
    /// The reference as Kubernetes reads it (aliases resolved): the whole string, or the part
    /// of it that `part` says.
    pub value: String,
    /// Where the reference sits in the node's string when it is only part of it
    /// (`--flag=ref`, a `key=ref` line).
    pub part: Option<Range<usize>>,
    /// How it was found.
    pub how: How,
    /// Why it is only reported; `None` when the rules may rewrite it.
    pub report_only: Option<ReportOnly>,
}

impl ImageSite {
    /// Whether the rules may rewrite it.
    pub fn rewrites(&self) -> bool {
        self.report_only.is_none()
    }
}

/// Why a reference that was found is reported and never rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOnly {
    /// `scan:` says `report` for this kind of string.
    Scan,
    /// A string that may be an image, but neither a registry nor its name says so.
    Weak,
    /// An OCI artifact named by repository alone (a vulnerability database, a policy bundle).
    Artifact,
    /// A `repository` with a `tag` (or `registry`) beside it.
    Split,
}

/// How an image reference was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A field that holds an image (a container's `image`, a table row, a `paths:` rule).
    Field,
    /// A container `env` value; the variable's name.
    Env(String),
    /// A container `args` or `command` item.
    Arg,
    /// A ConfigMap `data` value; its key.
    ConfigMap(String),
    /// A `repository` with a `tag` (or `registry`) beside it: reported as the composed reference.
    Split,
}

impl serde::Serialize for How {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            How::Field => f.write_str("field"),
            How::Env(name) => write!(f, "env:{name}"),
            How::Arg => f.write_str("arg"),
            How::ConfigMap(key) => write!(f, "configmap:{key}"),
            How::Split => f.write_str("split"),
        }
    }
}

/// A mapping whose `imagePullSecrets` list decides which secrets pull its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub resource: ResourceId,
    pub node: NodeId,
    /// `spec.template.spec`, or `` for a ServiceAccount.
    pub path: String,
    pub is_service_account: bool,
}

/// Lists inside lists are followed this deep at most (a `List` of `List`s is already unusual).
const MAX_LIST_DEPTH: usize = 4;

/// The Kubernetes objects of the document whose root is `root`: the document itself, or each
/// item of a `*List` (a `ResourceList` too), with where it sits (see [`Resource::item`]).
/// Lists inside lists are followed four deep; a node that is not a mapping is
/// no object.
pub fn objects(tree: &Tree<'_>, root: NodeId) -> Vec<(Vec<usize>, NodeId)> {
    fn collect(
        tree: &Tree<'_>,
        node: NodeId,
        item: &mut Vec<usize>,
        found: &mut Vec<(Vec<usize>, NodeId)>,
    ) {
        let node = tree.resolve(node);
        if !matches!(tree.node(node).kind, Kind::Map { .. }) {
            return;
        }
        let kind = tree.get_str(node, "kind").unwrap_or_default();
        if kind.ends_with("List") && item.len() < MAX_LIST_DEPTH {
            if let Some(items) = tree.get(node, "items") {
                for (i, child) in tree.items(tree.resolve(items)).iter().enumerate() {
                    item.push(i);
                    collect(tree, *child, item, found);
                    item.pop();
                }
                return;
            }
        }
        found.push((item.clone(), node));
    }
    let mut found = Vec::new();
    collect(tree, root, &mut Vec::new(), &mut found);
    found
}

/// A document is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}{}: invalid YAML at line {}, column {}: {}", crate::stream::source_note(.template.as_deref()), .error.line, .error.column, .error.message)]
pub struct LocateError {
    pub document: usize,
    /// The `# Source:` template of the document.
    pub template: Option<String>,
    pub error: SyntaxError,
}

/// The tree of one chunk of `stream`, positioned in the whole stream; a syntax error names
/// the document and its template. Kubernetes reads the first document of a chunk: anything
/// after a `...` line in it is never read, so it is never searched or edited either.
pub(crate) fn parse_chunk<'a>(stream: &Stream<'a>, chunk: &Chunk) -> Result<Tree<'a>, LocateError> {
    let origin = Origin {
        offset: chunk.range.start,
        first_line: chunk.first_line,
    };
    Tree::parse(stream.chunk_text(chunk), origin).map_err(|error| LocateError {
        document: chunk.number,
        template: chunk.source.clone(),
        error,
    })
}

/// Parses every document of the stream and finds what the table describes.
pub fn locate<'a>(stream: &Stream<'a>, table: &Table) -> Result<Found<'a>, LocateError> {
    let mut found = Found {
        docs: Vec::new(),
        resources: Vec::new(),
        images: Vec::new(),
        holders: Vec::new(),
        image_reads: std::collections::HashMap::new(),
    };
    for chunk in stream.chunks() {
        let tree = parse_chunk(stream, chunk)?;
        let doc = DocId(found.docs.len());
        let root = tree.root();
        found.docs.push(Doc {
            chunk: chunk.clone(),
            tree,
        });
        if let Some(root) = root {
            let objects = objects(&found.doc(doc).tree, root);
            let mut walker = Walker::new(&mut found, table, doc);
            for (item, object) in objects {
                walker.object(item, object);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Vec<(String, String, Option<String>)> {
        let stream = Stream::read(text.as_bytes()).unwrap();
        let found = locate(&stream, &Table::new(&[], crate::rules::Scan::default())).unwrap();
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
        assert_eq!(
            find(other)[0].0,
            "spec.template.spec.containers[0].image",
            "found structurally"
        );
        let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nspec: {pattern: {spec: {containers: [{image: x}]}}}\n";
        assert!(
            find(policy).is_empty(),
            "policies describe images, they do not pull them"
        );
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  spec: {containers: [{name: a, image: busybox}]}\n";
        assert_eq!(find(list)[0].0, "spec.containers[0].image");
    }

    #[test]
    fn list_items_know_where_they_sit() {
        let text = "kind: ResourceList\nitems:\n- {kind: Pod, metadata: {name: a}}\n- kind: List\n  items:\n  - {kind: Pod, metadata: {name: b}}\n  - {kind: Pod, metadata: {name: c}}\n---\nkind: Pod\n";
        let stream = Stream::read(text.as_bytes()).unwrap();
        let found = locate(&stream, &Table::new(&[], crate::rules::Scan::default())).unwrap();
        let items: Vec<(Option<&str>, &[usize])> = found
            .resources
            .iter()
            .map(|r| (r.name.as_deref(), r.item.as_slice()))
            .collect();
        assert_eq!(
            items,
            [
                (Some("a"), &[0][..]),
                (Some("b"), &[1, 0][..]),
                (Some("c"), &[1, 1][..]),
                (None, &[][..]),
            ]
        );
    }

    #[test]
    fn reports_syntax_errors_with_document_and_source() {
        let text = "a: 1\n---\n# Source: c/t.yaml\nb: [1\n";
        let stream = Stream::read(text.as_bytes()).unwrap();
        let err = locate(&stream, &Table::new(&[], crate::rules::Scan::default())).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("document 2 (# Source: c/t.yaml): invalid YAML at line"),
            "{message}"
        );
    }
}
