//! Scheduler workers (Nomad's `nomad/worker.go`): dequeue an evaluation,
//! wait for a state snapshot at least as new as it, run the scheduler on a
//! blocking thread, submit its plans to the plan queue, then ack or nack.

use std::time::Duration;

use nomad_scheduler::plan::Plan;
use nomad_scheduler::{process_eval, Planner, PlannerError, SchedulerOptions, Submission};
use nomad_state::command::EvalUpdate;
use nomad_state::{Command, StateSnapshot};
use nomad_types::Evaluation;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::server::{PlanRequest, Server};

pub(crate) async fn worker_loop(server: Server, id: usize) {
    let types = server.inner.config.enabled_schedulers.clone();
    loop {
        let Some((eval, token)) = server
            .inner
            .broker
            .dequeue(&types, Duration::from_millis(500))
            .await
        else {
            continue;
        };
        tracing::debug!(worker = id, eval_id = %eval.id, job_id = %eval.job_id, triggered_by = %eval.triggered_by, "dequeued evaluation");
        let reader = server.inner.reader.clone();
        let wait = reader.wait_applied(eval.modify_index);
        if tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .is_err()
        {
            tracing::warn!(eval_id = %eval.id, "state did not reach the evaluation's index; nacking");
            if let Ok(out) = server.inner.broker.nack(&eval.id, &token) {
                server.handle_broker_outcome(out).await;
            }
            continue;
        }
        let snap = reader.snapshot();
        let snapshot_index = snap.latest_index();
        let srv = server.clone();
        let ev = eval.clone();
        let token_for_planner = token.clone();
        let handle = Handle::current();
        let res = tokio::task::spawn_blocking(move || {
            let mut planner = WorkerPlanner {
                server: srv,
                handle,
                eval_id: ev.id.clone(),
                token: token_for_planner,
                snapshot_index,
                created: Vec::new(),
            };
            let opts = SchedulerOptions {
                now: crate::now_nanos(),
                seed: fastrand::u64(..),
            };
            let out = process_eval(&snap, &mut planner, &ev, &opts);
            // Evaluations created after the last write (none, normally).
            planner.write_evals(Vec::new()).map_err(Into::into).and(out)
        })
        .await;
        let out = match res {
            Ok(Ok(o)) => {
                tracing::debug!(eval_id = %eval.id, job_id = %eval.job_id, placed = o.allocs_placed, status = %o.eval.status, "evaluation processed");
                server.inner.broker.ack(&eval.id, &token)
            }
            Ok(Err(e)) => {
                tracing::warn!(eval_id = %eval.id, job_id = %eval.job_id, error = %e, "scheduler failed; nacking");
                server.inner.broker.nack(&eval.id, &token)
            }
            Err(e) => {
                tracing::error!(eval_id = %eval.id, error = %e, "scheduler panicked; nacking");
                server.inner.broker.nack(&eval.id, &token)
            }
        };
        match out {
            Ok(o) => server.handle_broker_outcome(o).await,
            Err(e) => tracing::warn!(eval_id = %eval.id, error = %e, "ack/nack"),
        }
    }
}

/// The planner a worker hands the scheduler: plans go to the plan queue,
/// evaluation changes through Raft. Runs on a blocking thread.
struct WorkerPlanner {
    server: Server,
    handle: Handle,
    eval_id: String,
    token: String,
    /// Index of the state the scheduler works on (raised when a partial
    /// commit hands it a fresher one); stamped on the evaluations it
    /// creates or re-blocks, so the blocked set can tell whether they
    /// missed a capacity change (Nomad's `Worker.snapshotIndex`).
    snapshot_index: u64,
    /// Evaluations created (a blocked one, a follow-up) and not written
    /// yet: they go into the Raft entry of the next write, so a failed
    /// placement costs one entry (the blocked evaluation with the
    /// evaluation's new status) instead of two round trips.
    created: Vec<Evaluation>,
}

impl WorkerPlanner {
    /// A worker's writes count only while its evaluation is still
    /// outstanding with its token: after a leadership change or a restore
    /// the broker was reset, and a late write would land in a state that no
    /// longer expects it (Nomad checks the token the same way).
    fn check_token(&self) -> Result<(), PlannerError> {
        if self
            .server
            .inner
            .broker
            .outstanding(&self.eval_id)
            .as_deref()
            == Some(&self.token)
        {
            Ok(())
        } else {
            Err(PlannerError(format!(
                "evaluation {} is no longer outstanding with this token",
                self.eval_id
            )))
        }
    }

    /// Writes the pending created evaluations and then `evals` (stamped
    /// with the time) in one Raft entry.
    fn write_evals(&mut self, evals: Vec<Evaluation>) -> Result<(), PlannerError> {
        let mut all = std::mem::take(&mut self.created);
        if all.is_empty() && evals.is_empty() {
            return Ok(());
        }
        self.check_token()?;
        let now = crate::now_nanos();
        all.extend(evals.into_iter().map(|e| stamped(e, now)));
        let server = self.server.clone();
        let r = self.handle.block_on(async move {
            server
                .propose(Command::EvalUpdate(EvalUpdate { evals: all }))
                .await
        });
        match r {
            Ok(a) if a.is_ok() => Ok(()),
            Ok(a) => Err(PlannerError(
                a.error.map(|e| e.to_string()).unwrap_or_default(),
            )),
            Err(e) => Err(PlannerError(e.to_string())),
        }
    }
}

/// An evaluation as written now: modified now, created now if it is new.
fn stamped(mut e: Evaluation, now: i64) -> Evaluation {
    e.modify_time = now;
    if e.create_time == 0 {
        e.create_time = now;
    }
    e
}

impl Planner<StateSnapshot> for WorkerPlanner {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<StateSnapshot>, PlannerError> {
        // Evaluations created before the plan are committed before it.
        self.write_evals(Vec::new())?;
        self.check_token()?;
        let (tx, rx) = oneshot::channel();
        let req = PlanRequest {
            plan: plan.clone(),
            token: self.token.clone(),
            reply: tx,
        };
        let plan_tx = self.server.inner.plan_tx.clone();
        let result = self.handle.block_on(async move {
            plan_tx
                .send(req)
                .await
                .map_err(|_| PlannerError("plan queue closed".into()))?;
            rx.await
                .map_err(|_| PlannerError("plan applier stopped".into()))
        })?;
        let result = result.map_err(|e| PlannerError(e.to_string()))?;
        let mut sub = Submission::new(result);
        if sub.result.refresh_index != 0 {
            let reader = self.server.inner.reader.clone();
            let _ = reader
                .wait_applied(sub.result.refresh_index)
                .blocking(Duration::from_secs(5));
            let snap = reader.snapshot();
            self.snapshot_index = snap.latest_index();
            sub.refreshed_state = Some(snap);
        }
        Ok(sub)
    }

    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.write_evals(vec![eval.clone()])
    }

    /// Held until the next write (see [`WorkerPlanner::created`]).
    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.check_token()?;
        let mut e = eval.clone();
        e.snapshot_index = self.snapshot_index;
        self.created.push(stamped(e, crate::now_nanos()));
        Ok(())
    }

    fn reblock_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        let mut e = eval.clone();
        e.snapshot_index = self.snapshot_index;
        self.write_evals(vec![e])
    }
}
