//! The walk over what Kubernetes reads of one resource, down to every place a change of the
//! plan reaches: each string that changes there, and each pod spec whose pull secrets do.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{secret_operations, Operation, Pointer, MAX_PLACES};
use crate::plan::SecretChange;
use crate::quoting::plain_reads_as_string;
use crate::tree::{Kind, NodeId, ScalarStyle, Tag, Tree};

/// What changes in one document, by node.
#[derive(Default)]
pub(super) struct Changes<'p> {
    /// The new string of each node whose bytes are replaced (a scalar, or an alias in an
    /// image field).
    pub(super) strings: HashMap<NodeId, String>,
    /// Aliases written out as the value they read before: they do not change.
    pub(super) inline: HashSet<NodeId>,
    /// The pull secret change of each pod spec or ServiceAccount (its mapping node).
    pub(super) secrets: HashMap<NodeId, &'p SecretChange>,
    /// Whether what Kubernetes reads from a node reaches a change (memo of [`Walk::reaches`]).
    reaches: HashMap<NodeId, bool>,
    /// Places listed so far in the document.
    places: usize,
}

/// The walk over what Kubernetes reads of one resource, down to every place a change reaches.
pub(super) struct Walk<'w, 't, 'p> {
    pub(super) tree: &'w Tree<'t>,
    pub(super) changes: &'w mut Changes<'p>,
    pub(super) ops: Vec<Operation>,
}

impl Walk<'_, '_, '_> {
    /// The place `at`, whose value is written as `node` (an alias, or the value itself) and is
    /// `value` once aliases are resolved. `Err` past [`MAX_PLACES`].
    pub(super) fn visit(&mut self, node: NodeId, value: NodeId, at: &Pointer) -> Result<(), ()> {
        if let Some(new) = self.new_string(node, value) {
            return self.string(value, new, at);
        }
        if !self.reaches(value) {
            return Ok(());
        }
        for (token, child) in self.read_children(value) {
            self.visit(child, self.tree.resolve(child), &at.join(&token))?;
        }
        if let Some(change) = self.changes.secrets.get(&value).copied() {
            self.count()?;
            let ops = secret_operations(self.tree, value, at, &change.add, &change.remove);
            self.ops.extend(ops);
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), ()> {
        self.changes.places += 1;
        if self.changes.places > MAX_PLACES {
            return Err(());
        }
        Ok(())
    }

    /// What a place written as `node` reads after the run, when that is a new string.
    fn new_string(&self, node: NodeId, value: NodeId) -> Option<String> {
        if self.changes.inline.contains(&node) {
            return None;
        }
        let strings = &self.changes.strings;
        strings.get(&node).or_else(|| strings.get(&value)).cloned()
    }

    /// `test` and `replace` of the string at `at`, when it changes.
    fn string(&mut self, value: NodeId, new: String, at: &Pointer) -> Result<(), ()> {
        let Some(old) = self.tree.scalar(value) else {
            return Ok(());
        };
        if old == new {
            return Ok(());
        }
        self.count()?;
        if reads_as_string(self.tree, value) {
            self.ops.push(Operation::Test {
                path: at.clone(),
                value: Value::String(old.to_string()),
            });
        }
        self.ops.push(Operation::Replace {
            path: at.clone(),
            value: Value::String(new),
        });
        Ok(())
    }

    /// Whether anything Kubernetes reads from the collection `node` changes.
    fn reaches(&mut self, node: NodeId) -> bool {
        if let Some(known) = self.changes.reaches.get(&node) {
            return *known;
        }
        // An alias cannot name a collection that holds it, so this cannot come round again.
        self.changes.reaches.insert(node, false);
        let mut reaches = self.changes.secrets.contains_key(&node);
        // Every value, a shadowed duplicate key's too: at worst a walk down finds nothing.
        let tree = self.tree;
        let children: Vec<NodeId> = match &tree.node(node).kind {
            Kind::Seq { items, .. } => items.clone(),
            Kind::Map { .. } => tree.fields(node).iter().map(|(_, value)| *value).collect(),
            _ => Vec::new(),
        };
        for child in children {
            if reaches {
                break;
            }
            let value = self.tree.resolve(child);
            reaches = self.new_string(child, value).is_some()
                || (matches!(
                    self.tree.node(value).kind,
                    Kind::Map { .. } | Kind::Seq { .. }
                ) && self.reaches(value));
        }
        self.changes.reaches.insert(node, reaches);
        reaches
    }

    /// What Kubernetes reads from a collection, as (pointer token, node written there): each
    /// item, and each key's winning value (merge keys looked through; of duplicate keys the
    /// last).
    fn read_children(&self, node: NodeId) -> Vec<(String, NodeId)> {
        let tree = self.tree;
        match &tree.node(node).kind {
            Kind::Seq { items, .. } => items
                .iter()
                .enumerate()
                .map(|(i, item)| (i.to_string(), *item))
                .collect(),
            Kind::Map { .. } => {
                let fields = tree.fields(node);
                let named: Vec<(&str, NodeId)> = fields
                    .iter()
                    .filter(|(key, _)| !tree.is_merge_key(*key))
                    .filter_map(|(key, value)| Some((tree.scalar(tree.resolve(*key))?, *value)))
                    .collect();
                let last: HashMap<&str, usize> = named
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (*k, i))
                    .collect();
                named
                    .iter()
                    .enumerate()
                    .filter(|(i, (key, _))| last.get(key) == Some(i))
                    .map(|(_, (key, value))| (key.to_string(), *value))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
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
