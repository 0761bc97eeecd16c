use std::sync::{Arc, Mutex};

use nomad_types::{Allocation, Evaluation, Job, Node};

use super::buffer::EventRing;
use super::*;
use crate::watch::Notifier;

fn job_event(ns: &str, id: &str) -> Event {
    let mut j = Job::new(id, "service");
    j.namespace = Some(ns.to_string());
    Event {
        event_type: EventType::JobRegistered,
        payload: EventPayload::Job(Arc::new(j)),
    }
}

fn node_event(id: &str, ty: EventType) -> Event {
    Event {
        event_type: ty,
        payload: EventPayload::Node(Arc::new(Node {
            id: id.into(),
            secret_id: "s3cret".into(),
            ..Node::default()
        })),
    }
}

fn alloc_event(id: &str, job: &str, deployment: &str) -> Event {
    Event {
        event_type: EventType::PlanResult,
        payload: EventPayload::Allocation(Arc::new(Allocation {
            id: id.into(),
            namespace: "default".into(),
            job_id: job.into(),
            deployment_id: deployment.into(),
            job: Some(Arc::new(Job::new(job, "service"))),
            ..Allocation::default()
        })),
    }
}

#[test]
fn topics_parse_as_nomad_does() {
    assert_eq!(
        EventFilter::parse_topic("Node").unwrap(),
        ("Node".into(), "*".into()),
        "a bare topic means every key"
    );
    assert_eq!(
        EventFilter::parse_topic("Job:web").unwrap(),
        ("Job".into(), "web".into())
    );
    assert_eq!(
        EventFilter::parse_topic("Job:a:b").unwrap_err(),
        "Invalid key value pair for topic, topic: Job:a:b"
    );
}

#[test]
fn filter_by_topic_key_filter_key_and_namespace() {
    let web = job_event("default", "web");
    let other_ns = job_event("prod", "web");
    let node = node_event("n1", EventType::NodeRegistration);
    let alloc = alloc_event("a1", "web", "d1");

    let all = EventFilter::all("default");
    assert!(all.matches(&web));
    assert!(!all.matches(&other_ns), "another namespace");
    assert!(all.matches(&node), "nodes have no namespace");
    assert!(EventFilter::all("*").matches(&other_ns));

    let nodes = EventFilter::none("default").with_topic("Node", "*");
    assert!(nodes.matches(&node));
    assert!(!nodes.matches(&web) && !nodes.matches(&alloc));

    let by_key = EventFilter::none("default").with_topic("Job", "web");
    assert!(by_key.matches(&web));
    assert!(!by_key.matches(&job_event("default", "api")));
    assert!(!by_key.matches(&alloc), "other topics are not selected");

    // Allocations match their job and deployment IDs too.
    let allocs_of_web = EventFilter::none("default").with_topic("Allocation", "web");
    assert!(allocs_of_web.matches(&alloc));
    let allocs_of_d1 = EventFilter::none("default").with_topic("Allocation", "d1");
    assert!(allocs_of_d1.matches(&alloc));
    assert!(!EventFilter::none("default")
        .with_topic("Allocation", "api")
        .matches(&alloc));

    // `*:key` applies the key to every topic.
    let any_web = EventFilter::none("default").with_topic("*", "web");
    assert!(any_web.matches(&web) && any_web.matches(&alloc));
    assert!(!any_web.matches(&node));

    // A `*` among several keys still means every key.
    let mixed = EventFilter::none("default")
        .with_topic("Job", "api")
        .with_topic("Job", "*");
    assert!(mixed.matches(&web));

    // NodeDrain selects node events of that type.
    let drains = EventFilter::none("default").with_topic("NodeDrain", "*");
    assert!(drains.matches(&node_event("n1", EventType::NodeDrain)));
    assert!(!drains.matches(&node));

    assert!(!EventFilter::none("default").matches(&web), "no topics");
}

#[test]
fn wire_form_strips_alloc_job_and_node_secret() {
    let a = alloc_event("a1", "web", "").to_wire(9);
    assert_eq!(
        (a.topic.as_str(), a.event_type.as_str(), a.key.as_str()),
        ("Allocation", "PlanResult", "a1")
    );
    assert_eq!(a.index, 9);
    assert_eq!(a.namespace, "default");
    assert_eq!(a.filter_keys, vec!["web".to_string(), String::new()]);
    assert!(a.payload.allocation.as_ref().unwrap().job.is_none());
    let n = node_event("n1", EventType::NodeDrain).to_wire(3);
    assert_eq!(n.namespace, "");
    assert!(n.filter_keys.is_empty());
    assert_eq!(n.payload.node.as_ref().unwrap().secret_id, "");
    let text = serde_json::to_string(&n).unwrap();
    assert!(
        text.contains(r#""Payload":{"Node":{"ID":"n1","SecretID":"","#),
        "{text}"
    );

    let e = Event {
        event_type: EventType::EvaluationUpdated,
        payload: EventPayload::Evaluation(Arc::new(Evaluation {
            id: "e1".into(),
            namespace: "default".into(),
            job_id: "web".into(),
            ..Evaluation::default()
        })),
    }
    .to_wire(4);
    assert_eq!(e.topic, "Evaluation");
    assert_eq!(e.filter_keys, vec!["web".to_string(), String::new()]);
}

#[test]
fn writes_collapse_to_the_last_value_in_last_write_order() {
    let j1 = Arc::new(Job::new("web", "service"));
    let mut j2 = Job::new("web", "service");
    j2.version = Some(1);
    let j2 = Arc::new(j2);
    let n = Arc::new(Node {
        id: "n1".into(),
        ..Node::default()
    });
    let a = alloc_event("a1", "web", "");
    let written = vec![
        Written {
            payload: EventPayload::Job(Arc::clone(&j1)),
            removed: false,
        },
        Written {
            payload: a.payload.clone(),
            removed: false,
        },
        Written {
            payload: EventPayload::Job(Arc::clone(&j2)),
            removed: false,
        },
        Written {
            payload: a.payload.clone(),
            removed: true,
        },
        Written {
            payload: EventPayload::Node(n),
            removed: true,
        },
    ];
    let events = events_from_writes(EventType::PlanResult, &written);
    let keys: Vec<(EventTopic, &str)> = events.iter().map(|e| (e.topic(), e.key())).collect();
    assert_eq!(
        keys,
        vec![(EventTopic::Job, "web"), (EventTopic::Node, "n1")],
        "the deleted allocation gives no event, the deleted node does"
    );
    match &events[0].payload {
        EventPayload::Job(j) => assert_eq!(j.version, Some(1), "last value"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_writes_collapse_the_same_way_as_a_few() {
    // Past the pairwise limit the writes are hashed: same rule. Forty jobs
    // written at versions 0 then 1 (the second pass in reverse order), and
    // the same ID in another namespace, which is another object.
    let job = |ns: &str, id: &str, v: u64| {
        let mut j = Job::new(id, "service");
        j.namespace = Some(ns.into());
        j.version = Some(v);
        Written {
            payload: EventPayload::Job(Arc::new(j)),
            removed: false,
        }
    };
    let ids: Vec<String> = (0..40).map(|i| format!("j{i}")).collect();
    let mut written: Vec<Written> = ids.iter().map(|id| job("default", id, 0)).collect();
    written.extend(ids.iter().rev().map(|id| job("default", id, 1)));
    written.push(job("other", "j0", 0));
    let events = events_from_writes(EventType::JobRegistered, &written);
    let got: Vec<(String, String, Option<u64>)> = events
        .iter()
        .map(|e| match &e.payload {
            EventPayload::Job(j) => (j.namespace().to_string(), j.id().to_string(), j.version),
            other => panic!("{other:?}"),
        })
        .collect();
    let mut want: Vec<(String, String, Option<u64>)> = ids
        .iter()
        .rev()
        .map(|id| ("default".to_string(), id.clone(), Some(1)))
        .collect();
    want.push(("other".into(), "j0".into(), Some(0)));
    assert_eq!(got, want);
}

fn ring_with(max: usize) -> (Arc<Mutex<EventRing>>, Arc<Notifier>) {
    (
        Arc::new(Mutex::new(EventRing::new(max))),
        Arc::new(Notifier::default()),
    )
}

fn append(ring: &Mutex<EventRing>, index: u64, n: usize) {
    let events = (0..n)
        .map(|i| job_event("default", &format!("j{index}-{i}")))
        .collect();
    ring.lock().unwrap().append(index, events);
}

fn indexes(batches: &[Arc<EventBatch>]) -> Vec<u64> {
    batches.iter().map(|b| b.index).collect()
}

#[test]
fn ring_bounds_events_and_keeps_the_newest_batch_whole() {
    let (ring, notifier) = ring_with(4);
    append(&ring, 1, 2);
    append(&ring, 2, 0); // an entry without events
    append(&ring, 3, 2);
    append(&ring, 4, 1);
    // 5 events > 4: batch 1 dropped.
    let mut sub = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 0);
    assert_eq!(sub.buffered(), 3);
    assert_eq!(indexes(&sub.next_batches(usize::MAX).unwrap()), vec![3, 4]);
    assert_eq!(sub.position(), 5);
    append(&ring, 5, 10);
    assert_eq!(sub.buffered(), 10, "the newest batch is kept whole");
    // The subscriber had read 3 and 4 before they were dropped: no loss.
    assert_eq!(indexes(&sub.next_batches(usize::MAX).unwrap()), vec![5]);
    assert!(sub.next_batches(usize::MAX).unwrap().is_empty());
}

#[test]
fn resume_from_an_index_and_start_at_the_oldest_held() {
    let (ring, notifier) = ring_with(100);
    for i in 1..=5 {
        append(&ring, i, 1);
    }
    let mut from3 = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 3);
    assert_eq!(indexes(&from3.next_batches(2).unwrap()), vec![3, 4]);
    assert_eq!(indexes(&from3.next_batches(2).unwrap()), vec![5]);
    // Index 5 is the last applied: 6 waits for the next entry, and so does
    // an index from the future.
    let mut next = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 6);
    assert!(next.next_batches(10).unwrap().is_empty());
    let mut future = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 99);
    assert!(future.next_batches(10).unwrap().is_empty());
    assert_eq!(future.position(), 6);
    for i in 6..=9 {
        append(&ring, i, 1);
    }
    assert_eq!(indexes(&next.next_batches(10).unwrap()), vec![6, 7, 8, 9]);
    assert_eq!(indexes(&future.next_batches(10).unwrap()), vec![6, 7, 8, 9]);

    // Index 1 dropped: a new subscription from 1 starts at the oldest held.
    ring.lock().unwrap().set_max_events(3);
    let mut old = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 1);
    assert_eq!(indexes(&old.next_batches(10).unwrap()), vec![7, 8, 9]);
}

#[test]
fn a_subscriber_that_falls_behind_ends_and_a_restore_closes_all() {
    let (ring, notifier) = ring_with(2);
    append(&ring, 1, 1);
    let mut slow = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 0);
    let mut fast = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 0);
    assert_eq!(indexes(&slow.next_batches(10).unwrap()), vec![1]);
    assert_eq!(indexes(&fast.next_batches(10).unwrap()), vec![1]);
    append(&ring, 2, 1);
    append(&ring, 3, 1);
    assert_eq!(indexes(&fast.next_batches(10).unwrap()), vec![2, 3]);
    append(&ring, 4, 1);
    // Batch 2 was dropped before `slow` read it.
    assert_eq!(slow.next_batches(10).err(), Some(EventStreamError::Dropped));
    assert_eq!(indexes(&fast.next_batches(10).unwrap()), vec![4]);

    ring.lock().unwrap().reset(10);
    assert_eq!(fast.next_batches(10).err(), Some(EventStreamError::Closed));
    let mut fresh = EventSubscription::new(Arc::clone(&ring), Arc::clone(&notifier), 0);
    assert!(fresh.next_batches(10).unwrap().is_empty());
    assert_eq!(fresh.position(), 11);

    ring.lock().unwrap().set_max_events(0);
    assert_eq!(
        fresh.next_batches(10).err(),
        Some(EventStreamError::Disabled)
    );
}
