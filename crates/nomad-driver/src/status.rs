//! What a driver reports: fingerprints, capabilities, task status, exit
//! results and resource usage.

use std::collections::BTreeMap;
use std::time::SystemTime;

use nomad_types::consts::task_event;
use nomad_types::{DriverInfo, GoTime, TaskEvent};
use serde::{Deserialize, Serialize};

/// How often the client should ask a driver for a fresh fingerprint
/// (Nomad's drivers send one every 30 s).
pub const FINGERPRINT_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// `HealthDescription` of a healthy driver (Nomad: `drivers.DriverHealthy`).
pub const DRIVER_HEALTHY: &str = "Healthy";
/// `HealthDescription` when a driver needs root (Nomad's wording).
pub const DRIVER_REQUIRES_ROOT: &str = "Driver must run as root";
/// `HealthDescription` when no cgroup mount was found (Nomad's wording).
pub const NO_CGROUP_MOUNT: &str = "Failed to discover cgroup mount point";

/// Health of a driver on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// The driver cannot run here at all (disabled, wrong OS, not root…);
    /// the node does not advertise it.
    Undetected,
    /// Detected but not usable right now.
    Unhealthy,
    /// Usable.
    Healthy,
}

/// A driver's view of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Health.
    pub health: HealthState,
    /// Why, for humans (`"Healthy"`, `"disabled"`, …).
    pub health_description: String,
    /// Driver attributes such as `driver.raw_exec = "true"`; they are copied
    /// into the node's attributes.
    pub attributes: BTreeMap<String, String>,
}

impl Fingerprint {
    /// A healthy fingerprint with Nomad's `"Healthy"` description.
    pub fn healthy() -> Self {
        Fingerprint {
            health: HealthState::Healthy,
            health_description: DRIVER_HEALTHY.to_string(),
            attributes: BTreeMap::new(),
        }
    }

    /// An undetected fingerprint.
    pub fn undetected(description: impl Into<String>) -> Self {
        Fingerprint {
            health: HealthState::Undetected,
            health_description: description.into(),
            attributes: BTreeMap::new(),
        }
    }

    /// An unhealthy fingerprint.
    pub fn unhealthy(description: impl Into<String>) -> Self {
        Fingerprint {
            health: HealthState::Unhealthy,
            health_description: description.into(),
            attributes: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// The node's `Drivers[name]` entry (`update_time` in Unix nanoseconds).
    pub fn to_driver_info(&self, update_time_unix_nanos: i64) -> DriverInfo {
        DriverInfo {
            attributes: self.attributes.clone(),
            detected: self.health != HealthState::Undetected,
            healthy: self.health == HealthState::Healthy,
            health_description: self.health_description.clone(),
            update_time: GoTime::from_unix_nanos(update_time_unix_nanos),
        }
    }

    /// What the client merges into `Node.Attributes` for driver `name`: the
    /// driver's attributes, then `driver.<name> = "1"` when detected (Nomad
    /// keeps that legacy attribute; constraints use it).
    pub fn node_attributes(&self, name: &str) -> BTreeMap<String, String> {
        let mut attrs = self.attributes.clone();
        if self.health != HealthState::Undetected {
            attrs.insert(format!("driver.{name}"), "1".to_string());
        }
        attrs
    }
}

/// Filesystem isolation a driver provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsIsolation {
    /// The task sees the host filesystem (raw_exec).
    None,
    /// The task runs in a chroot built from host directories (exec, java).
    Chroot,
    /// The task runs in its own image (docker).
    Image,
}

/// Network isolation modes a driver supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetIsolationMode {
    /// The host's network namespace.
    Host,
    /// A namespace shared by the group (created by the client).
    Group,
    /// A namespace per task.
    Task,
    /// No network.
    None,
}

/// Which `volume_mount`/`mount` configs a driver honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountConfigSupport {
    /// All mount configs.
    All,
    /// None.
    None,
}

/// Optional features of a driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `signal_task` works.
    pub send_signals: bool,
    /// `exec_task` works (script checks, `alloc exec`).
    pub exec: bool,
    /// Filesystem isolation.
    pub fs_isolation: FsIsolation,
    /// Network isolation modes.
    pub net_isolation_modes: Vec<NetIsolationMode>,
    /// The driver creates the network namespace itself.
    pub must_initiate_network: bool,
    /// Mount configs honoured.
    pub mount_configs: MountConfigSupport,
    /// Tasks run somewhere else (remote task drivers).
    pub remote_tasks: bool,
    /// The driver collects logs itself; the client starts no log collector.
    pub disable_log_collection: bool,
    /// The driver can run tasks as dynamically allocated users.
    pub dynamic_workload_users: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            send_signals: false,
            exec: false,
            fs_isolation: FsIsolation::None,
            net_isolation_modes: vec![NetIsolationMode::Host],
            must_initiate_network: false,
            mount_configs: MountConfigSupport::None,
            remote_tasks: false,
            disable_log_collection: false,
            dynamic_workload_users: false,
        }
    }
}

/// Lifecycle state of a task as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Not known (e.g. not recovered yet).
    Unknown,
    /// Running.
    Running,
    /// Exited; the exit result is known.
    Exited,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExitResult {
    /// Exit code; `128 + signal` when a signal killed the task (as Nomad's
    /// executor encodes it, like a shell).
    pub exit_code: i32,
    /// The signal that killed the task, 0 if none.
    pub signal: i32,
    /// The kernel's OOM killer killed the task (cgroup memory limit).
    pub oom_killed: bool,
    /// Set when the driver could not observe the exit properly.
    pub err: Option<String>,
}

impl ExitResult {
    /// Exit code 0, no signal, no error.
    pub fn successful(&self) -> bool {
        self.exit_code == 0 && self.signal == 0 && self.err.is_none()
    }

    /// A result that only carries an error.
    pub fn error(message: impl Into<String>) -> Self {
        ExitResult {
            exit_code: -1,
            signal: 0,
            oom_killed: false,
            err: Some(message.into()),
        }
    }

    /// The client's "Terminated" task event for this result, as Nomad's task
    /// runner emits it: exit code, signal, `Details["oom_killed"]`, and the
    /// error as the exit message.
    pub fn to_task_event(&self, time_unix_nanos: i64) -> TaskEvent {
        let mut parts = vec![format!("Exit Code: {}", self.exit_code)];
        if self.signal != 0 {
            parts.push(format!("Signal: {}", self.signal));
        }
        if let Some(err) = &self.err {
            parts.push(format!("Exit Message: {err:?}"));
        }
        let mut ev =
            TaskEvent::new(task_event::TERMINATED, time_unix_nanos).with_message(parts.join(", "));
        ev.exit_code = i64::from(self.exit_code);
        ev.signal = i64::from(self.signal);
        ev.message = self.err.clone().unwrap_or_default();
        ev.details
            .insert("exit_code".into(), self.exit_code.to_string());
        ev.details.insert("signal".into(), self.signal.to_string());
        ev.details
            .insert("oom_killed".into(), self.oom_killed.to_string());
        if let Some(err) = &self.err {
            ev.details.insert("exit_message".into(), err.clone());
        }
        ev
    }
}

/// A driver's answer to `inspect_task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// Task id.
    pub id: String,
    /// Task name.
    pub name: String,
    /// State.
    pub state: TaskState,
    /// When the task started.
    pub started_at: SystemTime,
    /// When it exited.
    pub completed_at: Option<SystemTime>,
    /// How it exited.
    pub exit_result: Option<ExitResult>,
    /// Driver details (`pid`, cgroup path, container id…).
    pub driver_attributes: BTreeMap<String, String>,
}

/// Memory usage, in bytes (Nomad's `MemoryStats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemoryStats {
    /// Resident set size.
    #[serde(rename = "RSS")]
    pub rss: u64,
    /// Page cache.
    pub cache: u64,
    /// Swap.
    pub swap: u64,
    /// Usage as the cgroup counts it.
    pub usage: u64,
    /// Peak usage.
    pub max_usage: u64,
    /// Kernel memory.
    pub kernel_usage: u64,
    /// Peak kernel memory.
    pub kernel_max_usage: u64,
    /// Which of the fields above were measured (`"RSS"`, `"Cache"`, …).
    pub measured: Vec<String>,
}

/// CPU usage (Nomad's `CpuStats`): percentages of one core, and `TotalTicks`
/// in MHz-equivalents.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CpuStats {
    /// Percent of a core in kernel mode.
    pub system_mode: f64,
    /// Percent of a core in user mode.
    pub user_mode: f64,
    /// CPU used, in MHz.
    pub total_ticks: f64,
    /// Periods throttled by CFS.
    pub throttled_periods: u64,
    /// Time throttled (ns).
    pub throttled_time: u64,
    /// Percent of a core in total.
    pub percent: f64,
    /// Which fields were measured (`"System Mode"`, `"User Mode"`, `"Percent"`…).
    pub measured: Vec<String>,
}

/// Memory and CPU of a task or one of its processes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceUsage {
    /// Memory.
    pub memory_stats: MemoryStats,
    /// CPU.
    pub cpu_stats: CpuStats,
}

/// A driver's answer to `task_stats` (Nomad's `TaskResourceUsage`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskResourceUsage {
    /// The whole task.
    pub resource_usage: ResourceUsage,
    /// When measured, Unix nanoseconds.
    pub timestamp: i64,
    /// Per process, keyed by pid (may be empty).
    pub pids: BTreeMap<String, ResourceUsage>,
}

/// Unix nanoseconds of `t` (0 before the epoch).
pub fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_attributes_add_legacy_flag_when_detected() {
        let fp = Fingerprint::healthy().with_attribute("driver.raw_exec", "true");
        let attrs = fp.node_attributes("raw_exec");
        assert_eq!(attrs["driver.raw_exec"], "1");
        let info = fp.to_driver_info(0);
        assert!(info.detected && info.healthy);
        assert_eq!(info.attributes["driver.raw_exec"], "true");

        let off = Fingerprint::undetected("disabled");
        assert!(off.node_attributes("raw_exec").is_empty());
        assert!(!off.to_driver_info(0).detected);
    }

    #[test]
    fn terminated_event_carries_oom_and_signal() {
        let r = ExitResult {
            exit_code: 137,
            signal: 9,
            oom_killed: true,
            err: None,
        };
        let ev = r.to_task_event(5);
        assert_eq!(ev.event_type, "Terminated");
        assert_eq!(ev.display_message, "Exit Code: 137, Signal: 9");
        assert_eq!(ev.details["oom_killed"], "true");
        assert_eq!(ev.signal, 9);
        assert!(!r.successful());
        assert!(ExitResult::default().successful());
    }

    #[test]
    fn usage_serializes_like_nomad() {
        let u = TaskResourceUsage::default();
        let v = serde_json::to_value(&u).unwrap();
        assert!(v["ResourceUsage"]["MemoryStats"].get("RSS").is_some());
        assert!(v["ResourceUsage"]["CpuStats"].get("TotalTicks").is_some());
    }
}
