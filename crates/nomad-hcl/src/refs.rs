//! Which root names an expression refers to (`var.x`, `local.y`, ...).

use std::ops::Range;

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::visit::{visit_expr, Visit};
use hcl_edit::Span as _;

/// One reference: the root name, the attribute right after it (if static)
/// and where it stands.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    pub(crate) root: String,
    pub(crate) attr: Option<String>,
    pub(crate) range: Option<Range<usize>>,
}

#[derive(Default)]
struct Collector {
    refs: Vec<Ref>,
}

impl Visit for Collector {
    fn visit_expr(&mut self, e: &Expression) {
        match e {
            Expression::Variable(v) => self.refs.push(Ref {
                root: v.as_str().to_string(),
                attr: None,
                range: v.span(),
            }),
            Expression::Traversal(t) => {
                if let Expression::Variable(v) = &t.expr {
                    let attr = match t.operators.first().map(|o| o.value()) {
                        Some(TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
                        _ => None,
                    };
                    self.refs.push(Ref {
                        root: v.as_str().to_string(),
                        attr,
                        range: t.span(),
                    });
                } else {
                    self.visit_expr(&t.expr);
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(ix) = op.value() {
                        self.visit_expr(ix);
                    }
                }
            }
            other => visit_expr(self, other),
        }
    }
}

/// Every reference in an expression, in source order.
pub(crate) fn references(e: &Expression) -> Vec<Ref> {
    let mut c = Collector::default();
    c.visit_expr(e);
    c.refs
}
