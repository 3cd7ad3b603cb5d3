//! `patches:` against the JSON Patch reference: for generated streams and generated RFC 6902
//! operations, what Kubernetes reads from reimage's output is what the `json-patch` crate makes
//! of what Kubernetes reads from the output without the patches.
//!
//! Each stream of the grammar is rendered with the differential test's catch-all mirror and
//! pull secret; the operations are drawn against the Kubernetes view of that output (paths
//! that exist, keys that do not, list ends, missing parents, values YAML 1.1 reads otherwise),
//! one at a time, each applied to a model so the next sees its result. The model applies them
//! with `json_patch::patch`, after creating the parents an `add` (or `move`, `copy`) is missing
//! as reimage does: objects, or a list before a `-` or `0`; a null parent counts as missing.
//!
//! Three outcomes agree: both succeed, and the views are equal; both fail, and reimage wrote
//! nothing and named the patch; or reimage refuses an edit it cannot make in place (through an
//! alias or a merge key), or a patched document whose images the rules would still change,
//! with a message that says so. A batch whose refusals outnumber its
//! successes proves nothing, and fails. Where every operation can be repeated (`replace`,
//! `test`, an `add` of an object member), a second run on the output changes nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use json_patch::PatchOperation;
use serde_json::{json, Map, Value};

use super::grammar::{self, Feature, Rng};
use super::oracle::Oracle;
use crate::common::{self, Ran};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![patches_make_of_the_bytes_what_json_patch_makes_of_the_view]
}

const SEED: u64 = 0x9A7C_4E50_0001;
const STREAMS: u64 = 160;

fn patches_make_of_the_bytes_what_json_patch_makes_of_the_view() -> Ran {
    common::k8s_viewer()?;
    let oracle = Oracle::new(super::MIRROR, super::SECRET, super::REFUSAL_PHRASES);
    let features: BTreeSet<Feature> = Feature::ALL.iter().copied().collect();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential-patches");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut agreed, mut failed_alike, mut refused) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    for index in 0..STREAMS {
        let seed = grammar::stream_seed(SEED, index);
        let stream = grammar::generate(seed, &features).text;
        let base = oracle.render(stream.as_bytes());
        if !base.success {
            continue;
        }
        let view = common::k8s_view(&base.stdout);
        let mut rng = Rng::new(seed ^ 0xA5A5);
        let Some(patches) = patches(&mut rng, &view) else {
            continue;
        };
        let rules = json!({"version": 1, "patches": patches});
        let file = dir.join(format!("{seed:016x}.yaml"));
        std::fs::write(&file, rules.to_string()).unwrap();
        let file = file.to_str().unwrap().to_owned();
        let run = with_rules(&oracle, &file, stream.as_bytes());
        let expected = apply(&view, &patches);
        let problem = match (run.success, &expected) {
            (true, Ok(expected)) => {
                let actual = common::k8s_view(&run.stdout);
                if normalized(&actual) == normalized(expected) {
                    agreed += 1;
                    again(&oracle, &file, &patches, &run.stdout)
                } else {
                    Some(format!(
                        "the views differ\nexpected: {}\nactual:   {}",
                        show(expected),
                        show(&actual)
                    ))
                }
            }
            (true, Err(why)) => Some(format!("json-patch fails ({why}), reimage did not")),
            (false, result) => {
                // One line, or a summary with its list, as policy messages are.
                let clean = run.stdout.is_empty()
                    && run.stderr.starts_with("reimage: ")
                    && run.stderr.lines().skip(1).all(|l| l.starts_with("  "));
                // A patch that writes an image the rules would still change is refused after
                // the patches, as is one that breaks the policy.
                let after = run.stderr.contains("after the patches");
                let names = run.stderr.contains("patches[") || after;
                let in_place = run.stderr.contains("cannot");
                match result {
                    Ok(_) if clean && names && in_place => {
                        refused += 1;
                        let why = run.stderr.rsplit("): ").next().unwrap_or_default();
                        *reasons
                            .entry(why.chars().take(60).collect::<String>())
                            .or_insert(0) += 1;
                        None
                    }
                    Err(_) if clean && names => {
                        failed_alike += 1;
                        None
                    }
                    Ok(_) => Some(format!(
                        "reimage failed where json-patch did not: {}",
                        run.stderr
                    )),
                    Err(why) => Some(format!(
                        "both failed ({why}), but not cleanly: {}",
                        run.stderr
                    )),
                }
            }
        };
        if let Some(problem) = problem {
            std::fs::write(dir.join(format!("{seed:016x}.in.yaml")), &stream).unwrap();
            failures.push(format!(
                "seed {seed:#x}: {problem}\nrules: {rules}\nstream:\n{stream}\nstderr: {}",
                run.stderr
            ));
        }
    }
    if crate::harness::nocapture() {
        eprintln!("patches: {agreed} agreed, {failed_alike} failed alike, {refused} refused: {reasons:#?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {STREAMS} streams disagree; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(
        agreed >= 60,
        "only {agreed} streams were patched and compared"
    );
    assert!(
        refused < agreed,
        "{refused} refusals against {agreed} agreements"
    );
    Ok(())
}

/// reimage with the differential test's mirror and pull secret, and the rules file `rules`.
fn with_rules(oracle: &Oracle, rules: &str, input: &[u8]) -> super::oracle::Run {
    oracle.run(
        &[
            "--registry",
            super::MIRROR,
            "--pull-secret",
            super::SECRET,
            "--rules",
            rules,
        ],
        input,
    )
}

/// A second run on the output changes nothing when every operation is one that can be
/// repeated (`replace`, `test`, an `add` of an object member); `None` when so, or when the
/// patches hold others.
fn again(oracle: &Oracle, rules: &str, patches: &[Value], output: &[u8]) -> Option<String> {
    let repeatable = patches
        .iter()
        .flat_map(|p| p["patch"].as_array().cloned().unwrap_or_default())
        .all(|op| match op["op"].as_str() {
            Some("replace" | "test") => true,
            Some("add") => op["path"].as_str().is_some_and(|path| {
                let last = path.rsplit('/').next().unwrap_or_default();
                last != "-" && !last.chars().all(|c| c.is_ascii_digit())
            }),
            _ => false,
        });
    if !repeatable {
        return None;
    }
    let run = with_rules(oracle, rules, output);
    // A patch may make what the image rules refuse (`imagePullSecrets: "yes"`); the second
    // run then fails closed, which is its business.
    (run.success && run.stdout != output).then(|| {
        format!(
            "a second run changed the output (repeatable operations only)\nstderr: {}\nfirst:\n{}\nsecond:\n{}",
            run.stderr,
            String::from_utf8_lossy(output),
            String::from_utf8_lossy(&run.stdout)
        )
    })
}

/// The resources of a view: each document, or each item of a `*List`, by document and item.
fn resources(view: &[Result<Value, String>]) -> Vec<(usize, Vec<usize>)> {
    fn walk(value: &Value, doc: usize, item: &mut Vec<usize>, out: &mut Vec<(usize, Vec<usize>)>) {
        let Value::Object(object) = value else {
            return;
        };
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.ends_with("List") && item.len() < 4 {
            if let Some(Value::Array(items)) = object.get("items") {
                for (i, child) in items.iter().enumerate() {
                    item.push(i);
                    walk(child, doc, item, out);
                    item.pop();
                }
                return;
            }
        }
        out.push((doc, item.clone()));
    }
    let mut out = Vec::new();
    for (doc, value) in view.iter().enumerate() {
        if let Ok(value) = value {
            walk(value, doc, &mut Vec::new(), &mut out);
        }
    }
    out
}

fn resource_mut<'v>(
    view: &'v mut [Result<Value, String>],
    doc: usize,
    item: &[usize],
) -> Option<&'v mut Value> {
    let mut value = view.get_mut(doc)?.as_mut().ok()?;
    for i in item {
        value = value.get_mut("items")?.get_mut(*i)?;
    }
    Some(value)
}

/// One or two patches for the stream, drawn against one resource; `None` when it has none.
fn patches(rng: &mut Rng, view: &[Result<Value, String>]) -> Option<Vec<Value>> {
    let all = resources(view);
    if all.is_empty() {
        return None;
    }
    let mut model = view.to_vec();
    let mut patches = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let (doc, item) = rng.pick(&all).clone();
        let resource = resource_mut(&mut model, doc, &item)?.clone();
        let text = |pointer: &str| {
            resource
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let (kind, name) = (text("/kind"), text("/metadata/name"));
        let target = match (kind, name) {
            (Some(kind), Some(name)) if !rng.percent(10) => json!({"kind": kind, "name": name}),
            (Some(kind), _) if !rng.percent(10) => json!({"kind": kind}),
            _ => json!({}),
        };
        let mut state = resource;
        let mut operations = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let Some(operation) = operation(rng, &state) else {
                continue;
            };
            let mut next = state.clone();
            if apply_operation(&mut next, &operation).is_ok() || operation["op"] == "test" {
                state = next;
                operations.push(operation);
            }
        }
        if operations.is_empty() {
            continue;
        }
        let patch = json!({"target": target, "patch": operations});
        // The next patch is drawn against what this one leaves.
        if apply(&model, std::slice::from_ref(&patch))
            .map(|m| model = m)
            .is_err()
        {
            patches.push(patch);
            break;
        }
        patches.push(patch);
    }
    (!patches.is_empty()).then_some(patches)
}

/// Every path in `value`, as tokens, with its value (the root left out).
fn paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(object) => {
            for (k, v) in object {
                at.push(k.clone());
                out.push((at.clone(), v.clone()));
                paths(v, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(i.to_string());
                out.push((at.clone(), v.clone()));
                paths(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

const KEYS: &[&str] = &[
    "team",
    "app.kubernetes.io/name",
    "a~b",
    "x y",
    "yes",
    "0644",
    "image",
];

fn new_value(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!("platform"),
        json!("yes"),
        json!("0644"),
        json!(""),
        json!("a: b #c"),
        json!("two\nlines"),
        json!(3),
        json!(-1),
        json!(true),
        json!(null),
        json!({"key": "dedicated", "operator": "Exists"}),
        json!(["a", 1, {"b": null}]),
        json!({}),
        json!([]),
    ])
    .clone()
}

/// One operation drawn against `state`.
fn operation(rng: &mut Rng, state: &Value) -> Option<Value> {
    let mut all = Vec::new();
    paths(state, &mut Vec::new(), &mut all);
    let objects: Vec<&Vec<String>> = all
        .iter()
        .filter(|(_, v)| v.is_object())
        .map(|(p, _)| p)
        .collect();
    let arrays: Vec<(&Vec<String>, usize)> = all
        .iter()
        .filter_map(|(p, v)| v.as_array().map(|a| (p, a.len())))
        .collect();
    let root: Vec<String> = Vec::new();
    let object = |rng: &mut Rng| -> Vec<String> {
        if objects.is_empty() || rng.percent(20) {
            root.clone()
        } else {
            (*rng.pick(&objects)).clone()
        }
    };
    let new_key = |rng: &mut Rng, mut at: Vec<String>| {
        at.push((*rng.pick(KEYS)).to_owned());
        at
    };
    Some(match rng.below(9) {
        0 if !all.is_empty() => {
            let (path, _) = rng.pick(&all);
            json!({"op": "replace", "path": pointer(path), "value": new_value(rng)})
        }
        1 => {
            let parent = object(rng);
            let at = new_key(rng, parent);
            json!({"op": "add", "path": pointer(&at), "value": new_value(rng)})
        }
        2 if !arrays.is_empty() => {
            let (path, len) = rng.pick(&arrays);
            let mut at = (*path).clone();
            at.push(match rng.below(3) {
                0 => "-".to_owned(),
                _ => rng.below(len + 1).to_string(),
            });
            json!({"op": "add", "path": pointer(&at), "value": new_value(rng)})
        }
        3 => {
            let mut at = object(rng);
            at.push("new".to_owned());
            if rng.percent(50) {
                at.push("-".to_owned());
            } else {
                at.push((*rng.pick(KEYS)).to_owned());
            }
            let path = match rng.percent(30) {
                true => "/metadata/labels/team".to_owned(),
                false => pointer(&at),
            };
            json!({"op": "add", "path": path, "value": new_value(rng)})
        }
        4 if !all.is_empty() => {
            let (path, _) = rng.pick(&all);
            json!({"op": "remove", "path": pointer(path)})
        }
        5 if !all.is_empty() => {
            let (path, value) = rng.pick(&all);
            let value = if rng.percent(15) {
                json!("not it")
            } else {
                value.clone()
            };
            json!({"op": "test", "path": pointer(path), "value": value})
        }
        6 | 7 if !all.is_empty() => {
            let (from, _) = rng.pick(&all);
            let parent = object(rng);
            let to = new_key(rng, parent);
            if to.starts_with(from) {
                return None;
            }
            let op = if rng.below(2) == 0 { "copy" } else { "move" };
            json!({"op": op, "from": pointer(from), "path": pointer(&to)})
        }
        _ if !arrays.is_empty() => {
            let (path, len) = rng.pick(&arrays);
            if *len == 0 {
                return None;
            }
            let mut at = (*path).clone();
            at.push(rng.below(*len).to_string());
            json!({"op": "remove", "path": pointer(&at)})
        }
        _ => return None,
    })
}

/// The view with `patches` applied to every resource each one's target selects, as reimage
/// selects them.
fn apply(
    view: &[Result<Value, String>],
    patches: &[Value],
) -> Result<Vec<Result<Value, String>>, String> {
    let mut view = view.to_vec();
    for patch in patches {
        for (doc, item) in resources(&view) {
            let Some(resource) = resource_mut(&mut view, doc, &item) else {
                continue;
            };
            if !selects(&patch["target"], resource) {
                continue;
            }
            for operation in patch["patch"].as_array().into_iter().flatten() {
                apply_operation(resource, operation)?;
            }
        }
    }
    Ok(view)
}

fn selects(target: &Value, resource: &Value) -> bool {
    let text = |pointer: &str| {
        resource
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    ["kind", "name"].iter().all(|key| {
        let actual = match *key {
            "kind" => text("/kind"),
            _ => text("/metadata/name"),
        };
        target
            .get(*key)
            .and_then(Value::as_str)
            .is_none_or(|wanted| wanted == actual)
    })
}

/// One operation with `json_patch`, after the parents an `add` lacks are made.
fn apply_operation(resource: &mut Value, operation: &Value) -> Result<(), String> {
    let parsed: PatchOperation =
        serde_json::from_value(operation.clone()).map_err(|e| e.to_string())?;
    if matches!(
        parsed,
        PatchOperation::Add(_) | PatchOperation::Copy(_) | PatchOperation::Move(_)
    ) {
        let tokens: Vec<String> = parsed
            .path()
            .tokens()
            .map(|t| t.decoded().into_owned())
            .collect();
        make_parents(resource, &tokens);
    }
    if let PatchOperation::Test(test) = &parsed {
        // Numbers compare by value, as Go prints them.
        let actual = resource.pointer(test.path.as_str()).map(normal);
        return match actual == Some(normal(&test.value)) {
            true => Ok(()),
            false => Err(format!("test of {} failed", test.path)),
        };
    }
    json_patch::patch(resource, &[parsed]).map_err(|e| e.to_string())
}

/// The parents of the last token, made where missing (or null): objects, or a list when the
/// next token is `-` or `0`.
fn make_parents(resource: &mut Value, tokens: &[String]) {
    let mut value = resource;
    // Once one parent is made, the rest of the chain is new: a new list gets its item 0.
    let mut made = false;
    for (i, token) in tokens
        .iter()
        .enumerate()
        .take(tokens.len().saturating_sub(1))
    {
        let next = tokens.get(i + 1).map(String::as_str);
        let empty = match next {
            Some("-" | "0") => Value::Array(Vec::new()),
            _ => Value::Object(Map::new()),
        };
        value = match value {
            Value::Object(object) => {
                let slot = object.entry(token.clone()).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = empty;
                    made = true;
                }
                slot
            }
            Value::Array(items) => {
                if made {
                    items.push(empty);
                    match items.last_mut() {
                        Some(item) => item,
                        None => return,
                    }
                } else {
                    match token.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                        Some(item) => {
                            if item.is_null() {
                                *item = empty;
                                made = true;
                            }
                            item
                        }
                        None => return,
                    }
                }
            }
            _ => return,
        };
    }
}

/// A value with integral floats as integers, as Go's JSON encoder prints them.
fn normal(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 1e18 => {
                json!(f as i64)
            }
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Object(object) => {
            Value::Object(object.iter().map(|(k, v)| (k.clone(), normal(v))).collect())
        }
        _ => value.clone(),
    }
}

fn normalized(view: &[Result<Value, String>]) -> Vec<Result<Value, String>> {
    view.iter()
        .map(|d| d.as_ref().map(normal).map_err(|_| "unreadable".to_owned()))
        .collect()
}

fn show(view: &[Result<Value, String>]) -> String {
    view.iter()
        .map(|d| match d {
            Ok(v) => v.to_string(),
            Err(e) => format!("ERROR {e}"),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}
