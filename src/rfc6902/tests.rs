use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::rules::Rules;

const CATCH_ALL: &str = "version: 1\nregistries: [{from: '*', to: m.example/all}]\n";

fn patches_with(rules: &str, input: &str) -> Vec<ResourcePatch> {
    let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
    crate::render(input.as_bytes(), &rules, None)
        .unwrap()
        .report
        .rfc6902
}

/// The patches as JSON, the form the command prints.
fn json_of(rules: &str, input: &str) -> Value {
    serde_json::to_value(patches_with(rules, input)).unwrap()
}

/// The operations of the only resource that changes.
fn ops(rules: &str, input: &str) -> Value {
    let all = json_of(rules, input);
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all:#}");
    all[0]["patch"].clone()
}

#[test]
fn pointer_tokens_escape_tilde_and_slash() {
    let pointer = Pointer::default()
        .join("data")
        .join("a/b~c")
        .join("~1")
        .index(3);
    assert_eq!(pointer.as_str(), "/data/a~1b~0c/~01/3");
    assert_eq!(Pointer::default().as_str(), "");
    assert_eq!(Pointer::default().join("").as_str(), "/");
    // What the escaping means, as another implementation reads it.
    let doc = json!({"data": {"a/b~c": {"~1": [0, 1, 2, "x"]}}});
    assert_eq!(doc.pointer(pointer.as_str()), Some(&json!("x")));
}

#[test]
fn an_image_field_is_tested_then_replaced() {
    let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: nginx:1}\n      - {name: b, image: m.example/all/x:1}\n      - {name: c, image: 'quay.io/q/r:2'}\n";
    assert_eq!(
        json_of(CATCH_ALL, input),
        json!([{
            "target": {"group": "apps", "version": "v1", "kind": "Deployment", "name": "web", "namespace": "shop"},
            "patch": [
                {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1"},
                {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "m.example/all/docker.io/library/nginx:1"},
                {"op": "test", "path": "/spec/template/spec/containers/2/image", "value": "quay.io/q/r:2"},
                {"op": "replace", "path": "/spec/template/spec/containers/2/image", "value": "m.example/all/quay.io/q/r:2"},
            ]
        }])
    );
}

#[test]
fn nothing_changes_nothing_is_printed() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: m.example/all/x:1}]}\n";
    assert!(patches_with(CATCH_ALL, input).is_empty());
    assert_eq!(text(&[]), "[]\n");
}

#[test]
fn a_reference_inside_a_string_replaces_the_whole_string() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  app.conf/x~y: |\n    sidecar = quay.io/a/b:1\n    other = ghcr.io/c/d:2\n    keep = 3\n";
    assert_eq!(
        ops(CATCH_ALL, input),
        json!([
            {"op": "test", "path": "/data/app.conf~1x~0y", "value": "sidecar = quay.io/a/b:1\nother = ghcr.io/c/d:2\nkeep = 3\n"},
            {"op": "replace", "path": "/data/app.conf~1x~0y", "value": "sidecar = m.example/all/quay.io/a/b:1\nother = m.example/all/ghcr.io/c/d:2\nkeep = 3\n"},
        ])
    );
}

#[test]
fn env_values_and_args_are_whole_strings() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: m.example/all/x:1\n    args: ['--sidecar-image=quay.io/a/b:1', '-v']\n    env: [{name: HELPER_IMAGE, value: 'ghcr.io/c/d:2'}]\n";
    assert_eq!(
        ops(CATCH_ALL, input),
        json!([
            {"op": "test", "path": "/spec/containers/0/args/0", "value": "--sidecar-image=quay.io/a/b:1"},
            {"op": "replace", "path": "/spec/containers/0/args/0", "value": "--sidecar-image=m.example/all/quay.io/a/b:1"},
            {"op": "test", "path": "/spec/containers/0/env/0/value", "value": "ghcr.io/c/d:2"},
            {"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "m.example/all/ghcr.io/c/d:2"},
        ])
    );
}

#[test]
fn list_items_are_targets_of_their_own() {
    let input = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: m.example/all/x:1}]}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: {containers: [{name: c, image: 'nginx:1'}]}}\n";
    assert_eq!(
        json_of(CATCH_ALL, input),
        json!([{
            "target": {"version": "v1", "kind": "Pod", "name": "b"},
            "patch": [
                {"op": "test", "path": "/spec/containers/0/image", "value": "nginx:1"},
                {"op": "replace", "path": "/spec/containers/0/image", "value": "m.example/all/docker.io/library/nginx:1"},
            ]
        }])
    );
}

#[test]
fn pointers_follow_aliases_and_merge_keys_as_kubernetes_reads_them() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nbase: &base\n  containers:\n  - {name: c, image: 'm.example/all/x:1'}\nspec:\n  <<: *base\n  initContainers: [{name: i, image: 'nginx:1'}]\n";
    assert_eq!(
        ops(CATCH_ALL, input),
        json!([
            {"op": "test", "path": "/spec/initContainers/0/image", "value": "nginx:1"},
            {"op": "replace", "path": "/spec/initContainers/0/image", "value": "m.example/all/docker.io/library/nginx:1"},
        ])
    );
}

#[test]
fn a_plain_value_yaml_may_read_as_a_number_is_not_tested() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 1234}]}\n";
    assert_eq!(
        ops(CATCH_ALL, input),
        json!([
            {"op": "replace", "path": "/spec/containers/0/image", "value": "m.example/all/docker.io/library/1234"},
        ])
    );
}

const SECRETS: &str = "version: 1\nregistries: [{from: '*', to: m.example/all}]\npullSecrets: {add: [{name: new-a}, {name: new-b}], remove: [old-x, old-y]}\n";

#[test]
fn removed_secrets_go_last_index_first_then_added_ones_at_the_front() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  imagePullSecrets:\n  - name: old-x\n  - name: kept\n  - name: old-y\n  containers: [{name: c, image: 'nginx:1'}]\n";
    let ops = ops(SECRETS, input);
    let secrets: Vec<&Value> = ops
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| op["path"].as_str().unwrap().contains("imagePullSecrets"))
        .collect();
    assert_eq!(
        secrets,
        [
            &json!({"op": "test", "path": "/spec/imagePullSecrets/2/name", "value": "old-y"}),
            &json!({"op": "remove", "path": "/spec/imagePullSecrets/2"}),
            &json!({"op": "test", "path": "/spec/imagePullSecrets/0/name", "value": "old-x"}),
            &json!({"op": "remove", "path": "/spec/imagePullSecrets/0"}),
            &json!({"op": "add", "path": "/spec/imagePullSecrets/0", "value": {"name": "new-a"}}),
            &json!({"op": "add", "path": "/spec/imagePullSecrets/1", "value": {"name": "new-b"}}),
        ]
    );
    // Applied in order, they give what the byte edit writes: the new names first.
    let mut spec =
        json!({"imagePullSecrets": [{"name": "old-x"}, {"name": "kept"}, {"name": "old-y"}]});
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(
        secrets
            .into_iter()
            .map(|op| {
                let mut op = op.clone();
                let path = op["path"].as_str().unwrap().replacen("/spec", "", 1);
                op["path"] = json!(path);
                op
            })
            .collect(),
    ))
    .unwrap();
    json_patch::patch(&mut spec, &patch).unwrap();
    assert_eq!(
        spec,
        json!({"imagePullSecrets": [{"name": "new-a"}, {"name": "new-b"}, {"name": "kept"}]})
    );
}

#[test]
fn a_missing_or_null_list_is_added_whole() {
    let absent = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'nginx:1'}]\n";
    let null = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  imagePullSecrets:\n  containers: [{name: c, image: 'nginx:1'}]\n";
    let list = json!([{"name": "new-a"}, {"name": "new-b"}]);
    assert_eq!(
        ops(SECRETS, absent)[2],
        json!({"op": "add", "path": "/spec/imagePullSecrets", "value": list})
    );
    let null_ops = ops(SECRETS, null);
    assert_eq!(
        null_ops.as_array().unwrap()[2..],
        [
            json!({"op": "test", "path": "/spec/imagePullSecrets", "value": null}),
            json!({"op": "add", "path": "/spec/imagePullSecrets", "value": list}),
        ]
    );
}

#[test]
fn a_service_account_is_patched_at_its_top() {
    let rules = "version: 1\npullSecrets: {add: [{name: new-a, registries: [m.example]}], serviceAccounts: true}\n";
    let input = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nimagePullSecrets: [{name: other}]\n";
    assert_eq!(
        ops(rules, input),
        json!([{"op": "add", "path": "/imagePullSecrets/0", "value": {"name": "new-a"}}])
    );
}

#[test]
fn a_node_read_from_several_places_is_patched_at_each() {
    // One container list read as `containers` and `ephemeralContainers`, and a container
    // item that is an alias of another: four places read one image.
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: &cs\n  - &c {name: a, image: 'nginx:1'}\n  - *c\n  ephemeralContainers: *cs\n";
    let paths: Vec<String> = ops(CATCH_ALL, input)
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| op["op"] == "replace")
        .map(|op| op["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/spec/containers/0/image",
            "/spec/containers/1/image",
            "/spec/ephemeralContainers/0/image",
            "/spec/ephemeralContainers/1/image",
        ]
    );
}

#[test]
fn keys_with_dots_are_one_token() {
    let input = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  a.b: {template: {spec: {containers: [{name: c, image: 'nginx:1'}]}}}\n";
    assert_eq!(
        ops(CATCH_ALL, input)[1]["path"],
        json!("/spec/a.b/template/spec/containers/0/image")
    );
}

#[test]
fn past_the_most_places_the_patch_is_refused_rather_than_listed() {
    // Aliases of aliases that multiply the places are refused by the render itself (they are
    // read where no image field is); one image read by more containers than any pod has is
    // rendered, but not listed.
    let aliases = vec!["*c"; MAX_PLACES].join(", ");
    let input = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [&c {{name: c, image: 'nginx:1'}}, {aliases}]\n");
    let rules = Rules::from_yaml(CATCH_ALL, Path::new("")).unwrap();
    let report = crate::render(input.as_bytes(), &rules, None)
        .unwrap()
        .report;
    assert_eq!(report.unpatchable, Some(PatchError { document: 1 }));
    assert!(report
        .json_patch()
        .unwrap_err()
        .to_string()
        .starts_with("document 1: what changes is read in more than 100000 places"));
}
