//! A conformance kit any driver runs from its tests.
//!
//! It starts real tasks through the [`Driver`] trait and checks the contract
//! described in the crate documentation: exit codes, log capture,
//! environment, stop escalation, signals, stats, exec, recovery after a
//! client restart (the driver instance is dropped and recreated from the
//! factory, the task re-attached from its serialized handle) and cleanup.
//!
//! Tasks are POSIX shell scripts; [`ConformanceOptions::command_config`]
//! turns a command and its arguments into the driver's `config` block
//! (`{"command": …, "args": […]}` by default, which fits `raw_exec` and
//! `exec`; an image driver maps it onto its own fields).
//!
//! Either run everything at once:
//!
//! ```no_run
//! # async fn demo(factory: nomad_driver::conformance::DriverFactory) {
//! use nomad_driver::conformance::{run, ConformanceOptions};
//! let dir = std::env::temp_dir().join("my-driver-conformance");
//! let report = run(&factory, &ConformanceOptions::new(&dir)).await.expect("conformance");
//! println!("{report}");
//! # }
//! ```
//!
//! or generate one test per check with [`conformance_tests!`](crate::conformance_tests).

mod checks;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::driver::Driver;
use crate::task::TaskResources;

/// Builds a fresh driver instance. Called once per check, and again to
/// simulate a client restart.
pub type DriverFactory = Arc<dyn Fn() -> Arc<dyn Driver> + Send + Sync>;

/// Turns `(command, args)` into the driver's task `config` block.
pub type CommandConfig = Arc<dyn Fn(&str, &[String]) -> BTreeMap<String, Value> + Send + Sync>;

/// The checks of the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// The driver fingerprints healthy and sets `driver.<name>`.
    Fingerprint,
    /// `exit 0` → exit code 0, and the task shows as exited.
    ExitZero,
    /// `exit 3` → exit code 3.
    ExitNonZero,
    /// A long task inspects as running, then as exited after a stop.
    Inspect,
    /// stdout and stderr land in the log files.
    Logs,
    /// The task sees its environment.
    Env,
    /// A task that handles the kill signal exits within the timeout.
    StopGraceful,
    /// A task ignoring the kill signal is SIGKILLed after the kill timeout.
    StopEscalation,
    /// `signal_task` delivers a signal.
    Signal,
    /// `task_stats` reports memory and CPU.
    Stats,
    /// `exec_task` runs a command with stdin, stdout, stderr and exit code.
    Exec,
    /// `exec_task` with a TTY gives the command a terminal.
    ExecTty,
    /// A new driver instance recovers a running task from its handle.
    Recover,
    /// A new driver instance recovers a task that exited meanwhile.
    RecoverExited,
    /// `destroy_task` refuses a running task unless forced and forgets it.
    Destroy,
    /// Unknown ids give `TaskNotFound`.
    UnknownTask,
    /// Starting an id twice fails.
    DuplicateStart,
    /// A missing command fails `start_task`.
    BadCommand,
}

impl Check {
    /// Every check, in the order [`run`] runs them.
    pub const ALL: &'static [Check] = &[
        Check::Fingerprint,
        Check::ExitZero,
        Check::ExitNonZero,
        Check::Inspect,
        Check::Logs,
        Check::Env,
        Check::StopGraceful,
        Check::StopEscalation,
        Check::Signal,
        Check::Stats,
        Check::Exec,
        Check::ExecTty,
        Check::Recover,
        Check::RecoverExited,
        Check::Destroy,
        Check::UnknownTask,
        Check::DuplicateStart,
        Check::BadCommand,
    ];

    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Check::Fingerprint => "fingerprint",
            Check::ExitZero => "exit_zero",
            Check::ExitNonZero => "exit_non_zero",
            Check::Inspect => "inspect",
            Check::Logs => "logs",
            Check::Env => "env",
            Check::StopGraceful => "stop_graceful",
            Check::StopEscalation => "stop_escalation",
            Check::Signal => "signal",
            Check::Stats => "stats",
            Check::Exec => "exec",
            Check::ExecTty => "exec_tty",
            Check::Recover => "recover",
            Check::RecoverExited => "recover_exited",
            Check::Destroy => "destroy",
            Check::UnknownTask => "unknown_task",
            Check::DuplicateStart => "duplicate_start",
            Check::BadCommand => "bad_command",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run the checks against a driver.
#[derive(Clone)]
pub struct ConformanceOptions {
    /// Turns a command into the driver's `config` block.
    pub command_config: CommandConfig,
    /// The shell scripts run with (`/bin/sh`).
    pub shell: String,
    /// Where allocation directories are created.
    pub base_dir: PathBuf,
    /// Task user (empty: the driver's default).
    pub user: String,
    /// Task resources.
    pub resources: TaskResources,
    /// Kill timeout for the stop-escalation check.
    pub kill_timeout: Duration,
    /// Upper bound for any single wait.
    pub timeout: Duration,
    /// Checks not to run (reported as skipped).
    pub skip: BTreeSet<Check>,
}

impl fmt::Debug for ConformanceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConformanceOptions")
            .field("shell", &self.shell)
            .field("base_dir", &self.base_dir)
            .field("user", &self.user)
            .field("resources", &self.resources)
            .field("kill_timeout", &self.kill_timeout)
            .field("timeout", &self.timeout)
            .field("skip", &self.skip)
            .finish_non_exhaustive()
    }
}

impl ConformanceOptions {
    /// Defaults: `{"command", "args"}` configs, `/bin/sh`, 1 s kill timeout,
    /// 20 s waits, allocation directories under `base_dir`.
    pub fn new(base_dir: impl AsRef<Path>) -> Self {
        ConformanceOptions {
            command_config: Arc::new(|command: &str, args: &[String]| {
                let mut m = BTreeMap::new();
                m.insert("command".to_string(), Value::String(command.to_string()));
                m.insert(
                    "args".to_string(),
                    Value::Array(args.iter().cloned().map(Value::String).collect()),
                );
                m
            }),
            shell: "/bin/sh".to_string(),
            base_dir: base_dir.as_ref().to_path_buf(),
            user: String::new(),
            resources: TaskResources {
                cpu_mhz: 100,
                memory_mb: 128,
                ..TaskResources::default()
            },
            kill_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(20),
            skip: BTreeSet::new(),
        }
    }

    /// Skips a check.
    pub fn skipping(mut self, check: Check) -> Self {
        self.skip.insert(check);
        self
    }
}

/// A failed check.
#[derive(Debug, Clone, thiserror::Error)]
#[error("conformance check `{check}` failed: {message}")]
pub struct ConformanceFailure {
    /// Which check.
    pub check: Check,
    /// What went wrong.
    pub message: String,
}

/// Result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It did not run, and why (a capability the driver lacks, or skipped in
    /// the options).
    Skipped(String),
}

/// What [`run`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each check and its outcome.
    pub outcomes: Vec<(Check, Outcome)>,
}

impl Report {
    /// Checks that passed.
    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Passed)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (check, outcome) in &self.outcomes {
            match outcome {
                Outcome::Passed => writeln!(f, "  {check}: passed")?,
                Outcome::Skipped(why) => writeln!(f, "  {check}: skipped ({why})")?,
            }
        }
        write!(
            f,
            "{} of {} checks passed",
            self.passed(),
            self.outcomes.len()
        )
    }
}

/// Runs every check in order; stops at the first failure.
pub async fn run(
    factory: &DriverFactory,
    options: &ConformanceOptions,
) -> Result<Report, ConformanceFailure> {
    let mut report = Report::default();
    for &check in Check::ALL {
        let outcome = run_check(factory, options, check).await?;
        report.outcomes.push((check, outcome));
    }
    Ok(report)
}

/// Runs one check. Tasks it started are destroyed afterwards, pass or fail.
pub async fn run_check(
    factory: &DriverFactory,
    options: &ConformanceOptions,
    check: Check,
) -> Result<Outcome, ConformanceFailure> {
    if options.skip.contains(&check) {
        return Ok(Outcome::Skipped("skipped by options".into()));
    }
    let mut ctx = checks::Ctx::new(factory.clone(), options.clone(), check);
    let result = checks::run(&mut ctx, check).await;
    ctx.cleanup().await;
    result.map_err(|message| ConformanceFailure { check, message })
}

/// What a test's setup function returns for [`conformance_tests!`](crate::conformance_tests).
pub struct ConformanceSetup {
    /// Builds drivers.
    pub factory: DriverFactory,
    /// Options.
    pub options: ConformanceOptions,
    /// Kept alive for the test's duration (a temp dir, …).
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Generates one `#[tokio::test]` per conformance check.
///
/// `$setup` is a function `fn() -> Option<ConformanceSetup>`; returning
/// `None` skips every check (print why). The calling crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features among its
/// dev-dependencies.
///
/// ```ignore
/// fn setup() -> Option<nomad_driver::conformance::ConformanceSetup> { /* … */ }
/// nomad_driver::conformance_tests!(setup);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($setup:ident) => {
        $crate::conformance_tests!(@each $setup;
            fingerprint => Fingerprint,
            exit_zero => ExitZero,
            exit_non_zero => ExitNonZero,
            inspect => Inspect,
            logs => Logs,
            env => Env,
            stop_graceful => StopGraceful,
            stop_escalation => StopEscalation,
            signal => Signal,
            stats => Stats,
            exec => Exec,
            exec_tty => ExecTty,
            recover => Recover,
            recover_exited => RecoverExited,
            destroy => Destroy,
            unknown_task => UnknownTask,
            duplicate_start => DuplicateStart,
            bad_command => BadCommand,
        );
    };
    (@each $setup:ident; $($name:ident => $check:ident,)*) => {
        mod conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(setup) = super::$setup() else { return };
                    let check = $crate::conformance::Check::$check;
                    match $crate::conformance::run_check(&setup.factory, &setup.options, check).await {
                        Ok($crate::conformance::Outcome::Passed) => {}
                        Ok($crate::conformance::Outcome::Skipped(why)) => {
                            eprintln!("conformance check {check} skipped: {why}");
                        }
                        Err(failure) => panic!("{failure}"),
                    }
                    drop(setup.guard);
                }
            )*
        }
    };
}
