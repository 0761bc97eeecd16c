//! `-var-file` contents: `name = value` lines in HCL, or a JSON object.

use std::path::Path;
use std::rc::Rc;

use hcl::Value;
use hcl_edit::structure::Structure;
use hcl_edit::Span as _;

use crate::body::Sink;
use crate::diag::{Diagnostic, Pos, Span};
use crate::source::SourceMap;
use crate::value::from_json;
use crate::variables::eval_plain;

/// The assignments in one var file, each with the span of its value.
pub(crate) fn read(path: &Path, base_dir: &Path, sink: &mut Sink) -> Vec<(String, Value, Span)> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            sink.diag(Diagnostic::new(
                Span {
                    file: file.clone(),
                    ..Span::default()
                },
                format!("cannot read var file {file}: {e}"),
            ));
            return Vec::new();
        }
    };
    let map = Rc::new(SourceMap::new(file.clone(), text));
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return read_json(&map, sink);
    }
    let body = match crate::parse::parse_body(&map) {
        Ok(b) => b,
        Err(d) => {
            sink.diags.extend(d.0);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => match eval_plain(&map, base_dir, &a.value) {
                Ok(v) => out.push((a.key.as_str().to_string(), v, map.span(a.value.span()))),
                Err(e) => sink.push(e),
            },
            Structure::Block(b) if b.ident.as_str() == "variable" => {
                let name = b.labels.first().map(|l| l.as_str().to_string()).unwrap_or_default();
                sink.diag(Diagnostic::new(
                    map.span(b.ident.span()),
                    format!("a var file assigns values to variables declared in the job file; it cannot declare them. To set \"{name}\" here, write: {name} = <value>"),
                ));
            }
            Structure::Block(b) => sink.diag(Diagnostic::new(
                map.span(b.ident.span()),
                format!("unexpected block \"{}\" in a var file; a var file holds only name = value assignments", b.ident.as_str()),
            )),
        }
    }
    out
}

fn read_json(map: &SourceMap, sink: &mut Sink) -> Vec<(String, Value, Span)> {
    let whole = map.whole();
    match serde_json::from_str::<serde_json::Value>(&map.text) {
        Ok(serde_json::Value::Object(o)) => o
            .iter()
            .map(|(k, v)| (k.clone(), from_json(v), whole.clone()))
            .collect(),
        Ok(_) => {
            sink.diag(Diagnostic::new(
                whole,
                "a JSON var file must hold one object of name: value pairs",
            ));
            Vec::new()
        }
        Err(e) => {
            let pos = Pos {
                line: u32::try_from(e.line()).unwrap_or(1),
                col: u32::try_from(e.column()).unwrap_or(1),
            };
            sink.diag(Diagnostic::new(
                Span {
                    file: map.file.clone(),
                    start: pos,
                    end: pos,
                },
                format!("invalid JSON in var file: {e}"),
            ));
            Vec::new()
        }
    }
}
