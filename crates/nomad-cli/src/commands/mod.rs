//! One module per command family.

pub mod job;
pub mod version;
