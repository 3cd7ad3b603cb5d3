//! Image references inside strings: env values, args and command items, ConfigMap values.
//!
//! Only a whole value, or a clearly delimited part of one (`--flag=ref`, `--flag ref`,
//! `key=ref`, a `key=ref` line), is ever a match. How much a match is believed:
//!
//! - [`Evidence::Image`]: rewritten like an image field. The string is an unambiguous
//!   reference (a registry host, a repository, and a tag or digest), or its key or flag says
//!   "image" (`image`, `*Image`, `*_IMAGE`, `*-image`, `RELATED_IMAGE_*`, plurals too, the
//!   rules' `scan.imageKeys`, or a well-known operator's name from [`super::known`]) and it
//!   names a registry or carries a tag or digest.
//! - [`Evidence::Weak`]: reported only. A `namespace/repository:version` without a registry
//!   under a name that does not say "image".
//! - [`Evidence::Artifact`]: reported only. A repository with a registry and no tag under a
//!   name that says "repository" (a vulnerability database, a policy bundle): an OCI artifact
//!   that an air-gapped install must mirror too.

use std::ops::Range;

use super::known::{StringPlace, IMAGE_STRINGS};
use crate::reference::Reference;

/// One reference found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Byte range of the reference in the string; `None` when it is the whole string.
    pub part: Option<Range<usize>>,
    pub value: String,
    pub evidence: Evidence,
}

/// How sure the search is that a string names an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// An image reference: rewritten like an image field.
    Image,
    /// Perhaps an image: reported, never rewritten.
    Weak,
    /// An OCI artifact named by repository alone: reported, never rewritten.
    Artifact,
    /// An image whose repository and tag sit under two keys (set by the caller, which sees
    /// both): reported, never rewritten.
    Split,
}

/// The names that say "image": the built-in patterns, the well-known operators' names, and
/// the rules' `scan.imageKeys`.
#[derive(Debug, Clone, Copy)]
pub struct Names<'k> {
    pub extra: &'k [String],
    /// The ConfigMap whose data is searched, for the well-known ConfigMap keys.
    pub config_map: Option<&'k str>,
}

impl Names<'_> {
    /// Whether `key` (an env var name, a flag, a ConfigMap key, a `key=` of a line) names an
    /// image.
    fn say_image(&self, key: &str) -> bool {
        let bare = key.trim_start_matches('-');
        says_image(key)
            || self.extra.iter().any(|k| k == bare)
            || IMAGE_STRINGS.iter().any(|(place, name)| {
                *name == bare
                    && match place {
                        StringPlace::Flag => key.starts_with('-'),
                        StringPlace::ConfigMap(map) => {
                            self.config_map.is_some_and(|m| m.ends_with(map))
                        }
                    }
            })
    }
}

/// Whether a key, env var name or flag names an image.
pub fn says_image(key: &str) -> bool {
    let key = key.trim_start_matches('-');
    let lower = key.to_ascii_lowercase();
    let lower = lower.strip_suffix('s').unwrap_or(&lower);
    lower == "image"
        || lower.ends_with("_image")
        || lower.ends_with("-image")
        || lower.ends_with(".image")
        || key.ends_with("Image")
        || key.ends_with("Images")
        || lower.starts_with("related_image_")
}

/// Whether a key, env var name or flag names a repository (`dbRepository`,
/// `TRIVY_DB_REPOSITORY`, `--policy-repository`).
pub fn says_repository(key: &str) -> bool {
    let lower = key.trim_start_matches('-').to_ascii_lowercase();
    lower == "repository"
        || lower.ends_with("_repository")
        || lower.ends_with("-repository")
        || lower.ends_with(".repository")
        || key.ends_with("Repository")
}

/// Classifies `value`; `key` is the name it is found under (a flag, an env var, a key), asked
/// about only for values that are references.
fn classify(
    named: impl Fn(&str) -> bool,
    key: &str,
    value: &str,
    part: Option<Range<usize>>,
) -> Option<Match> {
    // Every match has a registry (`/`) or a tag or digest (`:`, `@`): most strings searched
    // (dashboards, scripts, flags) have neither and are not parsed at all.
    if !value.bytes().any(|b| matches!(b, b'/' | b':' | b'@')) {
        return None;
    }
    let reference = Reference::parse(value).ok()?;
    let qualified = reference.tag().is_some() || reference.digest().is_some();
    let registry = reference.domain().is_some();
    let evidence = if registry && qualified || (registry || qualified) && named(key) {
        Evidence::Image
    } else if registry && says_repository(key) {
        Evidence::Artifact
    } else if !registry && value.contains('/') && reference.tag().is_some_and(is_version) {
        Evidence::Weak
    } else {
        // `k8s.io/ingress-nginx` is a controller class, `ns/svc:80` a service and its port.
        return None;
    };
    Some(Match {
        part,
        value: value.to_string(),
        evidence,
    })
}

/// Whether a tag reads as a release (`v1.9.1`, `7.2.5`), not a port or a word.
fn is_version(tag: &str) -> bool {
    let digits = tag.strip_prefix('v').unwrap_or(tag);
    digits.starts_with(|c: char| c.is_ascii_digit()) && digits.contains('.')
}

/// A value that is a reference, holds one as a `key=ref` or `--flag=ref`, is a line of
/// arguments, or is a list of `key=ref` lines. `key` is the name the value is found under.
pub fn in_value(names: Names<'_>, key: &str, value: &str) -> Vec<Match> {
    let named = |k: &str| names.say_image(k);
    if !value.contains('\n') {
        let trimmed = value.trim_end();
        if trimmed.contains([' ', '\t']) {
            let words = words(trimmed);
            let items: Vec<Option<&str>> = words.iter().map(|(_, w)| Some(*w)).collect();
            return in_args(names, &items)
                .into_iter()
                .filter_map(|(index, m)| {
                    let (start, word) = words.get(index)?;
                    let inner = m.part.clone().unwrap_or(0..word.len());
                    Some(Match {
                        part: Some(start + inner.start..start + inner.end),
                        ..m
                    })
                })
                .collect();
        }
        let part = |len: usize| (len != value.len()).then_some(0..len);
        if let Some(m) = classify(named, key, trimmed, part(trimmed.len())) {
            return vec![m];
        }
        // `key=ref`, `--flag=ref`: the value's own key may say image for it too.
        let Some((inner, reference)) = trimmed.split_once('=') else {
            return Vec::new();
        };
        let start = inner.len() + 1;
        let named = |k: &str| names.say_image(k) || names.say_image(key);
        return classify(named, inner, reference, Some(start..trimmed.len()))
            .into_iter()
            .collect();
    }
    // Only lines with a `=` can hold a `key=ref`: jump from one `=` to the next, and past the
    // end of its line, instead of walking every line of a large value.
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(eq) = value.get(from..).and_then(|rest| rest.find('=')) {
        let eq = from + eq;
        let (before, after) = value.split_at(eq);
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let line_end = after.find('\n').map_or(value.len(), |n| eq + n);
        from = line_end;
        let line_key = value.get(line_start..eq).unwrap_or_default().trim();
        // `key=ref`, and `key = "ref"` as TOML and INI files write it.
        let rest = value.get(eq + 1..line_end).unwrap_or_default();
        let (start, reference) = unquoted(eq + 1, rest.trim_end());
        // The value's own key may say image for all its lines (`STRIMZI_KAFKA_IMAGES`).
        let named = |k: &str| names.say_image(key) || names.say_image(k);
        found.extend(classify(
            named,
            line_key,
            reference,
            Some(start..start + reference.len()),
        ));
    }
    found
}

/// `text` (found at `start`) without the blanks before it and a pair of quotes around it.
fn unquoted(start: usize, text: &str) -> (usize, &str) {
    let trimmed = text.trim_start_matches([' ', '\t']);
    let start = start + (text.len() - trimmed.len());
    for quote in ['"', '\''] {
        if let Some(inner) = trimmed
            .strip_prefix(quote)
            .and_then(|t| t.strip_suffix(quote))
        {
            return (start + 1, inner);
        }
    }
    (start, trimmed)
}

/// The words of a line and where each starts.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (c == ' ' || c == '\t', start) {
            (true, Some(s)) => {
                words.extend(line.get(s..i).map(|w| (s, w)));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    words
}

/// The items of an `args` or `command` list: `--flag=ref`, `--flag ref` and bare references.
pub fn in_args(names: Names<'_>, items: &[Option<&str>]) -> Vec<(usize, Match)> {
    let named = |k: &str| names.say_image(k);
    let mut found = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(item) = item else {
            continue;
        };
        if item.starts_with('-') {
            if let Some((flag, value)) = item.split_once('=') {
                let start = flag.len() + 1;
                found.extend(
                    classify(named, flag, value, Some(start..item.len())).map(|m| (index, m)),
                );
            }
            continue;
        }
        let flag = index
            .checked_sub(1)
            .and_then(|i| items.get(i).copied().flatten())
            .filter(|prev| prev.starts_with('-') && !prev.contains('='))
            .unwrap_or_default();
        found.extend(classify(named, flag, item, None).map(|m| (index, m)));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names<'static> = Names {
        extra: &[],
        config_map: None,
    };

    fn evidence(key: &str, value: &str) -> Vec<(String, Evidence)> {
        in_value(NAMES, key, value)
            .into_iter()
            .map(|m| (m.value, m.evidence))
            .collect()
    }

    #[test]
    fn the_rules_can_name_more_keys() {
        let extra = ["OPERATOR_SIDECAR".to_string()];
        let names = Names {
            extra: &extra,
            config_map: None,
        };
        assert_eq!(
            in_value(names, "OPERATOR_SIDECAR", "example/sidecar:1")[0].evidence,
            Evidence::Image
        );
        assert_eq!(
            in_value(NAMES, "OPERATOR_SIDECAR", "example/sidecar:1.0")[0].evidence,
            Evidence::Weak
        );
    }

    #[test]
    fn keys_that_say_image() {
        for key in [
            "image",
            "IMAGE",
            "CSI_ATTACHER_IMAGE",
            "queue-sidecar-image",
            "--engine-image",
            "sidecarImage",
            "RELATED_IMAGE_FOO",
            "STRIMZI_KAFKA_IMAGES",
            "config.image",
        ] {
            assert!(says_image(key), "{key}");
        }
        for key in [
            "imagePullPolicy",
            "provisioner",
            "--prometheus-config-reloader",
            "images_dir",
            "imaged",
        ] {
            assert!(!says_image(key), "{key}");
        }
    }

    #[test]
    fn an_unambiguous_reference_is_an_image_whatever_its_name() {
        let found = evidence(
            "provisioner",
            "registry.k8s.io/sig-storage/csi-provisioner:v6.2.0",
        );
        assert_eq!(found[0].1, Evidence::Image);
        assert_eq!(
            evidence("CSI_ATTACHER_IMAGE", "longhornio/csi-attacher:v4.9.0")[0].1,
            Evidence::Image,
            "the name says image: no registry needed"
        );
        assert!(
            evidence("SOME_IMAGE", "nginx").is_empty(),
            "a bare name is not enough"
        );
        assert!(evidence("url", "https://example.com/x").is_empty());
        assert!(evidence("mode", "0644").is_empty());
        assert!(evidence("class", "k8s.io/ingress-nginx").is_empty());
        assert!(evidence("backend", "ingress-nginx/default-backend:80").is_empty());
        assert!(evidence("endpoint", "example.com:8080/api").is_empty());
    }

    #[test]
    fn weak_evidence_and_artifacts_are_told_apart() {
        assert_eq!(
            evidence("engine", "longhornio/longhorn-engine:v1.9.1")[0].1,
            Evidence::Weak
        );
        assert_eq!(
            evidence("trivy.dbRepository", "ghcr.io/aquasecurity/trivy-db")[0].1,
            Evidence::Artifact
        );
        assert_eq!(
            evidence("TRIVY_DB_REPOSITORY", "mirror.gcr.io/aquasec/trivy-db")[0].1,
            Evidence::Artifact
        );
        assert!(
            evidence("BASE_URL", "quay.io/example/base").is_empty(),
            "a registry alone, under a name that says neither"
        );
    }

    #[test]
    fn well_known_operators_name_their_strings() {
        let rook = Names {
            extra: &[],
            config_map: Some("rook-csi-operator-image-set-configmap"),
        };
        let found = in_value(rook, "plugin", "cephcsi/cephcsi:v3.17.0");
        assert_eq!(found[0].evidence, Evidence::Image);
        let found = in_value(NAMES, "plugin", "cephcsi/cephcsi:v3.17.0");
        assert_eq!(found[0].evidence, Evidence::Weak, "another ConfigMap");
        let items = [
            Some("--prometheus-config-reloader"),
            Some("example/reloader:1"),
        ];
        assert_eq!(in_args(NAMES, &items)[0].1.evidence, Evidence::Image);
    }

    #[test]
    fn parts_of_one_line_values() {
        let value = "app=quay.io/x/app:1";
        let found = in_value(NAMES, "images", value);
        assert_eq!(&value[found[0].part.clone().unwrap()], "quay.io/x/app:1");
        let value = "--config-reloader=quay.io/p/r:v1 --log-level=info";
        let found = in_value(NAMES, "EXTRA_ARGS", value);
        assert_eq!(found.len(), 1);
        assert_eq!(&value[found[0].part.clone().unwrap()], "quay.io/p/r:v1");
        let value = "--engine-image example/engine:v1";
        let found = in_value(NAMES, "ARGS", value);
        assert_eq!(&value[found[0].part.clone().unwrap()], "example/engine:v1");
        assert_eq!(found[0].evidence, Evidence::Image);
    }

    #[test]
    fn key_ref_lines_are_parts_of_the_value() {
        let value = "3.9.0=quay.io/strimzi/kafka:0.45.0-kafka-3.9.0\n  3.8.0=quay.io/strimzi/kafka:0.45.0-kafka-3.8.0\nhelper_image = \"example/helper:1\"\n";
        let found = in_value(NAMES, "STRIMZI_KAFKA_IMAGES", value);
        assert_eq!(found.len(), 3);
        let part = found[1].part.clone().unwrap();
        assert_eq!(&value[part], "quay.io/strimzi/kafka:0.45.0-kafka-3.8.0");
        let part = found[2].part.clone().unwrap();
        assert_eq!(
            &value[part], "example/helper:1",
            "quotes are not part of it"
        );
        assert_eq!(
            found[2].evidence,
            Evidence::Image,
            "the line's key says image"
        );
    }

    #[test]
    fn args_in_every_form() {
        let items = [
            Some("--engine-image"),
            Some("longhornio/longhorn-engine:v1.9.1"),
            Some("--prometheus-config-reloader=quay.io/p/r:v1"),
            Some("--image=nginx"),
            Some("quay.io/bare/ref:1"),
            Some("--db-repository=ghcr.io/aquasecurity/trivy-db"),
            Some("daemon"),
        ];
        let found = in_args(NAMES, &items);
        let summary: Vec<_> = found
            .iter()
            .map(|(i, m)| (*i, m.value.as_str(), m.evidence))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "longhornio/longhorn-engine:v1.9.1", Evidence::Image),
                (2, "quay.io/p/r:v1", Evidence::Image),
                (4, "quay.io/bare/ref:1", Evidence::Image),
                (5, "ghcr.io/aquasecurity/trivy-db", Evidence::Artifact),
            ]
        );
        assert_eq!(found[1].1.part, Some(29..43));
    }
}
