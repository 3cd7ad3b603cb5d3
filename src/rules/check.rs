//! Small syntax checks on strings from the rules file: Kubernetes names, prefixes. Tags and
//! digests are checked by the reference grammar itself (`crate::reference::check_tag`,
//! `crate::reference::check_digest`), as everywhere else.

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
