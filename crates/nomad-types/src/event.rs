//! The event stream (`GET /v1/event/stream`) as Nomad writes it: one JSON
//! object per line, each holding the events of one Raft index
//! ([`Events`]), or `{}` as a heartbeat.
//!
//! An [`Event`]'s `Payload` holds the object that changed under its
//! topic's name (`{"Job": {...}}`, `{"Allocation": {...}}`); allocations
//! come without their `Job` and nodes without their `SecretID`, as Nomad
//! sends them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::serde_util::nullable;
use crate::{Allocation, Deployment, Evaluation, Job, Node};

/// Topics (`Event.Topic`, and the `topic=` query parameter).
pub mod topic {
    /// Jobs.
    pub const JOB: &str = "Job";
    /// Evaluations.
    pub const EVALUATION: &str = "Evaluation";
    /// Allocations.
    pub const ALLOCATION: &str = "Allocation";
    /// Deployments.
    pub const DEPLOYMENT: &str = "Deployment";
    /// Client nodes.
    pub const NODE: &str = "Node";
    /// Listed by Nomad's documentation as a topic of its own; the events
    /// themselves carry the `Node` topic and the `NodeDrain` type.
    pub const NODE_DRAIN: &str = "NodeDrain";
    /// Every topic (and, as a key, every key).
    pub const ALL: &str = "*";
}

/// Event types (`Event.Type`): what kind of log entry wrote the object.
pub mod event_type {
    /// A node registered (or re-registered).
    pub const NODE_REGISTRATION: &str = "NodeRegistration";
    /// A node was removed.
    pub const NODE_DEREGISTRATION: &str = "NodeDeregistration";
    /// Declared by Nomad; its eligibility updates are sent as `NodeDrain`.
    pub const NODE_ELIGIBILITY: &str = "NodeEligibility";
    /// A node's drain or eligibility changed.
    pub const NODE_DRAIN: &str = "NodeDrain";
    /// A node's status changed or it received node events.
    pub const NODE_EVENT: &str = "NodeStreamEvent";
    /// A deployment's status was set.
    pub const DEPLOYMENT_STATUS_UPDATE: &str = "DeploymentStatusUpdate";
    /// A deployment's canaries were promoted.
    pub const DEPLOYMENT_PROMOTION: &str = "DeploymentPromotion";
    /// A deployment's allocations' health was set.
    pub const DEPLOYMENT_ALLOC_HEALTH: &str = "DeploymentAllocHealth";
    /// Declared by Nomad; new allocations are sent as `PlanResult`.
    pub const ALLOCATION_CREATED: &str = "AllocationCreated";
    /// A client reported allocation status.
    pub const ALLOCATION_UPDATED: &str = "AllocationUpdated";
    /// Servers set allocations' desired transitions (migrate, reschedule).
    pub const ALLOCATION_UPDATE_DESIRED_STATUS: &str = "AllocationUpdateDesiredStatus";
    /// Evaluations were written.
    pub const EVALUATION_UPDATED: &str = "EvaluationUpdated";
    /// A job was registered or updated.
    pub const JOB_REGISTERED: &str = "JobRegistered";
    /// A job was stopped or purged.
    pub const JOB_DEREGISTERED: &str = "JobDeregistered";
    /// Several jobs were stopped or purged at once.
    pub const JOB_BATCH_DEREGISTERED: &str = "JobBatchDeregistered";
    /// A plan was applied (placements, stops, deployments).
    pub const PLAN_RESULT: &str = "PlanResult";
}

/// The events of one Raft index, as one line of the stream. A heartbeat
/// is `{}`: index 0 and no events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Events {
    /// The Raft index of the entry that produced the events.
    pub index: u64,
    /// The events that passed the subscription's filter.
    #[serde(with = "nullable")]
    pub events: Vec<Event>,
}

impl Events {
    /// True for the `{}` sent to keep the connection open.
    pub fn is_heartbeat(&self) -> bool {
        self.index == 0 && self.events.is_empty()
    }
}

/// One changed object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Event {
    /// See [`topic`].
    pub topic: String,
    /// See [`event_type`].
    #[serde(rename = "Type")]
    pub event_type: String,
    /// The object's ID (a job's ID, a node's ID, …).
    pub key: String,
    /// The object's namespace; empty for nodes.
    pub namespace: String,
    /// Other keys the event matches in a `topic=Topic:key` filter: the
    /// job ID (and deployment ID) of evaluations, allocations and
    /// deployments.
    #[serde(with = "nullable")]
    pub filter_keys: Vec<String>,
    /// The Raft index of the entry.
    pub index: u64,
    /// The object.
    pub payload: EventPayload,
}

/// The object of an [`Event`], under its topic's name; exactly one field is
/// set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EventPayload {
    /// `Job` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Arc<Job>>,
    /// `Evaluation` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Arc<Evaluation>>,
    /// `Allocation` events (the allocation's `Job` is left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Arc<Allocation>>,
    /// `Deployment` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Arc<Deployment>>,
    /// `Node` events (the node's `SecretID` is left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<Node>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_and_event_json() {
        let hb: Events = crate::json::from_str("{}").unwrap();
        assert!(hb.is_heartbeat());
        let ev = Events {
            index: 7,
            events: vec![Event {
                topic: topic::JOB.into(),
                event_type: event_type::JOB_REGISTERED.into(),
                key: "web".into(),
                namespace: "default".into(),
                filter_keys: vec![],
                index: 7,
                payload: EventPayload {
                    job: Some(Arc::new(Job::new("web", "service"))),
                    ..EventPayload::default()
                },
            }],
        };
        let text = serde_json::to_string(&ev).unwrap();
        assert!(
            text.starts_with(
                r#"{"Index":7,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"web","Namespace":"default","FilterKeys":null,"Index":7,"Payload":{"Job":{"#
            ),
            "{text}"
        );
        let back: Events = crate::json::from_str(&text).unwrap();
        assert_eq!(back, ev);
        assert!(!back.is_heartbeat());
    }
}
