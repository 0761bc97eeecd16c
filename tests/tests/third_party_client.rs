//! A program written for Nomad's HTTP API works against ours unchanged:
//! `nomad-client-rs` (a third-party Rust client from crates.io, used as
//! published) drives a dev agent through everything it offers that Nomad's
//! open-source agent serves — status, job parse/register/allocations/stop,
//! dispatch, deployments, client files, allocation restart and the event
//! stream — and its typed models read our jobs, nodes, allocations and
//! evaluations (through its public request builder, for the routes it has
//! no method for).
//!
//! Where the crate itself cannot read a reply that Nomad sends too, the test
//! says so and checks the effect instead (see `restart_is_done`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nomad_client_rs::api::allocation::models::AllocationRestartRequest;
use nomad_client_rs::api::event::models::EventsSubscribeParams;
use nomad_client_rs::api::job::models::{
    JobCreateRequest, JobDispatchRequest, JobListAllocationsParams, JobStopParams, JobsParseRequest,
};
use nomad_client_rs::models::event::{EventPayload, EventTopic, EventType};
use nomad_client_rs::models::{Allocation, Evaluation, Job, JobListStub, Node, NodeListStub};
use nomad_client_rs::{ClientError, Config, NomadClient};
use nomad_e2e::DevAgent;
// The crate's `request` builder takes reqwest's `Method`, which is `http`'s.
use http::Method;

/// A service job whose tasks print a line and then live until this test
/// process exits (raw_exec tasks outlive a killed agent).
fn service_job() -> String {
    format!(
        r#"
job "tpc" {{
  datacenters = ["dc1"]
  type        = "service"
  group "web" {{
    count = 2
    update {{
      max_parallel     = 2
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo hello-from-alloc-$NOMAD_ALLOC_INDEX; exec tail --pid={pid} -f /dev/null"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#,
        pid = std::process::id()
    )
}

const PARAM_JOB: &str = r#"
job "tpc-param" {
  datacenters = ["dc1"]
  type        = "batch"
  parameterized {
    meta_required = ["who"]
    payload       = "forbidden"
  }
  group "g" {
    task "main" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello ${NOMAD_META_who}"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// Polls `f` every 100 ms until it yields a value; fails after `secs`.
async fn wait_for<T, F, Fut>(agent: &DevAgent, what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; agent log:\n{}",
            agent.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client_for(agent: &DevAgent) -> NomadClient {
    let port: u16 = agent
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("agent port");
    NomadClient::new(Config {
        base_url: "http://127.0.0.1".into(),
        port,
        ..Config::default()
    })
}

/// GET `path` through the crate's request builder, read as `T`.
async fn get<T: serde::de::DeserializeOwned>(c: &NomadClient, path: &str) -> Result<T, String> {
    let resp = c
        .request(Method::GET, path)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("GET {path}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {path}: {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}\nbody: {body}"))
}

async fn parse(c: &NomadClient, hcl: &str) -> Job {
    c.job_parse(&JobsParseRequest {
        job_hcl: Some(hcl.to_string()),
        canonicalize: Some(true),
        ..JobsParseRequest::default()
    })
    .await
    .unwrap_or_else(|e| panic!("job_parse: {e:?}"))
}

async fn allocs(c: &NomadClient, job: &str) -> Vec<Allocation> {
    c.job_list_allocations(job, &JobListAllocationsParams { all: Some(true) })
        .await
        .unwrap_or_else(|e| panic!("job_list_allocations: {e:?}"))
}

fn running(list: &[Allocation]) -> Vec<Allocation> {
    list.iter()
        .filter(|a| a.client_status.as_deref() == Some("running"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_client_rs_drives_our_agent_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = DevAgent::start(dir.path());
    let c = client_for(&agent);

    // Status: the leader is a socket address, and one of the peers.
    let leader = wait_for(&agent, "a leader", 20, || async {
        c.status_get_leader().await.ok().filter(|l| !l.is_empty())
    })
    .await;
    leader
        .parse::<SocketAddr>()
        .unwrap_or_else(|e| panic!("leader {leader:?} is not host:port: {e}"));
    let peers = c.status_get_peers().await.expect("status_get_peers");
    assert!(peers.contains(&leader), "{leader} not in {peers:?}");

    // Nodes, read into the crate's models.
    let node_id = wait_for(&agent, "a ready node", 30, || async {
        let nodes: Vec<NodeListStub> = get(&c, "/nodes").await.ok()?;
        nodes
            .into_iter()
            .find(|n| n.status.as_deref() == Some("ready"))
            .and_then(|n| n.id)
    })
    .await;
    let node: Node = get(&c, &format!("/node/{node_id}"))
        .await
        .expect("read node");
    assert_eq!(node.id.as_deref(), Some(node_id.as_str()));
    assert_eq!(node.scheduling_eligibility.as_deref(), Some("eligible"));
    assert!(
        node.drivers
            .as_ref()
            .and_then(|d| d.get("raw_exec"))
            .and_then(|d| d.healthy)
            .unwrap_or(false),
        "raw_exec is not a healthy driver of {node:?}"
    );

    // The event stream, as the crate subscribes to it.
    let mut params = EventsSubscribeParams::default();
    params.add_topic(EventTopic::Job);
    params.add_topic(EventTopic::Allocation);
    let (events, mut rx) = c.events_subscribe(&params);

    // Parse HCL on the server, register the job it returns.
    let job = parse(&c, &service_job()).await;
    assert_eq!(job.id.as_deref(), Some("tpc"));
    assert_eq!(job._type.as_deref(), Some("service"));
    let groups = job.task_groups.clone().unwrap_or_default();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].count, Some(2));
    let created = c
        .job_create(&JobCreateRequest {
            job: Some(job),
            ..JobCreateRequest::default()
        })
        .await
        .unwrap_or_else(|e| panic!("job_create: {e:?}"));
    let eval_id = created.eval_id.clone().expect("an evaluation ID");
    assert!(created.job_modify_index.unwrap_or(0) > 0, "{created:?}");

    // Read back: the job, the list, the evaluation.
    let read: Job = get(&c, "/job/tpc").await.expect("read job");
    assert_eq!(read.name.as_deref(), Some("tpc"));
    assert_eq!(read.version, Some(0));
    let list: Vec<JobListStub> = get(&c, "/jobs").await.expect("list jobs");
    assert!(
        list.iter().any(|j| j.id.as_deref() == Some("tpc")),
        "{list:?}"
    );
    let eval: Evaluation = get(&c, &format!("/evaluation/{eval_id}"))
        .await
        .expect("read evaluation");
    assert_eq!(eval.job_id.as_deref(), Some("tpc"));
    assert_eq!(eval.triggered_by.as_deref(), Some("job-register"));

    // Both allocations running, read through the crate's allocation model.
    let live = wait_for(&agent, "two running allocations", 30, || async {
        let r = running(&allocs(&c, "tpc").await);
        (r.len() == 2).then_some(r)
    })
    .await;
    for a in &live {
        assert_eq!(a.node_id.as_deref(), Some(node_id.as_str()));
        assert_eq!(a.job_id.as_deref(), Some("tpc"));
        let id = a.id.clone().expect("alloc ID");
        let full: Allocation = get(&c, &format!("/allocation/{id}"))
            .await
            .expect("read allocation");
        assert_eq!(full.task_group.as_deref(), Some("web"));
        let state = full
            .task_states
            .as_ref()
            .and_then(|s| s.get("t"))
            .cloned()
            .expect("task state of t");
        assert_eq!(state.state.as_deref(), Some("running"));
    }

    // Client files: the task's log, listed, stat'ed and read.
    let alloc = live[0].id.clone().expect("alloc ID");
    let index = live[0]
        .name
        .as_deref()
        .and_then(|n| n.rsplit('[').next())
        .map(|n| n.trim_end_matches(']').to_string())
        .expect("alloc index");
    let files = wait_for(&agent, "the task's stdout log", 20, || async {
        let files = c
            .client_list_files(&alloc, Some("alloc/logs".into()))
            .await
            .ok()?;
        files
            .iter()
            .any(|f| f.name.as_deref() == Some("t.stdout.0"))
            .then_some(files)
    })
    .await;
    assert!(files.iter().all(|f| f.is_dir == Some(false)), "{files:?}");
    let out = wait_for(&agent, "the task's output", 20, || async {
        let s = c
            .client_get_file(&alloc, "alloc/logs/t.stdout.0")
            .await
            .ok()?;
        s.contains("hello-from-alloc").then_some(s)
    })
    .await;
    assert_eq!(out, format!("hello-from-alloc-{index}\n"));
    let info = c
        .client_get_file_info(&alloc, "alloc/logs/t.stdout.0")
        .await
        .unwrap_or_else(|e| panic!("client_get_file_info: {e:?}"));
    assert_eq!(info.size, Some(out.len() as i64));
    assert_eq!(info.is_dir, Some(false));

    // Restart the task: it runs again and says so in its task state.
    let restarted = c
        .allocation_restart(
            &alloc,
            &AllocationRestartRequest {
                task_name: Some("t".into()),
                all_tasks: None,
            },
        )
        .await;
    restart_is_done(restarted);
    wait_for(&agent, "the task restarted", 30, || async {
        let a: Allocation = get(&c, &format!("/allocation/{alloc}")).await.ok()?;
        let t = a.task_states?.get("t").cloned()?;
        (t.restarts == Some(1) && t.state.as_deref() == Some("running")).then_some(())
    })
    .await;

    // The deployment of version 0, its allocations.
    let dep = wait_for(&agent, "the job's deployment", 20, || async {
        let list = c.deployment_list(None).await.ok()?;
        list.into_iter()
            .find(|d| d.job_id.as_deref() == Some("tpc"))
    })
    .await;
    let dep_id = dep.id.clone().expect("deployment ID");
    let again = c
        .deployment_get(&dep_id)
        .await
        .unwrap_or_else(|e| panic!("deployment_get: {e:?}"));
    assert_eq!(again.job_version, Some(0));
    assert!(again
        .task_groups
        .as_ref()
        .and_then(|g| g.get("web"))
        .is_some_and(|g| g.desired_total == Some(2)));
    let dep_allocs = c
        .deployment_allocation_list(&dep_id)
        .await
        .unwrap_or_else(|e| panic!("deployment_allocation_list: {e:?}"));
    assert_eq!(dep_allocs.len(), 2, "{dep_allocs:?}");

    // The events of all this, typed by the crate.
    let mut registered = false;
    let mut alloc_events = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(registered && alloc_events >= 2) {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("event stream ended: {:?}", events.await),
            Err(_) => panic!(
                "no JobRegistered and 2 allocation events in 10 s (registered {registered}, {alloc_events} allocation events)"
            ),
        };
        match (&ev.topic, &ev._type, &ev.payload) {
            (Some(EventTopic::Job), Some(EventType::JobRegistered), Some(EventPayload::Job(j)))
                if j.id.as_deref() == Some("tpc") =>
            {
                assert_eq!(ev.key, "tpc");
                assert_eq!(ev.namespace, "default");
                registered = true;
            }
            (Some(EventTopic::Allocation), _, Some(EventPayload::Allocation(a)))
                if a.job_id.as_deref() == Some("tpc") =>
            {
                alloc_events += 1;
            }
            _ => {}
        }
    }
    events.abort();

    // Dispatch a parameterized job; an unknown one is refused.
    let param = parse(&c, PARAM_JOB).await;
    c.job_create(&JobCreateRequest {
        job: Some(param),
        ..JobCreateRequest::default()
    })
    .await
    .unwrap_or_else(|e| panic!("job_create (parameterized): {e:?}"));
    let dispatched = c
        .job_dispatch(
            "tpc-param",
            &JobDispatchRequest {
                meta: Some([("who".to_string(), "crates-io".to_string())].into()),
                ..JobDispatchRequest::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("job_dispatch: {e:?}"));
    let child = dispatched.dispatched_job_id.expect("a dispatched job ID");
    assert!(child.starts_with("tpc-param/dispatch-"), "{child}");
    assert!(dispatched.eval_id.is_some());
    let done = wait_for(
        &agent,
        "the dispatched job's allocation complete",
        30,
        || async {
            let a = allocs(&c, &child).await;
            a.into_iter()
                .find(|a| a.client_status.as_deref() == Some("complete"))
        },
    )
    .await;
    let out = c
        .client_get_file(
            done.id.as_deref().expect("alloc ID"),
            "alloc/logs/main.stdout.0",
        )
        .await
        .unwrap_or_else(|e| panic!("client_get_file: {e:?}"));
    assert_eq!(out, "hello crates-io\n");
    match c
        .job_dispatch("not-existing", &JobDispatchRequest::default())
        .await
    {
        Err(ClientError::ServerError(code, msg)) => {
            assert!(code == 404 || code == 500, "{code}: {msg}");
            assert_eq!(msg, "parameterized job not found");
        }
        other => panic!("dispatching an unknown job: {other:?}"),
    }

    // Stop: the allocations stop; purge: the job is gone.
    let stopped = c
        .job_stop("tpc", &JobStopParams::default())
        .await
        .unwrap_or_else(|e| panic!("job_stop: {e:?}"));
    assert!(stopped.eval_id.is_some(), "{stopped:?}");
    wait_for(&agent, "the allocations stopped", 30, || async {
        let a = allocs(&c, "tpc").await;
        a.iter()
            .all(|a| {
                a.desired_status.as_deref() == Some("stop")
                    && a.client_status.as_deref() != Some("running")
            })
            .then_some(())
    })
    .await;
    let stopped: Job = get(&c, "/job/tpc").await.expect("read stopped job");
    assert_eq!(stopped.stop, Some(true));
    for job in ["tpc", "tpc-param"] {
        c.job_stop(
            job,
            &JobStopParams {
                purge: Some(true),
                ..JobStopParams::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("job_stop purge {job}: {e:?}"));
    }
    let gone = get::<Job>(&c, "/job/tpc").await;
    assert!(
        gone.as_ref().is_err_and(|e| e.contains("404")),
        "purged job still readable: {gone:?}"
    );
    drop(agent);
}

/// `allocation_restart` reads the reply as `()`, i.e. JSON `null`; Nomad
/// answers with a JSON object (as we do), so the crate reports a
/// deserialization error after a successful restart. Anything else is ours.
fn restart_is_done(r: Result<(), ClientError>) {
    match r {
        Ok(()) | Err(ClientError::DeserializationError(_)) => {}
        Err(e) => panic!("allocation_restart: {e:?}"),
    }
}
