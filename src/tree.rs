//! The span tree of one document: what the YAML parser saw, with the byte range of every node.
//!
//! Built from `granit-parser` events without keeping comments or re-encoding anything. Scalars
//! keep their decoded value (to compare) and their style (so that an edit can keep it); every
//! node keeps its byte range in the stream (so that an edit replaces exactly those bytes).
//! Collections in block style start at their first child (after the `- ` of a sequence) and end
//! where their last child ends; in flow style they span their brackets.

use std::borrow::Cow;
use std::ops::Range;

use granit_parser::{
    ErrorKind, Event, Options, Parser, ScalarStyle, ScanError, Span, StructureStyle,
};

/// Index of a node in its [`Tree`].
pub type NodeId = usize;

/// One parsed YAML document.
#[derive(Debug, Default)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    root: Option<NodeId>,
    /// `(anchor, node that defines it)`, in anchor order (the parser numbers anchors as it meets
    /// them), so that an alias resolves by binary search rather than a scan of every node.
    anchors: Vec<(usize, NodeId)>,
    /// `(anchor, alias node)` for every alias, sorted, so that finding an anchor's aliases does
    /// not scan every node either: a document of many anchored images stays linear.
    aliases: Vec<(usize, NodeId)>,
}

/// A node and where it is.
#[derive(Debug)]
pub struct Node<'a> {
    pub kind: Kind<'a>,
    /// Byte range in the stream (anchors and tags excluded).
    pub span: Range<usize>,
    /// 1-based line and 0-based column of the first byte.
    pub line: usize,
    pub col: usize,
    /// The anchor this node defines, if any (parser-assigned id, never 0).
    pub anchor: Option<usize>,
}

/// What a node is.
#[derive(Debug)]
pub enum Kind<'a> {
    Scalar {
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

/// The document is not valid YAML.
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
/// bound keeps hostile input (`[[[[…`) from exhausting the stack or the time of the parser.
/// Real manifests nest a few dozen levels at most; CRD schemas, the deepest, are not parsed.
pub const MAX_NESTING: usize = 255;

impl<'a> Tree<'a> {
    /// Parses every YAML document in `text` (usually one).
    pub fn parse_all(text: &'a str, origin: Origin) -> Result<Vec<Tree<'a>>, SyntaxError> {
        let mut options = Options::default();
        options.set_emit_comments(false);
        options.block_nesting_limit = MAX_NESTING;
        options.flow_nesting_limit = MAX_NESTING;
        let mut builder = Builder::new(origin);
        for next in Parser::new_from_str_with_options(text, options) {
            let (event, span) = next.map_err(|e| {
                let mark = e.marker();
                SyntaxError {
                    message: message(&e),
                    line: origin.first_line + mark.line() - 1,
                    column: mark.col() + 1,
                }
            })?;
            builder.event(event, span);
        }
        Ok(builder.trees)
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

    /// The scalar value of a node, if it is a scalar.
    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.node(id).kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping; with duplicate keys, the last one (as Go's YAML does).
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entry(map, key).map(|(_, value)| value)
    }

    /// The key node and value node of `key` in a mapping (the last one, if duplicated).
    pub fn entry(&self, map: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        match &self.node(map).kind {
            Kind::Map { entries, .. } => entries
                .iter()
                .rev()
                .find(|(k, _)| self.scalar(*k) == Some(key))
                .copied(),
            _ => None,
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

    /// The number of nodes; ids run from 0 to this.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the document has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The key/value pairs of a mapping (an empty slice for anything else).
    pub fn entries(&self, map: NodeId) -> &[(NodeId, NodeId)] {
        match &self.node(map).kind {
            Kind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    /// Whether any node of this document is an alias.
    pub fn has_aliases(&self) -> bool {
        !self.aliases.is_empty()
    }
}

/// The parser's message, in terms of the input where the parser speaks of itself.
fn message(error: &ScanError) -> String {
    match error.kind() {
        ErrorKind::RecursionLimitExceeded => {
            format!("collections are nested more than {MAX_NESTING} levels deep")
        }
        _ => error.info(),
    }
}

/// An open collection while its children are being read.
struct Frame {
    node: NodeId,
    pending_key: Option<NodeId>,
}

struct Builder<'a> {
    origin: Origin,
    trees: Vec<Tree<'a>>,
    current: Tree<'a>,
    stack: Vec<Frame>,
}

impl<'a> Builder<'a> {
    fn new(origin: Origin) -> Self {
        Builder {
            origin,
            trees: Vec::new(),
            current: Tree::default(),
            stack: Vec::new(),
        }
    }

    fn event(&mut self, event: Event<'a>, span: Span) {
        match event {
            Event::DocumentEnd => {
                let mut done = std::mem::take(&mut self.current);
                done.aliases.sort_unstable();
                self.trees.push(done);
            }
            Event::Scalar(value, style, anchor, _) => {
                self.add(Kind::Scalar { value, style }, anchor, span);
            }
            Event::Alias(target) => {
                self.add(Kind::Alias { target }, 0, span);
            }
            Event::MappingStart(style, anchor, _) => {
                let flow = style == StructureStyle::Flow;
                let kind = Kind::Map {
                    flow,
                    entries: Vec::new(),
                };
                self.open(kind, anchor, span);
            }
            Event::SequenceStart(style, anchor, _) => {
                let flow = style == StructureStyle::Flow;
                let kind = Kind::Seq {
                    flow,
                    items: Vec::new(),
                };
                self.open(kind, anchor, span);
            }
            Event::MappingEnd | Event::SequenceEnd => self.close(span),
            _ => {}
        }
    }

    fn byte(&self, mark: granit_parser::Marker) -> usize {
        self.origin.offset + mark.byte_offset().unwrap_or(mark.index())
    }

    fn push(&mut self, kind: Kind<'a>, anchor: usize, span: Span) -> NodeId {
        let id = self.current.nodes.len();
        if anchor != 0 {
            self.current.anchors.push((anchor, id));
        }
        if let Kind::Alias { target } = kind {
            self.current.aliases.push((target, id));
        }
        self.current.nodes.push(Node {
            kind,
            span: self.byte(span.start)..self.byte(span.end),
            line: self.origin.first_line + span.start.line() - 1,
            col: span.start.col(),
            anchor: (anchor != 0).then_some(anchor),
        });
        id
    }

    fn add(&mut self, kind: Kind<'a>, anchor: usize, span: Span) {
        let id = self.push(kind, anchor, span);
        self.attach(id);
    }

    fn open(&mut self, kind: Kind<'a>, anchor: usize, span: Span) {
        let id = self.push(kind, anchor, span);
        self.stack.push(Frame {
            node: id,
            pending_key: None,
        });
    }

    fn close(&mut self, span: Span) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let end = self.byte(span.end);
        let last_child_end = self.last_child_end(frame.node);
        let node = self.current.node_mut(frame.node);
        let flow = matches!(
            node.kind,
            Kind::Map { flow: true, .. } | Kind::Seq { flow: true, .. }
        );
        node.span.end = if flow {
            end
        } else {
            last_child_end.unwrap_or(node.span.start)
        };
        self.attach(frame.node);
    }

    fn last_child_end(&self, id: NodeId) -> Option<usize> {
        let last = match &self.current.node(id).kind {
            Kind::Map { entries, .. } => entries.last().map(|(_, v)| *v),
            Kind::Seq { items, .. } => items.last().copied(),
            _ => None,
        }?;
        Some(self.current.node(last).span.end)
    }

    /// Hangs a finished node on its parent (or makes it the root).
    fn attach(&mut self, id: NodeId) {
        let Some(frame) = self.stack.last_mut() else {
            self.current.root = Some(id);
            return;
        };
        match &mut self.current.node_mut(frame.node).kind {
            Kind::Map { entries, .. } => match frame.pending_key.take() {
                Some(key) => entries.push((key, id)),
                None => frame.pending_key = Some(id),
            },
            Kind::Seq { items, .. } => items.push(id),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Tree<'_>> {
        Tree::parse_all(
            text,
            Origin {
                offset: 0,
                first_line: 1,
            },
        )
        .unwrap()
    }

    #[test]
    fn builds_maps_sequences_and_spans() {
        let text = "spec:\n  containers:\n  - name: a\n    image: \"nginx:1\"\n";
        let trees = parse(text);
        let tree = &trees[0];
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
        let trees = parse("a: 1\na: 2\n");
        let root = trees[0].root().unwrap();
        assert_eq!(trees[0].get_str(root, "a"), Some("2"));
    }

    #[test]
    fn aliases_resolve_to_their_anchor() {
        let trees = parse("a: &x foo\nb: *x\n");
        let tree = &trees[0];
        let root = tree.root().unwrap();
        assert_eq!(tree.get_str(root, "b"), Some("foo"));
        let a = tree.get(root, "a").unwrap();
        let anchor = tree.node(a).anchor.unwrap();
        assert_eq!(tree.aliases_of(anchor).count(), 1);
    }

    #[test]
    fn deep_nesting_is_a_syntax_error() {
        let origin = Origin {
            offset: 0,
            first_line: 1,
        };
        let ok = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
        assert!(Tree::parse_all(&ok, origin).is_ok());
        for deep in [
            "[".repeat(10_000),
            "- ".repeat(10_000),
            "{a: ".repeat(10_000),
        ] {
            let err = Tree::parse_all(&deep, origin).unwrap_err();
            assert!(err.message.contains("nested more than 255"), "{err:?}");
        }
    }

    #[test]
    fn reports_syntax_errors_with_stream_lines() {
        let err = Tree::parse_all(
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
