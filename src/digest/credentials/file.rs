//! One auth file as `docker login` and `podman login` write it (Docker's `config.json` and
//! podman's `auth.json` share the shape): `auths` by registry, `credHelpers` by registry,
//! `credsStore`; other keys are Docker's own settings and are ignored.
//!
//! The file is parsed as JSON and then read by hand, not deserialized into structs: serde's
//! messages for a value of the wrong type quote the value, and in this file the value is a
//! password, an `auth` or a token. So every error here describes the shape (the line and column
//! of a syntax error, the entry and field whose type is wrong, and which type it has) and
//! nothing of the content. An `auths` entry that cannot be used is kept as its reason, for a
//! lookup of that registry to report; the other entries still work.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value};

use crate::digest::login::Credential;

/// What `credentials` reads from one file.
#[derive(Default)]
pub struct AuthFile {
    /// Each `auths` entry by its key, or why it cannot be used (`is a string, not …`).
    pub auths: BTreeMap<String, Result<AuthEntry, String>>,
    /// Helper names by registry key.
    pub cred_helpers: BTreeMap<String, String>,
    pub creds_store: Option<String>,
}

/// An `auths` entry; fields that are missing or `null` are `None`. No `Debug`: its fields are
/// secrets.
#[derive(Default)]
pub struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

impl AuthFile {
    /// Reads the file's text; the error ends a sentence that starts with the file's name
    /// (`is not JSON (line 3, column 7)`).
    pub fn parse(text: &str) -> Result<AuthFile, String> {
        // A byte order mark, as some editors write, is not JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Ok(AuthFile::default());
        }
        let json: Value = serde_json::from_str(text).map_err(|e| syntax(&e))?;
        let Value::Object(top) = json else {
            return Err(format!("is {}, not a JSON object", kind(&json)));
        };
        let mut file = AuthFile::default();
        for (key, entry) in object(&top, "auths")?.into_iter().flatten() {
            file.auths.insert(key.clone(), AuthEntry::read(entry));
        }
        for (key, name) in object(&top, "credHelpers")?.into_iter().flatten() {
            let Value::String(name) = name else {
                return Err(format!(
                    "has a `credHelpers` entry `{key}` that is {}, not the name of a helper",
                    kind(name)
                ));
            };
            file.cred_helpers.insert(key.clone(), name.clone());
        }
        file.creds_store = match top.get("credsStore") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(other) => {
                return Err(format!(
                    "has a `credsStore` that is {}, not the name of a helper",
                    kind(other)
                ))
            }
        };
        Ok(file)
    }
}

impl AuthEntry {
    /// An entry of `auths`, or why it is not one, to follow "the `auths` entry `KEY`".
    fn read(entry: &Value) -> Result<AuthEntry, String> {
        let fields = match entry {
            Value::Object(fields) => fields,
            Value::Null => return Ok(AuthEntry::default()),
            other => {
                return Err(format!(
                    "is {}, not an object with `auth`, `username`/`password` or `identitytoken`",
                    kind(other)
                ))
            }
        };
        let text = |field: &str| match fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(other) => Err(format!(
                "has {} that is {}, not a string",
                a(field),
                kind(other)
            )),
        };
        Ok(AuthEntry {
            auth: text("auth")?,
            username: text("username")?,
            password: text("password")?,
            identitytoken: text("identitytoken")?,
        })
    }

    /// The login: `identitytoken`, base64 `auth`, or `username` and `password`; `None` when the
    /// entry has none. The error follows "the `auths` entry `KEY`".
    pub fn credential(&self) -> Result<Option<Credential>, &'static str> {
        if let Some(token) = self.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(token.clone())));
        }
        if let Some(auth) = self.auth.as_ref().filter(|a| !a.is_empty()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| "has an `auth` that is not base64")?;
            let text = String::from_utf8(bytes).map_err(|_| "has an `auth` that is not text")?;
            let (username, password) = text
                .split_once(':')
                .ok_or("has an `auth` that is not `user:password`")?;
            return Ok(Some(Credential::Basic {
                username: username.to_string(),
                password: password.to_string(),
            }));
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) if !username.is_empty() => {
                Ok(Some(Credential::Basic {
                    username: username.clone(),
                    password: password.clone(),
                }))
            }
            _ => Ok(None),
        }
    }
}

/// The object under `key`, if it is there and not `null`.
fn object<'a>(
    top: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match top.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(format!(
            "has {} that is {}, not an object",
            a(key),
            kind(other)
        )),
    }
}

/// Where the JSON breaks, in words of its own: serde_json's text is not repeated, so that no
/// later version of it can quote the file.
fn syntax(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Eof => "ends in the middle of its JSON",
        _ => "is not JSON",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}

/// "a `username`", "an `auth`".
fn a(field: &str) -> String {
    let article = match field {
        "auth" | "auths" | "identitytoken" => "an",
        _ => "a",
    };
    format!("{article} `{field}`")
}

/// The type of a JSON value, as a sentence names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
