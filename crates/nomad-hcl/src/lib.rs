//! HCL2 as Nomad evaluates it.
//!
//! Owns: parsing HCL2 source (with hcl-edit, so every node keeps its position),
//! evaluating it the way Nomad's jobspec2 does (input `variable`s from defaults,
//! `NOMAD_VAR_*`, `-var-file` and `-var`; `locals`; the function library;
//! `dynamic` blocks; `for` expressions; heredocs) and handing back a
//! [`tree::Body`] of plain values in which every attribute and block still knows
//! its `file:line:col`. Runtime interpolations that only a client can resolve
//! (`${NOMAD_*}`, `${attr.*}`, `${node.*}`, `${meta.*}`, `${env.*}`) are kept as
//! text, even inside a string that also references `var.*` or `local.*`.
//!
//! Also owns [`Diagnostic`], the positioned error every HCL consumer reports.
//!
//! Must not depend on: nomad-types or anything that knows what a job is (the
//! jobspec and agent-config schemas live with their owners), tokio, network.

mod body;
pub mod convert;
pub mod diag;
mod dynamic;
mod eval;
mod functions;
mod locals;
mod parse;
mod refs;
mod source;
mod suggest;
pub mod tree;
pub mod value;
mod varfile;
mod variables;

use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use diag::{Diagnostic, Diagnostics, Pos, Span};
/// The value type of evaluated attributes (re-exported from hcl-rs).
pub use hcl::{Map, Number, Value};
pub use suggest::did_you_mean;
pub use tree::{Attribute, Block, Body};

use body::{eval_body, Sink};
use eval::{Evaluator, Roots};
use source::SourceMap;

/// How to evaluate a jobspec.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// The file name shown in errors (`<stdin>` when read from standard input).
    pub filename: String,
    /// Where `file()`, `templatefile()`, ... resolve relative paths.
    pub base_dir: PathBuf,
    /// `-var name=value` arguments, in order.
    pub vars: Vec<String>,
    /// `-var-file` paths (HCL, or JSON when the name ends in `.json`), in order.
    pub var_files: Vec<PathBuf>,
    /// The process environment; `NOMAD_VAR_<name>` entries set variables.
    pub env: Vec<(String, String)>,
    /// Whether `variable` and `locals` blocks (and `-var`s) are allowed.
    pub variables_allowed: bool,
    /// Whether a `-var` or var-file value for an undeclared variable is
    /// silently dropped (`-hcl2-strict=false`) instead of being an error.
    pub allow_undeclared_vars: bool,
}

/// Orders diagnostics: those from other files (var files, `-var`) first in
/// the order found, then the main file's by position.
fn finish(main: &str, mut diags: Vec<Diagnostic>) -> Diagnostics {
    diags.sort_by(|a, b| {
        let ka = (a.span.file == main, a.span.start);
        let kb = (b.span.file == main, b.span.start);
        if a.span.file == main && b.span.file == main {
            ka.cmp(&kb)
        } else {
            (a.span.file == main).cmp(&(b.span.file == main))
        }
    });
    diags.dedup();
    Diagnostics(diags)
}

/// Parses and evaluates a jobspec with Nomad's HCL2 semantics.
///
/// Returns the evaluated body without its `variable`, `variables` and
/// `locals` blocks, or every problem found.
pub fn evaluate(src: &str, opts: &EvalOptions) -> Result<Body, Diagnostics> {
    let map = Rc::new(SourceMap::new(opts.filename.clone(), src));
    let parsed = parse::parse_body(&map)?;
    let mut sink = Sink::default();
    let mut roots = Roots {
        runtime: true,
        ..Roots::default()
    };
    if opts.variables_allowed {
        roots.vars = Some(variables::collect(&map, &parsed, opts, &mut sink));
        roots.locals = Some(locals::collect(
            &map,
            &parsed,
            &roots,
            &opts.base_dir,
            &mut sink,
        ));
    } else {
        for s in parsed.iter() {
            if let hcl_edit::structure::Structure::Block(b) = s {
                let ident = b.ident.as_str();
                if matches!(ident, "variable" | "variables" | "locals") {
                    sink.diag(Diagnostic::new(
                        map.span(hcl_edit::Span::span(&b.ident)),
                        format!("{ident} blocks are not allowed here"),
                    ));
                }
            }
        }
        if !opts.vars.is_empty() || !opts.var_files.is_empty() {
            sink.diag(Diagnostic::new(
                map.span(Some(0..0)),
                "variables (-var, -var-file) are not allowed here",
            ));
        }
    }
    let mut ev = Evaluator::new(Rc::clone(&map), &roots, &opts.base_dir);
    let out = eval_body(
        &mut ev,
        &parsed,
        map.whole(),
        &["variable", "variables", "locals"],
        &mut sink,
    );
    if sink.diags.is_empty() {
        Ok(out)
    } else {
        Err(finish(&opts.filename, sink.diags))
    }
}

/// Parses and evaluates a configuration file (e.g. an agent config): the
/// function library is available, variables are not. Relative file paths
/// resolve from the file's directory.
pub fn parse_config(src: &str, filename: &str) -> Result<Body, Diagnostics> {
    let base_dir = Path::new(filename)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let opts = EvalOptions {
        filename: filename.to_string(),
        base_dir,
        ..EvalOptions::default()
    };
    evaluate(src, &opts)
}
