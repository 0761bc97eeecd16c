//! Stops and placements of one group: what exceeds the count, what
//! replaces failed, lost and migrating allocations, and which new names to
//! use.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use nomad_types::consts::alloc_client_status as client;
use nomad_types::Allocation;

use super::followup::FollowupIds;
use super::group::GroupRun;
use super::sets::{mark_stop, name_order, remove_all, AllocSet};
use super::Reconciler;
use crate::allocs::{self, index_of};
use crate::descriptions::{ALLOC_LOST, ALLOC_MIGRATING, ALLOC_NOT_NEEDED, ALLOC_RESCHEDULED};
use crate::names::AllocNameIndex;
use crate::types::{Placement, StopRequest};

impl Reconciler<'_, '_, '_, '_> {
    /// Stops lost allocations and whatever exceeds the count: same-named
    /// duplicates of promoted canaries first, then migrating allocations,
    /// then the highest name indexes.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compute_stop(
        &self,
        g: &mut GroupRun<'_>,
        names: &mut AllocNameIndex,
        untainted: &mut AllocSet,
        migrate: &mut AllocSet,
        lost: &AllocSet,
        canaries: &AllocSet,
        canarying: bool,
        followups: &FollowupIds,
    ) {
        let mut stopped: HashSet<String> = lost.keys().cloned().collect();
        for alloc in name_order(lost) {
            g.stops.push(StopRequest {
                followup_eval_id: followups.get(&alloc.id).cloned(),
                alloc,
                client_status: Some(client::LOST.to_string()),
                description: ALLOC_LOST.to_string(),
            });
        }
        let mut working = untainted.clone();
        if canarying {
            remove_all(&mut working, canaries);
        }
        let known = working
            .values()
            .filter(|a| a.client_status != client::UNKNOWN)
            .count();
        let mut remove = (known + migrate.len()) as i64 - g.count as i64;
        if remove > 0 {
            working.retain(|_, a| !a.server_terminal_status());
            let stop_one =
                |g: &mut GroupRun<'_>, a: &Arc<Allocation>, stopped: &mut HashSet<String>| {
                    g.stop(a, None, ALLOC_NOT_NEEDED);
                    stopped.insert(a.id.clone());
                };
            if !canarying && !canaries.is_empty() {
                let canary_names: HashSet<&str> =
                    canaries.values().map(|a| a.name.as_str()).collect();
                for a in name_order(&working) {
                    if remove == 0 {
                        break;
                    }
                    if !canaries.contains_key(&a.id) && canary_names.contains(a.name.as_str()) {
                        stop_one(g, &a, &mut stopped);
                        remove -= 1;
                    }
                }
            }
            if remove > 0 && !migrate.is_empty() {
                let mut idx =
                    AllocNameIndex::new(&self.input.job_id, g.name, g.count, migrate.values());
                let highest = idx.highest(remove as usize);
                for a in name_order(migrate).into_iter().rev() {
                    if remove == 0 {
                        break;
                    }
                    if highest.contains(&a.name) {
                        stop_one(g, &a, &mut stopped);
                        migrate.remove(&a.id);
                        names.unset_index(index_of(&a));
                        remove -= 1;
                    }
                }
            }
            if remove > 0 {
                let highest = names.highest(remove as usize);
                for a in name_order(&working).into_iter().rev() {
                    if remove == 0 {
                        break;
                    }
                    if !stopped.contains(&a.id) && highest.contains(&a.name) {
                        stop_one(g, &a, &mut stopped);
                        remove -= 1;
                    }
                }
            }
            // Duplicate names can leave some to stop.
            for a in name_order(&working).into_iter().rev() {
                if remove <= 0 {
                    break;
                }
                if !stopped.contains(&a.id) {
                    stop_one(g, &a, &mut stopped);
                    remove -= 1;
                }
            }
        }
        g.du.stop += stopped.len() as u64;
        untainted.retain(|id, _| !stopped.contains(id));
    }

    /// Applies the placements (all of them when the rollout may proceed;
    /// otherwise only lost replacements and reschedules) and stops the
    /// failed allocations being replaced. Returns the room left for
    /// destructive updates.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn place_allocs(
        &self,
        g: &mut GroupRun<'_>,
        ready: bool,
        place: Vec<Placement>,
        migrate: &AllocSet,
        reschedule_now: &AllocSet,
        lost: &AllocSet,
        disconnecting: &HashSet<String>,
        under: usize,
    ) -> usize {
        if ready {
            let failed: AllocSet = reschedule_now
                .iter()
                .filter(|(id, a)| {
                    !disconnecting.contains(*id)
                        && !migrate.contains_key(*id)
                        && a.client_status != client::UNKNOWN
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            g.du.place += place.len() as u64;
            let used = place.len().min(under);
            g.place.extend(place);
            g.stops.extend(mark_stop(&failed, None, ALLOC_RESCHEDULED));
            g.du.stop += failed.len() as u64;
            return under - used;
        }
        if !lost.is_empty() {
            // Lost allocations are replaced even while the rollout waits.
            let replacements: Vec<Placement> = place
                .iter()
                .filter(|p| p.lost)
                .take(lost.len())
                .cloned()
                .collect();
            g.du.place += replacements.len() as u64;
            g.place.extend(replacements);
        }
        if reschedule_now.is_empty() || place.is_empty() {
            return under;
        }
        let failed_deployment = self
            .current
            .as_ref()
            .filter(|_| self.failed)
            .map(|d| d.id.as_str());
        for p in place {
            if !p.reschedule {
                continue;
            }
            let Some(prev) = p.previous_alloc.clone() else {
                continue;
            };
            if failed_deployment.is_some_and(|id| prev.deployment_id == id) {
                continue;
            }
            g.place.push(p);
            g.du.place += 1;
            if disconnecting.contains(&prev.id) {
                continue;
            }
            g.stop(&prev, None, ALLOC_RESCHEDULED);
            g.du.stop += 1;
        }
        under
    }
}

/// Placements for rescheduled and lost allocations and for missing names.
pub(super) fn compute_placements(
    g: &GroupRun<'_>,
    names: &mut AllocNameIndex,
    untainted_and_migrating: usize,
    reschedule: &AllocSet,
    lost: &AllocSet,
    canarying: bool,
) -> Vec<Placement> {
    let mut out = Vec::new();
    for a in name_order(reschedule) {
        let mut p = g.placement(Some(&a), a.name.clone());
        p.reschedule = true;
        p.canary = allocs::is_canary(&a);
        p.downgrade_non_canary = canarying && !p.canary;
        out.push(p);
    }
    let mut existing = (untainted_and_migrating + reschedule.len()) as u64;
    for a in name_order(lost) {
        if existing >= g.count {
            break;
        }
        existing += 1;
        let mut p = g.placement(Some(&a), a.name.clone());
        p.lost = true;
        p.canary = allocs::is_canary(&a);
        p.downgrade_non_canary = canarying && !p.canary;
        out.push(p);
    }
    if existing < g.count {
        for name in names.next((g.count - existing) as usize) {
            let mut p = g.placement(None, name);
            p.downgrade_non_canary = canarying;
            out.push(p);
        }
    }
    out
}

/// Stops each migrating allocation and places its replacement (batch
/// allocations drained without placement, or stopped for a reschedule,
/// get none here).
pub(super) fn compute_migrations(
    g: &mut GroupRun<'_>,
    migrate: &AllocSet,
    canarying: bool,
    followups: &HashMap<String, String>,
) {
    g.du.migrate += migrate.len() as u64;
    for a in name_order(migrate) {
        g.stops.push(StopRequest {
            alloc: a.clone(),
            client_status: None,
            description: ALLOC_MIGRATING.to_string(),
            followup_eval_id: followups.get(&a.id).cloned(),
        });
        if allocs::is_batch_alloc(&a)
            && (allocs::wants_reschedule(&a) || allocs::migrate_placement_disabled(&a))
        {
            continue;
        }
        let mut p = g.placement(Some(&a), a.name.clone());
        p.canary = allocs::is_canary(&a);
        p.downgrade_non_canary = canarying && !p.canary;
        g.place.push(p);
    }
}
