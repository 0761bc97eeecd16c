//! The cluster reconciler for service and batch jobs.
//!
//! For each task group it compares the allocations that exist with the
//! group as the job now describes it and decides what changes: see
//! [`reconcile`]. The per-group steps live in `group` (stops and
//! placements in `place`); allocation sets and their classification in
//! `sets`; follow-up evaluations in `followup`; reconnect handling in
//! `reconnect` ([`pick_reconnecting`]).

mod followup;
mod group;
mod place;
pub(crate) mod reconnect;
pub(crate) mod sets;

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::{Deployment, DesiredUpdates, Job};

use crate::deployment::{self, cancel_unneeded};
use crate::types::{ClusterInput, IdFn, ReconcileResult, UpdateFn};
use sets::{stop_all, stopped_but_running_on_down_nodes, AllocSet};

pub use reconnect::{pick_reconnecting, Keep};

/// Reconciles a service or batch job: what to place, stop, update in place
/// or destructively, migrate, mark lost or unknown, and reschedule now or
/// later, plus the deployment changes and follow-up evaluations that go
/// with it.
///
/// `update_fn` is asked about every running allocation of the group (see
/// [`crate::UpdateDecision`]); `new_id` supplies the IDs of a created
/// deployment and of follow-up evaluations ([`crate::seeded_ids`] makes a
/// deterministic one).
///
/// Pure: same input, same callbacks' answers, same result.
pub fn reconcile(
    input: &ClusterInput<'_>,
    update_fn: &mut UpdateFn<'_>,
    new_id: &mut IdFn<'_>,
) -> ReconcileResult {
    let mut result = ReconcileResult::default();
    let live_job = input.job.as_deref().filter(|j| !j.is_stopped());
    let split = cancel_unneeded(input.job.as_deref(), input.deployment.as_ref());
    result.deployment_updates = split.updates;

    let matrix = alloc_matrix(input.existing, live_job);
    result.stop.extend(stopped_but_running_on_down_nodes(
        input.existing.iter(),
        input.tainted_nodes,
    ));

    let Some(job) = live_job else {
        for (group, set) in matrix {
            let live: AllocSet = set
                .into_iter()
                .filter(|(_, a)| !a.terminal_status())
                .collect();
            let du = DesiredUpdates {
                stop: live.len() as u64,
                ..DesiredUpdates::default()
            };
            result
                .stop
                .extend(stop_all(&live, input.tainted_nodes, input.now));
            result.desired_tg_updates.insert(group, du);
        }
        return result;
    };

    let current = split.current.as_deref().cloned();
    let mut r = Reconciler {
        input,
        job,
        update_fn,
        new_id,
        paused: current.as_ref().is_some_and(deployment::is_paused),
        failed: current.as_ref().is_some_and(deployment::is_failed),
        initializing: current
            .as_ref()
            .is_some_and(|d| d.status == nomad_types::consts::deployment_status::INITIALIZING),
        old: split.old,
        current,
        created: false,
    };
    let mut complete = true;
    for (group, set) in matrix {
        complete &= r.compute_group(&group, set, &mut result);
    }

    if let Some(cur) = &r.current {
        if !r.created {
            result
                .deployment_updates
                .extend(deployment::completion_updates(job, cur, complete));
        }
    }
    if r.created || r.initializing {
        if let Some(mut d) = r.current.take() {
            if r.created {
                deployment::describe_created(&mut d);
            }
            result.deployment = Some(d);
        }
    }
    result
}

/// The allocations of each group (every group of the job appears, even
/// without allocations).
fn alloc_matrix(
    existing: &[Arc<nomad_types::Allocation>],
    job: Option<&Job>,
) -> BTreeMap<String, AllocSet> {
    let mut m: BTreeMap<String, AllocSet> = BTreeMap::new();
    for a in existing {
        m.entry(a.task_group.clone())
            .or_default()
            .insert(a.id.clone(), a.clone());
    }
    if let Some(job) = job {
        for tg in &job.task_groups {
            m.entry(tg.name().to_string()).or_default();
        }
    }
    m
}

/// State shared by the groups of one reconcile.
pub(crate) struct Reconciler<'i, 'a, 'u, 'n> {
    input: &'i ClusterInput<'a>,
    job: &'i Job,
    update_fn: &'u mut UpdateFn<'u>,
    new_id: &'n mut IdFn<'n>,
    /// The deployment is paused (or waiting for peers): no placements.
    paused: bool,
    /// The deployment failed: only replacements of lost or failed allocations.
    failed: bool,
    /// The deployment is a multiregion one still initialising.
    initializing: bool,
    /// An older (or finished) deployment whose canaries are unwanted.
    old: Option<Arc<Deployment>>,
    /// The deployment in progress for this job version (a working copy).
    current: Option<Deployment>,
    /// `current` was created by this reconcile.
    created: bool,
}
