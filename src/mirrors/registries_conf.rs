//! `images --format registries-conf`: the [`MirrorSet`] as containers-registries.conf(5),
//! version 2 (read by CRI-O, podman, buildah and skopeo): one `[[registry]]` per source prefix,
//! `prefix` and `location` the source, and a `[[registry.mirror]]` whose `location` is where
//! the rules move it. The most specific prefix wins, as it does in the rules; a prefix the
//! rules keep has no mirror. `unqualified-search-registries` is not set.
//!
//! A registry spoken to over plain http (a loopback host, or one given to
//! `--insecure-registry`) gets `insecure = true`, which lets the runtime use http (and
//! unverified TLS) for it.

use super::{comments, toml_string, MirrorSet};
use crate::digest::plain_http_allowed;

/// The file, for a drop-in under `registries.conf.d/` or as `--registries-conf FILE`.
pub fn text(set: &MirrorSet, insecure: &[String]) -> String {
    let mut out = String::from(
        "# containers-registries.conf(5) v2, written by `reimage images --format registries-conf`\n",
    );
    if !set.notes.is_empty() {
        out.push_str("#\n# Not expressible as a mirror:\n");
        out.push_str(&comments(set.notes.iter().map(|n| n.line())));
    }
    for entry in &set.entries {
        out.push_str(&format!(
            "\n[[registry]]\n# {}\nprefix = {}\nlocation = {}\n",
            entry.rule,
            toml_string(&entry.source),
            toml_string(&entry.source)
        ));
        if plain_http_allowed(entry.source_host(), insecure) {
            out.push_str("insecure = true\n");
        }
        if let Some(mirror) = &entry.mirror {
            out.push_str(&format!(
                "\n[[registry.mirror]]\nlocation = {}\n",
                toml_string(mirror)
            ));
            let host = mirror.split('/').next().unwrap_or_default();
            if plain_http_allowed(host, insecure) {
                out.push_str("insecure = true\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn one_registry_per_prefix_with_its_mirror() {
        let out = text(&sample(), &[]);
        assert!(
            out.starts_with("# containers-registries.conf(5) v2"),
            "{out}"
        );
        assert!(out.contains(
            "\n[[registry]]\n# registries[0]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\n[[registry.mirror]]\nlocation = \"harbor.example.com/dockerhub\"\n"
        ), "{out}");
        assert!(
            out.contains(
                "prefix = \"127.0.0.1:5000\"\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n"
            ),
            "{out}"
        );
        assert!(out.contains(
            "# registries[2]\nprefix = \"quay.io/prometheus/internal\"\nlocation = \"quay.io/prometheus/internal\"\n\n[[registry]]"
        ), "{out}");
        assert!(
            out.contains("# images[1] (`docker.io/library/nginx`): its newTag"),
            "{out}"
        );
    }

    #[test]
    fn a_plain_http_mirror_is_insecure() {
        let set = super::super::tests::set(
            "version: 1\nregistries: [{from: quay.io, to: 'localhost:5000/q'}]\n",
            &["quay.io/a:1"],
        );
        assert!(text(&set, &[])
            .ends_with("[[registry.mirror]]\nlocation = \"localhost:5000/q\"\ninsecure = true\n"));
        let set = super::super::tests::set(
            "version: 1\nregistries: [{from: quay.io, to: 'mirror.lan/q'}]\n",
            &["quay.io/a:1"],
        );
        assert!(text(&set, &["mirror.lan".to_string()]).ends_with("insecure = true\n"));
    }
}
