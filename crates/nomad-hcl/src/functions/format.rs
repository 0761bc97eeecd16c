//! `format` and `formatlist`: printf-style verbs as cty implements them.
//!
//! Verbs: `%v` (default: strings as-is, numbers, bools, JSON for lists and
//! maps), `%#v` (JSON), `%t`, `%b`, `%d`, `%o`, `%x`, `%X`, `%e`, `%E`, `%f`,
//! `%g`, `%G`, `%s`, `%q`, `%%`; flags `+ - # 0 space`, width, precision and
//! explicit argument indexes (`%[2]s`).

use hcl::Value;

use super::encoding::json_text;
use super::{str_arg, FnCtx};
use crate::convert::{to_bool, to_number, to_string};
use crate::value::{f64_of, format_number};

type R = Result<Value, String>;

/// The widest padding or precision accepted (keeps output bounded).
const MAX_WIDTH: usize = 1000;

#[derive(Default)]
struct Verb {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn pad(v: &Verb, body: String, numeric: bool) -> String {
    let Some(w) = v.width else { return body };
    let len = body.chars().count();
    if len >= w {
        return body;
    }
    let fill = w - len;
    if v.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if v.zero && numeric {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn sign(v: &Verb, negative: bool, body: String) -> String {
    if negative {
        format!("-{body}")
    } else if v.plus {
        format!("+{body}")
    } else if v.space {
        format!(" {body}")
    } else {
        body
    }
}

fn integer(arg: &Value, verb: char) -> Result<(bool, u128), String> {
    let n = to_number(arg)?;
    if let Some(i) = n.as_i64() {
        return Ok((i < 0, u128::from(i.unsigned_abs())));
    }
    if let Some(u) = n.as_u64() {
        return Ok((false, u128::from(u)));
    }
    Err(format!(
        "%{verb} requires a whole number, got {}",
        format_number(&n)
    ))
}

fn render(v: &Verb, verb: char, arg: &Value) -> Result<String, String> {
    let s = match verb {
        'v' if v.sharp => json_text(arg),
        'v' => match arg {
            Value::Null => "null".to_string(),
            Value::Array(_) | Value::Object(_) => json_text(arg),
            other => to_string(other)?,
        },
        's' => {
            let mut s = to_string(arg).map_err(|m| format!("%s: {m}"))?;
            if let Some(p) = v.precision {
                s = s.chars().take(p).collect();
            }
            s
        }
        'q' => {
            let s = to_string(arg).map_err(|m| format!("%q: {m}"))?;
            serde_json::Value::String(s).to_string()
        }
        't' => to_bool(arg).map_err(|m| format!("%t: {m}"))?.to_string(),
        'x' | 'X' if matches!(arg, Value::String(_)) => {
            let s = to_string(arg)?;
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' {
                hex.to_uppercase()
            } else {
                hex
            }
        }
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let (neg, mag) = integer(arg, verb)?;
            let body = match verb {
                'd' => mag.to_string(),
                'b' => format!("{mag:b}"),
                'o' if v.sharp => format!("0{mag:o}"),
                'o' => format!("{mag:o}"),
                'x' if v.sharp => format!("0x{mag:x}"),
                'x' => format!("{mag:x}"),
                'X' if v.sharp => format!("0X{mag:X}"),
                _ => format!("{mag:X}"),
            };
            return Ok(pad(v, sign(v, neg, body), true));
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let x = f64_of(&to_number(arg).map_err(|m| format!("%{verb}: {m}"))?);
            let p = v.precision;
            let body = match verb {
                'e' | 'E' => {
                    let s = go_exp(x.abs(), p.unwrap_or(6));
                    if verb == 'E' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
                'f' | 'F' => format!("{:.*}", p.unwrap_or(6), x.abs()),
                _ => {
                    let s = match p {
                        Some(p) => go_general(x.abs(), p.max(1)),
                        None => format!("{}", x.abs()),
                    };
                    if verb == 'G' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
            };
            return Ok(pad(v, sign(v, x < 0.0, body), true));
        }
        other => return Err(format!("unsupported format verb %{other}")),
    };
    Ok(pad(v, s, false))
}

/// `%e` as Go writes it: `1.500000e+00`.
fn go_exp(x: f64, precision: usize) -> String {
    let s = format!("{x:.precision$e}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// `%.Ng`: N significant digits, exponent form for very large or small values.
fn go_general(x: f64, precision: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.log10().floor();
    if exp < -4.0 || exp >= precision as f64 {
        let s = go_exp(x, precision.saturating_sub(1));
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        }
    } else {
        let decimals = (precision as f64 - 1.0 - exp).max(0.0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

fn number_in(chars: &[char], i: &mut usize) -> Result<Option<usize>, String> {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i == start {
        return Ok(None);
    }
    let text: String = chars[start..*i].iter().collect();
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_WIDTH => Ok(Some(n)),
        _ => Err(format!(
            "width or precision {text} is too large (at most {MAX_WIDTH})"
        )),
    }
}

fn format_one(fmt: &str, args: &[Value]) -> Result<String, String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut indexed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut v = Verb::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => v.minus = true,
                '+' => v.plus = true,
                '#' => v.sharp = true,
                '0' => v.zero = true,
                ' ' => v.space = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            i += 1;
            let n = number_in(&chars, &mut i)?.ok_or("missing argument index after %[")?;
            if chars.get(i) != Some(&']') {
                return Err("unterminated argument index %[...]".into());
            }
            i += 1;
            if n == 0 {
                return Err("argument indexes start at 1".into());
            }
            next_arg = n - 1;
            indexed = true;
        }
        v.width = number_in(&chars, &mut i)?;
        if chars.get(i) == Some(&'.') {
            i += 1;
            v.precision = Some(number_in(&chars, &mut i)?.unwrap_or(0));
        }
        let Some(&verb) = chars.get(i) else {
            return Err("the format string ends in the middle of a verb".into());
        };
        i += 1;
        let Some(arg) = args.get(next_arg) else {
            return Err(format!(
                "not enough arguments for %{verb} (argument {} is missing)",
                next_arg + 1
            ));
        };
        next_arg += 1;
        if arg.is_null() && verb != 'v' {
            return Err(format!("argument {next_arg} is null"));
        }
        out.push_str(&render(&v, verb, arg).map_err(|m| format!("argument {next_arg}: {m}"))?);
    }
    if !indexed && next_arg < args.len() {
        return Err(format!(
            "too many arguments; {} given but only {next_arg} used",
            args.len()
        ));
    }
    Ok(out)
}

pub(super) fn format(_: &FnCtx, a: Vec<Value>) -> R {
    format_one(str_arg(&a, 0), &a[1.min(a.len())..]).map(Value::String)
}

/// Formats once per element; list arguments must share one length, other
/// arguments repeat.
pub(super) fn formatlist(_: &FnCtx, a: Vec<Value>) -> R {
    let fmt = str_arg(&a, 0);
    let args = &a[1.min(a.len())..];
    let mut n: Option<usize> = None;
    for (i, x) in args.iter().enumerate() {
        if let Value::Array(items) = x {
            match n {
                Some(m) if m != items.len() => {
                    return Err(format!(
                        "argument {} has length {} but an earlier list argument has length {m}",
                        i + 2,
                        items.len()
                    ))
                }
                _ => n = Some(items.len()),
            }
        }
    }
    let count = n.unwrap_or(1);
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let row: Vec<Value> = args
            .iter()
            .map(|x| match x {
                Value::Array(items) => items.get(k).cloned().unwrap_or(Value::Null),
                other => other.clone(),
            })
            .collect();
        out.push(Value::String(
            format_one(fmt, &row).map_err(|m| format!("element {k}: {m}"))?,
        ));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: Vec<Value>) -> String {
        format_one(fmt, &args).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn verbs() {
        assert_eq!(f("%s-%d", vec!["a".into(), 5.into()]), "a-5");
        assert_eq!(
            f("%03d|%-4s|%4s", vec![7.into(), "ab".into(), "cd".into()]),
            "007|ab  |  cd"
        );
        assert_eq!(f("%.2f", vec![Value::from(1.23456)]), "1.23");
        assert_eq!(f("%q", vec!["x\"y".into()]), "\"x\\\"y\"");
        assert_eq!(
            f("%v %v", vec![true.into(), Value::Array(vec![1.into()])]),
            "true [1]"
        );
        assert_eq!(f("%#v", vec!["s".into()]), "\"s\"");
        assert_eq!(
            f(
                "%x %X %o %b",
                vec![255.into(), 255.into(), 8.into(), 5.into()]
            ),
            "ff FF 10 101"
        );
        assert_eq!(f("%[2]s %[1]s", vec!["a".into(), "b".into()]), "b a");
        assert_eq!(f("%e", vec![Value::from(1500.0)]), "1.500000e+03");
        assert_eq!(f("100%%", vec![]), "100%");
        assert!(f("%d", vec![]).starts_with("ERR"));
        assert!(f("%d", vec![Value::from(1.5)]).starts_with("ERR"));
        assert!(f("%99999999999d", vec![1.into()]).starts_with("ERR"));
    }
}
