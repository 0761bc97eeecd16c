//! Tasks and the blocks that live inside them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::consts::lifecycle_hook;
use crate::duration::Nanos;
use crate::group::ScalingPolicy;
use crate::policies::{Affinity, Constraint, RestartPolicy};
use crate::resources::Resources;
use crate::serde_util::{free_form, nullable};
use crate::services::Service;

/// A single unit of work run by a driver.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Task {
    /// Task name, unique in its group.
    pub name: String,
    /// Driver (`docker`, `exec`, `raw_exec`, …).
    pub driver: String,
    /// User to run as.
    pub user: String,
    /// Prestart / poststart / poststop hook.
    pub lifecycle: Option<TaskLifecycle>,
    /// Driver-specific configuration, free-form.
    #[serde(with = "free_form")]
    pub config: BTreeMap<String, Value>,
    /// Placement constraints.
    #[serde(with = "nullable")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences.
    #[serde(with = "nullable")]
    pub affinities: Vec<Affinity>,
    /// Environment variables.
    #[serde(with = "nullable")]
    pub env: BTreeMap<String, String>,
    /// Services registered for the task.
    #[serde(with = "nullable")]
    pub services: Vec<Service>,
    /// Resources requested.
    pub resources: Option<Resources>,
    /// Restart policy (inherits the group's).
    pub restart_policy: Option<RestartPolicy>,
    /// Metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Time between the kill signal and a forced kill.
    pub kill_timeout: Option<Nanos>,
    /// Log rotation.
    pub log_config: Option<LogConfig>,
    /// Artifacts to download.
    #[serde(with = "nullable")]
    pub artifacts: Vec<TaskArtifact>,
    /// Vault integration.
    pub vault: Option<Box<Vault>>,
    /// Consul integration.
    pub consul: Option<Box<Consul>>,
    /// Templates to render.
    #[serde(with = "nullable")]
    pub templates: Vec<Template>,
    /// Where to write a dispatch payload.
    pub dispatch_payload: Option<DispatchPayloadConfig>,
    /// Volumes mounted into the task.
    #[serde(with = "nullable")]
    pub volume_mounts: Vec<VolumeMount>,
    /// CSI plugin supervision (omitted when absent).
    #[serde(rename = "CSIPluginConfig", skip_serializing_if = "Option::is_none")]
    pub csi_plugin_config: Option<Box<TaskCsiPluginConfig>>,
    /// Leader task: its exit stops the group.
    pub leader: bool,
    /// Delay between deregistering services and killing.
    pub shutdown_delay: Nanos,
    /// Signal used to stop the task.
    pub kill_signal: String,
    /// Task kind (Connect proxies and gateways).
    pub kind: String,
    /// Enterprise task scaling policies.
    #[serde(with = "nullable")]
    pub scaling_policies: Vec<ScalingPolicy>,
    /// Secrets to fetch.
    #[serde(with = "nullable")]
    pub secrets: Vec<Secret>,
    /// Default workload identity.
    pub identity: Option<Box<WorkloadIdentity>>,
    /// Additional workload identities.
    #[serde(with = "nullable")]
    pub identities: Vec<WorkloadIdentity>,
    /// Named commands runnable with `nomad action`.
    #[serde(with = "nullable")]
    pub actions: Vec<Action>,
    /// Enterprise time-based schedule.
    pub schedule: Option<Box<TaskSchedule>>,
}

impl Task {
    /// Creates a task with a name and driver.
    pub fn new(name: impl Into<String>, driver: impl Into<String>) -> Self {
        Task {
            name: name.into(),
            driver: driver.into(),
            ..Task::default()
        }
    }

    /// True for a main task: no lifecycle block, or one without a hook.
    pub fn is_main(&self) -> bool {
        self.lifecycle.as_ref().is_none_or(|l| l.hook.is_empty())
    }

    /// True for a prestart task.
    pub fn is_prestart(&self) -> bool {
        self.lifecycle
            .as_ref()
            .is_some_and(|l| l.hook == lifecycle_hook::PRESTART)
    }

    /// True for a poststart task.
    pub fn is_poststart(&self) -> bool {
        self.lifecycle
            .as_ref()
            .is_some_and(|l| l.hook == lifecycle_hook::POSTSTART)
    }

    /// True for a poststop task.
    pub fn is_poststop(&self) -> bool {
        self.lifecycle
            .as_ref()
            .is_some_and(|l| l.hook == lifecycle_hook::POSTSTOP)
    }
}

/// Lifecycle hook placement of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskLifecycle {
    /// `prestart`, `poststart` or `poststop`.
    pub hook: String,
    /// Keep running alongside the main tasks.
    pub sidecar: bool,
}

/// Log rotation settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    /// Rotated files kept per stream.
    pub max_files: Option<i64>,
    /// Size of each file in MB.
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i64>,
    /// Legacy flag kept for compatibility.
    pub enabled: Option<bool>,
    /// Disable log collection.
    pub disabled: Option<bool>,
}

impl LogConfig {
    /// Nomad's default: 10 files of 10 MB, enabled.
    pub fn default_config() -> Self {
        LogConfig {
            max_files: Some(10),
            max_file_size_mb: Some(10),
            enabled: None,
            disabled: Some(false),
        }
    }
}

/// An artifact fetched before the task starts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskArtifact {
    /// go-getter source URL.
    pub getter_source: Option<String>,
    /// go-getter options (`checksum`, …).
    #[serde(with = "nullable")]
    pub getter_options: BTreeMap<String, String>,
    /// HTTP headers.
    #[serde(with = "nullable")]
    pub getter_headers: BTreeMap<String, String>,
    /// `any`, `file` or `dir`.
    pub getter_mode: Option<String>,
    /// Skip TLS verification.
    pub getter_insecure: Option<bool>,
    /// Destination relative to the task directory.
    pub relative_dest: Option<String>,
    /// Chown to the task user.
    pub chown: bool,
}

/// Consul-template quiescence timers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WaitConfig {
    /// Minimum wait.
    pub min: Option<Nanos>,
    /// Maximum wait.
    pub max: Option<Nanos>,
}

/// Script run when a template changes (`change_mode = "script"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ChangeScript {
    /// Script path.
    pub command: Option<String>,
    /// Script arguments.
    #[serde(with = "nullable")]
    pub args: Vec<String>,
    /// Timeout; defaults to 5s.
    pub timeout: Option<Nanos>,
    /// Fail the task when the script fails.
    pub fail_on_error: Option<bool>,
    /// Also run after the first render.
    pub run_on_first_render: Option<bool>,
}

/// A consul-template template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Template {
    /// Template file source.
    pub source_path: Option<String>,
    /// Rendered file destination.
    pub dest_path: Option<String>,
    /// Inline template.
    pub embedded_tmpl: Option<String>,
    /// `restart`, `signal`, `noop` or `script`.
    pub change_mode: Option<String>,
    /// Script for `script` mode.
    pub change_script: Option<ChangeScript>,
    /// Signal for `signal` mode.
    pub change_signal: Option<String>,
    /// Render only once.
    pub once: Option<bool>,
    /// Random delay before acting on a change.
    pub splay: Option<Nanos>,
    /// File permissions (octal string).
    pub perms: Option<String>,
    /// File owner.
    pub uid: Option<i64>,
    /// File group.
    pub gid: Option<i64>,
    /// Left delimiter.
    pub left_delim: Option<String>,
    /// Right delimiter.
    pub right_delim: Option<String>,
    /// Load the rendered file as environment variables.
    pub envvars: Option<bool>,
    /// Deprecated.
    pub vault_grace: Option<Nanos>,
    /// Quiescence timers.
    pub wait: Option<WaitConfig>,
    /// Fail on missing map keys.
    pub err_missing_key: Option<bool>,
}

/// Writes a dispatch payload into the task directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DispatchPayloadConfig {
    /// File name relative to `local/`.
    pub file: String,
}

/// Mount of a group volume into a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeMount {
    /// Name of the group volume.
    pub volume: Option<String>,
    /// Path in the task.
    pub destination: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// `private`, `host-to-task` or `bidirectional`.
    pub propagation_mode: Option<String>,
    /// SELinux label.
    #[serde(rename = "SELinuxLabel")]
    pub selinux_label: Option<String>,
}

/// Vault integration of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Vault {
    /// Legacy policies.
    #[serde(with = "nullable")]
    pub policies: Vec<String>,
    /// Vault role.
    pub role: String,
    /// Vault namespace.
    pub namespace: Option<String>,
    /// Vault cluster.
    pub cluster: String,
    /// Expose the token as `VAULT_TOKEN`.
    pub env: Option<bool>,
    /// Do not write the token file.
    pub disable_file: Option<bool>,
    /// Action on token change.
    pub change_mode: Option<String>,
    /// Signal for `signal` mode.
    pub change_signal: Option<String>,
    /// Allow tokens to expire.
    pub allow_token_expiration: Option<bool>,
}

/// Consul cluster / namespace / partition selection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Consul {
    /// Consul namespace (Enterprise).
    pub namespace: String,
    /// Consul cluster name.
    pub cluster: String,
    /// Admin partition.
    pub partition: String,
}

/// A secret fetched for a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Secret {
    /// Secret name.
    pub name: String,
    /// Provider (`nomad`, `vault`, plugin).
    pub provider: String,
    /// Path in the provider.
    pub path: String,
    /// Provider configuration.
    #[serde(with = "free_form")]
    pub config: BTreeMap<String, Value>,
    /// Environment mapping.
    #[serde(with = "nullable")]
    pub env: BTreeMap<String, String>,
}

/// A workload identity exposed to the task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WorkloadIdentity {
    /// Identity name (`default` for the default one).
    pub name: String,
    /// JWT audiences.
    #[serde(with = "nullable")]
    pub audience: Vec<String>,
    /// Action on rotation.
    pub change_mode: String,
    /// Signal for `signal` mode.
    pub change_signal: String,
    /// Expose as `NOMAD_TOKEN`.
    pub env: bool,
    /// Write to the secrets directory.
    pub file: bool,
    /// Custom file path.
    pub filepath: String,
    /// Service name for service identities.
    pub service_name: String,
    /// Token lifetime.
    #[serde(rename = "TTL")]
    pub ttl: Nanos,
    /// Extra claims.
    #[serde(with = "nullable")]
    pub extra_claims: Vec<String>,
}

/// A named command runnable in the task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Action {
    /// Action name.
    pub name: String,
    /// Command.
    pub command: String,
    /// Arguments.
    #[serde(with = "nullable")]
    pub args: Vec<String>,
}

/// Marks the task as a CSI plugin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskCsiPluginConfig {
    /// Plugin ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// `node`, `controller` or `monolith`.
    #[serde(rename = "Type")]
    pub plugin_type: String,
    /// Socket directory inside the task; defaults to `/csi`.
    pub mount_dir: String,
    /// Staging base directory; defaults to `/local/csi`.
    pub stage_publish_base_dir: String,
    /// Health timeout; defaults to 30s.
    pub health_timeout: Nanos,
}

/// Enterprise time-based task schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskSchedule {
    /// Cron window.
    pub cron: Option<TaskScheduleCron>,
}

/// Cron window of a task schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskScheduleCron {
    /// Start expression.
    pub start: String,
    /// End expression.
    pub end: String,
    /// Time zone.
    pub timezone: String,
}
