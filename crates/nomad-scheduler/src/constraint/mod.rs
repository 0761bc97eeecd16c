//! Constraint operators evaluated on resolved values, with Nomad's exact
//! semantics.
//!
//! Three layers, from the most flexible to the fastest:
//!
//! * [`check`]: one operator on two resolved values (`None` meaning "not
//!   set on this node"), with a caller-owned [`ConstraintCache`] so regular
//!   expressions and version constraints compile once per pattern;
//! * [`CompiledCheck`]: an operator with its right-hand literal parsed once
//!   (numbers, set members, regex, version constraint), evaluated against
//!   many left-hand values with no allocation;
//! * [`CompiledConstraint`]: a whole `constraint { attribute, operator,
//!   value }` block, targets parsed, evaluated against a [`NodeView`].
//!
//! Semantics (Nomad's `checkConstraint`): a missing value resolves to the
//! empty string and "not found".
//!
//! | operator | result |
//! |---|---|
//! | `=` `==` `is` | both found and equal strings |
//! | `!=` `not` | the strings differ, a missing side counting as `""` (so a missing attribute is `!=` any non-empty value) |
//! | `<` `<=` `>` `>=` | both found; as integers if both parse as `i64`, else as floats if both parse as `f64` (Go's rules), else byte-wise |
//! | `is_set` / `is_not_set` | left found / not found |
//! | `version` | both found; left parses as a go-version, right as a go-version constraint, and it holds |
//! | `semver` | same with Nomad's SemVer constraint syntax |
//! | `regexp` | both found; right compiles as a Go regexp that matches somewhere in left |
//! | `set_contains`, `set_contains_all` | both found; every comma-separated right item (trimmed) is a left item (trimmed) |
//! | `set_contains_any` | both found; some right item is a left item |
//! | `distinct_hosts`, `distinct_property` | always true here (enforced by their own iterators) |
//!
//! Invalid regexes and version constraints simply fail the check, as in
//! Nomad.

mod gonum;
pub mod re2;
pub mod version;
pub mod version_constraint;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;

use regex::Regex;
use thiserror::Error;

use crate::target::{NodeView, Target};
use re2::RegexCache;
use version::Version;
use version_constraint::{SemverConstraints, VersionConstraints};

/// A constraint or affinity operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`, `==`, `is`
    Equal,
    /// `!=`, `not`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterEqual,
    /// `version`
    Version,
    /// `semver`
    Semver,
    /// `regexp`
    Regexp,
    /// `set_contains`, `set_contains_all`
    SetContainsAll,
    /// `set_contains_any`
    SetContainsAny,
    /// `is_set`
    IsSet,
    /// `is_not_set`
    IsNotSet,
    /// `distinct_hosts` (checked elsewhere; always true here)
    DistinctHosts,
    /// `distinct_property` (checked elsewhere; always true here)
    DistinctProperty,
}

/// An operator name Nomad does not know. The scheduler treats such a
/// constraint as never satisfied.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown constraint operator {0:?}")]
pub struct UnknownOperator(pub String);

impl FromStr for Operator {
    type Err = UnknownOperator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "=" | "==" | "is" => Operator::Equal,
            "!=" | "not" => Operator::NotEqual,
            "<" => Operator::Less,
            "<=" => Operator::LessEqual,
            ">" => Operator::Greater,
            ">=" => Operator::GreaterEqual,
            "version" => Operator::Version,
            "semver" => Operator::Semver,
            "regexp" => Operator::Regexp,
            "set_contains" | "set_contains_all" => Operator::SetContainsAll,
            "set_contains_any" => Operator::SetContainsAny,
            "is_set" => Operator::IsSet,
            "is_not_set" => Operator::IsNotSet,
            "distinct_hosts" => Operator::DistinctHosts,
            "distinct_property" => Operator::DistinctProperty,
            _ => return Err(UnknownOperator(s.to_owned())),
        })
    }
}

impl Operator {
    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equal => "=",
            Operator::NotEqual => "!=",
            Operator::Less => "<",
            Operator::LessEqual => "<=",
            Operator::Greater => ">",
            Operator::GreaterEqual => ">=",
            Operator::Version => "version",
            Operator::Semver => "semver",
            Operator::Regexp => "regexp",
            Operator::SetContainsAll => "set_contains_all",
            Operator::SetContainsAny => "set_contains_any",
            Operator::IsSet => "is_set",
            Operator::IsNotSet => "is_not_set",
            Operator::DistinctHosts => "distinct_hosts",
            Operator::DistinctProperty => "distinct_property",
        }
    }
}

/// Compiled regexes and version constraints, keyed by their source text.
/// Owned by the caller (one per evaluation is typical) and reused across
/// nodes and constraints.
#[derive(Debug, Default, Clone)]
pub struct ConstraintCache {
    regexes: RegexCache,
    versions: HashMap<Box<str>, Option<VersionConstraints>>,
    semvers: HashMap<Box<str>, Option<SemverConstraints>>,
}

impl ConstraintCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compiled Go regexp for `pattern`, if valid.
    pub fn regex(&mut self, pattern: &str) -> Option<&Regex> {
        self.regexes.get(pattern)
    }

    /// The parsed go-version constraint for `text`, if valid.
    pub fn version(&mut self, text: &str) -> Option<&VersionConstraints> {
        if !self.versions.contains_key(text) {
            self.versions
                .insert(text.into(), VersionConstraints::parse(text).ok());
        }
        self.versions.get(text).and_then(Option::as_ref)
    }

    /// The parsed SemVer constraint for `text`, if valid.
    pub fn semver(&mut self, text: &str) -> Option<&SemverConstraints> {
        if !self.semvers.contains_key(text) {
            self.semvers
                .insert(text.into(), SemverConstraints::parse(text).ok());
        }
        self.semvers.get(text).and_then(Option::as_ref)
    }
}

/// Evaluates `lhs <op> rhs` on resolved values (`None` = not set).
pub fn check(
    op: Operator,
    lhs: Option<&str>,
    rhs: Option<&str>,
    cache: &mut ConstraintCache,
) -> bool {
    match op {
        Operator::DistinctHosts | Operator::DistinctProperty => true,
        Operator::Equal => matches!((lhs, rhs), (Some(l), Some(r)) if l == r),
        Operator::NotEqual => lhs.unwrap_or("") != rhs.unwrap_or(""),
        Operator::Less | Operator::LessEqual | Operator::Greater | Operator::GreaterEqual => {
            match (lhs, rhs) {
                (Some(l), Some(r)) => order_holds(op, compare_number(l, &Number::parse(r), r)),
                _ => false,
            }
        }
        Operator::IsSet => lhs.is_some(),
        Operator::IsNotSet => lhs.is_none(),
        Operator::Version => match (lhs, rhs) {
            (Some(l), Some(r)) => match Version::parse_with(l, false) {
                Some(v) => cache.version(r).is_some_and(|c| c.check(&v)),
                None => false,
            },
            _ => false,
        },
        Operator::Semver => match (lhs, rhs) {
            (Some(l), Some(r)) => match Version::parse_with(l, false) {
                Some(v) => cache.semver(r).is_some_and(|c| c.check(&v)),
                None => false,
            },
            _ => false,
        },
        Operator::Regexp => match (lhs, rhs) {
            (Some(l), Some(r)) => cache.regex(r).is_some_and(|re| re.is_match(l)),
            _ => false,
        },
        Operator::SetContainsAll => match (lhs, rhs) {
            (Some(l), Some(r)) => r.split(',').all(|item| set_has(l, item.trim())),
            _ => false,
        },
        Operator::SetContainsAny => match (lhs, rhs) {
            (Some(l), Some(r)) => r.split(',').any(|item| set_has(l, item.trim())),
            _ => false,
        },
    }
}

/// Whether the comma-separated `set` has `item` among its trimmed members.
#[inline]
fn set_has(set: &str, item: &str) -> bool {
    set.split(',').any(|member| member.trim() == item)
}

/// A value's numeric readings under Go's rules.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Number {
    int: Option<i64>,
    float: Option<f64>,
}

impl Number {
    fn parse(s: &str) -> Number {
        Number {
            int: gonum::parse_int(s),
            float: gonum::parse_float(s),
        }
    }
}

/// Compares `left` with the right-hand value (text and numeric readings):
/// as integers if both are integers, else as floats if both are floats,
/// else byte-wise. `None` when the float comparison is unordered (NaN).
fn compare_number(left: &str, right: &Number, right_text: &str) -> Option<Ordering> {
    if let Some(r) = right.int {
        if let Some(l) = gonum::parse_int(left) {
            return Some(l.cmp(&r));
        }
    }
    if let Some(r) = right.float {
        if let Some(l) = gonum::parse_float(left) {
            return l.partial_cmp(&r);
        }
    }
    Some(left.cmp(right_text))
}

fn order_holds(op: Operator, ordering: Option<Ordering>) -> bool {
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        Operator::Less => ordering.is_lt(),
        Operator::LessEqual => ordering.is_le(),
        Operator::Greater => ordering.is_gt(),
        Operator::GreaterEqual => ordering.is_ge(),
        _ => false,
    }
}

/// The right-hand side of a check, parsed once.
#[derive(Clone, Debug)]
enum Prepared {
    /// Nothing to precompute (equality, presence).
    Plain,
    Number(Number),
    Version(Option<VersionConstraints>),
    Semver(Option<SemverConstraints>),
    Regex(Option<Regex>),
    Set(Box<[Box<str>]>),
}

/// An operator with a literal right-hand side, parsed once and evaluated
/// against many left-hand values without allocating.
#[derive(Clone, Debug)]
pub struct CompiledCheck {
    op: Operator,
    rhs: Box<str>,
    prepared: Prepared,
}

impl CompiledCheck {
    /// Prepares `op` with the literal right-hand value `rhs`.
    pub fn new(op: Operator, rhs: &str) -> Self {
        let prepared = match op {
            Operator::Less | Operator::LessEqual | Operator::Greater | Operator::GreaterEqual => {
                Prepared::Number(Number::parse(rhs))
            }
            Operator::Version => Prepared::Version(VersionConstraints::parse(rhs).ok()),
            Operator::Semver => Prepared::Semver(SemverConstraints::parse(rhs).ok()),
            Operator::Regexp => Prepared::Regex(re2::compile(rhs)),
            Operator::SetContainsAll | Operator::SetContainsAny => {
                Prepared::Set(rhs.split(',').map(|item| item.trim().into()).collect())
            }
            _ => Prepared::Plain,
        };
        Self {
            op,
            rhs: rhs.into(),
            prepared,
        }
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The literal right-hand side.
    pub fn rhs(&self) -> &str {
        &self.rhs
    }

    /// Whether the prepared right-hand side is usable (a valid regex or
    /// version constraint); a check with an invalid one never holds.
    pub fn is_valid(&self) -> bool {
        match &self.prepared {
            Prepared::Version(c) => c.is_some(),
            Prepared::Semver(c) => c.is_some(),
            Prepared::Regex(r) => r.is_some(),
            _ => true,
        }
    }

    /// Evaluates `lhs <op> rhs` (`None` = left value not set).
    pub fn check(&self, lhs: Option<&str>) -> bool {
        let rhs: &str = &self.rhs;
        match (&self.prepared, lhs) {
            (Prepared::Plain, _) => match self.op {
                Operator::DistinctHosts | Operator::DistinctProperty => true,
                Operator::Equal => lhs == Some(rhs),
                Operator::NotEqual => lhs.unwrap_or("") != rhs,
                Operator::IsSet => lhs.is_some(),
                Operator::IsNotSet => lhs.is_none(),
                _ => false,
            },
            (_, None) => false,
            (Prepared::Number(n), Some(l)) => order_holds(self.op, compare_number(l, n, rhs)),
            (Prepared::Version(c), Some(l)) => match (c, Version::parse_with(l, false)) {
                (Some(c), Some(v)) => c.check(&v),
                _ => false,
            },
            (Prepared::Semver(c), Some(l)) => match (c, Version::parse_with(l, false)) {
                (Some(c), Some(v)) => c.check(&v),
                _ => false,
            },
            (Prepared::Regex(re), Some(l)) => re.as_ref().is_some_and(|re| re.is_match(l)),
            (Prepared::Set(items), Some(l)) => match self.op {
                Operator::SetContainsAny => items.iter().any(|item| set_has(l, item)),
                _ => items.iter().all(|item| set_has(l, item)),
            },
        }
    }
}

/// A constraint (or affinity condition) with parsed targets: the unit the
/// feasibility checker evaluates per node.
#[derive(Clone, Debug)]
pub struct CompiledConstraint {
    ltarget: Target,
    rtarget: Target,
    /// `None` for an operator Nomad does not know: never satisfied.
    op: Option<Operator>,
    /// Set when the right-hand target is a literal.
    compiled: Option<CompiledCheck>,
}

impl CompiledConstraint {
    /// Builds a constraint from the job's strings. An unknown operator gives
    /// a constraint that no node satisfies (Nomad's behaviour; job
    /// validation normally rejects it first).
    pub fn new(ltarget: &str, operand: &str, rtarget: &str) -> Self {
        let op = operand.parse::<Operator>().ok();
        let ltarget = Target::parse(ltarget);
        let rtarget = Target::parse(rtarget);
        let compiled = match (op, rtarget.as_literal()) {
            (Some(op), Some(literal)) => Some(CompiledCheck::new(op, literal)),
            _ => None,
        };
        Self {
            ltarget,
            rtarget,
            op,
            compiled,
        }
    }

    /// The parsed left-hand target.
    pub fn ltarget(&self) -> &Target {
        &self.ltarget
    }

    /// The parsed right-hand target.
    pub fn rtarget(&self) -> &Target {
        &self.rtarget
    }

    /// The operator, `None` if it was not recognised.
    pub fn operator(&self) -> Option<Operator> {
        self.op
    }

    /// Whether evaluating this constraint depends on unique node data, so
    /// its result cannot be cached per computed node class.
    pub fn escapes_computed_class(&self) -> bool {
        self.ltarget.escapes_computed_class() || self.rtarget.escapes_computed_class()
    }

    /// Whether `node` satisfies the constraint. `cache` is only used when
    /// the right-hand side is interpolated.
    pub fn matches<N: NodeView + ?Sized>(&self, node: &N, cache: &mut ConstraintCache) -> bool {
        let Some(op) = self.op else {
            return false;
        };
        let lhs = self.ltarget.resolve(node);
        match &self.compiled {
            Some(compiled) => compiled.check(lhs),
            None => check(op, lhs, self.rtarget.resolve(node), cache),
        }
    }
}

#[cfg(test)]
mod tests;
