//! The task-driver contract of the Nomad client.
//!
//! This crate owns:
//!
//! * the [`Driver`] trait every task driver implements (`raw_exec`, `exec`,
//!   `docker`, third-party drivers) and the types it speaks: [`TaskConfig`],
//!   [`TaskHandle`], [`Fingerprint`], [`Capabilities`], [`ExitResult`],
//!   [`TaskStatus`], [`TaskResourceUsage`], [`DriverError`];
//! * [`executor`]: shared support for drivers that run host processes
//!   (launching under a shim that outlives the client, supervision, stop
//!   escalation, `/proc` stats, exec sessions);
//! * [`conformance`]: a kit that checks a driver against this contract with
//!   real tasks, run from each driver's tests.
//!
//! It must not depend on any concrete driver, on the server crates or on the
//! state store. Drivers depend on it; the client holds them as
//! `Arc<dyn Driver>`.
//!
//! # The contract
//!
//! A driver is created by the client with its plugin configuration
//! (`plugin "raw_exec" { config { … } }`, each driver crate parses its
//! own), then used concurrently from many tasks:
//!
//! 1. **Fingerprint.** [`Driver::fingerprint`] is polled every
//!    [`FINGERPRINT_PERIOD`]. `Undetected` hides the driver from the node
//!    (e.g. `raw_exec` when not enabled: description `"disabled"`),
//!    `Unhealthy` shows it as unusable, `Healthy` (description
//!    `"Healthy"`) makes it schedulable. Attributes such as
//!    `driver.raw_exec = "true"` go into the node's `Drivers` entry;
//!    [`Fingerprint::node_attributes`] adds the legacy `driver.<name> = "1"`
//!    node attribute constraints use.
//! 2. **Start.** [`Driver::start_task`] gets a [`TaskConfig`]: the task's
//!    `config` block (decode it with [`TaskConfig::decode_driver_config`]),
//!    the interpolated environment, user, resources, the directories of
//!    [`TaskDirs`], and the stdout/stderr paths to write logs to. Invalid
//!    config is [`DriverError::InvalidConfig`]; a command that cannot be
//!    executed fails here too. The returned [`TaskHandle`] is serializable;
//!    the client persists it.
//! 3. **Run.** [`Driver::wait_task`] resolves with the [`ExitResult`]: exit
//!    code (`128 + signal` when killed by a signal), signal, and
//!    `oom_killed` when the memory limit killed it (the client's
//!    "Terminated" event then carries `oom_killed = true`, see
//!    [`ExitResult::to_task_event`]). [`Driver::inspect_task`],
//!    [`Driver::task_stats`], [`Driver::signal_task`] and
//!    [`Driver::exec_task`] work while it runs.
//! 4. **Stop.** [`Driver::stop_task`] sends the kill signal (default
//!    `SIGINT`, Nomad's executor default), waits up to the timeout and then
//!    SIGKILLs everything the task started; it returns once the task exited.
//! 5. **Destroy.** [`Driver::destroy_task`] frees the driver's resources
//!    for the task (refusing a running task unless forced). Afterwards the id
//!    is unknown: [`DriverError::TaskNotFound`].
//! 6. **Recover.** After a client restart, a new driver instance gets each
//!    persisted handle through [`Driver::recover_task`] and must re-attach
//!    to the still-running task (and, if it can, report how a task that
//!    exited meanwhile ended). Tasks therefore must not be children that die
//!    with the client.
//!
//! Signals are named as in jobs (`"SIGTERM"`, see [`signal::parse_signal`]);
//! an unknown name is [`DriverError::InvalidSignal`] (Nomad falls back to
//! SIGINT for `signal_task`; we refuse).
//!
//! # Writing a driver
//!
//! Implement [`Driver`] with `#[async_trait]` and run the conformance kit
//! from the driver's tests. `examples/sleep_driver.rs` is a complete
//! (in-process, timer-based) driver that passes the kit's checks that do
//! not need a real process.

pub mod conformance;
mod driver;
mod error;
pub mod executor;
pub mod signal;
mod status;
mod task;

pub use async_trait::async_trait;
pub use driver::{
    exec_capture, CapturedOutput, Driver, DriverEvent, ExecOutput, ExecRequest, ExecStreams,
    TerminalSize,
};
pub use error::{DriverError, IoContext};
pub use status::{
    unix_nanos, Capabilities, CpuStats, ExitResult, Fingerprint, FsIsolation, HealthState,
    MemoryStats, MountConfigSupport, NetIsolationMode, ResourceUsage, TaskResourceUsage, TaskState,
    TaskStatus, DRIVER_HEALTHY, DRIVER_REQUIRES_ROOT, FINGERPRINT_PERIOD, NO_CGROUP_MOUNT,
};
pub use task::{TaskConfig, TaskDirs, TaskHandle, TaskResources, DEFAULT_KILL_TIMEOUT};
