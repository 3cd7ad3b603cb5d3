//! Tests of reading a `ResourceList`, its `functionConfig`, and writing its `results`.

use super::results::{Entry, ResourceRef, Severity};
use super::*;
use crate::rules::RegistryRule;

fn list(text: &str) -> ResourceList<'_> {
    ResourceList::read(text.as_bytes()).unwrap().unwrap()
}

fn warning() -> Entry {
    Entry {
        severity: Severity::Warning,
        message: "`x:1` (env:IMAGE) was not rewritten: yes".to_string(),
        resource: Some(ResourceRef {
            api_version: "apps/v1".to_string(),
            kind: "Deployment".to_string(),
            name: "web".to_string(),
            namespace: None,
        }),
        field: Some("spec.template.spec.containers[0].env[0].value".to_string()),
        file: Some(FileRef {
            path: "web.yaml".to_string(),
            index: Some(1),
        }),
    }
}

/// The list with `entries` as its results.
fn with(text: &str, entries: &[Entry]) -> String {
    let list = list(text);
    let output = list
        .with_results(apply::Output::unchanged(text), entries)
        .unwrap();
    String::from_utf8(output.to_vec()).unwrap()
}

const CONFIG_MAP: &str = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    rules: |\n      version: 1\n      registries: [{from: '*', to: m.example.com}]\n";

#[test]
fn only_one_resource_list_document_is_one() {
    let yes = [
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
        "---\n# c\n{\"kind\": \"ResourceList\", \"apiVersion\": \"config.kubernetes.io/v1beta1\", \"items\": []}\n---\n",
    ];
    for text in yes {
        assert!(
            ResourceList::read(text.as_bytes()).unwrap().is_some(),
            "{text}"
        );
    }
    let no = [
        "apiVersion: v1\nkind: List\nitems: []\n",
        "apiVersion: config.kubernetes.io/v2\nkind: ResourceList\nitems: []\n",
        "apiVersion: v1\nkind: ConfigMap\ndata: {kind: ResourceList}\n",
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n---\nkind: Pod\n",
        "# kind: ResourceList\n",
        "[ResourceList]\n",
    ];
    for text in no {
        assert!(
            ResourceList::read(text.as_bytes()).unwrap().is_none(),
            "{text}"
        );
    }
    let broken = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [\n";
    let error = ResourceList::read(broken.as_bytes()).unwrap_err();
    assert!(
        error.to_string().starts_with("document 1: invalid YAML"),
        "{error}"
    );
}

#[test]
fn a_config_map_holds_a_rules_file() {
    let (rules, origin) = list(CONFIG_MAP).rules().unwrap();
    assert_eq!(origin, "functionConfig (ConfigMap data.rules)");
    assert_eq!(
        rules.registries,
        [RegistryRule::CatchAll {
            to: "m.example.com".to_string()
        }]
    );
    let error = |text: &str| list(text).rules().unwrap_err().to_string();
    let head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n";
    assert!(error(&format!("{head}  data: {{}}\n"))
        .starts_with("functionConfig: data.rules: missing; give the rules file as text"));
    assert!(error(&format!("{head}  data: {{rules: {{version: 1}}}}\n"))
        .starts_with("functionConfig: data.rules: must be the rules file as text"));
    assert!(
        error(&format!("{head}  data: {{rules: '', registry: x}}\n"))
            .starts_with("functionConfig: data.registry: unknown key")
    );
    assert!(
        error(&format!("{head}  data: {{rules: 'registries: []'}}\n"))
            .starts_with("functionConfig data.rules: version: missing")
    );
}

#[test]
fn a_rules_object_holds_the_fields_of_a_rules_file() {
    let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n  apiVersion: reimage/v1\n  kind: Rules\n  metadata:\n    name: mirror\n    annotations:\n      config.kubernetes.io/function: |\n        exec: {path: reimage}\n  registries:\n  - {from: '*', to: m.example.com}\n";
    let (rules, origin) = list(text).rules().unwrap();
    assert_eq!(origin, "functionConfig (reimage/v1 Rules)");
    assert_eq!(rules.registries.len(), 1);
    // Messages give the input's lines and columns.
    let bad = text.replace("registries:", "registry:");
    let message = list(&bad).rules().unwrap_err().to_string();
    assert!(
        message.starts_with(
            "functionConfig: unknown key `registry` in the top level at line 12 column 3"
        ),
        "{message}"
    );
    let flow = "{apiVersion: config.kubernetes.io/v1, kind: ResourceList, items: [], functionConfig: {kind: Rules, registries: [{from: '*', to: m.example.com}], apiVersion: reimage/v1, version: 1}}";
    assert_eq!(list(flow).rules().unwrap().0.registries.len(), 1);
    let only = "{apiVersion: config.kubernetes.io/v1, kind: ResourceList, items: [], functionConfig: {apiVersion: reimage/v1, kind: Rules}}";
    assert_eq!(list(only).rules().unwrap().0, crate::rules::Rules::empty());
}

#[test]
fn other_function_configs_are_refused() {
    let head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n";
    let error = |tail: &str| {
        list(&format!("{head}{tail}"))
            .rules()
            .unwrap_err()
            .to_string()
    };
    assert!(error("").starts_with("the ResourceList has no functionConfig"));
    assert!(error("functionConfig: ~\n").starts_with("the ResourceList has no functionConfig"));
    assert!(
        error("functionConfig: {apiVersion: reimage/v2, kind: Rules}\n")
            .starts_with("functionConfig: apiVersion: `reimage/v2` is not supported")
    );
    assert!(
        error("functionConfig: {apiVersion: example.com/v1, kind: Mirror}\n").starts_with(
            "functionConfig: `apiVersion: example.com/v1`, `kind: Mirror` is not a form"
        )
    );
}

#[test]
fn files_come_from_the_path_and_index_annotations() {
    let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- metadata:\n    annotations:\n      config.kubernetes.io/path: old.yaml\n      internal.config.kubernetes.io/path: a/b.yaml\n      internal.config.kubernetes.io/index: '2'\n- {metadata: {name: x}}\n- metadata: {annotations: {config.kubernetes.io/path: c.yaml}}\n";
    assert_eq!(
        list(text).files(),
        [
            Some(FileRef {
                path: "a/b.yaml".to_string(),
                index: Some(2)
            }),
            None,
            Some(FileRef {
                path: "c.yaml".to_string(),
                index: None
            }),
        ]
    );
}

#[test]
fn results_follow_the_last_field_at_its_indentation() {
    let expected = "    path: web.yaml\n    index: 1\n";
    let out = with(CONFIG_MAP, &[warning()]);
    let (before, results) = out.split_at(CONFIG_MAP.len());
    assert_eq!(before, CONFIG_MAP, "a block scalar last keeps its lines");
    assert!(results.starts_with("results:\n- message: \"`x:1` (env:IMAGE) was not rewritten: yes\"\n  severity: warning\n  resourceRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n  field:\n    path: \"spec.template.spec.containers[0].env[0].value\"\n  file:\n"), "{results}");
    assert!(results.ends_with(expected), "{results}");
    // Without a last line break, and with a comment and a document end after the list.
    let text = "apiVersion: config.kubernetes.io/v1\r\nkind: ResourceList\r\nitems: [] # none";
    assert!(with(text, &[Entry::error("no")])
        .ends_with("# none\r\nresults:\r\n- message: \"no\"\r\n  severity: error\r\n"));
    let text =
        "  apiVersion: config.kubernetes.io/v1\n  kind: ResourceList\n  items: []\n...\n# after\n";
    assert_eq!(
        with(text, &[Entry::error("no")]),
        "  apiVersion: config.kubernetes.io/v1\n  kind: ResourceList\n  items: []\n  results:\n  - message: \"no\"\n    severity: error\n...\n# after\n"
    );
}

#[test]
fn results_replace_the_ones_the_list_had() {
    let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nresults:\n- message: old\n  severity: info # old\nitems: []\n";
    assert_eq!(
        with(text, &[Entry::error("new")]),
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nresults:\n- message: new\n  severity: error\nitems: []\n"
    );
    assert_eq!(with(text, &[]), text, "no results keep the list's own");
    let json = "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"results\": [], \"items\": []}";
    assert_eq!(
        with(json, &[Entry::error("new")]),
        "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"results\": [{\"message\": \"new\", \"severity\": \"error\"}], \"items\": []}"
    );
}

#[test]
fn a_flow_list_gets_json_results() {
    let text = "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\",\n \"items\": []\n}\n";
    let out = with(text, &[warning()]);
    assert_eq!(
        out,
        "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\",\n \"items\": [], \"results\": [{\"message\": \"`x:1` (env:IMAGE) was not rewritten: yes\", \"severity\": \"warning\", \"resourceRef\": {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"name\": \"web\"}, \"field\": {\"path\": \"spec.template.spec.containers[0].env[0].value\"}, \"file\": {\"path\": \"web.yaml\", \"index\": 1}}]\n}\n"
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["results"][0]["file"]["index"], 1);
}

#[test]
fn a_failed_run_gives_the_list_back_with_one_error() {
    let out = list(CONFIG_MAP)
        .failed("bad\nrules: `yes`")
        .unwrap()
        .to_vec();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        format!("{CONFIG_MAP}results:\n- message: \"bad\\nrules: `yes`\"\n  severity: error\n")
    );
    let value: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
    assert_eq!(value["results"][0]["message"], "bad\nrules: `yes`");
}
