//! The finite state machine: how each log entry changes the tables.
//!
//! Rules follow Nomad's state store (`nomad/state/state_store.go`) and FSM
//! (`nomad/fsm.go`). Each entry is applied as one transaction: it either
//! changes the state as a whole or, on an [`ApplyError`], not at all (the
//! one exception, as in Nomad, is a deregistration's evaluation, which is
//! written even when the job it names is missing). Nothing here reads a
//! clock, draws a random number or makes an ID: those come in the entry.

mod allocs;
mod deployments;
mod evals;
mod jobs;
mod nodes;
mod record;
mod scaling;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::ApplyError;
use crate::events::Written;
use crate::table::{Table, TableSet};
use crate::tables::{JobKey, Tables};

/// What applying one entry did, for the server that proposed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ApplyResult {
    /// The entry's Raft index: the index at which its effects became true
    /// (what `X-Nomad-Index` reports).
    pub index: u64,
    /// Why the entry changed nothing. For `JobDeregister`, the entry's
    /// evaluation is still written when the job is missing (Nomad's
    /// behaviour); everything else is all or nothing.
    pub error: Option<ApplyError>,
    /// JobRegister / JobDeregister: the job's `JobModifyIndex` after the
    /// entry (unchanged when the spec did not change).
    pub job_modify_index: Option<u64>,
    /// JobRegister / JobDeregister: the job's version after the entry.
    pub job_version: Option<u64>,
    /// JobRegister: whether the job spec changed (a new version was made).
    pub spec_changed: Option<bool>,
    /// IDs of the evaluations the entry wrote, in order (for the broker).
    pub evals: Vec<String>,
    /// Tables the entry changed.
    pub changed: Vec<Table>,
}

impl ApplyResult {
    /// The result of the entry at `index` that was refused with `error`.
    pub(crate) fn failed(index: u64, error: ApplyError) -> Self {
        ApplyResult {
            index,
            error: Some(error),
            ..ApplyResult::default()
        }
    }

    /// True when the entry was applied without error.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// Encodes the result for [`crate::Fsm::apply`]'s return value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a result from [`crate::Fsm::apply`].
    pub fn decode(bytes: &[u8]) -> Result<ApplyResult, crate::DecodeError> {
        serde_json::from_slice(bytes).map_err(|e| crate::DecodeError::Malformed {
            what: "apply result",
            message: e.to_string(),
        })
    }
}

/// Settings of the FSM that every server must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Job versions kept per job (Nomad's `job_tracked_versions`, 6).
    pub job_tracked_versions: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            job_tracked_versions: 6,
        }
    }
}

/// One entry's write transaction.
pub(crate) struct Txn<'a> {
    pub t: &'a mut Tables,
    pub index: u64,
    pub config: StoreConfig,
    pub touched: TableSet,
    pub evals: Vec<String>,
    pub job_modify_index: Option<u64>,
    pub job_version: Option<u64>,
    pub spec_changed: Option<bool>,
    /// An error reported although the entry committed (see
    /// [`ApplyResult::error`]).
    pub soft_error: Option<ApplyError>,
    /// Record the evented objects written (see [`crate::events`]).
    pub record: bool,
    /// The evented objects written, in order, when recording.
    pub written: Vec<Written>,
}

/// State to return to (see [`Txn::savepoint`]).
pub(crate) struct Savepoint {
    tables: Tables,
    touched: TableSet,
    evals: usize,
    written: usize,
}

/// Job statuses to recompute: job → status to force, if any.
pub(crate) type JobStatusSet = BTreeMap<JobKey, Option<&'static str>>;

impl<'a> Txn<'a> {
    pub fn new(t: &'a mut Tables, index: u64, config: StoreConfig) -> Self {
        Txn {
            t,
            index,
            config,
            touched: TableSet::EMPTY,
            evals: Vec::new(),
            job_modify_index: None,
            job_version: None,
            spec_changed: None,
            soft_error: None,
            record: false,
            written: Vec::new(),
        }
    }

    pub fn touch(&mut self, table: Table) {
        self.touched.insert(table);
    }

    /// Marks a point to roll back to (O(1) but for pending index changes).
    pub fn savepoint(&mut self) -> Savepoint {
        self.t.flush();
        Savepoint {
            tables: self.t.clone(),
            touched: self.touched,
            evals: self.evals.len(),
            written: self.written.len(),
        }
    }

    /// Undoes everything since `sp`.
    pub fn rollback_to(&mut self, sp: Savepoint) {
        *self.t = sp.tables;
        self.touched = sp.touched;
        self.evals.truncate(sp.evals);
        self.written.truncate(sp.written);
    }

    /// Applies one entry.
    pub fn apply(&mut self, cmd: Command) -> Result<(), ApplyError> {
        match cmd {
            Command::Noop => Ok(()),
            Command::JobRegister(c) => self.job_register(c),
            Command::JobDeregister(c) => self.job_deregister(c),
            Command::JobBatchDeregister(c) => self.job_batch_deregister(c),
            Command::EvalUpdate(c) => self.upsert_evals(c.evals),
            Command::EvalDelete(c) => self.eval_delete(&c),
            Command::ApplyPlanResults(c) => self.apply_plan_results(c),
            Command::AllocClientUpdate(c) => self.alloc_client_update(c),
            Command::AllocUpdateDesiredTransition(c) => self.alloc_desired_transitions(c),
            Command::NodeRegister(c) => self.node_register(c),
            Command::NodeDeregister(c) => self.node_deregister(&c),
            Command::NodeUpdateStatus(c) => self.node_update_status(c),
            Command::NodeUpdateDrain(c) => self.node_update_drain(c),
            Command::NodeBatchUpdateDrain(c) => self.node_batch_update_drain(c),
            Command::NodeUpdateEligibility(c) => {
                self.update_node_eligibility(&c.node_id, &c.eligibility, c.updated_at, c.node_event)
            }
            Command::NodeEvents(c) => self.node_events(c),
            Command::DeploymentStatusUpdate(c) => self.deployment_status_update(c),
            Command::DeploymentPromotion(c) => self.deployment_promotion(c),
            Command::DeploymentAllocHealth(c) => self.deployment_alloc_health(c),
            Command::DeploymentDelete(c) => self.deployment_delete(&c.deployments),
            Command::SchedulerConfig(c) => self.scheduler_config(c),
            Command::PeriodicLaunch(c) => {
                self.upsert_periodic_launch(&c.namespace, &c.job_id, c.launch)
            }
            Command::JobStability(c) => {
                self.update_job_stability(&c.namespace, &c.job_id, c.job_version, c.stable)
            }
            Command::ScalingEventRegister(c) => self.scaling_event_register(c),
            // Handled by the store before a transaction is opened.
            Command::Restore(_) => Err(ApplyError::Decode(
                "a restore cannot be applied inside a transaction".into(),
            )),
        }
    }

    fn scheduler_config(
        &mut self,
        c: crate::command::SchedulerConfigUpdate,
    ) -> Result<(), ApplyError> {
        let existing = self.t.scheduler_config.clone();
        let current = existing.as_ref().map(|e| e.modify_index).unwrap_or(0);
        if let Some(cas) = c.cas_index {
            if cas != current {
                return Err(ApplyError::Conflict(format!(
                    "scheduler configuration check-and-set failed: index {cas} is not the current {current}"
                )));
            }
        }
        let mut config = c.config;
        config.create_index = existing.map(|e| e.create_index).unwrap_or(self.index);
        config.modify_index = self.index;
        self.t.scheduler_config = Some(std::sync::Arc::new(config));
        self.touch(Table::SchedulerConfig);
        Ok(())
    }

    /// Ends the transaction: flushes indexes and stamps the touched tables.
    pub fn commit(self) -> ApplyResult {
        self.t.flush();
        for table in self.touched.iter() {
            self.t.indexes.set(table, self.index);
        }
        self.t.applied_index = self.index;
        ApplyResult {
            index: self.index,
            error: self.soft_error,
            job_modify_index: self.job_modify_index,
            job_version: self.job_version,
            spec_changed: self.spec_changed,
            evals: self.evals,
            changed: self.touched.iter().collect(),
        }
    }
}
