//! Evaluating a parsed body into the [`tree`](crate::tree) of values.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block as EditBlock, Body as EditBody, Structure};
use hcl_edit::Span as _;

use crate::diag::{Diagnostic, Span};
use crate::dynamic;
use crate::eval::{EvalError, Evaluator};
use crate::tree::{Attribute, Block, Body};

/// Collects problems while evaluating.
#[derive(Default)]
pub(crate) struct Sink {
    pub(crate) diags: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn push(&mut self, e: EvalError) {
        if let EvalError::Diag(d) = e {
            self.diags.push(*d);
        }
    }

    pub(crate) fn diag(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

/// Evaluates every attribute and block of `body`; blocks whose type is in
/// `skip` (e.g. `variable`, `locals`) are left out.
pub(crate) fn eval_body(
    ev: &mut Evaluator,
    body: &EditBody,
    span: Span,
    skip: &[&str],
    sink: &mut Sink,
) -> Body {
    let mut out = Body {
        span,
        ..Body::default()
    };
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let key_span = ev.span(a.key.span());
                // hcl-edit already rejects a key defined twice in one body.
                match ev.expr(&a.value) {
                    Ok(value) => out.attributes.push(Attribute {
                        key: key.to_string(),
                        key_span,
                        value,
                        value_span: ev.span(a.value.span()),
                        object_literal: matches!(a.value, Expression::Object(_)),
                    }),
                    Err(e) => sink.push(e),
                }
            }
            Structure::Block(b) => {
                let ident = b.ident.as_str();
                if skip.contains(&ident) {
                    continue;
                }
                if ident == "dynamic" {
                    out.blocks.extend(dynamic::expand(ev, b, sink));
                } else {
                    out.blocks.push(eval_block(ev, b, sink));
                }
            }
        }
    }
    out
}

pub(crate) fn eval_block(ev: &mut Evaluator, b: &EditBlock, sink: &mut Sink) -> Block {
    let body = eval_body(ev, &b.body, brace_span(ev, b), &[], sink);
    Block {
        ident: b.ident.as_str().to_string(),
        labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
        span: ev.span(b.ident.span()),
        body,
    }
}

/// The span of a block's body, from its `{` to its `}`.
pub(crate) fn brace_span(ev: &Evaluator, b: &EditBlock) -> Span {
    let head_end = b
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| b.ident.span())
        .map_or(0, |r| r.end);
    let end = b.span().map_or(head_end, |r| r.end);
    let start = ev
        .src
        .text
        .get(head_end..)
        .and_then(|rest| rest.find('{'))
        .map_or(head_end, |i| head_end + i);
    ev.span(Some(start..end.max(start)))
}
