//! What a TLS connection to a registry trusts and presents, the way curl, skopeo and Docker
//! decide it: the system trust store (`SSL_CERT_FILE` and `SSL_CERT_DIR` replace it, as with
//! OpenSSL; the built-in Mozilla roots stand in when a machine has none), CA bundles trusted
//! for every registry (`--registry-ca-file`, `digests.caFiles`), and each registry's own
//! folder in the `certs.d` layout: `<dir>/<host[:port]>/` with `*.crt` CA certificates and a
//! `*.cert` + `*.key` client certificate. The folders searched are the one the user names
//! (`--certs-dir`, `digests.certsDir`), then `~/.config/containers/certs.d`,
//! `/etc/containers/certs.d` and `/etc/docker/certs.d`; the first that has a folder for the
//! host is used, as containers/image does.
//!
//! Used by `http` (which agent a request goes through) and `endpoint` (a loopback host speaks
//! https only when material is configured for it). Files are read once per host; a problem
//! with one names the file and what is wrong, never its content.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use super::error::ResolveError;

/// The `certs.d` folders read after the one the user names, in this order.
const SYSTEM_CERTS_DIRS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// Everything TLS connections may use.
pub struct Trust {
    /// The CA files trusted for every registry, parsed.
    shared: Vec<Certificate<'static>>,
    /// The `certs.d` folders, in order of precedence.
    dirs: Vec<PathBuf>,
    /// The system roots, loaded on the first https connection.
    system: OnceLock<Result<Arc<Vec<Certificate<'static>>>, ResolveError>>,
    /// What a host without a folder of its own gets, made on first use.
    default: OnceLock<Result<Arc<HostTls>, ResolveError>>,
    /// What each host with a folder gets, once read.
    hosts: Mutex<HashMap<String, Arc<HostTls>>>,
}

/// The TLS identity of one registry host.
#[derive(Debug)]
pub struct HostTls {
    /// The `certs.d` folder read for this host, if there is one.
    pub folder: Option<PathBuf>,
    /// The client certificate presented, if the folder has one.
    pub client_certificate: Option<PathBuf>,
    /// Roots and client certificate, as ureq takes them.
    pub config: TlsConfig,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("shared", &self.shared.len())
            .field("dirs", &self.dirs)
            .finish_non_exhaustive()
    }
}

impl Trust {
    /// Reads the CA files now (so that a wrong path fails before any lookup); `certs_dirs`
    /// are the user's folders, searched before the system ones.
    pub fn new(ca_files: &[PathBuf], certs_dirs: &[PathBuf]) -> Result<Trust, ResolveError> {
        let mut shared = Vec::new();
        for file in ca_files {
            shared.extend(read_certificates(file, "CA file")?);
        }
        let mut dirs = certs_dirs.to_vec();
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            dirs.push(Path::new(&home).join(".config/containers/certs.d"));
        }
        dirs.extend(SYSTEM_CERTS_DIRS.iter().map(PathBuf::from));
        Ok(Trust {
            shared,
            dirs,
            system: OnceLock::new(),
            default: OnceLock::new(),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Whether TLS material is configured for `host` (a `host_key`): CA files for every
    /// registry, or a `certs.d` folder of its own. A loopback host speaks https only then.
    pub fn configured_for(&self, host: &str) -> bool {
        !self.shared.is_empty() || self.folder(host).is_some()
    }

    /// The TLS identity for `host`, read on first use. Hosts without a folder of their own
    /// share one.
    pub fn for_host(&self, host: &str) -> Result<Arc<HostTls>, ResolveError> {
        let Some(folder) = self.folder(host) else {
            return self
                .default
                .get_or_init(|| self.make(None).map(Arc::new))
                .clone();
        };
        if let Some(known) = lock(&self.hosts).get(host) {
            return Ok(known.clone());
        }
        let made = Arc::new(self.make(Some(folder))?);
        lock(&self.hosts).insert(host.to_string(), made.clone());
        Ok(made)
    }

    fn make(&self, folder: Option<PathBuf>) -> Result<HostTls, ResolveError> {
        let system = self.system_roots()?;
        let mut roots: Vec<Certificate<'static>> = system.iter().cloned().collect();
        roots.extend(self.shared.iter().cloned());
        let mut client = None;
        if let Some(folder) = &folder {
            let material = read_folder(folder)?;
            roots.extend(material.authorities);
            client = material.client;
        }
        let client_certificate = client.as_ref().map(|(path, _)| path.clone());
        let config = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .client_cert(client.map(|(_, cert)| cert))
            .build();
        Ok(HostTls {
            folder,
            client_certificate,
            config,
        })
    }

    /// The first `certs.d/<host>` folder that exists.
    fn folder(&self, host: &str) -> Option<PathBuf> {
        // A host key has no `/`, so it names one folder, never a path elsewhere.
        if host.is_empty() || host.contains(['/', '\\']) || host.starts_with('.') {
            return None;
        }
        self.dirs
            .iter()
            .map(|dir| dir.join(host))
            .find(|folder| folder.is_dir())
    }

    fn system_roots(&self) -> Result<Arc<Vec<Certificate<'static>>>, ResolveError> {
        self.system.get_or_init(load_system_roots).clone()
    }
}

/// The system store: `SSL_CERT_FILE`/`SSL_CERT_DIR` when set (an unreadable one is an error,
/// as it is for curl), else the platform's; the built-in roots when the platform has none.
fn load_system_roots() -> Result<Arc<Vec<Certificate<'static>>>, ResolveError> {
    let loaded = rustls_native_certs::load_native_certs();
    let from_env = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    let mut certs: Vec<Certificate<'static>> = loaded
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    match from_env {
        Some(name) if certs.is_empty() => {
            let problem = match loaded.errors.first() {
                Some(error) => format!("cannot be used: {error}"),
                None => "holds no certificate".to_string(),
            };
            let path = std::env::var_os(name)
                .map(PathBuf::from)
                .unwrap_or_default();
            return Err(ResolveError::Material {
                path,
                problem: format!("{name} is set, but it {problem}; point it at a PEM bundle of the CA certificates to trust, or unset it to use the system store"),
            });
        }
        Some(_) => {}
        None if certs.is_empty() => {
            certs = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect();
        }
        None => {}
    }
    Ok(Arc::new(certs))
}

/// What one `certs.d/<host>` folder holds.
struct Folder {
    authorities: Vec<Certificate<'static>>,
    /// The first `*.cert` (by name) with its key.
    client: Option<(PathBuf, ClientCert)>,
}

/// Reads a `certs.d/<host>` folder as Docker does: every `*.crt` is a CA, every `*.cert`
/// needs the `*.key` of the same name and the other way round.
fn read_folder(folder: &Path) -> Result<Folder, ResolveError> {
    let unreadable = |e: std::io::Error| ResolveError::Material {
        path: folder.to_path_buf(),
        problem: format!("cannot read this certs.d folder: {e}"),
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(unreadable)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    names.sort();
    let mut authorities = Vec::new();
    let mut client = None;
    for path in &names {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => authorities.extend(read_certificates(path, "CA certificate")?),
            Some("cert") => {
                let key = path.with_extension("key");
                if !key.is_file() {
                    return Err(ResolveError::Material {
                        path: path.clone(),
                        problem: format!("this client certificate has no key beside it; put its private key in `{}`", key.display()),
                    });
                }
                if client.is_none() {
                    let chain = read_certificates(path, "client certificate")?;
                    let cert = ClientCert::new_with_certs(&chain, read_key(&key)?);
                    client = Some((path.clone(), cert));
                }
            }
            Some("key") if !path.with_extension("cert").is_file() => {
                return Err(ResolveError::Material {
                    path: path.clone(),
                    problem: format!(
                        "this key has no client certificate beside it; put the certificate in `{}`",
                        path.with_extension("cert").display()
                    ),
                });
            }
            _ => {}
        }
    }
    Ok(Folder {
        authorities,
        client,
    })
}

/// Every PEM certificate in `path`; none is an error. `what` names the file's role.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<Certificate<'static>>, ResolveError> {
    let bytes = read(path, what)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(_) => return Err(not_pem(path, what, "certificate")),
        }
    }
    if certs.is_empty() {
        return Err(not_pem(path, what, "certificate"));
    }
    Ok(certs)
}

/// The one private key in `path`.
fn read_key(path: &Path) -> Result<PrivateKey<'static>, ResolveError> {
    let bytes = read(path, "client key")?;
    for item in ureq::tls::parse_pem(&bytes) {
        if let Ok(PemItem::PrivateKey(key)) = item {
            return Ok(key);
        }
    }
    Err(not_pem(path, "client key", "private key"))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, ResolveError> {
    std::fs::read(path).map_err(|e| ResolveError::Material {
        path: path.to_path_buf(),
        problem: format!("cannot read this {what}: {e}"),
    })
}

/// A file that holds no usable PEM block; what it does hold is never shown.
fn not_pem(path: &Path, what: &str, wanted: &str) -> ResolveError {
    ResolveError::Material {
        path: path.to_path_buf(),
        problem: format!("this {what} holds no PEM-encoded {wanted} (`-----BEGIN …-----` blocks)"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate (EC P-256, valid until 2036), made with openssl for these tests.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUFLsVSJ4mO4XTqJXdhsjyGjW/SYAwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRcmVpbWFnZSB1bml0IHRlc3QwHhcNMjYxMjAxMTUxNDI3WhcN
MzYxMTI4MTUxNDI3WjAcMRowGAYDVQQDDBFyZWltYWdlIHVuaXQgdGVzdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABDtISjA8MVaN1UYNyAee9Hsaewy+ctK8PDYM
srXZvhngk5bo7bfXkDrf+FASsLNsfJPCsv0hxf99uWiKXitA15OjUzBRMB0GA1Ud
DgQWBBQacAc4LvS3iPit4VGvI3pAbLccbDAfBgNVHSMEGDAWgBQacAc4LvS3iPit
4VGvI3pAbLccbDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIBM0
leaaNC8c1F0h4JCxlESM80nLnQXhIUOO3w8q+q5sAiA4I8uLfYMHqu1NQG7IK/lG
PHfPLKv8ftU8dsp6iTX1zg==
-----END CERTIFICATE-----
";

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("reimage-trust-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn ca_files_must_hold_a_certificate() {
        let dir = scratch("ca");
        let good = dir.join("ca.pem");
        std::fs::write(&good, CERT).unwrap();
        assert!(Trust::new(std::slice::from_ref(&good), &[]).is_ok());
        let bad = dir.join("not.pem");
        std::fs::write(&bad, "password=hunter2\n").unwrap();
        let error = Trust::new(&[good, bad], &[]).unwrap_err().to_string();
        assert!(
            error.contains("not.pem") && error.contains("holds no PEM-encoded certificate"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        let missing = Trust::new(&[dir.join("none.pem")], &[])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read this CA file"), "{missing}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_host_folder_is_material_and_its_files_must_pair() {
        let dir = scratch("folders");
        let trust = Trust::new(&[], std::slice::from_ref(&dir)).unwrap();
        assert!(!trust.configured_for("127.0.0.1:5000"));
        std::fs::create_dir_all(dir.join("127.0.0.1:5000")).unwrap();
        assert!(trust.configured_for("127.0.0.1:5000"));
        assert!(!trust.configured_for("127.0.0.1:5001"));
        assert!(!trust.configured_for("../127.0.0.1:5000"));
        std::fs::write(dir.join("127.0.0.1:5000/client.key"), "secret key\n").unwrap();
        let error = read_folder(&dir.join("127.0.0.1:5000"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("has no client certificate beside it") && error.contains("client.cert"),
            "{error}"
        );
        assert!(!error.contains("secret key"), "{error}");
        std::fs::write(dir.join("127.0.0.1:5000/client.cert"), CERT).unwrap();
        let error = read_folder(&dir.join("127.0.0.1:5000"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("client.key") && error.contains("no PEM-encoded private key"),
            "{error}"
        );
        assert!(!error.contains("secret key"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn ca_files_make_every_host_configured() {
        let dir = scratch("shared");
        std::fs::write(dir.join("ca.pem"), CERT).unwrap();
        let trust = Trust::new(&[dir.join("ca.pem")], &[]).unwrap();
        assert!(trust.configured_for("localhost:5000"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
