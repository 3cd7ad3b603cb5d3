//! An HTTP CONNECT proxy for the proxy tests of `tests/suite/registry_tls.rs`, as a corporate
//! proxy works: the client sends `CONNECT host:port` and never resolves the name itself; the
//! proxy maps [`REGISTRY_NAME`] (any port) and `127.0.0.1` to 127.0.0.1, refuses every other
//! host with `502` (so nothing here ever leaves the machine), answers `200` and copies bytes
//! both ways until either side closes. It counts the tunnels it opened and, when it is given a
//! login, the requests it refused with `407` and `Proxy-Authenticate: Basic realm="test"`.
//!
//! It listens on a free port of 127.0.0.1; every connection has a thread of its own. Dropping
//! it closes the tunnels still open and stops the listener.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::pki::REGISTRY_NAME;
use super::registry::{header, read_head, Server};

/// A running CONNECT proxy.
pub struct ConnectProxy {
    pub port: u16,
    /// What it has seen so far.
    pub seen: Arc<Seen>,
    _server: Server,
}

/// What a [`ConnectProxy`] has seen.
#[derive(Default)]
pub struct Seen {
    /// Tunnels opened.
    pub tunnels: AtomicUsize,
    /// Requests refused for want of the right `Proxy-Authorization`.
    pub refused: AtomicUsize,
    /// The `host:port` of every tunnel opened, in order.
    pub targets: Mutex<Vec<String>>,
    /// Both ends of every tunnel, to be closed when the proxy is dropped.
    open: Mutex<Vec<TcpStream>>,
}

impl Seen {
    /// Tunnels opened so far.
    pub fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }

    /// Requests refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// The targets of the tunnels opened so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

impl ConnectProxy {
    /// A proxy that lets anyone through.
    pub fn open() -> ConnectProxy {
        ConnectProxy::start(None)
    }

    /// A proxy that requires `Proxy-Authorization: Basic base64(user:password)`.
    pub fn with_login(user: &str, password: &str) -> ConnectProxy {
        ConnectProxy::start(Some(STANDARD.encode(format!("{user}:{password}"))))
    }

    fn start(login: Option<String>) -> ConnectProxy {
        let seen: Arc<Seen> = Arc::default();
        let seen2 = seen.clone();
        let server = Server::start(move |client| {
            let (seen, login) = (seen2.clone(), login.clone());
            std::thread::spawn(move || seen.serve(client, login.as_deref()));
        });
        ConnectProxy {
            port: server.port(),
            seen,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY` and its kin.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url_with_login(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        for stream in self.seen.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Seen {
    /// One client connection: its CONNECT checked, then tunnelled until either side closes.
    fn serve(&self, mut client: TcpStream, login: Option<&str>) {
        let head = read_head(&mut client);
        let mut words = head.split_whitespace();
        let (method, target) = (words.next(), words.next().unwrap_or_default());
        if method != Some("CONNECT") {
            return answer(&mut client, "405 Method Not Allowed", "");
        }
        if let Some(login) = login {
            if !authorized(&head, login) {
                self.refused.fetch_add(1, Ordering::SeqCst);
                let challenge = "Proxy-Authenticate: Basic realm=\"test\"\r\n";
                return answer(&mut client, "407 Proxy Authentication Required", challenge);
            }
        }
        let Some(upstream) = upstream(target).and_then(|addr| TcpStream::connect(addr).ok()) else {
            return answer(&mut client, "502 Bad Gateway", "");
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        self.targets.lock().unwrap().push(target.to_string());
        self.tunnels.fetch_add(1, Ordering::SeqCst);
        // The head was read with a timeout; an idle tunnel (a pooled connection) must not end.
        let _ = client.set_read_timeout(None);
        self.tunnel(client, upstream);
    }

    /// Copies bytes both ways; each direction's end closes the other side for writing.
    fn tunnel(&self, client: TcpStream, upstream: TcpStream) {
        let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        {
            let mut open = self.open.lock().unwrap();
            for stream in [&client, &upstream] {
                if let Ok(clone) = stream.try_clone() {
                    open.push(clone);
                }
            }
        }
        let down = std::thread::spawn(move || copy(upstream2, client2));
        copy(client, upstream);
        let _ = down.join();
    }
}

/// Copies `from` to `to` until `from` ends, then closes `to` for writing.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Whether the head carries `Proxy-Authorization: Basic <login>` (the scheme in any case).
fn authorized(head: &str, login: &str) -> bool {
    header(head, "proxy-authorization")
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("basic") && token == login)
}

/// The address a CONNECT target is tunnelled to: [`REGISTRY_NAME`] and 127.0.0.1 are
/// 127.0.0.1; any other host is refused.
fn upstream(target: &str) -> Option<(&'static str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse().ok()?;
    (host.eq_ignore_ascii_case(REGISTRY_NAME) || host == "127.0.0.1").then_some(("127.0.0.1", port))
}

/// A bodiless answer with extra header lines `headers`, and the connection closed.
fn answer(client: &mut TcpStream, status: &str, headers: &str) {
    let reply =
        format!("HTTP/1.1 {status}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = client.write_all(reply.as_bytes());
}
