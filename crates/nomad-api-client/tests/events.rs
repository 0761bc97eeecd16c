//! The typed event stream against the in-memory cluster.

use std::sync::Arc;
use std::time::Duration;

use nomad_api::testing::InMemoryCluster;
use nomad_api::ClusterApi;
use nomad_api_client::{Client, Config, EventStreamRequest};
use nomad_types::{Job, Task, TaskGroup};

fn client(cluster: InMemoryCluster) -> (Arc<InMemoryCluster>, Client) {
    let cluster = Arc::new(cluster);
    let address = cluster.clone().spawn().expect("serve");
    let client = Client::new(Config {
        address,
        ..Config::default()
    })
    .expect("client");
    (cluster, client)
}

fn job(id: &str) -> Job {
    let mut j = Job::new(id, "service");
    j.datacenters = vec!["dc1".into()];
    j.task_groups = vec![TaskGroup {
        name: Some("g".into()),
        count: Some(1),
        tasks: vec![Task {
            name: "t".into(),
            driver: "raw_exec".into(),
            ..Task::default()
        }],
        ..TaskGroup::default()
    }];
    j
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("within 10 s")
}

#[tokio::test]
async fn typed_events_filters_and_resume() {
    let (cluster, c) = client(InMemoryCluster::new());
    let node = cluster.add_node("node-a").expect("node");
    let web = cluster.register_job(job("web")).expect("register");

    // A bare topic: node events only.
    let mut nodes = c
        .event_stream(&EventStreamRequest::default().topic("Node", ""))
        .await
        .expect("open");
    let first = within(nodes.next()).await.expect("read").expect("open");
    assert_eq!(first.index, 1);
    assert_eq!(first.events[0].topic, "Node");
    assert_eq!(first.events[0].event_type, "NodeRegistration");
    assert_eq!(first.events[0].key, node);
    assert_eq!(first.events[0].payload.node.as_ref().unwrap().id, node);

    // A key, live.
    let mut jobs = c
        .event_stream(
            &EventStreamRequest::default()
                .topic("Job", "api")
                .from_index(web.job_modify_index + 1),
        )
        .await
        .expect("open");
    let api = cluster.register_job(job("api")).expect("register");
    let got = within(jobs.next()).await.expect("read").expect("open");
    assert_eq!(got.index, api.job_modify_index);
    assert_eq!(got.events[0].event_type, "JobRegistered");
    assert_eq!(got.events[0].payload.job.as_ref().unwrap().id(), "api");
}

#[tokio::test]
async fn heartbeats_and_the_end_of_a_stream() {
    let (cluster, c) =
        client(InMemoryCluster::new().with_event_heartbeat(Duration::from_millis(20)));
    cluster.add_node("node-a").expect("node");
    let mut s = c
        .event_stream(&EventStreamRequest::default().topic("Job", "*"))
        .await
        .expect("open");
    let hb = within(s.next_frame()).await.expect("read").expect("open");
    assert!(hb.is_heartbeat(), "the first line");
    let hb = within(s.next_frame()).await.expect("read").expect("open");
    assert!(hb.is_heartbeat(), "then one per interval");

    let (_, image) = cluster.snapshot_save().await.expect("save");
    cluster.snapshot_restore(image).await.expect("restore");
    let err = within(s.next()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 500 (subscription closed by server, client should resubscribe)"
    );
    assert!(within(s.next()).await.expect("ended").is_none());

    let err = c
        .event_stream(&EventStreamRequest::default().topic("Job:a", "b"))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.status(), Some(400));
}
