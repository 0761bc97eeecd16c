//! Which allocations on draining nodes to mark for migration
//! (`DesiredTransition.Migrate`), paced by the group's
//! `migrate.max_parallel`.
//!
//! In Nomad the node drainer makes this choice and the reconciler then
//! migrates every marked allocation; pacing therefore lives here, in the
//! marking. A service group may have at most `max_parallel` allocations
//! below its healthy count at a time: allocations count as healthy when
//! they run, have deployment health set and are not themselves marked.
//! Batch allocations are never marked (they run until the drain deadline).

use std::collections::HashSet;
use std::sync::Arc;

use nomad_types::{Allocation, TaskGroup};

use crate::allocs;

/// What [`allocs_to_migrate`] found for one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationPlan {
    /// Allocations to mark for migration now.
    pub mark: Vec<Arc<Allocation>>,
    /// Some allocation still runs on a draining node (the drain of this
    /// group is not finished).
    pub remaining: bool,
}

/// `migrate.max_parallel` of the group (1 when unset).
pub fn migrate_max_parallel(tg: &TaskGroup) -> i64 {
    tg.migrate
        .as_ref()
        .and_then(|m| m.max_parallel)
        .unwrap_or(1)
        .max(0)
}

/// Chooses which of a group's allocations on `draining_nodes` to mark for
/// migration now. `group_allocs` are all allocations of the group.
pub fn allocs_to_migrate(
    tg: &TaskGroup,
    batch: bool,
    group_allocs: &[Arc<Allocation>],
    draining_nodes: &HashSet<String>,
) -> MigrationPlan {
    let mut plan = MigrationPlan::default();
    let mut healthy: i64 = 0;
    let mut drainable: Vec<Arc<Allocation>> = Vec::new();
    for a in group_allocs {
        let draining = draining_nodes.contains(&a.node_id);
        let has_health = a
            .deployment_status
            .as_ref()
            .is_some_and(|d| d.healthy.is_some());
        if !batch && !a.terminal_status() && has_health && !allocs::wants_migrate(a) {
            healthy += 1;
        }
        if !draining || a.client_terminal_status() {
            continue;
        }
        plan.remaining = true;
        if !batch && !allocs::wants_migrate(a) {
            drainable.push(a.clone());
        }
    }
    if batch {
        return plan;
    }
    drainable.sort_by(allocs::by_name_order);
    let threshold = tg.count.unwrap_or(1).max(0) - migrate_max_parallel(tg);
    let n = (healthy - threshold).min(drainable.len() as i64);
    if n > 0 {
        drainable.truncate(n as usize);
        plan.mark = drainable;
    }
    plan
}

#[cfg(test)]
mod tests {
    use nomad_types::{AllocDeploymentStatus, MigrateStrategy};

    use super::*;

    fn group(count: i64, max_parallel: i64) -> TaskGroup {
        let mut tg = TaskGroup::new("web", count);
        tg.migrate = Some(MigrateStrategy {
            max_parallel: Some(max_parallel),
            ..MigrateStrategy::default()
        });
        tg
    }

    fn running(i: usize, node: &str, marked: bool) -> Arc<Allocation> {
        let mut a = Allocation {
            id: format!("a{i}"),
            name: format!("j.web[{i}]"),
            node_id: node.into(),
            client_status: "running".into(),
            desired_status: "run".into(),
            deployment_status: Some(AllocDeploymentStatus {
                healthy: Some(true),
                ..AllocDeploymentStatus::default()
            }),
            ..Allocation::default()
        };
        a.desired_transition.migrate = Some(marked);
        Arc::new(a)
    }

    #[test]
    fn marks_at_most_max_parallel_while_the_group_is_healthy() {
        let draining: HashSet<String> = ["d".to_string()].into();
        let allocs: Vec<_> = (0..5)
            .map(|i| running(i, if i < 3 { "d" } else { "ok" }, false))
            .collect();
        let plan = allocs_to_migrate(&group(5, 2), false, &allocs, &draining);
        assert_eq!(plan.mark.len(), 2);
        assert_eq!(plan.mark[0].id, "a0");
        assert!(plan.remaining);
    }

    #[test]
    fn marked_allocations_use_up_the_budget() {
        let draining: HashSet<String> = ["d".to_string()].into();
        let mut allocs: Vec<_> = (0..5)
            .map(|i| running(i, if i < 3 { "d" } else { "ok" }, false))
            .collect();
        allocs[0] = running(0, "d", true);
        let plan = allocs_to_migrate(&group(5, 1), false, &allocs, &draining);
        assert!(plan.mark.is_empty());
        assert!(plan.remaining);
    }

    #[test]
    fn batch_is_never_marked_and_finished_drains_are_done() {
        let draining: HashSet<String> = ["d".to_string()].into();
        let allocs = vec![running(0, "d", false)];
        let plan = allocs_to_migrate(&group(1, 1), true, &allocs, &draining);
        assert!(plan.mark.is_empty() && plan.remaining);
        let plan = allocs_to_migrate(&group(1, 1), false, &[running(0, "ok", false)], &draining);
        assert!(!plan.remaining);
    }
}
