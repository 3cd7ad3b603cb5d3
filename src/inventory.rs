//! `reimage images`: the images of a run in the forms an air-gapped install needs — a plain
//! list, every occurrence as JSON, `source<TAB>destination` pairs for `skopeo copy` or
//! `crane copy`, a `skopeo sync` source file, and the Artifact Hub images annotation.
//!
//! The copy lists copy what the install will pull: the source of each image is the one its
//! final reference stands for ([`source_reference`], shared with `reimage lock --source`), so
//! an override's new tag is copied from the new tag, not the old one.

use std::collections::{BTreeMap, BTreeSet};

use crate::digest::source_reference;
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

/// One image to copy.
struct Copy {
    /// The image the final reference stands for, fully qualified; by digest when the final
    /// reference has one, else by the final tag.
    source: Reference,
    /// The final reference, by tag when it has one (push by tag), else by digest.
    destination: Reference,
}

/// What must be copied, each pair once, sorted by source then destination.
fn copies(report: &Report) -> Vec<Copy> {
    let mut copies: BTreeMap<(String, String), Copy> = BTreeMap::new();
    for finding in report.findings.iter().filter(|f| f.status == "rewritten") {
        let Some(copy) = copy(finding) else {
            continue;
        };
        let key = (copy.source.to_string(), copy.destination.to_string());
        if key.0 != key.1 {
            copies.entry(key).or_insert(copy);
        }
    }
    copies.into_values().collect()
}

fn copy(finding: &Finding) -> Option<Copy> {
    let original = Reference::parse(&finding.original).ok()?;
    let to = Reference::parse(&finding.final_value).ok()?;
    let from = source_reference(&original, &to)?;
    let source = Reference::compose(&from.normalized_name(), from.tag(), from.digest());
    let destination = match to.tag() {
        Some(tag) => Reference::compose(to.name(), Some(tag), None),
        None => Reference::compose(to.name(), None, to.digest()),
    };
    Some(Copy {
        source: Reference::parse(&source).ok()?,
        destination: Reference::parse(&destination).ok()?,
    })
}

/// `source<TAB>destination` lines, sorted.
pub fn mirror(report: &Report) -> String {
    copies(report)
        .into_iter()
        .map(|c| format!("{}\t{}\n", c.source, c.destination))
        .collect()
}

/// A `skopeo sync --src yaml` file: source registries, their repositories, and the final tags
/// (or digests) to copy. An image without a tag is copied as `latest`, which is what it pulls.
pub fn skopeo_sync(report: &Report) -> String {
    let mut registries: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for copy in copies(report) {
        let version = copy
            .source
            .digest()
            .or(copy.source.tag())
            .unwrap_or("latest");
        registries
            .entry(copy.source.registry().into_owned())
            .or_default()
            .entry(copy.source.repository().into_owned())
            .or_default()
            .insert(version.to_string());
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

    const CATCH_ALL: &str = "version: 1\nregistries: [{from: '*', to: m.example.com/all}]\n";

    fn report_with(rules: &str, input: &str) -> Report {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        crate::render(input.as_bytes(), &rules, None)
            .unwrap()
            .report
    }

    fn report(input: &str) -> Report {
        report_with(CATCH_ALL, input)
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
    fn mirror_copies_the_tag_an_override_sets() {
        let rules = format!("{CATCH_ALL}images: [{{name: nginx, newTag: '1.27'}}]\n");
        assert_eq!(
            mirror(&report_with(&rules, &pod(&["nginx:1.25"]))),
            "docker.io/library/nginx:1.27\tm.example.com/all/docker.io/library/nginx:1.27\n"
        );
    }

    #[test]
    fn mirror_copies_a_new_tag_not_the_old_pin() {
        // A new tag drops the digest of the old one: the new tag is what is pulled.
        let rules = format!("{CATCH_ALL}images: [{{name: quay.io/a/b, newTag: v2}}]\n");
        let input = pod(&[&format!("quay.io/a/b:v1@{D}")]);
        assert_eq!(
            mirror(&report_with(&rules, &input)),
            "quay.io/a/b:v2\tm.example.com/all/quay.io/a/b:v2\n"
        );
    }

    #[test]
    fn mirror_copies_the_digest_an_override_sets() {
        let rules = format!("{CATCH_ALL}images: [{{name: quay.io/a/b, digest: '{D}'}}]\n");
        assert_eq!(
            mirror(&report_with(&rules, &pod(&["quay.io/a/b:v1"]))),
            format!("quay.io/a/b@{D}\tm.example.com/all/quay.io/a/b:v1\n")
        );
    }

    #[test]
    fn mirror_copies_the_input_repository_at_the_final_tag_after_new_name() {
        // As `reimage lock --source` asks: the input's name, the final tag.
        let rules =
            "version: 1\nimages: [{name: nginx, newName: m.example.com/web, newTag: '2'}]\n";
        assert_eq!(
            mirror(&report_with(rules, &pod(&["nginx:1"]))),
            "docker.io/library/nginx:2\tm.example.com/web:2\n"
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
