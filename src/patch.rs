//! The plan as RFC 6902 JSON Patch: for each resource that changes, the operations that turn
//! what Kubernetes reads of it in the input into what it reads in the output (`reimage images
//! --format json-patch`, `--explain=json-patch`).
//!
//! A resource is named as kustomize's `patches:` entries name their target (`group`,
//! `version`, `kind`, `name`, `namespace`); an item of a `List` document is a resource of its
//! own, and its pointers start at the item. Pointers (RFC 6901) are on the Kubernetes view of
//! the document: aliases and merge keys resolved, indices as Kubernetes counts them. Each
//! image string that changes gets a `test` of its old value and a `replace` with the whole
//! new string (an env value or a ConfigMap value with the image inside it, written out in
//! full). Pull secrets follow the byte edit: removed names go first, by index from the last,
//! each after a `test` of its name; added names are inserted at the front of the list, in
//! order, or make the list when there is none (or it is null).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::locate::{Found, ImageSite, Resource, ResourceId};
use crate::plan::{Decision, Plan};
use crate::quoting::plain_reads_as_string;
use crate::tree::{Kind, NodeId, ScalarStyle, Tag, Tree};

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

/// Every resource of `found` that `plan` changes, in stream order, with its operations.
pub fn patches(found: &Found<'_>, plan: &Plan) -> Vec<ResourcePatch> {
    let mut ops: BTreeMap<ResourceId, Vec<Operation>> = BTreeMap::new();
    for (resource, mut more) in image_operations(found, plan) {
        ops.entry(resource).or_default().append(&mut more);
    }
    for change in &plan.secrets {
        let holder = found.holder(change.holder);
        let more = secret_operations(found, holder, &change.add, &change.remove);
        if !more.is_empty() {
            ops.entry(holder.resource).or_default().extend(more);
        }
    }
    ops.into_iter()
        .map(|(resource, patch)| ResourcePatch {
            target: target(found.resource(resource)),
            patch,
        })
        .collect()
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

/// The `test` and `replace` of every image string whose value changes, by resource, each
/// string once with all the references in it, in the order of the document.
fn image_operations(found: &Found<'_>, plan: &Plan) -> Vec<(ResourceId, Vec<Operation>)> {
    // The sites of one string (resource, field, node), in the order they were found.
    let mut strings: BTreeMap<(ResourceId, &str, NodeId), Vec<(&ImageSite, &Decision)>> =
        BTreeMap::new();
    for (site, decision) in found.images.iter().zip(&plan.images) {
        if site.rewrites() && decision.value != site.value {
            strings
                .entry((site.resource, site.path.as_str(), site.node))
                .or_default()
                .push((site, decision));
        }
    }
    let mut by_resource: BTreeMap<ResourceId, Vec<((usize, usize), Vec<Operation>)>> =
        BTreeMap::new();
    for ((resource, path, node), sites) in strings {
        let tree = &found.doc_of(resource).tree;
        let Some(pointer) =
            resource_root(found, resource).and_then(|root| pointer_to(tree, root, path, node))
        else {
            continue;
        };
        let Some((old, new)) = whole_string(tree, node, &sites) else {
            continue;
        };
        let shown = tree.node(node);
        let mut string_ops = Vec::with_capacity(2);
        if reads_as_string(tree, node) {
            string_ops.push(Operation::Test {
                path: pointer.clone(),
                value: Value::String(old),
            });
        }
        string_ops.push(Operation::Replace {
            path: pointer,
            value: Value::String(new),
        });
        by_resource
            .entry(resource)
            .or_default()
            .push(((shown.line, shown.col), string_ops));
    }
    by_resource
        .into_iter()
        .map(|(resource, mut strings)| {
            strings.sort_by_key(|(at, _)| *at);
            (
                resource,
                strings.into_iter().flat_map(|(_, ops)| ops).collect(),
            )
        })
        .collect()
}

/// The old and new value of the string the sites are in: the site's value and its decision
/// for a whole value; for references inside a longer string, the string with each replaced.
fn whole_string(
    tree: &Tree<'_>,
    node: NodeId,
    sites: &[(&ImageSite, &Decision)],
) -> Option<(String, String)> {
    if let [(site, decision)] = sites {
        if site.part.is_none() {
            return Some((site.value.clone(), decision.value.clone()));
        }
    }
    let old = tree.scalar(tree.resolve(node))?;
    let mut parts: Vec<_> = sites
        .iter()
        .filter_map(|(site, decision)| Some((site.part.clone()?, &decision.value)))
        .collect();
    parts.sort_by_key(|(part, _)| part.start);
    let mut new = String::with_capacity(old.len());
    let mut copied = 0;
    for (part, value) in parts {
        new.push_str(old.get(copied..part.start)?);
        new.push_str(value);
        copied = part.end;
    }
    new.push_str(old.get(copied..)?);
    Some((old.to_string(), new))
}

/// Whether Kubernetes reads the scalar at `node` as a string for certain: a quoted or block
/// scalar, a `!!str`, or a plain one that no YAML reads as anything else. For the others
/// (`1.0`, `yes`, `!!int 5`) no `test` is written, as its value could not be told exactly.
fn reads_as_string(tree: &Tree<'_>, node: NodeId) -> bool {
    let node = tree.node(tree.resolve(node));
    let Kind::Scalar { value, style } = &node.kind else {
        return false;
    };
    match node.tag {
        Tag::Str | Tag::Binary => true,
        Tag::None | Tag::NonSpecific => {
            *style != ScalarStyle::Plain || plain_reads_as_string(value)
        }
        Tag::Null | Tag::Merge | Tag::Other => false,
    }
}

/// The operations that make a pod spec's (or ServiceAccount's) `imagePullSecrets` lose
/// `remove` and gain `add`, as the byte edit does.
fn secret_operations(
    found: &Found<'_>,
    holder: &crate::locate::Holder,
    add: &[String],
    remove: &[String],
) -> Vec<Operation> {
    let tree = &found.doc_of(holder.resource).tree;
    let Some(pointer) = resource_root(found, holder.resource)
        .and_then(|root| pointer_to(tree, root, &holder.path, holder.node))
    else {
        return Vec::new();
    };
    let list_pointer = pointer.join("imagePullSecrets");
    let new_item = |name: &String| json!({ "name": name });
    let list = tree
        .get(holder.node, "imagePullSecrets")
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
        .entry(holder.node, "imagePullSecrets")
        .is_some_and(|(key, _)| !tree.entries(holder.node).iter().any(|(k, _)| *k == key));
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
fn resource_root(found: &Found<'_>, resource: ResourceId) -> Option<NodeId> {
    let tree = &found.doc_of(resource).tree;
    let mut node = tree.resolve(tree.root()?);
    for index in &found.resource(resource).item {
        let items = tree.resolve(tree.get(node, "items")?);
        node = tree.resolve(*tree.items(items).get(*index)?);
    }
    Some(node)
}

/// The pointer from `root` along the field path `path` (`spec.containers[0].image`, as the
/// locate stage writes it) to `target`. Keys may hold dots and brackets themselves
/// (`data.app.yaml`), so the path is read against the keys the mappings have, and the reading
/// that ends at `target` is taken.
fn pointer_to(tree: &Tree<'_>, root: NodeId, path: &str, target: NodeId) -> Option<Pointer> {
    let path = path.strip_prefix('.').unwrap_or(path);
    if path.is_empty() {
        return (tree.resolve(root) == tree.resolve(target)).then(Pointer::default);
    }
    follow(tree, root, path, &Pointer::default(), tree.resolve(target))
}

/// [`pointer_to`] from `node`, with `rest` the path still to read (starting at a key, or at
/// `[i]`) and `at` the pointer so far.
fn follow(
    tree: &Tree<'_>,
    node: NodeId,
    rest: &str,
    at: &Pointer,
    target: NodeId,
) -> Option<Pointer> {
    let node = tree.resolve(node);
    if rest.is_empty() {
        return (node == target).then(|| at.clone());
    }
    if let Some(after) = rest.strip_prefix('[') {
        let (digits, after) = after.split_once(']')?;
        let index: usize = digits.parse().ok()?;
        let item = *tree.items(node).get(index)?;
        if let Some(found) = next(tree, item, after, &at.index(index), target) {
            return Some(found);
        }
    }
    // The last of duplicate keys is the one Kubernetes reads.
    for (key, value) in tree.fields(node).iter().rev() {
        if tree.is_merge_key(*key) {
            continue;
        }
        let Some(name) = tree.scalar(tree.resolve(*key)).filter(|n| !n.is_empty()) else {
            continue;
        };
        let Some(after) = rest.strip_prefix(name) else {
            continue;
        };
        if let Some(found) = next(tree, *value, after, &at.join(name), target) {
            return Some(found);
        }
    }
    None
}

/// Goes on after a key or an index: `after` is empty, `[i]…` or `.key…`.
fn next(
    tree: &Tree<'_>,
    node: NodeId,
    after: &str,
    at: &Pointer,
    target: NodeId,
) -> Option<Pointer> {
    match after.strip_prefix('.') {
        Some(rest) if !rest.is_empty() => follow(tree, node, rest, at, target),
        Some(_) => None,
        None if after.is_empty() || after.starts_with('[') => follow(tree, node, after, at, target),
        None => None,
    }
}

/// The patches as text: a JSON array, one element per resource, which reads as YAML too.
pub fn text(patches: &[ResourcePatch]) -> String {
    let mut out = serde_json::to_string_pretty(patches).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
