//! Start latency of the docker driver against a bare `docker run -d`.
//!
//! ```text
//! cargo run --release -p nomad-driver-docker --example docker_start_bench [-- N]
//! ```
//!
//! For each of N rounds (default 20) it times, with the locally built
//! busybox image and the same idle command:
//!
//! * driver: `start_task` until it returns (the container is running: the
//!   driver returns after Docker started it and inspected it);
//! * bare: `docker run -d` until the CLI exits (container started).
//!
//! The two alternate so that drift affects both; every container is removed
//! between rounds (outside the timings) and at exit. Prints p50 and p99 of
//! each and the driver/bare ratio (goal: at most 1.2).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_driver::{Driver, TaskConfig, TaskDirs, TaskResources};
use nomad_driver_docker::container::LABEL_ALLOC_ID;
use nomad_driver_docker::testing::{self, ContainerSweep, TEST_IMAGE};
use nomad_driver_docker::{DockerConfig, DockerDriver};
use serde_json::json;

const IDLE: &str = "while :; do sleep 1; done";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn task(base: &std::path::Path, prefix: &str, i: usize) -> Result<TaskConfig, String> {
    let alloc_id = format!("{prefix}{i}");
    let dirs = TaskDirs::new(base.join(&alloc_id), "bench");
    dirs.create_all().map_err(|e| e.to_string())?;
    let mut cfg = TaskConfig {
        id: format!("{alloc_id}/bench/{i}"),
        alloc_id,
        namespace: "default".into(),
        job_id: "bench".into(),
        job_name: "bench".into(),
        task_group: "bench".into(),
        name: "bench".into(),
        env: [("PATH".to_string(), "/bin".to_string())].into(),
        resources: TaskResources {
            cpu_mhz: 100,
            memory_mb: 64,
            ..TaskResources::default()
        },
        stdout_path: dirs.log_dir.join("bench.stdout.0"),
        stderr_path: dirs.log_dir.join("bench.stderr.0"),
        dirs,
        kill_signal: "SIGTERM".into(),
        ..TaskConfig::default()
    };
    cfg.driver_config.insert("image".into(), json!(TEST_IMAGE));
    cfg.driver_config.insert("command".into(), json!("/bin/sh"));
    cfg.driver_config.insert("args".into(), json!(["-c", IDLE]));
    Ok(cfg)
}

fn bare_run(label: &str) -> Result<(Duration, String), String> {
    let t0 = Instant::now();
    let out = Command::new("docker")
        .args(["run", "-d", "--label"])
        .arg(format!("{LABEL_ALLOC_ID}={label}"))
        .args([TEST_IMAGE, "/bin/sh", "-c", IDLE])
        .output()
        .map_err(|e| format!("docker run: {e}"))?;
    let took = t0.elapsed();
    if !out.status.success() {
        return Err(format!(
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        took,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    if !testing::docker_or_skip("docker_start_bench") {
        return Ok(());
    }
    let prefix = format!("bench-{}-", std::process::id());
    let _sweep = ContainerSweep::new(prefix.clone());
    let dir = std::env::temp_dir().join(format!("nomad-docker-bench-{}", std::process::id()));
    let driver: Arc<dyn Driver> = Arc::new(DockerDriver::new(DockerConfig::default()));
    // Warm-up: connection, version negotiation, page cache.
    let fp = driver.fingerprint().await;
    println!(
        "docker {} ({} rounds, image {TEST_IMAGE})",
        fp.attributes
            .get("driver.docker.version")
            .map(String::as_str)
            .unwrap_or("?"),
        n
    );
    let warm = task(&dir, &prefix, usize::MAX)?;
    driver
        .start_task(warm.clone())
        .await
        .map_err(|e| e.to_string())?;
    driver
        .destroy_task(&warm.id, true)
        .await
        .map_err(|e| e.to_string())?;
    let (_, id) = bare_run(&format!("{prefix}bare"))?;
    testing::remove_containers(&format!("{prefix}bare"));
    drop(id);

    let mut ours = Vec::with_capacity(n);
    let mut bare = Vec::with_capacity(n);
    for i in 0..n {
        let cfg = task(&dir, &prefix, i)?;
        let t0 = Instant::now();
        driver
            .start_task(cfg.clone())
            .await
            .map_err(|e| e.to_string())?;
        ours.push(t0.elapsed());
        driver
            .destroy_task(&cfg.id, true)
            .await
            .map_err(|e| e.to_string())?;

        let (took, _) = bare_run(&format!("{prefix}bare"))?;
        bare.push(took);
        testing::remove_containers(&format!("{prefix}bare"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    ours.sort();
    bare.sort();
    let (o50, o99) = (percentile(&ours, 50.0), percentile(&ours, 99.0));
    let (b50, b99) = (percentile(&bare, 50.0), percentile(&bare, 99.0));
    println!("                      p50        p99");
    println!("driver start_task  {:7.1} ms {:7.1} ms", ms(o50), ms(o99));
    println!("docker run -d      {:7.1} ms {:7.1} ms", ms(b50), ms(b99));
    println!(
        "ratio driver/bare  {:7.2}    {:7.2}    (goal <= 1.20)",
        ms(o50) / ms(b50),
        ms(o99) / ms(b99)
    );
    Ok(())
}
