//! The client agent's routes: `/v1/client/stats`,
//! `/v1/client/allocation/:id/{stats,restart,signal,exec}` with Nomad's
//! field names and frames; a client-only agent forwarding everything else
//! to its servers; a server forwarding an allocation's requests to the
//! node that runs it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nomad_api::stats::{
    AllocResourceUsage, CpuStats, HostCpuStats, HostMemoryStats, HostStats, MemoryStats,
    ResourceUsage, TaskResourceUsage,
};
use nomad_api::testing::InMemoryCluster;
use nomad_api::{
    ByteStream, ClientFs, ClusterApi, ClusterError, ExecChannels, ExecChunk, ExecStart, LogsRequest,
};
use nomad_types::api::AllocFileInfo;
use serde_json::Value;

const JOB: &str = r#"{"Job": {"ID": "web", "Name": "web", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "g", "Count": 1,
    "Tasks": [{"Name": "web", "Driver": "raw_exec", "Config": {"command": "sleep"},
               "Resources": {"CPU": 500, "MemoryMB": 256}}]}]}}"#;

/// A client agent that answers from fixed data and records what it is
/// asked to do.
struct FakeClient {
    node: std::sync::OnceLock<String>,
    calls: Mutex<Vec<String>>,
    /// Runs the allocations it is asked about (else it has none).
    owns_allocs: bool,
}

impl FakeClient {
    fn new(node: &str) -> Arc<Self> {
        let c = FakeClient {
            node: std::sync::OnceLock::new(),
            calls: Mutex::new(Vec::new()),
            owns_allocs: true,
        };
        if !node.is_empty() {
            let _ = c.node.set(node.to_string());
        }
        Arc::new(c)
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, s: String) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }
}

#[async_trait]
impl ClientFs for FakeClient {
    async fn alloc_logs(&self, _req: LogsRequest) -> Result<ByteStream, ClusterError> {
        Err(ClusterError::NotFound("no logs".into()))
    }
    async fn alloc_fs_list(
        &self,
        _alloc_id: String,
        _path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError> {
        Ok(Vec::new())
    }
    async fn alloc_fs_stat(
        &self,
        _alloc_id: String,
        _path: String,
    ) -> Result<AllocFileInfo, ClusterError> {
        Err(ClusterError::NotFound("no such file".into()))
    }
    async fn alloc_fs_cat(
        &self,
        _alloc_id: String,
        _path: String,
    ) -> Result<ByteStream, ClusterError> {
        Err(ClusterError::NotFound("no such file".into()))
    }
    fn node_id(&self) -> String {
        self.node.get().cloned().unwrap_or_default()
    }
    fn has_alloc(&self, _alloc_id: &str) -> bool {
        self.owns_allocs
    }
    async fn host_stats(&self) -> Result<HostStats, ClusterError> {
        Ok(HostStats {
            memory: Some(HostMemoryStats {
                total: 8 << 30,
                available: 6 << 30,
                used: 2 << 30,
                free: 1 << 30,
            }),
            cpu: vec![HostCpuStats {
                cpu: "cpu0".into(),
                user: 10.0,
                system: 5.0,
                idle: 85.0,
                total: 15.0,
            }],
            cpu_ticks_consumed: 1500.0,
            uptime: 3600,
            timestamp: 1,
            ..HostStats::default()
        })
    }
    async fn alloc_stats(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<AllocResourceUsage, ClusterError> {
        self.record(format!("stats {alloc_id} {task:?}"));
        let usage = |rss| TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats: MemoryStats {
                    rss,
                    measured: vec!["RSS".into()],
                    ..MemoryStats::default()
                },
                cpu_stats: CpuStats {
                    total_ticks: 12.5,
                    percent: 0.5,
                    ..CpuStats::default()
                },
                device_stats: None,
            },
            timestamp: 7,
            pids: None,
        };
        Ok(AllocResourceUsage::from_tasks(
            [("web".to_string(), usage(1 << 20))].into(),
        ))
    }
    async fn alloc_restart(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<(), ClusterError> {
        self.record(format!("restart {alloc_id} {task:?}"));
        Ok(())
    }
    async fn alloc_signal(
        &self,
        alloc_id: String,
        task: Option<String>,
        signal: String,
    ) -> Result<(), ClusterError> {
        if task.as_deref() == Some("nope") {
            return Err(ClusterError::BadRequest(
                "unknown task name \"nope\"".into(),
            ));
        }
        self.record(format!("signal {alloc_id} {task:?} {signal}"));
        Ok(())
    }
    /// `cat` echoes its input; `sh -c 'exit N'` says bye on stderr and
    /// exits N.
    async fn alloc_exec(&self, req: ExecStart, io: ExecChannels) -> Result<i32, ClusterError> {
        self.record(format!(
            "exec {} {} {:?}",
            req.alloc_id, req.task, req.command
        ));
        let ExecChannels {
            mut stdin, output, ..
        } = io;
        match req.command.first().map(String::as_str) {
            Some("cat") => {
                while let Some(data) = stdin.recv().await {
                    let _ = output.send(ExecChunk::Stdout(data)).await;
                }
                Ok(0)
            }
            Some("sh") => {
                let _ = output.send(ExecChunk::Stderr(b"bye\n".to_vec())).await;
                let code = req
                    .command
                    .last()
                    .and_then(|c| c.strip_prefix("exit "))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                Ok(code)
            }
            _ => Err(ClusterError::BadRequest("unknown command".into())),
        }
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(nomad_api::serve_router(
        listener,
        router,
        std::future::pending(),
    ));
    addr
}

/// A server with one node whose client is `client` (in the same process
/// when `remote` is None, else reached at `remote`), running `JOB`.
async fn cluster(client: Arc<FakeClient>, remote: Option<&str>) -> (String, String) {
    let cluster = Arc::new(InMemoryCluster::new());
    let node_id = cluster.add_node("node-a").expect("node");
    let mut node = (*cluster
        .reader()
        .snapshot()
        .node_by_id(&node_id)
        .expect("node"))
    .clone();
    match remote {
        Some(addr) => node.http_addr = addr.to_string(),
        None => {
            let _ = client.node.set(node_id.clone());
            cluster.attach_client(client.clone());
        }
    }
    cluster.upsert_node(node).expect("upsert");
    let api: Arc<dyn ClusterApi> = cluster.clone();
    let addr = serve(nomad_api::router(api)).await;
    let resp = reqwest::Client::new()
        .put(format!("http://{addr}/v1/jobs"))
        .body(JOB)
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 200);
    let alloc = cluster.alloc_ids().pop().expect("an allocation");
    (addr, alloc)
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("get");
    let code = resp.status().as_u16();
    (code, resp.text().await.expect("body"))
}

async fn put(addr: &str, path: &str, body: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .put(format!("http://{addr}{path}"))
        .body(body.to_string())
        .send()
        .await
        .expect("put");
    let code = resp.status().as_u16();
    (code, resp.text().await.expect("body"))
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn api_client(addr: &str) -> nomad_api_client::Client {
    nomad_api_client::Client::new(nomad_api_client::Config {
        address: format!("http://{addr}"),
        ..Default::default()
    })
    .expect("client")
}

#[tokio::test]
async fn host_stats_have_nomads_field_names() {
    let client = FakeClient::new("");
    let (addr, _) = cluster(client, None).await;
    let (code, body) = get(&addr, "/v1/client/stats").await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    for k in [
        "Memory",
        "CPU",
        "DiskStats",
        "AllocDirStats",
        "DeviceStats",
        "Uptime",
        "Timestamp",
        "CPUTicksConsumed",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {:?}", keys(&v));
    }
    let mut mem = keys(&v["Memory"]);
    mem.sort();
    assert_eq!(mem, ["Available", "Free", "Total", "Used"]);
    let mut cpu = keys(&v["CPU"][0]);
    cpu.sort();
    assert_eq!(cpu, ["CPU", "Idle", "System", "Total", "User"]);
    // Go writes whole floats without a fraction.
    assert!(body.contains(r#""CPUTicksConsumed":1500"#), "{body}");
}

#[tokio::test]
async fn allocation_stats_have_nomads_field_names() {
    let client = FakeClient::new("");
    let (addr, alloc) = cluster(client.clone(), None).await;
    let (code, body) = get(&addr, &format!("/v1/client/allocation/{alloc}/stats")).await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let mut top = keys(&v);
    top.sort();
    assert_eq!(top, ["ResourceUsage", "Tasks", "Timestamp"]);
    let mut mem = keys(&v["ResourceUsage"]["MemoryStats"]);
    mem.sort();
    assert_eq!(
        mem,
        [
            "Cache",
            "KernelMaxUsage",
            "KernelUsage",
            "MaxUsage",
            "Measured",
            "RSS",
            "Swap",
            "Usage"
        ]
    );
    let mut cpu = keys(&v["ResourceUsage"]["CpuStats"]);
    cpu.sort();
    assert_eq!(
        cpu,
        [
            "Measured",
            "Percent",
            "SystemMode",
            "ThrottledPeriods",
            "ThrottledTime",
            "TotalTicks",
            "UserMode"
        ]
    );
    let mut task = keys(&v["Tasks"]["web"]);
    task.sort();
    assert_eq!(task, ["Pids", "ResourceUsage", "Timestamp"]);
    assert_eq!(v["ResourceUsage"]["MemoryStats"]["RSS"], 1 << 20);
    assert_eq!(
        v["Tasks"]["web"]["ResourceUsage"]["CpuStats"]["TotalTicks"],
        12.5
    );

    let (code, body) = get(&addr, "/v1/client/allocation/no-such-alloc/stats").await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body, "Unknown allocation \"no-such-alloc\"");
}

#[tokio::test]
async fn restart_and_signal_reach_the_client() {
    let client = FakeClient::new("");
    let (addr, alloc) = cluster(client.clone(), None).await;
    let (code, body) = put(
        &addr,
        &format!("/v1/client/allocation/{alloc}/restart"),
        r#"{"TaskName": "web"}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = put(
        &addr,
        &format!("/v1/client/allocation/{alloc}/restart"),
        r#"{"AllTasks": true}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = put(
        &addr,
        &format!("/v1/client/allocation/{alloc}/signal"),
        r#"{"Task": "web", "Signal": "SIGUSR1"}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = put(
        &addr,
        &format!("/v1/client/allocation/{alloc}/signal"),
        r#"{"Task": "nope"}"#,
    )
    .await;
    assert_eq!((code, body.as_str()), (400, "unknown task name \"nope\""));
    let (code, _) = get(&addr, &format!("/v1/client/allocation/{alloc}/restart")).await;
    assert_eq!(code, 405);
    assert_eq!(
        client.calls(),
        [
            format!("restart {alloc} Some(\"web\")"),
            format!("restart {alloc} None"),
            format!("signal {alloc} Some(\"web\") SIGUSR1"),
        ]
    );
}

#[tokio::test]
async fn exec_streams_frames_and_the_exit_code() {
    let client = FakeClient::new("");
    let (addr, alloc) = cluster(client.clone(), None).await;
    let c = api_client(&addr);

    let session = c
        .alloc_exec(&alloc, "web", &["cat".to_string()], false)
        .await
        .expect("exec");
    let (mut w, mut r) = session.split();
    w.send_stdin(b"hello\n").await.expect("stdin");
    w.close_stdin().await.expect("close");
    let mut out = Vec::new();
    let code = loop {
        let f = r.next().await.expect("frame").expect("open");
        if let Some(o) = f.stdout {
            out.extend(o.data);
        }
        if f.exited {
            break f.result.map(|r| r.exit_code);
        }
    };
    assert_eq!(String::from_utf8_lossy(&out), "hello\n");
    assert_eq!(code, Some(0));

    let cmd: Vec<String> = ["sh", "-c", "exit 3"].map(String::from).to_vec();
    let (_w, mut r) = c
        .alloc_exec(&alloc, "web", &cmd, false)
        .await
        .expect("exec")
        .split();
    let mut err = Vec::new();
    let code = loop {
        let f = r.next().await.expect("frame").expect("open");
        if let Some(e) = f.stderr {
            err.extend(e.data);
        }
        if f.exited {
            break f.result.map(|r| r.exit_code);
        }
    };
    assert_eq!(
        (String::from_utf8_lossy(&err).as_ref(), code),
        ("bye\n", Some(3))
    );

    // Bad requests are refused before the upgrade, as plain HTTP errors.
    match c.alloc_exec(&alloc, "web", &[], false).await {
        Err(e) => assert_eq!(e.status(), Some(400), "{e}"),
        Ok(_) => panic!("exec without a command accepted"),
    }
    match c.alloc_exec("no-such-alloc", "web", &cmd, false).await {
        Err(e) => assert_eq!(e.status(), Some(404), "{e}"),
        Ok(_) => panic!("exec in an unknown allocation accepted"),
    }
}

#[tokio::test]
async fn a_client_only_agent_forwards_to_its_servers() {
    let server_client = FakeClient::new("");
    let (server, _) = cluster(server_client, None).await;
    let client = FakeClient::new("client-node");
    let fs: Arc<dyn ClientFs> = client.clone();
    // The first address refuses connections: the next server is tried.
    let agent = serve(nomad_api::client_agent_router(
        fs,
        vec!["127.0.0.1:1".to_string(), server.clone()],
    ))
    .await;

    let (code, body) = get(&agent, "/v1/jobs").await;
    assert_eq!(code, 200, "{body}");
    let jobs: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(jobs[0]["ID"], "web");
    let (code, body) = get(&agent, "/v1/job/nope").await;
    assert_eq!(code, 404, "{body}");

    // Its own node and host are answered here.
    let (code, body) = get(&agent, "/v1/agent/self").await;
    assert_eq!(code, 200, "{body}");
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["stats"]["client"]["node_id"], "client-node");
    let (code, body) = get(&agent, "/v1/client/stats").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("CPUTicksConsumed"));
}

#[tokio::test]
async fn a_server_forwards_allocation_requests_to_the_node_running_it() {
    let client = FakeClient::new("node-a");
    let fs: Arc<dyn ClientFs> = client.clone();
    let node_agent = serve(nomad_api::client_agent_router(fs, Vec::new())).await;
    let (server, alloc) = cluster(FakeClient::new(""), Some(&node_agent)).await;

    let (code, body) = get(&server, &format!("/v1/client/allocation/{alloc}/stats")).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""TotalTicks":12.5"#), "{body}");

    let cmd: Vec<String> = ["sh", "-c", "exit 7"].map(String::from).to_vec();
    let (_w, mut r) = api_client(&server)
        .alloc_exec(&alloc, "web", &cmd, false)
        .await
        .expect("exec through the server")
        .split();
    let code = loop {
        let f = r.next().await.expect("frame").expect("open");
        if f.exited {
            break f.result.map(|r| r.exit_code);
        }
    };
    assert_eq!(code, Some(7));
    assert_eq!(
        client.calls(),
        [
            format!("stats {alloc} None"),
            format!("exec {alloc} web [\"sh\", \"-c\", \"exit 7\"]"),
        ]
    );
}

#[tokio::test]
async fn a_client_only_agent_sends_other_nodes_allocations_through_its_servers() {
    let node_client = FakeClient::new("node-a");
    let fs: Arc<dyn ClientFs> = node_client.clone();
    let node_agent = serve(nomad_api::client_agent_router(fs, Vec::new())).await;
    let (server, alloc) = cluster(FakeClient::new(""), Some(&node_agent)).await;
    let other = Arc::new(FakeClient {
        node: std::sync::OnceLock::new(),
        calls: Mutex::new(Vec::new()),
        owns_allocs: false,
    });
    let fs: Arc<dyn ClientFs> = other.clone();
    let agent = serve(nomad_api::client_agent_router(fs, vec![server])).await;

    let (code, body) = get(&agent, &format!("/v1/client/allocation/{alloc}/stats")).await;
    assert_eq!(code, 200, "{body}");
    let cmd: Vec<String> = ["sh", "-c", "exit 9"].map(String::from).to_vec();
    let (_w, mut r) = api_client(&agent)
        .alloc_exec(&alloc, "web", &cmd, false)
        .await
        .expect("exec through the servers")
        .split();
    let code = loop {
        let f = r.next().await.expect("frame").expect("open");
        if f.exited {
            break f.result.map(|r| r.exit_code);
        }
    };
    assert_eq!(code, Some(9));
    assert!(other.calls().is_empty(), "{:?}", other.calls());
    assert_eq!(node_client.calls().len(), 2, "{:?}", node_client.calls());
}
