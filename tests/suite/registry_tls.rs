//! `reimage lock` and `--resolve` against registries that speak TLS, through the real binary:
//! a private CA trusted by `--registry-ca-file`, `digests.caFiles`, a `certs.d` folder
//! (`--certs-dir`, `digests.certsDir`) or `SSL_CERT_FILE`/`SSL_CERT_DIR`; the failures an
//! unknown authority, an expired certificate, a host name the certificate does not hold, a
//! missing or unknown client certificate and a TLS attempt at a plain-http registry bring,
//! each with its own message; client certificates from `certs.d`; CONNECT proxies from
//! `HTTPS_PROXY`/`HTTP_PROXY`, with Basic credentials, `NO_PROXY`, and loopback never proxied;
//! an https registry redirecting to plain http refused, and credentials left behind on a
//! redirect to another host.
//!
//! The servers are Debian's `docker-registry` with `http.tls` (`common::registry`), a PKI
//! made with `openssl` (`common::pki`), a CONNECT proxy that maps [`REGISTRY_NAME`] to
//! 127.0.0.1 (`common::connect_proxy`; loopback is never proxied, so a test that goes through
//! a proxy names the registry that way) and redirecting stand-ins (`common::redirect`), all on
//! 127.0.0.1 at ports chosen at run time and stopped when dropped; `servers` checks them on
//! their own, without reimage. Without the registry tools these tests are reported as
//! ignored, with what to install; with `CI=true` they fail.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::connect_proxy::ConnectProxy;
use common::pki::{Pki, REGISTRY_NAME};
use common::redirect::{LoginRedirect, ManifestServer, TlsRedirect};
use common::registry::{
    assert_ok, basic, free_port, registry_tools, reimage, stderr, stdout, workload, Auth, Pusher,
    Registry, Scratch,
};
use common::Ran;

mod servers;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    let mut trials = servers::tests();
    trials.extend(tests![
        ca_file_flag_is_trusted_for_every_registry,
        ca_files_in_the_rules_are_read_from_the_rules_folder,
        certs_dir_flag_trusts_the_ca_of_its_host_port_folder,
        certs_dir_in_the_rules_is_read_from_the_rules_folder,
        ssl_cert_file_and_dir_replace_the_system_store,
        an_unknown_authority_is_refused_with_where_to_put_the_ca,
        an_expired_certificate_is_refused,
        a_host_name_outside_the_certificate_is_refused,
        a_client_certificate_from_certs_d_is_presented,
        a_missing_or_unknown_client_certificate_is_refused,
        a_tls_attempt_at_a_plain_http_registry_names_insecure_registry,
        lock_and_resolve_go_through_the_https_proxy,
        proxy_credentials_come_from_the_proxy_url_and_stay_secret,
        no_proxy_sends_matching_names_directly,
        each_scheme_takes_its_own_proxy,
        loopback_registries_are_never_proxied,
        an_https_redirect_to_plain_http_is_refused,
        credentials_stay_behind_on_a_redirect_to_another_host,
    ]);
    trials
}

/// The proxy variables for http and https registries, in both spellings.
const PROXY_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];

/// The timeout of every run here: a handshake that hangs fails the test in seconds.
const TIMEOUT: &str = "10";

fn run(mut cmd: Command, args: &[&str], input: &str) -> Output {
    cmd.args(["--timeout", TIMEOUT]).args(args);
    common::output_with_stdin(cmd, input.as_bytes())
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `HOST/app:1.0`, the image every registry here has.
fn app(host: &str) -> String {
    format!("{host}/app:1.0")
}

/// [`app`] pushed to `registry` over https, presenting the client certificate when `client`;
/// gives its digest.
fn push_app(pki: &Pki, registry: &Registry, client: bool) -> String {
    Pusher::with_tls(registry.base(), Box::new(|_| None), pki.pusher_tls(client))
        .single_arch("app", "1.0")
}

/// A TLS registry with the valid server certificate (and client certificates required when
/// `client_cas`), holding [`app`]; and its digest.
fn tls_registry(pki: &Pki, client_cas: bool) -> (Registry, String) {
    let registry = Registry::start_tls(Auth::Open, &pki.server_tls(client_cas));
    let digest = push_app(pki, &registry, client_cas);
    (registry, digest)
}

/// `name:PORT`, the registry as reached through a proxy.
fn by_name(registry: &Registry) -> String {
    format!("{REGISTRY_NAME}:{}", registry.port)
}

/// `reimage` in `dir` (see `common::registry::reimage`: no proxies, no trusted certificates
/// and no logins from outside), with the variables `env` set.
fn with_env(dir: &Scratch, env: &[(&str, &str)]) -> Command {
    let mut cmd = reimage(dir);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// `reimage ARGS lock -o l.yaml` and `reimage ARGS --resolve` on a workload of `image`: the
/// lock file holds `image: digest` and nothing else, and the render pins the image.
fn pins(dir: &Scratch, env: &[(&str, &str)], args: &[&str], image: &str, digest: &str) {
    pins_all(dir, env, args, &[(image, digest)]);
}

/// [`pins`] for several images at once; `pinned` is sorted as the lock file sorts.
fn pins_all(dir: &Scratch, env: &[(&str, &str)], args: &[&str], pinned: &[(&str, &str)]) {
    let images: Vec<&str> = pinned.iter().map(|(image, _)| *image).collect();
    let input = workload(&images);
    let lock: Vec<&str> = args
        .iter()
        .copied()
        .chain(["lock", "-o", "l.yaml"])
        .collect();
    let locked = run(with_env(dir, env), &lock, &input);
    assert_ok(&locked);
    let entries: String = pinned
        .iter()
        .map(|(image, digest)| format!("  {image}: {digest}\n"))
        .collect();
    let written = std::fs::read_to_string(dir.path("l.yaml")).unwrap();
    assert_eq!(written, format!("version: 1\nimages:\n{entries}"));
    std::fs::remove_file(dir.path("l.yaml")).unwrap();

    let resolve: Vec<&str> = args.iter().copied().chain(["--resolve"]).collect();
    let rendered = run(with_env(dir, env), &resolve, &input);
    assert_ok(&rendered);
    for (image, digest) in pinned {
        let line = format!("image: {image}@{digest}\n");
        assert!(stdout(&rendered).contains(&line), "{}", stdout(&rendered));
    }
}

/// `reimage --log reimage.log ARGS` on a workload of `image`, which must fail: a non-zero
/// exit, nothing on standard output, and a message, on standard error and in the log alike,
/// holding every one of `has` and none of `never`. Gives the message (the log stays in `dir`).
fn fails(
    dir: &Scratch,
    env: &[(&str, &str)],
    args: &[&str],
    image: &str,
    has: &[&str],
    never: &[&str],
) -> String {
    let log = dir.path("reimage.log");
    let _ = std::fs::remove_file(&log);
    let logged: Vec<&str> = ["--log", path(&log)]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let out = run(with_env(dir, env), &logged, &workload(&[image]));
    let message = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{args:?} succeeded:\n{message}");
    assert_eq!(stdout(&out), "", "{args:?} printed on stdout");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    for part in has {
        assert!(
            message.contains(part),
            "{args:?}: no {part:?} in:\n{message}"
        );
        assert!(
            logged.contains(part),
            "{args:?}: no {part:?} in the log:\n{logged}"
        );
    }
    for part in never {
        assert!(!message.contains(part), "{args:?}: {part:?} in:\n{message}");
        assert!(
            !logged.contains(part),
            "{args:?}: {part:?} in the log:\n{logged}"
        );
    }
    message
}

/// `root/<host>/` with `files` (name in the folder, file to copy), as a `certs.d` folder.
fn certs_d(root: &Path, host: &str, files: &[(&str, &Path)]) -> PathBuf {
    let folder = root.join(host);
    std::fs::create_dir_all(&folder).unwrap();
    for (name, from) in files {
        std::fs::copy(from, folder.join(name)).unwrap();
    }
    root.to_path_buf()
}

/// The pieces of the unknown-authority message, and what it must not say.
const UNKNOWN_CA: [&str; 3] = ["unknown authority", "--registry-ca-file", "certs.d"];
const NOT_PLAIN_HTTP: [&str; 2] = ["--insecure-registry", "plain http"];

// ---------------------------------------------------------------- trusting the CA

fn ca_file_flag_is_trusted_for_every_registry() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-ca-flag");
    // Repeatable: a bundle that does not hold the CA first, then the one that does.
    let args = [
        "--registry-ca-file",
        path(&pki.other_ca),
        "--registry-ca-file",
        path(&pki.ca),
    ];
    pins(&dir, &[], &args, &app(&registry.host), &digest);
    Ok(())
}

fn ca_files_in_the_rules_are_read_from_the_rules_folder() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-ca-rules");
    std::fs::create_dir_all(dir.path("conf")).unwrap();
    // One bundle of two certificates, the CA second.
    let bundle = [&pki.other_ca, &pki.ca]
        .map(|file| std::fs::read_to_string(file).unwrap())
        .concat();
    std::fs::write(dir.path("conf/bundle.pem"), bundle).unwrap();
    let rules = "version: 1\ndigests: {caFiles: [bundle.pem]}\n";
    std::fs::write(dir.path("conf/rules.yaml"), rules).unwrap();
    let args = ["--rules", "conf/rules.yaml"];
    pins(&dir, &[], &args, &app(&registry.host), &digest);
    Ok(())
}

fn certs_dir_flag_trusts_the_ca_of_its_host_port_folder() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-certs-flag");
    let certs = certs_d(&dir.path("certs"), &registry.host, &[("ca.crt", &pki.ca)]);
    let args = ["--certs-dir", path(&certs)];
    pins(&dir, &[], &args, &app(&registry.host), &digest);
    Ok(())
}

fn certs_dir_in_the_rules_is_read_from_the_rules_folder() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-certs-rules");
    let ca = [("ca.crt", pki.ca.as_path())];
    certs_d(&dir.path("conf/certs"), &registry.host, &ca);
    let rules = "version: 1\ndigests: {certsDir: certs}\n";
    std::fs::write(dir.path("conf/rules.yaml"), rules).unwrap();
    let args = ["--rules", "conf/rules.yaml"];
    pins(&dir, &[], &args, &app(&registry.host), &digest);
    Ok(())
}

/// The system store, emulated: OpenSSL's variables name the CA. Loopback without TLS
/// material is plain http, so the registry is reached by name, through the proxy.
fn ssl_cert_file_and_dir_replace_the_system_store() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let proxy = ConnectProxy::open();
    let dir = Scratch::new("tls-ssl-env");
    let image = app(&by_name(&registry));
    let url = proxy.url();
    let env = [
        ("HTTPS_PROXY", url.as_str()),
        ("SSL_CERT_FILE", path(&pki.ca)),
    ];
    pins(&dir, &env, &[], &image, &digest);
    let tunnels = proxy.seen.tunnels();
    assert!(tunnels > 0, "the proxy saw nothing");
    let certs = dir.path("ssl-certs");
    pki.hashed_dir(&certs);
    let env = [
        ("HTTPS_PROXY", url.as_str()),
        ("SSL_CERT_DIR", path(&certs)),
    ];
    pins(&dir, &env, &[], &image, &digest);
    assert!(proxy.seen.tunnels() > tunnels, "the proxy saw nothing");
    Ok(())
}

// ---------------------------------------------------------------- certificates refused

fn an_unknown_authority_is_refused_with_where_to_put_the_ca() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, _) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-unknown");
    let local = app(&registry.host);

    // By name through the proxy, trusting the system store only.
    let proxy = ConnectProxy::open();
    let url = proxy.url();
    let env = [("HTTPS_PROXY", url.as_str())];
    fails(
        &dir,
        &env,
        &["lock"],
        &app(&by_name(&registry)),
        &UNKNOWN_CA,
        &NOT_PLAIN_HTTP,
    );
    assert!(proxy.seen.tunnels() > 0, "the proxy saw nothing");
    // A certs.d folder for the registry, without its CA: https, and nothing to trust it by.
    let certs = certs_d(&dir.path("certs"), &registry.host, &[]);
    let args = ["--certs-dir", path(&certs), "lock"];
    fails(&dir, &[], &args, &local, &UNKNOWN_CA, &NOT_PLAIN_HTTP);
    // A CA file that did not sign the registry's certificate, for a render.
    let args = ["--registry-ca-file", path(&pki.other_ca), "--resolve"];
    fails(&dir, &[], &args, &local, &UNKNOWN_CA, &NOT_PLAIN_HTTP);
    Ok(())
}

fn an_expired_certificate_is_refused() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let registry = Registry::start_tls(Auth::Open, &pki.expired_tls());
    Pusher::with_tls(
        registry.base(),
        Box::new(|_| None),
        Pki::pusher_tls_unchecked(),
    )
    .single_arch("app", "1.0");
    let dir = Scratch::new("tls-expired");
    let args = ["--registry-ca-file", path(&pki.ca), "lock"];
    fails(
        &dir,
        &[],
        &args,
        &app(&registry.host),
        &["expired"],
        &["--insecure-registry"],
    );
    Ok(())
}

/// The certificate holds `IP:127.0.0.1` and the proxy name; `localhost` is neither.
fn a_host_name_outside_the_certificate_is_refused() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, _) = tls_registry(&pki, false);
    let dir = Scratch::new("tls-name");
    let image = app(&format!("localhost:{}", registry.port));
    let args = ["--registry-ca-file", path(&pki.ca), "lock"];
    fails(
        &dir,
        &[],
        &args,
        &image,
        &["not valid for"],
        &["--insecure-registry"],
    );
    Ok(())
}

fn a_client_certificate_from_certs_d_is_presented() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, true);
    let dir = Scratch::new("tls-client");
    let files = [
        ("ca.crt", pki.ca.as_path()),
        ("client.cert", &pki.client.cert),
        ("client.key", &pki.client.key),
    ];
    let certs = certs_d(&dir.path("certs"), &registry.host, &files);
    pins(
        &dir,
        &[],
        &["--certs-dir", path(&certs)],
        &app(&registry.host),
        &digest,
    );
    Ok(())
}

fn a_missing_or_unknown_client_certificate_is_refused() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, _) = tls_registry(&pki, true);
    let image = app(&registry.host);

    let dir = Scratch::new("tls-no-client");
    let certs = certs_d(&dir.path("certs"), &registry.host, &[("ca.crt", &pki.ca)]);
    let args = ["--certs-dir", path(&certs), "lock"];
    let has = ["client certificate", "certs.d"];
    fails(&dir, &[], &args, &image, &has, &["--insecure-registry"]);

    let dir = Scratch::new("tls-stranger");
    let files = [
        ("ca.crt", pki.ca.as_path()),
        ("client.cert", &pki.stranger.cert),
        ("client.key", &pki.stranger.key),
    ];
    let certs = certs_d(&dir.path("certs"), &registry.host, &files);
    let args = ["--certs-dir", path(&certs), "--resolve"];
    let has = ["client certificate", "refused"];
    fails(&dir, &[], &args, &image, &has, &["--insecure-registry"]);
    Ok(())
}

/// A CA file makes loopback registries https; a plain one answers a TLS hello with garbage,
/// and only here is `--insecure-registry` the advice.
fn a_tls_attempt_at_a_plain_http_registry_names_insecure_registry() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let registry = Registry::start(Auth::Open);
    Pusher::new(registry.base(), Box::new(|_| None)).single_arch("app", "1.0");
    let dir = Scratch::new("tls-at-plain");
    let args = ["--registry-ca-file", path(&pki.ca), "lock"];
    let has = ["plain http", "--insecure-registry"];
    fails(&dir, &[], &args, &app(&registry.host), &has, &[]);
    Ok(())
}

// ---------------------------------------------------------------- proxies

fn lock_and_resolve_go_through_the_https_proxy() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let proxy = ConnectProxy::open();
    let dir = Scratch::new("tls-proxy");
    let image = app(&by_name(&registry));
    let input = workload(&[&image]);
    let ca = ["--registry-ca-file", path(&pki.ca)];

    let url = proxy.url();
    let lock: Vec<&str> = ca.iter().copied().chain(["lock", "-o", "l.yaml"]).collect();
    assert_ok(&run(
        with_env(&dir, &[("HTTPS_PROXY", &url)]),
        &lock,
        &input,
    ));
    let written = std::fs::read_to_string(dir.path("l.yaml")).unwrap();
    assert_eq!(
        written,
        format!("version: 1\nimages:\n  {image}: {digest}\n")
    );
    let after_lock = proxy.seen.tunnels();
    assert!(after_lock > 0, "lock did not go through the proxy");

    // The lowercase spelling too.
    let resolve: Vec<&str> = ca.iter().copied().chain(["--resolve"]).collect();
    let rendered = run(with_env(&dir, &[("https_proxy", &url)]), &resolve, &input);
    assert_ok(&rendered);
    assert!(stdout(&rendered).contains(&format!("image: {image}@{digest}\n")));
    assert!(
        proxy.seen.tunnels() > after_lock,
        "--resolve did not go through the proxy"
    );
    let targets = proxy.seen.targets();
    assert!(
        targets.iter().all(|t| *t == by_name(&registry)),
        "{targets:?}"
    );
    Ok(())
}

fn proxy_credentials_come_from_the_proxy_url_and_stay_secret() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let (user, password, wrong) = ("alice", "pr0xy-pw-5", "wr0ng-pw-8");
    let proxy = ConnectProxy::with_login(user, password);
    let dir = Scratch::new("tls-proxy-login");
    let image = app(&by_name(&registry));
    let ca = ["--registry-ca-file", path(&pki.ca)];

    let right = proxy.url_with_login(user, password);
    pins(&dir, &[("HTTPS_PROXY", &right)], &ca, &image, &digest);
    assert!(proxy.seen.tunnels() > 0);

    let tunnels = proxy.seen.tunnels();
    let bad = proxy.url_with_login(user, wrong);
    let args: Vec<&str> = ca.iter().copied().chain(["--explain", "lock"]).collect();
    let message = fails(
        &dir,
        &[("HTTPS_PROXY", &bad)],
        &args,
        &image,
        &["proxy"],
        &[],
    );
    assert!(proxy.seen.refused() > 0, "the proxy refused nothing");
    assert_eq!(
        proxy.seen.tunnels(),
        tunnels,
        "a tunnel without the password"
    );
    let logged = std::fs::read_to_string(dir.path("reimage.log")).unwrap_or_default();
    let encoded = basic(user, wrong);
    let encoded = encoded.trim_start_matches("Basic ");
    for text in [&message, &logged] {
        assert!(!text.contains(wrong), "the password leaked:\n{text}");
        assert!(
            !text.contains(encoded),
            "the encoded password leaked:\n{text}"
        );
    }
    Ok(())
}

/// `NO_PROXY` in its forms: the name, a `.domain`, `*`, `name:port`; each sends the lookup
/// straight to a name that resolves nowhere (so it fails without the proxy seeing it), while
/// entries that do not match leave it to the proxy.
fn no_proxy_sends_matching_names_directly() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let proxy = ConnectProxy::open();
    let dir = Scratch::new("tls-no-proxy");
    let image = app(&by_name(&registry));
    let url = proxy.url();
    let args = ["--registry-ca-file", path(&pki.ca), "lock"];
    let (with_port, in_a_list) = (
        by_name(&registry),
        format!("other.example, {REGISTRY_NAME}"),
    );
    for (var, value) in [
        ("NO_PROXY", REGISTRY_NAME),
        ("no_proxy", ".reimage.test"),
        ("NO_PROXY", "*"),
        ("NO_PROXY", with_port.as_str()),
        ("no_proxy", in_a_list.as_str()),
    ] {
        let env = [("HTTPS_PROXY", url.as_str()), (var, value)];
        let message = fails(&dir, &env, &args, &image, &[REGISTRY_NAME], &[]);
        let lower = message.to_ascii_lowercase();
        assert!(
            ["host not found", "lookup", "resolve", "not known"]
                .iter()
                .any(|words| lower.contains(words)),
            "{var}={value}: not a name lookup failure:\n{message}"
        );
        assert_eq!(
            proxy.seen.tunnels(),
            0,
            "{var}={value} went through the proxy"
        );
    }
    let other_port = format!("{REGISTRY_NAME}:{}", free_port());
    for no_proxy in [
        "other.example,10.0.0.0/8",
        "test.reimage",
        other_port.as_str(),
    ] {
        let env = [("HTTPS_PROXY", url.as_str()), ("NO_PROXY", no_proxy)];
        let before = proxy.seen.tunnels();
        pins(&dir, &env, &args[..2], &image, &digest);
        assert!(
            proxy.seen.tunnels() > before,
            "NO_PROXY={no_proxy} bypassed the proxy"
        );
    }
    Ok(())
}

/// Plain http (an `--insecure-registry`) goes through `HTTP_PROXY`, https through
/// `HTTPS_PROXY`, in one run.
fn each_scheme_takes_its_own_proxy() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (secure, secure_digest) = tls_registry(&pki, false);
    let plain = Registry::start(Auth::Open);
    let plain_digest = Pusher::new(plain.base(), Box::new(|_| None)).single_arch("app", "1.0");
    let (for_http, for_https) = (ConnectProxy::open(), ConnectProxy::open());
    let dir = Scratch::new("tls-two-proxies");
    let (plain_name, secure_name) = (by_name(&plain), by_name(&secure));
    let (plain_image, secure_image) = (app(&plain_name), app(&secure_name));
    let mut pinned = [
        (plain_image.as_str(), plain_digest.as_str()),
        (secure_image.as_str(), secure_digest.as_str()),
    ];
    pinned.sort();
    let (http_url, https_url) = (for_http.url(), for_https.url());
    let env = [
        ("HTTP_PROXY", http_url.as_str()),
        ("HTTPS_PROXY", https_url.as_str()),
    ];
    let args = [
        "--registry-ca-file",
        path(&pki.ca),
        "--insecure-registry",
        &plain_name,
    ];
    pins_all(&dir, &env, &args, &pinned);
    assert!(!for_http.seen.targets().is_empty());
    assert!(for_http.seen.targets().iter().all(|t| *t == plain_name));
    assert!(!for_https.seen.targets().is_empty());
    assert!(for_https.seen.targets().iter().all(|t| *t == secure_name));
    Ok(())
}

/// With every proxy variable set, 127.0.0.1 is reached directly: a TLS registry (its CA in
/// a certs.d folder) and a plain one in one run.
fn loopback_registries_are_never_proxied() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (secure, secure_digest) = tls_registry(&pki, false);
    let plain = Registry::start(Auth::Open);
    let plain_digest = Pusher::new(plain.base(), Box::new(|_| None)).single_arch("app", "1.0");
    let proxy = ConnectProxy::open();
    let dir = Scratch::new("tls-loopback");
    let certs = certs_d(&dir.path("certs"), &secure.host, &[("ca.crt", &pki.ca)]);
    let url = proxy.url();
    let env: Vec<(&str, &str)> = PROXY_VARS.iter().map(|var| (*var, url.as_str())).collect();
    let (plain_image, secure_image) = (app(&plain.host), app(&secure.host));
    let mut pinned = [
        (plain_image.as_str(), plain_digest.as_str()),
        (secure_image.as_str(), secure_digest.as_str()),
    ];
    pinned.sort();
    pins_all(&dir, &env, &["--certs-dir", path(&certs)], &pinned);
    assert_eq!(proxy.seen.tunnels(), 0, "{:?}", proxy.seen.targets());
    Ok(())
}

// ---------------------------------------------------------------- redirects

fn an_https_redirect_to_plain_http_is_refused() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let trap = ManifestServer::start();
    let redirect = TlsRedirect::start(
        &pki.server.cert,
        &pki.server.key,
        &format!("http://{}", trap.host),
    );
    let dir = Scratch::new("tls-downgrade");
    let image = app(&redirect.host);
    for command in ["lock", "--resolve"] {
        let args = ["--registry-ca-file", path(&pki.ca), command];
        fails(&dir, &[], &args, &image, &["redirected", "plain http"], &[]);
    }
    assert!(
        redirect
            .redirected
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    assert_eq!(
        trap.heads(),
        Vec::<String>::new(),
        "the plain http target was contacted"
    );
    Ok(())
}

/// Registry A (127.0.0.1) wants a login and then redirects to B (`localhost`, another port):
/// B never sees the `Authorization` A was sent, and its digest is the one pinned.
fn credentials_stay_behind_on_a_redirect_to_another_host() -> Ran {
    registry_tools()?;
    let b = ManifestServer::start();
    let a = LoginRedirect::start(&format!("http://localhost:{}", b.port));
    let dir = Scratch::new("tls-redirect-login");
    let (user, password) = ("alice", "redir-pw-4");
    std::fs::create_dir_all(dir.path("docker")).unwrap();
    let login = basic(user, password);
    let auth = login.trim_start_matches("Basic ");
    let config = format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, a.host);
    std::fs::write(dir.path("docker/config.json"), config).unwrap();
    let docker = dir.path("docker");
    pins(
        &dir,
        &[("DOCKER_CONFIG", path(&docker))],
        &[],
        &app(&a.host),
        &b.digest,
    );

    let has_authorization = |head: &String| head.to_ascii_lowercase().contains("\nauthorization:");
    let sent_to_a: Vec<String> = a.heads().into_iter().filter(has_authorization).collect();
    assert!(!sent_to_a.is_empty(), "A never got the login");
    assert!(
        sent_to_a.iter().all(|head| head.contains(&login)),
        "{sent_to_a:?}"
    );
    let b_heads = b.heads();
    assert!(!b_heads.is_empty(), "B was never asked");
    let forwarded: Vec<&String> = b_heads.iter().filter(|h| has_authorization(h)).collect();
    assert!(
        forwarded.is_empty(),
        "the login went to another host: {forwarded:?}"
    );
    Ok(())
}
