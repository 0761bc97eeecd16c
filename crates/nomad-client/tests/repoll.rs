//! Driver fingerprints taken again while the client runs update the node
//! the servers see.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nomad_client::testing::FakeServer;
use nomad_client::Client;
use nomad_driver::{
    async_trait, Capabilities, Driver, DriverError, ExecRequest, ExecStreams, ExitResult,
    Fingerprint, TaskConfig, TaskHandle, TaskResourceUsage, TaskStatus,
};
use nomad_types::Node;

/// A driver whose health a test switches; it runs nothing.
struct Flaky {
    healthy: AtomicBool,
}

#[async_trait]
impl Driver for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn fingerprint(&self) -> Fingerprint {
        if self.healthy.load(Ordering::SeqCst) {
            let mut f = Fingerprint::healthy();
            f.attributes
                .insert("driver.flaky.version".into(), "2.0".into());
            f
        } else {
            Fingerprint::unhealthy("flaky daemon is down")
        }
    }
    async fn start_task(&self, _: TaskConfig) -> Result<TaskHandle, DriverError> {
        Err(DriverError::NotSupported("start_task"))
    }
    async fn recover_task(&self, _: &TaskHandle) -> Result<(), DriverError> {
        Err(DriverError::NotSupported("recover_task"))
    }
    async fn wait_task(&self, id: &str) -> Result<ExitResult, DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn stop_task(&self, id: &str, _: Duration, _: &str) -> Result<(), DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn destroy_task(&self, id: &str, _: bool) -> Result<(), DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn inspect_task(&self, id: &str) -> Result<TaskStatus, DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn task_stats(&self, id: &str) -> Result<TaskResourceUsage, DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn signal_task(&self, id: &str, _: &str) -> Result<(), DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
    async fn exec_task(
        &self,
        id: &str,
        _: ExecRequest,
        _: ExecStreams,
    ) -> Result<ExitResult, DriverError> {
        Err(DriverError::TaskNotFound(id.into()))
    }
}

async fn wait_node(
    server: &FakeServer,
    id: &str,
    what: &str,
    pred: impl Fn(&Node) -> bool,
) -> Node {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(n) = server.node(id) {
            if pred(&n) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "servers never saw {what}: drivers {:?}",
                n.drivers.get("flaky")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_turning_healthy_and_back_updates_the_node() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::new());
    let mut cfg = config(dir.path());
    cfg.driver_fingerprint_interval = Duration::from_millis(100);
    let flaky = Arc::new(Flaky {
        healthy: AtomicBool::new(false),
    });
    let client = Client::start_with_drivers(cfg, server.clone(), vec![flaky.clone()])
        .await
        .unwrap();
    let id = client.node_id().to_string();
    let n = wait_node(&server, &id, "the flaky driver", |n| {
        n.drivers.contains_key("flaky")
    })
    .await;
    assert!(!n.drivers["flaky"].healthy);
    assert_eq!(
        n.drivers["flaky"].health_description,
        "flaky daemon is down"
    );
    assert!(!n.attributes.contains_key("driver.flaky.version"));

    flaky.healthy.store(true, Ordering::SeqCst);
    let n = wait_node(&server, &id, "a healthy flaky driver", |n| {
        n.drivers.get("flaky").is_some_and(|d| d.healthy)
    })
    .await;
    assert_eq!(n.drivers["flaky"].health_description, "Healthy");
    assert_eq!(n.attributes["driver.flaky.version"], "2.0");
    assert_eq!(n.attributes["driver.flaky"], "1");
    // The other drivers and the node's status are untouched.
    assert!(n.drivers["raw_exec"].healthy);
    assert_ne!(n.status, "initializing");
    assert!(client.node().drivers["flaky"].healthy);

    flaky.healthy.store(false, Ordering::SeqCst);
    let n = wait_node(&server, &id, "an unhealthy flaky driver again", |n| {
        n.drivers.get("flaky").is_some_and(|d| !d.healthy)
    })
    .await;
    assert!(!n.attributes.contains_key("driver.flaky.version"));

    // Nothing changes: no more registrations.
    let before = server.registrations();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.registrations(),
        before,
        "an unchanged node is not sent again"
    );
}
