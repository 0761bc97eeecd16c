//! Validation of placement rules, policies, networks and other group blocks.

use std::collections::{BTreeMap, BTreeSet};

use super::Errors;
use crate::consts::{
    delay_function, health_check, job_type, operand, reconcile_option, restart_mode,
};
use crate::duration::Nanos;
use crate::group::{ScalingPolicy, TaskGroup, VolumeRequest};
use crate::job::PeriodicConfig;
use crate::policies::{
    Affinity, Constraint, DisconnectStrategy, MigrateStrategy, ReschedulePolicy, RestartPolicy,
    Spread, UpdateStrategy,
};

const MAX_PORT: i64 = 65535;
const RESTART_MIN_INTERVAL: Nanos = Nanos::from_secs(5);
const RESCHEDULE_MIN_INTERVAL: Nanos = Nanos::from_secs(15);
const RESCHEDULE_MIN_DELAY: Nanos = Nanos::from_secs(5);

pub(super) fn non_negative(path: String, d: Option<Nanos>, e: &mut Errors) {
    if let Some(d) = d {
        if d.is_negative() {
            e.add(path, format!("must not be negative (got {d})"));
        }
    }
}

/// Checks an operand/RTarget pair shared by constraints and affinities.
fn operand_rules(path: &str, op: &str, r_target: &str, affinity: bool, e: &mut Errors) {
    let rt = format!("{path}.RTarget");
    match op {
        operand::SET_CONTAINS | operand::SET_CONTAINS_ALL | operand::SET_CONTAINS_ANY => {
            if r_target.is_empty() {
                e.add(rt, format!("operator {op:?} requires a value"));
            }
        }
        operand::REGEX => {
            if let Err(err) = regex::Regex::new(r_target) {
                e.add(rt, format!("regular expression failed to compile: {err}"));
            }
        }
        operand::VERSION | operand::SEMVER => {
            if !looks_like_version_constraint(r_target) {
                e.add(rt, format!("{op} constraint {r_target:?} is invalid"));
            }
        }
        operand::DISTINCT_HOSTS
        | operand::DISTINCT_PROPERTY
        | operand::IS_SET
        | operand::IS_NOT_SET
            if affinity =>
        {
            e.add(
                format!("{path}.Operand"),
                format!("unknown affinity operator {op:?}"),
            );
        }
        operand::DISTINCT_HOSTS => {}
        operand::DISTINCT_PROPERTY => {
            if !r_target.is_empty() {
                match r_target.parse::<u64>() {
                    Err(_) => e.add(
                        rt,
                        format!("failed to convert {r_target:?} to an allowed count"),
                    ),
                    Ok(0) => e.add(rt, "distinct_property must allow a count of 1 or greater"),
                    Ok(_) => {}
                }
            }
        }
        operand::IS_SET | operand::IS_NOT_SET => {
            if !r_target.is_empty() {
                e.add(rt, format!("operator {op:?} does not take a value"));
            }
        }
        op if operand::COMPARISONS.contains(&op) => {
            if r_target.is_empty() {
                e.add(rt, format!("operator {op:?} requires a value"));
            }
        }
        "" => e.add(format!("{path}.Operand"), "missing operator"),
        other => {
            let what = if affinity {
                "affinity operator"
            } else {
                "constraint operator"
            };
            // The closest valid spelling first, then the whole list.
            let close = operand::ALL
                .iter()
                .filter(|v| v.len() > 2 && (v.starts_with(other) || other.starts_with(*v)))
                .map(|v| format!("did you mean {v:?}? "))
                .next()
                .unwrap_or_default();
            e.add(
                format!("{path}.Operand"),
                format!(
                    "unknown {what} {other:?}; {close}valid operators: {}",
                    operand::ALL.join(", ")
                ),
            );
        }
    }
}

/// Version constraints: comma-separated clauses of an optional operator and
/// a dotted version.
fn looks_like_version_constraint(s: &str) -> bool {
    !s.trim().is_empty()
        && s.split(',').all(|clause| {
            let c = clause.trim();
            let v = c
                .trim_start_matches(['=', '!', '>', '<', '~', '^', ' '])
                .trim();
            !v.is_empty()
                && v.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_digit() || ch == 'v')
                && v.chars().all(|ch| {
                    ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '+' | '*' | 'x')
                })
        })
}

pub(super) fn constraints(prefix: &str, list: &[Constraint], e: &mut Errors) {
    for (i, c) in list.iter().enumerate() {
        let p = format!("{prefix}[{i}]");
        operand_rules(&p, &c.operand, &c.r_target, false, e);
        if c.operand != operand::DISTINCT_HOSTS && c.l_target.is_empty() {
            e.add(
                format!("{p}.LTarget"),
                "no attribute given but the operator requires one",
            );
        }
    }
}

pub(super) fn affinities(prefix: &str, list: &[Affinity], e: &mut Errors) {
    for (i, a) in list.iter().enumerate() {
        let p = format!("{prefix}[{i}]");
        operand_rules(&p, &a.operand, &a.r_target, true, e);
        if a.l_target.is_empty() {
            e.add(format!("{p}.LTarget"), "missing attribute");
        }
        match a.weight.unwrap_or(0) {
            0 => e.add(format!("{p}.Weight"), "affinity weight cannot be zero"),
            w if !(-100..=100).contains(&w) => e.add(
                format!("{p}.Weight"),
                format!("affinity weight must be within [-100, 100] (got {w})"),
            ),
            _ => {}
        }
    }
}

pub(super) fn spreads(prefix: &str, list: &[Spread], e: &mut Errors) {
    for (i, s) in list.iter().enumerate() {
        let p = format!("{prefix}[{i}]");
        if s.attribute.is_empty() {
            e.add(format!("{p}.Attribute"), "missing spread attribute");
        }
        let w = s.weight.unwrap_or(0);
        if w <= 0 || w > 100 {
            e.add(
                format!("{p}.Weight"),
                format!("spread weight must be within (0, 100] (got {w})"),
            );
        }
        let mut seen = BTreeSet::new();
        let mut sum: u32 = 0;
        for (ti, t) in s.spread_target.iter().enumerate() {
            let tp = format!("{p}.SpreadTarget[{ti}]");
            if !seen.insert(t.value.as_str()) {
                e.add(
                    format!("{tp}.Value"),
                    format!("spread target {:?} already defined", t.value),
                );
            }
            if t.percent > 100 {
                e.add(
                    format!("{tp}.Percent"),
                    format!("percent must be within [0, 100] (got {})", t.percent),
                );
            }
            sum += u32::from(t.percent);
        }
        if sum > 100 {
            e.add(
                format!("{p}.SpreadTarget"),
                format!("sum of spread target percentages must not exceed 100 (got {sum})"),
            );
        }
    }
}

pub(super) fn restart(p: &str, r: &RestartPolicy, e: &mut Errors) {
    let mode = r.mode.as_deref().unwrap_or("");
    let attempts = r.attempts.unwrap_or(0);
    let interval = r.interval.unwrap_or_default();
    let delay = r.delay.unwrap_or_default();
    if mode != restart_mode::DELAY && mode != restart_mode::FAIL {
        e.add(
            format!("{p}.Mode"),
            format!("unsupported restart mode {mode:?}: must be \"fail\" or \"delay\""),
        );
    } else if attempts == 0 && mode != restart_mode::FAIL {
        e.add(
            format!("{p}.Attempts"),
            format!("restart policy {mode:?} with 0 attempts is ambiguous"),
        );
    }
    if attempts < 0 {
        e.add(
            format!("{p}.Attempts"),
            format!("attempts must not be negative (got {attempts})"),
        );
    }
    non_negative(format!("{p}.Delay"), r.delay, e);
    if interval < RESTART_MIN_INTERVAL {
        e.add(
            format!("{p}.Interval"),
            format!("interval can not be less than {RESTART_MIN_INTERVAL} (got {interval})"),
        );
    } else if attempts > 0 && delay.0.saturating_mul(attempts) > interval.0 {
        e.add(
            format!("{p}.Interval"),
            format!("cannot restart {attempts} times in an interval of {interval} with a delay of {delay}"),
        );
    }
}

pub(super) fn reschedule(p: &str, r: &ReschedulePolicy, e: &mut Errors) {
    if !r.enabled() {
        return;
    }
    let attempts = r.attempts.unwrap_or(0);
    let interval = r.interval.unwrap_or_default();
    let delay = r.delay.unwrap_or_default();
    let max_delay = r.max_delay.unwrap_or_default();
    let unlimited = r.unlimited.unwrap_or(false);
    let func = r.delay_function.as_deref().unwrap_or("");
    if attempts > 0 {
        if interval.0 <= 0 {
            e.add(
                format!("{p}.Interval"),
                "interval must be a non-zero value if attempts > 0",
            );
        }
        if unlimited {
            e.add(
                format!("{p}.Unlimited"),
                "unlimited cannot be true when attempts > 0",
            );
        }
    }
    if delay < RESCHEDULE_MIN_DELAY {
        e.add(
            format!("{p}.Delay"),
            format!("delay cannot be less than {RESCHEDULE_MIN_DELAY} (got {delay})"),
        );
    }
    if !delay_function::ALL.contains(&func) {
        e.add(
            format!("{p}.DelayFunction"),
            format!(
                "invalid delay function {func:?}: must be one of constant, exponential, fibonacci"
            ),
        );
    }
    if func != delay_function::CONSTANT {
        if max_delay < RESCHEDULE_MIN_DELAY {
            e.add(
                format!("{p}.MaxDelay"),
                format!("max delay cannot be less than {RESCHEDULE_MIN_DELAY} (got {max_delay})"),
            );
        } else if max_delay < delay {
            e.add(
                format!("{p}.MaxDelay"),
                format!("max delay ({max_delay}) cannot be less than delay ({delay})"),
            );
        }
    }
    if !unlimited && interval < RESCHEDULE_MIN_INTERVAL {
        e.add(
            format!("{p}.Interval"),
            format!("interval cannot be less than {RESCHEDULE_MIN_INTERVAL} (got {interval})"),
        );
    }
}

pub(super) fn update(p: &str, u: &UpdateStrategy, e: &mut Errors) {
    let hc = u.health_check.as_deref().unwrap_or("");
    if !matches!(
        hc,
        health_check::CHECKS | health_check::TASK_STATES | health_check::MANUAL
    ) {
        e.add(
            format!("{p}.HealthCheck"),
            format!("invalid health check {hc:?}: must be checks, task_states or manual"),
        );
    }
    let max_parallel = u.max_parallel.unwrap_or(0);
    if max_parallel < 0 {
        e.add(
            format!("{p}.MaxParallel"),
            format!("max_parallel cannot be negative (got {max_parallel})"),
        );
    }
    let canary = u.canary.unwrap_or(0);
    if canary < 0 {
        e.add(
            format!("{p}.Canary"),
            format!("canary count cannot be negative (got {canary})"),
        );
    }
    if canary == 0 && u.auto_promote.unwrap_or(false) {
        e.add(
            format!("{p}.AutoPromote"),
            "auto_promote requires a canary count greater than zero",
        );
    }
    let min_healthy = u.min_healthy_time.unwrap_or_default();
    let healthy_deadline = u.healthy_deadline.unwrap_or_default();
    let progress = u.progress_deadline.unwrap_or_default();
    if min_healthy.is_negative() {
        e.add(
            format!("{p}.MinHealthyTime"),
            format!("min_healthy_time cannot be negative (got {min_healthy})"),
        );
    }
    if healthy_deadline.0 <= 0 {
        e.add(
            format!("{p}.HealthyDeadline"),
            format!("healthy_deadline must be greater than zero (got {healthy_deadline})"),
        );
    }
    if progress.is_negative() {
        e.add(
            format!("{p}.ProgressDeadline"),
            format!("progress_deadline cannot be negative (got {progress})"),
        );
    }
    if min_healthy >= healthy_deadline {
        e.add(
            format!("{p}.MinHealthyTime"),
            format!("min_healthy_time ({min_healthy}) must be less than healthy_deadline ({healthy_deadline})"),
        );
    }
    if progress.0 != 0 && healthy_deadline >= progress {
        e.add(
            format!("{p}.HealthyDeadline"),
            format!("healthy_deadline ({healthy_deadline}) must be less than progress_deadline ({progress})"),
        );
    }
    if u.stagger.unwrap_or_default().0 <= 0 {
        e.add(format!("{p}.Stagger"), "stagger must be greater than zero");
    }
}

pub(super) fn migrate(p: &str, m: &MigrateStrategy, e: &mut Errors) {
    let max_parallel = m.max_parallel.unwrap_or(0);
    if max_parallel < 0 {
        e.add(
            format!("{p}.MaxParallel"),
            format!("max_parallel cannot be negative (got {max_parallel})"),
        );
    }
    match m.health_check.as_deref().unwrap_or("") {
        health_check::CHECKS | health_check::TASK_STATES => {}
        "" if max_parallel <= 0 => {}
        "" => e.add(format!("{p}.HealthCheck"), "missing health_check"),
        other => e.add(
            format!("{p}.HealthCheck"),
            format!("invalid health check {other:?}: must be checks or task_states"),
        ),
    }
    let min = m.min_healthy_time.unwrap_or_default();
    let deadline = m.healthy_deadline.unwrap_or_default();
    non_negative(format!("{p}.MinHealthyTime"), m.min_healthy_time, e);
    non_negative(format!("{p}.HealthyDeadline"), m.healthy_deadline, e);
    if min > deadline {
        e.add(
            format!("{p}.MinHealthyTime"),
            "min_healthy_time must be less than healthy_deadline",
        );
    }
}

pub(super) fn disconnect(p: &str, d: &DisconnectStrategy, kind: &str, e: &mut Errors) {
    if let Some(stop) = d.stop_on_client_after {
        if stop.is_negative() {
            e.add(
                format!("{p}.StopOnClientAfter"),
                "stop_on_client_after cannot be negative",
            );
        }
        if kind != job_type::SERVICE && kind != job_type::BATCH {
            e.add(
                format!("{p}.StopOnClientAfter"),
                "stop_on_client_after can only be used with service or batch jobs",
            );
        }
        if d.lost_after.is_some_and(|l| l.0 != 0) {
            e.add(p, "lost_after and stop_on_client_after cannot both be set");
        }
    }
    non_negative(format!("{p}.LostAfter"), d.lost_after, e);
    match d.reconcile.as_deref().unwrap_or("") {
        ""
        | reconcile_option::BEST_SCORE
        | reconcile_option::LONGEST_RUNNING
        | reconcile_option::KEEP_ORIGINAL
        | reconcile_option::KEEP_REPLACEMENT => {}
        other => e.add(
            format!("{p}.Reconcile"),
            format!("invalid reconcile option {other:?}"),
        ),
    }
}

pub(super) fn periodic(p: &PeriodicConfig, e: &mut Errors) {
    let spec = p.spec.as_deref().unwrap_or("");
    if !spec.is_empty() && !p.specs.is_empty() {
        e.add("Periodic", "only one of cron or crons may be used");
    }
    if spec.is_empty() && p.specs.is_empty() {
        e.add("Periodic.Spec", "must specify a cron spec");
    }
    if let Some(tz) = p.time_zone.as_deref() {
        if tz.contains(char::is_whitespace) || tz.starts_with('/') || tz.contains("..") {
            e.add("Periodic.TimeZone", format!("invalid time zone {tz:?}"));
        }
    }
    match p.spec_type.as_deref().unwrap_or("cron") {
        "cron" => {
            if !spec.is_empty() {
                if let Err(why) = check_cron(spec) {
                    e.add(
                        "Periodic.Spec",
                        format!("invalid cron spec {spec:?}: {why}"),
                    );
                }
            }
            for (i, s) in p.specs.iter().enumerate() {
                if let Err(why) = check_cron(s) {
                    e.add(
                        format!("Periodic.Specs[{i}]"),
                        format!("invalid cron spec {s:?}: {why}"),
                    );
                }
            }
        }
        "test" => {}
        other => e.add(
            "Periodic.SpecType",
            format!("unknown periodic specification type {other:?}"),
        ),
    }
}

/// A structural check of a cron expression: 5 to 7 fields (seconds and year
/// optional, as Nomad's parser allows) or a `@` macro, with each field made
/// of numbers, names, ranges, steps and lists within the field's range.
pub(crate) fn check_cron(spec: &str) -> Result<(), String> {
    let spec = spec.trim();
    if let Some(name) = spec.strip_prefix('@') {
        return match name {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ => Err(format!("unknown macro @{name}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    // (min, max) per field for 5-field specs: minute hour dom month dow.
    const MINUTE: (u32, u32) = (0, 59);
    const HOUR: (u32, u32) = (0, 23);
    const DOM: (u32, u32) = (1, 31);
    const MONTH: (u32, u32) = (1, 12);
    const DOW: (u32, u32) = (0, 7);
    const YEAR: (u32, u32) = (1970, 2099);
    let ranges: Vec<(u32, u32)> = match fields.len() {
        5 => vec![MINUTE, HOUR, DOM, MONTH, DOW],
        6 => vec![MINUTE, HOUR, DOM, MONTH, DOW, YEAR],
        7 => vec![MINUTE, MINUTE, HOUR, DOM, MONTH, DOW, YEAR],
        n => return Err(format!("expected 5 to 7 fields, got {n}")),
    };
    for (field, (lo, hi)) in fields.iter().zip(ranges) {
        for part in field.split(',') {
            let (base, step) = match part.split_once('/') {
                Some((b, s)) => (b, Some(s)),
                None => (part, None),
            };
            if let Some(s) = step {
                if s.parse::<u32>().map_or(true, |v| v == 0) {
                    return Err(format!("invalid step in {part:?}"));
                }
            }
            if matches!(base, "*" | "?") {
                continue;
            }
            for bound in base.split('-') {
                let b = bound
                    .trim_end_matches(['L', 'W'])
                    .split('#')
                    .next()
                    .unwrap_or("");
                if b.is_empty() && (bound == "L" || bound == "W" || bound == "LW") {
                    continue;
                }
                if let Ok(v) = b.parse::<u32>() {
                    if v < lo || v > hi {
                        return Err(format!("value {v} out of range {lo}-{hi}"));
                    }
                } else if !(b.len() == 3 && b.chars().all(|c| c.is_ascii_alphabetic())) {
                    return Err(format!("invalid field {part:?}"));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn volume(p: &str, v: &VolumeRequest, kind: &str, canaries: i64, e: &mut Errors) {
    if v.volume_type != "host" && v.volume_type != "csi" {
        e.add(
            format!("{p}.Type"),
            format!("volume has unrecognized type {:?}", v.volume_type),
        );
        return;
    }
    if v.source.is_empty() {
        e.add(format!("{p}.Source"), "volume has an empty source");
    }
    if v.per_alloc {
        if kind == job_type::SYSTEM || kind == job_type::SYSBATCH {
            e.add(
                format!("{p}.PerAlloc"),
                "volume cannot be per_alloc for system or sysbatch jobs",
            );
        }
        if canaries > 0 {
            e.add(
                format!("{p}.PerAlloc"),
                "volume cannot be per_alloc when canaries are in use",
            );
        }
        if v.sticky {
            e.add(
                format!("{p}.PerAlloc"),
                "volume cannot be per_alloc and sticky at the same time",
            );
        }
    }
    if v.volume_type == "host" && v.mount_options.is_some() {
        e.add(
            format!("{p}.MountOptions"),
            "host volumes cannot have mount options",
        );
    }
    if v.volume_type == "csi" && v.attachment_mode.is_empty() {
        e.add(
            format!("{p}.AttachmentMode"),
            "CSI volumes must have an attachment mode",
        );
    }
}

/// Port labels defined by the group's first network and the tasks' networks.
pub(super) fn port_labels(g: &TaskGroup) -> BTreeSet<String> {
    let mut labels: BTreeSet<String> = g
        .networks
        .first()
        .map(|n| n.ports().map(|p| p.label.clone()).collect())
        .unwrap_or_default();
    for t in &g.tasks {
        for n in t.resources.iter().flat_map(|r| r.networks.iter()) {
            labels.extend(n.ports().map(|p| p.label.clone()));
        }
    }
    labels
}

pub(super) fn group_networks(p: &str, g: &TaskGroup, e: &mut Errors) {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut static_ports: BTreeMap<(String, i64), String> = BTreeMap::new();
    let group_nets = g
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{p}.Networks[{i}]"), n));
    let task_nets = g.tasks.iter().enumerate().flat_map(|(ti, t)| {
        t.resources.iter().flat_map(move |r| {
            r.networks
                .iter()
                .enumerate()
                .map(move |(ni, n)| (format!("{p}.Tasks[{ti}].Resources.Networks[{ni}]"), n))
        })
    });
    let mut cni_keys = BTreeSet::new();
    for (np, net) in group_nets.chain(task_nets) {
        let lists = [
            ("ReservedPorts", &net.reserved_ports),
            ("DynamicPorts", &net.dynamic_ports),
        ];
        for (list_name, ports) in lists {
            for (i, port) in ports.iter().enumerate() {
                let pp = format!("{np}.{list_name}[{i}]");
                if port.label.is_empty() {
                    e.add(format!("{pp}.Label"), "port label must not be empty");
                } else if let Some(other) = labels.get(&port.label) {
                    e.add(
                        format!("{pp}.Label"),
                        format!("port label {:?} already in use by {other}", port.label),
                    );
                } else {
                    labels.insert(port.label.clone(), pp.clone());
                }
                if port.value < 0 || port.value > MAX_PORT {
                    e.add(
                        format!("{pp}.Value"),
                        format!(
                            "port {:?} must be within [0, {MAX_PORT}] (got {})",
                            port.label, port.value
                        ),
                    );
                } else if port.value != 0 {
                    let host_net = if port.host_network.is_empty() {
                        "default"
                    } else {
                        &port.host_network
                    };
                    let key = (host_net.to_string(), port.value);
                    match static_ports.get(&key) {
                        Some(other) if !port.ignore_collision => e.add(
                            format!("{pp}.Value"),
                            format!("static port {} already reserved by {other}", port.value),
                        ),
                        Some(_) => {}
                        None => {
                            static_ports.insert(key, pp.clone());
                        }
                    }
                }
                if port.to < -1 || port.to > MAX_PORT {
                    e.add(
                        format!("{pp}.To"),
                        format!("port {:?} cannot be mapped to {}", port.label, port.to),
                    );
                }
                if port.ignore_collision && !(net.mode.is_empty() || net.mode == "host") {
                    e.add(
                        format!("{pp}.IgnoreCollision"),
                        format!(
                            "collisions may not be ignored on network mode {:?}",
                            net.mode
                        ),
                    );
                }
            }
        }
        if let Some(cni) = &net.cni {
            for (k, v) in &cni.args {
                if !cni_keys.insert(k.clone()) {
                    e.add(format!("{np}.CNI.Args"), format!("duplicate CNI arg {k:?}"));
                }
                if k.contains(';') || v.contains(';') {
                    e.add(
                        format!("{np}.CNI.Args"),
                        format!("invalid ';' in CNI arg {k:?}"),
                    );
                }
            }
        }
        if !net.hostname.is_empty() && !net.hostname.contains("${") && !is_dns_name(&net.hostname) {
            e.add(format!("{np}.Hostname"), "hostname is not a valid DNS name");
        }
    }
}

fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

pub(super) fn scaling(p: &str, s: &ScalingPolicy, count: i64, e: &mut Errors) {
    if s.policy_type.is_empty() {
        e.add(format!("{p}.Type"), "missing scaling policy type");
    }
    let min = s.min.unwrap_or(0);
    match s.max {
        None => e.add(format!("{p}.Max"), "maximum count must be specified"),
        Some(max) if max < 0 => e.add(format!("{p}.Max"), "maximum count must be non-negative"),
        Some(max) => {
            if max < min {
                e.add(
                    format!("{p}.Max"),
                    format!("maximum count ({max}) must not be less than minimum ({min})"),
                );
            }
            if max < count {
                e.add(
                    format!("{p}.Max"),
                    format!("group count ({count}) must not be greater than the maximum ({max})"),
                );
            }
        }
    }
    if min < 0 {
        e.add(format!("{p}.Min"), "minimum count must be non-negative");
    }
    if count < min {
        e.add(
            format!("{p}.Min"),
            format!("group count ({count}) must not be less than the minimum ({min})"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron_shapes() {
        for ok in [
            "*/5 * * * *",
            "0 3 * * MON-FRI",
            "@daily",
            "0 0 1 1 * 2030",
            "0 */15 * * * * *",
            "0 0 L * *",
        ] {
            assert!(check_cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "* * *",
            "61 * * * *",
            "@sometimes",
            "*/0 * * * *",
            "a b c d e",
        ] {
            assert!(check_cron(bad).is_err(), "{bad}");
        }
    }
}
