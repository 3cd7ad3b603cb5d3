//! The grammar of the generated streams: its features (each can be switched off as a known
//! gap), a seeded generator of document trees, and the writer that turns a tree into YAML text
//! with randomly chosen styles. Everything is string building; no YAML serializer is involved.

use std::collections::BTreeSet;

use base64::Engine as _;

macro_rules! features {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)*) => {
        /// A construct the grammar can write. While a feature is listed as a known gap it is
        /// never generated.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Feature {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl Feature {
            /// Every feature, in declaration order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];

            /// The name used in reports and in `REIMAGE_DIFFERENTIAL_ENABLE`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)*
                }
            }
        }
    };
}

features! {
    /// A Pod, pod spec at `spec`.
    Pod = "pod",
    /// A PodTemplate, pod spec at `template.spec`.
    PodTemplate = "pod-template",
    /// A ReplicationController, pod spec at `spec.template.spec`.
    ReplicationController = "replication-controller",
    /// A Deployment.
    Deployment = "deployment",
    /// A ReplicaSet.
    ReplicaSet = "replica-set",
    /// A StatefulSet.
    StatefulSet = "stateful-set",
    /// A DaemonSet.
    DaemonSet = "daemon-set",
    /// A Job.
    Job = "job",
    /// A CronJob, pod spec at `spec.jobTemplate.spec.template.spec`.
    CronJob = "cron-job",
    /// `kind: List` with workloads in `items`.
    List = "list",
    /// A custom resource (`example.com/v1` Widget) with a pod spec at `spec.template.spec`.
    CustomResource = "custom-resource",
    /// ConfigMaps and Services, with values YAML 1.1 reads differently (`yes`, `0644`).
    OtherObjects = "other-objects",
    /// Documents with nothing in them, or only comments.
    EmptyDocument = "empty-document",
    /// `initContainers`.
    InitContainers = "init-containers",
    /// `ephemeralContainers`.
    EphemeralContainers = "ephemeral-containers",
    /// Flow mappings and sequences (`{…}`, `[…]`), up to a whole document.
    FlowStyle = "flow-style",
    /// Comments and line breaks inside flow collections.
    FlowComments = "flow-comments",
    /// A whole document written as JSON.
    JsonDocument = "json-document",
    /// Block sequences at their key's indentation (`containers:` then `- name: …`).
    IndentlessSequences = "indentless-sequences",
    /// Keys in quotes (`"image": …`).
    QuotedKeys = "quoted-keys",
    /// Single-quoted scalars.
    SingleQuoted = "single-quoted",
    /// Double-quoted scalars.
    DoubleQuoted = "double-quoted",
    /// Double-quoted images with escapes (`"nginx\x3a1"`, `"\u006eginx"`).
    DoubleQuotedEscapes = "double-quoted-escapes",
    /// Literal block scalars (`|-`, and `|`, `|+` for other values).
    LiteralBlock = "literal-block",
    /// Folded block scalars (`>-`).
    FoldedBlock = "folded-block",
    /// Full-line and end-of-line comments, blank lines, `# Source:` lines.
    Comments = "comments",
    /// `image: &img …` reused as `image: *img`.
    AnchoredImage = "anchored-image",
    /// `containers: &cs […]` reused as `*cs`, and anchored containers reused as `- *c`.
    AnchoredContainers = "anchored-containers",
    /// An anchored pod spec reused as `template: {spec: *ps}` in a later List item.
    AliasedPodSpec = "aliased-pod-spec",
    /// `<<: *base` in containers and pod specs.
    MergeKey = "merge-key",
    /// `<<: {image: …}`.
    MergeInline = "merge-inline",
    /// `<<: [*a, *b]` and `<<: [*a, {image: …}]`.
    MergeList = "merge-list",
    /// `image: …` before a `<<` that also sets it (go-yaml v2 lets the merge win).
    MergeAfterKey = "merge-after-key",
    /// `!!str` on images.
    StrTag = "str-tag",
    /// `!!binary` with the base64 of an image name.
    BinaryTag = "binary-tag",
    /// `imagePullSecrets: !!null`.
    NullPullSecrets = "null-pull-secrets",
    /// `imagePullSecrets:` with no value, or `[]`.
    EmptyPullSecrets = "empty-pull-secrets",
    /// `imagePullSecrets` lists already present (sometimes with the mirror's secret).
    ExistingPullSecrets = "existing-pull-secrets",
    /// A key twice in one mapping, the other copy before or after (the last one counts).
    DuplicateKeys = "duplicate-keys",
    /// A UTF-8 byte order mark at the start of the stream.
    Bom = "bom",
    /// CRLF line endings.
    Crlf = "crlf",
    /// CR-only line endings.
    CrOnly = "cr-only",
    /// LF and CRLF mixed in one stream.
    MixedLineEndings = "mixed-line-endings",
    /// No line break at the end of the stream.
    NoFinalNewline = "no-final-newline",
    /// NEL, LS or PS in a comment, followed by nothing or by another comment.
    BreakInComment = "break-in-comment",
    /// NEL, LS or PS in a comment followed by a key or an item, which only YAML 1.1 reads.
    HiddenAfterBreak = "hidden-after-break",
    /// NEL, LS or PS inside quoted values.
    BreakInQuoted = "break-in-quoted",
    /// NEL, LS or PS inside plain values (followed by a continuation).
    BreakInPlain = "break-in-plain",
    /// `---` before the first document.
    LeadingSeparator = "leading-separator",
    /// `--- # comment`.
    SeparatorComment = "separator-comment",
    /// `---#comment`: a separator to Kubernetes, a plain scalar to a YAML reader.
    SeparatorHash = "separator-hash",
    /// `---` followed by spaces or a tab.
    SeparatorSpaces = "separator-spaces",
    /// `...` ending a document.
    DocumentEnd = "document-end",
    /// A document whose first key is indented deeper than the next (go-yaml v2 reads only
    /// up to the first line that is indented less).
    IndentedStart = "indented-start",
}

impl Feature {
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Features a JSON document cannot have.
    fn yaml_only(self) -> bool {
        use Feature::*;
        matches!(
            self,
            FlowComments
                | IndentlessSequences
                | QuotedKeys
                | SingleQuoted
                | DoubleQuotedEscapes
                | LiteralBlock
                | FoldedBlock
                | Comments
                | AnchoredImage
                | AnchoredContainers
                | AliasedPodSpec
                | MergeKey
                | MergeInline
                | MergeList
                | MergeAfterKey
                | StrTag
                | BinaryTag
                | NullPullSecrets
                | BreakInComment
                | HiddenAfterBreak
                | BreakInQuoted
                | BreakInPlain
                | FlowStyle
                | IndentedStart
        )
    }

    /// Features that define or use anchors, which the losing copy of a duplicate key avoids.
    fn anchoring(self) -> bool {
        use Feature::*;
        matches!(
            self,
            AnchoredImage
                | AnchoredContainers
                | AliasedPodSpec
                | MergeKey
                | MergeList
                | MergeAfterKey
        )
    }
}

/// The custom resource the grammar writes: kind and apiVersion (its pod spec is at
/// `spec.template.spec`).
const CUSTOM_RESOURCE: (&str, &str) = ("Widget", "example.com/v1");

/// SplitMix64: small, fast and good enough to drive a grammar.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of stream `index` of a batch.
pub fn stream_seed(base: u64, index: u64) -> u64 {
    Rng::new(base ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Valid image references, as charts write them.
const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "docker.io/library/redis:7",
    "quay.io/prometheus/pushgateway:v1.9.0",
    "gcr.io/x/y:1@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
    "localhost:5000/a/b:c",
    "registry.corp.example.com/team/app:2",
    "busybox:1.36",
    "ghcr.io/example/sidecar:v0.9.1",
    "index.docker.io/library/alpine:3.20",
    "registry.k8s.io/pause:3.9",
    "public.ecr.aws/nginx/nginx:1.27-alpine",
];

/// Pull secrets the streams may already list; the last is the mirror's.
const SECRETS: &[&str] = &["regcred", "harbor-pull", "mirror-pull"];

/// Values of fields nothing edits; several mean something else to a YAML 1.1 reader, some
/// need quotes.
const FREE: &[&str] = &[
    "hello world",
    "yes",
    "0644",
    "on",
    "1.10",
    "a: b",
    "x # y",
    "",
    "semi; colon",
    "http://example.com/a#b",
    "--- not a separator",
    "it's",
    "say \"hi\"",
    "tail: ",
];

/// Written for a value that needs quotes when no quoting is enabled (images and names never
/// need them).
const STAND_IN: &str = "stand-in";

const NAMES: &[&str] = &["web", "api", "worker", "db", "cache"];
const COMMENTS: &[&str] = &[
    " note",
    " TODO: pin",
    "",
    " --- not a separator",
    " image: x:1",
    "#",
];
const BREAKS: &[char] = &['\u{85}', '\u{2028}', '\u{2029}'];

/// A node of a document, before it is written.
#[derive(Clone, Debug)]
pub enum Node {
    /// A string the writer may quote as it likes.
    Text(String, Role),
    /// Written exactly as given (numbers, booleans, empty, `~`).
    Raw(String),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Alias(String),
    Anchor(String, Box<Node>),
    Tag(&'static str, Box<Node>),
    /// A sequence item only a YAML 1.1 reader sees (flow text after a break in a comment).
    Hidden(String),
}

#[derive(Clone, Debug)]
pub enum Entry {
    Pair(String, Node),
    /// `key: value` only a YAML 1.1 reader sees (after a break in a comment).
    Hidden(String),
}

/// What a string is, which decides how it may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An image (or its base64): any quoting, `|-`/`>-`, never a line break.
    Image,
    /// A name or identifier: never decorated.
    Name,
    /// Anything: may be replaced when it cannot be written, may get line breaks.
    Free,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    /// The text needs quotes and no quoting is enabled: a plain stand-in is written instead.
    StandIn,
    Single,
    Double,
    Escaped,
    Literal(&'static str),
    Folded,
}

fn text(value: &str, role: Role) -> Node {
    Node::Text(value.to_owned(), role)
}

fn name(value: &str) -> Node {
    text(value, Role::Name)
}

fn raw(value: &str) -> Node {
    Node::Raw(value.to_owned())
}

fn pair(key: &str, value: Node) -> Entry {
    Entry::Pair(key.to_owned(), value)
}

/// Anchors defined so far in the current document, and how it is written.
#[derive(Default)]
struct DocState {
    json: bool,
    decoy: bool,
    step: usize,
    indentless: bool,
    images: Vec<String>,
    containers: Vec<String>,
    lists: Vec<String>,
    specs: Vec<String>,
    anchors: usize,
}

/// A generated stream and the features it uses.
pub struct Stream {
    pub text: String,
    pub features: BTreeSet<Feature>,
}

/// The stream of `seed`, with only `enabled` features.
pub fn generate(seed: u64, enabled: &BTreeSet<Feature>) -> Stream {
    let mut g = Generator {
        rng: Rng::new(seed),
        enabled,
        used: BTreeSet::new(),
        doc: DocState::default(),
    };
    let text = g.stream();
    Stream {
        text,
        features: g.used,
    }
}

struct Generator<'a> {
    rng: Rng,
    enabled: &'a BTreeSet<Feature>,
    used: BTreeSet<Feature>,
    doc: DocState,
}

const WORKLOADS: &[Feature] = &[
    Feature::Pod,
    Feature::PodTemplate,
    Feature::ReplicationController,
    Feature::Deployment,
    Feature::ReplicaSet,
    Feature::StatefulSet,
    Feature::DaemonSet,
    Feature::Job,
    Feature::CronJob,
];

impl Generator<'_> {
    fn allowed(&self, feature: Feature) -> bool {
        self.enabled.contains(&feature)
            && !(self.doc.json && feature.yaml_only())
            && !(self.doc.decoy && feature.anchoring())
    }

    /// Whether to use `feature` here: the dice say so (`percent`) and it is allowed.
    fn on(&mut self, feature: Feature, percent: u64) -> bool {
        let hit = self.rng.percent(percent) && self.allowed(feature);
        if hit {
            self.used.insert(feature);
        }
        hit
    }

    /// One of the allowed `options`, recorded as used.
    fn choose(&mut self, options: &[Feature]) -> Option<Feature> {
        let allowed: Vec<Feature> = options
            .iter()
            .copied()
            .filter(|f| self.allowed(*f))
            .collect();
        if allowed.is_empty() {
            return None;
        }
        let feature = *self.rng.pick(&allowed);
        self.used.insert(feature);
        Some(feature)
    }

    fn anchor(&mut self, prefix: &str) -> String {
        self.doc.anchors += 1;
        format!("{prefix}{}", self.doc.anchors)
    }

    fn pick_str(&mut self, items: &[&str]) -> String {
        (*self.rng.pick(items)).to_owned()
    }

    // -----------------------------------------------------------------------------------------
    // The stream.

    fn stream(&mut self) -> String {
        let documents = 1 + self.rng.below(4);
        let mut s = String::new();
        if self.on(Feature::Bom, 5) {
            s.push('\u{feff}');
        }
        if self.on(Feature::LeadingSeparator, 30) {
            s.push_str(&self.separator());
        }
        let mut last_empty = true;
        for i in 0..documents {
            if i > 0 {
                if !last_empty && self.on(Feature::DocumentEnd, 10) {
                    s.push_str(self.document_end());
                }
                s.push_str(&self.separator());
            }
            if self.on(Feature::Comments, 25) {
                s.push_str("# Source: chart/templates/");
                s.push_str(NAMES[i % NAMES.len()]);
                s.push_str(".yaml\n");
            }
            let (doc, empty) = self.document();
            s.push_str(&doc);
            last_empty = empty;
        }
        if !last_empty && self.on(Feature::DocumentEnd, 5) {
            s.push_str(self.document_end());
        }
        if self.on(Feature::NoFinalNewline, 8) && s.ends_with('\n') {
            s.pop();
        }
        if self.on(Feature::Crlf, 12) {
            s.replace('\n', "\r\n")
        } else if self.on(Feature::CrOnly, 5) {
            s.replace('\n', "\r")
        } else if self.on(Feature::MixedLineEndings, 5) {
            let mut mixed = String::with_capacity(s.len());
            for c in s.chars() {
                if c == '\n' && self.rng.percent(50) {
                    mixed.push('\r');
                }
                mixed.push(c);
            }
            mixed
        } else {
            s
        }
    }

    fn separator(&mut self) -> String {
        let tail = if self.on(Feature::SeparatorComment, 15) {
            self.pick_str(&[" # comment", " #", "   # next --- document"])
        } else if self.on(Feature::SeparatorHash, 5) {
            self.pick_str(&["#comment", "#"])
        } else if self.on(Feature::SeparatorSpaces, 15) {
            self.pick_str(&["   ", " ", "\t", " \t "])
        } else {
            String::new()
        };
        format!("---{tail}\n")
    }

    fn document_end(&mut self) -> &'static str {
        if self.on(Feature::Comments, 20) {
            "... # end\n"
        } else {
            "...\n"
        }
    }

    /// A document's text, and whether it is empty (only comments or nothing).
    fn document(&mut self) -> (String, bool) {
        self.doc = DocState {
            step: if self.rng.percent(25) { 4 } else { 2 },
            ..DocState::default()
        };
        self.doc.indentless = self.on(Feature::IndentlessSequences, 40);
        if self.on(Feature::EmptyDocument, 8) {
            let mut text = String::new();
            if self.on(Feature::Comments, 50) {
                text.push_str("# nothing here\n");
            }
            return (text, true);
        }
        self.doc.json = self.on(Feature::JsonDocument, 8);
        let node = if self.rng.percent(12) && self.on(Feature::List, 100) {
            self.list()
        } else {
            self.object()
        };
        (self.write_document(&node), false)
    }

    // -----------------------------------------------------------------------------------------
    // Objects.

    fn object(&mut self) -> Node {
        let r = self.rng.below(100);
        if r < 12 && self.on(Feature::CustomResource, 100) {
            return self.custom_resource();
        }
        if (12..24).contains(&r) && self.on(Feature::OtherObjects, 100) {
            return self.other_object();
        }
        match self.choose(WORKLOADS) {
            Some(kind) => self.workload(kind),
            None => Node::Map(vec![
                pair("apiVersion", name("v1")),
                pair("kind", name("Namespace")),
                pair("metadata", Node::Map(vec![pair("name", name("empty"))])),
            ]),
        }
    }

    fn list(&mut self) -> Node {
        let items = (0..1 + self.rng.below(3)).map(|_| self.object()).collect();
        let mut entries = vec![pair("apiVersion", name("v1")), pair("kind", name("List"))];
        if self.rng.percent(30) {
            entries.push(pair(
                "metadata",
                Node::Map(vec![pair("resourceVersion", text("", Role::Free))]),
            ));
        }
        entries.push(pair("items", Node::Seq(items)));
        Node::Map(entries)
    }

    fn head(&mut self, kind: &str, api_version: &str) -> Vec<Entry> {
        let mut entries = vec![
            pair("apiVersion", name(api_version)),
            pair("kind", name(kind)),
        ];
        if self.rng.percent(20) {
            entries.swap(0, 1);
        }
        if self.on(Feature::DuplicateKeys, 6) {
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, pair("kind", name("ConfigMap")));
        }
        entries.push(pair("metadata", self.metadata()));
        entries
    }

    fn metadata(&mut self) -> Node {
        let object = self.pick_str(NAMES);
        let mut entries = vec![pair("name", name(&object))];
        if self.rng.percent(30) {
            entries.push(pair("namespace", name("default")));
        }
        if self.rng.percent(40) {
            entries.push(pair(
                "labels",
                Node::Map(vec![
                    pair("app", name(&object)),
                    pair("app.kubernetes.io/name", name(&object)),
                ]),
            ));
        }
        if self.rng.percent(30) {
            let note = self.free();
            entries.push(pair("annotations", Node::Map(vec![pair("note", note)])));
        }
        if self.on(Feature::DuplicateKeys, 5) {
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, pair("name", name("decoy")));
        }
        Node::Map(entries)
    }

    fn free(&mut self) -> Node {
        text(&self.pick_str(FREE), Role::Free)
    }

    fn workload(&mut self, kind: Feature) -> Node {
        let (kind_name, api_version) = match kind {
            Feature::Pod => ("Pod", "v1"),
            Feature::PodTemplate => ("PodTemplate", "v1"),
            Feature::ReplicationController => ("ReplicationController", "v1"),
            Feature::Deployment => ("Deployment", "apps/v1"),
            Feature::ReplicaSet => ("ReplicaSet", "apps/v1"),
            Feature::StatefulSet => ("StatefulSet", "apps/v1"),
            Feature::DaemonSet => ("DaemonSet", "apps/v1"),
            Feature::Job => ("Job", "batch/v1"),
            _ => ("CronJob", "batch/v1"),
        };
        let mut entries = self.head(kind_name, api_version);
        let labels = Node::Map(vec![pair(
            "labels",
            Node::Map(vec![pair("app", name("web"))]),
        )]);
        match kind {
            Feature::Pod => entries.push(pair("spec", self.pod_spec())),
            Feature::PodTemplate => {
                let spec = self.pod_spec();
                entries.push(pair(
                    "template",
                    Node::Map(vec![pair("metadata", labels), pair("spec", spec)]),
                ));
            }
            Feature::CronJob => {
                let spec = self.pod_spec();
                let template = Node::Map(vec![pair("spec", spec)]);
                let job = Node::Map(vec![pair(
                    "spec",
                    Node::Map(vec![pair("template", template)]),
                )]);
                entries.push(pair(
                    "spec",
                    Node::Map(vec![
                        pair("schedule", name("0 * * * *")),
                        pair("jobTemplate", job),
                    ]),
                ));
            }
            Feature::Job => {
                let spec = self.pod_spec();
                entries.push(pair(
                    "spec",
                    Node::Map(vec![
                        pair("backoffLimit", raw("1")),
                        pair(
                            "template",
                            Node::Map(vec![pair("metadata", labels), pair("spec", spec)]),
                        ),
                    ]),
                ));
            }
            _ => {
                let spec = self.pod_spec();
                let mut body = vec![
                    pair("replicas", raw("1")),
                    pair(
                        "selector",
                        Node::Map(vec![pair(
                            "matchLabels",
                            Node::Map(vec![pair("app", name("web"))]),
                        )]),
                    ),
                ];
                if kind == Feature::StatefulSet {
                    body.push(pair("serviceName", name("web")));
                }
                body.push(pair(
                    "template",
                    Node::Map(vec![pair("metadata", labels), pair("spec", spec)]),
                ));
                entries.push(pair("spec", Node::Map(body)));
            }
        }
        if self.rng.percent(10) {
            entries.push(pair("status", Node::Map(vec![])));
        }
        Node::Map(entries)
    }

    fn custom_resource(&mut self) -> Node {
        let (kind, api_version) = CUSTOM_RESOURCE;
        let mut entries = self.head(kind, api_version);
        let spec = self.pod_spec();
        entries.push(pair(
            "spec",
            Node::Map(vec![
                pair("size", raw("2")),
                pair("template", Node::Map(vec![pair("spec", spec)])),
            ]),
        ));
        Node::Map(entries)
    }

    fn other_object(&mut self) -> Node {
        if self.rng.percent(60) {
            let mut entries = self.head("ConfigMap", "v1");
            let data = (0..1 + self.rng.below(4))
                .map(|i| {
                    let value = if self.rng.percent(50) {
                        raw(self
                            .rng
                            .pick::<&str>(&["yes", "0644", "on", "1.10", "~", "0x1F"]))
                    } else {
                        self.free()
                    };
                    Entry::Pair(format!("key{i}"), value)
                })
                .collect();
            entries.push(pair("data", Node::Map(data)));
            Node::Map(entries)
        } else {
            let mut entries = self.head("Service", "v1");
            entries.push(pair(
                "spec",
                Node::Map(vec![
                    pair(
                        "ports",
                        Node::Seq(vec![Node::Map(vec![
                            pair("port", raw("80")),
                            pair("targetPort", raw("8080")),
                        ])]),
                    ),
                    pair("selector", Node::Map(vec![pair("app", name("web"))])),
                ]),
            ));
            Node::Map(entries)
        }
    }

    // -----------------------------------------------------------------------------------------
    // Pod specs.

    fn pod_spec(&mut self) -> Node {
        if !self.doc.specs.is_empty() && self.on(Feature::AliasedPodSpec, 40) {
            let spec = self.pick_str_owned(Which::Specs);
            return Node::Alias(spec);
        }
        let mut entries = Vec::new();
        let mut merged = false;
        if !self.doc.specs.is_empty() && self.on(Feature::MergeKey, 30) {
            let spec = self.pick_str_owned(Which::Specs);
            entries.push(pair("<<", Node::Alias(spec)));
            merged = true;
        }
        #[derive(Clone, Copy)]
        enum Slot {
            Containers,
            Init,
            Ephemeral,
            Secrets,
            Restart,
            Volumes,
            Account,
        }
        let mut slots = Vec::new();
        if !merged || self.rng.percent(50) {
            slots.push(Slot::Containers);
        }
        if self.on(Feature::InitContainers, 30) {
            slots.push(Slot::Init);
        }
        if self.on(Feature::EphemeralContainers, 8) {
            slots.push(Slot::Ephemeral);
        }
        if self.rng.percent(35) {
            slots.push(Slot::Secrets);
        }
        if self.rng.percent(30) || slots.is_empty() {
            slots.push(Slot::Restart);
        }
        if self.rng.percent(15) {
            slots.push(Slot::Volumes);
        }
        if self.rng.percent(15) {
            slots.push(Slot::Account);
        }
        for i in (1..slots.len()).rev() {
            let j = self.rng.below(i + 1);
            slots.swap(i, j);
        }
        for slot in slots {
            match slot {
                Slot::Containers => {
                    let list = self.containers(false);
                    entries.push(pair("containers", list));
                }
                Slot::Init => {
                    let list = self.containers(false);
                    entries.push(pair("initContainers", list));
                }
                Slot::Ephemeral => {
                    let list = self.containers(true);
                    entries.push(pair("ephemeralContainers", list));
                }
                Slot::Secrets => {
                    if let Some(secrets) = self.pull_secrets() {
                        entries.push(pair("imagePullSecrets", secrets));
                    }
                }
                Slot::Restart => entries.push(pair("restartPolicy", name("Always"))),
                Slot::Volumes => entries.push(pair(
                    "volumes",
                    Node::Seq(vec![Node::Map(vec![
                        pair("name", name("data")),
                        pair("emptyDir", Node::Map(vec![])),
                    ])]),
                )),
                Slot::Account => entries.push(pair("serviceAccountName", name("web"))),
            }
        }
        if self.on(Feature::DuplicateKeys, 10) {
            self.doc.decoy = true;
            let decoy = if self.rng.percent(50) {
                pair("containers", self.containers(false))
            } else {
                pair(
                    "imagePullSecrets",
                    Node::Seq(vec![Node::Map(vec![pair("name", name("decoy-pull"))])]),
                )
            };
            self.doc.decoy = false;
            let at = self.rng.below(entries.len() + 1);
            entries.insert(at, decoy);
        }
        let spec = Node::Map(entries);
        if self.on(Feature::AliasedPodSpec, 30) || self.on(Feature::MergeKey, 20) {
            let anchor = self.anchor("ps");
            self.doc.specs.push(anchor.clone());
            return Node::Anchor(anchor, Box::new(spec));
        }
        spec
    }

    fn pick_str_owned(&mut self, which: Which) -> String {
        let list = match which {
            Which::Images => &self.doc.images,
            Which::Containers => &self.doc.containers,
            Which::Lists => &self.doc.lists,
            Which::Specs => &self.doc.specs,
        };
        let at = self.rng.below(list.len());
        list[at].clone()
    }

    fn pull_secrets(&mut self) -> Option<Node> {
        if self.on(Feature::ExistingPullSecrets, 60) {
            let items = (0..1 + self.rng.below(2))
                .map(|_| {
                    let secret = self.pick_str(SECRETS);
                    Node::Map(vec![pair("name", name(&secret))])
                })
                .collect();
            Some(Node::Seq(items))
        } else if self.on(Feature::EmptyPullSecrets, 30) {
            Some(if self.rng.percent(50) {
                raw("")
            } else {
                Node::Seq(vec![])
            })
        } else if self.on(Feature::NullPullSecrets, 30) {
            let value = if self.rng.percent(50) { "" } else { "~" };
            Some(Node::Tag("!!null", Box::new(raw(value))))
        } else {
            None
        }
    }

    fn containers(&mut self, ephemeral: bool) -> Node {
        if !self.doc.lists.is_empty() && self.on(Feature::AnchoredContainers, 25) {
            return Node::Alias(self.pick_str_owned(Which::Lists));
        }
        let count = if ephemeral { 1 } else { 1 + self.rng.below(3) };
        let mut items: Vec<Node> = (0..count).map(|i| self.container(i)).collect();
        if self.on(Feature::HiddenAfterBreak, 6) {
            let image = self.pick_str(IMAGES);
            let at = self.rng.below(items.len() + 1);
            items.insert(
                at,
                Node::Hidden(format!("{{name: hidden, image: {image}}}")),
            );
        }
        let list = Node::Seq(items);
        if self.on(Feature::AnchoredContainers, 20) {
            let anchor = self.anchor("cs");
            self.doc.lists.push(anchor.clone());
            return Node::Anchor(anchor, Box::new(list));
        }
        list
    }

    fn container(&mut self, index: usize) -> Node {
        if index > 0 && !self.doc.containers.is_empty() && self.on(Feature::AnchoredContainers, 15)
        {
            return Node::Alias(self.pick_str_owned(Which::Containers));
        }
        let base = self.pick_str(&["app", "sidecar", "init", "debug"]);
        let mut entries = vec![pair("name", name(&format!("{base}-{index}")))];
        let mut inherits = false;
        let have_bases = !self.doc.containers.is_empty();
        if have_bases && self.on(Feature::MergeList, 15) {
            let first = self.pick_str_owned(Which::Containers);
            let second = if self.doc.containers.len() > 1 && self.rng.percent(50) {
                Node::Alias(self.pick_str_owned(Which::Containers))
            } else {
                Node::Map(vec![pair(
                    "image",
                    text(&self.pick_str(IMAGES), Role::Image),
                )])
            };
            entries.insert(0, pair("<<", Node::Seq(vec![Node::Alias(first), second])));
            inherits = true;
        } else if have_bases && self.on(Feature::MergeKey, 25) {
            let base = self.pick_str_owned(Which::Containers);
            entries.insert(0, pair("<<", Node::Alias(base)));
            inherits = true;
        } else if self.on(Feature::MergeInline, 12) {
            let image = text(&self.pick_str(IMAGES), Role::Image);
            entries.insert(
                0,
                pair(
                    "<<",
                    Node::Map(vec![
                        pair("image", image),
                        pair("imagePullPolicy", name("IfNotPresent")),
                    ]),
                ),
            );
            inherits = true;
        }
        if !inherits || self.rng.percent(40) {
            let image = self.image_value();
            if inherits && self.on(Feature::MergeAfterKey, 40) {
                entries.insert(0, pair("image", image));
            } else {
                entries.push(pair("image", image));
            }
        }
        if self.rng.percent(20) {
            entries.push(pair("imagePullPolicy", name("IfNotPresent")));
        }
        if self.rng.percent(20) {
            entries.push(pair(
                "ports",
                Node::Seq(vec![Node::Map(vec![pair("containerPort", raw("8080"))])]),
            ));
        }
        if self.rng.percent(25) {
            let value = self.free();
            entries.push(pair(
                "env",
                Node::Seq(vec![Node::Map(vec![
                    pair("name", name("MODE")),
                    pair("value", value),
                ])]),
            ));
        }
        if self.rng.percent(15) {
            let args = vec![self.free(), self.free()];
            entries.push(pair("args", Node::Seq(args)));
        }
        if self.on(Feature::DuplicateKeys, 8) {
            self.doc.decoy = true;
            let decoy = self.image_value();
            self.doc.decoy = false;
            let at = 1 + self.rng.below(entries.len());
            entries.insert(at, pair("image", decoy));
        }
        if self.on(Feature::HiddenAfterBreak, 6) {
            let image = self.pick_str(IMAGES);
            let at = 1 + self.rng.below(entries.len());
            entries.insert(at, Entry::Hidden(format!("image: {image}")));
        }
        let container = Node::Map(entries);
        if self.on(Feature::AnchoredContainers, 20)
            || self.on(Feature::MergeKey, 25)
            || self.on(Feature::MergeList, 15)
        {
            let anchor = self.anchor("c");
            self.doc.containers.push(anchor.clone());
            return Node::Anchor(anchor, Box::new(container));
        }
        container
    }

    fn image_value(&mut self) -> Node {
        if !self.doc.images.is_empty() && self.on(Feature::AnchoredImage, 30) {
            return Node::Alias(self.pick_str_owned(Which::Images));
        }
        let image = self.pick_str(IMAGES);
        let node = if self.on(Feature::BinaryTag, 6) {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&image);
            Node::Tag("!!binary", Box::new(text(&encoded, Role::Image)))
        } else if self.on(Feature::StrTag, 6) {
            Node::Tag("!!str", Box::new(text(&image, Role::Image)))
        } else {
            text(&image, Role::Image)
        };
        if self.on(Feature::AnchoredImage, 20) {
            let anchor = self.anchor("img");
            self.doc.images.push(anchor.clone());
            return Node::Anchor(anchor, Box::new(node));
        }
        node
    }

    // -----------------------------------------------------------------------------------------
    // Writing.

    fn write_document(&mut self, node: &Node) -> String {
        let mut out = String::new();
        if self.doc.json {
            let pretty = self.rng.percent(50);
            let compact = self.rng.percent(30);
            json(&mut out, node, 0, pretty, compact);
            out.push('\n');
            return out;
        }
        match node {
            Node::Map(entries) if !self.on(Feature::FlowStyle, 6) => {
                self.block_entries(&mut out, entries, 0, false);
                if self.on(Feature::IndentedStart, 3) {
                    let mut at = 0;
                    for line in out.split_inclusive('\n') {
                        if !line.starts_with(['#', '\n']) {
                            break;
                        }
                        at += line.len();
                    }
                    out.insert_str(at, "  ");
                }
            }
            _ => {
                let flow = self.flow(node, 0);
                out.push_str(&flow);
                self.end_line(&mut out);
            }
        }
        if self.on(Feature::Comments, 10) {
            out.push_str("# end of document\n");
        }
        out
    }

    fn block_entries(&mut self, out: &mut String, entries: &[Entry], indent: usize, inline: bool) {
        let mut inline = inline;
        for entry in entries {
            match entry {
                Entry::Hidden(text) => {
                    // Right after `- ` there is no line for a comment.
                    if inline {
                        continue;
                    }
                    self.hidden_line(out, indent, text);
                }
                Entry::Pair(key, value) => {
                    if !inline {
                        self.comment_lines(out, indent);
                        spaces(out, indent);
                    }
                    inline = false;
                    self.key(out, key);
                    out.push(':');
                    self.block_value(out, value, indent, false, false);
                }
            }
        }
    }

    fn block_seq(&mut self, out: &mut String, items: &[Node], indent: usize) {
        for item in items {
            if let Node::Hidden(text) = item {
                self.hidden_line(out, indent, &format!("- {text}"));
                continue;
            }
            self.comment_lines(out, indent);
            spaces(out, indent);
            out.push('-');
            self.block_value(out, item, indent, true, true);
        }
    }

    /// `# …<break><indent>text`: a comment to YAML 1.2, a comment then `text` to YAML 1.1.
    fn hidden_line(&mut self, out: &mut String, indent: usize, text: &str) {
        let brk = *self.rng.pick(BREAKS);
        spaces(out, indent);
        out.push_str("# pinned");
        out.push(brk);
        spaces(out, indent);
        out.push_str(text);
        out.push('\n');
    }

    fn key(&mut self, out: &mut String, key: &str) {
        if key != "<<" && self.on(Feature::QuotedKeys, 4) {
            if self.rng.percent(50) {
                out.push_str(&format!("\"{key}\""));
            } else {
                out.push_str(&format!("'{key}'"));
            }
        } else {
            out.push_str(key);
        }
    }

    /// Writes `node` after `key:` (`item` false) or after `-` (`item` true), to the end of
    /// its last line. `inline_map`: a block mapping may start on this line.
    fn block_value(
        &mut self,
        out: &mut String,
        node: &Node,
        indent: usize,
        item: bool,
        inline_map: bool,
    ) {
        match node {
            Node::Raw(text) => {
                if !text.is_empty() {
                    out.push(' ');
                    out.push_str(text);
                }
                self.end_line(out);
            }
            Node::Text(text, role) => self.block_scalar(out, text, *role, indent),
            Node::Alias(anchor) => {
                out.push_str(" *");
                out.push_str(anchor);
                self.end_line(out);
            }
            Node::Anchor(anchor, inner) => {
                out.push_str(" &");
                out.push_str(anchor);
                self.block_value(out, inner, indent, item, false);
            }
            Node::Tag(tag, inner) => {
                out.push(' ');
                out.push_str(tag);
                self.block_value(out, inner, indent, item, false);
            }
            Node::Map(entries) => {
                if entries.is_empty() || self.on(Feature::FlowStyle, 10) {
                    out.push(' ');
                    let flow = self.flow(node, indent);
                    out.push_str(&flow);
                    self.end_line(out);
                } else if inline_map {
                    out.push(' ');
                    self.block_entries(out, entries, indent + 2, true);
                } else {
                    self.end_line(out);
                    let step = self.doc.step;
                    self.block_entries(out, entries, indent + step, false);
                }
            }
            Node::Seq(items) => {
                if items.is_empty() || item || self.on(Feature::FlowStyle, 10) {
                    out.push(' ');
                    let flow = self.flow(node, indent);
                    out.push_str(&flow);
                    self.end_line(out);
                } else {
                    self.end_line(out);
                    let at = if self.doc.indentless {
                        indent
                    } else {
                        indent + self.doc.step
                    };
                    self.block_seq(out, items, at);
                }
            }
            Node::Hidden(_) => self.end_line(out),
        }
    }

    fn block_scalar(&mut self, out: &mut String, value: &str, role: Role, indent: usize) {
        let style = self.style(value, role, false);
        out.push(' ');
        match style {
            Style::Literal(header) => {
                out.push_str(header);
                self.end_line(out);
                spaces(out, indent + self.doc.step);
                out.push_str(value);
                out.push('\n');
            }
            Style::Folded => {
                out.push_str(">-");
                self.end_line(out);
                spaces(out, indent + self.doc.step);
                out.push_str(value);
                out.push('\n');
            }
            Style::Plain => {
                let value = self.plain_break(value, role, indent);
                out.push_str(&value);
                self.end_line(out);
            }
            Style::StandIn => {
                out.push_str(STAND_IN);
                self.end_line(out);
            }
            style => {
                let value = self.quoted_break(value, role);
                let quoted = self.quote(&value, style);
                out.push_str(&quoted);
                self.end_line(out);
            }
        }
    }

    /// A plain value with a break then an indented continuation (YAML 1.1 folds it).
    fn plain_break(&mut self, value: &str, role: Role, indent: usize) -> String {
        if role != Role::Free || !value.contains(' ') || !self.on(Feature::BreakInPlain, 25) {
            return value.to_owned();
        }
        let brk = *self.rng.pick(BREAKS);
        let continuation = " ".repeat(indent + self.doc.step);
        value.replacen(' ', &format!("{brk}{continuation}"), 1)
    }

    fn quoted_break(&mut self, value: &str, role: Role) -> String {
        if role != Role::Free || value.is_empty() || !self.on(Feature::BreakInQuoted, 25) {
            return value.to_owned();
        }
        let brk = *self.rng.pick(BREAKS);
        let at = value
            .char_indices()
            .map(|(i, _)| i)
            .nth(value.chars().count() / 2);
        let at = at.unwrap_or(0);
        format!("{}{brk}{}", &value[..at], &value[at..])
    }

    fn style(&mut self, value: &str, role: Role, flow: bool) -> Style {
        let single_line = !value.is_empty()
            && !value.starts_with([' ', '#'])
            && !value.ends_with(' ')
            && !value.contains(['\n', '\r']);
        if self.on(Feature::SingleQuoted, 15) {
            return Style::Single;
        }
        if self.on(Feature::DoubleQuoted, 15) {
            return Style::Double;
        }
        if role == Role::Image && self.on(Feature::DoubleQuotedEscapes, 8) {
            return Style::Escaped;
        }
        if !flow && role != Role::Name && single_line && self.on(Feature::LiteralBlock, 8) {
            let headers: &[&'static str] = if role == Role::Image {
                &["|-"]
            } else {
                &["|-", "|", "|+"]
            };
            return Style::Literal(self.rng.pick::<&'static str>(headers));
        }
        if !flow && role != Role::Name && single_line && self.on(Feature::FoldedBlock, 6) {
            return Style::Folded;
        }
        if plain_safe(value, flow) {
            return Style::Plain;
        }
        if self.allowed(Feature::DoubleQuoted) {
            self.used.insert(Feature::DoubleQuoted);
            return Style::Double;
        }
        if self.allowed(Feature::SingleQuoted) {
            self.used.insert(Feature::SingleQuoted);
            return Style::Single;
        }
        Style::StandIn
    }

    fn quote(&mut self, value: &str, style: Style) -> String {
        match style {
            Style::Single => format!("'{}'", value.replace('\'', "''")),
            Style::Escaped => {
                let mut out = String::from("\"");
                let target = self.rng.below(value.chars().count().max(1));
                let long = self.rng.percent(50);
                for (i, c) in value.chars().enumerate() {
                    if i == target && c.is_ascii() {
                        if long {
                            out.push_str(&format!("\\u{:04x}", c as u32));
                        } else {
                            out.push_str(&format!("\\x{:02x}", c as u32));
                        }
                    } else {
                        escape_into(&mut out, c);
                    }
                }
                out.push('"');
                out
            }
            _ => {
                let mut out = String::from("\"");
                for c in value.chars() {
                    escape_into(&mut out, c);
                }
                out.push('"');
                out
            }
        }
    }

    /// The end of a line: maybe a comment, then the line break.
    fn end_line(&mut self, out: &mut String) {
        if self.on(Feature::Comments, 8) {
            out.push_str(" # note");
            self.comment_tail(out);
        }
        out.push('\n');
    }

    fn comment_lines(&mut self, out: &mut String, indent: usize) {
        if self.on(Feature::Comments, 10) {
            if self.rng.percent(50) {
                spaces(out, indent);
            }
            out.push('#');
            let text = self.pick_str(COMMENTS);
            out.push_str(&text);
            self.comment_tail(out);
            out.push('\n');
        }
        if self.on(Feature::Comments, 3) {
            out.push('\n');
        }
    }

    /// A break inside the comment, after which YAML 1.1 sees only more comment or nothing.
    fn comment_tail(&mut self, out: &mut String) {
        if self.on(Feature::BreakInComment, 20) {
            let brk = *self.rng.pick(BREAKS);
            out.push(brk);
            match self.rng.below(3) {
                0 => {}
                1 => out.push_str("  # more"),
                _ => out.push(brk),
            }
        }
    }

    fn flow(&mut self, node: &Node, indent: usize) -> String {
        match node {
            Node::Raw(text) => text.clone(),
            Node::Text(text, role) => {
                let style = self.style(text, *role, true);
                match style {
                    Style::Plain => text.clone(),
                    Style::StandIn => STAND_IN.to_owned(),
                    style => self.quote(text, style),
                }
            }
            Node::Alias(anchor) => format!("*{anchor}"),
            Node::Anchor(anchor, inner) => format!("&{anchor} {}", self.flow(inner, indent)),
            Node::Tag(tag, inner) => {
                let inner = self.flow(inner, indent);
                if inner.is_empty() {
                    format!("{tag} ~")
                } else {
                    format!("{tag} {inner}")
                }
            }
            Node::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .filter_map(|entry| match entry {
                        Entry::Pair(key, value) => {
                            let mut k = String::new();
                            self.key(&mut k, key);
                            Some(format!("{k}: {}", self.flow(value, indent)))
                        }
                        Entry::Hidden(_) => None,
                    })
                    .collect();
                let joined = self.flow_join(&parts, indent);
                format!("{{{joined}}}")
            }
            Node::Seq(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .filter(|item| !matches!(item, Node::Hidden(_)))
                    .map(|item| self.flow(item, indent))
                    .collect();
                let joined = self.flow_join(&parts, indent);
                format!("[{joined}]")
            }
            Node::Hidden(_) => String::new(),
        }
    }

    fn flow_join(&mut self, parts: &[String], indent: usize) -> String {
        let mut out = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
                if self.on(Feature::FlowComments, 15) {
                    if self.rng.percent(50) {
                        out.push_str(" # note");
                        self.comment_tail(&mut out);
                    }
                    out.push('\n');
                    spaces(&mut out, indent + self.doc.step);
                } else {
                    out.push(' ');
                }
            }
            out.push_str(part);
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Which {
    Images,
    Containers,
    Lists,
    Specs,
}

fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push(c),
    }
}

/// Whether `value` can be written plain and still be read as this text (by the indicator
/// rules, not by type: `yes` stays plain and reads as a boolean, as charts write it).
fn plain_safe(value: &str, flow: bool) -> bool {
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.');
    first_ok
        && !value.ends_with([' ', ':'])
        && !value.contains(": ")
        && !value.contains(" #")
        && !value
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'))
        && (!flow || !value.contains([',', '[', ']', '{', '}']))
}

/// JSON text of `node`; `pretty` puts members on their own lines, `compact` drops the
/// spaces after `:` and `,`.
fn json(out: &mut String, node: &Node, indent: usize, pretty: bool, compact: bool) {
    let colon = if compact { ":" } else { ": " };
    let comma = if compact || pretty { "," } else { ", " };
    match node {
        Node::Raw(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) if !value.is_string() => out.push_str(text),
            _ if text.is_empty() || text == "~" => out.push_str("null"),
            _ => out.push_str(&serde_json::Value::from(text.as_str()).to_string()),
        },
        Node::Text(text, _) => out.push_str(&serde_json::Value::from(text.as_str()).to_string()),
        Node::Anchor(_, inner) | Node::Tag(_, inner) => json(out, inner, indent, pretty, compact),
        Node::Alias(_) | Node::Hidden(_) => out.push_str("null"),
        Node::Map(entries) => {
            let pairs: Vec<(&String, &Node)> = entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Pair(k, v) => Some((k, v)),
                    Entry::Hidden(_) => None,
                })
                .collect();
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                if pretty {
                    out.push('\n');
                    spaces(out, indent + 2);
                }
                out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                out.push_str(colon);
                json(out, value, indent + 2, pretty, compact);
            }
            if pretty && !pairs.is_empty() {
                out.push('\n');
                spaces(out, indent);
            }
            out.push('}');
        }
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                if pretty {
                    out.push('\n');
                    spaces(out, indent + 2);
                }
                json(out, item, indent + 2, pretty, compact);
            }
            if pretty && !items.is_empty() {
                out.push('\n');
                spaces(out, indent);
            }
            out.push(']');
        }
    }
}
