//! Decoder tests: representative jobs and every error class.

mod decode;
mod errors;
mod robustness;

use nomad_hcl::{evaluate, Diagnostics, EvalOptions};
use serde_json::Value;

pub(super) fn opts() -> EvalOptions {
    EvalOptions {
        filename: "job.nomad.hcl".into(),
        variables_allowed: true,
        ..EvalOptions::default()
    }
}

/// Evaluates and decodes; panics with the diagnostics on failure.
pub(super) fn job(src: &str) -> Value {
    let body = evaluate(src, &opts()).unwrap_or_else(|d| panic!("evaluation failed:\n{d}"));
    super::decode_job(&body).unwrap_or_else(|d| panic!("decoding failed:\n{d}"))
}

/// Evaluates and decodes, expecting decode errors.
pub(super) fn errors(src: &str) -> Diagnostics {
    let body = evaluate(src, &opts()).unwrap_or_else(|d| panic!("evaluation failed:\n{d}"));
    match super::decode_job(&body) {
        Ok(v) => panic!("expected errors, decoded {v}"),
        Err(d) => d,
    }
}

/// `(line, col, message)` of each diagnostic.
pub(super) fn summary(d: &Diagnostics) -> Vec<(u32, u32, String)> {
    d.0.iter()
        .map(|d| (d.span.start.line, d.span.start.col, d.to_string()))
        .collect()
}

/// Wraps a group body in a job.
pub(super) fn in_group(body: &str) -> String {
    format!("job \"j\" {{\n  group \"g\" {{\n{body}\n  }}\n}}\n")
}

/// Wraps a task body in a job and group.
pub(super) fn in_task(body: &str) -> String {
    in_group(&format!(
        "    task \"t\" {{\n      driver = \"docker\"\n{body}\n    }}"
    ))
}
