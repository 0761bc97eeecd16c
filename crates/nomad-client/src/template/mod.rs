//! Templates: the subset of Go's `text/template` (with consul-template's
//! functions) that Nomad jobs use without Consul or Vault.
//!
//! Why our own engine: the Rust crates that implement Go template syntax
//! are either unmaintained or implement Go's engine without the
//! consul-template function set, trim markers and custom delimiters that
//! job templates depend on; the subset needed here is small.
//!
//! Supported: text and `{{ … }}` actions with `{{-`/`-}}` trimming and
//! custom delimiters; comments `{{/* … */}}`; pipelines with `|`,
//! parentheses, string/raw-string/number/bool literals, `.`, `.Field`,
//! `$var`; `{{ if }}`/`{{ else if }}`/`{{ else }}`, `{{ range }}` (with
//! `$e :=` and `$i, $e :=`), `{{ with }}`, `{{ end }}`; functions `env`,
//! `file`, `split`, `join`, `toUpper`, `toLower`, `trimSpace`, `replaceAll`,
//! `contains`, `hasPrefix`, `hasSuffix`, `eq`, `ne`, `lt`, `gt`, `not`,
//! `and`, `or`, `len`, `index`, `printf` (`%s %d %v %q %%`), `print`,
//! `println`, `parseInt`, `sprig_default`/`or`-style fallbacks via `or`.
//! Consul, Vault and Nomad-service functions (`key`, `service`, `secret`,
//! `nomadService`, …) fail with an error naming them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ClientError;

mod funcs;
mod task;

use funcs::call;
pub use task::{
    next_change, render_task_templates, resume_task_templates, Change, Watcher, POLL_INTERVAL,
};

/// A value inside a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `nil`.
    Nil,
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A list.
    List(Vec<Val>),
    /// A map.
    Map(BTreeMap<String, Val>),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Str(s) => !s.is_empty(),
            Val::Int(i) => *i != 0,
            Val::Bool(b) => *b,
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
        }
    }

    fn render(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::List(l) => format!(
                "[{}]",
                l.iter().map(Val::render).collect::<Vec<_>>().join(" ")
            ),
            Val::Map(m) => format!(
                "map[{}]",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", v.render()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

/// What functions can see.
pub struct Context<'a> {
    /// The task's environment (`env "X"`).
    pub env: &'a BTreeMap<String, String>,
    /// Reads a file for `file "path"`; refuses paths outside the sandbox.
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Int(i64),
    Ident(String),
    Field(String),
    Dot,
    Var(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Lit(Val),
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Sub(Pipeline),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Pipeline {
    decl: Vec<String>,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Out(Pipeline),
    If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

pub(super) fn err(msg: impl Into<String>) -> ClientError {
    ClientError::Invalid(format!("template: {}", msg.into()))
}

/// Renders `src` with delimiters `left`/`right` (empty: `{{`/`}}`).
pub fn render(
    src: &str,
    left: &str,
    right: &str,
    ctx: &Context<'_>,
) -> Result<String, ClientError> {
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let items = split_actions(src, left, right)?;
    let mut pos = 0;
    let (nodes, stop) = parse_list(&items, &mut pos)?;
    if let Some(s) = stop {
        return Err(err(format!("unexpected {{{{{s}}}}}")));
    }
    let mut out = String::new();
    let mut vars: Vec<(String, Val)> = Vec::new();
    exec(&nodes, &Val::Nil, ctx, &mut vars, &mut out, 0)?;
    Ok(out)
}

enum Item {
    Text(String),
    Action(String),
}

fn split_actions(src: &str, left: &str, right: &str) -> Result<Vec<Item>, ClientError> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(i) = rest.find(left) {
        let mut text = &rest[..i];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[i + left.len()..];
        let (body_start, trim_prev) = match after.strip_prefix("- ") {
            Some(_) => (2, true),
            None if after.starts_with("-\t") || after.starts_with("-\n") => (2, true),
            None => (0, false),
        };
        let text = if trim_prev { text.trim_end() } else { text };
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let body_and_rest = &after[body_start..];
        let j = body_and_rest
            .find(right)
            .ok_or_else(|| err("unclosed action"))?;
        let mut body = &body_and_rest[..j];
        trim_next = false;
        if let Some(b) = body
            .strip_suffix(" -")
            .or_else(|| body.strip_suffix("\t-"))
            .or_else(|| body.strip_suffix("\n-"))
        {
            body = b;
            trim_next = true;
        }
        let t = body.trim();
        if !(t.starts_with("/*") && t.ends_with("*/")) {
            items.push(Item::Action(t.to_string()));
        }
        rest = &body_and_rest[j + right.len()..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        items.push(Item::Text(text.to_string()));
    }
    Ok(items)
}

/// Parses nodes until `end`/`else` (returned as the stop keyword).
fn parse_list(items: &[Item], pos: &mut usize) -> Result<(Vec<Node>, Option<String>), ClientError> {
    let mut nodes = Vec::new();
    while *pos < items.len() {
        let item = &items[*pos];
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(a) => {
                let (kw, rest) = match a.split_once(char::is_whitespace) {
                    Some((k, r)) => (k, r.trim()),
                    None => (a.as_str(), ""),
                };
                match kw {
                    "end" => return Ok((nodes, Some("end".into()))),
                    "else" => return Ok((nodes, Some(format!("else {rest}").trim().to_string()))),
                    "if" => {
                        let mut branches = vec![];
                        let mut cond = parse_pipeline(rest)?;
                        let else_body;
                        loop {
                            let (body, stop) = parse_list(items, pos)?;
                            branches.push((cond, body));
                            match stop.as_deref() {
                                Some("end") => {
                                    else_body = vec![];
                                    break;
                                }
                                Some("else") => {
                                    let (b, s) = parse_list(items, pos)?;
                                    if s.as_deref() != Some("end") {
                                        return Err(err("missing {{end}} after {{else}}"));
                                    }
                                    else_body = b;
                                    break;
                                }
                                Some(s) if s.starts_with("else if ") => {
                                    cond = parse_pipeline(&s["else if ".len()..])?;
                                }
                                _ => return Err(err("missing {{end}} for {{if}}")),
                            }
                        }
                        nodes.push(Node::If(branches, else_body));
                    }
                    "range" | "with" => {
                        let p = parse_pipeline(rest)?;
                        let (body, stop) = parse_list(items, pos)?;
                        let else_body = match stop.as_deref() {
                            Some("end") => vec![],
                            Some("else") => {
                                let (b, s) = parse_list(items, pos)?;
                                if s.as_deref() != Some("end") {
                                    return Err(err(format!(
                                        "missing {{{{end}}}} for {{{{{kw}}}}}"
                                    )));
                                }
                                b
                            }
                            _ => return Err(err(format!("missing {{{{end}}}} for {{{{{kw}}}}}"))),
                        };
                        nodes.push(if kw == "range" {
                            Node::Range(p, body, else_body)
                        } else {
                            Node::With(p, body, else_body)
                        });
                    }
                    "define" | "template" | "block" => {
                        return Err(err(format!("{{{{{kw}}}}} is not supported")))
                    }
                    _ => nodes.push(Node::Out(parse_pipeline(a)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn tokenize(s: &str) -> Result<Vec<Tok>, ClientError> {
    let mut toks = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1
            }
            ':' if cs.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2
            }
            '=' => {
                toks.push(Tok::Declare);
                i += 1
            }
            '"' => {
                let mut out = String::new();
                i += 1;
                loop {
                    let Some(&c) = cs.get(i) else {
                        return Err(err("unterminated string"));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = cs.get(i).copied().ok_or_else(|| err("bad escape"))?;
                            i += 1;
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => out.push(c),
                    }
                }
                toks.push(Tok::Str(out));
            }
            '`' => {
                let start = i + 1;
                let end = cs[start..]
                    .iter()
                    .position(|c| *c == '`')
                    .ok_or_else(|| err("unterminated raw string"))?;
                toks.push(Tok::Str(cs[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '.' | '$' => {
                let start = i;
                i += 1;
                while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_' || cs[i] == '.') {
                    i += 1;
                }
                let word: String = cs[start..i].iter().collect();
                if word == "." {
                    toks.push(Tok::Dot);
                } else if c == '.' {
                    toks.push(Tok::Field(word[1..].to_string()));
                } else {
                    toks.push(Tok::Var(word));
                }
            }
            c if c.is_ascii_digit()
                || (c == '-' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < cs.len() && cs[i].is_ascii_digit() {
                    i += 1;
                }
                let n: String = cs[start..i].iter().collect();
                toks.push(Tok::Int(
                    n.parse().map_err(|_| err(format!("bad number {n}")))?,
                ));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Ident(cs[start..i].iter().collect()));
            }
            other => return Err(err(format!("unexpected character {other:?}"))),
        }
    }
    Ok(toks)
}

fn parse_pipeline(s: &str) -> Result<Pipeline, ClientError> {
    let toks = tokenize(s)?;
    let mut pos = 0;
    let p = pipeline_from(&toks, &mut pos, true)?;
    if pos != toks.len() {
        return Err(err(format!("unexpected tokens in {s:?}")));
    }
    Ok(p)
}

fn pipeline_from(toks: &[Tok], pos: &mut usize, top: bool) -> Result<Pipeline, ClientError> {
    let mut p = Pipeline::default();
    if top {
        // `$a :=` or `$a, $b :=`
        let mut j = *pos;
        let mut names = vec![];
        while let Some(Tok::Var(v)) = toks.get(j) {
            names.push(v.clone());
            j += 1;
            if toks.get(j) == Some(&Tok::Comma) {
                j += 1;
            } else {
                break;
            }
        }
        if !names.is_empty() && toks.get(j) == Some(&Tok::Declare) {
            p.decl = names;
            *pos = j + 1;
        }
    }
    let mut cmd = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t {
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err(err("missing command before |"));
                }
                p.cmds.push(std::mem::take(&mut cmd));
            }
            Tok::RParen if !top => {
                break;
            }
            Tok::LParen => cmd.push(Arg::Sub(pipeline_from(toks, pos, false)?)),
            Tok::Str(s) => cmd.push(Arg::Lit(Val::Str(s.clone()))),
            Tok::Int(n) => cmd.push(Arg::Lit(Val::Int(*n))),
            Tok::Ident(id) => cmd.push(match id.as_str() {
                "true" => Arg::Lit(Val::Bool(true)),
                "false" => Arg::Lit(Val::Bool(false)),
                "nil" => Arg::Lit(Val::Nil),
                _ => Arg::Func(id.clone()),
            }),
            Tok::Dot => cmd.push(Arg::Dot),
            Tok::Field(f) => cmd.push(Arg::Field(f.split('.').map(String::from).collect())),
            Tok::Var(v) => {
                let mut parts = v.split('.');
                let name = parts.next().unwrap_or("$").to_string();
                cmd.push(Arg::Var(name, parts.map(String::from).collect()));
            }
            other => return Err(err(format!("unexpected {other:?}"))),
        }
    }
    if !cmd.is_empty() {
        p.cmds.push(cmd);
    }
    if p.cmds.is_empty() {
        return Err(err("empty pipeline"));
    }
    Ok(p)
}

fn field(v: &Val, path: &[String]) -> Result<Val, ClientError> {
    let mut cur = v.clone();
    for f in path.iter().filter(|f| !f.is_empty()) {
        cur = match cur {
            Val::Map(m) => m.get(f).cloned().unwrap_or(Val::Nil),
            Val::Nil => Val::Nil,
            other => {
                return Err(err(format!(
                    "can't evaluate field {f} in {}",
                    other.render()
                )))
            }
        };
    }
    Ok(cur)
}

fn eval_arg(
    a: &Arg,
    dot: &Val,
    ctx: &Context<'_>,
    vars: &mut Vec<(String, Val)>,
) -> Result<Val, ClientError> {
    match a {
        Arg::Lit(v) => Ok(v.clone()),
        Arg::Dot => Ok(dot.clone()),
        Arg::Field(p) => field(dot, p),
        Arg::Var(name, p) => {
            let v = vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| err(format!("undefined variable {name}")))?;
            field(&v, p)
        }
        Arg::Func(f) => call(f, vec![], ctx),
        Arg::Sub(p) => eval_pipeline(p, dot, ctx, vars),
    }
}

fn eval_pipeline(
    p: &Pipeline,
    dot: &Val,
    ctx: &Context<'_>,
    vars: &mut Vec<(String, Val)>,
) -> Result<Val, ClientError> {
    let mut piped: Option<Val> = None;
    for cmd in &p.cmds {
        let v = match &cmd[0] {
            Arg::Func(f) => {
                let mut args = Vec::with_capacity(cmd.len());
                for a in &cmd[1..] {
                    args.push(eval_arg(a, dot, ctx, vars)?);
                }
                if let Some(pv) = piped.take() {
                    args.push(pv);
                }
                call(f, args, ctx)?
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(err("can't give arguments to a non-function"));
                }
                eval_arg(first, dot, ctx, vars)?
            }
        };
        piped = Some(v);
    }
    Ok(piped.unwrap_or(Val::Nil))
}

pub(super) fn s(v: &Val) -> String {
    match v {
        Val::Nil => String::new(),
        other => other.render(),
    }
}

fn exec(
    nodes: &[Node],
    dot: &Val,
    ctx: &Context<'_>,
    vars: &mut Vec<(String, Val)>,
    out: &mut String,
    depth: usize,
) -> Result<(), ClientError> {
    if depth > 64 {
        return Err(err("nesting too deep"));
    }
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Out(p) => {
                let v = eval_pipeline(p, dot, ctx, vars)?;
                if p.decl.is_empty() {
                    out.push_str(&v.render());
                } else {
                    for d in &p.decl {
                        vars.push((d.clone(), v.clone()));
                    }
                }
            }
            Node::If(branches, else_body) => {
                let mark = vars.len();
                let mut done = false;
                for (cond, body) in branches {
                    if eval_pipeline(cond, dot, ctx, vars)?.truthy() {
                        exec(body, dot, ctx, vars, out, depth + 1)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    exec(else_body, dot, ctx, vars, out, depth + 1)?;
                }
                vars.truncate(mark);
            }
            Node::With(p, body, else_body) => {
                let mark = vars.len();
                let v = eval_pipeline(p, dot, ctx, vars)?;
                if v.truthy() {
                    for d in &p.decl {
                        vars.push((d.clone(), v.clone()));
                    }
                    exec(body, &v, ctx, vars, out, depth + 1)?;
                } else {
                    exec(else_body, dot, ctx, vars, out, depth + 1)?;
                }
                vars.truncate(mark);
            }
            Node::Range(p, body, else_body) => {
                let mark = vars.len();
                let v = eval_pipeline(p, dot, ctx, vars)?;
                let items: Vec<(Val, Val)> = match v {
                    Val::List(l) => l
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Val::Int(i as i64), x))
                        .collect(),
                    Val::Map(m) => m.into_iter().map(|(k, x)| (Val::Str(k), x)).collect(),
                    Val::Int(n) => (0..n.max(0)).map(|i| (Val::Int(i), Val::Int(i))).collect(),
                    Val::Nil => vec![],
                    other => {
                        return Err(err(format!("range can't iterate over {}", other.render())))
                    }
                };
                if items.is_empty() {
                    exec(else_body, dot, ctx, vars, out, depth + 1)?;
                }
                for (k, x) in items {
                    let inner = vars.len();
                    match p.decl.as_slice() {
                        [e] => vars.push((e.clone(), x.clone())),
                        [i, e] => {
                            vars.push((i.clone(), k));
                            vars.push((e.clone(), x.clone()));
                        }
                        _ => {}
                    }
                    exec(body, &x, ctx, vars, out, depth + 1)?;
                    vars.truncate(inner);
                }
                vars.truncate(mark);
            }
        }
    }
    Ok(())
}

/// Parses an env file (`KEY=value` lines, `#` comments, optional
/// `export `, single or double quotes) as `env = true` templates are read.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, ClientError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| err(format!("env template line {}: missing '='", n + 1)))?;
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(err(format!("env template line {}: bad key {k:?}", n + 1)));
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].replace("\\n", "\n")
        } else {
            v.to_string()
        };
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

/// A `file` reader confined to `sandbox`, resolving relative paths from
/// `base`.
pub fn sandboxed_reader(sandbox: &Path, base: &Path) -> impl Fn(&str) -> Result<String, String> {
    let sandbox = sandbox.to_path_buf();
    let base = base.to_path_buf();
    move |p: &str| {
        let full = base.join(p);
        let real = full
            .canonicalize()
            .map_err(|e| format!("file {p:?}: {e}"))?;
        let root = sandbox
            .canonicalize()
            .map_err(|e| format!("file {p:?}: {e}"))?;
        if !real.starts_with(&root) {
            return Err(format!("file {p:?} is outside the allocation directory"));
        }
        std::fs::read_to_string(&real).map_err(|e| format!("file {p:?}: {e}"))
    }
}

#[cfg(test)]
mod tests;
