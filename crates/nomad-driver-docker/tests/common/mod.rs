//! Helpers shared by the docker driver's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nomad_driver::{Driver, ExitResult, TaskConfig, TaskDirs, TaskResources};
use nomad_driver_docker::testing::{self, ContainerSweep, TEST_IMAGE};
use nomad_driver_docker::{DockerConfig, DockerDriver};
use serde_json::{json, Value};

static N: AtomicU64 = AtomicU64::new(0);

/// A test's context: its temp dir and the sweep of its containers.
pub struct Ctx {
    pub dir: tempfile::TempDir,
    pub prefix: String,
    _sweep: ContainerSweep,
}

/// `None` (after printing why) when Docker is absent outside CI.
pub fn ctx(test: &str) -> Option<Ctx> {
    if !testing::docker_or_skip(test) {
        return None;
    }
    let prefix = format!("dt-{}-{}-", std::process::id(), test.replace('_', "-"));
    Some(Ctx {
        dir: tempfile::tempdir().expect("temp dir"),
        _sweep: ContainerSweep::new(prefix.clone()),
        prefix,
    })
}

pub fn driver() -> DockerDriver {
    DockerDriver::new(DockerConfig::default())
}

impl Ctx {
    /// A task running `script` with the busybox shell.
    pub fn task(&self, name: &str, script: &str) -> TaskConfig {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let alloc_id = format!("{}{n}", self.prefix);
        let dirs = TaskDirs::new(self.dir.path().join(&alloc_id), name);
        dirs.create_all().expect("task dirs");
        let mut driver_config = BTreeMap::new();
        driver_config.insert("image".to_string(), json!(TEST_IMAGE));
        driver_config.insert("command".to_string(), json!("/bin/sh"));
        driver_config.insert("args".to_string(), json!(["-c", script]));
        TaskConfig {
            id: format!("{alloc_id}/{name}/{n}"),
            alloc_id,
            namespace: "default".into(),
            job_id: "job-id".into(),
            job_name: "job-name".into(),
            task_group: "group".into(),
            name: name.into(),
            driver_config,
            env: [("PATH".to_string(), "/bin".to_string())].into(),
            resources: TaskResources {
                cpu_mhz: 100,
                memory_mb: 64,
                ..TaskResources::default()
            },
            stdout_path: dirs.log_dir.join(format!("{name}.stdout.0")),
            stderr_path: dirs.log_dir.join(format!("{name}.stderr.0")),
            dirs,
            kill_signal: "SIGTERM".into(),
            kill_timeout: Duration::from_secs(2),
            ..TaskConfig::default()
        }
    }
}

pub fn set(cfg: &mut TaskConfig, key: &str, value: Value) {
    cfg.driver_config.insert(key.to_string(), value);
}

/// Waits for the exit (20 s at most).
pub async fn wait(d: &dyn Driver, id: &str) -> ExitResult {
    tokio::time::timeout(Duration::from_secs(20), d.wait_task(id))
        .await
        .expect("task did not exit in 20 s")
        .expect("wait_task")
}

/// Runs a task to completion; returns its exit and stdout, then destroys it.
pub async fn run(d: &dyn Driver, cfg: TaskConfig) -> (ExitResult, String, String) {
    let id = cfg.id.clone();
    let (out, err) = (cfg.stdout_path.clone(), cfg.stderr_path.clone());
    d.start_task(cfg).await.expect("start_task");
    let exit = wait(d, &id).await;
    d.destroy_task(&id, true).await.expect("destroy_task");
    (exit, read(&out), read(&err))
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Polls `f` until it returns true (10 s at most).
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
