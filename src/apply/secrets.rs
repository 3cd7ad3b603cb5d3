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

use super::layout::{
    column, content_end, ends_in_block_scalar, is_null, key_start, line_end, line_start,
    sequence_indent,
};
use super::{Splice, Unsupported};
use crate::quoting::{double_quoted, new_scalar};
use crate::tree::{Kind, NodeId, ScalarStyle, Tag, Tree};

/// Where the edits happen: the stream text, one document's tree, and its line ending.
pub struct Place<'t, 'a> {
    pub text: &'a str,
    pub tree: &'t Tree<'a>,
    pub newline: &'static str,
    /// End of the document's bytes in the stream.
    pub end: usize,
    /// Whether an alias node of this document is given a list of its own in this run.
    pub has_own_list: &'t dyn Fn(NodeId) -> bool,
    /// Whether the document is JSON (its top node is a flow mapping): new text is JSON too.
    pub json: bool,
    /// How far this document indents `- ` items past their key: found by a scan of the whole
    /// document the first time a new key needs it, then shared by every holder of the
    /// document (a List of many pod specs would otherwise scan it once per pod spec).
    pub dash_indent: &'t OnceCell<usize>,
    /// Whether Kubernetes reads this node (a pod spec, a list) from more places than this
    /// run's changes edit it for: through an alias or a merge key, from a resource that does
    /// not get the change.
    pub read_elsewhere: &'t dyn Fn(NodeId) -> bool,
}

/// The list a holder's own `imagePullSecrets` key holds, when it is written there (not an
/// alias, not merged).
pub fn own_list_node(tree: &Tree<'_>, holder: NodeId) -> Option<NodeId> {
    let (key, value) = tree.entry(holder, "imagePullSecrets")?;
    let own = tree.entries(holder).iter().any(|(k, _)| *k == key);
    (own && !matches!(tree.node(value).kind, Kind::Alias { .. })).then_some(value)
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
    let shared = |node: NodeId, what| {
        if (place.read_elsewhere)(node) {
            Err(Unsupported::new(tree.node(node).line, what))
        } else {
            Ok(())
        }
    };
    shared(
        holder,
        "a pod spec that other places read through a YAML anchor, alias or merge key",
    )?;
    if let Some(list) = own_list_node(tree, holder) {
        shared(
            list,
            "`imagePullSecrets` that other places read through a YAML anchor, alias or merge key",
        )?;
    }
    match tree.entry(holder, "imagePullSecrets") {
        None if add.is_empty() => Ok(Vec::new()),
        None => new_key(place, holder, add),
        Some((key, value)) if !tree.entries(holder).iter().any(|(k, _)| *k == key) => {
            merged_list(place, holder, tree.resolve(value), add, remove)
        }
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
                    block_list(place, key, list, items, add, remove)
                }
                Kind::Seq { .. } => Ok(vec![flow_list(place, list, add, remove)?]),
                Kind::Scalar { style, value }
                    if tree.node(list).tag == Tag::Null
                        || (*style == ScalarStyle::Plain
                            && tree.node(list).tag == Tag::None
                            && is_null(value)) =>
                {
                    Ok(null_list(place, key, list, add))
                }
                _ => Err(Unsupported::new(
                    tree.node(list).line,
                    "`imagePullSecrets` is not a list",
                )),
            }
        }
    }
}

/// One `{name: x}` item as flow text: JSON in a JSON document, YAML elsewhere.
fn flow_item(place: &Place<'_, '_>, name: &str) -> String {
    if place.json {
        format!("{{\"name\": {}}}", double_quoted(name))
    } else {
        format!("{{{}}}", item_text(name))
    }
}

/// A flow list of new items.
fn flow_items<'n>(place: &Place<'_, '_>, names: impl IntoIterator<Item = &'n str>) -> String {
    let items: Vec<String> = names.into_iter().map(|n| flow_item(place, n)).collect();
    format!("[{}]", items.join(", "))
}

fn item_text(name: &str) -> String {
    format!("name: {}", new_scalar(name))
}

fn names_to_remove(tree: &Tree<'_>, item: NodeId, remove: &[String]) -> bool {
    tree.get_str(tree.resolve(item), "name")
        .is_some_and(|name| remove.iter().any(|r| r == name))
}

/// Refuses to remove an item that defines an anchor some alias still reads: the alias would
/// name nothing.
fn check_removable(tree: &Tree<'_>, item: NodeId) -> Result<(), Unsupported> {
    let mut stack = vec![item];
    while let Some(node) = stack.pop() {
        if let Some(anchor) = tree.node(node).anchor {
            if tree.aliases_of(anchor).next().is_some() {
                return Err(Unsupported::new(
                    tree.node(node).line,
                    "an `imagePullSecrets` item whose YAML anchor an alias still uses",
                ));
            }
        }
        stack.extend(tree.entries(node).iter().flat_map(|(k, v)| [*k, *v]));
        stack.extend(tree.items(node));
    }
    Ok(())
}

/// `- name: x` lines: removed ones deleted whole, added ones inserted before the first item.
/// A list that loses every item and gains none becomes `[]` (an empty list, as a JSON Patch
/// `remove` of each item leaves it), not an empty value, which Kubernetes reads as null.
fn block_list(
    place: &Place<'_, '_>,
    key: NodeId,
    list: NodeId,
    items: &[NodeId],
    add: &[String],
    remove: &[String],
) -> Result<Vec<Splice>, Unsupported> {
    let (text, tree) = (place.text, place.tree);
    if add.is_empty()
        && items
            .iter()
            .all(|item| names_to_remove(tree, *item, remove))
    {
        return emptied_block_list(place, key, list, items);
    }
    let starts: Vec<usize> = items
        .iter()
        .map(|i| line_start(text, tree.node(*i).span.start))
        .collect();
    let (Some(&head), Some(&head_start)) = (items.first(), starts.first()) else {
        return Ok(vec![flow_list(place, list, add, remove)?]);
    };
    let prefix = text
        .get(head_start..tree.node(head).span.start)
        .unwrap_or_default();
    let dash = prefix
        .find('-')
        .filter(|_| prefix.trim_start().starts_with('-'));
    let Some(dash) = dash else {
        return Err(Unsupported::new(
            tree.node(head).line,
            "`imagePullSecrets` items do not start their lines",
        ));
    };
    let indent = prefix.get(..dash).unwrap_or_default();
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
            check_removable(tree, *item)?;
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

/// A block list whose every item goes: `key: []`, its item lines (and any comment lines
/// among them) gone, an anchor on it kept, a comment on the key's line kept.
fn emptied_block_list(
    place: &Place<'_, '_>,
    key: NodeId,
    list: NodeId,
    items: &[NodeId],
) -> Result<Vec<Splice>, Unsupported> {
    let (text, tree) = (place.text, place.tree);
    for item in items {
        check_removable(tree, *item)?;
    }
    let node = tree.node(list);
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Ok(Vec::new());
    };
    let last = tree.node(*last);
    let end = line_end(text, content_end(text, last.span.clone()), place.end);
    let first_line = line_start(text, tree.node(*first).span.start);
    if node.anchor.is_some() || node.tag != Tag::None {
        // `imagePullSecrets: &secrets` (or a tag) and the items below: that line gets the
        // list, with the anchor.
        let props_line_end = line_end(text, node.props, place.end);
        let end = end.max(props_line_end);
        let ended = text.get(..end).is_some_and(|t| t.ends_with(['\n', '\r']));
        let newline = if ended { place.newline } else { "" };
        let new = format!("{}{newline}", node.with_anchor(text, "[]"));
        return Ok(vec![Splice::replace(node.props..end, new)]);
    }
    let colon = after_colon(place, key);
    Ok(vec![
        Splice::insert(colon, " []".to_string()),
        Splice::replace(first_line.max(colon)..end, String::new()),
    ])
}

/// `[{name: a}]`: rebuilt from the kept items' own text (anchors and tags included) plus the
/// new ones.
fn flow_list(
    place: &Place<'_, '_>,
    list: NodeId,
    add: &[String],
    remove: &[String],
) -> Result<Splice, Unsupported> {
    let tree = place.tree;
    let mut kept = Vec::new();
    for item in tree.items(list) {
        if names_to_remove(tree, *item, remove) {
            check_removable(tree, *item)?;
        } else {
            let node = tree.node(*item);
            kept.push(
                place
                    .text
                    .get(node.props..node.span.end)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let added = add.iter().map(|n| flow_item(place, n));
    let all: Vec<String> = added.chain(kept).collect();
    Ok(Splice::replace(
        tree.node(list).span.clone(),
        format!("[{}]", all.join(", ")),
    ))
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
    Ok(Splice::replace(
        tree.node(alias).span.clone(),
        flow_items(place, names),
    ))
}

/// An `imagePullSecrets` that a merge key brings (`<<: *base`): the merged mapping may serve
/// other holders, so this holder gets a key of its own after its last entry, which go-yaml v2
/// reads over the merged one, holding the names it read less the removed ones, plus the new.
fn merged_list(
    place: &Place<'_, '_>,
    holder: NodeId,
    list: NodeId,
    add: &[String],
    remove: &[String],
) -> Result<Vec<Splice>, Unsupported> {
    let tree = place.tree;
    let node = tree.node(holder);
    let unsupported = |what| Unsupported::new(node.line, what);
    let last_ends_in_block = tree
        .entries(holder)
        .last()
        .is_some_and(|(_, v)| ends_in_block_scalar(tree, *v));
    if matches!(node.kind, Kind::Map { flow: true, .. }) || last_ends_in_block {
        return Err(unsupported(
            "`imagePullSecrets` merged from a YAML anchor, where no key of its own can follow the merge",
        ));
    }
    let mut names: Vec<String> = add.to_vec();
    for item in tree.items(list) {
        let Some(name) = tree.get_str(tree.resolve(*item), "name") else {
            return Err(unsupported(
                "`imagePullSecrets` merged from a YAML anchor, whose items are not all `{name: …}`",
            ));
        };
        if !remove.iter().any(|r| r == name) && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    new_key(place, holder, &names)
}

/// `imagePullSecrets:` with no value (or `null`, `!!null`, `&anchor`): given a flow list. A
/// tag goes (a list is no null); an anchor stays, on the list.
fn null_list(place: &Place<'_, '_>, key: NodeId, value: NodeId, add: &[String]) -> Vec<Splice> {
    if add.is_empty() {
        return Vec::new();
    }
    let list = flow_items(place, add.iter().map(String::as_str));
    let node = place.tree.node(value);
    let list = node.with_anchor(place.text, &list);
    let span = node.props..node.span.end;
    if !span.is_empty() {
        return vec![Splice::replace(span, list)];
    }
    vec![Splice::insert(after_colon(place, key), format!(" {list}"))]
}

/// Just after the `:` that ends a mapping key, where a value on the key's line starts.
fn after_colon(place: &Place<'_, '_>, key: NodeId) -> usize {
    let key_end = place.tree.node(key).span.end;
    place
        .text
        .get(key_end..)
        .and_then(|rest| rest.find(':'))
        .map_or(key_end, |i| key_end + i + 1)
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
        let list = flow_items(place, add.iter().map(String::as_str));
        let after_brace = text.get(node.span.start + 1..).unwrap_or_default();
        let sep = match entries.is_empty() {
            true => "",
            false if after_brace.starts_with(['\r', '\n', ' ']) => ",",
            false => ", ",
        };
        let key = if place.json {
            "\"imagePullSecrets\""
        } else {
            "imagePullSecrets"
        };
        let insert = format!("{key}: {list}{sep}");
        return Ok(vec![Splice::insert(node.span.start + 1, insert)]);
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(Unsupported::new(node.line, "an empty block mapping"));
    };
    let key_start = key_start(text, tree, first.0);
    let indent = " ".repeat(column(text, key_start));
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
    // No names (a merged list whose every name is removed): an empty list of its own.
    let empty = if add.is_empty() { " []" } else { "" };
    if ends_in_block_scalar(tree, last.1) {
        let insert = format!("imagePullSecrets:{empty}{nl}{items}{indent}");
        return Ok(vec![Splice::insert(key_start, insert)]);
    }
    let at = line_end(
        text,
        content_end(text, tree.node(last.1).span.clone()),
        place.end,
    );
    let lead = if text.get(..at).is_some_and(|t| t.ends_with(['\n', '\r'])) {
        ""
    } else {
        nl
    };
    Ok(vec![Splice::insert(
        at,
        format!("{lead}{indent}imagePullSecrets:{empty}{nl}{items}"),
    )])
}
