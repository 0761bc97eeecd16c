//! The root of the state: every table and index, as persistent maps.
//!
//! [`Tables`] is cloned to make a snapshot (O(1): one reference count per
//! map). The write primitives here keep the secondary indexes in step with
//! the primary tables; what a write *means* (Nomad's rules) lives in
//! [`crate::fsm`].

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use imbl::OrdMap;
use nomad_types::api::ScalingEvent;
use nomad_types::{
    Allocation, Deployment, Evaluation, Job, JobSummary, Node, SchedulerConfiguration,
};
use serde::{Deserialize, Serialize};

use crate::index::{Groups, IdTable};
use crate::table::TableIndexes;

/// `(namespace, id)` of a job. Shared strings: a write copies the B-tree
/// nodes on its path, every key in them included, and copying an `Arc`
/// allocates nothing (two `String`s did, for each of up to 64 keys a node).
pub type JobKey = (Arc<str>, Arc<str>);

/// Builds a [`JobKey`].
pub fn job_key(namespace: &str, id: &str) -> JobKey {
    (Arc::from(namespace), Arc::from(id))
}

/// The key of a job's group in the secondary indexes: `namespace NUL id`
/// (sorts as `(namespace, id)` does).
pub(crate) fn group_key(namespace: &str, id: &str) -> String {
    let mut k = String::with_capacity(namespace.len() + id.len() + 1);
    k.push_str(namespace);
    k.push('\0');
    k.push_str(id);
    k
}

/// The last launch of a periodic job (Nomad's `periodic_launch` table).
/// The first entry of a periodic job records when it was registered, so a
/// new leader can tell whether a launch was missed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PeriodicLaunch {
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Launch time, Unix nanoseconds.
    pub launch: i64,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}

/// How many scaling events are kept per task group (Nomad's
/// `JobTrackedScalingEvents`).
pub const JOB_TRACKED_SCALING_EVENTS: usize = 20;

/// The scaling events of one job (Nomad's `JobScalingEvents`, the
/// `scaling_event` table): per task group, newest first, at most
/// [`JOB_TRACKED_SCALING_EVENTS`] each. Removed with the job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobScalingEvents {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Task group → events, newest first.
    pub scaling_events: BTreeMap<String, Vec<ScalingEvent>>,
    /// Raft index of the last event.
    pub modify_index: u64,
}

/// Every table and index of the store.
#[derive(Clone, Default)]
pub(crate) struct Tables {
    /// Raft index of the last entry applied (Noops included).
    pub applied_index: u64,
    /// Modify index of each table.
    pub indexes: TableIndexes,

    pub jobs: OrdMap<JobKey, Arc<Job>>,
    /// Tracked versions of each job, newest first.
    pub job_versions: OrdMap<JobKey, Arc<[Arc<Job>]>>,
    pub job_summaries: OrdMap<JobKey, Arc<JobSummary>>,

    pub nodes: IdTable<Node>,
    /// Node lists for the scheduler, built on first use by any snapshot
    /// sharing this node table and dropped by the next node write.
    node_lists: Arc<OnceLock<NodeLists>>,

    pub allocs: IdTable<Allocation>,
    pub allocs_by_node: Groups<Allocation>,
    /// Keyed by [`group_key`].
    pub allocs_by_job: Groups<Allocation>,
    pub allocs_by_eval: Groups<Allocation>,
    pub allocs_by_deployment: Groups<Allocation>,
    /// Running resource totals per node, for the scheduler's fit checks.
    #[cfg(feature = "scheduler")]
    pub node_usage: OrdMap<Arc<str>, crate::sched::UsageSum>,
    /// The part of `node_usage` held by allocations told to stop (or
    /// evicted) that the client has not finished yet: the plan applier
    /// does not count them, as Nomad's does not.
    #[cfg(feature = "scheduler")]
    pub node_stopping: OrdMap<Arc<str>, crate::sched::UsageSum>,

    pub evals: IdTable<Evaluation>,
    /// Keyed by [`group_key`].
    pub evals_by_job: Groups<Evaluation>,

    pub deployments: IdTable<Deployment>,
    /// Keyed by [`group_key`].
    pub deployments_by_job: Groups<Deployment>,

    pub periodic_launches: OrdMap<JobKey, Arc<PeriodicLaunch>>,
    pub scaling_events: OrdMap<JobKey, Arc<JobScalingEvents>>,
    pub scheduler_config: Option<Arc<SchedulerConfiguration>>,
}

/// Every node, and the nodes of each pool, sorted by ID.
#[derive(Default)]
pub(crate) struct NodeLists {
    pub all: Arc<[Arc<Node>]>,
    pub by_pool: BTreeMap<String, Arc<[Arc<Node>]>>,
}

impl Tables {
    // ---- nodes ----

    /// The node lists, built once per node-table version (O(n) then, O(1)
    /// after): writes to single nodes (heartbeats, client updates) stay
    /// O(log n) however large the cluster.
    pub fn node_lists(&self) -> &NodeLists {
        self.node_lists.get_or_init(|| {
            let mut by_pool: BTreeMap<String, Vec<Arc<Node>>> = BTreeMap::new();
            for n in self.nodes.iter() {
                by_pool
                    .entry(n.node_pool.clone())
                    .or_default()
                    .push(Arc::clone(n));
            }
            NodeLists {
                all: self.nodes.iter().cloned().collect(),
                by_pool: by_pool
                    .into_iter()
                    .map(|(k, v)| (k, Arc::from(v)))
                    .collect(),
            }
        })
    }

    pub fn put_node(&mut self, node: Arc<Node>) -> Option<Arc<Node>> {
        self.node_lists = Arc::default();
        self.nodes.insert(node)
    }

    pub fn remove_node(&mut self, id: &str) -> Option<Arc<Node>> {
        let old = self.nodes.remove(id)?;
        self.node_lists = Arc::default();
        Some(old)
    }

    // ---- allocations ----

    pub fn put_alloc(&mut self, alloc: Arc<Allocation>) -> Option<Arc<Allocation>> {
        let old = self.allocs.insert(Arc::clone(&alloc));
        if let Some(o) = &old {
            self.account_usage(o, -1);
        }
        self.account_usage(&alloc, 1);
        if let Some(o) = &old {
            if o.node_id != alloc.node_id {
                self.allocs_by_node.stage_remove(&o.node_id, o);
            }
            if o.namespace != alloc.namespace || o.job_id != alloc.job_id {
                self.allocs_by_job
                    .stage_remove(&group_key(&o.namespace, &o.job_id), o);
            }
            if o.eval_id != alloc.eval_id && !o.eval_id.is_empty() {
                self.allocs_by_eval.stage_remove(&o.eval_id, o);
            }
            if o.deployment_id != alloc.deployment_id && !o.deployment_id.is_empty() {
                self.allocs_by_deployment.stage_remove(&o.deployment_id, o);
            }
        }
        self.allocs_by_node
            .stage_put(&alloc.node_id, Arc::clone(&alloc));
        self.allocs_by_job.stage_put(
            &group_key(&alloc.namespace, &alloc.job_id),
            Arc::clone(&alloc),
        );
        if !alloc.eval_id.is_empty() {
            self.allocs_by_eval
                .stage_put(&alloc.eval_id, Arc::clone(&alloc));
        }
        if !alloc.deployment_id.is_empty() {
            self.allocs_by_deployment
                .stage_put(&alloc.deployment_id, Arc::clone(&alloc));
        }
        old
    }

    pub fn remove_alloc(&mut self, id: &str) -> Option<Arc<Allocation>> {
        let o = self.allocs.remove(id)?;
        self.account_usage(&o, -1);
        self.allocs_by_node.stage_remove(&o.node_id, &o);
        self.allocs_by_job
            .stage_remove(&group_key(&o.namespace, &o.job_id), &o);
        if !o.eval_id.is_empty() {
            self.allocs_by_eval.stage_remove(&o.eval_id, &o);
        }
        if !o.deployment_id.is_empty() {
            self.allocs_by_deployment.stage_remove(&o.deployment_id, &o);
        }
        Some(o)
    }

    // ---- evaluations ----

    pub fn put_eval(&mut self, eval: Arc<Evaluation>) -> Option<Arc<Evaluation>> {
        let old = self.evals.insert(Arc::clone(&eval));
        if let Some(o) = &old {
            if o.namespace != eval.namespace || o.job_id != eval.job_id {
                self.evals_by_job
                    .stage_remove(&group_key(&o.namespace, &o.job_id), o);
            }
        }
        self.evals_by_job
            .stage_put(&group_key(&eval.namespace, &eval.job_id), eval);
        old
    }

    pub fn remove_eval(&mut self, id: &str) -> Option<Arc<Evaluation>> {
        let o = self.evals.remove(id)?;
        self.evals_by_job
            .stage_remove(&group_key(&o.namespace, &o.job_id), &o);
        Some(o)
    }

    // ---- deployments ----

    pub fn put_deployment(&mut self, d: Arc<Deployment>) -> Option<Arc<Deployment>> {
        let old = self.deployments.insert(Arc::clone(&d));
        if let Some(o) = &old {
            if o.namespace != d.namespace || o.job_id != d.job_id {
                self.deployments_by_job
                    .stage_remove(&group_key(&o.namespace, &o.job_id), o);
            }
        }
        self.deployments_by_job
            .stage_put(&group_key(&d.namespace, &d.job_id), d);
        old
    }

    pub fn remove_deployment(&mut self, id: &str) -> Option<Arc<Deployment>> {
        let o = self.deployments.remove(id)?;
        self.deployments_by_job
            .stage_remove(&group_key(&o.namespace, &o.job_id), &o);
        Some(o)
    }

    // ---- fresh group reads inside a write ----

    pub fn allocs_of_job(&mut self, key: &JobKey) -> Arc<[Arc<Allocation>]> {
        self.allocs_by_job.current(&group_key(&key.0, &key.1))
    }

    pub fn allocs_of_deployment(&mut self, id: &str) -> Arc<[Arc<Allocation>]> {
        self.allocs_by_deployment.current(id)
    }

    pub fn evals_of_job(&mut self, key: &JobKey) -> Arc<[Arc<Evaluation>]> {
        self.evals_by_job.current(&group_key(&key.0, &key.1))
    }

    pub fn deployments_of_job(&mut self, key: &JobKey) -> Arc<[Arc<Deployment>]> {
        self.deployments_by_job.current(&group_key(&key.0, &key.1))
    }

    /// Applies every staged index change; called at the end of each log
    /// entry, before the state is published.
    pub fn flush(&mut self) {
        self.allocs_by_node.flush();
        self.allocs_by_job.flush();
        self.allocs_by_eval.flush();
        self.allocs_by_deployment.flush();
        self.evals_by_job.flush();
        self.deployments_by_job.flush();
    }

    /// Adds (`sign` 1) or removes (-1) an allocation's share of its node's
    /// running usage (and of its stopping usage).
    #[cfg(feature = "scheduler")]
    pub fn account_usage(&mut self, a: &Allocation, sign: i8) {
        use crate::sched::UsageSum;
        if let Some(delta) = UsageSum::of(a) {
            UsageSum::add_to(&mut self.node_usage, &a.node_id, delta, sign);
        }
        if let Some(delta) = UsageSum::stopping_of(a) {
            UsageSum::add_to(&mut self.node_stopping, &a.node_id, delta, sign);
        }
    }

    /// Without the scheduler there are no totals to keep.
    #[cfg(not(feature = "scheduler"))]
    pub fn account_usage(&mut self, _a: &Allocation, _sign: i8) {}
}
