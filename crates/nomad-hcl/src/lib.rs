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

pub mod diag;
pub mod tree;

pub use diag::{Diagnostic, Diagnostics, Pos, Span};
pub use tree::{Attribute, Block, Body};
