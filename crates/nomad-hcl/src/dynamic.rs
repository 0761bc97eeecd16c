//! `dynamic "name" { for_each, iterator, labels, content { } }` blocks.

use hcl::{Map, Value};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block as EditBlock, Structure};
use hcl_edit::Span as _;

use crate::body::{eval_body, Sink};
use crate::convert::to_string;
use crate::diag::Diagnostic;
use crate::eval::Evaluator;
use crate::suggest::did_you_mean;
use crate::tree::Block;

const ATTRS: &[&str] = &["for_each", "iterator", "labels"];

/// Expands one `dynamic` block into the blocks it generates.
pub(crate) fn expand(ev: &mut Evaluator, b: &EditBlock, sink: &mut Sink) -> Vec<Block> {
    let here = ev.span(b.ident.span());
    let [label] = b.labels.as_slice() else {
        sink.diag(Diagnostic::new(
            here,
            format!(
                "a dynamic block needs exactly one label, the type of block to generate (dynamic \"name\" {{ ... }}); found {}",
                b.labels.len()
            ),
        ));
        return Vec::new();
    };
    let name = label.as_str().to_string();
    let mut for_each = None;
    let mut iterator = name.clone();
    let mut labels = None;
    let mut content = None;
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "for_each" => for_each = Some(&a.value),
                "labels" => labels = Some(&a.value),
                "iterator" => match &a.value {
                    Expression::Variable(v) => iterator = v.as_str().to_string(),
                    other => sink.diag(Diagnostic::new(
                        ev.span(other.span()),
                        "the iterator of a dynamic block must be a bare name, e.g. iterator = port",
                    )),
                },
                other => {
                    let mut d = Diagnostic::new(
                        ev.span(a.key.span()),
                        format!("unsupported argument \"{other}\" in a dynamic block; valid arguments are for_each, iterator and labels, plus one content block"),
                    );
                    d.hint = did_you_mean(other, ATTRS).map(|s| format!("did you mean \"{s}\"?"));
                    sink.diag(d);
                }
            },
            Structure::Block(inner) if inner.ident.as_str() == "content" => {
                if content.is_some() {
                    sink.diag(Diagnostic::new(
                        ev.span(inner.ident.span()),
                        "a dynamic block may contain only one content block",
                    ));
                } else {
                    content = Some(inner);
                }
            }
            Structure::Block(inner) => sink.diag(Diagnostic::new(
                ev.span(inner.ident.span()),
                format!(
                    "unsupported block \"{}\" in a dynamic block; put generated blocks inside content {{ }}",
                    inner.ident.as_str()
                ),
            )),
        }
    }
    let Some(for_each) = for_each else {
        sink.diag(Diagnostic::new(
            here,
            format!("dynamic \"{name}\" needs a for_each argument"),
        ));
        return Vec::new();
    };
    let Some(content) = content else {
        sink.diag(Diagnostic::new(
            here,
            format!("dynamic \"{name}\" needs a content block"),
        ));
        return Vec::new();
    };
    let items = match ev.expr(for_each) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i as u64), v))
            .collect::<Vec<_>>(),
        Ok(Value::Object(o)) => o.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        Ok(other) => {
            sink.diag(Diagnostic::new(
                ev.span(for_each.span()),
                format!(
                    "invalid for_each value for dynamic \"{name}\": a list, set, map or object is required, got {}",
                    crate::value::type_name(&other)
                ),
            ));
            return Vec::new();
        }
        Err(e) => {
            sink.push(e);
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        let mut it = Map::new();
        it.insert("key".to_string(), k);
        it.insert("value".to_string(), v);
        let binds = vec![(iterator.clone(), Value::Object(it))];
        let block = ev.with_bindings(binds, |ev| {
            let mut block_labels = Vec::new();
            if let Some(le) = labels {
                match ev.expr(le)? {
                    Value::Array(ls) => {
                        for l in ls {
                            let s = to_string(&l).map_err(|m| {
                                ev.error(le.span(), format!("invalid dynamic block label: {m}"))
                            })?;
                            block_labels.push(s);
                        }
                    }
                    other => {
                        return Err(ev.error(
                            le.span(),
                            format!(
                                "labels must be a list of strings, got {}",
                                crate::value::type_name(&other)
                            ),
                        ))
                    }
                }
            }
            let body = eval_body(
                ev,
                &content.body,
                crate::body::brace_span(ev, content),
                &[],
                sink,
            );
            Ok(Block {
                ident: name.clone(),
                labels: block_labels,
                span: here.clone(),
                body,
            })
        });
        match block {
            Ok(b) => out.push(b),
            Err(e) => sink.push(e),
        }
    }
    out
}
