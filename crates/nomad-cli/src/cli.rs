//! The command tree and dispatch.

use crate::commands::{job, version};
use crate::Io;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "nomad",
    about = "A Nomad-compatible cluster manager and scheduler",
    disable_version_flag = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print the version (as `nomad version`).
    #[arg(short = 'v', long = "version", global = false)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Interact with jobs.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Create an example job file (alias of `job init`).
    Init(job::InitArgs),
    /// Run a new job or update an existing one (alias of `job run`).
    Run(job::RunArgs),
    /// Check a job specification for errors (alias of `job validate`).
    Validate(job::ValidateArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Create an example job file.
    Init(job::InitArgs),
    /// Run a new job or update an existing one.
    Run(job::RunArgs),
    /// Check a job specification for errors.
    Validate(job::ValidateArgs),
}

/// Words that make up command paths; flags are rewritten up to the first
/// other positional (see [`crate::args`]).
const SUBCOMMANDS: &[&str] = &["job", "init", "run", "validate", "version"];

pub fn run(args: impl IntoIterator<Item = OsString>, io: &mut Io<'_>) -> i32 {
    let args = crate::args::normalize(args, SUBCOMMANDS);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = write!(io.out, "{text}");
                    0
                }
                // Go's flag package and Nomad's CLI exit 1 on usage errors.
                _ => {
                    let _ = write!(io.err, "{text}");
                    1
                }
            };
        }
    };
    if cli.version {
        return version::run(io);
    }
    match cli.command {
        Some(Command::Job { command }) => match command {
            JobCommand::Init(a) => job::init(a, io),
            JobCommand::Run(a) => job::run(a, io),
            JobCommand::Validate(a) => job::validate(a, io),
        },
        Some(Command::Init(a)) => job::init(a, io),
        Some(Command::Run(a)) => job::run(a, io),
        Some(Command::Validate(a)) => job::validate(a, io),
        Some(Command::Version) | None => version::run(io),
    }
}
