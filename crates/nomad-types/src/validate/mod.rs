//! Job validation: every problem the Nomad server would reject, reported at
//! once, each with the JSON path of the offending field.
//!
//! [`Job::validate`] judges the job as the server would see it after
//! defaulting: it validates a canonicalized copy, so unset fields take their
//! defaults and only explicit values (or missing required ones) are flagged.

mod rules;
mod task;

use std::collections::{BTreeMap, BTreeSet};

use crate::consts::{dispatch_payload, job_defaults, job_type};
use crate::group::TaskGroup;
use crate::job::Job;

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    /// JSON path, e.g. `TaskGroups[0].Tasks[1].Driver`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Collects errors.
#[derive(Default)]
pub(crate) struct Errors(Vec<ValidationError>);

impl Errors {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ValidationError {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Maximum length of the UI description.
const MAX_DESCRIPTION_CHARS: usize = 1000;

impl Job {
    /// Validates the job; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut job = self.clone();
        job.canonicalize();
        job.validate_canonical()
    }

    /// [`Job::validate`] for a job that is already canonical (its
    /// `canonicalize` has run): the same checks, without the copy.
    pub fn validate_canonical(&self) -> Result<(), Vec<ValidationError>> {
        let mut errs = Errors::default();
        validate_job(self, &mut errs);
        if errs.0.is_empty() {
            Ok(())
        } else {
            Err(errs.0)
        }
    }
}

fn validate_job(j: &Job, e: &mut Errors) {
    let kind = j.job_type();
    if j.region.as_deref() == Some("") && j.multiregion.is_none() {
        e.add("Region", "missing job region");
    }
    let id = j.id();
    if id.is_empty() {
        e.add("ID", "missing job ID");
    } else if id.contains(' ') {
        e.add("ID", "job ID contains a space");
    } else if id.contains('\0') {
        e.add("ID", "job ID contains a null character");
    }
    match j.name.as_deref() {
        None | Some("") => e.add("Name", "missing job name"),
        Some(n) if n.contains('\0') => e.add("Name", "job name contains a null character"),
        _ => {}
    }
    if j.namespace().is_empty() {
        e.add("Namespace", "job must be in a namespace");
    }
    match kind {
        job_type::SERVICE
        | job_type::BATCH
        | job_type::SYSTEM
        | job_type::SYSBATCH
        | job_type::CORE => {}
        "" => e.add("Type", "missing job type"),
        other => e.add(
            "Type",
            format!("invalid job type {other:?}: must be service, batch, system or sysbatch"),
        ),
    }
    let priority = j.priority();
    if !(job_defaults::MIN_PRIORITY..=job_defaults::MAX_PRIORITY).contains(&priority) {
        e.add(
            "Priority",
            format!(
                "job priority must be between [{}, {}] (got {priority})",
                job_defaults::MIN_PRIORITY,
                job_defaults::MAX_PRIORITY
            ),
        );
    }
    if j.datacenters.is_empty() && !j.is_multiregion() {
        e.add("Datacenters", "missing job datacenters");
    }
    for (i, dc) in j.datacenters.iter().enumerate() {
        if dc.is_empty() {
            e.add(
                format!("Datacenters[{i}]"),
                "datacenter must be a non-empty string",
            );
        }
    }
    if j.task_groups.is_empty() {
        e.add("TaskGroups", "job must have at least one task group");
    }
    rules::constraints("Constraints", &j.constraints, e);
    let system = kind == job_type::SYSTEM;
    if system && !j.affinities.is_empty() {
        e.add("Affinities", "system jobs may not have an affinity block");
    } else {
        rules::affinities("Affinities", &j.affinities, e);
    }
    if system && !j.spreads.is_empty() {
        e.add("Spreads", "system jobs may not have a spread block");
    } else {
        rules::spreads("Spreads", &j.spreads, e);
    }
    if let Some(ui) = &j.ui {
        let len = ui.description.chars().count();
        if len > MAX_DESCRIPTION_CHARS {
            e.add(
                "UI.Description",
                format!(
                    "UI description must be under {MAX_DESCRIPTION_CHARS} characters (got {len})"
                ),
            );
        }
    }
    if let Some(tag) = &j.version_tag {
        if tag.description.chars().count() > MAX_DESCRIPTION_CHARS {
            e.add(
                "VersionTag.Description",
                format!("version tag description must be under {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
    }
    let service_like = kind == job_type::SERVICE || kind == job_type::SYSTEM;
    // An all-zero update block (how Nomad's server writes "none") is fine.
    if j.update.as_ref().is_some_and(|u| !u.is_empty()) && !service_like {
        e.add(
            "Update",
            format!("job type {kind:?} does not allow an update block"),
        );
    }
    if j.migrate.is_some() && kind != job_type::SERVICE {
        e.add(
            "Migrate",
            format!("job type {kind:?} does not allow a migrate block"),
        );
    }
    if j.reschedule.is_some() && (kind == job_type::SYSTEM || kind == job_type::SYSBATCH) {
        e.add(
            "Reschedule",
            "system and sysbatch jobs may not have a reschedule policy",
        );
    }

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in j.task_groups.iter().enumerate() {
        let p = format!("TaskGroups[{i}]");
        let name = g.name();
        if name.is_empty() {
            e.add(format!("{p}.Name"), "missing task group name");
        } else if let Some(first) = seen.get(name) {
            e.add(
                format!("{p}.Name"),
                format!("task group name {name:?} is already used by TaskGroups[{first}]"),
            );
        } else {
            seen.insert(name, i);
        }
        if system && g.count() > 1 {
            e.add(
                format!("{p}.Count"),
                format!(
                    "count cannot exceed 1 with the system scheduler (got {})",
                    g.count()
                ),
            );
        }
        validate_group(j, g, &p, e);
    }

    if let Some(p) = &j.periodic {
        if p.enabled.unwrap_or(true) {
            if kind != job_type::BATCH && kind != job_type::SYSBATCH {
                e.add(
                    "Periodic",
                    "periodic can only be used with \"batch\" or \"sysbatch\" jobs",
                );
            }
            rules::periodic(p, e);
        }
    }
    if let Some(pj) = &j.parameterized_job {
        if !j.dispatched {
            if kind != job_type::BATCH && kind != job_type::SYSBATCH {
                e.add(
                    "ParameterizedJob",
                    "parameterized jobs can only be used with \"batch\" or \"sysbatch\" jobs",
                );
            }
            match pj.payload.as_str() {
                dispatch_payload::OPTIONAL | dispatch_payload::REQUIRED | dispatch_payload::FORBIDDEN => {}
                other => e.add(
                    "ParameterizedJob.Payload",
                    format!("unknown payload requirement {other:?}: must be optional, required or forbidden"),
                ),
            }
            let required: BTreeSet<&String> = pj.meta_required.iter().collect();
            let both: Vec<&String> = pj
                .meta_optional
                .iter()
                .filter(|k| required.contains(k))
                .collect();
            if !both.is_empty() {
                e.add(
                    "ParameterizedJob.MetaOptional",
                    format!(
                        "required and optional meta keys must be disjoint; both contain {both:?}"
                    ),
                );
            }
        }
    }
}

fn validate_group(j: &Job, g: &TaskGroup, p: &str, e: &mut Errors) {
    let kind = j.job_type();
    let system_like = kind == job_type::SYSTEM || kind == job_type::SYSBATCH;
    if g.name().contains('\0') {
        e.add(
            format!("{p}.Name"),
            "task group name contains a null character",
        );
    }
    if g.count() < 0 {
        e.add(
            format!("{p}.Count"),
            format!("count cannot be negative (got {})", g.count()),
        );
    }
    if g.tasks.is_empty() {
        e.add(format!("{p}.Tasks"), "missing tasks for task group");
    }
    rules::non_negative(format!("{p}.ShutdownDelay"), g.shutdown_delay, e);
    if let Some(d) = &g.disconnect {
        rules::disconnect(&format!("{p}.Disconnect"), d, kind, e);
    }
    if let Some(max_run) = g.max_run_duration {
        if max_run.0 <= 0 {
            e.add(
                format!("{p}.MaxRunDuration"),
                "max_run_duration must be greater than zero",
            );
        }
        if kind != job_type::BATCH && kind != job_type::SYSBATCH {
            e.add(
                format!("{p}.MaxRunDuration"),
                format!("job type {kind:?} does not allow max_run_duration"),
            );
        }
    }
    rules::constraints(&format!("{p}.Constraints"), &g.constraints, e);
    if kind == job_type::SYSTEM && !g.affinities.is_empty() {
        e.add(
            format!("{p}.Affinities"),
            "system jobs may not have an affinity block",
        );
    } else {
        rules::affinities(&format!("{p}.Affinities"), &g.affinities, e);
    }
    if kind == job_type::SYSTEM && !g.spreads.is_empty() {
        e.add(
            format!("{p}.Spreads"),
            "system jobs may not have a spread block",
        );
    } else {
        rules::spreads(&format!("{p}.Spreads"), &g.spreads, e);
    }
    if let Some(r) = &g.restart_policy {
        rules::restart(&format!("{p}.RestartPolicy"), r, e);
    }
    if let Some(r) = &g.reschedule_policy {
        // A job-level policy on a system job is reported once, at the job.
        if system_like {
            if j.reschedule.is_none() {
                e.add(
                    format!("{p}.ReschedulePolicy"),
                    "system and sysbatch jobs may not have a reschedule policy",
                );
            }
        } else {
            rules::reschedule(&format!("{p}.ReschedulePolicy"), r, e);
        }
    }
    if let Some(d) = &g.ephemeral_disk {
        let size = d.size_mb.unwrap_or(0);
        if size < 10 {
            e.add(
                format!("{p}.EphemeralDisk.SizeMB"),
                format!("ephemeral disk must be at least 10 MB (got {size})"),
            );
        }
    }
    if let Some(u) = &g.update {
        let job_level_reported = j.update.as_ref().is_some_and(|u| !u.is_empty());
        if kind != job_type::SERVICE && kind != job_type::SYSTEM && !job_level_reported {
            e.add(
                format!("{p}.Update"),
                format!("job type {kind:?} does not allow an update block"),
            );
        }
        rules::update(&format!("{p}.Update"), u, e);
    }
    if let Some(m) = &g.migrate {
        if kind == job_type::SERVICE {
            rules::migrate(&format!("{p}.Migrate"), m, e);
        } else if j.migrate.is_none() {
            e.add(
                format!("{p}.Migrate"),
                format!("job type {kind:?} does not allow a migrate block"),
            );
        }
    }

    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut leaders = 0;
    for (i, t) in g.tasks.iter().enumerate() {
        if t.name.is_empty() {
            // Reported by the task validation.
        } else if let Some(first) = names.get(t.name.as_str()) {
            e.add(
                format!("{p}.Tasks[{i}].Name"),
                format!("task name {:?} is already used by Tasks[{first}]", t.name),
            );
        } else {
            names.insert(&t.name, i);
        }
        if t.leader {
            leaders += 1;
        }
    }
    if leaders > 1 {
        e.add(
            format!("{p}.Tasks"),
            "only one task may be marked as leader",
        );
    }
    if !g.tasks.is_empty() && !g.tasks.iter().any(|t| t.is_main()) {
        e.add(
            format!("{p}.Tasks"),
            "task group must have at least one main (non-lifecycle) task",
        );
    }

    let canaries = g.update.as_ref().and_then(|u| u.canary).unwrap_or(0);
    for (name, v) in &g.volumes {
        rules::volume(&format!("{p}.Volumes[{name}]"), v, kind, canaries, e);
    }
    rules::group_networks(p, g, e);
    if let Some(s) = &g.scaling {
        rules::scaling(&format!("{p}.Scaling"), s, g.count(), e);
    }
    let ports = rules::port_labels(g);
    for (i, s) in g.services.iter().enumerate() {
        task::service(&format!("{p}.Services[{i}]"), s, &ports, true, e);
    }
    for (i, t) in g.tasks.iter().enumerate() {
        task::task(&format!("{p}.Tasks[{i}]"), t, g, kind, &ports, e);
    }
}
