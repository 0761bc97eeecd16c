//! Type constraints (`string`, `list(number)`, `object({...})`, ...) and the
//! value conversions cty performs: `"5"` to a number, `5` to a string,
//! `"true"` to a bool, tuples to lists, objects to maps.
//!
//! The decoders use [`to_string`], [`to_number`] and [`to_bool`] too, so a
//! jobspec accepts exactly what Nomad's HCL decoding accepts.

use std::fmt;

use hcl::{Map, Number, Value};
use hcl_edit::expr::{Expression, ObjectKey};

use crate::value::{format_number, sorted, type_name};

/// A variable type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    String,
    Number,
    Bool,
    Any,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(Vec<(String, Type)>),
    Tuple(Vec<Type>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::Any => f.write_str("any"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {t}")?;
                }
                f.write_str("})")
            }
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
        }
    }
}

impl Type {
    /// Whether `-var`/`NOMAD_VAR_` text is taken literally (true) or parsed
    /// as an HCL expression (false), as Nomad does.
    pub(crate) fn takes_raw_text(ty: Option<&Type>) -> bool {
        matches!(ty, None | Some(Type::String | Type::Number))
    }

    /// The type an untyped variable takes from its default, as Nomad gives
    /// it the default's type (collections accept any element types here).
    pub(crate) fn of_default(v: &Value) -> Option<Type> {
        match v {
            Value::Null => None,
            Value::String(_) => Some(Type::String),
            Value::Number(_) => Some(Type::Number),
            Value::Bool(_) => Some(Type::Bool),
            Value::Array(_) | Value::Object(_) => Some(Type::Any),
        }
    }
}

const TYPE_HELP: &str = "expected string, number, bool, any, list(T), set(T), map(T), object({name = T, ...}) or tuple([T, ...])";

/// Reads a type constraint expression such as `map(list(string))`.
pub(crate) fn parse_type(expr: &Expression) -> Result<Type, String> {
    parse_type_depth(expr, 0)
}

fn parse_type_depth(expr: &Expression, depth: usize) -> Result<Type, String> {
    if depth > 32 {
        return Err("type constraint nested too deeply".into());
    }
    match expr {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            "list" | "set" | "map" => Err(format!(
                "the {} type constraint needs an element type, e.g. {}(string)",
                v.as_str(),
                v.as_str()
            )),
            other => Err(format!("unknown type {other:?}; {TYPE_HELP}")),
        },
        Expression::Parenthesis(p) => parse_type_depth(p.inner(), depth + 1),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            if args.len() != 1 {
                return Err(format!("{name}(...) takes exactly one argument"));
            }
            let arg = args[0];
            match name {
                "list" => Ok(Type::List(Box::new(parse_type_depth(arg, depth + 1)?))),
                "set" => Ok(Type::Set(Box::new(parse_type_depth(arg, depth + 1)?))),
                "map" => Ok(Type::Map(Box::new(parse_type_depth(arg, depth + 1)?))),
                "object" => {
                    let Expression::Object(obj) = arg else {
                        return Err("object(...) needs an object of attribute types, e.g. object({name = string})".into());
                    };
                    let mut attrs = Vec::new();
                    for (k, v) in obj.iter() {
                        let key = match k {
                            ObjectKey::Ident(i) => i.as_str().to_string(),
                            ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                            _ => {
                                return Err("object type attribute names must be identifiers".into())
                            }
                        };
                        attrs.push((key, parse_type_depth(v.expr(), depth + 1)?));
                    }
                    attrs.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(Type::Object(attrs))
                }
                "tuple" => {
                    let Expression::Array(arr) = arg else {
                        return Err("tuple(...) needs a list of element types, e.g. tuple([string, number])".into());
                    };
                    let ts = arr
                        .iter()
                        .map(|e| parse_type_depth(e, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Type::Tuple(ts))
                }
                other => Err(format!("unknown type constructor {other:?}; {TYPE_HELP}")),
            }
        }
        _ => Err(format!("invalid type constraint; {TYPE_HELP}")),
    }
}

/// Converts a value to a string as cty does (numbers and bools are rendered).
pub fn to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(format_number(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a string is required, got null".into()),
        other => Err(format!("a string is required, got {}", type_name(other))),
    }
}

/// Parses text as a cty number (decimal, optional sign, fraction and exponent).
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let t = s
        .strip_prefix('-')
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s);
    let first_ok = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    let all_ok = t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !first_ok || !all_ok {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
        return Some(Number::from(u));
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Converts a value to a number as cty does (`"5"` becomes 5).
pub fn to_number(v: &Value) -> Result<Number, String> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::String(s) => {
            parse_number(s).ok_or_else(|| format!("a number is required, got the string {s:?}"))
        }
        Value::Null => Err("a number is required, got null".into()),
        other => Err(format!("a number is required, got {}", type_name(other))),
    }
}

/// Converts a value to a bool as cty does (`"true"` becomes true).
pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        Value::String(s) => Err(format!("a bool is required, got the string {s:?}")),
        Value::Null => Err("a bool is required, got null".into()),
        other => Err(format!("a bool is required, got {}", type_name(other))),
    }
}

/// Converts a value to a type constraint; null converts to every type.
pub fn convert(v: Value, ty: &Type) -> Result<Value, String> {
    convert_at(v, ty, &mut String::new())
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn convert_at(v: Value, ty: &Type, path: &mut String) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let fail = |msg: String, path: &str| Err(format!("{}{msg}", at(path)));
    match ty {
        Type::Any => Ok(v),
        Type::String => to_string(&v).map(Value::String).or_else(|e| fail(e, path)),
        Type::Number => to_number(&v).map(Value::Number).or_else(|e| fail(e, path)),
        Type::Bool => to_bool(&v).map(Value::Bool).or_else(|e| fail(e, path)),
        Type::List(et) | Type::Set(et) => {
            let Value::Array(items) = v else {
                return fail(format!("{ty} required, got {}", type_name(&v)), path);
            };
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let c = convert_at(item, et, path);
                path.truncate(len);
                let c = c?;
                if matches!(ty, Type::Set(_)) && out.contains(&c) {
                    continue;
                }
                out.push(c);
            }
            Ok(Value::Array(out))
        }
        Type::Map(et) => {
            let Value::Object(items) = v else {
                return fail(format!("{ty} required, got {}", type_name(&v)), path);
            };
            let mut out = Map::new();
            for (k, item) in items {
                let len = path.len();
                path.push_str(&format!("[{k:?}]"));
                let c = convert_at(item, et, path);
                path.truncate(len);
                out.insert(k, c?);
            }
            Ok(sorted(out))
        }
        Type::Object(attrs) => {
            let Value::Object(mut items) = v else {
                return fail(format!("{ty} required, got {}", type_name(&v)), path);
            };
            let mut out = Map::new();
            for (k, at_ty) in attrs {
                let Some(item) = items.swap_remove(k) else {
                    return fail(format!("attribute {k:?} is required"), path);
                };
                let len = path.len();
                path.push_str(&format!(".{k}"));
                let c = convert_at(item, at_ty, path);
                path.truncate(len);
                out.insert(k.clone(), c?);
            }
            Ok(sorted(out))
        }
        Type::Tuple(ts) => {
            let Value::Array(items) = v else {
                return fail(format!("{ty} required, got {}", type_name(&v)), path);
            };
            if items.len() != ts.len() {
                return fail(
                    format!(
                        "a tuple of {} elements is required, got {}",
                        ts.len(),
                        items.len()
                    ),
                    path,
                );
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, t)) in items.into_iter().zip(ts).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let c = convert_at(item, t, path);
                path.truncate(len);
                out.push(c?);
            }
            Ok(Value::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> Type {
        let e = hcl_edit::parser::parse_expr(src).expect("parse");
        parse_type(&e).expect("type")
    }

    #[test]
    fn parses_types() {
        assert_eq!(ty("list(string)"), Type::List(Box::new(Type::String)));
        assert_eq!(
            ty("object({b = number, a = bool})").to_string(),
            "object({a = bool, b = number})"
        );
        assert!(parse_type(&hcl_edit::parser::parse_expr("strin").expect("p")).is_err());
    }

    #[test]
    fn converts_like_cty() {
        assert_eq!(convert(Value::from("5"), &Type::Number), Ok(Value::from(5)));
        assert_eq!(convert(Value::from(5), &Type::String), Ok(Value::from("5")));
        assert!(convert(Value::from("x"), &Type::Number).is_err());
        let e = convert(
            Value::Array(vec![Value::from(1), Value::from("b")]),
            &Type::List(Box::new(Type::Number)),
        );
        assert_eq!(
            e,
            Err("[1]: a number is required, got the string \"b\"".to_string())
        );
    }
}
