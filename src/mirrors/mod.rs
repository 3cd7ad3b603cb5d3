//! Node-level mirror configuration from the rules: what a container runtime must be told so
//! that a pull of a source image is served by the mirror the rules move it to, for images that
//! never pass through a render (an operator's compiled-in images) and as a safety net.
//!
//! [`MirrorSet::new`] reads the rules and the report of a run once into prefix → mirror pairs;
//! [`registries_conf`], [`containerd`] and [`openshift`] write them in each runtime's format:
//!
//! - each `registries:` entry that moves images (`from` → `to`) is one prefix;
//! - the catch-all (`from: "*"`) moves every registry, which no runtime can say: each source
//!   registry it moved in this stream is one prefix (`quay.io` → `TO/quay.io`);
//! - a `keep: true` entry under a prefix that moves is a prefix without a mirror;
//! - an override's `newName` moves one repository; its `newTag` or `digest` changes what is
//!   pulled, which no mirror can, so it is only a [`Note`], as is an override limited by
//!   `select:` (a node configuration holds for every pull).

pub mod containerd;
pub mod openshift;
pub mod registries_conf;

use std::collections::BTreeMap;

use crate::plan::Status;
use crate::reference::{is_under, normalize_prefix};
use crate::report::Report;
use crate::rewrite::host_segment;
use crate::rules::{RegistryRule, Rules, Selector};

/// Every prefix the rules move (or keep under one that moves), sorted by source, and what
/// cannot be said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MirrorSet {
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
}

/// One source prefix: a registry host, a namespace or a repository, normalised
/// (`docker.io/library/nginx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub source: String,
    /// Where the rules move it (as the rules write it), or `None` where they keep it.
    pub mirror: Option<String>,
    /// The rule, for comments: `registries[0]`, `registries[2] (*)`, `images[1]`.
    pub rule: String,
}

impl Entry {
    /// The registry host of the source.
    pub fn source_host(&self) -> &str {
        self.source.split('/').next().unwrap_or_default()
    }

    /// Whether the source is a whole registry, not a path below one.
    pub fn is_host(&self) -> bool {
        !self.source.contains('/')
    }
}

/// Something the rules do that a mirror configuration cannot say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The rule: `images[1]`.
    pub rule: String,
    /// The source it is about (`docker.io/library/nginx`).
    pub source: String,
    /// What and why, as a sentence without the rule.
    pub text: String,
}

impl Note {
    /// The note as one line: `images[1] (docker.io/library/nginx): …`.
    pub fn line(&self) -> String {
        format!("{} (`{}`): {}", self.rule, self.source, self.text)
    }
}

impl MirrorSet {
    /// The prefixes `rules` move, with the catch-all's registries those `report` saw it move.
    pub fn new(rules: &Rules, report: &Report) -> MirrorSet {
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let mut notes = Vec::new();
        for o in &rules.images {
            let rule = format!("images[{}]", o.index);
            let note = |text: String| Note {
                rule: rule.clone(),
                source: o.name.clone(),
                text,
            };
            if o.select != Selector::default() {
                notes.push(note(
                    "applies only where its `select:` matches, and a node configuration \
                     applies to every pull; left out"
                        .to_string(),
                ));
                continue;
            }
            if let Some(tag) = &o.change.new_tag {
                notes.push(note(format!(
                    "its newTag `{tag}` cannot be expressed as a mirror, which serves the tag \
                     a node asks for: a pull of another tag gets that tag, not `{tag}`"
                )));
            }
            if let Some(digest) = &o.change.digest {
                notes.push(note(format!(
                    "its digest `{digest}` cannot be expressed as a mirror, which serves the \
                     tag or digest a node asks for: a pull by tag gets what the tag is now"
                )));
            }
            if let Some(name) = &o.change.new_name {
                add(
                    &mut entries,
                    Entry {
                        source: o.name.clone(),
                        mirror: Some(name.clone()),
                        rule: rule.clone(),
                    },
                );
            }
        }
        let mut kept = Vec::new();
        for (index, rule) in rules.registries.iter().enumerate() {
            let at = format!("registries[{index}]");
            match rule {
                RegistryRule::Map { from, to } => add(
                    &mut entries,
                    Entry {
                        source: from.clone(),
                        mirror: Some(to.clone()),
                        rule: at,
                    },
                ),
                RegistryRule::Keep { from } => kept.push((from.clone(), at)),
                RegistryRule::CatchAll { to } => {
                    for host in catch_all_hosts(report, to) {
                        let mirror = format!("{to}/{}", host_segment(&host));
                        add(
                            &mut entries,
                            Entry {
                                source: host,
                                mirror: Some(mirror),
                                rule: format!("{at} (*)"),
                            },
                        );
                    }
                }
            }
        }
        for (from, rule) in kept {
            let under_a_move = entries
                .values()
                .any(|e| e.mirror.is_some() && e.source != from && is_under(&from, &e.source));
            if under_a_move {
                add(
                    &mut entries,
                    Entry {
                        source: from,
                        mirror: None,
                        rule,
                    },
                );
            }
        }
        MirrorSet {
            entries: entries.into_values().collect(),
            notes,
        }
    }
}

/// Adds `entry` unless its source has one already (the first rule for a prefix wins).
fn add(entries: &mut BTreeMap<String, Entry>, entry: Entry) {
    entries.entry(entry.source.clone()).or_insert(entry);
}

/// The source registries whose images the catch-all to `to` moved in this run: those whose
/// final name is `to/<host>/<repository>`.
fn catch_all_hosts(report: &Report, to: &str) -> Vec<String> {
    let Some(to) = normalize_prefix(to) else {
        return Vec::new();
    };
    let mut hosts: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Rewritten)
        .filter_map(|f| {
            let (original, last) = (f.original_reference.as_ref()?, f.final_reference.as_ref()?);
            let host = original.registry().into_owned();
            let moved = format!("{to}/{}/{}", host_segment(&host), original.repository());
            (last.normalized_name() == moved).then_some(host)
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// A TOML basic string (`"…"`), escaped.
pub(crate) fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `#` comment of one line per item of `lines`.
pub(crate) fn comments(lines: impl IntoIterator<Item = String>) -> String {
    lines
        .into_iter()
        .map(|line| format!("# {}\n", crate::report::printable(line, false)))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::samples::pod;
    use std::path::Path;

    /// The rules of the golden cases, in short.
    pub const RULES: &str = "version: 1\nregistries:\n  - {from: docker.io, to: harbor.example.com/dockerhub}\n  - {from: quay.io/prometheus, to: harbor.example.com/prom}\n  - {from: quay.io/prometheus/internal, keep: true}\n  - {from: '*', to: harbor.example.com/all}\nimages:\n  - {name: quay.io/prometheus/pushgateway, newName: harbor.example.com/observability/pushgateway}\n  - {name: nginx, newTag: '1.27'}\n";

    pub fn set(rules: &str, images: &[&str]) -> MirrorSet {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        let report = crate::render(pod(images).as_bytes(), &rules, None)
            .unwrap()
            .report;
        MirrorSet::new(&rules, &report)
    }

    pub fn sample() -> MirrorSet {
        set(
            RULES,
            &[
                "nginx:1.25",
                "quay.io/prometheus/node-exporter:v1.8.0",
                "ghcr.io/example/app:2",
                "127.0.0.1:5000/team/tool:3",
            ],
        )
    }

    #[test]
    fn maps_overrides_kept_prefixes_and_the_catch_alls_hosts() {
        let set = sample();
        let got: Vec<(&str, Option<&str>, &str)> = set
            .entries
            .iter()
            .map(|e| (e.source.as_str(), e.mirror.as_deref(), e.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "127.0.0.1:5000",
                    Some("harbor.example.com/all/127.0.0.1_5000"),
                    "registries[3] (*)"
                ),
                (
                    "docker.io",
                    Some("harbor.example.com/dockerhub"),
                    "registries[0]"
                ),
                (
                    "ghcr.io",
                    Some("harbor.example.com/all/ghcr.io"),
                    "registries[3] (*)"
                ),
                (
                    "quay.io/prometheus",
                    Some("harbor.example.com/prom"),
                    "registries[1]"
                ),
                ("quay.io/prometheus/internal", None, "registries[2]"),
                (
                    "quay.io/prometheus/pushgateway",
                    Some("harbor.example.com/observability/pushgateway"),
                    "images[0]"
                ),
            ]
        );
    }

    #[test]
    fn a_new_tag_is_a_note_not_a_mirror() {
        let notes: Vec<String> = sample().notes.iter().map(Note::line).collect();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(
                "images[1] (`docker.io/library/nginx`): its newTag `1.27` cannot be expressed"
            ),
            "{notes:?}"
        );
    }

    #[test]
    fn a_selected_override_is_left_out() {
        let rules =
            "version: 1\nimages: [{name: nginx, newName: m.example/web, select: {kind: Pod}}]\n";
        let set = set(rules, &["nginx:1"]);
        assert!(set.entries.is_empty());
        assert!(set.notes[0].text.contains("select:"), "{:?}", set.notes);
    }

    #[test]
    fn a_kept_prefix_under_nothing_that_moves_is_left_out() {
        let rules = "version: 1\nregistries: [{from: registry.corp.example, keep: true}, {from: '*', to: m.example/all}]\n";
        let set = set(rules, &["registry.corp.example/a:1", "quay.io/b:2"]);
        let sources: Vec<&str> = set.entries.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(sources, ["quay.io"]);
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }
}
