//! The rules-file and lock-file readers: any text is either refused with an error, or gives
//! rules that the command-line shorthands extend and that never rewrite a reference into an
//! invalid one; a lock file read is written back to an equal one.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reimage::lock::Lock;
use reimage::reference::Reference;
use reimage::rewrite::{Context, Outcome, Rewriter};
use reimage::rules::Rules;

const IMAGES: [&str; 6] = [
    "nginx",
    "nginx:1.25@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
    "quay.io/prometheus/node-exporter:v1.7.0",
    "localhost:5000/a/b",
    "registry.example.com/tools/busybox:1",
    "[::1]:5000/x",
];

fuzz_target!(|text: &str| {
    if let Ok(lock) = Lock::from_yaml(text) {
        let written = lock.to_yaml().expect("a lock that was read can be written");
        let again = Lock::from_yaml(&written).expect("a written lock can be read");
        assert_eq!(again, lock);
    }
    let Ok(rules) = Rules::from_yaml(text, Path::new("/nonexistent")) else {
        return;
    };
    let Ok(rules) = rules.with_shorthands(
        Some("mirror.example.com/all"),
        &["mirror-pull".to_string()],
        None,
    ) else {
        return;
    };
    let rewriter = Rewriter::new(&rules, None);
    for image in IMAGES {
        let context = Context {
            kind: "Deployment",
            namespace: Some("default"),
            name: Some("web"),
            container: Some("a"),
        };
        if let Outcome::Rewritten { value, .. } = rewriter.rewrite(image, &context) {
            // The outcome is a parsed reference; its text must parse back to the same one.
            if let Err(e) = Reference::parse(value.as_str()) {
                panic!("{image} was rewritten into {value:?}, not a reference: {e}");
            }
        }
    }
});
