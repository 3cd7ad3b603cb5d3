//! New text for a scalar: the same style as before when that style can hold the new value and
//! means the same string under YAML 1.1 (Kubernetes) and 1.2, else double quotes.

use crate::quoting::{double_quoted, has_control, is_plain_safe, new_scalar};
use crate::tree::{Kind, Node, ScalarStyle, Tag};

/// The bytes that replace `node` (a scalar or an alias) so that it reads `value`, as a byte
/// range of the stream and its new text; `None` when the node's form cannot be edited safely.
pub fn replace(
    text: &str,
    node: &Node<'_>,
    value: &str,
) -> Option<(std::ops::Range<usize>, String)> {
    let span = node.span.clone();
    if matches!(node.tag, Tag::Binary | Tag::Null | Tag::Other) {
        return Some(untagged(text, node, value));
    }
    let style = match &node.kind {
        Kind::Alias { .. } => ScalarStyle::Plain,
        Kind::Scalar { style, .. } => *style,
        _ => return None,
    };
    let new = match style {
        ScalarStyle::Plain if is_plain_safe(value) => value.to_string(),
        ScalarStyle::SingleQuoted if !value.contains('\'') && !has_control(value) => {
            format!("'{value}'")
        }
        ScalarStyle::Literal | ScalarStyle::Folded => return block_line(text, node, value),
        _ => double_quoted(value),
    };
    Some((span, new))
}

/// A scalar whose tag would change what the new value means (`!!binary`, `!!int`) is replaced
/// with its tag: the new value is a plain string, and an anchor on it stays.
fn untagged(text: &str, node: &Node<'_>, value: &str) -> (std::ops::Range<usize>, String) {
    let new = node.with_anchor(text, &new_scalar(value));
    // A block scalar's span runs past its last line break: that and what follows stay.
    let source = text.get(node.span.clone()).unwrap_or_default();
    let end = match &node.kind {
        Kind::Scalar {
            style: ScalarStyle::Literal | ScalarStyle::Folded,
            ..
        } => node.span.start + source.trim_end().len(),
        _ => node.span.end,
    };
    (node.props..end, new)
}

/// The bytes that replace the reference `old`, at `at` in the string of `node`, by `new`, for
/// a reference that is part of a string (`--flag=ref`, a `key=ref` line). The reference's
/// characters need no escaping in any style, so it is found verbatim in the source: the source
/// must hold it as often as the value does (no escape hides or makes one), and the one edited
/// is the one that comes in the same place among them.
pub fn replace_part(
    text: &str,
    node: &Node<'_>,
    at: usize,
    old: &str,
    new: &str,
) -> Option<(std::ops::Range<usize>, String)> {
    let Kind::Scalar { value, .. } = &node.kind else {
        return None;
    };
    let source = text.get(node.span.clone())?;
    let inner_safe = new
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._/:@+-".contains(c));
    let in_value: Vec<usize> = value.match_indices(old).map(|(i, _)| i).collect();
    if !inner_safe || in_value.len() != source.matches(old).count() {
        return None;
    }
    let nth = in_value.iter().position(|i| *i == at)?;
    let (offset, _) = source.match_indices(old).nth(nth)?;
    let start = node.span.start + offset;
    Some((start..start + old.len(), new.to_string()))
}

/// A one-line block scalar (`image: |-` then the reference on the next line) has its line
/// replaced; anything longer is not an image Kubernetes would accept, and is left alone.
fn block_line(
    text: &str,
    node: &Node<'_>,
    value: &str,
) -> Option<(std::ops::Range<usize>, String)> {
    let Kind::Scalar { value: old, .. } = &node.kind else {
        return None;
    };
    // The span starts at the `|` or `>` header; the content starts on the next line.
    let source = text.get(node.span.clone())?;
    let header = source.find(['\r', '\n'])?;
    let body = source.get(header..)?.trim_start_matches(['\r', '\n']);
    let content = body.trim_start_matches(' ');
    let line = content
        .split(['\r', '\n'])
        .next()
        .unwrap_or_default()
        .trim_end();
    let rest = content.get(line.len()..).unwrap_or_default();
    if line != old.as_ref() || !rest.trim().is_empty() || has_control(value) {
        return None;
    }
    let start = node.span.end - source.len() + (source.len() - content.len());
    Some((start..start + line.len(), value.to_string()))
}
