//! `reimage schema` and the committed `schema/rules.schema.json`: the file is exactly what the
//! binary prints, and every rules file the repository ships passes it.
//!
//! The rules files are those of `examples/` (every `*rules.yaml`, in every folder) and the one
//! each golden case passes (`testdata/<case>/rules.yaml`, or the file its `args` or `env` name,
//! found as `golden.rs` finds it), the rules files that the golden cases of `reimage init`
//! and `reimage import` expect them to write (their `expected.yaml`), and the rules that the
//! `functionConfig` of a KRM case's `ResourceList` holds (a ConfigMap's `data.rules`, or the
//! fields of a `reimage/v1` `Rules` object other than `apiVersion`, `kind` and `metadata`, with
//! `version: 1` where it is left out). Two kinds are left out, by rule:
//!
//! - a case whose expected standard error starts with `reimage: <its rules file>:` (or
//!   `reimage: functionConfig:`), the form of every rules-file error: its rules are meant to be
//!   refused;
//! - a file with no YAML content (empty, or only comments): reimage reads it as no rules, and it
//!   holds no mapping for the schema to check.
//!
//! Each file is read with serde_yaml into a JSON value, as an editor's YAML language server
//! reads it: a plain `1.20` is a number there, which is why the schema lets `newTag` be one.

use crate::common;
use crate::golden;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        the_committed_schema_is_what_reimage_prints,
        every_rules_file_of_the_examples_and_the_golden_cases_passes,
        the_schema_refuses_what_the_rules_reader_refuses,
    ]
}

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/rules.schema.json");

fn the_committed_schema_is_what_reimage_prints() {
    let out = common::run(&["schema"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed = fs::read_to_string(COMMITTED).unwrap_or_default();
    if printed != committed {
        panic!(
            "schema/rules.schema.json is not what `reimage schema` prints; regenerate it with\n  \
             cargo run -- schema > schema/rules.schema.json\n{}",
            common::diff::lines(committed.as_bytes(), printed.as_bytes())
        );
    }
}

/// The committed schema, ready to validate with.
pub fn validator() -> Validator {
    let schema: Value = serde_json::from_str(&fs::read_to_string(COMMITTED).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// A YAML text as the JSON value an editor validates; `None` when it holds no YAML content.
/// A byte order mark at the start is skipped, as reimage and editors skip it.
fn as_json(text: &str) -> Option<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Json(value) = serde_yaml::from_str(text).unwrap();
    (!value.is_null()).then_some(value)
}

/// A YAML value read as JSON the way an editor's YAML reader does: an integer too large for
/// 64 bits (a tag such as `12345678901234567890123`) is a float there, where serde_json's own
/// value refuses it.
struct Json(Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Json, E> {
        Ok(Json((v as f64).into()))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Json, E> {
        Ok(Json((v as f64).into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some((Json(key), Json(value))) = map.next_entry()? {
            let key = match key {
                Value::String(key) => key,
                other => other.to_string(),
            };
            object.insert(key, value);
        }
        Ok(Json(Value::Object(object)))
    }
}

/// Every way `text` breaks the schema, one line each.
pub fn errors(validator: &Validator, text: &str) -> Vec<String> {
    let Some(value) = as_json(text) else {
        return Vec::new();
    };
    validator
        .iter_errors(&value)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect()
}

fn every_rules_file_of_the_examples_and_the_golden_cases_passes() {
    let validator = validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = example_rules(&root.join("examples"));
    files.sort();
    let examples = files.len();
    let (mut refused, mut empty) = (Vec::new(), Vec::new());
    let mut configs = Vec::new();
    for dir in golden::case_dirs() {
        if writes_rules(&dir) {
            files.push(dir.join("expected.yaml"));
        }
        if let Some(rules) = function_config_rules(&dir) {
            if meant_to_be_refused(&dir, "functionConfig") {
                refused.push(golden::case_name(&dir));
            } else {
                configs.push((golden::case_name(&dir), rules));
            }
        }
        let Some(file) = rules_of_case(&dir) else {
            continue;
        };
        if meant_to_be_refused(&dir, &file) {
            refused.push(golden::case_name(&dir));
        } else {
            files.push(dir.join(file));
        }
    }
    let mut failures = Vec::new();
    let mut validated = 0;
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        if as_json(&text).is_none() {
            empty.push(path.strip_prefix(root).unwrap().display().to_string());
            continue;
        }
        validated += 1;
        for error in errors(&validator, &text) {
            failures.push(format!(
                "{}: {error}",
                path.strip_prefix(root).unwrap().display()
            ));
        }
    }
    for (case, rules) in &configs {
        validated += 1;
        for e in validator.iter_errors(rules) {
            failures.push(format!(
                "testdata/{case}/input.yaml functionConfig: {e} at `{}`",
                e.instance_path()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        configs.len() >= 5,
        "only {} KRM functionConfigs",
        configs.len()
    );
    assert!(examples >= 3, "only {examples} rules files under examples/");
    assert!(
        validated >= 60,
        "only {validated} rules files were validated"
    );
    if crate::harness::nocapture() {
        println!(
            "{validated} rules files valid ({examples} in examples/); left out: meant to be \
             refused {refused:?}, no YAML content {empty:?}"
        );
    }
}

/// Every `*rules.yaml` under `dir`, in every folder.
fn example_rules(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(example_rules(&path));
        } else if path.to_string_lossy().ends_with("rules.yaml") {
            found.push(path);
        }
    }
    found
}

/// The rules file a golden case passes, relative to its folder: `--rules` in its arguments
/// (which `golden.rs` adds for a `rules.yaml`), else `REIMAGE_RULES` in its environment.
fn rules_of_case(dir: &Path) -> Option<String> {
    let args = golden::case_args(dir);
    let from_args = args
        .iter()
        .enumerate()
        .find_map(|(i, arg)| match arg.as_str() {
            "--rules" => args.get(i + 1).cloned(),
            _ => arg.strip_prefix("--rules=").map(str::to_owned),
        });
    let from_env = || {
        golden::case_env(dir)
            .into_iter()
            .find_map(|(key, value)| (key == "REIMAGE_RULES").then_some(value))
    };
    from_args
        .or_else(from_env)
        .filter(|file| dir.join(file).is_file())
}

/// The rules a KRM case's `functionConfig` holds, as a JSON value; `None` when the case's
/// input is not a `ResourceList` with one.
fn function_config_rules(dir: &Path) -> Option<Value> {
    let text = fs::read_to_string(dir.join("input.yaml")).ok()?;
    // Most inputs are streams of several documents, or meant to be unreadable.
    let Json(list) = serde_yaml::from_str(&text).ok()?;
    if list.get("kind")? != "ResourceList" {
        return None;
    }
    let config = list.get("functionConfig")?;
    if config.get("kind")? == "ConfigMap" {
        return as_json(config.pointer("/data/rules")?.as_str()?);
    }
    let mut rules = config.as_object()?.clone();
    for key in ["apiVersion", "kind", "metadata"] {
        rules.remove(key);
    }
    rules.entry("version").or_insert(1.into());
    Some(Value::Object(rules))
}

/// Whether the case is a successful `reimage init` or `reimage import`, whose output is a rules
/// file.
fn writes_rules(dir: &Path) -> bool {
    let command = golden::case_args(dir).into_iter().next();
    matches!(command.as_deref(), Some("init" | "import")) && !dir.join("expected.status").exists()
}

/// Whether the case expects reimage to refuse its rules file: every rules-file error starts
/// with the file's name as given.
fn meant_to_be_refused(dir: &Path, file: &str) -> bool {
    fs::read_to_string(dir.join("expected.stderr"))
        .is_ok_and(|stderr| stderr.starts_with(&format!("reimage: {file}:")))
}

/// Files the rules reader refuses for a reason the schema can state are refused by it too.
fn the_schema_refuses_what_the_rules_reader_refuses() {
    let validator = validator();
    let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    for (text, why) in [
        ("registries: []\n", "version missing"),
        ("version: 2\n", "another version"),
        ("version: '1'\n", "a quoted version"),
        ("version: 1\nregistry: []\n", "an unknown top-level key"),
        (
            "version: 1\nregistries: [{form: a, to: b}]\n",
            "an unknown key",
        ),
        ("version: 1\nregistries: [{to: m.example.com}]\n", "no from"),
        (
            "version: 1\nregistries: [{from: a.io}]\n",
            "neither to nor keep",
        ),
        (
            "version: 1\nregistries: [{from: a.io, to: m.io, keep: true}]\n",
            "to and keep",
        ),
        (
            "version: 1\nimages: [{name: nginx}]\n",
            "an override that changes nothing",
        ),
        (
            "version: 1\nimages: [{newTag: '1'}]\n",
            "an override without name",
        ),
        (
            "version: 1\nimages: [{name: a, newTag: -x}]\n",
            "a tag starting with -",
        ),
        (
            "version: 1\nimages: [{name: a, digest: 'sha256:00'}]\n",
            "a short digest",
        ),
        (
            "version: 1\npullSecrets: {add: [{name: Mirror}]}\n",
            "a capital letter",
        ),
        (
            "version: 1\npullSecrets: {remove: [a_b]}\n",
            "an underscore",
        ),
        (
            "version: 1\ndigests: {form: digest-only}\n",
            "an unknown pin form",
        ),
        ("version: 1\nscan: {env: yes}\n", "an unknown scan mode"),
        (
            "version: 1\npaths: [{kind: X}]\n",
            "a path without path or podSpec",
        ),
        (
            "version: 1\npaths: [{kind: X, path: a, podSpec: b}]\n",
            "both path and podSpec",
        ),
        (
            "version: 1\npolicy: {requireDigest: 'yes'}\n",
            "a quoted boolean",
        ),
        (
            "version: 1\npatches: [{target: {}, patch: [{op: delete, path: /a}]}]\n",
            "an operation RFC 6902 does not have",
        ),
        (
            "version: 1\npatches: [{target: {}, patch: [{op: remove, path: a/b}]}]\n",
            "a pointer without its leading slash",
        ),
        (
            "version: 1\npatches: [{patch: [{op: remove, path: /a}]}]\n",
            "a patch without target",
        ),
        (
            "version: 1\npatches: [{target: {}, patch: []}]\n",
            "a patch without operations",
        ),
        (
            "version: 1\npatches: [{target: {knd: Pod}, patch: [{op: remove, path: /a}]}]\n",
            "an unknown key in a target",
        ),
    ] {
        assert!(
            !errors(&validator, text).is_empty(),
            "the schema accepts {why}: {text}"
        );
        assert!(
            reimage::rules::Rules::from_yaml(text, Path::new("")).is_err(),
            "the rules reader accepts {why}: {text}"
        );
    }
    let fine = format!(
        "version: 1\nimages: [{{name: a, newTag: 1.20}}, {{name: b, digest: '{digest}'}}]\n\
         paths: [{{kind: X, podSpec: spec, path: ~}}]\n"
    );
    assert_eq!(errors(&validator, &fine), Vec::<String>::new());
}
