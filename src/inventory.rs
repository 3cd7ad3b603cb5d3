//! `reimage images`: the images of a run in the forms an air-gapped install needs — a plain
//! list, every occurrence as JSON, `source<TAB>destination` pairs for `skopeo copy` or
//! `crane copy`, a `skopeo sync` source file, and the Artifact Hub images annotation.

use std::collections::{BTreeMap, BTreeSet};

use crate::reference::Reference;
use crate::report::{Finding, Report};

/// Unique references, sorted: the final ones, or (`source`) the ones found.
pub fn text(report: &Report, source: bool) -> String {
    let list: BTreeSet<&str> = report
        .findings
        .iter()
        .map(|f| {
            if source {
                f.original.as_str()
            } else {
                f.final_value.as_str()
            }
        })
        .collect();
    list.into_iter().map(|image| format!("{image}\n")).collect()
}

/// Every occurrence, as a JSON array.
pub fn json(report: &Report) -> String {
    let mut out = serde_json::to_string_pretty(&report.findings).unwrap_or_default();
    out.push('\n');
    out
}

/// What must be copied: the fully qualified source, and where the rules put it.
fn copies(report: &Report) -> BTreeSet<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.status == "rewritten")
        .filter_map(|f| {
            let from = Reference::parse(&f.original).ok()?;
            let to = Reference::parse(&f.final_value).ok()?;
            // A pinned image is copied by its pin: exactly the bytes the install will ask for.
            let digest = from.digest().or(to.digest());
            let source = pullable(&from.normalized_name(), from.tag(), digest);
            let destination = match to.tag() {
                Some(tag) => Reference::compose(to.name(), Some(tag), None),
                None => Reference::compose(to.name(), None, to.digest()),
            };
            (source != destination).then_some((source, destination))
        })
        .collect()
}

/// A reference copy tools accept: by digest when there is one (they refuse tag and digest
/// together), else by tag.
fn pullable(name: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    match digest {
        Some(digest) => Reference::compose(name, None, Some(digest)),
        None => Reference::compose(name, tag, None),
    }
}

/// `source<TAB>destination` lines, sorted.
pub fn mirror(report: &Report) -> String {
    copies(report)
        .into_iter()
        .map(|(source, destination)| format!("{source}\t{destination}\n"))
        .collect()
}

/// A `skopeo sync --src yaml` file: source registries, their repositories, and the tags (or
/// digests) to copy. An image without a tag is copied as `latest`, which is what it pulls.
pub fn skopeo_sync(report: &Report) -> String {
    let mut registries: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for finding in report.findings.iter().filter(|f| f.status == "rewritten") {
        let Ok(reference) = Reference::parse(&finding.original) else {
            continue;
        };
        let version = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        registries
            .entry(reference.registry().into_owned())
            .or_default()
            .entry(reference.repository().into_owned())
            .or_default()
            .insert(version);
    }
    let mut out = String::new();
    for (registry, repositories) in registries {
        out.push_str(&format!("{registry}:\n  images:\n"));
        for (repository, versions) in repositories {
            out.push_str(&format!("    {repository}:\n"));
            for version in versions {
                out.push_str(&format!("      - \"{version}\"\n"));
            }
        }
    }
    out
}

/// The `artifacthub.io/images` annotation for a chart's `Chart.yaml`: every final image once,
/// named after its container (or its repository's last segment).
pub fn helm_annotation(report: &Report) -> String {
    let mut images: BTreeMap<&str, String> = BTreeMap::new();
    for finding in &report.findings {
        images
            .entry(finding.final_value.as_str())
            .or_insert_with(|| display_name(finding));
    }
    let mut out = String::from("annotations:\n  artifacthub.io/images: |\n");
    for (image, name) in images {
        out.push_str(&format!("    - name: {name}\n      image: {image}\n"));
    }
    out
}

fn display_name(finding: &Finding) -> String {
    let repository = finding
        .final_value
        .split(['@', ':'])
        .next()
        .unwrap_or_default();
    let last = repository.rsplit('/').next().unwrap_or(repository);
    finding
        .container
        .clone()
        .unwrap_or_else(|| last.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::samples::pod;
    use std::path::Path;

    const D: &str = "sha256:0bc88eb15f9e7f84e8e56c14fa5735aaa488b840983f87bd79b1054190e660de";

    fn report(input: &str) -> Report {
        let rules = Rules::from_yaml(
            "version: 1\nregistries: [{from: '*', to: m.example.com/all}]\n",
            Path::new(""),
        )
        .unwrap();
        crate::render(input.as_bytes(), &rules, None)
            .unwrap()
            .report
    }

    #[test]
    fn mirror_pairs_copy_by_digest_and_push_by_tag() {
        let input = pod(&[
            "nginx:1.25",
            &format!("k8s.gcr.io/x/y:v1@{D}"),
            "nginx:1.25",
        ]);
        assert_eq!(
            mirror(&report(&input)),
            format!("docker.io/library/nginx:1.25\tm.example.com/all/docker.io/library/nginx:1.25\nk8s.gcr.io/x/y@{D}\tm.example.com/all/k8s.gcr.io/x/y:v1\n")
        );
    }

    #[test]
    fn skopeo_sync_groups_by_registry_and_repository() {
        let input = pod(&["nginx:1.25", "nginx:1.26", "quay.io/a/b"]);
        assert_eq!(
            skopeo_sync(&report(&input)),
            "docker.io:\n  images:\n    library/nginx:\n      - \"1.25\"\n      - \"1.26\"\nquay.io:\n  images:\n    a/b:\n      - \"latest\"\n"
        );
    }

    #[test]
    fn helm_annotation_names_images_after_containers() {
        let out = helm_annotation(&report(&pod(&["nginx:1.25"])));
        assert_eq!(out, "annotations:\n  artifacthub.io/images: |\n    - name: c0\n      image: m.example.com/all/docker.io/library/nginx:1.25\n");
    }
}
