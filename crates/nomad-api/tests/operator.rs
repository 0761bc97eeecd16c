//! The multi-server operator routes against the in-memory cluster:
//! `/v1/agent/join`, `/v1/agent/force-leave`, `/v1/operator/raft/peer` and
//! `/v1/operator/snapshot`, with Nomad's status codes and bodies.

use std::sync::Arc;

use base64::Engine;
use nomad_api::testing::InMemoryCluster;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const JOB: &str = r#"{"Job": {"ID": "example", "Name": "example", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "cache", "Count": 1,
    "Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"},
               "Resources": {"CPU": 500, "MemoryMB": 256}}]}]}}"#;

struct Env {
    base: String,
    http: reqwest::Client,
    cluster: Arc<InMemoryCluster>,
}

struct Resp {
    code: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    fn header(&self, k: &str) -> String {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
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
    Env {
        base,
        http: reqwest::Client::new(),
        cluster,
    }
}

impl Env {
    async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let resp = rb.send().await.expect("send");
        let code = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Resp {
            code,
            headers,
            body,
        }
    }

    async fn raft_servers(&self) -> Vec<Value> {
        let r = self
            .send("GET", "/v1/operator/raft/configuration", None)
            .await;
        assert_eq!(r.code, 200, "{}", r.text());
        r.json()["Servers"].as_array().cloned().unwrap_or_default()
    }
}

#[tokio::test]
async fn join_counts_answers_and_reports_failures_in_the_body() {
    let e = env().await;
    let r = e
        .send(
            "PUT",
            "/v1/agent/join?address=10.0.0.2&address=10.0.0.3:4648",
            None,
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"num_joined": 2, "error": ""}));
    assert_eq!(
        e.cluster.joined(),
        ["10.0.0.2:4648".to_string(), "10.0.0.3:4648".to_string()]
    );
    let servers = e.raft_servers().await;
    assert_eq!(servers.len(), 3);
    assert_eq!(servers[1]["Address"], "10.0.0.2:4647");
    assert_eq!(servers[1]["Leader"], false);
    assert_eq!(servers[1]["Voter"], true);
    let members = e.send("GET", "/v1/agent/members", None).await.json();
    assert_eq!(members["Members"][1]["Name"], "10.0.0.2.global");
    assert_eq!(members["Members"][1]["Status"], "alive");

    // POST is the same; one address answering is a success.
    e.cluster.set_unreachable("10.0.0.9:4648");
    let r = e
        .send(
            "POST",
            "/v1/agent/join?address=10.0.0.9&address=10.0.0.4",
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"num_joined": 1, "error": ""}));

    // None answering: still a 200, with the error text and no count.
    let r = e.send("PUT", "/v1/agent/join?address=10.0.0.9", None).await;
    assert_eq!(r.code, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["num_joined"], 0);
    let err = v["error"].as_str().unwrap_or_default();
    assert!(
        err.contains(
            "Failed to join 10.0.0.9:4648: dial tcp 10.0.0.9:4648: connect: connection refused"
        ),
        "{err}"
    );

    let r = e.send("PUT", "/v1/agent/join", None).await;
    assert_eq!((r.code, r.text()), (400, "missing address to join".into()));
    let r = e.send("GET", "/v1/agent/join?address=10.0.0.2", None).await;
    assert_eq!((r.code, r.text()), (405, "Invalid method".into()));
}

#[tokio::test]
async fn force_leave_marks_the_server_left() {
    let e = env().await;
    e.send("PUT", "/v1/agent/join?address=10.0.0.2", None).await;
    let r = e
        .send("PUT", "/v1/agent/force-leave?node=10.0.0.2.global", None)
        .await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert!(r.body.is_empty());
    assert!(e.cluster.joined().is_empty());
    assert_eq!(e.raft_servers().await.len(), 1);
    let members = e.send("GET", "/v1/agent/members", None).await.json();
    assert_eq!(members["Members"][1]["Status"], "left");

    let r = e.send("PUT", "/v1/agent/force-leave", None).await;
    assert_eq!(
        (r.code, r.text()),
        (400, "missing node to force leave".into())
    );
    let r = e
        .send("PUT", "/v1/agent/force-leave?node=x&prune=maybe", None)
        .await;
    assert_eq!((r.code, r.text()), (400, "invalid prune value".into()));
    let r = e.send("GET", "/v1/agent/force-leave?node=x", None).await;
    assert_eq!(r.code, 405);
}

#[tokio::test]
async fn remove_peer_by_address_or_id_and_exactly_one_of_them() {
    let e = env().await;
    e.send(
        "PUT",
        "/v1/agent/join?address=10.0.0.2&address=10.0.0.3",
        None,
    )
    .await;
    let r = e
        .send(
            "DELETE",
            "/v1/operator/raft/peer?address=10.0.0.2:4647",
            None,
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert!(r.body.is_empty());
    let servers = e.raft_servers().await;
    assert_eq!(servers.len(), 2);
    assert!(servers.iter().all(|s| s["Address"] != "10.0.0.2:4647"));

    let id = servers[1]["ID"].as_str().unwrap_or_default().to_string();
    let r = e
        .send("DELETE", &format!("/v1/operator/raft/peer?id={id}"), None)
        .await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(e.raft_servers().await.len(), 1);

    // Neither or both: 400 saying what is valid.
    let r = e.send("DELETE", "/v1/operator/raft/peer", None).await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.text(),
        "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
    );
    assert_eq!(r.header("Content-Type"), "text/plain");
    let r = e
        .send("DELETE", "/v1/operator/raft/peer?id=a&address=b:1", None)
        .await;
    assert_eq!(
        (r.code, r.text()),
        (400, "Must specify only one of ?id or ?address".into())
    );

    // Not in the configuration: the server's error, as Nomad's RPC gives it.
    let r = e
        .send("DELETE", "/v1/operator/raft/peer?id=nope", None)
        .await;
    assert_eq!(
        (r.code, r.text()),
        (
            500,
            "id \"nope\" was not found in the Raft configuration".into()
        )
    );
    // Nomad answers other methods with a 404.
    let r = e.send("GET", "/v1/operator/raft/peer?id=1", None).await;
    assert_eq!((r.code, r.text()), (404, "Invalid method".into()));
}

#[tokio::test]
async fn snapshot_save_and_restore_round_trip() {
    let e = env().await;
    let r = e
        .send("PUT", "/v1/jobs", Some(JOB.as_bytes().to_vec()))
        .await;
    assert_eq!(r.code, 200, "{}", r.text());

    let saved = e.send("GET", "/v1/operator/snapshot", None).await;
    assert_eq!(saved.code, 200, "{}", saved.text());
    assert_eq!(saved.header("Content-Type"), "application/octet-stream");
    let index: u64 = saved.header("X-Nomad-Index").parse().expect("index");
    assert_eq!(index, e.cluster.reader().snapshot().applied_index());
    assert!(index > 0);
    let digest = format!(
        "sha-256={}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&saved.body))
    );
    assert_eq!(saved.header("Digest"), digest);
    assert!(!saved.body.is_empty());

    // Change the state after the save: the job goes away.
    let r = e.send("DELETE", "/v1/job/example?purge=true", None).await;
    assert_eq!(r.code, 200, "{}", r.text());
    let r = e.send("GET", "/v1/job/example", None).await;
    assert_eq!(r.code, 404);

    // Restoring brings the saved state back, index and all.
    let r = e
        .send("PUT", "/v1/operator/snapshot", Some(saved.body.clone()))
        .await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert!(r.body.is_empty());
    let r = e.send("GET", "/v1/job/example", None).await;
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(e.cluster.reader().snapshot().applied_index(), index);
    let again = e.send("GET", "/v1/operator/snapshot", None).await;
    assert_eq!(again.body, saved.body);

    // A malformed image is a 400 and changes nothing.
    let r = e
        .send("POST", "/v1/operator/snapshot", Some(b"garbage".to_vec()))
        .await;
    assert_eq!(r.code, 400, "{}", r.text());
    assert!(r.text().contains("snapshot"), "{}", r.text());
    let r = e.send("GET", "/v1/job/example", None).await;
    assert_eq!(r.code, 200);

    let r = e.send("DELETE", "/v1/operator/snapshot", None).await;
    assert_eq!((r.code, r.text()), (405, "Invalid method".into()));
}
