//! The deployment watcher (leader only; after Nomad's
//! `nomad/deploymentwatcher`).
//!
//! The leader runs [`Server::watch_deployments`] on every tick of its
//! loop; a pass does nothing unless the deployments, allocations or jobs
//! changed since the last one or a progress deadline came due. For each
//! active deployment it:
//!
//! * cancels it when its job moved on: stopped ("Cancelled because job is
//!   stopped") or a newer version ("Cancelled due to newer version of
//!   job");
//! * leaves a paused one alone: no evaluations, and its progress deadline
//!   does not run (resuming starts it over);
//! * fails it on an unhealthy allocation when its group has no progress
//!   deadline or the allocation may not be rescheduled any more ("Failed
//!   due to unhealthy allocations"); otherwise marks the allocation for
//!   replacement;
//! * promotes it when every group with canaries asks for `auto_promote`
//!   and all their canaries are healthy;
//! * evaluates the job when an allocation became healthy after the job's
//!   latest evaluation, so the scheduler places the next `max_parallel`
//!   batch (and marks the deployment successful once every group has its
//!   healthy allocations);
//! * fails it when a group that is not done made no progress by its
//!   `RequireProgressBy` ("Failed due to progress deadline"), unless the
//!   group only waits for a promotion of healthy canaries.
//!
//! A failure rolls the job back to its latest stable version when the
//! failing groups ask for `auto_revert` (see [`super::rollback`]). Every
//! status change writes an evaluation for the job in the same entry.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use nomad_state::command::{AllocUpdateDesiredTransition, DeploymentPromotion, EvalUpdate};
use nomad_state::{Command, StateSnapshot, Table};
use nomad_types::consts::{deployment_description, deployment_status, eval_status};
use nomad_types::{Allocation, Deployment, DeploymentState, DesiredTransition, Job};

use super::deployment_eval;
use crate::server::Server;

/// What the watcher remembers between passes (leader only).
///
/// A pass looks only at the deployments something happened to: the leader
/// marks them dirty when it applies a plan for their job or takes client
/// updates of their allocations, and their progress deadlines come due. A
/// full pass over every active deployment runs on leadership, when forced,
/// and at most every [`FULL_PASS_EVERY`] while the state changes, to catch
/// what no mark covers (writes made through another server). With
/// thousands of deployments of a thousand allocations each (C1M), a pass per
/// change over everything would read every allocation ten times a second.
#[derive(Debug)]
pub(crate) struct WatchState {
    memo: Mutex<Memo>,
    dirty: Mutex<Dirty>,
}

impl Default for WatchState {
    fn default() -> Self {
        WatchState {
            memo: Mutex::new(Memo::default()),
            dirty: Mutex::new(Dirty {
                ids: HashSet::new(),
                all: true,
            }),
        }
    }
}

#[derive(Debug, Default)]
struct Memo {
    /// The greatest index of the watched tables at the last full pass
    /// (0: run the next pass whatever the state).
    seen: u64,
    /// When the last full pass ran.
    last_full: Option<std::time::Instant>,
    /// Progress deadlines still ahead, per deployment, Unix nanoseconds.
    deadlines: Deadlines,
}

/// Progress deadlines by deployment, also in time order so that a pass
/// finds the due ones without reading the others.
#[derive(Debug, Default)]
struct Deadlines {
    by_id: HashMap<String, i64>,
    by_time: BTreeSet<(i64, String)>,
}

impl Deadlines {
    fn set(&mut self, id: String, t: Option<i64>) {
        if let Some(old) = self.by_id.remove(&id) {
            self.by_time.remove(&(old, id.clone()));
        }
        if let Some(t) = t {
            self.by_time.insert((t, id.clone()));
            self.by_id.insert(id, t);
        }
    }

    fn clear(&mut self) {
        self.by_id.clear();
        self.by_time.clear();
    }

    /// The deployments whose deadline is at or before `now`.
    fn due(&self, now: i64) -> HashSet<String> {
        self.by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[derive(Debug, Default)]
struct Dirty {
    ids: HashSet<String>,
    all: bool,
}

/// Longest time between full passes while the watched tables change.
const FULL_PASS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

const WATCHED: [Table; 3] = [Table::Deployment, Table::Allocs, Table::Jobs];

/// The allocation's deployment health is healthy.
pub(crate) fn is_healthy(a: &Allocation) -> bool {
    a.deployment_status
        .as_ref()
        .is_some_and(|d| d.healthy == Some(true))
}

fn is_unhealthy(a: &Allocation) -> bool {
    a.deployment_status
        .as_ref()
        .is_some_and(|d| d.healthy == Some(false))
}

/// Whether an allocation that failed at `now` may still be rescheduled
/// under its group's policy (Nomad's `Allocation.RescheduleEligible`).
fn reschedule_eligible(a: &Allocation, job: &Job, now: i64) -> bool {
    let tg = a
        .job
        .as_deref()
        .and_then(|j| j.lookup_task_group(&a.task_group))
        .or_else(|| job.lookup_task_group(&a.task_group));
    let Some(p) = tg.and_then(|g| g.reschedule_policy.as_ref()) else {
        return false;
    };
    let attempts = p.attempts.unwrap_or(0);
    let unlimited = p.unlimited.unwrap_or(false);
    if unlimited {
        return true;
    }
    if attempts <= 0 {
        return false;
    }
    let events = a
        .reschedule_tracker
        .as_ref()
        .map(|t| &t.events[..])
        .unwrap_or(&[]);
    let interval = p.interval.map_or(0, |n| n.0);
    let attempted = events
        .iter()
        .filter(|e| now.saturating_sub(e.reschedule_time) < interval)
        .count();
    (attempted as i64) < attempts
}

/// An unhealthy allocation fails the deployment at once when its group has
/// no progress deadline or it may not be replaced (Nomad's
/// `shouldFailEarly`).
fn fails_early(s: &DeploymentState, a: &Allocation, job: &Job, now: i64) -> bool {
    is_unhealthy(a) && (s.progress_deadline.0 == 0 || !reschedule_eligible(a, job, now))
}

/// The index of the newest state the scheduler has seen, or will see, for
/// the job: its newest non-cancelled evaluation.
fn latest_eval_index(snap: &StateSnapshot, job: &Job) -> u64 {
    snap.evals_by_job(job.namespace(), job.id())
        .iter()
        .filter(|e| e.status != eval_status::CANCELLED)
        .map(|e| {
            if e.snapshot_index != 0 {
                e.snapshot_index
            } else {
                e.create_index
            }
        })
        .max()
        .unwrap_or(0)
}

/// Healthy, live allocations of the deployment per group.
fn healthy_by_group(allocs: &[Arc<Allocation>]) -> BTreeMap<&str, i64> {
    let mut m = BTreeMap::new();
    for a in allocs
        .iter()
        .filter(|a| !a.terminal_status() && is_healthy(a))
    {
        *m.entry(a.task_group.as_str()).or_insert(0) += 1;
    }
    m
}

/// The earliest `RequireProgressBy` of a group that is not done yet
/// (Nomad's `getDeploymentProgressCutoff`); groups without one are skipped.
fn progress_cutoff(d: &Deployment, allocs: &[Arc<Allocation>]) -> Option<i64> {
    let healthy = healthy_by_group(allocs);
    d.task_groups
        .iter()
        .filter(|(tg, s)| {
            let awaiting_promotion = s.desired_canaries != 0 && !s.promoted;
            let done = !awaiting_promotion
                && healthy.get(tg.as_str()).copied().unwrap_or(0) >= s.desired_total;
            !done && !s.require_progress_by.is_zero()
        })
        .filter_map(|(_, s)| s.require_progress_by.to_unix_nanos())
        .min()
}

/// At the progress deadline: whether some group falls short (a group
/// awaiting promotion needs only its healthy canaries), and whether a
/// failing group asks for `auto_revert` (Nomad's `shouldFail`).
fn should_fail(d: &Deployment) -> (bool, bool) {
    let mut fail = false;
    for s in d.task_groups.values() {
        let enough = if s.desired_canaries > 0 && !s.promoted {
            s.healthy_allocs >= s.desired_canaries
        } else {
            s.healthy_allocs >= s.desired_total
        };
        if enough {
            continue;
        }
        fail = true;
        if s.auto_revert {
            return (true, true);
        }
    }
    (fail, false)
}

/// Every group with canaries asks for `auto_promote` and has all its
/// canaries placed and healthy (Nomad's `autoPromoteDeployment`).
fn auto_promote_ready(d: &Deployment, snap: &StateSnapshot) -> bool {
    let placed = d
        .task_groups
        .values()
        .any(|s| !s.placed_canaries.is_empty());
    if !placed || !d.requires_promotion() {
        return false;
    }
    d.task_groups
        .values()
        .filter(|s| s.desired_canaries >= 1)
        .all(|s| {
            let healthy = s
                .placed_canaries
                .iter()
                .filter_map(|id| snap.alloc_by_id(id))
                .filter(|a| !a.terminal_status() && is_healthy(a))
                .count() as i64;
            s.auto_promote
                && s.placed_canaries.len() as i64 >= s.desired_canaries
                && healthy >= s.desired_canaries
        })
}

/// The outcome of watching one deployment.
struct Watched {
    /// A progress deadline still ahead.
    deadline: Option<i64>,
    /// Every write it needed went through.
    ok: bool,
}

impl Server {
    /// One pass of the deployment watcher over the active deployments (see
    /// the module documentation). Cheap when nothing changed.
    pub(crate) async fn watch_deployments(&self) {
        self.watch_pass(false).await
    }

    /// Runs one whole pass of the deployment watcher now, whether or not
    /// anything changed (tests use it to observe a pass deterministically;
    /// the leader runs passes on its own).
    #[doc(hidden)]
    pub async fn watch_deployments_now(&self) {
        self.watch_pass(true).await
    }

    /// Marks deployments for the next pass.
    pub(crate) fn deployments_changed(&self, ids: impl IntoIterator<Item = String>) {
        let mut d = self
            .inner
            .deployment_watch
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        d.ids.extend(ids.into_iter().filter(|i| !i.is_empty()));
    }

    /// Marks every deployment of a job for the next pass.
    pub(crate) fn job_deployments_changed(&self, namespace: &str, job_id: &str) {
        let snap = self.inner.reader.snapshot();
        let ids: Vec<String> = snap
            .deployments_by_job(namespace, job_id)
            .iter()
            .map(|d| d.id.clone())
            .collect();
        self.deployments_changed(ids);
    }

    /// The next pass looks at every active deployment.
    pub(crate) fn all_deployments_changed(&self) {
        self.inner
            .deployment_watch
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .all = true;
    }

    async fn watch_pass(&self, force: bool) {
        let snap = self.inner.reader.snapshot();
        let now = crate::now_nanos();
        let seen = snap.indexes().max_of(&WATCHED);
        let (dirty, all) = {
            let mut d = self
                .inner
                .deployment_watch
                .dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            (std::mem::take(&mut d.ids), std::mem::take(&mut d.all))
        };
        let (full, due) = {
            let memo = self
                .inner
                .deployment_watch
                .memo
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let stale = memo.seen != seen
                && memo
                    .last_full
                    .is_none_or(|t| t.elapsed() >= FULL_PASS_EVERY);
            let due = memo.deadlines.due(now);
            (force || all || stale || memo.seen == 0, due)
        };
        if !full && dirty.is_empty() && due.is_empty() {
            return;
        }
        let is_active = |d: &Deployment| {
            d.status == deployment_status::RUNNING || d.status == deployment_status::PAUSED
        };
        // A partial pass reads only its deployments (by ID): with many
        // active deployments, a scan of all of them per change was most of
        // a pass.
        let mut deadlines = Vec::new();
        let active: Vec<Arc<Deployment>> = if full {
            snap.deployments()
                .filter(|d| is_active(d))
                .cloned()
                .collect()
        } else {
            let ids: BTreeSet<&String> = dirty.iter().chain(due.iter()).collect();
            let mut active = Vec::with_capacity(ids.len());
            for id in ids {
                match snap.deployment_by_id(id) {
                    Some(d) if is_active(&d) => active.push(d),
                    // Gone or finished: no deadline to keep.
                    _ => deadlines.push((id.clone(), None)),
                }
            }
            active
        };
        let mut ok = true;
        for d in &active {
            let w = self.watch_one(&snap, d, now).await;
            ok &= w.ok;
            deadlines.push((d.id.clone(), w.deadline));
        }
        let mut memo = self
            .inner
            .deployment_watch
            .memo
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if full {
            memo.deadlines.clear();
            memo.seen = if ok { seen } else { 0 };
            memo.last_full = Some(std::time::Instant::now());
        } else if !ok {
            memo.seen = 0;
        }
        for (id, t) in deadlines {
            memo.deadlines.set(id, t);
        }
    }

    async fn watch_one(&self, snap: &StateSnapshot, d: &Deployment, now: i64) -> Watched {
        let mut out = Watched {
            deadline: None,
            ok: true,
        };
        let Some(job) = snap.job_by_id(&d.namespace, &d.job_id) else {
            return out;
        };
        // Superseded: the job was stopped or has a newer version.
        let superseded = if job.is_stopped() {
            Some(deployment_description::STOPPED_JOB)
        } else if job.create_index.unwrap_or(0) != d.job_create_index
            || job.version() != d.job_version
        {
            Some(deployment_description::NEWER_JOB)
        } else {
            None
        };
        if let Some(desc) = superseded {
            let eval = deployment_eval(d, &job, now);
            let eval_id = eval.id.clone();
            match self
                .set_deployment_status(d, deployment_status::CANCELLED, desc, Some(eval), None)
                .await
            {
                Ok(_) => {
                    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, description = desc, "deployment cancelled")
                }
                Err(e) => {
                    tracing::debug!(deployment_id = %d.id, job_id = %d.job_id, error = %e, "cancelling deployment");
                    out.ok = false;
                }
            }
            return out;
        }
        if d.status == deployment_status::PAUSED {
            return out;
        }

        let allocs = snap.allocs_by_deployment(&d.id);
        let latest_eval = latest_eval_index(snap, &job);
        let mut fail = false;
        let mut revert = false;
        let mut create_eval = false;
        let mut replace: Vec<String> = Vec::new();
        for a in allocs {
            let Some(s) = d.task_groups.get(&a.task_group) else {
                continue;
            };
            let early = fails_early(s, a, &job, now);
            if is_unhealthy(a) && !early && !a.desired_transition.reschedule.unwrap_or(false) {
                replace.push(a.id.clone());
                continue;
            }
            if is_healthy(a)
                && a.deployment_status
                    .as_ref()
                    .is_some_and(|ds| ds.modify_index > latest_eval)
            {
                create_eval = true;
            }
            if early {
                fail = true;
                revert |= s.auto_revert;
            }
        }
        if fail {
            let r = self
                .fail_deployment(
                    snap,
                    d,
                    &job,
                    deployment_description::FAILED_ALLOCATIONS,
                    revert,
                )
                .await;
            if let Err(e) = r {
                tracing::warn!(deployment_id = %d.id, job_id = %d.job_id, error = %e, "failing deployment");
                out.ok = false;
            }
            return out;
        }

        if auto_promote_ready(d, snap) {
            let eval = deployment_eval(d, &job, now);
            let eval_id = eval.id.clone();
            let r = self
                .propose(Command::DeploymentPromotion(DeploymentPromotion {
                    deployment_id: d.id.clone(),
                    all: true,
                    groups: Vec::new(),
                    promoted_at: now,
                    eval: Some(eval),
                }))
                .await;
            match r {
                Ok(r) if r.is_ok() => {
                    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, "deployment promoted automatically");
                    return out;
                }
                Ok(r) => {
                    tracing::warn!(deployment_id = %d.id, job_id = %d.job_id, error = ?r.error, "auto-promoting deployment");
                    out.ok = false;
                }
                Err(e) => {
                    tracing::warn!(deployment_id = %d.id, job_id = %d.job_id, error = %e, "auto-promoting deployment");
                    out.ok = false;
                }
            }
        }

        if create_eval || !replace.is_empty() {
            let eval = deployment_eval(d, &job, now);
            let eval_id = eval.id.clone();
            let cmd = if replace.is_empty() {
                Command::EvalUpdate(EvalUpdate { evals: vec![eval] })
            } else {
                let allow = DesiredTransition {
                    reschedule: Some(true),
                    ..DesiredTransition::default()
                };
                Command::AllocUpdateDesiredTransition(AllocUpdateDesiredTransition {
                    allocs: replace
                        .iter()
                        .map(|id| (id.clone(), allow.clone()))
                        .collect(),
                    evals: vec![eval],
                })
            };
            match self.propose(cmd).await {
                Ok(r) if r.is_ok() => {
                    tracing::debug!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, replacements = replace.len(), "deployment evaluation created")
                }
                other => {
                    tracing::warn!(deployment_id = %d.id, job_id = %d.job_id, result = ?other, "creating deployment evaluation");
                    out.ok = false;
                }
            }
        }

        match progress_cutoff(d, allocs) {
            Some(cutoff) if cutoff <= now => {
                let (fail, revert) = should_fail(d);
                if fail {
                    let r = self
                        .fail_deployment(
                            snap,
                            d,
                            &job,
                            deployment_description::PROGRESS_DEADLINE,
                            revert,
                        )
                        .await;
                    if let Err(e) = r {
                        tracing::warn!(deployment_id = %d.id, job_id = %d.job_id, error = %e, "failing deployment at its progress deadline");
                        out.ok = false;
                    }
                }
            }
            Some(cutoff) => out.deadline = Some(cutoff),
            None => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Deadlines;

    #[test]
    fn due_deadlines_are_those_at_or_before_now_and_a_new_time_replaces_the_old() {
        let mut d = Deadlines::default();
        d.set("a".into(), Some(10));
        d.set("b".into(), Some(20));
        d.set("c".into(), Some(30));
        let due = |d: &Deadlines, now| {
            let mut v: Vec<String> = d.due(now).into_iter().collect();
            v.sort();
            v
        };
        assert_eq!(due(&d, 20), ["a", "b"]);
        // Moved later: no longer due at 20, and not due twice.
        d.set("a".into(), Some(25));
        assert_eq!(due(&d, 20), ["b"]);
        assert_eq!(due(&d, 25), ["a", "b"]);
        // Removed.
        d.set("b".into(), None);
        assert_eq!(due(&d, 100), ["a", "c"]);
        d.clear();
        assert!(d.due(i64::MAX).is_empty());
    }
}
