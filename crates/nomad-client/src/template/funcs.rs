//! Template functions (consul-template's names and semantics).

use super::{err, s, Context, Val};
use crate::error::ClientError;

fn arity(f: &str, args: &[Val], n: usize) -> Result<(), ClientError> {
    if args.len() != n {
        return Err(err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

pub(super) fn call(f: &str, args: Vec<Val>, ctx: &Context<'_>) -> Result<Val, ClientError> {
    let cmp = |a: &Val, b: &Val| -> std::cmp::Ordering {
        match (a, b) {
            (Val::Int(x), Val::Int(y)) => x.cmp(y),
            _ => s(a).cmp(&s(b)),
        }
    };
    Ok(match f {
        "env" => {
            arity(f, &args, 1)?;
            Val::Str(ctx.env.get(&s(&args[0])).cloned().unwrap_or_default())
        }
        "file" => {
            arity(f, &args, 1)?;
            Val::Str((ctx.read_file)(&s(&args[0])).map_err(err)?)
        }
        "split" => {
            arity(f, &args, 2)?;
            let (sep, text) = (s(&args[0]), s(&args[1]));
            if text.is_empty() {
                Val::List(vec![])
            } else {
                Val::List(text.split(sep.as_str()).map(|x| Val::Str(x.into())).collect())
            }
        }
        "join" => {
            arity(f, &args, 2)?;
            let sep = s(&args[0]);
            match &args[1] {
                Val::List(l) => Val::Str(l.iter().map(s).collect::<Vec<_>>().join(&sep)),
                other => Val::Str(s(other)),
            }
        }
        "toUpper" => Val::Str(s(args.first().unwrap_or(&Val::Nil)).to_uppercase()),
        "toLower" => Val::Str(s(args.first().unwrap_or(&Val::Nil)).to_lowercase()),
        "trimSpace" => Val::Str(s(args.first().unwrap_or(&Val::Nil)).trim().to_string()),
        "replaceAll" => {
            arity(f, &args, 3)?;
            Val::Str(s(&args[2]).replace(&s(&args[0]), &s(&args[1])))
        }
        "contains" => {
            arity(f, &args, 2)?;
            Val::Bool(s(&args[1]).contains(&s(&args[0])))
        }
        "hasPrefix" => {
            arity(f, &args, 2)?;
            Val::Bool(s(&args[1]).starts_with(&s(&args[0])))
        }
        "hasSuffix" => {
            arity(f, &args, 2)?;
            Val::Bool(s(&args[1]).ends_with(&s(&args[0])))
        }
        "eq" => {
            if args.len() < 2 {
                return Err(err("eq needs two arguments"));
            }
            Val::Bool(args[1..].iter().any(|b| cmp(&args[0], b).is_eq()))
        }
        "ne" => {
            arity(f, &args, 2)?;
            Val::Bool(!cmp(&args[0], &args[1]).is_eq())
        }
        "lt" => {
            arity(f, &args, 2)?;
            Val::Bool(cmp(&args[0], &args[1]).is_lt())
        }
        "gt" => {
            arity(f, &args, 2)?;
            Val::Bool(cmp(&args[0], &args[1]).is_gt())
        }
        "not" => {
            arity(f, &args, 1)?;
            Val::Bool(!args[0].truthy())
        }
        "and" => args
            .iter()
            .find(|a| !a.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Val::Nil),
        "or" => args
            .iter()
            .find(|a| a.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Val::Nil),
        "len" => {
            arity(f, &args, 1)?;
            Val::Int(match &args[0] {
                Val::List(l) => l.len() as i64,
                Val::Map(m) => m.len() as i64,
                other => s(other).len() as i64,
            })
        }
        "index" => {
            arity(f, &args, 2)?;
            match (&args[0], &args[1]) {
                (Val::List(l), Val::Int(i)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| l.get(i).cloned())
                    .ok_or_else(|| err(format!("index {i} out of range")))?,
                (Val::Map(m), k) => m.get(&s(k)).cloned().unwrap_or(Val::Nil),
                _ => return Err(err("can't index that")),
            }
        }
        "parseInt" => {
            arity(f, &args, 1)?;
            let t = s(&args[0]);
            Val::Int(t.trim().parse().map_err(|_| err(format!("parseInt: bad number {t:?}")))?)
        }
        "print" => Val::Str(args.iter().map(s).collect::<Vec<_>>().join("")),
        "println" => Val::Str(format!(
            "{}\n",
            args.iter().map(s).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let fmt = s(args.first().ok_or_else(|| err("printf needs a format"))?);
            Val::Str(printf(&fmt, &args[1..]))
        }
        "key" | "keyOrDefault" | "ls" | "tree" | "service" | "services" | "secret"
        | "secrets" | "nomadService" | "nomadServices" | "nomadVar" | "nomadVarList"
        | "nomadVarExists" | "connect" | "caRoots" | "caLeaf" | "datacenters" | "node"
        | "nodes" => {
            return Err(err(format!(
                "function {f:?} needs Consul, Vault or Nomad services, which this client does not provide"
            )))
        }
        other => return Err(err(format!("function {other:?} not defined"))),
    })
}

fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('q') => out.push_str(&format!("{:?}", s(it.next().unwrap_or(&Val::Nil)))),
            Some(_) => out.push_str(&s(it.next().unwrap_or(&Val::Nil))),
            None => out.push('%'),
        }
    }
    out
}
