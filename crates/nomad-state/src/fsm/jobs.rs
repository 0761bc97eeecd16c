//! Jobs: registration and versions, status, summaries, deregistration,
//! stability and periodic launches.

use std::sync::Arc;

use nomad_types::consts::{
    deployment_description, deployment_status, eval_status, job_defaults, job_status, job_type,
};
use nomad_types::serde_util::IsEmpty as _;
use nomad_types::{DesiredTransition, Job, JobChildrenSummary, JobSummary, TaskGroupSummary};

use super::{JobStatusSet, Txn};
use crate::command::{JobBatchDeregister, JobDeregister, JobRegister};
use crate::error::ApplyError;
use crate::snapshot::latest_deployment;
use crate::table::Table;
use crate::tables::{group_key, job_key, JobKey, PeriodicLaunch};

/// True when `new` differs from `old` in anything but the fields the
/// servers manage (Nomad's `Job.SpecChanged`).
pub(crate) fn spec_changed(old: &Job, new: &Job) -> bool {
    let mut c = new.clone();
    c.status = old.status.clone();
    c.status_description = old.status_description.clone();
    c.stable = old.stable;
    c.version = old.version;
    c.create_index = old.create_index;
    c.modify_index = old.modify_index;
    c.job_modify_index = old.job_modify_index;
    c.submit_time = old.submit_time;
    c != *old
}

/// The launch time encoded in a periodic child's ID
/// (`<parent>/periodic-<unix seconds>`), in Unix nanoseconds.
fn periodic_child_launch(child_id: &str) -> Option<i64> {
    let (_, secs) = child_id.rsplit_once(job_defaults::PERIODIC_LAUNCH_SUFFIX)?;
    secs.parse::<i64>().ok()?.checked_mul(1_000_000_000)
}

impl Txn<'_> {
    pub(super) fn job_register(&mut self, c: JobRegister) -> Result<(), ApplyError> {
        let mut job = c.job;
        if !c.canonical {
            job.canonicalize();
        }
        if job.id().is_empty() {
            return Err(ApplyError::Invalid("job without an ID".into()));
        }
        let key = job_key(job.namespace(), job.id());
        let existing = self.t.jobs.get(&key).cloned();
        if let Some(want) = c.enforce_index {
            let have = existing
                .as_ref()
                .map(|j| j.job_modify_index.unwrap_or(0))
                .unwrap_or(0);
            if want != have {
                return Err(ApplyError::Conflict(if want == 0 {
                    format!(
                        "enforcing job modify index {want}: job {:?} already exists",
                        job.id()
                    )
                } else if existing.is_none() {
                    format!(
                        "enforcing job modify index {want}: job {:?} does not exist",
                        job.id()
                    )
                } else {
                    format!("enforcing job modify index {want}: job {:?} exists with conflicting job modify index: {have}", job.id())
                }));
            }
        }
        if let (true, Some(prev)) = (c.preserve_counts, &existing) {
            for tg in &mut job.task_groups {
                if let Some(p) = prev.lookup_task_group(tg.name()) {
                    tg.count = p.count;
                }
            }
        }

        let changed = existing.as_ref().is_none_or(|ex| spec_changed(ex, &job));
        let stored = if changed {
            job.submit_time = Some(c.submit_time);
            self.upsert_job(job, false)?
        } else {
            existing
                .clone()
                .ok_or_else(|| ApplyError::not_found("job", &*key.1))?
        };
        self.spec_changed = Some(changed);
        self.job_modify_index = stored.job_modify_index;
        self.job_version = stored.version;

        // An active periodic job's first launch record is its registration.
        if stored.is_periodic_active() && !self.t.periodic_launches.contains_key(&key) {
            self.upsert_periodic_launch(&key.0, &key.1, c.submit_time)?;
        }
        // A periodic job's child records its parent's launch.
        let parent_id = stored.parent_id.clone().unwrap_or_default();
        if !parent_id.is_empty() {
            let parent = self.t.jobs.get(&job_key(&key.0, &parent_id)).cloned();
            if let Some(parent) = parent {
                if parent.is_periodic() && !parent.is_parameterized() {
                    if let Some(launch) = periodic_child_launch(&key.1) {
                        self.upsert_periodic_launch(&key.0, &parent_id, launch)?;
                    }
                }
            }
        }

        let mut deployment_id = None;
        if let Some(mut d) = c.deployment {
            if let Some(last) = latest_deployment(&self.t.deployments_of_job(&key)) {
                if last.active() {
                    let mut cancelled = (*last).clone();
                    cancelled.status = deployment_status::CANCELLED.to_string();
                    cancelled.status_description = deployment_description::NEWER_JOB.to_string();
                    self.upsert_deployment(cancelled)?;
                }
            }
            d.job_create_index = stored.create_index.unwrap_or(0);
            d.job_modify_index = stored.modify_index.unwrap_or(0);
            d.job_spec_modify_index = stored.job_modify_index.unwrap_or(0);
            d.job_version = stored.version();
            deployment_id = Some(d.id.clone());
            self.upsert_deployment(d)?;
        }

        if let Some(mut e) = c.eval {
            e.job_modify_index = if changed {
                self.index
            } else {
                stored.job_modify_index.unwrap_or(0)
            };
            if let Some(id) = deployment_id {
                e.deployment_id = id;
            }
            self.upsert_evals(vec![e])?;
        }
        Ok(())
    }

    /// Inserts or updates a job (Nomad's `upsertJobImpl`). Bumps the
    /// version and `JobModifyIndex` unless `keep_version`.
    pub fn upsert_job(&mut self, mut job: Job, keep_version: bool) -> Result<Arc<Job>, ApplyError> {
        if job.id().is_empty() {
            return Err(ApplyError::Invalid("job without an ID".into()));
        }
        job.namespace = Some(job.namespace().to_string());
        if job.node_pool.as_deref().unwrap_or("").is_empty() {
            job.node_pool = Some(job_defaults::NODE_POOL.to_string());
        }
        let key = job_key(job.namespace(), job.id());
        let existing = self.t.jobs.get(&key).cloned();
        match &existing {
            Some(ex) => {
                job.create_index = ex.create_index;
                job.modify_index = Some(self.index);
                if !keep_version {
                    job.job_modify_index = Some(self.index);
                    if job.version() <= ex.version() {
                        job.version = Some(ex.version().saturating_add(1));
                    }
                }
                job.status = Some(self.job_status(&job, false).to_string());
            }
            None => {
                job.create_index = Some(self.index);
                job.modify_index = Some(self.index);
                job.job_modify_index = Some(self.index);
                job.version = Some(job.version());
                let status = self.job_status(&job, false);
                job.status = Some(status.to_string());
                self.update_parent_children(&job, "", status)?;
            }
        }
        self.update_summary_with_job(&job);
        let job = Arc::new(job);
        self.upsert_job_version(Arc::clone(&job));
        self.put_job(key, Arc::clone(&job));
        self.touch(Table::Jobs);
        Ok(job)
    }

    /// A job's status from its deployments, allocations and evaluations
    /// (Nomad's `getJobStatus`).
    pub fn job_status(&mut self, job: &Job, eval_delete: bool) -> &'static str {
        if job.job_type() == job_type::SYSTEM || job.is_parameterized() || job.is_periodic() {
            return if job.is_stopped() {
                job_status::DEAD
            } else {
                job_status::RUNNING
            };
        }
        // One key and no copies: a registration computes this twice.
        let key = group_key(job.namespace(), job.id());
        let deploying = self.t.deployments_by_job.with_current(&key, |ds| {
            ds.iter().any(|d| {
                !matches!(
                    d.status.as_str(),
                    deployment_status::CANCELLED
                        | deployment_status::FAILED
                        | deployment_status::SUCCESSFUL
                )
            })
        });
        if deploying {
            return job_status::RUNNING;
        }
        let running = self
            .t
            .allocs_by_job
            .with_current(&key, |allocs| allocs.iter().any(|a| !a.terminal_status()));
        if running {
            return job_status::RUNNING;
        }
        let (pending, has_evals) = self.t.evals_by_job.with_current(&key, |evals| {
            (
                evals.iter().any(|e| !e.terminal_status()),
                !evals.is_empty(),
            )
        });
        if pending {
            return job_status::PENDING;
        }
        if eval_delete || has_evals || job.is_stopped() {
            job_status::DEAD
        } else {
            job_status::PENDING
        }
    }

    /// Recomputes (or forces) the status of each job (Nomad's
    /// `setJobStatuses`); missing jobs are skipped.
    pub fn set_job_statuses(
        &mut self,
        jobs: JobStatusSet,
        eval_delete: bool,
    ) -> Result<(), ApplyError> {
        for (key, force) in jobs {
            let Some(job) = self.t.jobs.get(&key).cloned() else {
                continue;
            };
            let old = job.status.clone().unwrap_or_default();
            let new = match force {
                Some(s) => s,
                None => self.job_status(&job, eval_delete),
            };
            if old == new {
                continue;
            }
            let mut updated = (*job).clone();
            updated.status = Some(new.to_string());
            updated.modify_index = Some(self.index);
            let updated = Arc::new(updated);
            self.put_job(key, Arc::clone(&updated));
            self.touch(Table::Jobs);
            self.update_parent_children(&updated, &old, new)?;
            self.upsert_job_version(updated);
        }
        Ok(())
    }

    /// Moves a child job between its parent's Pending/Running/Dead counts.
    fn update_parent_children(
        &mut self,
        job: &Job,
        old: &str,
        new: &str,
    ) -> Result<(), ApplyError> {
        let parent = job.parent_id.as_deref().unwrap_or("");
        if parent.is_empty() {
            return Ok(());
        }
        let pkey = job_key(job.namespace(), parent);
        let Some(summary) = self.t.job_summaries.get(&pkey).cloned() else {
            return Ok(());
        };
        let mut ps = (*summary).clone();
        let children = ps.children.get_or_insert_with(JobChildrenSummary::default);
        match old {
            "" => {}
            job_status::PENDING => children.pending = children.pending.saturating_sub(1),
            job_status::RUNNING => children.running = children.running.saturating_sub(1),
            job_status::DEAD => children.dead = children.dead.saturating_sub(1),
            other => {
                return Err(ApplyError::Invalid(format!(
                    "unknown old job status {other:?}"
                )))
            }
        }
        match new {
            job_status::PENDING => children.pending = children.pending.saturating_add(1),
            job_status::RUNNING => children.running = children.running.saturating_add(1),
            job_status::DEAD => children.dead = children.dead.saturating_add(1),
            other => {
                return Err(ApplyError::Invalid(format!(
                    "unknown new job status {other:?}"
                )))
            }
        }
        ps.modify_index = self.index;
        self.t.job_summaries.insert(pkey, Arc::new(ps));
        self.touch(Table::JobSummary);
        Ok(())
    }

    /// Creates the job's summary, or adds groups it lacks.
    fn update_summary_with_job(&mut self, job: &Job) {
        let key = job_key(job.namespace(), job.id());
        let (mut summary, mut changed) = match self.t.job_summaries.get(&key) {
            Some(s) => ((**s).clone(), false),
            None => (
                JobSummary {
                    job_id: key.1.to_string(),
                    namespace: key.0.to_string(),
                    children: Some(JobChildrenSummary::default()),
                    create_index: self.index,
                    ..JobSummary::default()
                },
                true,
            ),
        };
        for tg in &job.task_groups {
            if !summary.summary.contains_key(tg.name()) {
                summary
                    .summary
                    .insert(tg.name().to_string(), TaskGroupSummary::default());
                changed = true;
            }
        }
        if changed {
            summary.summary.fit();
            summary.modify_index = self.index;
            self.t.job_summaries.insert(key, Arc::new(summary));
            self.touch(Table::JobSummary);
        }
    }

    /// Records a job in its version history, keeping the newest
    /// `job_tracked_versions` untagged versions (and the newest stable one).
    fn upsert_job_version(&mut self, job: Arc<Job>) {
        let key = job_key(job.namespace(), job.id());
        let mut versions: Vec<Arc<Job>> = self
            .t
            .job_versions
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter(|j| j.version() != job.version())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        versions.push(job);
        versions.sort_by_key(|j| std::cmp::Reverse(j.version()));
        let max = self.config.job_tracked_versions.max(1);
        let untagged: Vec<u64> = versions
            .iter()
            .filter(|j| j.version_tag.is_none())
            .map(|j| j.version())
            .collect();
        if untagged.len() > max {
            let stable = versions
                .iter()
                .filter(|j| j.version_tag.is_none())
                .position(|j| j.stable.unwrap_or(false));
            // Keep the newest stable version even when it is the oldest.
            let drop = if stable == Some(max) {
                untagged[max - 1]
            } else {
                untagged[max]
            };
            versions.retain(|j| j.version_tag.is_some() || j.version() != drop);
        }
        self.t.job_versions.insert(key, Arc::from(versions));
        self.touch(Table::JobVersion);
    }

    /// Sets a version's `Stable` flag (and the current job's, when it is
    /// that version). Missing versions are ignored, as in Nomad.
    pub fn update_job_stability(
        &mut self,
        ns: &str,
        id: &str,
        version: u64,
        stable: bool,
    ) -> Result<(), ApplyError> {
        let key = job_key(ns, id);
        let Some(found) = self
            .t
            .job_versions
            .get(&key)
            .and_then(|v| v.iter().find(|j| j.version() == version).cloned())
        else {
            return Ok(());
        };
        if found.stable.unwrap_or(false) == stable {
            return Ok(());
        }
        let mut copy = (*found).clone();
        copy.stable = Some(stable);
        copy.modify_index = Some(self.index);
        let copy = Arc::new(copy);
        // Unlike Nomad, an old version never replaces the current job.
        if self
            .t
            .jobs
            .get(&key)
            .is_some_and(|cur| cur.version() == version)
        {
            let mut cur = (*copy).clone();
            cur.status = self.t.jobs.get(&key).and_then(|c| c.status.clone());
            self.put_job(key, Arc::new(cur));
            self.touch(Table::Jobs);
        }
        self.upsert_job_version(copy);
        Ok(())
    }

    pub fn upsert_periodic_launch(
        &mut self,
        ns: &str,
        id: &str,
        launch: i64,
    ) -> Result<(), ApplyError> {
        if id.is_empty() {
            return Err(ApplyError::Invalid(
                "periodic launch without a job ID".into(),
            ));
        }
        let key = job_key(ns, id);
        let create_index = self
            .t
            .periodic_launches
            .get(&key)
            .map(|l| l.create_index)
            .unwrap_or(self.index);
        let rec = PeriodicLaunch {
            id: id.to_string(),
            namespace: ns.to_string(),
            launch,
            create_index,
            modify_index: self.index,
        };
        self.t.periodic_launches.insert(key, Arc::new(rec));
        self.touch(Table::PeriodicLaunch);
        Ok(())
    }

    pub(super) fn job_deregister(&mut self, c: JobDeregister) -> Result<(), ApplyError> {
        let sp = self.savepoint();
        if let Err(e) = self.deregister_one(
            &c.namespace,
            &c.job_id,
            c.purge,
            c.submit_time,
            c.no_shutdown_delay,
        ) {
            // As in Nomad the evaluation is written even so.
            self.rollback_to(sp);
            self.job_modify_index = None;
            self.job_version = None;
            self.soft_error = Some(e);
        }
        if let Some(mut e) = c.eval {
            e.job_modify_index = self.index;
            self.upsert_evals(vec![e])?;
        }
        Ok(())
    }

    pub(super) fn job_batch_deregister(&mut self, c: JobBatchDeregister) -> Result<(), ApplyError> {
        for j in &c.jobs {
            self.deregister_one(&j.namespace, &j.job_id, j.purge, c.submit_time, false)?;
        }
        self.upsert_evals(c.evals)
    }

    fn deregister_one(
        &mut self,
        ns: &str,
        id: &str,
        purge: bool,
        submit_time: i64,
        no_shutdown_delay: bool,
    ) -> Result<(), ApplyError> {
        let key = job_key(ns, id);
        if no_shutdown_delay {
            let allocs = self.t.allocs_of_job(&key);
            let t = DesiredTransition {
                no_shutdown_delay: Some(true),
                ..DesiredTransition::default()
            };
            for a in allocs.iter() {
                self.update_alloc_desired_transition(&a.id, &t);
            }
            self.touch(Table::Allocs);
        }
        if purge {
            self.delete_job(&key)?;
            if self.t.periodic_launches.remove(&key).is_some() {
                self.touch(Table::PeriodicLaunch);
            }
            return Ok(());
        }
        let current = self
            .t
            .jobs
            .get(&key)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("job", id))?;
        let mut stopped = (*current).clone();
        stopped.stop = Some(true);
        if submit_time != 0 {
            stopped.submit_time = Some(submit_time);
        }
        for tg in &mut stopped.task_groups {
            if let Some(s) = &mut tg.scaling {
                s.enabled = Some(false);
            }
        }
        let stored = self.upsert_job(stopped, false)?;
        self.job_modify_index = stored.job_modify_index;
        self.job_version = stored.version;
        Ok(())
    }

    /// Removes a job and everything of it (Nomad's `DeleteJobTxn`).
    fn delete_job(&mut self, key: &JobKey) -> Result<(), ApplyError> {
        let job = self
            .t
            .jobs
            .get(key)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("job", &*key.1))?;
        let parent = job.parent_id.as_deref().unwrap_or("");
        if !parent.is_empty() {
            let pkey = job_key(&key.0, parent);
            if let Some(ps) = self.t.job_summaries.get(&pkey).cloned() {
                if let Some(children) = &ps.children {
                    let mut c = children.clone();
                    let status = job.status.as_deref().unwrap_or("");
                    let moved = match status {
                        job_status::PENDING => {
                            c.pending = c.pending.saturating_sub(1);
                            true
                        }
                        job_status::RUNNING => {
                            c.running = c.running.saturating_sub(1);
                            true
                        }
                        job_status::DEAD => false,
                        other => {
                            return Err(ApplyError::Invalid(format!(
                                "unknown old job status {other:?}"
                            )))
                        }
                    };
                    if moved {
                        c.dead = c.dead.saturating_add(1);
                        let mut ps = (*ps).clone();
                        ps.children = Some(c);
                        ps.modify_index = self.index;
                        self.t.job_summaries.insert(pkey, Arc::new(ps));
                        self.touch(Table::JobSummary);
                    }
                }
            }
        }
        self.remove_job(key);
        self.touch(Table::Jobs);
        self.t.job_versions.remove(key);
        self.touch(Table::JobVersion);

        let deployments = self.t.deployments_of_job(key);
        for d in deployments.iter() {
            self.remove_deployment(&d.id);
            self.touch(Table::Deployment);
        }
        let evals = self.t.evals_of_job(key);
        for e in evals.iter().filter(|e| e.status == eval_status::PENDING) {
            let mut done = (**e).clone();
            done.status = eval_status::COMPLETE.to_string();
            done.status_description = format!("job {} deleted", key.1);
            self.put_eval(Arc::new(done));
            self.touch(Table::Evals);
        }
        let allocs = self.t.allocs_of_job(key);
        for a in allocs.iter() {
            self.remove_alloc(&a.id);
        }
        self.touch(Table::Allocs);
        self.t.job_summaries.remove(key);
        self.touch(Table::JobSummary);
        if self.t.scaling_events.remove(key).is_some() {
            self.touch(Table::ScalingEvent);
        }
        Ok(())
    }

    /// The stored job version matching a plan's job, so that allocations
    /// share one copy per job version.
    pub fn intern_job(&self, job: &Arc<Job>) -> Arc<Job> {
        let key = job_key(job.namespace(), job.id());
        self.t
            .job_versions
            .get(&key)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| {
                        v.version() == job.version()
                            && v.job_modify_index == job.job_modify_index
                            && v.create_index == job.create_index
                    })
                    .cloned()
            })
            .unwrap_or_else(|| Arc::clone(job))
    }
}
