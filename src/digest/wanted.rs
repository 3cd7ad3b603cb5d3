//! Which references need a digest: the final references of a render (after overrides and
//! registry mapping) that carry none, each once, and what to ask a registry for each — the
//! final reference itself, or, with `--source`, the name found in the input at the final tag
//! ([`source_reference`], which the copy lists of `reimage images` share). Pure; used by the
//! lock command and by `--resolve`.

use std::collections::BTreeMap;

use crate::lock;
use crate::reference::Reference;
use crate::report::Report;
use crate::rules::Rules;
use crate::Error;

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
    let pinnable = |f: &&crate::report::Finding| !matches!(f.status, "invalid" | "reported");
    for finding in report.findings.iter().filter(pinnable) {
        let Ok(key) = Reference::parse(&finding.final_value) else {
            continue;
        };
        if key.digest().is_some() {
            continue;
        }
        let ask = if source {
            Reference::parse(&finding.original)
                .ok()
                .and_then(|original| source_reference(&original, &key))
                .unwrap_or_else(|| key.clone())
        } else {
            key.clone()
        };
        by_key.entry(lock::key(&key)).or_insert(Wanted { key, ask });
    }
    by_key.into_values().collect()
}

/// The image a final reference stands for, where the input found it: the name as written in
/// the input, at the final tag (an override may have changed it), or at the final digest alone
/// when there is one (that is what is pulled; copy tools refuse a tag and a digest together).
/// A `newName` changes where an image goes, not what it is: the input's name stays.
///
/// `reimage lock --source` asks the registries for this, and `reimage images --format mirror`
/// and `--format skopeo-sync` copy it.
pub fn source_reference(original: &Reference, final_reference: &Reference) -> Option<Reference> {
    let text = match final_reference.digest() {
        Some(digest) => Reference::compose(original.name(), None, Some(digest)),
        None => Reference::compose(original.name(), final_reference.tag(), None),
    };
    Reference::parse(&text).ok()
}

/// What a render makes of `input`, without `digests.require` and `policy:` (the point is to
/// find the references that have no digest yet).
pub fn final_report(
    input: &[u8],
    rules: &Rules,
    lock: Option<&lock::Lock>,
) -> Result<Report, Error> {
    Ok(crate::render_unchecked(input, rules, lock)?.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::pod;
    use std::path::Path;

    const D: &str = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";

    fn keys(rules: &str, images: &[&str], source: bool) -> Vec<(String, String)> {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        let report = final_report(pod(images).as_bytes(), &rules, None).unwrap();
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
    fn the_source_of_a_final_digest_is_that_digest_alone() {
        let original = Reference::parse("nginx:1").unwrap();
        let pinned =
            Reference::parse(&format!("m.example/all/docker.io/library/nginx:2@{D}")).unwrap();
        let tagged = Reference::parse("m.example/all/docker.io/library/nginx:2").unwrap();
        assert_eq!(
            source_reference(&original, &pinned).unwrap().to_string(),
            format!("nginx@{D}")
        );
        assert_eq!(
            source_reference(&original, &tagged).unwrap().to_string(),
            "nginx:2"
        );
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
