//! Jobs, shaped like Nomad's `api.Job` (what `nomad job run -output` prints
//! and `PUT /v1/jobs` accepts), plus job summaries and list stubs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alloc::VecMap;
use crate::consts::{job_defaults, job_type};
use crate::group::TaskGroup;
use crate::policies::{
    Affinity, Constraint, MigrateStrategy, ReschedulePolicy, Spread, UpdateStrategy,
};
use crate::serde_util::{is_empty_str, nullable};
use crate::task::Task;

/// A job specification.
///
/// Fields that are pointers in Nomad's API are `Option`s and serialise as
/// `null` when unset; [`Job::canonicalize`] fills Nomad's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Job {
    /// Region; defaults to `global`.
    pub region: Option<String>,
    /// Namespace; defaults to `default`.
    pub namespace: Option<String>,
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: Option<String>,
    /// Display name; defaults to the ID.
    pub name: Option<String>,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(rename = "Type")]
    pub job_type: Option<String>,
    /// Priority 1..=100; defaults to 50.
    pub priority: Option<i64>,
    /// Place all allocations or none.
    pub all_at_once: Option<bool>,
    /// Datacenters (globs); defaults to `["*"]`.
    #[serde(with = "nullable")]
    pub datacenters: Vec<String>,
    /// Node pool; defaults to `default`.
    pub node_pool: Option<String>,
    /// Placement constraints.
    #[serde(with = "nullable")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences.
    #[serde(with = "nullable")]
    pub affinities: Vec<Affinity>,
    /// Task groups.
    #[serde(with = "nullable")]
    pub task_groups: Vec<TaskGroup>,
    /// Job-level update strategy, merged into groups.
    pub update: Option<UpdateStrategy>,
    /// Multiregion deployment (Enterprise).
    pub multiregion: Option<Multiregion>,
    /// Spread preferences.
    #[serde(with = "nullable")]
    pub spreads: Vec<Spread>,
    /// Periodic launch configuration.
    pub periodic: Option<PeriodicConfig>,
    /// Parameterized (dispatchable) job configuration.
    pub parameterized_job: Option<ParameterizedJobConfig>,
    /// Job-level reschedule policy, merged into groups.
    pub reschedule: Option<ReschedulePolicy>,
    /// Job-level migrate strategy, merged into groups.
    pub migrate: Option<MigrateStrategy>,
    /// Metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Web UI description and links.
    #[serde(rename = "UI")]
    pub ui: Option<JobUiConfig>,
    /// Stopped by the user.
    pub stop: Option<bool>,
    /// Parent of a periodic or dispatched child.
    #[serde(rename = "ParentID")]
    pub parent_id: Option<String>,
    /// True for dispatched children.
    pub dispatched: bool,
    /// Idempotency token of a dispatch.
    pub dispatch_idempotency_token: Option<String>,
    /// Dispatch payload, base64 as Go encodes `[]byte`.
    pub payload: Option<String>,
    /// Consul namespace.
    pub consul_namespace: Option<String>,
    /// Vault namespace.
    pub vault_namespace: Option<String>,
    /// Accessor of the submitting token.
    #[serde(rename = "NomadTokenID")]
    pub nomad_token_id: Option<String>,
    /// `pending`, `running` or `dead`.
    pub status: Option<String>,
    /// Status detail.
    pub status_description: Option<String>,
    /// Version whose deployment succeeded.
    pub stable: Option<bool>,
    /// Version number.
    pub version: Option<u64>,
    /// Submission time, Unix nanoseconds.
    pub submit_time: Option<i64>,
    /// Raft create index.
    pub create_index: Option<u64>,
    /// Raft modify index.
    pub modify_index: Option<u64>,
    /// Index of the last spec change.
    pub job_modify_index: Option<u64>,
    /// Version tag.
    pub version_tag: Option<JobVersionTag>,
}

impl Job {
    /// Creates a job with an ID and type; everything else unset.
    pub fn new(id: impl Into<String>, job_type_name: impl Into<String>) -> Self {
        Job {
            id: Some(id.into()),
            job_type: Some(job_type_name.into()),
            ..Job::default()
        }
    }

    /// The ID, or `""`.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// The name, falling back to the ID.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.id())
    }

    /// The namespace, or `default`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(job_defaults::NAMESPACE)
    }

    /// The type, or `service`.
    pub fn job_type(&self) -> &str {
        self.job_type.as_deref().unwrap_or(job_type::SERVICE)
    }

    /// The priority, or 50.
    pub fn priority(&self) -> i64 {
        self.priority.unwrap_or(job_defaults::PRIORITY)
    }

    /// The version, or 0.
    pub fn version(&self) -> u64 {
        self.version.unwrap_or(0)
    }

    /// True when stopped by the user.
    pub fn is_stopped(&self) -> bool {
        self.stop.unwrap_or(false)
    }

    /// True for periodic jobs.
    pub fn is_periodic(&self) -> bool {
        self.periodic.is_some()
    }

    /// True for periodic jobs whose launches are enabled.
    pub fn is_periodic_active(&self) -> bool {
        !self.is_stopped()
            && self
                .periodic
                .as_ref()
                .is_some_and(|p| p.enabled.unwrap_or(true))
    }

    /// True for parameterized templates (not their dispatched children).
    pub fn is_parameterized(&self) -> bool {
        self.parameterized_job.is_some() && !self.dispatched
    }

    /// True for multiregion jobs.
    pub fn is_multiregion(&self) -> bool {
        self.multiregion
            .as_ref()
            .is_some_and(|m| !m.regions.is_empty())
    }

    /// True for `system` and `sysbatch` jobs.
    pub fn is_system_like(&self) -> bool {
        matches!(self.job_type(), job_type::SYSTEM | job_type::SYSBATCH)
    }

    /// Finds a task group by name.
    pub fn lookup_task_group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name() == name)
    }

    /// Finds a task group by name, mutably.
    pub fn lookup_task_group_mut(&mut self, name: &str) -> Option<&mut TaskGroup> {
        self.task_groups.iter_mut().find(|g| g.name() == name)
    }

    /// Finds a task by group and task name.
    pub fn lookup_task(&self, group: &str, task: &str) -> Option<&Task> {
        self.lookup_task_group(group)?.lookup_task(task)
    }

    /// Total count over all groups.
    pub fn total_count(&self) -> i64 {
        self.task_groups.iter().map(TaskGroup::count).sum()
    }

    /// The list stub `GET /v1/jobs` returns for this job.
    pub fn stub(&self, summary: Option<JobSummary>) -> JobListStub {
        JobListStub {
            id: self.id().to_string(),
            parent_id: self.parent_id.clone().unwrap_or_default(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
            datacenters: self.datacenters.clone(),
            node_pool: self.node_pool.clone().unwrap_or_default(),
            multiregion: self.multiregion.clone(),
            job_type: self.job_type().to_string(),
            priority: self.priority(),
            periodic: self.is_periodic(),
            parameterized_job: self.is_parameterized(),
            stop: self.is_stopped(),
            status: self.status.clone().unwrap_or_default(),
            status_description: self.status_description.clone().unwrap_or_default(),
            job_summary: summary,
            create_index: self.create_index.unwrap_or(0),
            modify_index: self.modify_index.unwrap_or(0),
            job_modify_index: self.job_modify_index.unwrap_or(0),
            submit_time: self.submit_time.unwrap_or(0),
            meta: self.meta.clone(),
        }
    }
}

/// Periodic launch configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PeriodicConfig {
    /// Launches enabled; defaults to true.
    pub enabled: Option<bool>,
    /// A cron expression (`cron`).
    pub spec: Option<String>,
    /// Several cron expressions (`crons`).
    #[serde(with = "nullable")]
    pub specs: Vec<String>,
    /// Spec type; defaults to `cron`.
    pub spec_type: Option<String>,
    /// Skip a launch while the previous one runs.
    pub prohibit_overlap: Option<bool>,
    /// Time zone; defaults to `UTC`.
    pub time_zone: Option<String>,
}

/// Dispatch requirements of a parameterized job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ParameterizedJobConfig {
    /// `optional`, `required` or `forbidden`; defaults to `optional`.
    pub payload: String,
    /// Metadata keys a dispatch must give.
    #[serde(with = "nullable")]
    pub meta_required: Vec<String>,
    /// Metadata keys a dispatch may give.
    #[serde(with = "nullable")]
    pub meta_optional: Vec<String>,
}

/// Multiregion deployment (Enterprise).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Multiregion {
    /// Rollout strategy.
    pub strategy: Option<MultiregionStrategy>,
    /// Regions.
    #[serde(with = "nullable")]
    pub regions: Vec<MultiregionRegion>,
}

/// Multiregion rollout strategy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MultiregionStrategy {
    /// Regions deployed at once.
    pub max_parallel: Option<i64>,
    /// Failure behaviour.
    pub on_failure: Option<String>,
}

/// One region of a multiregion job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MultiregionRegion {
    /// Region name.
    pub name: String,
    /// Count override.
    pub count: Option<i64>,
    /// Datacenters.
    #[serde(with = "nullable")]
    pub datacenters: Vec<String>,
    /// Node pool.
    pub node_pool: String,
    /// Metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
}

/// Web UI settings of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobUiConfig {
    /// Markdown description.
    pub description: String,
    /// Links.
    #[serde(with = "nullable")]
    pub links: Vec<JobUiLink>,
}

/// A link shown in the web UI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobUiLink {
    /// Label.
    pub label: String,
    /// Target URL.
    #[serde(rename = "URL")]
    pub url: String,
}

/// A named tag on a job version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobVersionTag {
    /// Tag name.
    pub name: String,
    /// Description.
    pub description: String,
    /// When tagged, Unix nanoseconds.
    pub tagged_time: i64,
}

/// Allocation counts of a job, per group (`GET /v1/job/:id/summary`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobSummary {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Namespace.
    pub namespace: String,
    /// Counts per group. A sorted vector rather than a `BTreeMap` (one
    /// per job; a `BTreeMap` node takes ~900 bytes for a single group).
    #[serde(with = "nullable")]
    pub summary: VecMap<String, TaskGroupSummary>,
    /// Child job counts (periodic / parameterized parents).
    pub children: Option<JobChildrenSummary>,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}

/// Child job counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobChildrenSummary {
    /// Pending children.
    pub pending: i64,
    /// Running children.
    pub running: i64,
    /// Dead children.
    pub dead: i64,
}

impl JobChildrenSummary {
    /// All children.
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.dead
    }
}

/// Allocation counts of one group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroupSummary {
    /// Waiting for placement.
    pub queued: i64,
    /// Completed.
    pub complete: i64,
    /// Failed.
    pub failed: i64,
    /// Running.
    pub running: i64,
    /// Starting.
    pub starting: i64,
    /// Lost.
    pub lost: i64,
    /// Unknown (disconnected).
    pub unknown: i64,
}

/// One entry of `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobListStub {
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Parent ID.
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    /// Name.
    pub name: String,
    /// Namespace (omitted when empty).
    #[serde(skip_serializing_if = "is_empty_str")]
    pub namespace: String,
    /// Datacenters.
    #[serde(with = "nullable")]
    pub datacenters: Vec<String>,
    /// Node pool.
    pub node_pool: String,
    /// Multiregion settings.
    pub multiregion: Option<Multiregion>,
    /// Type.
    #[serde(rename = "Type")]
    pub job_type: String,
    /// Priority.
    pub priority: i64,
    /// Periodic job.
    pub periodic: bool,
    /// Parameterized job.
    pub parameterized_job: bool,
    /// Stopped.
    pub stop: bool,
    /// Status.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Summary.
    pub job_summary: Option<JobSummary>,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Index of the last spec change.
    pub job_modify_index: u64,
    /// Submit time, Unix nanoseconds.
    pub submit_time: i64,
    /// Metadata (omitted when empty).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable::deserialize"
    )]
    pub meta: BTreeMap<String, String>,
}
