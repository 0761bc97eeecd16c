//! The entry point: process one evaluation against a snapshot, submitting
//! plans to a planner. See [`process_eval`].

use std::collections::BTreeMap;

use thiserror::Error;

use nomad_types::consts::{eval_status, eval_trigger, job_type};
use nomad_types::{AllocMetric, Evaluation, PlanAnnotations};

use crate::context::Ctx;
use crate::generic::{
    Generic, GENERIC_TRIGGERS, MAX_BATCH_SCHEDULE_ATTEMPTS, MAX_SERVICE_SCHEDULE_ATTEMPTS,
};
use crate::plan::Plan;
use crate::planner::{Planner, PlannerError};
use crate::state::State;
use crate::system::{System, MAX_SYSTEM_SCHEDULE_ATTEMPTS, SYSTEM_TRIGGERS};
use crate::util::{digest, FxHashSet, IdSource};

/// Description of a blocked evaluation created after too many plan
/// conflicts.
pub const DESC_BLOCKED_EVAL_MAX_PLAN: &str = "created due to placement conflicts";
/// Description of a blocked evaluation created for placements that did not
/// fit.
pub const DESC_BLOCKED_EVAL_FAILED_PLACEMENTS: &str = "created to place remaining allocations";

/// Why an evaluation could not be processed at all. Scheduling failures
/// (nothing fits, too many conflicts) are not errors: they are recorded on
/// the evaluation through the planner.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SchedulerError {
    /// The evaluation's type names no scheduler.
    #[error("unknown scheduler '{0}'")]
    UnknownScheduler(String),
    /// The planner failed.
    #[error("planner: {0}")]
    Planner(#[from] PlannerError),
    /// The planner committed part of a plan but gave no fresher snapshot
    /// to retry from.
    #[error(
        "missing state refresh after partial commit ({actual} of {expected} allocations committed)"
    )]
    PartialCommit {
        /// Allocations in the plan.
        expected: usize,
        /// Allocations committed.
        actual: usize,
    },
}

/// The inputs a scheduler does not own: the time and the randomness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerOptions {
    /// The current time, Unix nanoseconds.
    pub now: i64,
    /// Seed for the node shuffle, port picks and generated IDs. The same
    /// seed with the same snapshot and evaluation gives the same plan.
    pub seed: u64,
}

/// What processing an evaluation did.
#[derive(Clone, Debug, Default)]
pub struct EvalOutcome {
    /// The evaluation as last recorded through the planner (status,
    /// description, failed placements, queued allocations, …).
    pub eval: Evaluation,
    /// The blocked evaluation created for placements that did not fit.
    pub blocked_eval: Option<Evaluation>,
    /// Plans submitted (one, plus one per retry).
    pub plans_submitted: u32,
    /// New allocations the planner committed.
    pub allocs_placed: usize,
    /// The last plan submitted.
    pub last_plan: Option<Plan>,
}

/// Shared state of one evaluation across attempts.
pub(crate) struct Run<'a, S> {
    pub eval: &'a Evaluation,
    pub options: SchedulerOptions,
    planner: &'a mut dyn Planner<S>,
    pub ids: IdSource,
    pub failed: BTreeMap<String, AllocMetric>,
    pub queued: BTreeMap<String, i64>,
    pub annotations: Option<PlanAnnotations>,
    pub blocked: Option<Evaluation>,
    pub deployment_id: Option<String>,
    pub next_eval: Option<String>,
    pub pending_state: Option<S>,
    pub progress: bool,
    pub outcome: EvalOutcome,
    /// Class eligibility of the last attempt: (classes, escaped).
    pub eligibility: (BTreeMap<String, bool>, bool),
}

impl<'a, S> Run<'a, S> {
    fn new(
        eval: &'a Evaluation,
        options: SchedulerOptions,
        planner: &'a mut dyn Planner<S>,
    ) -> Self {
        Run {
            eval,
            options,
            planner,
            ids: IdSource::new(options.seed ^ digest(&eval.id)),
            failed: BTreeMap::new(),
            queued: BTreeMap::new(),
            annotations: None,
            blocked: None,
            deployment_id: None,
            next_eval: None,
            pending_state: None,
            progress: false,
            outcome: EvalOutcome::default(),
            eligibility: (BTreeMap::new(), false),
        }
    }

    pub(crate) fn planner_create_eval(&mut self, eval: &Evaluation) -> Result<(), SchedulerError> {
        Ok(self.planner.create_eval(eval)?)
    }

    /// Records the class eligibility a blocked evaluation needs.
    pub(crate) fn note_eligibility<T: State + ?Sized>(&mut self, ctx: &Ctx<'_, T>) {
        let escaped = ctx.elig.has_escaped();
        let classes = if escaped {
            BTreeMap::new()
        } else {
            ctx.elig.classes()
        };
        self.eligibility = (classes, escaped);
    }

    /// Creates the blocked evaluation for what did not fit (or, with
    /// `plan_failure`, for what conflicted too often). `node_id` is set by
    /// the system scheduler, which blocks per node.
    pub(crate) fn create_blocked(
        &mut self,
        plan_failure: bool,
        node_id: Option<&str>,
    ) -> Result<(), SchedulerError> {
        let e = self.eval;
        let (classes, escaped) = self.eligibility.clone();
        let blocked = Evaluation {
            id: self.ids.next_id(),
            namespace: e.namespace.clone(),
            priority: e.priority,
            eval_type: e.eval_type.clone(),
            triggered_by: if plan_failure {
                eval_trigger::MAX_PLANS.to_string()
            } else {
                eval_trigger::QUEUED_ALLOCS.to_string()
            },
            job_id: e.job_id.clone(),
            job_modify_index: e.job_modify_index,
            node_id: node_id.unwrap_or_default().to_string(),
            status: eval_status::BLOCKED.to_string(),
            status_description: if plan_failure {
                DESC_BLOCKED_EVAL_MAX_PLAN.to_string()
            } else {
                DESC_BLOCKED_EVAL_FAILED_PLACEMENTS.to_string()
            },
            previous_eval: e.id.clone(),
            failed_tg_allocs: self.failed.clone(),
            class_eligibility: classes,
            escaped_computed_class: escaped,
            create_time: self.options.now,
            modify_time: self.options.now,
            ..Evaluation::default()
        };
        self.planner.create_eval(&blocked)?;
        self.blocked = Some(blocked);
        Ok(())
    }

    /// Submits a plan; `Ok(true)` when it was fully committed. `strict`:
    /// a partial commit without a fresher snapshot is an error (generic
    /// scheduler) rather than a plain retry (system scheduler).
    pub(crate) fn submit(
        &mut self,
        plan: Plan,
        created: &FxHashSet<String>,
        strict: bool,
    ) -> Result<bool, SchedulerError> {
        let submission = self.planner.submit_plan(&plan)?;
        let result = submission.result;
        self.outcome.plans_submitted += 1;
        for allocs in result.node_allocation.values() {
            for a in allocs {
                if created.contains(&a.id) {
                    self.outcome.allocs_placed += 1;
                    if let Some(q) = self.queued.get_mut(&a.task_group) {
                        *q -= 1;
                    }
                }
            }
        }
        self.progress = result.progress_made();
        let (full, expected, actual) = result.full_commit(&plan);
        self.outcome.last_plan = Some(plan);
        if let Some(state) = submission.refreshed_state {
            self.pending_state = Some(state);
            return Ok(false);
        }
        if !full {
            if strict {
                return Err(SchedulerError::PartialCommit { expected, actual });
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Records the evaluation's final status.
    fn set_status(
        &mut self,
        status: &str,
        description: &str,
        with_blocked: bool,
    ) -> Result<(), SchedulerError> {
        let mut e = self.eval.clone();
        e.status = status.to_string();
        e.status_description = description.to_string();
        e.deployment_id = self.deployment_id.clone().unwrap_or_default();
        e.failed_tg_allocs = self.failed.clone();
        if with_blocked {
            if let Some(b) = &self.blocked {
                e.blocked_eval = b.id.clone();
            }
        }
        if let Some(next) = &self.next_eval {
            e.next_eval = next.clone();
        }
        e.queued_allocations = self.queued.clone();
        e.plan_annotations = self.annotations.clone();
        e.modify_time = self.options.now;
        self.planner.update_eval(&e)?;
        self.outcome.eval = e;
        self.outcome.blocked_eval = self.blocked.clone();
        Ok(())
    }

    fn reblock(&mut self) -> Result<(), SchedulerError> {
        let mut e = self.eval.clone();
        let (classes, escaped) = self.eligibility.clone();
        e.escaped_computed_class = escaped;
        e.class_eligibility = classes;
        e.failed_tg_allocs = self.failed.clone();
        e.queued_allocations = self.queued.clone();
        self.planner.reblock_eval(&e)?;
        self.outcome.eval = e;
        Ok(())
    }
}

/// Processes one evaluation: reads `state`, submits the resulting plan(s)
/// to `planner`, and records the evaluation's outcome through it.
///
/// The evaluation's type picks the scheduler: `service` and `batch` use the
/// generic scheduler, `system` and `sysbatch` the system scheduler. Nothing
/// here reads a clock or draws entropy: `options` carries both.
pub fn process_eval<S, P>(
    state: &S,
    planner: &mut P,
    eval: &Evaluation,
    options: &SchedulerOptions,
) -> Result<EvalOutcome, SchedulerError>
where
    S: State,
    P: Planner<S>,
{
    let kind = eval.eval_type.as_str();
    let (triggers, limit): (&[&str], u32) = match kind {
        job_type::SERVICE => (GENERIC_TRIGGERS, MAX_SERVICE_SCHEDULE_ATTEMPTS),
        job_type::BATCH => (GENERIC_TRIGGERS, MAX_BATCH_SCHEDULE_ATTEMPTS),
        job_type::SYSTEM => (SYSTEM_TRIGGERS, MAX_SYSTEM_SCHEDULE_ATTEMPTS),
        job_type::SYSBATCH => (
            SYSTEM_TRIGGERS,
            crate::system::MAX_SYSBATCH_SCHEDULE_ATTEMPTS,
        ),
        other => return Err(SchedulerError::UnknownScheduler(other.to_string())),
    };
    let system = matches!(kind, job_type::SYSTEM | job_type::SYSBATCH);
    let mut run = Run::new(eval, *options, planner);
    if !triggers.contains(&eval.triggered_by.as_str()) {
        let desc = format!(
            "scheduler cannot handle '{}' evaluation reason",
            eval.triggered_by
        );
        run.set_status(eval_status::FAILED, &desc, !system)?;
        return Ok(run.outcome);
    }

    let mut refreshed: Option<S> = None;
    let mut attempts = 0;
    let mut done = false;
    while attempts < limit {
        let current = refreshed.as_ref().unwrap_or(state);
        done = if system {
            System {
                run: &mut run,
                sysbatch: kind == job_type::SYSBATCH,
            }
            .attempt(current)?
        } else {
            Generic {
                run: &mut run,
                batch: kind == job_type::BATCH,
            }
            .attempt(current)?
        };
        if let Some(s) = run.pending_state.take() {
            refreshed = Some(s);
        }
        if done {
            break;
        }
        if run.progress {
            attempts = 0;
        } else {
            attempts += 1;
        }
        run.progress = false;
    }

    if !done {
        let desc = format!("maximum attempts reached ({limit})");
        if !system {
            run.create_blocked(true, None)?;
        }
        run.set_status(eval_status::FAILED, &desc, !system)?;
        return Ok(run.outcome);
    }
    if !system && eval.status == eval_status::BLOCKED && !run.failed.is_empty() {
        run.reblock()?;
        return Ok(run.outcome);
    }
    run.set_status(eval_status::COMPLETE, "", !system)?;
    Ok(run.outcome)
}
