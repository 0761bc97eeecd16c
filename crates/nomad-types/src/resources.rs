//! Task resource requests and network requests, as in a job specification.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policies::{Affinity, Constraint};
use crate::serde_util::nullable;

/// Default CPU in MHz when a task gives none.
pub const DEFAULT_CPU: i64 = 100;
/// Default memory in MB when a task gives none.
pub const DEFAULT_MEMORY_MB: i64 = 300;
/// Smallest CPU a task may ask for (MHz).
pub const MIN_CPU: i64 = 1;
/// Smallest memory a task may ask for (MB).
pub const MIN_MEMORY_MB: i64 = 10;
/// `MemoryMaxMB` value meaning "no upper limit".
pub const MEMORY_NO_LIMIT: i64 = -1;

/// What a task asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Resources {
    /// CPU in MHz.
    #[serde(rename = "CPU")]
    pub cpu: Option<i64>,
    /// Whole cores reserved (instead of `CPU`).
    pub cores: Option<i64>,
    /// Memory in MB.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<i64>,
    /// Memory limit in MB for oversubscription.
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: Option<i64>,
    /// Deprecated task-level disk request.
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<i64>,
    /// Deprecated task-level networks.
    #[serde(with = "nullable")]
    pub networks: Vec<NetworkResource>,
    /// Devices such as GPUs.
    #[serde(with = "nullable")]
    pub devices: Vec<RequestedDevice>,
    /// NUMA placement preference.
    #[serde(rename = "NUMA")]
    pub numa: Option<NumaResource>,
    /// Size of the secrets tmpfs in MB.
    #[serde(rename = "SecretsMB")]
    pub secrets_mb: Option<i64>,
    /// Deprecated.
    #[serde(rename = "IOPS")]
    pub iops: Option<i64>,
}

impl Resources {
    /// Nomad's defaults: 100 MHz, 0 cores, 300 MB.
    pub fn default_request() -> Self {
        Resources {
            cpu: Some(DEFAULT_CPU),
            cores: Some(0),
            memory_mb: Some(DEFAULT_MEMORY_MB),
            ..Resources::default()
        }
    }
}

/// NUMA placement request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NumaResource {
    /// `none`, `prefer` or `require`.
    pub affinity: String,
    /// Devices that must share the NUMA node.
    #[serde(with = "nullable")]
    pub devices: Vec<String>,
}

/// A device request such as `nvidia/gpu`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RequestedDevice {
    /// `vendor/type/name`, `vendor/type` or `type`.
    pub name: String,
    /// How many instances; defaults to 1.
    pub count: Option<u64>,
    /// Constraints on device attributes.
    #[serde(with = "nullable")]
    pub constraints: Vec<Constraint>,
    /// Affinities on device attributes.
    #[serde(with = "nullable")]
    pub affinities: Vec<Affinity>,
}

/// A network request (group `network` block) or a network assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkResource {
    /// `host`, `bridge`, `none`, `cni/<name>`; empty means host.
    pub mode: String,
    /// Host device name.
    pub device: String,
    /// CIDR block.
    #[serde(rename = "CIDR")]
    pub cidr: String,
    /// Address.
    #[serde(rename = "IP")]
    pub ip: String,
    /// DNS settings for the network namespace.
    #[serde(rename = "DNS")]
    pub dns: Option<DnsConfig>,
    /// Static ports.
    #[serde(with = "nullable")]
    pub reserved_ports: Vec<Port>,
    /// Dynamically assigned ports.
    #[serde(with = "nullable")]
    pub dynamic_ports: Vec<Port>,
    /// Hostname of the network namespace.
    pub hostname: String,
    /// Deprecated bandwidth request.
    #[serde(rename = "MBits")]
    pub mbits: Option<i64>,
    /// CNI arguments.
    #[serde(rename = "CNI")]
    pub cni: Option<CniConfig>,
}

impl NetworkResource {
    /// All ports, static first.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.reserved_ports.iter().chain(self.dynamic_ports.iter())
    }

    /// True when any port is requested.
    pub fn has_ports(&self) -> bool {
        !self.reserved_ports.is_empty() || !self.dynamic_ports.is_empty()
    }
}

/// A port request or assignment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Port {
    /// Name used to refer to the port.
    pub label: String,
    /// Host port (static when requested in `ReservedPorts`).
    pub value: i64,
    /// Port inside the task's network namespace.
    pub to: i64,
    /// Host network to bind.
    pub host_network: String,
    /// Allow the static port to collide with others.
    pub ignore_collision: bool,
}

/// DNS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DnsConfig {
    /// Name servers.
    #[serde(with = "nullable")]
    pub servers: Vec<String>,
    /// Search domains.
    #[serde(with = "nullable")]
    pub searches: Vec<String>,
    /// Resolver options.
    #[serde(with = "nullable")]
    pub options: Vec<String>,
}

/// CNI arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CniConfig {
    /// Key/value arguments passed to the plugins.
    #[serde(with = "nullable")]
    pub args: BTreeMap<String, String>,
}
