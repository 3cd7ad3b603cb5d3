//! What to ask the registries for: the final references of a run that carry no digest, each
//! once, and what to ask for each — the final reference itself, or, with `--source`, the image
//! it stands for where the input found it ([`inventory::source_reference`]).

use std::collections::BTreeMap;

use reimage::digest::{self, Resolver};
use reimage::error::Error;
use reimage::inventory;
use reimage::lock::{self, Lock};
use reimage::reference::Reference;
use reimage::report::Report;

use crate::settings::Settings;

/// One reference to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The final reference, without digest: the lock file key.
    pub key: Reference,
    /// What the registry is asked about.
    pub ask: Reference,
}

/// Every final reference without a digest, once per lock key, in key order.
pub fn wanted(report: &Report, source: bool) -> Vec<Wanted> {
    let mut by_key: BTreeMap<String, Wanted> = BTreeMap::new();
    // Reported strings are never pinned, so they are never looked up either (an artifact
    // named by its repository alone has no tag to look up).
    for finding in report.findings.iter().filter(|f| f.is_pinnable()) {
        let Some(key) = finding.final_reference.clone() else {
            continue;
        };
        if key.digest().is_some() {
            continue;
        }
        let ask = if source {
            finding
                .original_reference
                .as_ref()
                .and_then(|original| inventory::source_reference(original, &key))
                .unwrap_or_else(|| key.clone())
        } else {
            key.clone()
        };
        by_key.entry(lock::key(&key)).or_insert(Wanted { key, ask });
    }
    by_key.into_values().collect()
}

/// `--resolve` / `digests.resolve: true`: the lock plus every digest it lacks, from the
/// registries.
pub fn complete(input: &[u8], settings: &Settings, lock: Option<Lock>) -> Result<Lock, Error> {
    let client = digest::RegistryClient::new(&settings.network)?;
    complete_with(input, settings, lock, &client)
}

/// [`complete`] with any resolver. The stream is located and planned to find what lacks a
/// digest, but not edited: the render that follows edits it once.
fn complete_with(
    input: &[u8],
    settings: &Settings,
    lock: Option<Lock>,
    resolver: &dyn Resolver,
) -> Result<Lock, Error> {
    let report = reimage::preview(input, &settings.rules, lock.as_ref())?;
    let wanted = wanted(&report, false);
    let mut lock = lock.unwrap_or_default();
    let asks: Vec<&Reference> = wanted.iter().map(|w| &w.ask).collect();
    let parallel = settings.network.parallel;
    let resolved = digest::resolve_each(resolver, &asks, parallel, "; nothing was rendered")?;
    for (w, resolved) in wanted.iter().zip(resolved) {
        lock.insert(&w.key, resolved.digest);
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use reimage::rules::Rules;
    use std::path::Path;

    const D: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

    /// A Pod with one container per image.
    pub(crate) fn pod(images: &[&str]) -> String {
        let containers: String = images
            .iter()
            .enumerate()
            .map(|(i, image)| format!("  - {{name: c{i}, image: '{image}'}}\n"))
            .collect();
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n{containers}"
        )
    }

    fn keys(rules: &str, images: &[&str], source: bool) -> Vec<(String, String)> {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        let report = reimage::preview(pod(images).as_bytes(), &rules, None).unwrap();
        wanted(&report, source)
            .into_iter()
            .map(|w| (w.key.to_string(), w.ask.to_string()))
            .collect()
    }

    #[test]
    fn final_references_without_digest_once_each() {
        let rules =
            "version: 1\nregistries: [{from: '*', to: m.example/all}]\ndigests: {require: true}\n";
        let pinned = format!("quay.io/a/b:1@{D}");
        let got = keys(
            rules,
            &["nginx:1", "docker.io/library/nginx:1", &pinned, "Bad/Ref"],
            false,
        );
        let want = "m.example/all/docker.io/library/nginx:1";
        assert_eq!(got, vec![(want.to_string(), want.to_string())]);
    }

    #[test]
    fn source_asks_the_original_name_at_the_final_tag() {
        let rules = "version: 1\nregistries: [{from: '*', to: m.example/all}]\nimages: [{name: quay.io/p/x, newTag: v2}]\n";
        let got = keys(rules, &["quay.io/p/x:v1", "nginx"], true);
        assert_eq!(
            got,
            vec![
                (
                    "m.example/all/docker.io/library/nginx".to_string(),
                    "nginx".to_string()
                ),
                (
                    "m.example/all/quay.io/p/x:v2".to_string(),
                    "quay.io/p/x:v2".to_string()
                ),
            ]
        );
    }
}
