//! The registry client, the one [`Resolver`] that talks to the network: HEAD of the manifest
//! with the [`ACCEPT`] list, `Docker-Content-Digest` checked (sha256 or sha512); GET when the
//! header is missing, the body hashed by the algorithm the GET's header names (and checked
//! against it), else by sha256. A 401 brings a challenge: Bearer (token from the realm, see
//! `token`) or Basic, with credentials from `credentials`. Challenges are remembered per
//! registry and tokens per registry and scope, so later lookups go straight to the right login.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::reference::Reference;

use super::challenge::{self, Challenge};
use super::credentials::Credentials;
use super::endpoint::{tag_or_digest, Endpoint};
use super::error::{ResolveError, Target};
use super::http::{Http, Method, Reply, Request, SaveTo};
use super::login::Credential;
use super::manifest::{check_digest, check_media_type, Algorithm, ACCEPT};
use super::proxy::Proxies;
use super::settings::Settings;
use super::token::{self, basic_header, TokenRequest};
use super::trust::Trust;
use super::{Resolved, Resolver};

/// Resolves references against their registries.
pub struct RegistryClient {
    insecure: Vec<String>,
    http: Http,
    credentials: Credentials,
    /// The last challenge of each registry host.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// `Authorization` values by (host, scope).
    tokens: Mutex<HashMap<(String, String), String>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client with these settings, and the credentials and proxies the environment points
    /// at. Fails when a CA file or a proxy variable cannot be used.
    pub fn new(settings: &Settings) -> Result<RegistryClient, ResolveError> {
        let trust = Trust::new(&settings.ca_files, &settings.certs_dirs)?;
        Ok(RegistryClient {
            insecure: settings.insecure.clone(),
            http: Http::new(
                settings.connect_timeout,
                settings.timeout,
                trust,
                Proxies::from_env()?,
            ),
            credentials: Credentials::from_env(settings.timeout),
            challenges: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }
}

impl Resolver for RegistryClient {
    fn resolve(&self, image: &Reference) -> Result<Resolved, ResolveError> {
        let endpoint = Endpoint::new(image, &self.insecure, |host| {
            self.http.tls_configured_for(host)
        });
        let repository = image.repository().into_owned();
        let session = Session {
            client: self,
            url: endpoint.manifest_url(&repository, tag_or_digest(image)),
            target: endpoint.target(image),
            scope: format!("repository:{repository}:pull"),
            endpoint,
            deadline: Instant::now() + self.http.total(),
        };
        session.resolve()
    }
}

impl RegistryClient {
    /// A session on `image`'s repository for `actions` (`pull`, or `pull,push`), with the
    /// whole time of one image before it.
    pub(super) fn session(&self, image: &Reference, actions: &str) -> Session<'_> {
        self.session_also_pulling(image, actions, None)
    }

    /// [`RegistryClient::session`], whose token also lets it pull from the repository `also`
    /// of the same registry (a blob mount's source): one token for both scopes, as the
    /// registry checks both on the one request.
    pub(super) fn session_also_pulling(
        &self,
        image: &Reference,
        actions: &str,
        also: Option<&Reference>,
    ) -> Session<'_> {
        let endpoint = Endpoint::new(image, &self.insecure, |host| {
            self.http.tls_configured_for(host)
        });
        let repository = image.repository().into_owned();
        let mut scope = format!("repository:{repository}:{actions}");
        if let Some(also) = also.filter(|a| a.repository() != image.repository()) {
            scope.push_str(&format!(" repository:{}:pull", also.repository()));
        }
        Session {
            client: self,
            url: endpoint.manifest_url(&repository, tag_or_digest(image)),
            target: endpoint.target(image),
            scope,
            endpoint,
            deadline: Instant::now() + self.http.total(),
        }
    }
}

/// The work on one image: its registry, its repository and the login they call for.
pub(super) struct Session<'c> {
    client: &'c RegistryClient,
    pub(super) endpoint: Endpoint,
    pub(super) target: Target,
    url: String,
    /// The token scopes it asks for, separated by spaces.
    scope: String,
    deadline: Instant,
}

impl Session<'_> {
    /// One request of any kind to this registry, logging in (for this session's scope) and
    /// sending it again after a 401 with a challenge. The deadline is renewed, so each
    /// request of a long copy gets the whole time of one image.
    pub(super) fn exchange(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        save_to: Option<SaveTo<'_>>,
    ) -> Result<Reply, ResolveError> {
        let deadline = Instant::now() + self.client.http.total();
        let send = |authorization: Option<&str>| {
            let request = Request {
                method: method.clone(),
                url,
                accept,
                authorization,
                save_to,
            };
            self.client.http.send(&request, deadline, &self.target)
        };
        let known = self.authorization()?;
        let reply = send(known.as_deref())?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let Some(challenge) = challenge::parse_all(reply.headers("www-authenticate")) else {
            return Ok(reply);
        };
        lock(&self.client.challenges).insert(self.endpoint.host.clone(), challenge);
        match self.authorization()? {
            Some(fresh) if Some(&fresh) != known.as_ref() => send(Some(&fresh)),
            _ => Ok(reply),
        }
    }

    /// The error for an unexpected answer, with the hint for its status.
    pub(super) fn refusal(&self, reply: &Reply) -> ResolveError {
        self.status_error(reply)
    }

    /// The error for a blob the registry would not serve.
    pub(super) fn refusal_of_blob(&self, status: u16, digest: &str) -> ResolveError {
        ResolveError::Status {
            target: Box::new(self.target.clone()),
            status,
            detail: String::new(),
            hint: format!("the registry would not serve the blob `{digest}` its manifest lists; check that the image is complete there"),
        }
    }

    /// An answer with a digest that cannot be right.
    pub(super) fn digest_problem(&self, problem: String) -> ResolveError {
        self.digest_error(problem)
    }

    /// The manifest URL of the session's image.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    fn resolve(&self) -> Result<Resolved, ResolveError> {
        let head = self.fetch(true)?;
        match head.status {
            200 => {
                self.media_type(&head)?;
                match head.header("docker-content-digest") {
                    Some(sent) => Ok(Resolved {
                        digest: check_digest(sent).map_err(|p| self.digest_error(p))?,
                    }),
                    None => self.by_body(),
                }
            }
            // Registries that do not answer HEAD; and a 400 over plain http, whose body may
            // say that the port speaks https.
            405 | 501 => self.by_body(),
            400 if self.endpoint.scheme == "http" => self.by_body(),
            _ => Err(self.status_error(&head)),
        }
    }

    /// GET the manifest and hash it: by the algorithm of its digest header, which must agree,
    /// or by sha256 when there is none.
    fn by_body(&self) -> Result<Resolved, ResolveError> {
        let get = self.fetch(false)?;
        if get.status != 200 {
            return Err(self.status_error(&get));
        }
        self.media_type(&get)?;
        let sent = get
            .header("docker-content-digest")
            .map(check_digest)
            .transpose()
            .map_err(|p| self.digest_error(p))?;
        let algorithm = sent.as_deref().map_or(Algorithm::Sha256, Algorithm::of);
        let digest = algorithm.digest(&get.body);
        match sent {
            Some(sent) if sent != digest => Err(self.digest_error(format!(
                "the registry says the manifest is `{sent}`, but its bytes hash to `{digest}`; a proxy may be changing them"
            ))),
            _ => Ok(Resolved { digest }),
        }
    }

    /// One request, logging in and sending it again after a 401 with a challenge.
    fn fetch(&self, head: bool) -> Result<Reply, ResolveError> {
        let known = self.authorization()?;
        let reply = self.send(head, known.as_deref())?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let Some(challenge) = challenge::parse_all(reply.headers("www-authenticate")) else {
            return Ok(reply);
        };
        lock(&self.client.challenges).insert(self.endpoint.host.clone(), challenge);
        match self.authorization()? {
            Some(fresh) if Some(&fresh) != known.as_ref() => self.send(head, Some(&fresh)),
            _ => Ok(reply),
        }
    }

    fn send(&self, head: bool, authorization: Option<&str>) -> Result<Reply, ResolveError> {
        let request = Request {
            method: if head { Method::Head } else { Method::Get },
            url: &self.url,
            accept: Some(ACCEPT),
            authorization,
            save_to: None,
        };
        self.client.http.send(&request, self.deadline, &self.target)
    }

    /// The `Authorization` value the registry's last challenge calls for, if any.
    fn authorization(&self) -> Result<Option<String>, ResolveError> {
        let host = &self.endpoint.host;
        let challenge = lock(&self.client.challenges).get(host).cloned();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(match self.credential()? {
                Some(Credential::Basic { username, password }) => {
                    Some(basic_header(&username, &password))
                }
                _ => None,
            }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                self.bearer(&realm, service.as_deref()).map(Some)
            }
        }
    }

    /// A token for this repository: remembered, or fetched from the realm.
    fn bearer(&self, realm: &str, service: Option<&str>) -> Result<String, ResolveError> {
        let key = (self.endpoint.host.clone(), self.scope.clone());
        if let Some(known) = lock(&self.client.tokens).get(&key) {
            return Ok(known.clone());
        }
        let credential = self.credential()?;
        let ask = TokenRequest {
            realm,
            service,
            scope: &self.scope,
            credential: credential.as_ref(),
            insecure: &self.client.insecure,
        };
        let token = token::fetch(&self.client.http, &ask, self.deadline, &self.target)?;
        let value = format!("Bearer {token}");
        lock(&self.client.tokens).insert(key, value.clone());
        Ok(value)
    }

    fn credential(&self) -> Result<Option<Credential>, ResolveError> {
        self.client
            .credentials
            .lookup(&self.endpoint)
            .map_err(|problem| ResolveError::Auth {
                target: Box::new(self.target.clone()),
                problem: format!("cannot read the credentials: {problem}"),
            })
    }

    fn media_type(&self, reply: &Reply) -> Result<(), ResolveError> {
        check_media_type(reply.header("content-type")).map_err(|p| self.digest_error(p))
    }

    fn digest_error(&self, problem: String) -> ResolveError {
        ResolveError::Digest {
            target: Box::new(self.target.clone()),
            problem,
        }
    }

    fn status_error(&self, reply: &Reply) -> ResolveError {
        ResolveError::Status {
            target: Box::new(self.target.clone()),
            status: reply.status,
            detail: detail(reply),
            hint: self.hint(reply),
        }
    }

    /// What to try after an error status.
    fn hint(&self, reply: &Reply) -> String {
        let status = reply.status;
        // Go's TLS servers answer a plain-http request so.
        let speaks_tls = String::from_utf8_lossy(&reply.body).contains("to an HTTPS server");
        if status == 400 && self.endpoint.scheme == "http" && speaks_tls {
            return format!("the registry speaks https; loopback registries are spoken to over plain http unless TLS material is configured for them: give its CA with `--registry-ca-file FILE` (or `digests.caFiles`), or create a certs.d folder `{}/` (with its `ca.crt`) under `--certs-dir DIR`", self.endpoint.host);
        }
        let login = if self.endpoint.is_docker_hub() {
            "docker login".to_string()
        } else {
            format!("docker login {}", self.endpoint.host)
        };
        let logged_in = matches!(self.client.credentials.lookup(&self.endpoint), Ok(Some(_)));
        match status {
            404 => "the tag or repository does not exist there; check it (`reimage images` lists the references after the rules), or, for a mirror that is not filled yet, resolve against the source registries with `reimage lock --source`".to_string(),
            401 if logged_in => format!("the registry refused the stored credentials; log in again (`{login}`)"),
            401 => format!("the registry wants a login: run `{login}` (or `podman login`), or point DOCKER_CONFIG or REGISTRY_AUTH_FILE at a file with credentials"),
            403 => "the login has no pull access to this repository; check the name and the account's permissions".to_string(),
            429 => "the registry is limiting the request rate (still after retries); wait and run again, or log in for a higher limit".to_string(),
            500..=599 => "the registry failed (still after retries); try again later".to_string(),
            413 => "the registry (or a proxy before it) refuses a body this large, even in the smallest chunks; raise its body limit (`client_max_body_size` in nginx)".to_string(),
            416 => "the registry lost track of the upload (a chunk it did not expect); run again: the upload starts over".to_string(),
            _ => "check the registry address and the reference".to_string(),
        }
    }
}

/// ` not found (MANIFEST_UNKNOWN)`: the status's reason and the registry's error code.
fn detail(reply: &Reply) -> String {
    let reason = ureq::http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or_else(String::new, |r| format!(" {}", r.to_ascii_lowercase()));
    match error_code(&reply.body) {
        Some(code) => format!("{reason} ({code})"),
        None => reason,
    }
}

/// The first `errors[].code` of a distribution error body, if it is what the distribution spec
/// says a code is: uppercase letters and underscores. Nothing else of the body is shown, and
/// neither is a code of any other form, which could be text the registry echoes from the
/// request (such as a base64 `Authorization` value).
fn error_code(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = json.get("errors")?.get(0)?.get("code")?.as_str()?;
    let spec = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    spec.then(|| code.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_distribution_error_codes() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(error_code(body).as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(error_code(b"not json"), None);
        assert_eq!(error_code(br#"{"errors":[{"code":"a b"}]}"#), None);
        // An echoed `Basic` value is alphanumeric; codes are uppercase and underscores.
        let echoed = br#"{"errors":[{"code":"YWxpY2U6czNjcmV0","message":"YWxpY2U6czNjcmV0"}]}"#;
        assert_eq!(error_code(echoed), None);
        assert_eq!(
            error_code(br#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#).as_deref(),
            Some("TOOMANYREQUESTS")
        );
        assert_eq!(error_code(br#"{"errors":[{"code":""}]}"#), None);
    }
}
