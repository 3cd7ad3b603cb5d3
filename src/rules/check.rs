//! Small syntax checks on strings from the rules file: tags, digests, Kubernetes names.
//! Each returns `Err` with the end of a sentence saying what is wrong and what is allowed.

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn tag(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && text.len() <= 128 {
        Ok(())
    } else {
        Err(
            "a tag is 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
                .to_string(),
        )
    }
}

/// A digest: `algorithm:encoded`. `sha256` needs 64 and `sha512` 128 lowercase hex digits;
/// other algorithms need at least 32 characters of `[A-Za-z0-9=_-]`.
pub(crate) fn digest(text: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return Err(
            "a digest looks like `sha256:` followed by 64 lowercase hex digits".to_string(),
        );
    };
    let hex_len = match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    };
    if let Some(len) = hex_len {
        return if encoded.len() == len && encoded.bytes().all(is_lower_hex) {
            Ok(())
        } else {
            Err(format!(
                "a {algorithm} digest needs exactly {len} lowercase hex digits after `{algorithm}:`"
            ))
        };
    }
    if !algorithm_ok(algorithm) {
        return Err(format!(
            "`{algorithm}` is not a digest algorithm; use `sha256:` followed by 64 hex digits"
        ));
    }
    let encoded_ok = encoded.len() >= 32
        && encoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-'));
    if encoded_ok {
        Ok(())
    } else {
        Err(format!(
            "the `{algorithm}` digest after the `:` must be at least 32 letters, digits, `=`, `_` or `-`"
        ))
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `[a-z0-9]+` components joined by single `.`, `+`, `_` or `-`.
fn algorithm_ok(algorithm: &str) -> bool {
    !algorithm.is_empty()
        && algorithm.split(['.', '+', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

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

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn tags() {
        assert!(tag("v1.9.0").is_ok());
        assert!(tag("_x-1").is_ok());
        assert!(tag("").is_err());
        assert!(tag(".x").is_err());
        assert!(tag("a:b").is_err());
        assert!(tag(&"a".repeat(129)).is_err());
    }

    #[test]
    fn digests() {
        assert!(digest(&format!("sha256:{HEX}")).is_ok());
        assert!(digest(&format!("sha512:{HEX}{HEX}")).is_ok());
        assert!(digest(&format!("sha256:{}", HEX.to_uppercase())).is_err());
        assert!(digest("sha256:abc")
            .unwrap_err()
            .contains("64 lowercase hex"));
        assert!(digest(HEX).is_err());
        assert!(digest(&format!("blake3:{HEX}")).is_ok());
        assert!(digest(&format!("Bad:{HEX}")).is_err());
        assert!(digest("blake3:short").is_err());
    }

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
