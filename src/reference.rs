//! The image reference grammar: every other stage compares and rebuilds references
//! through this type; nothing else parses image strings.
//!
//! [`Reference::parse`] accepts the grammar of distribution/reference (the
//! Docker/OCI image reference grammar), implemented by hand:
//!
//! ```text
//! reference        = name [ ":" tag ] [ "@" digest ] ;
//! name             = [ domain "/" ] remote-name ;        (* at most 255 characters *)
//! domain           = host [ ":" port ] ;
//! host             = domain-name | "[" ipv6 "]" ;
//! domain-name      = domain-component { "." domain-component } ;
//! domain-component = /[a-zA-Z0-9]/ | /[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]/ ;
//! ipv6             = /[a-fA-F0-9:]+/ ;
//! port             = /[0-9]+/ ;
//! remote-name      = path-component { "/" path-component } ;
//! path-component   = alnum { separator alnum } ;
//! alnum            = /[a-z0-9]+/ ;
//! separator        = "." | "_" | "__" | /-+/ ;
//! tag              = /[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}/ ;
//! digest           = algorithm ":" encoded ;
//! algorithm        = /[a-z0-9]+/ { /[+._-]/ /[a-z0-9]+/ } ;
//! encoded          = /[a-zA-Z0-9=_-]+/ ;
//!                    (* only sha256, 64 lowercase hex, and sha512, 128 *)
//! ```
//!
//! The tag and digest rules live in [`check_tag`] and [`check_digest`], which the rules file
//! and the lock file use too, so a tag or digest is accepted in one place exactly when it is
//! accepted in every other. Digests follow the OCI image spec's grammar, and of its algorithms
//! only the registered `sha256` and `sha512` are accepted (see `reference/digest.rs` for why).
//!
//! The first `/`-separated segment of a name is its domain only if it contains
//! `.` or `:`, is `localhost` (in any case), or contains an uppercase letter;
//! otherwise the name has no written domain and lives on Docker Hub. A first
//! segment that is a "domain" only because of its uppercase letters (`Foo/bar`)
//! is rejected as an uppercase repository name. The tag is looked for only after
//! the last `/`, so in `localhost:5000/foo` the `:5000` is a port.
//!
//! Parsing never normalises: [`Reference::as_str`] and `Display` give back the
//! text exactly as written. Normalisation (implicit `docker.io`,
//! `index.docker.io` → `docker.io`, `library/` for single-segment Docker Hub
//! names, registry hosts in lowercase) exists only for comparison, through
//! [`Reference::registry`], [`Reference::repository`],
//! [`Reference::normalized_name`] and, for prefixes from the rules,
//! [`normalize_prefix`].
//!
//! Registry hosts are DNS names (or IP addresses), so they compare
//! case-insensitively: `Quay.io/x` and `quay.io/x` are one image. Every host
//! comparison goes through [`host_key`], the one place a host's case is folded.
//! Its result is for comparing: a reference left alone keeps its bytes, and a
//! rewritten one keeps the spelling of every part not replaced (the one folded
//! host written out is a catch-all's source host, which becomes a path segment
//! and so must be lowercase). Repository paths are compared exactly as written
//! (the grammar only allows lowercase ones anyway).

mod digest;
mod tag;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

pub use digest::{check_digest, DigestError, DIGEST_FORM};
pub use tag::{check_tag, TagError, TAG_FORM};

/// The registry that names without a written domain live on.
const DOCKER_HUB: &str = "docker.io";
/// The legacy spelling of [`DOCKER_HUB`], equal to it for comparison.
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
/// The namespace of single-segment Docker Hub repositories.
const OFFICIAL_NAMESPACE: &str = "library";
/// The longest name (domain and path) the grammar allows.
const NAME_MAX: usize = 255;

/// A parsed image reference: the original text, and where its pieces are in it. The text is
/// `name[:tag][@digest]`, and the name `[domain/]path`; every piece is a slice of the text,
/// so a reference is one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    text: Box<str>,
    /// Where the name ends (the tag's `:`, the digest's `@`, or the end).
    name_end: u16,
    /// Where the domain ends (its `/`), when there is one.
    domain_end: Option<u16>,
    /// Where the path starts.
    path_start: u16,
    /// Where the tag ends, when there is one (it starts after the name's end).
    tag_end: Option<u16>,
    /// Whether a digest follows the `@` after the name and tag.
    has_digest: bool,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty reference")]
    Empty,
    #[error("reference {0:?} has leading or trailing whitespace")]
    Whitespace(String),
    #[error("missing repository name in `{0}`")]
    MissingName(String),
    #[error("name longer than 255 characters ({0} characters)")]
    NameTooLong(usize),
    #[error("repository name must be lowercase: `{0}`")]
    Uppercase(String),
    #[error("invalid domain `{domain}`: {reason}")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    #[error("empty path component in `{0}`")]
    EmptyPathComponent(String),
    #[error(
        "invalid path component `{0}`: expected lowercase letters and digits \
         joined by `.`, `_`, `__` or dashes"
    )]
    InvalidPathComponent(String),
    #[error("invalid tag `{tag}`: {reason}")]
    InvalidTag { tag: String, reason: &'static str },
    #[error("invalid digest `{digest}`: {reason}")]
    InvalidDigest { digest: String, reason: String },
}

impl Reference {
    /// Parses `text` by the reference grammar, without normalising anything.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if text.trim() != text {
            return Err(ReferenceError::Whitespace(text.to_owned()));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        let (name, tag) = split_tag(rest);
        if name.is_empty() {
            return Err(ReferenceError::MissingName(text.to_owned()));
        }
        let (domain, path) = parse_name(name)?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(|reason| ReferenceError::InvalidTag {
                tag: tag.to_owned(),
                reason: reason.as_str(),
            })?;
        }
        if let Some(digest) = digest {
            check_digest(digest).map_err(|reason| ReferenceError::InvalidDigest {
                digest: digest.to_owned(),
                reason: reason.to_string(),
            })?;
        }
        // Every length is bounded by the grammar (a name of 255, a tag of 128, a digest of
        // under 140 characters), far under u16::MAX.
        let offset = |len: usize| u16::try_from(len).unwrap_or(u16::MAX);
        Ok(Reference {
            name_end: offset(name.len()),
            domain_end: domain.map(|d| offset(d.len())),
            path_start: offset(name.len() - path.len()),
            tag_end: tag.map(|t| offset(name.len() + 1 + t.len())),
            has_digest: digest.is_some(),
            text: text.into(),
        })
    }

    /// The text exactly as parsed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text between two offsets.
    fn piece(&self, start: u16, end: u16) -> &str {
        self.text
            .get(usize::from(start)..usize::from(end))
            .unwrap_or_default()
    }

    /// The domain as written, if any (`None` for `nginx` or `library/nginx`).
    pub fn domain(&self) -> Option<&str> {
        self.domain_end.map(|end| self.piece(0, end))
    }

    /// The path as written: the name without its domain.
    fn path(&self) -> &str {
        self.piece(self.path_start, self.name_end)
    }

    /// The registry for comparison: the written domain through [`host_key`]
    /// (lowercase, `index.docker.io` → `docker.io`), none → `docker.io`.
    pub fn registry(&self) -> Cow<'_, str> {
        match self.domain() {
            None => Cow::Borrowed(DOCKER_HUB),
            Some(domain) => host_key(domain),
        }
    }

    /// The repository path for comparison: `library/` added for
    /// single-segment Docker Hub names.
    pub fn repository(&self) -> Cow<'_, str> {
        let path = self.path();
        if self.registry() == DOCKER_HUB && !path.contains('/') {
            Cow::Owned(format!("{OFFICIAL_NAMESPACE}/{path}"))
        } else {
            Cow::Borrowed(path)
        }
    }

    /// registry + "/" + repository, e.g. `docker.io/library/nginx` (and
    /// `quay.io/x` for `Quay.io/x`). Used to compare, and its path as the base
    /// for rewriting; never written out as the name of an image left as it is.
    pub fn normalized_name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The name as written (domain and path, no tag or digest), e.g. `nginx`
    /// or `quay.io/x/y`.
    pub fn name(&self) -> &str {
        self.piece(0, self.name_end)
    }

    /// The tag as written, without the `:`.
    pub fn tag(&self) -> Option<&str> {
        self.tag_end.map(|end| self.piece(self.name_end + 1, end))
    }

    /// The digest as written, algorithm included (`sha256:…`), without the `@`.
    pub fn digest(&self) -> Option<&str> {
        let at = self.tag_end.unwrap_or(self.name_end);
        self.has_digest
            .then(|| self.text.get(usize::from(at) + 1..).unwrap_or_default())
    }

    /// A new reference string `name[:tag][@digest]` from a name plus optional
    /// tag and digest. Nothing is validated or normalised.
    pub fn compose(name: &str, tag: Option<&str>, digest: Option<&str>) -> String {
        let mut out = String::from(name);
        if let Some(tag) = tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Reference::parse(text)
    }
}

/// True if `text` is a valid registry host (with optional port), as used in
/// `from`/`to` prefixes.
///
/// The host must also be one that a reference would read as a domain (it
/// contains `.` or `:`, or is `localhost`): a bare `registry` would be read as
/// a Docker Hub namespace, so a prefix starting with it could never match and a
/// rewrite to it would land on Docker Hub.
pub fn is_domain(text: &str) -> bool {
    is_explicit_domain(text) && check_domain(text).is_ok()
}

/// A registry host (with its port, if any) in the form hosts are compared in:
/// ASCII letters lowercased, because DNS names are case-insensitive, and the
/// legacy Docker Hub name `index.docker.io` (in any case) as `docker.io`.
///
/// This is the one place a host's case is folded: two hosts are the same
/// registry exactly when their keys are equal. The key is for comparing (and
/// for the normalised names built from it), not for writing over the spelling
/// of a reference. Borrowed when `host` already is its own key.
pub fn host_key(host: &str) -> Cow<'_, str> {
    let key = if has_uppercase(host) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    if key == LEGACY_DOCKER_HUB {
        Cow::Borrowed(DOCKER_HUB)
    } else {
        key
    }
}

/// Normalises a `host[/path]` prefix for comparison: the host through
/// [`host_key`] (`Quay.io` → `quay.io`, `index.docker.io` → `docker.io`), the
/// path as written; a trailing `/` is an error.
///
/// Returns `None` if the first segment is not a domain (see [`is_domain`]) or a
/// path segment is not a valid path-component. No `library/` is added: a
/// prefix names a namespace, not a repository.
pub fn normalize_prefix(text: &str) -> Option<String> {
    let (host, path) = split_prefix(text)?;
    let host = host_key(host);
    Some(match path {
        None => host.into_owned(),
        Some(path) => format!("{host}/{path}"),
    })
}

/// Checks a `host[/path]` prefix that is written into references (a `to`) by
/// the rules of [`normalize_prefix`], and gives it back exactly as written: a
/// rewritten reference keeps the user's spelling of its new registry. Compare
/// it through [`normalize_prefix`].
pub fn target_prefix(text: &str) -> Option<String> {
    split_prefix(text).map(|_| text.to_owned())
}

/// Splits a `host[/path]` prefix, if the host is a domain and every path
/// segment a path-component.
fn split_prefix(text: &str) -> Option<(&str, Option<&str>)> {
    if text.len() > NAME_MAX {
        return None;
    }
    let (host, path) = match text.split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (text, None),
    };
    if !is_domain(host) {
        return None;
    }
    match path {
        Some(path) if !path.split('/').all(is_path_component) => None,
        _ => Some((host, path)),
    }
}

/// Whether normalised name `name` lies under normalised prefix `prefix` on a
/// segment boundary: `docker.io/library/nginx` is under `docker.io` and
/// `docker.io/library` (and itself), not under `docker.io/lib`.
///
/// Both must be normalised ([`Reference::normalized_name`],
/// [`normalize_prefix`]), so their hosts are already [`host_key`]s and the
/// comparison is exact: case-insensitive for the host, case-sensitive for the
/// path.
pub fn is_under(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || (!prefix.is_empty() && rest.starts_with('/')),
        None => false,
    }
}

/// Splits `name[:tag]`, looking for the `:` only after the last `/`.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_segment = text.rfind('/').map_or(0, |slash| slash + 1);
    let segment = text.get(last_segment..).unwrap_or_default();
    match segment.split_once(':') {
        // The tag is everything after that `:`, so the text ends with `:` and the tag.
        Some((_, tag)) => {
            let name = text.strip_suffix(tag).and_then(|t| t.strip_suffix(':'));
            (name.unwrap_or(text), Some(tag))
        }
        None => (text, None),
    }
}

/// Splits a name into its written domain (if any) and its remote name, by the
/// rule of distribution/reference's normalize.go.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if is_explicit_domain(first) || has_uppercase(first) => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// Whether a first segment reads as a domain whatever its case.
fn is_explicit_domain(segment: &str) -> bool {
    segment.contains(['.', ':']) || host_key(segment) == "localhost"
}

fn has_uppercase(text: &str) -> bool {
    text.bytes().any(|byte| byte.is_ascii_uppercase())
}

/// Validates a non-empty name and returns its domain and remote name.
fn parse_name(name: &str) -> Result<(Option<&str>, &str), ReferenceError> {
    if name.len() > NAME_MAX {
        return Err(ReferenceError::NameTooLong(name.len()));
    }
    let (domain, path) = split_domain(name);
    if let Some(domain) = domain {
        if !is_explicit_domain(domain) {
            // A domain only because of its capitals: really an uppercase path.
            return Err(ReferenceError::Uppercase(name.to_owned()));
        }
        check_domain(domain).map_err(|reason| ReferenceError::InvalidDomain {
            domain: domain.to_owned(),
            reason,
        })?;
    }
    check_remote_name(name, path)?;
    Ok((domain, path))
}

/// Validates every path component of `path`; `name` is quoted in errors.
fn check_remote_name(name: &str, path: &str) -> Result<(), ReferenceError> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(ReferenceError::EmptyPathComponent(name.to_owned()));
        }
        if is_path_component(component) {
            continue;
        }
        if has_uppercase(component) && is_path_component(&component.to_ascii_lowercase()) {
            return Err(ReferenceError::Uppercase(name.to_owned()));
        }
        return Err(ReferenceError::InvalidPathComponent(component.to_owned()));
    }
    Ok(())
}

/// path-component := alnum+ (separator alnum+)*, alnum lowercase only.
fn is_path_component(component: &str) -> bool {
    let is_alnum = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut at = 0;
    loop {
        let word_start = at;
        while bytes.get(at).copied().is_some_and(is_alnum) {
            at += 1;
        }
        if at == word_start {
            return false;
        }
        if at == bytes.len() {
            return true;
        }
        let separator_start = at;
        while bytes.get(at).is_some_and(|b| !is_alnum(*b)) {
            at += 1;
        }
        if !is_path_separator(component.get(separator_start..at).unwrap_or_default()) {
            return false;
        }
    }
}

/// separator := "." | "_" | "__" | "-"+
fn is_path_separator(separator: &str) -> bool {
    matches!(separator, "." | "_" | "__") || separator.bytes().all(|byte| byte == b'-')
}

/// domain := host [":" port]; returns why `domain` is not one.
fn check_domain(domain: &str) -> Result<(), &'static str> {
    let (host, port) = split_port(domain)?;
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err("port must be one or more digits");
        }
    }
    match host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(address) if is_ipv6(address) => Ok(()),
        Some(_) => Err("IPv6 address must be hex digits and colons"),
        None if host.split('.').all(is_domain_component) => Ok(()),
        None => Err("host must be dot-separated labels of letters, digits and inner dashes"),
    }
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 address.
fn split_port(domain: &str) -> Result<(&str, Option<&str>), &'static str> {
    if domain.starts_with('[') {
        let close = domain.find(']').ok_or("unclosed `[` in IPv6 host")?;
        let (host, after) = domain.split_at(close + 1);
        if after.is_empty() {
            return Ok((host, None));
        }
        let port = after
            .strip_prefix(':')
            .ok_or("expected `:port` after `]`")?;
        return Ok((host, Some(port)));
    }
    Ok(match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    })
}

/// The bracketed IPv6 form the grammar allows: `[a-fA-F0-9:]+`.
fn is_ipv6(address: &str) -> bool {
    !address.is_empty()
        && address
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() || byte == b':')
}

/// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
fn is_domain_component(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// Checks a `--insecure-registry` or `insecureRegistries` value: a host with an optional port,
/// returned as its [`host_key`].
pub fn parse_host(text: &str) -> Result<String, String> {
    if is_domain(text) || is_plain_name(text) {
        Ok(host_key(text).into_owned())
    } else {
        Err(format!(
            "`{text}` is not a registry host; give a host and optional port, such as `registry.internal:5000`"
        ))
    }
}

/// A single-label host such as `registry` or `registry:5000` (valid on the wire, though a
/// reference could not name it without a dot).
fn is_plain_name(text: &str) -> bool {
    let (name, port) = text.split_once(':').unwrap_or((text, "0"));
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn sha256() -> String {
        format!("sha256:{HEX64}")
    }

    fn parse(text: &str) -> Reference {
        match Reference::parse(text) {
            Ok(reference) => reference,
            Err(error) => panic!("{text:?} should parse: {error}"),
        }
    }

    fn error(text: &str) -> String {
        match Reference::parse(text) {
            Ok(reference) => panic!("{text:?} should be rejected, got {reference:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn accepts_valid_references() {
        let digested = format!("k8s.gcr.io/ingress-nginx/controller:v1.1.1@{}", sha256());
        let bare_digest = format!("nginx@{}", sha256());
        let accepted = [
            "nginx",
            "nginx:1.25",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx:1",
            "quay.io/prometheus/pushgateway:v1.9.0",
            &digested,
            &bare_digest,
            "localhost/foo",
            "localhost:5000/foo:bar",
            "10.0.0.1:443/foo/bar:1",
            "[::1]:5000/foo",
            "[2001:db8::1]/foo",
            "xn--7o8h.com/foo",
            "foo_bar:latest",
            "foo--bar/baz",
            "foo---bar",
            "foo__bar",
            "foo.bar",
            "a",
            "0",
            "dummyimagename",
            "registry.access.redhat.com/ubi9/ubi",
            "Quay.IO/foo",
            "foo.com:8080/bar:1.2.3",
            "localhost:5000",
            "nginx:_",
            "nginx:V1.0-RC.1_x",
        ];
        for text in accepted {
            let reference = parse(text);
            assert_eq!(reference.as_str(), text);
            assert_eq!(reference.to_string(), text);
        }
    }

    #[test]
    fn rejects_invalid_references() {
        let rejected = [
            "_docker/_docker",
            "____/____",
            "foo/-bar",
            "foo/bar-",
            "foo.com:http/bar",
            "registry1.dso.mil*",
            "",
            "nginx:",
            "nginx@",
            "nginx@sha256:abc",
            "UPPER/case",
            "Foo/bar",
            "upper/Case",
            "Nginx",
            " nginx",
            "nginx ",
            "nginx:1.0\n",
            "\tnginx",
            "foo//bar",
            "foo/",
            "/foo",
            ":tag",
            "@sha256:abc",
            "foo___bar",
            "foo_.bar",
            "foo..bar",
            "foo.-bar",
            "nginx:-1",
            "nginx:.1",
            "nginx:1:2",
            "nginx:1@",
            "-foo.com/bar",
            "foo-.com/bar",
            "foo..com/bar",
            "foo.com:/bar",
            "[::1/foo",
            "[::1]x/foo",
            "[]/foo",
            "[zz::1]/foo",
            "ngïnx",
            "nginx@sha256:abc@def",
        ];
        for text in rejected {
            assert!(
                Reference::parse(text).is_err(),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn errors_are_precise() {
        let cases = [
            ("", "empty reference"),
            (
                " nginx",
                "reference \" nginx\" has leading or trailing whitespace",
            ),
            (
                "nginx:1.0\n",
                "reference \"nginx:1.0\\n\" has leading or trailing whitespace",
            ),
            (
                "UPPER/case",
                "repository name must be lowercase: `UPPER/case`",
            ),
            (
                "quay.io/Foo",
                "repository name must be lowercase: `quay.io/Foo`",
            ),
            ("foo/-bar", "invalid path component `-bar`"),
            ("____/____", "invalid path component `____`"),
            (
                "registry1.dso.mil*",
                "invalid path component `registry1.dso.mil*`",
            ),
            (
                "foo.com:http/bar",
                "invalid domain `foo.com:http`: port must be",
            ),
            ("nginx:", "invalid tag ``: tag is empty"),
            ("nginx:-x", "invalid tag `-x`: must start with"),
            (
                "nginx@sha256:abc",
                "invalid digest `sha256:abc`: sha256 needs exactly 64",
            ),
            ("foo//bar", "empty path component in `foo//bar`"),
            (":1", "missing repository name in `:1`"),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert!(
                message.starts_with(expected),
                "{text:?}: {message:?} should start with {expected:?}"
            );
            assert_eq!(
                message.to_lowercase().get(..1),
                message.get(..1),
                "{message}"
            );
        }
    }

    #[test]
    fn pieces_are_kept_as_written() {
        let text = format!("index.docker.io/nginx:1.25@{}", sha256());
        let reference = parse(&text);
        assert_eq!(reference.domain(), Some("index.docker.io"));
        assert_eq!(reference.name(), "index.docker.io/nginx");
        assert_eq!(reference.tag(), Some("1.25"));
        assert_eq!(reference.digest(), Some(sha256().as_str()));
        assert_eq!(reference.as_str(), text);

        let bare = parse("library/nginx");
        assert_eq!(bare.domain(), None);
        assert_eq!(bare.name(), "library/nginx");
        assert_eq!(bare.tag(), None);
        assert_eq!(bare.digest(), None);
    }

    #[test]
    fn tag_is_only_after_the_last_slash() {
        let port = parse("localhost:5000/foo");
        assert_eq!(port.domain(), Some("localhost:5000"));
        assert_eq!(port.tag(), None);

        let both = parse("foo.com:8080/bar:1.2.3");
        assert_eq!(both.domain(), Some("foo.com:8080"));
        assert_eq!(both.name(), "foo.com:8080/bar");
        assert_eq!(both.tag(), Some("1.2.3"));

        let ipv6 = parse("[::1]:5000/foo/bar:v2");
        assert_eq!(ipv6.domain(), Some("[::1]:5000"));
        assert_eq!(ipv6.repository(), "foo/bar");
        assert_eq!(ipv6.tag(), Some("v2"));

        // No slash: the `:5000` is a tag on Docker Hub's `localhost`.
        let no_slash = parse("localhost:5000");
        assert_eq!(no_slash.domain(), None);
        assert_eq!(no_slash.tag(), Some("5000"));
        assert_eq!(no_slash.normalized_name(), "docker.io/library/localhost");
    }

    #[test]
    fn domain_split_follows_normalize_go() {
        let cases = [
            ("nginx", None, "nginx"),
            ("library/nginx", None, "library/nginx"),
            ("Foo/bar", Some("Foo"), "bar"),
            ("localhost/x", Some("localhost"), "x"),
            ("localhost:5000/x", Some("localhost:5000"), "x"),
            ("LocalHost/x", Some("LocalHost"), "x"),
            ("10.0.0.1:443/x", Some("10.0.0.1:443"), "x"),
            ("xn--7o8h.com/x", Some("xn--7o8h.com"), "x"),
            ("foo.com:8080/bar", Some("foo.com:8080"), "bar"),
            ("local/x", None, "local/x"),
        ];
        for (name, domain, path) in cases {
            assert_eq!(split_domain(name), (domain, path), "{name}");
        }
    }

    #[test]
    fn normalisation_is_for_comparison_only() {
        let cases = [
            ("nginx", "docker.io", "library/nginx"),
            ("nginx:1.25", "docker.io", "library/nginx"),
            ("docker.io/nginx", "docker.io", "library/nginx"),
            ("index.docker.io/nginx", "docker.io", "library/nginx"),
            (
                "index.docker.io/library/nginx:1",
                "docker.io",
                "library/nginx",
            ),
            ("bitnami/redis", "docker.io", "bitnami/redis"),
            (
                "quay.io/prometheus/pushgateway",
                "quay.io",
                "prometheus/pushgateway",
            ),
            ("quay.io/busybox", "quay.io", "busybox"),
            ("localhost/foo", "localhost", "foo"),
            ("registry-1.docker.io/foo", "registry-1.docker.io", "foo"),
            (
                "Quay.io/prometheus/pushgateway",
                "quay.io",
                "prometheus/pushgateway",
            ),
            ("Docker.IO/nginx", "docker.io", "library/nginx"),
            ("INDEX.Docker.io/nginx:1", "docker.io", "library/nginx"),
            ("LocalHost:5000/a", "localhost:5000", "a"),
            ("LocalHost/a", "localhost", "a"),
            ("[::ABCD]:5000/a", "[::abcd]:5000", "a"),
        ];
        for (text, registry, repository) in cases {
            let reference = parse(text);
            assert_eq!(reference.registry(), registry, "{text}");
            assert_eq!(reference.repository(), repository, "{text}");
            assert_eq!(
                reference.normalized_name(),
                format!("{registry}/{repository}"),
                "{text}"
            );
            assert_eq!(reference.to_string(), text);
        }
        assert!(matches!(
            parse("quay.io/a/b").repository(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn equal_names_compare_equal_after_normalisation() {
        let spellings = [
            "nginx",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/nginx",
            "index.docker.io/library/nginx",
            "Docker.io/nginx",
            "Index.Docker.IO/library/nginx",
        ];
        for text in spellings {
            assert_eq!(parse(text).normalized_name(), "docker.io/library/nginx");
        }
    }

    #[test]
    fn host_keys_fold_case_and_the_legacy_hub_name() {
        let cases = [
            ("quay.io", "quay.io"),
            ("Quay.io", "quay.io"),
            ("MIRROR.EXAMPLE.COM:5000", "mirror.example.com:5000"),
            ("index.docker.io", "docker.io"),
            ("Index.Docker.Io", "docker.io"),
            ("docker.io", "docker.io"),
            ("registry-1.docker.io", "registry-1.docker.io"),
            ("[2001:DB8::1]:443", "[2001:db8::1]:443"),
        ];
        for (host, key) in cases {
            assert_eq!(host_key(host), key, "{host}");
        }
        assert!(matches!(host_key("quay.io"), Cow::Borrowed(_)));
        assert!(matches!(host_key("index.docker.io"), Cow::Borrowed(_)));
    }

    #[test]
    fn hosts_compare_case_insensitively_paths_do_not() {
        let mixed = parse("MIRROR.example.com/all/quay.io/x:1");
        assert_eq!(mixed.normalized_name(), "mirror.example.com/all/quay.io/x");
        assert!(is_under(&mixed.normalized_name(), "mirror.example.com/all"));
        // Only for comparison: the pieces stay as written.
        assert_eq!(mixed.as_str(), "MIRROR.example.com/all/quay.io/x:1");
        assert_eq!(mixed.domain(), Some("MIRROR.example.com"));
        assert_eq!(mixed.name(), "MIRROR.example.com/all/quay.io/x");
        // A path is never folded: an uppercase one is not a reference at all, and a
        // prefix with one is not a prefix.
        assert!(Reference::parse("quay.io/Prometheus/x").is_err());
        assert_eq!(normalize_prefix("quay.io/Prometheus"), None);
        assert!(!is_under("quay.io/prometheus/x", "quay.io/prometheus-x"));
    }

    #[test]
    fn name_length_limit() {
        let longest = format!("quay.io/{}", "a".repeat(NAME_MAX - "quay.io/".len()));
        assert_eq!(longest.len(), 255);
        assert!(Reference::parse(&longest).is_ok());
        let tagged = format!("{longest}:{}", "t".repeat(tag::TAG_MAX));
        assert!(Reference::parse(&tagged).is_ok());
        let too_long = format!("{longest}a");
        assert_eq!(
            error(&too_long),
            "name longer than 255 characters (256 characters)"
        );
    }

    #[test]
    fn tag_length_limit() {
        assert!(Reference::parse(&format!("nginx:{}", "a".repeat(128))).is_ok());
        let message = error(&format!("nginx:{}", "a".repeat(129)));
        assert!(message.ends_with("longer than 128 characters"), "{message}");
    }

    #[test]
    fn digests_by_the_shared_grammar() {
        let ok = [
            format!("sha256:{HEX64}"),
            format!("sha512:{}", "b".repeat(128)),
        ];
        for digest in &ok {
            let reference = parse(&format!("nginx@{digest}"));
            assert_eq!(reference.digest(), Some(digest.as_str()));
        }
        let bad = [
            (
                format!("sha256:{}", &HEX64[1..]),
                "sha256 needs exactly 64 hex characters, got 63",
            ),
            (
                format!("sha256:{}", HEX64.to_uppercase()),
                "sha256 needs lowercase hex",
            ),
            (
                format!("sha512:{HEX64}"),
                "sha512 needs exactly 128 hex characters, got 64",
            ),
            (
                format!("foo:{}", "z".repeat(40)),
                "`foo` is not a supported algorithm (only sha256 and sha512 are)",
            ),
            (
                format!("sha384:{}", "a".repeat(96)),
                "`sha384` is not a supported algorithm (only sha256 and sha512 are)",
            ),
            (format!("Sha256:{HEX64}"), "invalid algorithm `Sha256`"),
            (format!("sha--256:{HEX64}"), "invalid algorithm `sha--256`"),
            (format!(":{HEX64}"), "invalid algorithm ``"),
            (HEX64.to_owned(), "expected `algorithm:hex`"),
        ];
        for (digest, reason) in bad {
            let message = error(&format!("nginx@{digest}"));
            assert_eq!(message, format!("invalid digest `{digest}`: {reason}"));
            // The same function decides for the rules and the lock file.
            let direct = check_digest(&digest).map_err(|e| e.to_string());
            assert_eq!(direct, Err(reason.to_owned()));
        }
    }

    #[test]
    fn tags_by_the_shared_grammar() {
        for tag in ["", "-x", ".1", &"a".repeat(129)] {
            let why = check_tag(tag)
                .map(|()| "ok")
                .unwrap_or_else(TagError::as_str);
            let message = error(&format!("nginx:{tag}"));
            assert_eq!(message, format!("invalid tag `{tag}`: {why}"));
        }
        assert_eq!(check_tag("1.20"), Ok(()));
    }

    #[test]
    fn compose_builds_name_tag_digest() {
        assert_eq!(Reference::compose("nginx", None, None), "nginx");
        assert_eq!(Reference::compose("nginx", Some("1"), None), "nginx:1");
        let digest = sha256();
        assert_eq!(
            Reference::compose("r.io/x", Some("1"), Some(&digest)),
            format!("r.io/x:1@{digest}")
        );
        assert_eq!(
            Reference::compose("r.io/x", None, Some(&digest)),
            format!("r.io/x@{digest}")
        );
        let original = parse(&format!("quay.io/a/b:v1@{digest}"));
        let rebuilt = Reference::compose(original.name(), original.tag(), original.digest());
        assert_eq!(parse(&rebuilt), original);
    }

    #[test]
    fn domains() {
        for text in [
            "docker.io",
            "quay.io",
            "localhost",
            "localhost:5000",
            "registry:5000",
            "10.0.0.1:443",
            "[::1]",
            "[::1]:5000",
            "xn--7o8h.com",
            "My.Registry.example",
            "LocalHost",
        ] {
            assert!(is_domain(text), "{text} should be a domain");
        }
        for text in [
            "",
            "registry",
            "nginx",
            "foo.com:http",
            "foo.com:",
            "-foo.com",
            "foo-.com",
            "foo..com",
            "foo.com/",
            "foo.com/bar",
            "[::1",
            "[::1]5000",
            "registry1.dso.mil*",
        ] {
            assert!(!is_domain(text), "{text} should not be a domain");
        }
    }

    #[test]
    fn prefixes() {
        let cases = [
            ("docker.io", Some("docker.io")),
            ("index.docker.io", Some("docker.io")),
            ("index.docker.io/library", Some("docker.io/library")),
            ("docker.io/bitnami", Some("docker.io/bitnami")),
            (
                "quay.io/prometheus/pushgateway",
                Some("quay.io/prometheus/pushgateway"),
            ),
            ("localhost:5000/mirror", Some("localhost:5000/mirror")),
            ("Quay.io/prometheus", Some("quay.io/prometheus")),
            ("MIRROR.EXAMPLE.COM/all", Some("mirror.example.com/all")),
            ("INDEX.docker.io/x", Some("docker.io/x")),
            ("quay.io/", None),
            ("quay.io/a/", None),
            ("quay.io//a", None),
            ("quay.io/Upper", None),
            ("quay.io/-a", None),
            ("registry/mirror", None),
            ("", None),
            ("/docker.io", None),
        ];
        for (text, expected) in cases {
            assert_eq!(normalize_prefix(text).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn target_prefixes_keep_their_spelling() {
        for text in [
            "harbor.example.com/all",
            "Harbor.Example.com/all",
            "index.docker.io/mirror",
            "localhost:5000",
        ] {
            assert_eq!(target_prefix(text).as_deref(), Some(text));
        }
        for text in ["quay.io/", "registry/mirror", "quay.io/Upper", ""] {
            assert_eq!(target_prefix(text), None, "{text:?}");
        }
    }

    #[test]
    fn is_under_respects_segment_boundaries() {
        let name = "docker.io/library/nginx";
        assert!(is_under(name, "docker.io"));
        assert!(is_under(name, "docker.io/library"));
        assert!(is_under(name, name));
        assert!(!is_under(name, "docker.io/lib"));
        assert!(!is_under(name, "docker"));
        assert!(!is_under(name, "docker.io/library/nginx-extra"));
        assert!(!is_under(name, "docker.io/library/"));
        assert!(!is_under(name, ""));
        assert!(!is_under("docker.io", "docker.io/library"));
        assert!(!is_under("quay.io/x", "docker.io"));
        assert!(is_under("localhost:5000/a/b", "localhost:5000"));
        assert!(!is_under("localhost:50000/a", "localhost:5000"));
    }

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a.b_c__d-e",
            "0x",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "-a", "a-", ".a", "a.", "_a", "a_", "a___b", "a._b", "a-.b", "A", "a b", "a/b",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_round_trips(text in "\\PC{0,80}") {
                if let Ok(reference) = Reference::parse(&text) {
                    prop_assert_eq!(reference.to_string(), text);
                }
            }

            #[test]
            fn generated_references_parse(
                domain in proptest::option::of("[a-z0-9]{1,8}\\.[a-z]{2,4}(:[0-9]{1,5})?"),
                // No `.` in the first segment: that would make it a domain.
                path in "[a-z0-9]{1,6}((_|__|-{1,3})[a-z0-9]{1,6}){0,2}\
                         (/[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}){0,2}",
                tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            ) {
                let name = match &domain {
                    Some(domain) => format!("{domain}/{path}"),
                    None => path.clone(),
                };
                let text = Reference::compose(&name, tag.as_deref(), None);
                let reference = Reference::parse(&text);
                prop_assert!(reference.is_ok(), "{:?}: {:?}", text, reference);
                if let Ok(reference) = reference {
                    prop_assert_eq!(reference.domain(), domain.as_deref());
                    prop_assert_eq!(reference.name(), name.as_str());
                    prop_assert_eq!(reference.tag(), tag.as_deref());
                }
            }
        }
    }

    #[test]
    fn checks_insecure_hosts() {
        assert_eq!(parse_host("Reg.example:5000").unwrap(), "reg.example:5000");
        assert!(parse_host("registry").is_ok());
        assert!(parse_host("https://reg.example").is_err());
        assert!(parse_host("reg.example/path").is_err());
        assert!(parse_host("").is_err());
    }
}
