//! Real registries for the digest and copy-list tests: Debian's `docker-registry`
//! (distribution v2, installed by `scripts/setup.sh`; a test is reported as ignored without
//! it, or fails with `CI=true`), started on 127.0.0.1 ports chosen at run time — open, with
//! htpasswd Basic auth, or with token auth backed by [`TokenService`], a small token issuer
//! whose RS256 JWTs are signed with `openssl` — over plain http or, with [`Tls`] (certificates
//! from `common::pki`), https only — plus a [`StubProxy`] that answers 429 once, drops the
//! digest header or sends a sha512 one (right or wrong), a [`BarrierProxy`] that holds
//! requests until a given number are under way at once (so the tests count parallel lookups
//! at a barrier, not within a delay), a [`LatencyProxy`] that holds every request for a while
//! (a far registry, for the benchmark), helpers that push images over the registry HTTP API
//! (https too) and fetch their manifests back, and [`reimage`] with [`workload`] to run the
//! binary against them (shared by `tests/suite/registry.rs`, `tests/suite/registry_tls.rs`,
//! `tests/suite/copy_lists.rs` and
//! `benches/resolve.rs`).
//!
//! Every process started here is owned by a guard that kills it by PID when dropped, also
//! when a test panics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use super::Ran;

/// The service name the token registry expects in tokens.
pub const SERVICE: &str = "reimage-test";
const ISSUER: &str = "reimage-test-issuer";

// ---------------------------------------------------------------- tools

/// The tools the registry tests need, and the Debian packages that carry them.
const TOOLS: [(&str, &str); 4] = [
    ("docker-registry", "docker-registry"),
    ("htpasswd", "apache2-utils"),
    ("openssl", "openssl"),
    ("strace", "strace"),
];

/// The registry tools, or which are missing and how to install them (`scripts/setup.sh` and
/// `.ci/run` install them; tests never do).
pub fn registry_tools() -> Ran {
    super::need_tools("the registry tests", &TOOLS)
}

/// True when every registry tool is there (for `benches/resolve.rs`, which says so itself).
pub fn tools_available() -> bool {
    registry_tools().is_ok()
}

/// The copy tool of the copy-list and mirror tests, besides [`TOOLS`], and `script` for the
/// pseudo-terminal a progress bar is drawn on.
const COPY_TOOLS: [(&str, &str); 2] = [("skopeo", "skopeo"), ("script", "bsdutils")];

/// [`registry_tools`], and `skopeo` too: for the tests that copy between registries.
pub fn copy_tools() -> Ran {
    registry_tools()?;
    super::need_tools("the copy-list tests", &COPY_TOOLS)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

// ---------------------------------------------------------------- scratch folders and ports

/// A folder removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let base = option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("registry-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on right now, and never handed out before in this process (so two
/// tests starting registries at once cannot be given the same one).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A child process killed by its PID when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------- the registry

/// A running `docker-registry serve`.
pub struct Registry {
    /// `127.0.0.1:PORT`, as image references name it.
    pub host: String,
    /// The port it listens on, for the names other than 127.0.0.1 that reach it.
    pub port: u16,
    /// Its standard output: the access log, one line per request it answered.
    pub log: PathBuf,
    /// `http`, or `https` when it serves TLS.
    scheme: &'static str,
    _child: ChildGuard,
    _dir: Scratch,
}

/// The TLS a registry serves: its certificate chain and key (PEM files), and the CA bundle a
/// client certificate must be signed by, when it requires one (`http.tls.clientcas`).
pub struct Tls<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub client_cas: Option<&'a Path>,
}

/// How the registry checks clients.
pub enum Auth<'a> {
    Open,
    /// htpasswd with one user.
    Basic {
        user: &'a str,
        password: &'a str,
    },
    /// Tokens from this service.
    Token(&'a TokenService),
}

impl Registry {
    /// A registry speaking plain http.
    pub fn start(auth: Auth<'_>) -> Registry {
        Registry::serve(auth, None)
    }

    /// A registry speaking https only, with `tls`.
    pub fn start_tls(auth: Auth<'_>, tls: &Tls<'_>) -> Registry {
        Registry::serve(auth, Some(tls))
    }

    fn serve(auth: Auth<'_>, tls: Option<&Tls<'_>>) -> Registry {
        let dir = Scratch::new("reg");
        let port = free_port();
        let auth = auth_config(&dir, &auth);
        let config = format!(
            "version: 0.1\nlog: {{level: warn}}\n\
             storage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
             http: {{addr: '127.0.0.1:{port}', secret: reimage-test-secret{}}}\n{auth}",
            dir.path("data").display(),
            tls.map_or_else(String::new, tls_config)
        );
        std::fs::write(dir.path("config.yml"), config).unwrap();
        let log = dir.path("registry.log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path("config.yml"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path("registry.err")).unwrap())
            .spawn()
            .expect("cannot start docker-registry");
        let mut guard = ChildGuard(child);
        wait_listening(port, &mut guard, &dir);
        Registry {
            host: format!("127.0.0.1:{port}"),
            port,
            log,
            scheme: if tls.is_some() { "https" } else { "http" },
            _child: guard,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://…` for a TLS registry.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The requests it has answered so far, from its access log: `(method, target, status)`,
    /// the target as sent (path and query).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                // 127.0.0.1 - - [date] "POST /v2/… HTTP/1.1" 201 0 "" "agent"
                let (_, rest) = line.split_once('"')?;
                let (request, rest) = rest.split_once('"')?;
                let mut request = request.split(' ');
                let (method, target) = (request.next()?, request.next()?);
                let status = rest.split_whitespace().next()?.parse().ok()?;
                Some((method.to_string(), target.to_string(), status))
            })
            .collect()
    }
}

/// `, tls: {…}`: the `http.tls` entries of a registry's configuration.
fn tls_config(tls: &Tls<'_>) -> String {
    let client_cas = tls.client_cas.map_or_else(String::new, |ca| {
        format!(", clientcas: ['{}']", ca.display())
    });
    format!(
        ", tls: {{certificate: '{}', key: '{}'{client_cas}}}",
        tls.cert.display(),
        tls.key.display()
    )
}

fn auth_config(dir: &Scratch, auth: &Auth<'_>) -> String {
    match auth {
        Auth::Open => String::new(),
        Auth::Basic { user, password } => {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("cannot run htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.path("htpasswd"), out.stdout).unwrap();
            format!(
                "auth: {{htpasswd: {{realm: basic-realm, path: {}}}}}\n",
                dir.path("htpasswd").display()
            )
        }
        Auth::Token(service) => format!(
            "auth: {{token: {{realm: '{}', service: {SERVICE}, issuer: {ISSUER}, rootcertbundle: {}}}}}\n",
            service.realm(),
            service.cert.display()
        ),
    }
}

fn wait_listening(port: u16, child: &mut ChildGuard, dir: &Scratch) {
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let err = std::fs::read_to_string(dir.path("registry.err")).unwrap_or_default();
            panic!("docker-registry exited ({status}):\n{err}");
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    panic!("docker-registry did not listen on port {port} within 15 s");
}

// ---------------------------------------------------------------- the token service

/// A loopback listener whose connections are handled on a thread of its own until it is
/// dropped; dropping it wakes the accept loop with one last connection and joins the thread.
/// The token service, the proxies and the servers of `common::connect_proxy` and
/// `common::redirect` are one of these.
pub(super) struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on a free port of 127.0.0.1 and hands every connection to `handle`.
    pub(super) fn start(mut handle: impl FnMut(TcpStream) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop: Arc<AtomicBool> = Arc::default();
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    handle(stream);
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub(super) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A token issuer for `auth.token`: `GET /token?scope=…&service=…`, Basic credentials
/// required when `login` is set, answered with an RS256 JWT whose `x5c` is the certificate
/// in the registry's `rootcertbundle`.
pub struct TokenService {
    pub port: u16,
    /// Token requests answered with a token.
    pub issued: Arc<AtomicUsize>,
    /// Token requests refused.
    pub refused: Arc<AtomicUsize>,
    key: PathBuf,
    cert: PathBuf,
    cert_der: String,
    _server: Server,
    _dir: Scratch,
}

impl TokenService {
    /// Starts the service; `login` is the `user:password` it requires, if any.
    pub fn start(login: Option<&str>) -> TokenService {
        let dir = Scratch::new("token");
        let (key, cert) = (dir.path("key.pem"), dir.path("cert.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=reimage-test-token", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("cannot run openssl");
        assert!(status.success(), "openssl req failed");
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        let minter = Minter {
            key: key.clone(),
            cert_der: STANDARD.encode(der.stdout),
        };
        let cert_der = minter.cert_der.clone();
        let (issued, refused): (Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
        let server = serve_tokens(
            minter,
            login.map(|l| format!("Basic {}", STANDARD.encode(l))),
            issued.clone(),
            refused.clone(),
        );
        TokenService {
            port: server.port,
            issued,
            refused,
            key,
            cert,
            cert_der,
            _server: server,
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// A token for `scope` (`repository:NAME:pull,push`), for pushing test images.
    pub fn mint(&self, scope: &str) -> String {
        Minter {
            key: self.key.clone(),
            cert_der: self.cert_der.clone(),
        }
        .mint(&[scope.to_string()])
    }
}

/// Answers token requests: a token when the login matches (or none is required), else 401.
fn serve_tokens(
    minter: Minter,
    login: Option<String>,
    issued: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) -> Server {
    Server::start(move |mut stream| {
        let head = read_head(&mut stream);
        let authorized = login
            .as_ref()
            .is_none_or(|l| header(&head, "authorization") == Some(l.as_str()));
        let reply = if authorized {
            issued.fetch_add(1, Ordering::SeqCst);
            let token = minter.mint(&query_params(&head, "scope"));
            respond(
                200,
                &format!("{{\"token\":\"{token}\",\"expires_in\":600}}"),
            )
        } else {
            refused.fetch_add(1, Ordering::SeqCst);
            respond(401, "{\"details\":\"bad credentials\"}")
        };
        let _ = stream.write_all(reply.as_bytes());
    })
}

struct Minter {
    key: PathBuf,
    cert_der: String,
}

impl Minter {
    /// A token granting every scope asked for (`type:name:actions` each).
    fn mint(&self, scopes: &[String]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
                serde_json::json!({"type": kind, "name": name, "actions": actions})
            })
            .collect();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "reimage-test-user", "aud": SERVICE,
            "exp": now + 600, "nbf": now - 30, "iat": now - 30, "jti": format!("{now}-{}", rand_u32()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = openssl_sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn rand_u32() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// RS256: `openssl dgst -sha256 -sign KEY` over `input`.
fn openssl_sign(key: &Path, input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", "-sha256", "-sign"]).arg(key);
    let out = super::output_with_stdin(cmd, input);
    assert!(out.status.success(), "openssl dgst failed");
    out.stdout
}

// ---------------------------------------------------------------- tiny HTTP helpers

/// The request line and headers of one HTTP/1.1 request (no body is expected).
pub(super) fn read_head(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    read_head_from(stream)
}

/// [`read_head`] from any stream (a TLS one too), read byte by byte so that nothing after
/// the head is taken; the caller sets any timeout.
pub(super) fn read_head_from(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The value of the first header `name` (any case) of a request head.
pub(super) fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Every value of the query parameter `name`, decoded, in order.
fn query_params(head: &str, name: &str) -> Vec<String> {
    let Some(target) = head.split_whitespace().nth(1) else {
        return Vec::new();
    };
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(status: u16, body: &str) -> String {
    let reason = if status == 200 { "OK" } else { "Unauthorized" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

// ---------------------------------------------------------------- the stub proxy

/// What the proxy does to the traffic it forwards.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// The first request gets `429 Too Many Requests` with `Retry-After: 1`; the rest pass.
    TooManyOnce,
    /// Every answer loses its `Docker-Content-Digest` header.
    StripDigest,
    /// Every manifest answer's `Docker-Content-Digest` is the sha512 of the manifest, as a
    /// registry that hashes by sha512 sends it (Debian's `docker-registry` refuses a manifest
    /// pushed by a sha512 digest, so a proxy stands in). A HEAD is asked upstream as a GET, to
    /// have the bytes to hash, and answered without them.
    Sha512Digest,
    /// HEAD answers lose `Docker-Content-Digest`, so the client fetches the body; GET answers
    /// carry the sha512 of the body.
    Sha512OnGet,
    /// As [`ProxyMode::Sha512OnGet`], but the sha512 of other bytes: a header the body does
    /// not match.
    WrongSha512OnGet,
    /// The first blob answer longer than [`CUT_AFTER`] bytes is cut there: the connection
    /// closes in the middle of the body. Everything else passes.
    CutLargeBlobOnce,
    /// A request body longer than [`BODY_LIMIT`] bytes is read and answered `413 Payload Too
    /// Large`, as a proxy with a body limit in front of a registry does; smaller bodies are
    /// forwarded with their request.
    RefuseLargeBodies,
}

/// Where [`ProxyMode::RefuseLargeBodies`] draws the line.
pub const BODY_LIMIT: usize = 1 << 20;

/// A registry stand-in on its own port that forwards to a real registry, one connection at
/// a time, each closed after one answer.
pub struct StubProxy {
    pub host: String,
    /// Method and arrival time of every request.
    pub seen: Arc<Mutex<Vec<(String, Instant)>>>,
    /// How many bodies [`ProxyMode::RefuseLargeBodies`] refused.
    pub refused: Arc<AtomicUsize>,
    _server: Server,
}

/// Where [`ProxyMode::CutLargeBlobOnce`] cuts a blob.
pub const CUT_AFTER: usize = 1 << 20;

impl StubProxy {
    pub fn start(upstream: &str, mode: ProxyMode) -> StubProxy {
        let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let (seen2, upstream) = (seen.clone(), upstream.to_string());
        let refused: Arc<AtomicUsize> = Arc::default();
        let refused2 = refused.clone();
        let mut cut = false;
        let server = Server::start(move |mut client| {
            let head = read_head(&mut client);
            let method = head.split_whitespace().next().unwrap_or("").to_string();
            let first = {
                let mut seen = seen2.lock().unwrap();
                seen.push((method, Instant::now()));
                seen.len() == 1
            };
            if mode == ProxyMode::RefuseLargeBodies {
                let length: usize = header(&head, "content-length")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if client.read_exact(&mut body).is_err() {
                    return;
                }
                let reply = if length > BODY_LIMIT {
                    refused2.fetch_add(1, Ordering::SeqCst);
                    b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                } else {
                    forward_with_body(&upstream, &head, &body)
                };
                let _ = client.write_all(&reply);
                return;
            }
            let mut reply = stub_answer(mode, first, &upstream, &head);
            let blob = head.starts_with("GET ") && head.contains("/blobs/sha");
            if mode == ProxyMode::CutLargeBlobOnce && !cut && blob && body(&reply).len() > CUT_AFTER
            {
                cut = true;
                reply.truncate(body_start(&reply) + CUT_AFTER);
            }
            let _ = client.write_all(&reply);
        });
        StubProxy {
            host: server.host(),
            seen,
            refused,
            _server: server,
        }
    }
}

/// What the stub proxy answers to one request, the first it has seen or a later one.
fn stub_answer(mode: ProxyMode, first: bool, upstream: &str, head: &str) -> Vec<u8> {
    let is_head = head.starts_with("HEAD ");
    match mode {
        ProxyMode::TooManyOnce if first => b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ProxyMode::TooManyOnce | ProxyMode::CutLargeBlobOnce | ProxyMode::RefuseLargeBodies => {
            forward(upstream, head)
        }
        ProxyMode::StripDigest => set_digest(&forward(upstream, head), None),
        ProxyMode::Sha512OnGet | ProxyMode::WrongSha512OnGet if is_head => {
            set_digest(&forward(upstream, head), None)
        }
        ProxyMode::Sha512Digest if is_head => {
            // A GET upstream for the bytes to hash, answered as a HEAD is: the head alone.
            let get = head.replacen("HEAD ", "GET ", 1);
            let answer = with_sha512(&forward(upstream, &get), b"");
            answer[..body_start(&answer)].to_vec()
        }
        ProxyMode::Sha512Digest | ProxyMode::Sha512OnGet => {
            with_sha512(&forward(upstream, head), b"")
        }
        ProxyMode::WrongSha512OnGet => with_sha512(&forward(upstream, head), b" "),
    }
}

/// A 200 answer with the sha512 of its body and then `extra` as its `Docker-Content-Digest`;
/// any other answer without one.
fn with_sha512(answer: &[u8], extra: &[u8]) -> Vec<u8> {
    let digest = is_ok(answer).then(|| sha512(&[body(answer), extra].concat()));
    set_digest(answer, digest.as_deref())
}

/// Sends the request upstream with `Connection: close` and returns the whole answer.
fn forward(upstream: &str, head: &str) -> Vec<u8> {
    forward_with_body(upstream, head, b"")
}

/// [`forward`] of a request with a body.
fn forward_with_body(upstream: &str, head: &str, body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let request = format!("{}\r\n\r\n", lines.join("\r\n"));
    let mut up = TcpStream::connect(upstream).unwrap();
    up.write_all(request.as_bytes()).unwrap();
    up.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    answer
}

/// Where the head of an HTTP answer ends and its body starts.
fn body_start(answer: &[u8]) -> usize {
    answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |p| p + 4)
}

/// The body of an HTTP answer.
fn body(answer: &[u8]) -> &[u8] {
    &answer[body_start(answer)..]
}

/// Whether an HTTP answer has status 200.
fn is_ok(answer: &[u8]) -> bool {
    answer.starts_with(b"HTTP/1.1 200 ")
}

/// The answer with its `Docker-Content-Digest` header replaced by `digest`, or removed.
fn set_digest(answer: &[u8], digest: Option<&str>) -> Vec<u8> {
    let (head, body) = answer.split_at(body_start(answer));
    let mut lines: Vec<String> = String::from_utf8_lossy(head)
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("docker-content-digest:"))
        .map(str::to_string)
        .collect();
    if let Some(digest) = digest {
        // After the status line, before the blank line that ends the head.
        lines.insert(1, format!("Docker-Content-Digest: {digest}\r\n"));
    }
    [lines.concat().as_bytes(), body].concat()
}

// ---------------------------------------------------------------- the latency proxy

/// A registry stand-in that makes the registry far away: every request waits `latency`
/// before it is forwarded. Each connection has its own thread, so requests overlap as they
/// would over a real network and the proxy sees how many the client has under way at once
/// (the [`StubProxy`], one connection at a time, would make any client look serial). Each
/// connection is closed after one answer.
pub struct LatencyProxy {
    pub host: String,
    /// What it has seen so far.
    pub traffic: Arc<Traffic>,
    _server: Server,
}

/// The requests a [`LatencyProxy`] has seen.
#[derive(Default)]
pub struct Traffic {
    /// Method and path of every request, in the order they arrived.
    pub requests: Mutex<Vec<String>>,
    /// The most requests under way at once.
    pub most_at_once: AtomicUsize,
    /// Requests under way now: read, and not answered yet.
    under_way: AtomicUsize,
}

impl LatencyProxy {
    pub fn start(upstream: &str, latency: Duration) -> LatencyProxy {
        let traffic: Arc<Traffic> = Arc::default();
        let (traffic2, upstream) = (traffic.clone(), upstream.to_string());
        // Answers still under way when the proxy is dropped finish on their own threads.
        let server = Server::start(move |client| {
            let (traffic, upstream) = (traffic2.clone(), upstream.clone());
            std::thread::spawn(move || traffic.answer(client, &upstream, latency));
        });
        LatencyProxy {
            host: server.host(),
            traffic,
            _server: server,
        }
    }
}

impl Traffic {
    /// Forgets what was seen, between two runs.
    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
        self.most_at_once.store(0, Ordering::SeqCst);
    }

    /// One connection: its request read, held `latency`, forwarded, answered.
    fn answer(&self, mut client: TcpStream, upstream: &str, latency: Duration) {
        let head = read_head(&mut client);
        if head.is_empty() {
            return;
        }
        let line: Vec<&str> = head.split_whitespace().take(2).collect();
        self.requests.lock().unwrap().push(line.join(" "));
        let now = self.under_way.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(latency);
        let answer = forward(upstream, &head);
        // Counted out before the answer leaves: a client sends its next request only after
        // it has this answer, so the count never runs ahead of the client.
        self.under_way.fetch_sub(1, Ordering::SeqCst);
        let _ = client.write_all(&answer);
    }
}

// ---------------------------------------------------------------- the barrier proxy

/// A registry stand-in that holds every request at a barrier until `width` requests are held
/// at once, then lets that group through together, and counts what it saw: how many requests
/// were under way at once (read and not yet answered), and every group that did not fill.
///
/// A client that keeps `width` lookups under way fills every group, whatever the machine's
/// speed. One that keeps fewer leaves a group waiting: after `patience` the proxy lets it
/// through and records it. One that sends more has more under way than `width` while a group
/// is held or forwarded. Each connection has its own thread and is closed after one answer.
pub struct BarrierProxy {
    pub host: String,
    pub seen: Arc<Barrier>,
    _server: Server,
}

/// The barrier of a [`BarrierProxy`] and what it has seen.
pub struct Barrier {
    width: usize,
    patience: Duration,
    state: Mutex<BarrierState>,
    released: Condvar,
}

#[derive(Default)]
struct BarrierState {
    /// Method and path of every request, in the order they arrived.
    requests: Vec<String>,
    /// Read and not answered yet, now and at most.
    under_way: usize,
    most_at_once: usize,
    /// Held at the barrier now.
    held: usize,
    /// Groups let through so far; a request waits until this passes its own.
    groups: usize,
    /// A line for each group let through before it was full.
    short_groups: Vec<String>,
}

/// What a [`BarrierProxy`] saw, taken when the client is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarrierCounts {
    /// Method and path of every request, sorted.
    pub requests: Vec<String>,
    /// The most requests under way at once.
    pub most_at_once: usize,
    /// Groups let through, full or not.
    pub groups: usize,
    /// One line for each group let through after `patience` with fewer than `width`.
    pub short_groups: Vec<String>,
}

impl BarrierProxy {
    /// Forwards to `upstream` in groups of `width`, waiting at most `patience` for a group.
    pub fn start(upstream: &str, width: usize, patience: Duration) -> BarrierProxy {
        let seen = Arc::new(Barrier {
            width,
            patience,
            state: Mutex::default(),
            released: Condvar::new(),
        });
        let (seen2, upstream) = (seen.clone(), upstream.to_string());
        // Answers still under way when the proxy is dropped finish on their own threads.
        let server = Server::start(move |client| {
            let (seen, upstream) = (seen2.clone(), upstream.clone());
            std::thread::spawn(move || seen.answer(client, &upstream));
        });
        BarrierProxy {
            host: server.host(),
            seen,
            _server: server,
        }
    }
}

impl Barrier {
    /// What was seen since the last call, which forgets it (between two runs of a client).
    pub fn take(&self) -> BarrierCounts {
        let mut state = self.state.lock().unwrap();
        assert_eq!(state.under_way, 0, "take() while requests are under way");
        let state = std::mem::take(&mut *state);
        let mut requests = state.requests;
        requests.sort();
        BarrierCounts {
            requests,
            most_at_once: state.most_at_once,
            groups: state.groups,
            short_groups: state.short_groups,
        }
    }

    /// One connection: its request read, held at the barrier, forwarded, answered.
    fn answer(&self, mut client: TcpStream, upstream: &str) {
        let head = read_head(&mut client);
        if head.is_empty() {
            return;
        }
        self.hold(&head);
        let answer = forward(upstream, &head);
        // Counted out before the answer leaves: a client sends its next request only after
        // it has this answer, so the count never runs ahead of the client.
        self.state.lock().unwrap().under_way -= 1;
        let _ = client.write_all(&answer);
    }

    /// Counts the request in and returns when its group is let through: at once when it is
    /// the request that fills the group, else when another fills it or `patience` runs out.
    fn hold(&self, head: &str) {
        let mut state = self.state.lock().unwrap();
        let line: Vec<&str> = head.split_whitespace().take(2).collect();
        state.requests.push(line.join(" "));
        state.under_way += 1;
        state.most_at_once = state.most_at_once.max(state.under_way);
        state.held += 1;
        if state.held == self.width {
            return self.let_through(&mut state);
        }
        let group = state.groups;
        let (mut state, waited) = self
            .released
            .wait_timeout_while(state, self.patience, |s| s.groups == group)
            .unwrap();
        if waited.timed_out() {
            let line = format!(
                "{} request(s) waited {:?} for {} under way at once",
                state.held, self.patience, self.width
            );
            state.short_groups.push(line);
            self.let_through(&mut state);
        }
    }

    fn let_through(&self, state: &mut BarrierState) {
        state.held = 0;
        state.groups += 1;
        self.released.notify_all();
    }
}

// ---------------------------------------------------------------- pushing images

/// The `Authorization` value for a repository, if any.
pub type AuthFor<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Pushes blobs and manifests to a registry over its HTTP API.
pub struct Pusher<'a> {
    pub base: String,
    /// The `Authorization` value for a repository, if any.
    pub auth: AuthFor<'a>,
    agent: ureq::Agent,
}

impl<'a> Pusher<'a> {
    pub fn new(base: String, auth: AuthFor<'a>) -> Pusher<'a> {
        Pusher::with_tls(base, auth, ureq::tls::TlsConfig::default())
    }

    /// A pusher to an `https://` base, trusting and presenting what `tls` says (see
    /// `common::pki::Pki::pusher_tls`).
    pub fn with_tls(base: String, auth: AuthFor<'a>, tls: ureq::tls::TlsConfig) -> Pusher<'a> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .tls_config(tls)
            .build()
            .new_agent();
        Pusher { base, auth, agent }
    }

    /// Uploads a blob: POST to start the upload, PUT with `?digest=` to finish it.
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let mut start = self
            .agent
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base));
        if let Some(auth) = (self.auth)(repo) {
            start = start.header("Authorization", auth);
        }
        let started = start.send_empty().unwrap();
        assert_eq!(started.status().as_u16(), 202, "blob upload did not start");
        let location = started.headers().get("location").unwrap().to_str().unwrap();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        };
        let join = if location.contains('?') { '&' } else { '?' };
        let mut put = self
            .agent
            .put(format!("{location}{join}digest={digest}"))
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = (self.auth)(repo) {
            put = put.header("Authorization", auth);
        }
        let done = put.send(bytes).unwrap();
        assert_eq!(done.status().as_u16(), 201, "blob upload did not finish");
        digest
    }

    /// Puts a manifest under `reference` (a tag or its digest); gives its digest.
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> String {
        let mut put = self
            .agent
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("Content-Type", media_type);
        if let Some(auth) = (self.auth)(repo) {
            put = put.header("Authorization", auth);
        }
        let mut done = put.send(bytes).unwrap();
        let status = done.status().as_u16();
        let body = done.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "manifest push failed: {body}");
        sha256(bytes)
    }

    /// A single-platform Docker v2 image; gives the manifest's digest.
    pub fn single_arch(&self, repo: &str, tag: &str) -> String {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"tag":"{tag}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
        );
        let manifest = self.manifest_json(
            repo,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            config.as_bytes(),
            tag.as_bytes(),
            "application/vnd.docker.distribution.manifest.v2+json",
        );
        self.manifest(
            repo,
            tag,
            "application/vnd.docker.distribution.manifest.v2+json",
            manifest.as_bytes(),
        )
    }

    /// An OCI index of amd64 and arm64 images; gives the index digest and its bytes.
    pub fn multi_arch(&self, repo: &str, tag: &str) -> (String, Vec<u8>) {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let entries: Vec<String> = ["amd64", "arm64"]
            .iter()
            .map(|arch| {
                let config = format!(r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#);
                let m = self.manifest_json(repo, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip", config.as_bytes(), arch.as_bytes(), oci);
                let digest = self.manifest(repo, &sha256(m.as_bytes()), oci, m.as_bytes());
                format!(r#"{{"mediaType":"{oci}","digest":"{digest}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#, m.len())
            })
            .collect();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            entries.join(",")
        );
        let digest = self.manifest(
            repo,
            tag,
            "application/vnd.oci.image.index.v1+json",
            index.as_bytes(),
        );
        (digest, index.into_bytes())
    }

    fn manifest_json(
        &self,
        repo: &str,
        config_type: &str,
        layer_type: &str,
        config: &[u8],
        layer: &[u8],
        media_type: &str,
    ) -> String {
        let config_digest = self.blob(repo, config);
        let layer_digest = self.blob(repo, layer);
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"{config_type}","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{layer_type}","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        )
    }
}

/// The manifest a registry serves for `repo` at `reference` (a tag or a digest), asked for
/// as any image or index; `None` when it has none.
pub fn fetch_manifest(base: &str, repo: &str, reference: &str) -> Option<Vec<u8>> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    fetch_manifest_with(&agent, base, repo, reference)
}

/// [`fetch_manifest`] with `agent` (one that trusts a TLS registry's CA, for instance).
pub fn fetch_manifest_with(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    reference: &str,
) -> Option<Vec<u8>> {
    let accept = "application/vnd.oci.image.index.v1+json, \
                  application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.list.v2+json, \
                  application/vnd.docker.distribution.manifest.v2+json";
    let mut answer = agent
        .get(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Accept", accept)
        .call()
        .unwrap();
    (answer.status().as_u16() == 200).then(|| answer.body_mut().read_to_vec().unwrap())
}

/// `sha256:` and the hex digest of `bytes`, computed independently of reimage.
pub fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// `sha512:` and the hex digest of `bytes`, computed independently of reimage.
pub fn sha512(bytes: &[u8]) -> String {
    let hex: String = Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha512:{hex}")
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

// ---------------------------------------------------------------- running reimage

/// Variables that would let the machine's own logins, proxies or trusted certificates in.
pub const CLEARED: [&str; 14] = [
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// `reimage` run in `dir`, with `dir` as HOME and no credentials, proxies or trusted
/// certificates from outside.
/// Standard error of a run, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output of a run, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails the test, showing standard error, unless the run exited 0.
pub fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(out));
}

pub fn reimage(dir: &Scratch) -> Command {
    let mut cmd = super::reimage();
    for var in CLEARED {
        cmd.env_remove(var);
    }
    cmd.env("HOME", &dir.0).current_dir(&dir.0);
    cmd
}

/// `skopeo` in `dir`, with no logins, proxies or trust policy from the machine.
pub fn skopeo(dir: &Scratch) -> Command {
    let mut cmd = Command::new("skopeo");
    for var in CLEARED {
        cmd.env_remove(var);
    }
    cmd.env("HOME", &dir.0)
        .current_dir(&dir.0)
        .arg("--insecure-policy");
    cmd
}

/// `cmd` with `args`, fed `input`.
pub fn run(mut cmd: Command, args: &[&str], input: &str) -> Output {
    cmd.args(args);
    super::output_with_stdin(cmd, input.as_bytes())
}

/// A Deployment with one container per image.
pub fn workload(images: &[&str]) -> String {
    let containers: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("      - name: c{i}\n        image: {image}\n"))
        .collect();
    format!(
        "# Source: chart/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\n\
         metadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n{containers}"
    )
}
