//! What garbage collection may reap, read from one state snapshot (the
//! eligibility rules of Nomad's core scheduler, `nomad/core_sched.go`).
//!
//! Age is measured with the objects' own timestamps, as Nomad does since
//! 1.9 (its earlier Raft-index time table capped every threshold at 72h):
//! an evaluation's, allocation's and deployment's `ModifyTime`, a job's
//! `SubmitTime` (set again when it is stopped) and a node's
//! `StatusUpdatedAt`. Every one of those is stamped by the server that
//! proposes the change, so they follow the servers' clocks; an object is
//! old enough when its time is at or before the cutoff (`now - threshold`,
//! or everything when the collection is forced).

use nomad_reconcile::allocs::replace_on_disconnect_tg;
use nomad_state::StateSnapshot;
use nomad_types::consts::{alloc_client_status, alloc_desired_status, job_status, job_type};
use nomad_types::{Allocation, Evaluation, Job};

/// The newest modification time (Unix nanoseconds) an object may have to be
/// collected, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Evaluations of non-batch jobs and their allocations.
    pub eval: i64,
    /// Evaluations of batch jobs.
    pub batch_eval: i64,
    /// Jobs (and their evaluations and allocations).
    pub job: i64,
    /// Down nodes.
    pub node: i64,
    /// Terminal deployments.
    pub deployment: i64,
}

impl Cutoffs {
    /// Cutoffs `threshold` before `now` (Unix nanoseconds).
    pub fn at(now: i64, gc: &crate::config::GcConfig) -> Cutoffs {
        let before = |d: std::time::Duration| {
            now.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        };
        Cutoffs {
            eval: before(gc.eval_gc_threshold),
            batch_eval: before(gc.batch_eval_gc_threshold),
            job: before(gc.job_gc_threshold),
            node: before(gc.node_gc_threshold),
            deployment: before(gc.deployment_gc_threshold),
        }
    }

    /// Everything eligible, whatever its age (`system gc`).
    pub fn forced() -> Cutoffs {
        Cutoffs {
            eval: i64::MAX,
            batch_eval: i64::MAX,
            job: i64::MAX,
            node: i64::MAX,
            deployment: i64::MAX,
        }
    }
}

/// Evaluations and allocations to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalReap {
    /// Evaluation IDs.
    pub evals: Vec<String>,
    /// Allocation IDs.
    pub allocs: Vec<String>,
}

/// A job to purge, with the indexes it was judged at (a job changed since
/// is left alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReap {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    pub id: String,
    /// Its modify index when judged.
    pub modify_index: u64,
}

/// Whether a job may be collected at all, whatever its age (Nomad's
/// `jobIsGCable`): periodic and parameterized jobs once stopped; other jobs
/// once dead, and then only when stopped or batch/sysbatch (which finish by
/// themselves). Versions with a tag are kept.
pub fn job_is_gcable(job: &Job) -> bool {
    if job.version_tag.is_some() {
        return false;
    }
    let periodic = job
        .periodic
        .as_ref()
        .is_some_and(|p| p.enabled.unwrap_or(true));
    if periodic || job.is_parameterized() {
        return job.is_stopped();
    }
    if job.status.as_deref() != Some(job_status::DEAD) {
        return false;
    }
    job.is_stopped() || matches!(job.job_type(), job_type::BATCH | job_type::SYSBATCH)
}

/// Whether a terminal allocation may go (Nomad's `allocGCEligible`): old
/// enough, not running on its client, and not still needed to reschedule
/// it (a failed allocation whose replacement has not been made yet).
pub fn alloc_gc_eligible(a: &Allocation, job: Option<&Job>, now: i64, cutoff: i64) -> bool {
    if !a.terminal_status() || a.modify_time > cutoff {
        return false;
    }
    if a.client_status == alloc_client_status::RUNNING {
        return false;
    }
    let Some(job) = job else {
        return true;
    };
    let Some(tg) = job.lookup_task_group(&a.task_group) else {
        return true;
    };
    if !job.is_stopped()
        && !replace_on_disconnect_tg(tg)
        && a.client_status == alloc_client_status::LOST
    {
        return false;
    }
    if job.is_stopped() || job.status.as_deref() == Some(job_status::DEAD) {
        return true;
    }
    if a.desired_status == alloc_desired_status::STOP {
        return true;
    }
    if a.client_status != alloc_client_status::FAILED {
        return true;
    }
    let Some(policy) = &tg.reschedule_policy else {
        return true;
    };
    let unlimited = policy.unlimited.unwrap_or(false);
    if !unlimited && policy.attempts.unwrap_or(0) == 0 {
        return true;
    }
    if !a.next_allocation.is_empty() {
        return true;
    }
    if unlimited {
        return false;
    }
    let Some(last) = a.reschedule_tracker.as_ref().and_then(|t| t.events.last()) else {
        return false;
    };
    let interval = policy.interval.map(|n| n.0).unwrap_or(0);
    now.saturating_sub(last.reschedule_time) > interval
}

/// Whether an evaluation may go, and which of its allocations may (Nomad's
/// `gcEval`). `allow_batch`: the job's own collection, which may take the
/// evaluations of a dead batch job that was not stopped.
pub fn gc_eval(
    snap: &StateSnapshot,
    eval: &Evaluation,
    now: i64,
    cutoff: i64,
    allow_batch: bool,
) -> (bool, Vec<String>) {
    if !eval.terminal_status() || eval.modify_time > cutoff {
        return (false, Vec::new());
    }
    let job = snap.job_by_id(&eval.namespace, &eval.job_id);
    let allocs = snap.allocs_by_eval(&eval.id);
    if eval.eval_type == job_type::BATCH {
        // The allocations of a live batch job say what has run: collecting
        // them would run it again. Only those of older versions may go.
        let collect = match &job {
            None => true,
            Some(j) => {
                j.status.as_deref() == Some(job_status::DEAD) && (j.is_stopped() || allow_batch)
            }
        };
        if let (false, Some(j)) = (collect, &job) {
            let job_modify_index = j.job_modify_index.unwrap_or(0);
            let old: Vec<String> = allocs
                .iter()
                .filter(|a| {
                    a.create_index < job_modify_index
                        && a.modify_time < cutoff
                        && a.terminal_status()
                })
                .map(|a| a.id.clone())
                .collect();
            return (old.len() == allocs.len(), old);
        }
    }
    let mut gc = true;
    let mut ids = Vec::new();
    for a in allocs {
        if alloc_gc_eligible(a, job.as_deref(), now, cutoff) {
            ids.push(a.id.clone());
        } else {
            gc = false;
        }
    }
    (gc, ids)
}

/// Old terminal evaluations and their allocations (Nomad's `evalGC`).
pub fn evals(snap: &StateSnapshot, now: i64, c: &Cutoffs) -> EvalReap {
    let mut out = EvalReap::default();
    for e in snap.evals() {
        let cutoff = if e.eval_type == job_type::BATCH {
            c.batch_eval
        } else {
            c.eval
        };
        let (gc, allocs) = gc_eval(snap, e, now, cutoff, false);
        if gc {
            out.evals.push(e.id.clone());
        }
        out.allocs.extend(allocs);
    }
    out
}

/// Old stopped or dead jobs whose every evaluation may go, with those
/// evaluations and their allocations (Nomad's `jobGC`).
pub fn jobs(snap: &StateSnapshot, now: i64, c: &Cutoffs) -> (Vec<JobReap>, EvalReap) {
    let mut jobs = Vec::new();
    let mut reap = EvalReap::default();
    'jobs: for job in snap.jobs() {
        if !job_is_gcable(job) || job.submit_time.unwrap_or(0) > c.job {
            continue;
        }
        let mut evals = Vec::new();
        let mut allocs = Vec::new();
        for e in snap.evals_by_job(job.namespace(), job.id()) {
            let (gc, a) = gc_eval(snap, e, now, c.job, true);
            if !gc {
                continue 'jobs;
            }
            evals.push(e.id.clone());
            allocs.extend(a);
        }
        jobs.push(JobReap {
            namespace: job.namespace().to_string(),
            id: job.id().to_string(),
            modify_index: job.modify_index.unwrap_or(0),
        });
        reap.evals.extend(evals);
        reap.allocs.extend(allocs);
    }
    (jobs, reap)
}

/// Down nodes, down for long enough, with no allocation left that is not
/// terminal (Nomad's `nodeGC`): (ID, modify index).
pub fn nodes(snap: &StateSnapshot, c: &Cutoffs) -> Vec<(String, u64)> {
    snap.nodes()
        .iter()
        .filter(|n| {
            n.terminal_status()
                && n.status_updated_at.saturating_mul(1_000_000_000) <= c.node
                && snap
                    .allocs_by_node(&n.id)
                    .iter()
                    .all(|a| a.terminal_status())
        })
        .map(|n| (n.id.clone(), n.modify_index))
        .collect()
}

/// Terminal deployments, old enough, that no live allocation refers to
/// (Nomad's `deploymentGC`).
pub fn deployments(snap: &StateSnapshot, c: &Cutoffs) -> Vec<String> {
    snap.deployments()
        .filter(|d| {
            !d.active()
                && d.modify_time <= c.deployment
                && snap
                    .allocs_by_deployment(&d.id)
                    .iter()
                    .all(|a| a.terminal_status())
        })
        .map(|d| d.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::alloc::{RescheduleEvent, RescheduleTracker};
    use nomad_types::{Nanos, ReschedulePolicy};

    fn job(kind: &str) -> Job {
        let mut j = nomad_scheduler::testing::job("j", kind, 1);
        j.status = Some(job_status::RUNNING.into());
        j
    }

    fn failed(tg: &str) -> Allocation {
        Allocation {
            id: "a".into(),
            task_group: tg.into(),
            desired_status: alloc_desired_status::RUN.into(),
            client_status: alloc_client_status::FAILED.into(),
            modify_time: 10,
            ..Allocation::default()
        }
    }

    #[test]
    fn gcable_jobs() {
        let mut j = job(job_type::SERVICE);
        assert!(!job_is_gcable(&j));
        j.status = Some(job_status::DEAD.into());
        assert!(
            !job_is_gcable(&j),
            "a dead service job is kept until stopped"
        );
        j.stop = Some(true);
        assert!(job_is_gcable(&j));
        let mut b = job(job_type::BATCH);
        b.status = Some(job_status::DEAD.into());
        assert!(job_is_gcable(&b));
        b.version_tag = Some(Default::default());
        assert!(!job_is_gcable(&b));
    }

    #[test]
    fn alloc_eligibility_follows_rescheduling() {
        let mut j = job(job_type::SERVICE);
        let tg = j.task_groups[0].name().to_string();
        let a = failed(&tg);
        // Too young.
        assert!(!alloc_gc_eligible(&a, Some(&j), 100, 5));
        // No reschedule attempts allowed.
        j.task_groups[0].reschedule_policy = Some(ReschedulePolicy {
            attempts: Some(0),
            unlimited: Some(false),
            ..Default::default()
        });
        assert!(alloc_gc_eligible(&a, Some(&j), 100, 50));
        // Unlimited and not replaced yet: kept.
        j.task_groups[0].reschedule_policy = Some(ReschedulePolicy {
            unlimited: Some(true),
            ..Default::default()
        });
        assert!(!alloc_gc_eligible(&a, Some(&j), 100, 50));
        let mut replaced = a.clone();
        replaced.next_allocation = "b".into();
        assert!(alloc_gc_eligible(&replaced, Some(&j), 100, 50));
        // Limited: kept while the last attempt is within the interval.
        j.task_groups[0].reschedule_policy = Some(ReschedulePolicy {
            attempts: Some(2),
            interval: Some(Nanos(1000)),
            unlimited: Some(false),
            ..Default::default()
        });
        assert!(!alloc_gc_eligible(&a, Some(&j), 100, 50));
        let mut tried = a.clone();
        tried.reschedule_tracker = Some(RescheduleTracker {
            events: vec![RescheduleEvent {
                reschedule_time: 50,
                ..Default::default()
            }],
            ..Default::default()
        });
        assert!(!alloc_gc_eligible(&tried, Some(&j), 500, 50));
        assert!(alloc_gc_eligible(&tried, Some(&j), 2000, 50));
        // A stopped job's allocations all go; a running one never.
        j.stop = Some(true);
        assert!(alloc_gc_eligible(&a, Some(&j), 100, 50));
        let mut running = a.clone();
        running.desired_status = alloc_desired_status::STOP.into();
        running.client_status = alloc_client_status::RUNNING.into();
        assert!(!alloc_gc_eligible(&running, Some(&j), 100, 50));
        assert!(alloc_gc_eligible(&a, None, 100, 50));
    }
}
