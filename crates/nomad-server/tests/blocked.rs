//! Blocked evaluations keyed by computed node class: capacity on a class
//! the evaluation found ineligible leaves it blocked; a class it could use
//! unblocks it; an evaluation whose constraints escaped computed classes
//! unblocks on any capacity change.

use std::sync::Arc;
use std::time::Duration;

use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_server::Server;
use nomad_types::consts::eval_status;
use nomad_types::{Allocation, Constraint, Evaluation, Job, Node};

const T: Duration = Duration::from_secs(10);

fn node(name: &str, class: &str) -> Node {
    let mut n = testing::node(name, 4000, 8192);
    n.node_class = class.to_string();
    n.computed_class = n.compute_class();
    n
}

fn constrained(id: &str, l: &str, r: &str) -> Job {
    let mut j = service_job(id, 1, 500);
    j.constraints.push(Constraint {
        l_target: l.into(),
        r_target: r.into(),
        operand: "=".into(),
    });
    j
}

fn live(s: &Server, job: &str) -> Vec<Arc<Allocation>> {
    s.state()
        .snapshot()
        .allocs_by_job("default", job)
        .iter()
        .filter(|a| !a.terminal_status())
        .cloned()
        .collect()
}

/// The job's blocked evaluation once the blocked set holds it.
async fn blocked_eval(s: &Server, job: &str) -> Arc<Evaluation> {
    let find = || {
        s.state()
            .snapshot()
            .evals_by_job("default", job)
            .iter()
            .find(|e| e.status == eval_status::BLOCKED && s.blocked().contains(&e.id))
            .cloned()
    };
    assert!(
        testing::wait_until(T, || find().is_some()).await,
        "{job} not blocked"
    );
    find().expect("blocked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_on_an_ineligible_class_leaves_the_eval_blocked() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let cpu1 = SimClient::join(&s, node("cpu1", "cpu"))
        .await
        .expect("join");
    let mut hbs = vec![cpu1.keep_alive(Duration::from_millis(100))];
    s.job_register(register(constrained("gpu-job", "${node.class}", "gpu")))
        .await
        .expect("register");
    let b = blocked_eval(&s, "gpu-job").await;
    assert!(!b.escaped_computed_class);
    assert_eq!(
        b.class_eligibility.get(&cpu1.node.computed_class),
        Some(&false),
        "{:?}",
        b.class_eligibility
    );
    assert!(
        b.snapshot_index > 0,
        "blocked eval without a snapshot index"
    );

    // More of the class it cannot use: not handed back to the schedulers
    // (a reprocessed evaluation would be re-blocked with a new index).
    let cpu2 = SimClient::join(&s, node("cpu2", "cpu"))
        .await
        .expect("join");
    assert_eq!(cpu2.node.computed_class, cpu1.node.computed_class);
    hbs.push(cpu2.keep_alive(Duration::from_millis(100)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = s.state().snapshot().eval_by_id(&b.id).expect("eval");
    assert_eq!(now.modify_index, b.modify_index, "eval was reprocessed");
    assert!(s.blocked().contains(&b.id));
    assert!(live(&s, "gpu-job").is_empty());

    // A class it can use.
    let gpu = SimClient::join(&s, node("gpu1", "gpu"))
        .await
        .expect("join");
    hbs.push(gpu.keep_alive(Duration::from_millis(100)));
    assert!(
        testing::wait_until(T, || live(&s, "gpu-job")
            .first()
            .is_some_and(|a| a.node_id == gpu.node.id))
        .await,
        "not placed on the gpu node"
    );
    assert!(testing::wait_until(T, || s.blocked().is_empty()).await);
    for h in hbs {
        h.abort();
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escaped_eval_unblocks_on_any_class() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let a = SimClient::join(&s, node("a", "cpu")).await.expect("join");
    let mut hbs = vec![a.keep_alive(Duration::from_millis(100))];
    s.job_register(register(constrained(
        "pinned",
        "${node.unique.name}",
        "special",
    )))
    .await
    .expect("register");
    let b = blocked_eval(&s, "pinned").await;
    assert!(b.escaped_computed_class, "{b:?}");

    // Same computed class as `a`, which a captured evaluation would have
    // recorded as ineligible; the escaped one is retried and fits.
    let special = SimClient::join(&s, node("special", "cpu"))
        .await
        .expect("join");
    assert_eq!(special.node.computed_class, a.node.computed_class);
    hbs.push(special.keep_alive(Duration::from_millis(100)));
    assert!(
        testing::wait_until(T, || live(&s, "pinned")
            .first()
            .is_some_and(|al| al.node_id == special.node.id))
        .await,
        "escaped eval not unblocked"
    );
    for h in hbs {
        h.abort();
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_allocation_unblocks_its_class() {
    let s = testing::start(testing::test_config()).await.expect("start");
    // 4000 MHz: the batch allocation (500) and the second job's (3600) do
    // not fit together.
    let c = SimClient::join(&s, node("n", "cpu")).await.expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    s.job_register(register(testing::batch_job("first", 1)))
        .await
        .expect("first");
    let big = service_job("second", 1, 3600);
    assert!(testing::wait_until(T, || c.allocs().len() == 1).await);
    s.job_register(register(big)).await.expect("second");
    blocked_eval(&s, "second").await;
    // The batch allocation finishes: its node's class has room again.
    c.complete_all().await.expect("complete");
    assert!(
        testing::wait_until(T, || live(&s, "second").len() == 1).await,
        "not unblocked by the finished allocation"
    );
    hb.abort();
    s.shutdown().await;
}

/// Workers hand an evaluation's last write to a task and go on; the
/// evaluation is acknowledged once that write commits. A burst of
/// evaluations no node can place must each end complete with exactly one
/// blocked evaluation (none processed twice, none left unacknowledged), and
/// every deployment the plans created is in the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unplaceable_evaluations_is_worked_off_once_each() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let jobs: Vec<String> = (0..60).map(|i| format!("burst-{i}")).collect();
    let mut regs = Vec::new();
    for id in &jobs {
        let s = s.clone();
        let job = constrained(id, "${attr.kernel.name}", "no-such-os");
        regs.push(tokio::spawn(
            async move { s.job_register(register(job)).await },
        ));
    }
    for r in regs {
        r.await.expect("task").expect("register");
    }
    let settled = |job: &str| {
        let snap = s.state().snapshot();
        let evals = snap.evals_by_job("default", job);
        let complete = evals.iter().filter(|e| e.status == eval_status::COMPLETE);
        let blocked = evals.iter().filter(|e| e.status == eval_status::BLOCKED);
        (complete.count(), blocked.count(), evals.len())
    };
    assert!(
        testing::wait_until(T, || jobs.iter().all(|j| settled(j) == (1, 1, 2))).await,
        "not every evaluation ended complete with one blocked one: {:?}",
        jobs.iter()
            .map(|j| (j.as_str(), settled(j)))
            .filter(|(_, c)| *c != (1, 1, 2))
            .collect::<Vec<_>>()
    );
    assert!(
        testing::wait_until(T, || {
            let st = s.broker().stats();
            st.ready == 0 && st.unacked == 0 && st.pending == 0
        })
        .await,
        "broker still holds evaluations: {:?}",
        s.broker().stats()
    );
    let snap = s.state().snapshot();
    for j in &jobs {
        assert_eq!(
            snap.deployments_by_job("default", j).len(),
            1,
            "{j}: the plan's deployment"
        );
    }
}
