//! The rules file exactly as written: a serde mirror of the YAML, version 1.
//!
//! Every field is optional here so that a missing key becomes a checked error with a useful
//! message (see `super::convert`) rather than serde's terse "missing field". Unknown keys are
//! refused at every level (`deny_unknown_fields`); `super::tracked` reads the file and gets the
//! unknown key and the keys allowed from serde, and `super::suggest` makes a "did you mean" hint.
//!
//! The same types give the JSON Schema of the file ([`json_schema`], `reimage schema`): the keys,
//! their descriptions (these doc comments), and, through `schemars` attributes, the few checks of
//! `super::convert` that a schema can state cheaply (required keys, the form of tags, digests and
//! Secret names, the values of an enumeration). The schema says less than the checks do; it
//! never refuses a file they accept.

use schemars::JsonSchema;
use serde::Deserialize;

/// The rules file of reimage: what to rewrite in rendered manifests.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "reimage rules file")]
pub struct RulesFile {
    /// Format version; required, and must be `1`.
    #[schemars(required, extend("type" = "integer", "const" = 1))]
    pub version: Option<u64>,
    /// Registry mapping, tried in full: the entry with the longest matching `from` wins.
    pub registries: Option<Vec<RegistryFile>>,
    /// Per-image overrides (new name, tag or digest), optionally limited to some workloads.
    pub images: Option<Vec<ImageFile>>,
    /// Image pull secrets to add to or remove from pod specs.
    pub pull_secrets: Option<PullSecretsFile>,
    /// Digest pinning: where the lock file is and how pinned references are written.
    pub digests: Option<DigestsFile>,
    /// Extra places where images live, for custom resources the built-in table does not know.
    pub paths: Option<Vec<PathFile>>,
    /// What to do with image references found inside strings: env values, args, ConfigMaps.
    pub scan: Option<ScanFile>,
    /// What every image must satisfy; checked by `reimage check` and by every render.
    pub policy: Option<PolicyFile>,
    /// RFC 6902 JSON patches, applied after the image rules, in order, to the resources each
    /// entry's `target` selects.
    pub patches: Option<Vec<PatchFile>>,
}

/// One entry of `registries:`: `from` and either `to` or `keep: true`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "Registry",
    extend(
        "anyOf" = [
            {"required": ["to"], "properties": {"to": {"type": "string"}}},
            {"required": ["keep"], "properties": {"keep": {"const": true}}}
        ],
        "not" = {
            "required": ["to", "keep"],
            "properties": {"to": {"type": "string"}, "keep": {"const": true}}
        }
    )
)]
pub struct RegistryFile {
    /// Source prefix: a registry host, optionally followed by repository path segments
    /// (`docker.io`, `quay.io/prometheus`), or `"*"` for every registry no other entry matches.
    #[schemars(required, extend("type" = "string"))]
    pub from: Option<String>,
    /// Destination prefix that replaces `from` (`harbor.example.com/dockerhub`); no tag or digest.
    /// For `from: "*"` the source host is kept as the first path segment below `to`.
    pub to: Option<String>,
    /// `true`: images under `from` are never rewritten. Exclusive with `to`.
    pub keep: Option<bool>,
}

/// One entry of `images:`: `name`, and at least one of `newName`, `newTag` and `digest`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "Image",
    extend("anyOf" = [
        {"required": ["newName"], "properties": {"newName": {"type": "string"}}},
        {"required": ["newTag"], "properties": {"newTag": {"not": {"type": "null"}}}},
        {"required": ["digest"], "properties": {"digest": {"type": "string"}}}
    ])
)]
pub struct ImageFile {
    /// The image name this override applies to, without tag or digest. Normalised, so `nginx`
    /// and `docker.io/library/nginx` are the same image.
    #[schemars(required, extend("type" = "string"))]
    pub name: Option<String>,
    /// Replacement name (registry and repository), without tag or digest.
    pub new_name: Option<String>,
    /// Replacement tag: 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or
    /// `-`. A plain scalar is read as written, so `1.20` is the tag `1.20`, not a number.
    #[schemars(extend(
        "type" = ["string", "number", "boolean", "null"],
        "pattern" = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
    ))]
    pub new_tag: Option<String>,
    /// Digest to pin: `sha256:` and 64 lowercase hex digits, or `sha512:` and 128.
    #[schemars(regex(pattern = r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$"))]
    pub digest: Option<String>,
    /// Limits the override to matching workloads and containers; omitted means everywhere.
    pub select: Option<SelectFile>,
}

/// `images[].select`: every field is optional; the ones given must all match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Select")]
pub struct SelectFile {
    /// Kind of the workload object (`DaemonSet`, `Deployment`, a custom kind ...).
    pub kind: Option<String>,
    /// Namespace of the workload object.
    pub namespace: Option<String>,
    /// `metadata.name` of the workload object.
    pub name: Option<String>,
    /// Name of the container (or init/ephemeral container) within the pod spec.
    pub container: Option<String>,
}

/// `pullSecrets:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "PullSecrets")]
pub struct PullSecretsFile {
    /// Secrets to add to pod specs that use images from the given registries.
    pub add: Option<Vec<SecretGrantFile>>,
    /// Secret names to remove from `imagePullSecrets` wherever they appear.
    #[schemars(inner(
        regex(pattern = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"),
        length(max = 253)
    ))]
    pub remove: Option<Vec<String>>,
    /// `true`: also edit `imagePullSecrets` of ServiceAccount objects. Default `false`.
    pub service_accounts: Option<bool>,
}

/// One entry of `pullSecrets.add`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "SecretGrant")]
pub struct SecretGrantFile {
    /// Name of the Secret (a Kubernetes DNS-1123 subdomain name).
    #[schemars(
        required,
        extend("type" = "string"),
        regex(pattern = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"),
        length(max = 253)
    )]
    pub name: Option<String>,
    /// Registry prefixes whose images need this secret. Omitted: the hosts of every `to` in
    /// `registries:`.
    pub registries: Option<Vec<String>>,
}

/// `digests:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Digests")]
pub struct DigestsFile {
    /// Lock file mapping references to digests, relative to the rules file's directory.
    pub lock: Option<String>,
    /// How a pinned reference is written: `tag+digest` (default, `name:tag@sha256:...`) or
    /// `digest` (`name@sha256:...`).
    #[schemars(extend("enum" = ["tag+digest", "digest", null]))]
    pub form: Option<String>,
    /// `true`: every image must end up with a digest (from the lock file, an override, or
    /// already in the chart). Default `false`.
    pub require: Option<bool>,
    /// `true`: ask the registries for digests the lock file lacks, while rendering (network
    /// access at install time). Default `false`: a render never opens a socket.
    pub resolve: Option<bool>,
    /// Registry hosts (`host` or `host:port`) spoken to over plain http when resolving.
    pub insecure_registries: Option<Vec<String>>,
    /// PEM files of CA certificates trusted for every registry, besides the system store;
    /// relative to the rules file's directory.
    pub ca_files: Option<Vec<String>>,
    /// A folder in the `certs.d` layout (`HOST[:PORT]/ca.crt`, `client.cert`, `client.key`),
    /// read before the system ones; relative to the rules file's directory.
    pub certs_dir: Option<String>,
}

/// One entry of `paths:`: `kind`, and one of `path` and `podSpec`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(
    rename = "Path",
    extend(
        "anyOf" = [
            {"required": ["path"], "properties": {"path": {"type": "string"}}},
            {"required": ["podSpec"], "properties": {"podSpec": {"type": "string"}}}
        ],
        "not" = {
            "required": ["path", "podSpec"],
            "properties": {"path": {"type": "string"}, "podSpec": {"type": "string"}}
        }
    )
)]
pub struct PathFile {
    /// Kind of the objects this applies to (`CephCluster`).
    #[schemars(required, extend("type" = "string"))]
    pub kind: Option<String>,
    /// API group of those objects (`ceph.rook.io`); omitted means any group.
    pub group: Option<String>,
    /// Field path to an image string (`spec.cephVersion.image`). Exclusive with `podSpec`.
    pub path: Option<String>,
    /// Field path to a pod spec (`spec.template.spec`); containers etc. inside it are found.
    /// Exclusive with `path`.
    pub pod_spec: Option<String>,
}

/// `scan:`: for each kind of string, `rewrite` (the default: confident matches are rewritten,
/// the rest reported), `report` (nothing rewritten, everything reported) or `off`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Scan")]
pub struct ScanFile {
    /// Container `env` values.
    pub env: Option<ScanModeFile>,
    /// Container `args` and `command` items.
    pub args: Option<ScanModeFile>,
    /// ConfigMap `data` values.
    pub config_maps: Option<ScanModeFile>,
    /// More env var names, flags and ConfigMap keys that hold images, beyond the built-in
    /// patterns (`image`, `*_IMAGE`, `*-image`, `*Image`, `RELATED_IMAGE_*`).
    pub image_keys: Option<Vec<String>>,
}

/// One `scan:` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ScanMode")]
pub enum ScanModeFile {
    /// Confident matches are rewritten, the others reported (the default).
    Rewrite,
    /// Nothing is rewritten; every match is reported.
    Report,
    /// Not searched.
    Off,
}

/// `policy:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Policy")]
pub struct PolicyFile {
    /// Registries (host or host/path prefixes) images may be pulled from.
    pub allowed_registries: Option<Vec<String>>,
    /// Every image must carry a digest.
    pub require_digest: Option<bool>,
    /// No image may use the tag `latest`, or no tag at all without a digest.
    pub forbid_latest: Option<bool>,
}

/// One entry of `patches:`: which resources, and the operations applied to each of them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Patch")]
pub struct PatchFile {
    /// The resources to patch; every field given must match. `{}` selects every resource.
    #[schemars(required)]
    pub target: Option<TargetFile>,
    /// RFC 6902 operations, applied in order; each sees the result of the one before.
    #[schemars(required, length(min = 1))]
    pub patch: Option<Vec<OperationFile>>,
}

/// `patches[].target`: every field is optional; the ones given must all match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Target")]
pub struct TargetFile {
    /// API group (`apps`; `""` for the core group), from the resource's `apiVersion`.
    pub group: Option<String>,
    /// API version (`v1`), from the resource's `apiVersion`.
    pub version: Option<String>,
    /// Kind (`Deployment`).
    pub kind: Option<String>,
    /// `metadata.name`, matched exactly.
    pub name: Option<String>,
    /// `metadata.namespace`, matched exactly; a resource without one matches only `""`.
    pub namespace: Option<String>,
    /// A Kubernetes label selector (`app=web,tier in (front,back),!legacy`) on
    /// `metadata.labels`.
    pub label_selector: Option<String>,
    /// The same selector syntax, on `metadata.annotations`.
    pub annotation_selector: Option<String>,
}

/// One RFC 6902 operation.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Operation")]
pub struct OperationFile {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    #[schemars(
        required,
        extend("enum" = ["add", "remove", "replace", "move", "copy", "test"])
    )]
    pub op: Option<String>,
    /// An RFC 6901 pointer into the resource: `/metadata/labels/team`,
    /// `/metadata/annotations/app.kubernetes.io~1name` (`~1` for `/`, `~0` for `~`),
    /// `/spec/template/spec/tolerations/-` (`-` appends, for `add`).
    #[schemars(required, regex(pattern = r"^(/([^~]|~[01])*)+$"))]
    pub path: Option<String>,
    /// For `move` and `copy`: the pointer to take the value from.
    #[schemars(regex(pattern = r"^(/([^~]|~[01])*)+$"))]
    pub from: Option<String>,
    /// For `add`, `replace` and `test`: the value (any YAML; `null` is a value).
    #[serde(default, deserialize_with = "present")]
    pub value: Option<serde_json::Value>,
}

/// A key that is present holds a value, `null` included: only a missing key is `None`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

/// The JSON Schema (draft-07) of the rules file, as `reimage schema` prints it: pretty-printed,
/// with a final newline.
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RulesFile>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_camel_case_keys() {
        let text = "version: 1\npullSecrets: {serviceAccounts: true}\n\
                    paths: [{kind: X, podSpec: spec}]\nimages: [{name: a, newTag: b}]\n";
        let file: RulesFile = serde_yaml::from_str(text).unwrap();
        assert_eq!(file.version, Some(1));
        assert_eq!(file.pull_secrets.unwrap().service_accounts, Some(true));
        assert_eq!(file.paths.unwrap()[0].pod_spec.as_deref(), Some("spec"));
        assert_eq!(file.images.unwrap()[0].new_tag.as_deref(), Some("b"));
    }

    #[test]
    fn refuses_unknown_keys() {
        let err = serde_yaml::from_str::<RulesFile>("version: 1\nregistry: []\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `registry`"));
    }
}
