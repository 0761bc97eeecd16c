//! Diffs of networks, resources, services, templates, artifacts and
//! identities.

use std::collections::BTreeMap;

use super::flat::{self, Flat};
use super::objects::{identity_key, keyed_set_diff};
use super::{
    field_diffs, primitive_object_diff, sort_objects, string_set_diff, struct_diff, DiffType,
    ObjectDiff,
};
use crate::resources::{DnsConfig, NetworkResource, Port, RequestedDevice, Resources};
use crate::services::{Service, ServiceCheck};
use crate::task::{TaskArtifact, Template, WorkloadIdentity};

fn network_diff(
    o: Option<&NetworkResource>,
    n: Option<&NetworkResource>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Network",
        o.map(flat::network),
        n.map(flat::network),
        o == n,
        contextual,
    )?;
    let empty = NetworkResource::default();
    let (on, nn) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
    diff.objects.extend(port_diffs(
        &on.reserved_ports,
        &nn.reserved_ports,
        false,
        contextual,
    ));
    diff.objects.extend(port_diffs(
        &on.dynamic_ports,
        &nn.dynamic_ports,
        true,
        contextual,
    ));
    diff.objects
        .extend(dns_diff(on.dns.as_ref(), nn.dns.as_ref(), contextual));
    let cni = |n: &NetworkResource| n.cni.as_ref().map(|c| c.args.clone()).unwrap_or_default();
    let (oa, na) = (cni(on), cni(nn));
    if oa != na {
        diff.objects.extend(primitive_object_diff(
            Some(oa),
            Some(na),
            "CNIConfig",
            contextual,
        ));
    }
    Some(diff)
}

pub(super) fn network_diffs(
    old: &[NetworkResource],
    new: &[NetworkResource],
    contextual: bool,
) -> Vec<ObjectDiff> {
    let old_map: BTreeMap<String, &NetworkResource> =
        old.iter().map(|x| (identity_key(x), x)).collect();
    let new_map: BTreeMap<String, &NetworkResource> =
        new.iter().map(|x| (identity_key(x), x)).collect();
    let mut out = Vec::new();
    for (k, o) in &old_map {
        if !new_map.contains_key(k) {
            out.extend(network_diff(Some(o), None, contextual));
        }
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(network_diff(None, Some(n), contextual));
        }
    }
    sort_objects(&mut out);
    out
}

fn port_diffs(old: &[Port], new: &[Port], dynamic: bool, contextual: bool) -> Vec<ObjectDiff> {
    let name = if dynamic {
        "Dynamic Port"
    } else {
        "Static Port"
    };
    keyed_set_diff(
        old,
        new,
        |p| p.label.clone(),
        |p| flat::port(p, dynamic),
        name,
        contextual,
    )
}

fn dns_diff(o: Option<&DnsConfig>, n: Option<&DnsConfig>, contextual: bool) -> Option<ObjectDiff> {
    let f = |d: &DnsConfig| {
        let mut m = Flat::new();
        for (k, v) in [
            ("Servers", &d.servers),
            ("Searches", &d.searches),
            ("Options", &d.options),
        ] {
            if !v.is_empty() {
                m.insert(k.to_string(), v.join(","));
            }
        }
        m
    };
    struct_diff("DNS", o.map(f), n.map(f), o == n, contextual)
}

pub(super) fn resources_diff(
    o: Option<&Resources>,
    n: Option<&Resources>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Resources",
        o.map(flat::resources),
        n.map(flat::resources),
        o == n,
        contextual,
    )?;
    let empty = Resources::default();
    let (or, nr) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
    diff.objects
        .extend(network_diffs(&or.networks, &nr.networks, contextual));
    diff.objects
        .extend(device_diffs(&or.devices, &nr.devices, contextual));
    if or.numa != nr.numa {
        let f = |x: &crate::resources::NumaResource| {
            Flat::from([("Affinity".to_string(), x.affinity.clone())])
        };
        diff.objects.extend(struct_diff(
            "NUMA",
            or.numa.as_ref().map(f),
            nr.numa.as_ref().map(f),
            false,
            contextual,
        ));
    }
    Some(diff)
}

fn device_diffs(
    old: &[RequestedDevice],
    new: &[RequestedDevice],
    contextual: bool,
) -> Vec<ObjectDiff> {
    let old_map: BTreeMap<&str, &RequestedDevice> =
        old.iter().map(|d| (d.name.as_str(), d)).collect();
    let new_map: BTreeMap<&str, &RequestedDevice> =
        new.iter().map(|d| (d.name.as_str(), d)).collect();
    let mut out = Vec::new();
    for (k, o) in &old_map {
        let n = new_map.get(k).copied();
        out.extend(struct_diff(
            "Device",
            Some(flat::device(o)),
            n.map(flat::device),
            Some(*o) == n,
            contextual,
        ));
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(struct_diff(
                "Device",
                None,
                Some(flat::device(n)),
                false,
                contextual,
            ));
        }
    }
    sort_objects(&mut out);
    out
}

fn service_diff(o: Option<&Service>, n: Option<&Service>, contextual: bool) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Service",
        o.map(flat::service),
        n.map(flat::service),
        o == n,
        contextual,
    )?;
    let empty = Service::default();
    let (os, ns) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
    diff.objects.extend(string_set_diff(
        &os.canary_tags,
        &ns.canary_tags,
        "CanaryTags",
        contextual,
    ));
    diff.objects
        .extend(string_set_diff(&os.tags, &ns.tags, "Tags", contextual));
    diff.objects
        .extend(check_diffs(&os.checks, &ns.checks, contextual));
    if os.connect != ns.connect {
        diff.objects.push(ObjectDiff {
            diff_type: match (&os.connect, &ns.connect) {
                (None, _) => DiffType::Added,
                (_, None) => DiffType::Deleted,
                _ => DiffType::Edited,
            },
            name: "ConsulConnect".into(),
            fields: Vec::new(),
            objects: Vec::new(),
        });
    }
    diff.objects.extend(identity_diff(
        os.identity.as_ref(),
        ns.identity.as_ref(),
        contextual,
    ));
    if os.weights != ns.weights {
        let f = |w: &crate::services::ServiceWeights| {
            let mut m = Flat::new();
            if w.passing > 0 {
                m.insert("Passing".into(), w.passing.to_string());
            }
            if w.warning > 0 {
                m.insert("Warning".into(), w.warning.to_string());
            }
            m
        };
        diff.objects.extend(struct_diff(
            "Weights",
            os.weights.as_ref().map(f),
            ns.weights.as_ref().map(f),
            false,
            contextual,
        ));
    }
    Some(diff)
}

/// Pairs services the way Nomad does: by name (3 points), port label (2)
/// and position (1); a pair needs more than 2 points.
pub(super) fn service_diffs(old: &[Service], new: &[Service], contextual: bool) -> Vec<ObjectDiff> {
    if let ([o], [n]) = (old, new) {
        return service_diff(Some(o), Some(n), contextual)
            .into_iter()
            .collect();
    }
    let mut new_matched = vec![false; new.len()];
    let mut out = Vec::new();
    for (oi, o) in old.iter().enumerate() {
        let mut best: Option<(usize, u32)> = None;
        for (ni, n) in new.iter().enumerate() {
            if new_matched[ni] {
                continue;
            }
            let score = u32::from(oi == ni)
                + 2 * u32::from(o.port_label == n.port_label)
                + 3 * u32::from(o.name == n.name);
            if score > 2 && best.is_none_or(|(_, s)| score > s) {
                best = Some((ni, score));
            }
        }
        match best {
            Some((ni, _)) => {
                new_matched[ni] = true;
                out.extend(service_diff(Some(o), Some(&new[ni]), contextual));
            }
            None => out.extend(service_diff(Some(o), None, contextual)),
        }
    }
    for (ni, n) in new.iter().enumerate() {
        if !new_matched[ni] {
            out.extend(service_diff(None, Some(n), contextual));
        }
    }
    sort_objects(&mut out);
    out
}

fn check_diffs(old: &[ServiceCheck], new: &[ServiceCheck], contextual: bool) -> Vec<ObjectDiff> {
    let old_map: BTreeMap<&str, &ServiceCheck> = old.iter().map(|c| (c.name.as_str(), c)).collect();
    let new_map: BTreeMap<&str, &ServiceCheck> = new.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut out = Vec::new();
    for (k, o) in &old_map {
        out.extend(check_diff(Some(o), new_map.get(k).copied(), contextual));
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(check_diff(None, Some(n), contextual));
        }
    }
    sort_objects(&mut out);
    out
}

fn check_diff(
    o: Option<&ServiceCheck>,
    n: Option<&ServiceCheck>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Check",
        o.map(flat::check),
        n.map(flat::check),
        o == n,
        contextual,
    )?;
    let empty = ServiceCheck::default();
    let (oc, nc) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
    if oc.header != nc.header {
        let diff_type = if oc.header.is_empty() {
            DiffType::Added
        } else if nc.header.is_empty() {
            DiffType::Deleted
        } else {
            DiffType::Edited
        };
        diff.objects.push(ObjectDiff {
            diff_type,
            name: "Header".into(),
            fields: field_diffs(
                Some(&flat::header(&oc.header)),
                Some(&flat::header(&nc.header)),
                contextual,
            ),
            objects: Vec::new(),
        });
    }
    diff.objects.extend(struct_diff(
        "CheckRestart",
        oc.check_restart.as_ref().map(flat::check_restart),
        nc.check_restart.as_ref().map(flat::check_restart),
        oc.check_restart == nc.check_restart,
        contextual,
    ));
    Some(diff)
}

fn template_diff(
    o: Option<&Template>,
    n: Option<&Template>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Template",
        o.map(flat::template),
        n.map(flat::template),
        o == n,
        contextual,
    )?;
    let empty = Template::default();
    let (ot, nt) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
    if ot.wait != nt.wait {
        // Nomad names the wait block "Template" too.
        let f = |w: &crate::task::WaitConfig| {
            let show = |d: Option<crate::duration::Nanos>| {
                d.map_or("nil".to_string(), |d| d.0.to_string())
            };
            Flat::from([
                ("Min".to_string(), show(w.min)),
                ("Max".to_string(), show(w.max)),
            ])
        };
        diff.objects.extend(struct_diff(
            "Template",
            ot.wait.as_ref().map(f),
            nt.wait.as_ref().map(f),
            false,
            contextual,
        ));
    }
    if ot.change_script != nt.change_script {
        if let Some(mut cs) = struct_diff(
            "ChangeScript",
            ot.change_script.as_ref().map(flat::change_script),
            nt.change_script.as_ref().map(flat::change_script),
            false,
            contextual,
        ) {
            let args = |t: &Template| {
                t.change_script
                    .as_ref()
                    .map(|c| c.args.clone())
                    .unwrap_or_default()
            };
            cs.objects
                .extend(string_set_diff(&args(ot), &args(nt), "Args", contextual));
            diff.objects.push(cs);
        }
    }
    Some(diff)
}

/// Templates are paired by destination, like Nomad.
pub(super) fn template_diffs(
    old: &[Template],
    new: &[Template],
    contextual: bool,
) -> Vec<ObjectDiff> {
    if let ([o], [n]) = (old, new) {
        return template_diff(Some(o), Some(n), contextual)
            .into_iter()
            .collect();
    }
    let dest = |t: &Template| t.dest_path.clone().unwrap_or_default();
    let mut new_matched = vec![false; new.len()];
    let mut out = Vec::new();
    for o in old {
        let found = new
            .iter()
            .enumerate()
            .find(|(i, n)| !new_matched[*i] && dest(n) == dest(o))
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                new_matched[i] = true;
                out.extend(template_diff(Some(o), Some(&new[i]), contextual));
            }
            None => out.extend(template_diff(Some(o), None, contextual)),
        }
    }
    for (i, n) in new.iter().enumerate() {
        if !new_matched[i] {
            out.extend(template_diff(None, Some(n), contextual));
        }
    }
    sort_objects(&mut out);
    out
}

/// Artifacts are keyed by destination (or by content when it is empty).
pub(super) fn artifact_diffs(
    old: &[TaskArtifact],
    new: &[TaskArtifact],
    contextual: bool,
) -> Vec<ObjectDiff> {
    let key = |a: &TaskArtifact| match a.relative_dest.as_deref() {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => identity_key(a),
    };
    keyed_set_diff(old, new, key, flat::artifact, "Artifact", contextual)
}

pub(super) fn identity_diff(
    o: Option<&WorkloadIdentity>,
    n: Option<&WorkloadIdentity>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Identity",
        o.map(flat::identity),
        n.map(flat::identity),
        o == n,
        contextual,
    )?;
    let empty = Vec::new();
    let (oa, na) = (
        o.map_or(&empty, |w| &w.audience),
        n.map_or(&empty, |w| &w.audience),
    );
    diff.objects
        .extend(string_set_diff(oa, na, "Audience", contextual));
    Some(diff)
}

pub(super) fn identity_list_diffs(
    old: &[WorkloadIdentity],
    new: &[WorkloadIdentity],
    contextual: bool,
) -> Vec<ObjectDiff> {
    let old_map: BTreeMap<&str, &WorkloadIdentity> =
        old.iter().map(|w| (w.name.as_str(), w)).collect();
    let new_map: BTreeMap<&str, &WorkloadIdentity> =
        new.iter().map(|w| (w.name.as_str(), w)).collect();
    let mut out = Vec::new();
    for (k, o) in &old_map {
        out.extend(identity_diff(Some(o), new_map.get(k).copied(), contextual));
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(identity_diff(None, Some(n), contextual));
        }
    }
    sort_objects(&mut out);
    out
}
