//! Simulator tests: the plan applier's conflict handling, determinism,
//! utilisation bookkeeping, blocked evaluations.

use std::sync::Arc;

use nomad_scheduler::resources::{alloc_usage, Res};
use nomad_scheduler::testing::eval_for;
use nomad_scheduler::{Plan, Planner, State};
use nomad_types::{Affinity, Allocation};

use crate::applier::Applier;
use crate::{ClientAck, JobTemplate, NodeGroup, SchedulerSettings, SimOptions, Simulator};

fn sim(workers: usize) -> Simulator {
    Simulator::new(
        SimOptions {
            workers,
            ..SimOptions::default()
        },
        &SchedulerSettings::default(),
    )
}

/// Two nodes with room for one 3,000 MHz allocation each; both jobs
/// prefer `a-0`.
fn contended() -> Simulator {
    let mut s = sim(2);
    s.add_node_group(&NodeGroup::new("a", 2).cpu(4000, 4));
    for id in ["one", "two"] {
        let mut t = JobTemplate::new(id, 1).resources(3000, 256);
        t.affinities.push(Affinity {
            l_target: "${node.unique.name}".into(),
            operand: "=".into(),
            r_target: "a-000".into(),
            weight: Some(100),
        });
        s.add_jobs(&t).unwrap();
    }
    s
}

#[test]
fn applier_rejects_an_overcommitted_node_and_the_scheduler_retries() {
    let mut s = contended();
    let report = s.run().unwrap();
    // Both evaluations planned against the same snapshot and chose a-000;
    // the second plan lost that node and was re-planned.
    assert_eq!(report.plans.plans, 3, "{report:#?}");
    assert_eq!(report.plans.partial_commits, 1);
    assert_eq!(report.plans.rejections.len(), 1);
    let rejected = &report.plans.rejections[0];
    assert_eq!(rejected.reason, "cpu");
    let a0 = &s.store().nodes_in_slot_order()[0];
    assert_eq!(a0.name, "a-000");
    assert_eq!(rejected.node_id, a0.id);
    assert_eq!(report.evals[1].plans, 2);
    assert!(report.evals.iter().all(|e| e.status == "complete"));
    assert_eq!(report.placed, 2);
    assert!(report.failures.is_empty());
    // One allocation per node, none over capacity.
    for n in &report.utilisation.nodes {
        assert_eq!(n.allocs, 1, "{n:?}");
        assert!(n.used.cpu <= n.capacity.cpu);
    }
}

#[test]
fn one_worker_never_conflicts() {
    let mut s = contended();
    s.set_options(SimOptions {
        workers: 1,
        ..s.options().clone()
    });
    let report = s.run().unwrap();
    assert_eq!(report.plans.plans, 2);
    assert_eq!(report.plans.partial_commits, 0);
    assert_eq!(report.placed, 2);
}

fn over_plan(store: &crate::Store, count: usize) -> Plan {
    let node = store.nodes_in_slot_order()[0].clone();
    let job = store.job_by_id("default", "one").unwrap();
    let eval = eval_for(&job, "00000000-0000-4000-8000-000000000001");
    let mut plan = Plan::new(&eval, Some(job.clone()), store.latest_index());
    for i in 0..count {
        let mut a = Allocation {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            namespace: "default".into(),
            job_id: "one".into(),
            task_group: "web".into(),
            name: format!("one.web[{i}]"),
            node_id: node.id.clone(),
            job: Some(job.clone()),
            desired_status: "run".into(),
            client_status: "pending".into(),
            ..Allocation::default()
        };
        a.resources = Some(Arc::new(nomad_types::Resources {
            cpu: Some(1500),
            memory_mb: Some(10),
            ..Default::default()
        }));
        plan.append_alloc(Arc::new(a));
    }
    plan
}

#[test]
fn applier_checks_each_plan_against_the_newest_state() {
    let s = contended();
    let mut store = s.store().clone();
    let snapshot = store.clone();
    let mut applier = Applier::new(&mut store, ClientAck::Immediate);
    // Two allocations of 1,500 MHz fit the 4,000 MHz node…
    let first = applier.submit_plan(&over_plan(&snapshot, 2)).unwrap();
    assert!(first.result.rejected_nodes.is_empty());
    assert!(first.refreshed_state.is_none());
    // …a third (from a plan made on the same stale snapshot) does not.
    let mut second = over_plan(&snapshot, 3);
    let node_id = second.node_allocation.keys().next().unwrap().clone();
    second.node_allocation.get_mut(&node_id).unwrap().drain(..2);
    let out = applier.submit_plan(&second).unwrap();
    assert_eq!(out.result.rejected_nodes, vec![node_id.clone()]);
    assert!(out.result.node_allocation.is_empty());
    assert!(out.result.refresh_index > 0);
    let fresh = out
        .refreshed_state
        .expect("a partial commit hands back a snapshot");
    assert_eq!(fresh.allocs_by_node(&node_id).len(), 2);
    assert_eq!(fresh.node_usage(&node_id).used.cpu, 3000);
    // The stale snapshot did not change.
    assert!(snapshot.allocs_by_node(&node_id).is_empty());
    drop((snapshot, fresh));
    let stats = applier.finish().stats;
    assert_eq!((stats.plans, stats.partial_commits), (2, 1));
    assert_eq!(stats.rejections[0].reason, "cpu");
    // Nothing committed twice.
    assert_eq!(store.allocs_by_node(&node_id).len(), 2);
}

#[test]
fn all_at_once_plans_commit_nothing_when_one_node_is_refused() {
    let s = contended();
    let mut store = s.store().clone();
    let snapshot = store.clone();
    let mut applier = Applier::new(&mut store, ClientAck::Immediate);
    let mut plan = over_plan(&snapshot, 3);
    plan.all_at_once = true;
    let out = applier.submit_plan(&plan).unwrap();
    assert_eq!(out.result.rejected_nodes.len(), 1);
    assert!(out.result.node_allocation.is_empty());
    drop(snapshot);
    drop(out);
    drop(applier.finish());
    assert_eq!(store.alloc_count(), 0);
}

const CLUSTER: &str = "
seed = 7
[nodes gold]
count = 12
datacenter = dc1
class = big
memory = 8192
meta.tier = gold
attr.rack = r1, r2, r3

[nodes plain]
count = 20
datacenter = dc2
memory = 4096

[job api]
count = 30
datacenters = dc1, dc2
cpu = 300
memory = 512
constraint = ${meta.tier} = gold

[job web]
count = 40
copies = 3
datacenters = dc*
cpu = 200
memory = 256
spread = ${node.datacenter}
";

#[test]
fn a_what_if_run_is_deterministic_for_a_seed() {
    let run = |seed: u64| {
        let mut base = Simulator::from_config(CLUSTER).unwrap();
        base.run().unwrap();
        let mut trial = base.fork();
        let mut o = trial.options().clone();
        o.seed = seed;
        trial.set_options(o);
        trial.scale("default", "api", "web", 60).unwrap();
        trial.run().unwrap()
    };
    let a = run(1);
    let b = run(1);
    assert_eq!(a, b);
    assert_eq!(a.placed, 30);
    let c = run(2);
    assert_eq!(c.placed, 30);
    assert_ne!(
        a.placements.iter().map(|p| &p.node_id).collect::<Vec<_>>(),
        c.placements.iter().map(|p| &p.node_id).collect::<Vec<_>>(),
        "another seed shuffles nodes differently"
    );
}

#[test]
fn forks_do_not_disturb_the_baseline() {
    let mut base = Simulator::from_config(CLUSTER).unwrap();
    let first = base.run().unwrap();
    let before = base.utilisation();
    let mut trial = base.fork();
    trial.scale("default", "api", "web", 1000).unwrap();
    let r = trial.run().unwrap();
    assert!(r.unplaced() > 0);
    assert_eq!(base.utilisation(), before);
    assert_eq!(first.placed, 30 + 3 * 40);
    // Constraints held: api only on gold nodes.
    let gold: Vec<&str> = first
        .placements
        .iter()
        .filter(|p| p.job_id == "api")
        .map(|p| p.node_class.as_str())
        .collect();
    assert!(gold.iter().all(|c| *c == "big"), "{gold:?}");
}

#[test]
fn utilisation_numbers_add_up() {
    let mut s = Simulator::from_config(CLUSTER).unwrap();
    let report = s.run().unwrap();
    let u = &report.utilisation;
    let store = s.store();
    let mut sum = Res::default();
    let mut allocs = 0u64;
    for n in &u.nodes {
        // Each node's figures are the sum of its live allocations.
        let mut own = Res::default();
        let mut count = 0;
        for a in store.allocs_by_node(&n.node_id).iter() {
            if !a.client_terminal_status() {
                own.add(alloc_usage(a));
                count += 1;
            }
        }
        assert_eq!((n.used, n.allocs), (own, count), "{}", n.name);
        assert!(
            n.capacity.first_short(n.used).is_none(),
            "{} over capacity",
            n.name
        );
        sum.add(n.used);
        allocs += u64::from(n.allocs);
    }
    assert_eq!(u.total.used, sum);
    assert_eq!(u.total.allocs, allocs);
    assert_eq!(allocs, report.placed);
    for groups in [&u.by_datacenter, &u.by_class] {
        let mut used = Res::default();
        let mut cap = Res::default();
        let mut nodes = 0;
        for t in groups.values() {
            used.add(t.used);
            cap.add(t.capacity);
            nodes += t.nodes;
        }
        assert_eq!(
            (used, cap, nodes),
            (u.total.used, u.total.capacity, u.total.nodes)
        );
    }
    // 30 api allocations of 300 MHz and 120 web ones of 200 MHz.
    assert_eq!(u.total.used.cpu, 30 * 300 + 120 * 200);
    assert_eq!(u.total.capacity.memory_mb, 12 * 8192 + 20 * 4096);
}

#[test]
fn blocked_evaluations_wait_for_capacity() {
    let mut s = sim(1);
    s.add_node_group(&NodeGroup::new("n", 2).memory(1024));
    s.add_jobs(&JobTemplate::new("big", 4).resources(100, 1000))
        .unwrap();
    let r = s.run().unwrap();
    assert_eq!(r.placed, 2);
    assert_eq!(r.unplaced(), 2);
    assert_eq!(r.blocked_evals, 1);
    let f = &r.failures[0];
    assert_eq!(f.metric.dimension_exhausted.get("memory"), Some(&2));
    assert!(!f.explanation().is_empty());
    // New nodes unblock the evaluation, which places the rest.
    s.add_node_group(&NodeGroup::new("more", 2).memory(1024));
    let r = s.run().unwrap();
    assert_eq!(r.placed, 2);
    assert!(r.failures.is_empty());
    assert_eq!(r.blocked_evals, 0);
    assert_eq!(r.evals[0].triggered_by, "queued-allocs");
}

#[test]
fn stopping_a_job_frees_capacity_for_a_blocked_one() {
    let mut s = sim(1);
    s.add_node_group(&NodeGroup::new("n", 2).memory(1024));
    s.add_jobs(&JobTemplate::new("first", 2).resources(100, 1000))
        .unwrap();
    s.add_jobs(&JobTemplate::new("second", 2).resources(100, 1000))
        .unwrap();
    let r = s.run().unwrap();
    assert_eq!(r.placed_by_job.get("first"), Some(&2));
    assert_eq!(r.placed_by_job.get("second"), None);
    s.stop_job("default", "first").unwrap();
    let r = s.run().unwrap();
    assert_eq!(r.placed_by_job.get("second"), Some(&2), "{r}");
    assert_eq!(r.utilisation.total.allocs, 2);
}

#[test]
fn invalid_input_is_an_error_not_a_panic() {
    assert!(Simulator::from_config("[job x]\ncount = -1\n").is_err());
    let mut s = sim(1);
    assert!(s.scale("default", "nope", "web", 1).is_err());
    s.add_jobs(&JobTemplate::new("x", 1)).unwrap();
    assert!(matches!(
        s.scale("default", "x", "nope", 1),
        Err(crate::SimError::UnknownGroup { .. })
    ));
    // A cluster without nodes: every placement fails, nothing panics.
    let r = s.run().unwrap();
    assert_eq!(r.unplaced(), 1);
}

/// Hides the store's node facts: the scheduler then reads every node
/// itself, the path any other store takes.
struct WithoutFacts<'a>(&'a crate::Store);

impl State for WithoutFacts<'_> {
    fn nodes(&self) -> std::borrow::Cow<'_, [Arc<nomad_types::Node>]> {
        self.0.nodes()
    }
    fn nodes_by_pool(&self, pool: &str) -> std::borrow::Cow<'_, [Arc<nomad_types::Node>]> {
        self.0.nodes_by_pool(pool)
    }
    fn schedulable_nodes(
        &self,
        pool: &str,
    ) -> Option<std::borrow::Cow<'_, [Arc<nomad_types::Node>]>> {
        self.0.schedulable_nodes(pool)
    }
    fn node_by_id(&self, id: &str) -> Option<Arc<nomad_types::Node>> {
        self.0.node_by_id(id)
    }
    fn allocs_by_node(&self, node_id: &str) -> std::borrow::Cow<'_, [Arc<Allocation>]> {
        self.0.allocs_by_node(node_id)
    }
    fn node_usage(&self, node_id: &str) -> nomad_scheduler::NodeUsage {
        self.0.node_usage(node_id)
    }
    fn shared_node_id(&self, node: &nomad_types::Node) -> Arc<str> {
        self.0.shared_node_id(node)
    }
    fn allocs_by_job(&self, ns: &str, job_id: &str) -> std::borrow::Cow<'_, [Arc<Allocation>]> {
        self.0.allocs_by_job(ns, job_id)
    }
    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        self.0.alloc_by_id(id)
    }
    fn job_by_id(&self, ns: &str, id: &str) -> Option<Arc<nomad_types::Job>> {
        self.0.job_by_id(ns, id)
    }
    fn job_by_id_and_version(&self, ns: &str, id: &str, v: u64) -> Option<Arc<nomad_types::Job>> {
        self.0.job_by_id_and_version(ns, id, v)
    }
    fn latest_deployment_by_job(
        &self,
        ns: &str,
        job_id: &str,
    ) -> Option<Arc<nomad_types::Deployment>> {
        self.0.latest_deployment_by_job(ns, job_id)
    }
    fn deployment_by_id(&self, id: &str) -> Option<Arc<nomad_types::Deployment>> {
        self.0.deployment_by_id(id)
    }
    fn scheduler_config(&self) -> std::borrow::Cow<'_, nomad_types::SchedulerConfiguration> {
        self.0.scheduler_config()
    }
    fn latest_index(&self) -> u64 {
        self.0.latest_index()
    }
}

/// Keeps every plan, commits it whole.
#[derive(Default)]
struct Keep(Vec<Plan>);

impl<S> Planner<S> for Keep {
    fn submit_plan(
        &mut self,
        plan: &Plan,
    ) -> Result<nomad_scheduler::Submission<S>, nomad_scheduler::PlannerError> {
        self.0.push(plan.clone());
        Ok(nomad_scheduler::Submission::new(
            nomad_scheduler::PlanResult::committed(plan, 1),
        ))
    }
    fn update_eval(
        &mut self,
        _: &nomad_types::Evaluation,
    ) -> Result<(), nomad_scheduler::PlannerError> {
        Ok(())
    }
    fn create_eval(
        &mut self,
        _: &nomad_types::Evaluation,
    ) -> Result<(), nomad_scheduler::PlannerError> {
        Ok(())
    }
    fn reblock_eval(
        &mut self,
        _: &nomad_types::Evaluation,
    ) -> Result<(), nomad_scheduler::PlannerError> {
        Ok(())
    }
}

#[test]
fn node_facts_change_no_decision() {
    let mut s = sim(1);
    for (i, dc) in ["dc1", "dc2", "dc3"].into_iter().enumerate() {
        s.add_node_group(
            &NodeGroup::new(format!("g{i}"), 40)
                .datacenter(dc)
                .class(format!("class-{}", i % 2))
                .cpu(4000, 4)
                .memory(8192)
                .meta("tier", [if i == 1 { "gold" } else { "plain" }]),
        );
    }
    s.add_jobs(
        &JobTemplate::new("base", 150)
            .datacenters(["dc*"])
            .resources(700, 900),
    )
    .unwrap();
    s.run().unwrap();
    let mut spread = JobTemplate::new("spread", 60)
        .datacenters(["dc1", "dc3"])
        .resources(300, 256);
    spread.affinities.push(Affinity {
        l_target: "${meta.tier}".into(),
        operand: "=".into(),
        r_target: "plain".into(),
        weight: Some(50),
    });
    let gold = JobTemplate::new("gold", 30)
        .datacenters(["dc*"])
        .resources(500, 512)
        .constraint("${meta.tier}", "=", "gold");
    for t in [spread, gold] {
        let job = s.add_jobs(&t).unwrap().remove(0);
        let eval = eval_for(&job, "7f0c3e0a-8d2b-4c1e-9a57-0000000000aa");
        let options = nomad_scheduler::SchedulerOptions { now: 0, seed: 7 };
        let (mut with, mut without) = (Keep::default(), Keep::default());
        let a = nomad_scheduler::process_eval(s.store(), &mut with, &eval, &options).unwrap();
        let b =
            nomad_scheduler::process_eval(&WithoutFacts(s.store()), &mut without, &eval, &options)
                .unwrap();
        assert!(a.allocs_placed > 0);
        assert_eq!(a.allocs_placed, b.allocs_placed);
        assert_eq!(
            format!("{:?}", with.0),
            format!("{:?}", without.0),
            "the same plans for {}",
            job.id()
        );
    }
}
