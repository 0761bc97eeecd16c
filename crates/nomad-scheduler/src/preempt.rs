//! Preemption: which lower-priority allocations to evict so that a
//! placement fits, with Nomad's greedy choice.
//!
//! Only allocations of other jobs whose priority is at least
//! [`PRIORITY_DELTA`] below the placing job's qualify. Candidates are taken
//! lowest priority first; within a priority, the one whose resources are
//! closest to what is still missing (Euclidean distance over relative CPU,
//! memory and disk differences) goes next, with a penalty of
//! [`MAX_PARALLEL_PENALTY`] per allocation beyond its group's
//! `migrate.max_parallel` already being preempted by this plan. Once
//! enough is freed, the set is pruned: largest first, keep adding until
//! the ask fits, drop the rest.

use std::sync::Arc;

use nomad_types::Allocation;

use crate::context::Ctx;
use crate::feasible::GroupSpec;
use crate::resources::{node_capacity, node_reserved, Res};
use crate::state::State;

/// A victim must be at least this much lower in priority.
pub const PRIORITY_DELTA: i64 = 10;

/// Score penalty per allocation preempted beyond its group's
/// `migrate.max_parallel`.
pub const MAX_PARALLEL_PENALTY: f64 = 50.0;

/// Nomad's distance between what is asked and what an allocation holds.
pub fn resource_distance(ask: Res, used: Res) -> f64 {
    let coord = |a: i64, u: i64| {
        if a > 0 {
            (a as f64 - u as f64) / a as f64
        } else {
            0.0
        }
    };
    let mem = coord(ask.memory_mb, used.memory_mb);
    let cpu = coord(ask.cpu, used.cpu);
    let disk = coord(ask.disk_mb, used.disk_mb);
    (mem * mem + cpu * cpu + disk * disk).sqrt()
}

fn superset(have: Res, want: Res) -> bool {
    have.cpu >= want.cpu && have.memory_mb >= want.memory_mb && have.disk_mb >= want.disk_mb
}

struct Victim {
    alloc: Arc<Allocation>,
    res: Res,
    priority: i64,
    max_parallel: i64,
    already: i64,
}

impl<S: State + ?Sized> Ctx<'_, S> {
    /// How many allocations of `alloc`'s job and group the plan already
    /// preempts.
    fn preemptions_of(&self, alloc: &Allocation) -> i64 {
        self.plan
            .node_preemptions
            .values()
            .flatten()
            .filter(|p| {
                p.job_id == alloc.job_id
                    && p.namespace == alloc.namespace
                    && p.task_group == alloc.task_group
            })
            .count() as i64
    }

    /// The allocations to evict on `slot` so that `ask` fits, or `None`.
    pub(crate) fn preempt_for_group(
        &mut self,
        slot: u32,
        ask: Res,
        _group: &GroupSpec,
    ) -> Option<Vec<Arc<Allocation>>> {
        let priority = self.spec.as_ref()?.priority;
        let node = self.table.node(slot).clone();
        let proposed = self.proposed_allocs(slot);
        let mut remaining = node_capacity(&node).minus(node_reserved(&node));
        for (_, res) in &proposed {
            remaining.sub(*res);
        }
        let mut victims: Vec<Victim> = Vec::new();
        for (alloc, res) in proposed {
            if alloc.job_id == self.eval.job_id && alloc.namespace == self.eval.namespace {
                continue;
            }
            let Some(job) = alloc.job.as_ref() else {
                continue;
            };
            if priority - job.priority() < PRIORITY_DELTA {
                continue;
            }
            let max_parallel = alloc
                .task_group_spec()
                .and_then(|tg| tg.migrate.as_ref())
                .and_then(|m| m.max_parallel)
                .unwrap_or(0);
            let already = self.preemptions_of(&alloc);
            victims.push(Victim {
                priority: job.priority(),
                alloc,
                res,
                max_parallel,
                already,
            });
        }
        if victims.is_empty() {
            return None;
        }
        // Lowest priority first; stable, so equal priorities keep the
        // node's allocation order.
        victims.sort_by_key(|v| v.priority);

        let mut available = remaining;
        let mut needed = ask;
        let mut chosen: Vec<Victim> = Vec::new();
        let mut met = false;
        while !victims.is_empty() && !met {
            let end = victims
                .iter()
                .position(|v| v.priority != victims[0].priority)
                .unwrap_or(victims.len());
            let mut group: Vec<Victim> = victims.drain(..end).collect();
            while !group.is_empty() && !met {
                let mut best = 0;
                let mut best_distance = f64::MAX;
                for (i, v) in group.iter().enumerate() {
                    let mut distance = resource_distance(needed, v.res);
                    if v.max_parallel > 0 && v.already >= v.max_parallel {
                        distance += (v.already + 1 - v.max_parallel) as f64 * MAX_PARALLEL_PENALTY;
                    }
                    if distance < best_distance {
                        best_distance = distance;
                        best = i;
                    }
                }
                let v = group.swap_remove(best);
                available.add(v.res);
                needed.sub(v.res);
                met = superset(available, ask);
                chosen.push(v);
            }
        }
        if !met {
            return None;
        }

        // Prune: the largest (farthest from the ask) first, stop once it
        // fits.
        chosen.sort_by(|a, b| {
            resource_distance(ask, b.res)
                .partial_cmp(&resource_distance(ask, a.res))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut available = remaining;
        let mut out = Vec::new();
        for v in chosen {
            available.add(v.res);
            out.push(v.alloc);
            if superset(available, ask) {
                break;
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_relative() {
        let ask = Res {
            cpu: 1000,
            memory_mb: 1000,
            disk_mb: 0,
        };
        assert_eq!(resource_distance(ask, ask), 0.0);
        let half = Res {
            cpu: 500,
            memory_mb: 500,
            disk_mb: 100,
        };
        assert!((resource_distance(ask, half) - (0.5f64 * 0.5 * 2.0).sqrt()).abs() < 1e-12);
    }
}
