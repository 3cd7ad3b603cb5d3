//! `reimage init --registry PREFIX`: the rules it writes load, pass the schema, and do what
//! they say: rendered with them, every image of the stream is under the mirror, the pull secret
//! goes where `--registry PREFIX --pull-secret mirror-pull` puts it, and `reimage check`
//! passes. The exact text is a golden case (`testdata/init-reported-strings/`).

use crate::common;
use crate::schema;

use std::path::Path;

use reimage::rules::Rules;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        init_rules_mirror_every_image_and_pass_check,
        each_reported_string_gets_a_comment_with_its_place,
        a_rules_file_lends_its_paths_and_nothing_else,
    ]
}

const PREFIX: &str = "harbor.example.com/mirror";

/// Streams of images from several registries, a custom resource among them.
const STREAMS: [&str; 4] = [
    "examples/rendered.yaml",
    "testdata/rook/input.yaml",
    "testdata/kubespray-upcloud-csi/input.yaml",
    "testdata/k0s-pushgateway/input.yaml",
];

fn read(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// `reimage ARGS < stream`, which must succeed; its standard output.
fn ok(args: &[&str], stream: &[u8]) -> String {
    let out = common::run(args, stream);
    assert!(
        out.status.success(),
        "reimage {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn init_rules_mirror_every_image_and_pass_check() {
    let validator = schema::validator();
    let dir = tempfile::tempdir().unwrap();
    for stream in STREAMS {
        let input = read(stream);
        let text = ok(&["init", "--registry", PREFIX], &input);
        Rules::from_yaml(&text, Path::new("")).unwrap_or_else(|e| panic!("{stream}: {e}\n{text}"));
        assert_eq!(
            schema::errors(&validator, &text),
            Vec::<String>::new(),
            "{stream}"
        );
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, &text).unwrap();
        let rules = rules.to_str().unwrap();

        let images = ok(&["--rules", rules, "images"], &input);
        assert!(!images.is_empty(), "{stream}: no images");
        for image in images.lines() {
            assert!(
                image.starts_with(&format!("{PREFIX}/")),
                "{stream}: `{image}` is not under the mirror; rules:\n{text}"
            );
        }
        let rendered = ok(&["--rules", rules], &input);
        let shorthand = ok(
            &["--registry", PREFIX, "--pull-secret", "mirror-pull"],
            &input,
        );
        assert!(
            rendered == shorthand,
            "{stream}: the init rules render otherwise than --registry:\n{}",
            common::diff::lines(shorthand.as_bytes(), rendered.as_bytes())
        );
        ok(&["--rules", rules, "check"], &input);
    }
}

fn each_reported_string_gets_a_comment_with_its_place() {
    let input = read("testdata/strings-env-args-configmaps/input.yaml");
    let findings: serde_json::Value =
        serde_json::from_str(&ok(&["images", "--format", "json"], &input)).unwrap();
    let reported: Vec<&serde_json::Value> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "reported")
        .collect();
    assert!(reported.len() >= 2, "{findings:#}");
    let text = ok(&["init", "--registry", PREFIX], &input);
    for finding in reported {
        let original = finding["original"].as_str().unwrap();
        let path = finding["path"].as_str().unwrap();
        let at = text
            .lines()
            .position(|l| l.starts_with(&format!("# - `{original}`")))
            .unwrap_or_else(|| panic!("no comment on `{original}`:\n{text}"));
        let place = &text.lines().nth(at + 1).unwrap();
        assert!(place.contains(path), "{place}");
        if let Some(source) = finding["source"].as_str() {
            assert!(place.contains(&format!("(# Source: {source})")), "{place}");
        }
    }
    // The policy sees the reported strings too, as the comment says.
    assert!(text.contains("`reimage check` and every render refuse the stream"));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, &text).unwrap();
    let out = common::run(&["--rules", rules.to_str().unwrap(), "check"], &input);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `--rules` lends `paths:` (and `scan:`); its own registries, even a catch-all, neither clash
/// with `--registry` nor reach the output.
fn a_rules_file_lends_its_paths_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.yaml");
    std::fs::write(
        &rules,
        "version: 1\nregistries: [{from: \"*\", to: old.example.com}]\n\
         paths: [{kind: Cache, group: example.com, path: spec.image}]\n",
    )
    .unwrap();
    let input = "apiVersion: example.com/v1\nkind: Cache\nmetadata: {name: c}\n\
                 spec: {image: 'ghcr.io/org/cache:1'}\n";
    let rules = rules.to_str().unwrap();
    let text = ok(
        &["init", "--rules", rules, "--registry", PREFIX],
        input.as_bytes(),
    );
    assert!(text.contains("  - from: ghcr.io\n"), "{text}");
    assert!(!text.contains("old.example.com"), "{text}");
}
