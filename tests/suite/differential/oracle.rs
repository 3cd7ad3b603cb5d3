//! One stream through reimage and through the Kubernetes reader, judged by the invariants;
//! and the shrinker that finds a smaller stream failing the same way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{self, reference, K8sView};

/// Where pod specs are, by kind and API group (as in `src/locate/table.rs`).
const POD_SPECS: &[(&str, &[&str], &str)] = &[
    ("Pod", &[""], "spec"),
    ("PodTemplate", &[""], "template.spec"),
    ("ReplicationController", &[""], "spec.template.spec"),
    ("Deployment", &["apps", "extensions"], "spec.template.spec"),
    ("ReplicaSet", &["apps", "extensions"], "spec.template.spec"),
    ("StatefulSet", &["apps"], "spec.template.spec"),
    ("DaemonSet", &["apps", "extensions"], "spec.template.spec"),
    ("Job", &["batch"], "spec.template.spec"),
    ("CronJob", &["batch"], "spec.jobTemplate.spec.template.spec"),
];

/// Rules that, beside the mirror and its secret, remove secrets the grammar writes.
const REMOVING_RULES: &str = "version: 1\npullSecrets: {remove: [regcred, harbor-pull]}\n";

/// The lists whose items' `image` Kubernetes pulls.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Which invariant a problem breaks; shrinking keeps a stream that breaks the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Failed, but not cleanly, or without naming what it does not support.
    Refusal,
    /// An image Kubernetes pulls is not under the mirror in the output.
    Mirror,
    /// `images --format json` does not list an image as rewritten.
    Listing,
    /// `imagePullSecrets` is not the input's plus the mirror's secret.
    Secrets,
    /// Something else Kubernetes reads changed.
    View,
    /// A document Kubernetes could read, it cannot read any more.
    Unreadable,
    /// `images --format json-patch`, applied to the input's view, is not the output's view.
    Patch,
    /// A second run changed the output.
    Idempotence,
    /// Empty rules changed the input.
    Identity,
    /// The check itself broke on the stream: a tool it runs (the viewer, the binary) failed
    /// in a way it does not expect, and it panicked.
    Crash,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub category: Category,
    /// What, within the category, went wrong (the kind and list of a missed image, the field
    /// that changed, the refusal's words): shrinking keeps streams with the same.
    pub key: String,
    pub message: String,
}

fn problem(category: Category, message: String) -> Problem {
    keyed(category, String::new(), message)
}

fn keyed(category: Category, key: String, message: String) -> Problem {
    Problem {
        category,
        key,
        message,
    }
}

/// The container list of an image path: `spec.initContainers[0].image` → `initContainers`.
fn list_of(path: &str) -> &str {
    path.rsplit('.')
        .nth(1)
        .and_then(|segment| segment.split('[').next())
        .unwrap_or_default()
}

/// The last field name of a path, without indices: `.a[0].image` → `image`.
fn field_of(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or_default();
    last.split('[').next().unwrap_or_default().to_owned()
}

/// The words of a message, without numbers (line and column numbers move when shrinking).
pub fn without_digits(message: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

pub enum Verdict {
    Passed,
    /// Failed closed, with this message.
    Refused(String),
    Failed(Vec<Problem>),
}

/// A finished run of the binary.
pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// The binary under test, an empty rules file, and the rules every run uses.
pub struct Oracle {
    bin: PathBuf,
    empty_rules: String,
    rules: Vec<String>,
    /// The rules of the JSON Patch check: those of every run, and pull secrets removed too.
    patch_rules: Vec<String>,
    mirror: String,
    secret: String,
    refusal_phrases: &'static [&'static str],
}

impl Oracle {
    pub fn new(mirror: &str, secret: &str, refusal_phrases: &'static [&'static str]) -> Oracle {
        let bin = std::env::var_os("REIMAGE_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_reimage")),
            PathBuf::from,
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential");
        std::fs::create_dir_all(&dir).expect("cannot create the scratch folder");
        let empty = dir.join("empty-rules.yaml");
        std::fs::write(&empty, "").expect("cannot write the empty rules file");
        let removing = dir.join("remove-rules.yaml");
        std::fs::write(&removing, REMOVING_RULES).expect("cannot write the rules file");
        let removing = removing.to_str().expect("scratch path is not UTF-8");
        let rules: Vec<String> = ["--registry", mirror, "--pull-secret", secret]
            .map(str::to_owned)
            .to_vec();
        Oracle {
            bin,
            empty_rules: empty
                .to_str()
                .expect("scratch path is not UTF-8")
                .to_owned(),
            patch_rules: ["--rules", removing]
                .map(str::to_owned)
                .into_iter()
                .chain(rules.iter().cloned())
                .collect(),
            rules,
            mirror: mirror.to_owned(),
            secret: secret.to_owned(),
            refusal_phrases,
        }
    }

    pub fn run(&self, args: &[&str], input: &[u8]) -> Run {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_remove("REIMAGE_RULES")
            .env_remove("REIMAGE_LOG");
        let output = common::output_with_stdin(cmd, input);
        Run {
            success: output.status.success(),
            code: output.status.code(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `reimage RULES` on `input`.
    pub fn render(&self, input: &[u8]) -> Run {
        let args: Vec<&str> = self.rules.iter().map(String::as_str).collect();
        self.run(&args, input)
    }

    fn listing(&self, input: &[u8]) -> Run {
        self.images("json", input)
    }

    /// `reimage images --format FORMAT RULES` on `input`.
    pub fn images(&self, format: &str, input: &[u8]) -> Run {
        let mut args = vec!["images", "--format", format];
        args.extend(self.rules.iter().map(String::as_str));
        self.run(&args, input)
    }

    /// What is wrong with `images --format json-patch` on `input`, with the rules of every
    /// run and pull secrets removed as well (see [`super::json_patch`]); `Err` with the
    /// message of a render these rules refuse (an anchored item to remove), which leaves
    /// nothing to check.
    pub fn judge_patch(&self, input: &[u8], before: &K8sView) -> Result<Vec<String>, String> {
        let rules: Vec<&str> = self.patch_rules.iter().map(String::as_str).collect();
        let rendered = self.run(&rules, input);
        if !rendered.success {
            return Err(rendered.stderr.trim_end().to_owned());
        }
        let after = common::k8s_view(&rendered.stdout);
        let args: Vec<&str> = ["images", "--format", "json-patch"]
            .into_iter()
            .chain(rules)
            .collect();
        let run = self.run(&args, input);
        if !run.success {
            return Ok(vec![format!(
                "`images --format json-patch` failed where rendering did not: {}",
                run.stderr.trim_end()
            )]);
        }
        Ok(match serde_json::from_slice::<Value>(&run.stdout) {
            Ok(patches) => super::json_patch::judge(before, &after, &patches),
            Err(e) => vec![format!(
                "`images --format json-patch` printed invalid JSON: {e}"
            )],
        })
    }

    /// Every invariant on one stream; a panic on the way (a viewer that crashed, output it
    /// cannot read) is a failure of this stream too, so that it is reported with its seed
    /// and its stream rather than ending the batch.
    pub fn check(&self, input: &[u8]) -> Verdict {
        let checked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.check_all(input)));
        checked.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            Verdict::Failed(vec![keyed(
                Category::Crash,
                without_digits(&message),
                format!("the check panicked: {message}"),
            )])
        })
    }

    fn check_all(&self, input: &[u8]) -> Verdict {
        let first = self.render(input);
        let before = common::k8s_view(input);
        if !first.success {
            return self.judge_refusal(&before, &first);
        }
        let after = common::k8s_view(&first.stdout);
        let mut problems = judge(&before, &after, &self.mirror, &self.secret);

        let listing = self.listing(input);
        if listing.success {
            match serde_json::from_slice::<Vec<Value>>(&listing.stdout) {
                Ok(occurrences) => {
                    problems.extend(judge_listing(&before, &occurrences, &self.mirror))
                }
                Err(e) => problems.push(problem(
                    Category::Listing,
                    format!("`images --format json` printed invalid JSON: {e}"),
                )),
            }
        } else {
            problems.push(problem(
                Category::Listing,
                format!(
                    "`images --format json` failed where rendering did not: {}",
                    listing.stderr.trim_end()
                ),
            ));
        }

        problems.extend(
            self.judge_patch(input, &before)
                .unwrap_or_default()
                .into_iter()
                .map(|m| problem(Category::Patch, m)),
        );

        let second = self.render(&first.stdout);
        if !second.success {
            problems.push(problem(
                Category::Idempotence,
                format!("a second run failed: {}", second.stderr.trim_end()),
            ));
        } else if second.stdout != first.stdout {
            problems.push(problem(
                Category::Idempotence,
                format!(
                    "a second run changed the output:\n{}",
                    common::diff::lines(&first.stdout, &second.stdout)
                ),
            ));
        }

        let identity = self.run(&["--rules", &self.empty_rules], input);
        if !identity.success {
            problems.push(problem(
                Category::Identity,
                format!("empty rules failed: {}", identity.stderr.trim_end()),
            ));
        } else if identity.stdout != input {
            problems.push(problem(
                Category::Identity,
                format!(
                    "empty rules changed the input:\n{}",
                    common::diff::lines(input, &identity.stdout)
                ),
            ));
        }

        if problems.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed(problems)
        }
    }

    /// A failed run: clean (non-zero exit, nothing on stdout, one `reimage: ` line on stderr),
    /// and, when Kubernetes reads every document, naming a construct it does not support.
    fn judge_refusal(&self, before: &K8sView, run: &Run) -> Verdict {
        let mut problems = Vec::new();
        let stderr = run.stderr.trim_end();
        if run.code.is_none() || run.code == Some(101) || stderr.contains("panicked") {
            problems.push(format!("crashed ({:?}): {stderr}", run.code));
        }
        if !run.stdout.is_empty() {
            problems.push(format!(
                "failed but wrote {} bytes on standard output",
                run.stdout.len()
            ));
        }
        if run.stderr.lines().count() != 1 || !run.stderr.starts_with("reimage: ") {
            problems.push(format!(
                "failed without exactly one `reimage: ` line on standard error: {:?}",
                run.stderr
            ));
        }
        let readable = before.iter().all(Result::is_ok);
        let names_construct = self.refusal_phrases.iter().any(|p| stderr.contains(p));
        if readable && !names_construct {
            problems.push(format!(
                "refused a stream Kubernetes reads, without saying what it does not support \
                 (none of {:?}): {stderr}",
                self.refusal_phrases
            ));
        }
        if problems.is_empty() {
            return Verdict::Refused(stderr.to_owned());
        }
        // The refusal's last clause says why (`did not find expected <document start>`).
        let why = without_digits(stderr.rsplit(": ").next().unwrap_or_default());
        Verdict::Failed(
            problems
                .into_iter()
                .map(|m| keyed(Category::Refusal, why.clone(), m))
                .collect(),
        )
    }
}

/// A pod spec in a view: its document, JSON pointer, the kind of its object and its path
/// inside that object.
#[derive(Clone, Debug)]
pub struct PodSpec {
    pub doc: usize,
    pub pointer: String,
    pub kind: String,
    pub path: String,
}

/// An image field Kubernetes pulls.
#[derive(Clone, Debug)]
pub struct Site {
    pub spec: usize,
    pub doc: usize,
    pub pointer: String,
    pub kind: String,
    pub path: String,
    pub original: Value,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Every pod spec of the readable documents, `kind: List` items included.
pub fn pod_specs(view: &K8sView) -> Vec<PodSpec> {
    let mut specs = Vec::new();
    for (doc, value) in view.iter().enumerate() {
        let Ok(value) = value else { continue };
        if value["kind"] == "List" {
            for (i, item) in value["items"].as_array().into_iter().flatten().enumerate() {
                object_specs(doc, item, &format!("/items/{i}"), &mut specs);
            }
        } else {
            object_specs(doc, value, "", &mut specs);
        }
    }
    specs
}

fn object_specs(doc: usize, object: &Value, base: &str, specs: &mut Vec<PodSpec>) {
    if !object.is_object() {
        return;
    }
    // No `kind` or `apiVersion` (Kubernetes would not take the object): read as empty and as
    // the core group, as reimage does, so that shrinking does not wander into such documents.
    let kind = object["kind"].as_str().unwrap_or_default();
    let group = group_of(object["apiVersion"].as_str().unwrap_or_default());
    let mut known = false;
    for (row_kind, groups, path) in POD_SPECS {
        if *row_kind != kind || !groups.contains(&group) {
            continue;
        }
        known = true;
        let inner = format!("/{}", path.replace('.', "/"));
        if object.pointer(&inner).is_some_and(Value::is_object) {
            specs.push(PodSpec {
                doc,
                pointer: format!("{base}{inner}"),
                kind: kind.to_owned(),
                path: (*path).to_owned(),
            });
        }
    }
    // A custom resource (any other kind, in a group with a dot): its pod specs are the
    // mappings with a `containers` list of items with an `image`, as its controller reads them
    // (the grammar writes one at `spec.template.spec`).
    if !known && group.contains('.') {
        structural(doc, object, base.to_owned(), String::new(), kind, specs);
    }
}

fn structural(
    doc: usize,
    value: &Value,
    pointer: String,
    path: String,
    kind: &str,
    specs: &mut Vec<PodSpec>,
) {
    match value {
        Value::Object(map) => {
            let holds_images = map
                .get("containers")
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|c| c.get("image").is_some()));
            if holds_images {
                specs.push(PodSpec {
                    doc,
                    pointer: pointer.clone(),
                    kind: kind.to_owned(),
                    path: path.trim_start_matches('.').to_owned(),
                });
            }
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                structural(
                    doc,
                    child,
                    format!("{pointer}/{escaped}"),
                    format!("{path}.{key}"),
                    kind,
                    specs,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                structural(
                    doc,
                    child,
                    format!("{pointer}/{i}"),
                    format!("{path}[{i}]"),
                    kind,
                    specs,
                );
            }
        }
        _ => {}
    }
}

/// Every `image` of every container list of every pod spec.
pub fn sites(view: &K8sView, specs: &[PodSpec]) -> Vec<Site> {
    let mut sites = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let Some(Ok(doc)) = view.get(spec.doc) else {
            continue;
        };
        let Some(value) = doc.pointer(&spec.pointer) else {
            continue;
        };
        for list in CONTAINER_LISTS {
            for (i, item) in value[list].as_array().into_iter().flatten().enumerate() {
                if let Some(image) = item.get("image") {
                    sites.push(Site {
                        spec: index,
                        doc: spec.doc,
                        pointer: format!("{}/{list}/{i}/image", spec.pointer),
                        kind: spec.kind.clone(),
                        path: format!("{}.{list}[{i}].image", spec.path),
                        original: image.clone(),
                    });
                }
            }
        }
    }
    sites
}

/// The reference under the catch-all mirror, when the original is a valid reference.
pub fn mirrored(original: &Value, mirror: &str) -> Option<String> {
    let image = original.as_str()?;
    if !reference::is_valid(image) {
        return None;
    }
    // Under the catch-all the source host is one path segment; a port is joined with `_`.
    let normalized = reference::normalized(image);
    let (host, rest) = normalized.split_once('/')?;
    Some(format!("{mirror}/{}/{rest}", host.replace(':', "_")))
}

/// Invariants 1 to 3 on the two views: every pulled image is mirrored, the output view is
/// the input view with exactly those images and the pull secrets changed, and every readable
/// document stays readable.
pub fn judge(before: &K8sView, after: &K8sView, mirror: &str, secret: &str) -> Vec<Problem> {
    if before.len() != after.len() {
        return vec![problem(
            Category::View,
            format!(
                "Kubernetes read {} documents in the input and {} in the output",
                before.len(),
                after.len()
            ),
        )];
    }
    let mut problems = Vec::new();
    let specs = pod_specs(before);
    let sites = sites(before, &specs);
    let mut expected: K8sView = before.clone();
    let mut needs_secret = vec![false; specs.len()];
    let prefix = format!("{mirror}/");

    for site in &sites {
        let Some(want) = mirrored(&site.original, mirror) else {
            continue;
        };
        needs_secret[site.spec] = true;
        let Some(Ok(out)) = after.get(site.doc) else {
            continue;
        };
        let got = out.pointer(&site.pointer);
        if got.and_then(Value::as_str) != Some(want.as_str()) {
            problems.push(keyed(
                Category::Mirror,
                format!("{} {}", site.kind, list_of(&site.path)),
                format!(
                    "doc{} {} {}: Kubernetes pulls {}, which became {}; want {want:?}",
                    site.doc,
                    site.kind,
                    site.path,
                    site.original,
                    got.map_or_else(|| "nothing".to_owned(), Value::to_string),
                ),
            ));
        }
        if let (Some(Value::String(got)), Some(Ok(doc))) = (got, expected.get_mut(site.doc)) {
            if got.starts_with(&prefix) {
                if let Some(slot) = doc.pointer_mut(&site.pointer) {
                    *slot = Value::String(got.clone());
                }
            }
        }
    }

    let entry = json!({ "name": secret });
    for (spec, needed) in specs.iter().zip(&needs_secret) {
        if !needed {
            continue;
        }
        let pointer = format!("{}/imagePullSecrets", spec.pointer);
        let (Some(Ok(before_doc)), Some(Ok(after_doc))) =
            (before.get(spec.doc), after.get(spec.doc))
        else {
            continue;
        };
        let mut want = match before_doc.pointer(&pointer) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        if !want.contains(&entry) {
            want.push(entry.clone());
        }
        let value = match after_doc.pointer(&pointer) {
            Some(Value::Array(got)) if same_items(got, &want) => Value::Array(got.clone()),
            _ => Value::Array(want),
        };
        if let Some(Ok(doc)) = expected.get_mut(spec.doc) {
            if let Some(object) = doc
                .pointer_mut(&spec.pointer)
                .and_then(Value::as_object_mut)
            {
                object.insert("imagePullSecrets".to_owned(), value);
            }
        }
    }

    for (index, (want, got)) in expected.iter().zip(after).enumerate() {
        match (want, got) {
            (Ok(want), Ok(got)) => {
                if let Some((path, w, g)) = difference(want, got, String::new()) {
                    let category = if path.contains("imagePullSecrets") {
                        Category::Secrets
                    } else {
                        Category::View
                    };
                    problems.push(keyed(
                        category,
                        field_of(&path),
                        format!("doc{index}: at {path} want {w}, got {g}"),
                    ));
                }
            }
            (Ok(_), Err(message)) => problems.push(problem(
                Category::Unreadable,
                format!("doc{index}: Kubernetes read it before; now: {message}"),
            )),
            (Err(message), Ok(got)) => problems.push(keyed(
                Category::View,
                "readable now".to_owned(),
                format!(
                    "doc{index}: Kubernetes could not read it ({message}); now it reads {}",
                    short(got)
                ),
            )),
            (Err(_), Err(_)) => {}
        }
    }
    problems
}

/// Every pulled image is listed by `images --format json` as rewritten to its mirror. The
/// listing is matched by image, not by place: an alias or a merge is listed where its value
/// is written.
pub fn judge_listing(before: &K8sView, occurrences: &[Value], mirror: &str) -> Vec<Problem> {
    let specs = pod_specs(before);
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for site in sites(before, &specs) {
        let Some(want) = mirrored(&site.original, mirror) else {
            continue;
        };
        if seen.contains(&site.original) {
            continue;
        }
        seen.push(site.original.clone());
        let listed = occurrences.iter().any(|o| {
            o["original"] == site.original
                && o["final"] == want.as_str()
                && o["status"] == "rewritten"
        });
        if !listed {
            let near: Vec<String> = occurrences
                .iter()
                .filter(|o| o["original"] == site.original)
                .map(|o| {
                    format!(
                        "{{path: {}, final: {}, status: {}}}",
                        o["path"], o["final"], o["status"]
                    )
                })
                .collect();
            problems.push(keyed(
                Category::Listing,
                format!("{} {}", site.kind, list_of(&site.path)),
                format!(
                    "doc{} {} {}: {} is not listed as rewritten to {want:?} (listed: {})",
                    site.doc,
                    site.kind,
                    site.path,
                    site.original,
                    if near.is_empty() {
                        "nothing".to_owned()
                    } else {
                        near.join(", ")
                    }
                ),
            ));
        }
    }
    problems
}

/// The same items, in any order.
fn same_items(a: &[Value], b: &[Value]) -> bool {
    let count = |items: &[Value]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for item in items {
            *counts.entry(item.to_string()).or_default() += 1;
        }
        counts
    };
    count(a) == count(b)
}

/// The first place where two values differ: its path and both values, shortened.
fn difference(a: &Value, b: &Value, path: String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let here = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => difference(v, w, here),
                    (v, w) => Some((here, show(v), show(w))),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| difference(v, w, format!("{path}[{i}]"))),
        _ => (a != b).then(|| (path, short(a), short(b))),
    }
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_owned(), short)
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 200 {
        return text;
    }
    let mut cut: String = text.chars().take(200).collect();
    let _ = write!(cut, "…");
    cut
}

/// The lines of a stream, each with its line break (`\n`, `\r\n` or a lone `\r`).
fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')) {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A smaller stream that still has a problem like `like` (same category and key): whole
/// documents are dropped, then whole lines, in runs that halve, while it keeps failing. At
/// most `budget` checks.
pub fn shrink(oracle: &Oracle, input: &[u8], like: &Problem, budget: usize) -> Vec<u8> {
    let mut checks = 0;
    let mut fails = |candidate: &[u8]| {
        checks += 1;
        !candidate.is_empty()
            && checks <= budget
            && match oracle.check(candidate) {
                Verdict::Failed(problems) => problems
                    .iter()
                    .any(|p| p.category == like.category && p.key == like.key),
                _ => false,
            }
    };
    let documents = documents(input);
    let mut kept: Vec<&[u8]> = documents.clone();
    for document in documents.iter().rev() {
        let without: Vec<&[u8]> = kept
            .iter()
            .copied()
            .filter(|d| !std::ptr::eq(*d, *document))
            .collect();
        if fails(&without.concat()) {
            kept = without;
        }
    }
    let mut best: Vec<&[u8]> = kept.into_iter().flat_map(lines).collect();
    let mut run = best.len().div_ceil(2).max(1);
    loop {
        let mut progressed = false;
        let mut at = 0;
        while at < best.len() {
            let end = (at + run).min(best.len());
            let candidate = [&best[..at], &best[end..]].concat().concat();
            if fails(&candidate) {
                best.drain(at..end);
                progressed = true;
            } else {
                at += run;
            }
        }
        if !progressed {
            if run == 1 {
                return best.concat();
            }
            run = run.div_ceil(2);
        }
    }
}

/// The documents of a stream as Kubernetes splits it, each with the separator line before it.
fn documents(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in lines(text) {
        let rest = String::from_utf8_lossy(line.get(3..).unwrap_or_default()).into_owned();
        let rest = rest.trim();
        if at > 0 && line.starts_with(b"---") && (rest.is_empty() || rest.starts_with('#')) {
            out.push(&text[start..at]);
            start = at;
        }
        at += line.len();
    }
    out.push(&text[start..]);
    out
}
