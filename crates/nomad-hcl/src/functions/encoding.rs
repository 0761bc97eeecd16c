//! Encoding functions: JSON, base64, URL.

use base64::Engine as _;
use hcl::Value;

use super::{str_arg, FnCtx};
use crate::value::{from_json, to_json};

type R = Result<Value, String>;

/// JSON text as cty writes it: compact, keys sorted, `<`, `>`, `&`, U+2028
/// and U+2029 escaped.
pub(crate) fn json_text(v: &Value) -> String {
    let text = to_json(v).to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn jsonencode(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::String(json_text(a.first().unwrap_or(&Value::Null))))
}

pub(super) fn jsondecode(_: &FnCtx, a: Vec<Value>) -> R {
    let v: serde_json::Value =
        serde_json::from_str(str_arg(&a, 0)).map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(from_json(&v))
}

pub(super) fn base64encode(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(str_arg(&a, 0)),
    ))
}

pub(super) fn base64decode(_: &FnCtx, a: Vec<Value>) -> R {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(str_arg(&a, 0))
        .map_err(|e| format!("invalid base64 data: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the decoded data is not valid UTF-8".to_string())
}

/// Query-escapes a string (spaces become `+`).
pub(super) fn urlencode(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = String::new();
    for b in str_arg(&a, 0).bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    Ok(Value::String(out))
}
