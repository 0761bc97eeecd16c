use super::*;
use crate::target::tests::TestNode;
use proptest::prelude::*;

fn dynamic(op: &str, lhs: Option<&str>, rhs: Option<&str>) -> bool {
    let op: Operator = op.parse().unwrap_or_else(|e| panic!("{e}"));
    check(op, lhs, rhs, &mut ConstraintCache::new())
}

/// Evaluates through both the dynamic and the compiled path and insists
/// they agree (the compiled path needs a found right-hand side).
fn both(op: &str, lhs: Option<&str>, rhs: &str) -> bool {
    let parsed: Operator = op.parse().unwrap_or_else(|e| panic!("{e}"));
    let d = check(parsed, lhs, Some(rhs), &mut ConstraintCache::new());
    let c = CompiledCheck::new(parsed, rhs).check(lhs);
    assert_eq!(d, c, "{lhs:?} {op} {rhs:?}: dynamic {d}, compiled {c}");
    d
}

#[test]
fn operator_names() {
    for (name, op) in [
        ("=", Operator::Equal),
        ("==", Operator::Equal),
        ("is", Operator::Equal),
        ("!=", Operator::NotEqual),
        ("not", Operator::NotEqual),
        ("<", Operator::Less),
        ("<=", Operator::LessEqual),
        (">", Operator::Greater),
        (">=", Operator::GreaterEqual),
        ("version", Operator::Version),
        ("semver", Operator::Semver),
        ("regexp", Operator::Regexp),
        ("set_contains", Operator::SetContainsAll),
        ("set_contains_all", Operator::SetContainsAll),
        ("set_contains_any", Operator::SetContainsAny),
        ("is_set", Operator::IsSet),
        ("is_not_set", Operator::IsNotSet),
        ("distinct_hosts", Operator::DistinctHosts),
        ("distinct_property", Operator::DistinctProperty),
    ] {
        assert_eq!(name.parse::<Operator>(), Ok(op), "{name}");
        assert_eq!(op.as_str().parse::<Operator>(), Ok(op));
    }
    assert_eq!(
        "~=".parse::<Operator>(),
        Err(UnknownOperator("~=".to_owned()))
    );
    assert!("IS".parse::<Operator>().is_err());
}

// Cases from Nomad's TestCheckConstraint.
#[test]
fn equality_and_missing_values() {
    assert!(dynamic("=", Some("foo"), Some("foo")));
    assert!(dynamic("is", Some("foo"), Some("foo")));
    assert!(dynamic("==", Some("foo"), Some("foo")));
    assert!(!dynamic("==", Some("foo"), None));
    assert!(!dynamic("==", None, Some("foo")));
    assert!(!dynamic("==", None, None));
    assert!(!dynamic("!=", Some("foo"), Some("foo")));
    assert!(dynamic("!=", Some("foo"), Some("bar")));
    assert!(dynamic("!=", None, Some("foo")));
    assert!(dynamic("!=", Some("foo"), None));
    assert!(!dynamic("!=", None, None));
    assert!(dynamic("not", Some("foo"), Some("bar")));
    // A missing value counts as "" for inequality.
    assert!(!dynamic("!=", None, Some("")));
    assert!(!both("!=", None, ""));
    assert!(both("!=", None, "x"));
    // Equality is exact: no trimming, case-sensitive.
    assert!(!both("=", Some("Linux"), "linux"));
    assert!(!both("=", Some("linux "), "linux"));
    assert!(both("=", Some(""), ""));
}

#[test]
fn presence() {
    assert!(dynamic("is_set", Some("foo"), None));
    assert!(dynamic("is_set", Some(""), None));
    assert!(!dynamic("is_set", None, None));
    assert!(dynamic("is_not_set", None, None));
    assert!(!dynamic("is_not_set", Some("foo"), None));
    assert!(both("is_set", Some("x"), "ignored"));
    assert!(both("is_not_set", None, "ignored"));
    assert!(both("distinct_hosts", None, "true"));
    assert!(both("distinct_property", Some("x"), "2"));
}

// Cases from Nomad's TestCheckOrder, plus Go number-parsing edges.
#[test]
fn ordering() {
    assert!(both("<", Some("bar"), "foo"));
    assert!(both("<=", Some("foo"), "foo"));
    assert!(!both(">", Some("bar"), "foo"));
    assert!(both(">=", Some("bar"), "bar"));
    assert!(!both(">", Some("1"), "foo"));
    assert!(!both("<", Some("10"), "1"));
    assert!(both("<", Some("1"), "10"));
    assert!(!both("<", Some("10.5"), "1.5"));
    assert!(both("<", Some("1.5"), "10.5"));
    assert!(!both("<", Some("foo"), "bar"));
    assert!(!dynamic("<", None, Some("bar")));
    assert!(!both("<", None, "bar"));
    // Mixed int/float compares as floats.
    assert!(both("<", Some("2"), "10.5"));
    assert!(both(">=", Some("8"), "8.0"));
    // Lexical when either side is not a number.
    assert!(both("<", Some("10"), "9a"));
    assert!(both(">", Some("abc"), "ABC"));
    assert!(both("<", Some(""), "a"));
    // Go accepts these as numbers.
    assert!(both(">", Some("1_000"), "999"));
    assert!(both("<", Some("0x1p-2"), "0.3"));
    assert!(both(">", Some("+Inf"), "1e308"));
    assert!(both("<", Some("-infinity"), "-1e308"));
    // NaN compares false every way.
    for op in ["<", "<=", ">", ">="] {
        assert!(!both(op, Some("NaN"), "1.0"), "{op}");
        assert!(!both(op, Some("1.0"), "nan"), "{op}");
    }
    // Overflowing floats are not numbers in Go, so the strings compare:
    // "1e400" > "1e3" byte-wise, and numerically it would be too, but
    // "2e400" < "3" only byte-wise holds ("2" < "3").
    assert!(both("<", Some("2e400"), "3"));
    assert!(!both("<", Some("2e300"), "3"));
    // Integers beyond i64 fall back to floats.
    assert!(both(">", Some("99999999999999999999"), "1"));
    // Whitespace makes a value non-numeric.
    assert!(both("<", Some(" 9"), "10"));
}

// Cases from Nomad's TestCheckVersionConstraint.
#[test]
fn version_operator() {
    assert!(both("version", Some("1.2.3"), "~> 1.0"));
    assert!(!dynamic("version", None, Some("~> 1.0")));
    assert!(both("version", Some("1.2.3"), ">= 1.0, < 1.4"));
    assert!(!both("version", Some("2.0.1"), "~> 1.0"));
    assert!(!both("version", Some("1.4"), ">= 1.0, < 1.4"));
    assert!(both("version", Some("1"), "~> 1.0"));
    assert!(!both("version", Some("1.3.0-beta1"), ">= 0.6.1"));
    assert!(!both("version", Some("1.7.0-alpha1"), ">= 1.6.0-beta1"));
    assert!(both("version", Some("1.3.0-beta1+ent"), "= 1.3.0-beta1"));
    // Unparseable sides fail.
    assert!(!both("version", Some("not-a-version"), ">= 1.0"));
    assert!(!both("version", Some("1.2.3"), "=> 1.0"));
    assert!(!both("version", Some("1.2.3"), ""));
}

// Cases from Nomad's TestCheckSemverConstraint.
#[test]
fn semver_operator() {
    assert!(!both("semver", Some("1.2.3"), "~> 1.0"));
    assert!(both("semver", Some("1.2.3"), ">= 1.0, < 1.4"));
    assert!(!both("semver", Some("2.0.1"), "~> 1.0"));
    assert!(!both("semver", Some("1.4"), ">= 1.0, < 1.4"));
    assert!(!both("semver", Some("1"), "~> 1.0"));
    assert!(both("semver", Some("1.3.0-beta1"), ">= 0.6.1"));
    assert!(both("semver", Some("1.7.0-alpha1"), ">= 1.6.0-beta1"));
    assert!(!both("semver", Some("1.7.0-beta"), ">= 1.7.0"));
    assert!(both("semver", Some("1.7.0"), ">= 1.7.0-dev"));
    assert!(both("semver", Some("1.7.0-beta.1"), ">= 1.7.0-a"));
    assert!(both("semver", Some("1.7.0-rc.1"), ">= 1.7.0-dev"));
    assert!(both("semver", Some("1.3.0-beta1+ent"), "= 1.3.0-beta1"));
    // The left side is parsed leniently even for semver.
    assert!(both("semver", Some("1.7.0beta"), "< 1.7.0"));
}

// Cases from Nomad's TestCheckRegexpConstraint / TestCheckConstraint.
#[test]
fn regexp_operator() {
    assert!(both("regexp", Some("foobarbaz"), "[\\w]+"));
    assert!(!dynamic("regexp", None, Some("[\\w]+")));
    assert!(both("regexp", Some("foobar"), "bar"));
    assert!(both("regexp", Some("foobar"), "^foo"));
    assert!(!both("regexp", Some("foobar"), "^bar"));
    assert!(!both("regexp", Some("zipzap"), "foo"));
    // Invalid patterns fail instead of erroring.
    assert!(!both("regexp", Some("a"), "("));
    assert!(!both("regexp", Some("aa"), "a**"));
    assert!(!CompiledCheck::new(Operator::Regexp, "(").is_valid());
    assert!(CompiledCheck::new(Operator::Regexp, "a").is_valid());
}

#[test]
fn regex_cache_is_reused() {
    let mut cache = ConstraintCache::new();
    for value in ["linux", "darwin", "windows"] {
        check(
            Operator::Regexp,
            Some(value),
            Some("^(linux|darwin)$"),
            &mut cache,
        );
        check(Operator::Version, Some("1.2"), Some(">= 1.0"), &mut cache);
        check(
            Operator::Semver,
            Some("1.2.0"),
            Some(">= 1.0.0"),
            &mut cache,
        );
    }
    assert_eq!(cache.regexes.len(), 1);
    assert_eq!(cache.versions.len(), 1);
    assert_eq!(cache.semvers.len(), 1);
}

// Cases from Nomad's TestCheckConstraint plus trimming edges.
#[test]
fn set_operators() {
    assert!(both("set_contains", Some("foo,bar,baz"), "foo,  bar  "));
    assert!(!both("set_contains", Some("foo,bar,baz"), "foo,bam"));
    assert!(both("set_contains_all", Some(" a , b "), "b,a"));
    assert!(both("set_contains_any", Some("foo,bar,baz"), "bam, baz"));
    assert!(!both("set_contains_any", Some("foo,bar"), "bam,qux"));
    assert!(!dynamic("set_contains", None, Some("a")));
    assert!(!both("set_contains_any", None, "a"));
    // Empty items are members like any other.
    assert!(both("set_contains", Some(""), ""));
    assert!(!both("set_contains", Some("a,b"), ""));
    assert!(both("set_contains", Some("a,,b"), ""));
    assert!(!both("set_contains_all", Some("a,b"), "a,"));
    // Unicode whitespace is trimmed too (Go's TrimSpace).
    assert!(both("set_contains", Some("a\u{a0},b"), "\u{2003}a"));
}

#[test]
fn compiled_constraints_against_nodes() {
    let node = TestNode::sample();
    let mut cache = ConstraintCache::new();
    let holds = |l: &str, op: &str, r: &str, cache: &mut ConstraintCache| {
        CompiledConstraint::new(l, op, r).matches(&node, cache)
    };
    assert!(holds("${attr.kernel.name}", "=", "linux", &mut cache));
    assert!(!holds("${attr.kernel.name}", "=", "windows", &mut cache));
    assert!(holds("${attr.cpu.numcores}", ">=", "4", &mut cache));
    assert!(!holds("${attr.cpu.numcores}", ">", "16", &mut cache));
    assert!(holds("${meta.rack}", "regexp", "^r[0-9]$", &mut cache));
    assert!(holds(
        "${node.datacenter}",
        "set_contains_any",
        "dc2,dc1",
        &mut cache
    ));
    assert!(holds("${attr.missing}", "!=", "x", &mut cache));
    assert!(!holds("${attr.missing}", "=", "x", &mut cache));
    assert!(holds("${attr.missing}", "is_not_set", "", &mut cache));
    assert!(holds("${node.region}", "is_not_set", "", &mut cache));
    // Interpolated right-hand side: resolved per node.
    assert!(holds("${meta.rack}", "=", "${meta.rack}", &mut cache));
    assert!(!holds("${meta.rack}", "=", "${node.class}", &mut cache));
    assert!(holds("linux", "=", "${attr.kernel.name}", &mut cache));
    // Both sides missing: unequal? No: "" == "".
    assert!(!holds("${attr.a}", "!=", "${attr.b}", &mut cache));
    // Unknown operators never hold.
    let unknown = CompiledConstraint::new("${attr.kernel.name}", "like", "linux");
    assert_eq!(unknown.operator(), None);
    assert!(!unknown.matches(&node, &mut cache));
    // Kernel versions are go-version pre-releases.
    assert!(!holds(
        "${attr.kernel.version}",
        "version",
        ">= 4.0",
        &mut cache
    ));
    assert!(holds(
        "${attr.kernel.version}",
        "semver",
        ">= 4.0.0",
        &mut cache
    ));
    // Computed-class escape.
    assert!(CompiledConstraint::new("${attr.unique.hostname}", "=", "x").escapes_computed_class());
    assert!(CompiledConstraint::new("x", "=", "${node.unique.id}").escapes_computed_class());
    assert!(!CompiledConstraint::new("${attr.kernel.name}", "=", "x").escapes_computed_class());
}

const OPS: [&str; 17] = [
    "=",
    "==",
    "is",
    "!=",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "is_set",
    "is_not_set",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The compiled path agrees with the dynamic one and nothing panics.
    #[test]
    fn compiled_matches_dynamic(
        op in proptest::sample::select(&OPS[..]),
        lhs in proptest::option::of("[-+0-9a-z.,_ ~^<>=!*()\\[\\]\\\\]{0,12}"),
        rhs in "[-+0-9a-z.,_ ~^<>=!*()\\[\\]\\\\]{0,12}",
    ) {
        let parsed: Operator = op.parse().unwrap_or(Operator::Equal);
        let d = check(parsed, lhs.as_deref(), Some(&rhs), &mut ConstraintCache::new());
        let c = CompiledCheck::new(parsed, &rhs).check(lhs.as_deref());
        prop_assert_eq!(d, c);
    }

    /// Arbitrary Unicode never panics any operator.
    #[test]
    fn never_panics(op in proptest::sample::select(&OPS[..]), lhs in ".{0,16}", rhs in ".{0,16}") {
        let parsed: Operator = op.parse().unwrap_or(Operator::Equal);
        let _ = check(parsed, Some(&lhs), Some(&rhs), &mut ConstraintCache::new());
        let _ = CompiledCheck::new(parsed, &rhs).check(Some(&lhs));
    }

    /// Number ordering is consistent with integer ordering.
    #[test]
    fn integer_ordering(a in any::<i64>(), b in any::<i64>()) {
        let (sa, sb) = (a.to_string(), b.to_string());
        prop_assert_eq!(both("<", Some(&sa), &sb), a < b);
        prop_assert_eq!(both(">=", Some(&sa), &sb), a >= b);
    }
}
