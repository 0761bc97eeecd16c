//! `group` and the blocks only groups (and task resources) hold: `network`,
//! `volume`, `ephemeral_disk`, `disconnect`, `scaling`, `consul`.

use nomad_hcl::Block;
use serde_json::Value;

use super::placement::{AFFINITY, CONSTRAINT, MIGRATE, RESCHEDULE, RESTART, SPREAD, UPDATE};
use super::schema::{
    attr, by_label, custom, describe, many, one, schema, schema_post, Ctx, Field, Item, Obj, Schema,
};
use super::services::SERVICE;
use super::task::{propagate, stash, SECRET, TASK, VAULT};
use super::value::Kind::{Bool, Dur, Int, Map, MapAttr, Str, StrList};

static PORT: Schema = schema(
    "port",
    &[("Label", "label")],
    &[
        attr("static", "Value", Int),
        attr("to", "To", Int),
        attr("host_network", "HostNetwork", Str),
        attr("ignore_collision", "IgnoreCollision", Bool),
    ],
);

static DNS: Schema = schema(
    "dns",
    &[],
    &[
        attr("servers", "Servers", StrList),
        attr("searches", "Searches", StrList),
        attr("options", "Options", StrList),
    ],
);

static CNI: Schema = schema("cni", &[], &[attr("args", "Args", MapAttr)]);

/// Ports with a static value are reserved ports, the others dynamic (as
/// Nomad's parser sorts them).
fn network_post(ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    let Some(Value::Array(ports)) = obj.remove("DynamicPorts") else {
        return;
    };
    if ports.is_empty() {
        return;
    }
    let mut dynamic = Vec::new();
    let mut reserved = Vec::new();
    let from = ctx.pointer("DynamicPorts");
    let tmp = ctx.pointer("_ports");
    ctx.move_spans(&from, &tmp);
    for (i, p) in ports.into_iter().enumerate() {
        let is_static = p
            .get("Value")
            .and_then(Value::as_i64)
            .is_some_and(|v| v > 0);
        let (list, field) = if is_static {
            (&mut reserved, "ReservedPorts")
        } else {
            (&mut dynamic, "DynamicPorts")
        };
        let to = format!("{}/{}", ctx.pointer(field), list.len());
        ctx.move_spans(&format!("{tmp}/{i}"), &to);
        list.push(p);
    }
    if !dynamic.is_empty() {
        obj.insert("DynamicPorts".into(), Value::Array(dynamic));
    }
    if reserved.is_empty() {
        obj.remove("ReservedPorts");
    } else {
        obj.insert("ReservedPorts".into(), Value::Array(reserved));
    }
}

pub(crate) static NETWORK: Schema = schema_post(
    "network",
    &[],
    &[
        attr("mode", "Mode", Str),
        attr("device", "Device", Str),
        attr("cidr", "CIDR", Str),
        attr("ip", "IP", Str),
        one("dns", "DNS", &DNS),
        many("reserved_ports", "ReservedPorts", &PORT),
        many("port", "DynamicPorts", &PORT),
        attr("hostname", "Hostname", Str),
        attr("mbits", "MBits", Int),
        one("cni", "CNI", &CNI),
    ],
    network_post,
);

static MOUNT_OPTIONS: Schema = schema(
    "mount_options",
    &[],
    &[
        attr("fs_type", "FSType", Str),
        attr("mount_flags", "MountFlags", StrList),
    ],
);

static VOLUME: Schema = schema(
    "volume",
    &[("Name", "name")],
    &[
        attr("type", "Type", Str),
        attr("source", "Source", Str),
        attr("read_only", "ReadOnly", Bool),
        attr("sticky", "Sticky", Bool),
        attr("access_mode", "AccessMode", Str),
        attr("attachment_mode", "AttachmentMode", Str),
        one("mount_options", "MountOptions", &MOUNT_OPTIONS),
        attr("per_alloc", "PerAlloc", Bool),
    ],
);

static EPHEMERAL_DISK: Schema = schema(
    "ephemeral_disk",
    &[],
    &[
        attr("sticky", "Sticky", Bool),
        attr("migrate", "Migrate", Bool),
        attr("size", "SizeMB", Int),
    ],
);

static DISCONNECT: Schema = schema(
    "disconnect",
    &[],
    &[
        attr("lost_after", "LostAfter", Dur),
        attr("stop_on_client_after", "StopOnClientAfter", Dur),
        attr("replace", "Replace", Bool),
        attr("reconcile", "Reconcile", Str),
    ],
);

pub(crate) const SCALING_FIELDS: &[Field] = &[
    attr("min", "Min", Int),
    attr("max", "Max", Int),
    attr("policy", "Policy", super::value::Kind::Free),
    attr("enabled", "Enabled", Bool),
    attr("type", "Type", Str),
];

/// A group's scaling policy is horizontal and needs `max`.
fn group_scaling_post(ctx: &mut Ctx, obj: &mut Obj, b: &Block) {
    match obj.get("Type").and_then(Value::as_str) {
        None | Some("") => {
            obj.insert("Type".into(), Value::String("horizontal".into()));
        }
        Some("horizontal") => {}
        Some(other) => {
            let span = b
                .body
                .attribute("type")
                .map_or(&b.span, |a| &a.value_span)
                .clone();
            ctx.error(&span, format!("invalid group scaling type {other:?}: a group's scaling policy is \"horizontal\""));
        }
    }
    if !obj.contains_key("Max") {
        ctx.error(
            &b.span,
            "the scaling block of a group needs the argument \"max\"",
        );
    }
}

static GROUP_SCALING: Schema = schema_post("scaling", &[], SCALING_FIELDS, group_scaling_post);

pub(crate) static CONSUL: Schema = schema(
    "consul",
    &[],
    &[
        attr("namespace", "Namespace", Str),
        attr("cluster", "Cluster", Str),
        attr("partition", "Partition", Str),
    ],
);

/// Reports tasks that share a name within the group.
fn group_post(ctx: &mut Ctx, obj: &mut Obj, b: &Block) {
    let mut seen: Vec<&Block> = Vec::new();
    for t in b.body.blocks_of("task") {
        let Some(name) = t.labels.first() else {
            continue;
        };
        if let Some(first) = seen.iter().find(|s| s.labels.first() == Some(name)) {
            ctx.error(
                &t.span,
                format!(
                    "duplicate task \"{name}\" in {}: task names must be unique within a group (the first is at {}:{})",
                    describe(b),
                    first.span.start.line,
                    first.span.start.col
                ),
            );
        } else {
            seen.push(t);
        }
    }
    propagate(obj);
}

fn group_extra(ctx: &mut Ctx, obj: &mut Obj, f: &Field, item: Item<'_>) {
    stash(ctx, obj, f, item);
}

pub(crate) static GROUP: Schema = schema_post(
    "group",
    &[("Name", "name")],
    &[
        attr("count", "Count", Int),
        many("constraint", "Constraints", &CONSTRAINT),
        many("affinity", "Affinities", &AFFINITY),
        many("task", "Tasks", &TASK),
        many("spread", "Spreads", &SPREAD),
        by_label("volume", "Volumes", &VOLUME),
        one("restart", "RestartPolicy", &RESTART),
        one("disconnect", "Disconnect", &DISCONNECT),
        one("reschedule", "ReschedulePolicy", &RESCHEDULE),
        one("ephemeral_disk", "EphemeralDisk", &EPHEMERAL_DISK),
        one("update", "Update", &UPDATE),
        one("migrate", "Migrate", &MIGRATE),
        many("network", "Networks", &NETWORK),
        attr("meta", "Meta", Map),
        many("service", "Services", &SERVICE),
        attr("shutdown_delay", "ShutdownDelay", Dur),
        attr("max_run_duration", "MaxRunDuration", Dur),
        attr(
            "stop_after_client_disconnect",
            "StopAfterClientDisconnect",
            Dur,
        ),
        attr("max_client_disconnect", "MaxClientDisconnect", Dur),
        one("scaling", "Scaling", &GROUP_SCALING),
        one("consul", "Consul", &CONSUL),
        attr(
            "prevent_reschedule_on_lost",
            "PreventRescheduleOnLost",
            Bool,
        ),
        custom("vault", "_vault", group_extra),
        custom("secret", "_secrets", group_extra),
    ],
    group_post,
);

/// The schemas `stash` decodes group- and job-level extras with.
pub(crate) fn extra_schema(f: &Field) -> &'static Schema {
    if f.hcl == "vault" {
        &VAULT
    } else {
        &SECRET
    }
}
