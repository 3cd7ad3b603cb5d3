//! What a manifest answer must look like: the media types asked for (an index or manifest
//! list first, so a multi-arch image is pinned by the digest valid on every platform), the
//! `Docker-Content-Digest` check (a registered algorithm, `sha256` or `sha512`, and its length),
//! and the digest of a body, by the algorithm the registry named or sha256 when it named none.
//! Pure; used by `client`.

use sha2::{Digest, Sha256, Sha512};

use crate::reference::{self, DigestError};

/// The `Accept` header of every manifest request.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A digest algorithm a registry may name: the two the OCI image spec registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The algorithm of a checked digest: sha512 for `sha512:…`, else sha256.
    pub fn of(digest: &str) -> Algorithm {
        match digest.starts_with("sha512:") {
            true => Algorithm::Sha512,
            false => Algorithm::Sha256,
        }
    }

    /// `algorithm:` and the lowercase hex hash of `body`.
    pub fn digest(self, body: &[u8]) -> String {
        let (name, hash) = match self {
            Algorithm::Sha256 => ("sha256", Sha256::digest(body).to_vec()),
            Algorithm::Sha512 => ("sha512", Sha512::digest(body).to_vec()),
        };
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("{name}:{hex}")
    }
}

/// A digest computed piece by piece, for bodies streamed to disk.
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// `algorithm:hex`, as [`Algorithm::digest`] writes it.
    pub fn finish(self) -> String {
        let (name, hash) = match self {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("{name}:{hex}")
    }
}

/// Checks a `Docker-Content-Digest` value: `sha256:` and 64 lowercase hex digits, or `sha512:`
/// and 128.
pub fn check_digest(value: &str) -> Result<String, String> {
    let value = value.trim();
    match reference::check_digest(value) {
        Ok(()) => Ok(value.to_string()),
        Err(DigestError::Unsupported(algorithm)) => Err(format!(
            "the registry sent a `{algorithm}` digest; only sha256 and sha512 digests can be pinned"
        )),
        Err(DigestError::NoAlgorithm) => Err(format!(
            "the registry sent `{value}`, which is not a digest"
        )),
        Err(why) => Err(format!(
            "the registry sent the digest `{value}`, which is not valid: {why}"
        )),
    }
}

/// `sha256:` and the hex sha256 of `body`.
pub fn sha256_of(body: &[u8]) -> String {
    Algorithm::Sha256.digest(body)
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

    /// The digests of no bytes.
    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const D512: &str = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                        47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    #[test]
    fn checks_digests() {
        assert_eq!(check_digest(&format!(" {D} ")).unwrap(), D);
        assert_eq!(check_digest(&format!("{D512}\t")).unwrap(), D512);
        let refused = |value: &str| check_digest(value).unwrap_err();
        assert_eq!(
            refused("sha256:abc"),
            "the registry sent the digest `sha256:abc`, which is not valid: sha256 needs exactly 64 hex characters, got 3"
        );
        assert!(refused("sha512:00").ends_with("sha512 needs exactly 128 hex characters, got 2"));
        // The hex of a sha512 under the name of the other: a length error, not a guess.
        let swapped = D512.replace("sha512", "sha256");
        assert!(refused(&swapped).ends_with("sha256 needs exactly 64 hex characters, got 128"));
        assert!(refused(&D.to_uppercase().replace("SHA256", "sha256"))
            .ends_with("sha256 needs lowercase hex"));
        assert!(refused(&D512.to_uppercase().replace("SHA512", "sha512"))
            .ends_with("sha512 needs lowercase hex"));
        assert_eq!(
            refused(&format!("sha384:{}", "a".repeat(96))),
            "the registry sent a `sha384` digest; only sha256 and sha512 digests can be pinned"
        );
        assert!(refused("blake3:00").contains("a `blake3` digest; only sha256 and sha512"));
        assert_eq!(
            refused("nonsense"),
            "the registry sent `nonsense`, which is not a digest"
        );
        assert!(refused("SHA256:00").contains("invalid algorithm `SHA256`"));
    }

    #[test]
    fn hashes_bodies_by_the_algorithm_named() {
        assert_eq!(sha256_of(b""), D);
        assert_eq!(Algorithm::Sha256.digest(b""), D);
        assert_eq!(Algorithm::Sha512.digest(b""), D512);
        assert_eq!(Algorithm::of(D512), Algorithm::Sha512);
        assert_eq!(Algorithm::of(D), Algorithm::Sha256);
        // "abc", the test vector of FIPS 180-2.
        assert_eq!(
            Algorithm::Sha512.digest(b"abc"),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let digest = algorithm.digest(b"{}");
            assert_eq!(check_digest(&digest).as_deref(), Ok(digest.as_str()));
            assert_eq!(Algorithm::of(&digest), algorithm);
        }
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
