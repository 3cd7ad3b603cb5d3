//! `reimage check --format sarif` against the official SARIF 2.1.0 JSON schema (OASIS,
//! `sarif-schema-2.1.0.json`, draft-07), plus the few things a schema cannot say: one run, one
//! result per violation, and every `ruleId` defined in `tool.driver.rules` at its `ruleIndex`.
//!
//! The schema is another project's file, so it is not kept in this repository. The crate
//! `serde-sarif` ships it as `src/schema.json`; the test asks cargo for that exact version
//! (`cargo metadata` on a scratch manifest downloads and unpacks it) and caches the file under
//! `target/tmp/sarif-schema/`. When the schema cannot be had (no network, no cargo), the tests
//! are reported as ignored with the reason, and fail with `CI=true`.

use crate::common::{self, Ran, Skip};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        violations_as_is_are_valid_sarif,
        violations_after_the_rules_are_valid_sarif,
        a_clean_stream_is_valid_sarif_with_no_results,
        the_validator_rejects_a_broken_log,
    ]
}

/// The crate that ships the schema, pinned to one version (whose `.crate` checksum cargo checks
/// against the index), and the schema's path inside it.
const SCHEMA_CRATE: &str = "serde-sarif";
const SCHEMA_CRATE_VERSION: &str = "0.8.0";
const SCHEMA_IN_CRATE: &str = "src/schema.json";

/// The rules of every run: each policy rule on, and a pull secret to remove.
const RULES: &str = "version: 1
policy: {allowedRegistries: [m.example.com], requireDigest: true, forbidLatest: true}
pullSecrets: {remove: [old]}
";

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Two documents with `# Source:` comments (one with a space, which the URI must escape) and
/// two without; every rule is broken at least twice with a `# Source:` and twice without.
fn violating_stream() -> String {
    format!(
        "---
# Source: shop/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  template:
    spec:
      imagePullSecrets: [{{name: old}}, {{name: keep}}]
      initContainers:
      - name: init
        image: busybox
      containers:
      - name: app
        image: quay.io/org/app:latest
        env: [{{name: SIDECAR, value: 'gcr.io/x/side:1'}}]
      - name: fine
        image: m.example.com/org/fine:1@{DIGEST}
---
# Source: shop/templates/nightly job.yaml
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly, namespace: shop}}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          imagePullSecrets:
          - name: old
          containers:
          - name: batch
            image: m.example.com/org/batch:latest
---
apiVersion: v1
kind: Pod
metadata: {{name: bare}}
spec:
  imagePullSecrets:
  - name: old
  containers:
  - name: a
    image: docker.io/library/nginx
  - name: b
    image: m.example.com/org/tool:2
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: data}}
spec:
  template:
    spec:
      imagePullSecrets: [{{name: old}}]
      containers:
      - name: db
        image: m.example.com/org/db:latest@{DIGEST}
      - name: exporter
        image: ghcr.io/org/exporter:0.9
"
    )
}

/// How many violations of each rule `violating_stream` has, checked as is.
const EXPECTED: [(&str, usize); 4] = [
    ("allowedRegistries", 5),
    ("forbidLatest", 5),
    ("removedPullSecret", 4),
    ("requireDigest", 7),
];

/// A stream that breaks nothing.
fn clean_stream() -> String {
    format!(
        "---
# Source: shop/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      imagePullSecrets: [{{name: keep}}]
      containers:
      - name: app
        image: m.example.com/org/app:1.2@{DIGEST}
---
apiVersion: v1
kind: Pod
metadata: {{name: bare}}
spec:
  containers:
  - name: a
    image: m.example.com/library/nginx@{DIGEST}
"
    )
}

// ---------------------------------------------------------------------------------------------
// Obtaining the schema.

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif-schema")
}

/// The schema's bytes, from the cache or from the pinned crate; `Err` says why not.
fn schema_bytes() -> Result<Vec<u8>, String> {
    let dir = cache_dir();
    let cached = dir.join(format!("sarif-schema-2.1.0-{SCHEMA_CRATE_VERSION}.json"));
    if let Ok(bytes) = std::fs::read(&cached) {
        return Ok(bytes);
    }
    let source = crate_dir(&dir)?.join(SCHEMA_IN_CRATE);
    let bytes =
        std::fs::read(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    // Write beside the cache file, then rename, so a concurrent run never reads half a file.
    let partial = dir.join(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, &cached))
        .map_err(|e| format!("cannot cache the schema in {}: {e}", dir.display()))?;
    Ok(bytes)
}

/// The unpacked source of `SCHEMA_CRATE` at `SCHEMA_CRATE_VERSION`, as cargo has it: a
/// scratch manifest that depends on exactly that version, and `cargo metadata`, which
/// downloads and unpacks every package it resolves and says where each manifest is.
fn crate_dir(dir: &Path) -> Result<PathBuf, String> {
    let scratch = dir.join("fetch");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let manifest = format!(
        "[package]\nname = \"sarif-schema-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n\
         {SCHEMA_CRATE} = \"={SCHEMA_CRATE_VERSION}\"\n\n[workspace]\n"
    );
    std::fs::write(scratch.join("Cargo.toml"), manifest)
        .and_then(|()| std::fs::write(scratch.join("lib.rs"), ""))
        .map_err(|e| format!("cannot write the scratch manifest: {e}"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(scratch.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` for {SCHEMA_CRATE} {SCHEMA_CRATE_VERSION} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`cargo metadata` printed no JSON: {e}"))?;
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == SCHEMA_CRATE && p["version"] == SCHEMA_CRATE_VERSION)
        .and_then(|p| p["manifest_path"].as_str())
        .and_then(|m| Path::new(m).parent())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!("`cargo metadata` does not list {SCHEMA_CRATE} {SCHEMA_CRATE_VERSION}")
        })
}

/// The schema's BCP 47 `language` pattern, `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`, has a stray
/// `]`: a literal in ECMAScript's lenient (Annex B) syntax, but the draft-07 meta-schema's
/// `format: regex` check in `jsonschema` rejects it, so the schema would not compile. The
/// in-memory copy gets `\]`, which means the same; reimage never writes `language` anyway.
/// Returns how many patterns were changed.
fn escape_stray_bracket(value: &mut Value) -> usize {
    const STRAY: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const ESCAPED: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$";
    match value {
        Value::Object(map) => map
            .iter_mut()
            .map(|(key, v)| match v {
                Value::String(s) if key == "pattern" && s == STRAY => {
                    *s = ESCAPED.to_string();
                    1
                }
                _ => escape_stray_bracket(v),
            })
            .sum(),
        Value::Array(items) => items.iter_mut().map(escape_stray_bracket).sum(),
        _ => 0,
    }
}

/// The SARIF 2.1.0 validator, built once; missing when the schema cannot be had.
fn validator() -> Result<&'static Validator, Skip> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    let built = VALIDATOR.get_or_init(|| {
        let bytes = schema_bytes()?;
        let mut schema: Value = serde_json::from_slice(&bytes).expect("the schema is JSON");
        assert!(
            escape_stray_bracket(&mut schema) > 0,
            "the schema no longer has the language pattern with a stray `]`"
        );
        assert_eq!(
            schema["$schema"], "http://json-schema.org/draft-07/schema#",
            "the schema is not draft-07"
        );
        assert_eq!(
            schema["title"],
            "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
        );
        assert_eq!(
            schema["$id"],
            concat!(
                "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/",
                "Schemata/sarif-schema-2.1.0.json"
            )
        );
        Ok(jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the SARIF schema compiles"))
    });
    built
        .as_ref()
        .map_err(|why| Skip::Missing(format!("no SARIF 2.1.0 schema: {why}")))
}

// ---------------------------------------------------------------------------------------------
// Running and checking.

/// `reimage --rules RULES check EXTRA… --format FORMAT < stream`: exit code and standard output.
fn check(extra: &[&str], format: &str, stream: &str) -> (Option<i32>, Value) {
    static RULES_FILE: OnceLock<PathBuf> = OnceLock::new();
    let rules = RULES_FILE.get_or_init(|| {
        let dir = cache_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.yaml");
        let partial = dir.join(format!("rules-{}.partial", std::process::id()));
        std::fs::write(&partial, RULES).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        path
    });
    let mut args = vec!["--rules", rules.to_str().unwrap(), "check"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", format]);
    let output = common::run(&args, stream.as_bytes());
    let stdout = String::from_utf8(output.stdout).expect("output is UTF-8");
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "`reimage {}` printed no JSON ({e}); stderr: {}\n{stdout}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), value)
}

/// Fails listing every place where `log` breaks the schema.
fn assert_valid(validator: &Validator, log: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the SARIF log breaks the SARIF 2.1.0 schema in {} places:\n{}\n{}",
        errors.len(),
        errors.join("\n"),
        serde_json::to_string_pretty(log).unwrap()
    );
}

/// The checks beyond the schema; returns the run's results.
fn the_results(log: &Value) -> &[Value] {
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1, "one run");
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "reimage");
    let rules = driver["rules"].as_array().expect("tool.driver.rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "rule ids are unique: {ids:?}");
    for (id, _) in EXPECTED {
        assert!(ids.contains(&id), "rule {id} is not in tool.driver.rules");
    }
    let results = run["results"].as_array().expect("results is an array");
    for (i, result) in results.iter().enumerate() {
        let id = result["ruleId"]
            .as_str()
            .expect("every result has a ruleId");
        let index = result["ruleIndex"]
            .as_u64()
            .expect("every result has a ruleIndex");
        assert!(ids.contains(&id), "result {i}: {id} is not a rule");
        assert_eq!(
            ids.get(usize::try_from(index).unwrap()),
            Some(&id),
            "result {i}: ruleIndex {index} does not point at {id}"
        );
    }
    results
}

fn count_by_rule(results: &[Value]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for result in results {
        *counts
            .entry(result["ruleId"].as_str().unwrap())
            .or_default() += 1;
    }
    counts
}

/// `uri` with its `%XX` escapes decoded.
fn percent_decoded(uri: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = uri.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail.get(..2)) {
            (b'%', Some(hex)) => {
                let hex = std::str::from_utf8(hex).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
                rest = &tail[2..];
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).expect("a decoded URI is UTF-8")
}

/// One result per violation of the JSON report, in its order, pointing where it does.
fn assert_matches_violations(results: &[Value], violations: &Value) {
    let violations = violations.as_array().expect("the JSON report is an array");
    assert_eq!(results.len(), violations.len(), "one result per violation");
    for (i, (result, v)) in results.iter().zip(violations).enumerate() {
        assert_eq!(result["ruleId"], v["rule"], "result {i}");
        assert_eq!(result["message"]["text"], v["message"], "result {i}");
        let locations = result["locations"].as_array().expect("locations");
        assert_eq!(locations.len(), 1, "result {i}: one location");
        let physical = &locations[0]["physicalLocation"];
        match v["source"].as_str() {
            Some(source) => {
                let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
                assert_eq!(percent_decoded(uri), source, "result {i}");
                assert!(physical.get("region").is_none(), "result {i}");
            }
            None => {
                assert_eq!(physical["artifactLocation"]["uri"], "stdin", "result {i}");
                assert_eq!(physical["region"]["startLine"], v["line"], "result {i}");
                assert_eq!(physical["region"]["startColumn"], v["column"], "result {i}");
            }
        }
    }
}

fn violations_as_is_are_valid_sarif() -> Ran {
    let validator = validator()?;
    let stream = violating_stream();
    let (code, log) = check(&["--as-is"], "sarif", &stream);
    assert_eq!(code, Some(1), "violations exit 1");
    assert_valid(validator, &log);
    let results = the_results(&log);
    assert_eq!(count_by_rule(results), BTreeMap::from(EXPECTED));
    let (_, violations) = check(&["--as-is"], "json", &stream);
    assert_matches_violations(results, &violations);
    let sourced = violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["source"].is_string());
    let mut with_source = BTreeMap::new();
    for v in sourced {
        *with_source.entry(v["rule"].as_str().unwrap()).or_insert(0) += 1;
    }
    for (rule, _) in EXPECTED {
        let with = with_source.get(rule).copied().unwrap_or(0);
        let all = EXPECTED.iter().find(|(r, _)| *r == rule).unwrap().1;
        assert!(
            with >= 2 && all - with >= 2,
            "{rule}: {with} of {all} with a # Source:, want at least two with and two without"
        );
    }
    Ok(())
}

fn violations_after_the_rules_are_valid_sarif() -> Ran {
    let validator = validator()?;
    // The rules remove `old` first, so only the image rules are broken.
    let stream = violating_stream();
    let (code, log) = check(&[], "sarif", &stream);
    assert_eq!(code, Some(1), "violations exit 1");
    assert_valid(validator, &log);
    let results = the_results(&log);
    let counts = count_by_rule(results);
    assert!(!counts.contains_key("removedPullSecret"), "{counts:?}");
    let (_, violations) = check(&[], "json", &stream);
    assert_matches_violations(results, &violations);
    Ok(())
}

fn a_clean_stream_is_valid_sarif_with_no_results() -> Ran {
    let validator = validator()?;
    for extra in [&[][..], &["--as-is"][..]] {
        let (code, log) = check(extra, "sarif", &clean_stream());
        assert_eq!(code, Some(0), "no violations exit 0 ({extra:?})");
        assert_valid(validator, &log);
        assert!(the_results(&log).is_empty(), "{log:#}");
        assert!(log["runs"][0]["results"].is_array(), "results is present");
    }
    Ok(())
}

fn the_validator_rejects_a_broken_log() -> Ran {
    let validator = validator()?;
    // A guard against a validator that accepts anything: valid logs with one thing broken.
    let (_, log) = check(&["--as-is"], "sarif", &violating_stream());
    let mut wrong_version = log.clone();
    wrong_version["version"] = "2.0.0".into();
    let mut zero_line = log.clone();
    let last = log["runs"][0]["results"].as_array().unwrap().len() - 1;
    zero_line["runs"][0]["results"][last]["locations"][0]["physicalLocation"]["region"]
        ["startLine"] = 0.into();
    let mut no_message = log;
    no_message["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    for broken in [wrong_version, zero_line, no_message] {
        assert!(!validator.is_valid(&broken), "accepted: {broken:#}");
    }
    Ok(())
}
