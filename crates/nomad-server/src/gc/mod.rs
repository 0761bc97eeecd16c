//! Garbage collection (Nomad's core scheduler, `nomad/core_sched.go`): the
//! leader reaps terminal evaluations and their allocations, stopped or dead
//! jobs, down nodes and terminal deployments once they are older than their
//! thresholds ([`GcConfig`](crate::GcConfig)), each kind on its own
//! interval; `system gc` ([`Server::system_gc`]) reaps everything eligible
//! at once, whatever its age.
//!
//! Eligibility is read from a snapshot ([`collect`]); the reaping goes
//! through Raft as the existing entries, in batches of at most
//! [`MAX_IDS_PER_ENTRY`] IDs: `EvalDelete` (allocations first, then
//! evaluations), `JobBatchDeregister` with `purge` (after the job's
//! evaluations and allocations), `DeploymentDelete` and `NodeDeregister`.
//! A job or node that changed between the snapshot and its batch is left
//! for the next pass. Nomad runs these passes as `_core` evaluations
//! through the broker and workers; here they run in one leader task, which
//! keeps them off the schedulers' queues and never runs two at once.

pub mod collect;

use std::collections::BTreeSet;
use std::time::Duration;

use nomad_state::command::{
    DeploymentDelete, EvalDelete, JobBatchDeregister, JobDeregisterOptions, NodeDeregister,
};
use nomad_state::Command;
use serde::{Deserialize, Serialize};

use crate::server::Server;
use crate::ServerError;
use collect::{Cutoffs, EvalReap, JobReap};

/// IDs per log entry: 256 KiB of UUIDs, as Nomad's
/// `MaxUUIDsPerWriteRequest`.
pub const MAX_IDS_PER_ENTRY: usize = (1024 * 256) / 36;

/// What a garbage collection reaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GcReport {
    /// Evaluations deleted.
    pub evals: usize,
    /// Allocations deleted.
    pub allocs: usize,
    /// Jobs purged.
    pub jobs: usize,
    /// Nodes deregistered.
    pub nodes: usize,
    /// Deployments deleted.
    pub deployments: usize,
}

impl GcReport {
    fn is_empty(&self) -> bool {
        *self == GcReport::default()
    }
}

/// The kinds of objects one pass looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Evals,
    Jobs,
    Nodes,
    Deployments,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Evals => "eval",
            Kind::Jobs => "job",
            Kind::Nodes => "node",
            Kind::Deployments => "deployment",
        }
    }
}

/// Every kind, in the order a forced collection runs them: nodes last, so
/// the allocations the others reap no longer hold them.
const ALL: [Kind; 4] = [Kind::Jobs, Kind::Evals, Kind::Deployments, Kind::Nodes];

impl Server {
    /// `nomad system gc` (Nomad's `System.GarbageCollect`): reaps every
    /// eligible evaluation, allocation, job, deployment and node, whatever
    /// its age, and returns what went. Forwarded to the leader.
    pub async fn system_gc(&self) -> Result<GcReport, ServerError> {
        if let Some(leader) = self.forward_target()? {
            let body =
                crate::rpc::call_one(&leader, "System.GarbageCollect", serde_json::json!({}))
                    .await?;
            return serde_json::from_value(body)
                .map_err(|e| ServerError::Internal(format!("System.GarbageCollect: {e}")));
        }
        let mut total = GcReport::default();
        for kind in ALL {
            let r = self.gc_pass(kind, true).await?;
            add(&mut total, r);
        }
        tracing::info!(
            evals = total.evals,
            allocs = total.allocs,
            jobs = total.jobs,
            nodes = total.nodes,
            deployments = total.deployments,
            "forced garbage collection done"
        );
        Ok(total)
    }

    /// One collection of `kind`: old enough objects, or every eligible one
    /// when `force`d.
    pub(crate) async fn gc_pass(&self, kind: Kind, force: bool) -> Result<GcReport, ServerError> {
        let _one_at_a_time = self.inner.gc_lock.lock().await;
        if !self.is_leader() {
            return Err(ServerError::NoLeader);
        }
        let now = crate::now_nanos();
        let cutoffs = if force {
            Cutoffs::forced()
        } else {
            Cutoffs::at(now, &self.inner.config.gc)
        };
        let snap = self.inner.reader.snapshot();
        let mut report = GcReport::default();
        match kind {
            Kind::Evals => {
                let reap = collect::evals(&snap, now, &cutoffs);
                self.reap_evals(reap, &mut report).await?;
            }
            Kind::Jobs => {
                let (jobs, reap) = collect::jobs(&snap, now, &cutoffs);
                self.reap_evals(reap, &mut report).await?;
                self.reap_jobs(jobs, &mut report).await?;
            }
            Kind::Nodes => {
                let nodes = collect::nodes(&snap, &cutoffs);
                self.reap_nodes(nodes, &mut report).await?;
            }
            Kind::Deployments => {
                let ids = collect::deployments(&snap, &cutoffs);
                self.reap_deployments(ids, &mut report).await?;
            }
        }
        if !report.is_empty() {
            tracing::debug!(kind = kind.name(), force, ?report, "garbage collected");
        }
        Ok(report)
    }

    async fn reap_evals(&self, reap: EvalReap, report: &mut GcReport) -> Result<(), ServerError> {
        for (evals, allocs) in partition_eval_reap(reap.evals, reap.allocs, MAX_IDS_PER_ENTRY) {
            let (ne, na) = (evals.len(), allocs.len());
            let r = self
                .propose(Command::EvalDelete(EvalDelete {
                    evals,
                    allocs,
                    user_initiated: false,
                }))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!("reaping evaluations: {e}")));
            }
            report.evals += ne;
            report.allocs += na;
        }
        Ok(())
    }

    async fn reap_jobs(
        &self,
        jobs: Vec<JobReap>,
        report: &mut GcReport,
    ) -> Result<(), ServerError> {
        for chunk in jobs.chunks(MAX_IDS_PER_ENTRY) {
            // Leave a job that changed since it was judged.
            let snap = self.inner.reader.snapshot();
            let unchanged: Vec<&JobReap> = chunk
                .iter()
                .filter(|j| {
                    snap.job_by_id(&j.namespace, &j.id)
                        .is_some_and(|cur| cur.modify_index.unwrap_or(0) == j.modify_index)
                })
                .collect();
            if unchanged.is_empty() {
                continue;
            }
            let r = self
                .propose(Command::JobBatchDeregister(JobBatchDeregister {
                    jobs: unchanged
                        .iter()
                        .map(|j| JobDeregisterOptions {
                            namespace: j.namespace.clone(),
                            job_id: j.id.clone(),
                            purge: true,
                        })
                        .collect(),
                    evals: Vec::new(),
                    submit_time: crate::now_nanos(),
                }))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!("reaping jobs: {e}")));
            }
            for j in &unchanged {
                if let Some(b) = self.inner.blocked.untrack(&j.namespace, &j.id) {
                    tracing::debug!(eval_id = %b.id, job_id = %j.id, "blocked evaluation of a reaped job dropped");
                }
            }
            report.jobs += unchanged.len();
        }
        Ok(())
    }

    async fn reap_nodes(
        &self,
        nodes: Vec<(String, u64)>,
        report: &mut GcReport,
    ) -> Result<(), ServerError> {
        for chunk in nodes.chunks(MAX_IDS_PER_ENTRY) {
            let snap = self.inner.reader.snapshot();
            let node_ids: Vec<String> = chunk
                .iter()
                .filter(|(id, idx)| snap.node_by_id(id).is_some_and(|n| n.modify_index == *idx))
                .map(|(id, _)| id.clone())
                .collect();
            if node_ids.is_empty() {
                continue;
            }
            let n = node_ids.len();
            let r = self
                .propose(Command::NodeDeregister(NodeDeregister {
                    node_ids: node_ids.clone(),
                }))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!("reaping nodes: {e}")));
            }
            for id in &node_ids {
                self.inner.heartbeats.clear(id);
            }
            report.nodes += n;
        }
        Ok(())
    }

    async fn reap_deployments(
        &self,
        ids: Vec<String>,
        report: &mut GcReport,
    ) -> Result<(), ServerError> {
        for chunk in ids.chunks(MAX_IDS_PER_ENTRY) {
            let snap = self.inner.reader.snapshot();
            let present: Vec<String> = chunk
                .iter()
                .filter(|id| snap.deployment_by_id(id).is_some())
                .cloned()
                .collect();
            if present.is_empty() {
                continue;
            }
            let n = present.len();
            let r = self
                .propose(Command::DeploymentDelete(DeploymentDelete {
                    deployments: present,
                }))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!("reaping deployments: {e}")));
            }
            report.deployments += n;
        }
        Ok(())
    }
}

fn add(total: &mut GcReport, r: GcReport) {
    total.evals += r.evals;
    total.allocs += r.allocs;
    total.jobs += r.jobs;
    total.nodes += r.nodes;
    total.deployments += r.deployments;
}

/// Splits a reap into entries of at most `max` IDs, allocations first
/// (Nomad's `partitionEvalReap`). Duplicates are dropped.
pub(crate) fn partition_eval_reap(
    evals: Vec<String>,
    allocs: Vec<String>,
    max: usize,
) -> Vec<(Vec<String>, Vec<String>)> {
    let max = max.max(1);
    let dedup = |v: Vec<String>| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect::<Vec<_>>()
    };
    let (evals, allocs) = (dedup(evals), dedup(allocs));
    let mut out = Vec::new();
    let (mut ei, mut ai) = (0, 0);
    while ei < evals.len() || ai < allocs.len() {
        let take_a = (allocs.len() - ai).min(max);
        let a = allocs[ai..ai + take_a].to_vec();
        ai += take_a;
        let take_e = (evals.len() - ei).min(max - take_a);
        let e = evals[ei..ei + take_e].to_vec();
        ei += take_e;
        out.push((e, a));
    }
    out
}

/// The leader's collector: each kind on its interval, and the evaluations
/// blocked after running out of plan attempts retried every
/// `failed_eval_unblock_interval`. Runs from leadership to its loss.
pub(crate) async fn run_collector(server: Server) {
    let cfg = server.inner.config.gc.clone();
    let every = |d: Duration| {
        let d = d.max(Duration::from_millis(1));
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    };
    let mut evals = every(cfg.eval_gc_interval);
    let mut jobs = every(cfg.job_gc_interval);
    let mut nodes = every(cfg.node_gc_interval);
    let mut deployments = every(cfg.deployment_gc_interval);
    let mut failed = every(cfg.failed_eval_unblock_interval);
    loop {
        let kind = tokio::select! {
            _ = evals.tick() => Kind::Evals,
            _ = jobs.tick() => Kind::Jobs,
            _ = nodes.tick() => Kind::Nodes,
            _ = deployments.tick() => Kind::Deployments,
            _ = failed.tick() => {
                let evals = server.inner.blocked.unblock_failed();
                for e in evals {
                    tracing::debug!(eval_id = %e.id, job_id = %e.job_id, "retrying evaluation blocked after its plan attempts");
                    server.inner.broker.enqueue(e);
                }
                continue;
            }
        };
        match server.gc_pass(kind, false).await {
            Ok(r) if !r.is_empty() => tracing::info!(
                kind = kind.name(),
                evals = r.evals,
                allocs = r.allocs,
                jobs = r.jobs,
                nodes = r.nodes,
                deployments = r.deployments,
                "garbage collection reaped old objects"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(kind = kind.name(), error = %e, "garbage collection failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(p: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{p}{i}")).collect()
    }

    #[test]
    fn partitions_allocs_first_within_the_limit() {
        let parts = partition_eval_reap(ids("e", 3), ids("a", 5), 4);
        let sizes: Vec<(usize, usize)> = parts.iter().map(|(e, a)| (e.len(), a.len())).collect();
        assert_eq!(sizes, [(0, 4), (3, 1)]);
        assert!(partition_eval_reap(Vec::new(), Vec::new(), 4).is_empty());
        let parts = partition_eval_reap(vec!["e".into(), "e".into()], Vec::new(), 4);
        assert_eq!(parts, [(vec!["e".to_string()], Vec::new())]);
        assert_eq!(MAX_IDS_PER_ENTRY, 7281);
    }
}
