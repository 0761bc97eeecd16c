//! Evaluated HCL ([`nomad_hcl::Body`]) to Nomad's API job JSON.

mod freeform;
mod group;
mod job;
mod placement;
mod schema;
mod services;
mod task;
mod value;

pub use job::{decode_job, decode_job_spanned};
pub use schema::Spans;

#[cfg(test)]
mod tests;
