//! The rules YAML read through serde_yaml with the path to every value kept, so that an error
//! names its entry (`registries[2]`, `images[0].select`) and an unknown key comes with the keys
//! allowed in its place, as data rather than as text to take apart.
//!
//! serde's derive reports an unknown key by calling `unknown_field(key, expected)` on the error
//! type of the deserializer in use. The wrapper in `access` hands every `Deserialize` impl and
//! visitor an error type of its own, [`Error`], so that call arrives here with the key and the
//! list, and the wrapper knows the path of the value it reads. serde_yaml still reads the text
//! and gives each error its line and column.
//!
//! Where the two error types meet, an error of ours waits in the [`Stash`] while serde_yaml
//! carries a placeholder of its own type up, positioned where the error happened; an error that
//! serde_yaml raised itself (YAML syntax, a sequence where a string belongs) is passed up
//! unchanged, and keeps serde_yaml's wording.

mod access;

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize};

use access::Tracked;

/// An error while reading, in pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The entry it happened in (`registries[0]`), or `None` at the top level.
    pub entry: Option<String>,
    /// ` at line 4 column 5`, or empty when serde_yaml gives no useful location.
    pub location: String,
    /// What went wrong.
    pub problem: Problem,
}

/// The two kinds of failure worth telling apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A key the format does not have, and the keys that are valid at that place.
    UnknownKey { key: String, expected: Vec<String> },
    /// Anything else (wrong type, YAML syntax): the message without path or location.
    Other(String),
}

/// Reads `text` as one `T`, one YAML document.
pub(crate) fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, Failure> {
    let stash = Stash::default();
    let mut held = None;
    let top = Tracked::top(serde_yaml::Deserializer::from_str(text), &stash, &mut held);
    match T::deserialize(top) {
        Ok(value) => Ok(value),
        Err(Error::Own(problem)) => Err(Failure {
            entry: None,
            location: String::new(),
            problem,
        }),
        Err(Error::Inner) => Err(stash.failure(held)),
    }
}

/// The error type every `Deserialize` impl and visitor sees while the rules are read.
#[derive(Debug)]
pub(super) enum Error {
    /// Raised by a `Deserialize` impl or a visitor, and not yet handed to serde_yaml.
    Own(Problem),
    /// An error of serde_yaml's type, held by the wrapper nearest to where it came up.
    Inner,
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error::Own(Problem::Other(message.to_string()))
    }

    fn unknown_field(key: &str, expected: &'static [&'static str]) -> Error {
        let expected = expected.iter().map(|k| (*k).to_owned()).collect();
        Error::Own(Problem::UnknownKey {
            key: key.to_owned(),
            expected,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Own(Problem::UnknownKey { key, .. }) => write!(f, "unknown key `{key}`"),
            Error::Own(Problem::Other(message)) => f.write_str(message),
            Error::Inner => f.write_str("the YAML reader failed"),
        }
    }
}

impl std::error::Error for Error {}

/// What serde_yaml carries up in place of an error of ours; never shown.
const PLACEHOLDER: &str = "see the rules reader's stash";

/// What the wrappers of one read share.
#[derive(Default)]
pub(super) struct Stash {
    /// An error of ours and the path where it was raised, while serde_yaml carries its
    /// placeholder.
    own: Cell<Option<(Problem, String)>>,
    /// The path where an error of serde_yaml's own was first held.
    inner_path: Cell<Option<String>>,
    /// The last map key read as a string.
    key: Cell<Option<String>>,
}

impl Stash {
    /// `error`, raised at `path`, as an error of serde_yaml's type: the error held in `held`
    /// for an [`Error::Inner`], otherwise a placeholder while the error waits here.
    pub(super) fn hand_down<E: de::Error>(
        &self,
        error: Error,
        path: &str,
        held: &mut Option<E>,
    ) -> E {
        match error {
            Error::Inner => held.take().unwrap_or_else(|| E::custom(Error::Inner)),
            Error::Own(problem) => {
                self.own.set(Some((problem, path.to_owned())));
                E::custom(PLACEHOLDER)
            }
        }
    }

    /// serde_yaml's `error`, come up at `path`, held in `held` until it is handed down again.
    pub(super) fn hold<E>(&self, error: E, path: &str, held: &mut Option<E>) -> Error {
        let own = self.own.take();
        let inner_path = self.inner_path.take();
        if own.is_none() && inner_path.is_none() {
            self.inner_path.set(Some(path.to_owned()));
        } else {
            self.inner_path.set(inner_path);
        }
        self.own.set(own);
        *held = Some(error);
        Error::Inner
    }

    /// Notes `key` as the map key just read.
    pub(super) fn note_key(&self, key: &str) {
        self.key.set(Some(key.to_owned()));
    }

    /// The map key read since the last call, if it was a string.
    pub(super) fn take_key(&self) -> Option<String> {
        self.key.take()
    }

    /// The failure at the end of a read, from the error serde_yaml gave back.
    fn failure(&self, held: Option<serde_yaml::Error>) -> Failure {
        let Some(yaml) = held else {
            return Failure {
                entry: None,
                location: String::new(),
                problem: Problem::Other("the YAML reader failed".to_owned()),
            };
        };
        match self.own.take() {
            Some((problem, path)) => Failure {
                entry: Some(path).filter(|p| !p.is_empty()),
                location: location(&yaml),
                problem,
            },
            None => serde_yaml_failure(&yaml, self.inner_path.take()),
        }
    }
}

/// ` at line L column C` where serde_yaml placed the error. Like serde_yaml's own messages,
/// none for the very start of the text, where it puts errors it has no position for.
fn location(error: &serde_yaml::Error) -> String {
    match error.location() {
        Some(at) if (at.line(), at.column()) != (1, 1) => {
            format!(" at line {} column {}", at.line(), at.column())
        }
        _ => String::new(),
    }
}

/// An error serde_yaml raised itself: its message, without the location serde_yaml appends
/// and the path it puts first (the path where the wrapper first held the error).
fn serde_yaml_failure(error: &serde_yaml::Error, path: Option<String>) -> Failure {
    let mut message = error.to_string();
    let mut location = String::new();
    if let Some(at) = error.location() {
        let suffix = format!(" at line {} column {}", at.line(), at.column());
        if let Some(rest) = message.strip_suffix(&suffix) {
            message = rest.to_owned();
            location = suffix;
        }
    }
    let mut entry = None;
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        // serde_yaml writes an item of a top-level sequence `.[0]`.
        let dotted = format!(".{path}: ");
        let prefix = format!("{path}: ");
        let rest = message
            .strip_prefix(&prefix)
            .or_else(|| message.strip_prefix(&dotted));
        if let Some(rest) = rest {
            message = rest.to_owned();
            entry = Some(path);
        }
    }
    Failure {
        entry,
        location,
        problem: Problem::Other(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::file::RulesFile;

    fn failure(text: &str) -> Failure {
        from_str::<RulesFile>(text).unwrap_err()
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn an_unknown_key_comes_with_its_entry_and_the_keys_allowed() {
        let f = failure("version: 1\nregistries:\n  - from: a\n  - from: b\n    form: b\n");
        assert_eq!(f.entry.as_deref(), Some("registries[1]"));
        assert_eq!(f.location, " at line 5 column 5");
        let expected = keys(&["from", "to", "keep"]);
        let key = "form".to_string();
        assert_eq!(f.problem, Problem::UnknownKey { key, expected });
    }

    #[test]
    fn entries_nest() {
        let f = failure("version: 1\nimages:\n  - {name: a, select: {kynd: X}}\n");
        assert_eq!(f.entry.as_deref(), Some("images[0].select"));
        let expected = keys(&["kind", "namespace", "name", "container"]);
        let key = "kynd".to_string();
        assert_eq!(f.problem, Problem::UnknownKey { key, expected });
        let f = failure("version: 1\npullSecrets: {add: [{nme: x}]}");
        assert_eq!(f.entry.as_deref(), Some("pullSecrets.add[0]"));
        let expected = keys(&["name", "registries"]);
        let key = "nme".to_string();
        assert_eq!(f.problem, Problem::UnknownKey { key, expected });
    }

    #[test]
    fn top_level_has_no_entry() {
        let f = failure("version: 1\nfoo: 1\n");
        assert_eq!(f.entry, None);
        assert_eq!(f.location, " at line 2 column 1");
        assert!(matches!(f.problem, Problem::UnknownKey { ref key, .. } if key == "foo"));
    }

    #[test]
    fn keys_that_are_not_strings_are_unknown_keys_too() {
        let f = failure("version: 1\ndigests: {1: x}\n");
        assert_eq!(f.entry.as_deref(), Some("digests"));
        assert!(matches!(f.problem, Problem::UnknownKey { ref key, .. } if key == "1"));
    }

    #[test]
    fn wrong_types_keep_their_place() {
        // Raised by serde_yaml itself.
        let f = failure("version: 1\ndigests: {lock: [1]}");
        assert_eq!(f.entry.as_deref(), Some("digests.lock"));
        assert_eq!(f.location, " at line 2 column 17");
        let message = "invalid type: sequence, expected a string".to_string();
        assert_eq!(f.problem, Problem::Other(message));
        // Raised by serde's visitor, through the wrapper.
        let f = failure("version: 1\nregistries: [{from: a, keep: 'yes'}]");
        assert_eq!(f.entry.as_deref(), Some("registries[0].keep"));
        let message = "invalid type: string \"yes\", expected a boolean".to_string();
        assert_eq!(f.problem, Problem::Other(message));
        let f = failure("version: 1\nscan: {env: rewite}");
        assert_eq!(f.entry.as_deref(), Some("scan.env"));
        let message = "unknown variant `rewite`, expected one of `rewrite`, `report`, `off`";
        assert_eq!(f.problem, Problem::Other(message.to_string()));
        let f = failure("[1]");
        assert_eq!(f.entry, None);
        assert_eq!(f.location, "");
    }

    #[test]
    fn syntax_errors_and_documents() {
        let f = failure("version: 1\nregistries: [\n");
        assert_eq!(f.entry, None);
        assert!(
            matches!(&f.problem, Problem::Other(m) if m.starts_with("did not find expected node content")),
            "{f:?}"
        );
        let f = failure("version: 1\n---\nversion: 1\n");
        assert!(
            matches!(&f.problem, Problem::Other(m) if m.contains("more than one document")),
            "{f:?}"
        );
    }

    #[test]
    fn aliases_and_merges_are_read_as_serde_yaml_reads_them() {
        let text = "version: 1\nregistries:\n  - &a {from: a.io, to: b.io}\n  - *a\n";
        let file = from_str::<RulesFile>(text).unwrap();
        assert_eq!(file.registries.map(|r| r.len()), Some(2));
        let f = failure("version: 1\nregistries:\n  - &a {from: a.io, tu: b.io}\n  - *a\n");
        assert_eq!(f.entry.as_deref(), Some("registries[0]"));
    }
}
