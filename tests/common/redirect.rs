//! Registry stand-ins that redirect, for the redirect rules of `tests/suite/registry_tls.rs`:
//!
//! - [`ManifestServer`]: plain http; answers `GET`/`HEAD /v2/<repo>/manifests/<tag>` with a
//!   small OCI manifest, its media type and its `Docker-Content-Digest`, and records the head
//!   of every request it gets (so a test can say it was never contacted, or what headers came).
//! - [`TlsRedirect`]: https through rustls with a given certificate; answers every request
//!   with `307 Temporary Redirect` to the same path on a plain-http base.
//! - [`LoginRedirect`]: plain http; answers manifest requests with `401` and
//!   `WWW-Authenticate: Basic realm="a"` until one carries `Authorization`, then with `307` to
//!   the same path on another host, and records every request head.
//!
//! Each listens on a free port of 127.0.0.1 and answers one connection at a time, one request
//! each (`Connection: close`); dropping it stops it.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::registry::{header, read_head, read_head_from, sha256, Server};

/// The media type the [`ManifestServer`] serves.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The heads of the requests a server got, in order.
pub type Heads = Arc<Mutex<Vec<String>>>;

/// A registry that has every tag of every repository, all the same small manifest.
pub struct ManifestServer {
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub port: u16,
    /// The digest of the manifest it serves.
    pub digest: String,
    /// Every request it got.
    pub heads: Heads,
    _server: Server,
}

impl ManifestServer {
    pub fn start() -> ManifestServer {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[]}}"#,
            sha256(b"{}")
        );
        let digest = sha256(manifest.as_bytes());
        let heads: Heads = Arc::default();
        let (heads2, digest2) = (heads.clone(), digest.clone());
        let server = Server::start(move |mut stream| {
            let head = read_head(&mut stream);
            heads2.lock().unwrap().push(head.clone());
            let mut words = head.split_whitespace();
            let (method, path) = (words.next(), words.next().unwrap_or_default());
            let reply = match method {
                Some(method @ ("GET" | "HEAD")) if is_manifest(path) => {
                    let body = if method == "GET" {
                        manifest.as_str()
                    } else {
                        ""
                    };
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nDocker-Content-Digest: {digest2}\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        manifest.len()
                    )
                }
                _ => bodiless("404 Not Found", ""),
            };
            let _ = stream.write_all(reply.as_bytes());
        });
        ManifestServer {
            host: server.host(),
            port: server.port(),
            digest,
            heads,
            _server: server,
        }
    }

    /// The heads of the requests it got so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// An https server whose every answer is a redirect to the same path under `target`.
pub struct TlsRedirect {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Requests answered (after a completed handshake).
    pub redirected: Arc<AtomicUsize>,
    _server: Server,
}

impl TlsRedirect {
    /// Serves `cert` (a PEM chain) with `key`; redirects to `target` (`http://host:port`).
    pub fn start(cert: &Path, key: &Path, target: &str) -> TlsRedirect {
        let config = Arc::new(server_config(cert, key));
        let redirected: Arc<AtomicUsize> = Arc::default();
        let (redirected2, target) = (redirected.clone(), target.to_string());
        let server = Server::start(move |tcp| {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            let head = read_head_from(&mut tls);
            let Some(path) = head.split_whitespace().nth(1) else {
                return; // the handshake failed, or no request came
            };
            redirected2.fetch_add(1, Ordering::SeqCst);
            let location = format!("Location: {target}{path}\r\n");
            let _ = tls.write_all(bodiless("307 Temporary Redirect", &location).as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        TlsRedirect {
            host: server.host(),
            redirected,
            _server: server,
        }
    }
}

/// A registry that wants a Basic login, and once it has one sends the client elsewhere.
pub struct LoginRedirect {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Every request it got.
    pub heads: Heads,
    _server: Server,
}

impl LoginRedirect {
    /// Redirects logged-in manifest requests to the same path under `target`
    /// (`http://host:port`).
    pub fn start(target: &str) -> LoginRedirect {
        let heads: Heads = Arc::default();
        let (heads2, target) = (heads.clone(), target.to_string());
        let server = Server::start(move |mut stream| {
            let head = read_head(&mut stream);
            heads2.lock().unwrap().push(head.clone());
            let path = head.split_whitespace().nth(1).unwrap_or_default();
            let reply = if !path.starts_with("/v2/") {
                bodiless("404 Not Found", "")
            } else if header(&head, "authorization").is_none() || !is_manifest(path) {
                let challenge = "WWW-Authenticate: Basic realm=\"a\"\r\n";
                bodiless("401 Unauthorized", challenge)
            } else {
                bodiless(
                    "307 Temporary Redirect",
                    &format!("Location: {target}{path}\r\n"),
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        });
        LoginRedirect {
            host: server.host(),
            heads,
            _server: server,
        }
    }

    /// The heads of the requests it got so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// `/v2/<repo>/manifests/<reference>`.
fn is_manifest(path: &str) -> bool {
    path.strip_prefix("/v2/")
        .and_then(|rest| rest.rsplit_once("/manifests/"))
        .is_some_and(|(repo, reference)| !repo.is_empty() && !reference.is_empty())
}

/// An answer without a body, with extra header lines `headers`, and the connection closed.
fn bodiless(status: &str, headers: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

/// A rustls server configuration (ring, TLS 1.2 and 1.3, no client certificates) serving
/// the chain in `cert` with the key in `key`.
fn server_config(cert: &Path, key: &Path) -> rustls::ServerConfig {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert))
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(&read(key)).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
