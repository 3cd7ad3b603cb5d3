//! `reimage import`: the exact output is in golden cases (`testdata/import-*/`); here, the
//! imported overrides do to a stream what kustomize's image transformer does to the spellings
//! it matches (worked out by hand from `api/filters/imagetag` and `api/internal/image`), and
//! the one documented difference holds.

use crate::common;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![imported_overrides_rewrite_as_kustomize_does]
}

const DIGEST: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

fn imported_overrides_rewrite_as_kustomize_does() {
    let dir = tempfile::tempdir().unwrap();
    let kustomization = dir.path().join("kustomization.yaml");
    std::fs::write(
        &kustomization,
        format!(
            "images:\n\
             - {{name: nginx, newName: harbor.example.com/library/nginx, newTag: 1.20}}\n\
             - {{name: quay.io/org/app, newTag: v2}}\n\
             - {{name: ghcr.io/org/tool, digest: '{DIGEST}'}}\n\
             - {{name: registry.k8s.io/pause, newName: harbor.example.com/pause}}\n"
        ),
    )
    .unwrap();
    let out = common::run(&["import", kustomization.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, &out.stdout).unwrap();
    let stream = "apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: a, image: 'nginx:1.25'}
  - {name: b, image: 'quay.io/org/app:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000'}
  - {name: c, image: 'ghcr.io/org/tool:1'}
  - {name: d, image: 'registry.k8s.io/pause:3.9'}
  - {name: e, image: 'quay.io/org/other:1'}
";
    let rendered = common::run(
        &["--rules", rules.to_str().unwrap(), "images"],
        stream.as_bytes(),
    );
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let images = String::from_utf8(rendered.stdout).unwrap();
    let expected = [
        // kustomize: newName and newTag replace name and tag.
        "harbor.example.com/library/nginx:1.20".to_string(),
        // kustomize: a new tag drops the old digest.
        "quay.io/org/app:v2".to_string(),
        // kustomize writes `ghcr.io/org/tool@DIGEST`; reimage keeps the tag (documented).
        format!("ghcr.io/org/tool:1@{DIGEST}"),
        // kustomize: newName alone keeps the tag.
        "harbor.example.com/pause:3.9".to_string(),
        // no entry matches: unchanged.
        "quay.io/org/other:1".to_string(),
    ];
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(images.lines().collect::<Vec<_>>(), expected);
}
