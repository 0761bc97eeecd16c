//! Where the scheduler's decisions go: the [`Planner`] commits plans and
//! records evaluation updates.
//!
//! In a Nomad server the planner is the leader's plan queue and plan
//! applier, which may commit a plan only in part when another scheduler got
//! there first; then it returns a [`PlanResult::refresh_index`] and, if it
//! can, a fresher snapshot, and the scheduler tries again.

use thiserror::Error;

use nomad_types::Evaluation;

use crate::plan::{Plan, PlanResult};

/// A planner failure (the plan queue is gone, the leader changed, …).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct PlannerError(pub String);

/// What submitting a plan gave back.
#[derive(Debug, Clone)]
pub struct Submission<S> {
    /// What was committed.
    pub result: PlanResult,
    /// A snapshot at least as new as the result's refresh index, when the
    /// plan was only partly committed and the planner can provide one.
    pub refreshed_state: Option<S>,
}

impl<S> Submission<S> {
    /// A submission without a state refresh.
    pub fn new(result: PlanResult) -> Self {
        Submission {
            result,
            refreshed_state: None,
        }
    }
}

/// Commits plans and records evaluations. `S` is the snapshot type the
/// planner can hand back after a partial commit.
pub trait Planner<S> {
    /// Submits a plan for commit.
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<S>, PlannerError>;

    /// Records the evaluation's new status (a changed copy of the input).
    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError>;

    /// Creates a new evaluation (blocked, follow-up, …) whose previous
    /// evaluation is the one being processed.
    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError>;

    /// Puts a blocked evaluation back into the blocked set after it was
    /// processed without placing everything.
    fn reblock_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError>;
}
