//! String templates and heredocs: literals, `${...}` interpolations and
//! `%{ if }` / `%{ for }` directives, with `~` whitespace stripping.
//!
//! Interpolations that only a client can resolve (`${NOMAD_*}`, `${attr.*}`,
//! ...) are copied through as their original source text while every other
//! interpolation in the same string is evaluated.

use std::ops::Range;

use hcl::Value;
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span as _;

use super::{EResult, Evaluator};
use crate::value::{format_number, type_name};

/// Whether an element strips the whitespace before it (`${~`, `%{~`).
fn strips_before(e: &Element) -> bool {
    match e {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_start(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.if_expr.strip.strip_start(),
            Directive::For(d) => d.for_expr.strip.strip_start(),
        },
    }
}

/// Whether an element strips the whitespace after it (`~}`).
fn strips_after(e: &Element) -> bool {
    match e {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_end(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.endif_expr.strip.strip_end(),
            Directive::For(d) => d.endfor_expr.strip.strip_end(),
        },
    }
}

impl Evaluator<'_> {
    /// A template expression: a lone interpolation yields its value unchanged
    /// (HCL's interpolation unwrapping); anything else yields a string.
    pub(super) fn template(
        &mut self,
        t: &Template,
        _range: Option<Range<usize>>,
    ) -> EResult<Value> {
        let elements: Vec<&Element> = t.iter().collect();
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return if self.is_runtime_ref(&i.expr) {
                Ok(self.runtime_interpolation(
                    elements[0],
                    &i.expr,
                    i.strip.strip_start() || i.strip.strip_end(),
                ))
            } else {
                self.expr(&i.expr)
            };
        }
        self.render_to_string(t).map(Value::String)
    }

    pub(crate) fn render_to_string(&mut self, t: &Template) -> EResult<String> {
        let mut out = String::new();
        self.render(t, &mut out, false, false).map(|()| out)
    }

    fn runtime_interpolation(
        &self,
        elem: &Element,
        expr: &hcl_edit::expr::Expression,
        stripped: bool,
    ) -> Value {
        if !stripped {
            if let Some(text) = elem.span().as_ref().and_then(|r| self.src.slice(r)) {
                return Value::String(text.to_string());
            }
        }
        self.runtime_text(expr.span())
    }

    fn render(
        &mut self,
        t: &Template,
        out: &mut String,
        strip_first: bool,
        strip_last: bool,
    ) -> EResult<()> {
        let elements: Vec<&Element> = t.iter().collect();
        for (i, e) in elements.iter().enumerate() {
            match e {
                Element::Literal(lit) => {
                    let mut s: &str = lit.value();
                    let trim_start = if i == 0 {
                        strip_first
                    } else {
                        strips_after(elements[i - 1])
                    };
                    let trim_end = match elements.get(i + 1) {
                        Some(next) => strips_before(next),
                        None => strip_last,
                    };
                    if trim_start {
                        s = s.trim_start();
                    }
                    if trim_end {
                        s = s.trim_end();
                    }
                    out.push_str(s);
                }
                Element::Interpolation(interp) => {
                    if self.is_runtime_ref(&interp.expr) {
                        let stripped = interp.strip.strip_start() || interp.strip.strip_end();
                        if let Value::String(s) =
                            self.runtime_interpolation(e, &interp.expr, stripped)
                        {
                            out.push_str(&s);
                        }
                        continue;
                    }
                    let v = self.expr(&interp.expr)?;
                    self.push_value(out, &v, interp.expr.span())?;
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        let c = self.expr(&d.if_expr.cond_expr)?;
                        let c = crate::convert::to_bool(&c).map_err(|m| {
                            self.error(
                                d.if_expr.cond_expr.span(),
                                format!("invalid %{{if}} condition: {m}"),
                            )
                        })?;
                        let first = d.if_expr.strip.strip_end();
                        if c {
                            let last = match &d.else_expr {
                                Some(e) => e.strip.strip_start(),
                                None => d.endif_expr.strip.strip_start(),
                            };
                            self.render(&d.if_expr.template, out, first, last)?;
                        } else if let Some(e) = &d.else_expr {
                            let last = d.endif_expr.strip.strip_start();
                            self.render(&e.template, out, e.strip.strip_end(), last)?;
                        }
                    }
                    Directive::For(d) => {
                        let items = self.collection(&d.for_expr.collection_expr)?;
                        let key_var = d.for_expr.key_var.as_ref().map(|k| k.as_str().to_string());
                        let value_var = d.for_expr.value_var.as_str().to_string();
                        let first = d.for_expr.strip.strip_end();
                        let last = d.endfor_expr.strip.strip_start();
                        for (k, v) in items {
                            let mut binds = Vec::with_capacity(2);
                            if let Some(kv) = &key_var {
                                binds.push((kv.clone(), k));
                            }
                            binds.push((value_var.clone(), v));
                            self.with_bindings(binds, |ev| {
                                ev.render(&d.for_expr.template, out, first, last)
                            })?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    fn push_value(&self, out: &mut String, v: &Value, range: Option<Range<usize>>) -> EResult<()> {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&format_number(n)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Null => {
                return Err(self.error(range, "cannot include a null value in a string template"));
            }
            other => {
                return Err(self.error(
                    range,
                    format!("cannot include a {} in a string template; a string, number or bool is required", type_name(other)),
                ));
            }
        }
        Ok(())
    }
}
