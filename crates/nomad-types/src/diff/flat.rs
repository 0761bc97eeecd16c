//! Flattening of blocks into `name -> value` maps, reproducing the field
//! names and value rendering of Nomad's diff (which walks the server-side
//! structs, where most optional API fields are plain values).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::duration::Nanos;
use crate::group::{TaskGroup, VolumeRequest};
use crate::job::{Job, ParameterizedJobConfig, PeriodicConfig};
use crate::policies::{
    Affinity, Constraint, DisconnectStrategy, MigrateStrategy, ReschedulePolicy, RestartPolicy,
    UpdateStrategy,
};
use crate::resources::{NetworkResource, Port, RequestedDevice, Resources};
use crate::services::{CheckRestart, Service, ServiceCheck};
use crate::task::{ChangeScript, Task, TaskArtifact, Template, VolumeMount, WorkloadIdentity};

pub(crate) type Flat = BTreeMap<String, String>;

fn ob(v: Option<bool>) -> String {
    v.unwrap_or(false).to_string()
}
fn oi(v: Option<i64>) -> String {
    v.unwrap_or(0).to_string()
}
fn os(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}
fn od(v: Option<Nanos>) -> String {
    v.unwrap_or_default().0.to_string()
}

/// A pointer duration rendered as its nanoseconds, or `""` when unset.
pub(crate) fn opt_nanos_or_blank(v: Option<Nanos>) -> String {
    v.map(|n| n.0.to_string()).unwrap_or_default()
}

/// A pointer rendered the way a non-primitive flatten does: `nil` when unset.
fn or_nil<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string())
        .unwrap_or_else(|| "nil".to_string())
}

fn put(f: &mut Flat, k: &str, v: impl Into<String>) {
    f.insert(k.to_string(), v.into());
}

fn put_map(f: &mut Flat, prefix: &str, m: &BTreeMap<String, String>) {
    for (k, v) in m {
        f.insert(format!("{prefix}[{k}]"), v.clone());
    }
}

pub(crate) fn job(j: &Job) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Stop", ob(j.stop));
    put(&mut f, "Region", os(&j.region));
    put(&mut f, "Namespace", os(&j.namespace));
    put(&mut f, "ParentID", os(&j.parent_id));
    put(&mut f, "Name", os(&j.name));
    put(&mut f, "Type", os(&j.job_type));
    put(&mut f, "Priority", oi(j.priority));
    put(&mut f, "AllAtOnce", ob(j.all_at_once));
    put(&mut f, "NodePool", os(&j.node_pool));
    put(&mut f, "Dispatched", j.dispatched.to_string());
    put(
        &mut f,
        "DispatchIdempotencyToken",
        os(&j.dispatch_idempotency_token),
    );
    put_map(&mut f, "Meta", &j.meta);
    put(&mut f, "ConsulNamespace", os(&j.consul_namespace));
    put(&mut f, "VaultNamespace", os(&j.vault_namespace));
    f
}

pub(crate) fn group(g: &TaskGroup) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Count", oi(g.count));
    put_map(&mut f, "Meta", &g.meta);
    put(
        &mut f,
        "PreventRescheduleOnLost",
        ob(g.prevent_reschedule_on_lost),
    );
    f
}

pub(crate) fn task(t: &Task) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Driver", t.driver.clone());
    put(&mut f, "User", t.user.clone());
    put_map(&mut f, "Env", &t.env);
    put_map(&mut f, "Meta", &t.meta);
    put(&mut f, "KillTimeout", od(t.kill_timeout));
    put(&mut f, "Leader", t.leader.to_string());
    put(&mut f, "ShutdownDelay", t.shutdown_delay.0.to_string());
    put(&mut f, "KillSignal", t.kill_signal.clone());
    put(&mut f, "Kind", t.kind.clone());
    f
}

pub(crate) fn constraint(c: &Constraint) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "LTarget", c.l_target.clone());
    put(&mut f, "RTarget", c.r_target.clone());
    put(&mut f, "Operand", c.operand.clone());
    f
}

pub(crate) fn affinity(a: &Affinity) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "LTarget", a.l_target.clone());
    put(&mut f, "RTarget", a.r_target.clone());
    put(&mut f, "Operand", a.operand.clone());
    put(&mut f, "Weight", a.weight.unwrap_or(0).to_string());
    f
}

pub(crate) fn restart(r: &RestartPolicy) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Attempts", oi(r.attempts));
    put(&mut f, "Interval", od(r.interval));
    put(&mut f, "Delay", od(r.delay));
    put(&mut f, "Mode", os(&r.mode));
    put(&mut f, "RenderTemplates", ob(r.render_templates));
    f
}

pub(crate) fn reschedule(r: &ReschedulePolicy) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Attempts", oi(r.attempts));
    put(&mut f, "Interval", od(r.interval));
    put(&mut f, "Delay", od(r.delay));
    put(&mut f, "DelayFunction", os(&r.delay_function));
    put(&mut f, "MaxDelay", od(r.max_delay));
    put(&mut f, "Unlimited", ob(r.unlimited));
    f
}

pub(crate) fn migrate(m: &MigrateStrategy) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "MaxParallel", oi(m.max_parallel));
    put(&mut f, "HealthCheck", os(&m.health_check));
    put(&mut f, "MinHealthyTime", od(m.min_healthy_time));
    put(&mut f, "HealthyDeadline", od(m.healthy_deadline));
    f
}

/// Update strategy without `Stagger`, which Nomad leaves out of the diff.
pub(crate) fn update(u: &UpdateStrategy) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "MaxParallel", oi(u.max_parallel));
    put(&mut f, "HealthCheck", os(&u.health_check));
    put(&mut f, "MinHealthyTime", od(u.min_healthy_time));
    put(&mut f, "HealthyDeadline", od(u.healthy_deadline));
    put(&mut f, "ProgressDeadline", od(u.progress_deadline));
    put(&mut f, "AutoRevert", ob(u.auto_revert));
    put(&mut f, "AutoPromote", ob(u.auto_promote));
    put(&mut f, "Canary", oi(u.canary));
    f
}

pub(crate) fn disconnect(d: &DisconnectStrategy) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "LostAfter", od(d.lost_after));
    put(
        &mut f,
        "StopOnClientAfter",
        or_nil(d.stop_on_client_after.map(|n| n.0)),
    );
    put(&mut f, "Replace", or_nil(d.replace));
    put(&mut f, "Reconcile", os(&d.reconcile));
    f
}

pub(crate) fn network(n: &NetworkResource) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Mode", n.mode.clone());
    put(&mut f, "Hostname", n.hostname.clone());
    f
}

pub(crate) fn port(p: &Port, dynamic: bool) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Label", p.label.clone());
    put(&mut f, "To", p.to.to_string());
    put(&mut f, "HostNetwork", p.host_network.clone());
    if !dynamic {
        put(&mut f, "Value", p.value.to_string());
        put(&mut f, "IgnoreCollision", p.ignore_collision.to_string());
    }
    f
}

pub(crate) fn resources(r: &Resources) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "CPU", oi(r.cpu));
    put(&mut f, "Cores", oi(r.cores));
    put(&mut f, "MemoryMB", oi(r.memory_mb));
    put(&mut f, "MemoryMaxMB", oi(r.memory_max_mb));
    put(&mut f, "DiskMB", oi(r.disk_mb));
    put(&mut f, "IOPS", oi(r.iops));
    put(&mut f, "SecretsMB", oi(r.secrets_mb));
    f
}

pub(crate) fn device(d: &RequestedDevice) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Name", d.name.clone());
    put(&mut f, "Count", d.count.unwrap_or(0).to_string());
    f
}

pub(crate) fn service(s: &Service) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Name", s.name.clone());
    put(&mut f, "TaskName", s.task_name.clone());
    put(&mut f, "PortLabel", s.port_label.clone());
    put(&mut f, "AddressMode", s.address_mode.clone());
    put(&mut f, "Address", s.address.clone());
    put(
        &mut f,
        "EnableTagOverride",
        s.enable_tag_override.to_string(),
    );
    put_map(&mut f, "Meta", &s.meta);
    put_map(&mut f, "CanaryMeta", &s.canary_meta);
    put_map(&mut f, "TaggedAddresses", &s.tagged_addresses);
    put(&mut f, "OnUpdate", s.on_update.clone());
    put(&mut f, "Provider", s.provider.clone());
    put(&mut f, "Cluster", s.cluster.clone());
    put(&mut f, "Kind", s.kind.clone());
    f
}

pub(crate) fn check(c: &ServiceCheck) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Name", c.name.clone());
    put(&mut f, "Type", c.check_type.clone());
    put(&mut f, "Command", c.command.clone());
    put(&mut f, "Path", c.path.clone());
    put(&mut f, "Protocol", c.protocol.clone());
    put(&mut f, "PortLabel", c.port_label.clone());
    put(&mut f, "Expose", c.expose.to_string());
    put(&mut f, "AddressMode", c.address_mode.clone());
    put(&mut f, "Interval", c.interval.0.to_string());
    put(&mut f, "Timeout", c.timeout.0.to_string());
    put(&mut f, "InitialStatus", c.initial_status.clone());
    put(&mut f, "Notes", c.notes.clone());
    put(&mut f, "TLSServerName", c.tls_server_name.clone());
    put(&mut f, "TLSSkipVerify", c.tls_skip_verify.to_string());
    put(&mut f, "Method", c.method.clone());
    put(&mut f, "GRPCService", c.grpc_service.clone());
    put(&mut f, "GRPCUseTLS", c.grpc_use_tls.to_string());
    put(&mut f, "TaskName", c.task_name.clone());
    put(
        &mut f,
        "SuccessBeforePassing",
        c.success_before_passing.to_string(),
    );
    put(
        &mut f,
        "FailuresBeforeCritical",
        c.failures_before_critical.to_string(),
    );
    put(
        &mut f,
        "FailuresBeforeWarning",
        c.failures_before_warning.to_string(),
    );
    put(&mut f, "Body", c.body.clone());
    put(&mut f, "OnUpdate", c.on_update.clone());
    f
}

pub(crate) fn check_restart(c: &CheckRestart) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Limit", c.limit.to_string());
    put(&mut f, "Grace", od(c.grace));
    put(&mut f, "IgnoreWarnings", c.ignore_warnings.to_string());
    f
}

pub(crate) fn header(h: &BTreeMap<String, Vec<String>>) -> Flat {
    let mut f = Flat::new();
    for (k, values) in h {
        for (i, v) in values.iter().enumerate() {
            f.insert(format!("{k}[{i}]"), v.clone());
        }
    }
    f
}

pub(crate) fn template(t: &Template) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "SourcePath", os(&t.source_path));
    put(&mut f, "DestPath", os(&t.dest_path));
    put(&mut f, "EmbeddedTmpl", os(&t.embedded_tmpl));
    put(&mut f, "ChangeMode", os(&t.change_mode));
    put(&mut f, "ChangeSignal", os(&t.change_signal));
    put(&mut f, "Once", ob(t.once));
    put(&mut f, "Splay", od(t.splay));
    put(&mut f, "Perms", os(&t.perms));
    put(&mut f, "LeftDelim", os(&t.left_delim));
    put(&mut f, "RightDelim", os(&t.right_delim));
    put(&mut f, "Envvars", ob(t.envvars));
    put(&mut f, "VaultGrace", od(t.vault_grace));
    put(&mut f, "ErrMissingKey", ob(t.err_missing_key));
    if let Some(uid) = t.uid {
        put(&mut f, "Uid", uid.to_string());
    }
    if let Some(gid) = t.gid {
        put(&mut f, "Gid", gid.to_string());
    }
    f
}

pub(crate) fn change_script(c: &ChangeScript) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Command", os(&c.command));
    put(&mut f, "Timeout", od(c.timeout));
    put(&mut f, "FailOnError", ob(c.fail_on_error));
    put(&mut f, "RunOnFirstRender", ob(c.run_on_first_render));
    f
}

pub(crate) fn artifact(a: &TaskArtifact) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "GetterSource", os(&a.getter_source));
    put_map(&mut f, "GetterOptions", &a.getter_options);
    put_map(&mut f, "GetterHeaders", &a.getter_headers);
    put(&mut f, "GetterMode", os(&a.getter_mode));
    put(&mut f, "GetterInsecure", ob(a.getter_insecure));
    put(&mut f, "RelativeDest", os(&a.relative_dest));
    put(&mut f, "Chown", a.chown.to_string());
    f
}

pub(crate) fn volume(v: &VolumeRequest) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Name", v.name.clone());
    put(&mut f, "Type", v.volume_type.clone());
    put(&mut f, "Source", v.source.clone());
    put(&mut f, "ReadOnly", v.read_only.to_string());
    put(&mut f, "Sticky", v.sticky.to_string());
    put(&mut f, "AccessMode", v.access_mode.clone());
    put(&mut f, "AttachmentMode", v.attachment_mode.clone());
    put(&mut f, "PerAlloc", v.per_alloc.to_string());
    f
}

pub(crate) fn volume_mount(v: &VolumeMount) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Volume", os(&v.volume));
    put(&mut f, "Destination", os(&v.destination));
    put(&mut f, "ReadOnly", ob(v.read_only));
    put(&mut f, "PropagationMode", os(&v.propagation_mode));
    put(&mut f, "SELinuxLabel", os(&v.selinux_label));
    f
}

pub(crate) fn identity(w: &WorkloadIdentity) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Name", w.name.clone());
    put(&mut f, "ChangeMode", w.change_mode.clone());
    put(&mut f, "ChangeSignal", w.change_signal.clone());
    put(&mut f, "Env", w.env.to_string());
    put(&mut f, "File", w.file.to_string());
    put(&mut f, "Filepath", w.filepath.clone());
    put(&mut f, "ServiceName", w.service_name.clone());
    put(&mut f, "TTL", w.ttl.0.to_string());
    f
}

pub(crate) fn periodic(p: &PeriodicConfig) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Enabled", ob(p.enabled));
    put(&mut f, "Spec", os(&p.spec));
    put(&mut f, "SpecType", os(&p.spec_type));
    put(&mut f, "ProhibitOverlap", ob(p.prohibit_overlap));
    put(&mut f, "TimeZone", os(&p.time_zone));
    f
}

pub(crate) fn parameterized(p: &ParameterizedJobConfig) -> Flat {
    let mut f = Flat::new();
    put(&mut f, "Payload", p.payload.clone());
    f
}

/// Flattens free-form JSON (task config, scaling policy): nested map keys
/// become `key[sub]`, list items `key[0]`, numbers print like Go's `%v` of a
/// float64.
pub(crate) fn free_form(m: &BTreeMap<String, Value>) -> Flat {
    let mut f = Flat::new();
    for (k, v) in m {
        flatten_value(k, v, &mut f);
    }
    f
}

fn flatten_value(prefix: &str, v: &Value, out: &mut Flat) {
    match v {
        Value::Null => {
            out.insert(prefix.to_string(), "nil".to_string());
        }
        Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix.to_string(), go_float(n.as_f64().unwrap_or(0.0)));
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_value(&format!("{prefix}[{i}]"), item, out);
            }
        }
        Value::Object(obj) => {
            for (k, item) in obj {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                flatten_value(&key, item, out);
            }
        }
    }
}

/// Formats a float the way Go's `fmt` `%v` does: shortest digits, switching
/// to exponent form below 1e-4 or from 1e6 up (`1e+06`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if (point as usize) >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::go_float;

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(8080.0), "8080");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(1_234_567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
    }
}
