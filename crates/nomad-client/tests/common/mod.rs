//! Shared by the client's integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use nomad_client::testing::FakeServer;
use nomad_client::{Client, ClientConfig};
use nomad_types::{Allocation, TaskEvent};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub fn config(dir: &std::path::Path) -> ClientConfig {
    let mut c = ClientConfig::dev(dir);
    c.alloc_watch_wait = Duration::from_secs(2);
    c.update_interval = Duration::from_millis(50);
    c
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: Arc<FakeServer>,
    pub client: Client,
}

pub async fn start() -> Env {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::new());
    let client = Client::start(config(dir.path()), server.clone())
        .await
        .unwrap();
    wait_registered(&server, client.node_id()).await;
    Env {
        dir,
        server,
        client,
    }
}

pub async fn wait_registered(server: &FakeServer, id: &str) {
    for _ in 0..500 {
        if server.node(id).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node never registered");
}

pub fn event_types(a: &Allocation, task: &str) -> Vec<String> {
    a.task_states
        .get(task)
        .map(|s| s.events.iter().map(|e| e.event_type.clone()).collect())
        .unwrap_or_default()
}

pub fn events<'a>(a: &'a Allocation, task: &str) -> &'a [TaskEvent] {
    a.task_states
        .get(task)
        .map(|s| s.events.as_slice())
        .unwrap_or(&[])
}

pub fn is_alive(pid: i32) -> bool {
    // A zombie still answers kill(0); read the state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Loud skip outside CI, failure under CI=true.
pub fn skip_unless(ok: bool, test: &str, why: &str) -> bool {
    if ok {
        return false;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} {why}, and CI=true requires it to run");
    }
    use std::io::Write;
    let msg = format!("\n*** SKIPPED {test}: {why} ***\n");
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/stderr")
        .and_then(|mut f| f.write_all(msg.as_bytes()));
    true
}
