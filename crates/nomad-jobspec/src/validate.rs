//! Job validation with positions: `Job::validate` finds the problems, the
//! source map says where in the file each one was written.

use crate::load::SourceMap;
use nomad_hcl::Span;
use nomad_types::Job;
use std::fmt;

/// A validation problem, placed in the job file when the job came from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    /// Where it was written (the field, or the nearest enclosing block).
    pub span: Option<Span>,
    /// The field path, e.g. `TaskGroups[0].Tasks[1].Driver`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Validates `job` (canonicalize it first, as the server does) and places
/// every problem found in the source it was parsed from.
pub fn validate(job: &Job, source: &SourceMap) -> Result<(), Vec<LocatedError>> {
    let errors = match job.validate() {
        Ok(()) => return Ok(()),
        Err(errors) => errors,
    };
    let mut located: Vec<LocatedError> = errors
        .into_iter()
        .map(|e| LocatedError {
            span: source.locate(&e.path).cloned(),
            path: e.path,
            message: e.message,
        })
        .collect();
    // In file order, so that the first error a user reads is the first in the file.
    located.sort_by(|a, b| {
        let ka = a.span.as_ref().map(|s| s.start);
        let kb = b.span.as_ref().map(|s| s.start);
        ka.cmp(&kb)
    });
    Err(located)
}
