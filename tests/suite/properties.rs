//! Property tests of the whole pipeline, `reimage::render`, on generated Helm-like streams.
//!
//! The generator writes multi-document streams the way `helm template` does, with the edge
//! cases this tool must get right: `---` separators (with trailing spaces, around empty and
//! comment-only documents), `# Source:` lines, every built-in workload kind with its pod spec
//! in block or flow style, container lists indented at or past their key, `initContainers:`
//! without a value, image references plain or quoted (some invalid), pull secrets in flow and
//! block lists, comments at line ends, block scalars at the end of a pod spec, keys after the
//! pod spec, ConfigMaps whose values YAML 1.1 reads differently, CRLF line endings and a
//! missing final line break.
//!
//! The rules come from four fixed files ([`RuleSet`]); what each should do to a reference is
//! modelled independently here ([`RuleSet::expected`]). The properties:
//!
//! 1. idempotence: rendering the output again changes nothing;
//! 2. determinism: two renders give the same bytes and the same report;
//! 3. empty rules are the identity, byte for byte;
//! 4. only image values and `imagePullSecrets` change: the parsed documents are equal once
//!    those are removed, and so are the lines once image values and secret lists are masked
//!    (which also shows every image keeps its quoting style);
//! 5. images are what the rules say, in the report and in the output as a YAML parser reads
//!    it; pull secrets are what the rules say;
//! 6. CRLF streams stay CRLF;
//! 7. fail closed: a stream with a broken document is refused whatever the rules.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::{Config, TestCaseError};
use reimage::rules::Rules;
use reimage::Rendered;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        idempotent,
        deterministic,
        empty_rules_are_the_identity,
        only_images_and_pull_secrets_change,
        images_and_pull_secrets_are_what_the_rules_say,
        crlf_stays_crlf,
        fails_closed,
        the_generator_writes_what_it_means,
        catch_all_of_a_host_with_a_port_writes_a_valid_reference,
    ]
}

// ---------------------------------------------------------------------------------------------
// The pools the generator draws from.

/// Valid references, as written in charts.
const VALID: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "docker.io/library/redis:7",
    "quay.io/prometheus/pushgateway:v1.9.0",
    "gcr.io/x/y:1@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
    "localhost:5000/a/b:c",
    "registry.corp.example.com/team/app:2",
];

/// Strings in image fields that are not references: left alone and reported.
const INVALID: &[&str] = &["foo/-bar", "UPPER/case"];

/// Pull secret names the streams may already list.
const SECRETS: &[&str] = &["regcred", "upcloud-registry", "harbor-pull"];

/// Kinds whose pod spec is at `spec.template.spec`.
const WORKLOADS: &[(&str, &str)] = &[
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
];

/// ConfigMap entries, as written: several mean something else to a YAML 1.1 reader, and one
/// looks like an image but neither its key nor a registry says so (it is never touched).
const CONFIG: &[(&str, &str)] = &[
    ("enabled", "yes"),
    ("mode", "0644"),
    ("switch", "on"),
    ("quoted", "\"yes\""),
    ("perm", "'0755'"),
    ("release", "nginx:1.25"),
    ("url", "http://example.com/a#b # and a comment"),
    ("empty", "''"),
];

/// Lines that break the document they are appended to.
const CORRUPTIONS: &[&str] = &[
    "spec: {containers: [\n",
    "extra: [a, b\n",
    "note: \"open\n",
    "note: 'open\n",
];

// ---------------------------------------------------------------------------------------------
// The rules.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleSet {
    Empty,
    CatchAll,
    Mapping,
    Override,
}

const ALL_RULES: &[RuleSet] = &[
    RuleSet::Empty,
    RuleSet::CatchAll,
    RuleSet::Mapping,
    RuleSet::Override,
];

impl RuleSet {
    fn text(self) -> &'static str {
        match self {
            RuleSet::Empty => "",
            RuleSet::CatchAll => {
                "version: 1\nregistries: [{from: \"*\", to: mirror.example.com/all}]\n"
            }
            RuleSet::Mapping => concat!(
                "version: 1\n",
                "registries: [{from: docker.io, to: harbor.example.com/hub}, ",
                "{from: registry.corp.example.com, keep: true}, ",
                "{from: \"*\", to: harbor.example.com/all}]\n",
                "pullSecrets: {add: [{name: harbor-pull}], remove: [upcloud-registry]}\n",
            ),
            RuleSet::Override => concat!(
                "version: 1\n",
                "images: [{name: nginx, newName: harbor.example.com/web/nginx, newTag: \"1.26\"}]\n",
            ),
        }
    }

    fn rules(self) -> Rules {
        Rules::from_yaml(self.text(), Path::new(""))
            .unwrap_or_else(|e| panic!("rules {self:?} do not load: {e}"))
    }

    /// What these rules make of `original`; `None` when it is not a valid reference.
    fn expected(self, original: &str) -> Option<String> {
        if INVALID.contains(&original) {
            return None;
        }
        let (name, suffix) = split_reference(original);
        let name = normalized(name);
        let moved = |to: &str, rest: &str| format!("{to}/{rest}{suffix}");
        // Under a catch-all the source host is one path segment: a port is joined with `_`.
        let host_as_segment = |name: &str| match name.split_once('/') {
            Some((host, rest)) => format!("{}/{rest}", host.replace(':', "_")),
            None => name.to_string(),
        };
        let value = match self {
            RuleSet::Empty => original.to_string(),
            RuleSet::CatchAll if is_under(&name, "mirror.example.com/all") => original.to_string(),
            RuleSet::CatchAll => moved("mirror.example.com/all", &host_as_segment(&name)),
            RuleSet::Mapping => {
                if is_under(&name, "harbor.example.com/hub")
                    || is_under(&name, "harbor.example.com/all")
                    || is_under(&name, "registry.corp.example.com")
                {
                    original.to_string()
                } else if let Some(rest) = name.strip_prefix("docker.io/") {
                    moved("harbor.example.com/hub", rest)
                } else {
                    moved("harbor.example.com/all", &host_as_segment(&name))
                }
            }
            RuleSet::Override if name == "docker.io/library/nginx" => {
                "harbor.example.com/web/nginx:1.26".to_string()
            }
            RuleSet::Override => original.to_string(),
        };
        Some(value)
    }

    /// Pull secrets to remove from every holder, and to add to pod specs pulling from the
    /// registry they are for.
    fn secrets(
        self,
    ) -> (
        &'static [&'static str],
        Option<(&'static str, &'static str)>,
    ) {
        match self {
            RuleSet::Mapping => (
                &["upcloud-registry"],
                Some(("harbor-pull", "harbor.example.com")),
            ),
            _ => (&[], None),
        }
    }
}

/// `(name, ":tag@digest" as written)` by the distribution grammar: a tag follows the last `:`
/// after the last `/`.
fn split_reference(reference: &str) -> (&str, &str) {
    let end = reference.find('@').unwrap_or(reference.len());
    let slash = reference[..end].rfind('/').map_or(0, |i| i + 1);
    let name_end = reference[slash..end].find(':').map_or(end, |i| slash + i);
    (&reference[..name_end], &reference[name_end..])
}

/// `docker.io/` for names without a registry, `library/` for one-segment Docker Hub names.
fn normalized(name: &str) -> String {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    if domain == "docker.io" && !path.contains('/') {
        format!("{domain}/library/{path}")
    } else {
        format!("{domain}/{path}")
    }
}

fn is_under(name: &str, prefix: &str) -> bool {
    name == prefix
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `reference` is valid by the distribution grammar: `[domain/]component(/component)*`
/// then `[:tag]` then `[@sha256:hex64]`, components lowercase letters and digits joined by `.`,
/// `_`, `__` or dashes.
fn is_valid_reference(reference: &str) -> bool {
    let (name, suffix) = split_reference(reference);
    let (tag, digest) = match suffix.split_once('@') {
        Some((tag, digest)) => (tag, Some(digest)),
        None => (suffix, None),
    };
    let tag_ok = tag.is_empty()
        || tag.strip_prefix(':').is_some_and(|t| {
            (1..=128).contains(&t.len())
                && !t.starts_with(['.', '-'])
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        });
    let digest_ok = digest.is_none_or(|d| {
        d.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
        })
    });
    let path = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => name,
    };
    tag_ok && digest_ok && path.split('/').all(is_path_component)
}

fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let parts: Vec<&str> = component.split(|c: char| !alnum(c)).collect();
    let separators: Vec<&str> = component.split(alnum).filter(|s| !s.is_empty()).collect();
    parts.iter().all(|p| !p.is_empty())
        && separators
            .iter()
            .all(|s| matches!(*s, "." | "_" | "__") || s.chars().all(|c| c == '-'))
}

// ---------------------------------------------------------------------------------------------
// The model of a stream.

#[derive(Debug, Clone, Copy)]
enum Quote {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone)]
struct Image {
    value: &'static str,
    quote: Quote,
}

impl Image {
    fn text(&self) -> String {
        match self.quote {
            Quote::Plain => self.value.to_string(),
            Quote::Single => format!("'{}'", self.value),
            Quote::Double => format!("\"{}\"", self.value),
        }
    }
}

#[derive(Debug, Clone)]
struct Container {
    name: &'static str,
    image: Image,
    comment: bool,
    policy: bool,
    /// A block scalar in `args:`, the last thing in the container.
    args: bool,
    image_first: bool,
}

#[derive(Debug, Clone)]
enum Secrets {
    Absent,
    /// `imagePullSecrets: [{name: a}]` (or `[]`).
    Flow(Vec<&'static str>),
    /// `- name: a` lines (none: the key with no value).
    Block(Vec<&'static str>),
}

#[derive(Debug, Clone)]
enum Init {
    Absent,
    /// `initContainers:` with no value.
    Null,
    List(Vec<Container>),
}

#[derive(Debug, Clone)]
struct PodSpec {
    flow: bool,
    /// How far `- ` items are indented past their key: 0 or 2.
    dash: usize,
    containers: Vec<Container>,
    init: Init,
    secrets: Secrets,
    /// Order of the sections: 0 containers, 1 initContainers, 2 imagePullSecrets, 3 other.
    order: Vec<u8>,
    other: bool,
    comment: bool,
}

#[derive(Debug, Clone)]
enum Body {
    Workload {
        kind: &'static str,
        api: &'static str,
        pod: PodSpec,
    },
    CronJob(PodSpec),
    Pod(PodSpec),
    ConfigMap(Vec<(&'static str, &'static str)>),
    ServiceAccount(Secrets),
    Empty,
    CommentOnly,
}

#[derive(Debug, Clone)]
struct Doc {
    body: Body,
    source: bool,
    namespace: bool,
    /// A key after the pod spec, at a shallower level.
    trailer: bool,
    /// The separator line before this document (unused for the first).
    separator: &'static str,
}

#[derive(Debug, Clone)]
struct Stream {
    docs: Vec<Doc>,
    leading_separator: bool,
    crlf: bool,
    final_newline: bool,
}

// ---------------------------------------------------------------------------------------------
// Strategies.

fn image() -> impl Strategy<Value = Image> {
    let value = prop_oneof![6 => select(VALID), 1 => select(INVALID)];
    let quote = prop_oneof![
        2 => Just(Quote::Plain),
        1 => Just(Quote::Single),
        1 => Just(Quote::Double)
    ];
    (value, quote).prop_map(|(value, quote)| Image { value, quote })
}

fn container() -> impl Strategy<Value = Container> {
    (
        select(&["web", "app", "sidecar", "setup"][..]),
        image(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(name, image, comment, policy, args, image_first)| Container {
                name,
                image,
                comment,
                policy,
                args,
                image_first,
            },
        )
}

fn secrets() -> impl Strategy<Value = Secrets> {
    let names = || subsequence(SECRETS.to_vec(), 0..=SECRETS.len()).prop_shuffle();
    prop_oneof![
        2 => Just(Secrets::Absent),
        1 => names().prop_map(Secrets::Flow),
        1 => names().prop_map(Secrets::Block),
    ]
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    let init = prop_oneof![
        2 => Just(Init::Absent),
        1 => Just(Init::Null),
        1 => prop::collection::vec(container(), 1..3).prop_map(Init::List),
    ];
    (
        prop::bool::weighted(0.2),
        select(&[0usize, 2][..]),
        prop::collection::vec(container(), 1..4),
        init,
        secrets(),
        Just(vec![0u8, 1, 2, 3]).prop_shuffle(),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(flow, dash, containers, init, secrets, order, other, comment)| PodSpec {
                flow,
                dash,
                containers,
                init,
                secrets,
                order,
                other,
                comment,
            },
        )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => (select(WORKLOADS), pod_spec())
            .prop_map(|((kind, api), pod)| Body::Workload { kind, api, pod }),
        1 => pod_spec().prop_map(Body::CronJob),
        1 => pod_spec().prop_map(Body::Pod),
        1 => subsequence(CONFIG.to_vec(), 0..=CONFIG.len()).prop_map(Body::ConfigMap),
        1 => secrets().prop_map(Body::ServiceAccount),
        1 => Just(Body::Empty),
        1 => Just(Body::CommentOnly),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        body(),
        prop::bool::weighted(0.7),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop_oneof![4 => Just("---"), 1 => Just("--- "), 1 => Just("---   ")],
    )
        .prop_map(|(body, source, namespace, trailer, separator)| Doc {
            body,
            source,
            namespace,
            trailer,
            separator,
        })
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        prop::collection::vec(doc(), 1..6),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(docs, leading_separator, crlf, final_newline)| Stream {
            docs,
            leading_separator,
            crlf,
            final_newline,
        })
}

fn rule_set() -> impl Strategy<Value = RuleSet> {
    select(ALL_RULES)
}

// ---------------------------------------------------------------------------------------------
// Writing a stream.

fn secrets_block(out: &mut String, secrets: &Secrets, key: &str, item: &str) {
    match secrets {
        Secrets::Absent => {}
        Secrets::Flow(names) => {
            out.push_str(&format!("{key}imagePullSecrets: {}\n", flow_secrets(names)));
        }
        Secrets::Block(names) => {
            out.push_str(&format!("{key}imagePullSecrets:\n"));
            for name in names {
                let comment = if *name == "upcloud-registry" {
                    "  # legacy"
                } else {
                    ""
                };
                out.push_str(&format!("{item}- name: {name}{comment}\n"));
            }
        }
    }
}

fn flow_secrets(names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| format!("{{name: {n}}}")).collect();
    format!("[{}]", items.join(", "))
}

fn block_container(out: &mut String, c: &Container, item: &str) {
    let inner = format!("{item}  ");
    let name = format!("name: {}", c.name);
    let comment = if c.comment { "  # pinned" } else { "" };
    let image = format!("image: {}{comment}", c.image.text());
    let (first, second) = if c.image_first {
        (image, name)
    } else {
        (name, image)
    };
    out.push_str(&format!("{item}- {first}\n{inner}{second}\n"));
    if c.policy {
        out.push_str(&format!("{inner}imagePullPolicy: IfNotPresent\n"));
    }
    if c.args {
        out.push_str(&format!(
            "{inner}args:\n{inner}- |\n{inner}  echo hello\n{inner}  echo done\n"
        ));
    }
}

fn flow_container(c: &Container) -> String {
    let policy = if c.policy {
        ", imagePullPolicy: Always"
    } else {
        ""
    };
    if c.image_first {
        format!("{{image: {}, name: {}{policy}}}", c.image.text(), c.name)
    } else {
        format!("{{name: {}, image: {}{policy}}}", c.name, c.image.text())
    }
}

fn flow_containers(cs: &[Container]) -> String {
    let items: Vec<String> = cs.iter().map(flow_container).collect();
    format!("[{}]", items.join(", "))
}

/// `key_line` (such as `    spec:`) and the pod spec, its keys at column `indent`.
fn pod(out: &mut String, pod: &PodSpec, key_line: &str, indent: usize) {
    if pod.flow {
        let mut parts = Vec::new();
        for section in &pod.order {
            match (section, &pod.init, &pod.secrets) {
                (0, _, _) => {
                    parts.push(format!("containers: {}", flow_containers(&pod.containers)))
                }
                (1, Init::Null, _) => parts.push("initContainers: ~".to_string()),
                (1, Init::List(cs), _) => {
                    parts.push(format!("initContainers: {}", flow_containers(cs)));
                }
                (2, _, Secrets::Flow(names) | Secrets::Block(names)) => {
                    parts.push(format!("imagePullSecrets: {}", flow_secrets(names)));
                }
                (3, _, _) if pod.other => parts.push("hostNetwork: false".to_string()),
                _ => {}
            }
        }
        let comment = if pod.comment { "  # flow" } else { "" };
        out.push_str(&format!("{key_line} {{{}}}{comment}\n", parts.join(", ")));
        return;
    }
    out.push_str(key_line);
    out.push('\n');
    let key = " ".repeat(indent);
    let item = " ".repeat(indent + pod.dash);
    for section in &pod.order {
        match section {
            0 => {
                let comment = if pod.comment { "  # the app" } else { "" };
                out.push_str(&format!("{key}containers:{comment}\n"));
                for c in &pod.containers {
                    block_container(out, c, &item);
                }
            }
            1 => match &pod.init {
                Init::Absent => {}
                Init::Null => out.push_str(&format!("{key}initContainers:\n")),
                Init::List(cs) => {
                    out.push_str(&format!("{key}initContainers:\n"));
                    for c in cs {
                        block_container(out, c, &item);
                    }
                }
            },
            2 => secrets_block(out, &pod.secrets, &key, &item),
            _ if pod.other => out.push_str(&format!("{key}terminationGracePeriodSeconds: 30\n")),
            _ => {}
        }
    }
}

fn header(out: &mut String, api: &str, kind: &str, name: &str, namespace: bool) {
    out.push_str(&format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"
    ));
    if namespace {
        out.push_str("  namespace: demo\n");
    }
}

fn render_doc(doc: &Doc, index: usize) -> String {
    let mut out = String::new();
    if doc.source {
        out.push_str(&format!("# Source: chart/templates/doc{index}.yaml\n"));
    }
    let name = format!("release-{index}");
    match &doc.body {
        Body::Workload { kind, api, pod: p } => {
            header(&mut out, api, kind, &name, doc.namespace);
            out.push_str("spec:\n");
            if *kind != "Job" {
                out.push_str("  selector:\n    matchLabels: {app: web}\n");
            }
            out.push_str("  template:\n    metadata:\n      labels:\n        app: web\n");
            pod(&mut out, p, "    spec:", 6);
            if doc.trailer {
                out.push_str("  revisionHistoryLimit: 10\n");
            }
        }
        Body::CronJob(p) => {
            header(&mut out, "batch/v1", "CronJob", &name, doc.namespace);
            out.push_str("spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n");
            out.push_str("      template:\n");
            pod(&mut out, p, "        spec:", 10);
            if doc.trailer {
                out.push_str("  successfulJobsHistoryLimit: 3\n");
            }
        }
        Body::Pod(p) => {
            header(&mut out, "v1", "Pod", &name, doc.namespace);
            pod(&mut out, p, "spec:", 2);
            if doc.trailer {
                out.push_str("status: {}\n");
            }
        }
        Body::ConfigMap(entries) => {
            header(&mut out, "v1", "ConfigMap", &name, doc.namespace);
            if entries.is_empty() {
                out.push_str("data: {}\n");
            } else {
                out.push_str("data:\n");
                for (key, value) in entries {
                    out.push_str(&format!("  {key}: {value}\n"));
                }
            }
        }
        Body::ServiceAccount(secrets) => {
            header(&mut out, "v1", "ServiceAccount", &name, doc.namespace);
            secrets_block(&mut out, secrets, "", "");
            if doc.trailer {
                out.push_str("automountServiceAccountToken: false\n");
            }
        }
        Body::Empty => {}
        Body::CommentOnly => out.push_str("# nothing to render here\n#   (disabled)\n"),
    }
    out
}

/// The stream's text; `corrupt` appends a broken line to one document.
fn render_stream(stream: &Stream, corrupt: Option<(usize, &str)>) -> String {
    let mut out = String::new();
    if stream.leading_separator {
        out.push_str("---\n");
    }
    for (i, doc) in stream.docs.iter().enumerate() {
        if i > 0 {
            out.push_str(doc.separator);
            out.push('\n');
        }
        out.push_str(&render_doc(doc, i));
        if let Some((at, text)) = corrupt {
            if at == i {
                out.push_str(text);
            }
        }
    }
    if !stream.final_newline && out.ends_with('\n') {
        out.pop();
    }
    if stream.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading a stream back.

fn render<'a>(input: &'a str, rules: &Rules) -> Result<Rendered<'a>, TestCaseError> {
    reimage::render(input.as_bytes(), rules, None)
        .map_err(|e| TestCaseError::fail(format!("render failed: {e}\ninput:\n{input}")))
}

fn utf8(output: &reimage::apply::Output<'_>) -> Result<String, TestCaseError> {
    String::from_utf8(output.to_vec())
        .map_err(|e| TestCaseError::fail(format!("output not UTF-8: {e}")))
}

/// Every YAML document of the stream, as serde_yaml reads it.
fn documents(text: &str) -> Result<Vec<Value>, TestCaseError> {
    serde_yaml::Deserializer::from_str(text)
        .map(Value::deserialize)
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("serde_yaml cannot read: {e}\n{text}")))
}

/// A pod spec or ServiceAccount: its images in text order and its pull secret names, sorted.
#[derive(Debug, PartialEq)]
struct Holder {
    images: Vec<String>,
    secrets: Vec<String>,
}

/// Where the pod spec of a built-in kind is.
fn pod_spec_path(kind: &str, api: &str) -> Option<&'static [&'static str]> {
    match (kind, api) {
        ("Pod", "v1") => Some(&["spec"]),
        ("Deployment" | "StatefulSet" | "DaemonSet", "apps/v1") | ("Job", "batch/v1") => {
            Some(&["spec", "template", "spec"])
        }
        ("CronJob", "batch/v1") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// The document without its image values and `imagePullSecrets`, and what was taken out.
fn dissect(doc: &Value) -> (Value, Vec<Holder>) {
    let mut doc = doc.clone();
    let field = |key: &str| {
        doc.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (kind, api) = (field("kind"), field("apiVersion"));
    let mut holders = Vec::new();
    if let Some(path) = pod_spec_path(&kind, &api) {
        let mut node = Some(&mut doc);
        for key in path {
            node = node.and_then(|n| n.get_mut(*key));
        }
        if let Some(Value::Mapping(spec)) = node {
            holders.push(take_pod_spec(spec));
        }
    } else if (kind.as_str(), api.as_str()) == ("ServiceAccount", "v1") {
        if let Value::Mapping(map) = &mut doc {
            holders.push(Holder {
                images: Vec::new(),
                secrets: take_secrets(map),
            });
        }
    }
    (doc, holders)
}

fn take_pod_spec(spec: &mut Mapping) -> Holder {
    let mut images = Vec::new();
    for (key, value) in spec.iter_mut() {
        let listed = ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .any(|k| key.as_str() == Some(k));
        let (true, Value::Sequence(items)) = (listed, value) else {
            continue;
        };
        for item in items {
            if let Some(image) = item.as_mapping_mut().and_then(|c| c.shift_remove("image")) {
                images.push(
                    image
                        .as_str()
                        .map_or_else(|| format!("{image:?}"), str::to_string),
                );
            }
        }
    }
    Holder {
        images,
        secrets: take_secrets(spec),
    }
}

fn take_secrets(map: &mut Mapping) -> Vec<String> {
    let mut names: Vec<String> = match map.shift_remove("imagePullSecrets") {
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                item.get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{item:?}"), str::to_string)
            })
            .collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![format!("{other:?}")],
    };
    names.sort();
    names
}

/// Every document dissected; the holders of all documents in stream order.
fn dissect_all(text: &str) -> Result<(Vec<Value>, Vec<Holder>), TestCaseError> {
    let mut rest = Vec::new();
    let mut holders = Vec::new();
    for doc in documents(text)? {
        let (stripped, found) = dissect(&doc);
        rest.push(stripped);
        holders.extend(found);
    }
    Ok((rest, holders))
}

/// The lines of `text` (without line breaks) with image values replaced by a marker of their
/// quoting style, flow `imagePullSecrets` lists cut out, and the lines of block ones dropped.
/// A missing final line break counts as one: reimage ends the stream with one when it adds lines
/// after the last line of the last document.
fn masked_lines(text: &str) -> Vec<String> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter_map(mask_line)
        .collect()
}

fn mask_line(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("- name: ") {
        let name = rest.split(' ').next().unwrap_or_default();
        if SECRETS.contains(&name) {
            return None;
        }
    }
    let masked = mask_images(&cut_secret_lists(line));
    let bare = masked.trim();
    if bare == "imagePullSecrets:" || (bare.is_empty() && line.contains("imagePullSecrets")) {
        return None;
    }
    Some(masked)
}

/// Removes every `imagePullSecrets: [...]` and one `, ` next to it.
fn cut_secret_lists(line: &str) -> String {
    let mut line = line.to_string();
    while let Some(start) = line.find("imagePullSecrets: [") {
        let Some(close) = line[start..].find(']') else {
            break;
        };
        let mut end = start + close + 1;
        let mut start = start;
        if line[end..].starts_with(", ") {
            end += 2;
        } else if line[..start].ends_with(", ") {
            start -= 2;
        }
        line.replace_range(start..end, "");
    }
    line
}

/// Replaces the value after every `image: ` by `<plain>`, `<single>` or `<double>`.
fn mask_images(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("image: ") {
        let (head, tail) = rest.split_at(i + "image: ".len());
        out.push_str(head);
        let end = match tail.chars().next() {
            Some(q @ ('"' | '\'')) => {
                out.push_str(if q == '"' { "<double>" } else { "<single>" });
                tail[1..].find(q).map_or(tail.len(), |j| j + 2)
            }
            _ => {
                out.push_str("<plain>");
                tail.find([' ', ',', '}']).unwrap_or(tail.len())
            }
        };
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn only_crlf(text: &str) -> bool {
    text.match_indices('\n')
        .all(|(i, _)| text[..i].ends_with('\r'))
}

fn config() -> Config {
    Config {
        // Failures are reported and shrunk, never written to a regressions file.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The properties.

proptest! {
    #![proptest_config(config())]

    /// 1. Rendering the output again with the same rules changes nothing and reports nothing
    /// done.
    fn idempotent(stream in stream(), set in rule_set()) {
        let input = render_stream(&stream, None);
        let rules = set.rules();
        let once = render(&input, &rules)?;
        let once_text = &utf8(&once.output)?;
        let twice = render(once_text, &rules)?;
        prop_assert_eq!(&utf8(&twice.output)?, once_text, "rules {:?}\ninput:\n{}", set, input);
        prop_assert!(twice.report.findings.iter().all(|f| f.status != reimage::plan::Status::Rewritten));
        let changed = |n: &reimage::report::SecretNote| !n.added.is_empty() || !n.removed.is_empty();
        prop_assert!(!twice.report.secrets.iter().any(changed), "{:?}", twice.report.secrets);
    }

    /// 2. Two renders of the same input give the same bytes and the same report.
    fn deterministic(stream in stream(), set in rule_set()) {
        let input = render_stream(&stream, None);
        let rules = set.rules();
        let a = render(&input, &rules)?;
        let b = render(&input, &rules)?;
        prop_assert_eq!(a.output.to_vec(), b.output.to_vec());
        prop_assert_eq!(&a.report.findings, &b.report.findings);
        prop_assert_eq!(&a.report.secrets, &b.report.secrets);
    }

    /// 3. Without rules the output is the input, byte for byte.
    fn empty_rules_are_the_identity(stream in stream()) {
        let input = render_stream(&stream, None);
        let rendered = render(&input, &RuleSet::Empty.rules())?;
        prop_assert_eq!(utf8(&rendered.output)?, input.as_str());
        prop_assert!(rendered.report.findings.iter().all(|f| f.status != reimage::plan::Status::Rewritten));
    }

    /// 4. Only image values and `imagePullSecrets` change: in the parsed documents, and line
    /// by line (with image values masked, keeping their quoting style).
    fn only_images_and_pull_secrets_change(stream in stream(), set in rule_set()) {
        let input = render_stream(&stream, None);
        let rendered = render(&input, &set.rules())?;
        let output = &utf8(&rendered.output)?;
        let (before, _) = dissect_all(&input)?;
        let (after, _) = dissect_all(output)?;
        prop_assert_eq!(before, after, "rules {:?}\ninput:\n{}\noutput:\n{}", set, input, output);
        let (before, after) = (masked_lines(&input), masked_lines(output));
        prop_assert_eq!(before, after, "rules {:?}\ninput:\n{}\noutput:\n{}", set, input, output);
    }

    /// 5. Every image is what the rules say, in the report and in the output as a YAML
    /// parser reads it; invalid ones are left alone; pull secrets are what the rules say.
    fn images_and_pull_secrets_are_what_the_rules_say(stream in stream(), set in rule_set()) {
        let input = render_stream(&stream, None);
        let rendered = render(&input, &set.rules())?;
        let output = &utf8(&rendered.output)?;
        let findings = &rendered.report.findings;
        for f in findings {
            match set.expected(&f.original) {
                None => {
                    prop_assert_eq!(f.status, reimage::plan::Status::Invalid, "{:?}", f);
                    prop_assert_eq!(&f.final_value, &f.original);
                }
                Some(expected) => {
                    prop_assert_eq!(&f.final_value, &expected, "{:?}", f);
                    let status = if expected == f.original { reimage::plan::Status::Unchanged } else { reimage::plan::Status::Rewritten };
                    prop_assert_eq!(f.status, status, "{:?}", f);
                    prop_assert!(is_valid_reference(&f.final_value), "{:?}", f);
                }
            }
        }
        let (_, before) = dissect_all(&input)?;
        let (_, after) = dissect_all(output)?;
        let originals: Vec<&String> = before.iter().flat_map(|h| &h.images).collect();
        let finals: Vec<&String> = after.iter().flat_map(|h| &h.images).collect();
        let reported: Vec<&String> = findings.iter().map(|f| &f.original).collect();
        prop_assert_eq!(originals, reported, "input:\n{}", input);
        let reported: Vec<&String> = findings.iter().map(|f| &f.final_value).collect();
        prop_assert_eq!(finals, reported, "output:\n{}", output);

        let (remove, add) = set.secrets();
        prop_assert_eq!(before.len(), after.len());
        for (old, new) in before.iter().zip(&after) {
            let mut expected: Vec<String> = old
                .secrets
                .iter()
                .filter(|s| !remove.contains(&s.as_str()))
                .cloned()
                .collect();
            if let Some((name, registry)) = add {
                let pulls = new.images.iter().any(|i| {
                    !INVALID.contains(&i.as_str())
                        && is_under(&normalized(split_reference(i).0), registry)
                });
                if pulls && !expected.iter().any(|s| s == name) {
                    expected.push(name.to_string());
                }
            }
            expected.sort();
            prop_assert_eq!(&new.secrets, &expected, "holder {:?}\noutput:\n{}", new, output);
        }
    }

    /// 6. A stream with only CRLF line endings keeps only CRLF line endings.
    fn crlf_stays_crlf(mut stream in stream(), set in rule_set()) {
        stream.crlf = true;
        let input = render_stream(&stream, None);
        prop_assert!(only_crlf(&input));
        let rendered = render(&input, &set.rules())?;
        let output = &utf8(&rendered.output)?;
        prop_assert!(only_crlf(output), "rules {:?}\ninput:\n{:?}\noutput:\n{:?}", set, input, output);
    }

    /// 7. A stream with a broken document is refused, whatever the rules.
    fn fails_closed(
        stream in stream(),
        set in rule_set(),
        at in any::<Index>(),
        broken in select(CORRUPTIONS),
    ) {
        let input = render_stream(&stream, Some((at.index(stream.docs.len()), broken)));
        let result = reimage::render(input.as_bytes(), &set.rules(), None);
        prop_assert!(result.is_err(), "rules {:?} accepted:\n{}", set, input);
    }
}

/// The generator's streams are read by serde_yaml, and the checks above see their images.
fn the_generator_writes_what_it_means() {
    let text = render_stream(
        &Stream {
            docs: vec![Doc {
                body: Body::CronJob(PodSpec {
                    flow: false,
                    dash: 2,
                    containers: vec![Container {
                        name: "web",
                        image: Image {
                            value: "nginx:1.25",
                            quote: Quote::Single,
                        },
                        comment: true,
                        policy: true,
                        args: true,
                        image_first: true,
                    }],
                    init: Init::Null,
                    secrets: Secrets::Block(vec!["upcloud-registry"]),
                    order: vec![0, 1, 2, 3],
                    other: true,
                    comment: true,
                }),
                source: true,
                namespace: true,
                trailer: true,
                separator: "---",
            }],
            leading_separator: true,
            crlf: false,
            final_newline: true,
        },
        None,
    );
    let (_, holders) = dissect_all(&text).unwrap();
    assert_eq!(
        holders,
        [Holder {
            images: vec!["nginx:1.25".to_string()],
            secrets: vec!["upcloud-registry".to_string()],
        }],
        "{text}"
    );
    assert_eq!(
        mask_line("        - image: 'nginx:1.25'  # pinned").as_deref(),
        Some("        - image: <single>  # pinned")
    );
    assert_eq!(
        mask_line("spec: {imagePullSecrets: [{name: a}], containers: [{image: x}]}").as_deref(),
        Some("spec: {containers: [{image: <plain>}]}")
    );
    assert_eq!(
        split_reference("localhost:5000/a/b:c"),
        ("localhost:5000/a/b", ":c")
    );
    assert_eq!(normalized("nginx"), "docker.io/library/nginx");
    assert!(VALID.iter().all(|r| is_valid_reference(r)));
    assert!(!INVALID.iter().any(|r| is_valid_reference(r)));
    assert!(!is_valid_reference(
        "m.example.com/all/localhost:5000/a/b:c"
    ));
    assert_eq!(
        RuleSet::Mapping
            .expected("docker.io/library/redis:7")
            .as_deref(),
        Some("harbor.example.com/hub/library/redis:7")
    );
}

/// Regression: a catch-all once wrote a source registry's port into a path segment
/// (`harbor.example.com/all/localhost:5000/a/b:c`), which is not a valid reference and so got no
/// pull secret. Found by `images_and_pull_secrets_are_what_the_rules_say`.
fn catch_all_of_a_host_with_a_port_writes_a_valid_reference() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: localhost:5000/a/b:c\n";
    let rendered = reimage::render(input.as_bytes(), &RuleSet::Mapping.rules(), None).unwrap();
    let output = String::from_utf8(rendered.output.to_vec()).unwrap();
    let finding = &rendered.report.findings[0];
    assert_eq!(finding.status, reimage::plan::Status::Rewritten);
    assert!(
        is_valid_reference(&finding.final_value),
        "`{}` is not a valid reference\n{output}",
        finding.final_value
    );
    assert!(
        output.contains("harbor-pull"),
        "no pull secret added:\n{output}"
    );
}
