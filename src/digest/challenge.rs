//! The `WWW-Authenticate` challenge a registry sends with a 401: `Bearer realm=…,service=…,
//! scope=…` (the token flow of Docker Hub, GHCR, Quay, Harbor, distribution) or `Basic`.
//! Pure parsing; the client decides what to do with it.

/// What the registry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Fetch a token from `realm`, for `service` and `scope`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// Send the user name and password with every request.
    Basic,
}

/// The best challenge among the `WWW-Authenticate` header values: Bearer before Basic.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<Challenge> = values.into_iter().filter_map(parse).collect();
    all.iter()
        .find(|c| matches!(c, Challenge::Bearer { .. }))
        .or_else(|| all.first())
        .cloned()
}

/// One header value; `None` for schemes reimage does not speak.
pub fn parse(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = params(rest);
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn params(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, after) = value(after.trim_start());
        pairs.push((key.trim().to_string(), value));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    pairs
}

/// A quoted string (with `\` escapes) or a token up to the next comma; and what follows.
fn value(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let (token, rest) = text.split_at(text.find(',').unwrap_or(text.len()));
        return (token.trim().to_string(), rest);
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, quoted.get(i + 1..).unwrap_or_default()),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_challenges() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            parse(hub),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
        let odd = r#"bearer  realm=https://t.example/token , scope="a:b\"c:pull,push""#;
        assert_eq!(
            parse(odd),
            Some(Challenge::Bearer {
                realm: "https://t.example/token".into(),
                service: None,
                scope: Some("a:b\"c:pull,push".into()),
            })
        );
        assert_eq!(parse("Bearer service=x"), None);
    }

    #[test]
    fn prefers_bearer_and_ignores_unknown_schemes() {
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse("Negotiate"), None);
        let both = [
            "Basic realm=x",
            r#"Bearer realm="https://t/""#,
            "Digest x=1",
        ];
        assert!(matches!(parse_all(both), Some(Challenge::Bearer { .. })));
        assert_eq!(parse_all(["Digest x=1"]), None);
    }
}
