//! `images --format hauler|zarf|oc-mirror`: the images to carry across the gap, as the input
//! files of the tools that collect them — the source column of `--format mirror` (what the
//! install pulls, from where it is now), sorted and unique. Each tool then copies them into
//! its own store or archive.

use super::{copies, InventoryError};
use crate::quoting::new_scalar;
use crate::report::Report;

/// The source of every image to copy, once, sorted.
fn sources(report: &Report) -> Result<Vec<String>, InventoryError> {
    let mut sources: Vec<String> = copies(report)?
        .into_iter()
        .map(|c| c.source.to_string())
        .collect();
    sources.sort();
    sources.dedup();
    Ok(sources)
}

/// `  - name: IMAGE` lines at `indent`, or ` []` when there are none.
fn list(sources: &[String], indent: &str, name_key: bool) -> String {
    if sources.is_empty() {
        return " []\n".to_string();
    }
    let key = if name_key { "name: " } else { "" };
    let items: String = sources
        .iter()
        .map(|s| format!("{indent}- {key}{}\n", new_scalar(s)))
        .collect();
    format!("\n{items}")
}

/// A Hauler `Images` manifest (`hauler store sync -f FILE`).
pub fn hauler(report: &Report) -> Result<String, InventoryError> {
    Ok(format!(
        "apiVersion: content.hauler.cattle.io/v1\nkind: Images\nmetadata:\n  name: reimage\nspec:\n  images:{}",
        list(&sources(report)?, "    ", true)
    ))
}

/// A `zarf.yaml` with one required component carrying the images (`zarf package create`).
pub fn zarf(report: &Report) -> Result<String, InventoryError> {
    Ok(format!(
        "kind: ZarfPackageConfig\nmetadata:\n  name: images\ncomponents:\n  - name: images\n    required: true\n    images:{}",
        list(&sources(report)?, "      ", false)
    ))
}

/// An oc-mirror v2 `ImageSetConfiguration` (`oc mirror --v2 --config FILE …`).
pub fn oc_mirror(report: &Report) -> Result<String, InventoryError> {
    Ok(format!(
        "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  additionalImages:{}",
        list(&sources(report)?, "    ", true)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::samples::pod;
    use std::path::Path;

    fn report(images: &[&str]) -> Report {
        let rules = "version: 1\nregistries: [{from: '*', to: m.example/all}, {from: ghcr.io, keep: true}]\nimages: [{name: nginx, newTag: '1.27'}]\n";
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        crate::render(pod(images).as_bytes(), &rules, None)
            .unwrap()
            .report
    }

    #[test]
    fn hauler_lists_the_sources_of_the_copies() {
        let r = report(&[
            "nginx:1.25",
            "quay.io/a/b:2",
            "ghcr.io/kept/c:1",
            "nginx:1.25",
        ]);
        assert_eq!(
            hauler(&r).unwrap(),
            "apiVersion: content.hauler.cattle.io/v1\nkind: Images\nmetadata:\n  name: reimage\nspec:\n  images:\n    - name: docker.io/library/nginx:1.27\n    - name: quay.io/a/b:2\n"
        );
    }

    #[test]
    fn zarf_and_oc_mirror_carry_the_same_images() {
        let r = report(&["quay.io/a/b:2", "127.0.0.1:5000/x:1"]);
        assert_eq!(
            zarf(&r).unwrap(),
            "kind: ZarfPackageConfig\nmetadata:\n  name: images\ncomponents:\n  - name: images\n    required: true\n    images:\n      - 127.0.0.1:5000/x:1\n      - quay.io/a/b:2\n"
        );
        assert!(oc_mirror(&r).unwrap().ends_with(
            "  additionalImages:\n    - name: 127.0.0.1:5000/x:1\n    - name: quay.io/a/b:2\n"
        ));
    }

    #[test]
    fn nothing_to_carry_is_an_empty_list() {
        assert!(hauler(&report(&["ghcr.io/kept/c:1"]))
            .unwrap()
            .ends_with("  images: []\n"));
    }
}
