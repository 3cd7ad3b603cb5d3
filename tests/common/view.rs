//! The Kubernetes view of a stream with the image fields taken out, to compare before/after.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{reference, Fixture, K8sView, ObjectId};

/// Where pod specs sit, for any kind (Pod, templates, CronJob, PodTemplate).
const POD_SPECS: [&str; 4] = [
    "spec",
    "spec.template.spec",
    "spec.jobTemplate.spec.template.spec",
    "template.spec",
];
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// An image field: the object it belongs to and its path, like the ground truth's.
type Site = (ObjectId, String);

/// Compares the two views: equal once the image fields, the image-bearing strings the ground
/// truth lists elsewhere (`.other-images.txt`: env values, args, ConfigMap values, custom
/// resource fields) and `imagePullSecrets` are removed, and the standard image fields that
/// differ are exactly the valid ground-truth images.
pub fn compare(fixture: &Fixture, before: &K8sView, after: &K8sView) -> Vec<String> {
    let others: Vec<Site> = fixture
        .other_images
        .iter()
        .map(|row| (row.object.clone(), row.path.clone()))
        .collect();
    if before.len() != after.len() {
        return vec![format!("{} documents became {}", before.len(), after.len())];
    }
    let mut problems = Vec::new();
    let mut changed = BTreeSet::new();
    for (index, pair) in before.iter().zip(after).enumerate() {
        match pair {
            (Ok(b), Ok(a)) => {
                match changed_images(&without_others(b, &others), &without_others(a, &others)) {
                    Ok(sites) => changed.extend(sites),
                    Err(path) => problems.push(format!("doc{index}: {path} changed")),
                }
            }
            (b, a) if b == a => {}
            (b, a) => problems.push(format!("doc{index}: was {b:?}, became {a:?}")),
        }
    }
    let expected: BTreeSet<Site> = fixture
        .images
        .iter()
        .filter(|row| reference::is_valid(&row.image))
        .map(|row| (row.object.clone(), row.path.clone()))
        .collect();
    problems.extend(set_difference("not rewritten", &expected, &changed));
    problems.extend(set_difference(
        "rewritten but not a standard image",
        &changed,
        &expected,
    ));
    problems
}

fn set_difference(what: &str, a: &BTreeSet<Site>, b: &BTreeSet<Site>) -> Vec<String> {
    a.difference(b)
        .map(|(object, path)| format!("{what}: {object} {path}"))
        .collect()
}

/// The image fields whose value changed, or the path of the first other change.
fn changed_images(before: &Value, after: &Value) -> Result<Vec<Site>, String> {
    let (before, before_images) = strip(before);
    let (after, after_images) = strip(after);
    if let Some(path) = first_difference(&before, &after, String::new()) {
        return Err(path);
    }
    let paths: BTreeSet<&String> = before_images.keys().chain(after_images.keys()).collect();
    let id = object_id(&before);
    Ok(paths
        .into_iter()
        .filter(|path| before_images.get(*path) != after_images.get(*path))
        .map(|path| (id.clone(), path.clone()))
        .collect())
}

/// The document with the values at the listed places of its own object taken out.
fn without_others(doc: &Value, others: &[Site]) -> Value {
    let mut doc = doc.clone();
    let id = object_id(&doc);
    for (_, path) in others.iter().filter(|(object, _)| *object == id) {
        if let Some(value) = doc.pointer_mut(&pointer(path)) {
            value.take();
        }
    }
    doc
}

/// `spec.containers[0].env[3].value` → `/spec/containers/0/env/3/value`.
fn pointer(path: &str) -> String {
    path.split('.')
        .flat_map(|segment| segment.split('['))
        .map(|part| format!("/{}", part.trim_end_matches(']')))
        .collect()
}

fn object_id(doc: &Value) -> ObjectId {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    ObjectId {
        kind: text(&doc["kind"]),
        namespace: text(&doc["metadata"]["namespace"]),
        name: text(&doc["metadata"]["name"]),
    }
}

/// The document without its image fields and `imagePullSecrets`, and the removed images
/// by path (`spec.template.spec.containers[0].image`, `spec.volumes[1].image.reference`).
fn strip(doc: &Value) -> (Value, BTreeMap<String, Value>) {
    let mut doc = doc.clone();
    let mut images = BTreeMap::new();
    if let Some(top) = doc.as_object_mut() {
        top.remove("imagePullSecrets");
    }
    for spec_path in POD_SPECS {
        let pointer = format!("/{}", spec_path.replace('.', "/"));
        if let Some(spec) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            spec.remove("imagePullSecrets");
            take_images(spec, spec_path, &mut images);
        }
    }
    (doc, images)
}

fn take_images(
    spec: &mut serde_json::Map<String, Value>,
    spec_path: &str,
    images: &mut BTreeMap<String, Value>,
) {
    let lists = CONTAINER_LISTS
        .iter()
        .map(|list| (*list, "/image", "image"));
    let volumes = std::iter::once(("volumes", "/image/reference", "image.reference"));
    for (list, pointer, field) in lists.chain(volumes) {
        let Some(items) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for (i, item) in items.iter_mut().enumerate() {
            if let Some(value) = item.pointer_mut(pointer).map(Value::take) {
                images.insert(format!("{spec_path}.{list}[{i}].{field}"), value);
            }
        }
    }
}

/// The path of the first place where two JSON values differ.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(v), Some(w)) => first_difference(v, w, format!("{path}.{k}")),
                _ => Some(format!("{path}.{k}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}[{i}]"))),
        _ => (a != b).then_some(path),
    }
}
