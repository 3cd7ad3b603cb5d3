//! Where things are in YAML text: lines, columns, the end of a node's content, the
//! indentation of a document's lists. What the pull-secret edits and the patches share.

use std::ops::Range;

use crate::tree::{Kind, NodeId, ScalarStyle, Tree};

/// Whether a plain scalar is YAML null.
pub(crate) fn is_null(value: &str) -> bool {
    matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// Whether the last thing in a node is a `|` or `>` scalar (whose span runs to the next token).
pub(crate) fn ends_in_block_scalar(tree: &Tree<'_>, mut node: NodeId) -> bool {
    loop {
        match &tree.node(node).kind {
            Kind::Scalar { style, .. } => {
                return matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
            }
            Kind::Map { entries, .. } => match entries.last() {
                Some((_, value)) => node = *value,
                None => return false,
            },
            Kind::Seq { items, .. } => match items.last() {
                Some(item) => node = *item,
                None => return false,
            },
            Kind::Alias { .. } => return false,
        }
    }
}

/// How far this document indents `- ` items past their key (0 or 2, usually).
pub(crate) fn sequence_indent(text: &str, tree: &Tree<'_>) -> usize {
    (0..tree.len())
        .flat_map(|id| tree.entries(id).iter().copied())
        .find_map(|(key, value)| {
            let Kind::Seq { flow: false, items } = &tree.node(value).kind else {
                return None;
            };
            let item = tree.node(*items.first()?).span.start;
            let key = tree.node(key).span.start;
            let dash = text.get(line_start(text, item)..item)?.find('-')?;
            let key_col = key - line_start(text, key);
            Some(dash.saturating_sub(key_col))
        })
        .unwrap_or(0)
}

/// Where the line holding `at` starts: after a LF, a CR or a CRLF.
pub(crate) fn line_start(text: &str, at: usize) -> usize {
    text.get(..at)
        .and_then(|t| t.rfind(['\n', '\r']))
        .map_or(0, |i| i + 1)
}

/// The column of `at` in characters, a byte order mark not counted.
pub(crate) fn column(text: &str, at: usize) -> usize {
    let before = text.get(line_start(text, at)..at).unwrap_or_default();
    before.trim_start_matches('\u{feff}').chars().count()
}

/// Where the first key of a block mapping starts, with what is written before it on its
/// line: its anchor and tag, or the `? ` of an explicit key.
pub(crate) fn key_start(text: &str, tree: &Tree<'_>, key: NodeId) -> usize {
    let at = tree.node(key).props;
    let start = line_start(text, at);
    let before = text.get(start..at).unwrap_or_default();
    match before.trim_end().strip_suffix('?') {
        Some(rest) if rest.trim().is_empty() => start + rest.len(),
        _ => at,
    }
}

/// Just past the line break of the line holding `at` (or `limit`, the document's end).
pub(crate) fn line_end(text: &str, at: usize, limit: usize) -> usize {
    let Some(i) = text.get(at..limit).and_then(|t| t.find(['\n', '\r'])) else {
        return limit;
    };
    let crlf = text
        .get(at + i..limit)
        .is_some_and(|t| t.starts_with("\r\n"));
    at + i + if crlf { 2 } else { 1 }
}

/// The end of a span without trailing white space and line breaks.
pub(crate) fn content_end(text: &str, span: Range<usize>) -> usize {
    span.start + text.get(span).unwrap_or_default().trim_end().len()
}
