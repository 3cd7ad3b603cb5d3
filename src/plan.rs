//! Stage 3, plan: decide every change before touching a byte.
//!
//! Each located image gets a [`Decision`] (its final value, whether its bytes change, why);
//! each pod spec or ServiceAccount gets the pull secrets to add and remove. YAML anchors are
//! respected: when an anchored image is rewritten, its aliases outside image fields are written
//! out as the value they read before (or, where that cannot be done faithfully, the image is left
//! as it is); an alias in an image field is rewritten only when its anchor's new value is not
//! already what it needs.

use std::collections::{HashMap, HashSet};

use crate::locate::{DocId, Found, HolderId, ImageSite, ReportOnly, ResourceId};
use crate::reference::{is_under, Reference};
use crate::rewrite::{Context, Outcome, Rewriter};
use crate::rules::{Rules, SecretGrant};
use crate::tree::{Kind, NodeId, ScalarStyle};

/// Every decision, in the order of [`Found::images`] and [`Found::holders`].
#[derive(Debug, Default)]
pub struct Plan {
    pub images: Vec<Decision>,
    pub secrets: Vec<SecretChange>,
    /// Nodes, as (document, node), that resources share through an alias or a merge key and
    /// that the rules would give different values: nothing can be written faithfully.
    pub conflicts: Vec<(DocId, NodeId)>,
    /// Aliases, as (document, alias node, text), of a rewritten anchored image that are read
    /// outside image fields (or not read at all): each is replaced by the value it read before,
    /// so that only the image fields change.
    pub inline: Vec<(DocId, NodeId, String)>,
}

/// What happens to one image site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The value Kubernetes will read after the run.
    pub value: String,
    /// `value` as a reference; `None` when it is none (an invalid reference left as it is).
    pub reference: Option<Reference>,
    pub status: Status,
    pub reason: Option<String>,
    /// Whether the bytes of the site's node must be replaced (false when an alias follows
    /// its rewritten anchor, or when nothing changes).
    pub edit: bool,
}

/// What became of an image, as reports write it: `rewritten`, `unchanged`, `skipped`,
/// `reported`, `invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Rewritten,
    Unchanged,
    /// The rules would rewrite it, but it cannot be changed safely (a shared YAML anchor).
    Skipped,
    /// Found where the rules only report: left as it is.
    Reported,
    Invalid,
}

/// Pull secrets to add to and remove from one holder's `imagePullSecrets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretChange {
    /// Index into [`Found::holders`].
    pub holder: HolderId,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// Decides everything for `found`.
pub fn plan(found: &Found<'_>, rules: &Rules, rewriter: &Rewriter<'_>) -> Plan {
    let mut images: Vec<Decision> = found
        .images
        .iter()
        .map(|site| decide(found, site, rewriter))
        .collect();
    let inline = share_anchors(found, &mut images);
    let conflicts = conflicts(found, &images);
    let secrets = pull_secrets(found, rules, &images);
    Plan {
        images,
        secrets,
        conflicts,
        inline,
    }
}

/// Nodes that several sites reach (resources sharing a container list or a pod spec through
/// an alias, a merge key) with different final values. One defined node can hold one value:
/// rewriting it for one resource would change it for the other.
fn conflicts(found: &Found<'_>, images: &[Decision]) -> Vec<(DocId, NodeId)> {
    if !found.docs.iter().any(|doc| doc.tree.shares_nodes()) {
        return Vec::new();
    }
    let mut values: HashMap<(DocId, NodeId, Option<usize>), &str> = HashMap::new();
    let mut conflicts = Vec::new();
    // A node Kubernetes reads from more places than reimage reads it as an image: an edit
    // would change a field that is not an image (the anchored definition of a container list
    // under `metadata`, say).
    let mut reads: HashMap<DocId, Vec<u32>> = HashMap::new();
    for (site, decision) in found.images.iter().zip(images) {
        let doc = found.resource(site.resource).doc;
        let tree = &found.doc(doc).tree;
        // What Kubernetes reads here changes: by an edit of these bytes, or of the anchor an
        // alias here reads.
        if decision.value == site.value || !tree.shares_nodes() {
            continue;
        }
        let all = reads.entry(doc).or_insert_with(|| tree.reads());
        let read = all.get(site.node).copied().unwrap_or(0);
        let as_image = found
            .image_reads
            .get(&(doc, site.node))
            .copied()
            .unwrap_or(0);
        if usize::try_from(read).unwrap_or(usize::MAX) > as_image {
            conflicts.push((doc, site.node));
        }
    }
    for (site, decision) in found.images.iter().zip(images) {
        let doc = found.resource(site.resource).doc;
        let key = (doc, site.node, site.part.as_ref().map(|p| p.start));
        match values.get(&key) {
            Some(value) if *value != decision.value => conflicts.push((doc, site.node)),
            Some(_) => {}
            None => {
                values.insert(key, &decision.value);
            }
        }
    }
    conflicts
}

fn decide(found: &Found<'_>, site: &ImageSite, rewriter: &Rewriter<'_>) -> Decision {
    let resource = found.resource(site.resource);
    let context = Context {
        kind: &resource.kind,
        namespace: resource.namespace.as_deref(),
        name: resource.name.as_deref(),
        container: site.container.as_deref(),
    };
    let outcome = rewriter.rewrite(&site.value, &context);
    if !site.rewrites() {
        return reported(site, outcome);
    }
    match outcome {
        Outcome::Invalid { error } => Decision {
            value: site.value.clone(),
            reference: None,
            status: Status::Invalid,
            reason: Some(error),
            edit: false,
        },
        Outcome::Skipped { original, reason } => Decision {
            value: site.value.clone(),
            reference: Some(original),
            status: Status::Skipped,
            reason: Some(reason),
            edit: false,
        },
        Outcome::Kept { original, reason } => Decision {
            value: site.value.clone(),
            reference: Some(original),
            status: Status::Unchanged,
            reason: Some(reason),
            edit: false,
        },
        Outcome::Rewritten { value, reason } => Decision {
            value: value.to_string(),
            reference: Some(value),
            status: Status::Rewritten,
            reason: Some(reason),
            edit: true,
        },
    }
}

/// A reference found where the rules only report (a string nothing names as an image, or a
/// `scan: report` source): left as it is, with what the rules would make of it.
fn reported(site: &ImageSite, outcome: Outcome) -> Decision {
    let (would, reference) = match outcome {
        Outcome::Rewritten { value, .. } => (
            format!("; the rules would make it `{value}`"),
            Reference::parse(&site.value).ok(),
        ),
        Outcome::Kept { original, .. } | Outcome::Skipped { original, .. } => {
            (String::new(), Some(original))
        }
        Outcome::Invalid { .. } => (String::new(), None),
    };
    let why = match site.report_only {
        Some(ReportOnly::Split) => {
            "the reference is split across keys; change it in the chart's values"
        }
        Some(ReportOnly::Scan) => "`scan:` says report for these strings; reported, not rewritten",
        Some(ReportOnly::Artifact) => {
            "an OCI artifact named by its repository (a database, a bundle): mirror it too, and point the chart at the mirror"
        }
        Some(ReportOnly::Weak) | None => {
            "it may be an image, but neither a registry nor its name says so; if it is one, add its name to `scan.imageKeys` to rewrite it"
        }
    };
    Decision {
        value: site.value.clone(),
        reference,
        status: Status::Reported,
        reason: Some(format!("{why}{would}")),
        edit: false,
    }
}

/// Applies the anchor rules to decisions of sites that define or use anchors, and returns the
/// aliases to write out as the value they read before.
fn share_anchors(found: &Found<'_>, images: &mut [Decision]) -> Vec<(DocId, NodeId, String)> {
    // Only sites the rules may rewrite read an anchor as an image; a reported string (an env
    // value that looks like a reference) keeps the value it read, like any other reader.
    let site_nodes: HashSet<(DocId, NodeId)> = found
        .images
        .iter()
        .filter(|s| s.rewrites())
        .map(|s| (found.resource(s.resource).doc, s.node))
        .collect();
    let mut inline = Vec::new();
    // Anchored sites first: they decide what their aliases will read.
    let mut anchored: HashMap<(DocId, NodeId), String> = HashMap::new();
    for (site, decision) in found.images.iter().zip(images.iter_mut()) {
        let doc = found.resource(site.resource).doc;
        let tree = &found.doc(doc).tree;
        // A reference that is part of an anchored string (`--image=…`) changes the string
        // for every alias too: those aliases are handled like those of a whole value.
        let Some(anchor) = tree.node(site.node).anchor else {
            continue;
        };
        let elsewhere: Vec<NodeId> = tree
            .aliases_of(anchor)
            .filter(|alias| !site_nodes.contains(&(doc, *alias)))
            .collect();
        if !elsewhere.is_empty() && decision.edit {
            // The other readers keep the old value, written out in their place; a value whose
            // text cannot be written again as the same thing keeps the image as it is.
            match old_text(tree, site.node) {
                Some(text) => inline.extend(
                    elsewhere
                        .into_iter()
                        .map(|alias| (doc, alias, text.clone())),
                ),
                None => {
                    let reason = format!(
                        "the value is a YAML anchor also used outside image fields, so it was left \
                         as it is (it would have become `{}`); give the image its own value",
                        decision.value
                    );
                    *decision = Decision {
                        value: site.value.clone(),
                        reference: Reference::parse(&site.value).ok(),
                        status: Status::Skipped,
                        reason: Some(reason),
                        edit: false,
                    };
                }
            }
        }
        if site.part.is_none() {
            anchored.insert((doc, anchor), decision.value.clone());
        }
    }
    // Aliases in image fields: edited only when what their anchor will read is not what they
    // need. Sites only reported are never edited.
    for (site, decision) in found.images.iter().zip(images.iter_mut()) {
        if !site.rewrites() {
            continue;
        }
        let doc = found.resource(site.resource).doc;
        if let (Kind::Alias { target }, None) =
            (&found.doc(doc).tree.node(site.node).kind, &site.part)
        {
            let target = *target;
            let reads = anchored.get(&(doc, target)).unwrap_or(&site.value);
            decision.edit = *reads != decision.value;
        }
    }
    inline
}

/// The text that reads as an anchored scalar's old value, untagged: a plain value as it is when
/// that is safe to write anywhere; any other string (quoted, a block, `!!str`, decoded
/// `!!binary`) as a string. `None` for a plain value YAML may read as something else, and for
/// other tags.
fn old_text(tree: &crate::tree::Tree<'_>, node: NodeId) -> Option<String> {
    use crate::tree::Tag;
    let node = tree.node(node);
    let Kind::Scalar { value, style } = &node.kind else {
        return None;
    };
    let string = match node.tag {
        Tag::None | Tag::NonSpecific => *style != ScalarStyle::Plain,
        Tag::Str | Tag::Binary => true,
        Tag::Null | Tag::Merge | Tag::Other => return None,
    };
    if crate::quoting::is_plain_safe(value) {
        Some(value.to_string())
    } else if string {
        Some(crate::quoting::double_quoted(value))
    } else {
        None
    }
}

/// Pull secret changes for every holder that needs one.
fn pull_secrets(found: &Found<'_>, rules: &Rules, images: &[Decision]) -> Vec<SecretChange> {
    let spec = &rules.pull_secrets;
    if spec.add.is_empty() && spec.remove.is_empty() {
        return Vec::new();
    }
    let needed = grants_needed(found, &spec.add, images);
    let mut changes = Vec::new();
    for (index, holder) in found.holders() {
        let present = present_secrets(found, holder.resource, holder.node);
        let wanted = spec.add.iter().enumerate().filter(|(grant, _)| {
            (holder.is_service_account && spec.service_accounts)
                || needed
                    .get(index.index() * spec.add.len() + grant)
                    .is_some_and(|needed| *needed)
        });
        let add: Vec<String> = wanted
            .map(|(_, grant)| grant.name.clone())
            .filter(|name| !present.contains(name))
            .collect();
        let remove: Vec<String> = spec
            .remove
            .iter()
            .filter(|name| present.contains(*name))
            .cloned()
            .collect();
        if !add.is_empty() || !remove.is_empty() {
            changes.push(SecretChange {
                holder: index,
                add,
                remove,
            });
        }
    }
    changes
}

/// Whether the final images of each holder come from the registries of each grant, as one
/// flag per (holder, grant), holder by holder: a set of image names per holder would cost a
/// B-tree node for every pod spec of a long List.
fn grants_needed(found: &Found<'_>, grants: &[SecretGrant], images: &[Decision]) -> Vec<bool> {
    let mut needed = vec![false; found.holders.len() * grants.len()];
    for (site, decision) in found.images.iter().zip(images) {
        let Some(holder) = site.holder.map(HolderId::index) else {
            continue;
        };
        let Some(reference) = &decision.reference else {
            continue;
        };
        let name = reference.normalized_name();
        let flags = needed.iter_mut().skip(holder * grants.len());
        for (flag, grant) in flags.zip(grants) {
            *flag = *flag || grant.registries.iter().any(|r| is_under(&name, r));
        }
    }
    needed
}

/// The secret names a holder's `imagePullSecrets` already lists.
pub fn present_secrets(found: &Found<'_>, resource: ResourceId, node: NodeId) -> Vec<String> {
    let tree = &found.doc_of(resource).tree;
    let Some(list) = tree.get(node, "imagePullSecrets") else {
        return Vec::new();
    };
    tree.items(tree.resolve(list))
        .iter()
        .filter_map(|item| tree.get_str(tree.resolve(*item), "name"))
        .map(str::to_string)
        .collect()
}
