//! Counting a job's allocations per value of a node attribute: the state
//! behind `distinct_property` constraints and `spread` blocks (Nomad's
//! property sets).
//!
//! Three tallies per value: allocations that exist (non-terminal), those the
//! plan places, and those the plan stops. A value's use is `existing +
//! proposed − cleared`, with Nomad's adjustment: each value that the plan
//! also places has its cleared count reduced by one when it is above one.
//! Values not named by a spread's targets count together under `*`.
//!
//! Tallies are kept current as the plan changes (see
//! [`PropertySet::on_stop`], [`PropertySet::on_place`]), so a placement
//! costs O(1) per property set rather than a scan of the plan.

use std::collections::BTreeMap;

use nomad_types::{Allocation, Node};

use crate::score::spread::IMPLICIT_TARGET;
use crate::target::Target;

/// Tallies for one attribute of one job (optionally one group).
#[derive(Debug, Clone)]
pub(crate) struct PropertySet {
    attribute: String,
    target: Target,
    group: Option<String>,
    target_values: Vec<String>,
    error: Option<String>,
    existing: BTreeMap<String, u64>,
    proposed: BTreeMap<String, u64>,
    cleared: BTreeMap<String, u64>,
}

impl PropertySet {
    /// An empty set for `attribute`, counting allocations of `group` only
    /// when given; `target_values` are a spread's targets (empty: every
    /// value counts as itself).
    pub(crate) fn new(
        attribute: &str,
        group: Option<&str>,
        target_values: Vec<String>,
        error: Option<String>,
    ) -> PropertySet {
        PropertySet {
            attribute: attribute.to_string(),
            target: Target::parse(attribute),
            group: group.map(str::to_string),
            target_values,
            error,
            existing: BTreeMap::new(),
            proposed: BTreeMap::new(),
            cleared: BTreeMap::new(),
        }
    }

    fn counts(&self, alloc: &Allocation) -> bool {
        self.group.as_deref().is_none_or(|g| alloc.task_group == g)
    }

    fn targeted<'v>(&'v self, value: &'v str) -> &'v str {
        if self.target_values.is_empty() || self.target_values.iter().any(|t| t == value) {
            value
        } else {
            IMPLICIT_TARGET
        }
    }

    /// The node's (targeted) value, if it has the attribute.
    fn value_of<'n>(&'n self, node: &'n Node) -> Option<&'n str> {
        self.target.resolve(node).map(|v| self.targeted(v))
    }

    fn bump(map: &mut BTreeMap<String, u64>, key: &str, up: bool) {
        if up {
            match map.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    map.insert(key.to_string(), 1);
                }
            }
        } else if let Some(n) = map.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(key);
            }
        }
    }

    /// Counts an existing allocation (call for every allocation of the job,
    /// with its node when it still exists).
    pub(crate) fn add_existing(&mut self, alloc: &Allocation, node: Option<&Node>) {
        if alloc.terminal_status() || !self.counts(alloc) {
            return;
        }
        if let Some(value) = node.and_then(|n| self.value_of(n)) {
            let value = value.to_string();
            Self::bump(&mut self.existing, &value, true);
        }
    }

    /// The plan stops (`up`) or no longer stops (`!up`) `alloc` on `node`.
    pub(crate) fn on_stop(&mut self, alloc: &Allocation, node: Option<&Node>, up: bool) {
        if !self.counts(alloc) {
            return;
        }
        if let Some(value) = node.and_then(|n| self.value_of(n)) {
            let value = value.to_string();
            Self::bump(&mut self.cleared, &value, up);
        }
    }

    /// The plan places `alloc` on `node`.
    pub(crate) fn on_place(&mut self, alloc: &Allocation, node: Option<&Node>) {
        if alloc.terminal_status() || !self.counts(alloc) {
            return;
        }
        if let Some(value) = node.and_then(|n| self.value_of(n)) {
            let value = value.to_string();
            Self::bump(&mut self.proposed, &value, true);
        }
    }

    fn cleared_for(&self, value: &str) -> u64 {
        let cleared = self.cleared.get(value).copied().unwrap_or(0);
        if cleared > 1 && self.proposed.get(value).copied().unwrap_or(0) > 0 {
            cleared - 1
        } else {
            cleared
        }
    }

    fn combined(&self, value: &str) -> u64 {
        let existing = self.existing.get(value).copied();
        let proposed = self.proposed.get(value).copied();
        if existing.is_none() && proposed.is_none() {
            return 0;
        }
        (existing.unwrap_or(0) + proposed.unwrap_or(0)).saturating_sub(self.cleared_for(value))
    }

    /// The node's targeted value and how many allocations use it, or the
    /// reason Nomad gives when it cannot tell.
    pub(crate) fn used_count<'n>(&'n self, node: &'n Node) -> Result<(&'n str, u64), String> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.value_of(node) {
            Some(value) => Ok((value, self.combined(value))),
            None => Err(format!("missing property {:?}", self.attribute)),
        }
    }

    /// Every value in use with its count: existing values in order, then
    /// values only the plan uses, in order.
    pub(crate) fn combined_use(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        let existing = self.existing.keys();
        let proposed_only = self
            .proposed
            .keys()
            .filter(|k| !self.existing.contains_key(*k));
        existing
            .chain(proposed_only)
            .map(|k| (k.as_str(), self.combined(k)))
    }

    /// Whether a node may take one more allocation under a
    /// `distinct_property` limit of `allowed`; `Err` is the filter reason.
    pub(crate) fn satisfies(&self, node: &Node, allowed: u64) -> Result<(), String> {
        let (value, used) = self.used_count(node)?;
        if used < allowed {
            Ok(())
        } else {
            Err(format!(
                "distinct_property: {}={} used by {} allocs",
                self.attribute, value, used
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(rack: &str) -> Node {
        let mut n = Node::default();
        n.meta.insert("rack".into(), rack.into());
        n
    }

    fn alloc(tg: &str) -> Allocation {
        Allocation {
            task_group: tg.into(),
            desired_status: "run".into(),
            client_status: "running".into(),
            ..Allocation::default()
        }
    }

    #[test]
    fn counts_existing_proposed_and_cleared() {
        let mut p = PropertySet::new("${meta.rack}", None, vec![], None);
        let r1 = node("r1");
        p.add_existing(&alloc("web"), Some(&r1));
        p.add_existing(&alloc("web"), Some(&r1));
        assert_eq!(p.used_count(&r1).unwrap(), ("r1", 2));
        p.on_place(&alloc("web"), Some(&r1));
        assert_eq!(p.used_count(&r1).unwrap().1, 3);
        // Two stops on r1 while r1 is also proposed: cleared 2 → 1.
        p.on_stop(&alloc("web"), Some(&r1), true);
        p.on_stop(&alloc("web"), Some(&r1), true);
        assert_eq!(p.used_count(&r1).unwrap().1, 2);
        assert!(p.satisfies(&r1, 3).is_ok());
        assert_eq!(
            p.satisfies(&r1, 2).unwrap_err(),
            "distinct_property: ${meta.rack}=r1 used by 2 allocs"
        );
        assert_eq!(
            p.used_count(&Node::default()).unwrap_err(),
            "missing property \"${meta.rack}\""
        );
    }

    #[test]
    fn group_filter_and_targets() {
        let mut p = PropertySet::new("${meta.rack}", Some("web"), vec!["r1".into()], None);
        p.add_existing(&alloc("db"), Some(&node("r1")));
        p.add_existing(&alloc("web"), Some(&node("r2")));
        assert_eq!(p.used_count(&node("r1")).unwrap(), ("r1", 0));
        assert_eq!(p.used_count(&node("r3")).unwrap(), ("*", 1));
        let all: Vec<(&str, u64)> = p.combined_use().collect();
        assert_eq!(all, vec![("*", 1)]);
    }
}
