//! Traversals (`a.b[0]`, splats) and operators.

use std::ops::Range;

use hcl::Value;
use hcl_edit::expr::{
    BinaryOp, BinaryOperator, Expression, Traversal, TraversalOperator, UnaryOp, UnaryOperator,
};
use hcl_edit::Span as _;

use super::{EResult, Evaluator};
use crate::convert::{to_bool, to_number, to_string};
use crate::suggest::did_you_mean;
use crate::value::{arith, equals, f64_of, negate, type_name, Arith};

impl Evaluator<'_> {
    pub(super) fn traversal(&mut self, t: &Traversal) -> EResult<Value> {
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        let spans: Vec<Option<Range<usize>>> = t.operators.iter().map(|o| o.span()).collect();
        let mut start = 0;
        let value = match &t.expr {
            Expression::Variable(v) if self.binding(v.as_str()).is_none() => {
                let name = v.as_str();
                if self.is_runtime_root(name, true) {
                    return Ok(self.runtime_text(t.span()));
                }
                match (name, ops.first()) {
                    ("var" | "local", Some(TraversalOperator::GetAttr(attr))) => {
                        start = 1;
                        // HCL points at the failing step, starting at its dot.
                        let range = spans.first().cloned().flatten().map(|r| {
                            let text = self.src.text.get(..r.start).unwrap_or_default();
                            let dot = text.trim_end().strip_suffix('.').map_or(r.start, str::len);
                            dot..r.end
                        });
                        self.named(name, attr.as_str(), range)?
                    }
                    ("var" | "local", _) => self.variable(name, v.span())?,
                    _ => return Err(self.unknown_root(name, v.span())),
                }
            }
            other => self.expr(other)?,
        };
        self.apply_ops(value, &ops[start..], &spans[start..])
    }

    fn apply_ops(
        &mut self,
        mut value: Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
    ) -> EResult<Value> {
        let mut i = 0;
        while i < ops.len() {
            let span = spans.get(i).cloned().flatten();
            match ops[i] {
                TraversalOperator::GetAttr(name) => {
                    value = self.get_attr(value, name.as_str(), span)?;
                }
                TraversalOperator::Index(e) => {
                    let key = self.expr(e)?;
                    value = self.index(value, &key, span)?;
                }
                TraversalOperator::LegacyIndex(n) => {
                    value = self.index(value, &Value::from(*n.value()), span)?;
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    // `.*` applies the following attribute accesses to each element;
                    // `[*]` applies every following operator.
                    let full = matches!(ops[i], TraversalOperator::FullSplat(_));
                    let mut end = i + 1;
                    while end < ops.len()
                        && (full || matches!(ops[end], TraversalOperator::GetAttr(_)))
                    {
                        end += 1;
                    }
                    let items = match value {
                        Value::Array(items) => items,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.apply_ops(item, &ops[i + 1..end], &spans[i + 1..end])?);
                    }
                    value = Value::Array(out);
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        Ok(value)
    }

    fn get_attr(&self, value: Value, name: &str, span: Option<Range<usize>>) -> EResult<Value> {
        match value {
            Value::Object(mut o) => match o.swap_remove(name) {
                Some(v) => Ok(v),
                None => {
                    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
                    let hint = did_you_mean(name, &keys).map(|s| format!("did you mean .{s}?"));
                    Err(self.error_hint(span, format!("this object has no attribute \"{name}\""), hint))
                }
            },
            Value::Null => Err(self.error(span, format!("cannot access attribute \"{name}\" of a null value"))),
            Value::Array(_) => Err(self.error(
                span,
                format!("cannot access attribute \"{name}\" of a list; use an index ([0].{name}) or a splat ([*].{name})"),
            )),
            other => Err(self.error(
                span,
                format!("cannot access attribute \"{name}\" of a {}", type_name(&other)),
            )),
        }
    }

    fn index(&self, value: Value, key: &Value, span: Option<Range<usize>>) -> EResult<Value> {
        match value {
            Value::Array(mut items) => {
                let n = to_number(key)
                    .map_err(|m| self.error(span.clone(), format!("invalid index: {m}")))?;
                let len = items.len();
                match n.as_u64().and_then(|i| usize::try_from(i).ok()) {
                    Some(i) if i < len => Ok(items.swap_remove(i)),
                    _ => Err(self.error(
                        span,
                        format!(
                            "index {} is out of range for a list of {len} elements",
                            crate::value::format_number(&n)
                        ),
                    )),
                }
            }
            Value::Object(mut o) => {
                let k = to_string(key)
                    .map_err(|m| self.error(span.clone(), format!("invalid key: {m}")))?;
                match o.swap_remove(&k) {
                    Some(v) => Ok(v),
                    None => {
                        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
                        let hint =
                            did_you_mean(&k, &keys).map(|s| format!("did you mean \"{s}\"?"));
                        Err(self.error_hint(span, format!("this map has no element \"{k}\""), hint))
                    }
                }
            }
            Value::Null => Err(self.error(span, "cannot index a null value")),
            other => Err(self.error(span, format!("cannot index a {}", type_name(&other)))),
        }
    }

    pub(super) fn unary(&mut self, u: &UnaryOp) -> EResult<Value> {
        let v = self.expr(&u.expr)?;
        let span = u.span();
        match u.operator.value() {
            UnaryOperator::Neg => {
                let n = to_number(&v).map_err(|m| {
                    self.error(span.clone(), format!("invalid operand for \"-\": {m}"))
                })?;
                negate(&n)
                    .map(Value::Number)
                    .map_err(|m| self.error(span, m))
            }
            UnaryOperator::Not => {
                let b = to_bool(&v)
                    .map_err(|m| self.error(span, format!("invalid operand for \"!\": {m}")))?;
                Ok(Value::Bool(!b))
            }
        }
    }

    pub(super) fn binary(&mut self, b: &BinaryOp) -> EResult<Value> {
        use BinaryOperator as O;
        let op = *b.operator.value();
        let span = b.span();
        let lhs = self.expr(&b.lhs_expr)?;
        // `&&` and `||` stop early, so `x != null && x.y` works.
        match (op, &lhs) {
            (O::And, Value::Bool(false)) => return Ok(Value::Bool(false)),
            (O::Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
            _ => {}
        }
        let rhs = self.expr(&b.rhs_expr)?;
        let sym = op.as_str();
        let operand_err = |ev: &Self, m: String| {
            ev.error(span.clone(), format!("invalid operand for \"{sym}\": {m}"))
        };
        match op {
            O::Eq => Ok(Value::Bool(equals(&lhs, &rhs))),
            O::NotEq => Ok(Value::Bool(!equals(&lhs, &rhs))),
            O::And | O::Or => {
                let l = to_bool(&lhs).map_err(|m| operand_err(self, m))?;
                let r = to_bool(&rhs).map_err(|m| operand_err(self, m))?;
                Ok(Value::Bool(if op == O::And { l && r } else { l || r }))
            }
            O::Less | O::LessEq | O::Greater | O::GreaterEq => {
                let l = f64_of(&to_number(&lhs).map_err(|m| operand_err(self, m))?);
                let r = f64_of(&to_number(&rhs).map_err(|m| operand_err(self, m))?);
                Ok(Value::Bool(match op {
                    O::Less => l < r,
                    O::LessEq => l <= r,
                    O::Greater => l > r,
                    _ => l >= r,
                }))
            }
            O::Plus | O::Minus | O::Mul | O::Div | O::Mod => {
                let l = to_number(&lhs).map_err(|m| operand_err(self, m))?;
                let r = to_number(&rhs).map_err(|m| operand_err(self, m))?;
                let a = match op {
                    O::Plus => Arith::Add,
                    O::Minus => Arith::Sub,
                    O::Mul => Arith::Mul,
                    O::Div => Arith::Div,
                    _ => Arith::Mod,
                };
                arith(a, &l, &r)
                    .map(Value::Number)
                    .map_err(|m| self.error(span, m))
            }
        }
    }
}
