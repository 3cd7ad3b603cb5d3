//! Field paths: the little language of the location table and of `paths:` in the rules.
//!
//! A path is a dot-separated list of mapping keys; a key followed by `[]` steps into every item
//! of the sequence found there: `spec.template.spec`, `containers[].image`,
//! `spec.cephVersion.image`. Keys are matched literally (no wildcards, no regular expressions).

use std::fmt;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take the value of this key in a mapping (the last one, if the key is duplicated).
    Key(String),
    /// Take the value of this key, which must be a sequence, and visit each of its items.
    EachOf(String),
}

/// A parsed field path such as `spec.containers[].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<Step>,
}

/// Why a field path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("segment {index} of the path is empty (two dots in a row, or a dot at either end)")]
    EmptySegment { index: usize },
    #[error("segment `{segment}` has brackets other than a trailing `[]`")]
    BadBrackets { segment: String },
}

impl FieldPath {
    /// Parses `a.b[].c`.
    pub fn parse(text: &str) -> Result<FieldPath, PathError> {
        if text.trim().is_empty() {
            return Err(PathError::Empty);
        }
        let mut steps = Vec::new();
        for (index, segment) in text.split('.').enumerate() {
            let (key, each) = match segment.strip_suffix("[]") {
                Some(key) => (key, true),
                None => (segment, false),
            };
            if key.is_empty() {
                return Err(PathError::EmptySegment { index });
            }
            if key.contains('[') || key.contains(']') {
                return Err(PathError::BadBrackets {
                    segment: segment.to_string(),
                });
            }
            let key = key.to_string();
            steps.push(if each {
                Step::EachOf(key)
            } else {
                Step::Key(key)
            });
        }
        Ok(FieldPath { steps })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match step {
                Step::Key(key) => f.write_str(key)?,
                Step::EachOf(key) => write!(f, "{key}[]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_lists() {
        let path = FieldPath::parse("spec.containers[].image").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            path.steps(),
            &[
                Step::Key("spec".into()),
                Step::EachOf("containers".into()),
                Step::Key("image".into())
            ]
        );
        assert_eq!(path.to_string(), "spec.containers[].image");
    }

    #[test]
    fn rejects_malformed_paths() {
        assert_eq!(FieldPath::parse(""), Err(PathError::Empty));
        assert_eq!(
            FieldPath::parse("spec..image"),
            Err(PathError::EmptySegment { index: 1 })
        );
        assert!(matches!(
            FieldPath::parse("spec.containers[0].image"),
            Err(PathError::BadBrackets { .. })
        ));
    }
}
