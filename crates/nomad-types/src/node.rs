//! Client nodes as Nomad's HTTP API returns them (`GET /v1/node/:id`,
//! `GET /v1/nodes`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::consts::{node_eligibility, node_status};
use crate::duration::{GoTime, Nanos};
use crate::resources::NetworkResource;
use crate::serde_util::{nullable, sorted_value};

/// A client node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Node {
    /// Node ID (UUID).
    #[serde(rename = "ID")]
    pub id: String,
    /// Secret used by the client to authenticate (redacted by the API).
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node name.
    pub name: String,
    /// Cgroup parent of tasks.
    pub cgroup_parent: String,
    /// HTTP address of the client agent.
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    /// TLS enabled on the client agent.
    #[serde(rename = "TLSEnabled")]
    pub tls_enabled: bool,
    /// Fingerprinted attributes.
    #[serde(with = "nullable")]
    pub attributes: BTreeMap<String, String>,
    /// Fingerprinted resources.
    pub node_resources: Option<NodeResources>,
    /// Resources reserved for the host.
    pub reserved_resources: Option<NodeReservedResources>,
    /// Links to external systems.
    #[serde(with = "nullable")]
    pub links: BTreeMap<String, String>,
    /// Node metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Node class.
    pub node_class: String,
    /// Node pool.
    pub node_pool: String,
    /// Hash of the class-relevant fields.
    pub computed_class: String,
    /// Active drain, if any.
    pub drain_strategy: Option<DrainStrategy>,
    /// `eligible` or `ineligible`.
    pub scheduling_eligibility: String,
    /// `initializing`, `ready`, `down`, `disconnected`.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Key ID used to sign the node identity.
    #[serde(rename = "IdentitySigningKeyID")]
    pub identity_signing_key_id: String,
    /// Unix seconds of the last status change.
    pub status_updated_at: i64,
    /// Recent node events.
    #[serde(with = "nullable")]
    pub events: Vec<NodeEvent>,
    /// Driver health, by driver name.
    #[serde(with = "nullable")]
    pub drivers: BTreeMap<String, DriverInfo>,
    /// CSI controller plugins (opaque).
    #[serde(rename = "CSIControllerPlugins", with = "nullable")]
    pub csi_controller_plugins: BTreeMap<String, Value>,
    /// CSI node plugins (opaque).
    #[serde(rename = "CSINodePlugins", with = "nullable")]
    pub csi_node_plugins: BTreeMap<String, Value>,
    /// Host volumes, by name.
    #[serde(with = "nullable")]
    pub host_volumes: BTreeMap<String, ClientHostVolumeConfig>,
    /// Delete dynamic host volumes when the node is collected.
    #[serde(rename = "GCVolumesOnNodeGC")]
    pub gc_volumes_on_node_gc: bool,
    /// Host networks, by name.
    #[serde(with = "nullable")]
    pub host_networks: BTreeMap<String, ClientHostNetworkConfig>,
    /// Last drain.
    pub last_drain: Option<DrainMetadata>,
    /// Maximum allocations on the node (0 = unlimited).
    pub node_max_allocs: i64,
    /// Raft index of the last missed heartbeat.
    pub last_missed_heartbeat_index: u64,
    /// Raft index of the last allocation update.
    pub last_alloc_update_index: u64,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}

impl Node {
    /// First 8 characters of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// True when the node is `ready`.
    pub fn is_ready(&self) -> bool {
        self.status == node_status::READY
    }

    /// True when the node accepts new placements (ready, eligible, not draining).
    pub fn is_schedulable(&self) -> bool {
        self.is_ready()
            && self.scheduling_eligibility != node_eligibility::INELIGIBLE
            && self.drain_strategy.is_none()
    }

    /// True when the node is `down`.
    pub fn terminal_status(&self) -> bool {
        self.status == node_status::DOWN
    }

    /// The node's computed class: a hash of everything that decides whether
    /// a job's constraints can hold on it, so nodes with equal classes are
    /// equally feasible. Like Nomad it covers the datacenter, attributes and
    /// meta (minus keys under `unique.`), node class, node pool and devices
    /// (vendor, type, name, non-unique attributes); unlike Nomad it also
    /// covers driver health and network modes and host networks, which the
    /// scheduler's per-class feasibility cache depends on. Written as
    /// `v1:<decimal hash>`; the hash (FNV-1a, 64 bits) is stable across
    /// processes and versions of this crate.
    pub fn compute_class(&self) -> String {
        let mut h = ClassHasher::new();
        h.field("dc", &self.datacenter);
        for (k, v) in &self.attributes {
            if !k.starts_with("unique.") {
                h.field(k, v);
            }
        }
        h.sep();
        for (k, v) in &self.meta {
            if !k.starts_with("unique.") {
                h.field(k, v);
            }
        }
        h.sep();
        h.field("class", &self.node_class);
        h.field("pool", &self.node_pool);
        for (name, info) in &self.drivers {
            h.field(
                name,
                if info.detected && info.healthy {
                    "1"
                } else {
                    "0"
                },
            );
        }
        h.sep();
        if let Some(res) = &self.node_resources {
            for dev in &res.devices {
                h.field(&dev.vendor, &dev.device_type);
                h.field("name", &dev.name);
                for (k, v) in &dev.attributes {
                    if !k.starts_with("unique.") {
                        h.field(k, &format!("{v:?}"));
                    }
                }
                h.sep();
            }
            for net in &res.networks {
                h.field("net", &net.mode);
            }
            for net in &res.node_networks {
                h.field("nodenet", &net.mode);
                for addr in &net.addresses {
                    h.field("alias", &addr.alias);
                }
            }
        }
        format!("v1:{}", h.finish())
    }

    /// Server-side defaults: node pool `default`; eligibility forced to
    /// `ineligible` while draining, `eligible` when unset.
    pub fn canonicalize(&mut self) {
        if self.node_pool.is_empty() {
            self.node_pool = crate::consts::job_defaults::NODE_POOL.to_string();
        }
        if self.drain_strategy.is_some() {
            self.scheduling_eligibility = node_eligibility::INELIGIBLE.to_string();
        } else if self.scheduling_eligibility.is_empty() {
            self.scheduling_eligibility = node_eligibility::ELIGIBLE.to_string();
        }
    }

    /// The list stub `GET /v1/nodes` returns for this node.
    pub fn stub(&self, with_resources: bool) -> NodeListStub {
        NodeListStub {
            address: self
                .attributes
                .get("unique.network.ip-address")
                .cloned()
                .unwrap_or_default(),
            id: self.id.clone(),
            attributes: BTreeMap::new(),
            datacenter: self.datacenter.clone(),
            name: self.name.clone(),
            node_pool: self.node_pool.clone(),
            node_class: self.node_class.clone(),
            version: self
                .attributes
                .get("nomad.version")
                .cloned()
                .unwrap_or_default(),
            drain: self.drain_strategy.is_some(),
            scheduling_eligibility: self.scheduling_eligibility.clone(),
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            drivers: self.drivers.clone(),
            host_volumes: self.host_volumes.clone(),
            node_resources: if with_resources {
                self.node_resources.clone()
            } else {
                None
            },
            reserved_resources: if with_resources {
                self.reserved_resources.clone()
            } else {
                None
            },
            last_drain: self.last_drain.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// FNV-1a over length-prefixed fields, for [`Node::compute_class`].
struct ClassHasher(u64);

impl ClassHasher {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;

    fn new() -> Self {
        ClassHasher(Self::OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn field(&mut self, key: &str, value: &str) {
        self.bytes(&(key.len() as u64).to_le_bytes());
        self.bytes(key.as_bytes());
        self.bytes(&(value.len() as u64).to_le_bytes());
        self.bytes(value.as_bytes());
    }

    fn sep(&mut self) {
        self.bytes(&[0xff]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// First 8 characters of an ID (whole string when shorter).
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Fingerprinted node resources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeResources {
    /// CPU.
    pub cpu: NodeCpuResources,
    /// CPU topology (opaque).
    pub processors: NodeProcessorResources,
    /// Memory.
    pub memory: NodeMemoryResources,
    /// Disk.
    pub disk: NodeDiskResources,
    /// Devices.
    #[serde(with = "nullable")]
    pub devices: Vec<NodeDeviceResource>,
    /// Node networks.
    #[serde(with = "nullable")]
    pub node_networks: Vec<NodeNetworkResource>,
    /// Legacy networks.
    #[serde(with = "nullable")]
    pub networks: Vec<NetworkResource>,
    /// Lowest dynamic port.
    pub min_dynamic_port: i64,
    /// Highest dynamic port.
    pub max_dynamic_port: i64,
}

/// CPU resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeCpuResources {
    /// Total MHz.
    pub cpu_shares: i64,
    /// Core count.
    pub total_cpu_cores: u16,
    /// Cores available for reservation.
    #[serde(with = "nullable")]
    pub reservable_cpu_cores: Vec<u16>,
}

/// CPU topology; the topology itself is kept opaque.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeProcessorResources {
    /// NUMA topology as reported by the client.
    #[serde(with = "sorted_value")]
    pub topology: Option<Value>,
}

/// Memory resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeMemoryResources {
    /// MB.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
}

/// Disk resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDiskResources {
    /// MB.
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
}

/// A group of identical devices on a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDeviceResource {
    /// Vendor.
    pub vendor: String,
    /// Type.
    #[serde(rename = "Type")]
    pub device_type: String,
    /// Model name.
    pub name: String,
    /// Instances.
    #[serde(with = "nullable")]
    pub instances: Vec<NodeDevice>,
    /// Attributes.
    #[serde(with = "nullable")]
    pub attributes: BTreeMap<String, DeviceAttribute>,
}

impl NodeDeviceResource {
    /// `vendor/type/name`.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.vendor, self.device_type, self.name)
    }
}

/// One device instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDevice {
    /// Device ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Healthy.
    pub healthy: bool,
    /// Health detail.
    pub health_description: String,
    /// PCI locality.
    pub locality: Option<NodeDeviceLocality>,
}

/// PCI locality of a device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDeviceLocality {
    /// PCI bus ID.
    #[serde(rename = "PciBusID")]
    pub pci_bus_id: String,
}

/// A typed device attribute; exactly one value is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceAttribute {
    /// Float value.
    #[serde(rename = "Float", skip_serializing_if = "Option::is_none")]
    pub float: Option<f64>,
    /// Integer value.
    #[serde(rename = "Int", skip_serializing_if = "Option::is_none")]
    pub int: Option<i64>,
    /// String value.
    #[serde(rename = "String", skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// Bool value.
    #[serde(rename = "Bool", skip_serializing_if = "Option::is_none")]
    pub bool: Option<bool>,
    /// Unit.
    #[serde(rename = "Unit")]
    pub unit: String,
}

/// A network interface of the node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeNetworkResource {
    /// `host` or `cni/<name>`.
    pub mode: String,
    /// Interface name.
    pub device: String,
    /// MAC address.
    pub mac_address: String,
    /// Speed in Mbit/s.
    pub speed: i64,
    /// Addresses.
    #[serde(with = "nullable")]
    pub addresses: Vec<NodeNetworkAddress>,
}

/// An address of a node network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeNetworkAddress {
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// Host network alias.
    pub alias: String,
    /// Address.
    pub address: String,
    /// Reserved ports spec.
    pub reserved_ports: String,
    /// Default gateway.
    pub gateway: String,
}

/// Resources reserved for the host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeReservedResources {
    /// CPU.
    pub cpu: NodeReservedCpuResources,
    /// Memory.
    pub memory: NodeMemoryResources,
    /// Disk.
    pub disk: NodeDiskResources,
    /// Networks.
    pub networks: NodeReservedNetworkResources,
}

/// Reserved CPU.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeReservedCpuResources {
    /// MHz.
    pub cpu_shares: i64,
    /// Reserved cores.
    #[serde(with = "nullable")]
    pub reserved_cpu_cores: Vec<u16>,
}

/// Reserved host ports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeReservedNetworkResources {
    /// Port spec such as `22,80-90`.
    pub reserved_host_ports: String,
}

/// Health of a task driver on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DriverInfo {
    /// Driver attributes.
    #[serde(with = "nullable")]
    pub attributes: BTreeMap<String, String>,
    /// Driver detected.
    pub detected: bool,
    /// Driver healthy.
    pub healthy: bool,
    /// Health detail.
    pub health_description: String,
    /// Last update.
    pub update_time: GoTime,
}

/// Drain parameters (as given by the user).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DrainSpec {
    /// Deadline: -1 forces now, 0 means none.
    pub deadline: Nanos,
    /// Leave system allocations alone.
    pub ignore_system_jobs: bool,
}

/// An active drain. Go embeds the spec, so its fields appear flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DrainStrategy {
    /// Deadline (from the spec).
    pub deadline: Nanos,
    /// Ignore system jobs (from the spec).
    pub ignore_system_jobs: bool,
    /// When remaining allocations are force-stopped.
    pub force_deadline: GoTime,
    /// When the drain started.
    pub started_at: GoTime,
}

impl DrainStrategy {
    /// The embedded spec.
    pub fn spec(&self) -> DrainSpec {
        DrainSpec {
            deadline: self.deadline,
            ignore_system_jobs: self.ignore_system_jobs,
        }
    }
}

/// Metadata of the last drain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DrainMetadata {
    /// Start.
    pub started_at: GoTime,
    /// Last update.
    pub updated_at: GoTime,
    /// `draining`, `complete`, `canceled`.
    pub status: String,
    /// Token accessor that started it.
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// User metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
}

/// A node event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeEvent {
    /// Message.
    pub message: String,
    /// Subsystem (`Drain`, `Driver`, `Heartbeat`, `Cluster`).
    pub subsystem: String,
    /// Details.
    #[serde(with = "nullable")]
    pub details: BTreeMap<String, String>,
    /// Time.
    pub timestamp: GoTime,
    /// Raft index.
    pub create_index: u64,
}

/// A host volume exposed by the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientHostVolumeConfig {
    /// Name.
    pub name: String,
    /// Host path.
    pub path: String,
    /// Read-only.
    pub read_only: bool,
    /// Dynamic volume ID.
    #[serde(rename = "ID")]
    pub id: String,
}

/// A host network configured on the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientHostNetworkConfig {
    /// Name.
    pub name: String,
    /// CIDR.
    #[serde(rename = "CIDR")]
    pub cidr: String,
    /// Interface.
    pub interface: String,
    /// Reserved ports.
    pub reserved_ports: String,
}

/// One entry of `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeListStub {
    /// Advertised address.
    pub address: String,
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Attributes (only with `?os=true`; omitted when empty).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable::deserialize"
    )]
    pub attributes: BTreeMap<String, String>,
    /// Datacenter.
    pub datacenter: String,
    /// Name.
    pub name: String,
    /// Node pool.
    pub node_pool: String,
    /// Class.
    pub node_class: String,
    /// Nomad version.
    pub version: String,
    /// Draining.
    pub drain: bool,
    /// Eligibility.
    pub scheduling_eligibility: String,
    /// Status.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Drivers.
    #[serde(with = "nullable")]
    pub drivers: BTreeMap<String, DriverInfo>,
    /// Host volumes.
    #[serde(with = "nullable")]
    pub host_volumes: BTreeMap<String, ClientHostVolumeConfig>,
    /// Resources (only with `?resources=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_resources: Option<NodeResources>,
    /// Reserved resources (only with `?resources=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_resources: Option<NodeReservedResources>,
    /// Last drain.
    pub last_drain: Option<DrainMetadata>,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}

#[cfg(test)]
mod class_tests {
    use super::*;

    #[test]
    fn computed_class_ignores_unique_keys() {
        let mut a = Node {
            datacenter: "dc1".into(),
            ..Node::default()
        };
        a.attributes.insert("kernel.name".into(), "linux".into());
        a.attributes.insert("unique.hostname".into(), "h1".into());
        let mut b = a.clone();
        b.attributes.insert("unique.hostname".into(), "h2".into());
        b.id = "other".into();
        assert_eq!(a.compute_class(), b.compute_class());
        assert!(a.compute_class().starts_with("v1:"));
        b.attributes.insert("kernel.name".into(), "windows".into());
        assert_ne!(a.compute_class(), b.compute_class());
        let mut c = a.clone();
        c.datacenter = "dc2".into();
        assert_ne!(a.compute_class(), c.compute_class());
    }
}
