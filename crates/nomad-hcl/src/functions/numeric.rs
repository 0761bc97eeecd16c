//! Number functions.

use hcl::Value;

use super::{int_arg, num_arg, str_arg, FnCtx};
use crate::value::num_f64;

type R = Result<Value, String>;

fn n(x: f64) -> R {
    num_f64(x).map(Value::Number)
}

pub(super) fn abs(_: &FnCtx, a: Vec<Value>) -> R {
    match a.first() {
        Some(Value::Number(x)) if x.as_i64().is_some() || x.as_u64().is_some() => {
            crate::value::negate(x).map(|neg| {
                if crate::value::f64_of(x) < 0.0 {
                    Value::Number(neg)
                } else {
                    Value::Number(*x)
                }
            })
        }
        _ => n(num_arg(&a, 0).abs()),
    }
}

pub(super) fn ceil(_: &FnCtx, a: Vec<Value>) -> R {
    n(num_arg(&a, 0).ceil())
}

pub(super) fn floor(_: &FnCtx, a: Vec<Value>) -> R {
    n(num_arg(&a, 0).floor())
}

pub(super) fn log(_: &FnCtx, a: Vec<Value>) -> R {
    n(num_arg(&a, 0).ln() / num_arg(&a, 1).ln())
}

pub(super) fn pow(_: &FnCtx, a: Vec<Value>) -> R {
    n(num_arg(&a, 0).powf(num_arg(&a, 1)))
}

pub(super) fn signum(_: &FnCtx, a: Vec<Value>) -> R {
    let x = num_arg(&a, 0);
    Ok(Value::from(if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }))
}

fn extreme(a: &[Value], pick_max: bool) -> R {
    let mut best: Option<(f64, &Value)> = None;
    for v in a {
        let x = num_of(v);
        if best.is_none_or(|(b, _)| if pick_max { x > b } else { x < b }) {
            best = Some((x, v));
        }
    }
    best.map(|(_, v)| v.clone())
        .ok_or_else(|| "at least one number is required".to_string())
}

fn num_of(v: &Value) -> f64 {
    v.as_number().map_or(0.0, crate::value::f64_of)
}

pub(super) fn max(_: &FnCtx, a: Vec<Value>) -> R {
    extreme(&a, true)
}

pub(super) fn min(_: &FnCtx, a: Vec<Value>) -> R {
    extreme(&a, false)
}

/// `parseint(str, base)` for bases 2 to 62 (digits, then a-z, then A-Z).
pub(super) fn parseint(_: &FnCtx, a: Vec<Value>) -> R {
    let text = str_arg(&a, 0);
    let base = int_arg(&a, 1, "base")?;
    if !(2..=62).contains(&base) {
        return Err("base must be a whole number between 2 and 62".into());
    }
    let base = base as u32;
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return Err(format!("cannot parse {text:?} as a base {base} integer"));
    }
    let mut acc: i128 = 0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' if base <= 36 => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => u32::MAX,
        };
        if d >= base {
            return Err(format!("cannot parse {text:?} as a base {base} integer"));
        }
        acc = acc
            .checked_mul(i128::from(base))
            .and_then(|x| x.checked_add(i128::from(d)))
            .filter(|x| *x <= i128::from(u64::MAX))
            .ok_or_else(|| format!("{text:?} is too large"))?;
    }
    let v = if neg { -acc } else { acc };
    if let Ok(i) = i64::try_from(v) {
        Ok(Value::from(i))
    } else if let Ok(u) = u64::try_from(v) {
        Ok(Value::from(u))
    } else {
        Err(format!("{text:?} is too large"))
    }
}
