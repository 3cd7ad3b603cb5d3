//! `version:`, read before anything else so that a file written for another version gets that
//! message rather than one about its keys.
//!
//! Only the top-level mapping and its `version` value are looked at; every other value is
//! skipped unread. Reading the whole file as a generic YAML value would refuse values that the
//! rules read as strings, such as a tag of more digits than a 64-bit integer holds.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess};
use serde::de::{VariantAccess, Visitor};

use super::{Origin, RulesError, Version};

/// Checks that the file is a mapping with `version: 1` (or, when the version is implied,
/// without `version`).
pub(super) fn check(text: &str, origin: &Origin, implied: Version) -> Result<(), RulesError> {
    let head: Head = super::tracked::from_str(text).map_err(|f| origin.unreadable(f))?;
    let missing = "missing; add `version: 1` at the top of the file";
    let version = match head {
        Head::NotMapping => {
            return Err(origin.invalid(
                "the top level",
                "must be a mapping of keys, starting with `version: 1`",
            ))
        }
        Head::Mapping(version) => version,
    };
    match version {
        None if implied == Version::Implied => Ok(()),
        None => Err(origin.invalid("version", missing)),
        Some(serde_yaml::Value::Number(n)) if n.as_u64() == Some(1) => Ok(()),
        Some(serde_yaml::Value::Number(n)) => Err(origin.invalid(
            "version",
            format!("{n} is not supported; this reimage reads `version: 1` files"),
        )),
        Some(_) => Err(origin.invalid("version", "must be the number 1, unquoted: `version: 1`")),
    }
}

/// The top of the file: a mapping (empty documents count as an empty one) and its `version`.
enum Head {
    Mapping(Option<serde_yaml::Value>),
    NotMapping,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Head, D::Error> {
        deserializer.deserialize_any(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of keys, starting with `version: 1`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut version = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "version" {
                map.next_value::<IgnoredAny>()?;
            } else if version.is_some() {
                return Err(de::Error::duplicate_field("version"));
            } else {
                version = Some(map.next_value()?);
            }
        }
        Ok(Head::Mapping(version))
    }

    fn visit_unit<E>(self) -> Result<Head, E> {
        Ok(Head::Mapping(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Head, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Head::NotMapping)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Head, A::Error> {
        let (IgnoredAny, variant) = data.variant()?;
        variant.newtype_variant::<IgnoredAny>()?;
        Ok(Head::NotMapping)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_i128<E>(self, _: i128) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_u128<E>(self, _: u128) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }

    fn visit_str<E>(self, _: &str) -> Result<Head, E> {
        Ok(Head::NotMapping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        check(text, &Origin::new("rules file"), Version::Required)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_top_level_must_be_a_mapping() {
        for text in [
            "[a, b]",
            "hello",
            "true",
            "-3",
            "12345678901234567890123",
            "1.5",
            "!x {version: 1}",
        ] {
            assert_eq!(
                error(text),
                "rules file: the top level: must be a mapping of keys, starting with `version: 1`",
                "{text}"
            );
        }
        for text in ["~", "---\n", "{}", "{other: 1}"] {
            assert!(
                error(text).ends_with("version: missing; add `version: 1` at the top of the file"),
                "{text}"
            );
        }
    }

    #[test]
    fn other_values_are_not_read() {
        let text = "version: 1\nimages: [{newTag: 12345678901234567890123}]\nx: !tag {a: [1, 2]}\n";
        assert!(check(text, &Origin::new("f"), Version::Required).is_ok());
        assert!(error("version: '1'\n").contains("must be the number 1, unquoted"));
        assert!(error("version: 1.5\n").contains("version: 1.5 is not supported"));
        assert!(error("version: 1\nversion: 1\n").contains("duplicate field `version`"));
    }
}
