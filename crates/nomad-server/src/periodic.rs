//! Periodic jobs (after Nomad's `nomad/periodic.go`): a leader-only
//! dispatcher that launches a child of each active periodic job when its
//! cron specs come due, and `Periodic.Force`.
//!
//! A child is the parent with the ID `<parent>/periodic-<launch, Unix
//! seconds>`, `ParentID` set and `Periodic` cleared, registered together
//! with its evaluation in one `JobRegister` entry. The state store records
//! the launch of the parent from that entry (the `PeriodicLaunch` table),
//! so a new leader resumes from the last recorded launch: when the launch
//! that should have followed it is already past, it launches one child now
//! (once, however many were missed) and then follows the schedule from
//! now; a launch that is still to come is left to the schedule. Within a
//! term a late dispatcher catches up launch by launch, as Nomad's does.
//!
//! With `prohibit_overlap` a launch is skipped while any child still has a
//! non-terminal evaluation or allocation. Parameterized templates are not
//! launched (their dispatched children are). A stopped, disabled or
//! deregistered parent is dropped from the schedule at the next change of
//! the jobs table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use nomad_state::command::JobRegister;
use nomad_state::{Command, StateSnapshot, Table};
use nomad_types::api::PeriodicForceResponse;
use nomad_types::consts::{eval_trigger, job_defaults};
use nomad_types::{Evaluation, Job};

use crate::cron::next_launch;
use crate::error::ServerError;
use crate::jobs::new_eval;
use crate::server::Server;

const NANOS: i64 = 1_000_000_000;

/// The ID of the child launched at `launch` (Unix nanoseconds).
pub fn child_id(parent: &str, launch: i64) -> String {
    format!(
        "{parent}{}{}",
        job_defaults::PERIODIC_LAUNCH_SUFFIX,
        launch.div_euclid(NANOS)
    )
}

/// The child of `parent` for a launch at `launch` (Unix nanoseconds).
fn derive_child(parent: &Job, launch: i64) -> Job {
    let mut c = parent.clone();
    let id = child_id(parent.id(), launch);
    c.parent_id = Some(parent.id().to_string());
    c.name = Some(id.clone());
    c.id = Some(id);
    c.periodic = None;
    c.status = None;
    c.status_description = None;
    c.stable = None;
    c.version = None;
    c.create_index = None;
    c.modify_index = None;
    c.job_modify_index = None;
    c.submit_time = None;
    c
}

/// Whether a child of `parent` still runs: one of its evaluations is not
/// terminal, or one of their allocations is not (Nomad's
/// `RunningChildren`).
pub(crate) fn running_children(snap: &StateSnapshot, parent: &Job) -> bool {
    let prefix = format!("{}{}", parent.id(), job_defaults::PERIODIC_LAUNCH_SUFFIX);
    let running = snap
        .jobs_by_id_prefix(parent.namespace(), &prefix)
        .filter(|c| c.parent_id.as_deref() == Some(parent.id()))
        .any(|c| {
            snap.evals_by_job(c.namespace(), c.id()).iter().any(|e| {
                !e.terminal_status()
                    || snap
                        .allocs_by_eval(&e.id)
                        .iter()
                        .any(|a| !a.terminal_status())
            })
        });
    running
}

/// What Nomad's periodic validation adds to the structural checks of
/// `Job::validate`: the time zone exists and every cron spec parses.
pub(crate) fn check_periodic(job: &Job) -> Vec<String> {
    let Some(p) = job.periodic.as_ref().filter(|p| p.enabled.unwrap_or(true)) else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    if let Err(e) = crate::cron::time_zone(p) {
        errs.push(format!(
            "Invalid time zone {:?}: {e}",
            p.time_zone.as_deref().unwrap_or("")
        ));
    }
    if p.spec_type.as_deref().unwrap_or("cron") == "cron" {
        let specs = p
            .spec
            .iter()
            .filter(|s| !s.is_empty())
            .chain(p.specs.iter());
        for spec in specs {
            if let Err(e) = crate::cron::CronExpr::parse(spec) {
                errs.push(format!("Invalid cron spec {spec:?}: {e}"));
            }
        }
    }
    errs
}

/// The next launch of an active periodic job after now (for `Job.Plan`).
pub(crate) fn next_launch_from_now(job: &Job) -> Option<i64> {
    if !job.is_periodic_active() {
        return None;
    }
    next_or_log(job, crate::now_nanos())
}

/// A parent the dispatcher launches (active, periodic, not a template).
fn tracked(job: &Job) -> bool {
    job.is_periodic_active() && !job.is_parameterized()
}

impl Server {
    /// `Periodic.Force`: launches a child of a periodic job now, whatever
    /// its `prohibit_overlap`, and returns the child's evaluation.
    pub async fn job_periodic_force(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Result<PeriodicForceResponse, ServerError> {
        if job_id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing job ID for evaluation".into(),
            ));
        }
        let ns = if namespace.is_empty() {
            job_defaults::NAMESPACE
        } else {
            namespace
        };
        let job = self
            .inner
            .reader
            .snapshot()
            .job_by_id(ns, job_id)
            .ok_or_else(|| ServerError::NotFound("job not found".into()))?;
        if !job.is_periodic() {
            return Err(ServerError::BadRequest(
                "can't force launch non-periodic job".into(),
            ));
        }
        if !tracked(&job) {
            return Err(ServerError::BadRequest(format!(
                "force launch for job {job_id:?} failed: can't force run non-tracked job {job_id}"
            )));
        }
        let (eval, index) = self.launch_periodic(&job, crate::now_nanos()).await?;
        tracing::info!(job_id = %job_id, namespace = %ns, eval_id = %eval.id, "periodic job force launched");
        Ok(PeriodicForceResponse {
            eval_id: eval.id,
            eval_create_index: index,
            index,
        })
    }

    /// Registers the child of `parent` for `launch` with its evaluation.
    async fn launch_periodic(
        &self,
        parent: &Job,
        launch: i64,
    ) -> Result<(Evaluation, u64), ServerError> {
        let now = crate::now_nanos();
        let child = derive_child(parent, launch);
        let eval = new_eval(&child, eval_trigger::PERIODIC_JOB, now);
        let child_id = child.id().to_string();
        let r = self
            .propose(Command::JobRegister(JobRegister {
                job: child,
                eval: Some(eval.clone()),
                submit_time: now,
                ..JobRegister::default()
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(ServerError::Internal(format!(
                "launching periodic job {:?}: {e}",
                parent.id()
            )));
        }
        tracing::info!(job_id = %parent.id(), child_id = %child_id, eval_id = %eval.id, launch_secs = launch.div_euclid(NANOS), "periodic job launched");
        Ok((eval, r.index))
    }
}

/// One tracked parent: the version seen and its next launch.
struct Entry {
    job: Arc<Job>,
    next: Option<i64>,
}

fn next_or_log(job: &Job, after: i64) -> Option<i64> {
    let p = job.periodic.as_ref()?;
    match next_launch(p, after) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(job_id = %job.id(), namespace = %job.namespace(), error = %e, "failed to determine the next periodic launch");
            None
        }
    }
}

/// After a leadership change: a parent whose launch after the recorded
/// one is already past gets one child now (unless it prohibits overlap and
/// a child still runs), as Nomad's `restorePeriodicDispatcher` does.
async fn launch_missed(server: &Server) {
    let snap = server.inner.reader.snapshot();
    let now = crate::now_nanos();
    let parents: Vec<Arc<Job>> = snap.jobs().filter(|j| tracked(j)).cloned().collect();
    for job in parents {
        let Some(last) = snap.periodic_launch(job.namespace(), job.id()) else {
            tracing::warn!(job_id = %job.id(), namespace = %job.namespace(), "no recorded periodic launch time");
            continue;
        };
        let due = next_or_log(&job, last.launch).is_some_and(|n| n < now);
        if !due {
            continue;
        }
        let prohibit = job
            .periodic
            .as_ref()
            .is_some_and(|p| p.prohibit_overlap.unwrap_or(false));
        if prohibit && running_children(&snap, &job) {
            tracing::debug!(job_id = %job.id(), "missed periodic launch skipped: a child still runs");
            continue;
        }
        if snap
            .job_by_id(job.namespace(), &child_id(job.id(), now))
            .is_some()
        {
            continue;
        }
        match server.launch_periodic(&job, now).await {
            Ok(_) => {
                tracing::info!(job_id = %job.id(), "periodic job force run during leadership establishment")
            }
            Err(e) => {
                tracing::warn!(job_id = %job.id(), error = %e, "force run of periodic job failed")
            }
        }
    }
}

type Entries = HashMap<(String, String), Entry>;

/// Follows the jobs table: new parents are scheduled from `now`, changed
/// specs rescheduled from `now`, gone or stopped ones dropped. Only jobs
/// with a periodic launch record are looked at: the FSM writes one when an
/// active periodic job is registered, so they are every job this tracks,
/// and a sync costs the periodic jobs, not all jobs.
fn sync_entries(snap: &StateSnapshot, mut entries: Entries, now: i64) -> Entries {
    let mut fresh = HashMap::with_capacity(entries.len());
    let periodic = snap
        .periodic_launches()
        .filter_map(|l| snap.job_by_id(&l.namespace, &l.id));
    for job in periodic.filter(|j| tracked(j)) {
        let key = (job.namespace().to_string(), job.id().to_string());
        let next = match entries.remove(&key) {
            Some(e)
                if e.job.periodic == job.periodic
                    && e.job.job_modify_index == job.job_modify_index =>
            {
                e.next
            }
            _ => {
                let n = next_or_log(&job, now);
                tracing::debug!(job_id = %job.id(), next = ?n, "tracking periodic job");
                n
            }
        };
        fresh.insert(key, Entry { job, next });
    }
    fresh
}

/// The dispatcher: runs on the leader from leadership to its loss.
pub(crate) async fn run_dispatcher(server: Server) {
    let reader = server.inner.reader.clone();
    // The schedule starts from now before missed runs are made up (as
    // Nomad adds jobs before force-running them), so the launch after a
    // made-up one is never skipped; a clash is caught by the child's ID.
    let mut entries = sync_entries(&reader.snapshot(), HashMap::new(), crate::now_nanos());
    launch_missed(&server).await;
    loop {
        let snap = reader.snapshot();
        let jobs_index = snap.table_index(Table::Jobs);
        let now = crate::now_nanos();
        entries = sync_entries(&snap, entries, now);

        // Launch what is due, oldest first.
        let mut due: Vec<((String, String), i64)> = entries
            .iter()
            .filter_map(|(k, e)| e.next.filter(|n| *n <= now).map(|n| (k.clone(), n)))
            .collect();
        due.sort_by_key(|(_, n)| *n);
        for (key, launch) in &due {
            let Some(e) = entries.get_mut(key) else {
                continue;
            };
            let job = e.job.clone();
            e.next = next_or_log(&job, *launch);
            if snap
                .job_by_id(job.namespace(), &child_id(job.id(), *launch))
                .is_some()
            {
                continue;
            }
            let prohibit = job
                .periodic
                .as_ref()
                .is_some_and(|p| p.prohibit_overlap.unwrap_or(false));
            if prohibit && running_children(&reader.snapshot(), &job) {
                tracing::debug!(job_id = %job.id(), "skipping launch of periodic job because job prohibits overlap");
                continue;
            }
            if let Err(e) = server.launch_periodic(&job, *launch).await {
                tracing::warn!(job_id = %job.id(), error = %e, "failed to launch periodic job");
            }
        }
        if !due.is_empty() {
            continue;
        }

        let wait = entries
            .values()
            .filter_map(|e| e.next)
            .min()
            .map(|n| Duration::from_nanos((n - now).max(0) as u64 + 1_000_000));
        let changed = reader.wait_past(&[Table::Jobs], jobs_index);
        let woke_by_change = match wait {
            Some(d) => {
                tokio::select! {
                    _ = changed => true,
                    _ = tokio::time::sleep(d) => false,
                }
            }
            None => {
                changed.await;
                true
            }
        };
        if woke_by_change {
            // A sync reads every job; under a stream of registrations the
            // jobs table changes thousands of times a second. One sync per
            // window instead of one per change (launch times come from the
            // schedule, not from when the dispatcher looks).
            tokio::time::sleep(SYNC_COALESCE).await;
        }
    }
}

/// How long the dispatcher lets job changes accumulate before it syncs.
const SYNC_COALESCE: Duration = Duration::from_millis(100);
