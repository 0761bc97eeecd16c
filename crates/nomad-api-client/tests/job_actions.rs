//! The typed job, deployment and node actions against the in-memory
//! cluster: revert, stable, dispatch, periodic force, scale and its status,
//! deployment promote/fail/pause, node drain and eligibility.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;
use nomad_api_client::{Client, Config, Dispatch, QueryOptions};
use nomad_types::api::{JobRegisterRequest, NodeUpdateDrainRequest};
use nomad_types::node::DrainSpec;
use nomad_types::{Job, Nanos};

fn client(cluster: InMemoryCluster) -> (Arc<InMemoryCluster>, Client) {
    let cluster = Arc::new(cluster);
    cluster.add_node("node-a").expect("node");
    let address = cluster.clone().spawn().expect("serve");
    let client = Client::new(Config {
        address,
        ..Config::default()
    })
    .expect("client");
    (cluster, client)
}

fn job(json: &str) -> Job {
    nomad_types::json::from_str(json).expect("job")
}

const SERVICE: &str = r#"{"ID": "web", "Type": "service", "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "g", "Count": 1,
    "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx:1"}}]}]}"#;

async fn register(c: &Client, j: Job) {
    c.job_register(&JobRegisterRequest {
        job: Some(j),
        ..JobRegisterRequest::default()
    })
    .await
    .expect("register");
}

#[tokio::test]
async fn revert_stable_and_scale() {
    let (_cluster, c) = client(InMemoryCluster::new());
    register(&c, job(SERVICE)).await;
    register(&c, job(&SERVICE.replace("nginx:1", "nginx:2"))).await;

    let r = c.job_revert("web", 0, Some(1), "").await.expect("revert");
    assert!(!r.eval_id.is_empty());
    let err = c.job_revert("web", 0, Some(1), "").await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 400 (Current job has version 2; enforcing version 1)"
    );
    let s = c
        .job_stable("web", 1, true, "default")
        .await
        .expect("stable");
    assert!(s.index > 0);
    let err = c.job_stable("nope", 0, true, "").await.unwrap_err();
    assert_eq!(err.status(), Some(404));

    let r = c
        .job_scale("web", "g", Some(2), "by the test", "")
        .await
        .expect("scale");
    assert!(!r.eval_id.is_empty());
    let (s, meta) = c
        .job_scale_status("web", &QueryOptions::default())
        .await
        .expect("status");
    assert!(meta.last_index > 0);
    let g = &s.task_groups["g"];
    assert_eq!((g.desired, g.placed), (2, 2));
    assert_eq!(g.events[0].message, "by the test");
    assert_eq!(g.events[0].count, Some(2));
    let err = c
        .job_scale("web", "nope", Some(1), "", "")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn dispatch_and_periodic_force() {
    let (cluster, c) = client(InMemoryCluster::new());
    register(
        &c,
        job(r#"{"ID": "p", "Type": "batch", "Datacenters": ["dc1"],
          "ParameterizedJob": {"Payload": "required"},
          "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/true"}}]}]}"#),
    )
    .await;
    let d = Dispatch {
        job_id: "p",
        meta: BTreeMap::new(),
        payload: b"\x00binary\xff",
        idempotency_token: "once",
        ..Dispatch::default()
    };
    let r = c.job_dispatch(&d).await.expect("dispatch");
    assert!(r.dispatched_job_id.starts_with("p/dispatch-"));
    let child = cluster
        .reader()
        .snapshot()
        .job_by_id("default", &r.dispatched_job_id)
        .expect("child");
    assert_eq!(child.payload.as_deref(), Some("AGJpbmFyef8="));
    assert_eq!(child.dispatch_idempotency_token.as_deref(), Some("once"));
    let again = c.job_dispatch(&d).await.expect("dispatch");
    assert_eq!(again.dispatched_job_id, r.dispatched_job_id);
    let err = c
        .job_dispatch(&Dispatch {
            job_id: "p",
            ..Dispatch::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 400 (Payload is not provided but required by parameterized job)"
    );

    register(
        &c,
        job(r#"{"ID": "c", "Type": "batch", "Datacenters": ["dc1"],
          "Periodic": {"Enabled": true, "SpecType": "cron", "Spec": "0 * * * *"},
          "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/true"}}]}]}"#),
    )
    .await;
    let f = c.job_periodic_force("c", "").await.expect("force");
    assert!(!f.eval_id.is_empty() && f.index > 0);
    let err = c.job_periodic_force("p", "").await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn deployments_and_nodes() {
    let (cluster, c) = client(InMemoryCluster::new().with_deployments());
    register(&c, job(SERVICE)).await;
    let (d, _) = c
        .job_latest_deployment("web", &QueryOptions::default())
        .await
        .expect("deployment");
    let d = d.expect("a deployment");
    let u = c.deployment_pause(&d.id, true).await.expect("pause");
    assert!(u.eval_id.is_empty());
    let u = c.deployment_pause(&d.id, false).await.expect("resume");
    assert!(!u.eval_id.is_empty());
    let u = c.deployment_fail(&d.id).await.expect("fail");
    assert_eq!(u.reverted_job_version, None);
    let err = c
        .deployment_promote(&d.id, true, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 400 (can't promote terminal deployment)"
    );

    let node = cluster.reader().snapshot().nodes()[0].id.clone();
    let r = c
        .node_drain(&NodeUpdateDrainRequest {
            node_id: node.clone(),
            drain_spec: Some(DrainSpec {
                deadline: Nanos(60_000_000_000),
                ignore_system_jobs: false,
            }),
            ..NodeUpdateDrainRequest::default()
        })
        .await
        .expect("drain");
    assert!(r.index > 0);
    let err = c.node_eligibility(&node, true).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    c.node_drain(&NodeUpdateDrainRequest {
        node_id: node.clone(),
        mark_eligible: true,
        ..NodeUpdateDrainRequest::default()
    })
    .await
    .expect("undrain");
    c.node_eligibility(&node, false).await.expect("ineligible");
    let (n, _) = c
        .node_info(&node, &QueryOptions::default())
        .await
        .expect("node");
    assert_eq!(n.scheduling_eligibility, "ineligible");
}
