//! A differential test of reimage against the YAML reader Kubernetes uses: apimachinery's
//! document splitting, then sigs.k8s.io/yaml over go-yaml v2 (YAML 1.1), run as the shared
//! `k8s-yaml-view` tool (`../shared/tools/k8s-yaml-view`, built by `tests/common`). It proves that on every generated stream reimage either fails closed
//! (non-zero exit, nothing on standard output, one `reimage: ` line on standard error that
//! names a construct it does not support, see [`REFUSAL_PHRASES`]) or, with a catch-all
//! mirror and a pull secret:
//!
//! 1. every image Kubernetes would pull (containers, initContainers and ephemeralContainers of
//!    every pod spec of every built-in workload, `kind: List` item and the custom resource) is
//!    under the mirror in the output as Kubernetes reads it, and `images --format json` lists
//!    it as rewritten;
//! 2. what Kubernetes reads in the output is what it reads in the input with exactly those
//!    images changed and, in their pod specs, `imagePullSecrets` holding the input's entries
//!    plus the mirror's secret;
//! 3. every document Kubernetes could read before, it can read after;
//! 4. a second run changes nothing, and empty rules give the input back byte for byte;
//! 5. `images --format json-patch`, applied to what Kubernetes reads of the input, gives
//!    what it reads of the output, resource by resource (`differential/json_patch.rs`; the
//!    real-world fixtures are held to it too).
//!
//! The streams (1 to 4 documents) come from a small grammar with a seeded generator
//! (`differential/grammar.rs`): workloads at their pod-spec paths, block, flow and JSON
//! styles, every kind of scalar, comments, anchors and aliases, merge keys, tags, a BOM,
//! CRLF, CR-only and mixed line endings, NEL/LS/PS, separator variants, duplicate keys and
//! existing pull secrets. Constructs reimage does not read as Kubernetes does yet are listed
//! in [`KNOWN_GAPS`] and not generated; the invariants themselves are never relaxed.
//!
//! - `cargo test --test suite -- differential::`: a fixed-seed batch of [`FIXED_STREAMS`] streams,
//!   and the golden cases of KRM functions (`differential/resource_list.rs`).
//! - `REIMAGE_DIFFERENTIAL_SECONDS=180`: also a random batch for that long (its base seed is
//!   printed; every failure names its own stream seed).
//! - `REIMAGE_DIFFERENTIAL_SEED=0x…`: replay one stream, printing input, output and views
//!   (`REIMAGE_DIFFERENTIAL_FILE=path`: the same for a stream saved in a file).
//! - `REIMAGE_DIFFERENTIAL_ENABLE=merge-key,bom` (or `all`): generate these known gaps too,
//!   to see whether a fix closed them. A replayed seed needs the same value.
//! - `REIMAGE_BIN=target/release/reimage`: test that binary instead of the debug build.
//!
//! Every failure is reported with its seed and its stream (escaped, so invisible characters
//! show), the first few also shrunk to fewer lines. Without the viewer these tests are
//! reported as ignored, and fail with `CI=true`; the random batch and the replay are ignored
//! unless their variables are set.

use crate::common::{self, Ran, Skip};
mod grammar;
mod json_patch;
mod oracle;
mod patches;
mod resource_list;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use grammar::Feature;
use oracle::{Category, Oracle, Problem, Verdict};
use serde_json::{json, Value};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    let mut trials = tests![
        fixed_seed_batch,
        random_batch,
        replay,
        the_grammar_is_deterministic_and_leaves_out_known_gaps,
        the_invariants_catch_what_they_should,
        json_patch_of_every_fixture_gives_its_output,
        the_patch_judge_catches_what_it_should,
    ];
    trials.extend(resource_list::tests());
    trials.extend(patches::tests());
    trials
}

/// The rules of every run, on the command line: a catch-all mirror and a pull secret.
const MIRROR: &str = "mirror.example.com/all";
const SECRET: &str = "mirror-pull";

/// A refusal of a stream Kubernetes reads must contain one of these: it has to say which
/// construct it does not support. Adjust as the messages are settled.
const REFUSAL_PHRASES: &[&str] = &["refused", "not supported", "cannot edit"];

/// Grammar features not generated, because reimage does not yet read them as Kubernetes does.
/// Remove a feature when it is fixed (try it first with `REIMAGE_DIFFERENTIAL_ENABLE=name`).
const KNOWN_GAPS: &[Feature] = &[];

/// The fixed-seed batch of `cargo test`.
const FIXED_SEED: u64 = 0x5EED_D1FF_0001;
const FIXED_STREAMS: u64 = 300;

/// Failures shrunk per batch, and checks spent on each.
const SHRINK_FAILURES: usize = 6;
const SHRINK_CHECKS: usize = 300;

/// Reimage and the viewer run this many streams at once.
const WORKERS: usize = 2;

fn oracle() -> Oracle {
    Oracle::new(MIRROR, SECRET, REFUSAL_PHRASES)
}

/// The features generated: all but the known gaps, plus `REIMAGE_DIFFERENTIAL_ENABLE`.
fn enabled_features() -> BTreeSet<Feature> {
    let mut enabled: BTreeSet<Feature> = Feature::ALL
        .iter()
        .copied()
        .filter(|f| !KNOWN_GAPS.contains(f))
        .collect();
    if let Ok(names) = std::env::var("REIMAGE_DIFFERENTIAL_ENABLE") {
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                enabled.extend(Feature::ALL);
                continue;
            }
            let feature = Feature::from_name(name).unwrap_or_else(|| {
                let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                panic!("REIMAGE_DIFFERENTIAL_ENABLE: no feature {name:?}; features: {known:?}")
            });
            enabled.insert(feature);
        }
    }
    enabled
}

/// How to replay a seed with the same features.
fn replay_hint(seed: u64) -> String {
    let enable = std::env::var("REIMAGE_DIFFERENTIAL_ENABLE")
        .map(|v| format!("REIMAGE_DIFFERENTIAL_ENABLE={v} "))
        .unwrap_or_default();
    format!("{enable}REIMAGE_DIFFERENTIAL_SEED={seed:#x} cargo test --test suite -- differential::replay")
}

fn parse_seed(text: &str) -> u64 {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("not a seed: {text:?}"))
}

/// One stream's result.
struct Outcome {
    index: u64,
    seed: u64,
    features: BTreeSet<Feature>,
    stream: String,
    verdict: Verdict,
}

/// A batch's results, in stream order.
struct Batch {
    outcomes: Vec<Outcome>,
}

/// Runs the streams `0..count` of `base` (or until `deadline`) on [`WORKERS`] threads.
fn run_batch(base: u64, count: Option<u64>, deadline: Option<Instant>) -> Batch {
    let oracle = oracle();
    let enabled = enabled_features();
    let next = AtomicU64::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if count.is_some_and(|c| index >= c) {
                    break;
                }
                let seed = grammar::stream_seed(base, index);
                let stream = grammar::generate(seed, &enabled);
                let verdict = oracle.check(stream.text.as_bytes());
                outcomes.lock().unwrap().push(Outcome {
                    index,
                    seed,
                    features: stream.features,
                    stream: stream.text,
                    verdict,
                });
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| o.index);
    Batch { outcomes }
}

impl Batch {
    fn failures(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.verdict, Verdict::Failed(_)))
            .collect()
    }

    /// One line: how many passed, were refused (and why), failed.
    fn summary(&self) -> String {
        let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
        let mut passed = 0;
        for outcome in &self.outcomes {
            match &outcome.verdict {
                Verdict::Passed => passed += 1,
                Verdict::Refused(message) => {
                    *refusals.entry(oracle::without_digits(message)).or_default() += 1
                }
                Verdict::Failed(_) => {}
            }
        }
        let mut text = format!(
            "{} streams: {passed} passed, {} refused, {} failed",
            self.outcomes.len(),
            refusals.values().sum::<usize>(),
            self.failures().len()
        );
        for (message, n) in refusals {
            let _ = write!(text, "\n  refused {n}×: {message}");
        }
        text
    }

    /// Every failure with its seed, features, problems and stream; the first few shrunk.
    fn report(&self, oracle: &Oracle) -> String {
        let failures = self.failures();
        let mut text = String::new();
        for (n, outcome) in failures.iter().enumerate() {
            let Verdict::Failed(problems) = &outcome.verdict else {
                continue;
            };
            let features: Vec<&str> = outcome.features.iter().map(|f| f.name()).collect();
            let _ = writeln!(
                text,
                "\n--- stream {} (seed {:#x}; replay: {})\n    features: {}",
                outcome.index,
                outcome.seed,
                replay_hint(outcome.seed),
                features.join(", ")
            );
            for p in problems {
                let _ = writeln!(text, "    [{:?}] {}", p.category, indent(&p.message));
            }
            let _ = writeln!(text, "    stream: {:?}", outcome.stream);
            if n < SHRINK_FAILURES {
                let shrunk = oracle::shrink(
                    oracle,
                    outcome.stream.as_bytes(),
                    &problems[0],
                    SHRINK_CHECKS,
                );
                let _ = writeln!(
                    text,
                    "    shrunk ({:?}): {:?}",
                    problems[0].category,
                    String::from_utf8_lossy(&shrunk)
                );
            }
        }
        text
    }
}

fn indent(message: &str) -> String {
    message.replace('\n', "\n      ")
}

fn fail_on(batch: &Batch, header: &str) {
    let failures = batch.failures();
    if failures.is_empty() {
        return;
    }
    let oracle = oracle();
    panic!(
        "{header}: {} of {} streams break an invariant\n{}\n{}",
        failures.len(),
        batch.outcomes.len(),
        batch.summary(),
        batch.report(&oracle)
    );
}

fn fixed_seed_batch() -> Ran {
    common::k8s_viewer()?;
    let started = Instant::now();
    let batch = run_batch(FIXED_SEED, Some(FIXED_STREAMS), None);
    if crate::harness::nocapture() {
        eprintln!(
            "differential, fixed seed {FIXED_SEED:#x}: {} in {:.1?}",
            batch.summary(),
            started.elapsed()
        );
    }
    fail_on(&batch, &format!("fixed seed {FIXED_SEED:#x}"));
    // The grammar is alive: every feature that is not a known gap was generated somewhere.
    let used: BTreeSet<Feature> = batch
        .outcomes
        .iter()
        .flat_map(|o| o.features.iter().copied())
        .collect();
    let missing: Vec<&str> = enabled_features()
        .difference(&used)
        .map(|f| f.name())
        .collect();
    assert!(
        missing.is_empty(),
        "the fixed batch never generated: {missing:?}"
    );
    Ok(())
}

fn random_batch() -> Ran {
    let Ok(seconds) = std::env::var("REIMAGE_DIFFERENTIAL_SECONDS") else {
        return Err(Skip::NotAsked(
            "runs with REIMAGE_DIFFERENTIAL_SECONDS=N, for N seconds".into(),
        ));
    };
    common::k8s_viewer()?;
    let seconds: u64 = seconds
        .trim()
        .parse()
        .expect("REIMAGE_DIFFERENTIAL_SECONDS is not a number of seconds");
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    eprintln!("differential: random batch, base seed {base:#x}, {seconds} s");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let batch = run_batch(base, None, Some(deadline));
    eprintln!("differential, base seed {base:#x}: {}", batch.summary());
    fail_on(&batch, &format!("random batch, base seed {base:#x}"));
    Ok(())
}

fn replay() -> Ran {
    let file = std::env::var_os("REIMAGE_DIFFERENTIAL_FILE");
    let seed = std::env::var("REIMAGE_DIFFERENTIAL_SEED");
    if file.is_none() && seed.is_err() {
        return Err(Skip::NotAsked(
            "runs with REIMAGE_DIFFERENTIAL_SEED=0x… or REIMAGE_DIFFERENTIAL_FILE=path".into(),
        ));
    }
    common::k8s_viewer()?;
    let (what, text) = match (file, seed) {
        (Some(path), _) => (
            format!("{}", std::path::Path::new(&path).display()),
            std::fs::read(&path).expect("cannot read REIMAGE_DIFFERENTIAL_FILE"),
        ),
        (None, Ok(seed)) => {
            let seed = parse_seed(&seed);
            let stream = grammar::generate(seed, &enabled_features());
            let features: Vec<&str> = stream.features.iter().map(|f| f.name()).collect();
            eprintln!("features: {}", features.join(", "));
            (format!("seed {seed:#x}"), stream.text.into_bytes())
        }
        (None, Err(_)) => unreachable!(),
    };
    let oracle = oracle();
    eprintln!("input: {:?}", String::from_utf8_lossy(&text));
    let run = oracle.render(&text);
    eprintln!("exit {:?}; stderr: {:?}", run.code, run.stderr);
    eprintln!("output: {:?}", String::from_utf8_lossy(&run.stdout));
    eprintln!("input view:  {:?}", common::k8s_view(&text));
    if run.success {
        eprintln!("output view: {:?}", common::k8s_view(&run.stdout));
    }
    match oracle.check(&text) {
        Verdict::Passed => eprintln!("passed"),
        Verdict::Refused(message) => eprintln!("refused: {message}"),
        Verdict::Failed(problems) => {
            let shrunk = oracle::shrink(&oracle, &text, &problems[0], SHRINK_CHECKS);
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("[{:?}] {}", p.category, p.message))
                .collect();
            panic!(
                "{what} breaks an invariant:\n{}\nshrunk ({:?}): {:?}",
                list.join("\n"),
                problems[0].category,
                String::from_utf8_lossy(&shrunk)
            );
        }
    }
    Ok(())
}

fn the_grammar_is_deterministic_and_leaves_out_known_gaps() {
    let enabled = enabled_features();
    for index in 0..200 {
        let seed = grammar::stream_seed(FIXED_SEED, index);
        let a = grammar::generate(seed, &enabled);
        let b = grammar::generate(seed, &enabled);
        assert_eq!(a.text, b.text, "seed {seed:#x} is not deterministic");
        let gaps: Vec<&Feature> = a.features.difference(&enabled).collect();
        assert!(gaps.is_empty(), "seed {seed:#x} generated {gaps:?}");
    }
    let none = BTreeSet::new();
    let bare = grammar::generate(1, &none);
    assert!(bare.features.is_empty() && !bare.text.is_empty());
}

/// The judging itself, on hand-made views: it sees what it must see.
fn the_invariants_catch_what_they_should() {
    let pod = |image: &str, secrets: Value, note: &str| {
        Ok(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "annotations": {"note": note}},
            "spec": {"containers": [{"name": "a", "image": image}], "imagePullSecrets": secrets}
        }))
    };
    let mirrored = "mirror.example.com/all/docker.io/library/nginx:1";
    let both = json!([{"name": SECRET}, {"name": "regcred"}]);
    let before = vec![pod("nginx:1", json!([{"name": "regcred"}]), "x")];
    let judge = |after: Vec<Result<Value, String>>| -> Vec<Category> {
        oracle::judge(&before, &after, MIRROR, SECRET)
            .iter()
            .map(|p: &Problem| p.category)
            .collect()
    };
    assert_eq!(judge(vec![pod(mirrored, both.clone(), "x")]), []);
    assert_eq!(
        judge(vec![pod(
            mirrored,
            json!([{"name": "regcred"}, {"name": SECRET}]),
            "x"
        )]),
        []
    );
    assert_eq!(
        judge(vec![pod("nginx:1", both.clone(), "x")]),
        [Category::Mirror]
    );
    assert_eq!(
        judge(vec![pod(mirrored, json!([{"name": SECRET}]), "x")]),
        [Category::Secrets]
    );
    assert_eq!(
        judge(vec![pod(mirrored, both.clone(), "y")]),
        [Category::View]
    );
    assert_eq!(
        judge(vec![Err("yaml: line 3: broken".to_owned())]),
        [Category::Unreadable]
    );
    assert_eq!(judge(vec![]), [Category::View]);

    // A List item and the custom resource are pod specs too; ConfigMaps are not.
    let list = Ok(json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "spec": {"template": {"spec": {"initContainers": [{"image": "nginx:1"}]}}}},
        {"apiVersion": "example.com/v1", "kind": "Widget",
         "spec": {"template": {"spec": {"containers": [{"image": "quay.io/a/b:1"}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "spec": {"containers": [{"image": "nginx:1"}]}}
    ]}));
    let specs = oracle::pod_specs(&vec![list.clone()]);
    let paths: Vec<&str> = specs.iter().map(|s| s.pointer.as_str()).collect();
    assert_eq!(
        paths,
        ["/items/0/spec/template/spec", "/items/1/spec/template/spec"]
    );
    let listing = [json!({
        "kind": "Deployment", "path": "spec.template.spec.initContainers[0].image",
        "original": "nginx:1", "final": mirrored, "status": "rewritten"
    })];
    let missing = oracle::judge_listing(&vec![list], &listing, MIRROR);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].message.contains("Widget"), "{missing:?}");

    assert_eq!(
        oracle::mirrored(&json!("localhost:5000/a/b:c"), MIRROR).as_deref(),
        Some("mirror.example.com/all/localhost_5000/a/b:c")
    );
    assert_eq!(oracle::mirrored(&json!(42), MIRROR), None);
}

/// Invariant 5 on the real-world fixtures: their JSON Patch, applied to what Kubernetes reads
/// of each, is what it reads of reimage's output.
fn json_patch_of_every_fixture_gives_its_output() -> Ran {
    common::k8s_viewer()?;
    let fixtures = common::fixtures()?;
    let oracle = oracle();
    let mut problems = Vec::new();
    let mut patched = 0;
    for fixture in &fixtures {
        let before = common::k8s_view(&fixture.yaml);
        match oracle.judge_patch(&fixture.yaml, &before) {
            Ok(found) if found.is_empty() => patched += 1,
            Ok(found) => {
                problems.extend(found.into_iter().map(|p| format!("{}: {p}", fixture.name)))
            }
            Err(e) => problems.push(format!("{}: render failed: {e}", fixture.name)),
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems in {} fixtures:\n{}",
        problems.len(),
        fixtures.len(),
        problems.join("\n")
    );
    assert!(
        patched > 0,
        "no fixture changed: the check saw no patch at all"
    );
    Ok(())
}

/// The patch judge on hand-made views: it sees what it must see.
fn the_patch_judge_catches_what_it_should() {
    let pod = |name: &str, image: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": "a", "image": image}]}})
    };
    let list = |items: Vec<Value>| Ok(json!({"apiVersion": "v1", "kind": "List", "items": items}));
    let before = vec![
        list(vec![pod("a", "x:1"), pod("a", "y:1")]),
        Ok(pod("b", "z:1")),
    ];
    let after = vec![
        list(vec![pod("a", "x:1"), pod("a", "m/y:1")]),
        Ok(pod("b", "z:1")),
    ];
    let target = json!({"version": "v1", "kind": "Pod", "name": "a"});
    let replace = |from: &str, to: &str| {
        json!([{"target": target, "patch": [
            {"op": "test", "path": "/spec/containers/0/image", "value": from},
            {"op": "replace", "path": "/spec/containers/0/image", "value": to}]}])
    };
    let judge = |patches: Value| json_patch::judge(&before, &after, &patches);
    assert_eq!(judge(replace("y:1", "m/y:1")), Vec::<String>::new());
    // The second item, not the first of the same name, is the one that changes.
    assert!(judge(replace("x:1", "m/y:1"))[0].contains("does not apply"));
    assert!(judge(replace("y:1", "m/z:1"))[0].contains("not the output"));
    assert!(judge(json!([]))[0].contains("1 resources change"));
    let mut wrong_target = replace("y:1", "m/y:1");
    wrong_target[0]["target"]["name"] = json!("b");
    assert!(judge(wrong_target)[0].contains("target"));
    assert!(judge(json!({}))[0].contains("not a JSON array"));
}
