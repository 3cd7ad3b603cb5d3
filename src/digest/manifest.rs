//! What a manifest answer must look like: the media types asked for (an index or manifest
//! list first, so a multi-arch image is pinned by the digest valid on every platform), the
//! `Docker-Content-Digest` check (algorithm and length), and the sha256 of a body when a
//! registry sends no digest. Pure; used by `client`.

use sha2::{Digest, Sha256};

use crate::reference::is_sha256;

/// The `Accept` header of every manifest request.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Checks a `Docker-Content-Digest` value: `sha256:` and 64 lowercase hex digits.
pub fn check_digest(value: &str) -> Result<String, String> {
    let value = value.trim();
    match value.split_once(':') {
        _ if is_sha256(value) => Ok(value.to_string()),
        Some(("sha256", hex)) => Err(format!(
            "the registry sent the digest `{value}`, whose sha256 part has {} characters instead of 64 lowercase hex digits",
            hex.len()
        )),
        Some((algorithm, _)) => Err(format!(
            "the registry sent a `{algorithm}` digest; only sha256 digests can be pinned"
        )),
        None => Err(format!("the registry sent `{value}`, which is not a digest")),
    }
}

/// `sha256:` and the hex sha256 of `body`.
pub fn sha256_of(body: &[u8]) -> String {
    let hash = Sha256::digest(body);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Refuses the old signed schema-1 manifests, which runtimes no longer pull by digest.
pub fn check_media_type(content_type: Option<&str>) -> Result<(), String> {
    match content_type {
        Some(t) if t.contains("distribution.manifest.v1+") => Err(format!(
            "the registry only has a schema 1 manifest (`{t}`), which cannot be pinned; push the image again with a current client"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn checks_digests() {
        assert_eq!(check_digest(&format!(" {D} ")).unwrap(), D);
        assert!(check_digest("sha256:abc")
            .unwrap_err()
            .contains("3 characters"));
        assert!(check_digest(&D.to_uppercase().replace("SHA256", "sha256")).is_err());
        assert!(check_digest("sha512:00")
            .unwrap_err()
            .contains("only sha256"));
        assert!(check_digest("nonsense").is_err());
        assert_eq!(sha256_of(b""), D);
    }

    #[test]
    fn asks_for_indexes_and_refuses_schema_1() {
        assert!(ACCEPT.starts_with("application/vnd.oci.image.index.v1+json"));
        assert_eq!(ACCEPT.split(", ").count(), 4);
        assert!(check_media_type(Some(
            "application/vnd.docker.distribution.manifest.v1+prettyjws"
        ))
        .is_err());
        assert!(check_media_type(Some("application/vnd.oci.image.index.v1+json")).is_ok());
        assert!(check_media_type(None).is_ok());
    }
}
