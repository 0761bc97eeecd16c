//! Determinism and robustness: the same entries give the same state on
//! every server; no entry, however wrong, panics or corrupts the indexes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use nomad_state::command::*;
use nomad_state::{ApplyResult, Command, Fsm, LogEntry, StateStore};
use nomad_types::{Deployment, DeploymentState, DesiredTransition, DrainStrategy, Job};
use proptest::prelude::*;

#[test]
fn two_stores_applying_the_same_entries_agree() {
    let mut a = Cluster::default();
    let mut b = Cluster::default();
    for cmd in scenario() {
        let bytes = cmd.encode();
        assert_eq!(Command::decode(&bytes).unwrap(), cmd, "{}", cmd.type_name());
        let ra = ApplyResult::decode(&Fsm::apply(&mut a.store, a.next, &bytes)).unwrap();
        let rb = ApplyResult::decode(&Fsm::apply(&mut b.store, b.next, &bytes)).unwrap();
        assert_eq!(ra, rb);
        a.next += 1;
        b.next += 1;
    }
    for cmd in scenario_plans(&a.snap()) {
        // Each server decodes its own copy: no shared objects.
        let bytes = cmd.encode();
        assert_eq!(Command::decode(&bytes).unwrap(), cmd, "{}", cmd.type_name());
        let ra = a.store.apply_bytes(a.next, &bytes);
        let rb = b.store.apply_bytes(b.next, &bytes);
        assert_eq!(ra, rb);
        a.next += 1;
        b.next += 1;
    }
    let (da, db) = (a.store.digest(), b.store.digest());
    assert_eq!(da, db);
    assert_eq!(da.to_string(), db.to_string());
    // And the digest notices a difference.
    b.client_status("web-2", "running");
    assert_ne!(b.store.digest(), da);
    assert_ne!(
        b.store.digest().tables[&nomad_state::Table::Allocs],
        da.tables[&nomad_state::Table::Allocs]
    );
    assert_eq!(
        b.store.digest().tables[&nomad_state::Table::Jobs],
        da.tables[&nomad_state::Table::Jobs]
    );
}

// ---- arbitrary entries over a small vocabulary, so they collide ----

fn id() -> impl Strategy<Value = String> {
    prop_oneof![9 => prop::sample::select(vec!["a", "b", "c"]), 1 => Just("")]
        .prop_map(String::from)
}
fn job_id() -> impl Strategy<Value = String> {
    prop_oneof![9 => prop::sample::select(vec!["web", "api", "web/periodic-1700000000"]), 1 => Just("")].prop_map(String::from)
}
fn status() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "pending", "running", "complete", "failed", "lost", "unknown", "bogus", "",
    ])
    .prop_map(String::from)
}
fn eval_st() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "pending", "blocked", "complete", "failed", "canceled", "",
    ])
    .prop_map(String::from)
}

fn arb_job() -> impl Strategy<Value = Job> {
    (
        job_id(),
        0i64..3,
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["system", "batch", "service"])),
        any::<bool>(),
    )
        .prop_map(|(id, count, stop, ty, periodic)| {
            let mut j = job(&id, &[("g", count)]);
            j.stop = Some(stop);
            j.job_type = ty.map(String::from);
            if periodic {
                j.periodic = Some(Default::default());
            }
            if id.contains("/periodic-") {
                j.parent_id = Some("web".into());
            }
            j
        })
}

fn arb_eval() -> impl Strategy<Value = nomad_types::Evaluation> {
    (id(), job_id(), eval_st(), 0i64..3).prop_map(|(id, job, st, queued)| {
        let mut e = eval(&format!("e{id}"), &job);
        e.status = st;
        e.queued_allocations.insert("g".into(), queued);
        e
    })
}

fn arb_alloc() -> impl Strategy<Value = nomad_types::Allocation> {
    let client = prop_oneof![6 => Just("pending".to_string()), 4 => status()];
    let desired = prop_oneof![8 => Just("run"), 1 => Just("stop"), 1 => Just("evict")];
    (id(), job_id(), id(), client, desired, id(), any::<bool>()).prop_map(
        |(id, job, node, cs, ds, dep, canary)| {
            let mut a = alloc(&format!("al{id}"), &job, "g", &format!("n{node}"), "e");
            a.client_status = cs;
            a.desired_status = ds.into();
            if !dep.is_empty() {
                a.deployment_id = format!("d{dep}");
                a.deployment_status = Some(nomad_types::AllocDeploymentStatus {
                    canary,
                    ..Default::default()
                });
            }
            a
        },
    )
}

fn arb_deployment() -> impl Strategy<Value = Deployment> {
    (
        id(),
        job_id(),
        prop::sample::select(vec![
            "running",
            "paused",
            "successful",
            "failed",
            "cancelled",
        ]),
        any::<bool>(),
    )
        .prop_map(|(id, job, status, promoted)| {
            let mut tgs = BTreeMap::new();
            tgs.insert(
                "g".to_string(),
                DeploymentState {
                    promoted,
                    desired_canaries: 1,
                    ..Default::default()
                },
            );
            Deployment {
                id: format!("d{id}"),
                namespace: "default".into(),
                job_id: job,
                status: status.into(),
                task_groups: tgs,
                ..Deployment::default()
            }
        })
}

fn arb_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        1 => Just(Command::Noop),
        3 => (arb_job(), prop::option::of(arb_eval()), prop::option::weighted(0.1, 0u64..4), any::<bool>(), prop::option::weighted(0.2, arb_deployment()), any::<bool>())
            .prop_map(|(mut job, eval, enforce_index, preserve_counts, deployment, canonical)| {
                // A proposer marks only jobs it canonicalized.
                if canonical {
                    job.canonicalize();
                }
                Command::JobRegister(JobRegister {
                    job,
                    eval,
                    deployment,
                    submit_time: 5,
                    enforce_index,
                    preserve_counts,
                    canonical,
                })
            }),
        1 => (job_id(), any::<bool>(), prop::option::of(arb_eval()), any::<bool>()).prop_map(|(job_id, purge, eval, nsd)| {
            Command::JobDeregister(JobDeregister {
                namespace: "default".into(),
                job_id,
                purge,
                eval,
                submit_time: 6,
                no_shutdown_delay: nsd,
            })
        }),
        1 => prop::collection::vec((job_id(), any::<bool>()), 0..3).prop_map(|jobs| Command::JobBatchDeregister(JobBatchDeregister {
            jobs: jobs
                .into_iter()
                .map(|(job_id, purge)| JobDeregisterOptions { namespace: "default".into(), job_id, purge })
                .collect(),
            ..Default::default()
        })),
        2 => prop::collection::vec(arb_eval(), 0..3).prop_map(|evals| Command::EvalUpdate(EvalUpdate { evals })),
        1 => (prop::collection::vec(id(), 0..2), prop::collection::vec(id(), 0..2), any::<bool>()).prop_map(|(e, a, u)| {
            Command::EvalDelete(EvalDelete {
                evals: e.into_iter().map(|i| format!("e{i}")).collect(),
                allocs: a.into_iter().map(|i| format!("al{i}")).collect(),
                user_initiated: u,
            })
        }),
        6 => (
            // No job: the harness attaches the stored one, as a plan would.
            prop::option::weighted(0.1, arb_job()),
            prop::collection::vec(arb_alloc(), 0..4),
            prop::option::weighted(0.15, (id(), status())).prop_map(|o| o.into_iter().collect::<Vec<_>>()),
            prop::option::weighted(0.1, id()).prop_map(|o| o.into_iter().collect::<Vec<_>>()),
            prop::option::weighted(0.3, arb_deployment()),
            prop::option::weighted(0.2, id()).prop_map(Option::unwrap_or_default),
            prop::option::weighted(0.1, id()).prop_map(|o| o.into_iter().collect::<Vec<_>>()),
            job_id()
        )
            .prop_map(|(job, mut allocs, stops, preempts, deployment, eval_id, inel, plan_job)| {
                // A plan is for one job.
                for a in &mut allocs {
                    a.job_id = plan_job.clone();
                }
                Command::ApplyPlanResults(ApplyPlanResults {
                    job: job.map(Arc::new),
                    allocs_updated: allocs,
                    allocs_stopped: stops
                        .into_iter()
                        .map(|(i, cs)| AllocStop { id: format!("al{i}"), client_status: cs, ..Default::default() })
                        .collect(),
                    allocs_preempted: preempts
                        .into_iter()
                        .map(|i| AllocPreempted { id: format!("al{i}"), preempted_by_allocation: "x".into(), modify_time: 3 })
                        .collect(),
                    deployment,
                    deployment_updates: vec![DeploymentStatusUpdate { deployment_id: "da".into(), status: "paused".into(), ..Default::default() }],
                    eval_id: if eval_id.is_empty() { String::new() } else { format!("e{eval_id}") },
                    ineligible_nodes: inel.into_iter().map(|i| format!("n{i}")).collect(),
                    updated_at: 1_000_000_000,
                    ..Default::default()
                })
            }),
        4 => prop::collection::vec((id(), status(), prop::option::of(any::<bool>())), 0..3).prop_map(|ups| {
            Command::AllocClientUpdate(AllocClientUpdate {
                allocs: ups
                    .into_iter()
                    .map(|(i, cs, h)| ClientAllocUpdate {
                        id: format!("al{i}"),
                        client_status: cs,
                        deployment_status: h.map(|h| nomad_types::AllocDeploymentStatus { healthy: Some(h), ..Default::default() }),
                        modify_time: 9,
                        ..Default::default()
                    })
                    .collect(),
                evals: vec![],
            })
        }),
        1 => (id(), any::<bool>()).prop_map(|(i, m)| {
            let mut allocs = BTreeMap::new();
            allocs.insert(format!("al{i}"), DesiredTransition { migrate: Some(m), ..Default::default() });
            Command::AllocUpdateDesiredTransition(AllocUpdateDesiredTransition { allocs, evals: vec![] })
        }),
        2 => (id(), prop::sample::select(vec!["ready", "down", "disconnected", "initializing"])).prop_map(|(i, st)| {
            let mut n = node(&format!("n{i}"));
            n.status = st.into();
            Command::NodeRegister(NodeRegister { node: n })
        }),
        1 => prop::collection::vec(id(), 0..2).prop_map(|ids| Command::NodeDeregister(NodeDeregister {
            node_ids: ids.into_iter().map(|i| format!("n{i}")).collect()
        })),
        1 => (id(), prop::sample::select(vec!["ready", "down", "disconnected"])).prop_map(|(i, st)| {
            Command::NodeUpdateStatus(NodeUpdateStatus { node_id: format!("n{i}"), status: st.into(), updated_at: 4, node_event: None })
        }),
        1 => (id(), any::<bool>(), any::<bool>()).prop_map(|(i, drain, me)| Command::NodeUpdateDrain(NodeUpdateDrain {
            node_id: format!("n{i}"),
            drain_strategy: drain.then(DrainStrategy::default),
            mark_eligible: me,
            updated_at: 4,
            ..Default::default()
        })),
        1 => (id(), prop::sample::select(vec!["eligible", "ineligible", "weird"])).prop_map(|(i, e)| {
            Command::NodeUpdateEligibility(NodeUpdateEligibility { node_id: format!("n{i}"), eligibility: e.into(), ..Default::default() })
        }),
        1 => (id(), prop::sample::select(vec!["running", "paused", "successful", "failed"])).prop_map(|(i, st)| {
            Command::DeploymentStatusUpdate(DeploymentStatusUpdateRequest {
                deployment_update: DeploymentStatusUpdate { deployment_id: format!("d{i}"), status: st.into(), ..Default::default() },
                updated_at: 11,
                ..Default::default()
            })
        }),
        1 => (id(), any::<bool>()).prop_map(|(i, all)| Command::DeploymentPromotion(DeploymentPromotion {
            deployment_id: format!("d{i}"),
            all,
            groups: vec!["g".into()],
            promoted_at: 12,
            eval: None,
        })),
        1 => (id(), prop::collection::vec(id(), 0..2), prop::collection::vec(id(), 0..2)).prop_map(|(d, h, u)| {
            Command::DeploymentAllocHealth(DeploymentAllocHealth {
                deployment_id: format!("d{d}"),
                healthy_allocation_ids: h.into_iter().map(|i| format!("al{i}")).collect(),
                unhealthy_allocation_ids: u.into_iter().map(|i| format!("al{i}")).collect(),
                timestamp: 13,
                ..Default::default()
            })
        }),
        1 => prop::collection::vec(id(), 0..2).prop_map(|ids| Command::DeploymentDelete(DeploymentDelete {
            deployments: ids.into_iter().map(|i| format!("d{i}")).collect()
        })),
        1 => (any::<bool>(), prop::option::of(0u64..5)).prop_map(|(pause, cas_index)| {
            Command::SchedulerConfig(SchedulerConfigUpdate {
                config: nomad_types::SchedulerConfiguration { pause_eval_broker: pause, ..Default::default() },
                cas_index,
            })
        }),
        1 => (job_id(), 0i64..100).prop_map(|(job_id, launch)| Command::PeriodicLaunch(PeriodicLaunchUpdate {
            namespace: "default".into(),
            job_id,
            launch
        })),
        1 => (job_id(), 0u64..3, any::<bool>()).prop_map(|(job_id, v, stable)| Command::JobStability(JobStability {
            namespace: "default".into(),
            job_id,
            job_version: v,
            stable
        })),
        1 => (job_id(), prop::option::of(0i64..4)).prop_map(|(job_id, count)| {
            Command::ScalingEventRegister(ScalingEventRegister {
                namespace: "default".into(),
                task_group: "g".into(),
                event: nomad_types::api::ScalingEvent { time: 14, count, message: "scale".into(), ..Default::default() },
                job_register: count.map(|c| JobRegister {
                    job: job(&job_id, &[("g", c)]),
                    submit_time: 15,
                    ..Default::default()
                }),
                job_id,
            })
        }),
    ]
}

/// Nodes, jobs and evaluations the arbitrary entries can refer to.
fn prelude() -> Vec<Command> {
    let mut cmds: Vec<Command> = ["na", "nb", "nc"]
        .iter()
        .map(|n| Command::NodeRegister(NodeRegister { node: node(n) }))
        .collect();
    for (j, e) in [("web", "ea"), ("api", "eb")] {
        cmds.push(Command::JobRegister(JobRegister {
            job: job(j, &[("g", 2)]),
            eval: Some(eval(e, j)),
            ..Default::default()
        }));
    }
    cmds
}

/// Gives a plan without a job the stored job of its first allocation, as
/// the plan applier would.
fn attach_job(cmd: &Command, snap: &nomad_state::StateSnapshot) -> Command {
    let mut cmd = cmd.clone();
    if let Command::ApplyPlanResults(p) = &mut cmd {
        if p.job.is_none() {
            p.job = p
                .allocs_updated
                .first()
                .and_then(|a| snap.job_by_id(&a.namespace, &a.job_id));
        }
    }
    cmd
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arbitrary entries never panic, leave the indexes consistent, and two
    /// servers (one of them restored from a snapshot half-way) agree.
    #[test]
    fn arbitrary_entries_are_safe_and_deterministic(random in prop::collection::vec(arb_command(), 1..40)) {
        let cmds: Vec<Command> = prelude().into_iter().chain(random).collect();
        let mut a = StateStore::default();
        let mut b = StateStore::default();
        let half = cmds.len() / 2;
        for (i, cmd) in cmds.iter().enumerate() {
            let index = i as u64 + 1;
            if i == half {
                let bytes = Fsm::snapshot(&b);
                b = StateStore::default();
                b.restore(&bytes).unwrap();
                prop_assert_eq!(b.digest(), a.digest());
            }
            let cmd = &attach_job(cmd, &a.snapshot());
            let bytes = cmd.encode();
            // The log's encoding loses nothing (it leaves zero fields out).
            prop_assert_eq!(&Command::decode(&bytes).unwrap(), cmd);
            let ra = a.apply(index, cmd.clone());
            let rb = ApplyResult::decode(&Fsm::apply(&mut b, index, &bytes)).unwrap();
            prop_assert_eq!(&ra, &rb, "entry {} ({})", i, cmd.type_name());
            if let Err(e) = a.snapshot().check_indexes() {
                return Err(TestCaseError::fail(format!("after entry {i} ({}): {e}", cmd.type_name())));
            }
        }
        prop_assert_eq!(a.digest(), b.digest());
    }

    /// Runs of entries applied as one batch (as a server applies the
    /// entries one Raft round committed) give the same results and the
    /// same state as one at a time, the failed entries among them included.
    #[test]
    fn batches_apply_like_entries_one_at_a_time(
        random in prop::collection::vec(arb_command(), 1..40),
        cuts in prop::collection::vec(any::<bool>(), 1..40),
    ) {
        let cmds: Vec<Command> = prelude().into_iter().chain(random).collect();
        let mut a = StateStore::default();
        let mut encoded = Vec::new();
        let mut ra = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            let cmd = attach_job(cmd, &a.snapshot());
            ra.push(a.apply(i as u64 + 1, cmd.clone()));
            encoded.push(cmd.encode());
        }
        let mut b = StateStore::default();
        let mut rb = Vec::new();
        let mut run = Vec::new();
        for (i, bytes) in encoded.iter().enumerate() {
            run.push(LogEntry {
                index: i as u64 + 1,
                data: bytes,
                // The proposer's own entries come decoded.
                decoded: if i % 3 == 0 { Command::decode(bytes).ok() } else { None },
            });
            if cuts[i % cuts.len()] {
                rb.extend(b.apply_batch(std::mem::take(&mut run)));
            }
        }
        rb.extend(b.apply_batch(run));
        prop_assert_eq!(&ra, &rb);
        prop_assert_eq!(a.digest(), b.digest());
        if let Err(e) = b.snapshot().check_indexes() {
            return Err(TestCaseError::fail(format!("after the batches: {e}")));
        }
    }

    /// Random bytes are refused, never panic.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut s = StateStore::default();
        let _ = Fsm::apply(&mut s, 1, &bytes);
        let mut framed = b"NL\x01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = Fsm::apply(&mut s, 2, &framed);
        prop_assert_eq!(Fsm::applied_index(&s), 2);
        let _ = s.restore(&bytes);
    }
}
