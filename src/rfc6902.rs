//! The plan as RFC 6902 JSON Patch: for each resource that changes, the operations that turn
//! what Kubernetes reads of it in the input into what it reads in the output (`reimage images
//! --format json-patch`, `--explain=json-patch`).
//!
//! A resource is named as kustomize's `patches:` entries name their target (`group`,
//! `version`, `kind`, `name`, `namespace`); an item of a `List` document is a resource of its
//! own, and its pointers start at the item. Pointers (RFC 6901) are on the Kubernetes view of
//! the document: aliases and merge keys resolved, indices as Kubernetes counts them, and a
//! node read from several places (an aliased container list, a pod spec brought by a merge
//! key) is patched at each of them, as each of them changes. Each image string that changes
//! gets a `test` of its old value and a `replace` with the whole new string (an env value
//! or a ConfigMap value with the image inside it, written out in full). Pull secrets follow the byte edit: removed names go first, by index from the last,
//! each after a `test` of its name; added names are inserted at the front of the list, in
//! order, or make the list when there is none (or it is null).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::locate::{DocId, Found, ImageSite, Resource};
use crate::plan::{Decision, Plan};
use crate::tree::{Kind, NodeId, Tree};
use walk::{Changes, Walk};

/// One resource and the operations that change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourcePatch {
    pub target: Target,
    pub patch: Vec<Operation>,
}

/// A resource as a kustomize patch target names it. The core group is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One RFC 6902 operation, of the four a plan needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    Test { path: Pointer, value: Value },
    Replace { path: Pointer, value: Value },
    Add { path: Pointer, value: Value },
    Remove { path: Pointer },
}

/// An RFC 6901 JSON pointer: `/`-separated tokens, each with `~` written `~0` and `/`
/// written `~1`; the empty pointer is the whole resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Pointer(String);

impl Pointer {
    /// This pointer and one more token: a mapping key, or a list index written as a number.
    pub fn join(&self, token: &str) -> Pointer {
        let mut text = String::with_capacity(self.0.len() + token.len() + 1);
        text.push_str(&self.0);
        text.push('/');
        for c in token.chars() {
            match c {
                '~' => text.push_str("~0"),
                '/' => text.push_str("~1"),
                c => text.push(c),
            }
        }
        Pointer(text)
    }

    /// This pointer and a list index.
    pub fn index(&self, index: usize) -> Pointer {
        self.join(&index.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stream whose changes are read in so many places that no patch should list them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}: what changes is read in more than {MAX_PLACES} places (through YAML aliases), too many to write as JSON Patch")]
pub struct PatchError {
    pub document: usize,
}

/// The most places of one document that a patch lists: far more than any manifest has. (The
/// render itself refuses aliases that multiply the places an image is read from beyond the
/// image fields it finds; this bounds the output of what it accepts.)
pub const MAX_PLACES: usize = 100_000;

/// Every resource of `found` that `plan` changes, in stream order, with its operations.
pub fn patches(found: &Found<'_>, plan: &Plan) -> Result<Vec<ResourcePatch>, PatchError> {
    let mut changes: BTreeMap<DocId, Changes<'_>> = BTreeMap::new();
    for (text, (doc, node)) in edited_strings(found, plan) {
        changes.entry(doc).or_default().strings.insert(node, text);
    }
    for (doc, alias, _) in &plan.inline {
        changes.entry(*doc).or_default().inline.insert(*alias);
    }
    for change in &plan.secrets {
        let holder = found.holder(change.holder);
        let doc = found.resource(holder.resource).doc;
        let secrets = &mut changes.entry(doc).or_default().secrets;
        secrets.entry(holder.node).or_insert(change);
    }
    let mut out = Vec::new();
    for resource in &found.resources {
        let Some(changes) = changes.get_mut(&resource.doc) else {
            continue;
        };
        let tree = &found.doc(resource.doc).tree;
        let Some(root) = resource_root(tree, resource) else {
            continue;
        };
        let mut walk = Walk {
            tree,
            changes,
            ops: Vec::new(),
        };
        walk.visit(root, root, &Pointer::default())
            .map_err(|()| PatchError {
                document: found.doc(resource.doc).chunk.number,
            })?;
        if !walk.ops.is_empty() {
            out.push(ResourcePatch {
                target: target(resource),
                patch: walk.ops,
            });
        }
    }
    Ok(out)
}

/// The new text of every node whose bytes the plan replaces, as (text, (document, node)): an
/// image's final value, or for references inside a longer string that string with each
/// replaced.
fn edited_strings(found: &Found<'_>, plan: &Plan) -> Vec<(String, (DocId, NodeId))> {
    let mut parts: BTreeMap<(DocId, NodeId), Vec<(&ImageSite, &Decision)>> = BTreeMap::new();
    let mut out = Vec::new();
    for (site, decision) in found.images.iter().zip(&plan.images) {
        if !decision.edit {
            continue;
        }
        let at = (found.resource(site.resource).doc, site.node);
        match site.part {
            None => out.push((decision.value.clone(), at)),
            Some(_) => parts.entry(at).or_default().push((site, decision)),
        }
    }
    for ((doc, node), sites) in parts {
        if let Some(text) = with_parts(&found.doc(doc).tree, node, &sites) {
            out.push((text, (doc, node)));
        }
    }
    out
}

/// The string of `node` with the references of `sites` (parts of it) replaced; each part
/// once, however many resources read it.
fn with_parts(tree: &Tree<'_>, node: NodeId, sites: &[(&ImageSite, &Decision)]) -> Option<String> {
    let old = tree.scalar(tree.resolve(node))?;
    let mut parts: Vec<_> = sites
        .iter()
        .filter_map(|(site, decision)| Some((site.part.clone()?, &decision.value)))
        .collect();
    parts.sort_by_key(|(part, _)| (part.start, part.end));
    parts.dedup_by_key(|(part, _)| part.start);
    let mut new = String::with_capacity(old.len());
    let mut copied = 0;
    for (part, value) in parts {
        new.push_str(old.get(copied..part.start)?);
        new.push_str(value);
        copied = part.end;
    }
    new.push_str(old.get(copied..)?);
    Some(new)
}

/// The patch target of a resource: `apps/v1` is group `apps`, version `v1`.
fn target(resource: &Resource) -> Target {
    let (group, version) = match resource.api_version.rsplit_once('/') {
        Some((group, version)) => (Some(group.to_string()), version.to_string()),
        None => (None, resource.api_version.clone()),
    };
    Target {
        group,
        version,
        kind: resource.kind.clone(),
        name: resource.name.clone(),
        namespace: resource.namespace.clone(),
    }
}

/// The operations that make the `imagePullSecrets` of `holder` (a pod spec or ServiceAccount
/// at `at`) lose `remove` and gain `add`, as the byte edit does.
fn secret_operations(
    tree: &Tree<'_>,
    holder: NodeId,
    at: &Pointer,
    add: &[String],
    remove: &[String],
) -> Vec<Operation> {
    let list_pointer = at.join("imagePullSecrets");
    let new_item = |name: &String| json!({ "name": name });
    let list = tree
        .get(holder, "imagePullSecrets")
        .map(|l| tree.resolve(l));
    let items = match list.map(|l| &tree.node(l).kind) {
        Some(Kind::Seq { items, .. }) => items.as_slice(),
        // No list, or null: the byte edit writes a new one with the added names.
        other => {
            if add.is_empty() {
                return Vec::new();
            }
            let mut ops = Vec::new();
            if other.is_some() {
                ops.push(Operation::Test {
                    path: list_pointer.clone(),
                    value: Value::Null,
                });
            }
            ops.push(Operation::Add {
                path: list_pointer,
                value: Value::Array(add.iter().map(new_item).collect()),
            });
            return ops;
        }
    };
    // A list a merge key brings is written again as a key of its own, each name once.
    let merged = tree
        .entry(holder, "imagePullSecrets")
        .is_some_and(|(key, _)| !tree.entries(holder).iter().any(|(k, _)| *k == key));
    let mut kept: Vec<&str> = Vec::new();
    let mut removed: Vec<(usize, &str)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(name) = tree.get_str(tree.resolve(*item), "name") else {
            continue;
        };
        if remove.iter().any(|r| r == name) || (merged && kept.contains(&name)) {
            removed.push((index, name));
        } else {
            kept.push(name);
        }
    }
    let mut ops = Vec::with_capacity(removed.len() * 2 + add.len());
    for (index, name) in removed.into_iter().rev() {
        let at = list_pointer.index(index);
        ops.push(Operation::Test {
            path: at.join("name"),
            value: Value::String(name.to_string()),
        });
        ops.push(Operation::Remove { path: at });
    }
    ops.extend(add.iter().enumerate().map(|(index, name)| Operation::Add {
        path: list_pointer.index(index),
        value: new_item(name),
    }));
    ops
}

/// The node of a resource: its document's top node, or the item of a `List` it is.
fn resource_root(tree: &Tree<'_>, resource: &Resource) -> Option<NodeId> {
    let mut node = tree.resolve(tree.root()?);
    for index in &resource.item {
        let items = tree.resolve(tree.get(node, "items")?);
        node = tree.resolve(*tree.items(items).get(*index)?);
    }
    Some(node)
}

/// The patches as text: a JSON array, one element per resource, which reads as YAML too.
pub fn text(patches: &[ResourcePatch]) -> String {
    let mut out = serde_json::to_string_pretty(patches).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
mod walk;
