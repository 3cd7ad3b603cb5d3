//! A small, independent reading of the image reference grammar (as in the distribution
//! project): `[domain/]path[:tag][@digest]`. Only for these checks; not the crate's parser.

/// Is `reference` a valid image reference?
pub fn is_valid(reference: &str) -> bool {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    let (name, tag) = split_tag(rest);
    let (domain, path) = split_domain(name);
    name.len() <= 255
        && domain.is_none_or(valid_domain)
        && path.split('/').all(valid_component)
        && tag.is_none_or(valid_tag)
        && digest.is_none_or(valid_digest)
}

/// The fully qualified form: `docker.io` when no registry is named, `library/` for
/// single-segment Docker Hub names, `index.docker.io` spelled `docker.io`.
pub fn normalized(reference: &str) -> String {
    let name = split_tag(reference.split('@').next().unwrap_or_default()).0;
    let suffix = &reference[name.len()..];
    let (domain, path) = split_domain(name);
    let domain = match domain {
        None | Some("index.docker.io") => "docker.io",
        Some(domain) => domain,
    };
    let library = if domain == "docker.io" && !path.contains('/') {
        "library/"
    } else {
        ""
    };
    format!("{domain}/{library}{path}{suffix}")
}

/// `name:tag` → (`name`, `tag`); a `:` before the last `/` belongs to a port.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    match text.rfind(':') {
        Some(i) if !text[i..].contains('/') => (&text[..i], Some(&text[i + 1..])),
        _ => (text, None),
    }
}

/// The first segment is a registry when it has a `.` or `:`, is `localhost`, or has
/// upper case letters.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) if !domain.ends_with(']') => (host, Some(port)),
        _ => (domain, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let ipv6 = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let host_ok = match ipv6 {
        Some(inner) => {
            !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        }
        None => host.split('.').all(label),
    };
    host_ok && port.is_none_or(digits)
}

/// Lower-case alphanumeric runs joined by `.`, `_`, `__` or a run of `-`.
fn valid_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    component.starts_with(alnum)
        && component.ends_with(alnum)
        && component
            .split(alnum)
            .filter(|sep| !sep.is_empty())
            .all(|sep| matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-'))
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let sha256_ok =
        algorithm != "sha256" || (hex.len() == 64 && hex.bytes().all(|b| !b.is_ascii_uppercase()));
    algorithm_ok && hex_ok && sha256_ok
}
