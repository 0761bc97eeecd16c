//! The jobspec corpus: every file under `tests/corpus/good` parses, validates
//! after canonicalization and prints the JSON stored beside it
//! (`NAME.expected.json`); every file under `tests/corpus/bad` fails with its
//! error at the `line:col` and with the words its `.expect` file names, and with
//! exactly the text stored in `NAME.expected.err`.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p nomad-jobspec --test corpus` rewrites the
//! `.expected.*` files; review the diff before committing it.

use nomad_jobspec::{parse_hcl, parse_json, validate, ParseOptions};
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir)
}

fn inputs(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(dir))
        .unwrap_or_else(|e| panic!("corpus dir {dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".nomad.hcl")
                || (name.ends_with(".json") && !name.ends_with(".expected.json"))
        })
        .collect();
    files.sort();
    files
}

/// Reads the `# args:` and `# env:` header lines of a corpus file.
fn options(path: &Path, text: &str) -> ParseOptions {
    let mut vars = Vec::new();
    let mut var_files = Vec::new();
    let mut env = Vec::new();
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(args) = line.strip_prefix("# args:") {
            let words: Vec<&str> = args.split_whitespace().collect();
            let mut i = 0;
            while i < words.len() {
                let w = words[i].trim_start_matches('-');
                // Both `-flag value` and `-flag=value`, as Go's flag package takes.
                let (flag, inline) = match w.split_once('=') {
                    Some((f, v)) if f == "var-file" || f == "var" => (f, Some(v.to_string())),
                    _ => (w, None),
                };
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        words.get(i).map(|s| s.to_string()).unwrap_or_default()
                    }
                };
                match flag {
                    "var" => vars.push(value),
                    "var-file" => var_files.push(dir.join(value)),
                    other => panic!("{}: unknown header flag {other}", path.display()),
                }
                i += 1;
            }
        } else if let Some(kvs) = line.strip_prefix("# env:") {
            for kv in kvs.split_whitespace() {
                if let Some((k, v)) = kv.split_once('=') {
                    env.push((k.to_string(), v.to_string()));
                }
            }
        }
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("job")
        .to_string();
    ParseOptions {
        filename: name,
        base_dir: dir,
        vars,
        var_files,
        env,
        strict: true,
    }
}

fn update() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some()
}

/// Compares `actual` with the snapshot file, or rewrites it under UPDATE_SNAPSHOTS.
fn check_snapshot(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if update() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs from the snapshot:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(_) => failures.push(format!(
            "{} is missing (run with UPDATE_SNAPSHOTS=1)",
            path.display()
        )),
    }
}

fn snapshot_path(input: &Path, ext: &str) -> PathBuf {
    let name = input.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let stem = name
        .trim_end_matches(".nomad.hcl")
        .trim_end_matches(".json");
    input.with_file_name(format!("{stem}.{ext}"))
}

/// Every non-null value in `decoded` must be present, equal, in `ours`.
fn lost_fields(
    decoded: &serde_json::Value,
    ours: &serde_json::Value,
    at: &str,
    lost: &mut Vec<String>,
) {
    use serde_json::Value;
    match (decoded, ours) {
        (Value::Null, _) => {}
        (Value::Object(d), Value::Object(o)) => {
            for (k, v) in d {
                match o.get(k) {
                    Some(ov) => lost_fields(v, ov, &format!("{at}/{k}"), lost),
                    None if v.is_null() => {}
                    None => lost.push(format!("{at}/{k}")),
                }
            }
        }
        (Value::Array(d), Value::Array(o)) if d.len() == o.len() => {
            for (i, (dv, ov)) in d.iter().zip(o).enumerate() {
                lost_fields(dv, ov, &format!("{at}/{i}"), lost);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        _ => lost.push(format!("{at} ({decoded} became {ours})")),
    }
}

#[test]
fn good_jobspecs_match_their_snapshots() {
    let files = inputs("good");
    assert!(
        files.len() >= 30,
        "the corpus should hold at least 30 good jobspecs, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let opts = options(path, &text);
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            parse_json(&text, &opts)
        } else {
            parse_hcl(&text, &opts)
        };
        let (job, source) = match parsed {
            Ok(j) => j,
            Err(e) => {
                failures.push(format!("{} failed to parse:\n{e}", path.display()));
                continue;
            }
        };
        let json = serde_json::to_string_pretty(&serde_json::json!({ "Job": job }))
            .unwrap_or_default()
            + "\n";
        check_snapshot(&snapshot_path(path, "expected.json"), &json, &mut failures);
        if path.extension().is_some_and(|e| e != "json") {
            // Nothing the decoder wrote may be dropped on the way into `Job`
            // (a field name the types do not know would vanish silently).
            let eval = nomad_hcl::EvalOptions {
                filename: opts.filename.clone(),
                base_dir: opts.base_dir.clone(),
                vars: opts.vars.clone(),
                var_files: opts.var_files.clone(),
                env: opts.env.clone(),
                variables_allowed: true,
                allow_undeclared_vars: false,
            };
            let decoded = nomad_hcl::evaluate(&text, &eval)
                .ok()
                .and_then(|body| nomad_jobspec::decode_job(&body).ok())
                .unwrap_or_default();
            let ours = serde_json::to_value(&job).unwrap_or_default();
            let mut lost = Vec::new();
            lost_fields(&decoded, &ours, "", &mut lost);
            if !lost.is_empty() {
                failures.push(format!(
                    "{}: decoded but lost in Job: {}",
                    path.display(),
                    lost.join(", ")
                ));
            }
        }

        // Round trip: Job -> JSON -> Job is the identity, before and after canonicalize.
        let mut canon = job.clone();
        canon.canonicalize();
        for (what, j) in [("parsed", &job), ("canonical", &canon)] {
            let text = serde_json::to_string(j).unwrap_or_default();
            match nomad_types::json::from_str::<nomad_types::Job>(&text) {
                Ok(back) if &back == j => {}
                Ok(_) => failures.push(format!(
                    "{}: {what} Job -> JSON -> Job is not the identity",
                    path.display()
                )),
                Err(e) => failures.push(format!(
                    "{}: reading our own {what} JSON back: {e}",
                    path.display()
                )),
            }
        }
        let mut again = canon.clone();
        again.canonicalize();
        if again != canon {
            failures.push(format!(
                "{}: canonicalize is not idempotent",
                path.display()
            ));
        }
        if let Err(errors) = validate(&canon, &source) {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            failures.push(format!(
                "{} does not validate:\n{}",
                path.display(),
                list.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn bad_jobspecs_fail_where_and_how_expected() {
    let files = inputs("bad");
    assert!(
        files.len() >= 15,
        "the corpus should hold at least 15 bad jobspecs, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let opts = options(path, &text);
        let name = opts.filename.clone();
        let error_text = match parse_hcl(&text, &opts) {
            Err(e) => e.to_string(),
            Ok((mut job, source)) => {
                job.canonicalize();
                match validate(&job, &source) {
                    Ok(()) => {
                        failures.push(format!("{} was accepted", path.display()));
                        continue;
                    }
                    Err(errors) => errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                }
            }
        };
        check_snapshot(
            &snapshot_path(path, "expected.err"),
            &(error_text.clone() + "\n"),
            &mut failures,
        );

        let expect_path = snapshot_path(path, "expect");
        let expect = std::fs::read_to_string(&expect_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
        let expect = expect
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let mut words = expect.split_whitespace();
        let at = words.next().unwrap_or("");
        // `0:0` marks errors that come from the command line (-var), which
        // have no place in the file; those must not claim one.
        let located = format!("{name}:{at}");
        if at == "0:0" {
            if error_text.contains(&format!("{name}:")) {
                failures.push(format!(
                    "{}: a command-line error points into the file:\n{error_text}",
                    path.display()
                ));
            }
        } else if !error_text.contains(&located) {
            failures.push(format!(
                "{}: expected an error at {located}, got:\n{error_text}",
                path.display()
            ));
        }
        let lower = error_text.to_lowercase();
        for word in words.filter(|w| !w.starts_with("at=")) {
            let word = word.trim_matches('"').to_lowercase();
            if !lower.contains(&word) {
                failures.push(format!(
                    "{}: error lacks {word:?}:\n{error_text}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
