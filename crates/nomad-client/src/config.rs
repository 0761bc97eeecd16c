//! The client agent's configuration (the `client { … }` and `plugin { … }`
//! blocks of Nomad's agent config, already decoded).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nomad_types::node::ClientHostVolumeConfig;
use serde::{Deserialize, Serialize};

use crate::error::ClientError;

/// Settings of a client agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientConfig {
    /// Root of everything the client keeps on disk.
    pub data_dir: PathBuf,
    /// Allocation directories (default `<data_dir>/alloc`).
    pub alloc_dir: Option<PathBuf>,
    /// Local state (default `<data_dir>/client`).
    pub state_dir: Option<PathBuf>,
    /// Node name (default: the hostname).
    pub name: String,
    /// Datacenter (default `dc1`).
    pub datacenter: String,
    /// Region (default `global`).
    pub region: String,
    /// Node class.
    pub node_class: String,
    /// Node pool (default `default`).
    pub node_pool: String,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
    /// Client options (`env.denylist`, `user.denylist`, …).
    pub options: BTreeMap<String, String>,
    /// Host volumes by name.
    pub host_volumes: BTreeMap<String, ClientHostVolumeConfig>,
    /// Resources kept for the host.
    pub reserved: ReservedConfig,
    /// Interface whose address the node advertises (default: the interface
    /// of the default route).
    pub network_interface: String,
    /// Override of the fingerprinted total CPU in MHz.
    pub cpu_total_compute: Option<i64>,
    /// Override of the fingerprinted memory in MB.
    pub memory_total_mb: Option<i64>,
    /// Lowest dynamic port (default 20000).
    pub min_dynamic_port: i64,
    /// Highest dynamic port (default 32000).
    pub max_dynamic_port: i64,
    /// Task drivers: name → plugin `config` block (JSON). A driver runs only
    /// if listed here (raw_exec additionally needs `enabled = true`).
    pub drivers: BTreeMap<String, serde_json::Value>,
    /// Garbage collection of terminal allocations.
    pub gc: GcConfig,
    /// Upper bound for any task's `kill_timeout` (default 30s).
    pub max_kill_timeout: Duration,
    /// How long a blocking query for allocations waits (default 5 minutes,
    /// Nomad's; tests shorten it).
    pub alloc_watch_wait: Duration,
    /// Least time between two batches of allocation updates sent to the
    /// servers (default 5 ms; Nomad's clients use 200 ms, but our servers
    /// merge every client's reports into shared Raft entries).
    pub update_interval: Duration,
    /// Nomad version advertised in `nomad.version`.
    pub version: String,
    /// How often drivers are fingerprinted again after start (Nomad: 30 s);
    /// a change of a driver's health or attributes updates the node.
    pub driver_fingerprint_interval: Duration,
    /// The agent's HTTP address (`ip:port`), registered as the node's
    /// `HTTPAddr` so that servers can send `/v1/client/*` requests here.
    pub http_addr: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            data_dir: PathBuf::from("/var/lib/nomad"),
            alloc_dir: None,
            state_dir: None,
            name: String::new(),
            datacenter: "dc1".into(),
            region: "global".into(),
            node_class: String::new(),
            node_pool: "default".into(),
            meta: BTreeMap::new(),
            options: BTreeMap::new(),
            host_volumes: BTreeMap::new(),
            reserved: ReservedConfig::default(),
            network_interface: String::new(),
            cpu_total_compute: None,
            memory_total_mb: None,
            min_dynamic_port: 20000,
            max_dynamic_port: 32000,
            drivers: BTreeMap::new(),
            gc: GcConfig::default(),
            max_kill_timeout: Duration::from_secs(30),
            alloc_watch_wait: Duration::from_secs(300),
            update_interval: Duration::from_millis(5),
            version: env!("CARGO_PKG_VERSION").to_string(),
            driver_fingerprint_interval: nomad_driver::FINGERPRINT_PERIOD,
            http_addr: String::new(),
        }
    }
}

impl ClientConfig {
    /// A config rooted at `data_dir` with `raw_exec` enabled: what tests
    /// and `-dev` agents use.
    pub fn dev(data_dir: impl Into<PathBuf>) -> Self {
        let mut c = ClientConfig {
            data_dir: data_dir.into(),
            ..ClientConfig::default()
        };
        c.drivers
            .insert("raw_exec".into(), serde_json::json!({"enabled": true}));
        c
    }

    /// Where allocation directories live.
    pub fn alloc_dir(&self) -> PathBuf {
        self.alloc_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("alloc"))
    }

    /// Where the local state lives.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("client"))
    }

    /// Checks what would break the client later.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ClientError::Config("data_dir must be set".into()));
        }
        if self.min_dynamic_port <= 0
            || self.max_dynamic_port > 65535
            || self.min_dynamic_port > self.max_dynamic_port
        {
            return Err(ClientError::Config(format!(
                "invalid dynamic port range {}-{}",
                self.min_dynamic_port, self.max_dynamic_port
            )));
        }
        if self.gc.max_allocs == 0 {
            return Err(ClientError::Config("gc_max_allocs must be > 0".into()));
        }
        Ok(())
    }

    /// Host environment variables a task must not inherit: the option
    /// `env.denylist` (comma-separated), else Nomad's default list.
    pub fn env_denylist(&self) -> Vec<String> {
        match self
            .options
            .get("env.denylist")
            .or_else(|| self.options.get("env.blacklist"))
        {
            Some(list) => list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => DEFAULT_ENV_DENYLIST.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Nomad's default `env.denylist`: secrets of the agent's own environment.
pub const DEFAULT_ENV_DENYLIST: &[&str] = &[
    "CONSUL_TOKEN",
    "CONSUL_HTTP_TOKEN",
    "CONSUL_HTTP_TOKEN_FILE",
    "NOMAD_TOKEN",
    "VAULT_TOKEN",
    "CONSUL_LICENSE",
    "NOMAD_LICENSE",
    "VAULT_LICENSE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// `client { reserved { … } }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReservedConfig {
    /// CPU in MHz.
    pub cpu: i64,
    /// Cores (a cpuset list such as `0-1`).
    pub cores: String,
    /// Memory in MB.
    pub memory_mb: i64,
    /// Disk in MB.
    pub disk_mb: i64,
    /// Host ports (`22,80-90`).
    pub reserved_ports: String,
}

/// `client { gc_* }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GcConfig {
    /// Terminal allocations kept on disk; older ones are destroyed
    /// (Nomad's `gc_max_allocs`, default 50).
    pub max_allocs: usize,
    /// How often the collector runs (default 1 minute).
    pub interval: Duration,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            max_allocs: 50,
            interval: Duration::from_secs(60),
        }
    }
}
