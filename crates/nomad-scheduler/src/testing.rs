//! A small in-memory [`State`] and [`Planner`] for tests, examples and
//! embedders, plus builders for typical nodes, jobs and evaluations.
//!
//! [`MemState`] indexes nodes by ID (kept in ID order), allocations by
//! node and by job, and keeps per-node usage totals up to date, so the
//! scheduler's fast paths apply. [`MemPlanner`] commits plans into its own
//! [`MemState`] (the "leader's" store) and records every evaluation it is
//! given; it can be told to reject the next plan's placements on chosen
//! nodes, to exercise partial commits.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nomad_types::consts::{
    alloc_desired_status, eval_status, eval_trigger, node_eligibility, node_status,
};
use nomad_types::node::{
    NodeCpuResources, NodeDiskResources, NodeMemoryResources, NodeNetworkAddress,
    NodeNetworkResource,
};
use nomad_types::resources::Resources;
use nomad_types::{
    Allocation, Deployment, DriverInfo, Evaluation, Job, Node, NodeResources,
    SchedulerConfiguration, Task, TaskGroup,
};

use crate::plan::{Plan, PlanResult};
use crate::planner::{Planner, PlannerError, Submission};
use crate::resources::alloc_usage;
use crate::state::{NodeUsage, State};

/// An in-memory cluster snapshot. Cloning is cheap enough for tests
/// (maps of `Arc`s).
#[derive(Clone, Debug, Default)]
pub struct MemState {
    nodes: BTreeMap<String, Arc<Node>>,
    node_list: Vec<Arc<Node>>,
    allocs: HashMap<String, Arc<Allocation>>,
    by_node: HashMap<String, Vec<Arc<Allocation>>>,
    by_job: HashMap<(String, String), BTreeMap<String, Arc<Allocation>>>,
    usage: HashMap<String, NodeUsage>,
    jobs: HashMap<(String, String), Arc<Job>>,
    job_versions: HashMap<(String, String, u64), Arc<Job>>,
    deployments: BTreeMap<String, Arc<Deployment>>,
    config: SchedulerConfiguration,
    index: u64,
}

impl MemState {
    /// An empty cluster with Nomad's default scheduler configuration.
    pub fn new() -> Self {
        Self::default()
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Adds or replaces a node (its computed class is filled in when
    /// empty).
    pub fn upsert_node(&mut self, mut node: Node) {
        if node.computed_class.is_empty() {
            node.computed_class = node.compute_class();
        }
        let index = self.bump();
        if node.create_index == 0 {
            node.create_index = index;
        }
        node.modify_index = index;
        let node = Arc::new(node);
        match self
            .node_list
            .binary_search_by(|n| n.id.as_str().cmp(&node.id))
        {
            Ok(at) => self.node_list[at] = node.clone(),
            Err(at) => self.node_list.insert(at, node.clone()),
        }
        self.nodes.insert(node.id.clone(), node);
    }

    /// Removes a node.
    pub fn delete_node(&mut self, id: &str) {
        self.nodes.remove(id);
        self.node_list.retain(|n| n.id != id);
        self.bump();
    }

    /// Adds a job as its next version (version 0 the first time).
    pub fn upsert_job(&mut self, mut job: Job) -> Arc<Job> {
        let index = self.bump();
        let key = (job.namespace().to_string(), job.id().to_string());
        let version = self.jobs.get(&key).map_or(0, |j| j.version() + 1);
        job.version = Some(version);
        job.job_modify_index = Some(index);
        job.modify_index = Some(index);
        if job.create_index.unwrap_or(0) == 0 {
            job.create_index = Some(index);
        }
        let job = Arc::new(job);
        self.job_versions
            .insert((key.0.clone(), key.1.clone(), version), job.clone());
        self.jobs.insert(key, job.clone());
        job
    }

    /// Adds or replaces an allocation.
    pub fn upsert_alloc(&mut self, alloc: Allocation) {
        let index = self.bump();
        self.put_alloc(alloc, index);
    }

    fn put_alloc(&mut self, mut alloc: Allocation, index: u64) {
        let old = self.allocs.get(&alloc.id).cloned();
        alloc.create_index = old.as_ref().map_or(index, |o| o.create_index);
        alloc.modify_index = index;
        if alloc.job.is_none() {
            alloc.job = old.as_ref().and_then(|o| o.job.clone()).or_else(|| {
                self.jobs
                    .get(&(alloc.namespace.clone(), alloc.job_id.clone()))
                    .cloned()
            });
        }
        let alloc = Arc::new(alloc);
        if let Some(old) = &old {
            if let Some(list) = self.by_node.get_mut(&old.node_id) {
                list.retain(|a| a.id != old.id);
            }
            self.adjust_usage(old, -1);
        }
        self.adjust_usage(&alloc, 1);
        self.by_node
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc.clone());
        self.by_job
            .entry((alloc.namespace.clone(), alloc.job_id.clone()))
            .or_default()
            .insert(alloc.id.clone(), alloc.clone());
        self.allocs.insert(alloc.id.clone(), alloc);
    }

    fn adjust_usage(&mut self, alloc: &Allocation, sign: i64) {
        if alloc.client_terminal_status() {
            return;
        }
        let usage = self.usage.entry(alloc.node_id.clone()).or_default();
        let res = alloc_usage(alloc);
        if sign > 0 {
            usage.used.add(res);
            usage.allocs += 1;
        } else {
            usage.used.sub(res);
            usage.allocs = usage.allocs.saturating_sub(1);
        }
    }

    /// Adds or replaces a deployment.
    pub fn upsert_deployment(&mut self, deployment: Deployment) {
        self.bump();
        self.deployments
            .insert(deployment.id.clone(), Arc::new(deployment));
    }

    /// Replaces the scheduler configuration.
    pub fn set_scheduler_config(&mut self, config: SchedulerConfiguration) {
        self.bump();
        self.config = config;
    }

    /// Every allocation, in no particular order.
    pub fn allocs(&self) -> impl Iterator<Item = &Arc<Allocation>> {
        self.allocs.values()
    }

    /// Non-terminal allocations of a job.
    pub fn live_allocs(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        self.allocs_by_job(namespace, job_id)
            .iter()
            .filter(|a| !a.terminal_status())
            .cloned()
            .collect()
    }

    /// Applies a committed plan result, as the leader's plan applier does.
    pub fn apply(&mut self, result: &PlanResult) -> u64 {
        let index = self.bump();
        for alloc in result.node_update.values().flatten() {
            self.put_alloc((**alloc).clone(), index);
        }
        for slim in result.node_preemptions.values().flatten() {
            if let Some(existing) = self.allocs.get(&slim.id) {
                let mut evicted = (**existing).clone();
                evicted.desired_status = alloc_desired_status::EVICT.to_string();
                evicted.desired_description = slim.desired_description.clone();
                evicted.preempted_by_allocation = slim.preempted_by_allocation.clone();
                self.put_alloc(evicted, index);
            }
        }
        let mut fresh = Vec::new();
        for alloc in result.node_allocation.values().flatten() {
            if !self.allocs.contains_key(&alloc.id) {
                fresh.push(alloc.clone());
            }
            self.put_alloc((**alloc).clone(), index);
        }
        if let Some(d) = &result.deployment {
            let mut d = d.clone();
            d.create_index = self
                .deployments
                .get(&d.id)
                .map_or(index, |old| old.create_index);
            d.modify_index = index;
            self.deployments.insert(d.id.clone(), Arc::new(d));
        }
        // As Nomad's state store does: a new allocation of a deployment
        // counts as placed in its group, and a canary is recorded by ID.
        for alloc in fresh {
            let Some(d) = self.deployments.get(&alloc.deployment_id) else {
                continue;
            };
            let mut d = (**d).clone();
            if let Some(s) = d.task_groups.get_mut(&alloc.task_group) {
                s.placed_allocs += 1;
                if alloc.deployment_status.as_ref().is_some_and(|s| s.canary) {
                    s.placed_canaries.push(alloc.id.clone());
                }
            }
            self.deployments.insert(d.id.clone(), Arc::new(d));
        }
        for u in &result.deployment_updates {
            if let Some(d) = self.deployments.get(&u.deployment_id) {
                let mut d = (**d).clone();
                d.status = u.status.clone();
                d.status_description = u.status_description.clone();
                self.deployments.insert(d.id.clone(), Arc::new(d));
            }
        }
        index
    }
}

impl State for MemState {
    fn nodes(&self) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(&self.node_list)
    }

    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        self.nodes.get(id).cloned()
    }

    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        match self.by_node.get(node_id) {
            Some(list) => Cow::Borrowed(list),
            None => Cow::Borrowed(&[]),
        }
    }

    fn node_usage(&self, node_id: &str) -> NodeUsage {
        self.usage.get(node_id).copied().unwrap_or_default()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        match self
            .by_job
            .get(&(namespace.to_string(), job_id.to_string()))
        {
            Some(map) => Cow::Owned(map.values().cloned().collect()),
            None => Cow::Borrowed(&[]),
        }
    }

    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        self.allocs.get(id).cloned()
    }

    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.jobs
            .get(&(namespace.to_string(), id.to_string()))
            .cloned()
    }

    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        self.job_versions
            .get(&(namespace.to_string(), id.to_string(), version))
            .cloned()
    }

    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        self.deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .max_by_key(|d| d.create_index)
            .cloned()
    }

    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        self.deployments.get(id).cloned()
    }

    fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        self.deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .cloned()
            .collect()
    }

    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration> {
        Cow::Borrowed(&self.config)
    }

    fn latest_index(&self) -> u64 {
        self.index
    }
}

/// A planner that commits into its own [`MemState`] and records what the
/// scheduler asked for.
#[derive(Debug, Default)]
pub struct MemPlanner {
    /// The leader's store: commits land here.
    pub store: MemState,
    /// Every plan submitted.
    pub plans: Vec<Plan>,
    /// Every evaluation created (blocked, follow-ups).
    pub created_evals: Vec<Evaluation>,
    /// Every evaluation update.
    pub updated_evals: Vec<Evaluation>,
    /// Every evaluation re-blocked.
    pub reblocked_evals: Vec<Evaluation>,
    /// Nodes whose placements the next submitted plan loses (a partial
    /// commit, answered with a refreshed snapshot).
    pub reject_next: HashSet<String>,
    /// Lose every plan's placements (a scheduler that always conflicts).
    pub reject_always: bool,
}

impl MemPlanner {
    /// A planner committing into `store`.
    pub fn new(store: MemState) -> Self {
        MemPlanner {
            store,
            ..MemPlanner::default()
        }
    }

    /// Processes `eval` against a snapshot of the store.
    pub fn process(
        &mut self,
        eval: &Evaluation,
        options: &crate::SchedulerOptions,
    ) -> Result<crate::EvalOutcome, crate::SchedulerError> {
        let snapshot = self.store.clone();
        crate::process_eval(&snapshot, self, eval, options)
    }
}

impl Planner<MemState> for MemPlanner {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<MemState>, PlannerError> {
        self.plans.push(plan.clone());
        let mut rejected = std::mem::take(&mut self.reject_next);
        if self.reject_always {
            rejected.extend(plan.node_allocation.keys().cloned());
        }
        let mut result = PlanResult::committed(plan, 0);
        for node in &rejected {
            result.node_allocation.remove(node);
            result.node_update.remove(node);
            result.node_preemptions.remove(node);
        }
        result.rejected_nodes = rejected.iter().cloned().collect();
        result.rejected_nodes.sort();
        let index = self.store.apply(&result);
        result.alloc_index = index;
        if rejected.is_empty() {
            return Ok(Submission::new(result));
        }
        result.refresh_index = index;
        Ok(Submission {
            result,
            refreshed_state: Some(self.store.clone()),
        })
    }

    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.updated_evals.push(eval.clone());
        Ok(())
    }

    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.created_evals.push(eval.clone());
        Ok(())
    }

    fn reblock_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.reblocked_evals.push(eval.clone());
        Ok(())
    }
}

/// A ready, eligible client: 4000 MHz, 8192 MB, 100 GB of disk, in `dc1`
/// and the `default` pool, Linux, with healthy `exec` and `docker`
/// drivers and a `default` host network at `10.0.0.<n>`.
pub fn node(id: &str) -> Node {
    let mut n = Node {
        id: id.to_string(),
        name: id.to_string(),
        datacenter: "dc1".to_string(),
        node_pool: "default".to_string(),
        status: node_status::READY.to_string(),
        scheduling_eligibility: node_eligibility::ELIGIBLE.to_string(),
        node_resources: Some(NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: 4000,
                total_cpu_cores: 4,
                ..NodeCpuResources::default()
            },
            memory: NodeMemoryResources { memory_mb: 8192 },
            disk: NodeDiskResources {
                disk_mb: 100 * 1024,
            },
            node_networks: vec![NodeNetworkResource {
                mode: "host".to_string(),
                device: "eth0".to_string(),
                addresses: vec![NodeNetworkAddress {
                    family: "ipv4".to_string(),
                    alias: "default".to_string(),
                    address: format!(
                        "10.0.{}.{}",
                        (crate::util::digest(id) >> 8) % 250,
                        crate::util::digest(id) % 250
                    ),
                    ..NodeNetworkAddress::default()
                }],
                ..NodeNetworkResource::default()
            }],
            networks: vec![nomad_types::NetworkResource {
                mode: "host".to_string(),
                device: "eth0".to_string(),
                ..nomad_types::NetworkResource::default()
            }],
            ..NodeResources::default()
        }),
        ..Node::default()
    };
    n.attributes.insert("kernel.name".into(), "linux".into());
    n.attributes.insert("unique.hostname".into(), id.into());
    for d in ["exec", "docker"] {
        n.drivers.insert(
            d.to_string(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        );
    }
    n
}

/// A canonical job of `job_type` with one group `web` of `count`, one
/// `exec` task asking for 500 MHz and 256 MB, in datacenter `dc1`.
pub fn job(id: &str, job_type: &str, count: i64) -> Job {
    let mut task = Task::new("web", "exec");
    task.resources = Some(Resources {
        cpu: Some(500),
        memory_mb: Some(256),
        ..Resources::default()
    });
    let mut tg = TaskGroup::new("web", count);
    tg.tasks = vec![task];
    let mut job = Job::new(id, job_type);
    job.datacenters = vec!["dc1".to_string()];
    job.task_groups = vec![tg];
    job.canonicalize();
    job
}

/// A pending `job-register` evaluation for `job`.
pub fn eval_for(job: &Job, id: &str) -> Evaluation {
    Evaluation {
        id: id.to_string(),
        namespace: job.namespace().to_string(),
        priority: job.priority(),
        eval_type: job.job_type().to_string(),
        triggered_by: eval_trigger::JOB_REGISTER.to_string(),
        job_id: job.id().to_string(),
        job_modify_index: job.job_modify_index.unwrap_or(0),
        status: eval_status::PENDING.to_string(),
        ..Evaluation::default()
    }
}
