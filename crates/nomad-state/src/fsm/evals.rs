//! Evaluations: upsert (with queued-allocation accounting and blocked-eval
//! cancellation) and deletion.

use std::sync::Arc;

use nomad_types::consts::eval_status;
use nomad_types::Evaluation;

use super::{JobStatusSet, Txn};
use crate::command::EvalDelete;
use crate::error::ApplyError;
use crate::table::Table;
use crate::tables::job_key;

impl Txn<'_> {
    /// Upserts evaluations, then recomputes their jobs' statuses (Nomad's
    /// `UpsertEvalsTxn`).
    pub fn upsert_evals(&mut self, evals: Vec<Evaluation>) -> Result<(), ApplyError> {
        let mut jobs = JobStatusSet::new();
        for eval in evals {
            jobs.insert(job_key(&eval.namespace, &eval.job_id), None);
            self.nested_upsert_eval(eval)?;
        }
        self.set_job_statuses(jobs, false)
    }

    /// Upserts one evaluation without touching job statuses.
    pub fn nested_upsert_eval(&mut self, mut eval: Evaluation) -> Result<(), ApplyError> {
        if eval.id.is_empty() {
            return Err(ApplyError::Invalid("evaluation without an ID".into()));
        }
        match self.t.evals.get(&eval.id) {
            Some(existing) => eval.create_index = existing.create_index,
            None => eval.create_index = self.index,
        }
        eval.modify_index = self.index;

        // The scheduler reports how many allocations it could not place.
        let key = job_key(&eval.namespace, &eval.job_id);
        let queued_changes = !eval.queued_allocations.is_empty()
            && self.t.job_summaries.get(&key).is_some_and(|js| {
                eval.queued_allocations
                    .iter()
                    .any(|(tg, num)| js.summary.get(tg).is_some_and(|s| s.queued != *num))
            });
        if queued_changes {
            let index = self.index;
            if let Some(slot) = self.t.job_summaries.get_mut(&key) {
                let js = Arc::make_mut(slot);
                for (tg, num) in &eval.queued_allocations {
                    if let Some(s) = js.summary.get_mut(tg) {
                        s.queued = *num;
                    }
                }
                js.modify_index = index;
            }
            self.touch(Table::JobSummary);
        }

        // A successful evaluation makes the job's blocked evaluations moot.
        if eval.status == eval_status::COMPLETE && eval.failed_tg_allocs.is_empty() {
            let blocked: Vec<Arc<Evaluation>> = self
                .t
                .evals_of_job(&key)
                .iter()
                .filter(|e| e.status == eval_status::BLOCKED && e.id != eval.id)
                .cloned()
                .collect();
            for b in blocked {
                let mut cancelled = (*b).clone();
                cancelled.status = eval_status::CANCELLED.to_string();
                cancelled.status_description = format!("evaluation {:?} successful", eval.id);
                cancelled.modify_index = self.index;
                cancelled.modify_time = eval.modify_time;
                self.evals.push(cancelled.id.clone());
                self.put_eval(Arc::new(cancelled));
            }
        }

        self.evals.push(eval.id.clone());
        self.put_eval(Arc::new(eval));
        self.touch(Table::Evals);
        Ok(())
    }

    /// Bumps an evaluation's modify index (plan results), so a worker
    /// re-processing it waits for a snapshot with the plan's effects.
    pub fn update_eval_modify_index(&mut self, id: &str) -> Result<(), ApplyError> {
        let existing = self
            .t
            .evals
            .get(id)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("eval", id))?;
        let mut eval = (*existing).clone();
        eval.modify_index = self.index;
        self.put_eval(Arc::new(eval));
        self.touch(Table::Evals);
        Ok(())
    }

    pub(super) fn eval_delete(&mut self, c: &EvalDelete) -> Result<(), ApplyError> {
        if c.user_initiated {
            let paused = self
                .t
                .scheduler_config
                .as_ref()
                .is_some_and(|s| s.pause_eval_broker);
            if !paused {
                return Err(ApplyError::Conflict(
                    "eval broker is enabled; eval broker must be paused to delete evals".into(),
                ));
            }
        }
        let mut jobs = JobStatusSet::new();
        for id in &c.evals {
            if let Some(old) = self.remove_eval(id) {
                jobs.insert(job_key(&old.namespace, &old.job_id), None);
                self.touch(Table::Evals);
            }
        }
        for id in &c.allocs {
            if self.remove_alloc(id).is_some() {
                self.touch(Table::Allocs);
            }
        }
        self.set_job_statuses(jobs, true)
    }
}
