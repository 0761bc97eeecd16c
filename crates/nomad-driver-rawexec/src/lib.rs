//! Nomad's `raw_exec` task driver: runs the task's command as a plain host
//! process, with no isolation, as the client's user (or `user` when the
//! client runs as root).
//!
//! This crate owns the driver's plugin config (`enabled`,
//! `denied_host_uids`, `denied_host_gids`), its task config (`command`,
//! `args`, `work_dir`, `oom_score_adj`) and the [`RawExecDriver`]
//! implementation of [`nomad_driver::Driver`]. Processes are launched with
//! [`nomad_driver::executor`]: under a shim that outlives the client, in
//! their own session and process group (the stop signal goes to the whole
//! group, SIGKILL after the kill timeout), with stdout/stderr appended to
//! the client's log files. Recovery re-attaches by pid, checked against
//! the start time recorded in the handle; stats come from `/proc` (every
//! process of the task's session).
//!
//! Like Nomad's, the driver is disabled unless its plugin config says
//! `enabled = true`: its fingerprint is then `Undetected` with description
//! `"disabled"`, and it refuses to start tasks.
//!
//! Must not depend on: server crates, the state store, other concrete
//! drivers.

mod config;
mod driver;

pub use config::{ConfigError, RawExecConfig, RawExecTaskConfig};
pub use driver::{RawExecDriver, DRIVER_NAME, HANDLE_VERSION};
