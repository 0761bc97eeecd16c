//! Encoding only what a filter reads. A filter names a few top-level fields
//! of an object (`Status`, `Meta`, `TaskGroups`); encoding the whole object
//! to a `serde_json::Value` first costs ~60 µs for a large job against
//! ~70 ns for the match itself (`cargo bench -p nomad-benches --bench
//! filter`). [`to_value`] keeps a top-level struct's named fields and skips
//! the rest without encoding them; anything else is encoded whole.

use std::collections::BTreeSet;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Binding, Expr};

/// The top-level fields `expr` reads (names bound by `any`/`all` are not
/// fields).
pub(super) fn fields(expr: &Expr) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(expr, &mut Vec::new(), &mut out);
    out
}

fn collect<'e>(expr: &'e Expr, bound: &mut Vec<&'e str>, out: &mut BTreeSet<String>) {
    let mut field = |parts: &[String], bound: &[&str]| {
        if let Some(first) = parts.first() {
            if !bound.contains(&first.as_str()) {
                out.insert(first.clone());
            }
        }
    };
    match expr {
        Expr::Or(items) | Expr::And(items) => {
            for e in items {
                collect(e, bound, out);
            }
        }
        Expr::Not(e) => collect(e, bound, out),
        Expr::Match(m) => field(&m.selector.parts, bound),
        Expr::Collection(c) => {
            field(&c.selector.parts, bound);
            let mark = bound.len();
            match &c.binding {
                Binding::Default(n) | Binding::Index(n) | Binding::Value(n) => bound.push(n),
                Binding::Both(i, v) => {
                    bound.push(i);
                    bound.push(v);
                }
            }
            collect(&c.inner, bound, out);
            bound.truncate(mark);
        }
    }
}

/// `obj` as JSON, keeping only `fields` when it is a struct.
pub(super) fn to_value<T: Serialize + ?Sized>(
    obj: &T,
    fields: &BTreeSet<String>,
) -> Result<Value, serde_json::Error> {
    obj.serialize(Projector { fields })
}

/// A serializer that projects a top-level struct and hands every other
/// shape to `serde_json`'s.
struct Projector<'f> {
    fields: &'f BTreeSet<String>,
}

/// A struct being projected.
struct Projected<'f> {
    fields: &'f BTreeSet<String>,
    map: Map<String, Value>,
}

impl SerializeStruct for Projected<'_> {
    type Ok = Value;
    type Error = serde_json::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        if self.fields.contains(key) {
            self.map
                .insert(key.to_string(), serde_json::to_value(value)?);
        }
        Ok(())
    }

    fn end(self) -> Result<Value, Self::Error> {
        Ok(Value::Object(self.map))
    }
}

use serde_json::value::Serializer as Json;

/// Forwards a method to `serde_json`'s value serializer.
macro_rules! whole {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $($arg: $ty),*) -> $ret {
            Json.$name($($arg),*)
        })*
    };
}

impl<'f> Serializer for Projector<'f> {
    type Ok = Value;
    type Error = serde_json::Error;
    type SerializeSeq = <Json as Serializer>::SerializeSeq;
    type SerializeTuple = <Json as Serializer>::SerializeTuple;
    type SerializeTupleStruct = <Json as Serializer>::SerializeTupleStruct;
    type SerializeTupleVariant = <Json as Serializer>::SerializeTupleVariant;
    type SerializeMap = <Json as Serializer>::SerializeMap;
    type SerializeStruct = Projected<'f>;
    type SerializeStructVariant = <Json as Serializer>::SerializeStructVariant;

    whole! {
        serialize_bool(v: bool) -> Result<Value, Self::Error>;
        serialize_i8(v: i8) -> Result<Value, Self::Error>;
        serialize_i16(v: i16) -> Result<Value, Self::Error>;
        serialize_i32(v: i32) -> Result<Value, Self::Error>;
        serialize_i64(v: i64) -> Result<Value, Self::Error>;
        serialize_u8(v: u8) -> Result<Value, Self::Error>;
        serialize_u16(v: u16) -> Result<Value, Self::Error>;
        serialize_u32(v: u32) -> Result<Value, Self::Error>;
        serialize_u64(v: u64) -> Result<Value, Self::Error>;
        serialize_f32(v: f32) -> Result<Value, Self::Error>;
        serialize_f64(v: f64) -> Result<Value, Self::Error>;
        serialize_char(v: char) -> Result<Value, Self::Error>;
        serialize_str(v: &str) -> Result<Value, Self::Error>;
        serialize_bytes(v: &[u8]) -> Result<Value, Self::Error>;
        serialize_none() -> Result<Value, Self::Error>;
        serialize_unit() -> Result<Value, Self::Error>;
        serialize_unit_struct(name: &'static str) -> Result<Value, Self::Error>;
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> Result<Value, Self::Error>;
        serialize_seq(len: Option<usize>) -> Result<Self::SerializeSeq, Self::Error>;
        serialize_tuple(len: usize) -> Result<Self::SerializeTuple, Self::Error>;
        serialize_tuple_struct(name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, Self::Error>;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Result<Self::SerializeTupleVariant, Self::Error>;
        serialize_map(len: Option<usize>) -> Result<Self::SerializeMap, Self::Error>;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Result<Self::SerializeStructVariant, Self::Error>;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Self::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, Self::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Self::Error> {
        Json.serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Projected<'f>, Self::Error> {
        Ok(Projected {
            fields: self.fields,
            map: Map::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Job {
        #[serde(rename = "ID")]
        id: String,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        task_groups: Vec<Group>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Group {
        name: String,
        count: u32,
    }

    fn job() -> Job {
        Job {
            id: "web".into(),
            status: "running".into(),
            parent: None,
            task_groups: vec![Group {
                name: "g".into(),
                count: 3,
            }],
        }
    }

    #[test]
    fn only_the_fields_read_are_encoded() {
        let f = Filter::parse(r#"Status == "running" and any TaskGroups as g { g.Count == 3 }"#)
            .expect("parse");
        let v = to_value(&job(), &fields(&f.expr)).expect("encode");
        assert_eq!(
            v,
            serde_json::json!({"Status": "running", "TaskGroups": [{"Name": "g", "Count": 3}]})
        );
    }

    #[test]
    fn projected_and_whole_objects_match_alike() {
        for expr in [
            r#"Status == "running""#,
            r#"ID matches "^w" and not (TaskGroups.0.Name == "x")"#,
            "all TaskGroups as _, g { g.Count == 3 }",
            "Parent is empty",
            r#"Stauts == "running""#,
        ] {
            let f = Filter::parse(expr).expect("parse");
            let whole = serde_json::to_value(job()).expect("encode");
            assert_eq!(f.matches(&whole), f.matches_object(&job()), "{expr}");
        }
    }
}
