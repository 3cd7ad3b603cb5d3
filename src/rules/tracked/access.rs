//! The wrappers around serde_yaml's deserializer, visitors, seeds and accesses. Each knows the
//! path of the value it reads (`""` at the top level, then `registries`, `registries[0]`,
//! `registries[0].from`) and turns errors from one type to the other where serde_yaml and
//! serde's derive meet (see [`Stash`]).
//!
//! Every error of serde_yaml's type that comes up is held by the wrapper that received it, in a
//! slot of the frame that will hand it back to serde_yaml, and [`Error::Inner`] stands for it in
//! between: derived code only passes errors on, so each `Inner` meets its own slot again.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess};
use serde::de::{VariantAccess, Visitor};

use super::{Error, Stash};

/// Where a wrapper is: the path of its value, whether the value is a map key, and the stash.
#[derive(Clone)]
struct At<'s> {
    path: String,
    key: bool,
    stash: &'s Stash,
}

impl<'s> At<'s> {
    /// The value under `key` of the mapping here (`?` for a key that is not a string).
    fn field(&self, key: Option<&str>) -> At<'s> {
        let key = key.unwrap_or("?");
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        At {
            path,
            key: false,
            stash: self.stash,
        }
    }

    /// Item `index` of the sequence here.
    fn item(&self, index: usize) -> At<'s> {
        At {
            path: format!("{}[{index}]", self.path),
            key: false,
            stash: self.stash,
        }
    }

    /// A key of the mapping here: its errors belong to the mapping.
    fn key(&self) -> At<'s> {
        At {
            key: true,
            ..self.clone()
        }
    }

    fn hold<E>(&self, error: E, held: &mut Option<E>) -> Error {
        self.stash.hold(error, &self.path, held)
    }

    fn hand_down<E: de::Error>(&self, error: Error, held: &mut Option<E>) -> E {
        self.stash.hand_down(error, &self.path, held)
    }

    /// An error raised by a visitor called with a plain value: nothing is held for it.
    fn raised<E: de::Error>(&self, error: Error) -> E {
        self.hand_down(error, &mut None)
    }
}

/// serde_yaml's deserializer `D` for the value at `at`, seen with our error type.
/// (`E` is `D`'s error type.)
pub(super) struct Tracked<'s, 'h, D, E> {
    inner: D,
    at: At<'s>,
    held: &'h mut Option<E>,
}

impl<'s, 'h, D, E> Tracked<'s, 'h, D, E> {
    /// The top level of a read.
    pub(super) fn top(inner: D, stash: &'s Stash, held: &'h mut Option<E>) -> Self {
        let at = At {
            path: String::new(),
            key: false,
            stash,
        };
        Tracked { inner, at, held }
    }
}

/// Forwards `deserialize_*` methods to serde_yaml with the visitor wrapped.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            let Tracked { inner, at, held } = self;
            let visitor = Wrap { visitor, at: at.clone() };
            inner.$method($($arg,)* visitor).map_err(|e| at.hold(e, held))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, '_, D, D::Error> {
    type Error = Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor of ours, called by serde_yaml.
struct Wrap<'s, V> {
    visitor: V,
    at: At<'s>,
}

/// Forwards `visit_*` methods with a plain value.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.visitor.$method::<Error>(value).map_err(|e| self.at.raised(e))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        self.note_key(value);
        self.visitor
            .visit_str::<Error>(value)
            .map_err(|e| self.at.raised(e))
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<V::Value, E> {
        self.note_key(value);
        let result = self.visitor.visit_borrowed_str::<Error>(value);
        result.map_err(|e| self.at.raised(e))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        self.note_key(&value);
        let result = self.visitor.visit_string::<Error>(value);
        result.map_err(|e| self.at.raised(e))
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor
            .visit_none::<Error>()
            .map_err(|e| self.at.raised(e))
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor
            .visit_unit::<Error>()
            .map_err(|e| self.at.raised(e))
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.visitor.visit_some(Tracked {
            inner,
            at,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.visitor.visit_newtype_struct(Tracked {
            inner,
            at,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.visitor.visit_seq(Seq {
            inner,
            at,
            index: 0,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }

    fn visit_map<A: MapAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.visitor.visit_map(Map {
            inner,
            at,
            key: None,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.visitor.visit_enum(Enum {
            inner,
            at,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }
}

impl<V> Wrap<'_, V> {
    /// Notes a string read as a map key, for the path of its value.
    fn note_key(&self, value: &str) {
        if self.at.key {
            self.at.stash.note_key(value);
        }
    }
}

/// A seed of ours (a map key or value, a sequence item, an enum variant), called by serde_yaml.
struct Seed<'s, S> {
    seed: S,
    at: At<'s>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        let mut held = None;
        let at = self.at.clone();
        let result = self.seed.deserialize(Tracked {
            inner,
            at,
            held: &mut held,
        });
        result.map_err(|e| self.at.hand_down(e, &mut held))
    }
}

/// serde_yaml's access to a mapping, seen with our error type.
struct Map<'s, 'h, A, E> {
    inner: A,
    at: At<'s>,
    /// The key whose value comes next.
    key: Option<String>,
    held: &'h mut Option<E>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, '_, A, A::Error> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.at.stash.take_key();
        let at = self.at.key();
        let result = self.inner.next_key_seed(Seed { seed, at });
        self.key = self.at.stash.take_key();
        result.map_err(|e| self.at.hold(e, self.held))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let at = self.at.field(self.key.as_deref());
        let result = self.inner.next_value_seed(Seed { seed, at });
        result.map_err(|e| self.at.hold(e, self.held))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// serde_yaml's access to a sequence, seen with our error type.
struct Seq<'s, 'h, A, E> {
    inner: A,
    at: At<'s>,
    index: usize,
    held: &'h mut Option<E>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, '_, A, A::Error> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let at = self.at.item(self.index);
        self.index += 1;
        let result = self.inner.next_element_seed(Seed { seed, at });
        result.map_err(|e| self.at.hold(e, self.held))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// serde_yaml's access to an enum (a tagged value, or a variant written as a string).
struct Enum<'s, 'h, A, E> {
    inner: A,
    at: At<'s>,
    held: &'h mut Option<E>,
}

impl<'de, 's, 'h, A: EnumAccess<'de>> EnumAccess<'de> for Enum<'s, 'h, A, A::Error> {
    type Error = Error;
    type Variant = Variant<'s, 'h, A::Variant, A::Error>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Error> {
        let Enum { inner, at, held } = self;
        let seed = Seed {
            seed,
            at: at.clone(),
        };
        match inner.variant_seed(seed) {
            Ok((value, inner)) => Ok((value, Variant { inner, at, held })),
            Err(e) => Err(at.hold(e, held)),
        }
    }
}

/// serde_yaml's access to the content of an enum variant.
struct Variant<'s, 'h, A, E> {
    inner: A,
    at: At<'s>,
    held: &'h mut Option<E>,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<'_, '_, A, A::Error> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        let Variant { inner, at, held } = self;
        inner.unit_variant().map_err(|e| at.hold(e, held))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        let Variant { inner, at, held } = self;
        let seed = Seed {
            seed,
            at: at.clone(),
        };
        inner
            .newtype_variant_seed(seed)
            .map_err(|e| at.hold(e, held))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let Variant { inner, at, held } = self;
        let visitor = Wrap {
            visitor,
            at: at.clone(),
        };
        inner
            .tuple_variant(len, visitor)
            .map_err(|e| at.hold(e, held))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let Variant { inner, at, held } = self;
        let visitor = Wrap {
            visitor,
            at: at.clone(),
        };
        inner
            .struct_variant(fields, visitor)
            .map_err(|e| at.hold(e, held))
    }
}
