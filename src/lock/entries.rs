//! The `images:` entries of a lock file as written: in file order, duplicates kept, each with
//! the line of its key, so that two entries for one image can be named.
//!
//! serde_yaml gives no position per map key, and a map type keeps only one of two equal keys.
//! The entries are read in order here; the lines come from the span tree of the same text
//! (`crate::tree`), taken only when a message needs them.

use std::cell::OnceCell;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};

use crate::tree::{Origin, Tree};

/// Deserializes a mapping of strings to strings into its pairs, in file order.
pub(super) fn in_order<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    deserializer.deserialize_map(Pairs)
}

struct Pairs;

impl<'de> Visitor<'de> for Pairs {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of image references to digests")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(pairs)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// The lines of the `images:` keys of one lock file text, looked up on first use.
pub(super) struct KeyLines<'t> {
    text: &'t str,
    entries: usize,
    lines: OnceCell<Vec<usize>>,
}

impl<'t> KeyLines<'t> {
    /// For `text`, whose `images:` serde read as `entries` pairs.
    pub(super) fn new(text: &'t str, entries: usize) -> KeyLines<'t> {
        KeyLines {
            text,
            entries,
            lines: OnceCell::new(),
        }
    }

    /// ` (line N)` for the entry at `index`, or nothing if its line is not known.
    pub(super) fn at(&self, index: usize) -> String {
        let lines = self.lines.get_or_init(|| {
            let lines = key_lines(self.text);
            // Lines are only trusted when both readers saw the same entries.
            if lines.len() == self.entries {
                lines
            } else {
                Vec::new()
            }
        });
        lines
            .get(index)
            .map_or_else(String::new, |line| format!(" (line {line})"))
    }
}

/// The 1-based line of each key of the top-level `images:` mapping, in file order.
fn key_lines(text: &str) -> Vec<usize> {
    let origin = Origin {
        offset: 0,
        first_line: 1,
    };
    let Ok(tree) = Tree::parse(text, origin) else {
        return Vec::new();
    };
    let Some(images) = tree.root().and_then(|root| tree.get(root, "images")) else {
        return Vec::new();
    };
    let images = tree.resolve(images);
    tree.entries(images)
        .iter()
        .map(|&(key, _)| tree.node(key).line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_of_every_key_duplicates_included() {
        let text = "version: 1\n# a comment\nimages:\n  a:1: x\n\n  'b:1': y\n  a:1: z\n";
        assert_eq!(key_lines(text), [4, 6, 7]);
        let lines = KeyLines::new(text, 3);
        assert_eq!(lines.at(2), " (line 7)");
        assert_eq!(lines.at(3), "");
        let flow = "version: 1\nimages: {'a:1': x,\n  'b:1': y}\n";
        assert_eq!(key_lines(flow), [2, 3]);
    }

    #[test]
    fn no_lines_when_they_cannot_be_trusted() {
        assert_eq!(key_lines("version: 1\n"), Vec::<usize>::new());
        assert_eq!(key_lines("[a, b]\n"), Vec::<usize>::new());
        assert_eq!(key_lines("images: {a: [\n"), Vec::<usize>::new());
        let text = "version: 1\nimages:\n  a:1: x\n";
        assert_eq!(KeyLines::new(text, 2).at(0), "");
    }
}
