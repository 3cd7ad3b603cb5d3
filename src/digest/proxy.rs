//! Which proxy, if any, a request goes through, read from the environment the way Go's
//! `net/http` reads it (Docker, skopeo and Helm are Go programs, so sites configure for them):
//! `HTTPS_PROXY` for https registries, `HTTP_PROXY` for plain-http ones (each also in
//! lowercase; the uppercase one wins), and `NO_PROXY` for the hosts that bypass both: `*`,
//! a name (itself and its subdomains), `.name` (subdomains only), an IP address or a CIDR
//! range, each optionally with `:port`. Loopback hosts are never proxied. Every proxy is an
//! `http://` or `https://` URL, spoken to with CONNECT; `user:password@` in it is sent as
//! proxy Basic credentials and never shown.
//!
//! Used by `http` for every request; pure once read (tests give their own variables).

use std::net::IpAddr;

use super::error::ResolveError;

/// The proxies of this run.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    https: Option<ureq::Proxy>,
    http: Option<ureq::Proxy>,
    bypass: Vec<Bypass>,
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    /// `*`.
    All,
    /// An address, and the port if the entry gave one.
    Ip(IpAddr, Option<u16>),
    /// A range: address and prefix length.
    Range(IpAddr, u8),
    /// `.name` (`subdomains_only`) or `name`, lowercase, with the port if given.
    Domain {
        suffix: String,
        subdomains_only: bool,
        port: Option<u16>,
    },
}

impl Proxies {
    /// The proxies the environment names.
    pub fn from_env() -> Result<Proxies, ResolveError> {
        Proxies::from_lookup(|name| std::env::var(name).ok())
    }

    /// The proxies `lookup` (a variable's value by name) names; an empty value is unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Proxies, ResolveError> {
        let either = |upper: &'static str, lower: &'static str| {
            [upper, lower].into_iter().find_map(|name| {
                lookup(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        let proxy = |found: Option<(&'static str, String)>| match found {
            Some((name, value)) => parse_proxy(name, value.trim()).map(Some),
            None => Ok(None),
        };
        let bypass = either("NO_PROXY", "no_proxy")
            .map(|(_, list)| parse_bypass(&list))
            .unwrap_or_default();
        Ok(Proxies {
            https: proxy(either("HTTPS_PROXY", "https_proxy"))?,
            http: proxy(either("HTTP_PROXY", "http_proxy"))?,
            bypass,
        })
    }

    /// The proxy for a request to `host` (a `host_key`, with its port if any) over `scheme`.
    pub fn for_request(&self, scheme: &str, host: &str) -> Option<&ureq::Proxy> {
        let proxy = match scheme {
            "https" => self.https.as_ref()?,
            _ => self.http.as_ref()?,
        };
        let (name, port) = split_port(host);
        let default = if scheme == "https" { 443 } else { 80 };
        let port = port.and_then(|p| p.parse().ok()).unwrap_or(default);
        let ip = name.parse::<IpAddr>().ok();
        if name == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
            return None;
        }
        let bypassed = self
            .bypass
            .iter()
            .any(|entry| entry.matches(name, ip, port));
        (!bypassed).then_some(proxy)
    }
}

/// A proxy URL; scheme defaults to http, as in Go.
fn parse_proxy(variable: &str, value: &str) -> Result<ureq::Proxy, ResolveError> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let scheme = with_scheme.split("://").next().unwrap_or_default();
    let shown = redacted(&with_scheme);
    let invalid = |why: String| ResolveError::Proxy {
        variable: variable.to_string(),
        problem: format!("`{shown}` {why}"),
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(invalid(format!(
            "is a {scheme} proxy; only http and https proxies (CONNECT) are supported"
        )));
    }
    ureq::Proxy::new(&with_scheme)
        .map_err(|_| invalid("is not a proxy URL (`http://[user:password@]host:port`)".to_string()))
}

/// `url` with any `user:password@` replaced by `***@`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_string(),
    }
}

fn parse_bypass(list: &str) -> Vec<Bypass> {
    list.split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| Bypass::parse(&entry))
        .collect()
}

impl Bypass {
    fn parse(entry: &str) -> Option<Bypass> {
        if entry == "*" {
            return Some(Bypass::All);
        }
        if let Some((address, bits)) = entry.split_once('/') {
            let address = address.parse::<IpAddr>().ok()?;
            let bits = bits.parse::<u8>().ok()?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            return (bits <= max).then_some(Bypass::Range(address, bits));
        }
        if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Some(Bypass::Ip(ip, None));
        }
        let (name, port) = split_port(entry);
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok()?),
            None => None,
        };
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Some(Bypass::Ip(ip, port));
        }
        let name = name.strip_prefix('*').unwrap_or(name);
        let (suffix, subdomains_only) = match name.strip_prefix('.') {
            Some(rest) => (rest, true),
            None => (name, false),
        };
        (!suffix.is_empty()).then(|| Bypass::Domain {
            suffix: suffix.to_string(),
            subdomains_only,
            port,
        })
    }

    fn matches(&self, name: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let port_ok = |wanted: &Option<u16>| wanted.is_none_or(|p| p == port);
        match self {
            Bypass::All => true,
            Bypass::Ip(address, wanted) => ip == Some(*address) && port_ok(wanted),
            Bypass::Range(network, bits) => ip.is_some_and(|ip| in_range(ip, *network, *bits)),
            Bypass::Domain {
                suffix,
                subdomains_only,
                port: wanted,
            } => {
                let below = name
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|head| head.ends_with('.'));
                (below || (!subdomains_only && name == suffix)) && port_ok(wanted)
            }
        }
    }
}

fn in_range(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `host:port` → (`host`, `port`); `[::1]:5000` → (`::1`, `5000`).
fn split_port(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((inside, after)) = rest.split_once(']') {
            return (inside, after.strip_prefix(':'));
        }
    }
    match host.rsplit_once(':') {
        // A bare IPv6 address has more than one colon.
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .unwrap()
    }

    fn proxied(p: &Proxies, scheme: &str, host: &str) -> bool {
        p.for_request(scheme, host).is_some()
    }

    #[test]
    fn each_scheme_has_its_own_proxy_and_uppercase_wins() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("https_proxy", "http://lower:3128"),
        ]);
        assert_eq!(p.for_request("https", "quay.io").unwrap().host(), "secure");
        assert!(!proxied(&p, "http", "quay.io"));
        let p = proxies(&[("http_proxy", "plain:8080")]);
        assert_eq!(
            p.for_request("http", "r.internal:5000").unwrap().port(),
            8080
        );
        assert!(!proxied(&p, "https", "r.internal:5000"));
        assert!(!proxied(
            &proxies(&[("HTTPS_PROXY", " ")]),
            "https",
            "quay.io"
        ));
    }

    #[test]
    fn loopback_is_never_proxied() {
        let p = proxies(&[("HTTPS_PROXY", "proxy:3128"), ("HTTP_PROXY", "proxy:3128")]);
        for host in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(!proxied(&p, "https", host), "{host}");
            assert!(!proxied(&p, "http", host), "{host}");
        }
        assert!(proxied(&p, "https", "registry.reimage.test:5000"));
    }

    #[test]
    fn no_proxy_follows_go() {
        let p = proxies(&[
            ("HTTPS_PROXY", "proxy:3128"),
            (
                "NO_PROXY",
                "corp.example, .svc.local,*.apps.example,10.0.0.0/8,192.168.1.5,mirror.example:5000,[fd00::1]",
            ),
        ]);
        assert!(!proxied(&p, "https", "corp.example"));
        assert!(!proxied(&p, "https", "registry.corp.example:443"));
        assert!(proxied(&p, "https", "notcorp.example"));
        assert!(proxied(&p, "https", "svc.local"));
        assert!(!proxied(&p, "https", "reg.svc.local"));
        assert!(!proxied(&p, "https", "x.apps.example"));
        assert!(proxied(&p, "https", "apps.example"));
        assert!(!proxied(&p, "https", "10.1.2.3:5000"));
        assert!(proxied(&p, "https", "11.1.2.3"));
        assert!(!proxied(&p, "https", "192.168.1.5:443"));
        assert!(!proxied(&p, "https", "mirror.example:5000"));
        assert!(proxied(&p, "https", "mirror.example"));
        assert!(!proxied(&p, "https", "[fd00::1]:5000"));
        let all = proxies(&[("HTTPS_PROXY", "proxy:3128"), ("no_proxy", "*")]);
        assert!(!proxied(&all, "https", "quay.io"));
        let upper = proxies(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "Quay.IO")]);
        assert!(!proxied(&upper, "https", "quay.io"));
    }

    #[test]
    fn bad_proxies_are_named_without_their_credentials() {
        let error = Proxies::from_lookup(|name| {
            (name == "HTTPS_PROXY").then(|| "socks5://user:s3cret@proxy:1080".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("HTTPS_PROXY") && error.contains("socks5"),
            "{error}"
        );
        assert!(
            !error.contains("s3cret") && !error.contains("user"),
            "{error}"
        );
        let p = proxies(&[("HTTPS_PROXY", "http://user:s3cret@proxy:3128")]);
        let proxy = p.for_request("https", "quay.io").unwrap();
        assert_eq!(
            (proxy.username(), proxy.password()),
            (Some("user"), Some("s3cret"))
        );
        assert_eq!(
            redacted("http://user:s3cret@proxy:3128/x"),
            "http://***@proxy:3128/x"
        );
        assert_eq!(redacted("http://proxy:3128"), "http://proxy:3128");
    }
}
