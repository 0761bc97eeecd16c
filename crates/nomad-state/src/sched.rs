//! The scheduler's read interface over a snapshot.
//!
//! Every list is lent straight from the snapshot (`Cow::Borrowed`): nodes
//! sorted by ID, as the scheduler's seeded shuffle requires, and each
//! node's and job's allocations as the index keeps them. Node usage comes
//! from running totals the store keeps per node, so a fit check costs
//! O(log n) rather than a walk over the node's allocations.

use std::borrow::Cow;
use std::sync::Arc;

use imbl::OrdMap;

use nomad_scheduler::resources::{alloc_usage, Res};
use nomad_scheduler::state::{NodeUsage, State};
use nomad_types::{Allocation, Deployment, Job, Node, SchedulerConfiguration};

use crate::snapshot::StateSnapshot;

impl StateSnapshot {
    /// What the allocations on `node_id` hold as the plan applier counts
    /// them: those neither told to stop nor finished by the client (Nomad's
    /// plan check starts from the node's non-terminal allocations).
    pub fn node_live_usage(&self, node_id: &str) -> Res {
        let sum = |m: &OrdMap<Arc<str>, UsageSum>| {
            m.get(node_id).map(|s| s.usage().used).unwrap_or_default()
        };
        sum(&self.t.node_usage).minus(sum(&self.t.node_stopping))
    }
}

impl State for StateSnapshot {
    fn nodes(&self) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(StateSnapshot::nodes(self))
    }

    fn nodes_by_pool(&self, pool: &str) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(StateSnapshot::nodes_by_pool(self, pool))
    }

    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        StateSnapshot::node_by_id(self, id)
    }

    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        Cow::Borrowed(StateSnapshot::allocs_by_node(self, node_id))
    }

    fn node_usage(&self, node_id: &str) -> NodeUsage {
        self.t
            .node_usage
            .get(node_id)
            .map(UsageSum::usage)
            .unwrap_or_default()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        Cow::Borrowed(StateSnapshot::allocs_by_job(self, namespace, job_id))
    }

    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        StateSnapshot::alloc_by_id(self, id)
    }

    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        StateSnapshot::job_by_id(self, namespace, id)
    }

    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        StateSnapshot::job_by_id_and_version(self, namespace, id, version)
    }

    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        StateSnapshot::latest_deployment_by_job(self, namespace, job_id)
    }

    fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        StateSnapshot::deployments_by_job(self, namespace, job_id).to_vec()
    }

    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        StateSnapshot::deployment_by_id(self, id)
    }

    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration> {
        match &self.t.scheduler_config {
            Some(c) => Cow::Borrowed(&**c),
            None => Cow::Owned(SchedulerConfiguration::default()),
        }
    }

    fn latest_index(&self) -> u64 {
        StateSnapshot::latest_index(self)
    }
}

/// A node's running usage, summed exactly (wide integers, so adding and
/// removing an allocation always cancel out) and clamped when read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UsageSum {
    cpu: i128,
    memory_mb: i128,
    disk_mb: i128,
    allocs: i64,
}

impl UsageSum {
    /// What one allocation adds: nothing once the client has finished it
    /// (the rule of [`NodeUsage::of`]).
    pub fn of(a: &Allocation) -> Option<Res> {
        (!a.client_terminal_status()).then(|| alloc_usage(a))
    }

    /// What one allocation adds to its node's stopping usage: its usage
    /// while it is told to stop (or evicted) and the client has not
    /// finished it.
    pub fn stopping_of(a: &Allocation) -> Option<Res> {
        (a.terminal_status() && !a.client_terminal_status()).then(|| alloc_usage(a))
    }

    /// Adds `delta` (`sign` 1) to, or removes it (-1) from, `node`'s sum
    /// in `sums`; a sum back at zero is dropped.
    pub fn add_to(sums: &mut OrdMap<Arc<str>, UsageSum>, node: &str, delta: Res, sign: i8) {
        match sums.get_mut(node) {
            Some(sum) => {
                sum.apply(delta, sign);
                if sum.is_zero() {
                    sums.remove(node);
                }
            }
            None => {
                let mut sum = UsageSum::default();
                sum.apply(delta, sign);
                sums.insert(Arc::from(node), sum);
            }
        }
    }

    pub fn apply(&mut self, r: Res, sign: i8) {
        let s = i128::from(sign);
        self.cpu += s * i128::from(r.cpu);
        self.memory_mb += s * i128::from(r.memory_mb);
        self.disk_mb += s * i128::from(r.disk_mb);
        self.allocs += i64::from(sign);
    }

    pub fn is_zero(&self) -> bool {
        *self == UsageSum::default()
    }

    pub fn usage(&self) -> NodeUsage {
        let clamp = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        NodeUsage {
            used: Res {
                cpu: clamp(self.cpu),
                memory_mb: clamp(self.memory_mb),
                disk_mb: clamp(self.disk_mb),
            },
            allocs: self.allocs.clamp(0, i64::from(u32::MAX)) as u32,
        }
    }
}
