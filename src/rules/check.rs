//! Small checks on strings from the rules file: Kubernetes names, prefixes, values that must
//! not be empty. Tags and
//! digests are checked by the reference grammar itself (`crate::reference::check_tag`,
//! `crate::reference::check_digest`), as everywhere else.

use super::{Origin, RulesError};
use crate::reference;

/// A Kubernetes object name (DNS-1123 subdomain): at most 253 lowercase letters, digits, `-`
/// and `.`, starting and ending with a letter or digit.
pub(crate) fn kubernetes_name(text: &str) -> Result<(), String> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends_ok = text.starts_with(alnum) && text.ends_with(alnum);
    let chars_ok = text.chars().all(|c| alnum(c) || c == '-' || c == '.');
    if ends_ok && chars_ok && text.len() <= 253 {
        Ok(())
    } else {
        Err(
            "a Secret name is at most 253 lowercase letters, digits, `-` or `.`, \
             starting and ending with a letter or digit"
                .to_string(),
        )
    }
}

/// Whether a prefix written in the rules carries a tag (`:` after the host) or a digest (`@`).
pub(crate) fn has_tag_or_digest(prefix: &str) -> bool {
    let after_host = prefix.split_once('/').map_or("", |(_, path)| path);
    prefix.contains('@') || after_host.contains(':')
}

/// A string that must not be empty.
pub(super) fn non_empty(
    text: Option<String>,
    at: &str,
    origin: &Origin,
) -> Result<Option<String>, RulesError> {
    match text {
        Some(t) if t.is_empty() => {
            Err(origin.invalid(at, "empty; give a value or leave the key out"))
        }
        other => Ok(other),
    }
}

/// A registry prefix to match, such as `docker.io` or `harbor.example.com/team`, normalised
/// for comparison (the host lowercase, `index.docker.io` as `docker.io`).
pub(super) fn prefix(text: &str, at: &str, origin: &Origin) -> Result<String, RulesError> {
    checked_prefix(text, at, origin, reference::normalize_prefix)
}

/// A registry prefix to move images under (a `to`), checked like [`prefix`] but kept as
/// written, since it is written into the rewritten references.
pub(super) fn target(text: &str, at: &str, origin: &Origin) -> Result<String, RulesError> {
    checked_prefix(text, at, origin, reference::target_prefix)
}

fn checked_prefix(
    text: &str,
    at: &str,
    origin: &Origin,
    form: fn(&str) -> Option<String>,
) -> Result<String, RulesError> {
    if text.is_empty() {
        return Err(origin.invalid(
            at,
            "empty; give a registry prefix such as `harbor.example.com/team`",
        ));
    }
    if has_tag_or_digest(text) {
        return Err(origin.invalid(at, format!(
            "`{text}` carries a tag or digest; give only the registry and path, such as `harbor.example.com/team`"
        )));
    }
    form(text).ok_or_else(|| origin.invalid(at, format!(
        "`{text}` is not a registry prefix; it must start with a registry host, such as `docker.io` or `harbor.example.com/team`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names() {
        assert!(kubernetes_name("harbor-pull").is_ok());
        assert!(kubernetes_name("a.b-c").is_ok());
        assert!(kubernetes_name("Harbor").is_err());
        assert!(kubernetes_name("-a").is_err());
        assert!(kubernetes_name("a_b").is_err());
        assert!(kubernetes_name("").is_err());
        assert!(kubernetes_name(&"a".repeat(254)).is_err());
    }

    #[test]
    fn tags_and_digests_in_prefixes() {
        assert!(!has_tag_or_digest("harbor.example.com:5000/x"));
        assert!(has_tag_or_digest("harbor.example.com/x:v1"));
        assert!(has_tag_or_digest("harbor.example.com/x@sha256:00"));
    }
}
