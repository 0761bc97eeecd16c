//! `locals { }` blocks: values that may reference input variables and each
//! other (in any order, across several blocks); cycles are errors.

use std::path::Path;
use std::rc::Rc;

use hcl::Map;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body as EditBody, Structure};
use hcl_edit::Span as _;

use crate::body::Sink;
use crate::diag::{Diagnostic, Span};
use crate::eval::{Evaluator, Roots, Slot};
use crate::refs::references;
use crate::source::SourceMap;

struct Local<'a> {
    name: String,
    span: Span,
    expr: &'a Expression,
    deps: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Visiting,
    Done,
}

/// Evaluates every local in dependency order and returns the `local` object
/// (failed locals as `None`). `roots.vars` must already be set.
pub(crate) fn collect(
    map: &Rc<SourceMap>,
    body: &EditBody,
    roots: &Roots,
    base_dir: &Path,
    sink: &mut Sink,
) -> Map<String, Slot> {
    let mut locals: Vec<Local> = Vec::new();
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        if b.ident.as_str() != "locals" {
            continue;
        }
        if !b.labels.is_empty() {
            sink.diag(Diagnostic::new(
                map.span(b.ident.span()),
                "a locals block takes no labels",
            ));
        }
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str().to_string();
                    let span = map.span(a.key.span());
                    if let Some(prev) = locals.iter().find(|l| l.name == name) {
                        sink.diag(Diagnostic::new(
                            span,
                            format!(
                                "local value \"{name}\" is defined more than once (first at line {}, column {})",
                                prev.span.start.line, prev.span.start.col
                            ),
                        ));
                        continue;
                    }
                    locals.push(Local {
                        name,
                        span,
                        expr: &a.value,
                        deps: Vec::new(),
                    });
                }
                Structure::Block(inner) => sink.diag(Diagnostic::new(
                    map.span(inner.ident.span()),
                    format!("unexpected block \"{}\" in locals; a locals block holds only name = value assignments", inner.ident.as_str()),
                )),
            }
        }
    }

    // Dependencies: `local.x` names x; a bare `local` needs every other local.
    let names: Vec<String> = locals.iter().map(|l| l.name.clone()).collect();
    for (i, l) in locals.iter_mut().enumerate() {
        for r in references(l.expr).into_iter().filter(|r| r.root == "local") {
            match r.attr {
                Some(a) => {
                    if let Some(j) = names.iter().position(|n| *n == a) {
                        l.deps.push(j);
                    }
                }
                None => l.deps.extend((0..names.len()).filter(|j| *j != i)),
            }
        }
    }

    // Topological order; every local on a cycle fails.
    let mut marks = vec![Mark::New; locals.len()];
    let mut order = Vec::with_capacity(locals.len());
    let mut failed = vec![false; locals.len()];
    for start in 0..locals.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next dependency index).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Visiting;
        while let Some((node, next)) = stack.last().copied() {
            if let Some(&dep) = locals[node].deps.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match marks[dep] {
                    Mark::New => {
                        marks[dep] = Mark::Visiting;
                        stack.push((dep, 0));
                    }
                    Mark::Visiting => {
                        let pos = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let cycle: Vec<usize> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        if cycle.iter().any(|n| !failed[*n]) {
                            let path: Vec<String> = cycle
                                .iter()
                                .chain(std::iter::once(&dep))
                                .map(|n| format!("local.{}", locals[*n].name))
                                .collect();
                            sink.diag(Diagnostic::new(
                                locals[dep].span.clone(),
                                format!(
                                    "local values refer to each other in a cycle: {}",
                                    path.join(" -> ")
                                ),
                            ));
                        }
                        for n in cycle {
                            failed[n] = true;
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                order.push(node);
                stack.pop();
            }
        }
    }

    let mut values: Map<String, Slot> = names.iter().map(|n| (n.clone(), None)).collect();
    for i in order {
        if failed[i] || locals[i].deps.iter().any(|d| failed[*d]) {
            failed[i] = true;
            continue;
        }
        let scoped = Roots {
            vars: roots.vars.clone(),
            locals: Some(values.clone()),
            runtime: roots.runtime,
            budget: roots.budget.clone(),
        };
        let mut ev = Evaluator::new(Rc::clone(map), &scoped, base_dir);
        match ev.expr(locals[i].expr) {
            Ok(v) => {
                values.insert(locals[i].name.clone(), Some(v));
            }
            Err(e) => {
                failed[i] = true;
                sink.push(e);
            }
        }
    }
    values.sort_keys();
    values
}
