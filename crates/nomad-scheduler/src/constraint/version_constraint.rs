//! Version constraint strings: go-version's (`version` operator) and
//! Nomad's SemVer variant (`semver` operator).
//!
//! Both are comma-separated lists of `<op> <version>` terms that must all
//! hold; whitespace (space, tab, CR, LF, form feed) may surround the operator
//! and the version; an empty term, or an empty string, is an error.
//!
//! `version` (go-version): operators `=` (also implied when missing), `!=`,
//! `>`, `<`, `>=`, `<=`, `~>`; the version in each term uses the lenient
//! grammar. Pre-releases are guarded: a pre-release version only satisfies
//! an ordering term (`>`, `<`, `>=`, `<=`, `~>`) whose own version is a
//! pre-release of the same segments, and a pre-release term never matches a
//! final version through `~>`. `=` and `!=` compare plainly.
//!
//! `semver` (Nomad): operators `=` (or none), `!=`, `>`, `<`, `>=`, `<=`, no
//! `~>`; each term's version must have a dashed pre-release if any; and
//! there is no pre-release guard, so `>= 1.0.0` accepts `1.1.0-beta`.
//! Ordering is go-version's in both cases.

use super::version::Version;
use thiserror::Error;

/// A constraint string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("malformed constraint: {0}")]
pub struct ConstraintParseError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Pessimistic,
}

/// Go's regexp `\s`: ASCII space, tab, newline, carriage return, form feed.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Splits one term into its operator and version text.
fn split_term(term: &str, allow_pessimistic: bool) -> Option<(Op, &str)> {
    let term = term.trim_matches(is_go_space);
    // Longest operators first, as an anchored match settles it.
    let (op, rest) = if let Some(rest) = term.strip_prefix("<=") {
        (Op::LessEqual, rest)
    } else if let Some(rest) = term.strip_prefix(">=") {
        (Op::GreaterEqual, rest)
    } else if let Some(rest) = term.strip_prefix("!=") {
        (Op::NotEqual, rest)
    } else if let Some(rest) = term.strip_prefix("~>") {
        if !allow_pessimistic {
            return None;
        }
        (Op::Pessimistic, rest)
    } else if let Some(rest) = term.strip_prefix('<') {
        (Op::Less, rest)
    } else if let Some(rest) = term.strip_prefix('>') {
        (Op::Greater, rest)
    } else if let Some(rest) = term.strip_prefix('=') {
        (Op::Equal, rest)
    } else {
        (Op::Equal, term)
    };
    let version = rest.trim_start_matches(is_go_space);
    // The version itself cannot contain whitespace.
    if version.contains(is_go_space) {
        return None;
    }
    Some((op, version))
}

fn parse_terms(
    input: &str,
    strict: bool,
) -> Result<Vec<(Op, Version<'static>)>, ConstraintParseError> {
    input
        .split(',')
        .map(|term| {
            let (op, text) =
                split_term(term, !strict).ok_or_else(|| ConstraintParseError(term.to_owned()))?;
            let version = Version::parse_with(text, strict)
                .ok_or_else(|| ConstraintParseError(term.to_owned()))?;
            Ok((op, version.into_owned()))
        })
        .collect()
}

/// A parsed go-version constraint (the `version` operator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionConstraints {
    terms: Vec<(Op, Version<'static>)>,
}

impl VersionConstraints {
    /// go-version's `NewConstraint`.
    pub fn parse(input: &str) -> Result<Self, ConstraintParseError> {
        parse_terms(input, false).map(|terms| Self { terms })
    }

    /// Whether `version` satisfies every term.
    pub fn check(&self, version: &Version<'_>) -> bool {
        self.terms
            .iter()
            .all(|(op, bound)| check_go_version_term(*op, version, bound))
    }
}

/// A parsed Nomad SemVer constraint (the `semver` operator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemverConstraints {
    terms: Vec<(Op, Version<'static>)>,
}

impl SemverConstraints {
    /// Nomad's `semver.NewConstraint`.
    pub fn parse(input: &str) -> Result<Self, ConstraintParseError> {
        parse_terms(input, true).map(|terms| Self { terms })
    }

    /// Whether `version` satisfies every term.
    pub fn check(&self, version: &Version<'_>) -> bool {
        self.terms.iter().all(|(op, bound)| {
            let ord = version.compare(bound);
            match op {
                Op::Equal => ord.is_eq(),
                Op::NotEqual => ord.is_ne(),
                Op::Greater => ord.is_gt(),
                Op::Less => ord.is_lt(),
                Op::GreaterEqual => ord.is_ge(),
                Op::LessEqual => ord.is_le(),
                // Not produced by the semver parser.
                Op::Pessimistic => false,
            }
        })
    }
}

/// go-version's guard for ordering terms: a pre-release version only
/// matches a term whose version is a pre-release of the same segments.
fn prerelease_guard(version: &Version<'_>, bound: &Version<'_>) -> bool {
    match (
        !version.prerelease().is_empty(),
        !bound.prerelease().is_empty(),
    ) {
        (true, true) => version.same_segments(bound),
        (true, false) => false,
        _ => true,
    }
}

fn check_go_version_term(op: Op, version: &Version<'_>, bound: &Version<'_>) -> bool {
    match op {
        Op::Equal => version.compare(bound).is_eq(),
        Op::NotEqual => version.compare(bound).is_ne(),
        Op::Greater => prerelease_guard(version, bound) && version.compare(bound).is_gt(),
        Op::Less => prerelease_guard(version, bound) && version.compare(bound).is_lt(),
        Op::GreaterEqual => prerelease_guard(version, bound) && version.compare(bound).is_ge(),
        Op::LessEqual => prerelease_guard(version, bound) && version.compare(bound).is_le(),
        Op::Pessimistic => pessimistic(version, bound),
    }
}

/// `~>`: at least `bound`, and equal to it on every written segment but the
/// last.
fn pessimistic(version: &Version<'_>, bound: &Version<'_>) -> bool {
    if !prerelease_guard(version, bound)
        || (!bound.prerelease().is_empty() && version.prerelease().is_empty())
    {
        return false;
    }
    if version.compare(bound).is_lt() {
        return false;
    }
    let v = version.segments();
    let c = bound.segments();
    if c.len() > v.len() {
        return false;
    }
    let written = bound.written_segments();
    if written >= 1 && v[..written - 1] != c[..written - 1] {
        return false;
    }
    // Cannot fail after the comparison above, but kept for fidelity.
    c[c.len() - 1] <= v[c.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_ok(constraint: &str, version: &str) -> bool {
        let c = VersionConstraints::parse(constraint).unwrap_or_else(|e| panic!("{e}"));
        let v = Version::parse(version).unwrap_or_else(|e| panic!("{e}"));
        c.check(&v)
    }

    fn semver_ok(constraint: &str, version: &str) -> bool {
        let c = SemverConstraints::parse(constraint).unwrap_or_else(|e| panic!("{e}"));
        let v = Version::parse(version).unwrap_or_else(|e| panic!("{e}"));
        c.check(&v)
    }

    #[test]
    fn parses_terms_and_whitespace() {
        for good in [
            "1.2",
            "= 1.2",
            "=1.2",
            ">= 1.2, < 2.0",
            " >=1.2 ,\t<2.0 ",
            "~> 1.2",
            "!= 1.2.3-beta+meta",
            "v1",
        ] {
            assert!(VersionConstraints::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "", ",", ">= 1.2,", "=> 1.2", "== 1.2", ">= 1. 2", "> = 1.2", "~ 1.2", "1.2 3", "abc",
        ] {
            assert!(VersionConstraints::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_version_ranges() {
        assert!(version_ok(">= 1.2, < 2.0", "1.5.0"));
        assert!(version_ok(">= 1.2, < 2.0", "1.2"));
        assert!(!version_ok(">= 1.2, < 2.0", "2.0.0"));
        assert!(!version_ok(">= 1.2, < 2.0", "1.1.9"));
        assert!(version_ok("1.2.3", "v1.2.3"));
        assert!(version_ok("!= 1.2.3", "1.2.4"));
        assert!(version_ok("> 3.10", "4.19.0"));
        assert!(version_ok(">= 4.0", "5.15.0"));
    }

    #[test]
    fn go_version_prerelease_guard() {
        // A pre-release only satisfies ordering terms with a pre-release of
        // the same segments.
        assert!(!version_ok(">= 1.0", "1.1.0-beta"));
        assert!(!version_ok("< 2.0", "1.5.0-rc1"));
        assert!(version_ok(">= 1.1.0-alpha", "1.1.0-beta"));
        assert!(!version_ok(">= 1.0.0-alpha", "1.1.0-beta"));
        // A final version passes a pre-release bound normally.
        assert!(version_ok(">= 1.0.0-beta", "1.0.0"));
        // Equality ignores the guard.
        assert!(version_ok("= 1.2.3", "1.2.3.0"));
        // The kernel-style version "5.15.0-91-generic" is a pre-release.
        assert!(!version_ok(">= 4.0", "5.15.0-91-generic"));
    }

    #[test]
    fn go_version_pessimistic() {
        assert!(version_ok("~> 1.2", "1.2.0"));
        assert!(version_ok("~> 1.2", "1.9.9"));
        assert!(!version_ok("~> 1.2", "2.0.0"));
        assert!(!version_ok("~> 1.2", "1.1.0"));
        assert!(version_ok("~> 1.2.3", "1.2.9"));
        assert!(!version_ok("~> 1.2.3", "1.3.0"));
        assert!(!version_ok("~> 1.2.3", "1.2.2"));
        assert!(version_ok("~> 1", "1.5"));
        assert!(version_ok("~> 1", "7.0"));
        assert!(version_ok("~> 1.0.0-beta", "1.0.0-rc"));
        assert!(!version_ok("~> 1.0.0-beta", "1.0.0"));
        assert!(!version_ok("~> 1.0", "1.0.1-beta"));
        // The bound has more segments than the version.
        assert!(!version_ok("~> 1.2.3.4", "1.2.3"));
    }

    #[test]
    fn nomad_semver() {
        assert!(semver_ok(">= 1.0.0", "1.1.0-beta"));
        assert!(semver_ok(">= 1.0.0, < 2.0.0", "1.9.0"));
        assert!(!semver_ok(">= 1.0.0, < 2.0.0", "2.0.0"));
        assert!(semver_ok("< 1.0.0", "1.0.0-rc.1"));
        assert!(semver_ok("= 1.0.0-rc.1", "1.0.0-rc.1"));
        assert!(semver_ok("!= 1.0.0", "1.0.0-rc.1"));
        assert!(semver_ok(">= 1.2.3-beta.2", "1.2.3-beta.11"));
        assert!(SemverConstraints::parse("~> 1.2").is_err());
        assert!(SemverConstraints::parse(">= 1.2.3beta").is_err());
        assert!(SemverConstraints::parse(">= 1.2.3-beta").is_ok());
        assert!(SemverConstraints::parse("").is_err());
    }
}
