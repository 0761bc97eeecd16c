//! The event stream: what each applied entry wrote, as Nomad's events.
//!
//! Every entry that Nomad's FSM publishes events for has an [`EventType`]
//! ([`EventType::of`]; the table follows Nomad's `MsgTypeEvents`). While
//! the entry is applied, its transaction records each job, evaluation,
//! allocation, deployment and node it writes; at commit one [`Event`] is
//! made per object written, in the order of each object's last write, as
//! go-memdb's change tracking collapses them. Objects deleted by the entry
//! give no event, but for nodes (a deregistration reports the node as it
//! was), as in Nomad. Entries of other kinds (evaluation and deployment
//! reaping, scheduler configuration, periodic launches, job stability,
//! restores) give none.
//!
//! An event holds only its type and an `Arc` of the object: its topic, key,
//! namespace and filter keys are read from the object when a subscriber
//! asks ([`Event::key`], [`Event::to_wire`]), so recording costs the apply
//! thread a pointer copy per object. The events of an entry form one
//! [`EventBatch`], kept in the store's bounded buffer ([`buffer`]) and read
//! through an [`EventSubscription`]. Neither the events nor the buffer are
//! part of the state: snapshots and digests do not see them, and apply
//! writes the same tables with or without them.

pub(crate) mod buffer;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nomad_types::event::{event_type, topic};
use nomad_types::{Allocation, Deployment, Evaluation, Job, Node};

use crate::command::Command;

pub use buffer::{EventStreamError, EventSubscription, DEFAULT_EVENT_BUFFER_SIZE};

/// The topic of an event: the kind of object it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventTopic {
    /// Jobs.
    Job,
    /// Evaluations.
    Evaluation,
    /// Allocations.
    Allocation,
    /// Deployments.
    Deployment,
    /// Client nodes.
    Node,
}

impl EventTopic {
    /// Nomad's name of the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            EventTopic::Job => topic::JOB,
            EventTopic::Evaluation => topic::EVALUATION,
            EventTopic::Allocation => topic::ALLOCATION,
            EventTopic::Deployment => topic::DEPLOYMENT,
            EventTopic::Node => topic::NODE,
        }
    }
}

/// Why an object was written: the kind of entry that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `NodeRegister`.
    NodeRegistration,
    /// `NodeDeregister`.
    NodeDeregistration,
    /// `NodeUpdateDrain`, `NodeBatchUpdateDrain`, `NodeUpdateEligibility`.
    NodeDrain,
    /// `NodeUpdateStatus`, `NodeEvents` (Nomad's `NodeStreamEvent`).
    NodeEvent,
    /// `DeploymentStatusUpdate`.
    DeploymentStatusUpdate,
    /// `DeploymentPromotion`.
    DeploymentPromotion,
    /// `DeploymentAllocHealth`.
    DeploymentAllocHealth,
    /// `AllocClientUpdate`.
    AllocationUpdated,
    /// `AllocUpdateDesiredTransition`.
    AllocationUpdateDesiredStatus,
    /// `EvalUpdate`.
    EvaluationUpdated,
    /// `JobRegister`, and `ScalingEventRegister` with a new count.
    JobRegistered,
    /// `JobDeregister`.
    JobDeregistered,
    /// `JobBatchDeregister`.
    JobBatchDeregistered,
    /// `ApplyPlanResults`.
    PlanResult,
}

impl EventType {
    /// Nomad's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::NodeRegistration => event_type::NODE_REGISTRATION,
            EventType::NodeDeregistration => event_type::NODE_DEREGISTRATION,
            EventType::NodeDrain => event_type::NODE_DRAIN,
            EventType::NodeEvent => event_type::NODE_EVENT,
            EventType::DeploymentStatusUpdate => event_type::DEPLOYMENT_STATUS_UPDATE,
            EventType::DeploymentPromotion => event_type::DEPLOYMENT_PROMOTION,
            EventType::DeploymentAllocHealth => event_type::DEPLOYMENT_ALLOC_HEALTH,
            EventType::AllocationUpdated => event_type::ALLOCATION_UPDATED,
            EventType::AllocationUpdateDesiredStatus => {
                event_type::ALLOCATION_UPDATE_DESIRED_STATUS
            }
            EventType::EvaluationUpdated => event_type::EVALUATION_UPDATED,
            EventType::JobRegistered => event_type::JOB_REGISTERED,
            EventType::JobDeregistered => event_type::JOB_DEREGISTERED,
            EventType::JobBatchDeregistered => event_type::JOB_BATCH_DEREGISTERED,
            EventType::PlanResult => event_type::PLAN_RESULT,
        }
    }

    /// The type of the events an entry publishes; `None` for entries that
    /// publish none. Nomad sends eligibility changes as `NodeDrain` (its
    /// `NodeEligibility` type is declared but unused); a scaling entry that
    /// changes the count is, in Nomad, a job registration.
    pub fn of(cmd: &Command) -> Option<EventType> {
        Some(match cmd {
            Command::JobRegister(_) => EventType::JobRegistered,
            Command::JobDeregister(_) => EventType::JobDeregistered,
            Command::JobBatchDeregister(_) => EventType::JobBatchDeregistered,
            Command::EvalUpdate(_) => EventType::EvaluationUpdated,
            Command::ApplyPlanResults(_) => EventType::PlanResult,
            Command::AllocClientUpdate(_) => EventType::AllocationUpdated,
            Command::AllocUpdateDesiredTransition(_) => EventType::AllocationUpdateDesiredStatus,
            Command::NodeRegister(_) => EventType::NodeRegistration,
            Command::NodeDeregister(_) => EventType::NodeDeregistration,
            Command::NodeUpdateStatus(_) | Command::NodeEvents(_) => EventType::NodeEvent,
            Command::NodeUpdateDrain(_)
            | Command::NodeBatchUpdateDrain(_)
            | Command::NodeUpdateEligibility(_) => EventType::NodeDrain,
            Command::DeploymentStatusUpdate(_) => EventType::DeploymentStatusUpdate,
            Command::DeploymentPromotion(_) => EventType::DeploymentPromotion,
            Command::DeploymentAllocHealth(_) => EventType::DeploymentAllocHealth,
            Command::ScalingEventRegister(c) if c.job_register.is_some() => {
                EventType::JobRegistered
            }
            Command::ScalingEventRegister(_)
            | Command::Noop
            | Command::EvalDelete(_)
            | Command::DeploymentDelete(_)
            | Command::SchedulerConfig(_)
            | Command::PeriodicLaunch(_)
            | Command::JobStability(_)
            | Command::Restore(_) => return None,
        })
    }
}

/// The object an event carries, shared with the state that holds it.
#[derive(Debug, Clone)]
pub enum EventPayload {
    /// A job.
    Job(Arc<Job>),
    /// An evaluation.
    Evaluation(Arc<Evaluation>),
    /// An allocation (with its job; [`Event::to_wire`] leaves it out).
    Allocation(Arc<Allocation>),
    /// A deployment.
    Deployment(Arc<Deployment>),
    /// A node (with its secret; [`Event::to_wire`] leaves it out).
    Node(Arc<Node>),
}

impl EventPayload {
    /// The topic of events carrying this object.
    pub fn topic(&self) -> EventTopic {
        match self {
            EventPayload::Job(_) => EventTopic::Job,
            EventPayload::Evaluation(_) => EventTopic::Evaluation,
            EventPayload::Allocation(_) => EventTopic::Allocation,
            EventPayload::Deployment(_) => EventTopic::Deployment,
            EventPayload::Node(_) => EventTopic::Node,
        }
    }

    /// The object's ID.
    pub fn key(&self) -> &str {
        match self {
            EventPayload::Job(j) => j.id(),
            EventPayload::Evaluation(e) => &e.id,
            EventPayload::Allocation(a) => &a.id,
            EventPayload::Deployment(d) => &d.id,
            EventPayload::Node(n) => &n.id,
        }
    }

    /// The object's namespace; empty for nodes.
    pub fn namespace(&self) -> &str {
        match self {
            EventPayload::Job(j) => j.namespace(),
            EventPayload::Evaluation(e) => &e.namespace,
            EventPayload::Allocation(a) => &a.namespace,
            EventPayload::Deployment(d) => &d.namespace,
            EventPayload::Node(_) => "",
        }
    }

    /// Nomad's filter keys: job and deployment IDs of evaluations and
    /// allocations (empty ones included), the job ID of a deployment.
    pub fn filter_keys(&self) -> impl Iterator<Item = &str> {
        let (a, b): (Option<&str>, Option<&str>) = match self {
            EventPayload::Evaluation(e) => (Some(&e.job_id), Some(&e.deployment_id)),
            EventPayload::Allocation(a) => (Some(&a.job_id), Some(&a.deployment_id)),
            EventPayload::Deployment(d) => (Some(&d.job_id), None),
            EventPayload::Job(_) | EventPayload::Node(_) => (None, None),
        };
        a.into_iter().chain(b)
    }
}

/// One object written by an entry.
#[derive(Debug, Clone)]
pub struct Event {
    /// The kind of entry that wrote it.
    pub event_type: EventType,
    /// The object as the entry left it (a deleted node as it was).
    pub payload: EventPayload,
}

impl Event {
    /// See [`EventPayload::topic`].
    pub fn topic(&self) -> EventTopic {
        self.payload.topic()
    }

    /// See [`EventPayload::key`].
    pub fn key(&self) -> &str {
        self.payload.key()
    }

    /// See [`EventPayload::namespace`].
    pub fn namespace(&self) -> &str {
        self.payload.namespace()
    }

    /// The event as the stream sends it, at the entry's `index`.
    pub fn to_wire(&self, index: u64) -> nomad_types::event::Event {
        use nomad_types::event::EventPayload as Wire;
        let payload = match &self.payload {
            EventPayload::Job(j) => Wire {
                job: Some(Arc::clone(j)),
                ..Wire::default()
            },
            EventPayload::Evaluation(e) => Wire {
                evaluation: Some(Arc::clone(e)),
                ..Wire::default()
            },
            EventPayload::Allocation(a) => {
                let alloc = if a.job.is_some() {
                    let mut copy = (**a).clone();
                    copy.job = None;
                    Arc::new(copy)
                } else {
                    Arc::clone(a)
                };
                Wire {
                    allocation: Some(alloc),
                    ..Wire::default()
                }
            }
            EventPayload::Deployment(d) => Wire {
                deployment: Some(Arc::clone(d)),
                ..Wire::default()
            },
            EventPayload::Node(n) => {
                let node = if n.secret_id.is_empty() {
                    Arc::clone(n)
                } else {
                    let mut copy = (**n).clone();
                    copy.secret_id.clear();
                    Arc::new(copy)
                };
                Wire {
                    node: Some(node),
                    ..Wire::default()
                }
            }
        };
        nomad_types::event::Event {
            topic: self.topic().as_str().to_string(),
            event_type: self.event_type.as_str().to_string(),
            key: self.key().to_string(),
            namespace: self.namespace().to_string(),
            filter_keys: self.payload.filter_keys().map(str::to_string).collect(),
            index,
            payload,
        }
    }
}

/// The events of one entry.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The entry's Raft index.
    pub index: u64,
    /// One per object written, in the order of their last write.
    pub events: Vec<Event>,
}

impl EventBatch {
    /// The events that pass `filter`, as one line of the stream; `None`
    /// when none does.
    pub fn to_wire(&self, filter: &EventFilter) -> Option<nomad_types::event::Events> {
        let events: Vec<_> = self
            .events
            .iter()
            .filter(|e| filter.matches(e))
            .map(|e| e.to_wire(self.index))
            .collect();
        (!events.is_empty()).then_some(nomad_types::event::Events {
            index: self.index,
            events,
        })
    }
}

/// A write recorded by a transaction: the object, and whether it was
/// deleted.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub payload: EventPayload,
    pub removed: bool,
}

/// Identity of a written object: topic, namespace (jobs only), ID.
type WriteKey<'a> = (EventTopic, &'a str, &'a str);

fn write_key(p: &EventPayload) -> WriteKey<'_> {
    let ns = match p {
        EventPayload::Job(j) => j.namespace(),
        _ => "",
    };
    (p.topic(), ns, p.key())
}

/// The events of an entry from the writes its transaction recorded: one
/// per object, at the position of its last write, carrying its last value;
/// deleted objects give none but nodes, which give their last value.
pub(crate) fn events_from_writes(ty: EventType, written: &[Written]) -> Vec<Event> {
    written
        .iter()
        .zip(last_writes(written))
        .filter(|(w, last)| *last && (!w.removed || matches!(w.payload, EventPayload::Node(_))))
        .map(|(w, _)| Event {
            event_type: ty,
            payload: w.payload.clone(),
        })
        .collect()
}

/// Whether each write is the last one of its object. Most entries write a
/// handful of objects (a registration: its job and evaluation), compared
/// pairwise; a plan may write thousands, hashed.
fn last_writes(written: &[Written]) -> Vec<bool> {
    const PAIRWISE_UP_TO: usize = 16;
    let keys: Vec<WriteKey<'_>> = written.iter().map(|w| write_key(&w.payload)).collect();
    if keys.len() <= PAIRWISE_UP_TO {
        return (0..keys.len())
            .map(|i| !keys[i + 1..].contains(&keys[i]))
            .collect();
    }
    let mut last: HashMap<&WriteKey<'_>, usize> = HashMap::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        last.insert(k, i);
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| last.get(k) == Some(&i))
        .collect()
}

/// Which events a subscriber wants: topics with keys, and a namespace, as
/// in Nomad's `topic=Topic:Key` and `namespace` parameters.
///
/// An event passes when its namespace is the filter's (objects without a
/// namespace, nodes, always pass; `*` takes every namespace) and one of
/// the keys given for its topic or for `*` is `*`, the event's key or one
/// of its filter keys. The `NodeDrain` topic of Nomad's documentation
/// selects `Node` events of type `NodeDrain`. Unlike Nomad, a `*` among
/// several keys of a topic still means every key, and an event matching
/// two keys is sent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    namespace: String,
    topics: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// Every topic and key in `namespace` (Nomad's default, `*:*`).
    pub fn all(namespace: impl Into<String>) -> Self {
        EventFilter::none(namespace).with_topic(topic::ALL, topic::ALL)
    }

    /// No topic yet (add some with [`EventFilter::with_topic`]).
    pub fn none(namespace: impl Into<String>) -> Self {
        EventFilter {
            namespace: namespace.into(),
            topics: BTreeMap::new(),
        }
    }

    /// Adds a topic and key (`*` for every key).
    pub fn with_topic(mut self, topic: impl Into<String>, key: impl Into<String>) -> Self {
        self.topics
            .entry(topic.into())
            .or_default()
            .push(key.into());
        self
    }

    /// Parses one `topic` parameter as Nomad does: `Topic` alone means
    /// every key, `Topic:Key` one key; more than one `:` is an error.
    pub fn parse_topic(s: &str) -> Result<(String, String), String> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            [t] => Ok((t.to_string(), topic::ALL.to_string())),
            [t, k] => Ok((t.to_string(), k.to_string())),
            _ => Err(format!("Invalid key value pair for topic, topic: {s}")),
        }
    }

    /// The namespace filtered on (`*`: all).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let ns = event.namespace();
        if self.namespace != topic::ALL && !ns.is_empty() && ns != self.namespace {
            return false;
        }
        let mut keys = self
            .topics
            .get(topic::ALL)
            .into_iter()
            .chain(self.topics.get(event.topic().as_str()))
            .flatten()
            .chain(
                (event.topic() == EventTopic::Node && event.event_type == EventType::NodeDrain)
                    .then(|| self.topics.get(topic::NODE_DRAIN))
                    .flatten()
                    .into_iter()
                    .flatten(),
            );
        keys.any(|k| {
            k == topic::ALL || k == event.key() || event.payload.filter_keys().any(|f| f == k)
        })
    }
}

#[cfg(test)]
mod tests;
