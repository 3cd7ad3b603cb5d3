//! One RFC 6902 operation on the bytes of one document: the pointer followed through the tree,
//! then splices that change exactly the node, entry or item it names.
//!
//! - A value replaced keeps its place: the node's bytes give way to the new value's text (a
//!   block collection under a key becomes a flow one after the colon, the key line's comment
//!   kept). An anchor on it stays.
//! - A key added goes after the mapping's last entry at its siblings' indentation (before the
//!   first one when the last ends in a `|` or `>` scalar, whose trailing lines must not move);
//!   in a flow mapping, after the last entry. An item added goes at its place in the list, as a
//!   `- ` line at the items' indentation, or between the brackets.
//! - An entry or item removed takes its lines with it: its trailing comment, and the comment
//!   lines right above it at its indentation (not above a document's first key: those are the
//!   document's, such as Helm's `# Source:`). The last one of a block collection leaves `{}` or `[]`, which Kubernetes reads
//!   as it read the collection, not as null.
//! - Missing parents of an `add` are created: objects, or a list when the token after them is
//!   `-` or `0`. A null parent is one that is missing.
//!
//! What cannot be edited in place is refused, never approximated: an edit through a YAML alias,
//! in a node that other places read through its anchor or a merge key, or one that would leave
//! an alias naming nothing.

use serde_json::Value;

use super::value;
use crate::apply::layout::{
    column, content_end, ends_in_block_scalar, key_start, line_end, line_start,
};
use crate::apply::Splice;
use crate::tree::{Kind, NodeId, ScalarStyle, Tree};

/// The document being edited.
pub struct Doc<'t, 'a> {
    pub text: &'a str,
    pub tree: &'t Tree<'a>,
    pub newline: &'static str,
    /// The document is JSON: new text is JSON too.
    pub json: bool,
}

/// Why an operation could not be carried out: what, and the line it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// How a node is held by its parent.
#[derive(Debug, Clone, Copy)]
enum Holder {
    Entry { map: NodeId, key: NodeId },
    Item { seq: NodeId, index: usize },
}

/// Where a pointer leads for an edit: through the nodes that exist, to the first token that
/// names nothing.
struct Walk {
    /// The nodes the pointer went through, the resource first, each with its holder.
    nodes: Vec<(NodeId, Option<Holder>)>,
    /// How many tokens named existing nodes.
    found: usize,
}

impl Doc<'_, '_> {
    fn problem(&self, node: NodeId, message: impl Into<String>) -> Problem {
        Problem {
            line: self.tree.node(node).line,
            message: message.into(),
        }
    }

    /// The JSON value at `tokens` below `root`, read as Kubernetes reads it (through aliases
    /// and merge keys), and the line it is on.
    pub fn read(
        &self,
        root: NodeId,
        tokens: &[String],
        pointer: &str,
    ) -> Result<(Value, usize), Problem> {
        let tree = self.tree;
        let mut node = tree.resolve(root);
        for token in tokens {
            let next = match &tree.node(node).kind {
                Kind::Map { .. } => tree.get(node, token),
                Kind::Seq { items, .. } => index(token, items.len())
                    .filter(|i| *i < items.len())
                    .and_then(|i| items.get(i).copied()),
                _ => None,
            };
            node = match next {
                Some(next) => tree.resolve(next),
                None => return Err(self.problem(node, format!("`{pointer}` does not exist in this resource; check the path, or narrow the patch's `target`"))),
            };
        }
        value::json(tree, node)
            .map(|value| (value, tree.node(node).line))
            .map_err(|what| self.problem(node, format!("cannot read `{pointer}`: {what}")))
    }

    /// Follows `tokens` as far as they name nodes, refusing to go through what cannot be
    /// edited in place.
    fn walk(&self, root: NodeId, tokens: &[String]) -> Result<Walk, Problem> {
        let tree = self.tree;
        let mut nodes = vec![(root, None)];
        let mut node = root;
        self.guard(node)?;
        for (found, token) in tokens.iter().enumerate() {
            let next = match &tree.node(node).kind {
                Kind::Map { .. } => match tree.entry(node, token) {
                    None => None,
                    Some((key, value)) => {
                        if !tree.entries(node).iter().any(|(k, _)| *k == key) {
                            return Err(self.problem(node, format!("cannot edit `{token}` here: a YAML merge key (`<<`) brings it, from a mapping other places read too; write the key in this mapping")));
                        }
                        Some((value, Holder::Entry { map: node, key }))
                    }
                },
                Kind::Seq { items, .. } => match index(token, items.len()) {
                    Some(i) if i < items.len() => items
                        .get(i)
                        .map(|item| (*item, Holder::Item { seq: node, index: i })),
                    Some(_) => None,
                    None => {
                        return Err(self.problem(node, format!("`{token}` is not an index of this list of {} item(s)", items.len())))
                    }
                },
                Kind::Scalar { .. } if tree.is_null(node) => None,
                Kind::Scalar { .. } => {
                    return Err(self.problem(node, format!("cannot go into `{token}`: the value here is a scalar, not a mapping or a list")))
                }
                Kind::Alias { .. } => return Err(self.alias(node)),
            };
            let Some((next, holder)) = next else {
                return Ok(Walk { nodes, found });
            };
            self.guard(next)?;
            nodes.push((next, Some(holder)));
            node = next;
        }
        Ok(Walk {
            found: tokens.len(),
            nodes,
        })
    }

    fn alias(&self, node: NodeId) -> Problem {
        self.problem(node, "cannot edit through a YAML alias: the edit would change what its anchor names, for everyone who reads it; give this resource a value of its own")
    }

    /// Refuses a node whose edit would change more than this place.
    fn guard(&self, node: NodeId) -> Result<(), Problem> {
        let tree = self.tree;
        let n = tree.node(node);
        if matches!(n.kind, Kind::Alias { .. }) {
            return Err(self.alias(node));
        }
        if n.anchor
            .is_some_and(|a| tree.aliases_of(a).next().is_some())
        {
            return Err(self.problem(node, "cannot edit a node that other places read through its YAML anchor; give this resource a value of its own"));
        }
        if tree.is_merged(node) {
            return Err(self.problem(node, "cannot edit a mapping that a YAML merge key (`<<`) brings into another one; give this resource a value of its own"));
        }
        Ok(())
    }

    /// Refuses to drop a node that defines an anchor an alias still uses.
    fn droppable(&self, node: NodeId) -> Result<(), Problem> {
        let tree = self.tree;
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if tree
                .node(n)
                .anchor
                .is_some_and(|a| tree.aliases_of(a).next().is_some())
            {
                return Err(self.problem(n, "cannot remove or replace a node that defines a YAML anchor an alias still uses"));
            }
            stack.extend(tree.entries(n).iter().flat_map(|(k, v)| [*k, *v]));
            stack.extend(tree.items(n));
        }
        Ok(())
    }

    /// `replace`: the node at `tokens` gets `value`.
    pub fn replace(
        &self,
        root: NodeId,
        tokens: &[String],
        pointer: &str,
        value: &Value,
    ) -> Result<Vec<Splice>, Problem> {
        let walk = self.walk(root, tokens)?;
        let (node, holder) = self.existing(&walk, tokens, pointer)?;
        self.droppable(node)?;
        Ok(self.overwrite(node, holder, &value::text(value, self.json)))
    }

    /// `remove`: the entry or item at `tokens` goes.
    pub fn remove(
        &self,
        root: NodeId,
        tokens: &[String],
        pointer: &str,
    ) -> Result<Vec<Splice>, Problem> {
        let walk = self.walk(root, tokens)?;
        let (node, holder) = self.existing(&walk, tokens, pointer)?;
        self.droppable(node)?;
        match holder {
            Some(Holder::Entry { map, key }) => self.remove_entry(map, key),
            Some(Holder::Item { seq, index }) => self.remove_item(seq, index),
            None => Err(self.problem(node, "cannot remove the whole resource")),
        }
    }

    /// `add`: a member set (replaced when it exists), an item inserted, or missing parents
    /// created with it.
    pub fn add(
        &self,
        root: NodeId,
        tokens: &[String],
        pointer: &str,
        value: &Value,
    ) -> Result<Vec<Splice>, Problem> {
        let walk = self.walk(root, tokens)?;
        let Some(last) = tokens.last() else {
            return Err(self.problem(root, "cannot replace the whole resource"));
        };
        if walk.found == tokens.len() {
            // Every token names a node: the last is a member (set) or an item (insert before).
            let (node, holder) = self.existing(&walk, tokens, pointer)?;
            return match holder {
                Some(Holder::Item { seq, index }) => self.insert_item(seq, index, value),
                _ => {
                    self.droppable(node)?;
                    Ok(self.overwrite(node, holder, &value::text(value, self.json)))
                }
            };
        }
        let (container, holder) = walk.nodes.last().copied().unwrap_or((root, None));
        let missing = tokens.get(walk.found..).unwrap_or_default();
        let Some((first, rest)) = missing.split_first() else {
            return Err(self.problem(container, format!("`{pointer}` cannot be added")));
        };
        let nested = nest(rest, value.clone());
        let tree = self.tree;
        match &tree.node(container).kind {
            Kind::Map { .. } => self.insert_entry(container, first, &nested),
            Kind::Seq { items, .. } => {
                if !rest.is_empty() {
                    return Err(self.problem(
                        container,
                        format!("`{pointer}`: item `{first}` of the list does not exist"),
                    ));
                }
                match index(last, items.len()) {
                    Some(i) if i == items.len() => self.insert_item(container, i, value),
                    _ => Err(self.problem(container, format!("`{pointer}`: `{last}` is past the end of the list of {} item(s); use `-` to append", items.len()))),
                }
            }
            _ => {
                // A null parent: it becomes the collection the rest of the pointer needs.
                let whole = nest(missing, value.clone());
                Ok(self.overwrite(container, holder, &value::text(&whole, self.json)))
            }
        }
    }

    /// The node `tokens` names, which must exist.
    fn existing(
        &self,
        walk: &Walk,
        tokens: &[String],
        pointer: &str,
    ) -> Result<(NodeId, Option<Holder>), Problem> {
        let (node, holder) = walk.nodes.last().copied().ok_or_else(|| Problem {
            line: 0,
            message: "empty walk".into(),
        })?;
        if walk.found < tokens.len() {
            return Err(self.problem(node, format!("`{pointer}` does not exist in this resource; `remove` and `replace` need an existing path (`add` creates one), or narrow the patch's `target`")));
        }
        Ok((node, holder))
    }

    /// Where a value's text goes when the value moves to the line of its key or dash: just
    /// past the `:` or `-`.
    fn indicator(&self, holder: Option<Holder>, node: NodeId) -> Option<usize> {
        let text = self.text;
        match holder? {
            Holder::Entry { key, .. } => {
                let end = self.tree.node(key).span.end;
                let colon = text.get(end..self.tree.node(node).props)?.find(':')?;
                Some(end + colon + 1)
            }
            Holder::Item { .. } => {
                let at = self.tree.node(node).props;
                let dash = text.get(line_start(text, at)..at)?.rfind('-')?;
                Some(line_start(text, at) + dash + 1)
            }
        }
    }

    /// Where a block collection's text starts: its first key (with what precedes it on its
    /// line), or its first item's `-`.
    fn collection_start(&self, node: NodeId) -> usize {
        let (text, tree) = (self.text, self.tree);
        match &tree.node(node).kind {
            Kind::Map {
                flow: false,
                entries,
            } => entries
                .first()
                .map_or(tree.node(node).span.start, |(k, _)| {
                    key_start(text, tree, *k)
                }),
            Kind::Seq { flow: false, items } => items
                .first()
                .and_then(|i| self.dash(*i))
                .unwrap_or(tree.node(node).span.start),
            _ => tree.node(node).props,
        }
    }

    /// The `-` of a block list's item, when it is on the item's first line.
    fn dash(&self, item: NodeId) -> Option<usize> {
        let text = self.text;
        let at = self.tree.node(item).props;
        let start = line_start(text, at);
        text.get(start..at)?.rfind('-').map(|d| start + d)
    }

    fn is_block_collection(&self, node: NodeId) -> bool {
        matches!(
            self.tree.node(node).kind,
            Kind::Map { flow: false, .. } | Kind::Seq { flow: false, .. }
        )
    }

    /// Whether the text before `at` on its line is only indentation.
    fn starts_line(&self, at: usize) -> bool {
        let text = self.text;
        text.get(line_start(text, at)..at)
            .is_some_and(|before| before.trim_start_matches('\u{feff}').trim().is_empty())
    }

    /// The end of a node's own text (a block scalar's trailing blank lines excluded).
    fn end(&self, node: NodeId) -> usize {
        content_end(self.text, self.tree.node(node).span.clone())
    }

    /// `node`'s bytes replaced by `new`, which is one line of flow text.
    fn overwrite(&self, node: NodeId, holder: Option<Holder>, new: &str) -> Vec<Splice> {
        let (text, tree) = (self.text, self.tree);
        let n = tree.node(node);
        let new = n.with_anchor(text, new);
        let end = self.end(node).max(n.span.start);
        if self.is_block_collection(node) {
            let start = self.collection_start(node);
            if self.starts_line(start) {
                if n.props < n.span.start && n.props < start {
                    // `key: &anchor` then the collection: the anchor's line gets the value.
                    return vec![Splice::replace(n.props..end, new)];
                }
                if let Some(at) = self.indicator(holder, node) {
                    // From the end of the key's line: the collection's lines go, comments
                    // among them, and the key line keeps its own comment.
                    let from = text
                        .get(at..)
                        .and_then(|rest| rest.find(['\n', '\r']))
                        .map_or(start, |i| at + i);
                    return vec![
                        Splice::insert(at, format!(" {new}")),
                        Splice::replace(from.max(at)..end, String::new()),
                    ];
                }
                return vec![Splice::replace(start..end, new)];
            }
            return vec![Splice::replace(start.min(n.props)..end, new)];
        }
        if n.props == n.span.end {
            // An empty null (`key:` with nothing after it).
            if let Some(at) = self.indicator(holder, node) {
                return vec![Splice::insert(at, format!(" {new}"))];
            }
        }
        vec![Splice::replace(n.props..end, new)]
    }

    /// A new `key: value` in a mapping.
    fn insert_entry(&self, map: NodeId, key: &str, value: &Value) -> Result<Vec<Splice>, Problem> {
        let (text, tree) = (self.text, self.tree);
        let key = if self.json {
            crate::quoting::double_quoted(key)
        } else {
            crate::quoting::new_scalar(key)
        };
        let entry = format!("{key}: {}", value::text(value, self.json));
        let node = tree.node(map);
        let entries = tree.entries(map);
        if let Kind::Map { flow: true, .. } = node.kind {
            return Ok(vec![match entries.last() {
                None => Splice::replace(node.span.clone(), format!("{{{entry}}}")),
                Some((_, last)) => Splice::insert(tree.node(*last).span.end, format!(", {entry}")),
            }]);
        }
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Err(self.problem(map, "cannot add a key to an empty block mapping"));
        };
        let first_start = key_start(text, tree, first.0);
        let indent = " ".repeat(column(text, first_start));
        let nl = self.newline;
        if ends_in_block_scalar(tree, last.1) {
            return Ok(vec![Splice::insert(
                first_start,
                format!("{entry}{nl}{indent}"),
            )]);
        }
        let at = line_end(text, self.end(last.1), text.len());
        plain_lines(text, first_start..first_start, node.line)?;
        plain_lines(text, self.end(last.1)..self.end(last.1), node.line)?;
        let lead = if text.get(..at).is_some_and(|t| t.ends_with(['\n', '\r'])) {
            ""
        } else {
            nl
        };
        Ok(vec![Splice::insert(
            at,
            format!("{lead}{indent}{entry}{nl}"),
        )])
    }

    /// A new item at `index` of a list (`index` may be its length: appended).
    fn insert_item(
        &self,
        seq: NodeId,
        index: usize,
        value: &Value,
    ) -> Result<Vec<Splice>, Problem> {
        let tree = self.tree;
        let new = value::text(value, self.json);
        let items = tree.items(seq);
        let node = tree.node(seq);
        if let Kind::Seq { flow: true, .. } = node.kind {
            return Ok(vec![match (items.get(index), items.last()) {
                (Some(at), _) => Splice::insert(tree.node(*at).props, format!("{new}, ")),
                (None, Some(last)) => Splice::insert(tree.node(*last).span.end, format!(", {new}")),
                (None, None) => Splice::replace(node.span.clone(), format!("[{new}]")),
            }]);
        }
        let text = self.text;
        let Some(first) = items.first() else {
            return Err(self.problem(seq, "cannot add to an empty block list"));
        };
        let Some(first_dash) = self.dash(*first) else {
            return Err(self.problem(
                seq,
                "cannot add to a list whose items do not start on their `-` line",
            ));
        };
        let indent = " ".repeat(column(text, first_dash));
        let nl = self.newline;
        plain_lines(text, first_dash..first_dash, node.line)?;
        if let Some(at) = items.get(index) {
            let Some(dash) = self.dash(*at) else {
                return Err(self.problem(
                    *at,
                    "cannot add before an item that does not start on its `-` line",
                ));
            };
            plain_lines(text, dash..dash, node.line)?;
            return Ok(vec![if self.starts_line(dash) {
                Splice::insert(line_start(text, dash), format!("{indent}- {new}{nl}"))
            } else {
                Splice::insert(dash, format!("- {new}{nl}{indent}"))
            }]);
        }
        let last = items.last().copied().unwrap_or(*first);
        if self.keeps_trailing_lines(last) {
            return Err(self.problem(last, "cannot add after an item that ends in a `|+` or `>+` block scalar, whose trailing lines are part of it"));
        }
        let at = line_end(text, self.end(last), text.len());
        plain_lines(text, self.end(last)..self.end(last), node.line)?;
        let lead = if text.get(..at).is_some_and(|t| t.ends_with(['\n', '\r'])) {
            ""
        } else {
            nl
        };
        Ok(vec![Splice::insert(
            at,
            format!("{lead}{indent}- {new}{nl}"),
        )])
    }

    /// Whether the last thing in `node` is a block scalar with keep chomping (`|+`, `>+`).
    fn keeps_trailing_lines(&self, mut node: NodeId) -> bool {
        let tree = self.tree;
        if !ends_in_block_scalar(tree, node) {
            return false;
        }
        loop {
            match &tree.node(node).kind {
                Kind::Map { entries, .. } => match entries.last() {
                    Some((_, v)) => node = *v,
                    None => return false,
                },
                Kind::Seq { items, .. } => match items.last() {
                    Some(i) => node = *i,
                    None => return false,
                },
                Kind::Scalar {
                    style: ScalarStyle::Literal | ScalarStyle::Folded,
                    ..
                } => {
                    let span = tree.node(node).span.clone();
                    let header = self.text.get(span).unwrap_or_default();
                    let header = header.split(['\n', '\r']).next().unwrap_or_default();
                    return header.split('#').next().unwrap_or_default().contains('+');
                }
                _ => return false,
            }
        }
    }

    fn remove_entry(&self, map: NodeId, key: NodeId) -> Result<Vec<Splice>, Problem> {
        let (text, tree) = (self.text, self.tree);
        let entries = tree.entries(map);
        let Some(position) = entries.iter().position(|(k, _)| *k == key) else {
            return Err(self.problem(key, "internal error: the key is not in its mapping"));
        };
        let name = tree.scalar(tree.resolve(key)).unwrap_or_default();
        let twice = entries
            .iter()
            .filter(|(k, _)| tree.scalar(tree.resolve(*k)) == Some(name))
            .count()
            > 1;
        if twice {
            return Err(self.problem(key, format!("cannot remove `{name}`: the mapping has it twice, and removing the one Kubernetes reads would bring back the other; keep only one")));
        }
        let merged = entries.iter().any(|(k, v)| {
            tree.is_merge_key(*k) && {
                let source = tree.resolve(*v);
                std::iter::once(source)
                    .chain(tree.items(source).iter().map(|i| tree.resolve(*i)))
                    .any(|m| {
                        matches!(tree.node(m).kind, Kind::Map { .. }) && tree.get(m, name).is_some()
                    })
            }
        });
        if merged {
            return Err(self.problem(key, format!("cannot remove `{name}`: a YAML merge key (`<<`) in the mapping brings it too, and would bring it back")));
        }
        let value = entries.get(position).map_or(key, |(_, v)| *v);
        if let Kind::Map { flow: true, .. } = tree.node(map).kind {
            return Ok(vec![flow_remove(
                tree,
                map,
                entries
                    .iter()
                    .map(|(k, v)| (tree.node(*k).props, tree.node(*v).span.end))
                    .collect(),
                position,
                "{}",
            )]);
        }
        if entries.len() == 1 {
            return Ok(self.empty(map, "{}"));
        }
        let start = key_start(text, tree, key);
        if self.starts_line(start) {
            // Comment lines above the first key of a document are the document's (`# Source:`).
            let climb = position > 0 || tree.root() != Some(map);
            let from = self.with_comments_above(start, climb);
            let to = line_end(text, self.end(value), text.len());
            plain_lines(text, from..to, tree.node(key).line)?;
            return Ok(vec![Splice::replace(from..to, String::new())]);
        }
        // The first entry, on the line of a `- `: the next entry moves up in its place.
        let next = entries
            .get(position + 1)
            .map(|(k, _)| key_start(text, tree, *k));
        match next {
            Some(next) => Ok(vec![Splice::replace(start..next, String::new())]),
            None => Err(self.problem(key, "internal error: no entry after the first")),
        }
    }

    fn remove_item(&self, seq: NodeId, index: usize) -> Result<Vec<Splice>, Problem> {
        let (text, tree) = (self.text, self.tree);
        let items = tree.items(seq);
        if let Kind::Seq { flow: true, .. } = tree.node(seq).kind {
            return Ok(vec![flow_remove(
                tree,
                seq,
                items
                    .iter()
                    .map(|i| (tree.node(*i).props, tree.node(*i).span.end))
                    .collect(),
                index,
                "[]",
            )]);
        }
        if items.len() == 1 {
            return Ok(self.empty(seq, "[]"));
        }
        let Some(item) = items.get(index).copied() else {
            return Err(self.problem(seq, "internal error: no such item"));
        };
        let Some(dash) = self.dash(item) else {
            return Err(self.problem(
                item,
                "cannot remove an item that does not start on its `-` line",
            ));
        };
        if self.starts_line(dash) {
            let from = self.with_comments_above(dash, index > 0);
            let to = line_end(text, self.end(item), text.len());
            plain_lines(text, from..to, tree.node(item).line)?;
            return Ok(vec![Splice::replace(from..to, String::new())]);
        }
        match items.get(index + 1).and_then(|next| self.dash(*next)) {
            Some(next) => Ok(vec![Splice::replace(dash..next, String::new())]),
            None => Err(self.problem(
                item,
                "cannot remove this item: the next one does not start on its `-` line",
            )),
        }
    }

    /// The start of the line of `at`, moved up over the comment lines right above it at the
    /// same indentation when `climb`.
    fn with_comments_above(&self, at: usize, climb: bool) -> usize {
        let text = self.text;
        let mut start = line_start(text, at);
        if !climb {
            return start;
        }
        let indent = column(text, at);
        while start > 0 {
            let above = line_start(text, previous_line_end(text, start));
            let line = text.get(above..start).unwrap_or_default();
            let trimmed = line.trim_start();
            let comment = trimmed.starts_with('#')
                && line.len() - trimmed.len() == indent
                && !line.contains(YAML_1_1_BREAKS);
            if !comment {
                break;
            }
            start = above;
        }
        start
    }

    /// A block collection that loses its only child: `{}` or `[]` in its place.
    fn empty(&self, node: NodeId, empty: &str) -> Vec<Splice> {
        let holder = self.holder_of(node);
        self.overwrite(node, holder, empty)
    }

    /// The holder of a node, found from its parent.
    fn holder_of(&self, node: NodeId) -> Option<Holder> {
        let tree = self.tree;
        (0..tree.len()).find_map(|parent| match &tree.node(parent).kind {
            Kind::Map { entries, .. } => {
                entries
                    .iter()
                    .find(|(_, v)| *v == node)
                    .map(|(k, _)| Holder::Entry {
                        map: parent,
                        key: *k,
                    })
            }
            Kind::Seq { items, .. } => items
                .iter()
                .position(|i| *i == node)
                .map(|index| Holder::Item { seq: parent, index }),
            _ => None,
        })
    }
}

/// An item or entry of a flow collection removed with one comma: the one after it, or for
/// the last, the one before it. `spans` are where each starts and ends.
fn flow_remove(
    tree: &Tree<'_>,
    node: NodeId,
    spans: Vec<(usize, usize)>,
    index: usize,
    empty: &str,
) -> Splice {
    let this = spans.get(index).copied();
    match (
        this,
        spans.get(index + 1),
        index.checked_sub(1).and_then(|i| spans.get(i)),
    ) {
        (Some((start, _)), Some((next, _)), _) => Splice::replace(start..*next, String::new()),
        (Some((_, end)), None, Some((_, previous))) => {
            Splice::replace(*previous..end, String::new())
        }
        _ => Splice::replace(tree.node(node).span.clone(), empty.to_string()),
    }
}

/// The characters YAML 1.1 (and so Kubernetes) reads as line breaks besides LF and CR: NEL,
/// LS and PS. The line arithmetic here knows only LF and CR, so lines with these are not
/// edited as lines.
const YAML_1_1_BREAKS: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];

/// Refuses an edit of whole lines that hold a NEL, LS or PS.
fn plain_lines(text: &str, range: std::ops::Range<usize>, line: usize) -> Result<(), Problem> {
    let start = line_start(text, range.start);
    let end = line_end(text, range.end, text.len());
    match text.get(start..end).is_some_and(|t| t.contains(YAML_1_1_BREAKS)) {
        false => Ok(()),
        true => Err(Problem {
            line,
            message: "cannot edit lines broken by NEL, LS or PS (which YAML 1.1 reads as line breaks) in place; write them with LF line breaks".to_string(),
        }),
    }
}

/// Where the line before the one holding `at` ends (before its line break).
fn previous_line_end(text: &str, at: usize) -> usize {
    let start = line_start(text, at);
    let before = text.get(..start).unwrap_or_default();
    if before.ends_with("\r\n") {
        start - 2
    } else if before.ends_with(['\n', '\r']) {
        start - 1
    } else {
        start
    }
}

/// A list index token: `-` is `len`; digits without a leading zero.
fn index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    let digits = !token.is_empty() && token.chars().all(|c| c.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// `value` under the missing `tokens`: objects, or a list where the next token is `-` or `0`.
fn nest(tokens: &[String], value: Value) -> Value {
    tokens
        .iter()
        .rev()
        .fold(value, |inner, token| match token.as_str() {
            "-" | "0" => Value::Array(vec![inner]),
            _ => {
                let mut object = serde_json::Map::new();
                object.insert(token.clone(), inner);
                Value::Object(object)
            }
        })
}
