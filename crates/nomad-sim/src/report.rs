//! What a run did: placements, failures with their explanations, plan
//! conflicts, and the cluster's utilisation afterwards.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use nomad_scheduler::resources::{node_capacity, node_reserved, Res};
use nomad_types::{AllocMetric, Allocation, Evaluation};

use crate::applier::PlanStats;
use crate::store::Store;

/// One evaluation processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalSummary {
    /// Evaluation ID.
    pub eval_id: String,
    /// Job ID.
    pub job_id: String,
    /// Why it was created (`job-register`, `queued-allocs`, …).
    pub triggered_by: String,
    /// Final status (`complete`, `blocked`, `failed`).
    pub status: String,
    /// Plans submitted (more than one after conflicts).
    pub plans: u32,
    /// New allocations committed.
    pub placed: usize,
}

/// One new allocation and where it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Job ID.
    pub job_id: String,
    /// Task group.
    pub group: String,
    /// Allocation name (`job.group[index]`).
    pub alloc_name: String,
    /// Node ID.
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// The node's datacenter.
    pub datacenter: String,
    /// The node's class.
    pub node_class: String,
}

/// Placements of one task group that did not fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    pub job_id: String,
    /// Task group.
    pub group: String,
    /// How many allocations are still unplaced.
    pub unplaced: i64,
    /// Nomad's placement metric for the failure (nodes evaluated,
    /// filtered, exhausted, by constraint and dimension, …).
    pub metric: AllocMetric,
}

impl Failure {
    /// A one-sentence explanation of what would let the group fit.
    pub fn explanation(&self) -> &str {
        &self.metric.explanation
    }
}

/// CPU, memory and disk used and offered by a set of nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Nodes counted.
    pub nodes: usize,
    /// Allocatable resources (capacity minus what nodes reserve).
    pub capacity: Res,
    /// Resources held by allocations not terminal on the client.
    pub used: Res,
    /// Such allocations.
    pub allocs: u64,
}

impl Totals {
    fn add(&mut self, n: &NodeUtil) {
        self.nodes += 1;
        self.capacity.add(n.capacity);
        self.used.add(n.used);
        self.allocs += u64::from(n.allocs);
    }

    /// Used CPU as a fraction of capacity (0 when there is none).
    pub fn cpu_fraction(&self) -> f64 {
        fraction(self.used.cpu, self.capacity.cpu)
    }

    /// Used memory as a fraction of capacity.
    pub fn memory_fraction(&self) -> f64 {
        fraction(self.used.memory_mb, self.capacity.memory_mb)
    }

    /// Used disk as a fraction of capacity.
    pub fn disk_fraction(&self) -> f64 {
        fraction(self.used.disk_mb, self.capacity.disk_mb)
    }
}

fn fraction(used: i64, capacity: i64) -> f64 {
    if capacity <= 0 {
        0.0
    } else {
        used as f64 / capacity as f64
    }
}

/// One node's utilisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUtil {
    /// Node ID.
    pub node_id: String,
    /// Node name.
    pub name: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node class.
    pub node_class: String,
    /// Allocatable resources.
    pub capacity: Res,
    /// Resources held by allocations.
    pub used: Res,
    /// Allocations not terminal on the client.
    pub allocs: u32,
}

/// The cluster's utilisation, per node and summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Utilisation {
    /// Per node, in the order nodes were added.
    pub nodes: Vec<NodeUtil>,
    /// The whole cluster.
    pub total: Totals,
    /// Per datacenter.
    pub by_datacenter: BTreeMap<String, Totals>,
    /// Per node class (`""` for nodes without one).
    pub by_class: BTreeMap<String, Totals>,
}

impl Utilisation {
    /// Reads the utilisation of every node of `store`.
    pub fn of(store: &Store) -> Utilisation {
        let mut u = Utilisation::default();
        for (slot, node) in store.nodes_in_slot_order().iter().enumerate() {
            let usage = store
                .node_allocs(slot as u32)
                .map(|n| n.usage)
                .unwrap_or_default();
            let n = NodeUtil {
                node_id: node.id.clone(),
                name: node.name.clone(),
                datacenter: node.datacenter.clone(),
                node_class: node.node_class.clone(),
                capacity: node_capacity(node).minus(node_reserved(node)),
                used: usage.used,
                allocs: usage.allocs,
            };
            u.total.add(&n);
            u.by_datacenter
                .entry(n.datacenter.clone())
                .or_default()
                .add(&n);
            u.by_class.entry(n.node_class.clone()).or_default().add(&n);
            u.nodes.push(n);
        }
        u
    }
}

/// What one [`crate::Simulator::run`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Evaluations processed, in order.
    pub evals: Vec<EvalSummary>,
    /// New allocations committed.
    pub placed: u64,
    /// New allocations per job ID.
    pub placed_by_job: BTreeMap<String, u64>,
    /// One entry per new allocation (empty unless
    /// [`crate::SimOptions::record_placements`]).
    pub placements: Vec<Placement>,
    /// Groups left with unplaced allocations, by (namespace, job, group).
    pub failures: Vec<Failure>,
    /// Plan applier counters: plans, partial commits, rejected nodes.
    pub plans: PlanStats,
    /// Utilisation after the run.
    pub utilisation: Utilisation,
    /// Evaluations still blocked after the run.
    pub blocked_evals: usize,
}

impl Report {
    /// Unplaced allocations, over every failure.
    pub fn unplaced(&self) -> i64 {
        self.failures.iter().map(|f| f.unplaced).sum()
    }

    /// Recorded placements counted by a key (`|p| p.datacenter.clone()`).
    pub fn count_placements_by<K: Ord>(&self, key: impl Fn(&Placement) -> K) -> BTreeMap<K, u64> {
        let mut out = BTreeMap::new();
        for p in &self.placements {
            *out.entry(key(p)).or_default() += 1;
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.utilisation.total;
        writeln!(
            f,
            "{} evaluations, {} plans ({} partly rejected, {} node rejections), {} allocations placed, {} unplaced",
            self.evals.len(),
            self.plans.plans,
            self.plans.partial_commits,
            self.plans.rejections.len(),
            self.placed,
            self.unplaced()
        )?;
        for fail in &self.failures {
            writeln!(
                f,
                "  {}/{}: {} unplaced ({} nodes evaluated, {} filtered, {} exhausted){}{}",
                fail.job_id,
                fail.group,
                fail.unplaced,
                fail.metric.nodes_evaluated,
                fail.metric.nodes_filtered,
                fail.metric.nodes_exhausted,
                if fail.explanation().is_empty() {
                    ""
                } else {
                    ": "
                },
                fail.explanation()
            )?;
        }
        write!(
            f,
            "cluster: {} nodes, {} allocations, cpu {:.1}%, memory {:.1}%, disk {:.1}%",
            t.nodes,
            t.allocs,
            t.cpu_fraction() * 100.0,
            t.memory_fraction() * 100.0,
            t.disk_fraction() * 100.0
        )
    }
}

/// Accumulates a report while a run goes on.
#[derive(Debug, Default)]
pub(crate) struct ReportBuilder {
    report: Report,
    record: bool,
    failures: BTreeMap<(String, String, String), Failure>,
}

impl ReportBuilder {
    pub(crate) fn new(record: bool) -> Self {
        ReportBuilder {
            record,
            ..ReportBuilder::default()
        }
    }

    pub(crate) fn eval(&mut self, outcome: &nomad_scheduler::EvalOutcome, eval: &Evaluation) {
        let e = &outcome.eval;
        self.report.evals.push(EvalSummary {
            eval_id: eval.id.clone(),
            job_id: eval.job_id.clone(),
            triggered_by: eval.triggered_by.clone(),
            status: e.status.clone(),
            plans: outcome.plans_submitted,
            placed: outcome.allocs_placed,
        });
        let job = (e.namespace.clone(), e.job_id.clone());
        // The latest evaluation of a job says what is still unplaced.
        self.failures
            .retain(|(ns, id, _), _| (ns, id) != (&job.0, &job.1));
        for (group, metric) in &e.failed_tg_allocs {
            let unplaced = e.queued_allocations.get(group).copied().unwrap_or(0);
            self.failures.insert(
                (job.0.clone(), job.1.clone(), group.clone()),
                Failure {
                    namespace: job.0.clone(),
                    job_id: job.1.clone(),
                    group: group.clone(),
                    unplaced: unplaced.max(1 + metric.coalesced_failures),
                    metric: metric.clone(),
                },
            );
        }
    }

    pub(crate) fn placed(&mut self, allocs: &[Arc<Allocation>], store: &Store) {
        for a in allocs {
            self.report.placed += 1;
            match self.report.placed_by_job.get_mut(a.job_id.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.report.placed_by_job.insert(a.job_id.clone(), 1);
                }
            }
            if !self.record {
                continue;
            }
            let node = store
                .node_set()
                .slot(&a.node_id)
                .map(|s| &store.nodes_in_slot_order()[s as usize]);
            self.report.placements.push(Placement {
                job_id: a.job_id.clone(),
                group: a.task_group.clone(),
                alloc_name: a.name.clone(),
                node_id: a.node_id.clone(),
                node_name: a.node_name.clone(),
                datacenter: node.map(|n| n.datacenter.clone()).unwrap_or_default(),
                node_class: node.map(|n| n.node_class.clone()).unwrap_or_default(),
            });
        }
    }

    pub(crate) fn plans(&mut self, stats: PlanStats) {
        let p = &mut self.report.plans;
        p.plans += stats.plans;
        p.partial_commits += stats.partial_commits;
        p.allocs_committed += stats.allocs_committed;
        p.rejections.extend(stats.rejections);
    }

    pub(crate) fn finish(mut self, store: &Store, blocked: usize) -> Report {
        self.report.failures = self.failures.into_values().collect();
        self.report.utilisation = Utilisation::of(store);
        self.report.blocked_evals = blocked;
        self.report
    }
}
