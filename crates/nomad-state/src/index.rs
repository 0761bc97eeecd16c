//! The two index shapes every table is built from, both persistent (a clone
//! is O(1) and shares structure):
//!
//! * [`IdTable`]: objects keyed by their own ID, ordered by it, so exact and
//!   prefix lookups are O(log n). Each entry keeps the first 16 bytes of
//!   the ID inline next to the `Arc`, so a lookup compares in-node bytes
//!   and follows a pointer only at the end (IDs are UUIDs: their first 16
//!   bytes almost never tie). The full ID is the object's own field.
//! * [`Groups`]: a secondary index from a key (node ID, job, eval, …) to the
//!   objects under it, each group a sorted, shared slice `Arc<[Arc<T>]>`.
//!   Readers borrow the slice as is (the scheduler's `allocs_by_node`
//!   costs nothing); writers stage changes and a group is rebuilt once per
//!   log entry, however many of its members changed, so a plan placing a
//!   thousand allocations of one job copies that job's group once.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use equivalent::{Comparable, Equivalent};
use imbl::{OrdMap, OrdSet};
use nomad_types::{Allocation, Deployment, Evaluation, Node};

/// Objects with an ID.
pub(crate) trait Keyed {
    fn key_id(&self) -> &str;
}

impl Keyed for Allocation {
    fn key_id(&self) -> &str {
        &self.id
    }
}
impl Keyed for Evaluation {
    fn key_id(&self) -> &str {
        &self.id
    }
}
impl Keyed for Deployment {
    fn key_id(&self) -> &str {
        &self.id
    }
}
impl Keyed for Node {
    fn key_id(&self) -> &str {
        &self.id
    }
}

const HEAD: usize = 16;

/// The first bytes of an ID, zero-padded. Ordering `(head, id)` is the
/// same as ordering `id`: heads that differ decide as the IDs would, and
/// equal heads fall back to the whole IDs.
fn head_of(id: &str) -> [u8; HEAD] {
    let mut h = [0u8; HEAD];
    let b = id.as_bytes();
    let n = b.len().min(HEAD);
    h[..n].copy_from_slice(&b[..n]);
    h
}

/// An `Arc<T>` ordered by its ID.
pub(crate) struct ById<T> {
    head: [u8; HEAD],
    val: Arc<T>,
}

impl<T: Keyed> ById<T> {
    fn new(val: Arc<T>) -> Self {
        ById {
            head: head_of(val.key_id()),
            val,
        }
    }
}

impl<T> Clone for ById<T> {
    fn clone(&self) -> Self {
        ById {
            head: self.head,
            val: Arc::clone(&self.val),
        }
    }
}
impl<T: Keyed> PartialEq for ById<T> {
    fn eq(&self, other: &Self) -> bool {
        self.head == other.head && self.val.key_id() == other.val.key_id()
    }
}
impl<T: Keyed> Eq for ById<T> {}
impl<T: Keyed> PartialOrd for ById<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Keyed> Ord for ById<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| self.val.key_id().cmp(other.val.key_id()))
    }
}

/// A borrowed ID to look [`ById`] entries up with.
struct IdQuery<'a> {
    head: [u8; HEAD],
    id: &'a str,
}

impl<'a> IdQuery<'a> {
    fn new(id: &'a str) -> Self {
        IdQuery {
            head: head_of(id),
            id,
        }
    }
}

impl<T: Keyed> Equivalent<ById<T>> for IdQuery<'_> {
    fn equivalent(&self, key: &ById<T>) -> bool {
        self.head == key.head && self.id == key.val.key_id()
    }
}
impl<T: Keyed> Comparable<ById<T>> for IdQuery<'_> {
    fn compare(&self, key: &ById<T>) -> Ordering {
        self.head
            .cmp(&key.head)
            .then_with(|| self.id.cmp(key.val.key_id()))
    }
}

/// Objects keyed and ordered by ID.
pub(crate) struct IdTable<T> {
    set: OrdSet<ById<T>>,
}

impl<T> Clone for IdTable<T> {
    fn clone(&self) -> Self {
        IdTable {
            set: self.set.clone(),
        }
    }
}

impl<T: Keyed> Default for IdTable<T> {
    fn default() -> Self {
        IdTable { set: OrdSet::new() }
    }
}

impl<T: Keyed> IdTable<T> {
    pub fn get(&self, id: &str) -> Option<&Arc<T>> {
        self.set.get(&IdQuery::new(id)).map(|b| &b.val)
    }

    /// Inserts or replaces; returns the previous object with that ID.
    pub fn insert(&mut self, value: Arc<T>) -> Option<Arc<T>> {
        self.set.insert(ById::new(value)).map(|b| b.val)
    }

    pub fn remove(&mut self, id: &str) -> Option<Arc<T>> {
        self.set.remove(&IdQuery::new(id)).map(|b| b.val)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Every object, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<T>> + '_ {
        self.set.iter().map(|b| &b.val)
    }

    /// Objects whose ID starts with `prefix`, by ID.
    pub fn prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Arc<T>> + 'a {
        self.set
            .range((Bound::Included(IdQuery::new(prefix)), Bound::Unbounded))
            .map(|b| &b.val)
            .take_while(move |v| v.key_id().starts_with(prefix))
    }
}

/// Staged changes of one group, by member ID: the new member, or `None`
/// to remove it (the key holds some object with that ID).
type Staged<T> = BTreeMap<ById<T>, Option<Arc<T>>>;

/// A secondary index: key → the objects under it, sorted by ID. Keys are
/// `Arc<str>` so that copying a B-tree node on write allocates nothing.
pub(crate) struct Groups<T> {
    map: OrdMap<Arc<str>, Arc<[Arc<T>]>>,
    pending: BTreeMap<Arc<str>, Staged<T>>,
}

impl<T> Clone for Groups<T> {
    fn clone(&self) -> Self {
        debug_assert!(self.pending.is_empty(), "cloning a group index mid-write");
        Groups {
            map: self.map.clone(),
            pending: BTreeMap::new(),
        }
    }
}

impl<T> Default for Groups<T> {
    fn default() -> Self {
        Groups {
            map: OrdMap::new(),
            pending: BTreeMap::new(),
        }
    }
}

impl<T: Keyed> Groups<T> {
    /// The members under `key` as last flushed (what snapshots see).
    pub fn get(&self, key: &str) -> &[Arc<T>] {
        self.map.get(key).map(|s| &s[..]).unwrap_or(&[])
    }

    /// Every non-empty group, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<[Arc<T>]>)> + '_ {
        self.map.iter()
    }

    /// Number of non-empty groups.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    fn staged(&mut self, key: &str) -> &mut Staged<T> {
        let k = match self.pending.get_key_value(key) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(key),
        };
        self.pending.entry(k).or_default()
    }

    /// Stages `value` as a member of `key`'s group (replacing any member
    /// with the same ID).
    pub fn stage_put(&mut self, key: &str, value: Arc<T>) {
        let k = ById::new(Arc::clone(&value));
        // An existing entry keeps its key: only its ID matters.
        *self.staged(key).entry(k).or_default() = Some(value);
    }

    /// Stages the removal of `old` from `key`'s group.
    pub fn stage_remove(&mut self, key: &str, old: &Arc<T>) {
        let k = ById::new(Arc::clone(old));
        *self.staged(key).entry(k).or_default() = None;
    }

    /// Applies the staged changes of one key and returns its members.
    pub fn current(&mut self, key: &str) -> Arc<[Arc<T>]> {
        self.flush_key(key);
        self.map
            .get(key)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Reads the members under `key` including staged changes, as
    /// [`Groups::current`] does, without taking a reference to them.
    pub fn with_current<R>(&mut self, key: &str, read: impl FnOnce(&[Arc<T>]) -> R) -> R {
        self.flush_key(key);
        read(self.get(key))
    }

    /// Applies the staged changes of one key.
    fn flush_key(&mut self, key: &str) {
        if let Some((k, staged)) = self.pending.remove_entry(key) {
            self.apply(k, staged);
        }
    }

    /// Applies every staged change.
    pub fn flush(&mut self) {
        for (key, staged) in std::mem::take(&mut self.pending) {
            self.apply(key, staged);
        }
    }

    fn apply(&mut self, key: Arc<str>, staged: Staged<T>) {
        let old: &[Arc<T>] = self.map.get(&*key).map(|s| &s[..]).unwrap_or(&[]);
        let merged = merge(old, staged);
        if merged.is_empty() {
            self.map.remove(&*key);
        } else {
            self.map.insert(key, Arc::from(merged));
        }
    }

    /// Replaces a whole group (used by restore); empty removes it.
    pub fn set(&mut self, key: &str, members: Vec<Arc<T>>) {
        if members.is_empty() {
            self.map.remove(key);
        } else {
            self.map.insert(Arc::from(key), Arc::from(members));
        }
    }
}

/// Merges a sorted slice with staged changes (both ordered by ID).
fn merge<T: Keyed>(old: &[Arc<T>], staged: Staged<T>) -> Vec<Arc<T>> {
    let mut out = Vec::with_capacity(old.len() + staged.len());
    let mut rest = old;
    for (k, change) in staged {
        let id = k.val.key_id();
        // Binary search: unchanged runs are copied without comparing IDs.
        let at = rest.partition_point(|o| o.key_id() < id);
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        // Drop the old member with this ID, if any; the change replaces it.
        if rest.first().is_some_and(|o| o.key_id() == id) {
            rest = &rest[1..];
        }
        if let Some(v) = change {
            out.push(v);
        }
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(id: &str, status: &str) -> Arc<Evaluation> {
        Arc::new(Evaluation {
            id: id.into(),
            status: status.into(),
            ..Evaluation::default()
        })
    }

    #[test]
    fn id_table_prefix_and_replace() {
        let mut t = IdTable::default();
        for id in [
            "abc1",
            "abd2",
            "ab",
            "b",
            "0123456789abcdef-x",
            "0123456789abcdef",
            "ab\0",
        ] {
            t.insert(eval(id, "pending"));
        }
        let ids: Vec<_> = t.prefix("ab").map(|e| e.id.clone()).collect();
        assert_eq!(ids, ["ab", "ab\0", "abc1", "abd2"]);
        let ids: Vec<_> = t.prefix("0123456789abcdef").map(|e| e.id.clone()).collect();
        assert_eq!(
            ids,
            ["0123456789abcdef", "0123456789abcdef-x"],
            "long IDs tie on the head"
        );
        assert!(t.get("0123456789abcdef-x").is_some());
        assert!(t.get("0123456789abcdef-y").is_none());
        assert!(t.insert(eval("ab", "complete")).is_some());
        assert_eq!(t.get("ab").unwrap().status, "complete");
        assert_eq!(t.len(), 7);
        assert!(t.remove("b").is_some());
        assert_eq!(t.prefix("").count(), 6);
        let all: Vec<_> = t.iter().map(|e| e.id.clone()).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted, "iteration is in ID order");
    }

    #[test]
    fn groups_merge_once_per_flush() {
        let mut g: Groups<Evaluation> = Groups::default();
        g.stage_put("j", eval("b", "x"));
        g.stage_put("j", eval("a", "x"));
        g.stage_put("k", eval("c", "x"));
        assert_eq!(g.get("j").len(), 0, "not visible before flush");
        g.flush();
        let ids: Vec<_> = g.get("j").iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, ["a", "b"]);
        let before = g.clone();
        let a = Arc::clone(&g.get("j")[0]);
        g.stage_remove("j", &a);
        g.stage_put("j", eval("b", "y"));
        g.stage_put("j", eval("c", "y"));
        let now = g.current("j");
        let got: Vec<_> = now
            .iter()
            .map(|e| (e.id.clone(), e.status.clone()))
            .collect();
        assert_eq!(got, [("b".into(), "y".into()), ("c".into(), "y".into())]);
        assert_eq!(before.get("j").len(), 2, "clone isolated");
        let c = Arc::clone(&g.get("k")[0]);
        g.stage_remove("k", &c);
        g.flush();
        assert_eq!(g.len(), 1, "empty groups are dropped");
    }
}
