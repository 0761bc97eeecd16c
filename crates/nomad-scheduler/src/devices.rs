//! Devices (GPUs and the like): whether a node has what a group asks for,
//! and which instances an allocation gets.
//!
//! A request names `type`, `vendor/type` or `vendor/type/name`, a count
//! (default 1), constraints and affinities on `${device.model}`,
//! `${device.vendor}`, `${device.type}`, `${device.ids}` and
//! `${device.attr.<name>}`. Attribute values are compared in their string
//! form (units are not converted). Only healthy instances count.

use nomad_types::alloc::AllocatedDeviceResource;
use nomad_types::node::{DeviceAttribute, NodeDeviceResource};
use nomad_types::{Allocation, Node};

use crate::constraint::{check, CompiledConstraint, ConstraintCache, Operator};
use crate::feasible::DeviceAsk;
use crate::target::Target;

/// Whether the request's name matches a device group.
fn id_matches(request: &str, d: &NodeDeviceResource) -> bool {
    let parts: Vec<&str> = request.split('/').collect();
    match parts.as_slice() {
        [t] => *t == d.device_type,
        [v, t] => *v == d.vendor && *t == d.device_type,
        [v, t, n] => *v == d.vendor && *t == d.device_type && *n == d.name,
        _ => false,
    }
}

fn attr_string(a: &DeviceAttribute) -> String {
    if let Some(s) = &a.string {
        s.clone()
    } else if let Some(i) = a.int {
        i.to_string()
    } else if let Some(f) = a.float {
        f.to_string()
    } else if let Some(b) = a.bool {
        b.to_string()
    } else {
        String::new()
    }
}

/// Resolves a device target (`${device.…}` or a literal).
fn resolve(target: &Target, raw: &str, d: &NodeDeviceResource) -> Option<String> {
    if let Some(lit) = target.as_literal() {
        return Some(lit.to_string());
    }
    match raw {
        "${device.model}" => Some(d.name.clone()),
        "${device.vendor}" => Some(d.vendor.clone()),
        "${device.type}" => Some(d.device_type.clone()),
        "${device.ids}" => Some(
            d.instances
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => raw
            .strip_prefix("${device.attr.")
            .map(|k| k.strip_suffix('}').unwrap_or(k))
            .and_then(|k| d.attributes.get(k))
            .map(attr_string),
    }
}

fn holds(
    c: &CompiledConstraint,
    raw_l: &str,
    raw_r: &str,
    d: &NodeDeviceResource,
    cache: &mut ConstraintCache,
) -> bool {
    let Some(op) = c.operator() else {
        return false;
    };
    if matches!(op, Operator::DistinctHosts | Operator::DistinctProperty) {
        return true;
    }
    let l = resolve(c.ltarget(), raw_l, d);
    let r = resolve(c.rtarget(), raw_r, d);
    check(op, l.as_deref(), r.as_deref(), cache)
}

fn matches(ask: &DeviceAsk, d: &NodeDeviceResource, cache: &mut ConstraintCache) -> bool {
    id_matches(&ask.request.name, d)
        && ask
            .constraints
            .iter()
            .zip(&ask.request.constraints)
            .all(|(c, raw)| holds(c, &raw.l_target, &raw.r_target, d, cache))
}

fn wanted(ask: &DeviceAsk) -> usize {
    usize::try_from(ask.request.count.unwrap_or(1)).unwrap_or(usize::MAX)
}

/// Whether the node has enough healthy matching devices for every request
/// (ignoring what other allocations use: Nomad's feasibility check).
pub(crate) fn has_devices(node: &Node, asks: &[DeviceAsk], cache: &mut ConstraintCache) -> bool {
    if asks.is_empty() {
        return true;
    }
    let Some(res) = &node.node_resources else {
        return false;
    };
    let mut free: Vec<usize> = res
        .devices
        .iter()
        .map(|d| d.instances.iter().filter(|i| i.healthy).count())
        .collect();
    asks.iter().all(|ask| {
        let mut need = wanted(ask);
        for (d, left) in res.devices.iter().zip(free.iter_mut()) {
            if need == 0 {
                break;
            }
            if *left > 0 && matches(ask, d, cache) {
                let take = need.min(*left);
                *left -= take;
                need -= take;
            }
        }
        need == 0
    })
}

/// Device instance IDs held by allocations on a node.
pub(crate) fn used_ids<'a, I: IntoIterator<Item = &'a Allocation>>(allocs: I) -> Vec<String> {
    let mut out = Vec::new();
    for a in allocs {
        if let Some(ar) = &a.allocated_resources {
            for t in ar.tasks.values() {
                for d in &t.devices {
                    out.extend(d.device_ids.iter().cloned());
                }
            }
        }
    }
    out
}

/// Picks instances for every request, preferring the device group with the
/// best affinity score. Returns the offers per task index and the device
/// affinity score (`None` when no request has affinities), or the reason
/// the node cannot hold them.
#[allow(clippy::type_complexity)]
pub(crate) fn assign(
    node: &Node,
    asks: &[DeviceAsk],
    used: &[String],
    cache: &mut ConstraintCache,
) -> Result<(Vec<(usize, AllocatedDeviceResource)>, Option<f64>), String> {
    let Some(res) = &node.node_resources else {
        return Err("no devices available".to_string());
    };
    let mut taken: Vec<String> = used.to_vec();
    let mut offers = Vec::new();
    let (mut matched_weight, mut total_weight) = (0.0f64, 0.0f64);
    for ask in asks {
        let need = wanted(ask);
        let mut best: Option<(usize, f64)> = None;
        for (i, d) in res.devices.iter().enumerate() {
            if !matches(ask, d, cache) {
                continue;
            }
            let free = d
                .instances
                .iter()
                .filter(|inst| inst.healthy && !taken.contains(&inst.id))
                .count();
            if free < need {
                continue;
            }
            let mut score = 0.0;
            for a in &ask.request.affinities {
                let c = CompiledConstraint::new(&a.l_target, &a.operand, &a.r_target);
                if holds(&c, &a.l_target, &a.r_target, d, cache) {
                    score += f64::from(a.weight.unwrap_or(nomad_types::DEFAULT_WEIGHT));
                }
            }
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        let Some((i, score)) = best else {
            return Err(format!("no devices match request {:?}", ask.request.name));
        };
        for a in &ask.request.affinities {
            total_weight += f64::from(a.weight.unwrap_or(nomad_types::DEFAULT_WEIGHT)).abs();
        }
        matched_weight += score;
        let d = &res.devices[i];
        let ids: Vec<String> = d
            .instances
            .iter()
            .filter(|inst| inst.healthy && !taken.contains(&inst.id))
            .take(need)
            .map(|inst| inst.id.clone())
            .collect();
        taken.extend(ids.iter().cloned());
        offers.push((
            ask.task,
            AllocatedDeviceResource {
                vendor: d.vendor.clone(),
                device_type: d.device_type.clone(),
                name: d.name.clone(),
                device_ids: ids,
            },
        ));
    }
    Ok((
        offers,
        crate::score::affinity::device_affinity_score(matched_weight, total_weight),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::node::{NodeDevice, NodeResources};
    use nomad_types::RequestedDevice;

    fn gpu_node(healthy: usize) -> Node {
        let instances = (0..healthy)
            .map(|i| NodeDevice {
                id: format!("gpu-{i}"),
                healthy: true,
                ..NodeDevice::default()
            })
            .collect();
        Node {
            node_resources: Some(NodeResources {
                devices: vec![NodeDeviceResource {
                    vendor: "nvidia".into(),
                    device_type: "gpu".into(),
                    name: "t4".into(),
                    instances,
                    ..NodeDeviceResource::default()
                }],
                ..NodeResources::default()
            }),
            ..Node::default()
        }
    }

    fn ask(name: &str, count: u64) -> DeviceAsk {
        DeviceAsk {
            task: 0,
            request: RequestedDevice {
                name: name.into(),
                count: Some(count),
                ..RequestedDevice::default()
            },
            constraints: Vec::new(),
        }
    }

    #[test]
    fn feasibility_counts_healthy_matches() {
        let mut cache = ConstraintCache::new();
        let node = gpu_node(2);
        assert!(has_devices(&node, &[ask("gpu", 2)], &mut cache));
        assert!(has_devices(&node, &[ask("nvidia/gpu/t4", 1)], &mut cache));
        assert!(!has_devices(&node, &[ask("gpu", 3)], &mut cache));
        assert!(!has_devices(&node, &[ask("amd/gpu", 1)], &mut cache));
        assert!(!has_devices(&Node::default(), &[ask("gpu", 1)], &mut cache));
    }

    #[test]
    fn assignment_skips_used_instances() {
        let mut cache = ConstraintCache::new();
        let node = gpu_node(3);
        let (offers, score) =
            assign(&node, &[ask("gpu", 2)], &["gpu-0".into()], &mut cache).unwrap();
        assert_eq!(offers[0].1.device_ids, vec!["gpu-1", "gpu-2"]);
        assert_eq!(score, None);
        assert!(assign(&node, &[ask("gpu", 3)], &["gpu-0".into()], &mut cache).is_err());
    }
}
