//! Decoding string values without copying them.
//!
//! serde's `Cow<str>` always allocates an owned copy; the model decodes 100k machines, each with
//! a dozen ids, enums and date-times that only need to be looked at. These helpers hand the
//! deserializer's own string (borrowed from the input, or its scratch buffer) to a parser.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Parses a string value with `parse`; its error becomes the decode error.
pub(crate) fn parse_str<'de, D, T, E, F>(deserializer: D, parse: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
    F: FnOnce(&str) -> Result<T, E>,
{
    deserializer.deserialize_str(StrVisitor(parse, PhantomData))
}

/// Like [`parse_str`] for a nullable value: `null` is `None`.
pub(crate) fn parse_opt_str<'de, D, T, E, F>(
    deserializer: D,
    parse: F,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
    F: FnOnce(&str) -> Result<T, E>,
{
    struct OptVisitor<F, T>(F, PhantomData<T>);
    impl<'de, T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> Visitor<'de> for OptVisitor<F, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<X: de::Error>(self) -> Result<Option<T>, X> {
            Ok(None)
        }
        fn visit_unit<X: de::Error>(self) -> Result<Option<T>, X> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            parse_str(d, self.0).map(Some)
        }
    }
    deserializer.deserialize_option(OptVisitor(parse, PhantomData))
}

struct StrVisitor<F, T>(F, PhantomData<T>);

impl<'de, T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> Visitor<'de> for StrVisitor<F, T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<X: de::Error>(self, v: &str) -> Result<T, X> {
        (self.0)(v).map_err(X::custom)
    }
}
