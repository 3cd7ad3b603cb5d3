//! `images --format json-patch` judged against the Kubernetes reader: applied with the
//! `json-patch` crate to what Kubernetes reads of the input, resource by resource, the patch
//! must give what it reads of reimage's output, and name exactly the resources that change.
//!
//! A resource is a readable document, or an item of a `*List` document (lists inside lists
//! too, as reimage walks them); its pointers start at itself. The patches come in stream
//! order, so the n-th patch belongs to the n-th resource that changes: that pairing needs no
//! guess where several resources share kind, name and namespace. A stream with a document
//! Kubernetes cannot read is not judged: the patches say nothing of which document they are
//! for, and reimage may still patch what Kubernetes would refuse (a `!!binary` that is not
//! base64), so they cannot be paired with the resources Kubernetes reads.

use serde_json::Value;

use crate::common::K8sView;

/// `*List` documents inside `*List` documents are followed this deep (as reimage does).
const MAX_LIST_DEPTH: usize = 4;

/// One resource of a view: where it is (`doc3`, `doc3/items/1`) and what Kubernetes reads.
struct Resource<'v> {
    at: String,
    value: &'v Value,
}

/// Every resource of the readable documents, in stream order.
fn resources(view: &K8sView) -> Vec<Resource<'_>> {
    let mut out = Vec::new();
    for (doc, value) in view.iter().enumerate() {
        if let Ok(value) = value {
            push_resources(value, format!("doc{doc}"), 0, &mut out);
        }
    }
    out
}

fn push_resources<'v>(value: &'v Value, at: String, depth: usize, out: &mut Vec<Resource<'v>>) {
    let is_list = value["kind"].as_str().is_some_and(|k| k.ends_with("List"));
    if let (true, true, Some(items)) = (is_list, depth < MAX_LIST_DEPTH, value.get("items")) {
        for (i, item) in items.as_array().into_iter().flatten().enumerate() {
            push_resources(item, format!("{at}/items/{i}"), depth + 1, out);
        }
        return;
    }
    out.push(Resource { at, value });
}

/// A resource's name as a kustomize patch target gives it.
fn target_of(value: &Value) -> Value {
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(Value::String(s.clone())),
        other => Some(Value::String(other.to_string())),
    };
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (Some(group), version),
        None => (None, api_version),
    };
    let mut target = serde_json::Map::new();
    if let Some(group) = group {
        target.insert("group".into(), Value::String(group.into()));
    }
    target.insert("version".into(), Value::String(version.into()));
    target.insert(
        "kind".into(),
        text(&value["kind"]).unwrap_or_else(|| Value::String(String::new())),
    );
    for (key, field) in [("name", "name"), ("namespace", "namespace")] {
        if let Some(v) = text(&value["metadata"][field]) {
            target.insert(key.into(), v);
        }
    }
    Value::Object(target)
}

/// What is wrong with `patches` (the parsed output of `images --format json-patch`) as the
/// difference between the two views; empty when nothing is.
pub fn judge(before: &K8sView, after: &K8sView, patches: &Value) -> Vec<String> {
    let Some(patches) = patches.as_array() else {
        return vec![format!("the patches are not a JSON array: {patches}")];
    };
    if before.iter().any(Result::is_err) {
        return Vec::new();
    }
    let (before, after) = (resources(before), resources(after));
    if before.len() != after.len() {
        return vec![format!(
            "{} resources became {}: the views cannot be paired",
            before.len(),
            after.len()
        )];
    }
    let changed: Vec<(&Resource<'_>, &Resource<'_>)> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.value != a.value)
        .collect();
    let mut problems = Vec::new();
    if changed.len() != patches.len() {
        let names = |list: Vec<String>| list.join(", ");
        problems.push(format!(
            "{} resources change ({}), but there are {} patches (for {})",
            changed.len(),
            names(changed.iter().map(|(b, _)| b.at.clone()).collect()),
            patches.len(),
            names(patches.iter().map(|p| p["target"].to_string()).collect()),
        ));
    }
    for ((b, a), entry) in changed.iter().zip(patches) {
        let expected = target_of(b.value);
        if entry["target"] != expected {
            problems.push(format!(
                "{}: the patch's target is {}, not {expected}",
                b.at, entry["target"]
            ));
        }
        let patch: json_patch::Patch = match serde_json::from_value(entry["patch"].clone()) {
            Ok(patch) => patch,
            Err(e) => {
                problems.push(format!("{}: not an RFC 6902 patch ({e}): {entry}", b.at));
                continue;
            }
        };
        let mut patched = b.value.clone();
        if let Err(e) = json_patch::patch(&mut patched, &patch) {
            problems.push(format!("{}: the patch does not apply: {e}\n{entry}", b.at));
            continue;
        }
        if patched != *a.value {
            problems.push(format!(
                "{}: the patched input is not the output:\n  patched: {patched}\n  output:  {}\n  patch: {entry}",
                b.at, a.value
            ));
        }
    }
    problems
}
