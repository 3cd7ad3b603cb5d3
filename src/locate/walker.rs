//! The walk over one document: objects, the table's rows, pod specs, strings, and a structural
//! search for pod specs in custom resources the table does not know.

use std::collections::HashSet;

use super::known::DESCRIBING_GROUPS;
use super::strings::{self, Evidence, Match, Names};
use super::table::{self, Target};
use super::{
    DocId, Found, Holder, HolderId, How, ImageSite, ReportOnly, Resource, ResourceId, Table,
    HELM_FILENAME_ANNOTATION,
};
use crate::field_path::{FieldPath, Step};
use crate::rules::ScanMode;
use crate::tree::{Kind, NodeId, Tree};

/// The container lists of a pod spec, whose items' `env`, `args` and `command` are searched.
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

pub(super) struct Walker<'f, 'a, 't> {
    found: &'f mut Found<'a>,
    table: &'t Table,
    doc: DocId,
    /// `(resource, node)` pod specs and image fields already recorded: two rows (or two
    /// aliases) can lead to one node, which gets one holder or site per resource. Sets, not scans of `found`, so that
    /// a document of many containers or pods stays linear.
    seen_pod_specs: HashSet<(ResourceId, NodeId)>,
    seen_fields: HashSet<(ResourceId, NodeId)>,
    /// The string whose references were counted last (its matches come one after another).
    last_string: Option<(ResourceId, NodeId, String)>,
    /// Where the object being walked sits in `List` documents (see [`Resource::item`]).
    item: Vec<usize>,
}

impl<'f, 'a, 't> Walker<'f, 'a, 't> {
    pub(super) fn new(found: &'f mut Found<'a>, table: &'t Table, doc: DocId) -> Self {
        Walker {
            found,
            table,
            doc,
            seen_pod_specs: HashSet::new(),
            seen_fields: HashSet::new(),
            last_string: None,
            item: Vec::new(),
        }
    }

    fn tree(&self) -> &Tree<'a> {
        &self.found.doc(self.doc).tree
    }

    /// A Kubernetes object at `node`, at `item` in its document (see [`super::objects`]):
    /// record it, then search it.
    pub(super) fn object(&mut self, item: Vec<usize>, node: NodeId) {
        self.item = item;
        let tree = self.tree();
        let kind = tree.get_str(node, "kind").unwrap_or_default().to_string();
        let api_version = tree
            .get_str(node, "apiVersion")
            .unwrap_or_default()
            .to_string();
        if table::is_skipped(&kind, table::group_of(&api_version)) {
            return;
        }
        let group = table::group_of(&api_version).to_string();
        let resource = self.resource(node, kind.clone(), api_version);
        let mut rows: Vec<_> = self.table.rows_for(&kind, &group).cloned().collect();
        // A `paths:` rule may repeat a built-in row: each field is followed once, so every
        // image read below is a place of its own.
        let mut unique = Vec::with_capacity(rows.len());
        for row in rows.drain(..) {
            if !unique
                .iter()
                .any(|r: &table::Row| r.path == row.path && r.target == row.target)
            {
                unique.push(row);
            }
        }
        let rows = unique;
        let known = !rows.is_empty();
        let first_holder = self.found.holders.len();
        let first_image = self.found.images.len();
        for row in rows {
            for (target, path) in self.follow(node, &row.path, "") {
                match row.target {
                    Target::Image => self.image(resource, target, path, None, None),
                    Target::PodSpec => self.pod_spec(resource, target, path),
                }
            }
        }
        // A custom resource whose spec is its pod spec (Prometheus): its own image fields are
        // pulled by that pod spec too.
        if self.found.holders.len() == first_holder + 1 {
            let holder = HolderId(first_holder);
            for site in self.found.images.iter_mut().skip(first_image) {
                site.holder.get_or_insert(holder);
            }
        }
        let structural =
            !known && group.contains('.') && !DESCRIBING_GROUPS.contains(&group.as_str());
        self.search(resource, node, structural);
        if kind == "ConfigMap" && group.is_empty() {
            self.config_map(resource, node);
        }
        let (sa_kind, sa_groups) = table::SERVICE_ACCOUNT;
        if kind == sa_kind && sa_groups.contains(&group.as_str()) {
            self.found.holders.push(Holder {
                resource,
                node,
                path: String::new(),
                is_service_account: true,
            });
        }
    }

    fn resource(&mut self, node: NodeId, kind: String, api_version: String) -> ResourceId {
        let tree = self.tree();
        let metadata = tree.get(node, "metadata").map(|m| tree.resolve(m));
        let meta = |key: &str| {
            metadata
                .and_then(|m| tree.get_str(m, key))
                .map(str::to_string)
        };
        let annotation = metadata
            .and_then(|m| tree.get(m, "annotations"))
            .and_then(|a| tree.get_str(tree.resolve(a), HELM_FILENAME_ANNOTATION))
            .map(str::to_string);
        let resource = Resource {
            doc: self.doc,
            kind,
            api_version,
            namespace: meta("namespace"),
            name: meta("name"),
            source: self.found.doc(self.doc).chunk.source.clone().or(annotation),
            item: self.item.clone(),
        };
        self.found.push_resource(resource)
    }

    fn pod_spec(&mut self, resource: ResourceId, node: NodeId, path: String) {
        let node = self.tree().resolve(node);
        if !matches!(self.tree().node(node).kind, Kind::Map { .. }) {
            return;
        }
        // Two resources can share one pod spec through an alias: each gets it as its holder.
        if !self.seen_pod_specs.insert((resource, node)) {
            return;
        }
        let holder = self.found.push_holder(Holder {
            resource,
            node,
            path: path.clone(),
            is_service_account: false,
        });
        for (list, inner) in table::POD_SPEC_IMAGES {
            let Ok(inner) = FieldPath::parse(inner) else {
                continue;
            };
            for (index, item) in self.list(node, list).into_iter().enumerate() {
                let name = self.tree().get_str(item, "name").map(str::to_string);
                let base = format!("{path}.{list}[{index}]");
                for (target, at) in self.follow(item, &inner, &base) {
                    self.image(resource, target, at, name.clone(), Some(holder));
                }
                if CONTAINER_LISTS.contains(list) {
                    self.container_strings(resource, item, &base, name.as_deref());
                }
            }
        }
    }

    /// The items of the list at `key` in a mapping, aliases resolved.
    fn list(&self, map: NodeId, key: &str) -> Vec<NodeId> {
        let tree = self.tree();
        let Some(list) = tree.get(map, key) else {
            return Vec::new();
        };
        tree.items(tree.resolve(list))
            .iter()
            .map(|item| tree.resolve(*item))
            .collect()
    }

    fn image(
        &mut self,
        resource: ResourceId,
        node: NodeId,
        path: String,
        container: Option<String>,
        holder: Option<HolderId>,
    ) {
        let Some(mut value) = self.string(node) else {
            return;
        };
        self.count_read(node);
        // Two rows can lead to one field (a built-in row and a `paths:` rule): keep one site.
        if !self.seen_fields.insert((resource, node)) {
            return;
        }
        shorten(&mut value);
        self.found.images.push(ImageSite {
            resource,
            node,
            path,
            container,
            holder,
            value,
            part: None,
            how: How::Field,
            report_only: None,
        });
    }

    /// Counts one more place that reads `node` as an image (see [`Found::image_reads`]). The
    /// walk reaches each place once: rows are unique, and a pod spec is walked once per
    /// resource.
    fn count_read(&mut self, node: NodeId) {
        if self.tree().shares_nodes() {
            *self.found.image_reads.entry((self.doc, node)).or_default() += 1;
        }
    }

    /// The string value of a scalar node (aliases resolved); `None` for null and collections.
    fn string(&self, node: NodeId) -> Option<String> {
        self.text(node).map(str::to_string)
    }

    /// [`Self::string`] without the copy: strings that are only searched are not copied.
    fn text(&self, node: NodeId) -> Option<&str> {
        let tree = self.tree();
        let target = tree.resolve(node);
        let value = tree.scalar(target)?;
        (!value.is_empty() && !tree.is_null(target)).then_some(value)
    }

    /// References inside a container's `env` values and `args`/`command` items.
    fn container_strings(
        &mut self,
        resource: ResourceId,
        container: NodeId,
        base: &str,
        name: Option<&str>,
    ) {
        let table = self.table;
        let (scan, names) = (
            &table.scan,
            Names {
                extra: &table.scan.image_keys,
                config_map: None,
            },
        );
        if scan.env != ScanMode::Off {
            for (index, var) in self.list(container, "env").into_iter().enumerate() {
                let tree = self.tree();
                let (Some(key), Some(value)) = (tree.get_str(var, "name"), tree.get(var, "value"))
                else {
                    continue;
                };
                let (key, path) = (key.to_string(), format!("{base}.env[{index}].value"));
                self.strings(
                    resource,
                    value,
                    &path,
                    name,
                    How::Env(key.clone()),
                    scan.env,
                    |v| strings::in_value(names, &key, v),
                );
            }
        }
        if scan.args != ScanMode::Off {
            for list in ["command", "args"] {
                let Some(items) = self.tree().get(container, list) else {
                    continue;
                };
                let items = self.tree().items(self.tree().resolve(items)).to_vec();
                let texts: Vec<Option<&str>> = items.iter().map(|i| self.text(*i)).collect();
                for (index, found) in strings::in_args(names, &texts) {
                    let Some(&item) = items.get(index) else {
                        continue;
                    };
                    let path = format!("{base}.{list}[{index}]");
                    self.push_string(resource, item, path, name, How::Arg, scan.args, found);
                }
            }
        }
    }

    /// References inside a ConfigMap's `data` values.
    fn config_map(&mut self, resource: ResourceId, node: NodeId) {
        let table = self.table;
        let config_map = self.found.resource(resource).name.clone();
        let (mode, names) = (
            table.scan.config_maps,
            Names {
                extra: &table.scan.image_keys,
                config_map: config_map.as_deref(),
            },
        );
        let tree = self.tree();
        let Some(data) = tree.get(node, "data").map(|d| tree.resolve(d)) else {
            return;
        };
        if mode == ScanMode::Off {
            return;
        }
        let fields = tree.fields(data).to_vec();
        // What each key holds, found before anything is recorded.
        let mut found: Vec<(String, NodeId, Vec<Match>)> = Vec::new();
        for (key, value) in &fields {
            let Some(key) = tree.scalar(*key) else {
                continue;
            };
            let mut matches = self
                .text(*value)
                .map_or_else(Vec::new, |v| strings::in_value(names, key, v));
            // `trivy.repository` and `trivy.tag`: one image, split across two keys.
            if let [only] = matches.as_mut_slice() {
                if let (Evidence::Artifact, Some(tag)) =
                    (only.evidence, self.tag_beside(&fields, key))
                {
                    only.value = format!("{}:{tag}", only.value);
                    only.evidence = Evidence::Split;
                }
            }
            found.push((key.to_string(), *value, matches));
        }
        for (key, value, matches) in found {
            let path = format!("data.{key}");
            for m in matches {
                let how = How::ConfigMap(key.clone());
                self.push_string(resource, value, path.clone(), None, how, mode, m);
            }
        }
    }

    /// The tag that goes with a ConfigMap's `…repository` key: the value of its `…tag` key.
    fn tag_beside(&self, fields: &[(NodeId, NodeId)], repository_key: &str) -> Option<&str> {
        let tree = self.tree();
        let prefix = repository_key
            .strip_suffix("repository")
            .or_else(|| repository_key.strip_suffix("Repository"))?;
        ["tag", "Tag"].iter().find_map(|tag| {
            let key = format!("{prefix}{tag}");
            let (_, value) = fields
                .iter()
                .find(|(k, _)| tree.scalar(*k) == Some(key.as_str()))?;
            self.text(*value)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn strings(
        &mut self,
        resource: ResourceId,
        node: NodeId,
        path: &str,
        container: Option<&str>,
        how: How,
        mode: ScanMode,
        find: impl Fn(&str) -> Vec<Match>,
    ) {
        let Some(matches) = self.text(node).map(find) else {
            return;
        };
        for found in matches {
            self.push_string(
                resource,
                node,
                path.to_string(),
                container,
                how.clone(),
                mode,
                found,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_string(
        &mut self,
        resource: ResourceId,
        node: NodeId,
        path: String,
        container: Option<&str>,
        how: How,
        mode: ScanMode,
        found: Match,
    ) {
        let report_only = match (found.evidence, mode) {
            (Evidence::Weak, _) => Some(ReportOnly::Weak),
            (Evidence::Artifact, _) => Some(ReportOnly::Artifact),
            (Evidence::Split, _) => Some(ReportOnly::Split),
            (Evidence::Image, ScanMode::Rewrite) => None,
            (Evidence::Image, _) => Some(ReportOnly::Scan),
        };
        // Several references in one string are one place that reads it.
        let place = (resource, node, path.clone());
        if report_only.is_none() && self.last_string.as_ref() != Some(&place) {
            self.count_read(node);
            self.last_string = Some(place);
        }
        self.found.images.push(ImageSite {
            resource,
            node,
            path,
            container: container.map(str::to_string),
            holder: None,
            value: found.value,
            part: found.part,
            how,
            report_only,
        });
    }

    /// Every mapping of the object: pod specs found by their shape (when `structural`), and
    /// images split across `repository` and `tag` keys. Iterative, so nesting depth is no risk.
    fn search(&mut self, resource: ResourceId, root: NodeId, structural: bool) {
        let mut stack = vec![(root, String::new())];
        // A node reached again through an alias or a merge is not searched again: each is
        // searched once, so aliases of aliases cannot multiply the work.
        let mut searched = HashSet::new();
        while let Some((node, path)) = stack.pop() {
            if self.tree().shares_nodes() && !searched.insert(node) {
                continue;
            }
            if structural && self.is_pod_spec(node) {
                self.pod_spec(resource, node, path);
                continue;
            }
            self.split_image(resource, node, &path);
            let tree = self.tree();
            // Only collections can be pod specs or hold a `repository`: scalars are not
            // visited (nor are their paths written, most of this walk's cost). Aliases are
            // followed to what they name, and merge keys to what they merge.
            let collection = |id: NodeId| {
                let id = tree.resolve(id);
                matches!(tree.node(id).kind, Kind::Map { .. } | Kind::Seq { .. }).then_some(id)
            };
            let children: Vec<(NodeId, String)> = match &tree.node(node).kind {
                Kind::Map { .. } => tree
                    .fields(node)
                    .iter()
                    .filter_map(|(k, v)| Some((collection(*v)?, join(&path, tree.scalar(*k)?))))
                    .collect(),
                Kind::Seq { items, .. } => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some((collection(*v)?, format!("{path}[{i}]"))))
                    .collect(),
                _ => Vec::new(),
            };
            stack.extend(children.into_iter().rev());
        }
    }

    /// A mapping with a `containers` list whose items have an `image`.
    fn is_pod_spec(&self, node: NodeId) -> bool {
        let tree = self.tree();
        matches!(tree.node(node).kind, Kind::Map { .. })
            && self
                .list(node, "containers")
                .iter()
                .any(|c| tree.get(*c, "image").is_some())
    }

    /// `{repository: x, tag: y}` (with an optional `registry`): reported as one reference.
    fn split_image(&mut self, resource: ResourceId, node: NodeId, path: &str) {
        let tree = self.tree();
        let Some(repository) = tree.get(node, "repository") else {
            return;
        };
        let (Some(repo), tag, registry) = (
            self.string(repository),
            tree.get_str(node, "tag"),
            tree.get_str(node, "registry"),
        ) else {
            return;
        };
        if tag.is_none() && registry.is_none() {
            return;
        }
        let name = registry.map_or_else(|| repo.clone(), |r| format!("{r}/{repo}"));
        let value = tag.map_or_else(|| name.clone(), |t| format!("{name}:{t}"));
        if crate::reference::Reference::parse(&value).is_err() {
            return;
        }
        self.found.images.push(ImageSite {
            resource,
            node: repository,
            path: join(path, "repository"),
            container: None,
            holder: None,
            value,
            part: None,
            how: How::Split,
            report_only: Some(ReportOnly::Split),
        });
    }

    /// Every node the path leads to from `start`, with its concrete field path.
    fn follow(&self, start: NodeId, path: &FieldPath, base: &str) -> Vec<(NodeId, String)> {
        let tree = self.tree();
        let mut current = vec![(start, base.to_string())];
        for step in path.steps() {
            let mut next = Vec::new();
            for (node, at) in current {
                let node = tree.resolve(node);
                let (key, each) = match step {
                    Step::Key(key) => (key, false),
                    Step::EachOf(key) => (key, true),
                };
                let Some(value) = tree.get(node, key) else {
                    continue;
                };
                let at = join(&at, key);
                if each {
                    for (i, item) in tree.items(tree.resolve(value)).iter().enumerate() {
                        next.push((*item, format!("{at}[{i}]")));
                    }
                } else {
                    next.push((value, at));
                }
            }
            current = next;
        }
        current
    }
}

/// No image reference is this long (a name is at most 255 bytes, a tag 128, a digest under
/// 140). A longer value in an image field is kept only this far, ending in `…`, for the report
/// that calls it invalid, rather than copied whole into every finding and message.
const MAX_REFERENCE_BYTES: usize = 1024;

fn shorten(value: &mut String) {
    if value.len() > MAX_REFERENCE_BYTES {
        let mut end = MAX_REFERENCE_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push('…');
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
