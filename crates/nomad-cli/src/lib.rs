//! The `nomad` command.
//!
//! Owns: the command tree (clap), Nomad's flag conventions (see [`args`]),
//! what every command prints (tables in columnize style, JSON as Go writes
//! it, messages; see [`format`]) and its exit codes, which follow Nomad's.
//! Commands that need a cluster talk to an agent through
//! `nomad-api-client` (`-address` / `NOMAD_ADDR`, `-region`, `-namespace`,
//! `-token` and their `NOMAD_*` variables).
//!
//! Must not depend on: server internals (state store, raft, scheduler) except
//! through the agent's composition in `nomad agent`; it talks to a cluster only
//! through the `/v1` HTTP API.

pub mod agent;
pub mod args;
mod cli;
mod commands;
mod ctx;
pub mod format;
mod jobfile;

use std::ffi::OsString;
use std::io::Write;

/// Where a command writes: stdout and stderr in the binary, buffers in tests.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Standard input, for `-` arguments.
    pub stdin: &'a mut dyn std::io::Read,
    /// The process environment (`NOMAD_VAR_*`, `NOMAD_ADDR`, …).
    pub env: Vec<(String, String)>,
}

/// Runs the `nomad` command line with `args` (including the program name)
/// and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>, io: &mut Io<'_>) -> i32 {
    cli::run(args, io)
}

/// Runs with the real process arguments, environment and standard streams.
pub fn main() -> i32 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let stdin = std::io::stdin();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let mut input = stdin.lock();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        stdin: &mut input,
        env: std::env::vars().collect(),
    };
    run(std::env::args_os(), &mut io)
}
