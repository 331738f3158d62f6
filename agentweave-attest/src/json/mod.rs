//! A JSON value model that keeps what hashing and money need.
//!
//! `serde_json::Value` loses information this crate must keep: it silently keeps the last
//! of duplicate keys (a parser-differential hazard: two readers of one message could see two
//! different totals), and it turns every number into an `f64`/`i64`, which loses big
//! integers and the exact text that the Python reference's canonical form depends on. So the
//! guard and the canonicalizers share this small model: numbers keep their source text,
//! objects keep member order and never hold a key twice.
//!
//! Values borrow from the text they were parsed from (`Json<'a>`): a key, string or number
//! without escapes is a slice of the source, so reading a message costs no allocation per
//! string. Only strings with escapes are owned. [`Json::into_owned`] detaches a value from
//! its source when it must outlive it.

mod parse;
mod scan;
pub(crate) mod write;

pub use parse::{ParseOptions, parse, raw_members};
pub use write::write_compact;

use std::borrow::Cow;
use std::fmt;

/// A JSON number kept as its validated source text.
///
/// Keeping the text (instead of a float) lets money be read exactly as a decimal and lets
/// the `python-json` canonicalization reproduce Python's `int`/`float` split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number<'a>(Cow<'a, str>);

/// Which of the three number kinds a [`Number`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumberKind {
    /// No fraction and no exponent: Python reads it as an exact `int`.
    Integer,
    /// A fraction or an exponent: Python reads it as a binary `float`.
    Float,
    /// One of the non-standard tokens `NaN`, `Infinity`, `-Infinity` that Python's `json`
    /// module emits and accepts by default.
    NonFinite,
}

impl<'a> Number<'a> {
    /// Wraps already-validated number text. Only the parser creates numbers.
    pub(crate) fn from_validated(text: &'a str) -> Self {
        Self(Cow::Borrowed(text))
    }

    /// The same number, owning its text.
    pub fn into_owned(self) -> Number<'static> {
        Number(Cow::Owned(self.0.into_owned()))
    }

    /// The number exactly as it was written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Classifies the number the way Python's `json.loads` would.
    pub fn kind(&self) -> NumberKind {
        let t = self.as_str();
        if matches!(t, "NaN" | "Infinity" | "-Infinity") {
            NumberKind::NonFinite
        } else if t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
            NumberKind::Float
        } else {
            NumberKind::Integer
        }
    }

    /// The value as an `f64` (rounded to nearest; out of range gives ±infinity, as Python).
    pub fn to_f64(&self) -> f64 {
        match self.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            t => t.parse::<f64>().unwrap_or(f64::NAN),
        }
    }
}

impl fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON object: members in source order, each key at most once.
///
/// Keys borrow from the parsed text unless they contained escapes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    /// An empty object.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// An empty object with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Looks a member up by key (objects in messages are small, so a scan is the fast path).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(k, _)| k.as_ref() == key).map(|(_, v)| v)
    }

    /// Whether the key is present (even with a `null` value).
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k.as_ref() == key)
    }

    /// Adds a member, refusing a key that is already present (the caller decides what a
    /// duplicate means; the parser reports it as an error).
    pub fn insert_unique(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        value: Json<'a>,
    ) -> Result<(), (Cow<'a, str>, Json<'a>)> {
        let key = key.into();
        if self.contains_key(&key) {
            return Err((key, value));
        }
        self.0.push((key, value));
        Ok(())
    }

    /// Takes a member out of the object.
    pub fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        let i = self.0.iter().position(|(k, _)| k.as_ref() == key)?;
        Some(self.0.remove(i).1)
    }

    /// Members in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The same object, owning all its text.
    pub fn into_owned(self) -> Object<'static> {
        Object(
            self.0.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect(),
        )
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed JSON value, borrowing from its source text where it can.
///
/// The discriminant is a whole word (`repr(u64)`): values are moved on every step of
/// the reader, and with a one-byte tag the compiler copies a value as overlapping
/// unaligned pieces that the processor cannot forward from the stores that built it.
#[derive(Debug, Clone, PartialEq)]
#[repr(u64)]
pub enum Json<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, kept as text.
    Number(Number<'a>),
    /// A string (always valid Unicode: lone surrogates are refused by the parser). A
    /// slice of the source unless it contained escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

impl<'a> Json<'a> {
    /// The same value, owning all its text (to keep it after the source is gone).
    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(n.into_owned()),
            Json::String(s) => Json::String(Cow::Owned(s.into_owned())),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::into_owned).collect()),
            Json::Object(o) => Json::Object(o.into_owned()),
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Short name of the JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// Whether a non-finite number token occurs anywhere inside the value.
    pub fn contains_non_finite(&self) -> bool {
        match self {
            Json::Number(n) => n.kind() == NumberKind::NonFinite,
            Json::Array(items) => items.iter().any(Json::contains_non_finite),
            Json::Object(o) => o.iter().any(|(_, v)| v.contains_non_finite()),
            _ => false,
        }
    }
}

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_compact(self, &mut out);
        f.write_str(&out)
    }
}
