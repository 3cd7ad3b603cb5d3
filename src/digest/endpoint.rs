//! Where a reference lives on the wire: the registry host to connect to, http or https, the
//! manifest URL, and the names its credentials are stored under. Used by the client before
//! every request; pure, no I/O (whether TLS material is configured for a host is asked of the
//! caller).
//!
//! Hosts here are [`host_key`]s (lowercase), like Docker's, so `Quay.io/x` finds the
//! credentials stored for `quay.io`, and `--insecure-registry Reg.example` covers `reg.example`.

use crate::reference::{host_key, Reference};

use super::error::Target;

/// Docker Hub as references and rules name it.
const HUB: &str = "docker.io";
/// Docker Hub's registry API host.
const HUB_WIRE: &str = "registry-1.docker.io";
/// The key Docker Hub credentials are stored under by `docker login`.
const HUB_CREDENTIALS: &str = "https://index.docker.io/v1/";

/// One registry, as the client talks to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host (and port) to connect to, as a [`host_key`].
    pub host: String,
    /// `https`, or `http` for loopback and insecure registries.
    pub scheme: &'static str,
}

impl Endpoint {
    /// The endpoint of `reference`'s registry: plain http for the hosts `insecure` lists, and
    /// for loopback hosts unless `tls_configured` says TLS material is set up for them.
    pub fn new(
        reference: &Reference,
        insecure: &[String],
        tls_configured: impl Fn(&str) -> bool,
    ) -> Endpoint {
        let registry = reference.registry();
        let host = if registry == HUB {
            HUB_WIRE.to_string()
        } else {
            registry.into_owned()
        };
        let scheme = if is_listed(&host, insecure)
            || (plain_http_allowed(&host, &[]) && !tls_configured(&host))
        {
            "http"
        } else {
            "https"
        };
        Endpoint { host, scheme }
    }

    /// `scheme://host`.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The URL of the manifest of `repository` at `tag_or_digest`.
    pub fn manifest_url(&self, repository: &str, tag_or_digest: &str) -> String {
        format!("{}/v2/{repository}/manifests/{tag_or_digest}", self.base())
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.host == HUB_WIRE
    }

    /// The server name a credential helper is asked about.
    pub fn credential_server(&self) -> &str {
        if self.is_docker_hub() {
            HUB_CREDENTIALS
        } else {
            &self.host
        }
    }

    /// Whether a key of `auths`/`credHelpers` names this registry, whatever its case. Keys may
    /// be URLs (`https://host/v1/`); Docker Hub has several spellings.
    pub fn matches_key(&self, key: &str) -> bool {
        let host = key_host(key);
        if self.is_docker_hub() {
            matches!(host.as_ref(), HUB | HUB_WIRE)
        } else {
            host == self.host.as_str()
        }
    }

    /// What a failure about `reference` is reported as.
    pub fn target(&self, reference: &Reference) -> Target {
        Target {
            image: reference.as_str().to_string(),
            registry: self.host.clone(),
            repository: reference.repository().into_owned(),
            tag: tag_or_digest(reference).to_string(),
        }
    }
}

/// The manifest a reference names: its digest, else its tag, else `latest`.
pub fn tag_or_digest(reference: &Reference) -> &str {
    reference
        .digest()
        .or_else(|| reference.tag())
        .unwrap_or("latest")
}

/// Whether plain http may be used: loopback hosts, and hosts listed as insecure (with or
/// without their port), compared as [`host_key`]s.
pub fn plain_http_allowed(host: &str, insecure: &[String]) -> bool {
    let host = host_key(host);
    is_loopback(host_without_port(&host)) || is_listed(&host, insecure)
}

/// Whether `host` is in `insecure`, with or without its port.
fn is_listed(host: &str, insecure: &[String]) -> bool {
    let host = host_key(host);
    let name = host_without_port(&host);
    insecure.iter().any(|i| {
        let insecure = host_key(i);
        insecure == host || insecure == name
    })
}

/// `localhost`, `127.0.0.0/8` or `[::1]`; `name` is a [`host_key`] without its port.
fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn host_without_port(host: &str) -> &str {
    if let Some((inside, _)) = host.split_once(']') {
        return host.get(..=inside.len()).unwrap_or(host);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

/// The host of a credential key as a [`host_key`]: `https://Host/v1/` → `host`.
fn key_host(key: &str) -> std::borrow::Cow<'_, str> {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    host_key(rest.split('/').next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(image: &str, insecure: &[&str]) -> Endpoint {
        let insecure: Vec<String> = insecure.iter().map(|s| s.to_string()).collect();
        Endpoint::new(&Reference::parse(image).unwrap(), &insecure, |_| false)
    }

    #[test]
    fn docker_hub_is_registry_1_on_the_wire() {
        for image in ["nginx", "docker.io/library/nginx:1", "index.docker.io/x/y"] {
            let e = endpoint(image, &[]);
            assert_eq!(e.base(), "https://registry-1.docker.io");
            assert_eq!(e.credential_server(), "https://index.docker.io/v1/");
            assert!(e.matches_key("https://index.docker.io/v1/"));
            assert!(e.matches_key("docker.io"));
        }
        let r = Reference::parse("nginx").unwrap();
        let t = endpoint("nginx", &[]).target(&r);
        assert_eq!(
            (t.repository.as_str(), t.tag.as_str()),
            ("library/nginx", "latest")
        );
    }

    #[test]
    fn http_only_for_loopback_and_insecure_hosts() {
        assert_eq!(endpoint("localhost:5000/a", &[]).scheme, "http");
        assert_eq!(endpoint("127.0.0.1:5000/a", &[]).scheme, "http");
        assert_eq!(endpoint("[::1]:5000/a", &[]).scheme, "http");
        assert_eq!(endpoint("r.internal:5000/a", &[]).scheme, "https");
        assert_eq!(
            endpoint("r.internal:5000/a", &["r.internal"]).scheme,
            "http"
        );
        assert_eq!(
            endpoint("r.internal:5000/a", &["r.internal:5000"]).scheme,
            "http"
        );
        assert_eq!(
            endpoint("r.internal:5001/a", &["r.internal:5000"]).scheme,
            "https"
        );
        let e = endpoint("r.internal:5000/a/b:1", &[]);
        assert_eq!(
            e.manifest_url("a/b", "1"),
            "https://r.internal:5000/v2/a/b/manifests/1"
        );
        assert!(e.matches_key("https://r.internal:5000"));
        assert!(!e.matches_key("r.internal"));
    }

    #[test]
    fn hosts_compare_in_any_case() {
        let e = endpoint("Quay.IO/a/b:1", &[]);
        assert_eq!(e.host, "quay.io");
        assert_eq!(e.base(), "https://quay.io");
        assert!(e.matches_key("https://QUAY.io/v1/"));
        assert!(e.matches_key("quay.io"));
        assert!(!e.matches_key("quay.io.example"));
        let hub = endpoint("Index.Docker.IO/x/y", &[]);
        assert!(hub.is_docker_hub());
        assert!(hub.matches_key("https://INDEX.docker.io/v1/"));
        assert!(hub.matches_key("Docker.io"));
        assert_eq!(
            endpoint("R.Internal:5000/a", &["r.internal"]).scheme,
            "http"
        );
        assert_eq!(
            endpoint("r.internal:5000/a", &["R.INTERNAL:5000"]).scheme,
            "http"
        );
        assert_eq!(endpoint("LocalHost:5000/a", &[]).scheme, "http");
        let reference = Reference::parse("127.0.0.1:5000/a").unwrap();
        let configured = |host: &str| host == "127.0.0.1:5000";
        assert_eq!(Endpoint::new(&reference, &[], configured).scheme, "https");
        let listed = ["127.0.0.1:5000".to_string()];
        assert_eq!(
            Endpoint::new(&reference, &listed, configured).scheme,
            "http"
        );
        assert!(plain_http_allowed(
            "Auth.Internal",
            &["auth.internal".into()]
        ));
        assert!(!plain_http_allowed(
            "auth.internal.example",
            &["auth.internal".into()]
        ));
    }
}
