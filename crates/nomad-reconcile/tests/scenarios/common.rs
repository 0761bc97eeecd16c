//! Builders for jobs, allocations, nodes and deployments, an update oracle
//! that behaves like Nomad's scheduler on nodes that always fit, and a
//! runner that reconciles with deterministic IDs.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nomad_reconcile::{
    precheck_update, reconcile, reconcile_nodes, seeded_ids, ClusterInput, NodeInput,
    NodeReconcileResult, ReconcileResult, TaintedNodes, UpdateDecision,
};
use nomad_types::alloc::{AllocState, TaskState};
use nomad_types::consts::{alloc_client_status, deployment_status, node_status};
use nomad_types::{
    AllocDeploymentStatus, Allocation, Deployment, DeploymentState, DisconnectStrategy, GoTime,
    Job, Nanos, Node, ReschedulePolicy, Task, TaskGroup, UpdateStrategy,
};
use serde_json::Value;

pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;
/// A fixed "now".
pub const NOW: i64 = 1_700_000_000 * SECOND;

/// A canonicalized job of `kind` with one group `web` of `count`, one
/// docker task, version 0, create index 10, job modify index 10.
pub fn job_of(kind: &str, count: i64) -> Job {
    let mut task = Task::new("server", "docker");
    task.config
        .insert("image".into(), Value::String("nginx:1".into()));
    let mut tg = TaskGroup::new("web", count);
    tg.tasks.push(task);
    let mut j = Job::new("example", kind);
    j.task_groups.push(tg);
    j.canonicalize();
    j.version = Some(0);
    j.create_index = Some(10);
    j.modify_index = Some(10);
    j.job_modify_index = Some(10);
    j
}

/// A service job with the default update block (max_parallel 1).
pub fn service(count: i64) -> Job {
    job_of("service", count)
}

/// A service job without rolling updates (`max_parallel = 0`).
pub fn service_no_update(count: i64) -> Job {
    let mut j = service(count);
    j.update.as_mut().unwrap().max_parallel = Some(0);
    for g in &mut j.task_groups {
        g.update.as_mut().unwrap().max_parallel = Some(0);
    }
    j
}

/// A batch job.
pub fn batch(count: i64) -> Job {
    job_of("batch", count)
}

/// Applies `f` to every group's update block.
pub fn set_update(j: &mut Job, f: impl Fn(&mut UpdateStrategy)) {
    for g in &mut j.task_groups {
        let u = g
            .update
            .get_or_insert_with(UpdateStrategy::default_strategy);
        f(u);
    }
}

/// The group named `web`.
pub fn web(j: &mut Job) -> &mut TaskGroup {
    j.lookup_task_group_mut("web").unwrap()
}

/// The next version of `j`; `destructive` changes the task config.
pub fn next_version(j: &Job, destructive: bool) -> Job {
    let mut n = j.clone();
    n.version = Some(j.version() + 1);
    n.job_modify_index = Some(j.job_modify_index.unwrap() + 10);
    n.modify_index = n.job_modify_index;
    if destructive {
        let v = format!("nginx:v{}", n.version());
        for g in &mut n.task_groups {
            for t in &mut g.tasks {
                t.config.insert("image".into(), Value::String(v.clone()));
            }
        }
    } else {
        let kill = Nanos::from_secs(5 + n.version() as i64);
        for g in &mut n.task_groups {
            for t in &mut g.tasks {
                t.kill_timeout = Some(kill);
            }
        }
    }
    n
}

/// A running allocation of `job`'s group `group`, index `i`, on `node`.
pub fn alloc_in(job: &Arc<Job>, group: &str, i: u64, node: &str) -> Allocation {
    Allocation {
        id: format!("{group}-{i}-v{}-{node}", job.version()),
        namespace: "default".into(),
        eval_id: "old-eval".into(),
        name: format!("{}.{group}[{i}]", job.id()),
        node_id: node.into(),
        job_id: job.id().into(),
        job: Some(job.clone()),
        task_group: group.into(),
        desired_status: "run".into(),
        client_status: alloc_client_status::RUNNING.into(),
        create_index: 100 + i,
        modify_time: NOW - 10 * MINUTE,
        ..Allocation::default()
    }
}

/// A running allocation of group `web`, index `i`, on node `n<i>`.
pub fn alloc(job: &Arc<Job>, i: u64) -> Allocation {
    alloc_in(job, "web", i, &format!("n{i}"))
}

/// `count` running allocations of group `web`, indexes 0..count.
pub fn allocs(job: &Arc<Job>, count: u64) -> Vec<Allocation> {
    (0..count).map(|i| alloc(job, i)).collect()
}

/// Marks the allocation failed at `at` (task finished then).
pub fn failed_at(mut a: Allocation, at: i64) -> Allocation {
    a.client_status = alloc_client_status::FAILED.into();
    a.task_states.insert(
        "server".into(),
        TaskState {
            state: "dead".into(),
            failed: true,
            finished_at: GoTime::from_unix_nanos(at),
            ..TaskState::default()
        },
    );
    a
}

/// Marks the allocation complete (all tasks exited 0).
pub fn completed(mut a: Allocation) -> Allocation {
    a.client_status = alloc_client_status::COMPLETE.into();
    a.task_states.insert(
        "server".into(),
        TaskState {
            state: "dead".into(),
            failed: false,
            finished_at: GoTime::from_unix_nanos(NOW - MINUTE),
            ..TaskState::default()
        },
    );
    a
}

/// Sets deployment membership and health.
pub fn in_deployment(
    mut a: Allocation,
    d: &str,
    healthy: Option<bool>,
    canary: bool,
) -> Allocation {
    a.deployment_id = d.into();
    a.deployment_status = Some(AllocDeploymentStatus {
        healthy,
        canary,
        ..AllocDeploymentStatus::default()
    });
    a
}

/// Appends a client status history entry.
pub fn with_state(mut a: Allocation, value: &str, at: i64) -> Allocation {
    a.alloc_states.push(AllocState {
        field: "ClientStatus".into(),
        value: value.into(),
        time: GoTime::from_unix_nanos(at),
    });
    a
}

pub fn node(id: &str, status: &str) -> Arc<Node> {
    let mut n = Node {
        id: id.into(),
        name: id.into(),
        datacenter: "dc1".into(),
        status: status.into(),
        ..Node::default()
    };
    n.canonicalize();
    Arc::new(n)
}

pub fn draining(id: &str) -> Arc<Node> {
    let mut n = (*node(id, node_status::READY)).clone();
    n.drain_strategy = Some(Default::default());
    n.canonicalize();
    Arc::new(n)
}

/// A deployment of `job`'s version with one state for group `web`.
pub fn deployment(job: &Job, id: &str, status: &str, state: DeploymentState) -> Deployment {
    let mut tgs = BTreeMap::new();
    tgs.insert("web".to_string(), state);
    Deployment {
        id: id.into(),
        namespace: "default".into(),
        job_id: job.id().into(),
        job_version: job.version(),
        job_create_index: job.create_index.unwrap_or(0),
        job_spec_modify_index: job.job_modify_index.unwrap_or(0),
        status: status.into(),
        task_groups: tgs,
        ..Deployment::default()
    }
}

pub fn running_deployment(job: &Job, id: &str, state: DeploymentState) -> Deployment {
    deployment(job, id, deployment_status::RUNNING, state)
}

pub fn dstate(desired_total: i64) -> DeploymentState {
    DeploymentState {
        desired_total,
        ..DeploymentState::default()
    }
}

pub fn reschedule(j: &mut Job, p: ReschedulePolicy) {
    for g in &mut j.task_groups {
        g.reschedule_policy = Some(p.clone());
    }
}

pub fn disconnect(j: &mut Job, lost_after: i64, replace: bool, reconcile: &str) {
    for g in &mut j.task_groups {
        g.disconnect = Some(DisconnectStrategy {
            lost_after: Some(Nanos(lost_after)),
            stop_on_client_after: None,
            replace: Some(replace),
            reconcile: Some(reconcile.into()),
        });
    }
}

/// Nomad's update decision on nodes where everything fits: same spec →
/// ignore, destructive change → destructive, terminal → ignore, else in
/// place with the new job attached.
pub fn fits_everywhere(a: &Allocation, job: &Job, tg: &TaskGroup) -> UpdateDecision {
    if let Some(d) = precheck_update(a, job, tg) {
        return d;
    }
    let mut updated = a.clone();
    updated.job = Some(Arc::new(job.clone()));
    updated.eval_id = "eval".into();
    UpdateDecision::InPlace(Box::new(updated))
}

/// Everything the cluster reconciler gets.
pub struct Cluster {
    pub job: Option<Arc<Job>>,
    pub job_id: String,
    pub existing: Vec<Arc<Allocation>>,
    pub tainted: TaintedNodes,
    pub deployment: Option<Arc<Deployment>>,
    pub batch: bool,
    pub eval_id: String,
    pub trigger: String,
    pub now: i64,
}

impl Cluster {
    pub fn new(job: &Job, existing: Vec<Allocation>) -> Self {
        Cluster {
            batch: job.job_type() == "batch",
            job_id: job.id().to_string(),
            job: Some(Arc::new(job.clone())),
            existing: existing.into_iter().map(Arc::new).collect(),
            tainted: HashMap::new(),
            deployment: None,
            eval_id: "eval".into(),
            trigger: "job-register".into(),
            now: NOW,
        }
    }

    pub fn deployment(mut self, d: Deployment) -> Self {
        self.deployment = Some(Arc::new(d));
        self
    }

    pub fn taint(mut self, n: Arc<Node>) -> Self {
        self.tainted.insert(n.id.clone(), Some(n));
        self
    }

    pub fn gone(mut self, id: &str) -> Self {
        self.tainted.insert(id.to_string(), None);
        self
    }

    pub fn input(&self) -> ClusterInput<'_> {
        ClusterInput {
            job: self.job.clone(),
            job_id: self.job_id.clone(),
            namespace: "default".into(),
            eval_id: self.eval_id.clone(),
            eval_priority: 50,
            eval_trigger: self.trigger.clone(),
            batch: self.batch,
            existing: &self.existing,
            tainted_nodes: &self.tainted,
            deployment: self.deployment.clone(),
            now: self.now,
        }
    }

    /// Reconciles with [`fits_everywhere`].
    pub fn run(&self) -> ReconcileResult {
        self.run_with(&mut fits_everywhere)
    }

    pub fn run_with(
        &self,
        oracle: &mut dyn FnMut(&Allocation, &Job, &TaskGroup) -> UpdateDecision,
    ) -> ReconcileResult {
        let mut ids = seeded_ids(&self.eval_id);
        reconcile(&self.input(), oracle, &mut ids)
    }
}

/// Everything the node reconciler gets.
pub struct Nodes {
    pub job: Option<Arc<Job>>,
    pub ready: Vec<Arc<Node>>,
    pub not_ready: HashSet<String>,
    pub tainted: TaintedNodes,
    pub existing: Vec<Arc<Allocation>>,
    pub deployment: Option<Arc<Deployment>>,
}

impl Nodes {
    pub fn new(job: &Job, ready: &[&str], existing: Vec<Allocation>) -> Self {
        Nodes {
            job: Some(Arc::new(job.clone())),
            ready: ready
                .iter()
                .map(|id| node(id, node_status::READY))
                .collect(),
            not_ready: HashSet::new(),
            tainted: HashMap::new(),
            existing: existing.into_iter().map(Arc::new).collect(),
            deployment: None,
        }
    }

    pub fn taint(mut self, n: Arc<Node>) -> Self {
        self.tainted.insert(n.id.clone(), Some(n));
        self
    }

    pub fn run(&self) -> NodeReconcileResult {
        let input = NodeInput {
            job: self.job.clone(),
            job_id: "example".into(),
            namespace: "default".into(),
            eval_id: "eval".into(),
            eval_priority: 50,
            ready_nodes: &self.ready,
            not_ready_nodes: &self.not_ready,
            tainted_nodes: &self.tainted,
            existing: &self.existing,
            deployment: self.deployment.clone(),
            now: NOW,
        };
        let mut ids = seeded_ids("eval");
        reconcile_nodes(&input, &mut fits_everywhere, &mut ids)
    }
}

/// Names of the placements, sorted.
pub fn place_names(r: &ReconcileResult) -> Vec<String> {
    let mut v: Vec<String> = r.place.iter().map(|p| p.name.clone()).collect();
    v.sort();
    v
}

/// Names of the stopped allocations, sorted.
pub fn stop_names(r: &ReconcileResult) -> Vec<String> {
    let mut v: Vec<String> = r.stop.iter().map(|s| s.alloc.name.clone()).collect();
    v.sort();
    v
}

/// Descriptions of stops, by allocation ID.
pub fn stop_reasons(r: &ReconcileResult) -> BTreeMap<String, String> {
    r.stop
        .iter()
        .map(|s| (s.alloc.id.clone(), s.description.clone()))
        .collect()
}

/// `(place, stop, inplace, destructive)` counts.
pub fn counts(r: &ReconcileResult) -> (usize, usize, usize, usize) {
    (
        r.place.len(),
        r.stop.len(),
        r.inplace_update.len(),
        r.destructive_update.len(),
    )
}

/// The plan annotation of group `web`.
pub fn annotation(r: &ReconcileResult) -> nomad_types::DesiredUpdates {
    r.desired_tg_updates.get("web").cloned().unwrap_or_default()
}

pub fn names(job: &str, group: &str, idx: &[u64]) -> Vec<String> {
    let mut v: Vec<String> = idx.iter().map(|i| format!("{job}.{group}[{i}]")).collect();
    v.sort();
    v
}
