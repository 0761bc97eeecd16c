//! The entry points: a job file (HCL2 or JSON) in, a [`Job`] out, with a
//! [`SourceMap`] that lets later errors point back into the file.

use crate::decode::{decode_job_spanned, Spans};
use nomad_hcl::{Diagnostics, EvalOptions, Span};
use nomad_types::{Job, JsonError};
use std::path::PathBuf;

/// Everything that shapes how a job file is read, as the CLI's flags give it.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The name errors show (`<stdin>` for standard input).
    pub filename: String,
    /// Where `file()` and `templatefile()` resolve relative paths: the job
    /// file's directory.
    pub base_dir: PathBuf,
    /// `-var name=value`, in order (later wins).
    pub vars: Vec<String>,
    /// `-var-file` paths, in order (later wins; `-var` wins over all).
    pub var_files: Vec<PathBuf>,
    /// The process environment; `NOMAD_VAR_<name>` entries set variables.
    pub env: Vec<(String, String)>,
    /// `-hcl2-strict` (Nomad's default: true): a value for a variable the job
    /// does not declare is an error; when false it is ignored.
    pub strict: bool,
}

/// Why a job file did not become a job.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// HCL syntax, evaluation or decoding problems, each with `file:line:col`.
    #[error("{0}")]
    Hcl(Diagnostics),
    /// A JSON job that is not valid JSON or has a value of the wrong type.
    #[error("{file}: {source}")]
    Json { file: String, source: JsonError },
    /// A JSON job file given with `-var` or `-var-file`.
    #[error("{file}: -var and -var-file apply to HCL job files only")]
    VarsWithJson { file: String },
}

/// Where each field of a parsed job was written. Empty for JSON job files,
/// whose errors name field paths instead.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    file: String,
    spans: Spans,
}

impl SourceMap {
    /// The span recorded for a field path such as `TaskGroups[0].Tasks[1].Driver`
    /// (or the JSON pointer `/TaskGroups/0/Tasks/1/Driver`). A field that was
    /// not written (a missing driver) is placed at the nearest enclosing block
    /// that was: the task, then the group, then the job.
    pub fn locate(&self, path: &str) -> Option<&Span> {
        let mut pointer = to_pointer(path);
        loop {
            if let Some(span) = self.spans.get(&pointer) {
                return Some(span);
            }
            match pointer.rfind('/') {
                Some(i) => pointer.truncate(i),
                None => return None,
            }
            if pointer.is_empty() {
                return self.spans.get("");
            }
        }
    }

    /// The file the spans point into.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// `TaskGroups[0].Tasks[1].Driver` → `/TaskGroups/0/Tasks/1/Driver`; a
/// pointer is returned as it is.
fn to_pointer(path: &str) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_string();
    }
    let mut out = String::with_capacity(path.len() + 4);
    for part in path.split('.') {
        let mut rest = part;
        // `Name[3]` and `Meta[key]` both become segments.
        while let Some(open) = rest.find('[') {
            let (head, tail) = rest.split_at(open);
            if !head.is_empty() {
                out.push('/');
                out.push_str(head);
            }
            let close = tail.find(']').unwrap_or(tail.len());
            out.push('/');
            out.push_str(&tail[1..close].replace('~', "~0").replace('/', "~1"));
            rest = tail.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push('/');
            out.push_str(rest);
        }
    }
    out
}

/// Parses an HCL2 job file the way `nomad job run` does: variables, locals,
/// functions and dynamic blocks evaluated, runtime interpolations kept as
/// text. The job is as Nomad's parser leaves it (not canonicalized).
pub fn parse_hcl(src: &str, opts: &ParseOptions) -> Result<(Job, SourceMap), ParseError> {
    let eval = EvalOptions {
        filename: opts.filename.clone(),
        base_dir: opts.base_dir.clone(),
        vars: opts.vars.clone(),
        var_files: opts.var_files.clone(),
        env: opts.env.clone(),
        variables_allowed: true,
        allow_undeclared_vars: !opts.strict,
    };
    let body = nomad_hcl::evaluate(src, &eval).map_err(ParseError::Hcl)?;
    let (value, spans) = decode_job_spanned(&body).map_err(ParseError::Hcl)?;
    // The decoder writes the API's field names; a mismatch with the types is
    // our bug, reported with its path rather than hidden.
    let job = nomad_types::json::from_value::<Job>(value).map_err(|source| ParseError::Json {
        file: opts.filename.clone(),
        source,
    })?;
    Ok((
        job,
        SourceMap {
            file: opts.filename.clone(),
            spans,
        },
    ))
}

/// Parses a JSON job file: Nomad's API JSON, either `{"Job": {...}}` (as
/// `job run -output` and `job inspect` print) or the bare job. Field names
/// match case-insensitively and unknown fields are ignored, as Nomad's
/// decoder does.
pub fn parse_json(src: &str, opts: &ParseOptions) -> Result<(Job, SourceMap), ParseError> {
    if !opts.vars.is_empty() || !opts.var_files.is_empty() {
        return Err(ParseError::VarsWithJson {
            file: opts.filename.clone(),
        });
    }
    let json_err = |source| ParseError::Json {
        file: opts.filename.clone(),
        source,
    };
    // Syntax first (a plain tree needs no lenient field matching), then the
    // job through the lenient reader, once.
    let value: serde_json::Value = serde_json::from_str(src).map_err(|e| ParseError::Json {
        file: opts.filename.clone(),
        source: JsonError {
            path: String::new(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        },
    })?;
    let inner = match &value {
        serde_json::Value::Object(map) => map
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("job") && v.is_object())
            .map(|(_, v)| v.clone()),
        _ => None,
    };
    let job = nomad_types::json::from_value::<Job>(inner.unwrap_or(value)).map_err(json_err)?;
    Ok((
        job,
        SourceMap {
            file: opts.filename.clone(),
            spans: Spans::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_become_pointers() {
        assert_eq!(
            to_pointer("TaskGroups[0].Tasks[1].Driver"),
            "/TaskGroups/0/Tasks/1/Driver"
        );
        assert_eq!(to_pointer("Meta[a/b]"), "/Meta/a~1b");
        assert_eq!(to_pointer("Priority"), "/Priority");
        assert_eq!(to_pointer("/Priority"), "/Priority");
    }
}
