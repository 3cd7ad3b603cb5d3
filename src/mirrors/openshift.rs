//! `images --format idms`: the [`MirrorSet`] as OpenShift's `ImageDigestMirrorSet` and
//! `ImageTagMirrorSet` (`config.openshift.io/v1`), one YAML document each, with the same
//! `source` → `mirrors` entries: pulls by digest and pulls by tag go to the mirror. OpenShift
//! has no entry for "no mirror here", so a prefix the rules keep under one that moves is only
//! a comment. Every string is quoted where YAML 1.1 or 1.2 would read it as something else.

use super::{comments, MirrorSet};
use crate::quoting::new_scalar;

/// What the mirror sets cannot say, one line each: the set's notes, and the kept prefixes.
pub fn notes(set: &MirrorSet) -> Vec<String> {
    let mut notes: Vec<String> = set.notes.iter().map(|n| n.line()).collect();
    notes.extend(set.entries.iter().filter(|e| e.mirror.is_none()).map(|e| {
        format!(
            "{} (`{}`): is kept, but a mirror set cannot exempt a prefix from the one above it",
            e.rule, e.source
        )
    }));
    notes
}

/// The two documents, after a comment of their [`notes`].
pub fn text(set: &MirrorSet) -> String {
    let mut out = comments(
        std::iter::once("written by `reimage images --format idms`".to_string()).chain(notes(set)),
    );
    let entries: String = set
        .entries
        .iter()
        .filter_map(|e| {
            let mirror = e.mirror.as_deref()?;
            Some(format!(
                "    - source: {}\n      mirrors:\n        - {}\n",
                new_scalar(&e.source),
                new_scalar(mirror)
            ))
        })
        .collect();
    for (kind, field) in [
        ("ImageDigestMirrorSet", "imageDigestMirrors"),
        ("ImageTagMirrorSet", "imageTagMirrors"),
    ] {
        let list = if entries.is_empty() {
            " []\n".to_string()
        } else {
            format!("\n{entries}")
        };
        out.push_str(&format!(
            "---\napiVersion: config.openshift.io/v1\nkind: {kind}\nmetadata:\n  name: reimage\nspec:\n  {field}:{list}"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{sample, set};
    use super::*;

    #[test]
    fn digest_and_tag_mirror_sets_with_the_same_entries() {
        let out = text(&sample());
        let docs: Vec<&str> = out.split("---\n").collect();
        assert_eq!(docs.len(), 3, "{out}");
        assert!(docs[0].contains("# registries[2] (`quay.io/prometheus/internal`): is kept"));
        assert!(docs[1].contains("kind: ImageDigestMirrorSet\n"));
        assert!(docs[1].contains(
            "  imageDigestMirrors:\n    - source: \"127.0.0.1:5000\"\n      mirrors:\n        - harbor.example.com/all/127.0.0.1_5000\n    - source: docker.io\n"
        ), "{out}");
        assert_eq!(
            docs[1]
                .replace("ImageDigestMirrorSet", "X")
                .replace("imageDigestMirrors", "y"),
            docs[2]
                .replace("ImageTagMirrorSet", "X")
                .replace("imageTagMirrors", "y")
        );
    }

    #[test]
    fn the_documents_read_as_written() {
        use serde::Deserialize;
        let out = text(&sample());
        let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&out)
            .map(serde_yaml::Value::deserialize)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(docs.len(), 2);
        let first = &docs[0]["spec"]["imageDigestMirrors"][0];
        assert_eq!(first["source"].as_str(), Some("127.0.0.1:5000"));
        assert_eq!(
            first["mirrors"][0].as_str(),
            Some("harbor.example.com/all/127.0.0.1_5000")
        );
        assert_eq!(docs[1]["kind"].as_str(), Some("ImageTagMirrorSet"));
    }

    #[test]
    fn nothing_to_mirror_is_an_empty_list() {
        let out = text(&set("version: 1\n", &["nginx:1"]));
        assert!(out.ends_with("  imageTagMirrors: []\n"), "{out}");
    }
}
