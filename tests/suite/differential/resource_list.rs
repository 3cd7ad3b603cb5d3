//! The KRM function mode against the YAML reader Kubernetes uses: for every golden case whose
//! input is a `ResourceList` without `patches:` and whose run succeeds, what go-yaml v2 reads in the output is
//! what it reads in the input, except `results`, image references whose name stayed the same
//! (a new registry, tag or digest), and `imagePullSecrets` lists that kept every entry they
//! had.

use crate::common::{self, reference, Ran};

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![items_change_only_in_images_and_pull_secrets]
}

fn items_change_only_in_images_and_pull_secrets() -> Ran {
    common::k8s_viewer()?;
    let cases = cases();
    assert!(!cases.is_empty(), "no testdata/krm-* case succeeds");
    let mut problems = Vec::new();
    for dir in &cases {
        let input = std::fs::read(dir.join("input.yaml")).unwrap();
        let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
        let args: Vec<&str> = args.split_whitespace().collect();
        let output = common::run(&args, &input);
        assert!(output.status.success(), "{}: {output:?}", dir.display());
        let (before, after) = (common::k8s_view(&input), common::k8s_view(&output.stdout));
        let [Ok(before), Ok(after)] = [&before[..], &after[..]].map(|v| match v {
            [one] => one.clone(),
            _ => Err(format!("{} documents", v.len())),
        }) else {
            problems.push(format!("{}: not one readable document", dir.display()));
            continue;
        };
        let mut changed = Vec::new();
        compare(&before, &after, String::new(), &mut changed, &mut problems);
        if changed.is_empty() {
            problems.push(format!("{}: no image changed", dir.display()));
        }
        problems.extend(
            changed
                .iter()
                .filter(|path| !path.starts_with("/items/"))
                .map(|path| format!("{}: {path} changed outside the items", dir.display())),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// The `testdata/krm-*` folders that expect success, but those whose rules hold `patches:`,
/// which change other fields on purpose (the patch oracle checks those).
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let patches = std::fs::read_to_string(dir.join("input.yaml"))
                .is_ok_and(|input| input.contains("\n  patches:"));
            name.starts_with("krm-") && !dir.join("expected.status").exists() && !patches
        })
        .collect();
    dirs.sort();
    dirs
}

/// Compares two values: the image strings that changed go to `changed`, every other
/// difference to `problems`.
fn compare(
    before: &Value,
    after: &Value,
    at: String,
    changed: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for key in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
                let path = format!("{at}/{key}");
                match (b.get(key), a.get(key)) {
                    _ if at.is_empty() && key == "results" => {}
                    (b, Some(a)) if key == "imagePullSecrets" => {
                        let kept = b.and_then(Value::as_array).is_none_or(|b| {
                            b.iter()
                                .all(|entry| a.as_array().is_some_and(|a| a.contains(entry)))
                        });
                        if !kept {
                            problems.push(format!("{path}: entries lost"));
                        }
                    }
                    (Some(b), Some(a)) => compare(b, a, path, changed, problems),
                    _ => problems.push(format!("{path}: added or removed")),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (b, a)) in b.iter().zip(a).enumerate() {
                compare(b, a, format!("{at}/{i}"), changed, problems);
            }
        }
        (Value::String(b), Value::String(a)) if b != a => {
            if same_image(b, a) {
                changed.push(at);
            } else {
                problems.push(format!("{at}: {b:?} became {a:?}"));
            }
        }
        (b, a) if b == a => {}
        (b, a) => problems.push(format!("{at}: {b} became {a}")),
    }
}

/// Whether `after` is `before` as an image moved to another registry, tag or digest: both
/// valid references whose last path component is the same.
fn same_image(before: &str, after: &str) -> bool {
    let name = |r: &str| {
        let path = r.split('@').next().unwrap_or_default();
        let last = path.rsplit('/').next().unwrap_or_default();
        last.split(':').next().unwrap_or_default().to_string()
    };
    reference::is_valid(before) && reference::is_valid(after) && name(before) == name(after)
}
