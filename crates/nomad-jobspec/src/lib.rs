//! Nomad jobspecs: HCL2 job files to the job Nomad's API takes.
//!
//! Owns: decoding an evaluated jobspec (a [`nomad_hcl::Body`], produced by
//! `nomad_hcl::evaluate` with variables, locals, functions and dynamic blocks
//! already applied) into the JSON of Nomad's `api.Job`, exactly as
//! `nomad job run -output` prints it under `"Job"`: which HCL block or
//! argument becomes which API field, durations as nanoseconds, free-form
//! driver `config`, and the small normalisations Nomad's parser (jobspec2)
//! applies (job ID and Name from the label, template defaults, static ports as
//! reserved ports, top-level tasks as groups). Every problem (unknown or
//! misspelled names, wrong value types, bad durations, missing labels,
//! repeated blocks, duplicate group or task names, more than one job) is
//! reported with its `file:line:col`, all of them at once.
//!
//! The entry points are [`parse_hcl`] and [`parse_json`], which return a
//! `nomad_types::Job` (as Nomad's parser leaves it: not yet canonicalized)
//! and a [`SourceMap`]; [`validate`] runs `Job::validate` and places each
//! problem back at its `file:line:col`.
//!
//! Must not depend on: HCL parsing or evaluation details (nomad-hcl owns
//! them), the scheduler, the server or the network. Defaults
//! (`Job::canonicalize`) and validation rules (`Job::validate`) belong to
//! nomad-types; this crate only connects them to positions.

pub mod decode;
pub mod duration;
mod load;
mod validate;

pub use decode::{decode_job, decode_job_spanned, Spans};
pub use load::{parse_hcl, parse_json, ParseError, ParseOptions, SourceMap};
pub use validate::{validate, LocatedError};
