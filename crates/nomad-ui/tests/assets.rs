//! The embedded UI is complete and self-contained: every file on disk is
//! embedded with a known content type, every reference from `index.html`,
//! every `import` between modules (and every imported name) resolves
//! inside the embedded set, nothing is fetched from another origin, and
//! `/ui` paths resolve as the agent serves them. With Node installed, the
//! modules are also syntax-checked and the pure ones unit-tested.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

fn assets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn files_on_disk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read assets dir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            files_on_disk(&p, base, out);
        } else {
            let rel = p.strip_prefix(base).expect("under assets");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn text(path: &str) -> &'static str {
    let a = nomad_ui::asset(path).unwrap_or_else(|| panic!("{path} is not embedded"));
    std::str::from_utf8(a.bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn js_assets() -> Vec<&'static str> {
    nomad_ui::assets()
        .iter()
        .map(|a| a.path)
        .filter(|p| p.ends_with(".js"))
        .collect()
}

/// `views/job.js` + `../lib/api.js` → `lib/api.js`; None when it leaves
/// the assets root or is not relative.
fn resolve_relative(from: &str, spec: &str) -> Option<String> {
    if !(spec.starts_with("./") || spec.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for piece in spec.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[test]
fn every_file_on_disk_is_embedded_with_a_known_type() {
    let mut disk = Vec::new();
    files_on_disk(&assets_dir(), &assets_dir(), &mut disk);
    let embedded: BTreeSet<&str> = nomad_ui::assets().iter().map(|a| a.path).collect();
    for f in &disk {
        if f == "index.html" {
            continue;
        }
        assert!(
            embedded.contains(f.as_str()),
            "assets/{f} exists but is not listed in src/lib.rs"
        );
    }
    assert_eq!(
        embedded.len(),
        nomad_ui::assets().len(),
        "an asset is listed twice"
    );
    for a in nomad_ui::assets() {
        assert_ne!(
            a.content_type, "application/octet-stream",
            "{}: no content type for this extension",
            a.path
        );
        assert!(!a.bytes.is_empty(), "{} is empty", a.path);
        let on_disk = std::fs::read(assets_dir().join(a.path)).expect("read");
        assert_eq!(on_disk, a.bytes, "{}", a.path);
    }
}

#[test]
fn index_references_resolve_to_embedded_assets() {
    let index = nomad_ui::index_template();
    let re = Regex::new(r#"(?:src|href)="([^"]*)""#).expect("regex");
    let mut assets_seen = 0;
    for cap in re.captures_iter(index) {
        let r = &cap[1];
        if let Some(path) = r.strip_prefix("{{ASSETS}}/") {
            assert!(
                nomad_ui::asset(path).is_some(),
                "index.html references {r}, which is not embedded"
            );
            assets_seen += 1;
        } else {
            // Links to client-side routes.
            assert!(
                r.starts_with("/ui/") && !r.starts_with("/ui/assets/"),
                "index.html references {r:?}: only {{{{ASSETS}}}}/… files and /ui/ routes are allowed"
            );
        }
    }
    assert!(
        assets_seen >= 3,
        "index.html should load the app, CSS and icon"
    );
    assert!(index.contains(r#"<script type="module" src="{{ASSETS}}/app.js">"#));
    // The served page names the current version.
    assert!(nomad_ui::index_html().contains(&format!("/ui/assets/{}/app.js", nomad_ui::version())));
}

/// Every `import`/`export … from` specifier and the names imported.
fn imports(src: &str) -> Vec<(String, Vec<String>)> {
    let stmt = Regex::new(
        r#"(?ms)^\s*(?:import|export)\s+([^;'"]*?)\s*from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)"#,
    )
    .expect("regex");
    let mut out = Vec::new();
    for cap in stmt.captures_iter(src) {
        if let Some(spec) = cap.get(2) {
            let clause = cap.get(1).map_or("", |m| m.as_str());
            let mut names = Vec::new();
            if let (Some(open), Some(close)) = (clause.find('{'), clause.rfind('}')) {
                for item in clause[open + 1..close].split(',') {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    let name = item.split_whitespace().next().unwrap_or(item);
                    names.push(name.to_string());
                }
            } else if !clause.trim_start().starts_with('*') {
                names.push("default".to_string());
            }
            out.push((spec.as_str().to_string(), names));
        } else if let Some(spec) = cap.get(3).or(cap.get(4)) {
            out.push((spec.as_str().to_string(), Vec::new()));
        }
    }
    out
}

fn exports(src: &str) -> BTreeSet<String> {
    let decl = Regex::new(
        r"(?m)^export\s+(?:async\s+)?(?:function\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)",
    )
    .expect("regex");
    let list = Regex::new(r"(?m)^export\s*\{([^}]*)\}").expect("regex");
    let mut out: BTreeSet<String> = decl.captures_iter(src).map(|c| c[1].to_string()).collect();
    for c in list.captures_iter(src) {
        for item in c[1].split(',') {
            if let Some(name) = item.split_whitespace().last() {
                out.insert(name.to_string());
            }
        }
    }
    if Regex::new(r"(?m)^export\s+default\b")
        .expect("regex")
        .is_match(src)
    {
        out.insert("default".to_string());
    }
    out
}

#[test]
fn every_import_resolves_and_names_an_export() {
    let js = js_assets();
    let exported: BTreeMap<&str, BTreeSet<String>> =
        js.iter().map(|p| (*p, exports(text(p)))).collect();
    let mut reachable = BTreeSet::from(["app.js".to_string()]);
    let mut todo = vec!["app.js".to_string()];
    let mut total = 0;
    while let Some(file) = todo.pop() {
        for (spec, names) in imports(text(&file)) {
            total += 1;
            let target = resolve_relative(&file, &spec).unwrap_or_else(|| {
                panic!(
                    "{file}: import {spec:?} must be a relative path (no bare or remote modules)"
                )
            });
            let Some(exports) = exported.get(target.as_str()) else {
                panic!("{file}: import {spec:?} resolves to {target}, which is not embedded");
            };
            for n in &names {
                assert!(
                    exports.contains(n),
                    "{file}: imports {n:?} from {target}, which does not export it (exports: {exports:?})"
                );
            }
            if reachable.insert(target.clone()) {
                todo.push(target);
            }
        }
    }
    assert!(
        total > 20,
        "found only {total} imports: is the parser broken?"
    );
    for p in &js {
        assert!(
            reachable.contains(*p),
            "{p} is embedded but never imported from app.js"
        );
    }
}

#[test]
fn the_parser_sees_every_import_form() {
    let src = "import { a, b as c } from './x.js';\nimport * as v from \"../y.js\";\nimport './side.js';\nexport { z } from './z.js';\nconst m = import('./lazy.js');\nimport {\n  multi,\n  line,\n} from './m.js';\n";
    let got = imports(src);
    let specs: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        specs,
        [
            "./x.js",
            "../y.js",
            "./side.js",
            "./z.js",
            "./lazy.js",
            "./m.js"
        ]
    );
    assert_eq!(got[0].1, ["a", "b"]);
    assert!(got[1].1.is_empty());
    assert_eq!(got[5].1, ["multi", "line"]);
    let ex = exports("export function f() {}\nexport async function g() {}\nexport const K = 1;\nexport class C {}\nexport { h, i as j };\n");
    assert_eq!(
        ex.into_iter().collect::<Vec<_>>(),
        ["C", "K", "f", "g", "h", "j"]
    );
    assert_eq!(
        resolve_relative("views/job.js", "../lib/api.js").as_deref(),
        Some("lib/api.js")
    );
    assert_eq!(resolve_relative("app.js", "../x.js"), None);
    assert_eq!(resolve_relative("app.js", "lib/x.js"), None);
}

#[test]
fn nothing_is_loaded_from_another_origin() {
    let mut files: Vec<(&str, &str)> = nomad_ui::assets()
        .iter()
        .filter_map(|a| std::str::from_utf8(a.bytes).ok().map(|t| (a.path, t)))
        .collect();
    files.push(("index.html", nomad_ui::index_template()));
    let url = Regex::new(r#"(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}"#).expect("regex");
    for (path, text) in files {
        for m in url.find_iter(text) {
            // The SVG namespace is a name, not a fetch.
            assert_eq!(
                m.as_str(),
                "http://www.w3.org",
                "{path} refers to {}: the UI must work offline",
                m.as_str()
            );
        }
        if path.ends_with(".css") {
            assert!(!text.contains("@import"), "{path}: no CSS imports");
            assert!(!text.contains("url("), "{path}: no CSS url() references");
        }
    }
}

#[test]
fn ui_paths_resolve_as_served() {
    let v = nomad_ui::version();
    let root = nomad_ui::resolve("/");
    assert_eq!((root.status, root.location), (307, Some("/ui/")));
    let ui = nomad_ui::resolve("/ui");
    assert_eq!((ui.status, ui.location), (301, Some("/ui/")));
    for page in [
        "/ui/",
        "/ui/jobs",
        "/ui/jobs/example",
        "/ui/jobs/a%2Fb/versions",
        "/ui/clients/x",
    ] {
        let r = nomad_ui::resolve(page);
        assert_eq!(r.status, 200, "{page}");
        assert_eq!(r.content_type, "text/html; charset=utf-8", "{page}");
        assert_eq!(r.cache_control, Some(nomad_ui::CACHE_NO_CACHE), "{page}");
        assert_eq!(r.body, nomad_ui::index_html().as_bytes(), "{page}");
        assert!(r.csp.is_some(), "{page}");
    }
    for a in nomad_ui::assets() {
        let r = nomad_ui::resolve(&format!("/ui/assets/{v}/{}", a.path));
        assert_eq!(r.status, 200, "{}", a.path);
        assert_eq!(r.content_type, a.content_type);
        assert_eq!(r.body, a.bytes);
        assert_eq!(r.cache_control, Some(nomad_ui::CACHE_IMMUTABLE));
        assert_eq!(r.etag, Some(format!("\"{v}\"").as_str()));
    }
    for missing in [
        format!("/ui/assets/{v}/nope.js"),
        format!("/ui/assets/{v}/"),
        format!("/ui/assets/{v}"),
        "/ui/assets/0000000000000000/app.js".to_string(),
        "/ui/assets/app.js".to_string(),
        "/ui/assets/".to_string(),
        "/ui/assets".to_string(),
        format!("/ui/assets/{v}/../index.html"),
        format!("/ui/assets/{v}/index.html"),
    ] {
        assert_eq!(nomad_ui::resolve(&missing).status, 404, "{missing}");
    }
    assert!(!nomad_ui::is_ui_path("/v1/jobs"));
    assert!(nomad_ui::is_ui_path("/ui/jobs"));
}

/// Runs `node` if it is installed; None (with the reason printed) if not.
fn node() -> Option<&'static str> {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Some("node"),
        _ => {
            eprintln!("skipped: `node` is not installed (optional check; CI does not need it)");
            None
        }
    }
}

#[test]
fn modules_parse_under_node_if_installed() {
    let Some(node) = node() else { return };
    let dir = std::env::temp_dir().join(format!("nomad-ui-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for p in js_assets() {
        // `.mjs` makes Node parse the file as an ES module whatever its version.
        let file = dir.join(p.replace('/', "__").replace(".js", ".mjs"));
        std::fs::write(&file, text(p)).expect("write");
        let out = Command::new(node)
            .arg("--check")
            .arg(&file)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "{p} does not parse:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pure_modules_pass_their_node_tests_if_installed() {
    let Some(node) = node() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/format.test.mjs");
    let out = Command::new(node).arg(&script).output().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
