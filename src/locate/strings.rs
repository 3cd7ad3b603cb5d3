//! Image references inside strings: env values, args and command items, ConfigMap values.
//!
//! A match is *confident* when the key or flag it belongs to says "image" (`image`, `*Image`,
//! `*_IMAGE`, `*-image`, `RELATED_IMAGE_*`, plurals too) and the value is a reference that names
//! a registry or carries a tag or digest; confident matches may be rewritten. A value that is a
//! reference naming a registry and a tag (or digest) is reported even when nothing says
//! "image". Only a whole value,
//! or a clearly delimited part of one (`--flag=ref`, a `key=ref` line), is ever a match.

use std::ops::Range;

use crate::reference::Reference;

/// One reference found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Byte range of the reference in the string; `None` when it is the whole string.
    pub part: Option<Range<usize>>,
    pub value: String,
    pub confident: bool,
}

/// The names that say "image": the built-in patterns, and the rules' `scan.imageKeys`.
#[derive(Debug, Clone, Copy)]
pub struct Names<'k> {
    pub extra: &'k [String],
}

impl Names<'_> {
    fn say_image(&self, key: &str) -> bool {
        says_image(key) || self.extra.iter().any(|k| k == key.trim_start_matches('-'))
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

/// Classifies `value`; `named` tells whether the key or flag it is found under says "image",
/// asked only of values that are references.
fn classify(
    named: impl FnOnce() -> bool,
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
    let confident = (registry || qualified) && named();
    // Unnamed, only a registry and a tag (or digest) together make a string look like an
    // image: `k8s.io/ingress-nginx` is a controller class, `quay.io/x/y:1` an image.
    if !(confident || registry && qualified) {
        return None;
    }
    Some(Match {
        part,
        value: value.to_string(),
        confident,
    })
}

/// A value that is a reference, or a list of `key=ref` lines.
pub fn in_value(names: Names<'_>, key: &str, value: &str) -> Vec<Match> {
    if !value.contains('\n') {
        return classify(|| names.say_image(key), value.trim_end(), None)
            .map(|m| {
                if m.value.len() == value.len() {
                    m
                } else {
                    Match {
                        part: Some(0..m.value.len()),
                        ..m
                    }
                }
            })
            .into_iter()
            .collect();
    }
    // Only lines with a `=` can hold a `key=ref`: jump from one `=` to the next, and past the
    // end of its line, instead of walking every line of a large value.
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(eq) = value.get(from..).and_then(|rest| rest.find('=')) {
        let eq = from + eq;
        let line_start = value[..eq].rfind('\n').map_or(0, |n| n + 1);
        let line_end = value[eq..].find('\n').map_or(value.len(), |n| eq + n);
        from = line_end;
        let line_key = value[line_start..eq].trim();
        let reference = value[eq + 1..line_end].trim_end();
        let start = eq + 1;
        // The value's own key may say image for all its lines (`STRIMZI_KAFKA_IMAGES`).
        let named = || names.say_image(key) || names.say_image(line_key);
        found.extend(classify(
            named,
            reference,
            Some(start..start + reference.len()),
        ));
    }
    found
}

/// The items of an `args` or `command` list: `--flag=ref`, `--flag ref` and bare references.
pub fn in_args(names: Names<'_>, items: &[Option<&str>]) -> Vec<(usize, Match)> {
    let mut found = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(item) = item else {
            continue;
        };
        if item.starts_with('-') {
            if let Some((flag, value)) = item.split_once('=') {
                let start = flag.len() + 1;
                found.extend(
                    classify(|| names.say_image(flag), value, Some(start..item.len()))
                        .map(|m| (index, m)),
                );
            }
            continue;
        }
        let flag = index
            .checked_sub(1)
            .and_then(|i| items.get(i).copied().flatten())
            .filter(|prev| prev.starts_with('-') && !prev.contains('='));
        let named = || flag.is_some_and(|flag| names.say_image(flag));
        found.extend(classify(named, item, None).map(|m| (index, m)));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names<'static> = Names { extra: &[] };

    #[test]
    fn the_rules_can_name_more_keys() {
        let extra = ["OPERATOR_SIDECAR".to_string()];
        let names = Names { extra: &extra };
        assert!(in_value(names, "OPERATOR_SIDECAR", "quay.io/x/y:1")[0].confident);
        assert!(!in_value(NAMES, "OPERATOR_SIDECAR", "quay.io/x/y:1")[0].confident);
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
    fn values_are_confident_only_under_image_keys() {
        let m = in_value(
            NAMES,
            "CSI_ATTACHER_IMAGE",
            "longhornio/csi-attacher:v4.9.0",
        );
        assert!(m[0].confident && m[0].part.is_none());
        let m = in_value(
            NAMES,
            "provisioner",
            "registry.k8s.io/sig-storage/csi-provisioner:v6.2.0",
        );
        assert!(!m[0].confident);
        assert!(in_value(NAMES, "provisioner", "longhornio/x:1").is_empty());
        assert!(
            in_value(NAMES, "SOME_IMAGE", "nginx").is_empty(),
            "a bare name is not enough"
        );
        assert!(in_value(NAMES, "url", "https://example.com/x").is_empty());
        assert!(in_value(NAMES, "mode", "0644").is_empty());
    }

    #[test]
    fn key_ref_lines_are_parts_of_the_value() {
        let value = "3.9.0=quay.io/strimzi/kafka:0.45.0-kafka-3.9.0\n  3.8.0=quay.io/strimzi/kafka:0.45.0-kafka-3.8.0\n";
        let found = in_value(NAMES, "STRIMZI_KAFKA_IMAGES", value);
        assert_eq!(found.len(), 2);
        let part = found[1].part.clone().unwrap();
        assert_eq!(&value[part], "quay.io/strimzi/kafka:0.45.0-kafka-3.8.0");
        assert!(
            found[1].confident,
            "the value's key says image for every line"
        );
        let found = in_value(NAMES, "versions", value);
        assert!(
            !found[0].confident,
            "neither `versions` nor `3.9.0` says image"
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
            Some("daemon"),
        ];
        let found = in_args(NAMES, &items);
        let summary: Vec<_> = found
            .iter()
            .map(|(i, m)| (*i, m.value.as_str(), m.confident))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "longhornio/longhorn-engine:v1.9.1", true),
                (2, "quay.io/p/r:v1", false),
                (4, "quay.io/bare/ref:1", false)
            ]
        );
        assert_eq!(found[1].1.part, Some(29..43));
    }
}
