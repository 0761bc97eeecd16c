//! Digests of the state, for comparing servers (determinism checks in the
//! consensus tests) and for checking that restore gives back what was
//! saved; plus a consistency check of the secondary indexes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use nomad_types::Job;
use serde::Serialize;

use crate::table::{Table, TableIndexes};
use crate::tables::{group_key, job_key, Tables};

/// A 64-bit digest of each table's contents, plus the table indexes.
/// Equal digests mean (with overwhelming likelihood) equal states.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateDigest {
    /// Per table: FNV-1a over every row's JSON, in key order.
    pub tables: BTreeMap<Table, u64>,
    /// Modify index of each table.
    pub indexes: TableIndexes,
}

impl StateDigest {
    /// One number for the whole state.
    pub fn combined(&self) -> u64 {
        let mut h = Fnv::default();
        for (t, d) in &self.tables {
            h.bytes(t.name().as_bytes());
            h.bytes(&d.to_le_bytes());
        }
        for (_, i) in self.indexes.iter() {
            h.bytes(&i.to_le_bytes());
        }
        h.0
    }
}

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.combined())?;
        for (t, d) in &self.tables {
            write!(f, " {t}={d:016x}@{}", self.indexes.get(*t))?;
        }
        Ok(())
    }
}

/// FNV-1a, 64 bits: stable across processes, platforms and releases.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn row<T: Serialize + ?Sized>(&mut self, v: &T) {
        // Serializing plain data cannot fail; a separator keeps rows apart.
        let _ = serde_json::to_writer(&mut *self, v);
        self.bytes(&[0x1e]);
    }
}

impl Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn digest(t: &Tables) -> StateDigest {
    let mut tables = BTreeMap::new();
    let mut h = Fnv::default();
    t.jobs.values().for_each(|j| h.row(&**j));
    tables.insert(Table::Jobs, h.0);

    let mut h = Fnv::default();
    t.job_versions
        .values()
        .flat_map(|v| v.iter())
        .for_each(|j| h.row(&**j));
    tables.insert(Table::JobVersion, h.0);

    let mut h = Fnv::default();
    t.job_summaries.values().for_each(|s| h.row(&**s));
    tables.insert(Table::JobSummary, h.0);

    let mut h = Fnv::default();
    t.nodes.iter().for_each(|n| h.row(&**n));
    tables.insert(Table::Nodes, h.0);

    // An allocation's job is hashed once per distinct job object.
    let mut job_hashes: HashMap<*const Job, u64> = HashMap::new();
    let mut h = Fnv::default();
    for a in t.allocs.iter() {
        match &a.job {
            None => h.row(&**a),
            Some(j) => {
                let jh = *job_hashes.entry(Arc::as_ptr(j)).or_insert_with(|| {
                    let mut jh = Fnv::default();
                    jh.row(&**j);
                    jh.0
                });
                let mut stripped = (**a).clone();
                stripped.job = None;
                h.row(&stripped);
                h.bytes(&jh.to_le_bytes());
            }
        }
    }
    tables.insert(Table::Allocs, h.0);

    let mut h = Fnv::default();
    t.evals.iter().for_each(|e| h.row(&**e));
    tables.insert(Table::Evals, h.0);

    let mut h = Fnv::default();
    t.deployments.iter().for_each(|d| h.row(&**d));
    tables.insert(Table::Deployment, h.0);

    let mut h = Fnv::default();
    t.periodic_launches.values().for_each(|l| h.row(&**l));
    tables.insert(Table::PeriodicLaunch, h.0);

    let mut h = Fnv::default();
    h.row(&t.scheduler_config.as_deref());
    tables.insert(Table::SchedulerConfig, h.0);

    let mut h = Fnv::default();
    t.scaling_events.values().for_each(|e| h.row(&**e));
    tables.insert(Table::ScalingEvent, h.0);

    StateDigest {
        tables,
        indexes: t.indexes,
    }
}

/// Checks every secondary index against its primary table; returns the
/// first inconsistency found.
pub(crate) fn verify(t: &Tables) -> Result<(), String> {
    let mut count = 0;
    for (node, members) in t.allocs_by_node.iter() {
        for a in members.iter() {
            let stored = t
                .allocs
                .get(&a.id)
                .ok_or(format!("alloc {} indexed under node {node} is gone", a.id))?;
            if !Arc::ptr_eq(stored, a) || *a.node_id != **node {
                return Err(format!("alloc {} stale under node {node}", a.id));
            }
            count += 1;
        }
    }
    if count != t.allocs.len() {
        return Err(format!(
            "allocs by node holds {count} of {}",
            t.allocs.len()
        ));
    }
    let mut count = 0;
    for (key, members) in t.allocs_by_job.iter() {
        for a in members.iter() {
            let stored = t
                .allocs
                .get(&a.id)
                .ok_or(format!("alloc {} indexed under job {key:?} is gone", a.id))?;
            if !Arc::ptr_eq(stored, a) || group_key(&a.namespace, &a.job_id) != **key {
                return Err(format!("alloc {} stale under job {key:?}", a.id));
            }
            count += 1;
        }
    }
    if count != t.allocs.len() {
        return Err(format!("allocs by job holds {count} of {}", t.allocs.len()));
    }
    for (key, members) in t.allocs_by_eval.iter() {
        for a in members.iter() {
            if !t.allocs.get(&a.id).is_some_and(|s| Arc::ptr_eq(s, a)) || *a.eval_id != **key {
                return Err(format!("alloc {} stale under eval {key}", a.id));
            }
        }
    }
    for (key, members) in t.allocs_by_deployment.iter() {
        for a in members.iter() {
            if !t.allocs.get(&a.id).is_some_and(|s| Arc::ptr_eq(s, a)) || *a.deployment_id != **key
            {
                return Err(format!("alloc {} stale under deployment {key}", a.id));
            }
        }
    }
    let mut count = 0;
    for (key, members) in t.evals_by_job.iter() {
        for e in members.iter() {
            if !t.evals.get(&e.id).is_some_and(|s| Arc::ptr_eq(s, e))
                || group_key(&e.namespace, &e.job_id) != **key
            {
                return Err(format!("eval {} stale under job {key:?}", e.id));
            }
            count += 1;
        }
    }
    if count != t.evals.len() {
        return Err(format!("evals by job holds {count} of {}", t.evals.len()));
    }
    for (key, members) in t.deployments_by_job.iter() {
        for d in members.iter() {
            if !t.deployments.get(&d.id).is_some_and(|s| Arc::ptr_eq(s, d))
                || group_key(&d.namespace, &d.job_id) != **key
            {
                return Err(format!("deployment {} stale under job {key:?}", d.id));
            }
        }
    }
    let lists = t.node_lists();
    if lists.all.len() != t.nodes.len()
        || !lists
            .all
            .iter()
            .zip(t.nodes.iter())
            .all(|(a, b)| Arc::ptr_eq(a, b))
    {
        return Err("node list out of date".into());
    }
    for (pool, members) in &lists.by_pool {
        if members
            .iter()
            .any(|n| &n.node_pool != pool || !t.nodes.get(&n.id).is_some_and(|s| Arc::ptr_eq(s, n)))
        {
            return Err(format!("nodes of pool {pool} out of date"));
        }
    }
    let pooled: usize = lists.by_pool.values().map(|m| m.len()).sum();
    if pooled != t.nodes.len() {
        return Err(format!("nodes by pool holds {pooled} of {}", t.nodes.len()));
    }
    #[cfg(feature = "scheduler")]
    {
        use crate::sched::UsageSum;
        check_node_totals(t, "usage", &t.node_usage, UsageSum::of)?;
        check_node_totals(t, "stopping usage", &t.node_stopping, UsageSum::stopping_of)?;
    }
    for (key, js) in t.jobs.iter() {
        if job_key(js.namespace(), js.id()) != *key {
            return Err(format!("job stored under wrong key {key:?}"));
        }
        let tracked = t
            .job_versions
            .get(key)
            .is_some_and(|vs| vs.iter().any(|v| v.version() == js.version()));
        if !tracked {
            return Err(format!(
                "job {key:?} version {} not in its history",
                js.version()
            ));
        }
    }
    Ok(())
}

/// Each node's running total in `kept` equals the sum of `share` over
/// its allocations, and no total is kept for a node without allocations.
#[cfg(feature = "scheduler")]
fn check_node_totals(
    t: &Tables,
    what: &str,
    kept: &imbl::OrdMap<Arc<str>, crate::sched::UsageSum>,
    share: fn(&nomad_types::Allocation) -> Option<nomad_scheduler::resources::Res>,
) -> Result<(), String> {
    for (node, members) in t.allocs_by_node.iter() {
        let mut sum = crate::sched::UsageSum::default();
        for r in members.iter().filter_map(|a| share(a)) {
            sum.apply(r, 1);
        }
        if kept.get(&**node).copied().unwrap_or_default() != sum {
            return Err(format!("{what} of node {node} out of date"));
        }
    }
    for (node, _) in kept.iter() {
        if t.allocs_by_node.get(node).is_empty() {
            return Err(format!("{what} kept for node {node} without allocations"));
        }
    }
    Ok(())
}
