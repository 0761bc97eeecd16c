//! What the client hands a driver to start a task, and what it keeps to find
//! the task again.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DriverError;
use crate::status::TaskState;

/// Nomad's default kill timeout (`kill_timeout = "5s"`).
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything a driver needs to start one task.
///
/// The client builds it after the task's hooks ran: the environment is
/// already interpolated, the directories exist, and the log paths are ready
/// to be opened for writing (regular files, or FIFOs whose reader is already
/// open).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskConfig {
    /// Unique id of this run of the task (Nomad: `<alloc_id>/<task>/<random>`).
    /// A restart gets a new id.
    pub id: String,
    /// Allocation id.
    pub alloc_id: String,
    /// Job namespace.
    pub namespace: String,
    /// Job id.
    pub job_id: String,
    /// Job name.
    pub job_name: String,
    /// Task group name.
    pub task_group: String,
    /// Task name.
    pub name: String,
    /// The task's driver `config` block, decoded by the driver.
    pub driver_config: BTreeMap<String, Value>,
    /// Environment, already interpolated.
    pub env: BTreeMap<String, String>,
    /// User to run as; empty means the driver's default.
    pub user: String,
    /// Resource limits.
    pub resources: TaskResources,
    /// The allocation and task directories on the host.
    pub dirs: TaskDirs,
    /// Where the task's stdout goes (file or FIFO, opened for appending).
    pub stdout_path: PathBuf,
    /// Where the task's stderr goes.
    pub stderr_path: PathBuf,
    /// Signal the client uses to stop the task (empty: the driver's default).
    pub kill_signal: String,
    /// Time between the kill signal and SIGKILL.
    pub kill_timeout: Duration,
}

impl TaskConfig {
    /// Decodes the driver `config` block into a driver's own type.
    ///
    /// The error names the offending field, e.g. `invalid config: args: invalid
    /// type: string "x", expected a sequence`.
    pub fn decode_driver_config<T: DeserializeOwned>(&self) -> Result<T, DriverError> {
        let map: serde_json::Map<String, Value> = self
            .driver_config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map_err(|e| DriverError::InvalidConfig(e.to_string()))
    }

    /// The environment as `KEY=value` strings, sorted (Nomad's `EnvList`).
    pub fn env_list(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// Resource limits of a task, in Nomad's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskResources {
    /// CPU in MHz; becomes `cpu.shares` (v1) or `cpu.weight` (v2).
    pub cpu_mhz: i64,
    /// Memory in MB: the hard limit, or the soft limit when `memory_max_mb`
    /// is set.
    pub memory_mb: i64,
    /// Hard memory limit in MB for oversubscription; 0 means none (the
    /// hard limit is `memory_mb`), -1 means no hard limit at all.
    pub memory_max_mb: i64,
    /// Cores reserved with `resources.cores`, as a cpuset list ("0-1,3").
    pub cpuset_cpus: String,
    /// Size of the secrets tmpfs in MB (0: the driver's default of 1).
    pub secrets_mb: i64,
    /// The group network's ports allocated to the allocation (Nomad's
    /// `Resources.Ports`): label, host port, port inside the task (`to`,
    /// 0 meaning the host port) and host IP. Drivers that publish ports
    /// (docker's `ports = ["http"]`) look labels up here.
    pub ports: Vec<nomad_types::alloc::AllocatedPortMapping>,
}

impl Default for TaskResources {
    fn default() -> Self {
        TaskResources {
            cpu_mhz: nomad_types::resources::DEFAULT_CPU,
            memory_mb: nomad_types::resources::DEFAULT_MEMORY_MB,
            memory_max_mb: 0,
            cpuset_cpus: String::new(),
            secrets_mb: 0,
            ports: Vec::new(),
        }
    }
}

impl From<&nomad_types::Resources> for TaskResources {
    fn from(r: &nomad_types::Resources) -> Self {
        let d = TaskResources::default();
        TaskResources {
            cpu_mhz: r.cpu.unwrap_or(d.cpu_mhz),
            memory_mb: r.memory_mb.unwrap_or(d.memory_mb),
            memory_max_mb: r.memory_max_mb.unwrap_or(0),
            cpuset_cpus: String::new(),
            secrets_mb: r.secrets_mb.unwrap_or(0),
            ports: Vec::new(),
        }
    }
}

impl TaskResources {
    /// (hard, soft) memory limits in bytes as Nomad computes them: with
    /// `memory_max_mb` the hard limit is the max and `memory_mb` a soft
    /// reservation; with `memory_max_mb = -1` there is no hard limit (`None`).
    pub fn memory_limits_bytes(&self) -> (Option<u64>, Option<u64>) {
        let mb = |v: i64| u64::try_from(v).ok().map(|v| v.saturating_mul(1024 * 1024));
        match self.memory_max_mb {
            nomad_types::resources::MEMORY_NO_LIMIT => (None, mb(self.memory_mb)),
            max if max > 0 => (mb(max), mb(self.memory_mb).filter(|v| *v > 0)),
            _ => (mb(self.memory_mb).filter(|v| *v > 0), None),
        }
    }
}

/// The directories of a task on the host, laid out as Nomad's `allocdir`.
///
/// ```text
/// <alloc_dir>/alloc/{data,logs,tmp}     shared by the group's tasks
/// <alloc_dir>/<task>/{local,secrets,tmp,private}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDirs {
    /// `<data_dir>/alloc/<alloc_id>`.
    pub alloc_dir: PathBuf,
    /// `<alloc_dir>/alloc`: mounted at `/alloc` by isolating drivers.
    pub shared_alloc_dir: PathBuf,
    /// `<alloc_dir>/alloc/logs`.
    pub log_dir: PathBuf,
    /// `<alloc_dir>/<task>`: the root of an exec task's chroot.
    pub task_dir: PathBuf,
    /// `<task_dir>/local`.
    pub local_dir: PathBuf,
    /// `<task_dir>/secrets` (tmpfs, noexec).
    pub secrets_dir: PathBuf,
    /// `<task_dir>/tmp`.
    pub tmp_dir: PathBuf,
    /// `<task_dir>/private`: for the client, not the task.
    pub private_dir: PathBuf,
}

impl TaskDirs {
    /// The standard layout for `task_name` under `alloc_dir`.
    pub fn new(alloc_dir: impl Into<PathBuf>, task_name: &str) -> Self {
        let alloc_dir = alloc_dir.into();
        let shared = alloc_dir.join("alloc");
        let task_dir = alloc_dir.join(task_name);
        TaskDirs {
            log_dir: shared.join("logs"),
            shared_alloc_dir: shared,
            local_dir: task_dir.join("local"),
            secrets_dir: task_dir.join("secrets"),
            tmp_dir: task_dir.join("tmp"),
            private_dir: task_dir.join("private"),
            task_dir,
            alloc_dir,
        }
    }

    /// Creates every directory with the permissions a task of any user can
    /// work with: `local/`, `secrets/`, `alloc/data`, `alloc/logs` are 0777,
    /// the `tmp/` dirs 1777, the task and alloc dirs 0755, `private/` 0700.
    /// This is what the client's alloc-dir hook does; tests use it too.
    pub fn create_all(&self) -> io::Result<()> {
        let dirs: [(&Path, u32); 10] = [
            (&self.alloc_dir, 0o755),
            (&self.shared_alloc_dir, 0o755),
            (&self.log_dir, 0o777),
            (&self.shared_alloc_dir.join("data"), 0o777),
            (&self.shared_alloc_dir.join("tmp"), 0o1777),
            (&self.task_dir, 0o755),
            (&self.local_dir, 0o777),
            (&self.secrets_dir, 0o777),
            (&self.tmp_dir, 0o1777),
            (&self.private_dir, 0o700),
        ];
        for (dir, mode) in dirs {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }
}

/// What the client persists for a running task so that a restarted client
/// can call [`crate::Driver::recover_task`].
///
/// `driver_state` is the driver's own blob (pids, start times, cgroup
/// paths…); only the driver that wrote it reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskHandle {
    /// Version of the driver-state encoding.
    pub version: u32,
    /// Name of the driver that wrote the handle.
    pub driver: String,
    /// The config the task was started with.
    pub config: TaskConfig,
    /// State when the handle was written.
    pub state: TaskState,
    /// Driver-private state.
    pub driver_state: Value,
}

impl TaskHandle {
    /// A handle for a task just started.
    pub fn new(driver: &str, version: u32, config: TaskConfig) -> Self {
        TaskHandle {
            version,
            driver: driver.to_string(),
            config,
            state: TaskState::Running,
            driver_state: Value::Null,
        }
    }

    /// Stores the driver's state.
    pub fn set_driver_state<T: Serialize>(&mut self, state: &T) -> Result<(), DriverError> {
        self.driver_state = serde_json::to_value(state)
            .map_err(|e| DriverError::InvalidHandle(format!("encoding driver state: {e}")))?;
        Ok(())
    }

    /// Reads the driver's state back.
    pub fn driver_state<T: DeserializeOwned>(&self) -> Result<T, DriverError> {
        serde_json::from_value(self.driver_state.clone())
            .map_err(|e| DriverError::InvalidHandle(format!("decoding driver state: {e}")))
    }

    /// Checks that the handle was written by `driver` with `version`.
    pub fn check(&self, driver: &str, version: u32) -> Result<(), DriverError> {
        if self.driver != driver {
            return Err(DriverError::InvalidHandle(format!(
                "handle belongs to driver {:?}, not {driver:?}",
                self.driver
            )));
        }
        if self.version != version {
            return Err(DriverError::InvalidHandle(format!(
                "handle version {} is not supported (expected {version})",
                self.version
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_follow_nomad() {
        let mut r = TaskResources {
            memory_mb: 100,
            ..TaskResources::default()
        };
        assert_eq!(r.memory_limits_bytes(), (Some(100 << 20), None));
        r.memory_max_mb = 200;
        assert_eq!(r.memory_limits_bytes(), (Some(200 << 20), Some(100 << 20)));
        r.memory_max_mb = -1;
        assert_eq!(r.memory_limits_bytes(), (None, Some(100 << 20)));
    }

    #[test]
    fn decode_driver_config_names_the_field() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct C {
            command: String,
            #[serde(default)]
            args: Vec<String>,
        }
        let mut cfg = TaskConfig::default();
        cfg.driver_config
            .insert("command".into(), Value::String("/bin/true".into()));
        cfg.driver_config
            .insert("args".into(), Value::String("x".into()));
        let err = cfg.decode_driver_config::<C>().unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
        cfg.driver_config.remove("args");
        assert_eq!(
            cfg.decode_driver_config::<C>().unwrap().command,
            "/bin/true"
        );
    }

    #[test]
    fn handle_round_trips_and_checks_owner() {
        let mut h = TaskHandle::new("raw_exec", 1, TaskConfig::default());
        h.set_driver_state(&vec![1, 2, 3]).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        let back: TaskHandle = serde_json::from_str(&json).unwrap();
        assert_eq!(back.driver_state::<Vec<i32>>().unwrap(), vec![1, 2, 3]);
        assert!(back.check("raw_exec", 1).is_ok());
        assert!(back.check("exec", 1).is_err());
        assert!(back.check("raw_exec", 2).is_err());
    }
}
