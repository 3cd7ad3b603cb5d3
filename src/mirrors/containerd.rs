//! `images --format containerd-hosts`: the [`MirrorSet`] as containerd's registry host
//! configuration (its `docs/hosts.md`): one `HOST/hosts.toml` per source registry, for the
//! directory containerd's `config_path` names (`certs.d`).
//!
//! `server` is the upstream (`https://registry-1.docker.io` for Docker Hub), tried after the
//! mirror. A mirror under a path (`harbor.example.com/dockerhub`) is written as its API root
//! with `override_path = true` (`https://harbor.example.com/v2/dockerhub`), since containerd
//! otherwise puts `/v2` after the whole path. containerd mirrors whole registries, so a prefix
//! below a registry (a `from` with a path, an override's `newName`) cannot be said: it is a
//! note, in the registry's file when there is one, and on standard error.

use std::collections::BTreeMap;

use super::{comments, toml_string, Entry, MirrorSet};
use crate::digest::plain_http_allowed;

/// What to write: `HOST/hosts.toml` files, and what cannot be said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostsDir {
    /// Relative path (`docker.io/hosts.toml`) and content, sorted by path.
    pub files: Vec<(String, String)>,
    /// Every note, one line each.
    pub notes: Vec<String>,
}

/// The files for `set`; `insecure` lists the hosts spoken to over plain http besides loopback.
pub fn hosts(set: &MirrorSet, insecure: &[String]) -> HostsDir {
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |host: &str, line: String| notes.entry(host.to_string()).or_default().push(line);
    for n in &set.notes {
        note(n.source.split('/').next().unwrap_or_default(), n.line());
    }
    let mut mirrors: BTreeMap<&str, &Entry> = BTreeMap::new();
    for entry in &set.entries {
        if entry.is_host() && entry.mirror.is_some() {
            mirrors.insert(entry.source_host(), entry);
            continue;
        }
        let what = match &entry.mirror {
            Some(mirror) => format!("moves to `{mirror}`"),
            None => "is kept".to_string(),
        };
        note(
            entry.source_host(),
            format!(
                "{} (`{}`): {what}, but containerd mirrors whole registries; a pull under it \
                 goes to the registry's mirror, if any, then to the registry",
                entry.rule, entry.source
            ),
        );
    }
    let files = mirrors
        .iter()
        .map(|(host, entry)| {
            let mut text =
                format!("# {host}: written by `reimage images --format containerd-hosts`\n");
            text.push_str(&comments(notes.get(*host).cloned().unwrap_or_default()));
            text.push_str(&format!(
                "server = {}\n",
                toml_string(&upstream(host, insecure))
            ));
            let mirror = entry.mirror.as_deref().unwrap_or_default();
            text.push_str(&format!(
                "\n# {}\n[host.{}]\n  capabilities = [\"pull\", \"resolve\"]\n",
                entry.rule,
                toml_string(&api_root(mirror, insecure))
            ));
            if mirror.contains('/') {
                text.push_str("  override_path = true\n");
            }
            (format!("{host}/hosts.toml"), text)
        })
        .collect();
    HostsDir {
        files,
        notes: notes.into_values().flatten().collect(),
    }
}

/// `http` for a registry spoken to over plain http, else `https`.
fn scheme(host: &str, insecure: &[String]) -> &'static str {
    if plain_http_allowed(host, insecure) {
        "http"
    } else {
        "https"
    }
}

/// The upstream of a source registry.
fn upstream(host: &str, insecure: &[String]) -> String {
    if host == "docker.io" {
        return "https://registry-1.docker.io".to_string();
    }
    format!("{}://{host}", scheme(host, insecure))
}

/// The URL containerd pulls a mirror's images from: the host, or, for a mirror under a path,
/// the API root `/v2/PATH` (with `override_path`).
fn api_root(mirror: &str, insecure: &[String]) -> String {
    let (host, path) = match mirror.split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (mirror, None),
    };
    let scheme = scheme(host, insecure);
    match path {
        Some(path) => format!("{scheme}://{host}/v2/{path}"),
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{sample, set};
    use super::*;

    #[test]
    fn one_file_per_registry_with_a_mirror() {
        let dir = hosts(&sample(), &[]);
        let paths: Vec<&str> = dir.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "127.0.0.1:5000/hosts.toml",
                "docker.io/hosts.toml",
                "ghcr.io/hosts.toml"
            ]
        );
        let docker = &dir.files[1].1;
        assert!(
            docker.contains("server = \"https://registry-1.docker.io\"\n"),
            "{docker}"
        );
        assert!(docker.contains(
            "[host.\"https://harbor.example.com/v2/dockerhub\"]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n"
        ), "{docker}");
        assert!(
            docker.contains("# images[1] (`docker.io/library/nginx`): its newTag"),
            "{docker}"
        );
        assert!(dir.files[0]
            .1
            .contains("server = \"http://127.0.0.1:5000\"\n"));
    }

    #[test]
    fn prefixes_below_a_registry_are_notes() {
        let dir = hosts(&sample(), &[]);
        let quay: Vec<&String> = dir
            .notes
            .iter()
            .filter(|n| n.contains("`quay.io/"))
            .collect();
        assert_eq!(quay.len(), 3, "{:?}", dir.notes);
        assert!(quay[0].contains("containerd mirrors whole registries"));
    }

    #[test]
    fn a_mirror_without_a_path_needs_no_override() {
        let set = set(
            "version: 1\nregistries: [{from: quay.io, to: 'localhost:5000'}]\n",
            &["quay.io/a:1"],
        );
        let dir = hosts(&set, &[]);
        assert_eq!(dir.files[0].0, "quay.io/hosts.toml");
        assert!(dir.files[0].1.ends_with(
            "server = \"https://quay.io\"\n\n# registries[0]\n[host.\"http://localhost:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        ), "{}", dir.files[0].1);
    }
}
