//! Encoding and restoring the whole state.
//!
//! Format: the 8-byte magic `NMDSTATE`, a little-endian `u32` format
//! version ([`SNAPSHOT_FORMAT_VERSION`]), then one JSON object with every
//! table. Allocations do not carry their job: each distinct job (one per
//! job version in practice) is written once in `JobPool` and allocations
//! refer to it by position, so a million allocations of a thousand jobs
//! write a thousand jobs, and a restored store shares them again.
//! Secondary indexes are not written; restore rebuilds them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use nomad_types::{
    Allocation, Deployment, Evaluation, Job, JobSummary, Node, SchedulerConfiguration,
};
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RestoreError;
use crate::index::IdTable;
use crate::table::Table;
use crate::tables::{group_key, job_key, JobKey, JobScalingEvents, PeriodicLaunch, Tables};

/// Magic bytes opening a snapshot.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"NMDSTATE";
/// Version of the snapshot format written by this crate.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BodyOut<'a> {
    applied_index: u64,
    indexes: BTreeMap<&'static str, u64>,
    job_pool: Vec<&'a Job>,
    jobs: Vec<&'a Job>,
    job_versions: Vec<&'a Job>,
    job_summaries: Vec<&'a JobSummary>,
    nodes: Vec<&'a Node>,
    allocs: AllocsOut<'a>,
    evals: Vec<&'a Evaluation>,
    deployments: Vec<&'a Deployment>,
    periodic_launches: Vec<&'a PeriodicLaunch>,
    scheduler_config: Option<&'a SchedulerConfiguration>,
    scaling_events: Vec<&'a JobScalingEvents>,
}

struct AllocsOut<'a> {
    allocs: &'a IdTable<Allocation>,
    pool: &'a HashMap<*const Job, u32>,
}

#[derive(Serialize)]
struct AllocOut<'a> {
    #[serde(rename = "J")]
    job: Option<u32>,
    #[serde(rename = "A")]
    alloc: Cow<'a, Allocation>,
}

impl Serialize for AllocsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.allocs.len()))?;
        for a in self.allocs.iter() {
            let item = match &a.job {
                None => AllocOut {
                    job: None,
                    alloc: Cow::Borrowed(&**a),
                },
                Some(j) => {
                    let mut stripped = (**a).clone();
                    stripped.job = None;
                    AllocOut {
                        job: self.pool.get(&Arc::as_ptr(j)).copied(),
                        alloc: Cow::Owned(stripped),
                    }
                }
            };
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

/// Writes the tables.
pub(crate) fn write<W: Write>(t: &Tables, mut w: W) -> std::io::Result<()> {
    let mut pool_index: HashMap<*const Job, u32> = HashMap::new();
    let mut pool: Vec<&Job> = Vec::new();
    for a in t.allocs.iter() {
        if let Some(j) = &a.job {
            pool_index.entry(Arc::as_ptr(j)).or_insert_with(|| {
                pool.push(&**j);
                (pool.len() - 1) as u32
            });
        }
    }
    let body = BodyOut {
        applied_index: t.applied_index,
        indexes: t.indexes.iter().map(|(tb, i)| (tb.name(), i)).collect(),
        job_pool: pool,
        jobs: t.jobs.values().map(|j| &**j).collect(),
        job_versions: t
            .job_versions
            .values()
            .flat_map(|v| v.iter().map(|j| &**j))
            .collect(),
        job_summaries: t.job_summaries.values().map(|s| &**s).collect(),
        nodes: t.nodes.iter().map(|n| &**n).collect(),
        allocs: AllocsOut {
            allocs: &t.allocs,
            pool: &pool_index,
        },
        evals: t.evals.iter().map(|e| &**e).collect(),
        deployments: t.deployments.iter().map(|d| &**d).collect(),
        periodic_launches: t.periodic_launches.values().map(|l| &**l).collect(),
        scheduler_config: t.scheduler_config.as_deref(),
        scaling_events: t.scaling_events.values().map(|e| &**e).collect(),
    };
    w.write_all(SNAPSHOT_MAGIC)?;
    w.write_all(&SNAPSHOT_FORMAT_VERSION.to_le_bytes())?;
    let mut bw = std::io::BufWriter::with_capacity(1 << 16, w);
    serde_json::to_writer(&mut bw, &body).map_err(std::io::Error::other)?;
    bw.flush()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BodyIn {
    applied_index: u64,
    indexes: BTreeMap<String, u64>,
    job_pool: Vec<Job>,
    jobs: Vec<Job>,
    job_versions: Vec<Job>,
    job_summaries: Vec<JobSummary>,
    nodes: Vec<Node>,
    allocs: AllocsIn,
    evals: Vec<Evaluation>,
    deployments: Vec<Deployment>,
    periodic_launches: Vec<PeriodicLaunch>,
    scheduler_config: Option<SchedulerConfiguration>,
    /// Absent from images written before the table existed.
    #[serde(default)]
    scaling_events: Vec<JobScalingEvents>,
}

#[derive(Deserialize)]
struct AllocIn {
    #[serde(rename = "J")]
    job: Option<u32>,
    #[serde(rename = "A")]
    alloc: Allocation,
}

/// Allocations straight into `Arc`s, without a second copy in memory.
struct AllocsIn(Vec<(Option<u32>, Arc<Allocation>)>);

impl<'de> Deserialize<'de> for AllocsIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AllocsIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of allocations")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AllocsIn, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(a) = seq.next_element::<AllocIn>()? {
                    out.push((a.job, Arc::new(a.alloc)));
                }
                Ok(AllocsIn(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// Reads a snapshot written by [`write`].
pub(crate) fn read<R: Read>(mut r: R) -> Result<Tables, RestoreError> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| RestoreError::BadMagic)?;
    if &magic != SNAPSHOT_MAGIC {
        return Err(RestoreError::BadMagic);
    }
    let mut ver = [0u8; 4];
    r.read_exact(&mut ver)?;
    let found = u32::from_le_bytes(ver);
    if found == 0 || found > SNAPSHOT_FORMAT_VERSION {
        return Err(RestoreError::UnsupportedVersion {
            found,
            supported: SNAPSHOT_FORMAT_VERSION,
        });
    }
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)?;
    let body: BodyIn =
        serde_json::from_slice(&buf).map_err(|e| RestoreError::Malformed(e.to_string()))?;
    drop(buf);
    build(body)
}

fn build(b: BodyIn) -> Result<Tables, RestoreError> {
    let mut t = Tables::default();
    t.applied_index = b.applied_index;
    for (name, index) in &b.indexes {
        let table: Table = name.parse().map_err(RestoreError::Malformed)?;
        t.indexes.set(table, *index);
    }
    for j in b.jobs {
        let j = Arc::new(j);
        t.jobs.insert(job_key(j.namespace(), j.id()), j);
    }
    let mut versions: BTreeMap<JobKey, Vec<Arc<Job>>> = BTreeMap::new();
    for j in b.job_versions {
        let key = job_key(j.namespace(), j.id());
        // The current job and its version entry are one object.
        let j = match t.jobs.get(&key) {
            Some(cur) if **cur == j => Arc::clone(cur),
            _ => Arc::new(j),
        };
        versions.entry(key).or_default().push(j);
    }
    for (key, mut vs) in versions {
        vs.sort_by_key(|j| std::cmp::Reverse(j.version()));
        t.job_versions.insert(key, Arc::from(vs));
    }
    for s in b.job_summaries {
        t.job_summaries
            .insert(job_key(&s.namespace, &s.job_id), Arc::new(s));
    }
    for n in b.nodes {
        t.put_node(Arc::new(n));
    }
    // Allocation jobs: reuse the stored version when it is the same job.
    let pool: Vec<Arc<Job>> = b
        .job_pool
        .into_iter()
        .map(|j| {
            let key = job_key(j.namespace(), j.id());
            t.job_versions
                .get(&key)
                .and_then(|vs| vs.iter().find(|v| ***v == j).cloned())
                .unwrap_or_else(|| Arc::new(j))
        })
        .collect();
    let mut by_node: BTreeMap<String, Vec<Arc<Allocation>>> = BTreeMap::new();
    let mut by_job: BTreeMap<String, Vec<Arc<Allocation>>> = BTreeMap::new();
    let mut by_eval: BTreeMap<String, Vec<Arc<Allocation>>> = BTreeMap::new();
    let mut by_dep: BTreeMap<String, Vec<Arc<Allocation>>> = BTreeMap::new();
    let mut allocs = b.allocs.0;
    allocs.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    for (job_ref, mut a) in allocs {
        if let Some(i) = job_ref {
            let job = pool.get(i as usize).ok_or_else(|| {
                RestoreError::Malformed(format!("allocation {:?} refers to missing job {i}", a.id))
            })?;
            if let Some(m) = Arc::get_mut(&mut a) {
                m.job = Some(Arc::clone(job));
            }
        }
        by_node
            .entry(a.node_id.clone())
            .or_default()
            .push(Arc::clone(&a));
        by_job
            .entry(group_key(&a.namespace, &a.job_id))
            .or_default()
            .push(Arc::clone(&a));
        if !a.eval_id.is_empty() {
            by_eval
                .entry(a.eval_id.clone())
                .or_default()
                .push(Arc::clone(&a));
        }
        if !a.deployment_id.is_empty() {
            by_dep
                .entry(a.deployment_id.clone())
                .or_default()
                .push(Arc::clone(&a));
        }
        t.account_usage(&a, 1);
        t.allocs.insert(a);
    }
    for (k, v) in by_node {
        t.allocs_by_node.set(&k, v);
    }
    for (k, v) in by_job {
        t.allocs_by_job.set(&k, v);
    }
    for (k, v) in by_eval {
        t.allocs_by_eval.set(&k, v);
    }
    for (k, v) in by_dep {
        t.allocs_by_deployment.set(&k, v);
    }
    for e in b.evals {
        t.put_eval(Arc::new(e));
    }
    for d in b.deployments {
        t.put_deployment(Arc::new(d));
    }
    for l in b.periodic_launches {
        t.periodic_launches
            .insert(job_key(&l.namespace, &l.id), Arc::new(l));
    }
    t.scheduler_config = b.scheduler_config.map(Arc::new);
    for e in b.scaling_events {
        t.scaling_events
            .insert(job_key(&e.namespace, &e.job_id), Arc::new(e));
    }
    t.flush();
    Ok(t)
}
