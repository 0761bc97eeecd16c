//! Expression evaluation over hcl-edit's syntax tree.
//!
//! hcl-rs's evaluator is not used for expressions: it cannot report positions,
//! its function signature cannot reach the jobspec's directory, `try`/`can`
//! need unevaluated arguments, and its integer arithmetic can overflow. This
//! evaluator works on hcl-edit nodes (which keep their byte spans) and produces
//! [`hcl::Value`]s.

mod ops;
mod template;

use std::cell::Cell;
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;

use hcl::{Map, Value};
use hcl_edit::expr::{Expression, ForExpr, FuncCall, ObjectKey};
use hcl_edit::Span as _;

use crate::diag::{Diagnostic, Span};
use crate::functions::{self, FnCtx};
use crate::source::SourceMap;
use crate::suggest::did_you_mean;
use crate::value::{sorted, type_name};

/// How deep evaluation may nest.
const MAX_DEPTH: usize = 200;

/// Root names that only a Nomad client can resolve; kept as `${...}` text.
pub(crate) const RUNTIME_ROOTS: &[&str] = &["attr", "node", "meta", "env", "device"];

/// Why evaluation stopped.
#[derive(Debug)]
pub(crate) enum EvalError {
    /// A new problem to report.
    Diag(Box<Diagnostic>),
    /// The expression depends on something that already failed and was reported.
    Poison,
}

impl From<Diagnostic> for EvalError {
    fn from(d: Diagnostic) -> Self {
        EvalError::Diag(Box::new(d))
    }
}

pub(crate) type EResult<T> = Result<T, EvalError>;

/// A named value that is either known or failed (already reported).
pub(crate) type Slot = Option<Value>;

/// How much work one evaluation may do: one unit per expression evaluated,
/// plus the size of every value copied out of a variable. Keeps hostile input
/// (exponentially growing locals, huge nested for-expressions) bounded.
const BUDGET: u64 = 32 << 20;

/// A work allowance shared by everything evaluated for one document.
#[derive(Debug, Clone)]
pub(crate) struct Budget(Rc<Cell<u64>>);

impl Default for Budget {
    fn default() -> Self {
        Budget(Rc::new(Cell::new(BUDGET)))
    }
}

impl Budget {
    /// Spends `units`; false when the allowance is used up.
    fn spend(&self, units: u64) -> bool {
        let left = self.0.get();
        self.0.set(left.saturating_sub(units));
        left >= units
    }
}

/// A rough size of a value (bytes of text plus a fixed cost per node),
/// computed only up to `cap`.
fn weight(v: &Value, cap: u64) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(8);
        match v {
            Value::String(s) => total = total.saturating_add(s.len() as u64),
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(o) => {
                for (k, x) in o {
                    total = total.saturating_add(k.len() as u64);
                    stack.push(x);
                }
            }
            _ => {}
        }
        if total > cap {
            break;
        }
    }
    total
}

/// What the root names `var` and `local` resolve to, and whether runtime
/// references are passed through as text.
#[derive(Debug, Default)]
pub(crate) struct Roots {
    /// The work allowance (see [`Budget`]).
    pub(crate) budget: Budget,
    /// `None`: `var` is not available here.
    pub(crate) vars: Option<Map<String, Slot>>,
    /// `None`: `local` is not available here.
    pub(crate) locals: Option<Map<String, Slot>>,
    /// Keep `${attr.*}`, `${NOMAD_*}`, ... as text instead of failing.
    pub(crate) runtime: bool,
}

pub(crate) struct Evaluator<'a> {
    pub(crate) src: Rc<SourceMap>,
    pub(crate) roots: &'a Roots,
    pub(crate) base_dir: &'a Path,
    bindings: Vec<(String, Value)>,
    depth: usize,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(src: Rc<SourceMap>, roots: &'a Roots, base_dir: &'a Path) -> Self {
        Evaluator {
            src,
            roots,
            base_dir,
            bindings: Vec::new(),
            depth: 0,
        }
    }

    pub(crate) fn span(&self, range: Option<Range<usize>>) -> Span {
        self.src.span(range)
    }

    pub(crate) fn error(&self, range: Option<Range<usize>>, msg: impl Into<String>) -> EvalError {
        Diagnostic::new(self.span(range), msg).into()
    }

    pub(crate) fn error_hint(
        &self,
        range: Option<Range<usize>>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) -> EvalError {
        let mut d = Diagnostic::new(self.span(range), msg);
        d.hint = hint;
        d.into()
    }

    /// Runs `f` with extra names bound (for-expression and iterator variables).
    pub(crate) fn with_bindings<T>(
        &mut self,
        binds: Vec<(String, Value)>,
        f: impl FnOnce(&mut Self) -> EResult<T>,
    ) -> EResult<T> {
        let mark = self.bindings.len();
        self.bindings.extend(binds);
        let r = f(self);
        self.bindings.truncate(mark);
        r
    }

    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Evaluates one expression.
    pub(crate) fn expr(&mut self, e: &Expression) -> EResult<Value> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(e.span(), "expression nesting is too deep"));
        }
        if !self.roots.budget.spend(1) {
            return Err(self.too_expensive(e));
        }
        self.depth += 1;
        let r = self.expr_inner(e);
        self.depth -= 1;
        if let (Ok(v), Expression::Variable(_) | Expression::Traversal(_)) = (&r, e) {
            let left = self.roots.budget.0.get();
            if !self.roots.budget.spend(weight(v, left)) {
                return Err(self.too_expensive(e));
            }
        }
        r
    }

    fn too_expensive(&self, e: &Expression) -> EvalError {
        self.error(
            e.span(),
            "evaluation is too expensive: the document builds values that are too large or repeats work too often",
        )
    }

    fn expr_inner(&mut self, e: &Expression) -> EResult<Value> {
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(Value::Number(*n.value())),
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for item in a.iter() {
                    out.push(self.expr(item)?);
                }
                Ok(Value::Array(out))
            }
            Expression::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(ke) => self.object_key(ke)?,
                    };
                    let value = self.expr(v.expr())?;
                    out.insert(key, value);
                }
                Ok(sorted(out))
            }
            Expression::StringTemplate(t) => self.template(t, t.span()),
            Expression::HeredocTemplate(h) => self.template(&h.template, h.span()),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(v) => self.variable(v.as_str(), v.span()),
            Expression::Conditional(c) => {
                let cond = self.expr(&c.cond_expr)?;
                let cond = crate::convert::to_bool(&cond).map_err(|m| {
                    self.error(c.cond_expr.span(), format!("invalid condition: {m}"))
                })?;
                if cond {
                    self.expr(&c.true_expr)
                } else {
                    self.expr(&c.false_expr)
                }
            }
            Expression::FuncCall(call) => self.call(call),
            Expression::Traversal(t) => self.traversal(t),
            Expression::UnaryOp(u) => self.unary(u),
            Expression::BinaryOp(b) => self.binary(b),
            Expression::ForExpr(f) => self.for_expr(f),
        }
    }

    fn object_key(&mut self, ke: &Expression) -> EResult<String> {
        // A bare `name` or `"name"` key is literal; anything else is evaluated.
        if let Expression::Variable(v) = ke {
            return Ok(v.as_str().to_string());
        }
        let k = self.expr(ke)?;
        crate::convert::to_string(&k)
            .map_err(|m| self.error(ke.span(), format!("invalid object key: {m}")))
    }

    /// Whether an unbound root name is a runtime reference, kept as text.
    ///
    /// As in Nomad, every name but `var` and `local` is one (`${NOMAD_*}`,
    /// `${attr.*}`, `${HOME}`, ...), except a dotted reference whose root looks
    /// like a misspelling of `var`, `local` or a for/iterator variable: that
    /// could never resolve on a client, so it is an error instead.
    fn is_runtime_root(&self, name: &str, dotted: bool) -> bool {
        if !self.roots.runtime || self.binding(name).is_some() || name == "var" || name == "local" {
            return false;
        }
        if name.starts_with("NOMAD_") || RUNTIME_ROOTS.contains(&name) {
            return true;
        }
        !(dotted && self.near_miss(name).is_some())
    }

    /// A known root name that `name` is one or two typos away from.
    fn near_miss(&self, name: &str) -> Option<String> {
        if !name.chars().any(|c| c.is_lowercase()) {
            return None;
        }
        let mut candidates: Vec<&str> = self.bindings.iter().map(|(n, _)| n.as_str()).collect();
        if self.roots.vars.is_some() {
            candidates.push("var");
        }
        if self.roots.locals.is_some() {
            candidates.push("local");
        }
        candidates
            .into_iter()
            .find(|c| {
                let limit = if c.chars().count() <= 4 { 1 } else { 2 };
                crate::suggest::distance(name, c) <= limit
            })
            .map(str::to_string)
    }

    /// Whether an expression is a reference only a client can resolve.
    pub(crate) fn is_runtime_ref(&self, e: &Expression) -> bool {
        match e {
            Expression::Variable(v) => self.is_runtime_root(v.as_str(), false),
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) => self.is_runtime_root(v.as_str(), true),
                _ => false,
            },
            _ => false,
        }
    }

    /// The `${...}` text of a runtime reference.
    fn runtime_text(&self, range: Option<Range<usize>>) -> Value {
        let text = range
            .as_ref()
            .and_then(|r| self.src.slice(r))
            .unwrap_or_default();
        Value::String(format!("${{{text}}}"))
    }

    fn variable(&mut self, name: &str, range: Option<Range<usize>>) -> EResult<Value> {
        if let Some(v) = self.binding(name) {
            return Ok(v.clone());
        }
        match name {
            "var" | "local" => self.whole_root(name, range),
            _ if self.is_runtime_root(name, false) => Ok(self.runtime_text(range)),
            _ => Err(self.unknown_root(name, range)),
        }
    }

    fn root_map(&self, root: &str) -> Option<&'a Map<String, Slot>> {
        match root {
            "var" => self.roots.vars.as_ref(),
            _ => self.roots.locals.as_ref(),
        }
    }

    fn whole_root(&self, root: &str, range: Option<Range<usize>>) -> EResult<Value> {
        let Some(map) = self.root_map(root) else {
            return Err(self.not_available(root, range));
        };
        let mut out = Map::new();
        for (k, slot) in map {
            match slot {
                Some(v) => {
                    out.insert(k.clone(), v.clone());
                }
                None => return Err(EvalError::Poison),
            }
        }
        Ok(sorted(out))
    }

    fn not_available(&self, root: &str, range: Option<Range<usize>>) -> EvalError {
        let what = if root == "var" {
            "input variables"
        } else {
            "local values"
        };
        self.error(range, format!("{what} ({root}.*) are not available here"))
    }

    /// `var.name` or `local.name`.
    pub(crate) fn named(
        &self,
        root: &str,
        name: &str,
        range: Option<Range<usize>>,
    ) -> EResult<Value> {
        let Some(map) = self.root_map(root) else {
            return Err(self.not_available(root, range));
        };
        match map.get(name) {
            Some(Some(v)) => Ok(v.clone()),
            Some(None) => Err(EvalError::Poison),
            None => {
                let names: Vec<&str> = map.keys().map(String::as_str).collect();
                let hint = did_you_mean(name, &names).map(|s| format!("did you mean {root}.{s}?"));
                let msg = if root == "var" {
                    format!("undeclared input variable \"{name}\" (var.{name}); declare it with a variable \"{name}\" block")
                } else {
                    format!("unknown local value \"{name}\" (local.{name})")
                };
                Err(self.error_hint(range, msg, hint))
            }
        }
    }

    fn unknown_root(&self, name: &str, range: Option<Range<usize>>) -> EvalError {
        let hint = self.near_miss(name).map(|s| format!("did you mean {s}?"));
        let mut valid = Vec::new();
        if self.roots.vars.is_some() {
            valid.push("var.<name>");
        }
        if self.roots.locals.is_some() {
            valid.push("local.<name>");
        }
        if self.roots.runtime {
            valid.push("runtime references such as attr.*, node.*, meta.*, env.* and NOMAD_*");
        }
        let msg = if valid.is_empty() {
            format!("unknown variable \"{name}\"; no variables are available here")
        } else {
            format!(
                "unknown variable \"{name}\"; valid here: {}",
                valid.join(", ")
            )
        };
        self.error_hint(range, msg, hint)
    }

    fn call(&mut self, call: &FuncCall) -> EResult<Value> {
        let name = call.name.name.as_str();
        let range = call.span();
        if !call.name.namespace.is_empty() {
            return Err(self.error(
                range,
                format!("namespaced function calls are not supported: {name}"),
            ));
        }
        let args: Vec<&Expression> = call.args.iter().collect();
        match name {
            "try" => return self.call_try(&args, range),
            "can" => {
                if args.len() != 1 {
                    return Err(self.error(range, "can: expects exactly one argument"));
                }
                return Ok(Value::Bool(self.expr(args[0]).is_ok()));
            }
            "convert" => {
                // `convert(value, type)`: the type is a type expression, not a value.
                let [value, ty] = args.as_slice() else {
                    return Err(
                        self.error(range, "convert: expects 2 arguments (convert(value, type))")
                    );
                };
                let ty = crate::convert::parse_type(ty)
                    .map_err(|m| self.error(ty.span(), format!("convert: {m}")))?;
                let v = self.expr(value)?;
                return crate::convert::convert(v, &ty).map_err(|m| {
                    self.error(range, format!("convert: cannot convert to {ty}: {m}"))
                });
            }
            "templatefile" => {
                let vals = self.call_args(call, &args)?;
                return self.templatefile(vals, range);
            }
            _ => {}
        }
        let Some(spec) = functions::lookup(name) else {
            let hint =
                did_you_mean(name, &functions::names()).map(|s| format!("did you mean {s}?"));
            return Err(self.error_hint(
                range,
                format!("call to unknown function \"{name}\""),
                hint,
            ));
        };
        if !call.args.expand_final() && spec.variadic.is_none() && args.len() > spec.params.len() {
            // Point at the first argument too many, as HCL does.
            let extra = args[spec.params.len()].span();
            let msg = functions::arity_message(name, spec, args.len());
            return Err(self.error(extra, format!("{name}: {msg}")));
        }
        let vals = self.call_args(call, &args)?;
        let ctx = FnCtx {
            base_dir: self.base_dir,
        };
        functions::call(name, spec, &ctx, vals)
            .map_err(|m| self.error(range, format!("{name}: {m}")))
    }

    fn call_args(&mut self, call: &FuncCall, args: &[&Expression]) -> EResult<Vec<Value>> {
        let mut vals = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let v = self.expr(a)?;
            if call.args.expand_final() && i + 1 == args.len() {
                match v {
                    Value::Array(items) => vals.extend(items),
                    other => {
                        return Err(self.error(
                            a.span(),
                            format!(
                                "the final argument before \"...\" must be a list, got {}",
                                type_name(&other)
                            ),
                        ))
                    }
                }
            } else {
                vals.push(v);
            }
        }
        Ok(vals)
    }

    fn call_try(&mut self, args: &[&Expression], range: Option<Range<usize>>) -> EResult<Value> {
        if args.is_empty() {
            return Err(self.error(range, "try: at least one argument is required"));
        }
        let mut last = None;
        for a in args {
            match self.expr(a) {
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
        }
        let detail = match last {
            Some(EvalError::Diag(d)) => format!(": the last one failed with: {}", d.message),
            _ => String::new(),
        };
        Err(self.error(range, format!("try: no expression succeeded{detail}")))
    }

    fn for_expr(&mut self, f: &ForExpr) -> EResult<Value> {
        let items = self.collection(&f.intro.collection_expr)?;
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str().to_string());
        let value_var = f.intro.value_var.as_str().to_string();
        let mut list = Vec::new();
        let mut obj: Map<String, Value> = Map::new();
        for (k, v) in items {
            let mut binds = Vec::with_capacity(2);
            if let Some(kv) = &key_var {
                binds.push((kv.clone(), k));
            }
            binds.push((value_var.clone(), v));
            let produced = self.with_bindings(binds, |ev| {
                if let Some(cond) = &f.cond {
                    let c = ev.expr(&cond.expr)?;
                    let keep = crate::convert::to_bool(&c).map_err(|m| {
                        ev.error(
                            cond.expr.span(),
                            format!("invalid for-expression condition: {m}"),
                        )
                    })?;
                    if !keep {
                        return Ok(None);
                    }
                }
                let key = match &f.key_expr {
                    Some(ke) => {
                        let k = ev.expr(ke)?;
                        Some(crate::convert::to_string(&k).map_err(|m| {
                            ev.error(ke.span(), format!("invalid for-expression key: {m}"))
                        })?)
                    }
                    None => None,
                };
                Ok(Some((key, ev.expr(&f.value_expr)?)))
            })?;
            match produced {
                None => {}
                Some((None, v)) => list.push(v),
                Some((Some(k), v)) => {
                    if f.grouping {
                        match obj.get_mut(&k) {
                            Some(Value::Array(group)) => group.push(v),
                            _ => {
                                obj.insert(k, Value::Array(vec![v]));
                            }
                        }
                    } else if obj.contains_key(&k) {
                        return Err(self.error(
                            f.key_expr.as_ref().and_then(|e| e.span()),
                            format!("duplicate key \"{k}\" in for expression; add \"...\" after the value to group values by key"),
                        ));
                    } else {
                        obj.insert(k, v);
                    }
                }
            }
        }
        if f.key_expr.is_some() {
            Ok(sorted(obj))
        } else {
            Ok(Value::Array(list))
        }
    }

    /// The (key, value) pairs of a list (index keys) or object (name keys).
    pub(crate) fn collection(&mut self, e: &Expression) -> EResult<Vec<(Value, Value)>> {
        match self.expr(e)? {
            Value::Array(items) => Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as u64), v))
                .collect()),
            Value::Object(o) => Ok(o.into_iter().map(|(k, v)| (Value::String(k), v)).collect()),
            other => Err(self.error(
                e.span(),
                format!(
                    "cannot iterate over a {}; a list, set, map or object is required",
                    type_name(&other)
                ),
            )),
        }
    }

    /// `templatefile(path, vars)`: renders an HCL template file (relative to
    /// the jobspec) that sees only `vars`. Not one of Nomad's functions; an
    /// extension (Terraform has it).
    fn templatefile(&mut self, vals: Vec<Value>, range: Option<Range<usize>>) -> EResult<Value> {
        let Ok([path, vars]) = <[Value; 2]>::try_from(vals) else {
            return Err(self.error(
                range,
                "templatefile: expects 2 arguments (templatefile(path, vars))",
            ));
        };
        let path = crate::convert::to_string(&path)
            .map_err(|m| self.error(range.clone(), format!("templatefile: invalid path: {m}")))?;
        let Value::Object(vars) = vars else {
            return Err(self.error(
                range,
                "templatefile: the second argument must be an object of variables",
            ));
        };
        let full = functions::resolve(self.base_dir, &path);
        let text = std::fs::read_to_string(&full).map_err(|e| {
            self.error(
                range.clone(),
                format!("templatefile: cannot read {}: {e}", full.display()),
            )
        })?;
        let map = Rc::new(SourceMap::new(full.display().to_string(), text));
        let tmpl = crate::parse::parse_template(&map).map_err(|d| {
            d.0.into_iter()
                .next()
                .map_or(EvalError::Poison, EvalError::from)
        })?;
        // The template sees only the variables passed to it (and runtime
        // references stay text, as in the jobspec).
        let roots = Roots {
            runtime: self.roots.runtime,
            budget: self.roots.budget.clone(),
            ..Roots::default()
        };
        let mut inner = Evaluator::new(map, &roots, self.base_dir);
        inner.depth = self.depth + 40;
        let binds: Vec<(String, Value)> = vars.into_iter().collect();
        inner
            .with_bindings(binds, |ev| ev.render_to_string(&tmpl))
            .map(Value::String)
    }
}
