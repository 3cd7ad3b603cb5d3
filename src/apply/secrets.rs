//! New text for `imagePullSecrets`: items removed line by line, items added in the style the
//! list already has, or a new key written at the indentation of its siblings.
//!
//! Block lists get whole lines (with the document's line ending); flow lists are rebuilt from
//! their items' own source text; a mapping without the key gets it after its last entry (before
//! its first one if the last ends in a block scalar, whose trailing lines must not move).
//!
//! YAML aliases: a holder whose list is an alias (`imagePullSecrets: *secrets`) gets a list of
//! its own in place of the alias, so the anchored list is not changed for everyone who reads
//! it. An anchored list is edited in place only when every alias of it is being given a list
//! of its own; otherwise the edit would leak to the aliases, and is refused.

use std::cell::OnceCell;
use std::ops::Range;

use granit_parser::ScalarStyle;

use super::scalar::new_scalar;
use super::{Splice, Unsupported};
use crate::tree::{Kind, NodeId, Tree};

/// Where the edits happen: the stream text, one document's tree, and its line ending.
pub struct Place<'t, 'a> {
    pub text: &'a str,
    pub tree: &'t Tree<'a>,
    pub newline: &'static str,
    /// End of the document's bytes in the stream.
    pub end: usize,
    /// Whether an alias node of this document is given a list of its own in this run.
    pub has_own_list: &'t dyn Fn(NodeId) -> bool,
    /// How far this document indents `- ` items past their key: found by a scan of the whole
    /// document the first time a new key needs it, then shared by every holder of the
    /// document (a List of many pod specs would otherwise scan it once per pod spec).
    pub dash_indent: &'t OnceCell<usize>,
}

/// The `imagePullSecrets` value of `holder` when it is an alias: that alias gets a list of its
/// own if the holder's pull secrets change.
pub fn alias_list(tree: &Tree<'_>, holder: NodeId) -> Option<NodeId> {
    tree.get(holder, "imagePullSecrets")
        .filter(|value| matches!(tree.node(*value).kind, Kind::Alias { .. }))
}

/// The splices that make `holder`'s list lose `remove` and gain `add`.
pub fn change(
    place: &Place<'_, '_>,
    holder: NodeId,
    add: &[String],
    remove: &[String],
) -> Result<Vec<Splice>, Unsupported> {
    let tree = place.tree;
    match tree.entry(holder, "imagePullSecrets") {
        None if add.is_empty() => Ok(Vec::new()),
        None => new_key(place, holder, add),
        Some((key, value)) => {
            let list = tree.resolve(value);
            if list != value {
                // `imagePullSecrets: *secrets`: the anchored list may serve other places, so
                // this holder gets a list of its own in place of the alias.
                return own_list(place, value, list, add, remove).map(|splice| vec![splice]);
            }
            if let Some(anchor) = tree.node(list).anchor {
                if tree
                    .aliases_of(anchor)
                    .any(|alias| !(place.has_own_list)(alias))
                {
                    return Err(Unsupported::new(
                        tree.node(list).line,
                        "`imagePullSecrets`, a YAML anchor whose aliases would change with it",
                    ));
                }
            }
            match &tree.node(list).kind {
                Kind::Seq { flow: false, items } if !items.is_empty() => {
                    block_list(place, list, items, add, remove)
                }
                Kind::Seq { .. } => Ok(vec![flow_list(place, list, add, remove)]),
                Kind::Scalar {
                    style: ScalarStyle::Plain,
                    value,
                } if is_null(value) => Ok(null_list(place, key, list, add)),
                _ => Err(Unsupported::new(
                    tree.node(list).line,
                    "`imagePullSecrets` is not a list",
                )),
            }
        }
    }
}

fn is_null(value: &str) -> bool {
    matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

fn item_text(name: &str) -> String {
    format!("name: {}", new_scalar(name))
}

fn names_to_remove(tree: &Tree<'_>, item: NodeId, remove: &[String]) -> bool {
    tree.get_str(tree.resolve(item), "name")
        .is_some_and(|name| remove.iter().any(|r| r == name))
}

/// `- name: x` lines: removed ones deleted whole, added ones inserted before the first item.
fn block_list(
    place: &Place<'_, '_>,
    list: NodeId,
    items: &[NodeId],
    add: &[String],
    remove: &[String],
) -> Result<Vec<Splice>, Unsupported> {
    let (text, tree) = (place.text, place.tree);
    let starts: Vec<usize> = items
        .iter()
        .map(|i| line_start(text, tree.node(*i).span.start))
        .collect();
    let (Some(&head), Some(&head_start)) = (items.first(), starts.first()) else {
        return Ok(vec![flow_list(place, list, add, remove)]);
    };
    let prefix = &text[head_start..tree.node(head).span.start];
    let dash = prefix
        .find('-')
        .filter(|_| prefix.trim_start().starts_with('-'));
    let Some(dash) = dash else {
        return Err(Unsupported::new(
            tree.node(head).line,
            "`imagePullSecrets` items do not start their lines",
        ));
    };
    let indent = &prefix[..dash];
    let mut splices = Vec::new();
    if !add.is_empty() {
        let lines: String = add
            .iter()
            .map(|n| format!("{indent}- {}{}", item_text(n), place.newline))
            .collect();
        splices.push(Splice::insert(head_start, lines));
    }
    for (i, (item, &start)) in items.iter().zip(&starts).enumerate() {
        if names_to_remove(tree, *item, remove) {
            let end = match starts.get(i + 1) {
                Some(next) => *next,
                None => line_end(
                    text,
                    content_end(text, tree.node(*item).span.clone()),
                    place.end,
                ),
            };
            splices.push(Splice::replace(start..end, String::new()));
        }
    }
    Ok(splices)
}

/// `[{name: a}]`: rebuilt from the kept items' own text plus the new ones.
fn flow_list(place: &Place<'_, '_>, list: NodeId, add: &[String], remove: &[String]) -> Splice {
    let tree = place.tree;
    let kept = tree
        .items(list)
        .iter()
        .filter(|item| !names_to_remove(tree, **item, remove))
        .map(|item| place.text[tree.node(*item).span.clone()].to_string());
    let added = add.iter().map(|n| format!("{{{}}}", item_text(n)));
    let all: Vec<String> = added.chain(kept).collect();
    Splice::replace(
        tree.node(list).span.clone(),
        format!("[{}]", all.join(", ")),
    )
}

/// An alias of a list replaced by a flow list of the names it reads, less the removed ones,
/// plus the new ones.
fn own_list(
    place: &Place<'_, '_>,
    alias: NodeId,
    list: NodeId,
    add: &[String],
    remove: &[String],
) -> Result<Splice, Unsupported> {
    let tree = place.tree;
    let unsupported = |what| Unsupported::new(tree.node(alias).line, what);
    let items = match &tree.node(list).kind {
        Kind::Seq { items, .. } => items.as_slice(),
        Kind::Scalar {
            style: ScalarStyle::Plain,
            value,
        } if is_null(value) => &[],
        _ => {
            return Err(unsupported(
                "`imagePullSecrets`, an alias of something not a list",
            ))
        }
    };
    let mut names: Vec<&str> = add.iter().map(String::as_str).collect();
    for item in items {
        let Some(name) = tree.get_str(tree.resolve(*item), "name") else {
            return Err(unsupported(
                "`imagePullSecrets`, an alias of a list whose items are not all `{name: …}`",
            ));
        };
        if !remove.iter().any(|r| r == name) {
            names.push(name);
        }
    }
    let items: Vec<String> = names
        .iter()
        .map(|name| format!("{{{}}}", item_text(name)))
        .collect();
    Ok(Splice::replace(
        tree.node(alias).span.clone(),
        format!("[{}]", items.join(", ")),
    ))
}

/// `imagePullSecrets:` with no value (or `null`): given a flow list.
fn null_list(place: &Place<'_, '_>, key: NodeId, value: NodeId, add: &[String]) -> Vec<Splice> {
    if add.is_empty() {
        return Vec::new();
    }
    let list = format!(
        "[{}]",
        add.iter()
            .map(|n| format!("{{{}}}", item_text(n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let span = place.tree.node(value).span.clone();
    if !span.is_empty() {
        return vec![Splice::replace(span, list)];
    }
    let key_end = place.tree.node(key).span.end;
    let colon = place.text[key_end..]
        .find(':')
        .map_or(key_end, |i| key_end + i + 1);
    vec![Splice::insert(colon, format!(" {list}"))]
}

/// A mapping without `imagePullSecrets`: the key added in its style.
fn new_key(
    place: &Place<'_, '_>,
    holder: NodeId,
    add: &[String],
) -> Result<Vec<Splice>, Unsupported> {
    let (text, tree) = (place.text, place.tree);
    let node = tree.node(holder);
    let entries = tree.entries(holder);
    if let Kind::Map { flow: true, .. } = node.kind {
        let items: Vec<String> = add
            .iter()
            .map(|n| format!("{{{}}}", item_text(n)))
            .collect();
        let sep = if entries.is_empty() { "" } else { ", " };
        let insert = format!("imagePullSecrets: [{}]{sep}", items.join(", "));
        return Ok(vec![Splice::insert(node.span.start + 1, insert)]);
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(Unsupported::new(node.line, "an empty block mapping"));
    };
    let key_start = tree.node(first.0).span.start;
    let indent = " ".repeat(key_start - line_start(text, key_start));
    let dash = " ".repeat(
        *place
            .dash_indent
            .get_or_init(|| sequence_indent(text, tree)),
    );
    let nl = place.newline;
    let items: String = add
        .iter()
        .map(|n| format!("{indent}{dash}- {}{nl}", item_text(n)))
        .collect();
    if ends_in_block_scalar(tree, last.1) {
        let insert = format!("imagePullSecrets:{nl}{items}{indent}");
        return Ok(vec![Splice::insert(key_start, insert)]);
    }
    let at = line_end(
        text,
        content_end(text, tree.node(last.1).span.clone()),
        place.end,
    );
    let lead = if text[..at].ends_with('\n') { "" } else { nl };
    Ok(vec![Splice::insert(
        at,
        format!("{lead}{indent}imagePullSecrets:{nl}{items}"),
    )])
}

/// Whether the last thing in a node is a `|` or `>` scalar (whose span runs to the next token).
fn ends_in_block_scalar(tree: &Tree<'_>, mut node: NodeId) -> bool {
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
fn sequence_indent(text: &str, tree: &Tree<'_>) -> usize {
    (0..tree.len())
        .flat_map(|id| tree.entries(id).iter().copied())
        .find_map(|(key, value)| {
            let Kind::Seq { flow: false, items } = &tree.node(value).kind else {
                return None;
            };
            let item = tree.node(*items.first()?).span.start;
            let key = tree.node(key).span.start;
            let dash = text[line_start(text, item)..item].find('-')?;
            let key_col = key - line_start(text, key);
            Some(dash.saturating_sub(key_col))
        })
        .unwrap_or(0)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Just past the line break of the line holding `at` (or `limit`, the document's end).
fn line_end(text: &str, at: usize, limit: usize) -> usize {
    text[at..limit].find('\n').map_or(limit, |i| at + i + 1)
}

/// The end of a span without trailing white space and line breaks.
fn content_end(text: &str, span: Range<usize>) -> usize {
    span.start + text[span].trim_end().len()
}
