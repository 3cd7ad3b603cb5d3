//! A private PKI made at run time with the `openssl` command line, for the TLS registry tests
//! (`tests/suite/registry_tls.rs`): a CA; a server certificate it signed for `127.0.0.1` and
//! [`REGISTRY_NAME`]; the same server key certified for two days that ended yesterday; a
//! client certificate it signed; a stranger, a self-signed client certificate no server here
//! trusts; and another CA, which signed nothing here. EC P-256 keys, every certificate valid from a week ago (the expired one aside)
//! to three days from now, all in one [`Scratch`] folder removed on drop.
//!
//! Certificates are issued with `openssl ca` and a configuration file written here, so that
//! the machine's `openssl.cnf` changes nothing, and so that the dates can be in the past
//! (OpenSSL 3.0's `x509 -req` has no `-not_before`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::registry::{Scratch, Tls};

/// The name the server certificate holds besides `IP:127.0.0.1`, which resolves nowhere: the
/// tests reach it through `common::connect_proxy::ConnectProxy`, which maps it to 127.0.0.1.
pub const REGISTRY_NAME: &str = "registry.reimage.test";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A certificate chain and its private key, PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files of the test PKI.
pub struct Pki {
    /// The CA certificate: the bundle to trust.
    pub ca: PathBuf,
    /// For `127.0.0.1` and [`REGISTRY_NAME`], serverAuth.
    pub server: Pair,
    /// The server's key with a certificate that expired yesterday.
    pub expired: Pair,
    /// Signed by the CA, clientAuth.
    pub client: Pair,
    /// Self-signed, clientAuth: refused by a registry that checks client certificates.
    pub stranger: Pair,
    /// A CA certificate that signed nothing here: a bundle that does not help.
    pub other_ca: PathBuf,
    _dir: Scratch,
}

impl Pki {
    /// Makes every key and certificate; panics with openssl's own words if a step fails.
    pub fn new() -> Pki {
        let dir = Scratch::new("pki");
        std::fs::create_dir_all(dir.path("issued")).unwrap();
        std::fs::write(dir.path("index.txt"), "").unwrap();
        std::fs::write(dir.path("serial"), "01\n").unwrap();
        std::fs::write(dir.path("openssl.cnf"), config(&dir.0)).unwrap();
        let now = SystemTime::now();
        let (week_ago, in_three_days) = (now - 7 * DAY, now + 3 * DAY);

        let ca = dir.path("ca.crt");
        let ca_key = key(&dir, "ca");
        let ca_csr = request(&dir, &ca_key, "/CN=reimage test CA");
        let pki = Issuer { dir: &dir, ca: &ca };
        pki.sign(&ca_csr, &ca, "ca_ext", (week_ago, in_three_days), &ca_key);

        let server_key = key(&dir, "server");
        let server_csr = request(&dir, &server_key, &format!("/CN={REGISTRY_NAME}"));
        let server = dir.path("server.crt");
        pki.sign(
            &server_csr,
            &server,
            "server_ext",
            (week_ago, in_three_days),
            &ca_key,
        );
        let expired = dir.path("expired.crt");
        pki.sign(
            &server_csr,
            &expired,
            "server_ext",
            (week_ago, now - DAY),
            &ca_key,
        );

        let client_key = key(&dir, "client");
        let client_csr = request(&dir, &client_key, "/CN=reimage test client");
        let client = dir.path("client.crt");
        pki.sign(
            &client_csr,
            &client,
            "client_ext",
            (week_ago, in_three_days),
            &ca_key,
        );

        let stranger_key = key(&dir, "stranger");
        let stranger = dir.path("stranger.crt");
        self_signed(
            &dir,
            &stranger_key,
            "/CN=reimage test stranger",
            "stranger_ext",
            &stranger,
        );
        let other_ca = dir.path("other-ca.crt");
        let other_key = key(&dir, "other-ca");
        self_signed(
            &dir,
            &other_key,
            "/CN=reimage other CA",
            "ca_ext",
            &other_ca,
        );
        Pki {
            ca,
            server: Pair {
                cert: server,
                key: server_key.clone(),
            },
            expired: Pair {
                cert: expired,
                key: server_key,
            },
            client: Pair {
                cert: client,
                key: client_key,
            },
            stranger: Pair {
                cert: stranger,
                key: stranger_key,
            },
            other_ca,
            _dir: dir,
        }
    }

    /// What a registry serving the valid server certificate is started with; `client_cas`
    /// makes it require a client certificate signed by the CA.
    pub fn server_tls(&self, client_cas: bool) -> Tls<'_> {
        Tls {
            cert: &self.server.cert,
            key: &self.server.key,
            client_cas: client_cas.then_some(self.ca.as_path()),
        }
    }

    /// The same with the expired certificate.
    pub fn expired_tls(&self) -> Tls<'_> {
        Tls {
            cert: &self.expired.cert,
            key: &self.expired.key,
            client_cas: None,
        }
    }

    /// The TLS of a `Pusher` that trusts this CA only and, with `client`, presents the client
    /// certificate.
    pub fn pusher_tls(&self, client: bool) -> ureq::tls::TlsConfig {
        let ca = ureq::tls::Certificate::from_pem(&read(&self.ca)).unwrap();
        let mut tls =
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]));
        if client {
            let cert = ureq::tls::Certificate::from_pem(&read(&self.client.cert)).unwrap();
            let key = ureq::tls::PrivateKey::from_pem(&read(&self.client.key)).unwrap();
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&[cert], key)));
        }
        tls.build()
    }

    /// A `Pusher` TLS that checks nothing: for the registry with the expired certificate.
    pub fn pusher_tls_unchecked() -> ureq::tls::TlsConfig {
        ureq::tls::TlsConfig::builder()
            .disable_verification(true)
            .build()
    }

    /// `dir` as an OpenSSL certificate folder holding the CA (`SSL_CERT_DIR`): the file and
    /// the `<hash>.0` link `openssl rehash` makes for it.
    pub fn hashed_dir(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&self.ca, dir.join("reimage-test-ca.pem")).unwrap();
        openssl(Command::new("openssl").arg("rehash").arg(dir));
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The CA that signs, with its database in the scratch folder.
struct Issuer<'a> {
    dir: &'a Scratch,
    ca: &'a Path,
}

impl Issuer<'_> {
    /// `openssl ca`: `csr` signed with the extensions of section `extensions`, valid over
    /// `dates`, written to `out`; the CA's own request is signed with its own key.
    fn sign(
        &self,
        csr: &Path,
        out: &Path,
        extensions: &str,
        dates: (SystemTime, SystemTime),
        ca_key: &Path,
    ) {
        let mut cmd = Command::new("openssl");
        cmd.args(["ca", "-batch", "-notext", "-config"])
            .arg(self.dir.path("openssl.cnf"))
            .args(["-extensions", extensions])
            .args(["-startdate", &asn1_time(dates.0)])
            .args(["-enddate", &asn1_time(dates.1)])
            .arg("-keyfile")
            .arg(ca_key);
        if out == self.ca {
            cmd.arg("-selfsign");
        } else {
            cmd.arg("-cert").arg(self.ca);
        }
        openssl(cmd.arg("-in").arg(csr).arg("-out").arg(out));
    }
}

/// A new P-256 key in `<name>.key`.
fn key(dir: &Scratch, name: &str) -> PathBuf {
    let key = dir.path(&format!("{name}.key"));
    openssl(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "EC"])
            .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
            .arg(&key),
    );
    key
}

/// A certificate request for `key` with subject `subject`, beside the key.
fn request(dir: &Scratch, key: &Path, subject: &str) -> PathBuf {
    let csr = key.with_extension("csr");
    openssl(
        Command::new("openssl")
            .args(["req", "-new", "-subj", subject, "-config"])
            .arg(dir.path("openssl.cnf"))
            .arg("-key")
            .arg(key)
            .arg("-out")
            .arg(&csr),
    );
    csr
}

/// `openssl req -x509`: a certificate for `key` signed by itself, valid for three days from
/// now, with the extensions of section `extensions`, written to `out`.
fn self_signed(dir: &Scratch, key: &Path, subject: &str, extensions: &str, out: &Path) {
    openssl(
        Command::new("openssl")
            .args(["req", "-x509", "-days", "3", "-extensions", extensions])
            .args(["-subj", subject, "-config"])
            .arg(dir.path("openssl.cnf"))
            .arg("-key")
            .arg(key)
            .arg("-out")
            .arg(out),
    );
}

/// Runs an openssl command, panicking with its standard error if it fails.
fn openssl(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("cannot run openssl");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The whole OpenSSL configuration: the CA's database in `dir`, a policy that takes any
/// common name, and one extensions section per kind of certificate.
fn config(dir: &Path) -> String {
    format!(
        "[ca]\ndefault_ca = test_ca\n\
         [test_ca]\ndatabase = {dir}/index.txt\nnew_certs_dir = {dir}/issued\nserial = {dir}/serial\n\
         default_md = sha256\npolicy = any_name\nunique_subject = no\nemail_in_dn = no\n\
         copy_extensions = none\n\
         [any_name]\ncommonName = supplied\n\
         [req]\ndistinguished_name = dn\n[dn]\n\
         [ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [server_ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:{REGISTRY_NAME}\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
         [client_ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
         [stranger_ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n",
        dir = dir.display()
    )
}

/// `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate` takes, of `time` in UTC (by GNU
/// `date`, which does the calendar).
fn asn1_time(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let out = Command::new("date")
        .args(["-u", &format!("-d@{secs}"), "+%Y%m%d%H%M%SZ"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "date: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
