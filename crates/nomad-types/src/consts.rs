//! The string values Nomad puts in its status, type and trigger fields.
//!
//! Fields holding these are plain `String`s so that values this crate does
//! not know (newer Nomad versions, Enterprise features) still round-trip.

/// Job `Type` values.
pub mod job_type {
    /// Long-running work kept at `count` allocations.
    pub const SERVICE: &str = "service";
    /// Run-to-completion work.
    pub const BATCH: &str = "batch";
    /// One allocation per eligible node.
    pub const SYSTEM: &str = "system";
    /// One run-to-completion allocation per eligible node.
    pub const SYSBATCH: &str = "sysbatch";
    /// Internal garbage-collection jobs.
    pub const CORE: &str = "_core";
}

/// Job `Status` values.
pub mod job_status {
    /// Waiting to be scheduled.
    pub const PENDING: &str = "pending";
    /// Has non-terminal allocations.
    pub const RUNNING: &str = "running";
    /// Everything terminal.
    pub const DEAD: &str = "dead";
}

/// Well-known job defaults and limits.
pub mod job_defaults {
    /// Region used when none is given.
    pub const REGION: &str = "global";
    /// Namespace used when none is given.
    pub const NAMESPACE: &str = "default";
    /// Node pool used when none is given.
    pub const NODE_POOL: &str = "default";
    /// Node pool matching every node.
    pub const NODE_POOL_ALL: &str = "all";
    /// Priority used when none is given.
    pub const PRIORITY: i64 = 50;
    /// Lowest valid priority.
    pub const MIN_PRIORITY: i64 = 1;
    /// Highest valid priority with the default server configuration.
    pub const MAX_PRIORITY: i64 = 100;
    /// Suffix inserted into the IDs of periodic child jobs.
    pub const PERIODIC_LAUNCH_SUFFIX: &str = "/periodic-";
    /// Suffix inserted into the IDs of dispatched child jobs.
    pub const DISPATCH_LAUNCH_SUFFIX: &str = "/dispatch-";
}

/// Evaluation `Status` values.
pub mod eval_status {
    /// Blocked waiting for capacity.
    pub const BLOCKED: &str = "blocked";
    /// Waiting to be processed.
    pub const PENDING: &str = "pending";
    /// Processed.
    pub const COMPLETE: &str = "complete";
    /// Could not be processed.
    pub const FAILED: &str = "failed";
    /// Superseded or cancelled (Nomad spells it with one "l").
    pub const CANCELLED: &str = "canceled";
}

/// Evaluation `TriggeredBy` values.
pub mod eval_trigger {
    /// Job registered or updated.
    pub const JOB_REGISTER: &str = "job-register";
    /// Job stopped or purged.
    pub const JOB_DEREGISTER: &str = "job-deregister";
    /// Periodic launch.
    pub const PERIODIC_JOB: &str = "periodic-job";
    /// Node drain.
    pub const NODE_DRAIN: &str = "node-drain";
    /// Node status or eligibility change.
    pub const NODE_UPDATE: &str = "node-update";
    /// Allocation stopped by the user.
    pub const ALLOC_STOP: &str = "alloc-stop";
    /// Scheduled (core) work.
    pub const SCHEDULED: &str = "scheduled";
    /// Rolling update follow-up.
    pub const ROLLING_UPDATE: &str = "rolling-update";
    /// Deployment watcher follow-up.
    pub const DEPLOYMENT_WATCHER: &str = "deployment-watcher";
    /// Follow-up of a failed evaluation.
    pub const FAILED_FOLLOW_UP: &str = "failed-follow-up";
    /// Plan attempts exhausted.
    pub const MAX_PLANS: &str = "max-plan-attempts";
    /// Allocation failed and will be rescheduled.
    pub const RETRY_FAILED_ALLOC: &str = "alloc-failure";
    /// Queued allocations re-evaluated.
    pub const QUEUED_ALLOCS: &str = "queued-allocs";
    /// Allocations preempted.
    pub const PREEMPTION: &str = "preemption";
    /// Job scaled.
    pub const SCALING: &str = "job-scaling";
    /// Disconnect window expired.
    pub const MAX_DISCONNECT_TIMEOUT: &str = "max-disconnect-timeout";
    /// Disconnected node reconnected.
    pub const RECONNECT: &str = "reconnect";
    /// Delayed reschedule.
    pub const ALLOC_RESCHEDULE: &str = "alloc-reschedule";
}

/// Allocation `DesiredStatus` values.
pub mod alloc_desired_status {
    /// Should run.
    pub const RUN: &str = "run";
    /// Should stop.
    pub const STOP: &str = "stop";
    /// Should stop; was evicted (preempted).
    pub const EVICT: &str = "evict";
}

/// Allocation `ClientStatus` values.
pub mod alloc_client_status {
    /// Not yet running.
    pub const PENDING: &str = "pending";
    /// Running.
    pub const RUNNING: &str = "running";
    /// Finished successfully.
    pub const COMPLETE: &str = "complete";
    /// Failed.
    pub const FAILED: &str = "failed";
    /// Node lost.
    pub const LOST: &str = "lost";
    /// Node disconnected; state unknown.
    pub const UNKNOWN: &str = "unknown";
}

/// Node `Status` values.
pub mod node_status {
    /// Registered, not ready yet.
    pub const INIT: &str = "initializing";
    /// Heartbeating and ready.
    pub const READY: &str = "ready";
    /// Missed its heartbeat.
    pub const DOWN: &str = "down";
    /// Missed its heartbeat, allocations kept as unknown.
    pub const DISCONNECTED: &str = "disconnected";
}

/// Node `SchedulingEligibility` values.
pub mod node_eligibility {
    /// New placements allowed.
    pub const ELIGIBLE: &str = "eligible";
    /// No new placements.
    pub const INELIGIBLE: &str = "ineligible";
}

/// Node drain `Status` values (in `LastDrain`).
pub mod drain_status {
    /// Drain running.
    pub const DRAINING: &str = "draining";
    /// Drain finished.
    pub const COMPLETE: &str = "complete";
    /// Drain cancelled.
    pub const CANCELED: &str = "canceled";
}

/// Node event `Subsystem` values.
pub mod node_event_subsystem {
    /// Drain events.
    pub const DRAIN: &str = "Drain";
    /// Driver events.
    pub const DRIVER: &str = "Driver";
    /// Heartbeat events.
    pub const HEARTBEAT: &str = "Heartbeat";
    /// Cluster events.
    pub const CLUSTER: &str = "Cluster";
}

/// Deployment `Status` values.
pub mod deployment_status {
    /// In progress.
    pub const RUNNING: &str = "running";
    /// Paused by the user.
    pub const PAUSED: &str = "paused";
    /// Failed.
    pub const FAILED: &str = "failed";
    /// Finished successfully.
    pub const SUCCESSFUL: &str = "successful";
    /// Cancelled.
    pub const CANCELLED: &str = "cancelled";
    /// Being created.
    pub const INITIALIZING: &str = "initializing";
    /// Waiting (multiregion).
    pub const PENDING: &str = "pending";
    /// Blocked on peer regions.
    pub const BLOCKED: &str = "blocked";
    /// Unblocking peer regions.
    pub const UNBLOCKING: &str = "unblocking";
}

/// Standard deployment `StatusDescription` texts.
pub mod deployment_description {
    /// Running.
    pub const RUNNING: &str = "Deployment is running";
    /// Waiting for a manual promotion.
    pub const RUNNING_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
    /// Waiting for an automatic promotion.
    pub const RUNNING_AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
    /// Paused.
    pub const PAUSED: &str = "Deployment is paused";
    /// Success.
    pub const SUCCESSFUL: &str = "Deployment completed successfully";
    /// Job stopped.
    pub const STOPPED_JOB: &str = "Cancelled because job is stopped";
    /// Newer job version.
    pub const NEWER_JOB: &str = "Cancelled due to newer version of job";
    /// Unhealthy allocations.
    pub const FAILED_ALLOCATIONS: &str = "Failed due to unhealthy allocations";
    /// Progress deadline hit.
    pub const PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
    /// Failed by the user.
    pub const FAILED_BY_USER: &str = "Deployment marked as failed";
}

/// Task `State` values.
pub mod task_state {
    /// Waiting to run.
    pub const PENDING: &str = "pending";
    /// Running.
    pub const RUNNING: &str = "running";
    /// Terminal.
    pub const DEAD: &str = "dead";
}

/// Task event `Type` values.
pub mod task_event {
    /// Setup failed.
    pub const SETUP_FAILURE: &str = "Setup Failure";
    /// Driver failed to start the task.
    pub const DRIVER_FAILURE: &str = "Driver Failure";
    /// Client received the task.
    pub const RECEIVED: &str = "Received";
    /// Task failed validation.
    pub const FAILED_VALIDATION: &str = "Failed Validation";
    /// Task started.
    pub const STARTED: &str = "Started";
    /// Task being paused (Enterprise schedule).
    pub const PAUSING: &str = "Pausing";
    /// Task exited.
    pub const TERMINATED: &str = "Terminated";
    /// Task being killed.
    pub const KILLING: &str = "Killing";
    /// Task killed.
    pub const KILLED: &str = "Killed";
    /// Task restarting.
    pub const RESTARTING: &str = "Restarting";
    /// Restart policy exhausted.
    pub const NOT_RESTARTING: &str = "Not Restarting";
    /// Restart requested via signal.
    pub const RESTART_SIGNAL: &str = "Restart Signaled";
    /// Task being signalled.
    pub const SIGNALING: &str = "Signaling";
    /// Artifacts downloading.
    pub const DOWNLOADING_ARTIFACTS: &str = "Downloading Artifacts";
    /// Artifact download failed.
    pub const ARTIFACT_DOWNLOAD_FAILED: &str = "Failed Artifact Download";
    /// Task directory being built.
    pub const BUILDING_TASK_DIR: &str = "Building Task Directory";
    /// Task setup.
    pub const SETUP: &str = "Task Setup";
    /// Disk limit exceeded.
    pub const DISK_EXCEEDED: &str = "Disk Resources Exceeded";
    /// Another task in the group failed.
    pub const SIBLING_FAILED: &str = "Sibling Task Failed";
    /// Message from the driver.
    pub const DRIVER_MESSAGE: &str = "Driver";
    /// Leader task died.
    pub const LEADER_DEAD: &str = "Leader Task Dead";
    /// Main tasks died.
    pub const MAIN_DEAD: &str = "Main Tasks Dead";
    /// A task hook failed.
    pub const HOOK_FAILED: &str = "Task hook failed";
    /// Message from a task hook.
    pub const HOOK_MESSAGE: &str = "Task hook message";
    /// Task could not be restored after a client restart.
    pub const RESTORE_FAILED: &str = "Failed Restoring Task";
    /// Plugin unhealthy.
    pub const PLUGIN_UNHEALTHY: &str = "Plugin became unhealthy";
    /// Plugin healthy.
    pub const PLUGIN_HEALTHY: &str = "Plugin became healthy";
    /// Client reconnected.
    pub const CLIENT_RECONNECTED: &str = "Reconnected";
    /// Waiting for shutdown delay.
    pub const WAITING_SHUTDOWN_DELAY: &str = "Waiting for shutdown delay";
    /// Shutdown delay skipped.
    pub const SKIPPING_SHUTDOWN_DELAY: &str = "Skipping shutdown delay";
    /// Task running (Enterprise schedule).
    pub const RUNNING: &str = "Running";
}

/// Restart policy `Mode` values.
pub mod restart_mode {
    /// Wait for the next interval after the attempts are used up.
    pub const DELAY: &str = "delay";
    /// Fail the task after the attempts are used up.
    pub const FAIL: &str = "fail";
}

/// Reschedule policy `DelayFunction` values.
pub mod delay_function {
    /// Same delay each time.
    pub const CONSTANT: &str = "constant";
    /// Doubling delay.
    pub const EXPONENTIAL: &str = "exponential";
    /// Fibonacci progression.
    pub const FIBONACCI: &str = "fibonacci";
    /// All valid values.
    pub const ALL: [&str; 3] = [CONSTANT, EXPONENTIAL, FIBONACCI];
}

/// Update / migrate `HealthCheck` values.
pub mod health_check {
    /// Task states plus registered checks.
    pub const CHECKS: &str = "checks";
    /// Task states only.
    pub const TASK_STATES: &str = "task_states";
    /// Set by the operator via the API.
    pub const MANUAL: &str = "manual";
}

/// Constraint and affinity `Operand` values.
pub mod operand {
    /// Equality.
    pub const EQUAL: &str = "=";
    /// Equality (alias).
    pub const EQUAL2: &str = "==";
    /// Equality (alias).
    pub const IS: &str = "is";
    /// Inequality.
    pub const NOT_EQUAL: &str = "!=";
    /// Inequality (alias).
    pub const NOT: &str = "not";
    /// Less than.
    pub const LT: &str = "<";
    /// Less or equal.
    pub const LTE: &str = "<=";
    /// Greater than.
    pub const GT: &str = ">";
    /// Greater or equal.
    pub const GTE: &str = ">=";
    /// RE2 regular expression match.
    pub const REGEX: &str = "regexp";
    /// Comma-separated set contains all values.
    pub const SET_CONTAINS: &str = "set_contains";
    /// Comma-separated set contains all values.
    pub const SET_CONTAINS_ALL: &str = "set_contains_all";
    /// Comma-separated set contains any value.
    pub const SET_CONTAINS_ANY: &str = "set_contains_any";
    /// go-version constraint.
    pub const VERSION: &str = "version";
    /// Strict semver constraint.
    pub const SEMVER: &str = "semver";
    /// Attribute present.
    pub const IS_SET: &str = "is_set";
    /// Attribute absent.
    pub const IS_NOT_SET: &str = "is_not_set";
    /// One allocation per node.
    pub const DISTINCT_HOSTS: &str = "distinct_hosts";
    /// Limited allocations per attribute value.
    pub const DISTINCT_PROPERTY: &str = "distinct_property";
    /// The comparison operators, which need an `RTarget`.
    pub const COMPARISONS: [&str; 9] = [EQUAL, EQUAL2, IS, NOT_EQUAL, NOT, LT, LTE, GT, GTE];
    /// Every operator a constraint may use, in the order messages list them.
    pub const ALL: [&str; 19] = [
        EQUAL,
        EQUAL2,
        IS,
        NOT_EQUAL,
        NOT,
        LT,
        LTE,
        GT,
        GTE,
        REGEX,
        SET_CONTAINS,
        SET_CONTAINS_ALL,
        SET_CONTAINS_ANY,
        VERSION,
        SEMVER,
        IS_SET,
        IS_NOT_SET,
        DISTINCT_HOSTS,
        DISTINCT_PROPERTY,
    ];
}

/// Task lifecycle `Hook` values.
pub mod lifecycle_hook {
    /// Before main tasks.
    pub const PRESTART: &str = "prestart";
    /// After main tasks started.
    pub const POSTSTART: &str = "poststart";
    /// After main tasks stopped.
    pub const POSTSTOP: &str = "poststop";
}

/// Template `ChangeMode` values.
pub mod template_change_mode {
    /// Do nothing.
    pub const NOOP: &str = "noop";
    /// Send `ChangeSignal`.
    pub const SIGNAL: &str = "signal";
    /// Restart the task.
    pub const RESTART: &str = "restart";
    /// Run `ChangeScript`.
    pub const SCRIPT: &str = "script";
}

/// Parameterized job `Payload` values.
pub mod dispatch_payload {
    /// Payload may be given.
    pub const OPTIONAL: &str = "optional";
    /// Payload must be given.
    pub const REQUIRED: &str = "required";
    /// Payload must not be given.
    pub const FORBIDDEN: &str = "forbidden";
}

/// Service / check `AddressMode` values.
pub mod address_mode {
    /// Pick automatically (services only).
    pub const AUTO: &str = "auto";
    /// Host address.
    pub const HOST: &str = "host";
    /// Driver-provided address.
    pub const DRIVER: &str = "driver";
    /// Allocation network address (group services).
    pub const ALLOC: &str = "alloc";
    /// Allocation IPv6 address (group services).
    pub const ALLOC_IPV6: &str = "alloc_ipv6";
}

/// Service `Provider` values.
pub mod service_provider {
    /// Consul catalog.
    pub const CONSUL: &str = "consul";
    /// Nomad's built-in service discovery.
    pub const NOMAD: &str = "nomad";
}

/// Service and check `OnUpdate` values.
pub mod on_update {
    /// Checks must pass for the deployment to progress.
    pub const REQUIRE_HEALTHY: &str = "require_healthy";
    /// Warnings count as healthy.
    pub const IGNORE_WARNINGS: &str = "ignore_warnings";
    /// Checks are ignored.
    pub const IGNORE: &str = "ignore";
}

/// Artifact `GetterMode` values.
pub mod getter_mode {
    /// Decide from the source.
    pub const ANY: &str = "any";
    /// A single file.
    pub const FILE: &str = "file";
    /// A directory.
    pub const DIR: &str = "dir";
}

/// Disconnect `Reconcile` values.
pub mod reconcile_option {
    /// Keep the original allocation.
    pub const KEEP_ORIGINAL: &str = "keep_original";
    /// Keep the replacement.
    pub const KEEP_REPLACEMENT: &str = "keep_replacement";
    /// Keep the best-scoring one.
    pub const BEST_SCORE: &str = "best_score";
    /// Keep the one running longest.
    pub const LONGEST_RUNNING: &str = "longest_running";
}

/// Job diff `Type` values.
pub mod diff_type {
    /// No change.
    pub const NONE: &str = "None";
    /// Added.
    pub const ADDED: &str = "Added";
    /// Removed.
    pub const DELETED: &str = "Deleted";
    /// Changed.
    pub const EDITED: &str = "Edited";
}
