//! Deployments and drains for the in-memory cluster.
//!
//! With [`InMemoryCluster::with_deployments`], an evaluation that places
//! allocations of a service job whose groups have an `update` block opens a
//! deployment for that job version (cancelling older active ones), as
//! Nomad's scheduler does; no canaries are placed. Health comes from the
//! test ([`InMemoryCluster::set_alloc_health`]); a small watcher then ends
//! the deployment: `successful` once every group has its desired healthy
//! allocations, `failed` at the first unhealthy one (rolling back to the
//! latest stable version when a group has `auto_revert`).
//!
//! [`InMemoryCluster::spawn_drainer`] plays Nomad's drainer and the client
//! for draining nodes: allocations are marked to migrate and replaced,
//! the stopped ones complete, then the drain ends and the node stays
//! ineligible — one step every tick, so a drain monitor sees each one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nomad_state::command::{
    AllocUpdateDesiredTransition, ApplyPlanResults, DeploymentAllocHealth, DeploymentStatusUpdate,
    DeploymentStatusUpdateRequest, DrainUpdate, NodeBatchUpdateDrain,
};
use nomad_state::{Command, StateSnapshot};
use nomad_types::api::{DeploymentUpdateResponse, JobRevertRequest};
use nomad_types::consts::{
    alloc_client_status, alloc_desired_status, deployment_description, deployment_status,
    eval_trigger,
};
use nomad_types::node::NodeEvent;
use nomad_types::{Deployment, DeploymentState, DesiredTransition, GoTime, Job};

use super::{now_nanos, sched, InMemoryCluster};
use crate::cluster::ClusterError;

/// What an evaluation does to the job's deployments.
#[derive(Default)]
pub(super) struct DeploymentPlan {
    /// The deployment new allocations join.
    pub id: String,
    /// A deployment to create.
    pub create: Option<Deployment>,
    /// Older deployments to cancel.
    pub cancel: Vec<DeploymentStatusUpdate>,
}

/// The deployment placements of `job` join, when deployments are on and the
/// job is a service job with an `update` block in some group.
pub(super) fn plan_deployment(
    c: &InMemoryCluster,
    snap: &StateSnapshot,
    job: &Job,
    placing: bool,
) -> DeploymentPlan {
    let mut plan = DeploymentPlan::default();
    if !c.deployments || job.job_type() != "service" || job.is_stopped() || !placing {
        return plan;
    }
    let mut groups = BTreeMap::new();
    for tg in &job.task_groups {
        let Some(u) = tg
            .update
            .as_ref()
            .filter(|u| u.max_parallel.unwrap_or(0) > 0)
        else {
            continue;
        };
        groups.insert(
            tg.name().to_string(),
            DeploymentState {
                auto_revert: u.auto_revert.unwrap_or(false),
                auto_promote: u.auto_promote.unwrap_or(false),
                progress_deadline: u.progress_deadline.unwrap_or_default(),
                desired_total: tg.count(),
                ..DeploymentState::default()
            },
        );
    }
    if groups.is_empty() {
        return plan;
    }
    let deps = snap.deployments_by_job(job.namespace(), job.id());
    if let Some(d) = deps.iter().find(|d| {
        d.active() && d.job_version == job.version() && Some(d.job_create_index) == job.create_index
    }) {
        plan.id = d.id.clone();
        return plan;
    }
    for d in deps.iter().filter(|d| d.active()) {
        plan.cancel.push(DeploymentStatusUpdate {
            deployment_id: d.id.clone(),
            status: deployment_status::CANCELLED.into(),
            status_description: deployment_description::NEWER_JOB.into(),
        });
    }
    let now = now_nanos();
    let d = Deployment {
        id: c.new_id(),
        namespace: job.namespace().to_string(),
        job_id: job.id().to_string(),
        job_version: job.version(),
        job_modify_index: job.job_modify_index.unwrap_or(0),
        job_spec_modify_index: job.job_modify_index.unwrap_or(0),
        job_create_index: job.create_index.unwrap_or(0),
        task_groups: groups,
        status: deployment_status::RUNNING.into(),
        status_description: deployment_description::RUNNING.into(),
        eval_priority: job.priority(),
        create_time: now,
        modify_time: now,
        ..Deployment::default()
    };
    plan.id = d.id.clone();
    plan.create = Some(d);
    plan
}

impl InMemoryCluster {
    /// Opens deployments for service jobs, as Nomad does (see the module
    /// documentation); off by default, so that `job run` does not wait for
    /// health that no client reports.
    pub fn with_deployments(mut self) -> Self {
        self.deployments = true;
        self
    }

    /// Stores a deployment as given (to show canary columns and the like).
    pub fn upsert_deployment(&self, d: Deployment) -> Result<(), ClusterError> {
        self.apply(Command::ApplyPlanResults(ApplyPlanResults {
            deployment: Some(d),
            updated_at: now_nanos(),
            ..ApplyPlanResults::default()
        }))
        .map(|_| ())
    }

    /// Reports an allocation's deployment health, as a client would (a
    /// healthy allocation that was pending is marked running first), then
    /// lets the watcher end its deployment when it is done.
    pub fn set_alloc_health(&self, alloc_id: &str, healthy: bool) -> Result<(), ClusterError> {
        let snap = self.reader.snapshot();
        let alloc = snap
            .alloc_by_id(alloc_id)
            .ok_or_else(|| ClusterError::NotFound("alloc not found".into()))?;
        if healthy && alloc.client_status == alloc_client_status::PENDING {
            self.set_alloc_client_status(alloc_id, alloc_client_status::RUNNING)?;
        }
        if alloc.deployment_id.is_empty() {
            return Err(ClusterError::BadRequest(format!(
                "alloc {alloc_id:?} is not part of a deployment"
            )));
        }
        let (healthy_ids, unhealthy_ids) = if healthy {
            (vec![alloc_id.to_string()], Vec::new())
        } else {
            (Vec::new(), vec![alloc_id.to_string()])
        };
        self.apply(Command::DeploymentAllocHealth(DeploymentAllocHealth {
            deployment_id: alloc.deployment_id.clone(),
            healthy_allocation_ids: healthy_ids,
            unhealthy_allocation_ids: unhealthy_ids,
            timestamp: now_nanos(),
            ..DeploymentAllocHealth::default()
        }))?;
        self.watch_deployment(&alloc.deployment_id)
    }

    /// Ends a deployment whose groups are all healthy, or that has an
    /// unhealthy allocation.
    fn watch_deployment(&self, id: &str) -> Result<(), ClusterError> {
        let Some(d) = self.reader.snapshot().deployment_by_id(id) else {
            return Ok(());
        };
        if !d.active() {
            return Ok(());
        }
        if d.task_groups.values().any(|s| s.unhealthy_allocs > 0) {
            self.fail_deployment(&d, deployment_description::FAILED_ALLOCATIONS)?;
            return Ok(());
        }
        let done = d.task_groups.values().all(|s| {
            s.healthy_allocs >= s.desired_total && (s.desired_canaries == 0 || s.promoted)
        });
        if done {
            self.apply(Command::DeploymentStatusUpdate(
                DeploymentStatusUpdateRequest {
                    deployment_update: DeploymentStatusUpdate {
                        deployment_id: d.id.clone(),
                        status: deployment_status::SUCCESSFUL.into(),
                        status_description: deployment_description::SUCCESSFUL.into(),
                    },
                    updated_at: now_nanos(),
                    job: None,
                    eval: None,
                },
            ))?;
        }
        Ok(())
    }

    /// Fails a deployment with `base` as its description; with
    /// `auto_revert`, registers the latest stable older version again.
    pub(super) fn fail_deployment(
        &self,
        d: &Deployment,
        base: &str,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let mut revert_to = None;
        let mut desc = base.to_string();
        if d.task_groups.values().any(|s| s.auto_revert) {
            let target = snap
                .job_versions(&d.namespace, &d.job_id)
                .iter()
                .filter(|j| j.version() < d.job_version && j.stable.unwrap_or(false))
                .map(|j| j.version())
                .max();
            match target {
                Some(v) => {
                    desc = format!("{base} - rolling back to job version {v}");
                    revert_to = Some(v);
                }
                None => desc = format!("{base} - no stable job version to auto revert to"),
            }
        }
        let job = snap.job_by_id(&d.namespace, &d.job_id);
        let eval = match (&job, revert_to) {
            (Some(j), None) => {
                let mut e = self.new_eval(
                    j,
                    eval_trigger::DEPLOYMENT_WATCHER,
                    j.priority(),
                    now_nanos(),
                );
                e.deployment_id = d.id.clone();
                Some(e)
            }
            _ => None,
        };
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let res = self.apply(Command::DeploymentStatusUpdate(
            DeploymentStatusUpdateRequest {
                deployment_update: DeploymentStatusUpdate {
                    deployment_id: d.id.clone(),
                    status: deployment_status::FAILED.into(),
                    status_description: desc,
                },
                updated_at: now_nanos(),
                job: None,
                eval,
            },
        ))?;
        let mut resp = DeploymentUpdateResponse {
            eval_id: eval_id.clone(),
            eval_create_index: if eval_id.is_empty() { 0 } else { res.index },
            deployment_modify_index: res.index,
            reverted_job_version: revert_to,
            index: res.index,
        };
        if let Some(v) = revert_to {
            let reg = self.revert(JobRevertRequest {
                job_id: d.job_id.clone(),
                job_version: v,
                enforce_prior_version: None,
                namespace: d.namespace.clone(),
            })?;
            resp.eval_id = reg.eval_id;
            resp.eval_create_index = reg.eval_create_index;
            resp.index = reg.index;
        } else {
            self.run_eval(&eval_id)?;
        }
        Ok(resp)
    }

    /// Starts Nomad's drainer (and the client's part of a drain) for this
    /// cluster on a background thread; it stops when the cluster is dropped.
    /// Every `tick` it takes one step on each draining node: mark its
    /// allocations to migrate (and replace them elsewhere), then complete
    /// the stopped ones, then end the drain.
    pub fn spawn_drainer(self: &Arc<Self>, tick: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let _ = std::thread::Builder::new()
            .name("nomad-api-test-drainer".into())
            .spawn(move || {
                // A drain is first acted on a tick after it was seen, so
                // that a monitor started with it sees every step.
                let mut seen = BTreeSet::new();
                loop {
                    std::thread::sleep(tick);
                    let Some(c) = weak.upgrade() else {
                        return;
                    };
                    let _ = c.drain_nodes(Some(&mut seen));
                }
            });
    }

    /// One step of every drain in progress, now.
    pub fn drain_step(&self) -> Result<(), ClusterError> {
        self.drain_nodes(None)
    }

    /// One step of every drain in progress; with `seen`, only of drains
    /// seen on an earlier call.
    fn drain_nodes(&self, mut seen: Option<&mut BTreeSet<String>>) -> Result<(), ClusterError> {
        let snap = self.reader.snapshot();
        if let Some(seen) = seen.as_deref_mut() {
            seen.retain(|id| {
                snap.node_by_id(id)
                    .is_some_and(|n| n.drain_strategy.is_some())
            });
        }
        for node in snap.nodes().iter().filter(|n| n.drain_strategy.is_some()) {
            if let Some(seen) = seen.as_deref_mut() {
                if seen.insert(node.id.clone()) {
                    continue;
                }
            }
            let ignore_system = node
                .drain_strategy
                .as_ref()
                .is_some_and(|d| d.ignore_system_jobs);
            let live: Vec<_> = snap
                .allocs_by_node(&node.id)
                .iter()
                .filter(|a| !a.client_terminal_status())
                .filter(|a| {
                    !(ignore_system && a.job.as_ref().is_some_and(|j| j.job_type() == "system"))
                })
                .cloned()
                .collect();
            let to_mark: Vec<_> = live
                .iter()
                .filter(|a| {
                    a.desired_status == alloc_desired_status::RUN
                        && !a.desired_transition.should_migrate()
                })
                .collect();
            if !to_mark.is_empty() {
                let mut transitions = BTreeMap::new();
                let mut evals = Vec::new();
                for a in &to_mark {
                    transitions.insert(
                        a.id.clone(),
                        DesiredTransition {
                            migrate: Some(true),
                            ..DesiredTransition::default()
                        },
                    );
                    let Some(job) = snap.job_by_id(&a.namespace, &a.job_id) else {
                        continue;
                    };
                    if evals
                        .iter()
                        .any(|e: &nomad_types::Evaluation| e.job_id == a.job_id)
                    {
                        continue;
                    }
                    let mut e =
                        self.new_eval(&job, eval_trigger::NODE_DRAIN, job.priority(), now_nanos());
                    e.node_id = node.id.clone();
                    evals.push(e);
                }
                let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
                self.apply(Command::AllocUpdateDesiredTransition(
                    AllocUpdateDesiredTransition {
                        allocs: transitions,
                        evals,
                    },
                ))?;
                for id in ids {
                    sched::process(self, &id)?;
                }
                continue;
            }
            let stopped: Vec<_> = live
                .iter()
                .filter(|a| a.desired_status != alloc_desired_status::RUN)
                .collect();
            if !stopped.is_empty() {
                for a in stopped {
                    self.set_alloc_client_status(&a.id, alloc_client_status::COMPLETE)?;
                }
                continue;
            }
            let now = now_nanos();
            self.apply(Command::NodeBatchUpdateDrain(NodeBatchUpdateDrain {
                updates: BTreeMap::from([(
                    node.id.clone(),
                    DrainUpdate {
                        drain_strategy: None,
                        mark_eligible: false,
                    },
                )]),
                node_events: BTreeMap::from([(
                    node.id.clone(),
                    NodeEvent {
                        message: "Node drain complete".into(),
                        subsystem: "Drain".into(),
                        timestamp: GoTime::from_unix_nanos(now / 1_000_000_000 * 1_000_000_000),
                        ..NodeEvent::default()
                    },
                )]),
                updated_at: now / 1_000_000_000,
            }))?;
        }
        Ok(())
    }
}
