//! A login for one registry, as the credentials files and helpers give it. Its `Debug` hides
//! the secret, so that no message, log or panic can print it.

use std::fmt;

/// A login for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or access token used as a password).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user).
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { .. } => f.write_str("Credential::Basic(<hidden>)"),
            Credential::IdentityToken(_) => f.write_str("Credential::IdentityToken(<hidden>)"),
        }
    }
}
