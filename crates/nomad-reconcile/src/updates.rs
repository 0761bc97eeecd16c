//! Which job changes force an allocation to be replaced (a destructive
//! update) rather than updated where it runs (in place).
//!
//! Nomad replaces allocations when a change cannot be applied to running
//! tasks: the set of tasks, their driver, user, driver config, environment,
//! artifacts, templates, Vault / Consul / secrets settings, identities,
//! combined metadata, resources, networks and ports, volumes and mounts,
//! the ephemeral disk, Connect plumbing, turning log collection on or off,
//! and `restart.render_templates`. Everything else (count, services and
//! checks other than Connect, constraints, restart and reschedule policies,
//! kill timeouts, shutdown delays, update blocks, …) is applied in place.
//! Task lifecycle changes are, as in Nomad, not destructive by themselves.

use std::collections::BTreeMap;

use nomad_types::task::Task;
use nomad_types::{Allocation, EphemeralDisk, Job, NetworkResource, Resources, TaskGroup};
use serde_json::Value;

use crate::allocs::job_modify_index;
use crate::types::UpdateDecision;

/// Whether moving `task_group` from `old_job` to `new_job` needs a
/// destructive update. A group missing from either job counts as changed.
pub fn tasks_updated(old_job: &Job, new_job: &Job, task_group: &str) -> bool {
    tasks_updated_reason(old_job, new_job, task_group).is_some()
}

/// Like [`tasks_updated`], naming the first destructive difference found.
pub fn tasks_updated_reason(
    old_job: &Job,
    new_job: &Job,
    task_group: &str,
) -> Option<&'static str> {
    let (Some(a), Some(b)) = (
        old_job.lookup_task_group(task_group),
        new_job.lookup_task_group(task_group),
    ) else {
        return Some("task group");
    };
    if a.tasks.len() != b.tasks.len() {
        return Some("number of tasks");
    }
    let disk = |d: &Option<EphemeralDisk>| {
        let d = d.clone().unwrap_or_else(EphemeralDisk::default_disk);
        (
            d.sticky.unwrap_or(false),
            d.migrate.unwrap_or(false),
            d.size_mb
                .unwrap_or(nomad_types::group::DEFAULT_EPHEMERAL_DISK_MB),
        )
    };
    if disk(&a.ephemeral_disk) != disk(&b.ephemeral_disk) {
        return Some("ephemeral disk");
    }
    if let Some(r) = networks_updated(&a.networks, &b.networks) {
        return Some(r);
    }
    if let Some(r) = consul_updated(a.consul.as_ref(), b.consul.as_ref()) {
        return Some(r);
    }
    if let Some(r) = connect_services_updated(a, b) {
        return Some(r);
    }
    if a.volumes != b.volumes {
        return Some("volume request");
    }
    let group_render = |g: &TaskGroup| {
        g.restart_policy
            .as_ref()
            .and_then(|r| r.render_templates)
            .unwrap_or(false)
    };
    if group_render(a) != group_render(b) {
        return Some("group restart render_templates");
    }
    for at in &a.tasks {
        let Some(bt) = b.lookup_task(&at.name) else {
            return Some("task deleted");
        };
        if let Some(r) = task_updated(old_job, new_job, task_group, at, bt) {
            return Some(r);
        }
    }
    None
}

fn task_updated(
    old_job: &Job,
    new_job: &Job,
    group: &str,
    at: &Task,
    bt: &Task,
) -> Option<&'static str> {
    if at.driver != bt.driver {
        return Some("task driver");
    }
    if at.user != bt.user {
        return Some("task user");
    }
    if at.config != bt.config {
        return Some("task config");
    }
    if at.env != bt.env {
        return Some("task env");
    }
    if at.artifacts != bt.artifacts {
        return Some("task artifacts");
    }
    if at.vault != bt.vault {
        return Some("task vault");
    }
    if at.secrets != bt.secrets {
        return Some("task secrets");
    }
    if let Some(r) = consul_updated(at.consul.as_deref(), bt.consul.as_deref()) {
        return Some(r);
    }
    if at.templates != bt.templates {
        return Some("task templates");
    }
    if at.csi_plugin_config != bt.csi_plugin_config {
        return Some("task csi config");
    }
    if at.volume_mounts != bt.volume_mounts {
        return Some("task volume mount");
    }
    if combined_meta(old_job, group, at) != combined_meta(new_job, group, bt) {
        return Some("task meta");
    }
    let empty = Resources::default();
    let ra = at.resources.as_ref().unwrap_or(&empty);
    let rb = bt.resources.as_ref().unwrap_or(&empty);
    if let Some(r) = networks_updated(&ra.networks, &rb.networks) {
        return Some(r);
    }
    if let Some(r) = resources_updated(ra, rb) {
        return Some(r);
    }
    if at.identity != bt.identity || at.identities != bt.identities {
        return Some("task identity");
    }
    let log_disabled = |t: &Task| {
        t.log_config
            .as_ref()
            .and_then(|l| l.disabled)
            .unwrap_or(false)
    };
    if log_disabled(at) != log_disabled(bt) {
        return Some("task log disabled");
    }
    let render = |t: &Task| {
        t.restart_policy
            .as_ref()
            .and_then(|r| r.render_templates)
            .unwrap_or(false)
    };
    if render(at) != render(bt) {
        return Some("task restart render_templates");
    }
    None
}

/// Task metadata merged over group and job metadata (task wins).
fn combined_meta<'a>(job: &'a Job, group: &str, task: &'a Task) -> BTreeMap<&'a str, &'a str> {
    let mut out: BTreeMap<&str, &str> = BTreeMap::new();
    let layers = [
        Some(&task.meta),
        job.lookup_task_group(group).map(|g| &g.meta),
        Some(&job.meta),
    ];
    for layer in layers.into_iter().flatten() {
        for (k, v) in layer {
            out.entry(k.as_str()).or_insert(v.as_str());
        }
    }
    out
}

fn resources_updated(a: &Resources, b: &Resources) -> Option<&'static str> {
    let cpu = |r: &Resources| {
        r.cpu.unwrap_or(if r.cores.unwrap_or(0) > 0 {
            0
        } else {
            nomad_types::resources::DEFAULT_CPU
        })
    };
    if cpu(a) != cpu(b) {
        return Some("task cpu");
    }
    if a.cores.unwrap_or(0) != b.cores.unwrap_or(0) {
        return Some("task cores");
    }
    let mem = |r: &Resources| {
        r.memory_mb
            .unwrap_or(nomad_types::resources::DEFAULT_MEMORY_MB)
    };
    if mem(a) != mem(b) {
        return Some("task memory");
    }
    if a.memory_max_mb.unwrap_or(0) != b.memory_max_mb.unwrap_or(0) {
        return Some("task memory max");
    }
    let devices_equal = a.devices.len() == b.devices.len()
        && b.devices.iter().all(|d| {
            a.devices
                .iter()
                .find(|x| x.name == d.name)
                .is_some_and(|x| x == d)
        });
    if !devices_equal {
        return Some("task devices");
    }
    if a.numa != b.numa {
        return Some("numa");
    }
    if a.secrets_mb.unwrap_or(0) != b.secrets_mb.unwrap_or(0) {
        return Some("task secrets");
    }
    None
}

fn consul_updated(
    a: Option<&nomad_types::task::Consul>,
    b: Option<&nomad_types::task::Consul>,
) -> Option<&'static str> {
    let ns_a = a.map_or("", |c| c.namespace.as_str());
    let ns_b = b.map_or("", |c| c.namespace.as_str());
    if ns_a != ns_b {
        return Some("consul namespace");
    }
    if let (Some(a), Some(b)) = (a, b) {
        if a.cluster != b.cluster {
            return Some("consul cluster");
        }
        if a.partition != b.partition {
            return Some("consul partition");
        }
    }
    None
}

/// A port as it matters for placement: dynamic port values are ignored.
type PortKey<'a> = (&'a str, i64, i64, &'a str);

fn port_map(n: &NetworkResource) -> Vec<PortKey<'_>> {
    let reserved = n
        .reserved_ports
        .iter()
        .map(|p| (p.label.as_str(), p.value, p.to, p.host_network.as_str()));
    let dynamic = n
        .dynamic_ports
        .iter()
        .map(|p| (p.label.as_str(), -1, p.to, p.host_network.as_str()));
    reserved.chain(dynamic).collect()
}

fn networks_updated(a: &[NetworkResource], b: &[NetworkResource]) -> Option<&'static str> {
    if a.len() != b.len() {
        return Some("network lengths");
    }
    for (an, bn) in a.iter().zip(b) {
        if an.mode != bn.mode {
            return Some("network mode");
        }
        if an.mbits.unwrap_or(0) != bn.mbits.unwrap_or(0) {
            return Some("network mbits");
        }
        if an.hostname != bn.hostname {
            return Some("network hostname");
        }
        if an.dns != bn.dns {
            return Some("network dns");
        }
        if an.cni != bn.cni {
            return Some("network cni");
        }
        if port_map(an) != port_map(bn) {
            return Some("network port map");
        }
    }
    None
}

/// A key of a JSON object, matched ignoring ASCII case.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A JSON value with `null` read as absent.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn connect_updated(a: Option<&Value>, b: Option<&Value>) -> Option<&'static str> {
    let (a, b) = match (present(a), present(b)) {
        (None, None) => return None,
        (None, Some(_)) => return Some("connect added"),
        (Some(_), None) => return Some("connect removed"),
        (Some(a), Some(b)) => (a, b),
    };
    let flag = |v: &Value| present(field(v, "Native")).and_then(Value::as_bool) == Some(true);
    if flag(a) != flag(b) {
        return Some("connect native");
    }
    if present(field(a, "Gateway")) != present(field(b, "Gateway")) {
        return Some("connect gateway");
    }
    if present(field(a, "SidecarTask")) != present(field(b, "SidecarTask")) {
        return Some("connect sidecar task");
    }
    match (
        present(field(a, "SidecarService")),
        present(field(b, "SidecarService")),
    ) {
        (None, None) => None,
        (None, Some(_)) => Some("connect service add"),
        (Some(_), None) => Some("connect service delete"),
        (Some(sa), Some(sb)) => {
            let port = |v: &Value| present(field(v, "Port")).cloned();
            (port(sa) != port(sb)).then_some("connect port")
        }
    }
}

fn connect_services_updated(a: &TaskGroup, b: &TaskGroup) -> Option<&'static str> {
    for sa in a
        .services
        .iter()
        .filter(|s| present(s.connect.as_ref()).is_some())
    {
        let Some(sb) = b.services.iter().find(|s| s.name == sa.name) else {
            continue;
        };
        if let Some(r) = connect_updated(sa.connect.as_ref(), sb.connect.as_ref()) {
            return Some(r);
        }
        if sa.port_label != sb.port_label {
            return Some("connect service port label");
        }
        if sa.cluster != sb.cluster {
            return Some("connect service cluster");
        }
    }
    None
}

/// The node-independent part of Nomad's update decision, for update
/// oracles to build on: `Some(Ignore)` when the allocation already runs
/// this job spec (same job modify index) or is terminal and nothing
/// destructive changed; `Some(Destructive)` when [`tasks_updated`] says so
/// (or the allocation has no job snapshot); `None` when an in-place update
/// is possible and the caller must check that the node still fits.
pub fn precheck_update(
    existing: &Allocation,
    new_job: &Job,
    group: &TaskGroup,
) -> Option<UpdateDecision> {
    let Some(old_job) = existing.job.as_deref() else {
        return Some(UpdateDecision::Destructive);
    };
    if job_modify_index(existing) == new_job.job_modify_index.unwrap_or(0) {
        return Some(UpdateDecision::Ignore);
    }
    if tasks_updated(old_job, new_job, group.name()) {
        return Some(UpdateDecision::Destructive);
    }
    if existing.terminal_status() {
        return Some(UpdateDecision::Ignore);
    }
    None
}

#[cfg(test)]
#[path = "updates_tests.rs"]
mod tests;
