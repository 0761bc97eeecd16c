//! Nodes: registration, status, drain, eligibility, events, lookups.

mod common;

use std::collections::BTreeMap;

use common::*;
use nomad_state::command::*;
use nomad_state::{ApplyError, Command};
use nomad_types::node::NodeEvent;
use nomad_types::{DrainStrategy, GoTime, Nanos};

fn event(msg: &str) -> NodeEvent {
    NodeEvent {
        message: msg.into(),
        subsystem: "Heartbeat".into(),
        ..NodeEvent::default()
    }
}

#[test]
fn register_keeps_server_owned_fields() {
    let mut c = Cluster::default();
    let r = c.add_node("n1");
    let s = c.snap();
    let n = s.node_by_id("n1").unwrap();
    assert_eq!((n.create_index, n.modify_index), (r.index, r.index));
    assert_eq!(n.scheduling_eligibility, "eligible");
    assert_eq!(n.node_pool, "default");
    assert!(n.computed_class.starts_with("v1:"));
    assert_eq!(n.events.len(), 1);
    assert_eq!(n.events[0].message, "Node registered");
    assert_eq!(n.events[0].create_index, r.index);

    c.ok(Command::NodeUpdateEligibility(NodeUpdateEligibility {
        node_id: "n1".into(),
        eligibility: "ineligible".into(),
        updated_at: 5,
        node_event: None,
    }));
    // The client re-registers (say, after a restart) with its own view.
    let r2 = c.add_node("n1");
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.create_index, r.index);
    assert_eq!(n.modify_index, r2.index);
    assert_eq!(
        n.scheduling_eligibility, "ineligible",
        "eligibility belongs to the servers"
    );
    assert_eq!(n.events.len(), 1, "events are kept");
}

#[test]
fn status_changes_track_missed_heartbeats() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let down = c.ok(Command::NodeUpdateStatus(NodeUpdateStatus {
        node_id: "n1".into(),
        status: "down".into(),
        updated_at: 1_700_000_100,
        node_event: Some(event("Node heartbeat missed")),
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.status, "down");
    assert_eq!(n.status_updated_at, 1_700_000_100);
    assert_eq!(n.last_missed_heartbeat_index, down.index);
    assert_eq!(n.events.last().unwrap().message, "Node heartbeat missed");

    // Coming back: re-registration is recorded, the missed index cleared
    // once the node is ready.
    c.add_node("n1");
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.events.last().unwrap().message, "Node re-registered");
    assert_eq!(n.last_missed_heartbeat_index, down.index);
    c.ok(Command::NodeUpdateStatus(NodeUpdateStatus {
        node_id: "n1".into(),
        status: "initializing".into(),
        updated_at: 1,
        node_event: None,
    }));
    c.ok(Command::NodeUpdateStatus(NodeUpdateStatus {
        node_id: "n1".into(),
        status: "ready".into(),
        updated_at: 2,
        node_event: None,
    }));
    assert_eq!(
        c.snap()
            .node_by_id("n1")
            .unwrap()
            .last_missed_heartbeat_index,
        0
    );

    let r = c.apply(Command::NodeUpdateStatus(NodeUpdateStatus {
        node_id: "ghost".into(),
        status: "down".into(),
        ..Default::default()
    }));
    assert!(matches!(r.error, Some(ApplyError::NotFound { .. })));
}

#[test]
fn drain_makes_ineligible_and_records_last_drain() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let mut meta = BTreeMap::new();
    meta.insert("reason".to_string(), "kernel upgrade".to_string());
    c.ok(Command::NodeUpdateDrain(NodeUpdateDrain {
        node_id: "n1".into(),
        drain_strategy: Some(DrainStrategy {
            deadline: Nanos(3_600_000_000_000),
            ..Default::default()
        }),
        updated_at: 1_700_000_000,
        meta,
        accessor_id: "tok".into(),
        ..Default::default()
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert!(n.drain_strategy.is_some());
    assert_eq!(n.scheduling_eligibility, "ineligible");
    let ld = n.last_drain.clone().unwrap();
    assert_eq!(ld.status, "draining");
    assert_eq!(
        ld.started_at,
        GoTime::from_unix_nanos(1_700_000_000_000_000_000)
    );
    assert_eq!(ld.meta["reason"], "kernel upgrade");
    assert_eq!(ld.accessor_id, "tok");

    // Eligible while draining is refused.
    let r = c.apply(Command::NodeUpdateEligibility(NodeUpdateEligibility {
        node_id: "n1".into(),
        eligibility: "eligible".into(),
        ..Default::default()
    }));
    assert!(matches!(r.error, Some(ApplyError::Conflict(_))));

    // The drainer completes it.
    let mut updates = BTreeMap::new();
    updates.insert(
        "n1".to_string(),
        DrainUpdate {
            drain_strategy: None,
            mark_eligible: false,
        },
    );
    c.ok(Command::NodeBatchUpdateDrain(NodeBatchUpdateDrain {
        updates,
        updated_at: 1_700_000_500,
        ..Default::default()
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert!(n.drain_strategy.is_none());
    assert_eq!(
        n.scheduling_eligibility, "ineligible",
        "stays ineligible unless asked"
    );
    let ld = n.last_drain.clone().unwrap();
    assert_eq!(ld.status, "complete");
    assert_eq!(ld.meta["reason"], "kernel upgrade");

    // A cancelled drain with mark_eligible.
    c.ok(Command::NodeUpdateDrain(NodeUpdateDrain {
        node_id: "n1".into(),
        drain_strategy: Some(DrainStrategy::default()),
        updated_at: 1_700_001_000,
        ..Default::default()
    }));
    c.ok(Command::NodeUpdateDrain(NodeUpdateDrain {
        node_id: "n1".into(),
        drain_strategy: None,
        mark_eligible: true,
        updated_at: 1_700_001_100,
        ..Default::default()
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.scheduling_eligibility, "eligible");
    assert_eq!(n.last_drain.clone().unwrap().status, "canceled");
}

#[test]
fn events_are_capped_at_ten() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let mut events = BTreeMap::new();
    events.insert(
        "n1".to_string(),
        (0..15).map(|i| event(&format!("e{i}"))).collect(),
    );
    c.ok(Command::NodeEvents(NodeEvents {
        node_events: events,
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.events.len(), 10);
    assert_eq!(n.events.last().unwrap().message, "e14");
    assert_eq!(n.events.first().unwrap().message, "e5");
}

#[test]
fn node_lookups_by_prefix_and_pool() {
    let mut c = Cluster::default();
    for id in ["abc-1", "abd-2", "b-3"] {
        c.add_node(id);
    }
    let mut gpu = node("gpu-1");
    gpu.node_pool = "gpu".into();
    c.ok(Command::NodeRegister(NodeRegister { node: gpu }));
    let s = c.snap();
    let ids: Vec<&str> = s.nodes_by_id_prefix("ab").map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["abc-1", "abd-2"]);
    let all: Vec<&str> = s.nodes().iter().map(|n| n.id.as_str()).collect();
    assert_eq!(all, ["abc-1", "abd-2", "b-3", "gpu-1"], "sorted by ID");
    assert_eq!(s.nodes_by_pool("gpu").len(), 1);
    assert_eq!(s.nodes_by_pool("default").len(), 3);

    c.ok(Command::NodeDeregister(NodeDeregister {
        node_ids: vec!["b-3".into()],
    }));
    let s = c.snap();
    assert_eq!(s.nodes().len(), 3);
    assert!(s.node_by_id("b-3").is_none());
    s.check_indexes().unwrap();
    let r = c.apply(Command::NodeDeregister(NodeDeregister {
        node_ids: vec!["abc-1".into(), "nope".into()],
    }));
    assert!(r.error.is_some());
    assert!(c.snap().node_by_id("abc-1").is_some(), "all or nothing");
}

#[test]
fn plan_rejections_mark_nodes_ineligible() {
    let mut c = Cluster::default();
    c.add_node("n1");
    c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        ineligible_nodes: vec!["n1".into()],
        updated_at: 1_700_000_000_000_000_000,
        ..Default::default()
    }));
    let n = c.snap().node_by_id("n1").unwrap();
    assert_eq!(n.scheduling_eligibility, "ineligible");
    assert_eq!(n.events.last().unwrap().subsystem, "Scheduler");
    assert_eq!(n.status_updated_at, 1_700_000_000);
}
