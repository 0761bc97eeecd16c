//! Mutated corpus jobs (characters deleted, tokens inserted, lines repeated)
//! must produce a job or errors, never a panic.

use std::path::Path;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "=",
    "\n",
    "[",
    "]",
    "${",
    "%{",
    "dynamic \"x\" {",
    "group \"g\" {",
    "task \"t\" {",
    "count = ",
    "null",
    "-1",
    "1.5",
    "\"5s\"",
    "var.x",
    "local.y",
    "#",
    "<<EOF\n",
    "port \"p\" {",
    "config {",
    "meta = {",
    "}\n}\n",
    "99999999999999999999",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn check(src: &str, dir: &Path) {
    let opts = nomad_hcl::EvalOptions {
        filename: "m.nomad.hcl".into(),
        base_dir: dir.to_path_buf(),
        variables_allowed: true,
        ..nomad_hcl::EvalOptions::default()
    };
    if let Ok(body) = nomad_hcl::evaluate(src, &opts) {
        let _ = crate::decode_job_spanned(&body);
    }
}

#[test]
fn mutated_corpus_jobs_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/good");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut rng = Lcg(7);
    for e in entries.flatten() {
        let path = e.path();
        if !path.to_string_lossy().ends_with(".nomad.hcl") {
            continue;
        }
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        check(&src, &dir);
        for _ in 0..60 {
            let chars: Vec<char> = src.chars().collect();
            let at = rng.next(chars.len());
            let mut m: String = chars[..at].iter().collect();
            match rng.next(3) {
                0 => m.extend(chars.get(at + 1..).unwrap_or_default()),
                1 => {
                    m.push_str(TOKENS[rng.next(TOKENS.len())]);
                    m.extend(&chars[at..]);
                }
                _ => {
                    let rest: String = chars[at..].iter().collect();
                    let line = rest.lines().next().unwrap_or_default().to_string();
                    m.push_str(&line);
                    m.push('\n');
                    m.push_str(&rest);
                }
            }
            check(&m, &dir);
        }
    }
}
