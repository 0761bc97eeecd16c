//! What exec isolation promises: PID namespace, chroot, user, cgroup limits,
//! OOM reporting, the secrets tmpfs, exec sessions inside the namespaces.
//! Root and cgroups needed (skipped loudly otherwise, failing under CI=true).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use nomad_driver::{exec_capture, Driver, ExitResult, TaskConfig, TaskDirs, TaskResources};
use nomad_driver_exec::{ExecConfig, ExecDriver};
use serde_json::{json, Value};

struct Env {
    dir: tempfile::TempDir,
    driver: ExecDriver,
}

impl Drop for Env {
    /// A failed assertion must not leak tasks, cgroups or mounts.
    fn drop(&mut self) {
        common::force_cleanup(self.dir.path());
    }
}

fn env(test: &str) -> Option<Env> {
    if !common::can_run(test) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let driver = ExecDriver::new(common::config(dir.path()));
    Some(Env { dir, driver })
}

fn task(base: &Path, name: &str, script: &str) -> TaskConfig {
    let alloc = format!("alloc-{name}");
    let dirs = TaskDirs::new(base.join(&alloc), name);
    dirs.create_all().unwrap();
    let mut driver_config = BTreeMap::new();
    driver_config.insert("command".into(), Value::String("/bin/sh".into()));
    driver_config.insert("args".into(), json!(["-c", script]));
    TaskConfig {
        id: format!("{alloc}/{name}/1"),
        alloc_id: alloc,
        name: name.into(),
        driver_config,
        env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
        resources: TaskResources {
            cpu_mhz: 250,
            memory_mb: 64,
            ..TaskResources::default()
        },
        stdout_path: dirs.log_dir.join(format!("{name}.stdout.0")),
        stderr_path: dirs.log_dir.join(format!("{name}.stderr.0")),
        dirs,
        ..TaskConfig::default()
    }
}

/// Runs a task to completion; returns its exit, stdout and stderr.
async fn run(d: &ExecDriver, cfg: TaskConfig) -> (ExitResult, String, String) {
    let id = cfg.id.clone();
    let (out, err) = (cfg.stdout_path.clone(), cfg.stderr_path.clone());
    d.start_task(cfg).await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(30), d.wait_task(&id))
        .await
        .expect("task did not exit")
        .unwrap();
    d.destroy_task(&id, false).await.unwrap();
    (
        exit,
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

#[tokio::test]
async fn task_is_pid_1_and_sees_no_host_processes() {
    let Some(e) = env("task_is_pid_1_and_sees_no_host_processes") else {
        return;
    };
    let cfg = task(
        e.dir.path(),
        "pidns",
        "echo pid=$$; for p in /proc/[0-9]*; do echo ${p#/proc/}; done",
    );
    let (exit, out, err) = run(&e.driver, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("pid=1"), "{out}");
    let pids: Vec<u32> = lines.map(|l| l.parse().unwrap()).collect();
    // Only the shell itself: the loop is a builtin.
    assert_eq!(pids, vec![1], "{out}");
}

#[tokio::test]
async fn pid_mode_host_shares_the_host_pid_namespace() {
    let Some(e) = env("pid_mode_host_shares_the_host_pid_namespace") else {
        return;
    };
    let mut cfg = task(e.dir.path(), "hostpid", "echo $$");
    cfg.driver_config.insert("pid_mode".into(), json!("host"));
    let (exit, out, _) = run(&e.driver, cfg).await;
    assert!(exit.successful());
    assert_ne!(out.trim(), "1");
}

#[tokio::test]
async fn root_filesystem_is_the_chroot() {
    let Some(e) = env("root_filesystem_is_the_chroot") else {
        return;
    };
    let marker = e.dir.path().join("host-only-marker");
    std::fs::write(&marker, "host").unwrap();
    let script = format!(
        r#"
        test -e {marker} && echo marker-visible
        test -e /root && echo root-visible
        test -x /usr/bin/env && echo has-usr
        test -d /alloc/data && echo has-alloc
        echo hi > /local/out && echo local-writable
        echo hi > /alloc/data/out && echo alloc-writable
        echo hi > /tmp/out && echo tmp-writable
        touch /etc/nope 2>/dev/null || echo etc-read-only
        touch /usr/nope 2>/dev/null || echo usr-read-only
        grep -q ' /secrets tmpfs ' /proc/mounts && echo secrets-tmpfs
        grep ' /usr ' /proc/mounts | grep -q ' ro[ ,]' && echo usr-mounted-ro
        test -c /dev/null && echo dev-null
        ls /dev | tr '\n' ' '
        "#,
        marker = marker.display()
    );
    let cfg = task(e.dir.path(), "chroot", &script);
    let local_out = cfg.dirs.local_dir.join("out");
    let (exit, out, err) = run(&e.driver, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    for want in [
        "has-usr",
        "has-alloc",
        "local-writable",
        "alloc-writable",
        "tmp-writable",
        "etc-read-only",
        "usr-read-only",
        "secrets-tmpfs",
        "usr-mounted-ro",
        "dev-null",
    ] {
        assert!(
            out.contains(want),
            "missing {want:?} in:\n{out}\nstderr: {err}"
        );
    }
    assert!(!out.contains("marker-visible"), "{out}");
    assert!(!out.contains("root-visible"), "{out}");
    let dev: Vec<&str> = out.lines().last().unwrap().split_whitespace().collect();
    assert!(
        !dev.contains(&"sda") && !dev.contains(&"kmsg"),
        "host devices leaked: {dev:?}"
    );
    assert_eq!(std::fs::read_to_string(local_out).unwrap(), "hi\n");
}

#[tokio::test]
async fn runs_as_nobody_unless_user_is_set() {
    let Some(e) = env("runs_as_nobody_unless_user_is_set") else {
        return;
    };
    let nobody = nomad_driver::executor::lookup_user("nobody").unwrap();
    let (exit, out, _) = run(&e.driver, task(e.dir.path(), "nobody", "id -u")).await;
    assert!(exit.successful());
    assert_eq!(out.trim(), nobody.uid.to_string());

    let mut cfg = task(e.dir.path(), "asroot", "id -u");
    cfg.user = "root".into();
    let (exit, out, _) = run(&e.driver, cfg).await;
    assert!(exit.successful());
    assert_eq!(out.trim(), "0");
}

#[tokio::test]
async fn memory_hog_is_oom_killed_and_reported() {
    let Some(e) = env("memory_hog_is_oom_killed_and_reported") else {
        return;
    };
    let mut cfg = task(e.dir.path(), "hog", "exec tail /dev/zero");
    cfg.resources.memory_mb = 32;
    let (exit, _, err) = run(&e.driver, cfg).await;
    assert!(exit.oom_killed, "{exit:?} {err}");
    assert_eq!(exit.signal, 9, "{exit:?}");
    assert_eq!(exit.exit_code, 137, "{exit:?}");
    let ev = exit.to_task_event(1);
    assert_eq!(ev.details["oom_killed"], "true");

    // A task that stays under its limit is not reported as OOM.
    let (exit, _, _) = run(
        &e.driver,
        task(
            e.dir.path(),
            "small",
            "head -c 1000000 /dev/zero > /dev/null",
        ),
    )
    .await;
    assert!(exit.successful() && !exit.oom_killed, "{exit:?}");
}

#[tokio::test]
async fn cgroup_limits_are_applied_and_removed() {
    let Some(e) = env("cgroup_limits_are_applied_and_removed") else {
        return;
    };
    let mut cfg = task(
        e.dir.path(),
        "limits",
        "echo ready; while :; do sleep 0.1; done",
    );
    cfg.resources.memory_mb = 48;
    cfg.resources.memory_max_mb = 96;
    let id = cfg.id.clone();
    e.driver.start_task(cfg).await.unwrap();
    let status = e.driver.inspect_task(&id).await.unwrap();
    let cg = Path::new(&status.driver_attributes["cgroup"]).to_path_buf();
    let cpu = status
        .driver_attributes
        .get("cgroup.cpu")
        .map(|d| Path::new(d).join("cpu.shares"))
        .unwrap_or_else(|| cg.join("cpu.weight"));
    let want_cpu = if cpu.ends_with("cpu.shares") {
        "250"
    } else {
        "10"
    };
    assert_eq!(
        std::fs::read_to_string(&cpu).unwrap().trim(),
        want_cpu,
        "{cpu:?}"
    );
    let procs_of = |dir: &Path| std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    let mut seen = false;
    for (file, want) in [
        ("memory.limit_in_bytes", (96u64 << 20).to_string()),
        ("memory.soft_limit_in_bytes", (48u64 << 20).to_string()),
        ("memory.max", (96u64 << 20).to_string()),
        ("memory.low", (48u64 << 20).to_string()),
    ] {
        if let Ok(v) = std::fs::read_to_string(cg.join(file)) {
            assert_eq!(v.trim(), want, "{file}");
            seen = true;
        }
    }
    assert!(seen, "no memory limit files in {cg:?}");
    assert!(!procs_of(&cg).trim().is_empty(), "task not in its cgroup");
    let stats = e.driver.task_stats(&id).await.unwrap();
    assert!(stats.resource_usage.memory_stats.usage > 0, "{stats:?}");
    e.driver.destroy_task(&id, true).await.unwrap();
    assert!(!cg.exists(), "cgroup {cg:?} left behind");
}

#[tokio::test]
async fn secrets_keep_prewritten_files_and_unmount_on_destroy() {
    let Some(e) = env("secrets_keep_prewritten_files_and_unmount_on_destroy") else {
        return;
    };
    let cfg = task(
        e.dir.path(),
        "secrets",
        "cat /secrets/token; touch /secrets/new",
    );
    let secrets = cfg.dirs.secrets_dir.clone();
    std::fs::write(secrets.join("token"), "s3cr3t\n").unwrap();
    let (exit, out, err) = run(&e.driver, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    assert_eq!(out, "s3cr3t\n");
    assert!(!nomad_driver_exec::chroot::is_mount_point(&secrets));
    // The copy that was on disk was moved into the tmpfs, not left behind.
    assert!(!secrets.join("token").exists());
}

#[tokio::test]
async fn exec_sessions_join_the_task_namespaces() {
    let Some(e) = env("exec_sessions_join_the_task_namespaces") else {
        return;
    };
    let marker = e.dir.path().join("host-only-marker");
    std::fs::write(&marker, "host").unwrap();
    let cfg = task(
        e.dir.path(),
        "execns",
        "echo ready; while :; do sleep 0.1; done",
    );
    let id = cfg.id.clone();
    e.driver.start_task(cfg).await.unwrap();
    let script = format!(
        "tr '\\0' ' ' < /proc/1/cmdline; echo; test -e {} && echo marker-visible; id -u; echo done",
        marker.display()
    );
    let out = exec_capture(
        &e.driver,
        &id,
        vec!["/bin/sh".into(), "-c".into(), script],
        None,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.exit.successful(),
        "{:?} {stdout} {}",
        out.exit,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("/bin/sh -c echo ready"), "{stdout}");
    assert!(!stdout.contains("marker-visible"), "{stdout}");
    let nobody = nomad_driver::executor::lookup_user("nobody").unwrap();
    assert!(
        stdout.contains(&format!("\n{}\ndone", nobody.uid)),
        "{stdout}"
    );
    e.driver.destroy_task(&id, true).await.unwrap();
}

#[tokio::test]
async fn no_pivot_root_uses_chroot() {
    let Some(_) = env("no_pivot_root_uses_chroot") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            common::force_cleanup(self.0);
        }
    }
    let _cleanup = Cleanup(dir.path());
    let d = ExecDriver::new(ExecConfig {
        no_pivot_root: true,
        ..common::config(dir.path())
    });
    let marker = dir.path().join("host-only-marker");
    std::fs::write(&marker, "host").unwrap();
    let cfg = task(
        dir.path(),
        "nopivot",
        &format!(
            "test -e {} && echo marker-visible; echo $$",
            marker.display()
        ),
    );
    let (exit, out, err) = run(&d, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    assert_eq!(out.trim(), "1");
}

#[tokio::test]
async fn missing_command_in_chroot_fails_start() {
    let Some(e) = env("missing_command_in_chroot_fails_start") else {
        return;
    };
    let mut cfg = task(e.dir.path(), "missing", "");
    cfg.driver_config
        .insert("command".into(), json!("definitely-not-a-command"));
    cfg.driver_config.insert("args".into(), json!([]));
    let err = e.driver.start_task(cfg).await.unwrap_err();
    assert!(
        err.to_string().contains("definitely-not-a-command"),
        "{err}"
    );
    assert!(std::fs::read_dir(e.dir.path().join("state"))
        .unwrap()
        .next()
        .is_none());
}

fn cap_mask(status_line: &str) -> u64 {
    u64::from_str_radix(status_line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[tokio::test]
async fn capabilities_are_bounded_and_writable_mounts_are_nodev() {
    let Some(e) = env("capabilities_are_bounded_and_writable_mounts_are_nodev") else {
        return;
    };
    let script = "grep -E '^Cap(Bnd|Eff):' /proc/self/status; \
        mknod /local/devnull c 1 3 && { echo x > /local/devnull 2>/dev/null && echo opened || echo blocked; }";
    let mut cfg = task(e.dir.path(), "caps", script);
    cfg.user = "root".into();
    let (exit, out, err) = run(&e.driver, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    let bnd = cap_mask(out.lines().find(|l| l.starts_with("CapBnd")).unwrap());
    let eff = cap_mask(out.lines().find(|l| l.starts_with("CapEff")).unwrap());
    let bit = |n: u32| 1u64 << n;
    assert_eq!(bnd & bit(21), 0, "CAP_SYS_ADMIN left in {bnd:x}");
    assert_eq!(bnd & bit(13), 0, "CAP_NET_RAW left in {bnd:x}");
    assert_ne!(bnd & bit(0), 0, "CAP_CHOWN missing from {bnd:x}");
    assert_eq!(eff, bnd, "root's effective set is its bounding set");
    assert!(
        out.contains("blocked"),
        "a device node in /local was usable:\n{out}"
    );

    let mut cfg = task(e.dir.path(), "nocaps", "grep '^CapEff:' /proc/self/status");
    cfg.user = "root".into();
    cfg.driver_config.insert("cap_drop".into(), json!(["all"]));
    let (exit, out, _) = run(&e.driver, cfg).await;
    assert!(exit.successful());
    assert_eq!(cap_mask(&out), 0, "{out}");

    let mut cfg = task(e.dir.path(), "netraw", "true");
    cfg.driver_config
        .insert("cap_add".into(), json!(["net_raw"]));
    let err = e.driver.start_task(cfg).await.unwrap_err();
    assert!(err.to_string().contains("NET_RAW"), "{err}");
}
