//! The real-world fixtures (`../shared/fixtures/real`) through the real binary, checked against
//! their independent ground truth (`*.images.txt`) and against the Kubernetes reading of the
//! stream (`k8s-yaml-view`).
//!
//! Every check runs over every fixture and reports all failures together. Without the shared
//! folder (`REIMAGE_FIXTURES`, or `fixtures/real` under `REIMAGE_SHARED`, `../shared` by
//! default) these tests are reported as ignored, and fail with `CI=true`.

use crate::common;

use std::collections::BTreeSet;

use common::{reference, view, Fixture, ImageRow, ObjectId, Ran};
use serde_json::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        with_empty_rules_the_output_is_the_input,
        mirror_reports_every_standard_image_rewritten,
        mirror_output_is_a_fixed_point,
        mirror_changes_nothing_kubernetes_sees_but_the_images,
        reference_reading_used_by_these_checks,
        view_comparison_reports_other_changes_and_image_sites,
        every_image_bearing_string_is_found,
        with_a_mirror_the_policy_reports_only_what_was_not_rewritten,
        with_a_mirror_no_image_is_left_on_a_public_registry,
        nothing_that_only_names_things_is_taken_for_an_image,
    ]
}

/// The registry every image is moved under in the mirror checks.
const MIRROR: &str = "mirror.example.com/all";

/// Runs `check` on every fixture; fails listing every problem of every fixture.
fn over_fixtures(check: impl Fn(&Fixture) -> Vec<String>) -> Ran {
    let fixtures = common::fixtures()?;
    let mut failures = Vec::new();
    for fixture in &fixtures {
        for problem in check(fixture) {
            failures.push(format!("{}: {problem}", fixture.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems in {} fixtures:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
    Ok(())
}

/// Stdout of a successful run, or what went wrong.
fn stdout_of(args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    let output = common::run(args, stdin);
    if output.status.success() {
        return Ok(output.stdout);
    }
    Err(format!(
        "`reimage {}` failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim_end()
    ))
}

fn mirror(yaml: &[u8]) -> Result<Vec<u8>, String> {
    stdout_of(&["--registry", MIRROR], yaml)
}

/// A rules file in a folder of its own for this test process.
fn rules_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("reimage-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn with_empty_rules_the_output_is_the_input() -> Ran {
    let rules = rules_file("empty.yaml", "version: 1\n");
    over_fixtures(
        |fixture| match stdout_of(&["--rules", &rules], &fixture.yaml) {
            Ok(out) if out == fixture.yaml => vec![],
            Ok(out) => vec![format!(
                "output differs from input:\n{}",
                common::diff::lines(&fixture.yaml, &out)
            )],
            Err(e) => vec![e],
        },
    )
}

// The checks below need the core (locate, rules, apply) to work: with a stub binary they fail,
// as expected.

fn mirror_reports_every_standard_image_rewritten() -> Ran {
    over_fixtures(|fixture| {
        let mut problems = check_images_json(fixture).unwrap_or_else(|e| vec![e]);
        problems.extend(check_images_source(fixture).unwrap_or_else(|e| vec![e]));
        problems
    })
}

/// `images --format json`: every ground-truth image is there, rewritten under the mirror
/// (or `invalid` when it is not a valid reference).
fn check_images_json(fixture: &Fixture) -> Result<Vec<String>, String> {
    let args = ["images", "--registry", MIRROR, "--format", "json"];
    let out = stdout_of(&args, &fixture.yaml)?;
    let occurrences: Vec<Value> = serde_json::from_slice(&out)
        .map_err(|e| format!("`images --format json` printed invalid JSON: {e}"))?;
    let problems = fixture.images.iter().filter_map(|row| {
        let found = occurrences.iter().find(|o| occurrence_is(o, row));
        match found {
            None => Some(format!(
                "{} {}: {} not reported",
                row.object, row.path, row.image
            )),
            Some(o) => occurrence_problem(o, row),
        }
    });
    Ok(problems.collect())
}

fn occurrence_is(occurrence: &Value, row: &ImageRow) -> bool {
    let text = |key: &str| occurrence[key].as_str().unwrap_or_default();
    text("kind") == row.object.kind
        && text("namespace") == row.object.namespace
        && text("name") == row.object.name
        && text("path") == row.path
}

fn occurrence_problem(occurrence: &Value, row: &ImageRow) -> Option<String> {
    let want = if reference::is_valid(&row.image) {
        // Under the catch-all the source host is one path segment; a port is joined with `_`.
        let normalized = reference::normalized(&row.image);
        let (host, rest) = normalized.split_once('/').unwrap_or((&normalized, ""));
        let target = format!("{MIRROR}/{}/{rest}", host.replace(':', "_"));
        serde_json::json!({ "original": row.image, "status": "rewritten", "final": target })
    } else {
        serde_json::json!({ "original": row.image, "status": "invalid" })
    };
    let fields = want.as_object().into_iter().flatten();
    let wrong = fields
        .into_iter()
        .any(|(key, value)| &occurrence[key] != value);
    wrong.then(|| format!("{} {}: want {want}, got {occurrence}", row.object, row.path))
}

/// `images --source`: lists (at least) every ground-truth image as written in the input.
fn check_images_source(fixture: &Fixture) -> Result<Vec<String>, String> {
    let out = stdout_of(&["images", "--source", "--registry", MIRROR], &fixture.yaml)?;
    let text = String::from_utf8_lossy(&out);
    let listed: BTreeSet<&str> = text.lines().collect();
    let images: BTreeSet<&str> = fixture
        .images
        .iter()
        .map(|row| row.image.as_str())
        .collect();
    let missing = images
        .difference(&listed)
        .map(|image| format!("`images --source` does not list {image}"));
    Ok(missing.collect())
}

/// Determinism: two runs on the same input give the same bytes (no hash-order leaks).
fn mirror_output_is_a_fixed_point() -> Ran {
    // A second run over the output changes nothing, and the same input always gives the same bytes.
    over_fixtures(|fixture| {
        let (first, again, second) = match (mirror(&fixture.yaml), mirror(&fixture.yaml)) {
            (Ok(first), Ok(again)) => match mirror(&first) {
                Ok(second) => (first, again, second),
                Err(e) => return vec![e],
            },
            (Err(e), _) | (_, Err(e)) => return vec![e],
        };
        let mut problems = Vec::new();
        if first != again {
            problems.push(format!(
                "two runs differ:\n{}",
                common::diff::lines(&first, &again)
            ));
        }
        if first != second {
            problems.push(format!(
                "a second run changed the output:\n{}",
                common::diff::lines(&first, &second)
            ));
        }
        problems
    })
}

fn mirror_changes_nothing_kubernetes_sees_but_the_images() -> Ran {
    common::fixtures_dir()?;
    common::k8s_viewer()?;
    over_fixtures(|fixture| match mirror(&fixture.yaml) {
        Ok(out) => view::compare(
            fixture,
            &common::k8s_view(&fixture.yaml),
            &common::k8s_view(&out),
        ),
        Err(e) => vec![e],
    })
}

fn reference_reading_used_by_these_checks() {
    let valid = [
        "alpine",
        "foo_bar:latest",
        "10.0.0.1:443/zarf-dev/zarf/agent:v0.38.1",
        "registry.io/foo/project--id.module--name.ver---sion--name",
        "localhost/app",
        "[::1]:5000/app:1",
    ];
    for r in valid {
        assert!(reference::is_valid(r), "{r} should be valid");
    }
    let invalid = [
        "_docker/_docker",
        "____/____",
        "foo/-bar",
        "foo.com:http/bar",
        "registry1.dso.mil*",
        "Foo",
    ];
    for r in invalid {
        assert!(!reference::is_valid(r), "{r} should be invalid");
    }
    let normalized = [
        ("alpine", "docker.io/library/alpine"),
        ("grafana/grafana:10.4.3", "docker.io/grafana/grafana:10.4.3"),
        ("index.docker.io/redis:7", "docker.io/library/redis:7"),
        ("docker.io/rook/ceph:v1.20.6", "docker.io/rook/ceph:v1.20.6"),
        ("foo.com:8080/bar:1.2.3", "foo.com:8080/bar:1.2.3"),
        ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
    ];
    for (given, want) in normalized {
        assert_eq!(reference::normalized(given), want);
    }
}

fn view_comparison_reports_other_changes_and_image_sites() {
    let doc = |image: &str, replicas: u32| {
        serde_json::json!({
            "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"spec": {
                "containers": [{"name": "web", "image": image}],
                "imagePullSecrets": [{"name": "pull"}],
            }}},
        })
    };
    let fixture = Fixture {
        name: "synthetic".to_owned(),
        yaml: Vec::new(),
        images: vec![ImageRow {
            object: ObjectId {
                kind: "Deployment".to_owned(),
                namespace: String::new(),
                name: "web".to_owned(),
            },
            path: "spec.template.spec.containers[0].image".to_owned(),
            image: "nginx".to_owned(),
        }],
        other_images: Vec::new(),
    };
    let before = vec![Ok(doc("nginx", 1))];
    let rewritten = vec![Ok(doc("mirror.example.com/all/docker.io/library/nginx", 1))];
    assert!(view::compare(&fixture, &before, &rewritten).is_empty());
    let problems = view::compare(&fixture, &before, &before);
    assert_eq!(
        problems,
        ["not rewritten: Deployment//web spec.template.spec.containers[0].image"]
    );
    let problems = view::compare(&fixture, &before, &vec![Ok(doc("nginx", 2))]);
    assert_eq!(problems[0], "doc0: .spec.replicas changed");
}

// Images beyond pod specs: custom resource fields, env values, args, ConfigMaps.

/// The reasons of `.other-images.txt` that name an image-bearing place (not a mere look-alike).
fn is_image_bearing(reason: &str) -> bool {
    ["key:", "env:", "configmap:"]
        .iter()
        .any(|p| reason.starts_with(p))
        || reason == "arg"
        || reason == "image-volume"
}

fn occurrences(args: &[&str], yaml: &[u8]) -> Result<Vec<Value>, String> {
    let out = stdout_of(args, yaml)?;
    serde_json::from_slice(&out)
        .map_err(|e| format!("`images --format json` printed invalid JSON: {e}"))
}

fn object_of(occurrence: &Value) -> ObjectId {
    let text = |key: &str| occurrence[key].as_str().unwrap_or_default().to_string();
    ObjectId {
        kind: text("kind"),
        namespace: text("namespace"),
        name: text("name"),
    }
}

fn every_image_bearing_string_is_found() -> Ran {
    over_fixtures(|fixture| {
        let args = ["images", "--registry", MIRROR, "--format", "json"];
        let found = match occurrences(&args, &fixture.yaml) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        fixture
            .other_images
            .iter()
            .filter(|row| is_image_bearing(&row.reason))
            .filter_map(|row| {
                let hit = found.iter().find(|o| {
                    object_of(o) == row.object
                        && o["path"] == row.path.as_str()
                        && o["original"] == row.value.as_str()
                });
                // Under a catch-all mirror, every string that holds an image is rewritten.
                match hit.map(|o| o["status"].as_str().unwrap_or_default()) {
                    Some("rewritten") => None,
                    Some(status) => Some(format!(
                        "{} {}: {} is {status}",
                        row.object, row.path, row.value
                    )),
                    None => Some(format!(
                        "{} {} ({}): {} not found",
                        row.object, row.path, row.reason, row.value
                    )),
                }
            })
            .collect()
    })
}

fn with_a_mirror_the_policy_reports_only_what_was_not_rewritten() -> Ran {
    let dir = std::env::temp_dir().join(format!("reimage-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    let text = format!("version: 1\nregistries: [{{from: \"*\", to: {MIRROR}}}]\npolicy: {{allowedRegistries: [{MIRROR}]}}\n");
    std::fs::write(&rules, text).unwrap();
    let rules = rules.to_str().unwrap().to_string();
    over_fixtures(|fixture| {
        let output = common::run(
            &["check", "--rules", &rules, "--format", "json", "-q"],
            &fixture.yaml,
        );
        let violations: Vec<Value> = match serde_json::from_slice(&output.stdout) {
            Ok(v) => v,
            Err(e) => return vec![format!("check printed invalid JSON: {e}")],
        };
        let found = match occurrences(
            &["images", "--rules", &rules, "--format", "json", "-q"],
            &fixture.yaml,
        ) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        let reported: BTreeSet<(String, String)> = found
            .iter()
            .filter(|o| {
                o["status"] == "reported"
                    && !o["original"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with(MIRROR)
            })
            .map(|o| {
                (
                    object_of(o).to_string(),
                    o["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let flagged: BTreeSet<(String, String)> = violations
            .iter()
            .map(|v| {
                (
                    v["resource"].as_str().unwrap_or_default().to_string(),
                    v["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut problems: Vec<String> = flagged
            .symmetric_difference(&reported)
            .map(|(r, p)| format!("{r} {p}: flagged and reported differ"))
            .collect();
        let expected_code = if violations.is_empty() { 0 } else { 1 };
        if output.status.code() != Some(expected_code) {
            problems.push(format!(
                "check exited {:?} with {} violations",
                output.status.code(),
                violations.len()
            ));
        }
        problems
    })
}

/// With a catch-all mirror and a policy that allows only the mirror, every fixture renders:
/// no image reference reimage finds, in a field or a string, is left on a public registry
/// (the policy checks reported strings too). And no reference of the ground truth, as the
/// fixture writes it, is left in the output outside the mirror's paths.
fn with_a_mirror_no_image_is_left_on_a_public_registry() -> Ran {
    let text = format!(
        "version: 1\nregistries: [{{from: \"*\", to: {MIRROR}}}]\npolicy: {{allowedRegistries: [{MIRROR}]}}\n"
    );
    let rules = rules_file("mirror-policy.yaml", &text);
    over_fixtures(|fixture| {
        let out = match stdout_of(&["--rules", &rules, "-q"], &fixture.yaml) {
            Ok(out) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) => return vec![e],
        };
        let mut images: BTreeSet<&str> = fixture.images.iter().map(|r| r.image.as_str()).collect();
        images.extend(
            fixture
                .other_images
                .iter()
                .filter(|row| is_image_bearing(&row.reason))
                .map(|row| row.value.as_str()),
        );
        images
            .into_iter()
            // A bare name (`alpine`) is also a container's name: only references with a path
            // or a tag can be told apart in the text.
            .filter(|image| reference::is_valid(image) && image.contains(['/', ':']))
            .filter(|image| {
                // An occurrence that is not the tail of a longer path under the mirror.
                out.match_indices(*image).any(|(at, _)| {
                    let before = &out[..at];
                    !before.ends_with('/')
                })
            })
            .map(|image| format!("`{image}` is still in the output, outside the mirror"))
            .collect()
    })
}

fn nothing_that_only_names_things_is_taken_for_an_image() -> Ran {
    over_fixtures(|fixture| {
        let found = match occurrences(
            &["images", "--registry", MIRROR, "--format", "json"],
            &fixture.yaml,
        ) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        found
            .iter()
            .filter(|o| {
                let path = o["path"].as_str().unwrap_or_default();
                o["kind"] == "CustomResourceDefinition"
                    || path.contains("roleRef")
                    || path.contains("metadata.labels")
                    || path.contains("metadata.annotations")
            })
            .map(|o| format!("false positive: {} {}", object_of(o), o["path"]))
            .collect()
    })
}
