//! The tag grammar, `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: checked here for the reference parser,
//! the rules (`newTag`) and everything else that holds a tag.

use std::fmt;

/// The longest tag the grammar allows.
pub(super) const TAG_MAX: usize = 128;

/// What a tag looks like, as the end of a sentence that refuses one.
pub const TAG_FORM: &str =
    "a tag is 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`";

/// Why a string is not a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagError {
    Empty,
    TooLong,
    Start,
    Character,
}

impl TagError {
    /// The reason, as [`super::ReferenceError::InvalidTag`] carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            TagError::Empty => "tag is empty",
            TagError::TooLong => "longer than 128 characters",
            TagError::Start => "must start with a letter, digit or `_`",
            TagError::Character => "may contain only letters, digits, `_`, `.` and `-`",
        }
    }
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for TagError {}

/// Checks `tag` (without its `:`) against the tag grammar.
pub fn check_tag(tag: &str) -> Result<(), TagError> {
    let first = tag.bytes().next().ok_or(TagError::Empty)?;
    if tag.len() > TAG_MAX {
        return Err(TagError::TooLong);
    }
    if !is_word(first) {
        return Err(TagError::Start);
    }
    if !tag.bytes().all(|b| is_word(b) || matches!(b, b'.' | b'-')) {
        return Err(TagError::Character);
    }
    Ok(())
}

/// `\w` of the grammar: an ASCII letter, digit or `_`.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        for ok in [
            "v1.9.0",
            "_x-1",
            "1.20",
            "V1.0-RC.1_x",
            "_",
            &"a".repeat(128),
        ] {
            assert_eq!(check_tag(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", TagError::Empty),
            (".x", TagError::Start),
            ("-1", TagError::Start),
            ("a:b", TagError::Character),
            ("a/b", TagError::Character),
            ("ä", TagError::Start),
            ("aä", TagError::Character),
        ];
        for (text, why) in bad {
            assert_eq!(check_tag(text), Err(why), "{text:?}");
        }
        assert_eq!(check_tag(&"a".repeat(129)), Err(TagError::TooLong));
    }
}
