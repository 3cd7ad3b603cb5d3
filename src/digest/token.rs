//! The Bearer token flow of the distribution token specification: after a 401 with
//! `Bearer realm=…,service=…`, ask the realm for a token for `scope`
//! (`repository:NAME:pull`): anonymously, with Basic credentials, or, for an identity token,
//! by an OAuth2 refresh-token POST. Called by `client`; the token goes back into an
//! `Authorization` header and nowhere else.

use std::time::Instant;

use base64::Engine;

use super::endpoint::plain_http_allowed;
use super::error::{ResolveError, Target};
use super::http::{Http, Method, Request};
use super::login::Credential;

/// What the realm needs to issue a token.
pub struct TokenRequest<'a> {
    pub realm: &'a str,
    pub service: Option<&'a str>,
    /// One scope, or several separated by spaces.
    pub scope: &'a str,
    pub credential: Option<&'a Credential>,
    /// Hosts allowed to see credentials over plain http.
    pub insecure: &'a [String],
}

/// Fetches a token; the error says whether credentials were refused or missing.
pub fn fetch(
    http: &Http,
    ask: &TokenRequest<'_>,
    deadline: Instant,
    target: &Target,
) -> Result<String, ResolveError> {
    let auth_error = |problem: String| ResolveError::Auth {
        target: Box::new(target.clone()),
        problem,
    };
    check_realm(ask).map_err(auth_error)?;
    let (method, url, authorization) = shape(ask);
    let request = Request {
        method,
        url: &url,
        accept: Some("application/json"),
        authorization: authorization.as_deref(),
        save_to: None,
    };
    let reply = http.send(&request, deadline, target)?;
    if reply.status != 200 {
        return Err(auth_error(refused(ask, reply.status)));
    }
    token_of(&reply.body).ok_or_else(|| {
        auth_error(format!(
            "the token service {} answered without a token",
            ask.realm
        ))
    })
}

/// How to ask: a refresh-token POST for an identity token, else a GET with the parameters
/// in the query and Basic credentials if there are any.
fn shape(ask: &TokenRequest<'_>) -> (Method, String, Option<String>) {
    // Several scopes: one `scope` parameter each in a query, one space-separated list in an
    // OAuth2 form (the distribution token specification's two forms).
    let mut params: Vec<(&str, &str)> = ask.scope.split(' ').map(|s| ("scope", s)).collect();
    if let Some(service) = ask.service {
        params.push(("service", service));
    }
    match ask.credential {
        Some(Credential::IdentityToken(token)) => {
            params.retain(|(key, _)| *key != "scope");
            params.insert(0, ("scope", ask.scope));
            params.extend([("grant_type", "refresh_token"), ("client_id", "reimage")]);
            params.push(("refresh_token", token));
            (Method::PostForm(form(&params)), ask.realm.to_string(), None)
        }
        Some(Credential::Basic { username, password }) => (
            Method::Get,
            with_query(ask.realm, &params),
            Some(basic_header(username, password)),
        ),
        None => (Method::Get, with_query(ask.realm, &params), None),
    }
}

/// The realm must be http(s); credentials go over plain http only to loopback or insecure hosts.
fn check_realm(ask: &TokenRequest<'_>) -> Result<(), String> {
    if ask.realm.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = ask.realm.strip_prefix("http://") else {
        return Err(format!(
            "the token realm `{}` is not an http(s) URL",
            ask.realm
        ));
    };
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if ask.credential.is_some() && !plain_http_allowed(host, ask.insecure) {
        return Err(format!(
            "the token service {} is plain http; credentials are not sent there (list `{host}` with `--insecure-registry` to allow it)",
            ask.realm
        ));
    }
    Ok(())
}

fn refused(ask: &TokenRequest<'_>, status: u16) -> String {
    let who = match ask.credential {
        Some(_) => "refused the stored credentials",
        None => "refused anonymous access",
    };
    format!(
        "the token service {} {who} for scope `{}` (http {status}); log in with `docker login` or `podman login`, or check the repository name",
        ask.realm, ask.scope
    )
}

/// `token` or `access_token` from the realm's JSON answer.
fn token_of(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["token", "access_token"]
        .iter()
        .filter_map(|key| json.get(key)?.as_str())
        .find(|t| !t.is_empty())
        .map(str::to_string)
}

/// `Basic base64(user:password)`.
pub fn basic_header(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn with_query(realm: &str, params: &[(&str, &str)]) -> String {
    let join = if realm.contains('?') { '&' } else { '?' };
    format!("{realm}{join}{}", form(params))
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but the unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_token_url() {
        let params = [
            ("scope", "repository:library/nginx:pull"),
            ("service", "registry.docker.io"),
        ];
        assert_eq!(
            with_query("https://auth.docker.io/token", &params),
            "https://auth.docker.io/token?scope=repository%3Alibrary%2Fnginx%3Apull&service=registry.docker.io"
        );
        assert!(with_query("https://t/x?a=b", &params).starts_with("https://t/x?a=b&scope="));
        assert_eq!(basic_header("alice", "secret"), "Basic YWxpY2U6c2VjcmV0");
    }

    #[test]
    fn several_scopes_are_several_parameters_in_a_query_and_one_list_in_a_form() {
        let basic = Credential::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        let identity = Credential::IdentityToken("t".into());
        let ask = |credential| TokenRequest {
            realm: "https://t.example/x",
            service: None,
            scope: "repository:a:pull,push repository:b:pull",
            credential,
            insecure: &[],
        };
        let (_, url, _) = shape(&ask(Some(&basic)));
        assert_eq!(
            url,
            "https://t.example/x?scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%3Apull"
        );
        let (method, _, _) = shape(&ask(Some(&identity)));
        match method {
            Method::PostForm(body) => assert!(
                body.starts_with("scope=repository%3Aa%3Apull%2Cpush%20repository%3Ab%3Apull&"),
                "{body}"
            ),
            _ => panic!("not a POST"),
        }
    }

    #[test]
    fn identity_tokens_are_exchanged_by_post() {
        let cred = Credential::IdentityToken("r t".into());
        let ask = TokenRequest {
            realm: "https://t.example/x",
            service: Some("s"),
            scope: "repository:a:pull",
            credential: Some(&cred),
            insecure: &[],
        };
        let (method, url, authorization) = shape(&ask);
        assert_eq!((url.as_str(), authorization), ("https://t.example/x", None));
        match method {
            Method::PostForm(body) => assert_eq!(
                body,
                "scope=repository%3Aa%3Apull&service=s&grant_type=refresh_token&client_id=reimage&refresh_token=r%20t"
            ),
            _ => panic!("not a POST"),
        }
    }

    #[test]
    fn reads_tokens_and_guards_credentials() {
        assert_eq!(
            token_of(br#"{"token":"t1","access_token":"t2"}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(token_of(br#"{"access_token":"t2"}"#).as_deref(), Some("t2"));
        assert_eq!(token_of(br#"{"token":""}"#), None);
        let cred = Credential::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        let ask = |realm, credential| TokenRequest {
            realm,
            service: None,
            scope: "s",
            credential,
            insecure: &[],
        };
        assert!(check_realm(&ask("http://auth.example/token", Some(&cred))).is_err());
        assert!(check_realm(&ask("http://auth.example/token", None)).is_ok());
        assert!(check_realm(&ask("http://127.0.0.1:9/token", Some(&cred))).is_ok());
        assert!(check_realm(&ask("ftp://x", None)).is_err());
    }
}
