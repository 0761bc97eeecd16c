//! Collection functions and type conversion functions.

use hcl::{Map, Value};

use super::{int_arg, list_arg, num_arg, str_arg, FnCtx};
use crate::convert::{to_bool, to_number, to_string};
use crate::value::{equals, sorted, type_name};

type R = Result<Value, String>;

/// The most elements `range` may produce.
const MAX_RANGE: usize = 1024;

pub(super) fn concat(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = Vec::new();
    for i in 0..a.len() {
        out.extend_from_slice(list_arg(&a, i));
    }
    Ok(Value::Array(out))
}

pub(super) fn length(_: &FnCtx, a: Vec<Value>) -> R {
    let n = match a.first() {
        Some(Value::String(s)) => s.chars().count(),
        Some(Value::Array(x)) => x.len(),
        Some(Value::Object(o)) => o.len(),
        Some(other) => return Err(format!("cannot take the length of a {}", type_name(other))),
        None => 0,
    };
    Ok(Value::from(n as u64))
}

fn obj_arg(a: &[Value], i: usize) -> Option<&Map<String, Value>> {
    match a.get(i) {
        Some(Value::Object(o)) => Some(o),
        _ => None,
    }
}

pub(super) fn lookup(_: &FnCtx, a: Vec<Value>) -> R {
    if a.len() > 3 {
        return Err("expects at most 3 arguments (inputMap, key, default)".into());
    }
    let key = str_arg(&a, 1);
    if let Some(v) = obj_arg(&a, 0).and_then(|o| o.get(key)) {
        return Ok(v.clone());
    }
    match a.get(2) {
        Some(d) => Ok(d.clone()),
        None => Err(format!(
            "the map has no key {key:?} and no default was given"
        )),
    }
}

pub(super) fn merge(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = Map::new();
    for (i, m) in a.into_iter().enumerate() {
        match m {
            Value::Null => {}
            Value::Object(o) => out.extend(o),
            other => {
                return Err(format!(
                    "argument {} must be a map or object, got {}",
                    i + 1,
                    type_name(&other)
                ))
            }
        }
    }
    Ok(sorted(out))
}

fn sorted_entries(a: &[Value]) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = obj_arg(a, 0)
        .map(|o| o.iter().collect())
        .unwrap_or_default();
    entries.sort_by(|x, y| x.0.cmp(y.0));
    entries
}

pub(super) fn keys(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::Array(
        sorted_entries(&a)
            .into_iter()
            .map(|(k, _)| Value::String(k.clone()))
            .collect(),
    ))
}

pub(super) fn values(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::Array(
        sorted_entries(&a)
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect(),
    ))
}

pub(super) fn element(_: &FnCtx, a: Vec<Value>) -> R {
    let list = list_arg(&a, 0);
    let i = int_arg(&a, 1, "index")?;
    if list.is_empty() {
        return Err("cannot use element function with an empty list".into());
    }
    let i = u64::try_from(i).map_err(|_| "index must not be negative".to_string())?;
    let at = usize::try_from(i % list.len() as u64).unwrap_or(0);
    Ok(list[at].clone())
}

pub(super) fn contains(_: &FnCtx, a: Vec<Value>) -> R {
    let needle = a.get(1).cloned().unwrap_or(Value::Null);
    Ok(Value::Bool(
        list_arg(&a, 0).iter().any(|x| equals(x, &needle)),
    ))
}

pub(super) fn index(_: &FnCtx, a: Vec<Value>) -> R {
    let needle = a.get(1).cloned().unwrap_or(Value::Null);
    list_arg(&a, 0)
        .iter()
        .position(|x| equals(x, &needle))
        .map(|i| Value::from(i as u64))
        .ok_or_else(|| "the given value is not in the list".to_string())
}

fn dedup(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for x in items {
        if !out.iter().any(|y| equals(y, &x)) {
            out.push(x);
        }
    }
    out
}

pub(super) fn distinct(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::Array(dedup(list_arg(&a, 0).iter().cloned())))
}

pub(super) fn reverse(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::Array(
        list_arg(&a, 0).iter().rev().cloned().collect(),
    ))
}

pub(super) fn slice(_: &FnCtx, a: Vec<Value>) -> R {
    let list = list_arg(&a, 0);
    let start = int_arg(&a, 1, "start_index")?;
    let end = int_arg(&a, 2, "end_index")?;
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err("indexes must not be negative".into());
    };
    if end > list.len() {
        return Err(format!(
            "end index {end} is beyond the list's length {}",
            list.len()
        ));
    }
    if start > end {
        return Err("the start index must not be greater than the end index".into());
    }
    Ok(Value::Array(list[start..end].to_vec()))
}

pub(super) fn sort(_: &FnCtx, a: Vec<Value>) -> R {
    let mut items: Vec<String> = list_arg(&a, 0)
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

pub(super) fn zipmap(_: &FnCtx, a: Vec<Value>) -> R {
    let (ks, vs) = (list_arg(&a, 0), list_arg(&a, 1));
    if ks.len() != vs.len() {
        return Err(format!(
            "{} keys but {} values; the lists must have the same length",
            ks.len(),
            vs.len()
        ));
    }
    let mut out = Map::new();
    for (k, v) in ks.iter().zip(vs) {
        out.insert(k.as_str().unwrap_or_default().to_string(), v.clone());
    }
    Ok(sorted(out))
}

pub(super) fn coalesce(_: &FnCtx, a: Vec<Value>) -> R {
    a.into_iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
}

pub(super) fn coalescelist(_: &FnCtx, a: Vec<Value>) -> R {
    for v in &a {
        match v {
            Value::Array(items) if !items.is_empty() => return Ok(v.clone()),
            Value::Array(_) | Value::Null => {}
            other => return Err(format!("arguments must be lists, got {}", type_name(other))),
        }
    }
    Err("no non-empty list arguments".into())
}

pub(super) fn compact(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = Vec::new();
    for v in list_arg(&a, 0) {
        match v {
            Value::Null => {}
            other => {
                let s = to_string(other).map_err(|m| format!("list of strings required: {m}"))?;
                if !s.is_empty() {
                    out.push(Value::String(s));
                }
            }
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn range(_: &FnCtx, a: Vec<Value>) -> R {
    let (start, limit, step) = match a.len() {
        1 => (0.0, num_arg(&a, 0), 1.0),
        2 => {
            let (s, l) = (num_arg(&a, 0), num_arg(&a, 1));
            (s, l, if l < s { -1.0 } else { 1.0 })
        }
        3 => (num_arg(&a, 0), num_arg(&a, 1), num_arg(&a, 2)),
        n => {
            return Err(format!(
                "expects 1 to 3 arguments (start, limit, step), got {n}"
            ))
        }
    };
    if step == 0.0 {
        return Err("step must not be zero".into());
    }
    if (step > 0.0 && limit < start) || (step < 0.0 && limit > start) {
        return Err("the step goes away from the limit".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < limit) || (step < 0.0 && x > limit) {
        if out.len() >= MAX_RANGE {
            return Err(format!("more than {MAX_RANGE} values would be produced"));
        }
        out.push(Value::Number(crate::value::num_f64(x)?));
        x += step;
    }
    Ok(Value::Array(out))
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>, depth: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("lists are nested too deeply".into());
    }
    for v in items {
        match v {
            Value::Array(inner) => flatten_into(inner, out, depth + 1)?,
            other => out.push(other.clone()),
        }
    }
    Ok(())
}

pub(super) fn flatten(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = Vec::new();
    flatten_into(list_arg(&a, 0), &mut out, 0)?;
    Ok(Value::Array(out))
}

pub(super) fn chunklist(_: &FnCtx, a: Vec<Value>) -> R {
    let size = int_arg(&a, 1, "size")?;
    let size = usize::try_from(size).map_err(|_| "size must not be negative".to_string())?;
    let list = list_arg(&a, 0);
    if size == 0 {
        return Ok(Value::Array(vec![Value::Array(list.to_vec())]));
    }
    Ok(Value::Array(
        list.chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

pub(super) fn setunion(_: &FnCtx, a: Vec<Value>) -> R {
    let all: Vec<Value> = (0..a.len())
        .flat_map(|i| list_arg(&a, i).iter().cloned())
        .collect();
    Ok(Value::Array(dedup(all)))
}

pub(super) fn setintersection(_: &FnCtx, a: Vec<Value>) -> R {
    let first = dedup(list_arg(&a, 0).iter().cloned());
    let kept = first
        .into_iter()
        .filter(|x| (1..a.len()).all(|i| list_arg(&a, i).iter().any(|y| equals(x, y))))
        .collect();
    Ok(Value::Array(kept))
}

/// Every combination taking one element from each list, in order.
pub(super) fn setproduct(_: &FnCtx, a: Vec<Value>) -> R {
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    for i in 0..a.len() {
        let items = list_arg(&a, i);
        if rows.len().saturating_mul(items.len()) > 1 << 16 {
            return Err("the product has too many elements".into());
        }
        rows = rows
            .into_iter()
            .flat_map(|r| {
                items.iter().map(move |x| {
                    let mut next = r.clone();
                    next.push(x.clone());
                    next
                })
            })
            .collect();
    }
    if a.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(Value::Array(rows.into_iter().map(Value::Array).collect()))
}

fn first(a: Vec<Value>) -> Value {
    a.into_iter().next().unwrap_or(Value::Null)
}

pub(super) fn tostring(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        Value::Null => Ok(Value::Null),
        v => to_string(&v).map(Value::String),
    }
}

pub(super) fn tonumber(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        Value::Null => Ok(Value::Null),
        v => to_number(&v).map(Value::Number),
    }
}

pub(super) fn tobool(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        Value::Null => Ok(Value::Null),
        v => to_bool(&v).map(Value::Bool),
    }
}

pub(super) fn tolist(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        v @ (Value::Null | Value::Array(_)) => Ok(v),
        other => Err(format!("cannot convert a {} to a list", type_name(&other))),
    }
}

pub(super) fn toset(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => Ok(Value::Array(dedup(items))),
        other => Err(format!("cannot convert a {} to a set", type_name(&other))),
    }
}

pub(super) fn tomap(_: &FnCtx, a: Vec<Value>) -> R {
    match first(a) {
        v @ (Value::Null | Value::Object(_)) => Ok(v),
        other => Err(format!("cannot convert a {} to a map", type_name(&other))),
    }
}
