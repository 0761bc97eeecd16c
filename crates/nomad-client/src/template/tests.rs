use super::*;

fn r(src: &str) -> Result<String, ClientError> {
    let mut env = BTreeMap::new();
    env.insert("NAME".to_string(), "web".to_string());
    env.insert("LIST".to_string(), "a,b,c".to_string());
    let reader = |p: &str| {
        if p == "f.txt" {
            Ok("from file".to_string())
        } else {
            Err(format!("no {p}"))
        }
    };
    render(
        src,
        "",
        "",
        &Context {
            env: &env,
            read_file: &reader,
        },
    )
}

#[test]
fn renders_the_common_subset() {
    assert_eq!(r("hi {{ env \"NAME\" }}!").unwrap(), "hi web!");
    assert_eq!(r("{{ env \"NAME\" | toUpper }}").unwrap(), "WEB");
    assert_eq!(r("{{ file \"f.txt\" }}").unwrap(), "from file");
    assert_eq!(
        r("{{ range $i, $e := split \",\" (env \"LIST\") }}{{ $i }}={{ $e }};{{ end }}").unwrap(),
        "0=a;1=b;2=c;"
    );
    assert_eq!(
        r("{{ range split \",\" (env \"LIST\") }}[{{ . }}]{{ end }}").unwrap(),
        "[a][b][c]"
    );
    assert_eq!(
        r("{{ if eq (env \"NAME\") \"api\" }}api{{ else if eq (env \"NAME\") \"web\" }}web{{ else }}?{{ end }}").unwrap(),
        "web"
    );
    assert_eq!(
        r("{{ with env \"NOPE\" }}x{{ else }}none{{ end }}").unwrap(),
        "none"
    );
    assert_eq!(
        r("{{ with env \"NAME\" }}<{{ . }}>{{ end }}").unwrap(),
        "<web>"
    );
    assert_eq!(r("a  {{- /* c */ -}}  b\n{{- \"x\" }}").unwrap(), "abx");
    assert_eq!(r("{{ printf \"%s:%d\" \"h\" 80 }}").unwrap(), "h:80");
    assert_eq!(
        r("{{ $x := env \"NAME\" }}{{ $x }}{{ $x }}").unwrap(),
        "webweb"
    );
    assert_eq!(r("{{ or (env \"NOPE\") \"dflt\" }}").unwrap(), "dflt");
    assert_eq!(r("{{ len (split \",\" (env \"LIST\")) }}").unwrap(), "3");
    let env = BTreeMap::new();
    let reader = |_: &str| Err("x".to_string());
    assert_eq!(
        render(
            "<< env \"X\" >>{{x}}",
            "<<",
            ">>",
            &Context {
                env: &env,
                read_file: &reader
            }
        )
        .unwrap(),
        "{{x}}"
    );
}

#[test]
fn errors_are_values() {
    for bad in [
        "{{ if }}",
        "{{ end }}",
        "{{ range split \",\" \"a\" }}",
        "{{ nope }}",
        "{{ key \"x\" }}",
        "{{ \"unterminated }}",
        "{{ file \"other\" }}",
        "{{ env }}",
        "{{",
    ] {
        assert!(r(bad).is_err(), "{bad}");
    }
}

#[test]
fn env_files_parse() {
    let m = parse_env_file("# c\nA=1\nexport B=\"two words\"\nC='x'\n\n").unwrap();
    assert_eq!(m["A"], "1");
    assert_eq!(m["B"], "two words");
    assert_eq!(m["C"], "x");
    assert!(parse_env_file("novalue\n").is_err());
}
