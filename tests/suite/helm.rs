//! Helm 4 runs reimage: installs of `testdata/charts/storage` by Helm v4.2.3's own Go code
//! (`tests/common/helm.rs`), with reimage laid out as `plugin.yaml` describes it and the rules of
//! `testdata/charts/rules/mirror.yaml`, under each post-render strategy.
//!
//! What Helm passes a post-renderer (`pkg/action/action.go`, checked here with the `capture`
//! plugin of `tests/helm/capture`): the rendered templates merged into one stream and
//! re-serialised, without `# Source:` lines, each document annotated with
//! `postrenderer.helm.sh/postrender-filename`. `combined`, the default, sends hooks and resources
//! in one run; `separate` sends the hooks in a run of their own, then the resources; `nohooks`
//! sends the resources only. Helm reads the output back by those annotations, removes them, and
//! re-serialises it again.
//!
//! Each strategy is installed twice: as a client dry run, which contacts nothing and returns
//! the manifest without hooks, and against the API server stand-in of `tests/helm/apiserver.py`,
//! which stores the release with its hooks (Helm's memory storage driver; `disable_hooks`, so no
//! hook runs, but hooks are rendered and stored all the same). Each is compared with the same
//! install without a post-renderer: the image and pull secret lines of [`EXPECTED_RESOURCES`] and
//! [`EXPECTED_HOOK`] are the only differences.
//!
//! `install_hook` runs the plugin's install and update hooks as Helm does.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize as _;
use serde_json::{json, Value};

use crate::common::helm::{HelmHome, Install, Outcome};
use crate::common::{self, Ran, Skip};

mod install_hook;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    let mut trials = tests![
        default_strategy_rewrites_hooks_and_resources_in_one_run,
        combined_rewrites_hooks_and_resources_in_one_run,
        separate_rewrites_hooks_and_resources_in_two_runs,
        nohooks_rewrites_resources_and_leaves_hooks_alone,
        helm_sends_annotated_streams_without_source_lines,
        refused_rules_fail_the_install_and_the_log_says_why,
    ];
    trials.extend(install_hook::tests());
    trials
}

const RELEASE: &str = "storage";
const NAMESPACE: &str = "storage";
const MIRROR: &str = "mirror.example.com/all/";

/// How the resources change: `@@` names the template of the lines after it; blank lines,
/// which Helm places differently once a post-renderer ran, are left out.
const EXPECTED_RESOURCES: &str = "\
@@ storage/templates/operator-config.yaml
-  ROOK_CSI_CEPH_IMAGE: quay.io/cephcsi/cephcsi:v3.9.0
+  ROOK_CSI_CEPH_IMAGE: mirror.example.com/all/quay.io/cephcsi/cephcsi:v3.9.0
@@ storage/templates/exporter.yaml
-        image: quay.io/prometheus/node-exporter:v1.8.2
+        image: mirror.example.com/all/quay.io/prometheus/node-exporter:v1.8.2
+      imagePullSecrets:
+      - name: mirror-pull
@@ storage/templates/operator.yaml
-      - name: legacy-pull
+      - name: mirror-pull
@@ storage/templates/operator.yaml
-        image: docker.io/rook/ceph:v1.16.1
+        image: mirror.example.com/all/docker.io/rook/ceph:v1.16.1
@@ storage/templates/web.yaml
-        image: docker.io/library/busybox:1.36
+        image: mirror.example.com/all/docker.io/library/busybox:1.36
@@ storage/templates/web.yaml
-        image: docker.io/library/nginx:1.27
+        image: mirror.example.com/all/docker.io/library/nginx:1.27
@@ storage/templates/web.yaml
+      imagePullSecrets:
+      - name: mirror-pull
@@ storage/templates/cluster.yaml
-    image: quay.io/ceph/ceph:v18.2.4
+    image: mirror.example.com/all/quay.io/ceph/ceph:v18.2.4
";

/// How the pre-install hook changes, where the strategy sends it to reimage.
const EXPECTED_HOOK: &str = "\
@@ storage/templates/hook.yaml
-        image: docker.io/library/busybox:1.36
+        image: mirror.example.com/all/docker.io/library/busybox:1.36
@@ storage/templates/hook.yaml
+      imagePullSecrets:
+      - name: mirror-pull
";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("testdata/charts/storage")
}

fn rules(name: &str) -> PathBuf {
    repo().join("testdata/charts/rules").join(name)
}

/// The binary under test: `REIMAGE_BIN`, else the one cargo built for this test.
fn binary() -> PathBuf {
    std::env::var_os("REIMAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_reimage")))
}

fn dry_run(mut options: Value) -> Install {
    options["dry_run"] = json!("client");
    Install {
        chart: chart(),
        release: RELEASE.into(),
        namespace: NAMESPACE.into(),
        options,
        cluster: false,
    }
}

fn stored(mut options: Value) -> Install {
    options["disable_hooks"] = json!(true);
    options["disable_openapi_validation"] = json!(true);
    options["timeout_seconds"] = json!(60);
    Install {
        chart: chart(),
        release: RELEASE.into(),
        namespace: NAMESPACE.into(),
        options,
        cluster: true,
    }
}

/// The post-renderer options: reimage with `rules` and its log at `log`.
fn reimage_options(rules: &Path, log: &Path, strategy: Option<&str>) -> Value {
    let mut options = json!({
        "post_renderer": "reimage",
        "post_renderer_args": ["--rules", rules, "--log", log],
    });
    if let Some(strategy) = strategy {
        options["post_render_strategy"] = json!(strategy);
    }
    options
}

/// The chart installed without a post-renderer: the dry run's manifest, and the stored
/// release's manifest and hook.
struct Baseline {
    dry_run: String,
    stored: String,
    hook: String,
}

fn baseline() -> Result<&'static Baseline, Skip> {
    static BASELINE: OnceLock<Result<Baseline, Skip>> = OnceLock::new();
    BASELINE
        .get_or_init(|| {
            let home = HelmHome::new()?;
            let dry = home.install(&dry_run(json!({})));
            let stored = home.install(&stored(json!({})));
            Ok(Baseline {
                dry_run: dry.release().manifest.clone(),
                stored: stored.release().manifest.clone(),
                hook: only_hook(&stored).to_owned(),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The manifest of the stored release's one hook, the pre-install Job.
fn only_hook(outcome: &Outcome) -> &str {
    let hooks = outcome.hooks();
    assert_eq!(hooks.len(), 1, "one hook expected: {hooks:?}");
    let hook = &hooks[0];
    assert_eq!(
        (hook.kind.as_str(), hook.name.as_str(), hook.path.as_str()),
        ("Job", "storage-preflight", "storage/templates/hook.yaml")
    );
    &hook.manifest
}

/// One strategy end to end. `runs` is what reimage must have been sent per install (the
/// documents of each run, in order), `hooks_rewritten` whether the hook is among them.
fn strategy(name: Option<&str>, runs: &[usize], hooks_rewritten: bool) -> Ran {
    let base = baseline()?;
    let home = HelmHome::new()?;
    home.add_reimage_plugin(&binary());
    let log = home.path("reimage.log");
    let options = reimage_options(&rules("mirror.yaml"), &log, name);

    let dry = home.install(&dry_run(options.clone()));
    same(
        "the dry run's resources",
        EXPECTED_RESOURCES,
        &changes("", &base.dry_run, &dry.release().manifest),
    );

    let stored = home.install(&stored(options));
    assert_eq!(stored.release().status, "deployed");
    same(
        "the stored release's resources",
        EXPECTED_RESOURCES,
        &changes("", &base.stored, &stored.release().manifest),
    );
    let hook = only_hook(&stored);
    if hooks_rewritten {
        same(
            "the stored hook",
            EXPECTED_HOOK,
            &changes("storage/templates/hook.yaml", &base.hook, hook),
        );
    } else {
        same("the stored hook, untouched", &base.hook, hook);
    }
    check_applied(stored.applied.as_deref().unwrap_or_default());
    check_log(&log, runs, hooks_rewritten);
    Ok(())
}

/// Asserts that `actual` is `expected`, showing a line diff when it is not.
fn same(what: &str, expected: &str, actual: &str) {
    assert!(
        expected == actual,
        "{what}:\n{}",
        common::diff::lines(expected.as_bytes(), actual.as_bytes())
    );
}

fn default_strategy_rewrites_hooks_and_resources_in_one_run() -> Ran {
    // No strategy given: what the helm command does.
    strategy(None, &[7], true)
}

fn combined_rewrites_hooks_and_resources_in_one_run() -> Ran {
    strategy(Some("combined"), &[7], true)
}

fn separate_rewrites_hooks_and_resources_in_two_runs() -> Ran {
    strategy(Some("separate"), &[1, 6], true)
}

fn nohooks_rewrites_resources_and_leaves_hooks_alone() -> Ran {
    strategy(Some("nohooks"), &[6], false)
}

/// reimage's log of the two installs (the dry run, then the stored one): one header per run
/// with the documents it was sent, and each change named by the template in Helm's
/// `postrenderer.helm.sh/postrender-filename` annotation, since the stream has no `# Source:`
/// line; the hook's changes are there only when the strategy sent the hook.
fn check_log(log: &Path, runs: &[usize], hooks_rewritten: bool) {
    let text = std::fs::read_to_string(log).expect("reimage wrote no log");
    let expected_runs: Vec<usize> = runs.iter().chain(runs).copied().collect();
    let documents: Vec<usize> = inputs(&text).iter().map(|&(_, docs)| docs).collect();
    assert_eq!(
        documents, expected_runs,
        "the documents of each run of reimage, for the dry run then the stored install:\n{text}"
    );
    let changes: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("== reimage "))
        .collect();
    for line in &changes {
        assert!(
            line.starts_with("document ") && line.contains(" (# Source: storage/templates/"),
            "a log line without the template Helm's annotation names: {line}"
        );
    }
    let hook_lines = changes
        .iter()
        .filter(|line| {
            line.contains("(# Source: storage/templates/hook.yaml) Job//storage-preflight")
        })
        .count();
    // An image and a pull secret, in each of the two installs.
    assert_eq!(hook_lines, if hooks_rewritten { 4 } else { 0 }, "{text}");
}

/// Every object Helm applied: each image under the mirror (the custom resource's and the
/// ConfigMap's too), the mirror's pull secret in each pod spec and the hard-coded one gone, and
/// Helm's annotation removed again.
fn check_applied(applied: &[Value]) {
    let mut images = Vec::new();
    for object in applied {
        let id = format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or("?"),
            object["metadata"]["name"].as_str().unwrap_or("?")
        );
        let mut found = Vec::new();
        collect_images(object, &mut found);
        images.extend(found.into_iter().map(|image| format!("{id} {image}")));
        if let Some(pod) = object["spec"]["template"]["spec"].as_object() {
            assert_eq!(
                pod.get("imagePullSecrets"),
                Some(&json!([{"name": "mirror-pull"}])),
                "{id}"
            );
        }
        let text = object.to_string();
        assert!(!text.contains("legacy-pull"), "{id}: {text}");
        assert!(!text.contains("postrenderer.helm.sh"), "{id}: {text}");
    }
    images.sort();
    assert_eq!(
        images,
        [
            "CephCluster/rook-ceph mirror.example.com/all/quay.io/ceph/ceph:v18.2.4",
            "ConfigMap/rook-ceph-operator-config mirror.example.com/all/quay.io/cephcsi/cephcsi:v3.9.0",
            "DaemonSet/node-exporter mirror.example.com/all/quay.io/prometheus/node-exporter:v1.8.2",
            "Deployment/rook-ceph-operator mirror.example.com/all/docker.io/rook/ceph:v1.16.1",
            "Deployment/web mirror.example.com/all/docker.io/library/busybox:1.36",
            "Deployment/web mirror.example.com/all/docker.io/library/nginx:1.27",
        ],
        "the images of the {} objects applied (the hook is not applied: no hook runs)",
        applied.len()
    );
}

/// The values of `image` keys, and of ConfigMap data keys ending in `_IMAGE`.
fn collect_images<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value.as_str() {
                    Some(text) if key == "image" || key.ends_with("_IMAGE") => out.push(text),
                    _ => collect_images(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_images(item, out)),
        _ => {}
    }
}

/// What each run in a reimage log was sent, from the header each run writes
/// (`== reimage … input: N bytes, K document(s)`): `(N, K)`.
fn inputs(log: &str) -> Vec<(usize, usize)> {
    log.lines()
        .filter(|line| line.starts_with("== reimage "))
        .map(|line| {
            let sizes = line.rsplit_once("; input: ").and_then(|(_, input)| {
                let (bytes, documents) = input.split_once(" bytes, ")?;
                let documents = documents.strip_suffix(" document(s)")?;
                Some((bytes.parse().ok()?, documents.parse().ok()?))
            });
            sizes.unwrap_or_else(|| panic!("unexpected log header: {line}"))
        })
        .collect()
}

fn helm_sends_annotated_streams_without_source_lines() -> Ran {
    let home = HelmHome::new()?;
    home.add_capture_plugin();
    home.add_reimage_plugin(&binary());
    let all = [
        "CephCluster/rook-ceph",
        "ConfigMap/rook-ceph-operator-config",
        "DaemonSet/node-exporter",
        "Deployment/rook-ceph-operator",
        "Deployment/web",
        "Job/storage-preflight",
        "Service/web",
    ];
    let resources: Vec<&str> = all
        .iter()
        .copied()
        .filter(|id| !id.starts_with("Job/"))
        .collect();
    let cases: [(&str, Vec<Vec<&str>>); 3] = [
        ("combined", vec![all.to_vec()]),
        (
            "separate",
            vec![vec!["Job/storage-preflight"], resources.clone()],
        ),
        ("nohooks", vec![resources.clone()]),
    ];
    for (strategy, expected) in cases {
        let dir = home.path(strategy);
        std::fs::create_dir(&dir).unwrap();
        let outcome = home.install(&dry_run(json!({
            "post_renderer": "capture",
            "post_renderer_args": [dir],
            "post_render_strategy": strategy,
        })));
        outcome.release();
        let streams = captured(&dir);
        let seen: Vec<Vec<String>> = streams.iter().map(|s| ids(s)).collect();
        assert_eq!(seen, expected, "{strategy}: what each run received");
        for stream in &streams {
            assert!(
                !stream.lines().any(|l| l.starts_with("# Source:")),
                "{strategy}: a `# Source:` line reached the post-renderer:\n{stream}"
            );
        }

        // reimage, installed the same way, reads streams of the same sizes.
        let log = home.path(&format!("{strategy}.log"));
        let rules = rules("mirror.yaml");
        home.install(&dry_run(reimage_options(&rules, &log, Some(strategy))))
            .release();
        let sizes: Vec<(usize, usize)> = streams
            .iter()
            .zip(&expected)
            .map(|(stream, ids)| (stream.len(), ids.len()))
            .collect();
        let log = std::fs::read_to_string(&log).unwrap();
        assert_eq!(inputs(&log), sizes, "{strategy}: what reimage read\n{log}");
    }
    Ok(())
}

/// The streams the `capture` plugin kept in `dir`, in the order Helm sent them.
fn captured(dir: &Path) -> Vec<String> {
    (0..)
        .map(|n| dir.join(format!("{n}.yaml")))
        .take_while(|path| path.is_file())
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}

/// `Kind/name` of each document of `stream`, sorted, checking that each has Helm's annotation
/// naming a template of the chart.
fn ids(stream: &str) -> Vec<String> {
    let mut ids: Vec<String> = serde_yaml::Deserializer::from_str(stream)
        .map(|doc| {
            let doc = serde_yaml::Value::deserialize(doc).expect("Helm sent invalid YAML");
            let meta = &doc["metadata"];
            let file = meta["annotations"]["postrenderer.helm.sh/postrender-filename"]
                .as_str()
                .unwrap_or_else(|| panic!("a document without Helm's annotation: {doc:?}"));
            assert!(file.starts_with("storage/templates/"), "{file}");
            format!(
                "{}/{}",
                doc["kind"].as_str().unwrap(),
                meta["name"].as_str().unwrap()
            )
        })
        .collect();
    ids.sort();
    ids
}

fn refused_rules_fail_the_install_and_the_log_says_why() -> Ran {
    let home = HelmHome::new()?;
    home.add_reimage_plugin(&binary());
    let log = home.path("reimage.log");
    let outcome = home.install(&dry_run(reimage_options(
        &rules("unknown-key.yaml"),
        &log,
        None,
    )));
    let error = outcome.error.expect("the install must fail");
    // Helm keeps none of what the plugin printed: its error only names the plugin.
    assert!(
        error.message.contains("error while running post render")
            && error
                .message
                .contains("plugin \"reimage\" exited with error"),
        "{error:?}"
    );
    assert!(
        outcome.release.is_none(),
        "a failed install returns no release"
    );
    let logged = std::fs::read_to_string(&log).expect("reimage wrote no log");
    assert!(
        logged.contains(
            "unknown key `form` in registries[0] at line 5 column 6; did you mean `from`?"
        ),
        "the log lacks reimage's message:\n{logged}"
    );
    Ok(())
}

/// The lines that differ between `before` and `after`, blank lines left out: `-` before, `+`
/// after, each run of changes after `@@ ` and the template it is in: the last `# Source:` line,
/// else `template`.
fn changes(template: &str, before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().filter(|l| !l.trim().is_empty()).collect();
    let b: Vec<&str> = after.lines().filter(|l| !l.trim().is_empty()).collect();
    // Longest common subsequence, by suffix lengths.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut source = template;
    let mut out = String::new();
    let mut in_hunk = false;
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            if let Some(name) = a[i].strip_prefix("# Source: ") {
                source = name;
            }
            in_hunk = false;
            i += 1;
            j += 1;
            continue;
        }
        if !in_hunk {
            out.push_str(&format!("@@ {source}\n"));
            in_hunk = true;
        }
        if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}
