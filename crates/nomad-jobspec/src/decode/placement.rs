//! Placement blocks shared by jobs, groups, tasks and devices: `constraint`,
//! `affinity`, `spread`, and the update/migrate/reschedule/restart policies.

use nomad_hcl::Block;
use serde_json::Value;

use super::schema::{attr, derived, many, schema, schema_post, Ctx, Obj, Schema};
use super::value::Kind::{Bool, Dur, Int, Int8, Str, Uint8};

/// Shorthand attributes (`regexp = "..."`) and the operator each implies.
/// The JSON keys starting with `_` are scratch space for the post hook.
const C_SHORTHANDS: &[(&str, &str)] = &[
    ("_version", "version"),
    ("_semver", "semver"),
    ("_regexp", "regexp"),
    ("_set_contains", "set_contains"),
];

fn take_str(obj: &mut Obj, key: &str) -> Option<String> {
    match obj.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn finish_targets(ctx: &mut Ctx, obj: &mut Obj) {
    for k in ["LTarget", "RTarget", "Operand"] {
        obj.entry(k.to_string())
            .or_insert_with(|| Value::String(String::new()));
    }
    if obj.get("Operand").and_then(Value::as_str) == Some("") {
        obj.insert("Operand".into(), Value::String("=".into()));
    }
    // Scratch keys that Nomad accepts but ignores.
    obj.retain(|k, _| !k.starts_with('_'));
    let _ = ctx;
}

/// Applies shorthands in Nomad's order: each later one wins.
fn apply_shorthands(ctx: &mut Ctx, obj: &mut Obj, order: &[(&str, &str)]) {
    for (key, op) in order {
        if let Some(v) = take_str(obj, key) {
            obj.insert("Operand".into(), Value::String((*op).into()));
            obj.insert("RTarget".into(), Value::String(v));
            ctx.move_spans(&ctx.pointer(key), &ctx.pointer("RTarget"));
        }
    }
}

fn constraint_post(ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    apply_shorthands(ctx, obj, C_SHORTHANDS);
    if let Some(Value::Bool(b)) = obj.remove("_distinct_hosts") {
        obj.insert("Operand".into(), Value::String("distinct_hosts".into()));
        obj.insert("RTarget".into(), Value::String(b.to_string()));
    }
    if let Some(p) = take_str(obj, "_distinct_property") {
        obj.insert("Operand".into(), Value::String("distinct_property".into()));
        obj.insert("LTarget".into(), Value::String(p));
        ctx.move_spans(&ctx.pointer("_distinct_property"), &ctx.pointer("LTarget"));
    }
    finish_targets(ctx, obj);
}

fn affinity_post(ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    apply_shorthands(
        ctx,
        obj,
        &[
            ("_version", "version"),
            ("_semver", "semver"),
            ("_regexp", "regexp"),
            ("_set_contains_any", "set_contains_any"),
            ("_set_contains_all", "set_contains_all"),
            ("_set_contains", "set_contains"),
        ],
    );
    finish_targets(ctx, obj);
}

pub(crate) static CONSTRAINT: Schema = schema_post(
    "constraint",
    &[],
    &[
        attr("attribute", "LTarget", Str),
        attr("value", "RTarget", Str),
        attr("operator", "Operand", Str),
        attr("distinct_property", "_distinct_property", Str),
        attr("distinct_hosts", "_distinct_hosts", Bool),
        attr("regexp", "_regexp", Str),
        attr("version", "_version", Str),
        attr("semver", "_semver", Str),
        attr("set_contains", "_set_contains", Str),
        attr("set_contains_all", "_set_contains_all", Str),
        attr("set_contains_any", "_set_contains_any", Str),
        attr("is_set", "_is_set", Str),
        attr("is_not_set", "_is_not_set", Str),
    ],
    constraint_post,
);

pub(crate) static AFFINITY: Schema = schema_post(
    "affinity",
    &[],
    &[
        attr("attribute", "LTarget", Str),
        attr("value", "RTarget", Str),
        attr("operator", "Operand", Str),
        attr("weight", "Weight", Int8),
        attr("version", "_version", Str),
        attr("semver", "_semver", Str),
        attr("regexp", "_regexp", Str),
        attr("set_contains", "_set_contains", Str),
        attr("set_contains_all", "_set_contains_all", Str),
        attr("set_contains_any", "_set_contains_any", Str),
    ],
    affinity_post,
);

static SPREAD_TARGET: Schema = schema(
    "target",
    &[("Value", "value")],
    &[attr("percent", "Percent", Uint8)],
);

pub(crate) static SPREAD: Schema = schema(
    "spread",
    &[],
    &[
        attr("attribute", "Attribute", Str),
        attr("weight", "Weight", Int8),
        many("target", "SpreadTarget", &SPREAD_TARGET),
    ],
);

pub(crate) static UPDATE: Schema = schema(
    "update",
    &[],
    &[
        attr("stagger", "Stagger", Dur),
        attr("max_parallel", "MaxParallel", Int),
        attr("health_check", "HealthCheck", Str),
        attr("min_healthy_time", "MinHealthyTime", Dur),
        attr("healthy_deadline", "HealthyDeadline", Dur),
        attr("progress_deadline", "ProgressDeadline", Dur),
        attr("canary", "Canary", Int),
        attr("auto_revert", "AutoRevert", Bool),
        attr("auto_promote", "AutoPromote", Bool),
    ],
);

pub(crate) static MIGRATE: Schema = schema(
    "migrate",
    &[],
    &[
        attr("max_parallel", "MaxParallel", Int),
        attr("health_check", "HealthCheck", Str),
        attr("min_healthy_time", "MinHealthyTime", Dur),
        attr("healthy_deadline", "HealthyDeadline", Dur),
    ],
);

pub(crate) static RESCHEDULE: Schema = schema(
    "reschedule",
    &[],
    &[
        attr("attempts", "Attempts", Int),
        attr("interval", "Interval", Dur),
        attr("delay", "Delay", Dur),
        attr("delay_function", "DelayFunction", Str),
        attr("max_delay", "MaxDelay", Dur),
        attr("unlimited", "Unlimited", Bool),
    ],
);

pub(crate) static RESTART: Schema = schema(
    "restart",
    &[],
    &[
        attr("interval", "Interval", Dur),
        attr("attempts", "Attempts", Int),
        attr("delay", "Delay", Dur),
        attr("mode", "Mode", Str),
        attr("render_templates", "RenderTemplates", Bool),
    ],
);

/// `SpecType` is set when `cron` or `crons` is.
fn periodic_post(_ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    if obj.contains_key("Spec") || obj.contains_key("Specs") {
        obj.insert("SpecType".into(), Value::String("cron".into()));
    }
}

pub(crate) static PERIODIC: Schema = schema_post(
    "periodic",
    &[],
    &[
        attr("enabled", "Enabled", Bool),
        attr("cron", "Spec", Str),
        attr("crons", "Specs", super::value::Kind::StrList),
        derived("SpecType"),
        attr("prohibit_overlap", "ProhibitOverlap", Bool),
        attr("time_zone", "TimeZone", Str),
    ],
    periodic_post,
);
