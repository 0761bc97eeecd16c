//! `GET /v1/event/stream` against the in-memory cluster: the ndjson lines
//! Nomad sends, topic/key filters, resuming from an index, heartbeats, and
//! the end of a stream.

use std::sync::Arc;
use std::time::Duration;

use nomad_api::testing::InMemoryCluster;
use nomad_api::ClusterApi;
use serde_json::Value;

fn job_json(id: &str, count: u32) -> String {
    format!(
        r#"{{"Job": {{"ID": "{id}", "Name": "{id}", "Type": "service", "Datacenters": ["dc1"],
  "TaskGroups": [{{"Name": "g", "Count": {count},
    "Tasks": [{{"Name": "t", "Driver": "raw_exec", "Config": {{"command": "/bin/true"}}}}]}}]}}}}"#
    )
}

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
    let api: Arc<dyn ClusterApi> = cluster.clone();
    tokio::spawn(nomad_api::serve(listener, api, std::future::pending()));
    Env {
        base,
        http: reqwest::Client::new(),
        cluster,
    }
}

async fn env() -> Env {
    env_with(InMemoryCluster::new()).await
}

impl Env {
    /// Registers a job through the API; the index of its entry.
    async fn register(&self, id: &str, count: u32) -> u64 {
        let resp = self
            .http
            .put(format!("{}/v1/jobs", self.base))
            .body(job_json(id, count))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.expect("json");
        v["JobModifyIndex"].as_u64().expect("index")
    }

    async fn open(&self, query: &str) -> Lines {
        let resp = self
            .http
            .get(format!("{}/v1/event/stream{query}", self.base))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200, "{query}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        assert!(
            resp.headers().get("content-length").is_none(),
            "streamed, not sized"
        );
        let mut lines = Lines {
            resp,
            buf: Vec::new(),
        };
        assert_eq!(
            lines.next().await.as_deref(),
            Some("{}"),
            "first a heartbeat"
        );
        lines
    }
}

/// The body, line by line.
struct Lines {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Lines {
    /// The next line (or the unterminated rest at the end); `None` once the
    /// stream has ended. Fails the test after 10 s without one.
    async fn next(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buf.drain(..=pos).collect();
                    return Some(String::from_utf8_lossy(&line[..pos]).into_owned());
                }
                match self.resp.chunk().await.expect("chunk") {
                    Some(c) => self.buf.extend_from_slice(&c),
                    None if self.buf.is_empty() => return None,
                    None => {
                        return Some(String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into())
                    }
                }
            }
        })
        .await
        .expect("a line within 10 s")
    }

    /// The next line of events (heartbeats skipped), parsed.
    async fn events(&mut self) -> Value {
        loop {
            let line = self.next().await.expect("stream open");
            if line == "{}" {
                continue;
            }
            return serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    }
}

impl Lines {
    /// The next line with a `JobRegistered` event: a job's later entries
    /// (its allocations placed, its evaluation done) write it again, with
    /// their own types. Every line passed over must satisfy `check`.
    async fn registered(&mut self, check: impl Fn(&Value)) -> Value {
        loop {
            let line = self.events().await;
            for ev in events_of(&line) {
                check(ev);
            }
            if events_of(&line)
                .iter()
                .any(|ev| ev["Type"] == "JobRegistered")
            {
                return line;
            }
        }
    }
}

fn events_of(line: &Value) -> &Vec<Value> {
    line["Events"].as_array().expect("Events")
}

#[tokio::test]
async fn a_registered_job_is_a_job_event() {
    let e = env().await;
    let mut s = e.open("?topic=Job").await;
    let index = e.register("web", 1).await;
    let line = s.events().await;
    assert_eq!(line["Index"], index);
    let ev = &events_of(&line)[0];
    assert_eq!(ev["Topic"], "Job");
    assert_eq!(ev["Type"], "JobRegistered");
    assert_eq!(ev["Key"], "web");
    assert_eq!(ev["Namespace"], "default");
    assert_eq!(ev["FilterKeys"], Value::Null);
    assert_eq!(ev["Index"], index);
    assert_eq!(ev["Payload"]["Job"]["ID"], "web");
    assert_eq!(ev["Payload"]["Job"]["JobModifyIndex"], index);
    let keys: Vec<&str> = ev.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Topic",
            "Type",
            "Key",
            "Namespace",
            "FilterKeys",
            "Index",
            "Payload"
        ]
    );
}

#[tokio::test]
async fn a_bare_topic_takes_every_key_of_that_topic_only() {
    let e = env().await;
    e.register("web", 2).await;
    let node_b = e.cluster.add_node("node-b").expect("node");
    let mut s = e.open("?topic=Node").await;
    let mut registered = Vec::new();
    while !registered.contains(&node_b) {
        let line = s.events().await;
        for ev in events_of(&line) {
            assert_eq!(ev["Topic"], "Node", "{ev}");
            assert_eq!(ev["Namespace"], "", "nodes have no namespace");
            assert_eq!(ev["Payload"]["Node"]["SecretID"], "", "secret left out");
            if ev["Type"] == "NodeRegistration" {
                registered.push(ev["Key"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(registered.len(), 2, "node-a and node-b: {registered:?}");
}

#[tokio::test]
async fn topic_key_filters_by_job() {
    let e = env().await;
    e.register("api", 1).await;
    let web1 = e.register("web", 1).await;
    let mut s = e.open("?topic=Job:web").await;
    let only_web = |ev: &Value| assert_eq!(ev["Key"], "web", "{ev}");
    let line = s.registered(only_web).await;
    assert_eq!(line["Index"], web1, "api's entry is skipped");
    assert_eq!(events_of(&line).len(), 1);

    // Live: api's update is skipped, web's comes through.
    e.register("api", 2).await;
    let web2 = e.register("web", 3).await;
    let line = s.registered(only_web).await;
    assert_eq!(line["Index"], web2);

    // Allocations match their job's ID too.
    let mut allocs = e.open("?topic=Allocation:web").await;
    let line = allocs.events().await;
    for ev in events_of(&line) {
        assert_eq!(ev["Topic"], "Allocation");
        assert_eq!(ev["FilterKeys"][0], "web");
        assert_eq!(ev["Payload"]["Allocation"]["JobID"], "web");
        assert_eq!(
            ev["Payload"]["Allocation"]["Job"],
            Value::Null,
            "sent without its job"
        );
    }
}

#[tokio::test]
async fn index_resumes_and_namespace_filters() {
    let e = env().await;
    let web = e.register("web", 1).await;
    let api = e.register("api", 1).await;
    let mut s = e.open(&format!("?topic=Job&index={api}")).await;
    let line = s.events().await;
    assert_eq!(line["Index"], api, "starts at the index given");
    assert_eq!(events_of(&line)[0]["Key"], "api");

    let mut from_start = e.open("?topic=Job&index=0").await;
    assert_eq!(from_start.events().await["Index"], web);

    // Jobs of the namespace asked for only (default: `default`), or of all
    // with `*`.
    let mut prod = e.open("?topic=Job&namespace=prod").await;
    let mut all = e.open("?topic=Job&namespace=*").await;
    let resp = e
        .http
        .put(format!("{}/v1/jobs?namespace=prod", e.base))
        .body(job_json("web", 1).replace(r#""ID": "web""#, r#""ID": "web", "Namespace": "prod""#))
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );
    let line = prod.events().await;
    assert_eq!(events_of(&line)[0]["Namespace"], "prod");
    let prod_index = line["Index"].clone();
    for want in [Value::from(web), Value::from(api), prod_index] {
        assert_eq!(all.registered(|_| ()).await["Index"], want);
    }
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_stream_open() {
    let e = env_with(InMemoryCluster::new().with_event_heartbeat(Duration::from_millis(20))).await;
    let mut s = e.open("?topic=Job:nothing").await;
    e.register("web", 1).await;
    for _ in 0..3 {
        assert_eq!(s.next().await.as_deref(), Some("{}"));
    }
}

#[tokio::test]
async fn a_restore_ends_the_stream_with_nomads_text() {
    let e = env_with(InMemoryCluster::new().with_event_heartbeat(Duration::from_millis(20))).await;
    e.register("web", 1).await;
    let mut s = e.open("?topic=Job").await;
    assert_eq!(events_of(&s.events().await)[0]["Key"], "web");
    let (_, image) = e.cluster.snapshot_save().await.expect("save");
    e.cluster.snapshot_restore(image).await.expect("restore");
    let mut last = None;
    while let Some(line) = s.next().await {
        if line != "{}" {
            last = Some(line);
        }
    }
    assert_eq!(
        last.as_deref(),
        Some("subscription closed by server, client should resubscribe")
    );
}

#[tokio::test]
async fn a_client_that_goes_away_is_forgotten() {
    let e = env_with(InMemoryCluster::new().with_event_heartbeat(Duration::from_millis(10))).await;
    let waiters = || e.cluster.state().unwrap().notifier().waiter_count();
    let mut s = e.open("?topic=Node").await;
    // The backlog (node-a's registration), then heartbeats: the stream
    // waits on the store all along.
    s.events().await;
    for _ in 0..3 {
        assert_eq!(s.next().await.as_deref(), Some("{}"));
        assert_eq!(waiters(), 1);
    }
    drop(s);
    // The next heartbeat finds the connection closed and drops the stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while waiters() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "still waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn bad_requests_answer_as_nomad() {
    let e = env().await;
    let get = |q: &'static str| {
        let http = e.http.clone();
        let url = format!("{}/v1/event/stream{q}", e.base);
        async move {
            let r = http.get(url).send().await.expect("send");
            (r.status().as_u16(), r.text().await.expect("text"))
        }
    };
    assert_eq!(
        get("?topic=Job:a:b").await,
        (
            400,
            "Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: Job:a:b"
                .to_string()
        )
    );
    assert_eq!(
        get("?index=x").await,
        (
            400,
            "Unable to parse index: strconv.Atoi: parsing \"x\": invalid syntax".to_string()
        )
    );
    let r = e
        .http
        .put(format!("{}/v1/event/stream", e.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 405);
}
