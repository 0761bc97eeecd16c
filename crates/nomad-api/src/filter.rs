//! `?filter=` expressions: HashiCorp's go-bexpr boolean expression language,
//! as Nomad's list routes take it, parsed once ([`Filter::parse`]) and
//! evaluated over the JSON of each list element ([`Filter::matches`]).
//!
//! ```text
//! expr       := and ("or" and)*                 keywords are lower case
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | collection | match
//! collection := ("any" | "all") selector "as" binding "{" expr "}"
//! binding    := name | name "," name | name "," "_" | "_" "," name
//! match      := selector ("==" | "!=") value
//!             | selector "is" ["not"] ("empty" | "nil")
//!             | selector ["not"] ("contains" | "matches") value
//!             | value ["not"] "in" selector
//! selector   := name ("." name | "." digits | "[" string "]")*
//!             | "/a/json/pointer"                   (RFC 6901, in double quotes)
//! name       := [A-Za-z][A-Za-z0-9_/]*
//! value      := selector (its dotted text) | number | string
//! number     := -?(0|[1-9][0-9]*)(.[0-9]+)?     followed by a space, ")", "}" or the end
//! string     := "…" (Go escapes) | `…` (raw, no escapes)
//! ```
//!
//! A value is text, coerced to the type of what the selector finds: a string
//! compares as text, a number numerically (Go's `ParseInt` base prefixes, or
//! a float), a bool with Go's `ParseBool` spellings (`true`, `1`, `t`,
//! `True`, …). `contains`/`in` is a substring test on a string, an element
//! test on a list (elements the value cannot be coerced to are skipped) and a
//! key test on a map. `is empty` holds for "", [] and {}; numbers and bools
//! have no emptiness (an error, as in go-bexpr). `matches` is a regex search
//! (the `regex` crate, close to Go's RE2) on strings only; the regex is
//! compiled when the filter is parsed.
//!
//! Missing keys: a selector whose FIRST part is not a field of the item (a
//! typo such as `Stauts`) is an error, Nomad's `error finding value in datum:
//! /Stauts at part 0: couldn't find key "Stauts"`, so it is reported rather
//! than silently matching nothing. A key missing deeper down (`Meta.example`,
//! an index past the end of a list, anything under a `null`) is an absent
//! value, and so is `null` itself: `==`, `contains`, `in` and `matches` are
//! false, `is empty` and `is nil` true, and their negations the opposite.
//!
//! Errors ([`FilterError`]): a syntax error reads `line:column: expected
//! WHAT, found TEXT` (1-based, in characters; TEXT is the token there or
//! `end of input`); an evaluation error reads like Nomad's (`error finding
//! value in datum: /Pointer at part N: …`, `cannot use … on Selector: it is
//! a number`). Nesting deeper than 64 levels is a syntax error, so no input
//! can exhaust the stack.
//!
//! `any`/`all` (go-bexpr 0.1.13) and `is nil` (0.1.16) are go-bexpr's, though
//! Nomad's docs list neither.
//!
//! Deviations from go-bexpr (which evaluates typed Go structs, not JSON):
//! `\"` is accepted inside double-quoted strings; a quoted value is always
//! the string it spells (go-bexpr reads `"/a/b"` as a JSON pointer and
//! compares with `a/b`); `any`/`all` may appear wherever a parenthesised
//! expression may; `not(`, `(a)or(b)` and `{x == 1}` need no spaces; an
//! integer field compares with a float value numerically instead of
//! erroring; a list index past the end and `null` are absent instead of
//! errors; an object is always a map (no struct field errors).

mod eval;
mod parse;
mod project;

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value;

/// Why a filter does not parse, or does not apply to an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The expression is malformed: where (1-based line and column, counted
    /// in characters) and what was expected there.
    #[error("{line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The expression does not apply to an item: an unknown top-level field,
    /// an operator on a value of the wrong type, a value of the wrong type.
    #[error("{0}")]
    Evaluate(String),
}

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    /// The top-level fields the expression reads.
    fields: BTreeSet<String>,
}

impl Filter {
    /// Parses a filter expression (an empty one is an error: callers treat an
    /// empty `filter=` as no filter).
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let expr = parse::parse(src)?;
        let fields = project::fields(&expr);
        Ok(Filter { expr, fields })
    }

    /// Whether `obj` passes the filter, as [`Filter::matches`] on its JSON;
    /// only the top-level fields the expression reads are encoded.
    pub fn matches_object<T: serde::Serialize + ?Sized>(
        &self,
        obj: &T,
    ) -> Result<bool, FilterError> {
        let json = project::to_value(obj, &self.fields)
            .map_err(|e| FilterError::Evaluate(format!("encoding the object: {e}")))?;
        self.matches(&json)
    }

    /// Whether `item` (the JSON of one list element) passes the filter.
    pub fn matches(&self, item: &Value) -> Result<bool, FilterError> {
        eval::matches(&self.expr, item)
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Match(Box<Match>),
    Collection(Box<Collection>),
}

#[derive(Debug, Clone)]
struct Match {
    selector: Selector,
    test: Test,
    /// `!=`, `is not`, `not in`, `not contains`, `not matches`.
    negated: bool,
    /// The value's text (empty for `is empty`/`is nil`).
    value: String,
}

#[derive(Debug, Clone)]
enum Test {
    Equal,
    Contains,
    Empty,
    Nil,
    Matches(Regex),
}

impl Test {
    /// The (un-negated) result for an absent value or `null`.
    fn absent(&self) -> bool {
        matches!(self, Test::Empty | Test::Nil)
    }
}

#[derive(Debug, Clone)]
struct Selector {
    parts: Vec<String>,
    /// As written, for messages.
    text: String,
}

impl Selector {
    /// The selector as a JSON pointer, as Nomad's messages show it.
    fn pointer(&self) -> String {
        let esc = |p: &String| format!("/{}", p.replace('~', "~0").replace('/', "~1"));
        self.parts.iter().map(esc).collect()
    }
}

#[derive(Debug, Clone)]
struct Collection {
    all: bool,
    selector: Selector,
    binding: Binding,
    inner: Expr,
}

/// The names an `any`/`all` block binds.
#[derive(Debug, Clone)]
enum Binding {
    /// `as x`: a list's element, a map's key.
    Default(String),
    /// `as i, _`: a list's index, a map's key.
    Index(String),
    /// `as _, v`: a list's element, a map's value.
    Value(String),
    /// `as k, v`.
    Both(String, String),
}

impl Binding {
    /// (the index/key name, the element/value name).
    fn names(&self, map: bool) -> (Option<&str>, Option<&str>) {
        match self {
            Binding::Default(n) if map => (Some(n), None),
            Binding::Default(n) | Binding::Value(n) => (None, Some(n)),
            Binding::Index(n) => (Some(n), None),
            Binding::Both(i, v) => (Some(i), Some(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A job list element (JobListStub-like, plus TaskGroups for lists).
    fn job() -> Value {
        json!({
            "ID": "countdash", "Name": "countdash", "Namespace": "default",
            "Datacenters": ["dc1", "dc2"], "Type": "service", "Priority": 50,
            "Status": "pending", "StatusDescription": "", "Stop": false,
            "Periodic": false, "ParameterizedJob": false, "ParentID": "",
            "Multiregion": null, "SubmitTime": 1645230445788556000u64,
            "Meta": {"env": "prod", "team.name": "web", "owner email": "ops@example.com"},
            "JobSummary": {
                "JobID": "countdash", "Namespace": "default",
                "Summary": {"api": {"Queued": 1, "Running": 0}, "dashboard": {"Queued": 0, "Running": 1}},
                "Children": {"Pending": 0, "Running": 0, "Dead": 0}
            },
            "TaskGroups": [{"Name": "api", "Count": 1}, {"Name": "dashboard", "Count": 2}]
        })
    }

    /// A node list element (NodeListStub-like).
    fn node() -> Value {
        json!({
            "ID": "f7476465-4a57-4c3b-9a2e-1b2c3d4e5f60", "Name": "node-1",
            "Datacenter": "dc1", "NodeClass": "", "NodePool": "default",
            "Drain": false, "SchedulingEligibility": "eligible", "Status": "ready",
            "Version": "1.7.2", "LastDrain": null, "HostVolumes": {},
            "Attributes": {"os.name": "ubuntu", "cpu.numcores": "4"},
            "Drivers": {
                "docker": {"Detected": true, "Healthy": true},
                "exec": {"Detected": true, "Healthy": false}
            },
            "CreateIndex": 7
        })
    }

    #[track_caller]
    fn check(filter: &str, item: &Value) -> bool {
        let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        parsed
            .matches(item)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
    }

    #[track_caller]
    fn parse_error(filter: &str) -> String {
        Filter::parse(filter).expect_err(filter).to_string()
    }

    #[track_caller]
    fn eval_error(filter: &str, item: &Value) -> String {
        let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        parsed.matches(item).expect_err(filter).to_string()
    }

    #[test]
    fn equality_compares_strings() {
        let (job, node) = (job(), node());
        assert!(check(r#"Status == "pending""#, &job));
        assert!(!check(r#"Status == "running""#, &job));
        assert!(check(r#"Status != "running""#, &job));
        assert!(!check("Status != pending", &job));
        assert!(check("JobSummary.JobID == countdash", &job));
        assert!(check(r#"StatusDescription == """#, &job));
        assert!(check(
            "SchedulingEligibility == eligible and Datacenter == dc1",
            &node
        ));
        assert!(!check(r#"Status == "Ready""#, &node), "case-sensitive");
    }

    #[test]
    fn values_may_be_quoted_raw_or_unquoted() {
        let item = json!({"Name": "café", "Text": "a\n\"b\"", "Path": r"C:\tmp"});
        assert!(check(r#"Name == "café""#, &item));
        assert!(check(r#"Name == "caf\u00e9""#, &item));
        assert!(check(r#"Text == "a\n\"b\"""#, &item), "Go escapes");
        assert!(!check(r#"Text == `a\n"b"`"#, &item), "raw strings keep \\n");
        assert!(check("Path == `C:\\tmp`", &item));
        assert!(check(r#"Path == "C:\\tmp""#, &item));
        let job = job();
        assert!(check("Meta.env == `prod`", &job));
        assert!(check("Meta.env == prod", &job));
        assert!(
            check("dc1 in Datacenters", &job),
            "an unquoted value in `in`"
        );
    }

    #[test]
    fn numbers_compare_numerically() {
        let job = job();
        for yes in ["Priority == 50", r#"Priority == "50""#, "Priority == 50.0"] {
            assert!(check(yes, &job), "{yes}");
        }
        assert!(check(r#"Priority == "0x32""#, &job), "Go's base prefixes");
        assert!(check("Priority != 51", &job));
        assert!(check("SubmitTime == 1645230445788556000", &job));
        let item = json!({"Delta": -3, "Ratio": 0.25});
        assert!(check("Delta == -3 and Ratio == 0.25", &item));
        assert!(check(r#"Ratio == "0.25" and Ratio != 0.5"#, &item));
        assert_eq!(
            eval_error(r#"Priority == "high""#, &job),
            r#"cannot compare Priority (a number) with "high""#
        );
    }

    #[test]
    fn bools_use_go_spellings() {
        let (job, node) = (job(), node());
        for yes in [
            "Stop == false",
            "Stop == f",
            "Stop == 0",
            "Stop == False",
            "Stop != true",
        ] {
            assert!(check(yes, &job), "{yes}");
        }
        assert!(check("Drivers.docker.Healthy == true", &node));
        assert!(!check("Drivers.exec.Healthy == t", &node));
        assert_eq!(
            eval_error(r#"Stop == "no""#, &job),
            r#"cannot compare Stop (a bool) with "no""#
        );
    }

    #[test]
    fn contains_and_in_search_lists_strings_and_map_keys() {
        let (job, node) = (job(), node());
        assert!(check(r#"Datacenters contains "dc2""#, &job));
        assert!(!check(r#""dc3" in Datacenters"#, &job));
        assert!(!check(r#""dc1" not in Datacenters"#, &job));
        assert!(check(r#"Datacenters not contains "dc3""#, &job));
        assert!(check(r#"Name contains "dash" and "count" in Name"#, &job));
        assert!(!check(r#"Name contains "xyz""#, &job));
        assert!(check(r#"Meta contains env and "team.name" in Meta"#, &job));
        assert!(
            !check(r#""prod" in Meta"#, &job),
            "a map's keys, not values"
        );
        assert!(check("Drivers contains docker", &node));
        let mixed = json!({"Ports": [80, "http", true, null]});
        assert!(check(
            "80 in Ports and http in Ports and true in Ports",
            &mixed
        ));
        assert!(!check("81 in Ports", &mixed));
        assert_eq!(
            eval_error("Priority contains 5", &job),
            "cannot use contains or in on Priority: it is a number"
        );
    }

    #[test]
    fn is_empty_and_is_nil() {
        let (job, node) = (job(), node());
        assert!(check("StatusDescription is empty", &job));
        assert!(!check("Datacenters is empty", &job));
        assert!(check(
            "Datacenters is not empty and Meta is not empty",
            &job
        ));
        assert!(check("HostVolumes is empty", &node));
        assert!(check("Multiregion is empty and Multiregion is nil", &job));
        assert!(check("Meta is not nil and Meta.absent is nil", &job));
        assert_eq!(
            eval_error("Priority is empty", &job),
            "cannot use is empty on Priority: it is a number"
        );
        assert_eq!(
            eval_error("Status is nil", &job),
            "cannot use is nil on Status: it is a string"
        );
    }

    #[test]
    fn matches_is_a_regex_search() {
        let (job, node) = (job(), node());
        assert!(check(r#"Name matches "^count""#, &job));
        assert!(check(r#"Name matches "dash$""#, &job));
        assert!(!check(r#"Name matches "^dash""#, &job));
        assert!(check(r#"Name not matches "^web-""#, &job));
        assert!(check(r"Version matches `^1\.7\.`", &node));
        assert_eq!(
            eval_error(r#"Priority matches "5""#, &job),
            "cannot use matches on Priority: it is a number"
        );
        let e = parse_error(r#"Name matches "(""#);
        assert!(
            e.starts_with(r#"1:14: invalid regular expression "(": "#),
            "{e}"
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let job = job();
        // true or (false and false), not (true or false) and false.
        assert!(check(
            r#"Status == "pending" or Type == "batch" and Priority == 10"#,
            &job
        ));
        assert!(check(
            r#"Type == "batch" and Priority == 10 or Status == "pending""#,
            &job
        ));
        assert!(!check(
            r#"(Status == "pending" or Type == "batch") and Priority == 10"#,
            &job
        ));
        assert!(check("(Status==pending)or(Type==batch)", &job));
    }

    #[test]
    fn not_negates_the_next_operand() {
        let job = job();
        assert!(check(r#"not Status == "running""#, &job));
        assert!(!check(r#"not not Status == "running""#, &job));
        assert!(!check("not (Status == pending and Stop == false)", &job));
        assert!(check("not(Status == running)", &job));
        // `not` binds tighter than `and` and `or`.
        assert!(check("not Status == pending or Stop == false", &job));
        assert!(!check("not Status == pending and Stop == false", &job));
        // A field may be called `not`, `any` or `all`.
        let odd = json!({"not": "x", "any": "y", "Tags": ["not"]});
        assert!(check("not == x and any == y and not in Tags", &odd));
    }

    #[test]
    fn index_and_json_pointer_selectors() {
        let (job, node) = (job(), node());
        assert!(check(r#"Meta["team.name"] == web"#, &job));
        assert!(check(r#"Meta[ "owner email" ] == "ops@example.com""#, &job));
        assert!(check("Meta[`env`] == prod", &job));
        assert!(check(r#""/Meta/env" == prod"#, &job));
        assert!(check(r#""/JobSummary/Summary/api/Queued" == 1"#, &job));
        assert!(check(r#"Attributes["os.name"] == ubuntu"#, &node));
        assert!(check(r#"ubuntu in "/Attributes/os.name""#, &node));
        assert!(
            !check("Meta.team.name == web", &job),
            "the dots split the key"
        );
        assert!(check(
            "TaskGroups.0.Name == api and TaskGroups.1.Count == 2",
            &job
        ));
        assert!(check(r#""/TaskGroups/1/Name" == dashboard"#, &job));
    }

    #[test]
    fn a_missing_top_level_field_is_an_error() {
        let job = job();
        assert_eq!(
            eval_error(r#"Stauts == "running""#, &job),
            r#"error finding value in datum: /Stauts at part 0: couldn't find key "Stauts""#
        );
        assert_eq!(
            eval_error("Status == running or Stauts is empty", &job),
            r#"error finding value in datum: /Stauts at part 0: couldn't find key "Stauts""#
        );
        // `or` stops at the first true operand, as in go-bexpr.
        assert!(check("Status == pending or Stauts == running", &job));
    }

    #[test]
    fn a_missing_map_key_is_an_absent_value() {
        let job = job();
        for (filter, expected) in [
            ("Meta.example == x", false),
            ("Meta.example != x", true),
            ("Meta.example is empty", true),
            ("Meta.example is not empty", false),
            ("Meta.example contains x", false),
            ("Meta.example not contains x", true),
            ("x in Meta.example", false),
            ("x not in Meta.example", true),
            ("Meta.example matches x", false),
            ("Meta.example not matches x", true),
            (r#"Meta["no such key"] == x"#, false),
            ("JobSummary.Summary.web.Queued == 1", false),
            ("TaskGroups.5.Name == api", false),
        ] {
            assert_eq!(check(filter, &job), expected, "{filter}");
        }
    }

    #[test]
    fn null_is_an_absent_value() {
        let job = job();
        assert!(!check(r#"Multiregion == """#, &job));
        assert!(check("Multiregion != x", &job));
        assert!(!check("Multiregion contains x", &job));
        assert!(!check("Multiregion.Region == x", &job));
        assert!(check("x not in Multiregion", &job));
    }

    #[test]
    fn selectors_do_not_cross_lists() {
        let job = job();
        assert_eq!(
            eval_error(r#"TaskGroups.Name == "api""#, &job),
            "error finding value in datum: /TaskGroups/Name at part 1: the selector crosses a \
             list: TaskGroups is a list and \"Name\" is not an index (select one \
             element, as in TaskGroups.0, or use \"any TaskGroups as x { … }\")"
        );
        assert_eq!(
            eval_error("Datacenters == dc1", &job),
            "cannot compare Datacenters with ==: it is a list; use contains, in or is empty"
        );
        assert_eq!(
            eval_error("Status == x", &json!(["Status"])),
            "error finding value in datum: /Status at part 0: the item is a list, not a map"
        );
        assert_eq!(
            eval_error("Status.foo == x", &job),
            "error finding value in datum: /Status/foo at part 1: Status is a string, not a map \
             or a list"
        );
    }

    #[test]
    fn any_and_all_bind_elements_and_keys() {
        let job = job();
        assert!(check(r#"any TaskGroups as tg { tg.Name == "api" }"#, &job));
        assert!(!check("all TaskGroups as tg { tg.Count == 1 }", &job));
        assert!(check(r#"all Datacenters as dc { dc matches "^dc" }"#, &job));
        assert!(
            check("any Meta as k { k == env }", &job),
            "a map binds its keys"
        );
        assert!(check("any Meta as _, v { v == prod }", &job));
        assert!(check(
            "all Meta as k, v { k is not empty and v is not empty }",
            &job
        ));
        assert!(check("any TaskGroups as i, _ { i == 1 }", &job));
        assert!(check(
            "any Datacenters as dc { dc == dc2 } and Status == pending",
            &job
        ));
        assert!(check("not any Datacenters as dc { dc == dc9 }", &job));
        assert!(
            check("any Datacenters as Status { Status == dc1 }", &job),
            "shadowing"
        );
        assert!(!check("any Meta.missing as x { x == 1 }", &job));
        assert!(check("all Multiregion as x { x == 1 }", &job));
        assert_eq!(
            eval_error("any Status as s { s == 1 }", &job),
            "Status is not a list or a map (it is a string)"
        );
        assert_eq!(
            parse_error("any TaskGroups as x, x { x == 1 }"),
            "1:23: \"x\" cannot name both the index and the value"
        );
    }

    #[test]
    fn keywords_are_lower_case_whole_words() {
        assert_eq!(
            parse_error("Status == pending AND Stop == false"),
            r#"1:19: expected "and", "or" or the end of the filter, found "AND""#
        );
        assert_eq!(
            parse_error("Status == pending andStop == false"),
            r#"1:19: expected "and", "or" or the end of the filter, found "andStop""#
        );
        assert_eq!(
            parse_error("NOT Status == x"),
            "1:5: expected an operator (==, !=, is, in, contains, matches) after NOT, found \"Status\""
        );
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        let deep = format!("{}Status == x{}", "(".repeat(100), ")".repeat(100));
        for (filter, expected) in [
            ("", r#"1:1: expected a selector, a value, "not" or "(", found end of input"#),
            ("Status ==", "1:10: expected a value (\"…\", `…` or a number) after ==, found end of input"),
            (r#"Status = "running""#, r#"1:8: expected an operator (==, !=, is, in, contains, matches) after Status, found "=""#),
            (r#"(Status == "running""#, r#"1:21: expected ")" to close the "(" at 1:1, found end of input"#),
            (r#"Status == "running")"#, r#"1:20: expected "and", "or" or the end of the filter, found ")""#),
            (r#"Status == "runn"#, r#"1:11: unterminated string: this " is never closed"#),
            ("Status == `runn", "1:11: unterminated string: this ` is never closed"),
            ("Priority == 1e5", r#"1:13: invalid number "1e5": write numbers like 42, -7 or 0.25, and quote other values"#),
            (r#"Status == "a\qb""#, r"1:13: invalid escape sequence \q in string"),
            ("Status == \"running\"\nand Stauts", "2:11: expected an operator (==, !=, is, in, contains, matches) after Stauts, found end of input"),
            ("Status is running", r#"1:11: expected "empty" or "nil" after "is", found "running""#),
            ("Meta[env] == x", r#"1:6: expected a quoted map key after "[", found "env""#),
            (r#"Meta["env" == x"#, r#"1:12: expected "]" to close the index, found "==""#),
            (r#""dc1" in 5"#, r#"1:10: expected a selector after "in", found "5""#),
            ("5 == 5", r#"1:1: expected a selector (such as Status or Meta["key"]) before ==, found "5""#),
            (r#""Status" == x"#, r#"1:1: a quoted selector must be a JSON pointer such as "/Meta/env", found "Status""#),
            ("Status == x or", r#"1:15: expected a selector, a value, "not" or "(", found end of input"#),
            ("Status not == x", r#"1:12: expected "contains", "matches" or "in" after "not", found "==""#),
            (r#"Status == "é" x"#, r#"1:15: expected "and", "or" or the end of the filter, found "x""#),
            (&deep, "1:65: expression nested too deeply (more than 64 levels)"),
            (r#""dc1" in "Datacenters""#, r#"1:10: a quoted selector must be a JSON pointer such as "/Meta/env", found "Datacenters""#),
            (r#"Status == "abc\"#, r#"1:11: unterminated string: this " is never closed"#),
            ("any TaskGroups tg { tg.Name == x }", r#"1:16: expected "as" after "any TaskGroups", found "tg""#),
        ] {
            assert_eq!(parse_error(filter), expected, "{filter}");
        }
        let nots = format!("{}Status == x", "not ".repeat(200));
        assert!(parse_error(&nots).contains("nested too deeply"));
        // The deepest accepted filter evaluates (no stack overflow either).
        let deepest = format!("{}Status == x{}", "not (".repeat(32), ")".repeat(32));
        let on_small_stack = std::thread::Builder::new().stack_size(256 * 1024);
        let worker = on_small_stack.spawn(move || check(&deepest, &json!({"Status": "x"})));
        assert!(worker.unwrap().join().unwrap(), "an even number of nots");
    }

    /// A tiny deterministic generator (no extra dependency).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize % n
        }

        fn pick<'a>(&mut self, words: &'a str) -> &'a str {
            let words: Vec<&str> = words.split('|').collect();
            words[self.below(words.len())]
        }

        /// A random, mostly well-formed filter.
        fn filter(&mut self, depth: usize) -> String {
            let sel = r#"Status|Meta.env|Meta["a b"]|"/Meta/env"|Datacenters|TaskGroups.0.Name|Priority|Stop|Multiregion|JobSummary.Summary|Drivers.docker.Healthy|x|tg.Name"#;
            let val = r#""pending"|`raw\n`|50|-1.5|true|dc1|"\u00e9"|""|"(""#;
            match self.below(if depth == 0 { 3 } else { 8 }) {
                0 => {
                    let op = self.pick("==|!=|contains|not contains|matches|not matches");
                    format!("{} {op} {}", self.pick(sel), self.pick(val))
                }
                1 => format!(
                    "{} {} {}",
                    self.pick(val),
                    self.pick("in|not in"),
                    self.pick(sel)
                ),
                2 => format!(
                    "{} is {}",
                    self.pick(sel),
                    self.pick("empty|not empty|nil|not nil")
                ),
                3 => format!("not {}", self.filter(depth - 1)),
                4 => format!("({})", self.filter(depth - 1)),
                5 => format!("{} and {}", self.filter(depth - 1), self.filter(depth - 1)),
                6 => format!("{} or {}", self.filter(depth - 1), self.filter(depth - 1)),
                _ => {
                    let (op, sel) = (self.pick("any|all"), self.pick(sel));
                    let names = self.pick("tg|i, tg|_, tg|i, _");
                    format!("{op} {sel} as {names} {{ {} }}", self.filter(depth - 1))
                }
            }
        }
    }

    #[test]
    fn never_panics_on_malformed_input() {
        let items = [
            job(),
            node(),
            Value::Null,
            json!(5),
            json!([1, "a"]),
            json!({}),
        ];
        let mut inputs: Vec<String> = [
            "(",
            ")",
            "((",
            "))",
            "\"",
            "`",
            "\"\\",
            "\"\\u12",
            "\"\\xff\"",
            "\"\\777\"",
            "[",
            "]",
            "{",
            "}",
            "Meta[",
            "Meta[\"",
            "Meta[\"a\"",
            "Meta.",
            "Meta..a",
            ".",
            "-",
            "--1",
            "0.",
            "01",
            "==",
            "!=",
            "not",
            "not not",
            "is",
            "in",
            "any",
            "all x as",
            "any x as y {",
            "é == 1",
            "Status == é",
            "Stätus == x",
            "\u{0}",
            "\u{feff}Status",
            "🦀",
            "Status == \"🦀",
            "x in",
            "\"/\" == x",
            "\"//\" == x",
            "Status\n==\n\"a\nb\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let junk = "(|)|\"|`|[|]|{|}|\\|é|🦀| |.|=|!|,|_|0|-|\n";
        for _ in 0..3000 {
            let mut filter = rng.filter(3);
            // Every prefix of some, a random edit of most.
            if rng.below(20) == 0 {
                let cuts: Vec<usize> = filter.char_indices().map(|(i, _)| i).collect();
                inputs.extend(cuts.iter().map(|&i| filter[..i].to_string()));
            }
            for _ in 0..rng.below(3) {
                let cuts: Vec<usize> = filter.char_indices().map(|(i, _)| i).collect();
                let at = cuts[rng.below(cuts.len())];
                if rng.below(2) == 0 {
                    filter.remove(at);
                } else {
                    filter.insert_str(at, rng.pick(junk));
                }
            }
            inputs.push(filter);
        }
        let (mut parsed, mut matched) = (0, 0);
        for input in &inputs {
            if let Ok(filter) = Filter::parse(input) {
                parsed += 1;
                for item in &items {
                    matched += usize::from(filter.matches(item) == Ok(true));
                }
            }
        }
        assert!(
            parsed > 1000 && matched > 100,
            "{parsed} parsed, {matched} matched"
        );
    }

    #[test]
    fn filter_is_clone_send_sync() {
        fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
        assert_traits::<Filter>();
        assert_traits::<FilterError>();
        let filter = Filter::parse("Status == pending").unwrap();
        let copy = filter.clone();
        let job = job();
        let handle = std::thread::spawn(move || copy.matches(&json!({"Status": "pending"})));
        assert!(handle.join().unwrap().unwrap());
        assert!(filter.matches(&job).unwrap());
    }
}
