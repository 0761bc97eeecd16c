//! Attribute values to API JSON, with the conversions Nomad's HCL decoding
//! performs (`"3"` is a number, `5` is a string, `"30s"` is 30e9 ns) and an
//! error at the value's position when a value does not fit.

use nomad_hcl::convert::{to_bool, to_number, to_string};
use nomad_hcl::value::{number_to_json, type_name};
use nomad_hcl::{Attribute, Block, Span, Value as HclValue};
use serde_json::Value;

use super::freeform;
use super::schema::{Ctx, Obj};
use crate::duration;

/// The type of an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Str,
    Bool,
    /// A whole number (Go `int`/`int64`).
    Int,
    Int8,
    Uint8,
    Uint16,
    Uint64,
    /// A Go duration string or integer nanoseconds.
    Dur,
    StrList,
    IntList,
    /// `map[string]string` written as a block or as an attribute (`meta`, `env`).
    Map,
    /// `map[string]string` written only as a block (`options { }`).
    MapBlock,
    /// `map[string]string` written only as an attribute (`args = { }`).
    MapAttr,
    /// `map[string][]string` (check `header { }`).
    HeaderMap,
    /// Free-form (`config { }`, `policy { }`): anything, blocks become lists.
    Free,
}

impl Kind {
    /// Whether the field may be written as a block.
    pub(crate) fn block_form(self) -> bool {
        matches!(
            self,
            Kind::Map | Kind::MapBlock | Kind::HeaderMap | Kind::Free
        )
    }
}

fn int_in(v: &HclValue, min: i128, max: i128) -> Result<Value, String> {
    let n = to_number(v)?;
    let i = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .ok_or_else(|| {
            format!(
                "a whole number is required, got {}",
                nomad_hcl::value::format_number(&n)
            )
        })?;
    if i < min || i > max {
        return Err(format!("{i} is out of range ({min} to {max})"));
    }
    Ok(if i < 0 {
        Value::from(i64::try_from(i).unwrap_or(i64::MIN))
    } else {
        Value::from(u64::try_from(i).unwrap_or(u64::MAX))
    })
}

fn duration_of(v: &HclValue) -> Result<Value, String> {
    match v {
        HclValue::String(s) => duration::parse(s)
            .map(Value::from)
            .map_err(|e| format!("{e}; {}", duration::VALID_FORMS)),
        HclValue::Number(_) => int_in(v, i128::from(i64::MIN), i128::from(i64::MAX))
            .map_err(|e| format!("{e}; {}", duration::VALID_FORMS)),
        other => Err(format!(
            "a duration is required, got {}; {}",
            type_name(other),
            duration::VALID_FORMS
        )),
    }
}

fn list_of(
    v: &HclValue,
    what: &str,
    each: impl Fn(&HclValue) -> Result<Value, String>,
) -> Result<Value, String> {
    match v {
        HclValue::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| each(x).map_err(|e| format!("element {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Err(format!("{what} is required, got {}", type_name(other))),
    }
}

/// A string map's value: strings, numbers and bools become strings.
fn map_of(
    v: &HclValue,
    each: impl Fn(&HclValue) -> Result<Value, String>,
) -> Result<Value, String> {
    match v {
        HclValue::Object(o) => {
            let mut entries: Vec<(&String, &HclValue)> = o.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Obj::new();
            for (k, x) in entries {
                out.insert(k.clone(), each(x).map_err(|e| format!("key {k:?}: {e}"))?);
            }
            Ok(Value::Object(out))
        }
        other => Err(format!("a map is required, got {}", type_name(other))),
    }
}

fn str_value(v: &HclValue) -> Result<Value, String> {
    to_string(v).map(Value::String)
}

/// Converts a value to `kind`'s JSON; `Err` holds the reason.
pub(crate) fn convert(kind: Kind, v: &HclValue) -> Result<Value, String> {
    match kind {
        Kind::Str => str_value(v),
        Kind::Bool => to_bool(v).map(Value::Bool),
        Kind::Int => int_in(v, i128::from(i64::MIN), i128::from(i64::MAX)),
        Kind::Int8 => int_in(v, -128, 127),
        Kind::Uint8 => int_in(v, 0, 255),
        Kind::Uint16 => int_in(v, 0, 65535),
        Kind::Uint64 => int_in(v, 0, i128::from(u64::MAX)),
        Kind::Dur => duration_of(v),
        Kind::StrList => list_of(v, "a list of strings", str_value),
        Kind::IntList => list_of(v, "a list of numbers", |x| {
            int_in(x, i128::from(i64::MIN), i128::from(i64::MAX))
        }),
        Kind::Map | Kind::MapBlock | Kind::MapAttr => map_of(v, str_value),
        Kind::HeaderMap => map_of(v, |x| match x {
            HclValue::Array(_) => list_of(x, "a list of strings", str_value),
            other => str_value(other).map(|s| Value::Array(vec![s])),
        }),
        Kind::Free => Ok(freeform::json(v)),
    }
}

/// An attribute's value as `kind`, or an error at the value (None).
pub(crate) fn attr_value(ctx: &mut Ctx, kind: Kind, a: &Attribute) -> Option<Value> {
    if a.value.is_null() && kind != Kind::Free {
        return None;
    }
    if kind == Kind::MapBlock {
        ctx.error(
            &a.key_span,
            format!(
                "{0} is a block, not an argument: write {0} {{ ... }} without \"=\"",
                a.key
            ),
        );
        return None;
    }
    if kind == Kind::Free {
        return Some(freeform::attr_json(a));
    }
    match convert(kind, &a.value) {
        Ok(v) => Some(v),
        Err(e) => {
            report(ctx, kind, &a.key, &a.value_span, &e);
            None
        }
    }
}

pub(crate) fn report(ctx: &mut Ctx, kind: Kind, key: &str, span: &Span, err: &str) {
    let msg = if kind == Kind::Dur {
        format!("invalid duration for {key}: {err}")
    } else {
        format!("invalid value for {key}: {err}")
    };
    ctx.error(span, msg);
}

/// A block written for a map or free-form field (`meta { }`, `config { }`).
pub(crate) fn block_map(ctx: &mut Ctx, kind: Kind, b: &Block) -> Option<Value> {
    if kind == Kind::Free {
        return Some(freeform::body_json(&b.body));
    }
    if let Some(inner) = b.body.blocks.first() {
        ctx.error(
            &inner.span,
            format!(
                "{} holds only name = value pairs; a nested block is not allowed here",
                b.ident
            ),
        );
        return None;
    }
    let mut entries: Vec<&Attribute> = b.body.attributes.iter().collect();
    entries.sort_by(|x, y| x.key.cmp(&y.key));
    let mut out = Obj::new();
    let mut ok = true;
    for a in entries {
        let item_kind = if kind == Kind::HeaderMap {
            Kind::StrList
        } else {
            Kind::Str
        };
        let r = match (&a.value, kind) {
            (HclValue::String(_) | HclValue::Number(_) | HclValue::Bool(_), Kind::HeaderMap) => {
                str_value(&a.value).map(|s| Value::Array(vec![s]))
            }
            _ => convert(item_kind, &a.value),
        };
        match r {
            Ok(v) => {
                ctx.record(&[&a.key], &a.key_span);
                out.insert(a.key.clone(), v);
            }
            Err(e) => {
                report(ctx, item_kind, &a.key, &a.value_span, &e);
                ok = false;
            }
        }
    }
    ok.then_some(Value::Object(out))
}

/// A free-form number as JSON (integers stay integers).
pub(crate) fn number(n: &nomad_hcl::Number) -> Value {
    number_to_json(n)
}
