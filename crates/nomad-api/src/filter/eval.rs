//! The evaluator over `serde_json::Value` (semantics in the parent module).

use std::borrow::Cow;

use serde_json::Value;

use super::{Collection, Expr, FilterError, Match, Selector, Test};
use crate::query::parse_go_bool;

/// Whether `item` passes `expr`.
pub(super) fn matches(expr: &Expr, item: &Value) -> Result<bool, FilterError> {
    eval(expr, item, &mut Vec::new())
}

/// What an `any`/`all` name stands for.
enum Bound<'v> {
    /// A list element or map value.
    At(&'v Value),
    /// A list index or map key.
    Key(Value),
}

type Scope<'e, 'v> = Vec<(&'e str, Bound<'v>)>;

fn eval<'e, 'v>(
    expr: &'e Expr,
    item: &'v Value,
    scope: &mut Scope<'e, 'v>,
) -> Result<bool, FilterError> {
    match expr {
        Expr::Or(items) => {
            for e in items {
                if eval(e, item, scope)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Expr::And(items) => {
            for e in items {
                if !eval(e, item, scope)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Expr::Not(e) => Ok(!eval(e, item, scope)?),
        Expr::Match(m) => eval_match(m, item, scope),
        Expr::Collection(c) => eval_collection(c, item, scope),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn eval_error(msg: String) -> FilterError {
    FilterError::Evaluate(msg)
}

/// What `sel` selects in `item`; `None` when absent (see the module doc).
fn resolve<'v>(
    sel: &Selector,
    item: &'v Value,
    scope: &[(&str, Bound<'v>)],
) -> Result<Option<Cow<'v, Value>>, FilterError> {
    let datum_error = |i: usize, why: String| {
        eval_error(format!(
            "error finding value in datum: {} at part {i}: {why}",
            sel.pointer()
        ))
    };
    let (mut current, first) = match scope.iter().rev().find(|(n, _)| *n == sel.parts[0]) {
        Some((_, Bound::At(v))) => (*v, 1),
        Some((_, Bound::Key(k))) if sel.parts.len() == 1 => return Ok(Some(Cow::Owned(k.clone()))),
        Some((name, Bound::Key(k))) => {
            return Err(datum_error(
                1,
                format!("{name} is {}, it has no fields", kind(k)),
            ))
        }
        None => (item, 0),
    };
    for (i, part) in sel.parts.iter().enumerate().skip(first) {
        current = match current {
            Value::Object(map) => match map.get(part) {
                Some(v) => v,
                None if i == 0 => {
                    return Err(datum_error(0, format!("couldn't find key \"{part}\"")))
                }
                None => return Ok(None),
            },
            Value::Array(list) if i > 0 => match part.parse::<usize>() {
                Ok(index) => match list.get(index) {
                    Some(v) => v,
                    None => return Ok(None),
                },
                Err(_) => {
                    let list_sel = sel.parts[..i].join(".");
                    return Err(datum_error(i, format!(
                        "the selector crosses a list: {list_sel} is a list and \"{part}\" is not an index \
                         (select one element, as in {list_sel}.0, or use \"any {list_sel} as x {{ … }}\")"
                    )));
                }
            },
            Value::Null if i > 0 => return Ok(None),
            other if i == 0 => {
                return Err(datum_error(
                    0,
                    format!("the item is {}, not a map", kind(other)),
                ))
            }
            other => {
                let at = sel.parts[..i].join(".");
                let why = format!("{at} is {}, not a map or a list", kind(other));
                return Err(datum_error(i, why));
            }
        };
    }
    Ok(Some(Cow::Borrowed(current)))
}

fn eval_match(m: &Match, item: &Value, scope: &Scope) -> Result<bool, FilterError> {
    let found = resolve(&m.selector, item, scope)?;
    let sel = &m.selector.text;
    let raw = m.value.as_str();
    let type_error =
        |op: &str, v: &Value| eval_error(format!("cannot use {op} on {sel}: it is {}", kind(v)));
    let positive = match found.as_deref() {
        None | Some(Value::Null) => m.test.absent(),
        Some(v) => match &m.test {
            Test::Equal => match v {
                Value::Array(_) | Value::Object(_) => {
                    return Err(eval_error(format!(
                        "cannot compare {sel} with ==: it is {}; use contains, in or is empty",
                        kind(v)
                    )))
                }
                v => scalar_eq(v, raw).ok_or_else(|| {
                    eval_error(format!("cannot compare {sel} ({}) with \"{raw}\"", kind(v)))
                })?,
            },
            Test::Contains => match v {
                Value::String(s) => s.contains(raw),
                Value::Array(list) => list.iter().any(|e| scalar_eq(e, raw) == Some(true)),
                Value::Object(map) => map.contains_key(raw),
                v => return Err(type_error("contains or in", v)),
            },
            Test::Empty => match v {
                Value::String(s) => s.is_empty(),
                Value::Array(list) => list.is_empty(),
                Value::Object(map) => map.is_empty(),
                v => return Err(type_error("is empty", v)),
            },
            Test::Nil => match v {
                Value::Array(_) | Value::Object(_) => false,
                v => return Err(type_error("is nil", v)),
            },
            Test::Matches(re) => match v {
                Value::String(s) => re.is_match(s),
                v => return Err(type_error("matches", v)),
            },
        },
    };
    Ok(positive != m.negated)
}

/// Whether the scalar `v` equals `raw` coerced to its type; `None` when
/// `raw` cannot be (or `v` is not a scalar).
fn scalar_eq(v: &Value, raw: &str) -> Option<bool> {
    match v {
        Value::String(s) => Some(s == raw),
        Value::Bool(b) => parse_go_bool(raw).map(|r| r == *b),
        Value::Number(n) => {
            if let Some(r) = parse_go_int(raw) {
                if let Some(i) = n.as_i64() {
                    return Some(i128::from(i) == r);
                }
                if let Some(u) = n.as_u64() {
                    return Some(i128::from(u) == r);
                }
            }
            let r = parse_go_int(raw)
                .map(|i| i as f64)
                .or_else(|| raw.parse::<f64>().ok())?;
            Some(n.as_f64()? == r)
        }
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` syntax: a sign, `0x`/`0o`/`0b`/`0`
/// prefixes, underscores between digits.
fn parse_go_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.strip_prefix('_').unwrap_or(d))
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.strip_prefix('_').unwrap_or(d))
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.strip_prefix('_').unwrap_or(d))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].strip_prefix('_').unwrap_or(&lower[1..]))
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let digits = digits.replace('_', "");
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn eval_collection<'e, 'v>(
    c: &'e Collection,
    item: &'v Value,
    scope: &mut Scope<'e, 'v>,
) -> Result<bool, FilterError> {
    let target = match resolve(&c.selector, item, scope)? {
        None | Some(Cow::Borrowed(Value::Null)) => return Ok(c.all),
        Some(Cow::Borrowed(v @ (Value::Array(_) | Value::Object(_)))) => v,
        Some(other) => {
            return Err(eval_error(format!(
                "{} is not a list or a map (it is {})",
                c.selector.text,
                kind(&other)
            )))
        }
    };
    let (key_name, value_name) = c.binding.names(target.is_object());
    let elements: Box<dyn Iterator<Item = (Value, &'v Value)>> = match target {
        Value::Object(map) => Box::new(map.iter().map(|(k, v)| (Value::String(k.clone()), v))),
        Value::Array(list) => Box::new(list.iter().enumerate().map(|(i, v)| (Value::from(i), v))),
        _ => Box::new(std::iter::empty()),
    };
    for (key, value) in elements {
        let mark = scope.len();
        scope.extend(key_name.map(|n| (n, Bound::Key(key))));
        scope.extend(value_name.map(|n| (n, Bound::At(value))));
        let result = eval(&c.inner, item, scope);
        scope.truncate(mark);
        // `any` stops at the first true, `all` at the first false.
        if result? != c.all {
            return Ok(!c.all);
        }
    }
    Ok(c.all)
}
