//! The digest grammar: `algorithm ":" encoded`, as the OCI image and distribution specs write
//! it, and the algorithms reimage accepts. Checked here for the reference parser, the rules
//! (`images[].digest`) and the lock file alike.
//!
//! ```text
//! digest    = algorithm ":" encoded ;
//! algorithm = /[a-z0-9]+/ { /[+._-]/ /[a-z0-9]+/ } ;
//! encoded   = /[a-zA-Z0-9=_-]+/ ;
//! ```
//!
//! Of the algorithms that grammar admits, only the registered ones are accepted: `sha256`
//! (64 lowercase hex digits) and `sha512` (128). Another algorithm (`blake3`, `sha384`, `foo`)
//! is refused everywhere, because it would be written into manifests that container runtimes
//! then refuse to pull or cannot verify; its error says it is the algorithm that is refused.

use std::fmt;

/// The algorithms accepted, with the number of lowercase hex digits each takes.
const REGISTERED: [(&str, usize); 2] = [("sha256", 64), ("sha512", 128)];

/// What a digest looks like, as the end of a sentence that refuses one.
pub const DIGEST_FORM: &str =
    "a digest is `sha256:` and 64 lowercase hex digits, or `sha512:` and 128";

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// No `:` between an algorithm and the encoded part.
    NoAlgorithm,
    /// The part before the `:` breaks the algorithm grammar.
    Algorithm(String),
    /// The part after the `:` is empty or breaks the encoded grammar.
    Encoded,
    /// A well-formed algorithm that is not `sha256` or `sha512`.
    Unsupported(String),
    /// A registered algorithm with the wrong number of characters.
    Length {
        algorithm: &'static str,
        expected: usize,
        got: usize,
    },
    /// A registered algorithm whose encoded part is not lowercase hex.
    NotLowerHex { algorithm: &'static str },
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::NoAlgorithm => f.write_str("expected `algorithm:hex`"),
            DigestError::Algorithm(algorithm) => write!(f, "invalid algorithm `{algorithm}`"),
            DigestError::Encoded => f.write_str(
                "the part after `:` must be letters, digits, `=`, `_` or `-`, and not empty",
            ),
            DigestError::Unsupported(algorithm) => write!(
                f,
                "`{algorithm}` is not a supported algorithm (only sha256 and sha512 are)"
            ),
            DigestError::Length {
                algorithm,
                expected,
                got,
            } => write!(
                f,
                "{algorithm} needs exactly {expected} hex characters, got {got}"
            ),
            DigestError::NotLowerHex { algorithm } => write!(f, "{algorithm} needs lowercase hex"),
        }
    }
}

impl std::error::Error for DigestError {}

/// Checks `digest` (without its `@`): the grammar, then the algorithm and its length.
pub fn check_digest(digest: &str) -> Result<(), DigestError> {
    let (algorithm, encoded) = digest.split_once(':').ok_or(DigestError::NoAlgorithm)?;
    if !is_algorithm(algorithm) {
        return Err(DigestError::Algorithm(algorithm.to_owned()));
    }
    if encoded.is_empty() || !encoded.bytes().all(is_encoded) {
        return Err(DigestError::Encoded);
    }
    let Some(&(algorithm, expected)) = REGISTERED.iter().find(|(name, _)| *name == algorithm)
    else {
        return Err(DigestError::Unsupported(algorithm.to_owned()));
    };
    if encoded.len() != expected {
        return Err(DigestError::Length {
            algorithm,
            expected,
            got: encoded.len(),
        });
    }
    if !encoded.bytes().all(is_lower_hex) {
        return Err(DigestError::NotLowerHex { algorithm });
    }
    Ok(())
}

/// algorithm := component (separator component)*, component [a-z0-9]+, separator [+._-].
fn is_algorithm(algorithm: &str) -> bool {
    algorithm.split(['+', '.', '_', '-']).all(|component| {
        !component.is_empty()
            && component
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A byte of `encoded`: `[a-zA-Z0-9=_-]`.
fn is_encoded(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'=' | b'_' | b'-')
}

fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn registered_algorithms_with_their_lengths() {
        assert_eq!(check_digest(&format!("sha256:{HEX64}")), Ok(()));
        assert_eq!(check_digest(&format!("sha512:{HEX64}{HEX64}")), Ok(()));
        let length = |algorithm, expected, got| DigestError::Length {
            algorithm,
            expected,
            got,
        };
        let cases = [
            ("sha256:abc".to_owned(), length("sha256", 64, 3)),
            (format!("sha256:{HEX64}0"), length("sha256", 64, 65)),
            (format!("sha512:{HEX64}"), length("sha512", 128, 64)),
            (
                format!("sha256:{}", HEX64.to_uppercase()),
                DigestError::NotLowerHex {
                    algorithm: "sha256",
                },
            ),
            (
                format!("sha256:{}", "g".repeat(64)),
                DigestError::NotLowerHex {
                    algorithm: "sha256",
                },
            ),
        ];
        for (digest, why) in cases {
            assert_eq!(check_digest(&digest), Err(why), "{digest}");
        }
    }

    #[test]
    fn the_grammar_comes_first_then_the_algorithm() {
        let unsupported = |a: &str| DigestError::Unsupported(a.to_owned());
        let algorithm = |a: &str| DigestError::Algorithm(a.to_owned());
        let cases = [
            (format!("foo:{}", "z".repeat(40)), unsupported("foo")),
            (format!("blake3:{HEX64}"), unsupported("blake3")),
            (format!("sha384:{}", "a".repeat(96)), unsupported("sha384")),
            (format!("1sha+x.y_z-w:{HEX64}"), unsupported("1sha+x.y_z-w")),
            (format!("Sha256:{HEX64}"), algorithm("Sha256")),
            (format!("sha--256:{HEX64}"), algorithm("sha--256")),
            (format!("sha256+:{HEX64}"), algorithm("sha256+")),
            (format!(":{HEX64}"), algorithm("")),
            ("sha256:".to_owned(), DigestError::Encoded),
            (format!("sha256:{HEX64}:x"), DigestError::Encoded),
            ("foo:a b".to_owned(), DigestError::Encoded),
            (HEX64.to_owned(), DigestError::NoAlgorithm),
        ];
        for (digest, why) in cases {
            assert_eq!(check_digest(&digest), Err(why), "{digest}");
        }
    }

    #[test]
    fn reasons() {
        let reasons = [
            (
                check_digest("sha256:abc"),
                "sha256 needs exactly 64 hex characters, got 3",
            ),
            (
                check_digest("foo:zz"),
                "`foo` is not a supported algorithm (only sha256 and sha512 are)",
            ),
            (check_digest("A:b"), "invalid algorithm `A`"),
            (check_digest("x"), "expected `algorithm:hex`"),
        ];
        for (result, reason) in reasons {
            assert_eq!(result.map_err(|e| e.to_string()), Err(reason.to_owned()));
        }
    }
}
