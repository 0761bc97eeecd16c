//! Immutable, cheap views of the state: what schedulers, RPC and HTTP
//! reads work from.

use std::sync::Arc;

use nomad_types::{
    Allocation, Deployment, Evaluation, Job, JobSummary, Node, SchedulerConfiguration,
};

use crate::table::{Table, TableIndexes};
use crate::tables::{group_key, job_key, JobScalingEvents, PeriodicLaunch, Tables};

/// A consistent, immutable view of the whole state at one Raft index.
///
/// Taking one costs O(1) (it shares every table with the store through
/// persistent maps) and so does cloning it; it is `Send + Sync` and never
/// sees writes made after it was taken. Lists come back sorted by ID (jobs
/// by namespace then ID), so iteration order is deterministic.
#[derive(Clone)]
pub struct StateSnapshot {
    pub(crate) t: Arc<Tables>,
}

impl std::fmt::Debug for StateSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("applied_index", &self.t.applied_index)
            .field("jobs", &self.t.jobs.len())
            .field("nodes", &self.t.nodes.len())
            .field("allocs", &self.t.allocs.len())
            .field("evals", &self.t.evals.len())
            .finish()
    }
}

impl StateSnapshot {
    pub(crate) fn new(t: Tables) -> Self {
        StateSnapshot { t: Arc::new(t) }
    }

    /// Checks that `image` is a state image this version can read, without
    /// keeping it.
    pub fn check_image(image: &[u8]) -> Result<(), crate::RestoreError> {
        crate::persist::read(image).map(|_| ())
    }

    // ---- indexes ----

    /// Raft index of the last log entry applied (barriers included).
    pub fn applied_index(&self) -> u64 {
        self.t.applied_index
    }

    /// The greatest table index: the index a blocking query over the whole
    /// state reports (Nomad's `LatestIndex`).
    pub fn latest_index(&self) -> u64 {
        self.t.indexes.latest()
    }

    /// The modify index of one table.
    pub fn table_index(&self, table: Table) -> u64 {
        self.t.indexes.get(table)
    }

    /// The modify index of every table.
    pub fn indexes(&self) -> TableIndexes {
        self.t.indexes
    }

    // ---- jobs ----

    /// The current version of a job.
    pub fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.t.jobs.get(&job_key(namespace, id)).cloned()
    }

    /// Every job, by namespace then ID.
    pub fn jobs(&self) -> impl Iterator<Item = &Arc<Job>> + '_ {
        self.t.jobs.values()
    }

    /// The jobs of one namespace, by ID.
    pub fn jobs_by_namespace<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Job>> + 'a {
        self.jobs_by_id_prefix(namespace, "")
    }

    /// The jobs of a namespace whose ID starts with `prefix`, by ID.
    pub fn jobs_by_id_prefix<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Job>> + 'a {
        self.t
            .jobs
            .range(job_key(namespace, prefix)..)
            .take_while(move |((ns, id), _)| **ns == *namespace && id.starts_with(prefix))
            .map(|(_, j)| j)
    }

    /// The tracked versions of a job, newest first.
    pub fn job_versions(&self, namespace: &str, id: &str) -> &[Arc<Job>] {
        self.t
            .job_versions
            .get(&job_key(namespace, id))
            .map(|v| &v[..])
            .unwrap_or(&[])
    }

    /// One tracked version of a job.
    pub fn job_by_id_and_version(
        &self,
        namespace: &str,
        id: &str,
        version: u64,
    ) -> Option<Arc<Job>> {
        self.job_versions(namespace, id)
            .iter()
            .find(|j| j.version() == version)
            .cloned()
    }

    /// A job's allocation counts.
    pub fn job_summary(&self, namespace: &str, id: &str) -> Option<Arc<JobSummary>> {
        self.t.job_summaries.get(&job_key(namespace, id)).cloned()
    }

    /// Every job summary, by namespace then job ID.
    pub fn job_summaries(&self) -> impl Iterator<Item = &Arc<JobSummary>> + '_ {
        self.t.job_summaries.values()
    }

    /// The last launch of a periodic job.
    pub fn periodic_launch(&self, namespace: &str, id: &str) -> Option<Arc<PeriodicLaunch>> {
        self.t
            .periodic_launches
            .get(&job_key(namespace, id))
            .cloned()
    }

    /// Every periodic launch, by namespace then job ID.
    pub fn periodic_launches(&self) -> impl Iterator<Item = &Arc<PeriodicLaunch>> + '_ {
        self.t.periodic_launches.values()
    }

    /// A job's scaling events (per task group, newest first).
    pub fn scaling_events(&self, namespace: &str, id: &str) -> Option<Arc<JobScalingEvents>> {
        self.t.scaling_events.get(&job_key(namespace, id)).cloned()
    }

    // ---- nodes ----

    /// One node.
    pub fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        self.t.nodes.get(id).cloned()
    }

    /// Every node, by ID.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.t.node_lists().all
    }

    /// Nodes whose ID starts with `prefix`, by ID.
    pub fn nodes_by_id_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Node>> + 'a {
        self.t.nodes.prefix(prefix)
    }

    /// The nodes of one node pool, by ID.
    pub fn nodes_by_pool(&self, pool: &str) -> &[Arc<Node>] {
        self.t
            .node_lists()
            .by_pool
            .get(pool)
            .map(|v| &v[..])
            .unwrap_or(&[])
    }

    // ---- allocations ----

    /// One allocation.
    pub fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        self.t.allocs.get(id).cloned()
    }

    /// Every allocation, by ID.
    pub fn allocs(&self) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        self.t.allocs.iter()
    }

    /// Number of allocations.
    pub fn alloc_count(&self) -> usize {
        self.t.allocs.len()
    }

    /// Allocations whose ID starts with `prefix`, by ID.
    pub fn allocs_by_id_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Allocation>> + 'a {
        self.t.allocs.prefix(prefix)
    }

    /// Every allocation placed on a node (terminal ones included), by ID.
    pub fn allocs_by_node(&self, node_id: &str) -> &[Arc<Allocation>] {
        self.t.allocs_by_node.get(node_id)
    }

    /// A node's allocations that are (or are not) terminal.
    pub fn allocs_by_node_terminal(&self, node_id: &str, terminal: bool) -> Vec<Arc<Allocation>> {
        self.allocs_by_node(node_id)
            .iter()
            .filter(|a| a.terminal_status() == terminal)
            .cloned()
            .collect()
    }

    /// Every allocation of a job, all versions, by ID.
    pub fn allocs_by_job(&self, namespace: &str, job_id: &str) -> &[Arc<Allocation>] {
        self.t.allocs_by_job.get(&group_key(namespace, job_id))
    }

    /// The allocations an evaluation placed, by ID.
    pub fn allocs_by_eval(&self, eval_id: &str) -> &[Arc<Allocation>] {
        self.t.allocs_by_eval.get(eval_id)
    }

    /// The allocations of a deployment, by ID.
    pub fn allocs_by_deployment(&self, deployment_id: &str) -> &[Arc<Allocation>] {
        self.t.allocs_by_deployment.get(deployment_id)
    }

    // ---- evaluations ----

    /// One evaluation.
    pub fn eval_by_id(&self, id: &str) -> Option<Arc<Evaluation>> {
        self.t.evals.get(id).cloned()
    }

    /// Every evaluation, by ID.
    pub fn evals(&self) -> impl Iterator<Item = &Arc<Evaluation>> + '_ {
        self.t.evals.iter()
    }

    /// Evaluations whose ID starts with `prefix`, by ID.
    pub fn evals_by_id_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Evaluation>> + 'a {
        self.t.evals.prefix(prefix)
    }

    /// The evaluations of a job, by ID.
    pub fn evals_by_job(&self, namespace: &str, job_id: &str) -> &[Arc<Evaluation>] {
        self.t.evals_by_job.get(&group_key(namespace, job_id))
    }

    // ---- deployments ----

    /// One deployment.
    pub fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        self.t.deployments.get(id).cloned()
    }

    /// Every deployment, by ID.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> + '_ {
        self.t.deployments.iter()
    }

    /// Deployments whose ID starts with `prefix`, by ID.
    pub fn deployments_by_id_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Deployment>> + 'a {
        self.t.deployments.prefix(prefix)
    }

    /// The deployments of a job, by ID.
    pub fn deployments_by_job(&self, namespace: &str, job_id: &str) -> &[Arc<Deployment>] {
        self.t.deployments_by_job.get(&group_key(namespace, job_id))
    }

    /// The job's most recent deployment (highest create index).
    pub fn latest_deployment_by_job(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Option<Arc<Deployment>> {
        latest_deployment(self.deployments_by_job(namespace, job_id))
    }

    // ---- configuration ----

    /// The scheduler configuration, if one was ever written.
    pub fn scheduler_config(&self) -> Option<Arc<SchedulerConfiguration>> {
        self.t.scheduler_config.clone()
    }
}

/// The deployment with the highest create index (ties: greatest ID).
pub(crate) fn latest_deployment(ds: &[Arc<Deployment>]) -> Option<Arc<Deployment>> {
    ds.iter()
        .max_by(|a, b| a.create_index.cmp(&b.create_index).then(a.id.cmp(&b.id)))
        .cloned()
}
