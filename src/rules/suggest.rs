//! Reading serde_yaml's errors back: where they happened, and for an unknown key, which valid
//! key was probably meant.
//!
//! serde_yaml renders an error as `registries[0]: unknown field `form`, expected one of `from`,
//! `to`, `keep` at line 4 column 5`: an optional path prefix, serde's message, and an optional
//! location. The pieces are taken apart here so the rules error can say them in its own words.

use strsim::{jaro_winkler, normalized_damerau_levenshtein};

/// A serde_yaml error taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The entry it happened in (`registries[0]`), or `None` at the top level.
    pub entry: Option<String>,
    /// ` at line 4 column 5`, or empty when serde_yaml gives no useful location.
    pub location: String,
    /// What went wrong.
    pub problem: Problem,
}

/// The two kinds of failure worth telling apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A key the format does not have, and the keys that are valid at that place.
    UnknownKey { key: String, expected: Vec<String> },
    /// Anything else (wrong type, YAML syntax): serde_yaml's message without path or location.
    Other(String),
}

/// Takes a serde_yaml error apart.
pub(crate) fn analyse(error: &serde_yaml::Error) -> Failure {
    let mut message = error.to_string();
    let mut location = String::new();
    if let Some(at) = error.location() {
        let suffix = format!(" at line {} column {}", at.line(), at.column());
        if let Some(rest) = message.strip_suffix(&suffix) {
            message = rest.to_string();
            location = suffix;
        }
    }
    let (entry, message) = split_entry(&message);
    let problem = match parse_unknown_field(message) {
        Some((key, expected)) => Problem::UnknownKey { key, expected },
        None => Problem::Other(message.to_string()),
    };
    Failure {
        entry,
        location,
        problem,
    }
}

/// Splits serde_yaml's `path: ` prefix off a message. A path has no spaces, which tells it
/// apart from a message such as `invalid type: sequence, ...`.
fn split_entry(message: &str) -> (Option<String>, &str) {
    match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            (Some(path.to_string()), rest)
        }
        _ => (None, message),
    }
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" (also "expected `a`",
/// "expected `a` or `b`" and "there are no fields").
fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, tail) = rest.split_once("`, ")?;
    let expected = match tail.strip_prefix("expected ") {
        Some(list) => backticked(list),
        None => Vec::new(),
    };
    Some((key.to_string(), expected))
}

/// The words between backticks in `one of `a`, `b``.
fn backticked(list: &str) -> Vec<String> {
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

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
    use crate::rules::file::RulesFile;

    fn failure(text: &str) -> Failure {
        analyse(&serde_yaml::from_str::<RulesFile>(text).unwrap_err())
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn takes_apart_an_unknown_field() {
        let f = failure("version: 1\nregistries:\n  - from: a\n    form: b\n");
        assert_eq!(f.entry.as_deref(), Some("registries[0]"));
        assert_eq!(f.location, " at line 4 column 5");
        let expected = keys(&["from", "to", "keep"]);
        let key = "form".to_string();
        assert_eq!(f.problem, Problem::UnknownKey { key, expected });
    }

    #[test]
    fn top_level_has_no_entry() {
        let f = failure("version: 1\nfoo: 1\n");
        assert_eq!(f.entry, None);
        assert!(matches!(f.problem, Problem::UnknownKey { ref key, .. } if key == "foo"));
    }

    #[test]
    fn reads_the_two_key_form() {
        let f = failure("version: 1\npullSecrets: {add: [{nme: x}]}");
        assert_eq!(f.entry.as_deref(), Some("pullSecrets.add[0]"));
        let expected = keys(&["name", "registries"]);
        let key = "nme".to_string();
        assert_eq!(f.problem, Problem::UnknownKey { key, expected });
    }

    #[test]
    fn keeps_type_errors_whole() {
        let f = failure("version: 1\ndigests: {lock: [1]}");
        assert_eq!(f.entry.as_deref(), Some("digests.lock"));
        let message = "invalid type: sequence, expected a string".to_string();
        assert_eq!(f.problem, Problem::Other(message));
        let f = failure("[1]");
        assert_eq!(f.entry, None);
        assert_eq!(f.location, "");
    }

    #[test]
    fn parses_single_and_empty_expectations() {
        let one = parse_unknown_field("unknown field `b`, expected `a`");
        assert_eq!(one, Some(("b".to_string(), keys(&["a"]))));
        let none = parse_unknown_field("unknown field `b`, there are no fields");
        assert_eq!(none, Some(("b".to_string(), Vec::new())));
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
