//! The span tree of one document: what Kubernetes reads from it, with the byte range of every
//! node.
//!
//! Kubernetes reads a manifest with sigs.k8s.io/yaml over go-yaml v2, a port of libyaml that
//! reads YAML 1.1. The tree is built from the events of `libyaml-safer`, a port of the same
//! libyaml, so both scan the same language: NEL, LS and PS are line breaks, `\'` is an escape in
//! double quotes, `[cat, -]` holds a plain `-`. What go-yaml v2 adds to libyaml is done here:
//! - only the first document of a chunk is read (the rest of the chunk is never looked at);
//! - merge keys (`<<: *base`, `<<: [*a, *b]`) are looked through by [`Tree::get`] and
//!   [`Tree::fields`], in go-yaml v2's order: entries are read top to bottom and a later one
//!   overwrites an earlier one, a merge included; in a merged list the earlier map wins;
//! - a `!!binary` scalar reads as its decoded text;
//! - an alias to an unknown anchor, an anchor that contains its own alias, and a merge of
//!   anything but maps are errors, as they are for Kubernetes.
//!
//! Comments are not kept and nothing is re-encoded. Every node keeps its byte range in the
//! stream (so that an edit replaces exactly those bytes) and where its anchor and tag start.
//! Collections in block style start at their first child (after the `- ` of a sequence) and end
//! where their last child ends; in flow style they span their brackets.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use base64::Engine as _;
use libyaml_safer::{Event, EventData, MappingStyle, Parser, SequenceStyle};

/// Index of a node in its [`Tree`].
pub type NodeId = usize;

/// One parsed YAML document.
#[derive(Debug, Default)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    root: Option<NodeId>,
    /// `(anchor, node that defines it)`, in anchor order (anchors are numbered as they are
    /// met), so that an alias resolves by binary search rather than a scan of every node.
    anchors: Vec<(usize, NodeId)>,
    /// `(anchor, alias node)` for every alias, sorted, so that finding an anchor's aliases does
    /// not scan every node either: a document of many anchored images stays linear.
    aliases: Vec<(usize, NodeId)>,
    /// The mappings that hold a merge key, sorted; lookups in other mappings take no detour.
    merging: Vec<NodeId>,
    /// The mappings that a merge key merges somewhere, sorted.
    merged: Vec<NodeId>,
}

/// A node and where it is.
#[derive(Debug)]
pub struct Node<'a> {
    pub kind: Kind<'a>,
    /// Byte range in the stream (anchors and tags excluded).
    pub span: Range<usize>,
    /// Where the node's anchor and tag start: `span.start` when it has neither.
    pub props: usize,
    /// 1-based line and 0-based column of the first byte.
    pub line: usize,
    pub col: usize,
    /// The anchor this node defines, if any (numbered from 1 in document order).
    pub anchor: Option<usize>,
    pub tag: Tag,
}

impl Node<'_> {
    /// `new` written where this node is, with the node's anchor kept and its tag dropped:
    /// `&name new`, or `new`.
    pub fn with_anchor(&self, text: &str, new: &str) -> String {
        let props = text.get(self.props..self.span.start).unwrap_or_default();
        let anchor = props
            .split_whitespace()
            .take_while(|p| !p.starts_with('#'))
            .find(|p| p.starts_with('&'));
        match anchor.filter(|_| self.anchor.is_some()) {
            Some(anchor) => format!("{anchor} {new}"),
            None => new.to_string(),
        }
    }
}

/// What a node is.
#[derive(Debug)]
pub enum Kind<'a> {
    Scalar {
        /// The string Kubernetes reads (a `!!binary` scalar decoded).
        value: Cow<'a, str>,
        style: ScalarStyle,
    },
    Map {
        flow: bool,
        entries: Vec<(NodeId, NodeId)>,
    },
    Seq {
        flow: bool,
        items: Vec<NodeId>,
    },
    /// `*name`: a reference to the node that defines anchor `target`.
    Alias {
        target: usize,
    },
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A node's explicit tag, as far as reading and editing it needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// No tag: the value is resolved from its text.
    None,
    /// `!!str`: a string whatever it looks like.
    Str,
    /// `!`: the non-specific tag, which go-yaml v2 resolves as if there were none (so `! <<` is
    /// a merge key and `! 0644` a number), whatever the style.
    NonSpecific,
    /// `!!binary`: base64 of the value (decoded in [`Kind::Scalar::value`]).
    Binary,
    /// `!!null`.
    Null,
    /// `!!merge`.
    Merge,
    /// Any other tag (`!!int`, `!!map`, `!local`).
    Other,
}

/// The document is not valid YAML, or not YAML that Kubernetes reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    /// 1-based line in the stream and 1-based column.
    pub line: usize,
    pub column: usize,
}

/// Where a chunk's text sits in the stream, to turn parser positions into stream positions.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub offset: usize,
    pub first_line: usize,
}

/// Collections nested deeper than this, in block or in flow style, are a syntax error: the
/// bound keeps hostile input (`[[[[…`) from exhausting the stack or the time of the walk.
/// Real manifests nest a few dozen levels at most; CRD schemas, the deepest, are never walked.
pub const MAX_NESTING: usize = 255;

/// How many mappings one lookup may visit through merge keys. Merges of merges can grow
/// exponentially (`<<: [*a, *a]` at every level); go-yaml v2 expands them all, reimage refuses
/// the document instead.
pub const MAX_MERGE_VISITS: usize = 10_000;

/// How deep merge keys may merge mappings that merge others (lookups recurse this deep).
pub const MAX_MERGE_DEPTH: usize = 64;

/// How many entries merge keys may gather in one document, all mappings together.
pub const MAX_MERGED_ENTRIES: usize = 1_000_000;

/// How many `\'` escapes (go-yaml v2's, not libyaml's) one document may hold.
const MAX_QUOTE_ESCAPES: usize = 64;

/// The chunk's bytes handed to libyaml a window at a time: it decodes what it is given into a
/// buffer of `char`s (4 bytes each), so a whole chunk at once would cost four times its size.
struct Window<'b> {
    bytes: &'b [u8],
    /// Read after `bytes`.
    tail: &'static [u8],
}

/// Bytes per window (the end moves to the next character boundary).
const WINDOW: usize = 16 * 1024;

impl std::io::Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.bytes.is_empty() {
            self.bytes = std::mem::take(&mut self.tail);
        }
        let n = buf.len().min(self.bytes.len());
        let (head, tail) = self.bytes.split_at(n);
        if let Some(out) = buf.get_mut(..n) {
            out.copy_from_slice(head);
        }
        self.bytes = tail;
        Ok(n)
    }
}

impl std::io::BufRead for Window<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.bytes.is_empty() {
            self.bytes = std::mem::take(&mut self.tail);
        }
        let mut end = WINDOW.min(self.bytes.len());
        while self.bytes.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
            end += 1;
        }
        Ok(self.bytes.get(..end).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.bytes = self.bytes.get(amount..).unwrap_or_default();
    }
}

/// Why building a tree stopped.
enum Stop {
    Error(SyntaxError),
    /// libyaml refused the `\'` escape whose `'` is at this byte of the chunk.
    Quote(usize),
}

impl From<SyntaxError> for Stop {
    fn from(error: SyntaxError) -> Self {
        Stop::Error(error)
    }
}

impl<'a> Tree<'a> {
    /// Parses the first YAML document of `text`, as Kubernetes does; an empty text is an empty
    /// tree.
    pub fn parse(text: &'a str, origin: Origin) -> Result<Tree<'a>, SyntaxError> {
        // libyaml reads a byte order mark and does not count it in its positions.
        // libyaml reads a byte order mark without counting it in its positions, and go-yaml v2
        // skips a second one at the start too: all are left out.
        let rest = text.trim_start_matches('\u{feff}');
        let origin = Origin {
            offset: origin.offset + (text.len() - rest.len()),
            ..origin
        };
        let text = rest;
        // libyaml does not know the escape `\'` that go-yaml v2 reads as `'`: each one it stops
        // at is read again as `\a`, of the same length, and turned back in the value.
        let mut patched: Option<Vec<u8>> = None;
        let mut quotes = Vec::new();
        loop {
            let input = patched.as_deref().unwrap_or(text.as_bytes());
            let built =
                std::panic::catch_unwind(|| Builder::new(text, origin, &quotes).build(input))
                    .unwrap_or_else(|_| {
                        Err(Stop::Error(SyntaxError {
                            message:
                                "the YAML parser stopped on this document (a bug in reimage's \
                                  parser; please report it with the document)"
                                    .into(),
                            line: origin.first_line,
                            column: 1,
                        }))
                    });
            match built {
                Err(Stop::Quote(at)) if quotes.len() < MAX_QUOTE_ESCAPES => {
                    let bytes = patched.get_or_insert_with(|| text.as_bytes().to_vec());
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = b'a';
                    }
                    quotes.push(origin.offset + at);
                }
                Err(Stop::Quote(_)) => {
                    return Err(SyntaxError {
                        message: format!(
                            "more than {MAX_QUOTE_ESCAPES} `\\'` escapes in double quotes; \
                             reimage reads at most that many per document"
                        ),
                        line: origin.first_line,
                        column: 1,
                    })
                }
                Err(Stop::Error(e)) => return Err(e),
                Ok(tree) => return Ok(tree),
            }
        }
    }

    /// The top node, if the document is not empty.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// A node by its id. Ids are indexes handed out by the builder as it pushes nodes, never
    /// read from the input; every other lookup goes through here.
    #[allow(
        clippy::indexing_slicing,
        reason = "node ids are handed out by the builder"
    )]
    pub fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id]
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "node ids are handed out by the builder"
    )]
    fn node_mut(&mut self, id: NodeId) -> &mut Node<'a> {
        &mut self.nodes[id]
    }

    /// Whether a scalar node is YAML null (`~`, `null`, or nothing) rather than a string.
    pub fn is_null(&self, id: NodeId) -> bool {
        match &self.node(id).kind {
            Kind::Scalar { value, style } => {
                *style == ScalarStyle::Plain
                    && matches!(value.as_ref(), "~" | "null" | "Null" | "NULL" | "")
            }
            _ => false,
        }
    }

    /// The scalar value of a node, if it is a scalar.
    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.node(id).kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping as Kubernetes reads it: with duplicate keys the last
    /// one, merge keys looked through.
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entry(map, key).map(|(_, value)| value)
    }

    /// The key node and value node of `key` in a mapping, as [`Tree::get`] finds them (the
    /// nodes may be inside a merged mapping).
    pub fn entry(&self, map: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        let entries = self.entries(map);
        if !self.merges(map) {
            return entries
                .iter()
                .rev()
                .find(|(k, _)| self.key(*k) == Some(key))
                .copied();
        }
        let mut found = None;
        for &(k, v) in entries {
            if self.is_merge_key(k) {
                found = self.merged_entry(v, key).or(found);
            } else if self.key(k) == Some(key) {
                found = Some((k, v));
            }
        }
        found
    }

    /// The entry for `key` that the value of a merge key brings, if any.
    fn merged_entry(&self, value: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        let value = self.resolve(value);
        match &self.node(value).kind {
            Kind::Map { .. } => self.entry(value, key),
            // go-yaml v2 merges the list from its end, so the first map that has the key wins.
            Kind::Seq { items, .. } => items
                .iter()
                .find_map(|item| self.entry(self.resolve(*item), key)),
            _ => None,
        }
    }

    /// Every `(key, value)` of a mapping, merged entries included, in the order keys first
    /// appear. Through merge keys each key comes once, with the value that wins; a mapping
    /// without merge keys gives its entries as written, duplicate keys included.
    pub fn fields(&self, map: NodeId) -> Cow<'_, [(NodeId, NodeId)]> {
        if !self.merges(map) {
            return Cow::Borrowed(self.entries(map));
        }
        let mut fields = Fields::default();
        self.collect_fields(map, &mut fields);
        Cow::Owned(fields.entries)
    }

    fn collect_fields<'t>(&'t self, map: NodeId, fields: &mut Fields<'t>) {
        for &(k, v) in self.entries(map) {
            if !self.is_merge_key(k) {
                fields.set(self.key(k), k, v);
                continue;
            }
            let source = self.resolve(v);
            match &self.node(source).kind {
                Kind::Map { .. } => self.collect_fields(source, fields),
                Kind::Seq { items, .. } => {
                    for item in items.iter().rev() {
                        self.collect_fields(self.resolve(*item), fields);
                    }
                }
                _ => {}
            }
        }
    }

    /// The string value of `key` in a mapping.
    pub fn get_str(&self, map: NodeId, key: &str) -> Option<&str> {
        self.get(map, key)
            .and_then(|v| self.scalar(self.resolve(v)))
    }

    /// The items of a sequence (an empty slice for anything else).
    pub fn items(&self, seq: NodeId) -> &[NodeId] {
        match &self.node(seq).kind {
            Kind::Seq { items, .. } => items,
            _ => &[],
        }
    }

    /// Follows an alias to the node it names; other nodes are returned as they are.
    pub fn resolve(&self, id: NodeId) -> NodeId {
        match self.node(id).kind {
            Kind::Alias { target } => self.anchored(target).unwrap_or(id),
            _ => id,
        }
    }

    /// The node that defines anchor `anchor`.
    pub fn anchored(&self, anchor: usize) -> Option<NodeId> {
        let at = self
            .anchors
            .binary_search_by_key(&anchor, |(a, _)| *a)
            .ok()?;
        self.anchors.get(at).map(|(_, node)| *node)
    }

    /// Every alias node that refers to anchor `anchor`, in document order.
    pub fn aliases_of(&self, anchor: usize) -> impl Iterator<Item = NodeId> + '_ {
        let start = self.aliases.partition_point(|(a, _)| *a < anchor);
        self.aliases
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(move |(a, _)| *a == anchor)
            .map(|(_, node)| *node)
    }

    /// Whether any node of the document is an alias or a merge key: then one node can be read
    /// from several places.
    pub fn shares_nodes(&self) -> bool {
        !self.aliases.is_empty() || !self.merging.is_empty()
    }

    /// How many places Kubernetes reads each node from (saturating): 1 for a node written
    /// once, more for one reached through aliases of collections or merge keys, 0 for one it
    /// never reads (a value shadowed by a later duplicate key). Aliases of scalars are not
    /// followed: their reads are counted at the alias node.
    pub fn reads(&self) -> Vec<u32> {
        let mut reads = vec![0u32; self.len()];
        let Some(root) = self.root else {
            return reads;
        };
        // Kahn's algorithm over the graph of what is read from what.
        let mut parents = vec![0u32; self.len()];
        let mut seen = vec![false; self.len()];
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if std::mem::replace(seen.get_mut(node).unwrap_or(&mut true), true) {
                continue;
            }
            for child in self.read_children(node) {
                if let Some(p) = parents.get_mut(child) {
                    *p += 1;
                }
                stack.push(child);
            }
        }
        if let Some(r) = reads.get_mut(root) {
            *r = 1;
        }
        let mut ready = vec![root];
        while let Some(node) = ready.pop() {
            let count = reads.get(node).copied().unwrap_or(0);
            for child in self.read_children(node) {
                if let Some(r) = reads.get_mut(child) {
                    *r = r.saturating_add(count);
                }
                if let Some(p) = parents.get_mut(child) {
                    *p -= 1;
                    if *p == 0 {
                        ready.push(child);
                    }
                }
            }
        }
        reads
    }

    /// The nodes Kubernetes reads from a collection: each key's winning value, each item;
    /// aliases of collections resolved, aliases of scalars as themselves.
    fn read_children(&self, node: NodeId) -> Vec<NodeId> {
        let resolve = |v: NodeId| {
            let r = self.resolve(v);
            let scalar = matches!(self.node(r).kind, Kind::Scalar { .. });
            Some(if scalar { v } else { r })
        };
        match &self.node(node).kind {
            Kind::Seq { items, .. } => items.iter().filter_map(|i| resolve(*i)).collect(),
            Kind::Map { .. } => {
                let fields = self.fields(node);
                let mut last: HashMap<&str, usize> = HashMap::new();
                for (i, (k, _)) in fields.iter().enumerate() {
                    if let Some(key) = self.key(*k) {
                        last.insert(key, i);
                    }
                }
                fields
                    .iter()
                    .enumerate()
                    .filter(|(i, (k, _))| self.key(*k).is_none_or(|key| last.get(key) == Some(i)))
                    .filter_map(|(_, (_, v))| resolve(*v))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The number of nodes; ids run from 0 to this.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the document has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The key/value pairs of a mapping as written (merge keys not looked through; an empty
    /// slice for anything else).
    pub fn entries(&self, map: NodeId) -> &[(NodeId, NodeId)] {
        match &self.node(map).kind {
            Kind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    /// Whether a merge key merges this mapping into another: a key added to it would be
    /// read there too.
    pub fn is_merged(&self, map: NodeId) -> bool {
        self.merged.binary_search(&map).is_ok()
    }

    /// Whether a mapping holds a merge key.
    fn merges(&self, map: NodeId) -> bool {
        !self.merging.is_empty() && self.merging.binary_search(&map).is_ok()
    }

    /// The string of a key (aliases resolved); `None` for the merge key and collections.
    fn key(&self, key: NodeId) -> Option<&str> {
        if self.is_merge_key(key) {
            return None;
        }
        self.scalar(self.resolve(key))
    }

    /// `<<`, plain and untagged, or tagged `!` or `!!merge`, as go-yaml v2 recognises it.
    pub fn is_merge_key(&self, key: NodeId) -> bool {
        let node = self.node(key);
        match &node.kind {
            Kind::Scalar { value, style } => {
                value == "<<"
                    && match node.tag {
                        Tag::None => *style == ScalarStyle::Plain,
                        Tag::NonSpecific | Tag::Merge => true,
                        _ => false,
                    }
            }
            _ => false,
        }
    }
}

/// Fields of a mapping being gathered through its merges: each key once, last value wins.
#[derive(Default)]
struct Fields<'t> {
    entries: Vec<(NodeId, NodeId)>,
    at: HashMap<&'t str, usize>,
}

impl<'t> Fields<'t> {
    fn set(&mut self, key: Option<&'t str>, k: NodeId, v: NodeId) {
        let Some(name) = key else {
            self.entries.push((k, v));
            return;
        };
        match self.at.get(name).and_then(|&i| self.entries.get_mut(i)) {
            Some(entry) => *entry = (k, v),
            None => {
                self.at.insert(name, self.entries.len());
                self.entries.push((k, v));
            }
        }
    }
}

/// What reading through the merge keys of one mapping costs at most.
#[derive(Debug, Clone, Copy)]
struct MergeCost {
    /// Mappings one lookup visits.
    visits: usize,
    /// Merges within merges.
    depth: usize,
    /// Entries gathered by [`Tree::fields`].
    entries: usize,
}

/// An open collection while its children are being read.
struct Frame {
    node: NodeId,
    pending_key: Option<NodeId>,
}

struct Builder<'a, 'q> {
    text: &'a str,
    /// Stream positions of the `'` of every `\'` escape, read as `\a`.
    quotes: &'q [usize],
    origin: Origin,
    tree: Tree<'a>,
    stack: Vec<Frame>,
    /// Anchor names to their numbers; a name defined again names the new node from then on.
    names: HashMap<String, usize>,
    /// The anchors of collections still open: an alias to one would contain itself.
    open_anchors: Vec<usize>,
    /// For mappings with merge keys: what reading through them costs.
    merge_costs: HashMap<NodeId, MergeCost>,
    /// Entries gathered through merge keys in the whole document so far.
    merged_entries: usize,
}

impl<'a, 'q> Builder<'a, 'q> {
    fn new(text: &'a str, origin: Origin, quotes: &'q [usize]) -> Self {
        Builder {
            text,
            quotes,
            origin,
            tree: Tree::default(),
            stack: Vec::new(),
            names: HashMap::new(),
            open_anchors: Vec::new(),
            merge_costs: HashMap::new(),
            merged_entries: 0,
        }
    }

    /// Reads the events of the first document of `input` (the chunk's text, or a copy of it
    /// with `\'` escapes patched) into a tree.
    fn build(mut self, input: &[u8]) -> Result<Tree<'a>, Stop> {
        let mut parser = Parser::new();
        // libyaml-safer stops at a block scalar that ends the input without a line break, so
        // one is added; positions past the chunk are clamped to its end (`byte`) and a scalar
        // that read it loses it again.
        let tail: &[u8] = if input.ends_with(b"\n") || input.ends_with(b"\r") {
            b""
        } else {
            b"\n"
        };
        parser.set_input(Window { bytes: input, tail });
        loop {
            let event = match parser.parse() {
                Ok(event) => event,
                Err(e) => return Err(self.parse_error(&e)),
            };
            match event.data {
                EventData::DocumentEnd { .. } | EventData::StreamEnd => break,
                _ => self.event(event)?,
            }
        }
        Ok(self.finish())
    }

    fn finish(mut self) -> Tree<'a> {
        self.tree.aliases.sort_unstable();
        self.tree.merging.sort_unstable();
        self.tree.merged.sort_unstable();
        self.tree.merged.dedup();
        self.tree
    }

    fn event(&mut self, event: Event) -> Result<(), SyntaxError> {
        let (start, end) = (event.start_mark, event.end_mark);
        match event.data {
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
                ..
            } => {
                let tag = tag_of(tag.as_deref());
                let props = self.byte(start.index);
                let span = self.value_start(props, anchor.is_some(), tag != Tag::None, end.index)
                    ..self.byte(end.index);
                let mut value = value;
                if usize::try_from(end.index).unwrap_or(usize::MAX) > self.text.len() {
                    // A block scalar that read the added line break: go-yaml v2 reads none.
                    if value.ends_with('\n') {
                        value.pop();
                    }
                }
                let value = self.scalar_value(value, tag, span.clone())?;
                let style = style_of(style);
                let kind = Kind::Scalar { value, style };
                let id = self.push(kind, anchor, tag, props, span, start);
                self.attach(id)
            }
            EventData::Alias { anchor } => {
                let Some(&target) = self.names.get(&anchor) else {
                    return Err(self.error(format!("unknown anchor '{anchor}' referenced"), start));
                };
                if self.open_anchors.contains(&target) {
                    return Err(
                        self.error(format!("anchor '{anchor}' value contains itself"), start)
                    );
                }
                let span = self.byte(start.index)..self.byte(end.index);
                let id = self.push(
                    Kind::Alias { target },
                    None,
                    Tag::None,
                    span.start,
                    span,
                    start,
                );
                self.tree.aliases.push((target, id));
                self.attach(id)
            }
            EventData::MappingStart {
                anchor, tag, style, ..
            } => {
                let flow = style == MappingStyle::Flow;
                let kind = Kind::Map {
                    flow,
                    entries: Vec::new(),
                };
                self.open(kind, anchor, tag.as_deref(), start)
            }
            EventData::SequenceStart {
                anchor, tag, style, ..
            } => {
                let flow = style == SequenceStyle::Flow;
                let kind = Kind::Seq {
                    flow,
                    items: Vec::new(),
                };
                self.open(kind, anchor, tag.as_deref(), start)
            }
            EventData::MappingEnd | EventData::SequenceEnd => self.close(end.index),
            _ => Ok(()),
        }
    }

    /// A libyaml byte index as a position in the stream.
    fn byte(&self, index: u64) -> usize {
        // The line break added after a last line without one (see `build`) is no byte of the
        // stream: positions past the chunk's end are its end.
        usize::try_from(index)
            .unwrap_or(usize::MAX)
            .min(self.text.len())
            .saturating_add(self.origin.offset)
    }

    /// The stream text from `start` on (empty past the end of the chunk).
    fn rest(&self, start: usize) -> &'a str {
        let at = start.saturating_sub(self.origin.offset);
        self.text.get(at..).unwrap_or_default()
    }

    /// Where a node's own text starts: past its anchor and tag and the space, line breaks and
    /// comments after them, but not past `end`.
    fn value_start(&self, props: usize, anchor: bool, tag: bool, end: u64) -> usize {
        let end = self.byte(end);
        if !anchor && !tag {
            return props;
        }
        let mut rest = self.rest(props);
        let mut left = usize::from(anchor) + usize::from(tag);
        while left > 0 && (rest.starts_with('&') || rest.starts_with('!')) {
            let len = if rest.starts_with("!<") {
                rest.find('>').map_or(rest.len(), |i| i + 1)
            } else {
                rest.find(|c: char| is_blank_or_break(c) || ",[]{}".contains(c))
                    .unwrap_or(rest.len())
            };
            rest = rest.get(len..).unwrap_or_default();
            rest = skip_space_and_comments(rest);
            left -= 1;
        }
        let at = self.origin.offset + self.text.len() - rest.len();
        at.min(end)
    }

    /// The string Kubernetes reads from a scalar, borrowed from the text when it is written
    /// as it reads.
    fn scalar_value(
        &self,
        value: String,
        tag: Tag,
        span: Range<usize>,
    ) -> Result<Cow<'a, str>, SyntaxError> {
        let source = self.rest(span.start).get(..span.len()).unwrap_or_default();
        let quotes = self.quotes.iter().filter(|q| span.contains(q)).count();
        let value = if quotes == 0 {
            value
        } else if value.matches('\u{7}').count() == quotes {
            value.replace('\u{7}', "'")
        } else {
            return Err(SyntaxError {
                message: "a double-quoted scalar holds both `\\'` and `\\a`; reimage cannot \
                          read it as go-yaml v2 does"
                    .into(),
                line: self.origin.first_line,
                column: 1,
            });
        };
        Ok(self.decoded(value, tag, source))
    }

    fn decoded(&self, value: String, tag: Tag, source: &'a str) -> Cow<'a, str> {
        if tag == Tag::Binary {
            if let Some(decoded) = decode_binary(&value) {
                return Cow::Owned(decoded);
            }
        }
        if source == value {
            Cow::Borrowed(source)
        } else {
            Cow::Owned(value)
        }
    }

    fn push(
        &mut self,
        kind: Kind<'a>,
        anchor: Option<String>,
        tag: Tag,
        props: usize,
        span: Range<usize>,
        start: libyaml_safer::Mark,
    ) -> NodeId {
        let id = self.tree.nodes.len();
        let anchor = anchor.map(|name| {
            let number = self.tree.anchors.len() + 1;
            self.tree.anchors.push((number, id));
            self.names.insert(name, number);
            number
        });
        self.tree.nodes.push(Node {
            kind,
            span,
            props,
            line: self.origin.first_line + usize::try_from(start.line).unwrap_or(0),
            col: usize::try_from(start.column).unwrap_or(0),
            anchor,
            tag,
        });
        id
    }

    fn open(
        &mut self,
        kind: Kind<'a>,
        anchor: Option<String>,
        tag: Option<&str>,
        start: libyaml_safer::Mark,
    ) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(self.error(
                format!("collections are nested more than {MAX_NESTING} levels deep"),
                start,
            ));
        }
        let tag = tag_of(tag);
        let props = self.byte(start.index);
        let own = self.value_start(props, anchor.is_some(), tag != Tag::None, u64::MAX);
        // A flow collection starts at its bracket; a block one is placed when it closes.
        let span = own..own;
        let has_anchor = anchor.is_some();
        let id = self.push(kind, anchor, tag, props, span, start);
        if has_anchor {
            self.open_anchors.push(self.tree.anchors.len());
        }
        self.stack.push(Frame {
            node: id,
            pending_key: None,
        });
        Ok(())
    }

    fn close(&mut self, end: u64) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let end = self.byte(end);
        let (first, last) = self.children_bounds(frame.node);
        let anchor = self.tree.node(frame.node).anchor;
        if anchor.is_some() {
            self.open_anchors.pop();
        }
        self.check_merges(frame.node)?;
        let node = self.tree.node_mut(frame.node);
        let flow = matches!(
            node.kind,
            Kind::Map { flow: true, .. } | Kind::Seq { flow: true, .. }
        );
        if flow {
            node.span.end = end;
        } else {
            let start = first.unwrap_or(node.span.start);
            node.span = start..last.unwrap_or(start);
        }
        self.attach(frame.node)
    }

    /// Where the first child of a collection starts (its anchor and tag included) and where
    /// its last child ends.
    fn children_bounds(&self, id: NodeId) -> (Option<usize>, Option<usize>) {
        let tree = &self.tree;
        let (first, last) = match &tree.node(id).kind {
            Kind::Map { entries, .. } => (
                entries.first().map(|(k, _)| *k),
                entries.last().map(|(_, v)| *v),
            ),
            Kind::Seq { items, .. } => (items.first().copied(), items.last().copied()),
            _ => (None, None),
        };
        (
            first.map(|n| tree.node(n).props),
            last.map(|n| tree.node(n).span.end),
        )
    }

    /// Merge keys of a closed mapping: what they merge must be mappings (go-yaml v2 fails the
    /// document otherwise: a value that is not a map, an alias of a list), and reading through
    /// them must stay small: bounded in mappings visited per lookup, in depth (lookups
    /// recurse), and in entries gathered over the whole document.
    fn check_merges(&mut self, map: NodeId) -> Result<(), SyntaxError> {
        let tree = &self.tree;
        let merges: Vec<(NodeId, NodeId)> = tree
            .entries(map)
            .iter()
            .filter(|(k, _)| tree.is_merge_key(*k))
            .copied()
            .collect();
        let Some(&(first_key, _)) = merges.first() else {
            return Ok(());
        };
        let refuse = |message: String| {
            let node = tree.node(first_key);
            SyntaxError {
                message,
                line: node.line,
                column: node.col + 1,
            }
        };
        let not_maps = || refuse("map merge requires map or sequence of maps as the value".into());
        let mut sources_seen = Vec::new();
        let mut cost = MergeCost {
            visits: 1,
            depth: 1,
            entries: tree.entries(map).len(),
        };
        for (_, value) in merges {
            let target = tree.resolve(value);
            let sources: Vec<NodeId> = match &tree.node(target).kind {
                Kind::Map { .. } => vec![target],
                Kind::Seq { items, .. } if target == value => {
                    items.iter().map(|i| tree.resolve(*i)).collect()
                }
                _ => return Err(not_maps()),
            };
            for source in sources {
                if !matches!(tree.node(source).kind, Kind::Map { .. }) {
                    return Err(not_maps());
                }
                let merged = self.merge_costs.get(&source).copied().unwrap_or(MergeCost {
                    visits: 1,
                    depth: 0,
                    entries: tree.entries(source).len(),
                });
                cost.visits = cost.visits.saturating_add(merged.visits);
                cost.depth = cost.depth.max(merged.depth + 1);
                cost.entries = cost.entries.saturating_add(merged.entries);
                sources_seen.push(source);
            }
        }
        self.merged_entries = self.merged_entries.saturating_add(cost.entries);
        if cost.visits > MAX_MERGE_VISITS
            || cost.depth > MAX_MERGE_DEPTH
            || self.merged_entries > MAX_MERGED_ENTRIES
        {
            return Err(refuse(format!(
                "merge keys expand too far (more than {MAX_MERGE_VISITS} mappings in one \
                 lookup, {MAX_MERGE_DEPTH} merges deep, or {MAX_MERGED_ENTRIES} merged entries \
                 in the document); reimage refuses a document this costly to read"
            )));
        }
        self.merge_costs.insert(map, cost);
        self.tree.merging.push(map);
        self.tree.merged.extend(sources_seen);
        Ok(())
    }

    /// Hangs a finished node on its parent (or makes it the root).
    fn attach(&mut self, id: NodeId) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.last_mut() else {
            self.tree.root = Some(id);
            return Ok(());
        };
        match &mut self.tree.nodes.get_mut(frame.node).map(|n| &mut n.kind) {
            Some(Kind::Map { entries, .. }) => match frame.pending_key.take() {
                Some(key) => entries.push((key, id)),
                None => frame.pending_key = Some(id),
            },
            Some(Kind::Seq { items, .. }) => items.push(id),
            _ => {}
        }
        Ok(())
    }

    fn error(&self, message: String, at: libyaml_safer::Mark) -> SyntaxError {
        SyntaxError {
            message,
            line: self.origin.first_line + usize::try_from(at.line).unwrap_or(0),
            column: usize::try_from(at.column).unwrap_or(0) + 1,
        }
    }

    fn parse_error(&self, error: &libyaml_safer::Error) -> Stop {
        let Some(mark) = error.problem_mark() else {
            return Stop::Error(self.reader_error(error.problem()));
        };
        if error.problem() == "found unknown escape character" {
            let at = usize::try_from(mark.index).unwrap_or(usize::MAX);
            let bytes = self.text.as_bytes();
            for quote in [at, at.saturating_add(1)] {
                let escape = quote.checked_sub(1).and_then(|b| bytes.get(b));
                if bytes.get(quote) == Some(&b'\'') && escape == Some(&b'\\') {
                    return Stop::Quote(quote);
                }
            }
        }
        let message = match (error.context(), error.context_mark()) {
            (Some(context), Some(at)) if !context.is_empty() => format!(
                "{} ({context} that starts at line {}, column {})",
                error.problem(),
                self.origin.first_line + usize::try_from(at.line).unwrap_or(0),
                at.column + 1
            ),
            _ => error.problem().to_string(),
        };
        Stop::Error(self.error(message, mark))
    }
}

impl Builder<'_, '_> {
    /// libyaml's reader says what is wrong but not where: the first character YAML does not
    /// allow in a text.
    fn reader_error(&self, problem: &str) -> SyntaxError {
        let at = self
            .text
            .find(|c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}'))
            .unwrap_or(0);
        let before = self.text.get(..at).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        SyntaxError {
            message: problem.to_string(),
            line: self.origin.first_line + before.matches('\n').count(),
            column: 1 + before.get(line_start..).unwrap_or_default().chars().count(),
        }
    }
}

fn tag_of(tag: Option<&str>) -> Tag {
    match tag {
        None => Tag::None,
        Some("!") => Tag::NonSpecific,
        Some("tag:yaml.org,2002:str") => Tag::Str,
        Some("tag:yaml.org,2002:binary") => Tag::Binary,
        Some("tag:yaml.org,2002:null") => Tag::Null,
        Some("tag:yaml.org,2002:merge") => Tag::Merge,
        Some(_) => Tag::Other,
    }
}

fn style_of(style: libyaml_safer::ScalarStyle) -> ScalarStyle {
    use libyaml_safer::ScalarStyle as S;
    match style {
        S::SingleQuoted => ScalarStyle::SingleQuoted,
        S::DoubleQuoted => ScalarStyle::DoubleQuoted,
        S::Literal => ScalarStyle::Literal,
        S::Folded => ScalarStyle::Folded,
        _ => ScalarStyle::Plain,
    }
}

/// The text of a `!!binary` value, decoded as Go's base64 decoder does (line breaks
/// ignored); `None` when it is not base64 of UTF-8 text.
fn decode_binary(value: &str) -> Option<String> {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// White space and line breaks as libyaml sees them (YAML 1.1: NEL, LS and PS break lines).
fn is_blank_or_break(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn skip_space_and_comments(mut rest: &str) -> &str {
    loop {
        rest = rest.trim_start_matches(is_blank_or_break);
        if !rest.starts_with('#') {
            return rest;
        }
        let line = rest
            .find(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'])
            .unwrap_or(rest.len());
        rest = rest.get(line..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Origin = Origin {
        offset: 0,
        first_line: 1,
    };

    fn parse(text: &str) -> Tree<'_> {
        Tree::parse(text, ORIGIN).unwrap()
    }

    #[test]
    fn builds_maps_sequences_and_spans() {
        let text = "spec:\n  containers:\n  - name: a\n    image: \"nginx:1\"\n";
        let tree = parse(text);
        let root = tree.root().unwrap();
        let spec = tree.get(root, "spec").unwrap();
        let containers = tree.get(spec, "containers").unwrap();
        let image = tree.get(tree.items(containers)[0], "image").unwrap();
        assert_eq!(tree.scalar(image), Some("nginx:1"));
        assert_eq!(&text[tree.node(image).span.clone()], "\"nginx:1\"");
        assert_eq!((tree.node(image).line, tree.node(image).col), (4, 11));
        // A block sequence starts at its first item's content, after the `- `.
        assert_eq!(
            &text[tree.node(containers).span.clone()],
            "name: a\n    image: \"nginx:1\""
        );
    }

    #[test]
    fn duplicate_keys_resolve_to_the_last() {
        let tree = parse("a: 1\na: 2\n");
        let root = tree.root().unwrap();
        assert_eq!(tree.get_str(root, "a"), Some("2"));
    }

    #[test]
    fn aliases_resolve_to_their_anchor() {
        let tree = parse("a: &x foo\nb: *x\n");
        let root = tree.root().unwrap();
        assert_eq!(tree.get_str(root, "b"), Some("foo"));
        let a = tree.get(root, "a").unwrap();
        let anchor = tree.node(a).anchor.unwrap();
        assert_eq!(tree.aliases_of(anchor).count(), 1);
        assert_eq!(
            tree.node(a).span,
            6..9,
            "the anchor is not part of the value"
        );
        assert_eq!(tree.node(a).props, 3);
    }

    #[test]
    fn reads_yaml_1_1_as_go_yaml_v2_does() {
        let tree = parse("c: [cat, -]\nd: \"it\\'s\"\ne: [a, # c\n  b]\n");
        let root = tree.root().unwrap();
        let c = tree.get(root, "c").unwrap();
        assert_eq!(tree.scalar(tree.items(c)[1]), Some("-"));
        assert_eq!(tree.get_str(root, "d"), Some("it's"));
        // LS ends the comment: the second `image` is a key of its own, and the last one wins.
        let tree = parse("image: nginx # pinned\u{2028}image: evil.example.com/x:1\n");
        let root = tree.root().unwrap();
        assert_eq!(tree.get_str(root, "image"), Some("evil.example.com/x:1"));
    }

    #[test]
    fn only_the_first_document_of_a_chunk_is_read() {
        let tree = parse("kind: Pod\n...\nkind: CustomResourceDefinition\n[broken\n");
        assert_eq!(tree.get_str(tree.root().unwrap(), "kind"), Some("Pod"));
        assert!(parse("# only a comment\n").root().is_none());
    }

    #[test]
    fn tags_and_binary_scalars() {
        let text = "a: !!binary bmdpbng=\nb: !!int 123\nc: &k !!str 0644\n";
        let tree = parse(text);
        let root = tree.root().unwrap();
        let a = tree.get(root, "a").unwrap();
        assert_eq!(
            (tree.scalar(a), tree.node(a).tag),
            (Some("nginx"), Tag::Binary)
        );
        assert_eq!(
            &text[tree.node(a).props..tree.node(a).span.start],
            "!!binary "
        );
        assert_eq!(tree.node(tree.get(root, "b").unwrap()).tag, Tag::Other);
        let c = tree.get(root, "c").unwrap();
        assert_eq!(&text[tree.node(c).span.clone()], "0644");
        assert_eq!(tree.node(c).tag, Tag::Str);
    }

    #[test]
    fn merge_keys_follow_go_yaml_v2() {
        let tree = parse("a: 1\n<<: {a: 2, b: 3}\n");
        let root = tree.root().unwrap();
        assert_eq!(
            tree.get_str(root, "a"),
            Some("2"),
            "a later merge overwrites"
        );
        let tree = parse("<<: {a: 2, b: 3}\na: 1\n");
        let root = tree.root().unwrap();
        assert_eq!(tree.get_str(root, "a"), Some("1"));
        assert_eq!(tree.get_str(root, "b"), Some("3"));
        let tree = parse("x: &a {k: 1}\ny: &b {k: 2, j: 2}\nz:\n  <<: [*a, *b]\n");
        let z = tree.get(tree.root().unwrap(), "z").unwrap();
        assert_eq!(tree.get_str(z, "k"), Some("1"), "the earlier map wins");
        assert_eq!(tree.get_str(z, "j"), Some("2"));
        let keys: Vec<&str> = tree
            .fields(z)
            .iter()
            .filter_map(|(k, _)| tree.scalar(*k))
            .collect();
        assert_eq!(keys, ["k", "j"]);
        assert!(
            !parse("'<<': {a: 1}\n").shares_nodes(),
            "a quoted << is a key"
        );
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for (text, message) in [
            ("a: *nope\n", "unknown anchor"),
            ("a: &x [*x]\n", "contains itself"),
            ("a: {<<: 1}\n", "map merge requires"),
        ] {
            let err = Tree::parse(text, ORIGIN).unwrap_err();
            assert!(err.message.contains(message), "{text:?}: {err:?}");
        }
        let mut bomb = String::from("a0: &a0 {k: 1}\n");
        for i in 1..20 {
            bomb.push_str(&format!("a{i}: &a{i} {{<<: [*a{p}, *a{p}]}}\n", p = i - 1));
        }
        let err = Tree::parse(&bomb, ORIGIN).unwrap_err();
        assert!(err.message.contains("merge keys expand"), "{err:?}");
    }

    #[test]
    fn a_block_scalar_at_the_end_without_a_line_break() {
        let text = "a: |\n  x";
        let tree = parse(text);
        let a = tree.get(tree.root().unwrap(), "a").unwrap();
        assert_eq!(tree.scalar(a), Some("x"), "as go-yaml v2 reads it");
        assert_eq!(tree.node(a).span.end, text.len(), "no byte past the text");
    }

    #[test]
    fn more_merge_keys_as_go_yaml_v2_reads_them() {
        let tree = parse("c: {! <<: {image: x}}\n");
        let c = tree.get(tree.root().unwrap(), "c").unwrap();
        assert_eq!(tree.get_str(c, "image"), Some("x"), "`! <<` merges");
        for text in ["a: &s [{k: 1}]\nb: {<<: *s}\n", "b: {<<: [[1]]}\n"] {
            let err = Tree::parse(text, ORIGIN).unwrap_err();
            assert!(
                err.message.contains("map merge requires"),
                "{text:?}: {err:?}"
            );
        }
        let mut chain = String::from("a0: &a0 {k: 1}\n");
        for i in 1..100 {
            chain.push_str(&format!("a{i}: &a{i} {{<<: *a{p}}}\n", p = i - 1));
        }
        let err = Tree::parse(&chain, ORIGIN).unwrap_err();
        assert!(err.message.contains("merges deep"), "{err:?}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_key() {
        let text = "\u{feff}\u{feff}a: 1\n";
        let tree = parse(text);
        let (key, _) = tree.entries(tree.root().unwrap())[0];
        assert_eq!(&text[tree.node(key).span.clone()], "a", "two marks");
    }

    #[test]
    fn one_byte_order_mark_is_not_part_of_the_first_key() {
        let text = "\u{feff}a: 1\n";
        let tree = parse(text);
        let root = tree.root().unwrap();
        let (key, _) = tree.entries(root)[0];
        assert_eq!(&text[tree.node(key).span.clone()], "a");
    }

    #[test]
    fn deep_nesting_is_a_syntax_error() {
        let ok = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
        assert!(Tree::parse(&ok, ORIGIN).is_ok());
        for deep in [
            "[".repeat(10_000),
            "- ".repeat(10_000),
            "{a: ".repeat(10_000),
        ] {
            let err = Tree::parse(&deep, ORIGIN).unwrap_err();
            assert!(err.message.contains("nested more than 255"), "{err:?}");
        }
    }

    #[test]
    fn reports_syntax_errors_with_stream_lines() {
        let err = Tree::parse(
            "a: [1, 2\n",
            Origin {
                offset: 10,
                first_line: 5,
            },
        )
        .unwrap_err();
        assert!(err.line >= 5, "{err:?}");
    }
}
