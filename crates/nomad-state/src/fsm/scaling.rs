//! Scaling events (`nomad job scale`): the event log per task group, and
//! the job registration that goes with a new count.

use std::sync::Arc;

use super::Txn;
use crate::command::ScalingEventRegister;
use crate::error::ApplyError;
use crate::table::Table;
use crate::tables::{job_key, JobScalingEvents, JOB_TRACKED_SCALING_EVENTS};

impl Txn<'_> {
    pub(super) fn scaling_event_register(
        &mut self,
        c: ScalingEventRegister,
    ) -> Result<(), ApplyError> {
        if c.job_id.is_empty() || c.task_group.is_empty() {
            return Err(ApplyError::Invalid(
                "scaling event without a job or task group".into(),
            ));
        }
        if let Some(r) = c.job_register {
            self.job_register(r)?;
        }
        let key = job_key(&c.namespace, &c.job_id);
        if !self.t.jobs.contains_key(&key) {
            return Err(ApplyError::not_found("job", &c.job_id));
        }
        let mut rec = self
            .t
            .scaling_events
            .get(&key)
            .map(|r| (**r).clone())
            .unwrap_or_else(|| JobScalingEvents {
                namespace: c.namespace.clone(),
                job_id: c.job_id.clone(),
                ..JobScalingEvents::default()
            });
        let mut event = c.event;
        event.create_index = self.index;
        let events = rec.scaling_events.entry(c.task_group).or_default();
        events.insert(0, event);
        events.truncate(JOB_TRACKED_SCALING_EVENTS);
        rec.modify_index = self.index;
        self.t.scaling_events.insert(key, Arc::new(rec));
        self.touch(Table::ScalingEvent);
        Ok(())
    }
}
