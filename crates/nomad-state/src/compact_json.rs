//! The log's JSON writer: a struct field that holds its zero value (`null`,
//! `false`, `0`, `""`) is left out, and decoding puts it back from the
//! struct's `#[serde(default)]`.
//!
//! The shared types serialize every field, as Nomad's API does; in the log
//! that made a job registration 3.5 KiB of mostly `null`s and zeros, and
//! followers spent as much time skipping them as reading the job.
//!
//! Leaving a field out is exact only where the decoder's default for it is
//! the zero value that was written. That holds for a struct with
//! `#[serde(default)]` and a derived `Default` (every field then defaults to
//! its type's `Default`, which is zero for the scalars left out here). The
//! structs for which it does not hold are named in [`WRITE_ALL_FIELDS`];
//! the test `write_all_fields_names_every_struct_that_needs_it` reads the
//! sources of nomad-types and nomad-state and fails when one is missing.
//! Values behind a newtype (`GoTime`), inside maps and sequences, and in
//! enum struct variants are always written.
//!
//! Encoding then decoding gives back exactly the value encoded: the leader
//! applies its in-memory entry and the followers the decoded bytes, so any
//! loss here would make them disagree.

use std::io;

use serde::ser::{self, Impossible, Serialize, Serializer};

/// Structs written with every field: a hand-written `Default` whose fields
/// are not all zero, or no container-level `#[serde(default)]`.
pub(crate) const WRITE_ALL_FIELDS: &[&str] = &["PreemptionConfig", "SchedulerConfiguration"];

/// Writes `value` as JSON to `w`, leaving out zero-valued struct fields.
pub(crate) fn to_writer<W: io::Write, T: Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    value.serialize(Omit(&mut serde_json::Serializer::new(w)))
}

/// A serializer that forwards to `S`, leaving zero-valued struct fields out.
struct Omit<S>(S);

/// A value to be written through [`Omit`].
struct Inner<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Inner<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Omit(s))
    }
}

/// The fields of a struct being written.
struct Fields<S> {
    inner: S,
    omit: bool,
}

macro_rules! forward {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.0.$method(v)
        }
    )*};
}

impl<S: Serializer> Serializer for Omit<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Omit<S::SerializeSeq>;
    type SerializeTuple = Omit<S::SerializeTuple>;
    type SerializeTupleStruct = Omit<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Omit<S::SerializeTupleVariant>;
    type SerializeMap = Omit<S::SerializeMap>;
    type SerializeStruct = Fields<S::SerializeStruct>;
    type SerializeStructVariant = Omit<S::SerializeStructVariant>;

    forward! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_unit_struct(&'static str);
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Inner(v))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Inner(v))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Inner(v))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(Omit(self.0.serialize_seq(len)?))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(Omit(self.0.serialize_tuple(len)?))
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(Omit(self.0.serialize_tuple_struct(name, len)?))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(Omit(
            self.0.serialize_tuple_variant(name, index, variant, len)?,
        ))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(Omit(self.0.serialize_map(len)?))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(Fields {
            inner: self.0.serialize_struct(name, len)?,
            omit: !WRITE_ALL_FIELDS.contains(&name),
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(Omit(
            self.0.serialize_struct_variant(name, index, variant, len)?,
        ))
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

impl<S: ser::SerializeStruct> ser::SerializeStruct for Fields<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), S::Error> {
        if self.omit && is_zero(v) {
            return self.inner.skip_field(key);
        }
        self.inner.serialize_field(key, &Inner(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.inner.end()
    }
}

macro_rules! compound {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl<S: ser::$trait> ser::$trait for Omit<S> {
            type Ok = S::Ok;
            type Error = S::Error;
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                v: &T,
            ) -> Result<(), S::Error> {
                self.0.$method($($key,)? &Inner(v))
            }
            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    };
}

compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);
compound!(SerializeStructVariant, serialize_field, key);

impl<S: ser::SerializeMap> ser::SerializeMap for Omit<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), S::Error> {
        self.0.serialize_key(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Inner(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

/// True when `v` serializes as a bare `null`, `false`, `0` or `""`. Anything
/// else (including `Some(0)`, a newtype, an empty list) is not zero.
fn is_zero<T: Serialize + ?Sized>(v: &T) -> bool {
    matches!(v.serialize(Zero), Ok(true))
}

/// The serializer behind [`is_zero`]; compound values stop it at once.
struct Zero;

/// Ends [`Zero`] early: the value is not a scalar.
#[derive(Debug)]
struct NotScalar;

impl std::fmt::Display for NotScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a scalar")
    }
}

impl std::error::Error for NotScalar {}

impl ser::Error for NotScalar {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotScalar
    }
}

macro_rules! zero_if {
    ($($method:ident($ty:ty) => $test:expr;)*) => {$(
        fn $method(self, v: $ty) -> Result<bool, NotScalar> {
            #[allow(clippy::redundant_closure_call)]
            Ok(($test)(v))
        }
    )*};
}

impl Serializer for Zero {
    type Ok = bool;
    type Error = NotScalar;
    type SerializeSeq = Impossible<bool, NotScalar>;
    type SerializeTuple = Impossible<bool, NotScalar>;
    type SerializeTupleStruct = Impossible<bool, NotScalar>;
    type SerializeTupleVariant = Impossible<bool, NotScalar>;
    type SerializeMap = Impossible<bool, NotScalar>;
    type SerializeStruct = Impossible<bool, NotScalar>;
    type SerializeStructVariant = Impossible<bool, NotScalar>;

    zero_if! {
        serialize_bool(bool) => |v: bool| !v;
        serialize_i8(i8) => |v| v == 0;
        serialize_i16(i16) => |v| v == 0;
        serialize_i32(i32) => |v| v == 0;
        serialize_i64(i64) => |v| v == 0;
        serialize_i128(i128) => |v| v == 0;
        serialize_u8(u8) => |v| v == 0;
        serialize_u16(u16) => |v| v == 0;
        serialize_u32(u32) => |v| v == 0;
        serialize_u64(u64) => |v| v == 0;
        serialize_u128(u128) => |v| v == 0;
        serialize_f32(f32) => |v: f32| v.to_bits() == 0;
        serialize_f64(f64) => |v: f64| v.to_bits() == 0;
        serialize_char(char) => |_| false;
        serialize_str(&str) => |v: &str| v.is_empty();
        serialize_bytes(&[u8]) => |_| false;
    }

    fn serialize_none(self) -> Result<bool, NotScalar> {
        Ok(true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_unit(self) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotScalar> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotScalar> {
        Err(NotScalar)
    }
}

#[cfg(test)]
mod tests;
