//! The candidate nodes of an evaluation: which nodes a job may use, the
//! per-evaluation shuffle, and the slot table the hot path indexes by.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::consts::job_defaults;
use nomad_types::{Job, Node};

use crate::state::{NodeFacts, State};
use crate::target::NodeView;
use crate::util::{glob_match, FxHashMap};

impl NodeView for Node {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn datacenter(&self) -> &str {
        &self.datacenter
    }
    fn node_class(&self) -> &str {
        &self.node_class
    }
    fn node_pool(&self) -> &str {
        &self.node_pool
    }
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
    fn meta(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }
}

/// The job's node pool (`default` when unset).
pub(crate) fn job_pool(job: &Job) -> &str {
    job.node_pool
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(job_defaults::NODE_POOL)
}

/// Whether `node` is in one of the datacenters (globs allowed; an empty
/// list means every datacenter, as Nomad's canonical `["*"]` does).
pub(crate) fn in_any_dc(node: &Node, datacenters: &[String]) -> bool {
    datacenters.is_empty()
        || datacenters
            .iter()
            .any(|dc| glob_match(dc, &node.datacenter))
}

/// Whether `node` belongs to `pool` (`all` matches every node).
pub(crate) fn in_pool(node: &Node, pool: &str) -> bool {
    pool == job_defaults::NODE_POOL_ALL || pool.is_empty() || node.node_pool == pool
}

/// Whether `node` takes new placements: ready, eligible, not draining.
pub(crate) fn is_ready(node: &Node) -> bool {
    node.is_schedulable()
}

/// A candidate node: borrowed from the state's list when the state lends
/// one (the common case: no reference count touched per node and
/// evaluation), with the state's [`NodeFacts`] when it keeps them; owned
/// otherwise.
#[derive(Debug, Clone)]
pub(crate) enum NodeRef<'s> {
    Shared(&'s Arc<Node>, Option<&'s NodeFacts>),
    Owned(Arc<Node>),
}

impl NodeRef<'_> {
    pub(crate) fn arc(&self) -> &Arc<Node> {
        match self {
            NodeRef::Shared(n, _) => n,
            NodeRef::Owned(n) => n,
        }
    }

    pub(crate) fn facts(&self) -> Option<&NodeFacts> {
        match self {
            NodeRef::Shared(_, f) => *f,
            NodeRef::Owned(_) => None,
        }
    }
}

/// The address of a shared string, as a key for per-string memos.
pub(crate) fn str_key(s: &Arc<str>) -> usize {
    Arc::as_ptr(s) as *const u8 as usize
}

/// Whether a node's datacenter is in `datacenters`, remembered per
/// datacenter name so that a long node list costs one comparison per node
/// instead of one glob per node and pattern.
struct DcFilter<'j> {
    datacenters: &'j [String],
    seen: Vec<(Box<str>, bool)>,
}

impl<'j> DcFilter<'j> {
    fn new(datacenters: &'j [String]) -> Self {
        DcFilter {
            datacenters,
            seen: Vec::new(),
        }
    }

    fn matches(&mut self, dc: &str) -> bool {
        if self.datacenters.is_empty() {
            return true;
        }
        if let Some((_, m)) = self.seen.iter().find(|(d, _)| &**d == dc) {
            return *m;
        }
        let m = self.datacenters.iter().any(|p| glob_match(p, dc));
        if self.seen.len() < 64 {
            self.seen.push((dc.into(), m));
        }
        m
    }
}

/// Per-datacenter counts of the candidates.
#[derive(Default)]
struct DcCounts(Vec<(Box<str>, i64)>);

impl DcCounts {
    fn add(&mut self, dc: &str) {
        match self.0.iter_mut().find(|(d, _)| &**d == dc) {
            Some((_, n)) => *n += 1,
            None => self.0.push((dc.into(), 1)),
        }
    }

    fn into_map(self) -> BTreeMap<String, i64> {
        let mut by_dc = BTreeMap::new();
        for (dc, n) in self.0 {
            *by_dc.entry(String::from(dc)).or_default() += n;
        }
        by_dc
    }
}

/// The nodes a job may be placed on, in the state's order, and how many of
/// them each datacenter has.
pub(crate) fn ready_nodes<'s, S: State + ?Sized>(
    state: &'s S,
    job: &Job,
) -> (Vec<NodeRef<'s>>, BTreeMap<String, i64>) {
    let pool = job_pool(job);
    let (all, filtered) = match state.schedulable_nodes(pool) {
        Some(nodes) => (nodes, true),
        None if pool == job_defaults::NODE_POOL_ALL => (state.nodes(), false),
        None => (state.nodes_by_pool(pool), false),
    };
    let mut dcs = DcFilter::new(&job.datacenters);
    let mut counts = DcCounts::default();
    let mut out = Vec::with_capacity(all.len());
    match all {
        std::borrow::Cow::Borrowed(list) => {
            let facts = match state.schedulable_node_facts(pool) {
                Some(std::borrow::Cow::Borrowed(f)) if filtered && f.len() == list.len() => Some(f),
                _ => None,
            };
            if let Some(facts) = facts {
                // The datacenter of each node from the compact facts, its
                // verdict remembered per shared name: the nodes themselves
                // are not read.
                let mut verdicts: Vec<(usize, bool)> = Vec::new();
                for (node, f) in list.iter().zip(facts) {
                    let key = str_key(&f.datacenter);
                    let ok = match verdicts.iter().find(|(k, _)| *k == key) {
                        Some((_, ok)) => *ok,
                        None => {
                            let ok = dcs.matches(&f.datacenter);
                            if verdicts.len() < 64 {
                                verdicts.push((key, ok));
                            }
                            ok
                        }
                    };
                    if ok {
                        counts.add(&f.datacenter);
                        out.push(NodeRef::Shared(node, Some(f)));
                    }
                }
            } else {
                for node in list {
                    if (filtered || is_ready(node)) && dcs.matches(&node.datacenter) {
                        counts.add(&node.datacenter);
                        out.push(NodeRef::Shared(node, None));
                    }
                }
            }
        }
        std::borrow::Cow::Owned(list) => {
            for node in list {
                if (filtered || is_ready(&node)) && dcs.matches(&node.datacenter) {
                    counts.add(&node.datacenter);
                    out.push(NodeRef::Owned(node));
                }
            }
        }
    }
    (out, counts.into_map())
}

/// The nodes one evaluation works with, each with a dense slot number.
/// The first `ring_len` slots are the candidates in visiting order; nodes
/// looked at for other reasons (an in-place update on an ineligible node)
/// are appended after them.
#[derive(Debug, Default)]
pub(crate) struct NodeTable<'s> {
    pub nodes: Vec<NodeRef<'s>>,
    pub ring_len: usize,
    /// Slot by node ID, built on the first lookup by ID (an evaluation
    /// that only places new allocations never needs it).
    ids: std::cell::OnceCell<SlotIndex>,
    /// Node IDs as shared strings, fetched from the state on first use
    /// by a placement metric's score rows.
    id_refs: Vec<Option<Arc<str>>>,
}

/// Slot by a hash of the node ID (checked against the node on lookup), so
/// the index allocates nothing per node; the rare IDs whose hash another
/// node's ID already took are kept whole.
#[derive(Debug, Default)]
struct SlotIndex {
    by_hash: FxHashMap<u64, u32>,
    collisions: FxHashMap<Box<str>, u32>,
}

fn id_hash(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<crate::util::FxHasher>::default().hash_one(id)
}

impl SlotIndex {
    fn build(nodes: &[NodeRef<'_>]) -> SlotIndex {
        let mut index = SlotIndex::default();
        index.by_hash.reserve(nodes.len());
        for slot in 0..nodes.len() {
            index.add(nodes, slot as u32);
        }
        index
    }

    /// Indexes the node at `slot` (the first of equal IDs keeps its slot).
    fn add(&mut self, nodes: &[NodeRef<'_>], slot: u32) {
        let id = nodes[slot as usize].arc().id.as_str();
        let h = id_hash(id);
        match self.by_hash.get(&h) {
            None => {
                self.by_hash.insert(h, slot);
            }
            Some(&other) => {
                if nodes[other as usize].arc().id != id && !self.collisions.contains_key(id) {
                    self.collisions.insert(id.into(), slot);
                }
            }
        }
    }

    fn get(&self, nodes: &[NodeRef<'_>], id: &str) -> Option<u32> {
        if let Some(&slot) = self.by_hash.get(&id_hash(id)) {
            if nodes.get(slot as usize).is_some_and(|n| n.arc().id == id) {
                return Some(slot);
            }
        }
        if self.collisions.is_empty() {
            return None;
        }
        self.collisions.get(id).copied()
    }
}

impl<'s> NodeTable<'s> {
    pub(crate) fn new(ring: Vec<NodeRef<'s>>) -> Self {
        NodeTable {
            ring_len: ring.len(),
            nodes: ring,
            ids: std::cell::OnceCell::new(),
            id_refs: Vec::new(),
        }
    }

    /// The node ID of a slot as a shared string (the state's, when it
    /// interns them).
    pub(crate) fn id_ref<S: crate::State + ?Sized>(&mut self, slot: u32, state: &S) -> Arc<str> {
        let at = slot as usize;
        if self.id_refs.len() <= at {
            self.id_refs.resize(self.nodes.len().max(at + 1), None);
        }
        if let Some(id) = &self.id_refs[at] {
            return id.clone();
        }
        let id = match self.nodes.get(at) {
            Some(node) => match node.facts() {
                Some(f) => f.id.clone(),
                None => state.shared_node_id(node.arc()),
            },
            None => Arc::from(""),
        };
        self.id_refs[at] = Some(id.clone());
        id
    }

    /// The slot of a node ID already in the table.
    pub(crate) fn slot(&self, id: &str) -> Option<u32> {
        self.ids
            .get_or_init(|| SlotIndex::build(&self.nodes))
            .get(&self.nodes, id)
    }

    /// The slot of `node`, adding it (outside the ring) if needed.
    pub(crate) fn slot_or_insert(&mut self, node: &Arc<Node>) -> u32 {
        if let Some(slot) = self.slot(&node.id) {
            return slot;
        }
        let slot = self.nodes.len() as u32;
        self.nodes.push(NodeRef::Owned(node.clone()));
        if let Some(index) = self.ids.get_mut() {
            index.add(&self.nodes, slot);
        }
        slot
    }

    pub(crate) fn node(&self, slot: u32) -> &Arc<Node> {
        self.nodes[slot as usize].arc()
    }

    /// The state's facts about the node in `slot`, when it keeps them.
    pub(crate) fn facts(&self, slot: u32) -> Option<&'s NodeFacts> {
        match &self.nodes[slot as usize] {
            NodeRef::Shared(_, f) => *f,
            NodeRef::Owned(_) => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// A cursor over the candidate ring with Nomad's static-iterator rules:
/// each selection visits every candidate at most once, starting where the
/// previous selection stopped and wrapping around.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    offset: usize,
    seen: usize,
}

impl Ring {
    /// Starts a new selection (keeps the offset).
    pub(crate) fn reset(&mut self) {
        self.seen = 0;
    }

    /// Starts over from the first candidate.
    pub(crate) fn rewind(&mut self) {
        self.offset = 0;
        self.seen = 0;
    }

    /// The next position in a ring of `len`, or `None` once every candidate
    /// has been visited in this selection.
    pub(crate) fn next(&mut self, len: usize) -> Option<usize> {
        if self.seen >= len {
            return None;
        }
        if self.offset >= len {
            self.offset = 0;
        }
        let at = self.offset;
        self.offset += 1;
        self.seen += 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_wraps_and_resumes() {
        let mut r = Ring::default();
        assert_eq!(r.next(3), Some(0));
        assert_eq!(r.next(3), Some(1));
        r.reset();
        assert_eq!(r.next(3), Some(2));
        assert_eq!(r.next(3), Some(0));
        assert_eq!(r.next(3), Some(1));
        assert_eq!(r.next(3), None);
        r.reset();
        assert_eq!(r.next(3), Some(2));
        assert_eq!(r.next(0), None);
    }
}
