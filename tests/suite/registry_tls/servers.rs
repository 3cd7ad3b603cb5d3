//! The servers of the TLS registry tests on their own, checked without reimage: the PKI
//! verifies as it should, the TLS registries accept and refuse the right clients, the proxy
//! tunnels by name and checks its login, and the redirecting stand-ins answer as documented.
//! What every test of `registry_tls` takes for granted; a failure here is the test servers',
//! not reimage's.

use std::path::Path;
use std::process::Command;

use super::{by_name, tls_registry};
use crate::common::connect_proxy::ConnectProxy;
use crate::common::pki::Pki;
use crate::common::redirect::{LoginRedirect, ManifestServer, TlsRedirect};
use crate::common::registry::{basic, fetch_manifest_with, registry_tools, sha256};
use crate::common::Ran;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        the_pki_verifies_with_openssl,
        tls_registries_accept_and_refuse_the_right_clients,
        the_proxy_tunnels_by_name_and_checks_its_login,
        the_stand_ins_redirect_as_documented,
    ]
}

/// An agent that reports every status, with `tls`, through `proxy` or none, following
/// redirects when `follow`.
fn agent(tls: ureq::tls::TlsConfig, proxy: Option<&str>, follow: bool) -> ureq::Agent {
    let proxy = proxy.map(|url| ureq::Proxy::new(url).unwrap());
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(proxy)
        .max_redirects(if follow { 10 } else { 0 })
        .tls_config(tls)
        .build()
        .new_agent()
}

/// `GET BASE/v2/`.
fn v2(agent: &ureq::Agent, base: &str) -> Result<u16, ureq::Error> {
    agent
        .get(format!("{base}/v2/"))
        .call()
        .map(|answer| answer.status().as_u16())
}

/// A header of an answer, as text.
fn header(answer: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    answer
        .headers()
        .get(name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn the_pki_verifies_with_openssl() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let verify = |ca: &Path, cert: &Path| {
        Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(ca)
            .arg(cert)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify(&pki.ca, &pki.server.cert));
    assert!(verify(&pki.ca, &pki.client.cert));
    assert!(!verify(&pki.ca, &pki.expired.cert), "expired");
    assert!(!verify(&pki.ca, &pki.stranger.cert), "not the CA's");
    assert!(verify(&pki.other_ca, &pki.other_ca), "a CA of its own");
    assert!(!verify(&pki.other_ca, &pki.server.cert));
    Ok(())
}

fn tls_registries_accept_and_refuse_the_right_clients() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, digest) = tls_registry(&pki, false);
    let trusting = agent(pki.pusher_tls(false), None, true);
    assert_eq!(v2(&trusting, &registry.base()).unwrap(), 200);
    let webpki = agent(ureq::tls::TlsConfig::default(), None, true);
    assert!(v2(&webpki, &registry.base()).is_err(), "the CA is unknown");
    let manifest = fetch_manifest_with(&trusting, &registry.base(), "app", "1.0");
    assert_eq!(sha256(&manifest.unwrap()), digest);

    let (mutual, _) = tls_registry(&pki, true);
    let with_client = agent(pki.pusher_tls(true), None, true);
    assert_eq!(v2(&with_client, &mutual.base()).unwrap(), 200);
    let without = v2(&trusting, &mutual.base());
    assert!(without.is_err(), "no client certificate: {without:?}");
    Ok(())
}

fn the_proxy_tunnels_by_name_and_checks_its_login() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let (registry, _) = tls_registry(&pki, false);
    let named = format!("https://{}", by_name(&registry));
    let proxy = ConnectProxy::open();
    let proxied = agent(pki.pusher_tls(false), Some(&proxy.url()), true);
    assert_eq!(v2(&proxied, &named).unwrap(), 200);
    assert_eq!(proxy.seen.targets(), [by_name(&registry)]);
    let outside = agent(pki.pusher_tls(false), Some(&proxy.url()), true);
    assert!(
        v2(&outside, "https://example.com").is_err(),
        "only 127.0.0.1"
    );
    assert_eq!(proxy.seen.tunnels(), 1);

    let guarded = ConnectProxy::with_login("carol", "guard-pw-3");
    let wrong = guarded.url_with_login("carol", "x");
    assert!(v2(&agent(pki.pusher_tls(false), Some(&wrong), true), &named).is_err());
    assert!(guarded.seen.refused() > 0);
    assert_eq!(guarded.seen.tunnels(), 0);
    let right = guarded.url_with_login("carol", "guard-pw-3");
    let with_login = agent(pki.pusher_tls(false), Some(&right), true);
    assert_eq!(v2(&with_login, &named).unwrap(), 200);
    assert_eq!(guarded.seen.tunnels(), 1);
    Ok(())
}

fn the_stand_ins_redirect_as_documented() -> Ran {
    registry_tools()?;
    let pki = Pki::new();
    let trap = ManifestServer::start();
    let to_trap = format!("http://{}", trap.host);
    let redirect = TlsRedirect::start(&pki.server.cert, &pki.server.key, &to_trap);
    let url = format!("https://{}/v2/app/manifests/1.0", redirect.host);
    let answer = agent(pki.pusher_tls(false), None, false)
        .get(&url)
        .call()
        .unwrap();
    assert_eq!(answer.status(), 307);
    let location = header(&answer, "location");
    assert_eq!(location, format!("{to_trap}/v2/app/manifests/1.0"));
    assert!(trap.heads().is_empty());

    let b = ManifestServer::start();
    let a = LoginRedirect::start(&format!("http://localhost:{}", b.port));
    let url = format!("http://{}/v2/app/manifests/1.0", a.host);
    let plain = agent(ureq::tls::TlsConfig::default(), None, false);
    let challenge = plain.get(&url).call().unwrap();
    assert_eq!(challenge.status(), 401);
    assert_eq!(header(&challenge, "www-authenticate"), "Basic realm=\"a\"");
    let login = basic("alice", "pw");
    let moved = plain
        .get(&url)
        .header("Authorization", &login)
        .call()
        .unwrap();
    assert_eq!(moved.status(), 307);
    let location = header(&moved, "location");
    assert_eq!(
        location,
        format!("http://localhost:{}/v2/app/manifests/1.0", b.port)
    );
    let mut served = plain.get(&location).call().unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "docker-content-digest"), b.digest);
    assert_eq!(
        header(&served, "content-type"),
        crate::common::redirect::OCI_MANIFEST
    );
    assert_eq!(sha256(&served.body_mut().read_to_vec().unwrap()), b.digest);
    assert_eq!(b.heads().len(), 1);
    Ok(())
}
