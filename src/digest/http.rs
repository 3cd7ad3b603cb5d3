//! One HTTP exchange with a registry or a token service, through `ureq` with rustls: the
//! image's deadline as the timeout, a bounded connect timeout, retries on 429 and 5xx (see
//! `retry`), the proxy `proxy` picks, the TLS identity `trust` gives the host (one agent per
//! identity, so connections are pooled across threads), redirects followed here rather than by
//! ureq (never from https to plain http, and `Authorization` only to the origin it was meant
//! for), and ureq's errors turned into [`ResolveError`]s that say what failed and what to do.
//! Used only by `client` and `token`; nothing here logs, so headers (which may hold
//! credentials) are never shown, and URLs in messages lose their query (signed blob URLs).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::HeaderMap;

use super::error::{ResolveError, Target};
use super::proxy::{redacted, Proxies};
use super::retry;
use super::trust::{HostTls, Trust};

/// The most a manifest or token answer may weigh.
const BODY_LIMIT: u64 = 4 * 1024 * 1024;
/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// The HTTP agents of a run (connections are pooled across threads).
pub struct Http {
    /// For plain http.
    plain: ureq::Agent,
    /// For https, by the `certs.d` folder of the identity (`None`: the shared one).
    secure: Mutex<HashMap<Option<PathBuf>, ureq::Agent>>,
    trust: Trust,
    proxies: Proxies,
    connect: Duration,
    total: Duration,
}

/// What to send.
#[derive(Debug, Clone)]
pub enum Method {
    Head,
    Get,
    /// POST of an `application/x-www-form-urlencoded` body.
    PostForm(String),
    /// POST with no body (starting or mounting a blob upload).
    Post,
    /// PUT of a body of this media type (a manifest, or a blob to finish its upload).
    Put {
        content_type: String,
        body: Payload,
    },
    /// PATCH of one chunk of a blob upload: `Content-Range: first-last` (bytes of the blob,
    /// inclusive) over `application/octet-stream`.
    Patch {
        body: Payload,
    },
}

/// What a PUT or PATCH sends: bytes in memory (a manifest, or nothing), or `size` bytes of a
/// file from `offset` on, streamed from disk (a blob or a chunk of one) and read again on
/// every retry.
#[derive(Debug, Clone)]
pub enum Payload {
    Bytes(std::sync::Arc<Vec<u8>>),
    File {
        path: PathBuf,
        offset: u64,
        size: u64,
    },
}

/// Where a GET's body goes instead of memory: streamed into `path` (created or truncated on
/// every attempt) and hashed on the way by `algorithm`, with no size limit.
#[derive(Debug, Clone, Copy)]
pub struct SaveTo<'a> {
    pub path: &'a std::path::Path,
    pub algorithm: super::manifest::Algorithm,
}

/// What a GET saved to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub size: u64,
    /// `algorithm:hex` of the bytes written.
    pub digest: String,
}

/// One request.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub accept: Option<&'a str>,
    /// The whole `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// For a GET: stream the body to a file rather than into [`Reply::body`].
    pub save_to: Option<SaveTo<'a>>,
}

/// An answer, whatever its status.
pub struct Reply {
    pub status: u16,
    headers: HeaderMap,
    pub body: Vec<u8>,
    /// What was saved, when the request asked for a file.
    pub saved: Option<Saved>,
}

impl Reply {
    /// The first value of a header, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header that is text.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl Http {
    /// `connect` bounds each connection attempt, `total` the work on one image.
    pub fn new(connect: Duration, total: Duration, trust: Trust, proxies: Proxies) -> Http {
        Http {
            plain: agent(ureq::tls::TlsConfig::default()),
            secure: Mutex::new(HashMap::new()),
            trust,
            proxies,
            connect,
            total,
        }
    }

    /// Whether TLS material is configured for `host` (see [`Trust::configured_for`]).
    pub fn tls_configured_for(&self, host: &str) -> bool {
        self.trust.configured_for(host)
    }

    /// The time allowed for one image.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// Sends `request` and follows its redirects: never from https to plain http, and its
    /// `Authorization` only while the origin (scheme, host, port) stays the same.
    pub fn send(
        &self,
        request: &Request<'_>,
        deadline: Instant,
        target: &Target,
    ) -> Result<Reply, ResolveError> {
        let mut url = request.url.to_string();
        let mut method = request.method.clone();
        let mut authorization = request.authorization;
        for _ in 0..=MAX_REDIRECTS {
            let hop = Request {
                method: method.clone(),
                url: &url,
                accept: request.accept,
                authorization,
                save_to: request.save_to,
            };
            let reply = self.with_retries(&hop, deadline, target)?;
            let location = match reply.status {
                301 | 302 | 303 | 307 | 308 => reply.header("location"),
                _ => None,
            };
            let Some(location) = location else {
                return Ok(reply);
            };
            let next = follow(&url, location);
            if scheme(&url) == "https" && scheme(&next) != "https" {
                return Err(ResolveError::Redirect {
                    target: Box::new(target.clone()),
                    problem: format!(
                        "the registry redirected from {} to plain http ({}); reimage does not follow a redirect from https to plain http, so that nothing (credentials included) travels unencrypted: fix the redirect on the registry side",
                        shown(&url),
                        shown(&next)
                    ),
                });
            }
            if origin(&next) != origin(&url) {
                authorization = None;
            }
            // As Go does: 303 turns a GET or POST into GET, and so do 301 and 302 after a
            // POST; HEAD stays HEAD.
            let post = matches!(method, Method::PostForm(_));
            if (reply.status == 303 && !matches!(method, Method::Head))
                || (post && matches!(reply.status, 301 | 302))
            {
                method = Method::Get;
            }
            url = next;
        }
        Err(ResolveError::Redirect {
            target: Box::new(target.clone()),
            problem: format!(
                "more than {MAX_REDIRECTS} redirects, the last to {}; check the registry's address",
                shown(&url)
            ),
        })
    }

    /// Sends `request`, again after 429 and 5xx answers while `deadline` allows.
    fn with_retries(
        &self,
        request: &Request<'_>,
        deadline: Instant,
        target: &Target,
    ) -> Result<Reply, ResolveError> {
        let mut retry = 0;
        loop {
            let reply = self.once(request, deadline, target)?;
            if !retry::retryable(reply.status) || retry >= retry::MAX_RETRIES {
                return Ok(reply);
            }
            let wait = retry::wait(retry, reply.header("retry-after"));
            if Instant::now() + wait >= deadline {
                return Ok(reply);
            }
            std::thread::sleep(wait);
            retry += 1;
        }
    }

    fn once(
        &self,
        request: &Request<'_>,
        deadline: Instant,
        target: &Target,
    ) -> Result<Reply, ResolveError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout(target, "before the request"));
        }
        let (scheme, host) = origin(request.url);
        let tls = match scheme {
            "https" => Some(self.trust.for_host(&host)?),
            _ => None,
        };
        let agent = self.agent_for(tls.as_ref());
        let proxy = self.proxies.for_request(scheme, &host).cloned();
        let via = Via {
            tls: tls.as_deref(),
            host: &host,
            proxy: proxy.as_ref(),
        };
        let setup = Setup {
            left,
            connect: self.connect.min(left),
            proxy: proxy.clone(),
        };
        let result = match &request.method {
            Method::Head => prepare(agent.head(request.url), request, &setup).call(),
            Method::Get => prepare(agent.get(request.url), request, &setup).call(),
            Method::PostForm(body) => prepare(agent.post(request.url), request, &setup)
                .content_type("application/x-www-form-urlencoded")
                .send(body.as_bytes()),
            Method::Post => prepare(agent.post(request.url), request, &setup)
                .header("Content-Length", "0")
                .send_empty(),
            Method::Put { content_type, body } => {
                let put = prepare(agent.put(request.url), request, &setup)
                    .content_type(content_type.as_str());
                self.send_payload(put, body, target)?
            }
            Method::Patch { body } => {
                let (first, size) = match body {
                    Payload::Bytes(bytes) => (0, bytes.len() as u64),
                    Payload::File { offset, size, .. } => (*offset, *size),
                };
                let range = format!("{first}-{}", (first + size).saturating_sub(1));
                let patch = prepare(agent.patch(request.url), request, &setup)
                    .content_type("application/octet-stream")
                    .header("Content-Range", range);
                self.send_payload(patch, body, target)?
            }
        };
        let mut response = result.map_err(|e| self.failure(e, target, &via))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut saved = None;
        let body = match (&request.method, request.save_to) {
            (Method::Head, _) => Vec::new(),
            (Method::Get, Some(to)) if status == 200 => {
                let mut reader = response.body_mut().with_config().reader();
                saved = Some(save(&mut reader, to).map_err(|e| match e {
                    SaveError::Read(e) => self.failure_io(e, target, &via),
                    SaveError::Write(e) => {
                        self.local(target, format!("cannot write {}: {e}", to.path.display()))
                    }
                })?);
                Vec::new()
            }
            _ => response
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| self.failure(e, target, &via))?,
        };
        Ok(Reply {
            status,
            headers,
            body,
            saved,
        })
    }

    /// Sends a PUT's or PATCH's body: the bytes, or the file's range streamed from disk.
    fn send_payload(
        &self,
        builder: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &Payload,
        target: &Target,
    ) -> Result<Result<ureq::http::Response<ureq::Body>, ureq::Error>, ResolveError> {
        use std::io::{Read as _, Seek as _};
        Ok(match body {
            Payload::Bytes(bytes) => builder.send(bytes.as_slice()),
            Payload::File { path, offset, size } => {
                let read = |e: std::io::Error| {
                    self.local(target, format!("cannot read {}: {e}", path.display()))
                };
                let mut file = std::fs::File::open(path).map_err(read)?;
                file.seek(std::io::SeekFrom::Start(*offset)).map_err(read)?;
                builder
                    .header("Content-Length", size.to_string())
                    .send(ureq::SendBody::from_owned_reader(file.take(*size)))
            }
        })
    }

    /// A failure on this machine (a file), not on the wire.
    fn local(&self, target: &Target, problem: String) -> ResolveError {
        ResolveError::Local {
            target: Box::new(target.clone()),
            problem,
        }
    }

    /// A read that failed in the middle of a body: the connection dropped or timed out.
    fn failure_io(&self, error: std::io::Error, target: &Target, via: &Via<'_>) -> ResolveError {
        if error.kind() == std::io::ErrorKind::TimedOut {
            return self.timeout(target, "while reading the answer");
        }
        let cause = match via.proxy {
            Some(_) => format!(
                "the connection (through the proxy {}) broke while reading the answer: {error}",
                via.proxy_shown()
            ),
            None => format!("the connection broke while reading the answer: {error}"),
        };
        ResolveError::Network {
            target: Box::new(target.clone()),
            cause,
            hint: "run again: what was copied completely is not copied again".to_string(),
        }
    }

    /// The agent for an https identity, or the plain one.
    fn agent_for(&self, tls: Option<&Arc<HostTls>>) -> ureq::Agent {
        let Some(tls) = tls else {
            return self.plain.clone();
        };
        let mut agents = self.secure.lock().unwrap_or_else(|e| e.into_inner());
        agents
            .entry(tls.folder.clone())
            .or_insert_with(|| agent(tls.config.clone()))
            .clone()
    }

    fn timeout(&self, target: &Target, stage: &str) -> ResolveError {
        ResolveError::Timeout {
            target: Box::new(target.clone()),
            seconds: self.total.as_secs(),
            stage: stage.to_string(),
        }
    }

    /// A ureq error as a resolution failure, with what failed and what to try.
    fn failure(&self, error: ureq::Error, target: &Target, via: &Via<'_>) -> ResolveError {
        let network = |cause: String, hint: &str| ResolveError::Network {
            target: Box::new(target.clone()),
            cause,
            hint: hint.to_string(),
        };
        if let Some(tls) = tls_error(&error) {
            let (cause, hint) = tls_failure(tls, via);
            return network(cause, &hint);
        }
        let hint = match &error {
            ureq::Error::Timeout(ureq::Timeout::Connect) => {
                return self.timeout(target, "while connecting")
            }
            ureq::Error::Timeout(_) => return self.timeout(target, "waiting for the answer"),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return self.timeout(target, "waiting for the answer")
            }
            ureq::Error::ConnectProxyFailed(reason) if reason.contains(" 407") => {
                return network(
                    format!("the proxy {} refused the credentials (http 407)", via.proxy_shown()),
                    "check the user name and password in the proxy variable (`http://user:password@host:port`, special characters percent-encoded)",
                );
            }
            ureq::Error::ConnectProxyFailed(reason) => {
                return network(
                    format!("the proxy {} could not connect to {}: {reason}", via.proxy_shown(), via.host),
                    "check that the proxy lets CONNECT through to this host and port, or list the host in NO_PROXY",
                );
            }
            ureq::Error::HostNotFound if via.proxy.is_some() => {
                "check the proxy's host name in HTTPS_PROXY / HTTP_PROXY"
            }
            ureq::Error::HostNotFound => "check the registry host name",
            _ if via.proxy.is_some() => {
                "check the proxy in HTTPS_PROXY / HTTP_PROXY (or list this registry in NO_PROXY), and that the registry is up"
            }
            _ => "check the registry host and port, that it is up, and any HTTPS_PROXY setting",
        };
        network(error.to_string(), hint)
    }
}

enum SaveError {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Streams `reader` into the file `to` names, hashing it on the way.
fn save(reader: &mut impl std::io::Read, to: SaveTo<'_>) -> Result<Saved, SaveError> {
    use std::io::Write as _;
    let file = std::fs::File::create(to.path).map_err(SaveError::Write)?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = super::manifest::Hasher::new(to.algorithm);
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SaveError::Read(e)),
        };
        let chunk = buffer.get(..n).unwrap_or_default();
        hasher.update(chunk);
        file.write_all(chunk).map_err(SaveError::Write)?;
        size += n as u64;
    }
    file.flush().map_err(SaveError::Write)?;
    Ok(Saved {
        size,
        digest: hasher.finish(),
    })
}

/// How one request went out: for the words of a failure.
struct Via<'a> {
    tls: Option<&'a HostTls>,
    /// The host and port asked.
    host: &'a str,
    proxy: Option<&'a ureq::Proxy>,
}

impl Via<'_> {
    /// `host:port` of the proxy, never its credentials.
    fn proxy_shown(&self) -> String {
        self.proxy
            .map_or_else(String::new, |p| format!("`{}:{}`", p.host(), p.port()))
    }
}

/// The rustls error inside a ureq error, if the failure was TLS.
fn tls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// What failed in a TLS handshake, and what to do about it.
fn tls_failure(error: &rustls::Error, via: &Via<'_>) -> (String, String) {
    use rustls::{AlertDescription as Alert, CertificateError as Cert};
    let host = via.host;
    let folders = "under `--certs-dir DIR` (or `digests.certsDir`), /etc/containers/certs.d or /etc/docker/certs.d";
    let trust = format!(
        "trust the CA that signed it: give its certificate with `--registry-ca-file FILE` (or `digests.caFiles`), or put it in a certs.d folder as `{host}/ca.crt` {folders}"
    );
    match error {
        rustls::Error::InvalidCertificate(problem) => match problem {
            Cert::UnknownIssuer | Cert::BadSignature => (
                format!("the certificate of {host} is signed by an unknown authority"),
                trust,
            ),
            Cert::Expired | Cert::ExpiredContext { .. } => (
                format!("the certificate of {host} has expired ({problem})"),
                "renew the registry's certificate, or check this machine's clock".to_string(),
            ),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => (
                format!("the certificate of {host} is not valid yet ({problem})"),
                "check this machine's clock, or the registry's certificate".to_string(),
            ),
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => (
                format!("the certificate of {host} is not valid for this name: {problem}"),
                "connect by a name the certificate lists (its subject alternative names), or reissue the certificate with this name".to_string(),
            ),
            Cert::Revoked => (
                format!("the certificate of {host} has been revoked"),
                "the registry needs a new certificate".to_string(),
            ),
            other => (
                format!("the certificate of {host} was refused: {other}"),
                trust,
            ),
        },
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::CertificateRequired
            | Alert::UnknownCA
            | Alert::AccessDenied
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::CertificateExpired
            | Alert::CertificateRevoked),
        ) => match via.tls.and_then(|t| t.client_certificate.as_ref()) {
            Some(path) => (
                format!(
                    "{host} refused the client certificate `{}` (TLS alert {alert:?})",
                    path.display()
                ),
                "give a client certificate the registry accepts: signed by a CA it trusts (its `http.tls.clientcas`), not expired, made for client authentication".to_string(),
            ),
            None => (
                format!("{host} requires a client certificate (TLS alert {alert:?})"),
                format!("put the client certificate in a certs.d folder as `{host}/client.cert` with its key as `{host}/client.key`, {folders}"),
            ),
        },
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => (
            format!("{host} answered plain http, not https"),
            "if this registry serves plain http, list it with `--insecure-registry HOST` or `digests.insecureRegistries`".to_string(),
        ),
        other => (
            format!("the TLS handshake with {host} failed: {other}"),
            trust,
        ),
    }
}

/// An agent: status codes are answers, redirects are followed by [`Http::send`], and the
/// proxy is chosen per request (ureq's own reading of the environment is off).
fn agent(tls: ureq::tls::TlsConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("reimage/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        .proxy(None)
        .tls_config(tls)
        .build()
        .new_agent()
}

/// Per-request limits and the proxy.
struct Setup {
    left: Duration,
    connect: Duration,
    proxy: Option<ureq::Proxy>,
}

/// Headers, timeouts and the proxy, common to every method.
fn prepare<B>(
    builder: ureq::RequestBuilder<B>,
    request: &Request<'_>,
    setup: &Setup,
) -> ureq::RequestBuilder<B> {
    let mut builder = builder;
    if let Some(accept) = request.accept {
        builder = builder.header("Accept", accept);
    }
    if let Some(authorization) = request.authorization {
        builder = builder.header("Authorization", authorization);
    }
    builder
        .config()
        .timeout_global(Some(setup.left))
        .timeout_connect(Some(setup.connect))
        .proxy(setup.proxy.clone())
        .build()
}

/// `(scheme, host[:port])` of a URL, the host lowercase and without userinfo.
fn origin(url: &str) -> (&str, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (scheme, authority.to_ascii_lowercase())
}

fn scheme(url: &str) -> String {
    origin(url).0.to_ascii_lowercase()
}

/// Where a `Location` points, seen from `base`: absolute, scheme-relative, absolute path or
/// relative path.
pub(super) fn follow(base: &str, location: &str) -> String {
    let location = location.trim();
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, host) = origin(base);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{host}{location}");
    }
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    let without_query = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or(after_scheme);
    let path = without_query.split_once('/').map_or("", |(_, path)| path);
    match path.rsplit_once('/') {
        Some((directory, _)) => format!("{scheme}://{host}/{directory}/{location}"),
        None => format!("{scheme}://{host}/{location}"),
    }
}

/// A URL as messages show it: no credentials, no query (signed URLs carry secrets there).
fn shown(url: &str) -> String {
    redacted(url.split(['?', '#']).next().unwrap_or(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request() {
        let base = "https://r.example:5000/v2/a/b/manifests/1?x=y";
        assert_eq!(follow(base, "http://other/v2/x"), "http://other/v2/x");
        assert_eq!(
            follow(base, "//cdn.example/blob"),
            "https://cdn.example/blob"
        );
        assert_eq!(
            follow(base, "/v2/c/manifests/2"),
            "https://r.example:5000/v2/c/manifests/2"
        );
        assert_eq!(
            follow(base, "sha256:1"),
            "https://r.example:5000/v2/a/b/manifests/sha256:1"
        );
        assert_eq!(follow("http://h/x", "y"), "http://h/y");
        assert_eq!(follow("http://h", "y"), "http://h/y");
    }

    #[test]
    fn origins_and_shown_urls_drop_credentials() {
        assert_eq!(
            origin("https://U:P@Reg.Example:5000/v2/"),
            ("https", "reg.example:5000".to_string())
        );
        assert_ne!(
            origin("https://r.example/v2/"),
            origin("https://r.example:5000/v2/")
        );
        assert_eq!(
            shown("https://user:pw@s3.example/blob?X-Amz-Signature=abc"),
            "https://***@s3.example/blob"
        );
    }
}
