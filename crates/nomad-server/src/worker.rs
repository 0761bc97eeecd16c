//! Scheduler workers (Nomad's `nomad/worker.go`): dequeue an evaluation,
//! wait for a state snapshot at least as new as it, run the scheduler on a
//! blocking thread, submit its plans to the plan queue, then ack or nack.
//!
//! A worker does not wait for the write that ends an evaluation (its final
//! status, the blocked evaluation it created): it hands that write to a
//! task of its own, which acks the evaluation once the write is committed
//! (nacks it if the write fails), and goes on to the next evaluation. The
//! broker keeps the evaluation outstanding until then, so a job still has
//! one evaluation in flight at a time; a worker has at most
//! [`MAX_UNCOMMITTED`] such writes pending. Nomad's worker waits for each
//! write, so a worker there finishes one evaluation per Raft round trip.

use std::sync::Arc;
use std::time::Duration;

use nomad_scheduler::plan::Plan;
use nomad_scheduler::{process_eval, Planner, PlannerError, SchedulerOptions, Submission};
use nomad_state::command::EvalUpdate;
use nomad_state::{Command, StateSnapshot};
use nomad_types::Evaluation;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, Semaphore};

use crate::server::{PlanRequest, Server};

/// Final writes a worker may have uncommitted while it goes on.
const MAX_UNCOMMITTED: usize = 64;

pub(crate) async fn worker_loop(server: Server, id: usize) {
    let types = server.inner.config.enabled_schedulers.clone();
    let uncommitted = Arc::new(Semaphore::new(MAX_UNCOMMITTED));
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
                pending: Vec::new(),
            };
            let opts = SchedulerOptions {
                now: crate::now_nanos(),
                seed: fastrand::u64(..),
            };
            let out = process_eval(&snap, &mut planner, &ev, &opts);
            // The writes after the last plan: committed by the worker's
            // task below, not waited for here.
            let o = out?;
            let last = std::mem::take(&mut planner.pending);
            if !last.is_empty() {
                planner.check_token()?;
            }
            Ok::<_, nomad_scheduler::SchedulerError>((o, last))
        })
        .await;
        let (o, last) = match res {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::warn!(eval_id = %eval.id, job_id = %eval.job_id, error = %e, "scheduler failed; nacking");
                settle(&server, &eval.id, &token, false).await;
                continue;
            }
            Err(e) => {
                tracing::error!(eval_id = %eval.id, error = %e, "scheduler panicked; nacking");
                settle(&server, &eval.id, &token, false).await;
                continue;
            }
        };
        tracing::debug!(eval_id = %eval.id, job_id = %eval.job_id, placed = o.allocs_placed, status = %o.eval.status, "evaluation processed");
        if last.is_empty() {
            settle(&server, &eval.id, &token, true).await;
            continue;
        }
        let Ok(permit) = Arc::clone(&uncommitted).acquire_owned().await else {
            return;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let committed = match commit_evals(&server, last).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(eval_id = %eval.id, job_id = %eval.job_id, %error, "evaluation update not committed; nacking");
                    false
                }
            };
            settle(&server, &eval.id, &token, committed).await;
            drop(permit);
        });
    }
}

/// Acks (`done`) or nacks an evaluation and acts on what the broker says.
async fn settle(server: &Server, eval_id: &str, token: &str, done: bool) {
    let out = if done {
        server.inner.broker.ack(eval_id, token)
    } else {
        server.inner.broker.nack(eval_id, token)
    };
    match out {
        Ok(o) => server.handle_broker_outcome(o).await,
        Err(e) => tracing::warn!(eval_id = %eval_id, error = %e, "ack/nack"),
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
    /// Evaluation writes not made yet (a created blocked or follow-up
    /// evaluation, a status update, a re-block), in order, not yet stamped:
    /// they go into the Raft entry of the next plan's write or, after the
    /// scheduler returns, the worker's final entry. A failed placement
    /// costs one entry (the blocked evaluation with the evaluation's new
    /// status) instead of two round trips.
    pending: Vec<Evaluation>,
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

    /// Writes the pending evaluations in one Raft entry and waits for it.
    fn write_pending(&mut self) -> Result<(), PlannerError> {
        let all = std::mem::take(&mut self.pending);
        if all.is_empty() {
            return Ok(());
        }
        self.check_token()?;
        let server = self.server.clone();
        self.handle
            .block_on(async move { commit_evals(&server, all).await })
    }
}

/// Writes `evals`, stamped with the time, in one Raft entry.
async fn commit_evals(server: &Server, evals: Vec<Evaluation>) -> Result<(), PlannerError> {
    let now = crate::now_nanos();
    let evals = evals.into_iter().map(|e| stamped(e, now)).collect();
    match server
        .propose(Command::EvalUpdate(EvalUpdate { evals }))
        .await
    {
        Ok(a) if a.is_ok() => Ok(()),
        Ok(a) => Err(PlannerError(
            a.error.map(|e| e.to_string()).unwrap_or_default(),
        )),
        Err(e) => Err(PlannerError(e.to_string())),
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
        // Evaluation writes made before the plan are committed before it.
        self.write_pending()?;
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

    /// Held until the next write (see [`WorkerPlanner::pending`]).
    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.check_token()?;
        self.pending.push(eval.clone());
        Ok(())
    }

    /// Held until the next write (see [`WorkerPlanner::pending`]).
    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.check_token()?;
        let mut e = eval.clone();
        e.snapshot_index = self.snapshot_index;
        self.pending.push(e);
        Ok(())
    }

    /// Held until the next write (see [`WorkerPlanner::pending`]).
    fn reblock_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.check_token()?;
        let mut e = eval.clone();
        e.snapshot_index = self.snapshot_index;
        self.pending.push(e);
        Ok(())
    }
}
