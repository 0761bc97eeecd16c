//! Allocations: plan results, client updates, desired transitions, and the
//! job-summary accounting that follows allocations' client status.

use std::collections::BTreeSet;
use std::sync::Arc;

use nomad_types::consts::{
    alloc_client_status, alloc_desired_status, eval_status, job_status, node_eligibility,
};
use nomad_types::node::NodeEvent;
use nomad_types::{Allocation, DesiredTransition, GoTime, Job};

use super::{JobStatusSet, Txn};
use crate::command::{AllocClientUpdate, AllocUpdateDesiredTransition, ApplyPlanResults};
use crate::error::ApplyError;
use crate::table::Table;
use crate::tables::job_key;

/// Nomad's message on a node marked ineligible by the plan applier.
const PLAN_REJECT_MESSAGE: &str = "Node marked as ineligible for scheduling due to multiple plan rejections, refer to https://developer.hashicorp.com/nomad/s/port-plan-failure for more information";

/// The last client-status transition recorded is to `unknown`.
fn needs_to_reconnect(a: &Allocation) -> bool {
    a.alloc_states
        .iter()
        .rev()
        .find(|s| s.field == "ClientStatus" && !s.value.is_empty())
        .is_some_and(|s| s.value == alloc_client_status::UNKNOWN)
}

impl Txn<'_> {
    pub(super) fn apply_plan_results(&mut self, p: ApplyPlanResults) -> Result<(), ApplyError> {
        // Stopped and preempted allocations are diffs on the stored ones.
        let mut stopped = Vec::with_capacity(p.allocs_stopped.len());
        for s in &p.allocs_stopped {
            let ex = self
                .t
                .allocs
                .get(&s.id)
                .ok_or_else(|| ApplyError::not_found("alloc", &s.id))?;
            let mut a = (**ex).clone();
            a.desired_status = alloc_desired_status::STOP.to_string();
            a.desired_description = s.desired_description.clone();
            if !s.client_status.is_empty() {
                a.client_status = s.client_status.clone();
            }
            if !s.followup_eval_id.is_empty() {
                a.followup_eval_id = s.followup_eval_id.clone();
            }
            if s.modify_time != 0 {
                a.modify_time = s.modify_time;
            }
            stopped.push(a);
        }
        let mut preempted = Vec::with_capacity(p.allocs_preempted.len());
        for s in &p.allocs_preempted {
            let ex = self
                .t
                .allocs
                .get(&s.id)
                .ok_or_else(|| ApplyError::not_found("alloc", &s.id))?;
            let mut a = (**ex).clone();
            a.preempted_by_allocation = s.preempted_by_allocation.clone();
            a.desired_description = format!("Preempted by alloc ID {}", s.preempted_by_allocation);
            a.desired_status = alloc_desired_status::EVICT.to_string();
            if s.modify_time != 0 {
                a.modify_time = s.modify_time;
            }
            preempted.push(a);
        }

        for node_id in &p.ineligible_nodes {
            let event = NodeEvent {
                message: PLAN_REJECT_MESSAGE.to_string(),
                subsystem: "Scheduler".to_string(),
                timestamp: GoTime::from_unix_nanos(p.updated_at),
                ..NodeEvent::default()
            };
            self.update_node_eligibility(
                node_id,
                node_eligibility::INELIGIBLE,
                p.updated_at / 1_000_000_000,
                Some(event),
            )?;
        }

        if let Some(mut d) = p.deployment {
            // Counts the clients own (health, placements) are kept.
            if let Some(existing) = self.t.deployments.get(&d.id).cloned() {
                for (tg, ex) in &existing.task_groups {
                    match d.task_groups.get_mut(tg) {
                        Some(s) => {
                            s.healthy_allocs = ex.healthy_allocs;
                            s.unhealthy_allocs = ex.unhealthy_allocs;
                            s.placed_allocs = ex.placed_allocs;
                            s.require_progress_by = ex.require_progress_by.clone();
                        }
                        None => {
                            d.task_groups.insert(tg.clone(), ex.clone());
                        }
                    }
                }
            }
            self.upsert_deployment(d)?;
        }
        for u in &p.deployment_updates {
            // Nomad ignores failures here (the deployment may have ended).
            let backup = self.savepoint();
            if self.update_deployment_status(u, p.updated_at).is_err() {
                self.rollback_to(backup);
            }
        }
        if !p.eval_id.is_empty() {
            self.update_eval_modify_index(&p.eval_id)?;
        }

        // The job travels once per plan; allocations share one copy of it
        // (the stored version when it matches).
        let plan_job = p.job.as_ref().map(|j| self.intern_job(j));
        let mut seen: Vec<(Arc<Job>, Arc<Job>)> = Vec::new();
        let mut updated = p.allocs_updated;
        // The placements of a group usually have equal resources; the
        // scheduler shares one copy, but the log entry's decoding made one
        // per allocation. Share them again (a few distinct values per plan).
        let mut allocated = Vec::new();
        let mut legacy = Vec::new();
        let mut shared = Vec::new();
        for a in &mut updated {
            share_equal(&mut a.allocated_resources, &mut allocated);
            share_equal(&mut a.resources, &mut legacy);
            share_equal(&mut a.shared_resources, &mut shared);
        }
        for a in &mut updated {
            match &a.job {
                Some(j) => {
                    let shared = match seen.iter().find(|(from, _)| Arc::ptr_eq(from, j)) {
                        Some((_, to)) => Arc::clone(to),
                        None => {
                            let to = self.intern_job(j);
                            seen.push((Arc::clone(j), Arc::clone(&to)));
                            to
                        }
                    };
                    a.job = Some(shared);
                }
                None if !a.terminal_status() => a.job = plan_job.clone(),
                None => {}
            }
        }
        self.upsert_allocs(updated.into_iter().chain(stopped).chain(preempted))?;

        for e in p.preemption_evals {
            self.nested_upsert_eval(e)?;
        }
        Ok(())
    }

    /// Inserts or updates allocations from the scheduler (Nomad's
    /// `upsertAllocsImpl`).
    pub fn upsert_allocs(
        &mut self,
        allocs: impl IntoIterator<Item = Allocation>,
    ) -> Result<(), ApplyError> {
        let mut jobs = JobStatusSet::new();
        for mut alloc in allocs {
            if alloc.id.is_empty() {
                return Err(ApplyError::Invalid("allocation without an ID".into()));
            }
            let existing = self.t.allocs.get(&alloc.id).cloned();
            match &existing {
                None => {
                    alloc.create_index = self.index;
                    alloc.modify_index = self.index;
                    alloc.alloc_modify_index = self.index;
                    if let Some(ds) = &mut alloc.deployment_status {
                        ds.modify_index = self.index;
                    }
                    if alloc.job.is_none() {
                        return Err(ApplyError::Invalid(format!(
                            "attempting to upsert allocation {:?} without a job",
                            alloc.id
                        )));
                    }
                    // Never place work for a job stopped or removed since
                    // the scheduler's snapshot.
                    let live = self
                        .t
                        .jobs
                        .get(&job_key(&alloc.namespace, &alloc.job_id))
                        .is_some_and(|j| !j.is_stopped());
                    if !live {
                        continue;
                    }
                }
                Some(ex) => {
                    alloc.create_index = ex.create_index;
                    alloc.modify_index = self.index;
                    alloc.alloc_modify_index = self.index;
                    if !ex.next_allocation.is_empty() {
                        alloc.next_allocation = ex.next_allocation.clone();
                    }
                    alloc.task_states = ex.task_states.clone();
                    if alloc.client_status != alloc_client_status::LOST
                        && alloc.client_status != alloc_client_status::UNKNOWN
                    {
                        alloc.client_status = ex.client_status.clone();
                        alloc.client_description = ex.client_description.clone();
                    }
                    if alloc.job.is_none() {
                        alloc.job = ex.job.clone();
                    }
                }
            }
            self.update_deployment_with_alloc(&mut alloc, existing.as_deref())?;
            self.update_summary_with_alloc(&alloc, existing.as_deref())?;

            let prev_id = alloc.previous_allocation.clone();
            let force = (!alloc.terminal_status()).then_some(job_status::RUNNING);
            jobs.insert(job_key(&alloc.namespace, &alloc.job_id), force);
            let id = alloc.id.clone();
            self.put_alloc(Arc::new(alloc));
            if !prev_id.is_empty() {
                if let Some(prev) = self.t.allocs.get(&prev_id).cloned() {
                    let mut prev = (*prev).clone();
                    prev.next_allocation = id;
                    prev.modify_index = self.index;
                    self.put_alloc(Arc::new(prev));
                }
            }
        }
        self.touch(Table::Allocs);
        self.set_job_statuses(jobs, false)
    }

    pub(super) fn alloc_client_update(&mut self, c: AllocClientUpdate) -> Result<(), ApplyError> {
        let mut nodes = BTreeSet::new();
        let mut jobs = JobStatusSet::new();
        for u in c.allocs {
            let Some(ex) = self.t.allocs.get(&u.id).cloned() else {
                continue;
            };
            nodes.insert(ex.node_id.clone());
            let mut a = (*ex).clone();
            a.client_status = u.client_status;
            a.client_description = u.client_description;
            a.task_states = u.task_states;
            a.network_status = u.network_status;
            // The client only sets deployment health and its timestamp.
            match (&mut a.deployment_status, &u.deployment_status) {
                (Some(cur), Some(new)) => {
                    if let Some(h) = new.healthy {
                        if cur.healthy != Some(h) {
                            cur.healthy = Some(h);
                            cur.timestamp = new.timestamp.clone();
                            cur.modify_index = self.index;
                        }
                    }
                }
                (None, Some(new)) => {
                    let mut ds = new.clone();
                    ds.modify_index = self.index;
                    a.deployment_status = Some(ds);
                }
                _ => {}
            }
            a.modify_index = self.index;
            a.modify_time = u.modify_time;
            self.update_deployment_with_alloc(&mut a, Some(&ex))?;
            self.update_summary_with_alloc(&a, Some(&ex))?;
            self.cancel_followup_eval_for_reconnect(&mut a, &ex)?;
            jobs.insert(job_key(&a.namespace, &a.job_id), None);
            self.put_alloc(Arc::new(a));
        }
        if !c.evals.is_empty() {
            self.upsert_evals(c.evals)?;
        }
        self.set_job_statuses(jobs, false)?;
        self.touch(Table::Allocs);
        for node_id in nodes {
            if let Some(n) = self.t.nodes.get(&node_id).cloned() {
                let mut n = (*n).clone();
                n.last_alloc_update_index = self.index;
                self.put_node(Arc::new(n));
                self.touch(Table::Nodes);
            }
        }
        Ok(())
    }

    /// A reconnecting allocation's follow-up evaluation is cancelled unless
    /// another live allocation still waits on it.
    fn cancel_followup_eval_for_reconnect(
        &mut self,
        a: &mut Allocation,
        ex: &Allocation,
    ) -> Result<(), ApplyError> {
        let reconnected = matches!(
            a.client_status.as_str(),
            alloc_client_status::RUNNING
                | alloc_client_status::COMPLETE
                | alloc_client_status::FAILED
        );
        if !needs_to_reconnect(ex) || ex.followup_eval_id.is_empty() || !reconnected {
            return Ok(());
        }
        let eval_id = ex.followup_eval_id.clone();
        a.followup_eval_id.clear();
        let others = self.t.allocs_of_job(&job_key(&a.namespace, &a.job_id));
        if others
            .iter()
            .any(|o| o.id != a.id && o.followup_eval_id == eval_id && !o.terminal_status())
        {
            return Ok(());
        }
        if let Some(e) = self.t.evals.get(&eval_id).cloned() {
            let mut e = (*e).clone();
            e.status = eval_status::CANCELLED.to_string();
            e.status_description = "allocs reconnected".to_string();
            e.modify_index = self.index;
            self.evals.push(e.id.clone());
            self.put_eval(Arc::new(e));
            self.touch(Table::Evals);
        }
        Ok(())
    }

    pub(super) fn alloc_desired_transitions(
        &mut self,
        c: AllocUpdateDesiredTransition,
    ) -> Result<(), ApplyError> {
        for (id, t) in &c.allocs {
            self.update_alloc_desired_transition(id, t);
        }
        for e in c.evals {
            self.nested_upsert_eval(e)?;
        }
        self.touch(Table::Allocs);
        Ok(())
    }

    /// Merges a transition into an allocation; a missing one is skipped.
    pub fn update_alloc_desired_transition(&mut self, id: &str, t: &DesiredTransition) {
        let Some(ex) = self.t.allocs.get(id).cloned() else {
            return;
        };
        let mut a = (*ex).clone();
        let d = &mut a.desired_transition;
        if t.migrate.is_some() {
            d.migrate = t.migrate;
        }
        if t.migrate_disable_placement.is_some() {
            d.migrate_disable_placement = t.migrate_disable_placement;
        }
        if t.reschedule.is_some() {
            d.reschedule = t.reschedule;
        }
        if t.force_reschedule.is_some() {
            d.force_reschedule = t.force_reschedule;
        }
        if t.no_shutdown_delay.is_some() {
            d.no_shutdown_delay = t.no_shutdown_delay;
        }
        a.modify_index = self.index;
        a.alloc_modify_index = self.index;
        self.put_alloc(Arc::new(a));
    }

    /// Moves the allocation between its group's Starting / Running /
    /// Complete / Failed / Lost / Unknown counts (Nomad's
    /// `updateSummaryWithAlloc`).
    fn update_summary_with_alloc(
        &mut self,
        alloc: &Allocation,
        existing: Option<&Allocation>,
    ) -> Result<(), ApplyError> {
        let Some(job) = &alloc.job else {
            return Ok(());
        };
        let key = job_key(&alloc.namespace, &alloc.job_id);
        let Some(summary) = self.t.job_summaries.get(&key) else {
            if self.t.jobs.contains_key(&key) {
                return Err(ApplyError::Conflict(format!(
                    "job summary for job {:?} in namespace {:?} is not present",
                    key.1, key.0
                )));
            }
            return Ok(());
        };
        // The allocation belongs to an earlier job of the same ID.
        if summary.create_index != job.create_index.unwrap_or(0) {
            return Ok(());
        }
        if !summary.summary.contains_key(&alloc.task_group) {
            return Err(ApplyError::Invalid(format!(
                "unable to find task group {:?} in the job summary",
                alloc.task_group
            )));
        }
        let changed = match existing {
            None => alloc.client_status == alloc_client_status::PENDING,
            Some(ex) => ex.client_status != alloc.client_status,
        };
        if !changed {
            return Ok(());
        }
        let index = self.index;
        // Copy-on-write: cloned once per entry, then updated in place.
        let Some(slot) = self.t.job_summaries.get_mut(&key) else {
            return Ok(());
        };
        let js = Arc::make_mut(slot);
        js.modify_index = index;
        let Some(tg) = js.summary.get_mut(&alloc.task_group) else {
            return Ok(());
        };
        let dec = |n: &mut i64| {
            if *n > 0 {
                *n -= 1
            }
        };
        let inc = |n: &mut i64| *n = n.saturating_add(1);
        match existing {
            None => {
                inc(&mut tg.starting);
                dec(&mut tg.queued);
            }
            Some(ex) => {
                match alloc.client_status.as_str() {
                    alloc_client_status::RUNNING => inc(&mut tg.running),
                    alloc_client_status::FAILED => inc(&mut tg.failed),
                    alloc_client_status::PENDING => inc(&mut tg.starting),
                    alloc_client_status::COMPLETE => inc(&mut tg.complete),
                    alloc_client_status::LOST => inc(&mut tg.lost),
                    alloc_client_status::UNKNOWN => inc(&mut tg.unknown),
                    _ => {}
                }
                match ex.client_status.as_str() {
                    alloc_client_status::RUNNING => dec(&mut tg.running),
                    alloc_client_status::PENDING => dec(&mut tg.starting),
                    alloc_client_status::LOST => dec(&mut tg.lost),
                    alloc_client_status::UNKNOWN => dec(&mut tg.unknown),
                    _ => {}
                }
            }
        }
        self.touch(Table::JobSummary);
        Ok(())
    }
}

/// Replaces `slot` with an earlier equal value from `seen` (or records it):
/// equal values end up as one shared allocation. `seen` stays small (at
/// most 8 distinct values are remembered).
fn share_equal<T: PartialEq>(slot: &mut Option<Arc<T>>, seen: &mut Vec<Arc<T>>) {
    let Some(v) = slot else { return };
    if let Some(s) = seen.iter().find(|s| Arc::ptr_eq(s, v) || ***s == **v) {
        *v = Arc::clone(s);
    } else if seen.len() < 8 {
        seen.push(Arc::clone(v));
    }
}

#[cfg(test)]
mod share_tests {
    use super::*;

    #[test]
    fn equal_values_end_up_shared_and_different_ones_do_not() {
        let mut seen = Vec::new();
        let mut a = Some(Arc::new(vec![1, 2]));
        let mut b = Some(Arc::new(vec![1, 2]));
        let mut c = Some(Arc::new(vec![3]));
        let mut none: Option<Arc<Vec<i32>>> = None;
        for slot in [&mut a, &mut b, &mut c, &mut none] {
            share_equal(slot, &mut seen);
        }
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(*c, vec![3]);
        assert!(none.is_none());
    }
}
