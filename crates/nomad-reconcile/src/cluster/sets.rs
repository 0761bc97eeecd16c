//! Sets of allocations keyed by ID, and the ways the cluster reconciler
//! sorts a group's allocations into them: by node health (untainted,
//! migrating, lost, disconnecting, reconnecting, ignored, expired) and by
//! reschedule eligibility (keep, reschedule now, reschedule later).

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::consts::{alloc_client_status as client, alloc_desired_status, node_status};
use nomad_types::{Allocation, Deployment};

use crate::allocs::{self, by_name_order};
use crate::reschedule::RESCHEDULE_WINDOW;
use crate::types::{StopRequest, TaintedNodes};

/// Allocations by ID (ordered, so every walk is deterministic).
pub(crate) type AllocSet = BTreeMap<String, Arc<Allocation>>;

/// Adds every allocation of `other` (replacing same IDs).
pub(crate) fn extend(set: &mut AllocSet, other: &AllocSet) {
    for (k, v) in other {
        set.insert(k.clone(), v.clone());
    }
}

/// The union of several sets (later sets win on equal IDs).
pub(crate) fn union(sets: &[&AllocSet]) -> AllocSet {
    let mut out = AllocSet::new();
    for s in sets {
        extend(&mut out, s);
    }
    out
}

/// Removes every ID present in `other`.
pub(crate) fn remove_all(set: &mut AllocSet, other: &AllocSet) {
    if other.len() * 4 < set.len() {
        for k in other.keys() {
            set.remove(k);
        }
    } else {
        set.retain(|k, _| !other.contains_key(k));
    }
}

/// The members of `set` whose IDs are listed.
pub(crate) fn from_keys<'a>(
    set: &AllocSet,
    keys: impl IntoIterator<Item = &'a String>,
) -> AllocSet {
    keys.into_iter()
        .filter_map(|k| set.get(k).map(|a| (k.clone(), a.clone())))
        .collect()
}

/// The allocations ordered by name index (then name, then ID).
pub(crate) fn name_order(set: &AllocSet) -> Vec<Arc<Allocation>> {
    let mut v: Vec<Arc<Allocation>> = set.values().cloned().collect();
    v.sort_by(by_name_order);
    v
}

/// A stop request for each allocation, in name order.
pub(crate) fn mark_stop(
    set: &AllocSet,
    client_status: Option<&str>,
    desc: &str,
) -> Vec<StopRequest> {
    name_order(set)
        .into_iter()
        .map(|alloc| StopRequest {
            alloc,
            client_status: client_status.map(str::to_string),
            description: desc.to_string(),
            followup_eval_id: None,
        })
        .collect()
}

/// The buckets a group's allocations fall into by node state.
#[derive(Debug, Default)]
pub(crate) struct Classified {
    pub untainted: AllocSet,
    pub migrate: AllocSet,
    pub lost: AllocSet,
    pub disconnecting: AllocSet,
    pub reconnecting: AllocSet,
    pub ignore: AllocSet,
    pub expiring: AllocSet,
}

fn is_client_terminal(a: &Allocation) -> bool {
    a.client_terminal_status()
}

/// Sorts allocations by what their node's state means for them. The rules
/// are tried in order; the first that matches wins.
pub(crate) fn classify(set: &AllocSet, tainted: &TaintedNodes, now: i64) -> Classified {
    let mut out = Classified::default();
    for (id, a) in set {
        let should_reconnect = matches!(
            a.client_status.as_str(),
            client::UNKNOWN | client::RUNNING | client::FAILED
        ) && allocs::needs_to_reconnect(a);
        let (node_tainted, node) = match tainted.get(&a.node_id) {
            Some(n) => (true, n.as_deref()),
            None => (false, None),
        };
        let node_is = |status: &str| node.is_some_and(|n| n.status == status);
        let terminal = a.terminal_status();
        let server_terminal = a.server_terminal_status();
        let disconnected = node_is(node_status::DISCONNECTED);

        let bucket = if should_reconnect
            && allocs::desired_run(a)
            && a.client_status == client::FAILED
        {
            &mut out.reconnecting
        } else if server_terminal && !should_reconnect && allocs::migrate_placement_disabled(a) {
            // A drained batch allocation keeps its slot: no replacement.
            &mut out.untainted
        } else if terminal && !should_reconnect && server_terminal {
            &mut out.ignore
        } else if terminal && !should_reconnect && allocs::is_canary(a) && allocs::wants_migrate(a)
        {
            &mut out.migrate
        } else if terminal && !should_reconnect {
            &mut out.untainted
        } else if allocs::expired(a, now) {
            &mut out.expiring
        } else if should_reconnect
            && a.client_status == client::FAILED
            && a.desired_status == alloc_desired_status::STOP
        {
            &mut out.ignore
        } else if disconnected && a.client_status == client::UNKNOWN {
            &mut out.untainted
        } else if disconnected && a.client_status == client::PENDING {
            &mut out.lost
        } else if disconnected && allocs::disconnect_timeout(a, now) == now {
            // No disconnect block (or lost_after = 0): lost right away.
            &mut out.lost
        } else if disconnected {
            &mut out.disconnecting
        } else if allocs::wants_migrate(a) {
            &mut out.migrate
        } else if (!node_tainted || node_is(node_status::READY)) && should_reconnect {
            &mut out.reconnecting
        } else if !node_tainted || node_is(node_status::READY) {
            &mut out.untainted
        } else if node.is_none() {
            // The node is gone.
            &mut out.lost
        } else if node_is(node_status::DOWN) {
            if !allocs::replace_on_disconnect(a) && a.client_status == client::UNKNOWN {
                &mut out.untainted
            } else if !allocs::replace_on_disconnect(a) && a.client_status == client::RUNNING {
                &mut out.disconnecting
            } else {
                &mut out.lost
            }
        } else {
            &mut out.untainted
        };
        bucket.insert(id.clone(), a.clone());
    }
    out
}

/// A failed allocation to reschedule at `at` (Unix nanoseconds).
#[derive(Debug, Clone)]
pub(crate) struct Delayed {
    pub alloc: Arc<Allocation>,
    pub at: i64,
}

/// Whether a (possibly terminal) allocation counts as running for the
/// group (`untainted`) or is left out altogether (`ignore`); neither means
/// it may need a replacement.
fn should_filter(a: &Allocation, batch: bool) -> (bool, bool) {
    let desired = a.desired_status.as_str();
    if batch {
        if allocs::migrate_placement_disabled(a) {
            return (true, false);
        }
        if allocs::wants_reschedule(a) {
            return (false, false);
        }
        match desired {
            alloc_desired_status::STOP => {
                if a.ran_successfully() {
                    return (true, false);
                }
                if allocs::last_reschedule_failed(a) {
                    return (false, false);
                }
                return (false, true);
            }
            alloc_desired_status::EVICT => return (false, true),
            _ => {}
        }
        return (a.client_status != client::FAILED, false);
    }
    if matches!(
        desired,
        alloc_desired_status::STOP | alloc_desired_status::EVICT
    ) {
        return (false, !allocs::last_reschedule_failed(a));
    }
    if matches!(a.client_status.as_str(), client::COMPLETE | client::LOST) {
        return (false, true);
    }
    (false, false)
}

/// Inputs of [`filter_by_rescheduleable`] that stay the same for a group.
pub(crate) struct RescheduleCtx<'a> {
    pub batch: bool,
    pub now: i64,
    pub eval_id: &'a str,
    pub deployment: Option<&'a Deployment>,
}

/// `(now, later, at)`: reschedule the allocation now, or create a
/// follow-up evaluation for `at`.
fn reschedulable(a: &Allocation, cx: &RescheduleCtx<'_>, disconnecting: bool) -> (bool, bool, i64) {
    if let Some(d) = cx.deployment {
        if a.deployment_id == d.id && d.active() && !allocs::wants_reschedule(a) {
            return (false, false, 0);
        }
    }
    let mut now_flag = allocs::wants_force_reschedule(a) && is_client_terminal(a);
    if disconnecting && !allocs::replace_on_disconnect(a) {
        return (now_flag, false, 0);
    }
    let next = if disconnecting {
        allocs::reschedule_on_disconnect(a, cx.now)
    } else if a.client_status == client::UNKNOWN && a.followup_eval_id == cx.eval_id {
        allocs::last_unknown(a).and_then(|t| allocs::next_reschedule_time_from(a, t))
    } else {
        allocs::next_reschedule_time(a)
    };
    let Some(next) = next.filter(|n| n.eligible) else {
        return (now_flag, false, 0);
    };
    if a.followup_eval_id == cx.eval_id || next.at.saturating_sub(cx.now) <= RESCHEDULE_WINDOW {
        now_flag = true;
        return (now_flag, false, next.at);
    }
    (now_flag, a.followup_eval_id.is_empty(), next.at)
}

/// Splits allocations into those that stay (`untainted`), failed ones to
/// replace now, and failed ones to replace later. Allocations already
/// replaced, or that never count (stopped, completed services), are left
/// out.
pub(crate) fn filter_by_rescheduleable(
    set: &AllocSet,
    cx: &RescheduleCtx<'_>,
    disconnecting: bool,
) -> (AllocSet, AllocSet, Vec<Delayed>) {
    let mut untainted = AllocSet::new();
    let mut now = AllocSet::new();
    let mut later = Vec::new();
    for (id, a) in set {
        if disconnecting && a.client_status == client::UNKNOWN {
            continue;
        }
        if !a.next_allocation.is_empty() && a.terminal_status() {
            continue;
        }
        let (keep, ignore) = should_filter(a, cx.batch);
        if keep && !disconnecting {
            untainted.insert(id.clone(), a.clone());
            continue;
        }
        if ignore {
            continue;
        }
        let (eligible_now, eligible_later, at) = reschedulable(a, cx, disconnecting);
        if eligible_now {
            now.insert(id.clone(), a.clone());
            continue;
        }
        untainted.insert(id.clone(), a.clone());
        if eligible_later {
            later.push(Delayed {
                alloc: a.clone(),
                at,
            });
        }
    }
    (untainted, now, later)
}

/// Stop requests for every allocation of a group that is going away (job
/// stopped, group removed or scaled to zero).
pub(crate) fn stop_all(set: &AllocSet, tainted: &TaintedNodes, now: i64) -> Vec<StopRequest> {
    use crate::descriptions::{ALLOC_LOST, ALLOC_NOT_NEEDED};
    let c = classify(set, tainted, now);
    let unknown = |s: &AllocSet| -> AllocSet {
        s.iter()
            .filter(|(_, a)| a.client_status == client::UNKNOWN)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let mut out = Vec::new();
    for s in [&c.untainted, &c.migrate] {
        out.extend(mark_stop(s, None, ALLOC_NOT_NEEDED));
    }
    out.extend(mark_stop(&c.lost, Some(client::LOST), ALLOC_LOST));
    for s in [&c.disconnecting, &c.reconnecting] {
        out.extend(mark_stop(s, None, ALLOC_NOT_NEEDED));
    }
    out.extend(mark_stop(&unknown(&c.ignore), None, ALLOC_NOT_NEEDED));
    out.extend(mark_stop(&unknown(&c.expiring), None, ALLOC_NOT_NEEDED));
    out
}

/// Allocations the server already stopped whose node went down while the
/// client still reported them running: they are marked lost (Nomad's
/// `updateNonTerminalAllocsToLost`).
pub(crate) fn stopped_but_running_on_down_nodes<'a>(
    existing: impl IntoIterator<Item = &'a Arc<Allocation>>,
    tainted: &TaintedNodes,
) -> Vec<StopRequest> {
    let mut out: Vec<StopRequest> = existing
        .into_iter()
        .filter(|a| match tainted.get(&a.node_id) {
            Some(Some(n)) => n.status == node_status::DOWN,
            Some(None) => true,
            None => false,
        })
        .filter(|a| {
            a.server_terminal_status()
                && matches!(a.client_status.as_str(), client::RUNNING | client::PENDING)
        })
        .map(|a| StopRequest {
            alloc: a.clone(),
            client_status: Some(client::LOST.to_string()),
            description: crate::descriptions::ALLOC_LOST.to_string(),
            followup_eval_id: None,
        })
        .collect();
    out.sort_by(|x, y| by_name_order(&x.alloc, &y.alloc));
    out
}
