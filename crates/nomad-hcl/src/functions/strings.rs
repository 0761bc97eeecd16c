//! String functions.

use hcl::Value;

use super::{int_arg, list_arg, str_arg, FnCtx};

type R = Result<Value, String>;

fn s(v: impl Into<String>) -> R {
    Ok(Value::String(v.into()))
}

pub(super) fn upper(_: &FnCtx, a: Vec<Value>) -> R {
    s(str_arg(&a, 0).to_uppercase())
}

pub(super) fn lower(_: &FnCtx, a: Vec<Value>) -> R {
    s(str_arg(&a, 0).to_lowercase())
}

/// Upper-cases the first letter of each word.
pub(super) fn title(_: &FnCtx, a: Vec<Value>) -> R {
    let mut out = String::new();
    let mut prev_sep = true;
    for c in str_arg(&a, 0).chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    s(out)
}

pub(super) fn chomp(_: &FnCtx, a: Vec<Value>) -> R {
    s(str_arg(&a, 0).trim_end_matches(['\n', '\r']))
}

pub(super) fn trimspace(_: &FnCtx, a: Vec<Value>) -> R {
    s(str_arg(&a, 0).trim())
}

pub(super) fn trim(_: &FnCtx, a: Vec<Value>) -> R {
    let cut: Vec<char> = str_arg(&a, 1).chars().collect();
    s(str_arg(&a, 0).trim_matches(|c| cut.contains(&c)))
}

pub(super) fn trimprefix(_: &FnCtx, a: Vec<Value>) -> R {
    let (x, p) = (str_arg(&a, 0), str_arg(&a, 1));
    s(x.strip_prefix(p).unwrap_or(x))
}

pub(super) fn trimsuffix(_: &FnCtx, a: Vec<Value>) -> R {
    let (x, p) = (str_arg(&a, 0), str_arg(&a, 1));
    s(x.strip_suffix(p).unwrap_or(x))
}

pub(super) fn strlen(_: &FnCtx, a: Vec<Value>) -> R {
    Ok(Value::from(str_arg(&a, 0).chars().count() as u64))
}

pub(super) fn strrev(_: &FnCtx, a: Vec<Value>) -> R {
    s(str_arg(&a, 0).chars().rev().collect::<String>())
}

pub(super) fn split(_: &FnCtx, a: Vec<Value>) -> R {
    let (sep, x) = (str_arg(&a, 0), str_arg(&a, 1));
    let parts: Vec<Value> = if sep.is_empty() {
        x.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        x.split(sep).map(|p| Value::String(p.to_string())).collect()
    };
    Ok(Value::Array(parts))
}

pub(super) fn join(_: &FnCtx, a: Vec<Value>) -> R {
    let sep = str_arg(&a, 0);
    let mut parts: Vec<&str> = Vec::new();
    for i in 1..a.len() {
        for item in list_arg(&a, i) {
            if let Value::String(x) = item {
                parts.push(x);
            }
        }
    }
    s(parts.join(sep))
}

/// Adds `spaces` spaces before every line but the first.
pub(super) fn indent(_: &FnCtx, a: Vec<Value>) -> R {
    let n = int_arg(&a, 0, "spaces")?;
    let n = usize::try_from(n).map_err(|_| "spaces must not be negative".to_string())?;
    if n > 1024 {
        return Err("spaces must be at most 1024".into());
    }
    let pad = " ".repeat(n);
    s(str_arg(&a, 1).replace('\n', &format!("\n{pad}")))
}

/// `substr(str, offset, length)`: characters; a negative offset counts from
/// the end, a length of -1 means "to the end".
pub(super) fn substr(_: &FnCtx, a: Vec<Value>) -> R {
    let chars: Vec<char> = str_arg(&a, 0).chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let mut off = int_arg(&a, 1, "offset")?;
    let length = int_arg(&a, 2, "length")?;
    if off < 0 {
        off = off.saturating_add(len);
        if off < 0 {
            return Err("offset is out of range".into());
        }
    }
    if off > len {
        return Err("offset is out of range".into());
    }
    let end = if length < 0 {
        len
    } else {
        off.saturating_add(length).min(len)
    };
    let (start, end) = (
        usize::try_from(off).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    s(chars
        .get(start..end.max(start))
        .map_or_else(String::new, |c| c.iter().collect()))
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// `replace(str, substr, replacement)`; a `/.../` substring is a regex.
pub(super) fn replace(_: &FnCtx, a: Vec<Value>) -> R {
    let (x, sub, rep) = (str_arg(&a, 0), str_arg(&a, 1), str_arg(&a, 2));
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = regex(&sub[1..sub.len() - 1])?;
        return s(re.replace_all(x, rep).into_owned());
    }
    if sub.is_empty() {
        return s(x);
    }
    s(x.replace(sub, rep))
}

pub(super) fn regex_replace(_: &FnCtx, a: Vec<Value>) -> R {
    let re = regex(str_arg(&a, 1))?;
    s(re.replace_all(str_arg(&a, 0), str_arg(&a, 2)).into_owned())
}
