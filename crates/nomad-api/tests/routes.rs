//! The `/v1` routes against the in-memory cluster: Nomad's JSON field
//! names, status codes and texts for bad input, blocking queries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_api::testing::InMemoryCluster;
use serde_json::{json, Value};

const JOB: &str = r#"{"Job": {"ID": "example", "Name": "example", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "cache", "Count": 2,
    "Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"},
               "Resources": {"CPU": 500, "MemoryMB": 256}}]}]}}"#;

struct Env {
    base: String,
    http: reqwest::Client,
    cluster: Arc<InMemoryCluster>,
}

async fn env() -> Env {
    let cluster = Arc::new(InMemoryCluster::new());
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
    let (code, _, body) = e.send("PUT", "/v1/jobs", Some(JOB)).await;
    assert_eq!(code, 200, "{body}");
    e
}

impl Env {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let resp = rb.send().await.expect("send");
        let code = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        (code, headers, text)
    }

    async fn get_json(&self, path: &str) -> (Value, reqwest::header::HeaderMap) {
        let (code, h, text) = self.send("GET", path, None).await;
        assert_eq!(code, 200, "{path}: {text}");
        (serde_json::from_str(&text).expect("json"), h)
    }
}

fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for k in keys {
        assert!(
            obj.contains_key(*k),
            "missing {k} in {:?}",
            obj.keys().collect::<Vec<_>>()
        );
    }
}

fn index_of(h: &reqwest::header::HeaderMap) -> u64 {
    h.get("X-Nomad-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Nomad-Index")
}

#[tokio::test]
async fn reads_use_nomads_field_names_and_headers() {
    let e = env().await;
    let (jobs, h) = e.get_json("/v1/jobs").await;
    assert!(index_of(&h) > 0);
    assert_eq!(
        h.get("X-Nomad-KnownLeader").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert!(h.get("X-Nomad-LastContact").is_some());
    assert_keys(
        &jobs[0],
        &[
            "ID",
            "ParentID",
            "Name",
            "Namespace",
            "Datacenters",
            "NodePool",
            "Type",
            "Priority",
            "Periodic",
            "ParameterizedJob",
            "Stop",
            "Status",
            "StatusDescription",
            "JobSummary",
            "CreateIndex",
            "ModifyIndex",
            "JobModifyIndex",
            "SubmitTime",
        ],
    );
    assert_keys(
        &jobs[0]["JobSummary"],
        &[
            "JobID",
            "Namespace",
            "Summary",
            "Children",
            "CreateIndex",
            "ModifyIndex",
        ],
    );
    assert_keys(
        &jobs[0]["JobSummary"]["Summary"]["cache"],
        &[
            "Queued", "Complete", "Failed", "Running", "Starting", "Lost", "Unknown",
        ],
    );

    let (job, _) = e.get_json("/v1/job/example").await;
    assert_keys(
        &job,
        &[
            "ID",
            "Name",
            "Type",
            "Priority",
            "TaskGroups",
            "Version",
            "JobModifyIndex",
            "SubmitTime",
            "Status",
        ],
    );
    assert_eq!(job["Priority"], 50, "the server canonicalizes");

    let (allocs, _) = e.get_json("/v1/job/example/allocations").await;
    assert_eq!(allocs.as_array().map(Vec::len), Some(2));
    assert_keys(
        &allocs[0],
        &[
            "ID",
            "EvalID",
            "Name",
            "Namespace",
            "NodeID",
            "NodeName",
            "JobID",
            "JobType",
            "JobVersion",
            "TaskGroup",
            "DesiredStatus",
            "DesiredDescription",
            "ClientStatus",
            "ClientDescription",
            "TaskStates",
            "CreateIndex",
            "ModifyIndex",
            "CreateTime",
            "ModifyTime",
        ],
    );
    let alloc_id = allocs[0]["ID"].as_str().expect("id").to_string();
    let (alloc, _) = e.get_json(&format!("/v1/allocation/{alloc_id}")).await;
    assert_keys(
        &alloc,
        &[
            "ID",
            "Job",
            "TaskGroup",
            "Resources",
            "DesiredStatus",
            "ClientStatus",
            "AllocModifyIndex",
        ],
    );
    let (listed, _) = e
        .get_json(&format!("/v1/allocations?prefix={}", &alloc_id[..4]))
        .await;
    assert!(listed
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s["ID"] == alloc_id.as_str())));

    let (evals, _) = e.get_json("/v1/job/example/evaluations").await;
    assert_keys(
        &evals[0],
        &[
            "ID",
            "Namespace",
            "Priority",
            "Type",
            "TriggeredBy",
            "JobID",
            "Status",
            "CreateIndex",
            "ModifyIndex",
        ],
    );
    assert_eq!(evals[0]["Status"], "complete");
    let eval_id = evals[0]["ID"].as_str().expect("id").to_string();
    let (eval, _) = e.get_json(&format!("/v1/evaluation/{eval_id}")).await;
    assert_eq!(eval["TriggeredBy"], "job-register");
    let (placed, _) = e
        .get_json(&format!("/v1/evaluation/{eval_id}/allocations"))
        .await;
    assert_eq!(placed.as_array().map(Vec::len), Some(2));

    let (nodes, _) = e.get_json("/v1/nodes").await;
    assert_keys(
        &nodes[0],
        &[
            "Address",
            "ID",
            "Datacenter",
            "Name",
            "NodeClass",
            "NodePool",
            "Version",
            "Drain",
            "SchedulingEligibility",
            "Status",
            "StatusDescription",
            "Drivers",
            "CreateIndex",
            "ModifyIndex",
        ],
    );
    let node_id = nodes[0]["ID"].as_str().expect("id").to_string();
    let (node, _) = e.get_json(&format!("/v1/node/{node_id}")).await;
    assert_keys(
        &node,
        &[
            "ID",
            "SecretID",
            "Datacenter",
            "Name",
            "Attributes",
            "NodeResources",
            "Status",
            "Drivers",
            "Events",
        ],
    );
    assert_eq!(node["SecretID"], "", "the secret is never served");
    let (node_allocs, _) = e.get_json(&format!("/v1/node/{node_id}/allocations")).await;
    assert_eq!(node_allocs.as_array().map(Vec::len), Some(2));

    let (summary, _) = e.get_json("/v1/job/example/summary").await;
    assert_eq!(summary["Summary"]["cache"]["Starting"], 2);
    let (versions, _) = e.get_json("/v1/job/example/versions").await;
    assert_keys(
        &versions,
        &[
            "Versions",
            "Diffs",
            "Index",
            "KnownLeader",
            "LastContact",
            "NextToken",
        ],
    );
    let (latest, _) = e.get_json("/v1/job/example/deployment").await;
    assert!(latest.is_null());
    let (deps, _) = e.get_json("/v1/deployments").await;
    assert_eq!(deps, json!([]));

    let (me, _) = e.get_json("/v1/agent/self").await;
    assert_keys(&me, &["config", "member", "stats"]);
    let (members, _) = e.get_json("/v1/agent/members").await;
    assert_keys(
        &members,
        &["ServerName", "ServerRegion", "ServerDC", "Members"],
    );
    assert_keys(
        &members["Members"][0],
        &[
            "Name",
            "Addr",
            "Port",
            "Tags",
            "Status",
            "ProtocolMin",
            "ProtocolMax",
            "ProtocolCur",
            "DelegateMin",
            "DelegateMax",
            "DelegateCur",
        ],
    );
    let (leader, _) = e.get_json("/v1/status/leader").await;
    assert_eq!(leader, "127.0.0.1:4647");
    let (regions, _) = e.get_json("/v1/regions").await;
    assert_eq!(regions, json!(["global"]));
    let (health, _) = e.get_json("/v1/agent/health").await;
    assert_eq!(health["server"]["ok"], true);
    let (raft, _) = e.get_json("/v1/operator/raft/configuration").await;
    assert_keys(
        &raft["Servers"][0],
        &["ID", "Node", "Address", "Leader", "Voter", "RaftProtocol"],
    );
    let (metrics, _) = e.get_json("/v1/metrics").await;
    assert_keys(&metrics, &["Timestamp", "Gauges", "Counters", "Samples"]);
    let (code, _, _) = e.send("PUT", "/v1/system/gc", None).await;
    assert_eq!(code, 200);

    // `?pretty` indents; namespace `*` lists every namespace.
    let (_, _, pretty) = e.send("GET", "/v1/jobs?pretty", None).await;
    assert!(pretty.starts_with("[\n    {"), "{pretty}");
    let (all, _) = e.get_json("/v1/jobs?namespace=*").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let (other, _) = e.get_json("/v1/jobs?namespace=other").await;
    assert_eq!(other, json!([]));
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_missing_is_404() {
    let e = env().await;
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("PUT", "/v1/jobs", None, 400, "Request body is empty"),
        ("PUT", "/v1/jobs", Some("{}"), 400, "Job must be specified"),
        (
            "PUT",
            "/v1/jobs",
            Some(r#"{"Job":{"Name":"x"}}"#),
            400,
            "Job ID hasn't been provided",
        ),
        (
            "PUT",
            "/v1/jobs",
            Some(r#"{"Job":{"ID":"x","TaskGroups":[{"Count":"three"}]}}"#),
            400,
            "Job.TaskGroups[0].Count",
        ),
        (
            "PUT",
            "/v1/job/other",
            Some(JOB),
            400,
            "Job ID does not match name",
        ),
        (
            "PUT",
            "/v1/jobs",
            Some(r#"{"Job":{"ID":"x","Type":"bogus"}}"#),
            400,
            "error",
        ),
        ("GET", "/v1/jobs?index=abc", None, 400, "Invalid index"),
        (
            "GET",
            "/v1/jobs?wait=forever",
            None,
            400,
            "Invalid wait time",
        ),
        (
            "GET",
            "/v1/jobs?stale=maybe",
            None,
            400,
            "Expect `true` or `false` for `stale`",
        ),
        ("GET", "/v1/jobs?per_page=x", None, 400, "per_page"),
        (
            "DELETE",
            "/v1/job/example?purge=yes",
            None,
            400,
            "\"purge\"",
        ),
        (
            "PUT",
            "/v1/node/abc/eligibility",
            Some(r#"{"Eligibility":"maybe"}"#),
            400,
            "Eligibility",
        ),
        ("GET", "/v1/job/nope", None, 404, "job not found"),
        ("GET", "/v1/job/nope/summary", None, 404, "job not found"),
        ("GET", "/v1/allocation/nope", None, 404, "alloc not found"),
        ("GET", "/v1/evaluation/nope", None, 404, "eval not found"),
        ("GET", "/v1/node/nope", None, 404, "node not found"),
        (
            "GET",
            "/v1/deployment/nope",
            None,
            404,
            "deployment not found",
        ),
        ("GET", "/v1/nothing-here", None, 404, "404 page not found"),
        ("DELETE", "/v1/jobs", None, 405, "Invalid method"),
        ("GET", "/v1/system/gc", None, 405, "Invalid method"),
    ];
    for (method, path, body, code, text) in cases {
        let (got, h, got_text) = e.send(method, path, *body).await;
        assert_eq!(got, *code, "{method} {path}: {got_text}");
        assert!(
            got_text.contains(text),
            "{method} {path}: {got_text:?} lacks {text:?}"
        );
        assert_eq!(
            h.get("Content-Type").map(|v| v.as_bytes()),
            Some(&b"text/plain"[..]),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn check_index_conflicts_are_409_in_nomads_words() {
    let e = env().await;
    let (job, _) = e.get_json("/v1/job/example").await;
    let jmi = job["JobModifyIndex"].as_u64().expect("jmi");
    let mut req: Value = serde_json::from_str(JOB).expect("json");
    req["EnforceIndex"] = json!(true);
    req["JobModifyIndex"] = json!(jmi + 100);
    let (code, _, text) = e.send("PUT", "/v1/jobs", Some(&req.to_string())).await;
    assert_eq!(code, 409, "{text}");
    assert_eq!(
        text,
        format!(
            "Enforcing job modify index {}: job exists with conflicting job modify index: {jmi}",
            jmi + 100
        )
    );
    req["JobModifyIndex"] = json!(jmi);
    req["Job"]["TaskGroups"][0]["Count"] = json!(3);
    let (code, _, text) = e.send("PUT", "/v1/jobs", Some(&req.to_string())).await;
    assert_eq!(code, 200, "{text}");
    let resp: Value = serde_json::from_str(&text).expect("json");
    assert_keys(
        &resp,
        &[
            "EvalID",
            "EvalCreateIndex",
            "JobModifyIndex",
            "Warnings",
            "Index",
            "KnownLeader",
            "LastContact",
        ],
    );
    assert!(resp["JobModifyIndex"].as_u64() > Some(jmi));
}

#[tokio::test]
async fn blocking_queries_return_on_change_and_time_out_otherwise() {
    let e = env().await;
    let (_, h) = e.get_json("/v1/jobs").await;
    let index = index_of(&h);

    // Nothing changes: the query returns after the wait with the same index.
    let start = Instant::now();
    let (_, h2) = e
        .get_json(&format!("/v1/jobs?index={index}&wait=300ms"))
        .await;
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(index_of(&h2), index);

    // A change wakes it well before the wait expires.
    let cluster = e.cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let job: nomad_types::api::JobRegisterRequest =
            nomad_types::json::from_str(&JOB.replace("\"example\"", "\"second\"")).expect("job");
        let _ = cluster.register_job(job.job.expect("job"));
    });
    let start = Instant::now();
    let (jobs, h3) = e
        .get_json(&format!("/v1/jobs?index={index}&wait=20s"))
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(index_of(&h3) > index);
    assert_eq!(jobs.as_array().map(Vec::len), Some(2));

    // Blocking on one allocation wakes when its client status changes.
    let (allocs, h) = e.get_json("/v1/allocations").await;
    let id = allocs[0]["ID"].as_str().expect("id").to_string();
    let (alloc, _) = e.get_json(&format!("/v1/allocation/{id}")).await;
    let mi = alloc["ModifyIndex"].as_u64().expect("mi");
    assert!(index_of(&h) >= mi);
    let cluster = e.cluster.clone();
    let id2 = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = cluster.set_alloc_client_status(&id2, "running");
    });
    let (alloc, h) = e
        .get_json(&format!("/v1/allocation/{id}?index={mi}&wait=20s"))
        .await;
    assert_eq!(alloc["ClientStatus"], "running");
    assert!(index_of(&h) > mi);
}

#[tokio::test]
async fn writes_plan_validate_parse_and_stop() {
    let e = env().await;
    // Plan of the same job: no change; of a bigger count: an edit.
    let plan_body = JOB.replacen("{\"Job\"", "{\"Diff\": true, \"Job\"", 1);
    let (code, _, text) = e
        .send("PUT", "/v1/job/example/plan", Some(&plan_body))
        .await;
    assert_eq!(code, 200, "{text}");
    let plan: Value = serde_json::from_str(&text).expect("json");
    assert_keys(
        &plan,
        &[
            "Annotations",
            "FailedTGAllocs",
            "JobModifyIndex",
            "CreatedEvals",
            "Diff",
            "NextPeriodicLaunch",
            "Warnings",
        ],
    );
    assert_eq!(plan["Diff"]["Type"], "None", "{}", plan["Diff"]);
    let bigger = plan_body.replace("\"Count\": 2", "\"Count\": 3");
    let (_, _, text) = e.send("PUT", "/v1/job/example/plan", Some(&bigger)).await;
    let plan: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(plan["Diff"]["Type"], "Edited");
    assert_eq!(plan["Annotations"]["DesiredTGUpdates"]["cache"]["Place"], 1);

    let (code, _, text) = e
        .send(
            "POST",
            "/v1/validate/job",
            Some(r#"{"Job":{"ID":"v","Type":"service","TaskGroups":[]}}"#),
        )
        .await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_keys(
        &v,
        &[
            "DriverConfigValidated",
            "ValidationErrors",
            "Error",
            "Warnings",
        ],
    );
    assert!(
        v["ValidationErrors"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{v}"
    );

    let hcl = json!({"JobHCL": "job \"p\" {\n group \"g\" {\n task \"t\" {\n driver = \"raw_exec\"\n config { command = \"/bin/true\" }\n }\n }\n}\n", "Canonicalize": true});
    let (code, _, text) = e
        .send("POST", "/v1/jobs/parse", Some(&hcl.to_string()))
        .await;
    assert_eq!(code, 200, "{text}");
    let parsed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(parsed["ID"], "p");
    assert_eq!(parsed["Priority"], 50);
    let (code, _, text) = e
        .send("POST", "/v1/jobs/parse", Some(r#"{"JobHCL":"job {"}"#))
        .await;
    assert_eq!(code, 400);
    assert!(text.starts_with("Failed to parse job"), "{text}");

    // Stopping an allocation replaces it; stopping the job stops the rest.
    let (allocs, _) = e.get_json("/v1/job/example/allocations").await;
    let id = allocs[0]["ID"].as_str().expect("id").to_string();
    let (code, _, text) = e
        .send("PUT", &format!("/v1/allocation/{id}/stop"), None)
        .await;
    assert_eq!(code, 200, "{text}");
    let stop: Value = serde_json::from_str(&text).expect("json");
    assert_keys(&stop, &["EvalID", "Index"]);
    let (allocs, _) = e.get_json("/v1/job/example/allocations").await;
    assert_eq!(allocs.as_array().map(Vec::len), Some(3));

    let (code, _, text) = e.send("DELETE", "/v1/job/example?purge=F", None).await;
    assert_eq!(code, 200, "{text}");
    let dereg: Value = serde_json::from_str(&text).expect("json");
    assert_keys(
        &dereg,
        &[
            "EvalID",
            "EvalCreateIndex",
            "JobModifyIndex",
            "VolumeEvalID",
            "Index",
        ],
    );
    let (job, _) = e.get_json("/v1/job/example").await;
    assert_eq!(job["Stop"], true);
    let (allocs, _) = e.get_json("/v1/job/example/allocations").await;
    assert!(allocs
        .as_array()
        .expect("list")
        .iter()
        .all(|a| a["DesiredStatus"] == "stop"));

    // Drain and eligibility.
    let (nodes, _) = e.get_json("/v1/nodes").await;
    let node = nodes[0]["ID"].as_str().expect("id").to_string();
    let (code, _, text) = e
        .send(
            "PUT",
            &format!("/v1/node/{node}/eligibility"),
            Some(r#"{"Eligibility":"ineligible"}"#),
        )
        .await;
    assert_eq!(code, 200, "{text}");
    let (n, _) = e.get_json(&format!("/v1/node/{node}")).await;
    assert_eq!(n["SchedulingEligibility"], "ineligible");
    let (code, _, text) = e
        .send(
            "PUT",
            &format!("/v1/node/{node}/drain"),
            Some(r#"{"DrainSpec":{"Deadline":3600000000000}}"#),
        )
        .await;
    assert_eq!(code, 200, "{text}");
    let (nodes, _) = e.get_json("/v1/nodes").await;
    assert_eq!(nodes[0]["Drain"], true);
}

#[tokio::test]
async fn logs_plain_and_framed() {
    let e = env().await;
    let (allocs, _) = e.get_json("/v1/allocations").await;
    let id = allocs[0]["ID"].as_str().expect("id").to_string();
    e.cluster.set_log(&id, "redis", "stdout", "hello\nworld\n");
    let (code, _, text) = e
        .send(
            "GET",
            &format!("/v1/client/fs/logs/{id}?task=redis&type=stdout&plain=true"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(text, "hello\nworld\n");
    let (code, _, text) = e
        .send(
            "GET",
            &format!("/v1/client/fs/logs/{id}?task=redis&type=stdout&origin=end&offset=6"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    let frame: Value = serde_json::from_str(&text).expect("frame");
    assert_keys(&frame, &["Offset", "Data", "File"]);
    assert_eq!(frame["Data"], "d29ybGQK", "base64 of the last 6 bytes");
    let (code, _, text) = e
        .send("GET", &format!("/v1/client/fs/logs/{id}?type=stdout"), None)
        .await;
    assert_eq!((code, text.contains("task")), (400, true), "{text}");
    let (code, _, _) = e
        .send("GET", "/v1/client/fs/logs/nope?task=t&type=stdout", None)
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn prefix_search_finds_ids_per_context() {
    let e = env().await;
    let (code, h, text) = e
        .send(
            "PUT",
            "/v1/search",
            Some(r#"{"Prefix":"exa","Context":"jobs"}"#),
        )
        .await;
    assert_eq!(code, 200, "{text}");
    assert!(index_of(&h) > 0);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["Matches"], json!({"jobs": ["example"]}));
    assert_eq!(v["Truncations"], json!({"jobs": false}));
    assert_keys(&v, &["Index", "KnownLeader", "LastContact"]);

    // `all`: every context Nomad searches, each with its list (maybe empty).
    let (_, _, text) = e
        .send(
            "POST",
            "/v1/search",
            Some(r#"{"Prefix":"","Context":"all"}"#),
        )
        .await;
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["Matches"]["jobs"], json!(["example"]));
    assert_eq!(v["Matches"]["nodes"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["Matches"]["namespaces"], json!(["default"]));
    assert_eq!(v["Matches"]["volumes"], json!([]));
    let evals = v["Matches"]["evals"].as_array().expect("evals");
    assert_eq!(evals.len(), 1, "the registration's evaluation: {v}");

    // An evaluation found by the start of its ID (odd length rounds down).
    let id = evals[0].as_str().expect("id");
    let body = format!(r#"{{"Prefix":"{}","Context":"evals"}}"#, &id[..3]);
    let (_, _, text) = e.send("PUT", "/v1/search", Some(&body)).await;
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["Matches"]["evals"], json!([id]));

    let (code, _, text) = e
        .send(
            "PUT",
            "/v1/search",
            Some(r#"{"Prefix":"a","Context":"pods"}"#),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        text.contains(r#"unknown context "pods""#) && text.contains("jobs"),
        "{text}"
    );
    let (code, _, _) = e.send("GET", "/v1/search", None).await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn node_evaluate_and_purge() {
    let e = env().await;
    let (nodes, _) = e.get_json("/v1/nodes").await;
    let id = nodes[0]["ID"].as_str().expect("node id").to_string();

    let (code, h, text) = e
        .send("PUT", &format!("/v1/node/{id}/evaluate"), None)
        .await;
    assert_eq!(code, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_keys(
        &v,
        &[
            "HeartbeatTTL",
            "EvalIDs",
            "EvalCreateIndex",
            "NodeModifyIndex",
            "Index",
        ],
    );
    let evals = v["EvalIDs"]
        .as_array()
        .expect("the example job's evaluation");
    assert_eq!(evals.len(), 1, "{v}");
    assert_eq!(index_of(&h), v["Index"].as_u64().unwrap_or(0));
    let (eval, _) = e
        .get_json(&format!(
            "/v1/evaluation/{}",
            evals[0].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(eval["TriggeredBy"], "node-update");
    assert_eq!(eval["JobID"], "example");

    let (code, _, _) = e
        .send("GET", &format!("/v1/node/{id}/evaluate"), None)
        .await;
    assert_eq!(code, 405);

    let (code, _, text) = e.send("PUT", &format!("/v1/node/{id}/purge"), None).await;
    assert_eq!(code, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["EvalIDs"].as_array().map(Vec::len), Some(1), "{v}");
    let (code, _, _) = e.send("GET", &format!("/v1/node/{id}"), None).await;
    assert_eq!(code, 404, "the node is gone");
    for op in ["evaluate", "purge"] {
        let (code, _, text) = e.send("PUT", &format!("/v1/node/{id}/{op}"), None).await;
        assert_eq!(
            (code, text.as_str()),
            (404, format!("node not found: {id}").as_str())
        );
    }
}

#[tokio::test]
async fn readat_returns_a_window_of_a_file() {
    let e = env().await;
    let (allocs, _) = e.get_json("/v1/allocations").await;
    let id = allocs[0]["ID"].as_str().expect("id").to_string();
    e.cluster
        .set_log(&id, "redis", "stdout", "hello\nworld\nand more\n");
    let at = |q: &str| format!("/v1/client/fs/readat/{id}?path=alloc/logs/redis.stdout.0&{q}");
    // Windows across the stand-in's 3-byte chunks, and past the end.
    for (q, want) in [
        ("offset=4&limit=5", "o\nwor"),
        ("offset=0&limit=3", "hel"),
        ("offset=18&limit=100", "re\n"),
        ("offset=100&limit=4", ""),
        ("offset=2&limit=0", ""),
    ] {
        let (code, _, body) = e.send("GET", &at(q), None).await;
        assert_eq!((code, body.as_str()), (200, want), "{q}");
    }
    for (q, err) in [
        ("offset=1", "limit: must be given"),
        ("offset=-1&limit=2", "offset: must not be negative"),
    ] {
        let (code, _, body) = e.send("GET", &at(q), None).await;
        assert_eq!((code, body.as_str()), (400, err), "{q}");
    }
    let (code, _, body) = e
        .send(
            "GET",
            &format!("/v1/client/fs/readat/{id}?offset=0&limit=1"),
            None,
        )
        .await;
    assert_eq!((code, body.as_str()), (400, "must provide a file name"));
}
