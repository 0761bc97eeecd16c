//! The job actions (`revert`, `stable`, `dispatch`, `periodic/force`,
//! `scale`), the deployment actions and node drain/eligibility against the
//! in-memory cluster: Nomad's JSON, status codes and texts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_api::testing::InMemoryCluster;
use serde_json::{json, Value};

const JOB: &str = r#"{"Job": {"ID": "example", "Name": "example", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "cache", "Count": 1,
    "Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"}}]}]}}"#;

struct Env {
    base: String,
    http: reqwest::Client,
    cluster: Arc<InMemoryCluster>,
}

async fn env_with(cluster: InMemoryCluster) -> Env {
    let cluster = Arc::new(cluster);
    cluster.add_node("node-a").expect("node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let api: Arc<dyn nomad_api::ClusterApi> = cluster.clone();
    tokio::spawn(nomad_api::serve(listener, api, std::future::pending()));
    let e = Env {
        base,
        http: reqwest::Client::new(),
        cluster,
    };
    e.ok("PUT", "/v1/jobs", Some(JOB)).await;
    e
}

async fn env() -> Env {
    env_with(InMemoryCluster::new()).await
}

impl Env {
    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let resp = rb.send().await.expect("send");
        let code = resp.status().as_u16();
        let index = resp
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .map(|v| json!(v))
            .unwrap_or(Value::Null);
        let text = resp.text().await.expect("body");
        (code, index, text)
    }

    /// A 200 with a JSON body that has an `X-Nomad-Index`.
    async fn ok(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (code, index, text) = self.send(method, path, body).await;
        assert_eq!(code, 200, "{method} {path}: {text}");
        assert!(!index.is_null(), "{method} {path}: no X-Nomad-Index");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn fails(&self, method: &str, path: &str, body: Option<&str>, code: u16, text: &str) {
        let (got, _, got_text) = self.send(method, path, body).await;
        assert_eq!(got, code, "{method} {path}: {got_text}");
        assert!(
            got_text.contains(text),
            "{method} {path}: {got_text:?} lacks {text:?}"
        );
    }
}

fn keys(v: &Value, want: &[&str]) {
    for k in want {
        assert!(v.get(*k).is_some(), "missing {k} in {v}");
    }
}

#[tokio::test]
async fn revert_and_stable() {
    let e = env().await;
    // Version 1: a new image.
    let v1 = JOB.replace("redis:7", "redis:8");
    e.ok("PUT", "/v1/jobs", Some(&v1)).await;

    let r = e
        .ok(
            "PUT",
            "/v1/job/example/revert",
            Some(r#"{"JobID":"example","JobVersion":0}"#),
        )
        .await;
    keys(
        &r,
        &["EvalID", "EvalCreateIndex", "JobModifyIndex", "Index"],
    );
    assert!(!r["EvalID"].as_str().unwrap_or("").is_empty(), "{r}");
    let job = e.ok("GET", "/v1/job/example", None).await;
    assert_eq!(job["Version"], 2);
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "redis:7",
        "version 0's spec is back"
    );

    let bad: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("GET", "/v1/job/example/revert", None, 405, "Invalid method"),
        (
            "PUT",
            "/v1/job/example/revert",
            Some(r#"{"JobVersion":0}"#),
            400,
            "JobID must be specified",
        ),
        (
            "POST",
            "/v1/job/example/revert",
            Some(r#"{"JobID":"other","JobVersion":0}"#),
            400,
            "Job ID does not match",
        ),
        (
            "PUT",
            "/v1/job/example/revert",
            Some(r#"{"JobID":"example","JobVersion":2}"#),
            400,
            "can't revert to current version",
        ),
        (
            "PUT",
            "/v1/job/example/revert",
            Some(r#"{"JobID":"example","JobVersion":1,"EnforcePriorVersion":7}"#),
            400,
            "Current job has version 2; enforcing version 7",
        ),
        (
            "PUT",
            "/v1/job/example/revert",
            Some(r#"{"JobID":"example","JobVersion":9}"#),
            404,
            "job \"example\" in namespace \"default\" at version 9 not found",
        ),
        (
            "PUT",
            "/v1/job/nope/revert",
            Some(r#"{"JobID":"nope","JobVersion":0}"#),
            404,
            "job \"nope\" not found",
        ),
        ("PUT", "/v1/job/example/revert", Some("{"), 400, ""),
        (
            "PUT",
            "/v1/job/example/stable",
            Some(r#"{"JobVersion":1}"#),
            400,
            "JobID must be specified",
        ),
        (
            "PUT",
            "/v1/job/example/stable",
            Some(r#"{"JobID":"x","JobVersion":1}"#),
            400,
            "Job ID does not match",
        ),
        (
            "PUT",
            "/v1/job/example/stable",
            Some(r#"{"JobID":"example","JobVersion":42,"Stable":true}"#),
            404,
            "at version 42 not found",
        ),
        (
            "DELETE",
            "/v1/job/example/stable",
            None,
            405,
            "Invalid method",
        ),
    ];
    for (m, p, b, code, text) in bad {
        e.fails(m, p, *b, *code, text).await;
    }

    let s = e
        .ok(
            "PUT",
            "/v1/job/example/stable",
            Some(r#"{"JobID":"example","JobVersion":1,"Stable":true}"#),
        )
        .await;
    keys(&s, &["Index"]);
    let versions = e.ok("GET", "/v1/job/example/versions", None).await;
    let v1 = versions["Versions"]
        .as_array()
        .and_then(|v| v.iter().find(|j| j["Version"] == 1))
        .cloned()
        .unwrap_or_default();
    assert_eq!(v1["Stable"], true, "{versions}");
}

const PARAM_JOB: &str = r#"{"Job": {"ID": "batchp", "Type": "batch", "Datacenters": ["dc1"],
  "ParameterizedJob": {"Payload": "optional", "MetaRequired": ["who"], "MetaOptional": ["extra"]},
  "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
    "Config": {"command": "/bin/true"}}]}]}}"#;

#[tokio::test]
async fn dispatch_with_meta_payload_and_idempotency() {
    let e = env().await;
    e.ok("PUT", "/v1/jobs", Some(PARAM_JOB)).await;
    let body = json!({"Meta": {"who": "me"}, "Payload": "aGVsbG8=", "IdPrefixTemplate": "tmpl"})
        .to_string();
    let d = e
        .ok(
            "PUT",
            "/v1/job/batchp/dispatch?idempotency_token=tok-1",
            Some(&body),
        )
        .await;
    keys(
        &d,
        &[
            "DispatchedJobID",
            "EvalID",
            "EvalCreateIndex",
            "JobCreateIndex",
            "Index",
        ],
    );
    let child = d["DispatchedJobID"].as_str().expect("id").to_string();
    assert!(child.starts_with("batchp/dispatch-tmpl-"), "{child}");
    let job = e.ok("GET", &format!("/v1/job/{child}"), None).await;
    assert_eq!(job["ParentID"], "batchp");
    assert_eq!(job["Dispatched"], true);
    assert_eq!(job["Meta"]["who"], "me");
    assert_eq!(job["DispatchIdempotencyToken"], "tok-1");
    assert_eq!(job["Payload"], "aGVsbG8=");

    // The same token gives back the same child, without an evaluation.
    let again = e
        .ok(
            "POST",
            "/v1/job/batchp/dispatch?idempotency_token=tok-1",
            Some(&body),
        )
        .await;
    assert_eq!(again["DispatchedJobID"], child.as_str());
    assert_eq!(again["EvalID"], "");

    let bad: &[(&str, &str, Option<&str>, u16, &str)] = &[
        (
            "GET",
            "/v1/job/batchp/dispatch",
            None,
            405,
            "Invalid method",
        ),
        (
            "PUT",
            "/v1/job/batchp/dispatch",
            Some(r#"{"JobID":"other"}"#),
            400,
            "Job ID does not match",
        ),
        (
            "PUT",
            "/v1/job/batchp/dispatch",
            Some(r#"{"Meta":{"who":"x"},"Payload":"!!"}"#),
            400,
            "Payload",
        ),
        (
            "PUT",
            "/v1/job/batchp/dispatch",
            Some(r#"{"Meta":{}}"#),
            400,
            "Dispatch did not provide required meta keys: [who]",
        ),
        (
            "PUT",
            "/v1/job/batchp/dispatch",
            Some(r#"{"Meta":{"who":"x","bogus":"y"}}"#),
            400,
            "Dispatch request included unpermitted metadata keys: [bogus]",
        ),
        (
            "PUT",
            "/v1/job/example/dispatch",
            Some("{}"),
            400,
            "Specified job \"example\" is not a parameterized job",
        ),
        (
            "PUT",
            "/v1/job/nope/dispatch",
            Some("{}"),
            404,
            "parameterized job not found",
        ),
    ];
    for (m, p, b, code, text) in bad {
        e.fails(m, p, *b, *code, text).await;
    }
}

const PERIODIC_JOB: &str = r#"{"Job": {"ID": "cron", "Type": "batch", "Datacenters": ["dc1"],
  "Periodic": {"Enabled": true, "SpecType": "cron", "Spec": "*/15 * * * *"},
  "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
    "Config": {"command": "/bin/true"}}]}]}}"#;

#[tokio::test]
async fn periodic_force_launches_a_child() {
    let e = env().await;
    e.ok("PUT", "/v1/jobs", Some(PERIODIC_JOB)).await;
    let f = e.ok("PUT", "/v1/job/cron/periodic/force", None).await;
    keys(&f, &["EvalID", "EvalCreateIndex", "Index"]);
    let eval = e
        .ok(
            "GET",
            &format!("/v1/evaluation/{}", f["EvalID"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(eval["TriggeredBy"], "periodic-job");
    let child = eval["JobID"].as_str().expect("job").to_string();
    assert!(child.starts_with("cron/periodic-"), "{child}");
    let summary = e.ok("GET", "/v1/job/cron/summary", None).await;
    let c = &summary["Children"];
    assert_eq!(
        c["Pending"].as_u64().unwrap_or(0) + c["Running"].as_u64().unwrap_or(0),
        1,
        "{summary}"
    );

    e.fails(
        "GET",
        "/v1/job/cron/periodic/force",
        None,
        405,
        "Invalid method",
    )
    .await;
    e.fails(
        "PUT",
        "/v1/job/example/periodic/force",
        None,
        400,
        "can't force launch non-periodic job",
    )
    .await;
    e.fails(
        "PUT",
        "/v1/job/nope/periodic/force",
        None,
        404,
        "job not found",
    )
    .await;
}

#[tokio::test]
async fn scale_and_scale_status() {
    let e = env().await;
    let s = e.ok("GET", "/v1/job/example/scale", None).await;
    keys(
        &s,
        &[
            "JobID",
            "Namespace",
            "JobCreateIndex",
            "JobModifyIndex",
            "JobStopped",
            "TaskGroups",
        ],
    );
    keys(
        &s["TaskGroups"]["cache"],
        &[
            "Desired",
            "Placed",
            "Running",
            "Healthy",
            "Unhealthy",
            "Events",
        ],
    );
    assert_eq!(s["TaskGroups"]["cache"]["Desired"], 1);
    assert_eq!(s["TaskGroups"]["cache"]["Placed"], 1);
    assert_eq!(s["TaskGroups"]["cache"]["Events"], Value::Null);

    let body = json!({"Count": 3, "Target": {"Job": "example", "Group": "cache"},
        "Message": "more"})
    .to_string();
    let r = e.ok("PUT", "/v1/job/example/scale", Some(&body)).await;
    keys(
        &r,
        &["EvalID", "EvalCreateIndex", "JobModifyIndex", "Index"],
    );
    let eval = e
        .ok(
            "GET",
            &format!("/v1/evaluation/{}", r["EvalID"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(eval["TriggeredBy"], "job-scaling");
    // An event without a count records only the event.
    let body = json!({"Target": {"Group": "cache"}, "Message": "note", "Error": true}).to_string();
    e.ok("POST", "/v1/job/example/scale", Some(&body)).await;

    let s = e.ok("GET", "/v1/job/example/scale", None).await;
    let g = &s["TaskGroups"]["cache"];
    assert_eq!(
        (g["Desired"].clone(), g["Placed"].clone()),
        (json!(3), json!(3))
    );
    let events = g["Events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{s}");
    assert_eq!(events[0]["Message"], "note", "newest first");
    assert_eq!(events[0]["Count"], Value::Null);
    assert_eq!(events[0]["Error"], true);
    assert_eq!(events[1]["Count"], 3);
    assert_eq!(events[1]["PreviousCount"], 1);
    assert_eq!(events[1]["EvalID"], r["EvalID"]);
    keys(
        &events[1],
        &[
            "Time",
            "Count",
            "PreviousCount",
            "Message",
            "Error",
            "Meta",
            "EvalID",
            "CreateIndex",
        ],
    );

    let bad: &[(&str, &str, Option<&str>, u16, &str)] = &[
        (
            "DELETE",
            "/v1/job/example/scale",
            None,
            405,
            "Invalid method",
        ),
        ("GET", "/v1/job/nope/scale", None, 404, "job not found"),
        (
            "PUT",
            "/v1/job/example/scale",
            Some(r#"{"Count":1,"Target":{"Job":"other","Group":"cache"}}"#),
            400,
            "job ID in payload did not match URL",
        ),
        (
            "PUT",
            "/v1/job/example/scale",
            Some(r#"{"Count":1,"Target":{}}"#),
            400,
            "missing task group name for scaling action",
        ),
        (
            "PUT",
            "/v1/job/example/scale",
            Some(r#"{"Count":-1,"Target":{"Group":"cache"}}"#),
            400,
            "scaling action count can't be negative",
        ),
        (
            "PUT",
            "/v1/job/example/scale",
            Some(r#"{"Count":1,"Error":true,"Target":{"Group":"cache"}}"#),
            400,
            "scaling action should not contain count if error is true",
        ),
        (
            "PUT",
            "/v1/job/example/scale",
            Some(r#"{"Count":1,"Target":{"Group":"web"}}"#),
            400,
            "task group \"web\" specified for scaling does not exist in job",
        ),
        (
            "PUT",
            "/v1/job/nope/scale",
            Some(r#"{"Count":1,"Target":{"Group":"cache"}}"#),
            404,
            "job \"nope\" not found",
        ),
    ];
    for (m, p, b, code, text) in bad {
        e.fails(m, p, *b, *code, text).await;
    }
}

/// Waits until `f` holds (the in-memory drainer works on its own thread).
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deployment_actions() {
    let e = env_with(InMemoryCluster::new().with_deployments()).await;
    let d = e.ok("GET", "/v1/job/example/deployment", None).await;
    let id = d["ID"].as_str().expect("a deployment").to_string();
    assert_eq!(d["Status"], "running");
    assert_eq!(d["TaskGroups"]["cache"]["DesiredTotal"], 1);
    assert_eq!(d["TaskGroups"]["cache"]["PlacedAllocs"], 1);

    let bad: &[(&str, String, Option<String>, u16, &str)] = &[
        (
            "GET",
            format!("/v1/deployment/fail/{id}"),
            None,
            405,
            "Invalid method",
        ),
        (
            "PUT",
            format!("/v1/deployment/promote/{id}"),
            Some("{}".into()),
            400,
            "DeploymentID must be specified",
        ),
        (
            "PUT",
            format!("/v1/deployment/pause/{id}"),
            Some(r#"{"DeploymentID":"other","Pause":true}"#.into()),
            400,
            "Deployment ID does not match",
        ),
        (
            "PUT",
            "/v1/deployment/fail/nope".to_string(),
            None,
            404,
            "deployment not found",
        ),
        (
            "PUT",
            format!("/v1/deployment/allocation-health/{id}"),
            Some(format!(r#"{{"DeploymentID":"{id}"}}"#)),
            400,
            "must specify at least one healthy/unhealthy allocation ID",
        ),
        (
            "PUT",
            format!("/v1/deployment/allocation-health/{id}"),
            Some(r#"{"DeploymentID":"other","HealthyAllocationIDs":["a"]}"#.into()),
            400,
            "Deployment ID does not match",
        ),
    ];
    for (m, p, b, code, text) in bad {
        e.fails(m, p, b.as_deref(), *code, text).await;
    }

    let pause = json!({"DeploymentID": id, "Pause": true}).to_string();
    let r = e
        .ok("PUT", &format!("/v1/deployment/pause/{id}"), Some(&pause))
        .await;
    keys(
        &r,
        &[
            "EvalID",
            "EvalCreateIndex",
            "DeploymentModifyIndex",
            "Index",
        ],
    );
    let d = e.ok("GET", &format!("/v1/deployment/{id}"), None).await;
    assert_eq!(
        (d["Status"].clone(), d["StatusDescription"].clone()),
        (json!("paused"), json!("Deployment is paused"))
    );
    let resume = json!({"DeploymentID": id, "Pause": false}).to_string();
    let r = e
        .ok("POST", &format!("/v1/deployment/pause/{id}"), Some(&resume))
        .await;
    assert!(!r["EvalID"].as_str().unwrap_or("").is_empty(), "{r}");

    let r = e
        .ok("PUT", &format!("/v1/deployment/fail/{id}"), None)
        .await;
    assert!(!r["EvalID"].as_str().unwrap_or("").is_empty(), "{r}");
    let d = e.ok("GET", &format!("/v1/deployment/{id}"), None).await;
    assert_eq!(d["StatusDescription"], "Deployment marked as failed");
    e.fails(
        "PUT",
        &format!("/v1/deployment/fail/{id}"),
        None,
        400,
        "can't fail terminal deployment",
    )
    .await;
    let promote = json!({"DeploymentID": id, "All": true}).to_string();
    e.fails(
        "PUT",
        &format!("/v1/deployment/promote/{id}"),
        Some(&promote),
        400,
        "can't promote terminal deployment",
    )
    .await;

    // A new version's deployment succeeds once its allocation is healthy.
    let v1 = JOB.replace("redis:7", "redis:8");
    e.ok("PUT", "/v1/jobs", Some(&v1)).await;
    let d = e.ok("GET", "/v1/job/example/deployment", None).await;
    assert_eq!(
        (d["JobVersion"].clone(), d["Status"].clone()),
        (json!(1), json!("running"))
    );
    let allocs = e
        .ok(
            "GET",
            &format!(
                "/v1/deployment/allocations/{}",
                d["ID"].as_str().expect("id")
            ),
            None,
        )
        .await;
    let alloc = allocs[0]["ID"].as_str().expect("alloc").to_string();
    e.cluster.set_alloc_health(&alloc, true).expect("health");
    let d = e
        .ok(
            "GET",
            &format!("/v1/deployment/{}", d["ID"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(d["Status"], "successful", "{d}");
    assert_eq!(d["StatusDescription"], "Deployment completed successfully");
    let job = e.ok("GET", "/v1/job/example", None).await;
    assert_eq!(
        job["Stable"], true,
        "a successful deployment marks its version stable"
    );
}

#[tokio::test]
async fn drain_and_eligibility() {
    let e = env().await;
    let second = e.cluster.add_node("node-b").expect("node");
    let nodes = e.ok("GET", "/v1/nodes", None).await;
    let first = nodes
        .as_array()
        .and_then(|n| n.iter().find(|n| n["Name"] == "node-a"))
        .and_then(|n| n["ID"].as_str())
        .expect("node-a")
        .to_string();

    e.fails(
        "GET",
        &format!("/v1/node/{first}/drain"),
        None,
        405,
        "Invalid method",
    )
    .await;
    e.fails(
        "PUT",
        "/v1/node/nope/drain",
        Some(r#"{"DrainSpec":{"Deadline":0}}"#),
        404,
        "not found",
    )
    .await;
    let r = e
        .ok(
            "PUT",
            &format!("/v1/node/{first}/drain"),
            Some(r#"{"DrainSpec":{"Deadline":3600000000000},"Meta":{"message":"m"}}"#),
        )
        .await;
    keys(
        &r,
        &["NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"],
    );
    let n = e.ok("GET", &format!("/v1/node/{first}"), None).await;
    assert_eq!(n["SchedulingEligibility"], "ineligible");
    assert!(n["DrainStrategy"].is_object(), "{n}");
    e.fails(
        "PUT",
        &format!("/v1/node/{first}/eligibility"),
        Some(r#"{"Eligibility":"eligible"}"#),
        400,
        "can not set node's scheduling eligibility to eligible while it is draining",
    )
    .await;

    // The drainer moves the allocation to the other node and ends the drain.
    e.cluster.spawn_drainer(Duration::from_millis(20));
    let reader = e.cluster.reader();
    let node = first.clone();
    eventually("the drain ends", || {
        reader
            .snapshot()
            .node_by_id(&node)
            .is_some_and(|n| n.drain_strategy.is_none())
    })
    .await;
    let allocs = e.ok("GET", "/v1/job/example/allocations", None).await;
    let allocs = allocs.as_array().expect("allocs");
    assert!(
        allocs
            .iter()
            .any(|a| a["NodeID"] == second.as_str() && a["DesiredStatus"] == "run"),
        "{allocs:?}"
    );
    assert!(allocs
        .iter()
        .filter(|a| a["NodeID"] == first.as_str())
        .all(|a| a["ClientStatus"] == "complete"));
    let n = e.ok("GET", &format!("/v1/node/{first}"), None).await;
    assert_eq!(n["SchedulingEligibility"], "ineligible", "stays ineligible");
    e.ok(
        "PUT",
        &format!("/v1/node/{first}/eligibility"),
        Some(r#"{"Eligibility":"eligible"}"#),
    )
    .await;
}
