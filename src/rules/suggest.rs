//! For an unknown key, which valid key was probably meant. The key and the keys allowed in its
//! place come from the reader (`super::tracked`), as serde's derive gives them.

use strsim::{jaro_winkler, normalized_damerau_levenshtein};

/// The tail of an unknown-key message: "did you mean `from`?" when one valid key is close,
/// otherwise the list of valid keys.
pub(crate) fn hint(key: &str, expected: &[String]) -> String {
    if let Some(best) = nearest(key, expected) {
        return format!("did you mean `{best}`?");
    }
    match expected {
        [] => "no keys are allowed here".to_string(),
        [only] => format!("the only key allowed here is `{only}`"),
        _ => {
            let keys: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
            format!("the keys allowed here are {}", keys.join(", "))
        }
    }
}

/// The valid key most like `key`, if it is like enough.
fn nearest<'a>(key: &str, expected: &'a [String]) -> Option<&'a str> {
    let wanted = fold(key);
    let mut best: Option<(&str, f64)> = None;
    for candidate in expected {
        let score = similarity(&wanted, &fold(candidate));
        if best.is_none_or(|(_, top)| score > top) {
            best = Some((candidate, score));
        }
    }
    best.filter(|(_, score)| *score >= 0.5).map(|(k, _)| k)
}

/// Similarity in 0..=1; edit distance, helped by Jaro-Winkler for shared beginnings.
fn similarity(a: &str, b: &str) -> f64 {
    let edits = normalized_damerau_levenshtein(a, b);
    let prefix = jaro_winkler(a, b);
    if prefix >= 0.9 {
        edits.max(prefix)
    } else {
        edits
    }
}

/// Lowercase, without `_` and `-`, so `pull_secrets` and `PodSpec` match their camelCase keys.
fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn suggests_the_nearest_key() {
        let all = keys(&[
            "version",
            "registries",
            "images",
            "pullSecrets",
            "digests",
            "paths",
        ]);
        assert_eq!(hint("registry", &all), "did you mean `registries`?");
        assert_eq!(hint("pull_secrets", &all), "did you mean `pullSecrets`?");
        assert_eq!(hint("verison", &all), "did you mean `version`?");
        let entry = keys(&["from", "to", "keep"]);
        assert_eq!(hint("form", &entry), "did you mean `from`?");
        let image = keys(&["name", "newName", "newTag", "digest", "select"]);
        assert_eq!(hint("tag", &image), "did you mean `newTag`?");
    }

    #[test]
    fn lists_keys_when_nothing_is_close() {
        let entry = keys(&["from", "to", "keep"]);
        assert_eq!(
            hint("mirror", &entry),
            "the keys allowed here are `from`, `to`, `keep`"
        );
        assert_eq!(hint("x", &keys(&["a"])), "the only key allowed here is `a`");
    }
}
