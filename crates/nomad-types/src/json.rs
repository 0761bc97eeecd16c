//! Reading and writing Nomad JSON the way Nomad's Go code does.
//!
//! Reading is lenient like Go's `encoding/json`: a struct field matches its
//! JSON key ignoring ASCII case (an exact match wins), and unknown keys are
//! skipped. Keys of real maps (`Meta`, `Env`, `Config`, …) are never touched.
//! This is done once, generically, by the [`Lenient`] deserializer wrapper:
//! whenever a type asks for a struct, the incoming keys are mapped onto the
//! field names the type declared.
//!
//! Errors carry the path of the offending value, e.g.
//! `TaskGroups[0].Count: invalid type: string "three", expected i64`.
//!
//! Writing with [`to_string_go`] / [`to_string_pretty_go`] escapes `<`, `>`,
//! `&`, U+2028 and U+2029 like Go's encoder, so output is byte-compatible.

use std::fmt;
use std::io;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Serialize;

/// A JSON decoding error with the path of the value that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct JsonError {
    /// Dotted path such as `TaskGroups[0].Count`; empty for the document root.
    pub path: String,
    /// What went wrong, without position information.
    pub message: String,
    /// 1-based line of the error in the input text (0 when unknown).
    pub line: usize,
    /// 1-based column of the error in the input text (0 when unknown).
    pub column: usize,
}

impl JsonError {
    fn render(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }

    fn from_json(path: String, err: &serde_json::Error) -> Self {
        let full = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let message = if err.line() != 0 {
            full.strip_suffix(&suffix).unwrap_or(&full).to_string()
        } else {
            full
        };
        JsonError {
            path,
            message,
            line: err.line(),
            column: err.column(),
        }
    }

    fn from_tracked(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        JsonError::from_json(path, err.inner())
    }
}

/// Decodes a value from JSON text, leniently (see the module docs).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    from_slice(text.as_bytes())
}

/// Decodes a value from JSON bytes, leniently.
///
/// Tracking the path costs as much as the rest of the decoding (a string
/// per key), and only an error needs it: the bytes are decoded without it,
/// and decoded again with it when that fails, to say where.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    if let Ok(value) = T::deserialize(Lenient(&mut de)) {
        if de.end().is_ok() {
            return Ok(value);
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(Lenient(&mut de)).map_err(JsonError::from_tracked)?;
    de.end()
        .map_err(|e| JsonError::from_json(String::new(), &e))?;
    Ok(value)
}

/// Decodes a value from an already-parsed JSON tree, leniently.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(Lenient(value)).map_err(JsonError::from_tracked)
}

/// Encodes compactly, escaping like Go's `json.Marshal`.
pub fn to_string_go<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter::compact());
    value.serialize(&mut ser)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Encodes with four-space indentation, escaping like Go's `json.MarshalIndent`.
pub fn to_string_pretty_go<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter::pretty("    "));
    value.serialize(&mut ser)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A `serde_json` formatter that escapes HTML-sensitive characters and the
/// JavaScript line separators the way Go's encoder does.
pub struct GoFormatter<'a> {
    pretty: Option<serde_json::ser::PrettyFormatter<'a>>,
}

impl<'a> GoFormatter<'a> {
    /// No whitespace.
    pub fn compact() -> Self {
        GoFormatter { pretty: None }
    }
    /// Indented with `indent` per level.
    pub fn pretty(indent: &'a str) -> Self {
        GoFormatter {
            pretty: Some(serde_json::ser::PrettyFormatter::with_indent(
                indent.as_bytes(),
            )),
        }
    }
}

macro_rules! delegate_fmt {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            match &mut self.pretty {
                Some(p) => serde_json::ser::Formatter::$name(p, w $(, $arg)*),
                None => serde_json::ser::Formatter::$name(&mut serde_json::ser::CompactFormatter, w $(, $arg)*),
            }
        }
    )*};
}

impl serde_json::ser::Formatter for GoFormatter<'_> {
    delegate_fmt! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

// ---------------------------------------------------------------------------
// The lenient deserializer.
// ---------------------------------------------------------------------------

/// Wraps any deserializer so that struct fields match JSON keys ignoring
/// ASCII case, recursively. Unknown keys fall through to serde's normal
/// "ignore" handling. Map keys are passed through untouched.
pub struct Lenient<D>(pub D);

fn canonical_key(fields: &'static [&'static str], key: String) -> String {
    if fields.contains(&key.as_str()) {
        return key;
    }
    match fields.iter().find(|f| f.eq_ignore_ascii_case(&key)) {
        Some(f) => (*f).to_string(),
        None => key,
    }
}

macro_rules! forward_lenient {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(Wrap { inner: visitor, fields: None })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Lenient<D> {
    type Error = D::Error;

    forward_lenient!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(
            name,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(
            name,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(
            len,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(
            name,
            len,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(
            name,
            fields,
            Wrap {
                inner: visitor,
                fields: Some(fields),
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(
            name,
            variants,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A seed that deserializes through [`Lenient`].
struct LenientSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for LenientSeed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Lenient(d))
    }
}

/// A visitor wrapper that hands lenient accessors to the real visitor.
/// `fields` is set when the visitor belongs to a struct.
struct Wrap<V> {
    inner: V,
    fields: Option<&'static [&'static str]>,
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>)
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Lenient(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Lenient(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(LenientSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(LenientMap {
            inner: map,
            fields: self.fields,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(LenientEnum(data))
    }
}

struct LenientSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for LenientSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(LenientSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct LenientMap<A> {
    inner: A,
    fields: Option<&'static [&'static str]>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LenientMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.fields {
            None => self.inner.next_key_seed(LenientSeed(seed)),
            Some(fields) => match self.inner.next_key::<String>()? {
                None => Ok(None),
                Some(key) => {
                    let key = canonical_key(fields, key);
                    seed.deserialize(de::value::StringDeserializer::<A::Error>::new(key))
                        .map(Some)
                }
            },
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.next_value_seed(LenientSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct LenientEnum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for LenientEnum<A> {
    type Error = A::Error;
    type Variant = LenientVariant<A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Self::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, LenientVariant(variant)))
    }
}

struct LenientVariant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for LenientVariant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.newtype_variant_seed(LenientSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.tuple_variant(
            len,
            Wrap {
                inner: visitor,
                fields: None,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                fields: Some(fields),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default)]
    struct Inner {
        #[serde(rename = "MemoryMB")]
        memory_mb: Option<i64>,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default)]
    struct Outer {
        #[serde(rename = "ID")]
        id: String,
        #[serde(rename = "Items")]
        items: Vec<Inner>,
        #[serde(rename = "Meta")]
        meta: BTreeMap<String, String>,
    }

    #[test]
    fn keys_match_ignoring_case_but_map_keys_are_kept() {
        let v: Outer =
            from_str(r#"{"id":"x","ITEMS":[{"memorymb":5}],"meta":{"Owner":"Ann"},"extra":1}"#)
                .unwrap();
        assert_eq!(v.id, "x");
        assert_eq!(v.items[0].memory_mb, Some(5));
        assert_eq!(v.meta.get("Owner").map(String::as_str), Some("Ann"));
    }

    #[test]
    fn errors_carry_paths() {
        let err = from_str::<Outer>(r#"{"Items":[{"MemoryMB":"lots"}]}"#).unwrap_err();
        assert_eq!(err.path, "Items[0].MemoryMB");
        assert!(err
            .to_string()
            .starts_with("Items[0].MemoryMB: invalid type: string \"lots\""));
    }

    #[test]
    fn go_escaping() {
        let s = to_string_go(&"<a&b>").unwrap();
        assert_eq!(s, r#""\u003ca\u0026b\u003e""#);
    }
}
