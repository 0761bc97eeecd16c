//! A placement stand-in for tests: every evaluation places the missing
//! allocations of each group on ready, eligible nodes (round robin), stops
//! allocations of older job versions or ones marked to migrate, and stops
//! everything of a stopped job. No resources, constraints or spreads; a
//! deployment only when the cluster has them on (see `deploy`). Plans
//! report the same decisions without committing them.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_state::command::{AllocStop, ApplyPlanResults, EvalUpdate};
use nomad_state::{Command, StateSnapshot};
use nomad_types::api::JobPlanRequest;
use nomad_types::consts::{alloc_client_status, alloc_desired_status, eval_status};
use nomad_types::{
    diff_jobs, AllocMetric, Allocation, DesiredUpdates, DiffType, Evaluation, Job, JobPlanResponse,
    Node, PlanAnnotations, Resources, TaskGroup,
};

use super::{now_nanos, InMemoryCluster};
use crate::cluster::ClusterError;

/// What an evaluation would do to one group.
#[derive(Default)]
struct GroupPlan {
    place: Vec<(usize, Arc<Node>)>,
    stop: Vec<(String, &'static str)>,
    ignore: u64,
    destructive: u64,
    failed: Option<AllocMetric>,
}

fn ready_nodes(snap: &StateSnapshot) -> Vec<Arc<Node>> {
    snap.nodes()
        .iter()
        .filter(|n| {
            n.status == "ready"
                && n.scheduling_eligibility == "eligible"
                && n.drain_strategy.is_none()
        })
        .cloned()
        .collect()
}

/// Decides placements and stops for `job` (or stops everything when the job
/// is gone or stopped).
fn decide(
    snap: &StateSnapshot,
    namespace: &str,
    job_id: &str,
    job: Option<&Job>,
) -> BTreeMap<String, GroupPlan> {
    let live: Vec<Arc<Allocation>> = snap
        .allocs_by_job(namespace, job_id)
        .iter()
        .filter(|a| a.desired_status == alloc_desired_status::RUN && !a.client_terminal_status())
        .cloned()
        .collect();
    let mut plans: BTreeMap<String, GroupPlan> = BTreeMap::new();
    let Some(job) = job.filter(|j| !j.is_stopped()) else {
        for a in &live {
            plans
                .entry(a.task_group.clone())
                .or_default()
                .stop
                .push((a.id.clone(), "alloc not needed since job stopped"));
        }
        return plans;
    };
    let nodes = ready_nodes(snap);
    let mut next_node = 0usize;
    for tg in &job.task_groups {
        let plan = plans.entry(tg.name().to_string()).or_default();
        let mut keep = Vec::new();
        for a in live.iter().filter(|a| a.task_group == tg.name()) {
            let old_version = a
                .job
                .as_ref()
                .is_some_and(|j| j.version() != job.version() && group_changed(j, tg));
            if a.desired_transition.should_migrate() {
                plan.stop.push((a.id.clone(), "alloc is being migrated"));
            } else if old_version {
                plan.stop
                    .push((a.id.clone(), "alloc is being updated due to job update"));
                plan.destructive += 1;
            } else {
                keep.push(a);
            }
        }
        let want = usize::try_from(tg.count()).unwrap_or(0);
        while keep.len() > want {
            if let Some(a) = keep.pop() {
                plan.stop
                    .push((a.id.clone(), "alloc not needed due to job update"));
            }
        }
        plan.ignore = keep.len() as u64;
        let used: Vec<usize> = keep.iter().filter_map(|a| alloc_index(&a.name)).collect();
        let mut missing = want - keep.len();
        if nodes.is_empty() && missing > 0 {
            let mut m = AllocMetric {
                coalesced_failures: missing as i64 - 1,
                ..AllocMetric::default()
            };
            for dc in &job.datacenters {
                if dc != "*" {
                    m.nodes_available.insert(dc.clone(), 0);
                }
            }
            plan.failed = Some(m);
            missing = 0;
        }
        let mut idx = 0usize;
        while missing > 0 {
            if !used.contains(&idx) {
                plan.place
                    .push((idx, nodes[next_node % nodes.len()].clone()));
                next_node += 1;
                missing -= 1;
            }
            idx += 1;
        }
        plan.destructive = plan.destructive.min(plan.place.len() as u64);
    }
    plans
}

/// Whether a group's spec differs from the one an allocation runs, other
/// than in its count (a count change is not an update of the allocation).
fn group_changed(old: &Job, tg: &TaskGroup) -> bool {
    let Some(prev) = old.lookup_task_group(tg.name()) else {
        return true;
    };
    let mut prev = prev.clone();
    prev.count = tg.count;
    prev != *tg
}

/// `job.group[3]` → 3.
fn alloc_index(name: &str) -> Option<usize> {
    name.rsplit_once('[')?.1.strip_suffix(']')?.parse().ok()
}

fn group_resources(tg: &TaskGroup) -> (Resources, BTreeMap<String, Resources>) {
    let mut total = Resources {
        cpu: Some(0),
        memory_mb: Some(0),
        disk_mb: Some(
            tg.ephemeral_disk
                .as_ref()
                .and_then(|d| d.size_mb)
                .unwrap_or(300),
        ),
        ..Resources::default()
    };
    let mut per_task = BTreeMap::new();
    for t in &tg.tasks {
        let r = t.resources.clone().unwrap_or_default();
        total.cpu = Some(total.cpu.unwrap_or(0) + r.cpu.unwrap_or(100));
        total.memory_mb = Some(total.memory_mb.unwrap_or(0) + r.memory_mb.unwrap_or(300));
        per_task.insert(t.name.clone(), r);
    }
    (total, per_task)
}

/// Runs evaluation `eval_id`: commits placements and stops, then completes
/// the evaluation (with placement failures and a blocked evaluation when no
/// node could take a group).
pub(super) fn process(c: &InMemoryCluster, eval_id: &str) -> Result<(), ClusterError> {
    let snap = c.reader.snapshot();
    let eval = snap
        .eval_by_id(eval_id)
        .ok_or_else(|| ClusterError::NotFound(format!("eval {eval_id:?} not found")))?;
    let job = snap.job_by_id(&eval.namespace, &eval.job_id);
    let plans = decide(&snap, &eval.namespace, &eval.job_id, job.as_deref());
    let now = now_nanos();
    let placing = plans.values().any(|p| !p.place.is_empty());
    let dep = match job.as_deref() {
        Some(j) => super::deploy::plan_deployment(c, &snap, j, placing),
        None => super::deploy::DeploymentPlan::default(),
    };
    let mut updated = Vec::new();
    let mut stopped = Vec::new();
    let mut failed = BTreeMap::new();
    for (tg_name, plan) in plans {
        for (id, why) in plan.stop {
            stopped.push(AllocStop {
                id,
                desired_description: why.to_string(),
                modify_time: now,
                ..AllocStop::default()
            });
        }
        if let Some(m) = plan.failed {
            failed.insert(tg_name.clone(), m);
        }
        let (Some(job), false) = (job.as_ref(), plan.place.is_empty()) else {
            continue;
        };
        let Some(tg) = job.lookup_task_group(&tg_name) else {
            continue;
        };
        let (resources, task_resources) = group_resources(tg);
        for (idx, node) in plan.place {
            updated.push(Allocation {
                id: c.new_id(),
                namespace: eval.namespace.clone(),
                eval_id: eval.id.clone(),
                name: format!("{}.{}[{idx}]", job.id(), tg_name),
                node_id: node.id.clone(),
                node_name: node.name.clone(),
                job_id: job.id().to_string(),
                job: Some(job.clone()),
                task_group: tg_name.clone(),
                resources: Some(resources.clone().into()),
                task_resources: task_resources.clone(),
                metrics: Some(AllocMetric {
                    nodes_evaluated: snap.nodes().len() as i64,
                    nodes_in_pool: snap.nodes().len() as i64,
                    ..AllocMetric::default()
                }),
                desired_status: alloc_desired_status::RUN.into(),
                client_status: alloc_client_status::PENDING.into(),
                deployment_id: dep.id.clone(),
                create_time: now,
                modify_time: now,
                ..Allocation::default()
            });
        }
    }
    if !updated.is_empty() || !stopped.is_empty() || dep.create.is_some() {
        c.apply(Command::ApplyPlanResults(ApplyPlanResults {
            job: job.clone(),
            allocs_updated: updated,
            allocs_stopped: stopped,
            deployment: dep.create,
            deployment_updates: dep.cancel,
            eval_id: eval.id.clone(),
            updated_at: now,
            ..ApplyPlanResults::default()
        }))?;
    }
    let mut done: Evaluation = (*eval).clone();
    if !dep.id.is_empty() {
        done.deployment_id = dep.id.clone();
    }
    done.status = eval_status::COMPLETE.into();
    done.modify_time = now_nanos();
    let mut evals = Vec::new();
    if !failed.is_empty() {
        let blocked = Evaluation {
            id: c.new_id(),
            status: eval_status::BLOCKED.into(),
            triggered_by: "queued-allocs".into(),
            previous_eval: eval.id.clone(),
            status_description: "created to place remaining allocations".into(),
            ..(*eval).clone()
        };
        done.blocked_eval = blocked.id.clone();
        done.failed_tg_allocs = failed;
        evals.push(blocked);
    }
    evals.insert(0, done);
    c.apply(Command::EvalUpdate(EvalUpdate { evals }))?;
    Ok(())
}

/// `Job.Plan`: the diff against the running version and what an evaluation
/// would do, without committing anything.
pub(super) fn plan(
    c: &InMemoryCluster,
    req: JobPlanRequest,
) -> Result<JobPlanResponse, ClusterError> {
    let mut job = req
        .job
        .ok_or_else(|| ClusterError::BadRequest("Job must be specified".into()))?;
    job.canonicalize();
    if let Err(errs) = job.validate() {
        let errs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        return Err(ClusterError::BadRequest(crate::query::multierror(&errs)));
    }
    let snap = c.reader.snapshot();
    let existing = snap.job_by_id(job.namespace(), job.id());
    let mut diff = diff_jobs(existing.as_deref(), &job, false);
    let changed = diff.diff_type != DiffType::None;
    // The planned job takes the next version when it changes anything.
    let current_version = existing.as_ref().map(|j| j.version());
    job.version = Some(match (current_version, changed) {
        (Some(v), true) => v + 1,
        (Some(v), false) => v,
        (None, _) => 0,
    });
    let plans = decide(&snap, job.namespace(), job.id(), Some(&job));
    let mut annotations = PlanAnnotations::default();
    let mut failed = BTreeMap::new();
    for (tg, p) in plans {
        let place = p.place.len() as u64;
        let updates = DesiredUpdates {
            ignore: p.ignore,
            place: place - p.destructive,
            stop: p.stop.len() as u64 - p.destructive,
            destructive_update: p.destructive,
            ..DesiredUpdates::default()
        };
        if let Some(d) = diff.task_groups.iter_mut().find(|d| d.name == tg) {
            for (k, v) in [
                ("create", updates.place),
                ("destroy", updates.stop),
                ("ignore", updates.ignore),
                ("create/destroy update", updates.destructive_update),
            ] {
                if v > 0 {
                    d.updates.insert(k.to_string(), v);
                }
            }
        }
        annotations.desired_tg_updates.insert(tg.clone(), updates);
        if let Some(m) = p.failed {
            failed.insert(tg, m);
        }
    }
    Ok(JobPlanResponse {
        job_modify_index: existing
            .as_ref()
            .and_then(|j| j.job_modify_index)
            .unwrap_or(0),
        created_evals: Vec::new(),
        diff: req.diff.then_some(diff),
        annotations: Some(annotations),
        failed_tg_allocs: failed,
        ..JobPlanResponse::default()
    })
}
