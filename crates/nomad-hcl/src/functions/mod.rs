//! The function library a jobspec can call (`upper`, `format`, `merge`,
//! `file`, ...), following go-cty's stdlib semantics that Nomad exposes.
//!
//! Arguments are converted to each parameter's type before the call (so
//! `upper(5)` is `"5"` and `join(",", [1, 2])` is `"1,2"`), and every failure
//! is a message the evaluator reports at the call's position, prefixed with
//! the function's name. `try`, `can`, `convert` and `templatefile` live in
//! the evaluator, because they need unevaluated arguments or the evaluator.
//!
//! The set is most of Nomad's (jobspec2's function table) plus two extensions
//! from Terraform: the `to*` conversion functions and `templatefile`.

mod collections;
mod encoding;
mod format;
mod fs;
mod network;
mod numeric;
mod strings;

use std::path::{Path, PathBuf};

use hcl::Value;

use crate::convert::{to_number, to_string};
use crate::value::type_name;

/// What a function may see besides its arguments.
pub(crate) struct FnCtx<'a> {
    /// Directory relative file paths are resolved against.
    pub(crate) base_dir: &'a Path,
}

pub(crate) type Impl = fn(&FnCtx, Vec<Value>) -> Result<Value, String>;

/// A parameter's expected type; arguments are converted to it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P {
    /// Anything, including null.
    Any,
    /// Anything but null.
    Some,
    Str,
    Num,
    /// A list, set or tuple.
    List,
    /// A list whose elements are converted to strings.
    ListStr,
    /// A map or object.
    Obj,
}

pub(crate) struct Spec {
    pub(crate) params: &'static [(&'static str, P)],
    pub(crate) variadic: Option<(&'static str, P)>,
    pub(crate) imp: Impl,
}

const fn f(params: &'static [(&'static str, P)], imp: Impl) -> Spec {
    Spec {
        params,
        variadic: None,
        imp,
    }
}

const fn v(params: &'static [(&'static str, P)], variadic: (&'static str, P), imp: Impl) -> Spec {
    Spec {
        params,
        variadic: Some(variadic),
        imp,
    }
}

use P::{Any, List, ListStr, Num, Obj, Some as NonNull, Str};

/// Every function, sorted by name.
static FUNCTIONS: &[(&str, Spec)] = &[
    ("abs", f(&[("num", Num)], numeric::abs)),
    ("abspath", f(&[("path", Str)], fs::abspath)),
    ("base64decode", f(&[("str", Str)], encoding::base64decode)),
    ("base64encode", f(&[("str", Str)], encoding::base64encode)),
    ("basename", f(&[("path", Str)], fs::basename)),
    ("ceil", f(&[("num", Num)], numeric::ceil)),
    ("chomp", f(&[("str", Str)], strings::chomp)),
    (
        "chunklist",
        f(&[("list", List), ("size", Num)], collections::chunklist),
    ),
    (
        "cidrhost",
        f(&[("prefix", Str), ("hostnum", Num)], network::cidrhost),
    ),
    ("cidrnetmask", f(&[("prefix", Str)], network::cidrnetmask)),
    (
        "cidrsubnet",
        f(
            &[("prefix", Str), ("newbits", Num), ("netnum", Num)],
            network::cidrsubnet,
        ),
    ),
    (
        "cidrsubnets",
        v(&[("prefix", Str)], ("newbits", Num), network::cidrsubnets),
    ),
    ("coalesce", v(&[], ("vals", Any), collections::coalesce)),
    (
        "coalescelist",
        v(&[], ("vals", Any), collections::coalescelist),
    ),
    ("compact", f(&[("list", List)], collections::compact)),
    ("concat", v(&[], ("seqs", List), collections::concat)),
    (
        "contains",
        f(&[("list", List), ("value", Any)], collections::contains),
    ),
    ("dirname", f(&[("path", Str)], fs::dirname)),
    ("distinct", f(&[("list", List)], collections::distinct)),
    (
        "element",
        f(&[("list", List), ("index", Num)], collections::element),
    ),
    ("file", f(&[("path", Str)], fs::file)),
    ("filebase64", f(&[("path", Str)], fs::filebase64)),
    ("fileexists", f(&[("path", Str)], fs::fileexists)),
    ("flatten", f(&[("list", List)], collections::flatten)),
    ("floor", f(&[("num", Num)], numeric::floor)),
    (
        "format",
        v(&[("format", Str)], ("args", Any), format::format),
    ),
    (
        "formatlist",
        v(&[("format", Str)], ("args", Any), format::formatlist),
    ),
    (
        "indent",
        f(&[("spaces", Num), ("str", Str)], strings::indent),
    ),
    (
        "index",
        f(&[("list", List), ("value", Any)], collections::index),
    ),
    (
        "join",
        v(&[("separator", Str)], ("lists", ListStr), strings::join),
    ),
    ("jsondecode", f(&[("str", Str)], encoding::jsondecode)),
    ("jsonencode", f(&[("val", Any)], encoding::jsonencode)),
    ("keys", f(&[("inputMap", Obj)], collections::keys)),
    ("length", f(&[("value", NonNull)], collections::length)),
    ("log", f(&[("num", Num), ("base", Num)], numeric::log)),
    (
        "lookup",
        v(
            &[("inputMap", Obj), ("key", Str)],
            ("default", Any),
            collections::lookup,
        ),
    ),
    ("lower", f(&[("str", Str)], strings::lower)),
    ("max", v(&[], ("numbers", Num), numeric::max)),
    ("merge", v(&[], ("maps", Any), collections::merge)),
    ("min", v(&[], ("numbers", Num), numeric::min)),
    (
        "parseint",
        f(&[("number", Str), ("base", Num)], numeric::parseint),
    ),
    ("pathexpand", f(&[("path", Str)], fs::pathexpand)),
    ("pow", f(&[("num", Num), ("power", Num)], numeric::pow)),
    ("range", v(&[], ("params", Num), collections::range)),
    (
        "regex_replace",
        f(
            &[("str", Str), ("substr", Str), ("replace", Str)],
            strings::regex_replace,
        ),
    ),
    (
        "replace",
        f(
            &[("str", Str), ("substr", Str), ("replace", Str)],
            strings::replace,
        ),
    ),
    ("reverse", f(&[("list", List)], collections::reverse)),
    (
        "setintersection",
        v(
            &[("first_set", List)],
            ("other_sets", List),
            collections::setintersection,
        ),
    ),
    (
        "setproduct",
        v(&[], ("sets", List), collections::setproduct),
    ),
    (
        "setunion",
        v(
            &[("first_set", List)],
            ("other_sets", List),
            collections::setunion,
        ),
    ),
    ("signum", f(&[("num", Num)], numeric::signum)),
    (
        "slice",
        f(
            &[("list", List), ("start_index", Num), ("end_index", Num)],
            collections::slice,
        ),
    ),
    ("sort", f(&[("list", ListStr)], collections::sort)),
    (
        "split",
        f(&[("separator", Str), ("str", Str)], strings::split),
    ),
    ("strlen", f(&[("str", Str)], strings::strlen)),
    ("strrev", f(&[("str", Str)], strings::strrev)),
    (
        "substr",
        f(
            &[("str", Str), ("offset", Num), ("length", Num)],
            strings::substr,
        ),
    ),
    ("title", f(&[("str", Str)], strings::title)),
    ("tobool", f(&[("v", Any)], collections::tobool)),
    ("tolist", f(&[("v", Any)], collections::tolist)),
    ("tomap", f(&[("v", Any)], collections::tomap)),
    ("tonumber", f(&[("v", Any)], collections::tonumber)),
    ("toset", f(&[("v", Any)], collections::toset)),
    ("tostring", f(&[("v", Any)], collections::tostring)),
    ("trim", f(&[("str", Str), ("cutset", Str)], strings::trim)),
    (
        "trimprefix",
        f(&[("str", Str), ("prefix", Str)], strings::trimprefix),
    ),
    ("trimspace", f(&[("str", Str)], strings::trimspace)),
    (
        "trimsuffix",
        f(&[("str", Str), ("suffix", Str)], strings::trimsuffix),
    ),
    ("upper", f(&[("str", Str)], strings::upper)),
    ("urlencode", f(&[("str", Str)], encoding::urlencode)),
    ("values", f(&[("mapping", Obj)], collections::values)),
    (
        "zipmap",
        f(&[("keys", ListStr), ("values", List)], collections::zipmap),
    ),
];

/// Functions the evaluator implements itself (they need unevaluated
/// arguments or the evaluator).
const SPECIAL: &[&str] = &["can", "convert", "templatefile", "try"];

/// Every callable name, for suggestions.
pub(crate) fn names() -> Vec<&'static str> {
    FUNCTIONS
        .iter()
        .map(|(n, _)| *n)
        .chain(SPECIAL.iter().copied())
        .collect()
}

pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    FUNCTIONS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i].1)
}

fn convert_arg(name: &str, p: P, v: Value) -> Result<Value, String> {
    let bad = |m: String| format!("invalid value for \"{name}\" parameter: {m}");
    if v.is_null() && !matches!(p, P::Any) {
        return Err(bad("must not be null".into()));
    }
    match p {
        P::Any | P::Some => Ok(v),
        P::Str => to_string(&v).map(Value::String).map_err(bad),
        P::Num => to_number(&v).map(Value::Number).map_err(bad),
        P::List => match v {
            Value::Array(_) => Ok(v),
            other => Err(bad(format!(
                "a list is required, got {}",
                type_name(&other)
            ))),
        },
        P::ListStr => match v {
            Value::Array(items) => items
                .iter()
                .map(|i| to_string(i).map(Value::String))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
                .map_err(|m| bad(format!("list of strings required: {m}"))),
            other => Err(bad(format!(
                "a list of strings is required, got {}",
                type_name(&other)
            ))),
        },
        P::Obj => match v {
            Value::Object(_) => Ok(v),
            other => Err(bad(format!(
                "a map or object is required, got {}",
                type_name(&other)
            ))),
        },
    }
}

/// "expects 1 argument (upper(str)), got 2".
pub(crate) fn arity_message(name: &str, spec: &Spec, got: usize) -> String {
    let n = spec.params.len();
    let expected = match spec.variadic {
        Some(_) => format!("at least {n}"),
        None => n.to_string(),
    };
    let names: Vec<&str> = spec.params.iter().map(|(p, _)| *p).collect();
    let sig = match spec.variadic {
        Some((vn, _)) if names.is_empty() => format!("{vn}..."),
        Some((vn, _)) => format!("{}, {vn}...", names.join(", ")),
        None => names.join(", "),
    };
    let plural = if n == 1 && spec.variadic.is_none() {
        ""
    } else {
        "s"
    };
    format!("expects {expected} argument{plural} ({name}({sig})), got {got}")
}

/// Checks the argument count, converts each argument and calls the function.
pub(crate) fn call(
    name: &str,
    spec: &Spec,
    ctx: &FnCtx,
    args: Vec<Value>,
) -> Result<Value, String> {
    let n = spec.params.len();
    if args.len() < n || (spec.variadic.is_none() && args.len() > n) {
        return Err(arity_message(name, spec, args.len()));
    }
    let mut converted = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        let (pname, p) = match spec.params.get(i) {
            Some(p) => *p,
            None => spec.variadic.unwrap_or(("arg", P::Any)),
        };
        converted.push(convert_arg(pname, p, a)?);
    }
    (spec.imp)(ctx, converted)
}

/// A path as file functions see it: relative paths start at `base_dir`.
pub(crate) fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// Argument accessors for implementations (arguments are already converted).
pub(crate) fn str_arg(args: &[Value], i: usize) -> &str {
    match args.get(i) {
        Some(Value::String(s)) => s,
        _ => "",
    }
}

pub(crate) fn num_arg(args: &[Value], i: usize) -> f64 {
    match args.get(i) {
        Some(Value::Number(n)) => crate::value::f64_of(n),
        _ => 0.0,
    }
}

/// A whole-number argument.
pub(crate) fn int_arg(args: &[Value], i: usize, what: &str) -> Result<i64, String> {
    match args.get(i) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("{what} must be a whole number")),
        _ => Err(format!("{what} is required")),
    }
}

pub(crate) fn list_arg(args: &[Value], i: usize) -> &[Value] {
    match args.get(i) {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        assert!(names().contains(&"try"));
    }
}
