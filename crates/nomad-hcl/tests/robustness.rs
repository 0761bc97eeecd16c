//! No input may panic or run away: random token soup, deep nesting and
//! exponential blow-ups all end in errors.

use nomad_hcl::{evaluate, EvalOptions};
use proptest::prelude::*;

fn opts() -> EvalOptions {
    EvalOptions {
        filename: "fuzz.hcl".into(),
        variables_allowed: true,
        vars: vec!["a=1".into()],
        env: vec![("NOMAD_VAR_b".into(), "[".into())],
        ..EvalOptions::default()
    }
}

const TOKENS: &[&str] = &[
    "job",
    "\"x\"",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    "\n",
    " ",
    ",",
    ":",
    "?",
    "...",
    ".",
    "*",
    "variable",
    "locals",
    "dynamic",
    "content",
    "for_each",
    "for",
    "in",
    "if",
    "=>",
    "var.a",
    "local.a",
    "a",
    "b",
    "1",
    "0",
    "-1",
    "1.5",
    "18446744073709551615",
    "true",
    "null",
    "\"${",
    "${",
    "%{",
    "~}",
    "\"",
    "<<EOF\n",
    "\nEOF\n",
    "<<-EOF\n",
    "+",
    "-",
    "/",
    "%",
    "==",
    "&&",
    "!",
    "upper(",
    "format(\"%d\",",
    "range(",
    "try(",
    "can(",
    "merge(",
    "element(",
    "substr(",
    "jsondecode(",
    "parseint(",
    "pow(",
    "regex_replace(",
    "\"/(\"",
    "attr.x",
    "NOMAD_X",
    "default",
    "type",
    "string",
    "list(",
    "validation",
    "condition",
    "#",
    "//",
    "/*",
    "*/",
    "é",
    "\\u00e9",
    "$${",
    "%%{",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let src: String = toks.iter().map(|i| TOKENS[*i]).collect();
        let _ = evaluate(&src, &opts());
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = evaluate(&src, &opts());
    }
}

#[test]
fn deep_nesting_is_an_error() {
    let deep = format!("x = {}1{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(evaluate(&deep, &opts()).is_err());
    let deep = format!("{}{}\n", "a {\n".repeat(5_000), "}\n".repeat(5_000));
    assert!(evaluate(&deep, &opts()).is_err());
}

#[test]
fn exponential_values_are_stopped() {
    let mut src = String::from("locals {\n  l0 = \"xxxxxxxxxxxxxxxx\"\n");
    for i in 1..64 {
        src.push_str(&format!(
            "  l{i} = \"${{local.l{}}}${{local.l{}}}\"\n",
            i - 1,
            i - 1
        ));
    }
    src.push_str("}\nout = local.l63\n");
    let d = evaluate(&src, &opts()).expect_err("too big");
    assert!(d.to_string().contains("too expensive"), "{d}");

    let src = "x = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]]\n";
    let d = evaluate(src, &opts()).expect_err("too big");
    assert!(d.to_string().contains("too expensive"), "{d}");
}
