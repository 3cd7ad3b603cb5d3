//! The full render path: rules from a small grammar (picked by the first two bytes) × the rest
//! of the input as the stream. A render either fails, or gives the input with edits only inside
//! its documents (each image edit inside its image's bytes), the same documents, and an output
//! that a second render leaves as it is. Without rules, the output is the input.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reimage::locate::{self, Table};
use reimage::lock::Lock;
use reimage::rewrite::Rewriter;
use reimage::rules::Rules;
use reimage::stream::Stream;
use reimage::{apply, plan, render};

/// One rules-file line per bit of the first byte.
const RULES: [&str; 8] = [
    "registries: [{from: \"*\", to: mirror.example.com/all}]",
    "registries: [{from: docker.io, to: harbor.example.com/hub}, {from: quay.io, keep: true}]",
    "images: [{name: nginx, newTag: \"1.27\"}]",
    "images: [{name: busybox, newName: registry.example.com/tools/busybox, select: {kind: Deployment, container: a}}]",
    "pullSecrets: {add: [{name: mirror-pull, registries: [mirror.example.com]}], remove: [legacy]}",
    "pullSecrets: {add: [{name: hub-pull, registries: [harbor.example.com]}], serviceAccounts: true}",
    "paths: [{kind: Thing, path: spec.image}, {kind: Runner, group: example.com, podSpec: spec.pod}]",
    "digests: {form: digest}",
];

const LOCK: &str = "version: 1\nimages:\n  mirror.example.com/all/docker.io/library/nginx:1: sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac\n  harbor.example.com/hub/library/nginx:1.27: sha256:0000000000000000000000000000000000000000000000000000000000000000\n";

fuzz_target!(|data: &[u8]| {
    let [choice, extra, input @ ..] = data else {
        return;
    };
    // Keys repeated across lines are merged by hand: the grammar writes each key once.
    let mut text = String::from("version: 1\n");
    let mut keys = Vec::new();
    for (bit, line) in RULES.iter().enumerate() {
        let key = line.split(':').next().unwrap_or_default();
        if choice & (1 << bit) != 0 && !keys.contains(&key) {
            keys.push(key);
            text.push_str(line);
            text.push('\n');
        }
    }
    let Ok(rules) = Rules::from_yaml(&text, Path::new("/nonexistent")) else {
        panic!("the grammar wrote rules the reader refuses:\n{text}");
    };
    let lock = (extra & 1 != 0).then(|| Lock::from_yaml(LOCK).unwrap());
    let lock = lock.as_ref();
    let Ok(first) = render(input, &rules, lock) else {
        return;
    };
    let output = first.output.to_vec();
    if *choice == 0 && lock.is_none() {
        assert!(output == input, "no rules, yet the output differs");
    }
    let before = Stream::read(input).unwrap();
    let after = Stream::read(&output).expect("the output is UTF-8");
    assert_eq!(
        before.chunks().len(),
        after.chunks().len(),
        "edits made or removed a document"
    );
    check_splices(input, &rules, lock, &output);
    let second = render(&output, &rules, lock).expect("a second render of the output fails");
    assert!(
        second.output.to_vec() == output,
        "a second render changes the output"
    );
    assert!(second
        .report
        .findings
        .iter()
        .all(|f| f.status != reimage::plan::Status::Rewritten));
});

/// Replays the stages document by document: every splice lies inside its document, every
/// image edit inside its image's node, and the splices give the output.
fn check_splices(input: &[u8], rules: &Rules, lock: Option<&Lock>, output: &[u8]) {
    let table = Table::new(&rules.paths, rules.scan.clone());
    let rewriter = Rewriter::new(rules, lock);
    let documents = Stream::documents(input).unwrap();
    let text = documents.text();
    let mut all = Vec::new();
    for document in documents {
        let chunk = &document.chunks()[0];
        let found = locate::locate(&document, &table).expect("located once, so again");
        let plan = plan::plan(&found, rules, &rewriter);
        let splices = apply::splices(text, &found, &plan).expect("applied once, so again");
        let edited = found
            .images
            .iter()
            .zip(&plan.images)
            .filter(|(_, d)| d.edit);
        for ((site, _), splice) in edited.zip(&splices) {
            let doc = found.doc_of(site.resource);
            let span = &doc.tree.node(site.node).span;
            assert!(
                span.start <= splice.range.start && splice.range.end <= span.end,
                "an image edit {:?} outside its node {span:?}",
                splice.range
            );
        }
        for splice in &splices {
            assert!(
                chunk.range.start <= splice.range.start && splice.range.end <= chunk.range.end,
                "a splice {:?} outside its document {:?}",
                splice.range,
                chunk.range
            );
        }
        all.extend(splices);
    }
    let replayed = apply::apply(text, all).expect("applied once, so again");
    assert!(
        replayed.to_vec() == output,
        "the stages replayed give another output"
    );
}
