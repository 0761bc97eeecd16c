//! Diffs of the nested blocks of groups and tasks.

use std::collections::BTreeMap;

use super::flat::{self, Flat};
use super::nested::{
    artifact_diffs, identity_diff, identity_list_diffs, network_diffs, resources_diff,
    service_diffs, template_diffs,
};
use super::{
    field_diffs, primitive_object_diff, sort_objects, string_set_diff, struct_diff, DiffType,
    ObjectDiff,
};
use crate::group::{TaskGroup, VolumeRequest};
use crate::job::{JobUiConfig, ParameterizedJobConfig, PeriodicConfig};
use crate::policies::{Affinity, Constraint};
use crate::task::{Task, VolumeMount};

/// Diff of two lists compared as sets keyed by `key`: matching keys are
/// diffed field by field, others are added or deleted.
pub(super) fn keyed_set_diff<T>(
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> String,
    flatten: impl Fn(&T) -> Flat,
    name: &str,
    contextual: bool,
) -> Vec<ObjectDiff> {
    let old_map: BTreeMap<String, &T> = old.iter().map(|x| (key(x), x)).collect();
    let new_map: BTreeMap<String, &T> = new.iter().map(|x| (key(x), x)).collect();
    let mut out = Vec::new();
    for (k, o) in &old_map {
        let n = new_map.get(k).map(|n| flatten(n));
        out.extend(primitive_object_diff(Some(flatten(o)), n, name, contextual));
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(primitive_object_diff(
                None,
                Some(flatten(n)),
                name,
                contextual,
            ));
        }
    }
    sort_objects(&mut out);
    out
}

pub(super) fn identity_key<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap_or_default()
}

pub(super) fn constraint_diffs(
    old: &[Constraint],
    new: &[Constraint],
    contextual: bool,
) -> Vec<ObjectDiff> {
    keyed_set_diff(
        old,
        new,
        |c| c.to_string(),
        flat::constraint,
        "Constraint",
        contextual,
    )
}

pub(super) fn affinity_diffs(
    old: &[Affinity],
    new: &[Affinity],
    contextual: bool,
) -> Vec<ObjectDiff> {
    keyed_set_diff(
        old,
        new,
        |a| a.to_string(),
        flat::affinity,
        "Affinity",
        contextual,
    )
}

fn opt_primitive<T>(
    old: Option<&T>,
    new: Option<&T>,
    f: fn(&T) -> Flat,
    name: &str,
    contextual: bool,
) -> Option<ObjectDiff> {
    primitive_object_diff(old.map(f), new.map(f), name, contextual)
}

pub(super) fn group_objects(
    out: &mut Vec<ObjectDiff>,
    o: &TaskGroup,
    n: &TaskGroup,
    contextual: bool,
) {
    out.extend(constraint_diffs(&o.constraints, &n.constraints, contextual));
    out.extend(affinity_diffs(&o.affinities, &n.affinities, contextual));
    out.extend(opt_primitive(
        o.restart_policy.as_ref(),
        n.restart_policy.as_ref(),
        flat::restart,
        "RestartPolicy",
        contextual,
    ));
    out.extend(opt_primitive(
        o.migrate.as_ref(),
        n.migrate.as_ref(),
        flat::migrate,
        "Migrate",
        contextual,
    ));
    out.extend(opt_primitive(
        o.reschedule_policy.as_ref(),
        n.reschedule_policy.as_ref(),
        flat::reschedule,
        "ReschedulePolicy",
        contextual,
    ));
    out.extend(primitive_object_diff(
        o.ephemeral_disk.as_ref().map(|d| {
            let mut f = Flat::new();
            f.insert("Sticky".into(), d.sticky.unwrap_or(false).to_string());
            f.insert("SizeMB".into(), d.size_mb.unwrap_or(0).to_string());
            f.insert("Migrate".into(), d.migrate.unwrap_or(false).to_string());
            f
        }),
        n.ephemeral_disk.as_ref().map(|d| {
            let mut f = Flat::new();
            f.insert("Sticky".into(), d.sticky.unwrap_or(false).to_string());
            f.insert("SizeMB".into(), d.size_mb.unwrap_or(0).to_string());
            f.insert("Migrate".into(), d.migrate.unwrap_or(false).to_string());
            f
        }),
        "EphemeralDisk",
        contextual,
    ));
    out.extend(consul_diff(
        o.consul.as_ref(),
        n.consul.as_ref(),
        contextual,
    ));
    out.extend(opt_primitive(
        o.update.as_ref(),
        n.update.as_ref(),
        flat::update,
        "Update",
        contextual,
    ));
    out.extend(struct_diff(
        "Disconnect",
        o.disconnect.as_ref().map(flat::disconnect),
        n.disconnect.as_ref().map(flat::disconnect),
        o.disconnect == n.disconnect,
        contextual,
    ));
    out.extend(network_diffs(&o.networks, &n.networks, contextual));
    out.extend(scaling_diff(o, n, contextual));
    out.extend(service_diffs(&o.services, &n.services, contextual));
    out.extend(volume_diffs(&o.volumes, &n.volumes, contextual));
}

pub(super) fn task_objects(out: &mut Vec<ObjectDiff>, o: &Task, n: &Task, contextual: bool) {
    out.extend(constraint_diffs(&o.constraints, &n.constraints, contextual));
    out.extend(affinity_diffs(&o.affinities, &n.affinities, contextual));
    if o.config != n.config {
        let diff_type = if o.config.is_empty() {
            DiffType::Added
        } else if n.config.is_empty() {
            DiffType::Deleted
        } else {
            DiffType::Edited
        };
        out.push(ObjectDiff {
            diff_type,
            name: "Config".into(),
            fields: field_diffs(
                Some(&flat::free_form(&o.config)),
                Some(&flat::free_form(&n.config)),
                contextual,
            ),
            objects: Vec::new(),
        });
    }
    out.extend(resources_diff(
        o.resources.as_ref(),
        n.resources.as_ref(),
        contextual,
    ));
    out.extend(primitive_object_diff(
        o.log_config.as_ref().map(log_flat),
        n.log_config.as_ref().map(log_flat),
        "LogConfig",
        contextual,
    ));
    out.extend(primitive_object_diff(
        o.dispatch_payload
            .as_ref()
            .map(|d| Flat::from([("File".to_string(), d.file.clone())])),
        n.dispatch_payload
            .as_ref()
            .map(|d| Flat::from([("File".to_string(), d.file.clone())])),
        "DispatchPayload",
        contextual,
    ));
    out.extend(artifact_diffs(&o.artifacts, &n.artifacts, contextual));
    out.extend(service_diffs(&o.services, &n.services, contextual));
    out.extend(vault_diff(o, n, contextual));
    out.extend(consul_diff(
        o.consul.as_deref(),
        n.consul.as_deref(),
        contextual,
    ));
    out.extend(template_diffs(&o.templates, &n.templates, contextual));
    out.extend(identity_diff(
        o.identity.as_deref(),
        n.identity.as_deref(),
        contextual,
    ));
    out.extend(identity_list_diffs(
        &o.identities,
        &n.identities,
        contextual,
    ));
    out.extend(volume_mount_diffs(
        &o.volume_mounts,
        &n.volume_mounts,
        contextual,
    ));
}

fn log_flat(l: &crate::task::LogConfig) -> Flat {
    let mut f = Flat::new();
    f.insert("MaxFiles".into(), l.max_files.unwrap_or(0).to_string());
    f.insert(
        "MaxFileSizeMB".into(),
        l.max_file_size_mb.unwrap_or(0).to_string(),
    );
    f.insert("Disabled".into(), l.disabled.unwrap_or(false).to_string());
    f
}

fn consul_diff(
    o: Option<&crate::task::Consul>,
    n: Option<&crate::task::Consul>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let f = |c: &crate::task::Consul| {
        Flat::from([
            ("Namespace".to_string(), c.namespace.clone()),
            ("Cluster".to_string(), c.cluster.clone()),
            ("Partition".to_string(), c.partition.clone()),
        ])
    };
    primitive_object_diff(o.map(f), n.map(f), "Consul", contextual)
}

fn vault_diff(o: &Task, n: &Task, contextual: bool) -> Option<ObjectDiff> {
    let f = |v: &crate::task::Vault| {
        Flat::from([
            ("Role".to_string(), v.role.clone()),
            (
                "Namespace".to_string(),
                v.namespace.clone().unwrap_or_default(),
            ),
            ("Cluster".to_string(), v.cluster.clone()),
            ("Env".to_string(), v.env.unwrap_or(false).to_string()),
            (
                "DisableFile".to_string(),
                v.disable_file.unwrap_or(false).to_string(),
            ),
            (
                "ChangeMode".to_string(),
                v.change_mode.clone().unwrap_or_default(),
            ),
            (
                "ChangeSignal".to_string(),
                v.change_signal.clone().unwrap_or_default(),
            ),
            (
                "AllowTokenExpiration".to_string(),
                v.allow_token_expiration.unwrap_or(false).to_string(),
            ),
        ])
    };
    struct_diff(
        "Vault",
        o.vault.as_deref().map(f),
        n.vault.as_deref().map(f),
        o.vault == n.vault,
        contextual,
    )
}

fn scaling_diff(o: &TaskGroup, n: &TaskGroup, contextual: bool) -> Option<ObjectDiff> {
    let f = |s: &crate::group::ScalingPolicy| {
        let mut m = Flat::new();
        m.insert("Min".into(), s.min.unwrap_or(0).to_string());
        m.insert("Max".into(), s.max.unwrap_or(0).to_string());
        m.insert("Enabled".into(), s.enabled.unwrap_or(false).to_string());
        for (k, v) in &s.target {
            if !matches!(k.as_str(), "Job" | "Group" | "Namespace") {
                m.insert(format!("Target[{k}]"), v.clone());
            }
        }
        m
    };
    let (os, ns) = (o.scaling.as_ref(), n.scaling.as_ref());
    let mut diff = struct_diff("Scaling", os.map(f), ns.map(f), os == ns, contextual)?;
    let old_policy = os.map(|s| &s.policy);
    let new_policy = ns.map(|s| &s.policy);
    if old_policy != new_policy {
        let empty = BTreeMap::new();
        let (op, np) = (old_policy.unwrap_or(&empty), new_policy.unwrap_or(&empty));
        let diff_type = if op.is_empty() {
            DiffType::Added
        } else if np.is_empty() {
            DiffType::Deleted
        } else {
            DiffType::Edited
        };
        if op != np {
            diff.objects.push(ObjectDiff {
                diff_type,
                name: "Policy".into(),
                fields: field_diffs(
                    Some(&flat::free_form(op)),
                    Some(&flat::free_form(np)),
                    false,
                ),
                objects: Vec::new(),
            });
        }
    }
    Some(diff)
}

pub(super) fn periodic_diff(
    o: Option<&PeriodicConfig>,
    n: Option<&PeriodicConfig>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "Periodic",
        o.map(flat::periodic),
        n.map(flat::periodic),
        o == n,
        contextual,
    )?;
    let empty = Vec::new();
    let (os, ns) = (
        o.map_or(&empty, |p| &p.specs),
        n.map_or(&empty, |p| &p.specs),
    );
    if let Some(d) = string_set_diff(os, ns, "Specs", contextual) {
        if d.diff_type != DiffType::None {
            diff.objects.push(d);
        }
    }
    Some(diff)
}

pub(super) fn parameterized_diff(
    o: Option<&ParameterizedJobConfig>,
    n: Option<&ParameterizedJobConfig>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let mut diff = struct_diff(
        "ParameterizedJob",
        o.map(flat::parameterized),
        n.map(flat::parameterized),
        o == n,
        contextual,
    )?;
    let empty = Vec::new();
    let optional =
        |p: Option<&ParameterizedJobConfig>| p.map_or(empty.clone(), |p| p.meta_optional.clone());
    let required =
        |p: Option<&ParameterizedJobConfig>| p.map_or(empty.clone(), |p| p.meta_required.clone());
    diff.objects.extend(string_set_diff(
        &optional(o),
        &optional(n),
        "MetaOptional",
        contextual,
    ));
    diff.objects.extend(string_set_diff(
        &required(o),
        &required(n),
        "MetaRequired",
        contextual,
    ));
    Some(diff)
}

pub(super) fn ui_diff(
    o: Option<&JobUiConfig>,
    n: Option<&JobUiConfig>,
    contextual: bool,
) -> Option<ObjectDiff> {
    let f = |u: &JobUiConfig| Flat::from([("Description".to_string(), u.description.clone())]);
    let mut diff = struct_diff("UI", o.map(f), n.map(f), o == n, contextual)?;
    let empty = Vec::new();
    let (ol, nl) = (
        o.map_or(&empty, |u| &u.links),
        n.map_or(&empty, |u| &u.links),
    );
    let link = |l: &crate::job::JobUiLink| {
        Flat::from([
            ("Label".to_string(), l.label.clone()),
            ("Url".to_string(), l.url.clone()),
        ])
    };
    for i in 0..ol.len().max(nl.len()) {
        let (a, b) = (ol.get(i), nl.get(i));
        if a == b {
            continue;
        }
        let diff_type = match (a, b) {
            (Some(_), Some(_)) => DiffType::Edited,
            (Some(_), None) => DiffType::Deleted,
            _ => DiffType::Added,
        };
        let empty_link = crate::job::JobUiLink::default();
        diff.objects.push(ObjectDiff {
            diff_type,
            name: "Link".into(),
            fields: field_diffs(
                Some(&link(a.unwrap_or(&empty_link))),
                Some(&link(b.unwrap_or(&empty_link))),
                contextual,
            ),
            objects: Vec::new(),
        });
    }
    sort_objects(&mut diff.objects);
    Some(diff)
}

fn volume_diffs(
    old: &BTreeMap<String, VolumeRequest>,
    new: &BTreeMap<String, VolumeRequest>,
    contextual: bool,
) -> Vec<ObjectDiff> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let (o, n) = (old.get(name), new.get(name));
        let Some(mut diff) = struct_diff(
            "Volume",
            o.map(flat::volume),
            n.map(flat::volume),
            o == n,
            contextual,
        ) else {
            continue;
        };
        let mo = |v: Option<&VolumeRequest>| v.and_then(|v| v.mount_options.clone());
        let (om, nm) = (mo(o), mo(n));
        if om != nm {
            let f = |m: &crate::group::CsiMountOptions| {
                Flat::from([("FSType".to_string(), m.fs_type.clone())])
            };
            if let Some(mut md) = struct_diff(
                "MountOptions",
                om.as_ref().map(f),
                nm.as_ref().map(f),
                false,
                contextual,
            ) {
                let flags = |m: &Option<crate::group::CsiMountOptions>| {
                    m.as_ref()
                        .map(|m| m.mount_flags.clone())
                        .unwrap_or_default()
                };
                md.objects.extend(string_set_diff(
                    &flags(&om),
                    &flags(&nm),
                    "MountFlags",
                    contextual,
                ));
                diff.objects.push(md);
            }
        }
        out.push(diff);
    }
    out
}

fn volume_mount_diffs(
    old: &[VolumeMount],
    new: &[VolumeMount],
    contextual: bool,
) -> Vec<ObjectDiff> {
    let mut out = Vec::new();
    for i in 0..old.len().max(new.len()) {
        let (o, n) = (old.get(i), new.get(i));
        out.extend(struct_diff(
            "VolumeMount",
            o.map(flat::volume_mount),
            n.map(flat::volume_mount),
            o == n,
            contextual,
        ));
    }
    sort_objects(&mut out);
    out
}
