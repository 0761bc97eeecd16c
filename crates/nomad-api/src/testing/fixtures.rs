//! Helpers of the in-memory cluster: Nomad's check-index rule, IDs, the
//! clock, and a ready test node.

use std::collections::BTreeMap;

use nomad_state::ApplyError;
use nomad_types::node::NodeEvent;
use nomad_types::{GoTime, Job, Node};

use super::VERSION;
use crate::cluster::ClusterError;

/// Nomad's check-index rule and wording (`structs.Job.EnforceIndex`).
pub fn enforce_index(existing: Option<&Job>, index: u64) -> Result<(), ClusterError> {
    const PREFIX: &str = "Enforcing job modify index";
    match existing {
        Some(_) if index == 0 => Err(ClusterError::Conflict(format!(
            "{PREFIX} 0: job already exists"
        ))),
        Some(j) if j.job_modify_index.unwrap_or(0) != index => {
            Err(ClusterError::Conflict(format!(
                "{PREFIX} {index}: job exists with conflicting job modify index: {}",
                j.job_modify_index.unwrap_or(0)
            )))
        }
        None if index != 0 => Err(ClusterError::Conflict(format!(
            "{PREFIX} {index}: job does not exist"
        ))),
        _ => Ok(()),
    }
}

pub(super) fn apply_error(e: ApplyError) -> ClusterError {
    match e {
        ApplyError::NotFound { kind, id } => {
            ClusterError::NotFound(format!("{kind} {id:?} not found"))
        }
        ApplyError::Conflict(m) => ClusterError::Conflict(m),
        ApplyError::Invalid(m) => ClusterError::BadRequest(m),
        other => ClusterError::Internal(other.to_string()),
    }
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A v4-layout UUID from the clock, the process and a counter (unique
/// enough for tests; not cryptographic).
pub(super) fn uuid_v4(seq: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h1 = std::collections::hash_map::RandomState::new().build_hasher();
    h1.write_u64(seq);
    h1.write_i64(now_nanos());
    let a = h1.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a ^ seq.rotate_left(17));
    let b = h2.finish();
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][(b & 3) as usize],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A ready client node with 4000 MHz, 8 GiB and the `docker`, `exec` and
/// `raw_exec` drivers.
pub fn test_node(id: &str, name: &str, dc: &str) -> Node {
    let mut attributes = BTreeMap::new();
    for (k, v) in [
        ("kernel.name", "linux"),
        ("os.name", "debian"),
        ("cpu.arch", "amd64"),
        ("nomad.version", VERSION),
        ("unique.network.ip-address", "127.0.0.1"),
        ("driver.docker", "1"),
        ("driver.exec", "1"),
        ("driver.raw_exec", "1"),
    ] {
        attributes.insert(k.to_string(), v.to_string());
    }
    let mut drivers = BTreeMap::new();
    for d in ["docker", "exec", "raw_exec"] {
        drivers.insert(
            d.to_string(),
            nomad_types::DriverInfo {
                detected: true,
                healthy: true,
                health_description: "Healthy".into(),
                ..nomad_types::DriverInfo::default()
            },
        );
    }
    let mut resources = nomad_types::NodeResources::default();
    resources.cpu.cpu_shares = 4000;
    resources.memory.memory_mb = 8192;
    resources.disk.disk_mb = 100_000;
    Node {
        id: id.to_string(),
        secret_id: format!("secret-{id}"),
        datacenter: dc.to_string(),
        name: name.to_string(),
        // No HTTP address: the in-memory cluster answers `/v1/client/*`
        // itself instead of forwarding to the node.
        http_addr: String::new(),
        attributes,
        node_resources: Some(resources),
        node_pool: "default".into(),
        status: "ready".into(),
        scheduling_eligibility: "eligible".into(),
        drivers,
        events: vec![NodeEvent {
            message: "Node registered".into(),
            subsystem: "Cluster".into(),
            timestamp: GoTime::from_unix_nanos(now_nanos() / 1_000_000_000 * 1_000_000_000),
            ..NodeEvent::default()
        }],
        ..Node::default()
    }
}
