//! Nomad's shared data model: one vocabulary for the server, the client, the
//! CLI and the HTTP API.
//!
//! This crate owns:
//!
//! * the job family ([`Job`], [`TaskGroup`], [`Task`] and their blocks),
//!   shaped like Nomad's `api` package: the JSON `nomad job run -output`
//!   prints and `PUT /v1/jobs` accepts;
//! * the server-created objects as Nomad's HTTP API returns them: [`Node`],
//!   [`Allocation`], [`Evaluation`], [`Deployment`], [`JobSummary`] and the
//!   list stubs;
//! * Nomad's defaulting ([`Job::canonicalize`]), validation
//!   ([`Job::validate`]) and the job diff used by `nomad job plan`
//!   ([`diff::diff_jobs`]);
//! * lenient JSON reading and Go-compatible writing ([`json`]);
//! * the event stream's lines as Nomad writes them ([`event`]).
//!
//! JSON field names, their order, `null`s and integer-nanosecond durations
//! match Nomad's. Conventions:
//!
//! * a Go pointer field is an `Option<T>`, written as `null` when `None`
//!   (never skipped), so explicit zeros survive defaulting;
//! * a Go slice or map is a `Vec<T>` / `BTreeMap<K, V>`; empty is written as
//!   `null` and `null` reads back as empty (see [`serde_util::nullable`]);
//! * durations are [`Nanos`], Go `time.Time` values are [`GoTime`];
//! * enumerated strings (statuses, types, triggers) are plain `String`s with
//!   the known values in [`consts`], so unknown values still round-trip.
//!
//! This crate must stay a pure data library: no tokio, no networking, no
//! file or other I/O, no clocks. Other crates build behaviour on top of it.

pub mod alloc;
pub mod api;
mod canonicalize;
pub mod consts;
pub mod deployment;
pub mod diff;
pub mod duration;
pub mod eval;
pub mod event;
pub mod group;
pub mod job;
pub mod json;
pub mod node;
pub mod operator;
pub mod policies;
pub mod resources;
pub mod serde_util;
pub mod services;
pub mod task;
pub mod validate;

pub use alloc::{
    AllocDeploymentStatus, AllocMetric, AllocatedResources, Allocation, AllocationListStub,
    DesiredTransition, NodeScoreMeta, RescheduleEvent, RescheduleTracker, TaskEvent, TaskState,
};
pub use canonicalize::{DEFAULT_KILL_TIMEOUT, DEFAULT_WEIGHT};
pub use deployment::{Deployment, DeploymentState};
pub use diff::{diff_jobs, DiffType, FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};
pub use duration::{GoTime, Nanos};
pub use eval::{DesiredUpdates, Evaluation, EvaluationStub, JobPlanResponse, PlanAnnotations};
pub use group::{EphemeralDisk, ScalingPolicy, TaskGroup, VolumeRequest};
pub use job::{
    Job, JobChildrenSummary, JobListStub, JobSummary, ParameterizedJobConfig, PeriodicConfig,
    TaskGroupSummary,
};
pub use json::JsonError;
pub use node::{DrainStrategy, DriverInfo, Node, NodeListStub, NodeResources};
pub use operator::{PreemptionConfig, SchedulerConfiguration};
pub use policies::{
    Affinity, Constraint, DisconnectStrategy, MigrateStrategy, ReschedulePolicy, RestartPolicy,
    Spread, SpreadTarget, UpdateStrategy,
};
pub use resources::{DnsConfig, NetworkResource, Port, RequestedDevice, Resources};
pub use services::{CheckRestart, Service, ServiceCheck};
pub use task::{
    ChangeScript, DispatchPayloadConfig, LogConfig, Task, TaskArtifact, TaskLifecycle, Template,
    VolumeMount, WaitConfig,
};
pub use validate::ValidationError;
