//! Evaluation semantics: variables, locals, functions, templates, runtime
//! interpolations, dynamic blocks, and the errors for each.

use nomad_hcl::{evaluate, parse_config, Body, Diagnostics, EvalOptions};

fn opts() -> EvalOptions {
    EvalOptions {
        filename: "job.nomad.hcl".into(),
        variables_allowed: true,
        ..EvalOptions::default()
    }
}

fn eval(src: &str) -> Body {
    match evaluate(src, &opts()) {
        Ok(b) => b,
        Err(d) => panic!("unexpected errors:\n{d}"),
    }
}

fn eval_err(src: &str) -> Diagnostics {
    match evaluate(src, &opts()) {
        Ok(b) => panic!("expected errors, got {b:?}"),
        Err(d) => d,
    }
}

/// The JSON of attribute `key` at the top level.
fn attr(b: &Body, key: &str) -> serde_json::Value {
    let a = b
        .attribute(key)
        .unwrap_or_else(|| panic!("no attribute {key}"));
    serde_json::to_value(&a.value).expect("json")
}

fn x(src: &str) -> serde_json::Value {
    attr(&eval(&format!("x = {src}\n")), "x")
}

#[test]
fn literals_and_operators() {
    assert_eq!(x("1 + 2 * 3"), 7);
    assert_eq!(x("10 / 4"), 2.5);
    assert_eq!(x("7 % 3"), 1);
    assert_eq!(x("\"5\" + 1"), 6);
    assert_eq!(x("!true || 1 < 2"), true);
    assert_eq!(x("[1, 2] == [1, 2]"), true);
    assert_eq!(x("true ? \"a\" : \"b\""), "a");
    assert_eq!(x("-(3)"), -3);
    assert_eq!(x("{ b = 1, a = 2 }"), serde_json::json!({"a": 2, "b": 1}));
}

#[test]
fn arithmetic_errors_do_not_panic() {
    let d = eval_err("x = 1 % 0\n");
    assert_eq!(d.0[0].message, "divide by zero");
    assert_eq!(d.to_string(), "job.nomad.hcl:1:5: divide by zero");
    eval_err("x = 1 / 0\n");
    assert_eq!(
        x("18446744073709551615 + 18446744073709551615"),
        36893488147419103230.0
    );
}

#[test]
fn for_expressions_and_splats() {
    assert_eq!(
        x("[for s in [\"a\", \"b\"] : upper(s)]"),
        serde_json::json!(["A", "B"])
    );
    assert_eq!(
        x("{for k, v in { a = 1, b = 2 } : v => k}"),
        serde_json::json!({"1": "a", "2": "b"})
    );
    assert_eq!(
        x("[for i, v in [10, 20, 30] : i if v > 10]"),
        serde_json::json!([1, 2])
    );
    assert_eq!(
        x("{for s in [\"a\", \"ab\", \"b\"] : substr(s, 0, 1) => s...}"),
        serde_json::json!({"a": ["a", "ab"], "b": ["b"]})
    );
    assert_eq!(x("[{ n = 1 }, { n = 2 }][*].n"), serde_json::json!([1, 2]));
    assert_eq!(x("[{ n = 1 }, { n = 2 }].*.n"), serde_json::json!([1, 2]));
    assert_eq!(x("[[1, 2], [3]][1][0]"), 3);
}

#[test]
fn heredocs() {
    let b = eval("a = <<EOF\nline1\n  line2\nEOF\nb = <<-EOT\n    one\n      two\n    EOT\n");
    assert_eq!(attr(&b, "a"), "line1\n  line2\n");
    assert_eq!(attr(&b, "b"), "one\n  two\n");
}

#[test]
fn template_directives_and_strip_markers() {
    assert_eq!(
        x("\"%{ for s in [\"a\", \"b\"] }${s},%{ endfor }\""),
        "a,b,"
    );
    assert_eq!(x("\"%{ if true }yes%{ else }no%{ endif }\""), "yes");
    assert_eq!(x("\"a  ${~ \"b\" ~}  c\""), "abc");
    assert_eq!(x("\"$${escaped} %%{ x }\""), "${escaped} %{ x }");
}

#[test]
fn runtime_interpolations_stay_as_text() {
    let b = eval(concat!(
        "variable \"image\" {\n  default = \"redis\"\n}\n",
        "a = \"${attr.kernel.name}\"\n",
        "b = \"${NOMAD_PORT_db}\"\n",
        "c = \"img=${var.image} alloc=${NOMAD_ALLOC_ID} node=${node.unique.name}\"\n",
        "d = \"${upper(var.image)}-${meta.rack}-${env[\"HOME\"]}\"\n",
        "e = \"x ${ attr.cpu.arch } y ${device.model}\"\n",
        "f = \"${HOME}/x\"\n",
        "g = NOMAD_ALLOC_DIR\n",
    ));
    assert_eq!(attr(&b, "a"), "${attr.kernel.name}");
    assert_eq!(attr(&b, "b"), "${NOMAD_PORT_db}");
    assert_eq!(
        attr(&b, "c"),
        "img=redis alloc=${NOMAD_ALLOC_ID} node=${node.unique.name}"
    );
    assert_eq!(attr(&b, "d"), "REDIS-${meta.rack}-${env[\"HOME\"]}");
    assert_eq!(attr(&b, "e"), "x ${ attr.cpu.arch } y ${device.model}");
    assert_eq!(attr(&b, "f"), "${HOME}/x");
    assert_eq!(attr(&b, "g"), "${NOMAD_ALLOC_DIR}");
}

#[test]
fn unknown_references_are_errors_with_suggestions() {
    let d = eval_err("variable \"image\" {\n  default = \"x\"\n}\na = var.imgae\n");
    assert_eq!(d.0.len(), 1);
    let e = &d.0[0];
    assert_eq!((e.span.start.line, e.span.start.col), (4, 8), "at the dot");
    assert!(
        e.message.contains("undeclared input variable \"imgae\""),
        "{}",
        e.message
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean var.image?"));

    let d = eval_err("a = \"${vra.image}\"\n");
    assert!(
        d.0[0].message.starts_with("unknown variable \"vra\""),
        "{}",
        d.0[0].message
    );
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean var?"));
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (1, 8));

    // Inside a dynamic block, a misspelt iterator is caught too.
    let d = eval_err("dynamic \"p\" {\n  for_each = [1]\n  iterator = port\n  content {\n    x = prot.value\n  }\n}\n");
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean port?"), "{d}");
}

#[test]
fn any_other_root_is_kept_as_nomad_does() {
    // The same inputs Nomad keeps verbatim (any root but var and local).
    for text in [
        "plain",
        "foo-${BAR}",
        "foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}",
        "${env[\"BLAH\"]}",
        "${mixed-indexing.0[3][\"FOO\"].5}",
        "with spaces ${   root.  field[  \"FOO\"].5  }",
    ] {
        let src = format!("region = \"{text}\"\n");
        assert_eq!(attr(&eval(&src), "region"), text, "{src}");
    }
    assert_eq!(x("meta.mytest"), "${meta.mytest}");
    assert_eq!(x("docker"), "${docker}");
}

#[test]
fn variables_precedence_and_types() {
    let dir = tempfile::tempdir().expect("tmp");
    let f1 = dir.path().join("a.vars.hcl");
    let f2 = dir.path().join("b.json");
    std::fs::write(&f1, "n = 2\nport = 8080\n").expect("w");
    std::fs::write(&f2, "{\"n\": 3}").expect("w");
    let src = concat!(
        "variable \"n\" {\n  type = number\n  default = 1\n}\n",
        "variable \"port\" {\n  type = number\n}\n",
        "variable \"tags\" {\n  type = list(string)\n  default = [1, \"b\"]\n}\n",
        "variable \"m\" {\n  type = map(string)\n  default = {}\n}\n",
        "a = var.n\nb = var.port\nc = var.tags\nd = var.m\n",
    );
    let mut o = opts();
    o.env = vec![
        ("NOMAD_VAR_n".into(), "5".into()),
        ("NOMAD_VAR_port".into(), "1".into()),
        ("NOMAD_VAR_m".into(), "{ k = 1 }".into()),
    ];
    let b = evaluate(src, &o).expect("ok");
    assert_eq!(attr(&b, "a"), 5);
    assert_eq!(attr(&b, "c"), serde_json::json!(["1", "b"]));
    assert_eq!(attr(&b, "d"), serde_json::json!({"k": "1"}));
    o.var_files = vec![f1.clone(), f2.clone()];
    let b = evaluate(src, &o).expect("ok");
    assert_eq!(attr(&b, "a"), 3);
    assert_eq!(attr(&b, "b"), 8080);
    o.vars = vec!["n=7".into(), "n=8".into()];
    let b = evaluate(src, &o).expect("ok");
    assert_eq!(attr(&b, "a"), 8);
    assert!(b.blocks.is_empty(), "variable blocks are removed");
}

#[test]
fn untyped_variables_take_their_defaults_type() {
    let mut o = opts();
    o.vars = vec!["port=8080".into(), "dcs=[\"a\", \"b\"]".into()];
    let src = "variable \"port\" {\n  default = 80\n}\nvariable \"dcs\" {\n  default = []\n}\na = var.port\nb = var.dcs\n";
    let b = evaluate(src, &o).expect("ok");
    assert_eq!(attr(&b, "a"), 8080);
    assert_eq!(attr(&b, "b"), serde_json::json!(["a", "b"]));
    o.vars = vec!["port=x".into()];
    let d = evaluate(src, &o).expect_err("not a number");
    assert!(
        d.0[0]
            .message
            .contains("not compatible with its type number"),
        "{d}"
    );
}

#[test]
fn variable_errors() {
    let d = eval_err("variable \"port\" {\n  type = number\n}\n");
    assert_eq!(
        d.0[0].message.split(':').next(),
        Some("variable \"port\" has no value")
    );
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (1, 1));

    let mut o = opts();
    o.vars = vec!["nope=1".into()];
    let d = evaluate("variable \"nop\" {\n  default = 1\n}\n", &o).expect_err("undeclared -var");
    assert!(
        d.0[0].message.contains("no variable \"nope\" is declared"),
        "{}",
        d.0[0].message
    );
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean \"nop\"?"));

    let d = eval_err("variable \"n\" {\n  type = number\n  default = \"x\"\n}\n");
    assert!(
        d.0[0]
            .message
            .starts_with("invalid default value for variable \"n\""),
        "{}",
        d.0[0].message
    );
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (3, 13));

    let d = eval_err("variable \"n\" {\n  type = strin\n}\n");
    assert!(
        d.0[0].message.contains("unknown type \"strin\""),
        "{}",
        d.0[0].message
    );

    let mut o = opts();
    o.vars = vec!["n=abc".into()];
    let d =
        evaluate("variable \"n\" {\n  type = number\n}\nx = var.n\n", &o).expect_err("bad -var");
    assert_eq!(d.0.len(), 1, "{d}");
    assert_eq!(d.0[0].span.file, "<value for var.n from arguments>");
}

#[test]
fn validation_rules() {
    let src = concat!(
        "variable \"count\" {\n  type = number\n  default = 0\n",
        "  validation {\n    condition = var.count > 0\n    error_message = \"count must be positive\"\n  }\n}\n",
    );
    let d = eval_err(src);
    assert_eq!(
        d.0[0].message,
        "invalid value for variable \"count\": count must be positive"
    );
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (3, 13));
    let mut o = opts();
    o.vars = vec!["count=3".into()];
    evaluate(src, &o).expect("valid");

    let d = eval_err("variable \"a\" {\n  default = 1\n  validation {\n    condition = var.b > 0\n    error_message = \"x\"\n  }\n}\n");
    assert!(
        d.0[0]
            .message
            .contains("can only refer to the variable itself"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn locals_in_any_order_and_cycles() {
    let b = eval(concat!(
        "locals {\n  b = \"${local.a}-b\"\n}\n",
        "locals {\n  a = upper(var.name)\n}\n",
        "variable \"name\" {\n  default = \"x\"\n}\n",
        "out = local.b\n",
    ));
    assert_eq!(attr(&b, "out"), "X-b");
    assert!(b.blocks.is_empty());

    let d = eval_err("locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\nx = local.a\n");
    assert_eq!(d.0.len(), 1, "{d}");
    assert!(
        d.0[0]
            .message
            .starts_with("local values refer to each other in a cycle: local."),
        "{}",
        d.0[0].message
    );

    let d = eval_err("locals {\n  a = 1\n}\nx = local.b\n");
    assert!(d.0[0].message.contains("unknown local value \"b\""));
}

#[test]
fn dynamic_blocks() {
    let b = eval(concat!(
        "variable \"ports\" {\n  default = { http = 80, db = 5432 }\n}\n",
        "network {\n",
        "  dynamic \"port\" {\n    for_each = var.ports\n    labels = [port.key]\n",
        "    content {\n      static = port.value\n",
        "      dynamic \"tag\" {\n        for_each = [1, 2]\n        iterator = t\n        content {\n          v = \"${port.key}-${t.value}\"\n        }\n      }\n",
        "    }\n  }\n}\n",
    ));
    let net = &b.blocks[0];
    assert_eq!(net.ident, "network");
    let ports: Vec<_> = net
        .body
        .blocks
        .iter()
        .map(|p| (p.ident.as_str(), p.labels.clone()))
        .collect();
    assert_eq!(
        ports,
        vec![
            ("port", vec!["db".to_string()]),
            ("port", vec!["http".to_string()])
        ]
    );
    assert_eq!(
        serde_json::to_value(&net.body.blocks[1].body.attributes[0].value).expect("j"),
        80
    );
    let tags = &net.body.blocks[0].body.blocks;
    assert_eq!(tags.len(), 2);
    assert_eq!(
        serde_json::to_value(&tags[1].body.attributes[0].value).expect("j"),
        "db-2"
    );

    let d = eval_err("dynamic \"port\" {\n  content {\n  }\n}\n");
    assert!(d.0[0].message.contains("needs a for_each argument"));
}

#[test]
fn functions_work_and_fail_with_positions() {
    assert_eq!(x("format(\"%s:%d\", \"a\", 5)"), "a:5");
    assert_eq!(x("join(\",\", [1, 2])"), "1,2");
    assert_eq!(
        x("merge({ a = 1 }, { b = 2 }, { a = 3 })"),
        serde_json::json!({"a": 3, "b": 2})
    );
    assert_eq!(x("lookup({ a = 1 }, \"b\", 9)"), 9);
    assert_eq!(x("replace(\"a-b-c\", \"/-(b)-/\", \"[$1]\")"), "a[b]c");
    assert_eq!(x("try(var.nope, \"fallback\")"), "fallback");
    assert_eq!(x("can(tonumber(\"x\"))"), false);
    assert_eq!(
        x("jsonencode({ b = [1, true], a = \"<\" })"),
        "{\"a\":\"\\u003c\",\"b\":[1,true]}"
    );
    assert_eq!(
        x("jsondecode(\"{\\\"a\\\": [1, 2.5]}\")"),
        serde_json::json!({"a": [1, 2.5]})
    );
    assert_eq!(x("base64decode(base64encode(\"hi\"))"), "hi");
    assert_eq!(x("urlencode(\"a b&c\")"), "a+b%26c");
    assert_eq!(x("[min(3, 1, 2), max(3, 1, 2), abs(-4), ceil(1.2), floor(1.8), pow(2, 10), signum(-3), parseint(\"ff\", 16)]"), serde_json::json!([1, 3, 4, 2, 1, 1024, -1, 255]));
    assert_eq!(
        x("[length(\"héllo\"), length([1]), length({ a = 1 })]"),
        serde_json::json!([5, 1, 1])
    );
    assert_eq!(
        x("[for x in flatten([[1, [2]], 3]) : x]"),
        serde_json::json!([1, 2, 3])
    );
    assert_eq!(
        x("distinct(concat([1, 2], [2, 3]))"),
        serde_json::json!([1, 2, 3])
    );
    assert_eq!(
        x("zipmap([\"a\", \"b\"], [1, 2])"),
        serde_json::json!({"a": 1, "b": 2})
    );
    assert_eq!(x("keys({ b = 1, a = 2 })"), serde_json::json!(["a", "b"]));
    assert_eq!(
        x("formatlist(\"%s=%s\", [\"a\", \"b\"], \"v\")"),
        serde_json::json!(["a=v", "b=v"])
    );
    assert_eq!(x("indent(2, \"a\\nb\")"), "a\n  b");
    assert_eq!(x("[title(\"hello world\"), strrev(\"abc\"), substr(\"hello\", 1, 3), chomp(\"x\\n\\n\"), trimspace(\" x \"), trim(\"?!x!?\", \"!?\")]"), serde_json::json!(["Hello World", "cba", "ell", "x", "x", "x"]));
    assert_eq!(
        x("[element([1, 2, 3], 4), index([\"a\", \"b\"], \"b\"), contains([1], 1)]"),
        serde_json::json!([2, 1, true])
    );
    assert_eq!(x("[coalesce(\"\", \"b\"), compact([\"a\", \"\", \"b\"]), range(3), slice([1, 2, 3], 1, 3), sort([\"b\", \"a\"]), reverse([1, 2])]"), serde_json::json!(["b", ["a", "b"], [0, 1, 2], [2, 3], ["a", "b"], [2, 1]]));
    assert_eq!(
        x("[tostring(5), tonumber(\"5\"), tobool(\"true\"), tolist([1]), tomap({ a = 1 })]"),
        serde_json::json!(["5", 5, true, [1], {"a": 1}])
    );
    assert_eq!(
        x("convert([1, \"2\"], list(number))"),
        serde_json::json!([1, 2])
    );
    assert_eq!(
        x("setproduct([\"a\", \"b\"], [1])"),
        serde_json::json!([["a", 1], ["b", 1]])
    );
    assert_eq!(x("cidrsubnet(\"10.0.0.0/16\", 8, 2)"), "10.0.2.0/24");
    assert_eq!(x("upper(slice(split(\",\", \"a,b\"), 0, 1)...)"), "A");

    let d = eval_err("x = 1\ny = upper([1])\n");
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (2, 5));
    assert!(
        d.0[0]
            .message
            .starts_with("upper: invalid value for \"str\" parameter"),
        "{}",
        d.0[0].message
    );
    let d = eval_err("y = uper(\"a\")\n");
    assert_eq!(d.0[0].message, "call to unknown function \"uper\"");
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean upper?"));
    let d = eval_err("y = trimspace(\"a\", \" \")\n");
    assert_eq!(
        (d.0[0].span.start.line, d.0[0].span.start.col),
        (1, 20),
        "at the extra argument"
    );
    assert!(
        d.0[0].message.starts_with("trimspace: expects 1 argument"),
        "{}",
        d.0[0].message
    );
    let d = eval_err("y = format(\"%d\")\n");
    assert!(
        d.0[0].message.starts_with("format: not enough arguments"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn file_functions_resolve_from_base_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("f.txt"), "hello").expect("w");
    let mut o = opts();
    o.base_dir = dir.path().to_path_buf();
    let b = evaluate(
        "a = file(\"f.txt\")\nb = fileexists(\"nope\")\nc = filebase64(\"f.txt\")\nd = [basename(\"/a/b.txt\"), dirname(\"/a/b/c\")]\n",
        &o,
    )
    .expect("ok");
    assert_eq!(attr(&b, "a"), "hello");
    assert_eq!(attr(&b, "b"), false);
    assert_eq!(attr(&b, "c"), "aGVsbG8=");
    assert_eq!(attr(&b, "d"), serde_json::json!(["b.txt", "/a/b"]));
    let d = evaluate("a = file(\"missing.txt\")\n", &o).expect_err("missing");
    assert!(
        d.0[0].message.starts_with("file: cannot read"),
        "{}",
        d.0[0].message
    );

    // templatefile: an extension (Nomad lacks it); sees only its vars.
    std::fs::write(
        dir.path().join("t.tpl"),
        "Hi ${name}%{ for p in ports }:${p}%{ endfor } ${NOMAD_TASK_DIR}",
    )
    .expect("w");
    let b = evaluate(
        "d = templatefile(\"t.tpl\", { name = \"x\", ports = [1, 2] })\n",
        &o,
    )
    .expect("ok");
    assert_eq!(attr(&b, "d"), "Hi x:1:2 ${NOMAD_TASK_DIR}");
    // A template that includes itself stops instead of overflowing the stack.
    std::fs::write(
        dir.path().join("loop.tpl"),
        "${templatefile(\"loop.tpl\", {})}",
    )
    .expect("w");
    let d = evaluate("a = templatefile(\"loop.tpl\", {})\n", &o).expect_err("loop");
    assert!(d.to_string().contains("too deep"), "{d}");
}

#[test]
fn syntax_errors_have_positions() {
    let d = eval_err("job \"x\" {\n  group \"g\" {\n    count = \n  }\n}\n");
    assert_eq!(d.0.len(), 1);
    assert!(
        d.0[0].message.starts_with("syntax error"),
        "{}",
        d.0[0].message
    );
    assert_eq!(d.0[0].span.start.line, 3);
    let d = eval_err("job \"x\" {\n  group \"g\" {\n  }\n");
    assert_eq!(
        d.0[0].message,
        "unclosed block: this { has no matching } before the end of the file"
    );
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (1, 9));
    let d = eval_err("g {\n  count 3\n}\n");
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (2, 3));
    assert!(
        d.0[0]
            .message
            .starts_with("expected \"=\" after the argument name \"count\""),
        "{}",
        d.0[0].message
    );
    let d = eval_err("r { cpu = 1 memory = 2 }\n");
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (1, 13));
    assert!(d.0[0].message.contains("single argument"));
    let d = eval_err("a = 1\na = 2\n");
    assert!(
        d.0[0].message.contains("redefined attribute"),
        "{}",
        d.0[0].message
    );
    assert_eq!(d.0[0].span.start.line, 2);
}

#[test]
fn config_files_allow_functions_but_not_variables() {
    let b = parse_config(
        "datacenter = upper(\"dc1\")\nclient {\n  enabled = true\n}\n",
        "agent.hcl",
    )
    .expect("ok");
    assert_eq!(attr(&b, "datacenter"), "DC1");
    assert_eq!(b.blocks[0].ident, "client");
    let d = parse_config("x = var.a\n", "agent.hcl").expect_err("no vars");
    assert!(
        d.0[0].message.contains("not available here"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn blocks_keep_labels_and_positions() {
    let b = eval("job \"example\" {\n  group \"cache\" {\n    count = 2\n  }\n}\n");
    let job = &b.blocks[0];
    assert_eq!(
        (job.ident.as_str(), job.labels.as_slice()),
        ("job", &["example".to_string()][..])
    );
    let g = &job.body.blocks[0];
    assert_eq!((g.span.start.line, g.span.start.col), (2, 3));
    let c = &g.body.attributes[0];
    assert_eq!(
        (
            c.key_span.start.line,
            c.key_span.start.col,
            c.value_span.start.col
        ),
        (3, 5, 13)
    );
}
