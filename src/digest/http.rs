//! One HTTP exchange with a registry or a token service, through `ureq` with rustls: the
//! image's deadline as the timeout, a bounded connect timeout, retries on 429 and 5xx (see
//! `retry`), and ureq's errors turned into [`ResolveError`]s. Used only by `client` and
//! `token`; nothing here logs, so headers (which may hold credentials) are never shown.

use std::time::{Duration, Instant};

use ureq::http::HeaderMap;

use super::error::{ResolveError, Target};
use super::retry;

/// The most a manifest or token answer may weigh.
const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// A shared HTTP agent (connections are pooled across threads).
pub struct Http {
    agent: ureq::Agent,
    connect: Duration,
    total: Duration,
}

/// What to send.
pub enum Method {
    Head,
    Get,
    /// POST of an `application/x-www-form-urlencoded` body.
    PostForm(String),
}

/// One request.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub accept: Option<&'a str>,
    /// The whole `Authorization` header value.
    pub authorization: Option<&'a str>,
}

/// An answer, whatever its status.
pub struct Reply {
    pub status: u16,
    headers: HeaderMap,
    pub body: Vec<u8>,
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
    pub fn new(connect: Duration, total: Duration) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("reimage/", env!("CARGO_PKG_VERSION")))
            .max_redirects(5)
            .build()
            .new_agent();
        Http {
            agent,
            connect,
            total,
        }
    }

    /// The time allowed for one image.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// Sends `request`, again after 429 and 5xx answers while `deadline` allows.
    pub fn send(
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
        let connect = self.connect.min(left);
        let result = match &request.method {
            Method::Head => prepare(self.agent.head(request.url), request, left, connect).call(),
            Method::Get => prepare(self.agent.get(request.url), request, left, connect).call(),
            Method::PostForm(body) => prepare(self.agent.post(request.url), request, left, connect)
                .content_type("application/x-www-form-urlencoded")
                .send(body.as_bytes()),
        };
        let mut response = result.map_err(|e| self.failure(e, target))?;
        let status = response.status().as_u16();
        let body = match request.method {
            Method::Head => Vec::new(),
            _ => response
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| self.failure(e, target))?,
        };
        let headers = response.headers().clone();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn timeout(&self, target: &Target, stage: &str) -> ResolveError {
        ResolveError::Timeout {
            target: Box::new(target.clone()),
            seconds: self.total.as_secs(),
            stage: stage.to_string(),
        }
    }

    /// A ureq error as a resolution failure, with what to try.
    fn failure(&self, error: ureq::Error, target: &Target) -> ResolveError {
        let hint = match &error {
            ureq::Error::Timeout(ureq::Timeout::Connect) => {
                return self.timeout(target, "while connecting")
            }
            ureq::Error::Timeout(_) => return self.timeout(target, "waiting for the answer"),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return self.timeout(target, "waiting for the answer")
            }
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
                "if this registry serves plain http, list it with `--insecure-registry HOST` or `digests.insecureRegistries`"
            }
            ureq::Error::HostNotFound => "check the registry host name",
            _ => "check the registry host and port, that it is up, and any HTTPS_PROXY setting",
        };
        ResolveError::Network {
            target: Box::new(target.clone()),
            cause: error.to_string(),
            hint: hint.to_string(),
        }
    }
}

/// Headers and timeouts common to every method.
fn prepare<B>(
    builder: ureq::RequestBuilder<B>,
    request: &Request<'_>,
    left: Duration,
    connect: Duration,
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
        .timeout_global(Some(left))
        .timeout_connect(Some(connect))
        .build()
}
