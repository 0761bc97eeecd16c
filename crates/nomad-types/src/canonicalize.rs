//! Nomad's defaulting: what the API client's `Canonicalize` and the server's
//! job admission do before a job is validated and stored.
//!
//! Only unset (`None` / empty) values are filled, so explicit values such as
//! `Count: 0` or `RestartPolicy.Attempts: 0` survive. A few server-side rules
//! also treat a zero as unset, as Nomad does: `Priority: 0`, `Namespace: ""`,
//! `NodePool: ""` and `KillTimeout: 0`. Running it twice changes nothing.

use crate::consts::{
    address_mode, dispatch_payload, getter_mode, job_defaults, job_type, on_update, operand,
    service_provider, template_change_mode,
};
use crate::duration::Nanos;
use crate::group::{EphemeralDisk, TaskGroup};
use crate::job::{Job, PeriodicConfig};
use crate::policies::{
    Affinity, Constraint, MigrateStrategy, ReschedulePolicy, RestartPolicy, Spread, UpdateStrategy,
};
use crate::resources::{NetworkResource, Resources, DEFAULT_CPU, DEFAULT_MEMORY_MB};
use crate::services::{CheckRestart, Service};
use crate::task::{LogConfig, Task, TaskArtifact, Template};

/// Default kill timeout.
pub const DEFAULT_KILL_TIMEOUT: Nanos = Nanos::from_secs(5);
/// Default spread and affinity weight.
pub const DEFAULT_WEIGHT: i8 = 50;

/// Job-level values the groups inherit or need.
struct JobCtx {
    job_type: String,
    name: String,
    update: Option<UpdateStrategy>,
    reschedule: Option<ReschedulePolicy>,
    migrate: Option<MigrateStrategy>,
    consul_namespace: Option<String>,
}

fn set_if_none<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn set_if_blank(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_string());
    }
}

fn set_if_empty(slot: &mut String, value: &str) {
    if slot.is_empty() {
        *slot = value.to_string();
    }
}

impl Job {
    /// Fills Nomad's defaults in place; see the module docs.
    pub fn canonicalize(&mut self) {
        let id = self.id.get_or_insert_with(String::new).clone();
        set_if_none(&mut self.name, id);
        set_if_none(&mut self.parent_id, String::new());
        set_if_blank(&mut self.namespace, job_defaults::NAMESPACE);
        if self.priority.is_none_or(|p| p == 0) {
            self.priority = Some(job_defaults::PRIORITY);
        }
        set_if_none(&mut self.stop, false);
        set_if_none(&mut self.region, job_defaults::REGION.to_string());
        set_if_blank(&mut self.node_pool, job_defaults::NODE_POOL);
        set_if_none(&mut self.job_type, job_type::SERVICE.to_string());
        set_if_none(&mut self.all_at_once, false);
        set_if_none(&mut self.consul_namespace, String::new());
        set_if_none(&mut self.vault_namespace, String::new());
        set_if_none(&mut self.nomad_token_id, String::new());
        set_if_none(&mut self.status, String::new());
        set_if_none(&mut self.status_description, String::new());
        set_if_none(&mut self.stable, false);
        set_if_none(&mut self.version, 0);
        set_if_none(&mut self.create_index, 0);
        set_if_none(&mut self.modify_index, 0);
        set_if_none(&mut self.job_modify_index, 0);
        if self.datacenters.is_empty() {
            self.datacenters = vec!["*".to_string()];
        }
        if let Some(p) = &mut self.periodic {
            canonicalize_periodic(p);
        }
        if let Some(p) = &mut self.parameterized_job {
            set_if_empty(&mut p.payload, dispatch_payload::OPTIONAL);
        }
        let kind = self.job_type().to_string();
        match &mut self.update {
            Some(u) => u.fill_defaults(),
            None if kind == job_type::SERVICE || kind == job_type::SYSTEM => {
                self.update = Some(UpdateStrategy::default_strategy());
            }
            None => {}
        }
        if let Some(m) = &mut self.multiregion {
            let strategy = m.strategy.get_or_insert_with(Default::default);
            set_if_none(&mut strategy.max_parallel, 0);
            set_if_none(&mut strategy.on_failure, String::new());
            for region in &mut m.regions {
                set_if_none(&mut region.count, 1);
            }
        }

        let ctx = JobCtx {
            job_type: kind,
            name: self.name().to_string(),
            update: self.update.clone(),
            reschedule: self.reschedule.clone(),
            migrate: self.migrate.clone(),
            consul_namespace: self.consul_namespace.clone(),
        };
        for group in &mut self.task_groups {
            canonicalize_group(group, &ctx);
        }
        canonicalize_placement(
            &mut self.constraints,
            &mut self.affinities,
            &mut self.spreads,
        );
    }
}

fn canonicalize_periodic(p: &mut PeriodicConfig) {
    set_if_none(&mut p.enabled, true);
    set_if_none(&mut p.spec, String::new());
    set_if_none(&mut p.spec_type, "cron".to_string());
    set_if_none(&mut p.prohibit_overlap, false);
    set_if_blank(&mut p.time_zone, "UTC");
}

fn canonicalize_constraints(constraints: &mut [Constraint]) {
    for c in constraints {
        set_if_empty(&mut c.operand, operand::EQUAL);
    }
}

fn canonicalize_affinities(affinities: &mut [Affinity]) {
    for a in affinities {
        set_if_empty(&mut a.operand, operand::EQUAL);
        set_if_none(&mut a.weight, DEFAULT_WEIGHT);
    }
}

fn canonicalize_placement(
    constraints: &mut [Constraint],
    affinities: &mut [Affinity],
    spreads: &mut [Spread],
) {
    canonicalize_constraints(constraints);
    canonicalize_affinities(affinities);
    for s in spreads {
        set_if_none(&mut s.weight, DEFAULT_WEIGHT);
    }
}

fn canonicalize_group(g: &mut TaskGroup, job: &JobCtx) {
    set_if_none(&mut g.name, String::new());
    if g.count.is_none() {
        let from_scaling = g.scaling.as_ref().and_then(|s| s.min);
        g.count = Some(from_scaling.unwrap_or(1));
    }
    let count = g.count();
    if let Some(s) = &mut g.scaling {
        set_if_none(&mut s.enabled, true);
        set_if_none(&mut s.min, count);
        set_if_empty(&mut s.policy_type, "horizontal");
    }
    match &mut g.ephemeral_disk {
        None => g.ephemeral_disk = Some(EphemeralDisk::default_disk()),
        Some(d) => {
            set_if_none(&mut d.sticky, false);
            set_if_none(&mut d.migrate, false);
            set_if_none(&mut d.size_mb, crate::group::DEFAULT_EPHEMERAL_DISK_MB);
        }
    }
    if let Some(c) = &mut g.consul {
        if c.namespace.is_empty() {
            if let Some(ns) = &job.consul_namespace {
                c.namespace = ns.clone();
            }
        }
        set_if_empty(&mut c.cluster, "default");
    }

    // Update: the job's strategy, overridden field by field by the group's.
    match (&job.update, &g.update) {
        (Some(ju), Some(gu)) => {
            let mut merged = ju.clone();
            merged.merge(gu);
            g.update = Some(merged);
        }
        (Some(ju), None) if !ju.is_empty() => g.update = Some(ju.clone()),
        _ => {}
    }
    if let Some(u) = &mut g.update {
        u.fill_defaults();
    }

    // Reschedule: job's, overridden by the group's, then type defaults.
    match (&job.reschedule, &g.reschedule_policy) {
        (Some(jr), Some(gr)) => {
            let mut merged = jr.clone();
            merged.merge(gr);
            g.reschedule_policy = Some(merged);
        }
        (Some(jr), None) => g.reschedule_policy = Some(jr.clone()),
        _ => {}
    }
    let system_like = job.job_type == job_type::SYSTEM || job.job_type == job_type::SYSBATCH;
    if g.reschedule_policy.is_none() && !system_like {
        g.reschedule_policy = Some(ReschedulePolicy::default_for(&job.job_type));
    }
    if let Some(r) = &mut g.reschedule_policy {
        r.fill_defaults(&job.job_type);
    }

    // Migrate: job's, overridden by the group's; service jobs always get one.
    match (&job.migrate, &g.migrate) {
        (Some(jm), Some(gm)) => {
            let mut merged = jm.clone();
            merged.merge(gm);
            g.migrate = Some(merged);
        }
        (Some(jm), None) => g.migrate = Some(jm.clone()),
        _ => {}
    }
    if g.migrate.is_none() && job.job_type == job_type::SERVICE {
        g.migrate = Some(MigrateStrategy::default());
    }
    if let Some(m) = &mut g.migrate {
        m.fill_defaults();
    }

    // Restart: type default overridden by the group's.
    let mut restart = RestartPolicy::default_for(&job.job_type);
    if let Some(r) = &g.restart_policy {
        restart.merge(r);
    }
    g.restart_policy = Some(restart.clone());

    let group_name = g.name().to_string();
    for task in &mut g.tasks {
        canonicalize_task(task, &restart, &job.name, &group_name);
    }
    canonicalize_placement(&mut g.constraints, &mut g.affinities, &mut g.spreads);
    for n in &mut g.networks {
        canonicalize_network(n);
    }
    for s in &mut g.services {
        canonicalize_service(s, &job.name, &group_name, None);
    }
    if let Some(d) = &mut g.disconnect {
        d.fill_defaults();
    }
}

fn canonicalize_network(n: &mut NetworkResource) {
    for p in n
        .reserved_ports
        .iter_mut()
        .chain(n.dynamic_ports.iter_mut())
    {
        set_if_empty(&mut p.host_network, "default");
    }
}

fn canonicalize_resources(r: &mut Resources) {
    if r.cores.is_none() {
        r.cores = Some(0);
        set_if_none(&mut r.cpu, DEFAULT_CPU);
    }
    set_if_none(&mut r.cpu, 0);
    set_if_none(&mut r.memory_mb, DEFAULT_MEMORY_MB);
    for d in &mut r.devices {
        set_if_none(&mut d.count, 1);
        canonicalize_constraints(&mut d.constraints);
        canonicalize_affinities(&mut d.affinities);
    }
    if let Some(numa) = &mut r.numa {
        set_if_empty(&mut numa.affinity, "none");
    }
    for n in &mut r.networks {
        canonicalize_network(n);
    }
}

fn canonicalize_task(
    t: &mut Task,
    group_restart: &RestartPolicy,
    job_name: &str,
    group_name: &str,
) {
    canonicalize_resources(t.resources.get_or_insert_with(Resources::default_request));
    if t.kill_timeout.is_none_or(|k| k.0 == 0) {
        t.kill_timeout = Some(DEFAULT_KILL_TIMEOUT);
    }
    match &mut t.log_config {
        None => t.log_config = Some(LogConfig::default_config()),
        Some(l) => {
            set_if_none(&mut l.max_files, 10);
            set_if_none(&mut l.max_file_size_mb, 10);
            set_if_none(&mut l.disabled, false);
        }
    }
    for a in &mut t.artifacts {
        canonicalize_artifact(a);
    }
    if let Some(v) = &mut t.vault {
        set_if_none(&mut v.env, true);
        set_if_none(&mut v.disable_file, false);
        set_if_none(&mut v.namespace, String::new());
        set_if_empty(&mut v.cluster, "default");
        set_if_none(&mut v.change_mode, "restart".to_string());
        set_if_none(&mut v.change_signal, "SIGHUP".to_string());
        set_if_none(&mut v.allow_token_expiration, false);
    }
    if let Some(c) = &mut t.consul {
        set_if_empty(&mut c.cluster, "default");
    }
    for tmpl in &mut t.templates {
        canonicalize_template(tmpl);
    }
    let task_name = t.name.clone();
    for s in &mut t.services {
        canonicalize_service(s, job_name, group_name, Some(&task_name));
    }
    canonicalize_constraints(&mut t.constraints);
    canonicalize_affinities(&mut t.affinities);
    for vm in &mut t.volume_mounts {
        set_if_none(&mut vm.propagation_mode, "private".to_string());
        set_if_none(&mut vm.read_only, false);
        set_if_none(&mut vm.selinux_label, String::new());
    }
    if let Some(csi) = &mut t.csi_plugin_config {
        set_if_empty(&mut csi.mount_dir, "/csi");
        set_if_empty(&mut csi.stage_publish_base_dir, "/local/csi");
        if csi.health_timeout.0 == 0 {
            csi.health_timeout = Nanos::from_secs(30);
        }
    }
    let mut restart = group_restart.clone();
    if let Some(own) = &t.restart_policy {
        restart.merge(own);
    }
    t.restart_policy = Some(restart);
}

/// Last path element, as Go's `path.Base` computes it.
fn path_base(p: &str) -> &str {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return if p.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

fn canonicalize_artifact(a: &mut TaskArtifact) {
    set_if_none(&mut a.getter_mode, getter_mode::ANY.to_string());
    set_if_none(&mut a.getter_insecure, false);
    set_if_none(&mut a.getter_source, String::new());
    if a.relative_dest.is_none() {
        let dest = if a.getter_mode.as_deref() == Some(getter_mode::FILE) {
            match path_base(a.getter_source.as_deref().unwrap_or("")) {
                "." | "/" => "local".to_string(),
                base => format!("local/{base}"),
            }
        } else {
            "local/".to_string()
        };
        a.relative_dest = Some(dest);
    }
}

fn canonicalize_template(t: &mut Template) {
    set_if_none(&mut t.source_path, String::new());
    set_if_none(&mut t.dest_path, String::new());
    set_if_none(&mut t.embedded_tmpl, String::new());
    set_if_none(
        &mut t.change_mode,
        template_change_mode::RESTART.to_string(),
    );
    match &mut t.change_signal {
        None => {
            let sig = if t.change_mode.as_deref() == Some(template_change_mode::SIGNAL) {
                "SIGHUP"
            } else {
                ""
            };
            t.change_signal = Some(sig.to_string());
        }
        Some(sig) => *sig = sig.to_uppercase(),
    }
    if let Some(cs) = &mut t.change_script {
        set_if_none(&mut cs.command, String::new());
        set_if_none(&mut cs.timeout, Nanos::from_secs(5));
        set_if_none(&mut cs.fail_on_error, false);
        set_if_none(&mut cs.run_on_first_render, false);
    }
    set_if_none(&mut t.once, false);
    set_if_none(&mut t.splay, Nanos::from_secs(5));
    set_if_none(&mut t.perms, "0644".to_string());
    set_if_none(&mut t.left_delim, "{{".to_string());
    set_if_none(&mut t.right_delim, "}}".to_string());
    set_if_none(&mut t.envvars, false);
    set_if_none(&mut t.err_missing_key, false);
    set_if_none(&mut t.vault_grace, Nanos::ZERO);
}

/// Quotes like Go's `%q` for ordinary strings.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn canonicalize_service(s: &mut Service, job: &str, group: &str, task: Option<&str>) {
    if s.name.is_empty() {
        s.name = match task {
            Some(t) => format!("{job}-{group}-{t}"),
            None => format!("{job}-{group}"),
        };
    }
    // Server side: interpolate the job/group/task placeholders.
    let env_task = task.unwrap_or("group");
    let base = format!("{job}-{group}-{env_task}");
    for (key, value) in [
        ("JOB", job),
        ("TASKGROUP", group),
        ("TASK", env_task),
        ("BASE", base.as_str()),
    ] {
        let needle = format!("${{{key}}}");
        if s.name.contains(&needle) {
            s.name = s.name.replace(&needle, value);
        }
    }
    if let Some(t) = task {
        set_if_empty(&mut s.task_name, t);
    }
    set_if_empty(&mut s.address_mode, address_mode::AUTO);
    set_if_empty(&mut s.on_update, on_update::REQUIRE_HEALTHY);
    set_if_empty(&mut s.provider, service_provider::CONSUL);
    set_if_empty(&mut s.cluster, "default");
    if let Some(w) = &mut s.weights {
        if w.passing <= 0 {
            w.passing = 1;
        }
        if w.warning <= 0 {
            w.warning = 1;
        }
    }
    let service_name = s.name.clone();
    let service_restart = s.check_restart.clone();
    let service_on_update = s.on_update.clone();
    for check in &mut s.checks {
        check.check_restart =
            CheckRestart::merged(service_restart.as_ref(), check.check_restart.as_ref());
        if let Some(cr) = &mut check.check_restart {
            set_if_none(&mut cr.grace, Nanos::from_secs(1));
        }
        check.success_before_passing = check.success_before_passing.max(0);
        check.failures_before_critical = check.failures_before_critical.max(0);
        check.failures_before_warning = check.failures_before_warning.max(0);
        set_if_empty(&mut check.on_update, &service_on_update);
        if check.name.is_empty() {
            check.name = format!("service: {} check", go_quote(&service_name));
        }
        if let Some(t) = task {
            set_if_empty(&mut check.task_name, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_destinations() {
        let mut a = TaskArtifact {
            getter_source: Some("https://example.com/dir/app.tar.gz".into()),
            getter_mode: Some("file".into()),
            ..TaskArtifact::default()
        };
        canonicalize_artifact(&mut a);
        assert_eq!(a.relative_dest.as_deref(), Some("local/app.tar.gz"));
        let mut b = TaskArtifact::default();
        canonicalize_artifact(&mut b);
        assert_eq!(b.relative_dest.as_deref(), Some("local/"));
        assert_eq!(b.getter_mode.as_deref(), Some("any"));
    }

    #[test]
    fn service_names_and_checks() {
        let mut s = Service {
            checks: vec![Default::default()],
            ..Service::default()
        };
        canonicalize_service(&mut s, "web", "frontend", Some("nginx"));
        assert_eq!(s.name, "web-frontend-nginx");
        assert_eq!(s.task_name, "nginx");
        assert_eq!(s.provider, "consul");
        assert_eq!(s.checks[0].name, "service: \"web-frontend-nginx\" check");
        assert_eq!(s.checks[0].on_update, "require_healthy");

        let mut g = Service {
            name: "${JOB}-api".into(),
            ..Service::default()
        };
        canonicalize_service(&mut g, "web", "frontend", None);
        assert_eq!(g.name, "web-api");
        assert_eq!(g.task_name, "");
    }
}
