//! Input variables: `variable "x" { type, default, description, sensitive,
//! validation { condition, error_message } }` and their values.
//!
//! Precedence, lowest first: `default`, `NOMAD_VAR_x`, each `-var-file` in
//! order, each `-var` in order. A variable left without a value is an error
//! naming it; a value for an undeclared variable is an error.

use std::path::Path;
use std::rc::Rc;

use hcl::{Map, Value};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block as EditBlock, Body as EditBody, Structure};
use hcl_edit::Span as _;

use crate::body::Sink;
use crate::convert::{convert, parse_type, to_bool, to_string, Type};
use crate::diag::{Diagnostic, Span};
use crate::eval::{EvalError, Evaluator, Roots, Slot};
use crate::refs::references;
use crate::source::SourceMap;
use crate::suggest::did_you_mean;
use crate::EvalOptions;

const VAR_ATTRS: &[&str] = &["type", "default", "description", "sensitive"];

struct Validation {
    condition: Expression,
    message: String,
    span: Span,
}

struct Decl {
    name: String,
    ty: Option<Type>,
    span: Span,
    validations: Vec<Validation>,
    /// The current value and where it came from.
    value: Option<(Value, Span)>,
    failed: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Evaluates an expression with functions but no variables.
pub(crate) fn eval_plain(
    map: &Rc<SourceMap>,
    base_dir: &Path,
    e: &Expression,
) -> Result<Value, EvalError> {
    let roots = Roots::default();
    let mut ev = Evaluator::new(Rc::clone(map), &roots, base_dir);
    ev.expr(e)
}

fn unknown_hint(name: &str, known: &[&str]) -> Option<String> {
    did_you_mean(name, known).map(|s| format!("did you mean \"{s}\"?"))
}

fn decode_decl(
    map: &Rc<SourceMap>,
    base_dir: &Path,
    b: &EditBlock,
    sink: &mut Sink,
) -> Option<Decl> {
    let here = map.span(b.ident.span());
    let [label] = b.labels.as_slice() else {
        sink.diag(Diagnostic::new(
            here,
            "a variable block needs exactly one label, its name (variable \"name\" { ... })",
        ));
        return None;
    };
    let name = label.as_str().to_string();
    if !is_identifier(&name) {
        sink.diag(Diagnostic::new(
            map.span(label.span()),
            format!("invalid variable name {name:?}: a name must start with a letter or underscore and may contain only letters, digits, underscores and dashes"),
        ));
    }
    let mut decl = Decl {
        name: name.clone(),
        ty: None,
        span: here,
        validations: Vec::new(),
        value: None,
        failed: false,
    };
    let mut default = None;
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "type" => match parse_type(&a.value) {
                    Ok(t) => decl.ty = Some(t),
                    Err(m) => {
                        sink.diag(Diagnostic::new(map.span(a.value.span()), format!("invalid type for variable \"{name}\": {m}")));
                        decl.failed = true;
                    }
                },
                "default" => default = Some(a),
                "description" | "sensitive" => {
                    if let Err(e) = eval_plain(map, base_dir, &a.value) {
                        sink.push(e);
                    }
                }
                other => sink.diag(
                    Diagnostic::new(
                        map.span(a.key.span()),
                        format!("unsupported argument \"{other}\" in variable \"{name}\"; valid arguments are type, default, description and sensitive, plus validation blocks"),
                    )
                    .with_hint_opt(unknown_hint(other, VAR_ATTRS)),
                ),
            },
            Structure::Block(v) if v.ident.as_str() == "validation" => {
                if let Some(val) = decode_validation(map, base_dir, &name, v, sink) {
                    decl.validations.push(val);
                }
            }
            Structure::Block(other) => sink.diag(Diagnostic::new(
                map.span(other.ident.span()),
                format!("unsupported block \"{}\" in variable \"{name}\"; only validation blocks are allowed", other.ident.as_str()),
            )),
        }
    }
    if let Some(a) = default {
        match eval_plain(map, base_dir, &a.value) {
            Ok(v) => {
                let span = map.span(a.value.span());
                match decl.ty.as_ref().map_or(Ok(v.clone()), |t| convert(v, t)) {
                    Ok(v) => {
                        if decl.ty.is_none() {
                            decl.ty = Type::of_default(&v);
                        }
                        decl.value = Some((v, span));
                    }
                    Err(m) => {
                        sink.diag(Diagnostic::new(
                            span,
                            format!("invalid default value for variable \"{name}\": {m}"),
                        ));
                        decl.failed = true;
                    }
                }
            }
            Err(e) => {
                sink.push(e);
                decl.failed = true;
            }
        }
    }
    Some(decl)
}

fn decode_validation(
    map: &Rc<SourceMap>,
    base_dir: &Path,
    name: &str,
    b: &EditBlock,
    sink: &mut Sink,
) -> Option<Validation> {
    let here = map.span(b.ident.span());
    let mut condition = None;
    let mut message = None;
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) if a.key.as_str() == "condition" => condition = Some(&a.value),
            Structure::Attribute(a) if a.key.as_str() == "error_message" => {
                match eval_plain(map, base_dir, &a.value).map(|v| to_string(&v)) {
                    Ok(Ok(m)) if !m.trim().is_empty() => message = Some(m),
                    Ok(Ok(_)) => sink.diag(Diagnostic::new(
                        map.span(a.value.span()),
                        "a validation error_message must not be empty",
                    )),
                    Ok(Err(m)) => sink.diag(Diagnostic::new(map.span(a.value.span()), format!("invalid error_message: {m}"))),
                    Err(e) => sink.push(e),
                }
            }
            Structure::Attribute(a) => sink.diag(Diagnostic::new(
                map.span(a.key.span()),
                format!("unsupported argument \"{}\" in a validation block; valid arguments are condition and error_message", a.key.as_str()),
            )),
            Structure::Block(other) => sink.diag(Diagnostic::new(
                map.span(other.ident.span()),
                format!("unsupported block \"{}\" in a validation block", other.ident.as_str()),
            )),
        }
    }
    let Some(condition) = condition else {
        sink.diag(Diagnostic::new(
            here,
            "a validation block needs a condition argument",
        ));
        return None;
    };
    let mut self_refs = 0;
    for r in references(condition) {
        if r.root == "var" && r.attr.as_deref() == Some(name) {
            self_refs += 1;
        } else if r.root == "var" || r.root == "local" {
            sink.diag(Diagnostic::new(
                map.span(r.range),
                format!("the condition for variable \"{name}\" can only refer to the variable itself, as var.{name}"),
            ));
            return None;
        }
    }
    if self_refs == 0 {
        sink.diag(Diagnostic::new(
            map.span(condition.span()),
            format!("the condition for variable \"{name}\" must refer to var.{name}"),
        ));
        return None;
    }
    let Some(message) = message else {
        sink.diag(Diagnostic::new(
            here,
            "a validation block needs an error_message argument",
        ));
        return None;
    };
    Some(Validation {
        condition: condition.clone(),
        message,
        span: here,
    })
}

trait HintOpt {
    fn with_hint_opt(self, hint: Option<String>) -> Self;
}

impl HintOpt for Diagnostic {
    fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// Collected declarations, in declaration order.
struct Decls(Vec<Decl>);

impl Decls {
    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|d| d.name.as_str()).collect()
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Decl> {
        self.0.iter_mut().find(|d| d.name == name)
    }

    /// Records a value for `name`, converting it to the declared type.
    fn assign(&mut self, name: &str, value: Value, span: Span, source: &str, sink: &mut Sink) {
        let known = self.names().join(", ");
        let hint = unknown_hint(name, &self.names());
        let Some(decl) = self.get_mut(name) else {
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known
            };
            sink.diag(
                Diagnostic::new(
                    span,
                    format!("a value for variable \"{name}\" was given {source}, but no variable \"{name}\" is declared (declared: {known})"),
                )
                .with_hint_opt(hint),
            );
            return;
        };
        let converted = match &decl.ty {
            Some(t) => convert(value, t),
            None => Ok(value),
        };
        match converted {
            Ok(v) => decl.value = Some((v, span)),
            Err(m) => {
                let ty = decl
                    .ty
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                sink.diag(Diagnostic::new(
                    span,
                    format!("invalid value for variable \"{name}\" {source}: not compatible with its type {ty}: {m}"),
                ));
                decl.failed = true;
            }
        }
    }

    /// Parses `-var`/`NOMAD_VAR_` text: literal for string, number and
    /// untyped variables, an HCL expression otherwise.
    fn assign_text(
        &mut self,
        name: &str,
        text: &str,
        source: &str,
        sink: &mut Sink,
        base_dir: &Path,
    ) {
        let file = format!("<value for var.{name} from {source}>");
        let map = Rc::new(SourceMap::new(file, text));
        let ty = self
            .0
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.ty.clone());
        let raw = self.0.iter().all(|d| d.name != name) || Type::takes_raw_text(ty.as_ref());
        let value = if raw {
            Value::String(text.to_string())
        } else {
            let expr = match hcl_edit::parser::parse_expr(text) {
                Ok(e) => e,
                Err(e) => {
                    sink.diag(Diagnostic::new(
                        Span {
                            start: map.pos(e.location().offset()),
                            end: map.pos(e.location().offset()),
                            file: map.file.clone(),
                        },
                        format!("invalid value for variable \"{name}\": {}", e.message()),
                    ));
                    if let Some(d) = self.get_mut(name) {
                        d.failed = true;
                    }
                    return;
                }
            };
            match eval_plain(&map, base_dir, &expr) {
                Ok(v) => v,
                Err(e) => {
                    sink.push(e);
                    if let Some(d) = self.get_mut(name) {
                        d.failed = true;
                    }
                    return;
                }
            }
        };
        let label = if source == "env" {
            format!("by the environment variable NOMAD_VAR_{name}")
        } else {
            format!("with -var {name}=...")
        };
        self.assign(name, value, map.whole(), &label, sink);
    }
}

/// Reads the declarations in `body` and every value source in `opts`,
/// returning the `var` object (failed variables as `None`).
pub(crate) fn collect(
    map: &Rc<SourceMap>,
    body: &EditBody,
    opts: &EvalOptions,
    sink: &mut Sink,
) -> Map<String, Slot> {
    let mut decls = Decls(Vec::new());
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        match b.ident.as_str() {
            "variable" => {
                if let Some(d) = decode_decl(map, &opts.base_dir, b, sink) {
                    if let Some(prev) = decls.0.iter().find(|p| p.name == d.name) {
                        sink.diag(Diagnostic::new(
                            d.span.clone(),
                            format!(
                                "variable \"{}\" is declared more than once (first at line {}, column {})",
                                d.name, prev.span.start.line, prev.span.start.col
                            ),
                        ));
                    } else {
                        decls.0.push(d);
                    }
                }
            }
            "variables" => {
                for s in b.body.iter() {
                    match s {
                        Structure::Attribute(a) => {
                            let span = map.span(a.key.span());
                            let value = match eval_plain(map, &opts.base_dir, &a.value) {
                                Ok(v) => Some((v, map.span(a.value.span()))),
                                Err(e) => {
                                    sink.push(e);
                                    None
                                }
                            };
                            decls.0.push(Decl {
                                name: a.key.as_str().to_string(),
                                ty: value.as_ref().and_then(|(v, _)| Type::of_default(v)),
                                failed: value.is_none(),
                                value,
                                span,
                                validations: Vec::new(),
                            });
                        }
                        Structure::Block(other) => sink.diag(Diagnostic::new(
                            map.span(other.ident.span()),
                            "a variables block may contain only attributes (name = default)",
                        )),
                    }
                }
            }
            _ => {}
        }
    }

    for (k, v) in &opts.env {
        if let Some(name) = k.strip_prefix("NOMAD_VAR_") {
            if decls.0.iter().any(|d| d.name == name) {
                decls.assign_text(name, v, "env", sink, &opts.base_dir);
            }
        }
    }
    for path in &opts.var_files {
        let source = format!("in the var file {}", path.display());
        for (name, value, span) in crate::varfile::read(path, &opts.base_dir, sink) {
            if opts.allow_undeclared_vars && decls.get_mut(&name).is_none() {
                continue;
            }
            decls.assign(&name, value, span, &source, sink);
        }
    }
    for arg in &opts.vars {
        match arg.split_once('=') {
            Some((name, _)) if opts.allow_undeclared_vars && decls.get_mut(name).is_none() => {}
            Some((name, text)) => decls.assign_text(name, text, "arguments", sink, &opts.base_dir),
            None => sink.diag(Diagnostic::new(
                Span {
                    file: "<-var>".to_string(),
                    ..Span::default()
                },
                format!("invalid -var argument {arg:?}: expected name=value"),
            )),
        }
    }

    let mut out = Map::new();
    for d in decls.0 {
        if d.failed {
            out.insert(d.name, None);
            continue;
        }
        let Some((value, span)) = d.value else {
            sink.diag(Diagnostic::new(
                d.span,
                format!(
                    "variable \"{0}\" has no value: give it a default, or set it with -var {0}=..., a -var-file or the NOMAD_VAR_{0} environment variable",
                    d.name
                ),
            ));
            out.insert(d.name, None);
            continue;
        };
        let ok = validate(
            map,
            &opts.base_dir,
            &d.name,
            &d.validations,
            &value,
            &span,
            sink,
        );
        out.insert(d.name, ok.then_some(value));
    }
    out.sort_keys();
    out
}

fn validate(
    map: &Rc<SourceMap>,
    base_dir: &Path,
    name: &str,
    rules: &[Validation],
    value: &Value,
    value_span: &Span,
    sink: &mut Sink,
) -> bool {
    let mut ok = true;
    for rule in rules {
        let mut vars = Map::new();
        vars.insert(name.to_string(), Some(value.clone()));
        let roots = Roots {
            vars: Some(vars),
            ..Roots::default()
        };
        let mut ev = Evaluator::new(Rc::clone(map), &roots, base_dir);
        match ev.expr(&rule.condition).map(|v| to_bool(&v)) {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                sink.diag(
                    Diagnostic::new(
                        value_span.clone(),
                        format!("invalid value for variable \"{name}\": {}", rule.message),
                    )
                    .with_hint(format!("checked by the validation rule at {}", rule.span)),
                );
                ok = false;
            }
            Ok(Err(m)) => {
                sink.diag(Diagnostic::new(
                    map.span(rule.condition.span()),
                    format!("invalid validation condition for variable \"{name}\": {m}"),
                ));
                ok = false;
            }
            Err(e) => {
                sink.push(e);
                ok = false;
            }
        }
    }
    ok
}
