//! `cargo bench`: each stage of a render (read, locate, plan, apply) and the whole render, in
//! bytes of input per second, with the rules of `scripts/bench.sh` (a catch-all mirror, a pull
//! secret, lock-file pins for every image).
//!
//! Inputs: a generated 4 MB workload stream (`benches/workload/mod.rs`) and, when the shared
//! fixtures are beside the repository (`../shared/fixtures/real`, or `REIMAGE_FIXTURES`), the
//! CRD-heavy prometheus-operator bundle and the kubecost chart. The stages run on one thread,
//! one document after another; `render` is the library's entry point, which shares documents
//! among threads for inputs of 512 KB and more. Whole-process numbers, against `cat` and
//! kustomize, come from `scripts/bench.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "workload/mod.rs"]
mod workload;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use reimage::locate::{self, Found, Table};
use reimage::lock::Lock;
use reimage::rewrite::Rewriter;
use reimage::rules::Rules;
use reimage::stream::Stream;
use reimage::{apply, plan, render};

fn main() {
    divan::main();
}

const RULES: &str = "version: 1
registries: [{from: \"*\", to: mirror.example.com/all}]
pullSecrets: {add: [{name: mirror-pull}], remove: [legacy-registry]}
";

const FIXTURES: [(&str, &str); 2] = [
    (
        "prometheus-operator",
        "prometheus-operator-bundle-v0.84.1.yaml",
    ),
    ("kubecost", "kubecost-cost-analyzer-v2.3.3.yaml"),
];

/// One input with its rules and lock file.
struct Case {
    text: String,
    rules: Rules,
    lock: Lock,
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("REIMAGE_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real"),
        PathBuf::from,
    )
}

/// The inputs there are: the generated stream always, the fixtures when present.
fn names() -> Vec<&'static str> {
    let dir = fixtures_dir();
    let fixtures = FIXTURES
        .iter()
        .filter(|(_, file)| dir.join(file).exists())
        .map(|(name, _)| *name);
    std::iter::once("workload-4mb").chain(fixtures).collect()
}

fn case(name: &str) -> &'static Case {
    static CASES: OnceLock<Vec<(&'static str, Case)>> = OnceLock::new();
    let cases = CASES.get_or_init(|| names().into_iter().map(|n| (n, load(n))).collect());
    cases
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, case)| case)
        .expect("a known input")
}

fn load(name: &str) -> Case {
    let text = match FIXTURES.iter().find(|(n, _)| *n == name) {
        Some((_, file)) => std::fs::read_to_string(fixtures_dir().join(file)).expect("fixture"),
        None => workload::stream(4 << 20, 1),
    };
    let rules = Rules::from_yaml(RULES, Path::new(".")).expect("rules");
    // Pin every final image, as a lock file written for this input would.
    let unpinned = render(text.as_bytes(), &rules, None).expect("render");
    let finals: BTreeSet<&str> = unpinned
        .report
        .findings
        .iter()
        .filter(|f| f.lacks_digest())
        .map(|f| f.final_value.as_str())
        .collect();
    let mut lock = String::from("version: 1\nimages:\n");
    for (i, image) in finals.iter().enumerate() {
        lock.push_str(&format!("  \"{image}\": sha256:{i:064x}\n"));
    }
    let lock = Lock::from_yaml(&lock).expect("lock");
    Case { text, rules, lock }
}

fn bytes(case: &Case) -> BytesCount {
    BytesCount::new(case.text.len())
}

/// Every document located, one after another.
fn located<'a>(case: &'a Case, table: &Table) -> Vec<Found<'a>> {
    Stream::documents(case.text.as_bytes())
        .expect("UTF-8")
        .map(|document| locate::locate(&document, table).expect("valid YAML"))
        .collect()
}

#[divan::bench(args = names())]
fn read(bencher: Bencher, name: &str) {
    let case = case(name);
    bencher
        .counter(bytes(case))
        .bench(|| Stream::read(black_box(case.text.as_bytes())).map(|s| s.chunks().len()));
}

#[divan::bench(args = names())]
fn locate(bencher: Bencher, name: &str) {
    let case = case(name);
    let table = Table::new(&case.rules.paths, case.rules.scan.clone());
    bencher
        .counter(bytes(case))
        .bench(|| located(case, &table).len());
}

#[divan::bench(args = names())]
fn plan(bencher: Bencher, name: &str) {
    let case = case(name);
    let table = Table::new(&case.rules.paths, case.rules.scan.clone());
    let found = located(case, &table);
    let rewriter = Rewriter::new(&case.rules, Some(&case.lock));
    bencher.counter(bytes(case)).bench(|| {
        found
            .iter()
            .map(|f| plan::plan(f, &case.rules, &rewriter).images.len())
            .sum::<usize>()
    });
}

#[divan::bench(args = names())]
fn apply(bencher: Bencher, name: &str) {
    let case = case(name);
    let table = Table::new(&case.rules.paths, case.rules.scan.clone());
    let found = located(case, &table);
    let rewriter = Rewriter::new(&case.rules, Some(&case.lock));
    let plans: Vec<_> = found
        .iter()
        .map(|f| plan::plan(f, &case.rules, &rewriter))
        .collect();
    let text = case.text.as_str();
    bencher.counter(bytes(case)).bench(|| {
        let mut splices = Vec::new();
        for (found, plan) in found.iter().zip(&plans) {
            splices.extend(apply::splices(text, found, plan).expect("splices"));
        }
        apply::apply(text, splices).expect("apply").to_vec().len()
    });
}

#[divan::bench(args = names())]
fn whole_render(bencher: Bencher, name: &str) {
    let case = case(name);
    bencher.counter(bytes(case)).bench(|| {
        render(
            black_box(case.text.as_bytes()),
            &case.rules,
            Some(&case.lock),
        )
        .expect("render")
        .output
        .to_vec()
        .len()
    });
}
