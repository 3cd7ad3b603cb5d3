//! The rules applied to one image reference: override, registry mapping, digest pin.
//!
//! This is pure: a string and where it was found go in, the final string and the reason come
//! out. Parts the rules do not change keep their spelling: only a reference that changes is
//! rebuilt, and then from its parts as written (tag and digest kept).
//!
//! Every match is made on normalised forms ([`Reference::normalized_name`] against normalised
//! prefixes and override names, with [`is_under`] or `==`), so registry hosts match whatever
//! their case (`Quay.io/x` is under `from: quay.io`) and paths match exactly.

use crate::lock::Lock;
use crate::reference::{is_under, normalize_prefix, Reference};
use crate::rules::{Change, ImageOverride, PinForm, RegistryRule, Rules, Selector};

/// Where a reference was found, for `select:`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'s> {
    pub kind: &'s str,
    pub namespace: Option<&'s str>,
    pub name: Option<&'s str>,
    pub container: Option<&'s str>,
}

/// What the rules make of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a valid reference: left as it is.
    Invalid { error: String },
    /// The rules would make it an invalid reference: left as it is (`original`), and why.
    Skipped { original: Reference, reason: String },
    /// Left as it is (`original`), and why.
    Kept { original: Reference, reason: String },
    /// Rewritten to `value`, and by which rules.
    Rewritten { value: Reference, reason: String },
}

/// The rules, prepared for many references.
#[derive(Debug)]
pub struct Rewriter<'r> {
    rules: &'r Rules,
    lock: Option<&'r Lock>,
    /// Names under these are final: every `to`, and every override's `newName`, normalised.
    final_prefixes: Vec<String>,
}

/// A reference being rebuilt: its parts, and whether any of them changed.
struct Parts {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
    reasons: Vec<String>,
}

impl<'r> Rewriter<'r> {
    pub fn new(rules: &'r Rules, lock: Option<&'r Lock>) -> Rewriter<'r> {
        let targets = rules.registries.iter().filter_map(|rule| match rule {
            RegistryRule::Map { to, .. } | RegistryRule::CatchAll { to } => normalize_prefix(to),
            RegistryRule::Keep { .. } => None,
        });
        let new_names = rules.images.iter().filter_map(|o| {
            let name = o.change.new_name.as_deref()?;
            Some(Reference::parse(name).ok()?.normalized_name())
        });
        Rewriter {
            rules,
            lock,
            final_prefixes: targets.chain(new_names).collect(),
        }
    }

    /// Applies override, mapping and pin to `value`.
    pub fn rewrite(&self, value: &str, context: &Context<'_>) -> Outcome {
        let reference = match Reference::parse(value) {
            Ok(reference) => reference,
            Err(error) => {
                return Outcome::Invalid {
                    error: error.to_string(),
                }
            }
        };
        let mut parts = Parts {
            name: reference.name().to_string(),
            tag: reference.tag().map(str::to_string),
            digest: reference.digest().map(str::to_string),
            reasons: Vec::new(),
        };
        let overridden = self.find_override(&reference, context);
        let name_fixed = overridden.is_some_and(|o| o.change.new_name.is_some());
        if let Some(o) = overridden {
            apply_override(&mut parts, &o.change, o.index);
        }
        let kept = if name_fixed {
            None
        } else {
            self.map_registry(&reference, &mut parts)
        };
        self.pin(&mut parts);
        if parts.reasons.is_empty() {
            let reason = kept.unwrap_or_else(|| "no rule matches".to_string());
            return Outcome::Kept {
                original: reference,
                reason,
            };
        }
        let value = Reference::compose(&parts.name, parts.tag.as_deref(), parts.digest.as_deref());
        if value == reference.as_str() {
            return Outcome::Kept {
                reason: parts.reasons.join(", ") + " (no change)",
                original: reference,
            };
        }
        let reason = parts.reasons.join(", ");
        match Reference::parse(&value) {
            Ok(value) => Outcome::Rewritten { value, reason },
            Err(error) => Outcome::Skipped {
                reason: format!(
                    "{reason} would give `{value}`, which is not a valid reference ({error}); \
                     add a registries rule for its registry"
                ),
                original: reference,
            },
        }
    }

    /// The most specific override for this image and place; the first one on a tie.
    fn find_override(
        &self,
        reference: &Reference,
        context: &Context<'_>,
    ) -> Option<&'r ImageOverride> {
        let name = reference.normalized_name();
        self.rules
            .images
            .iter()
            .filter(|o| o.name == name && selects(&o.select, context))
            .min_by_key(|o| (std::cmp::Reverse(specificity(&o.select)), o.index))
    }

    /// Maps the registry; returns why nothing was mapped, if nothing was.
    fn map_registry(&self, reference: &Reference, parts: &mut Parts) -> Option<String> {
        let name = reference.normalized_name();
        if let Some(prefix) = self.final_prefixes.iter().find(|p| is_under(&name, p)) {
            return Some(format!("already under `{prefix}`"));
        }
        let rule = self
            .rules
            .registries
            .iter()
            .filter_map(|rule| match rule {
                RegistryRule::Map { from, .. } | RegistryRule::Keep { from } => {
                    is_under(&name, from).then_some((from.len(), rule))
                }
                RegistryRule::CatchAll { .. } => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, rule)| rule)
            .or_else(|| self.catch_all());
        match rule? {
            RegistryRule::Keep { from } => Some(format!("kept by registries rule for `{from}`")),
            RegistryRule::Map { from, to } => {
                let rest = name.get(from.len()..).unwrap_or_default();
                let rest = rest.trim_start_matches('/');
                parts.name = join(to, rest);
                parts.reasons.push(format!("registries: `{from}` → `{to}`"));
                None
            }
            RegistryRule::CatchAll { to } => {
                let host = host_segment(&reference.registry());
                parts.name = join(to, &format!("{host}/{}", reference.repository()));
                parts.reasons.push(format!("registries: `*` → `{to}`"));
                None
            }
        }
    }

    fn catch_all(&self) -> Option<&'r RegistryRule> {
        self.rules
            .registries
            .iter()
            .find(|r| matches!(r, RegistryRule::CatchAll { .. }))
    }

    /// Adds the lock file's digest to a reference that has none.
    fn pin(&self, parts: &mut Parts) {
        let (Some(lock), None) = (self.lock, &parts.digest) else {
            return;
        };
        let unpinned = Reference::compose(&parts.name, parts.tag.as_deref(), None);
        let Ok(reference) = Reference::parse(&unpinned) else {
            return;
        };
        let Some(digest) = lock.digest_for(&reference) else {
            return;
        };
        parts.digest = Some(digest.to_string());
        if self
            .rules
            .digests
            .as_ref()
            .is_some_and(|d| d.form == PinForm::DigestOnly)
        {
            parts.tag = None;
        }
        parts.reasons.push("digest pinned".to_string());
    }
}

fn apply_override(parts: &mut Parts, change: &Change, index: usize) {
    if let Some(name) = &change.new_name {
        parts.name.clone_from(name);
    }
    if let Some(tag) = &change.new_tag {
        parts.tag = Some(tag.clone());
        // A digest belongs to the old tag; a new tag without a new digest must drop it.
        parts.digest = None;
    }
    if let Some(digest) = &change.digest {
        parts.digest = Some(digest.clone());
    }
    parts.reasons.push(format!("images[{index}]"));
}

/// A registry host (a [`Reference::registry`], so already lowercase, as a path segment must be)
/// as one path segment under a catch-all prefix: a path segment cannot hold a `:`, so a port is
/// joined with `_` (`localhost:5000` → `localhost_5000`), which no host name contains, so two
/// registries still cannot collide.
pub(crate) fn host_segment(registry: &str) -> String {
    registry.replace(':', "_")
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

fn selects(select: &Selector, context: &Context<'_>) -> bool {
    let matches = |want: &Option<String>, have: Option<&str>| {
        want.as_deref().is_none_or(|want| Some(want) == have)
    };
    matches(&select.kind, Some(context.kind))
        && matches(&select.namespace, context.namespace)
        && matches(&select.name, context.name)
        && matches(&select.container, context.container)
}

fn specificity(select: &Selector) -> usize {
    [
        &select.kind,
        &select.namespace,
        &select.name,
        &select.container,
    ]
    .iter()
    .filter(|field| field.is_some())
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const D: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

    fn rewrite(rules: &str, value: &str, context: Context<'_>) -> Outcome {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        Rewriter::new(&rules, None).rewrite(value, &context)
    }

    fn value(outcome: Outcome) -> String {
        match outcome {
            Outcome::Rewritten { value, .. } => value.to_string(),
            other => panic!("not rewritten: {other:?}"),
        }
    }

    const MIRROR: &str = "version: 1\nregistries:\n- {from: docker.io, to: harbor.example.com/dockerhub}\n- {from: quay.io/prometheus, to: harbor.example.com/prom}\n- {from: '*', to: harbor.example.com/all}\n- {from: registry.corp.example.com, keep: true}\n";

    #[test]
    fn longest_from_wins_and_catch_all_keeps_the_host() {
        let c = Context::default();
        assert_eq!(
            value(rewrite(MIRROR, "nginx:1", c)),
            "harbor.example.com/dockerhub/library/nginx:1"
        );
        assert_eq!(
            value(rewrite(MIRROR, "quay.io/prometheus/node-exporter:v1", c)),
            "harbor.example.com/prom/node-exporter:v1"
        );
        assert_eq!(
            value(rewrite(MIRROR, "quay.io/other/x", c)),
            "harbor.example.com/all/quay.io/other/x"
        );
        assert_eq!(
            value(rewrite(MIRROR, &format!("gcr.io/x/y:1@{D}"), c)),
            format!("harbor.example.com/all/gcr.io/x/y:1@{D}")
        );
        assert_eq!(
            value(rewrite(MIRROR, "localhost:5000/a/b:c", c)),
            "harbor.example.com/all/localhost_5000/a/b:c"
        );
        let ipv6 = rewrite(MIRROR, "[::1]:5000/a/b:c", c);
        assert!(matches!(ipv6, Outcome::Skipped { .. }), "{ipv6:?}");
    }

    #[test]
    fn keeps_kept_and_already_mirrored_images() {
        let c = Context::default();
        assert!(matches!(
            rewrite(MIRROR, "registry.corp.example.com/a:1", c),
            Outcome::Kept { .. }
        ));
        assert!(matches!(
            rewrite(MIRROR, "harbor.example.com/all/gcr.io/x/y:1", c),
            Outcome::Kept { .. }
        ));
        assert!(matches!(
            rewrite(MIRROR, "foo/-bar", c),
            Outcome::Invalid { .. }
        ));
    }

    #[test]
    fn hosts_match_in_any_case_and_keep_their_spelling() {
        let c = Context::default();
        assert_eq!(
            value(rewrite(MIRROR, "Quay.io/prometheus/node-exporter:v1", c)),
            "harbor.example.com/prom/node-exporter:v1"
        );
        assert_eq!(
            value(rewrite(MIRROR, "Docker.IO/nginx:1", c)),
            "harbor.example.com/dockerhub/library/nginx:1"
        );
        // Under a catch-all the host becomes a path segment, which must be lowercase.
        assert_eq!(
            value(rewrite(MIRROR, "GCR.io/x/y:1", c)),
            "harbor.example.com/all/gcr.io/x/y:1"
        );
        for kept in [
            "Registry.Corp.Example.com/a:1",
            "HARBOR.example.com/all/gcr.io/x/y:1",
            "harbor.EXAMPLE.com/prom/node-exporter:v1",
        ] {
            assert!(
                matches!(rewrite(MIRROR, kept, c), Outcome::Kept { .. }),
                "{kept}"
            );
        }
        // `to` is written as the rules spell it, and still recognised on a second run.
        let spelled = "version: 1\nregistries: [{from: quay.io, to: Harbor.Example.com/q}]\n";
        assert_eq!(
            value(rewrite(spelled, "quay.io/a/b:1", c)),
            "Harbor.Example.com/q/a/b:1"
        );
        assert!(matches!(
            rewrite(spelled, "Harbor.Example.com/q/a/b:1", c),
            Outcome::Kept { .. }
        ));
    }

    #[test]
    fn overrides_match_hosts_in_any_case_but_paths_exactly() {
        let rules = "version: 1\nimages:\n- {name: quay.io/prometheus/pushgateway, newTag: v2}\n- {name: Ghcr.io/a/b, newName: m.example.com/b}\n";
        let c = Context::default();
        // Only the tag changes: the host keeps the chart's spelling.
        assert_eq!(
            value(rewrite(rules, "Quay.io/prometheus/pushgateway:v1", c)),
            "Quay.io/prometheus/pushgateway:v2"
        );
        assert_eq!(
            value(rewrite(rules, "ghcr.io/a/b:1", c)),
            "m.example.com/b:1"
        );
        // A path in another case is no reference at all, so nothing matches it.
        assert!(matches!(
            rewrite(rules, "quay.io/Prometheus/pushgateway:v1", c),
            Outcome::Invalid { .. }
        ));
        assert!(matches!(
            rewrite(rules, "quay.io/prometheus/pushgateway-x:v1", c),
            Outcome::Kept { .. }
        ));
    }

    #[test]
    fn the_most_specific_override_wins() {
        let rules = "version: 1\nregistries: [{from: '*', to: m.example.com/all}]\nimages:\n- {name: rook/ceph, newTag: v2}\n- {name: docker.io/rook/ceph, newTag: v3, select: {kind: DaemonSet, container: discover}}\n- {name: quay.io/prometheus/pushgateway, newName: m.example.com/obs/pushgateway}\n";
        let ds = Context {
            kind: "DaemonSet",
            container: Some("discover"),
            ..Context::default()
        };
        assert_eq!(
            value(rewrite(rules, "rook/ceph:v1", ds)),
            "m.example.com/all/docker.io/rook/ceph:v3"
        );
        let dep = Context {
            kind: "Deployment",
            ..Context::default()
        };
        assert_eq!(
            value(rewrite(rules, "docker.io/rook/ceph:v1", dep)),
            "m.example.com/all/docker.io/rook/ceph:v2"
        );
        assert_eq!(
            value(rewrite(rules, "quay.io/prometheus/pushgateway:v1", dep)),
            "m.example.com/obs/pushgateway:v1"
        );
        assert!(matches!(
            rewrite(rules, "m.example.com/obs/pushgateway:v1", dep),
            Outcome::Kept { .. }
        ));
    }

    #[test]
    fn pins_from_the_lock_file() {
        let rules =
            Rules::from_yaml("version: 1\ndigests: {form: digest}\n", Path::new("")).unwrap();
        let lock = Lock::from_yaml(&format!("version: 1\nimages:\n  nginx:1: {D}\n")).unwrap();
        let rewriter = Rewriter::new(&rules, Some(&lock));
        assert_eq!(
            value(rewriter.rewrite("nginx:1", &Context::default())),
            format!("nginx@{D}")
        );
        let pinned = format!("nginx@{D}");
        assert!(matches!(
            rewriter.rewrite(&pinned, &Context::default()),
            Outcome::Kept { .. }
        ));
    }
}
