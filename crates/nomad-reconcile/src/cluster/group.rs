//! One task group of the cluster reconciler, step by step:
//!
//! 1. drop server-stopped allocations (batch keeps its finished ones) and,
//!    for batch jobs, terminal allocations of older versions;
//! 2. stop canaries of old or failed deployments;
//! 3. classify by node state and reschedule eligibility;
//! 4. settle reconnecting and disconnecting allocations, create follow-up
//!    evaluations for delayed reschedules;
//! 5. stop what exceeds the count (highest indexes first);
//! 6. ask the update oracle about each remaining allocation (ignore, in
//!    place, destructive);
//! 7. place canaries when a destructive change needs them;
//! 8. place missing, rescheduled and lost allocations, then as many
//!    destructive updates as the rollout allows, then migrations;
//! 9. create a deployment for a new job version, and tell whether the
//!    group's part of the current deployment is complete.

use std::collections::HashSet;
use std::sync::Arc;

use nomad_types::consts::{alloc_client_status as client, eval_trigger};
use nomad_types::{Allocation, DeploymentState, DesiredUpdates, TaskGroup, UpdateStrategy};

use super::followup::{self, EvalTemplate, FollowupIds};
use super::place::{compute_migrations, compute_placements};
use super::reconnect;
use super::sets::{
    self, classify, extend, filter_by_rescheduleable, from_keys, mark_stop, name_order, remove_all,
    union, AllocSet, Delayed, RescheduleCtx,
};
use super::Reconciler;
use crate::allocs;
use crate::deployment::{self as dep, canary_count, group_update, max_parallel, update_is_empty};
use crate::descriptions::{ALLOC_LOST, ALLOC_MIGRATING, ALLOC_NOT_NEEDED, ALLOC_UPDATING};
use crate::names::AllocNameIndex;
use crate::types::{DestructiveUpdate, Placement, ReconcileResult, StopRequest, UpdateDecision};

/// A group's count; unset means 1, negative means 0.
pub(crate) fn group_count(tg: &TaskGroup) -> u64 {
    tg.count.unwrap_or(1).max(0) as u64
}

/// Per-group working state.
pub(super) struct GroupRun<'t> {
    pub name: &'t str,
    pub tg: &'t TaskGroup,
    pub update: Option<&'t UpdateStrategy>,
    pub count: u64,
    pub du: DesiredUpdates,
    pub stops: Vec<StopRequest>,
    pub place: Vec<Placement>,
    pub followups: Vec<nomad_types::Evaluation>,
}

impl GroupRun<'_> {
    pub fn stop(&mut self, alloc: &Arc<Allocation>, status: Option<&str>, desc: &str) {
        self.stops.push(StopRequest {
            alloc: alloc.clone(),
            client_status: status.map(str::to_string),
            description: desc.to_string(),
            followup_eval_id: None,
        });
    }

    pub fn placement(&self, alloc: Option<&Arc<Allocation>>, name: String) -> Placement {
        Placement {
            index: allocs::name_index(&name),
            name,
            task_group: self.name.to_string(),
            previous_alloc: alloc.cloned(),
            reschedule: false,
            canary: false,
            lost: false,
            downgrade_non_canary: false,
            min_job_version: alloc.map_or(0, |a| allocs::job_version(a)),
        }
    }
}

/// Keeps allocations the server has not stopped, plus stopped batch
/// allocations not marked for rescheduling (finished batch work counts).
fn filter_server_terminal(all: AllocSet) -> AllocSet {
    all.into_iter()
        .filter(|(_, a)| {
            !a.server_terminal_status()
                || (allocs::is_batch_alloc(a) && !allocs::wants_reschedule(a))
        })
        .collect()
}

impl<'i, 'a, 'u, 'n> Reconciler<'i, 'a, 'u, 'n> {
    fn eval_template(&self) -> EvalTemplate<'i> {
        let input: &'i crate::types::ClusterInput<'a> = self.input;
        EvalTemplate {
            job: self.job,
            eval_id: &input.eval_id,
            priority: input.eval_priority,
        }
    }

    fn resched_ctx(&self) -> RescheduleCtx<'_> {
        RescheduleCtx {
            batch: self.input.batch,
            now: self.input.now,
            eval_id: &self.input.eval_id,
            deployment: self.current.as_ref(),
        }
    }

    /// Reconciles one group into `out`; returns whether its part of the
    /// current deployment is complete.
    pub(super) fn compute_group(
        &mut self,
        group: &str,
        all: AllocSet,
        out: &mut ReconcileResult,
    ) -> bool {
        let job = self.job;
        let all = filter_server_terminal(all);
        let tg = job.lookup_task_group(group);
        let Some(tg) = tg.filter(|tg| group_count(tg) > 0) else {
            let du = DesiredUpdates {
                stop: all.len() as u64,
                ..DesiredUpdates::default()
            };
            out.stop.extend(sets::stop_all(
                &all,
                self.input.tainted_nodes,
                self.input.now,
            ));
            out.desired_tg_updates.insert(group.to_string(), du);
            return true;
        };
        let mut g = GroupRun {
            name: group,
            tg,
            update: group_update(job, tg),
            count: group_count(tg),
            du: DesiredUpdates::default(),
            stops: Vec::new(),
            place: Vec::new(),
            followups: Vec::new(),
        };
        let complete = self.run_group(&mut g, all, out);
        out.stop.append(&mut g.stops);
        out.place.append(&mut g.place);
        if !g.followups.is_empty() {
            out.desired_followup_evals
                .entry(group.to_string())
                .or_default()
                .append(&mut g.followups);
        }
        out.desired_tg_updates.insert(group.to_string(), g.du);
        complete
    }

    fn run_group(
        &mut self,
        g: &mut GroupRun<'_>,
        all: AllocSet,
        out: &mut ReconcileResult,
    ) -> bool {
        let now = self.input.now;
        let tainted = self.input.tainted_nodes;
        let (mut dstate, existing_deployment) = self.initial_dstate(g);

        // Batch: finished allocations of older versions are history.
        let mut all = all;
        if self.input.batch {
            let before = all.len();
            all.retain(|_, a| !(allocs::older_than(a, self.job) && a.terminal_status()));
            g.du.ignore += (before - all.len()) as u64;
        }

        let canaries = self.cancel_unneeded_canaries(g, &mut all);
        let c = classify(&all, tainted, now);
        g.du.ignore += c.ignore.len() as u64;
        let mut migrate = c.migrate;
        let mut lost = c.lost;
        let mut disconnecting = c.disconnecting;

        let rcx = self.resched_ctx();
        let (mut untainted, mut reschedule_now, mut reschedule_later) =
            filter_by_rescheduleable(&c.untainted, &rcx, false);
        let (_, migrate_now, migrate_later) = filter_by_rescheduleable(&migrate, &rcx, false);
        extend(&mut reschedule_now, &migrate_now);
        reschedule_later.extend(migrate_later);

        if !c.reconnecting.is_empty() {
            let (resume, stopped) = reconnect::reconcile_reconnecting(
                &c.reconnecting,
                &all,
                self.job,
                g.tg,
                &mut g.stops,
            );
            g.du.stop += stopped.len() as u64;
            for set in [&mut untainted, &mut migrate, &mut lost, &mut disconnecting] {
                remove_all(set, &stopped);
            }
            if !resume.is_empty() {
                let updates = reconnect::reconnect_updates(&resume, self.job, now);
                g.du.reconnect = updates.len() as u64;
                for (id, a) in updates {
                    out.reconnect_updates.insert(id, (*a).clone());
                }
                extend(&mut untainted, &resume);
            }
        }
        extend(&mut lost, &c.expiring);

        let mut disconnect_updates = AllocSet::new();
        let mut lost_followups = FollowupIds::new();
        if !disconnecting.is_empty() {
            let rcx = self.resched_ctx();
            let (keep, now_set, later) = filter_by_rescheduleable(&disconnecting, &rcx, true);
            extend(&mut reschedule_now, &now_set);
            extend(&mut untainted, &keep);
            reschedule_later.extend(later);
            let template = self.eval_template();
            let (ids, evals) = followup::timeout_evals(&template, &disconnecting, now, self.new_id);
            g.followups.extend(evals);
            for (id, a) in &disconnecting {
                let eval = ids.get(id).map_or("", String::as_str);
                disconnect_updates.insert(id.clone(), Arc::new(allocs::mark_unknown(a, eval, now)));
            }
            for (id, a) in &disconnect_updates {
                if let Some(slot) = reschedule_now.get_mut(id) {
                    *slot = a.clone();
                }
            }
            g.du.disconnect = disconnect_updates.len() as u64;
            lost_followups = ids;
        }
        g.du.reschedule_now = reschedule_now.len() as u64;

        // Lost allocations whose clients stop them later hold up placements.
        let mut lost_later = followup::delay_by_stop_after(&lost, now);
        {
            let template = self.eval_template();
            let (ids, evals) = followup::later_evals(
                &template,
                &mut lost_later,
                eval_trigger::RETRY_FAILED_ALLOC,
                self.new_id,
            );
            g.followups.extend(evals);
            for (k, v) in ids {
                lost_followups.entry(k).or_insert(v);
            }
        }

        let mut migrate_followups = FollowupIds::new();
        if !reschedule_later.is_empty() {
            self.reschedule_later_evals(
                g,
                &mut reschedule_later,
                &all,
                &migrate,
                &mut disconnect_updates,
                &mut migrate_followups,
                out,
            );
        }
        let disconnecting_ids: HashSet<String> = disconnect_updates.keys().cloned().collect();
        for (id, a) in disconnect_updates {
            out.disconnect_updates.insert(id, (*a).clone());
        }

        let seeded = union(&[&untainted, &migrate, &reschedule_now, &lost]);
        let mut names = AllocNameIndex::new(&self.input.job_id, g.name, g.count, seeded.values());

        let canarying = dstate.desired_canaries != 0 && !dstate.promoted;
        self.compute_stop(
            g,
            &mut names,
            &mut untainted,
            &mut migrate,
            &lost,
            &canaries,
            canarying,
            &lost_followups,
        );

        let (inplace, destructive) = self.compute_updates(g, &untainted, out);
        if !existing_deployment {
            dstate.desired_total += (destructive.len() + inplace) as i64;
        }
        if canarying {
            remove_all(&mut untainted, &canaries);
        }
        let wanted_canaries = canary_count(g.update) as usize;
        let requires_canaries = g.update.is_some()
            && !destructive.is_empty()
            && canaries.len() < wanted_canaries
            && !dstate.promoted;
        if requires_canaries {
            dstate.desired_canaries = wanted_canaries as i64;
            if !self.paused && !self.failed {
                let n = wanted_canaries - canaries.len();
                g.du.canary += n as u64;
                for name in names.next_canaries(n, canaries.values(), destructive.iter()) {
                    let mut p = g.placement(None, name);
                    p.canary = true;
                    g.place.push(p);
                }
            }
        }

        let canarying = dstate.desired_canaries != 0 && !dstate.promoted;
        let mut under =
            self.under_provisioned_by(g, &untainted, destructive.len(), migrate.len(), canarying);

        let mut place = Vec::new();
        if lost_later.is_empty() {
            place = compute_placements(
                g,
                &mut names,
                untainted.len() + migrate.len(),
                &reschedule_now,
                &lost,
                canarying,
            );
            if !existing_deployment {
                dstate.desired_total += place.len() as i64;
            }
        }

        let place_ready = !self.paused && !self.failed && !canarying;
        under = self.place_allocs(
            g,
            place_ready,
            place,
            &migrate,
            &reschedule_now,
            &lost,
            &disconnecting_ids,
            under,
        );

        if place_ready {
            let n = destructive.len().min(under);
            g.du.destructive_update += n as u64;
            g.du.ignore += (destructive.len() - n) as u64;
            for alloc in destructive.iter().take(n) {
                out.destructive_update.push(DestructiveUpdate {
                    place_name: alloc.name.clone(),
                    place_task_group: g.name.to_string(),
                    stop_alloc: alloc.clone(),
                    stop_description: ALLOC_UPDATING.to_string(),
                });
            }
        } else {
            g.du.ignore += destructive.len() as u64;
        }

        compute_migrations(g, &migrate, canarying, &migrate_followups);

        let inplace_count = g.du.in_place_update as usize;
        self.create_deployment(
            g,
            existing_deployment,
            dstate,
            &all,
            destructive.len(),
            inplace_count,
        );

        if g.place.len() as u64 > g.count {
            g.place.truncate(g.count as usize);
            g.du.place = g.count;
        }

        let pending = destructive.len()
            + inplace
            + g.place.len()
            + migrate.len()
            + reschedule_now.len()
            + reschedule_later.len();
        self.group_complete(g.name, pending == 0 && !requires_canaries)
    }

    fn initial_dstate(&self, g: &GroupRun<'_>) -> (DeploymentState, bool) {
        match self
            .current
            .as_ref()
            .and_then(|d| d.task_groups.get(g.name))
        {
            Some(s) => (s.clone(), true),
            None => (dep::initial_state(g.update), false),
        }
    }

    /// Stops canaries of an older deployment or of a failed current one
    /// (unless promoted), and canaries of the current deployment on
    /// draining or lost nodes. Returns the current deployment's remaining
    /// canaries.
    fn cancel_unneeded_canaries(&mut self, g: &mut GroupRun<'_>, all: &mut AllocSet) -> AllocSet {
        let mut unwanted: Vec<String> = Vec::new();
        let mut collect = |d: &nomad_types::Deployment| {
            for s in d.task_groups.values().filter(|s| !s.promoted) {
                unwanted.extend(s.placed_canaries.iter().cloned());
            }
        };
        if let Some(old) = &self.old {
            collect(old);
        }
        if let Some(cur) = self.current.as_ref().filter(|d| dep::is_failed(d)) {
            collect(cur);
        }
        let stop_set = from_keys(all, unwanted.iter());
        g.stops.extend(mark_stop(&stop_set, None, ALLOC_NOT_NEEDED));
        g.du.stop += stop_set.len() as u64;
        remove_all(all, &stop_set);

        let Some(cur) = &self.current else {
            return AllocSet::new();
        };
        let ids: Vec<&String> = cur
            .task_groups
            .values()
            .flat_map(|s| s.placed_canaries.iter())
            .collect();
        let canaries = from_keys(all, ids);
        let c = classify(&canaries, self.input.tainted_nodes, self.input.now);
        // Not counted in the plan annotations: these are transient.
        g.stops.extend(mark_stop(&c.migrate, None, ALLOC_MIGRATING));
        g.stops
            .extend(mark_stop(&c.lost, Some(client::LOST), ALLOC_LOST));
        remove_all(all, &c.migrate);
        remove_all(all, &c.lost);
        c.untainted
    }

    #[allow(clippy::too_many_arguments)]
    fn reschedule_later_evals(
        &mut self,
        g: &mut GroupRun<'_>,
        later: &mut [Delayed],
        all: &AllocSet,
        migrate: &AllocSet,
        disconnect_updates: &mut AllocSet,
        migrate_followups: &mut FollowupIds,
        out: &mut ReconcileResult,
    ) {
        let template = self.eval_template();
        let (ids, evals) = followup::later_evals(
            &template,
            later,
            eval_trigger::ALLOC_RESCHEDULE,
            self.new_id,
        );
        for item in later.iter() {
            let id = &item.alloc.id;
            let Some(eval) = ids.get(id) else { continue };
            if let Some(d) = disconnect_updates.get_mut(id) {
                Arc::make_mut(d).followup_eval_id = eval.clone();
            } else if migrate.contains_key(id) {
                migrate_followups.insert(id.clone(), eval.clone());
            } else {
                let base = all.get(id).unwrap_or(&item.alloc);
                let mut updated = (**base).clone();
                updated.followup_eval_id = eval.clone();
                out.attribute_updates.insert(id.clone(), updated);
            }
        }
        g.followups.extend(evals);
        g.du.reschedule_later = later.len() as u64;
    }

    /// Asks the oracle about each allocation. In-place updates go straight
    /// to the result; returns their count and the destructive ones in name
    /// order.
    fn compute_updates(
        &mut self,
        g: &mut GroupRun<'_>,
        untainted: &AllocSet,
        out: &mut ReconcileResult,
    ) -> (usize, Vec<Arc<Allocation>>) {
        let mut inplace = 0usize;
        let mut destructive = Vec::new();
        for alloc in name_order(untainted) {
            match (self.update_fn)(&alloc, self.job, g.tg) {
                UpdateDecision::Ignore => g.du.ignore += 1,
                UpdateDecision::Destructive => destructive.push(alloc),
                UpdateDecision::InPlace(updated) => {
                    inplace += 1;
                    out.inplace_update.push(*updated);
                }
            }
        }
        g.du.in_place_update += inplace as u64;
        (inplace, destructive)
    }

    /// How many more non-canary allocations the rollout allows now.
    fn under_provisioned_by(
        &self,
        g: &GroupRun<'_>,
        untainted: &AllocSet,
        destructive: usize,
        migrate: usize,
        canarying: bool,
    ) -> usize {
        if update_is_empty(g.update) || destructive + migrate == 0 {
            return g.count as usize;
        }
        let limit = max_parallel(g.update);
        let Some(cur) = &self.current else {
            return limit as usize;
        };
        if self.paused || self.failed || canarying {
            return 0;
        }
        let mut under = limit;
        for a in untainted.values().filter(|a| a.deployment_id == cur.id) {
            if allocs::is_unhealthy(a) {
                return 0;
            }
            if !allocs::is_healthy(a) {
                under -= 1;
            }
        }
        under.max(0) as usize
    }

    #[allow(clippy::too_many_arguments)]
    fn create_deployment(
        &mut self,
        g: &GroupRun<'_>,
        existing: bool,
        dstate: DeploymentState,
        all: &AllocSet,
        destructive: usize,
        inplace: usize,
    ) {
        if existing {
            // Keep what this group learned (desired canaries) on the working copy.
            if let Some(cur) = self.current.as_mut() {
                cur.task_groups.insert(g.name.to_string(), dstate);
            }
            return;
        }
        if update_is_empty(g.update) || dstate.desired_total == 0 {
            return;
        }
        let job = self.job;
        let updating_spec = destructive != 0 || inplace != 0;
        let had_running = all.values().any(|a| {
            allocs::job_version(a) == job.version()
                && allocs::job_create_index(a) == job.create_index.unwrap_or(0)
        });
        if had_running && !updating_spec {
            return;
        }
        if self.current.is_none() {
            let id = (self.new_id)();
            self.current = Some(dep::new_deployment(
                job,
                self.input.eval_priority,
                self.input.now,
                id,
            ));
            self.created = true;
        }
        if let Some(cur) = self.current.as_mut() {
            cur.task_groups.insert(g.name.to_string(), dstate);
        }
    }

    /// The group has nothing left to do and its deployment state shows
    /// enough healthy allocations (and promoted canaries).
    fn group_complete(&self, group: &str, nothing_pending: bool) -> bool {
        let Some(cur) = self.current.as_ref().filter(|_| nothing_pending) else {
            return false;
        };
        match cur.task_groups.get(group) {
            Some(s) => {
                s.healthy_allocs >= s.desired_total.max(s.desired_canaries)
                    && (s.desired_canaries <= 0 || s.promoted)
            }
            None => true,
        }
    }
}
