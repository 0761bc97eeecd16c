//! The read-only view of the cluster the scheduler decides from.
//!
//! A [`State`] is a consistent snapshot: every call during one evaluation
//! must see the same data. Returned collections are [`Cow`]s so that an
//! in-memory store can lend its slices without copying while other stores
//! may build them on demand; objects are shared through `Arc`, so nothing
//! the scheduler reads is ever deep-copied.
//!
//! Determinism: the scheduler shuffles nodes with a seeded generator, so for
//! the same seed to give the same plan, [`State::nodes`] (and the pool and
//! datacenter variants) must return nodes in a stable order — sorted by ID
//! is what Nomad's store does and what [`crate::testing::MemState`] does.

use std::borrow::Cow;
use std::sync::Arc;

use nomad_types::{Allocation, Deployment, Job, Node, SchedulerConfiguration};

use crate::resources::{alloc_usage, Res};

/// What the allocations on one node use in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// CPU, memory and disk held by allocations that are not terminal on
    /// the client.
    pub used: Res,
    /// How many such allocations there are.
    pub allocs: u32,
}

impl NodeUsage {
    /// Sums the usage of `allocs`, skipping those the client has finished
    /// (`complete`, `failed`, `lost`): the rule of Nomad's fit check.
    pub fn of<'a, I: IntoIterator<Item = &'a Arc<Allocation>>>(allocs: I) -> NodeUsage {
        let mut usage = NodeUsage::default();
        for alloc in allocs {
            if alloc.client_terminal_status() {
                continue;
            }
            usage.used.add(alloc_usage(alloc));
            usage.allocs += 1;
        }
        usage
    }
}

/// What the scheduler's candidate walk reads of a node, kept by a store
/// beside its list of schedulable nodes (see
/// [`State::schedulable_node_facts`]): an evaluation visits thousands of
/// nodes, and reading one compact array is far cheaper than reading
/// thousands of node objects scattered over the heap. Names are shared
/// strings; nodes with the same datacenter or class should share one
/// allocation (the scheduler remembers what it learnt per string).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeFacts {
    /// The node's ID, as [`State::shared_node_id`] returns it.
    pub id: Arc<str>,
    /// `Node.Datacenter`.
    pub datacenter: Arc<str>,
    /// `Node.ComputedClass` (computed when the node has none).
    pub computed_class: Arc<str>,
    /// `Node.NodeClass`.
    pub node_class: Arc<str>,
    /// Total capacity ([`crate::resources::node_capacity`]).
    pub capacity: Res,
    /// What the node keeps for itself ([`crate::resources::node_reserved`]).
    pub reserved: Res,
    /// `node_max_allocs` (0: no limit).
    pub max_allocs: i64,
}

impl NodeFacts {
    /// The facts of `node`, its names made shared by `share` (which should
    /// hand out one `Arc` per distinct string) and its ID `id`.
    pub fn of(node: &Node, id: Arc<str>, mut share: impl FnMut(&str) -> Arc<str>) -> Self {
        let computed_class = if node.computed_class.is_empty() {
            share(&node.compute_class())
        } else {
            share(&node.computed_class)
        };
        NodeFacts {
            id,
            datacenter: share(&node.datacenter),
            computed_class,
            node_class: share(&node.node_class),
            capacity: crate::resources::node_capacity(node),
            reserved: crate::resources::node_reserved(node),
            max_allocs: node.node_max_allocs,
        }
    }
}

/// A consistent, read-only snapshot of the cluster.
pub trait State {
    /// Every node, in a stable order (see the module documentation).
    fn nodes(&self) -> Cow<'_, [Arc<Node>]>;

    /// The nodes of one node pool, in a stable order. The default filters
    /// [`State::nodes`]; stores with a pool index should override it.
    fn nodes_by_pool(&self, pool: &str) -> Cow<'_, [Arc<Node>]> {
        Cow::Owned(
            self.nodes()
                .iter()
                .filter(|n| n.node_pool == pool)
                .cloned()
                .collect(),
        )
    }

    /// The nodes of one datacenter, in a stable order. The default filters
    /// [`State::nodes`].
    fn nodes_by_datacenter(&self, datacenter: &str) -> Cow<'_, [Arc<Node>]> {
        Cow::Owned(
            self.nodes()
                .iter()
                .filter(|n| n.datacenter == datacenter)
                .cloned()
                .collect(),
        )
    }

    /// The nodes of one pool (`all`: every pool) that take new placements
    /// (ready, eligible, not draining: [`Node::is_schedulable`]), in the
    /// stable order, when the store keeps that list; `None` (the default)
    /// has the scheduler filter [`State::nodes_by_pool`] itself. Worth
    /// keeping for large clusters: every evaluation starts from it.
    fn schedulable_nodes(&self, pool: &str) -> Option<Cow<'_, [Arc<Node>]>> {
        let _ = pool;
        None
    }

    /// For each node of [`State::schedulable_nodes`]`(pool)`, in the same
    /// order, its [`NodeFacts`], when the store keeps them (`None`, the
    /// default, has the scheduler read the nodes). Must describe exactly
    /// the nodes that list returns.
    fn schedulable_node_facts(&self, pool: &str) -> Option<Cow<'_, [NodeFacts]>> {
        let _ = pool;
        None
    }

    /// One node.
    fn node_by_id(&self, id: &str) -> Option<Arc<Node>>;

    /// Every allocation placed on a node, terminal ones included.
    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]>;

    /// Total usage of a node's allocations. The default sums
    /// [`State::allocs_by_node`]; a store that keeps running totals should
    /// override it, which makes scheduling onto busy clusters much cheaper.
    fn node_usage(&self, node_id: &str) -> NodeUsage {
        NodeUsage::of(self.allocs_by_node(node_id).iter())
    }

    /// A node's ID as a shared string, for the score rows of placement
    /// metrics. A store that interns node IDs should return its copy, so
    /// that every row naming the node shares one string; the default makes
    /// a new one.
    fn shared_node_id(&self, node: &Node) -> Arc<str> {
        Arc::from(node.id.as_str())
    }

    /// Every allocation of a job (all versions, terminal ones included).
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]>;

    /// One allocation.
    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>>;

    /// The current version of a job.
    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>>;

    /// A given version of a job.
    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>>;

    /// The job's most recent deployment.
    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>>;

    /// Every deployment of the job the store still holds, any order. The
    /// scheduler reads them only to find the job version a replacement of
    /// an old allocation must run while a newer version is canarying
    /// (Nomad's latest promoted deployment). The default knows only the
    /// latest one; a store that keeps older deployments should list them.
    fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        self.latest_deployment_by_job(namespace, job_id)
            .into_iter()
            .collect()
    }

    /// One deployment.
    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>>;

    /// The scheduler configuration in force.
    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration>;

    /// The Raft index this snapshot reflects.
    fn latest_index(&self) -> u64;
}

impl<S: State + ?Sized> State for &S {
    fn nodes(&self) -> Cow<'_, [Arc<Node>]> {
        (**self).nodes()
    }
    fn nodes_by_pool(&self, pool: &str) -> Cow<'_, [Arc<Node>]> {
        (**self).nodes_by_pool(pool)
    }
    fn nodes_by_datacenter(&self, datacenter: &str) -> Cow<'_, [Arc<Node>]> {
        (**self).nodes_by_datacenter(datacenter)
    }
    fn schedulable_nodes(&self, pool: &str) -> Option<Cow<'_, [Arc<Node>]>> {
        (**self).schedulable_nodes(pool)
    }
    fn schedulable_node_facts(&self, pool: &str) -> Option<Cow<'_, [NodeFacts]>> {
        (**self).schedulable_node_facts(pool)
    }
    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        (**self).node_by_id(id)
    }
    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        (**self).allocs_by_node(node_id)
    }
    fn node_usage(&self, node_id: &str) -> NodeUsage {
        (**self).node_usage(node_id)
    }
    fn shared_node_id(&self, node: &Node) -> Arc<str> {
        (**self).shared_node_id(node)
    }
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        (**self).allocs_by_job(namespace, job_id)
    }
    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        (**self).alloc_by_id(id)
    }
    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        (**self).job_by_id(namespace, id)
    }
    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        (**self).job_by_id_and_version(namespace, id, version)
    }
    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        (**self).latest_deployment_by_job(namespace, job_id)
    }
    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        (**self).deployment_by_id(id)
    }
    fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        (**self).deployments_by_job(namespace, job_id)
    }
    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration> {
        (**self).scheduler_config()
    }
    fn latest_index(&self) -> u64 {
        (**self).latest_index()
    }
}
