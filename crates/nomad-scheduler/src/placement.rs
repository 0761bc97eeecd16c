//! Turning a chosen node into an allocation: assigned resources, ports and
//! network, reschedule tracking.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_reconcile::allocs::{last_event_time, reschedule_policy};
use nomad_reconcile::reschedule::{
    next_delay, RescheduleEvent as DelayEvent, RescheduleTracker as DelayTracker,
};
use nomad_types::alloc::{
    AllocatedCpuResources, AllocatedMemoryResources, AllocatedPortMapping, AllocatedResources,
    AllocatedSharedResources, AllocatedTaskResources,
};
use nomad_types::{Allocation, Nanos, NetworkResource, Node, RescheduleEvent, RescheduleTracker};

use crate::context::Ctx;
use crate::ports::PortKind;
use crate::resources::mhz_per_core;
use crate::select::Candidate;
use crate::state::State;

/// `LastReschedule` after a successful replacement.
pub(crate) const LAST_RESCHEDULE_SUCCESS: &str = "ok";
/// `LastReschedule` when no node could take the replacement.
pub(crate) const LAST_RESCHEDULE_FAILED_TO_PLACE: &str = "no placement";
/// Reschedule events kept for policies with unlimited attempts.
pub(crate) const MAX_PAST_RESCHEDULE_EVENTS: usize = 5;

impl<S: State + ?Sized> Ctx<'_, S> {
    /// The resources group `g` gets on the candidate's node. When they do
    /// not depend on the node (no network, reserved cores or devices), every
    /// placement of the group in this evaluation shares one copy.
    pub(crate) fn allocated_resources(
        &mut self,
        g: usize,
        cand: &Candidate,
    ) -> Arc<AllocatedResources> {
        let node_independent = self.groups[g].network.is_none()
            && cand.ports.is_empty()
            && cand.cores.is_empty()
            && cand.devices.is_empty();
        if node_independent {
            if let Some(Some(shared)) = self.shared_resources.get(g) {
                return shared.clone();
            }
        }
        let built = Arc::new(self.build_allocated_resources(g, cand));
        if node_independent {
            if let Some(slot) = self.shared_resources.get_mut(g) {
                *slot = Some(built.clone());
            }
        }
        built
    }

    fn build_allocated_resources(&self, g: usize, cand: &Candidate) -> AllocatedResources {
        let group = &self.groups[g];
        let node = self.table.node(cand.slot);
        let per_core = mhz_per_core(node);
        let oversubscribe = self.config.memory_oversubscription_enabled;
        let mut tasks = BTreeMap::new();
        let mut lifecycles = BTreeMap::new();
        for (i, t) in group.ask.tasks.iter().enumerate() {
            let cores: Vec<u16> = cand
                .cores
                .iter()
                .find(|(ti, _)| *ti == i)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            let cpu_shares = if cores.is_empty() {
                t.cpu
            } else {
                per_core.saturating_mul(cores.len() as i64)
            };
            let memory_max_mb = if oversubscribe && (t.memory_max_mb > 0 || t.memory_max_mb == -1) {
                t.memory_max_mb
            } else {
                0
            };
            tasks.insert(
                t.name.clone(),
                AllocatedTaskResources {
                    cpu: AllocatedCpuResources {
                        cpu_shares,
                        reserved_cores: cores,
                    },
                    memory: AllocatedMemoryResources {
                        memory_mb: t.memory_mb,
                        memory_max_mb,
                    },
                    networks: Vec::new(),
                    devices: cand
                        .devices
                        .iter()
                        .filter(|(ti, _)| *ti == i)
                        .map(|(_, d)| d.clone())
                        .collect(),
                },
            );
            lifecycles.insert(t.name.clone(), t.lifecycle.clone());
        }
        let mut shared = AllocatedSharedResources {
            disk_mb: group.ask.disk_mb,
            ..AllocatedSharedResources::default()
        };
        if let Some(net) = &group.network {
            let ips = self.slots[cand.slot as usize]
                .ports
                .as_ref()
                .and_then(|p| p.as_ref().ok());
            let mut mappings = Vec::with_capacity(cand.ports.len());
            for p in &cand.ports {
                let source = match p.kind {
                    PortKind::Static => net.reserved.get(p.index),
                    PortKind::Dynamic => net.dynamic.get(p.index),
                };
                let Some(source) = source else { continue };
                mappings.push(AllocatedPortMapping {
                    label: source.label.clone(),
                    value: i64::from(p.value),
                    to: p.to,
                    host_ip: ips
                        .and_then(|ports| ports.ip(p.ip))
                        .unwrap_or("")
                        .to_string(),
                    ignore_collision: p.ignore_collision,
                });
            }
            shared.networks = vec![network_resource(&net.resource, &mappings, node)];
            shared.ports = mappings;
        }
        AllocatedResources {
            tasks,
            task_lifecycles: lifecycles,
            shared,
        }
    }
}

/// The group network as assigned: dynamic ports filled in, the node's
/// address set (Nomad's `AllocatedPortsToNetworkResource`).
fn network_resource(
    ask: &NetworkResource,
    ports: &[AllocatedPortMapping],
    node: &Node,
) -> NetworkResource {
    let mut out = ask.clone();
    for port in &mut out.dynamic_ports {
        if let Some(m) = ports.iter().find(|m| m.label == port.label) {
            port.value = m.value;
            port.to = m.to;
        }
    }
    if let Some(res) = &node.node_resources {
        if !res.node_networks.is_empty() {
            if let Some(addr) = res
                .node_networks
                .iter()
                .find(|n| n.mode == "host")
                .and_then(|n| n.addresses.first())
            {
                out.ip = addr.address.clone();
            }
        } else if let Some(n) = res
            .networks
            .iter()
            .rev()
            .find(|n| n.mode == "host" || n.mode.is_empty())
        {
            out.ip = n.ip.clone();
        }
    }
    out
}

/// The delay Nomad records for rescheduling `prev` (its `NextDelay`).
fn prev_next_delay(prev: &Allocation) -> i64 {
    let policy = prev.task_group_spec().and_then(reschedule_policy);
    let events: Option<Vec<DelayEvent>> = prev.reschedule_tracker.as_ref().map(|t| {
        t.events
            .iter()
            .map(|e| DelayEvent {
                reschedule_time: e.reschedule_time,
                delay: e.delay.0,
            })
            .collect()
    });
    let tracker = events.as_deref().map(|ev| DelayTracker {
        events: Some(ev),
        last_reschedule_failed: false,
    });
    next_delay(policy.as_ref(), tracker.as_ref(), last_event_time(prev))
}

/// The reschedule tracker of a replacement for `prev`, placed at `now`:
/// earlier events still inside the policy's interval (or the last five
/// for unlimited policies), plus this one.
pub(crate) fn reschedule_tracker(prev: &Allocation, now: i64) -> RescheduleTracker {
    let policy = prev.task_group_spec().and_then(reschedule_policy);
    let mut events = Vec::new();
    if let Some(t) = &prev.reschedule_tracker {
        let attempts = policy.as_ref().map_or(0, |p| p.attempts);
        if attempts > 0 {
            let interval = policy.as_ref().map_or(0, |p| p.interval);
            events.extend(
                t.events
                    .iter()
                    .filter(|e| interval > 0 && now.saturating_sub(e.reschedule_time) <= interval)
                    .cloned(),
            );
        } else {
            let start = t.events.len().saturating_sub(MAX_PAST_RESCHEDULE_EVENTS);
            events.extend(t.events[start..].iter().cloned());
        }
    }
    events.push(RescheduleEvent {
        reschedule_time: now,
        prev_alloc_id: prev.id.clone(),
        prev_node_id: prev.node_id.clone(),
        delay: Nanos(prev_next_delay(prev)),
    });
    RescheduleTracker {
        events,
        last_reschedule: LAST_RESCHEDULE_SUCCESS.to_string(),
    }
}

/// Nodes a replacement for `prev` should avoid: where it failed, and where
/// earlier attempts ran.
pub(crate) fn penalty_nodes(prev: &Allocation) -> Vec<String> {
    let mut out = Vec::new();
    if prev.client_status == nomad_types::consts::alloc_client_status::FAILED {
        out.push(prev.node_id.clone());
    }
    if let Some(t) = &prev.reschedule_tracker {
        for e in &t.events {
            if !out.contains(&e.prev_node_id) {
                out.push(e.prev_node_id.clone());
            }
        }
    }
    out
}
