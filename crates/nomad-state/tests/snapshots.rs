//! Snapshots: isolation, encode/restore, the consensus-facing trait.

mod common;

use common::*;
use nomad_state::command::*;
use nomad_state::{ApplyError, ApplyResult, Command, Fsm, RestoreError, StateStore, Table};

fn built() -> Cluster {
    let mut c = Cluster::default();
    for cmd in scenario() {
        c.ok(cmd);
    }
    for cmd in scenario_plans(&c.snap()) {
        c.ok(cmd);
    }
    c
}

#[test]
fn a_snapshot_does_not_see_later_writes() {
    let mut c = built();
    let reader = c.store.reader();
    let before = reader.snapshot();
    let digest_before = before.digest();
    let index_before = before.latest_index();

    c.add_node("n-late");
    c.client_status("web-2", "failed");
    c.register(job("late", &[("g", 1)]));

    assert!(before.node_by_id("n-late").is_none());
    assert_eq!(
        before.alloc_by_id("web-2").unwrap().client_status,
        "pending"
    );
    assert!(before.job_by_id("default", "late").is_none());
    assert_eq!(before.latest_index(), index_before);
    assert_eq!(
        before.digest(),
        digest_before,
        "the old snapshot is untouched"
    );

    let now = reader.snapshot();
    assert!(now.node_by_id("n-late").is_some());
    assert_eq!(now.alloc_by_id("web-2").unwrap().client_status, "failed");
    assert!(now.latest_index() > index_before);
}

#[test]
fn snapshots_are_cheap_to_take() {
    // 20,000 allocations; a thousand snapshots must not copy them.
    let mut c = Cluster::default();
    c.add_node("n1");
    c.register(job("big", &[("g", 20_000)]));
    let j = c.snap().job_by_id("default", "big").unwrap();
    let allocs = (0..20_000)
        .map(|i| alloc(&format!("a{i:05}"), "big", "g", "n1", "e"))
        .collect();
    c.place(&j, allocs);
    let reader = c.store.reader();
    let start = std::time::Instant::now();
    let snaps: Vec<_> = (0..1000).map(|_| reader.snapshot()).collect();
    let per = start.elapsed() / 1000;
    assert!(snaps.iter().all(|s| s.alloc_count() == 20_000));
    // Generous bound (debug build, shared CI cores): a copy of 20k
    // allocations would take milliseconds.
    assert!(
        per < std::time::Duration::from_micros(200),
        "snapshot took {per:?}"
    );
}

#[test]
fn encode_restore_round_trip() {
    let c = built();
    let bytes = Fsm::snapshot(&c.store);
    assert_eq!(&bytes[..8], b"NMDSTATE");
    let mut other = StateStore::default();
    other.restore(&bytes).unwrap();
    assert_eq!(other.digest(), c.store.digest());
    assert_eq!(Fsm::applied_index(&other), Fsm::applied_index(&c.store));
    let s = other.snapshot();
    s.check_indexes().unwrap();
    assert_eq!(s.allocs_by_node("node-a").len(), 2);
    // Allocations of one job share one job object after restore too.
    let allocs = s.allocs_by_job("default", "web");
    assert!(std::sync::Arc::ptr_eq(
        allocs[0].job.as_ref().unwrap(),
        allocs[1].job.as_ref().unwrap()
    ));

    // The restored store carries on exactly like the original.
    let mut a = c;
    let mut b = Cluster {
        store: other,
        next: a.next,
    };
    for cl in [&mut a, &mut b] {
        cl.client_status("web-2", "running");
        cl.register(job("after", &[("g", 1)]));
    }
    assert_eq!(a.store.digest(), b.store.digest());
}

#[test]
fn restore_rejects_foreign_and_future_data() {
    let mut s = StateStore::default();
    assert!(matches!(
        s.restore(b"hello world, not a snapshot"),
        Err(RestoreError::BadMagic)
    ));
    assert!(matches!(s.restore(b""), Err(RestoreError::BadMagic)));
    let mut future = b"NMDSTATE".to_vec();
    future.extend_from_slice(&7u32.to_le_bytes());
    future.extend_from_slice(b"{}");
    let err = s.restore(&future).unwrap_err();
    assert!(
        err.to_string().contains("version 7 is not supported"),
        "{err}"
    );
    let mut broken = b"NMDSTATE".to_vec();
    broken.extend_from_slice(&1u32.to_le_bytes());
    broken.extend_from_slice(b"{\"AppliedIndex\":");
    assert!(matches!(
        s.restore(&broken),
        Err(RestoreError::Malformed(_))
    ));
    assert_eq!(
        Fsm::applied_index(&s),
        0,
        "a failed restore changes nothing"
    );
}

#[test]
fn fsm_trait_speaks_bytes() {
    let mut s = StateStore::default();
    let out = Fsm::apply(
        &mut s,
        1,
        &Command::NodeRegister(NodeRegister { node: node("n1") }).encode(),
    );
    let r = ApplyResult::decode(&out).unwrap();
    assert!(r.is_ok());
    assert_eq!(r.changed, vec![Table::Nodes]);

    // Garbage is an error result, never a panic, and still advances the index.
    let r = ApplyResult::decode(&Fsm::apply(&mut s, 2, b"\x00\xff garbage")).unwrap();
    assert!(matches!(r.error, Some(ApplyError::Decode(_))));
    assert_eq!(Fsm::applied_index(&s), 2);

    // Replays of old indexes are refused without changing anything.
    let before = s.digest();
    let r = ApplyResult::decode(&Fsm::apply(&mut s, 2, &Command::Noop.encode())).unwrap();
    assert!(matches!(
        r.error,
        Some(ApplyError::Stale {
            index: 2,
            applied: 2
        })
    ));
    assert_eq!(s.digest(), before);

    // A barrier advances the applied index but no table.
    let r = ApplyResult::decode(&Fsm::apply(&mut s, 3, &Command::Noop.encode())).unwrap();
    assert!(r.is_ok() && r.changed.is_empty());
    assert_eq!(Fsm::applied_index(&s), 3);
    assert_eq!(s.snapshot().latest_index(), 1);
}

#[test]
fn snapshot_handle_encodes_like_the_store() {
    let c = built();
    let snap = c.store.reader().snapshot();
    let mut bytes = Vec::new();
    snap.write_to(&mut bytes).unwrap();
    assert_eq!(bytes, Fsm::snapshot(&c.store));
}
