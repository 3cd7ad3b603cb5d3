//! Stage 5, patch: the rules' RFC 6902 `patches:` applied to each document after its image
//! edits, byte for byte (`edit`).
//!
//! Each patch selects resources by its target (a document, or each item of a `List`); its
//! operations apply in order, each to the text the one before left, so that a later one sees
//! what an earlier one added. A failing `test`, a path that does not exist for `remove` or
//! `replace`, or an edit that cannot be made in place fails the whole run, naming the patch, the
//! operation, the resource and the line.

mod edit;
pub mod value;

use std::collections::BTreeMap;

use crate::apply::{self, Splice};
use crate::locate;
use crate::report;
use crate::rules::{Patch, Target};
use crate::stream::Chunk;
use crate::tree::{Kind, NodeId, Origin, Tree};
use json_patch::PatchOperation;

pub use edit::Problem;

/// One operation carried out, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchNote {
    pub document: usize,
    pub line: usize,
    /// `document N (# Source: file) Kind/ns/name, line L`.
    pub location: String,
    /// `patches[0] add /metadata/labels/team: platform`.
    pub change: String,
}

/// A patch that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: patches[{patch}].patch[{operation}] ({op}): {message}")]
pub struct PatchError {
    /// Where: document, `# Source:`, resource and line.
    pub location: String,
    pub patch: usize,
    pub operation: usize,
    /// The operation as JSON.
    pub op: String,
    pub message: String,
}

/// A document after the patches: its new text (when they changed it) and what they did.
#[derive(Debug, Default)]
pub struct Patched {
    pub text: Option<String>,
    pub notes: Vec<PatchNote>,
}

/// Applies `patches` to the document `chunk` of the stream, whose text after the image edits
/// is `text`.
pub fn document(text: &str, chunk: &Chunk, patches: &[Patch]) -> Result<Patched, PatchError> {
    let mut current = text.to_string();
    let mut notes = Vec::new();
    let origin = Origin {
        offset: 0,
        first_line: chunk.first_line,
    };
    for patch in patches {
        let resources = {
            let tree = parse(&current, &origin, chunk)?;
            tree.root()
                .map(|root| locate::objects(&tree, root))
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, node)| selects(&patch.target, &tree, *node))
                .map(|(item, _)| item)
                .collect::<Vec<_>>()
        };
        for item in resources {
            for (i, operation) in patch.operations.iter().enumerate() {
                let (next, note) =
                    apply_operation(&current, &origin, chunk, &item, patch, i, operation)?;
                current = next;
                notes.push(note);
            }
        }
    }
    Ok(Patched {
        text: (current != text).then_some(current),
        notes,
    })
}

fn parse<'t>(text: &'t str, origin: &Origin, chunk: &Chunk) -> Result<Tree<'t>, PatchError> {
    Tree::parse(text, *origin).map_err(|e| PatchError {
        location: format!("document {}{}", chunk.number, chunk.source_note()),
        patch: 0,
        operation: 0,
        op: String::new(),
        message: format!("internal error: the patched document no longer parses ({e}); please report it, with the input and rules"),
    })
}

/// The resource at `item` of the document's tree.
fn resource_at(tree: &Tree<'_>, item: &[usize]) -> Option<NodeId> {
    let mut node = tree.root()?;
    for i in item {
        let items = tree.get(node, "items")?;
        node = *tree.items(tree.resolve(items)).get(*i)?;
    }
    Some(node)
}

/// Whether `target` selects the resource at `node`.
fn selects(target: &Target, tree: &Tree<'_>, node: NodeId) -> bool {
    let api_version = tree.get_str(node, "apiVersion").unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let metadata = tree.get(node, "metadata").map(|m| tree.resolve(m));
    let meta = |key: &str| metadata.and_then(|m| tree.get_str(m, key));
    let is = |wanted: &Option<String>, actual: &str| wanted.as_deref().is_none_or(|w| w == actual);
    let pairs = |key: &str| -> BTreeMap<String, String> {
        let Some(map) = metadata
            .and_then(|m| tree.get(m, key))
            .map(|m| tree.resolve(m))
        else {
            return BTreeMap::new();
        };
        tree.fields(map)
            .iter()
            .filter_map(|(k, v)| {
                let k = tree.scalar(tree.resolve(*k))?;
                let v = tree.scalar(tree.resolve(*v))?;
                Some((k.to_string(), v.to_string()))
            })
            .collect()
    };
    is(&target.group, group)
        && is(&target.version, version)
        && is(&target.kind, tree.get_str(node, "kind").unwrap_or_default())
        && is(&target.name, meta("name").unwrap_or_default())
        && is(&target.namespace, meta("namespace").unwrap_or_default())
        && target
            .labels
            .as_ref()
            .is_none_or(|s| s.matches(&pairs("labels")))
        && target
            .annotations
            .as_ref()
            .is_none_or(|s| s.matches(&pairs("annotations")))
}

/// The decoded tokens of a pointer.
fn tokens(pointer: &json_patch::jsonptr::Pointer) -> Vec<String> {
    pointer.tokens().map(|t| t.decoded().into_owned()).collect()
}

/// One operation on the resource at `item` of `text`: the new text and its note.
fn apply_operation(
    text: &str,
    origin: &Origin,
    chunk: &Chunk,
    item: &[usize],
    patch: &Patch,
    index: usize,
    operation: &PatchOperation,
) -> Result<(String, PatchNote), PatchError> {
    let tree = parse(text, origin, chunk)?;
    let root = resource_at(&tree, item);
    let identity = root.map_or_else(String::new, |r| identity(&tree, r));
    let location = |line: usize| {
        report::location(chunk.number, chunk.source.as_deref(), item, &identity, line)
    };
    let fail = |problem: Problem| PatchError {
        location: location(problem.line),
        patch: patch.index,
        operation: index,
        op: serde_json::to_string(operation).unwrap_or_default(),
        message: problem.message,
    };
    let Some(root) = root else {
        return Err(fail(Problem {
            line: chunk.first_line,
            message: "internal error: the resource is gone".into(),
        }));
    };
    let doc = edit::Doc {
        text,
        tree: &tree,
        newline: chunk.newline,
        // A document whose top node is a flow mapping is JSON: new text is JSON too.
        json: tree
            .root()
            .is_some_and(|r| matches!(tree.node(r).kind, Kind::Map { flow: true, .. })),
    };
    let path = operation.path().as_str();
    let at = tokens(operation.path());
    let (splices, change): (Vec<Splice>, String) = match operation {
        PatchOperation::Test(op) => {
            let (actual, line) = doc.read(root, &at, path).map_err(fail)?;
            if !value::equal(&actual, &op.value) {
                return Err(fail(Problem {
                    line,
                    message: format!("the test failed: `{path}` is {actual}, not {}; the resource is not what the patch expects, so fix the test or narrow the patch's `target`", op.value),
                }));
            }
            (Vec::new(), format!("test {path}"))
        }
        PatchOperation::Replace(op) => (
            doc.replace(root, &at, path, &op.value).map_err(fail)?,
            format!("replace {path}: {}", op.value),
        ),
        PatchOperation::Add(op) => (
            doc.add(root, &at, path, &op.value).map_err(fail)?,
            format!("add {path}: {}", op.value),
        ),
        PatchOperation::Remove(_) => (
            doc.remove(root, &at, path).map_err(fail)?,
            format!("remove {path}"),
        ),
        PatchOperation::Copy(op) => {
            let (value, _) = doc
                .read(root, &tokens(&op.from), op.from.as_str())
                .map_err(fail)?;
            (
                doc.add(root, &at, path, &value).map_err(fail)?,
                format!("copy {} to {path}", op.from),
            )
        }
        PatchOperation::Move(op) => {
            let from = op.from.as_str();
            let (value, _) = doc.read(root, &tokens(&op.from), from).map_err(fail)?;
            let change = format!("move {from} to {path}");
            if from == path {
                (Vec::new(), change)
            } else {
                // A remove, then an add to what the remove left.
                let removed = doc.remove(root, &tokens(&op.from), from).map_err(fail)?;
                let after = splice(text, removed).map_err(|m| {
                    fail(Problem {
                        line: tree.node(root).line,
                        message: m,
                    })
                })?;
                let tree = parse(&after, origin, chunk)?;
                let root = resource_at(&tree, item).ok_or_else(|| {
                    fail(Problem {
                        line: 0,
                        message: "internal error: the resource is gone".into(),
                    })
                })?;
                let doc = edit::Doc {
                    text: &after,
                    tree: &tree,
                    ..doc
                };
                let added = doc.add(root, &at, path, &value).map_err(fail)?;
                let line = tree.node(root).line;
                let new = splice(&after, added).map_err(|m| fail(Problem { line, message: m }))?;
                return Ok((new, note(chunk, location(line), patch, change, line)));
            }
        }
    };
    let line = tree.node(root).line;
    let new = splice(text, splices).map_err(|m| fail(Problem { line, message: m }))?;
    Ok((new, note(chunk, location(line), patch, change, line)))
}

fn note(chunk: &Chunk, location: String, patch: &Patch, change: String, line: usize) -> PatchNote {
    PatchNote {
        document: chunk.number,
        line,
        location,
        change: format!("patches[{}] {change}", patch.index),
    }
}

/// `text` with the splices made.
fn splice(text: &str, splices: Vec<Splice>) -> Result<String, String> {
    let output = apply::apply(text, splices).map_err(|e| format!("internal error: {e}"))?;
    String::from_utf8(output.to_vec()).map_err(|e| format!("internal error: {e}"))
}

/// `Kind/namespace/name` of a resource.
fn identity(tree: &Tree<'_>, node: NodeId) -> String {
    let metadata = tree.get(node, "metadata").map(|m| tree.resolve(m));
    let meta = |key: &str| metadata.and_then(|m| tree.get_str(m, key));
    report::identity(
        tree.get_str(node, "kind").unwrap_or_default(),
        meta("namespace"),
        meta("name"),
    )
}
