//! Deterministic cluster tests: real Raft cores over a simulated network, seeded RNG, no
//! wall clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nomad_raft::sim::{Faults, SimCluster, SimRequest};
use nomad_raft::{Config, KvCommand, KvStateMachine, RaftError, Role};

fn cfg() -> Config {
    Config {
        tick_interval: Duration::from_millis(10),
        request_timeout: Duration::from_secs(3),
        ..Config::default()
    }
}

fn set(k: &str, v: &str) -> Vec<u8> {
    KvCommand::Set(k.as_bytes().to_vec(), v.as_bytes().to_vec()).encode()
}

fn cluster(n: u64, seed: u64, template: Config) -> SimCluster<KvStateMachine> {
    let ids: Vec<u64> = (1..=n).collect();
    SimCluster::new(&ids, seed, template, KvStateMachine::new)
}

fn has(c: &SimCluster<KvStateMachine>, id: u64, key: &str) -> bool {
    c.fsm(id).is_some_and(|f| f.get(key.as_bytes()).is_some())
}

/// Runs until every running node applied what the leader committed; then compares digests.
fn converge(c: &mut SimCluster<KvStateMachine>, max_ms: u64) {
    let ok = c.run_until(max_ms, |c| {
        let Some(l) = c.leader() else { return false };
        let Some(ls) = c.status(l) else { return false };
        ls.voters
            .iter()
            .filter_map(|id| c.status(*id))
            .all(|s| s.applied == ls.commit && s.commit == ls.commit)
    });
    assert!(ok, "cluster did not converge: {:?}", statuses(c));
    let voters = c
        .leader()
        .and_then(|l| c.status(l))
        .map(|s| s.voters)
        .unwrap_or_default();
    let digests: BTreeMap<u64, u64> = voters
        .into_iter()
        .filter_map(|id| c.fsm(id).map(|f| (id, f.digest())))
        .collect();
    let first = digests.values().next().copied();
    assert!(
        digests.values().all(|d| Some(*d) == first),
        "state machines differ: {digests:?}"
    );
    c.check_logs().expect("log matching");
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

fn statuses(c: &SimCluster<KvStateMachine>) -> Vec<String> {
    c.ids()
        .into_iter()
        .map(|id| match c.status(id) {
            Some(s) => format!(
                "{id}: {:?} term {} leader {:?} commit {} applied {} voters {:?}",
                s.role, s.term, s.leader_id, s.commit, s.applied, s.voters
            ),
            None => format!("{id}: down"),
        })
        .collect()
}

fn ok<T: Clone + std::fmt::Debug>(
    c: &mut SimCluster<KvStateMachine>,
    mut r: SimRequest<T>,
    max_ms: u64,
) -> T {
    assert!(
        c.wait(&mut r, max_ms),
        "request did not finish: {:?}",
        statuses(c)
    );
    match r.take() {
        Some(Ok(v)) => v,
        other => panic!("request failed: {other:?}; {:?}", statuses(c)),
    }
}

#[test]
fn elects_exactly_one_leader() {
    for seed in 0..20 {
        let mut c = cluster(3, seed, cfg());
        let leader = c
            .wait_for_leader(3_000)
            .unwrap_or_else(|| panic!("seed {seed}: no leader"));
        // Leader election takes one randomised election timeout (100-200 ms) plus a round trip.
        assert!(c.now_ms() < 1_000, "seed {seed}: took {} ms", c.now_ms());
        c.run_for(2_000);
        assert_eq!(
            c.leader(),
            Some(leader),
            "seed {seed}: leadership moved without faults"
        );
        assert!(c.violations().is_empty(), "{:?}", c.violations());
    }
}

#[test]
fn single_voter_elects_itself_at_once() {
    let mut c = cluster(1, 7, cfg());
    let ok = c.run_until(20, |c| c.leader() == Some(1));
    assert!(
        ok,
        "a single server must elect itself without waiting for a timeout"
    );
    let r = c.propose(1, set("a", "1"));
    let (index, _) = ok_req(&mut c, r);
    assert!(index >= 2);
}

fn ok_req<T: Clone + std::fmt::Debug>(c: &mut SimCluster<KvStateMachine>, r: SimRequest<T>) -> T {
    ok(c, r, 2_000)
}

#[test]
fn replicates_to_every_node() {
    let mut c = cluster(3, 1, cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    let mut reqs: Vec<_> = (0..50)
        .map(|i| c.propose(l, set(&format!("k{i}"), "v")))
        .collect();
    c.run_until(3_000, |_| reqs.iter_mut().all(|r| r.is_done()));
    let mut last = 0;
    for r in reqs {
        let (idx, _) = r.take().expect("done").expect("committed");
        assert!(idx > last, "indexes increase in proposal order");
        last = idx;
    }
    converge(&mut c, 3_000);
    for id in 1..=3 {
        assert_eq!(c.fsm(id).map(KvStateMachine::len), Some(50));
    }
}

#[test]
fn follower_proposals_are_forwarded_to_the_leader() {
    let mut c = cluster(3, 2, cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    let f = (1..=3).find(|i| *i != l).expect("follower");
    let r = c.propose(f, set("from-follower", "x"));
    let (idx, prev) = ok_req(&mut c, r);
    assert!(prev.is_empty());
    // Resolved at the follower only after its own state machine applied it.
    assert!(has(&c, f, "from-follower"));
    assert!(c.status(f).expect("up").applied >= idx);
    converge(&mut c, 2_000);
}

#[test]
fn minority_cannot_commit_and_deposed_leader_loses_uncommitted_entries() {
    let mut c = cluster(5, 3, cfg());
    let old = c.wait_for_leader(3_000).expect("leader");
    let r = c.propose(old, set("before", "1"));
    ok_req(&mut c, r);
    // The old leader keeps one follower: a minority of 2 out of 5.
    let buddy = (1..=5).find(|i| *i != old).expect("peer");
    let majority: Vec<u64> = (1..=5).filter(|i| *i != old && *i != buddy).collect();
    c.partition(&[&[old, buddy], &majority]);
    let mut lost = c.propose(old, set("lost", "1"));
    let mut lost_at_buddy = c.propose(buddy, set("lost2", "1"));
    c.run_for(1_500);
    assert!(
        !matches!(lost.poll(), Some(Ok(_))),
        "a minority leader must not commit"
    );
    assert!(!matches!(lost_at_buddy.poll(), Some(Ok(_))));
    // check_quorum: the isolated leader stepped down.
    assert_ne!(c.status(old).expect("up").role, Role::Leader);
    let new = c
        .run_until(2_000, |c| c.leader().is_some_and(|l| majority.contains(&l)))
        .then(|| c.leader())
        .flatten()
        .expect("majority elects a leader");
    let r = c.propose(new, set("after", "1"));
    ok_req(&mut c, r);
    c.heal();
    converge(&mut c, 5_000);
    for id in 1..=5 {
        assert!(has(&c, id, "before") && has(&c, id, "after"), "node {id}");
        assert!(
            !has(&c, id, "lost"),
            "uncommitted entry of the deposed leader survived on {id}"
        );
    }
    c.wait(&mut lost, 5_000);
    match lost.take() {
        Some(Err(RaftError::Dropped)) | Some(Err(RaftError::Timeout(_))) => {}
        other => panic!("the lost proposal must fail, got {other:?}"),
    }
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

fn snap_cfg() -> Config {
    Config {
        snapshot_threshold: 20,
        // A check every tick.
        snapshot_interval: Duration::from_millis(10),
        trailing_logs: 5,
        ..cfg()
    }
}

#[test]
fn lagging_follower_catches_up_by_snapshot() {
    let mut c = cluster(3, 4, snap_cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    let f = (1..=3).find(|i| *i != l).expect("follower");
    c.crash(f);
    for i in 0..100 {
        let r = c.propose(l, set(&format!("k{i}"), "v"));
        ok_req(&mut c, r);
    }
    let ls = c.status(l).expect("leader up");
    assert!(ls.first_index > 50, "leader compacted its log: {ls:?}");
    assert!(ls.snapshots_taken >= 4);
    c.restart(f);
    converge(&mut c, 5_000);
    let fs = c.status(f).expect("up");
    assert!(
        fs.snapshots_installed >= 1,
        "follower must have installed a snapshot: {fs:?}"
    );
    assert!(c.net_stats().snapshots_delivered >= 1);
    assert_eq!(c.fsm(f).map(KvStateMachine::len), Some(100));
}

#[test]
fn wiped_follower_rejoins_by_snapshot() {
    let mut c = cluster(3, 5, snap_cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    for i in 0..60 {
        let r = c.propose(l, set(&format!("k{i}"), "v"));
        ok_req(&mut c, r);
    }
    let f = (1..=3).find(|i| *i != l).expect("follower");
    c.wipe(f);
    assert_eq!(c.status(f).expect("up").applied, 0);
    converge(&mut c, 5_000);
    assert_eq!(c.fsm(f).map(KvStateMachine::len), Some(60));
    assert!(c.status(f).expect("up").snapshots_installed >= 1);
}

#[test]
fn restarted_cluster_recovers_state_from_snapshot_and_log() {
    let mut c = cluster(3, 6, snap_cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    for i in 0..45 {
        let r = c.propose(l, set(&format!("k{i}"), &i.to_string()));
        ok_req(&mut c, r);
    }
    converge(&mut c, 3_000);
    let before = c.fsm(l).map(KvStateMachine::digest);
    for id in 1..=3 {
        c.crash(id);
    }
    for id in 1..=3 {
        c.restart(id);
    }
    c.wait_for_leader(3_000).expect("leader after full restart");
    converge(&mut c, 3_000);
    for id in 1..=3 {
        assert_eq!(c.fsm(id).map(KvStateMachine::digest), before, "node {id}");
    }
}

#[test]
fn membership_add_then_remove_voter() {
    let mut c = cluster(3, 8, snap_cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    for i in 0..30 {
        let r = c.propose(l, set(&format!("k{i}"), "v"));
        ok_req(&mut c, r);
    }
    // A new, empty server joins (Nomad: a server with bootstrap_expect = 0 joining).
    c.add_node(4);
    assert!(!c.status(4).expect("up").initialized);
    let r = c.add_voter(l, 4);
    ok_req(&mut c, r);
    // A second change while the first is applied is fine; concurrent ones are refused.
    converge(&mut c, 5_000);
    assert_eq!(c.status(l).expect("up").voters, vec![1, 2, 3, 4]);
    assert_eq!(c.status(4).expect("up").voters, vec![1, 2, 3, 4]);
    assert_eq!(c.fsm(4).map(KvStateMachine::len), Some(30));

    let gone = (1..=3).find(|i| *i != l).expect("follower");
    let r = c.remove_voter(l, gone);
    ok_req(&mut c, r);
    c.crash(gone);
    let rest: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|i| *i != gone).collect();
    assert_eq!(c.status(l).expect("up").voters, rest);
    // With 3 voters left, losing one more still leaves a quorum.
    let another = rest.iter().copied().find(|i| *i != l).expect("peer");
    c.crash(another);
    let r = c.propose(l, set("after-remove", "1"));
    ok_req(&mut c, r);
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

#[test]
fn concurrent_membership_changes_are_refused() {
    let mut c = cluster(3, 9, cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    c.add_node(4);
    c.add_node(5);
    let first = c.add_voter(l, 4);
    let mut second = c.add_voter(l, 5);
    assert!(matches!(
        second.poll(),
        Some(Err(RaftError::ConfChangeInProgress))
    ));
    ok_req(&mut c, first);
    let mut bad = c.remove_voter(l, 42);
    assert!(matches!(
        bad.poll(),
        Some(Err(RaftError::ConfChangeRejected(_)))
    ));
    let mut itself = c.remove_voter(l, l);
    assert!(matches!(
        itself.poll(),
        Some(Err(RaftError::ConfChangeRejected(_)))
    ));
    let f = (1..=3).find(|i| *i != l).expect("follower");
    let mut at_follower = c.add_voter(f, 5);
    assert!(
        matches!(at_follower.poll(), Some(Err(RaftError::NotLeader { leader: Some(x), .. })) if *x == l)
    );
}

#[test]
fn leadership_transfer() {
    let mut c = cluster(3, 11, cfg());
    let l = c.wait_for_leader(3_000).expect("leader");
    let r = c.propose(l, set("a", "1"));
    ok_req(&mut c, r);
    let to = (1..=3).find(|i| *i != l).expect("follower");
    c.transfer_leader(l, to).expect("transfer");
    assert!(
        c.run_until(1_000, |c| c.leader() == Some(to)),
        "{:?}",
        statuses(&c)
    );
    c.run_for(200);
    assert!(matches!(
        c.transfer_leader(l, to),
        Err(RaftError::NotLeader { .. })
    ));
    let r = c.propose(to, set("b", "1"));
    ok_req(&mut c, r);
    converge(&mut c, 2_000);
}

#[test]
fn read_index_needs_a_quorum() {
    let mut c = cluster(3, 10, cfg());
    let old = c.wait_for_leader(3_000).expect("leader");
    let (w, _) = {
        let r = c.propose(old, set("x", "1"));
        ok_req(&mut c, r)
    };
    let idx = {
        let r = c.read_index(old);
        ok_req(&mut c, r)
    };
    assert!(
        idx >= w,
        "read index {idx} must cover the acknowledged write at {w}"
    );
    let f = (1..=3).find(|i| *i != old).expect("follower");
    let idx = {
        let r = c.read_index(f);
        ok_req(&mut c, r)
    };
    assert!(idx >= w && c.status(f).expect("up").applied >= idx);

    c.isolate(old);
    let mut stale = c.read_index(old);
    c.run_for(3_000);
    let new = c.leader().filter(|l| *l != old).expect("new leader");
    let r = c.propose(new, set("x", "2"));
    let (w2, _) = ok_req(&mut c, r);
    c.run_for(500);
    // The partitioned leader never confirms its leadership, so it never serves the read
    // (which would miss x = 2).
    assert!(
        !matches!(stale.poll(), Some(Ok(_))),
        "a partitioned leader served a linearizable read: {:?}",
        stale.poll()
    );
    let r = c.read_index(new);
    let idx = ok_req(&mut c, r);
    assert!(idx >= w2);
    let mut again = c.read_index(old);
    c.run_for(500);
    assert!(!matches!(again.poll(), Some(Ok(_))));
}

struct TestRng(u64);
impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Write = SimRequest<(u64, Vec<u8>)>;

struct ChaosOutcome {
    acked: usize,
    digest: u64,
    sent: u64,
}

/// Random drops, duplicates, delays, partitions, crashes and restarts while writing
/// steadily; afterwards every acknowledged write must be on every node.
fn chaos(seed: u64, nodes: u64, ms: u64) -> ChaosOutcome {
    let mut c = cluster(
        nodes,
        seed,
        Config {
            snapshot_threshold: 50,
            snapshot_interval: Duration::from_millis(10),
            trailing_logs: 10,
            ..cfg()
        },
    );
    let mut rng = TestRng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    c.set_faults(Faults {
        drop_per_mille: 50,
        dup_per_mille: 50,
        min_delay_ms: 1,
        max_delay_ms: 25,
    });
    let mut pending: Vec<(String, Write)> = Vec::new();
    let mut acked: Vec<String> = Vec::new();
    // (node, writes acknowledged before the read was issued, request)
    let mut reads: Vec<(u64, usize, SimRequest<u64>)> = Vec::new();
    let mut reads_ok = 0;
    let mut n = 0u64;
    for t in 0..ms {
        if t % 7 == 0 {
            let at = 1 + rng.below(nodes);
            let key = format!("k{n}");
            n += 1;
            let req = c.propose(at, set(&key, "v"));
            pending.push((key, req));
        }
        if t % 23 == 0 {
            let at = 1 + rng.below(nodes);
            let req = c.read_index(at);
            reads.push((at, acked.len(), req));
        }
        if t % 400 == 0 && t > 0 {
            match rng.below(6) {
                0 => c.isolate(1 + rng.below(nodes)),
                1 => {
                    let a = 1 + rng.below(nodes);
                    let b = 1 + rng.below(nodes);
                    if a != b {
                        c.cut(a, b);
                    }
                }
                2 => {
                    let down = c.ids().into_iter().filter(|i| !c.is_up(*i)).count() as u64;
                    if down < (nodes - 1) / 2 {
                        c.crash(1 + rng.below(nodes));
                    }
                }
                3 => {
                    for id in c.ids() {
                        c.restart(id);
                    }
                }
                _ => c.heal(),
            }
        }
        c.step();
        pending.retain_mut(|(k, r)| match r.poll() {
            Some(Ok(_)) => {
                acked.push(k.clone());
                false
            }
            Some(Err(_)) => false,
            None => true,
        });
        // Linearizable reads: once a read resolves at a node, that node's state machine holds
        // every write acknowledged before the read was issued.
        reads.retain_mut(|(at, before, r)| match r.poll() {
            Some(Ok(_)) => {
                for k in &acked[..*before] {
                    assert!(
                        has(&c, *at, k),
                        "seed {seed}: read at {at} misses acknowledged {k}"
                    );
                }
                reads_ok += 1;
                false
            }
            Some(Err(_)) => false,
            None => true,
        });
    }
    assert!(
        reads_ok > 20,
        "seed {seed}: only {reads_ok} reads succeeded"
    );
    c.heal();
    c.set_faults(Faults::default());
    for id in c.ids() {
        c.restart(id);
    }
    converge(&mut c, 20_000);
    for id in c.ids() {
        for k in &acked {
            assert!(
                has(&c, id, k),
                "seed {seed}: acknowledged {k} missing on node {id}"
            );
        }
    }
    assert!(
        c.violations().is_empty(),
        "seed {seed}: {:?}",
        c.violations()
    );
    let digest = c.fsm(1).map(KvStateMachine::digest).unwrap_or(0);
    ChaosOutcome {
        acked: acked.len(),
        digest,
        sent: c.net_stats().sent,
    }
}

/// `NOMAD_RAFT_CHAOS_SEEDS=N` runs N seeds (default 6) of each cluster size.
#[test]
fn chaos_keeps_every_acknowledged_write() {
    let seeds: u64 = std::env::var("NOMAD_RAFT_CHAOS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut total = 0;
    for seed in 1..=seeds {
        let out = chaos(seed, 3, 8_000);
        assert!(
            out.acked > 100,
            "seed {seed}: only {} writes acknowledged",
            out.acked
        );
        total += out.acked;
        let out = chaos(seed + 100_000, 5, 6_000);
        total += out.acked;
    }
    assert!(total > 1_000);
}

#[test]
fn same_seed_same_history() {
    let a = chaos(42, 3, 4_000);
    let b = chaos(42, 3, 4_000);
    assert_eq!((a.acked, a.digest, a.sent), (b.acked, b.digest, b.sent));
}

/// A key/value machine that counts the entries it applied from the proposer's in-memory
/// form, and checks that form against the entry's bytes.
#[derive(Default)]
struct Counting {
    kv: KvStateMachine,
    decoded: u64,
}

impl nomad_raft::StateMachine for Counting {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        self.kv.apply(index, data)
    }
    fn apply_decoded(&mut self, index: u64, data: &[u8], d: nomad_raft::Decoded) -> Vec<u8> {
        let cmd = d.downcast::<KvCommand>().expect("a KvCommand");
        assert_eq!(
            KvCommand::decode(data).as_ref(),
            Some(&*cmd),
            "entry {index}"
        );
        self.decoded += 1;
        self.kv.apply(index, data)
    }
    fn snapshot(&self) -> Vec<u8> {
        self.kv.snapshot()
    }
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.kv.restore(data)
    }
    fn applied_index(&self) -> u64 {
        self.kv.applied_index()
    }
}

#[test]
fn only_the_proposer_applies_its_in_memory_form_and_every_server_ends_equal() {
    let mut c = SimCluster::new(&[1, 2, 3], 7, cfg(), Counting::default);
    let l = c.wait_for_leader(3_000).expect("leader");
    let f = (1..=3).find(|i| *i != l).expect("follower");
    let decoded = |k: &str| {
        let cmd = KvCommand::Set(k.as_bytes().to_vec(), b"v".to_vec());
        (cmd.encode(), Box::new(cmd) as nomad_raft::Decoded)
    };
    for (at, key) in [(l, "at-leader"), (f, "at-follower")] {
        let (data, d) = decoded(key);
        let mut r = c.propose_decoded(at, data, d);
        assert!(c.wait(&mut r, 3_000), "{key} not answered");
        r.take().expect("answered").expect("committed");
    }
    // A proposal without its in-memory form is decoded everywhere.
    let mut r = c.propose(l, set("plain", "v"));
    assert!(c.wait(&mut r, 3_000));
    let ok = c.run_until(2_000, |c| {
        (1..=3).all(|id| c.fsm(id).is_some_and(|m| m.kv.len() == 3))
    });
    assert!(ok, "not every server applied the three entries");
    let counts: Vec<u64> = (1..=3)
        .map(|id| c.fsm(id).map_or(0, |m| m.decoded))
        .collect();
    let digests: BTreeMap<u64, u64> = (1..=3)
        .filter_map(|id| c.fsm(id).map(|m| (id, m.kv.digest())))
        .collect();
    assert_eq!(
        digests.values().collect::<BTreeSet<_>>().len(),
        1,
        "{digests:?}"
    );
    // The leader's and the follower's own proposals: one each; the third server none.
    let other = (1..=3).find(|i| *i != l && *i != f).expect("third");
    assert_eq!(counts[(l - 1) as usize], 1, "{counts:?}");
    assert_eq!(counts[(f - 1) as usize], 1, "{counts:?}");
    assert_eq!(counts[(other - 1) as usize], 0, "{counts:?}");
}
