//! The rules file exactly as written: a serde mirror of the YAML, version 1.
//!
//! Every field is optional here so that a missing key becomes a checked error with a useful
//! message (see `super::convert`) rather than serde's terse "missing field". Unknown keys are
//! refused at every level (`deny_unknown_fields`); `super::tracked` reads the file and gets the
//! unknown key and the keys allowed from serde, and `super::suggest` makes a "did you mean" hint.

use serde::Deserialize;

/// The whole rules file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RulesFile {
    /// Format version; required, and must be `1`.
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
}

/// One entry of `registries:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryFile {
    /// Source prefix: a registry host, optionally followed by repository path segments
    /// (`docker.io`, `quay.io/prometheus`), or `"*"` for every registry no other entry matches.
    pub from: Option<String>,
    /// Destination prefix that replaces `from` (`harbor.example.com/dockerhub`); no tag or digest.
    /// For `from: "*"` the source host is kept as the first path segment below `to`.
    pub to: Option<String>,
    /// `true`: images under `from` are never rewritten. Exclusive with `to`.
    pub keep: Option<bool>,
}

/// One entry of `images:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageFile {
    /// The image name this override applies to, without tag or digest. Normalised, so `nginx`
    /// and `docker.io/library/nginx` are the same image.
    pub name: Option<String>,
    /// Replacement name (registry and repository), without tag or digest.
    pub new_name: Option<String>,
    /// Replacement tag.
    pub new_tag: Option<String>,
    /// Digest to pin, such as `sha256:` followed by 64 lowercase hex digits.
    pub digest: Option<String>,
    /// Limits the override to matching workloads and containers; omitted means everywhere.
    pub select: Option<SelectFile>,
}

/// `images[].select`: every field is optional; the ones given must all match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PullSecretsFile {
    /// Secrets to add to pod specs that use images from the given registries.
    pub add: Option<Vec<SecretGrantFile>>,
    /// Secret names to remove from `imagePullSecrets` wherever they appear.
    pub remove: Option<Vec<String>>,
    /// `true`: also edit `imagePullSecrets` of ServiceAccount objects. Default `false`.
    pub service_accounts: Option<bool>,
}

/// One entry of `pullSecrets.add`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretGrantFile {
    /// Name of the Secret (a Kubernetes DNS-1123 subdomain name).
    pub name: Option<String>,
    /// Registry prefixes whose images need this secret. Omitted: the hosts of every `to` in
    /// `registries:`.
    pub registries: Option<Vec<String>>,
}

/// `digests:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DigestsFile {
    /// Lock file mapping references to digests, relative to the rules file's directory.
    pub lock: Option<String>,
    /// How a pinned reference is written: `tag+digest` (default, `name:tag@sha256:...`) or
    /// `digest` (`name@sha256:...`).
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

/// One entry of `paths:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathFile {
    /// Kind of the objects this applies to (`CephCluster`).
    pub kind: Option<String>,
    /// API group of those objects (`ceph.rook.io`); omitted means any group.
    pub group: Option<String>,
    /// Field path to an image string (`spec.cephVersion.image`). Exclusive with `podSpec`.
    pub path: Option<String>,
    /// Field path to a pod spec (`spec.template.spec`); containers etc. inside it are found.
    /// Exclusive with `path`.
    pub pod_spec: Option<String>,
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

/// `scan:`: for each kind of string, `rewrite` (the default: confident matches are rewritten,
/// the rest reported), `report` (nothing rewritten, everything reported) or `off`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanModeFile {
    Rewrite,
    Report,
    Off,
}

/// `policy:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// Registries (host or host/path prefixes) images may be pulled from.
    pub allowed_registries: Option<Vec<String>>,
    /// Every image must carry a digest.
    pub require_digest: Option<bool>,
    /// No image may use the tag `latest`, or no tag at all without a digest.
    pub forbid_latest: Option<bool>,
}
