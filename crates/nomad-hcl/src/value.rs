//! Helpers on [`hcl::Value`]: type names, numbers, string rendering.
//!
//! Values follow cty's conventions where Nomad users can observe them:
//! objects are kept sorted by key (cty iterates maps and objects in key order),
//! integers stay integers, and every arithmetic result is checked (no overflow
//! or division panics on any input).

use hcl::{Map, Number, Value};

/// A short, user-facing name for a value's type.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// Sorts an object's keys, as cty orders map and object attributes.
pub(crate) fn sorted(mut map: Map<String, Value>) -> Value {
    map.sort_keys();
    Value::Object(map)
}

/// A number from a float; errors on NaN and infinities.
pub(crate) fn num_f64(f: f64) -> Result<Number, String> {
    Number::from_f64(f).ok_or_else(|| "the result is not a finite number".to_string())
}

pub(crate) fn f64_of(n: &Number) -> f64 {
    n.as_f64().unwrap_or(0.0)
}

/// An integer view of a number, if it is whole and fits `i128`.
fn int_of(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        Some(i128::from(i))
    } else {
        n.as_u64().map(i128::from)
    }
}

fn num_from_i128(i: i128) -> Option<Number> {
    if let Ok(v) = i64::try_from(i) {
        Some(Number::from(v))
    } else {
        u64::try_from(i).ok().map(Number::from)
    }
}

/// Arithmetic operators on numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Checked arithmetic: exact for integers, falling back to floats.
pub(crate) fn arith(op: Arith, a: &Number, b: &Number) -> Result<Number, String> {
    if let (Some(x), Some(y)) = (int_of(a), int_of(b)) {
        let exact = match op {
            Arith::Add => x.checked_add(y),
            Arith::Sub => x.checked_sub(y),
            Arith::Mul => x.checked_mul(y),
            Arith::Div => {
                if y == 0 {
                    return Err("divide by zero".into());
                }
                if x % y == 0 {
                    x.checked_div(y)
                } else {
                    None
                }
            }
            Arith::Mod => {
                if y == 0 {
                    return Err("divide by zero".into());
                }
                x.checked_rem(y)
            }
        };
        if let Some(n) = exact.and_then(num_from_i128) {
            return Ok(n);
        }
    }
    let (x, y) = (f64_of(a), f64_of(b));
    let r = match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div => {
            if y == 0.0 {
                return Err("divide by zero".into());
            }
            x / y
        }
        Arith::Mod => {
            if y == 0.0 {
                return Err("divide by zero".into());
            }
            x % y
        }
    };
    num_f64(r)
}

pub(crate) fn negate(n: &Number) -> Result<Number, String> {
    match int_of(n) {
        Some(i) => i
            .checked_neg()
            .and_then(num_from_i128)
            .map_or_else(|| num_f64(-f64_of(n)), Ok),
        None => num_f64(-f64_of(n)),
    }
}

/// Renders a number the way cty does when converting it to a string.
pub fn format_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = f64_of(n);
    format!("{f}")
}

/// Value equality as HCL's `==` sees it (numbers compare by value).
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => f64_of(x) == f64_of(y) || x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

/// Compact JSON text of a value (object keys sorted, as cty encodes them).
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => number_to_json(n),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut m = serde_json::Map::new();
            for k in keys {
                if let Some(x) = o.get(k) {
                    m.insert(k.clone(), to_json(x));
                }
            }
            serde_json::Value::Object(m)
        }
    }
}

/// A number as JSON: integers stay integers.
pub fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.as_i64() {
        serde_json::Value::from(i)
    } else if let Some(u) = n.as_u64() {
        serde_json::Value::from(u)
    } else {
        serde_json::Number::from_f64(f64_of(n))
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// A JSON value as an HCL value (objects sorted by key).
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Number(Number::from(u))
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            sorted(o.iter().map(|(k, x)| (k.clone(), from_json(x))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        let big = Number::from(i64::MAX);
        let one = Number::from(1);
        assert_eq!(
            arith(Arith::Add, &big, &one).ok(),
            Some(Number::from(i64::MAX as u64 + 1))
        );
        let max = Number::from(u64::MAX);
        assert!(arith(Arith::Add, &max, &max).is_ok());
        assert!(arith(Arith::Mod, &one, &Number::from(0)).is_err());
        assert!(arith(Arith::Div, &one, &Number::from(0)).is_err());
        assert_eq!(
            arith(Arith::Div, &Number::from(10), &Number::from(4)).ok(),
            Number::from_f64(2.5)
        );
        assert_eq!(
            negate(&Number::from(i64::MIN))
                .ok()
                .and_then(|n| n.as_u64()),
            Some(1 << 63)
        );
    }

    #[test]
    fn numbers_render_like_cty() {
        assert_eq!(format_number(&Number::from(5)), "5");
        assert_eq!(
            format_number(&Number::from_f64(1.5).unwrap_or(Number::from(0))),
            "1.5"
        );
    }
}
