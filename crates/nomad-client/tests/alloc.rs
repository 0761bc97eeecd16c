//! Allocation runner behaviour with real raw_exec tasks and the fake server.

mod common;

use std::time::Duration;

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, raw_exec_task};
use nomad_types::{Nanos, RestartPolicy, TaskLifecycle};

fn policy(attempts: i64, mode: &str, interval: Nanos) -> RestartPolicy {
    RestartPolicy {
        attempts: Some(attempts),
        interval: Some(interval),
        delay: Some(Nanos::from_millis(50)),
        mode: Some(mode.into()),
        render_templates: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_task_restarts_attempts_times_then_fails_the_alloc() {
    let env = start().await;
    let t = raw_exec_task("web", "/bin/sh", &["-c", "echo boom >&2; exit 3"]);
    let j = job(
        "fail",
        "service",
        vec![t],
        Some(policy(2, "fail", Nanos::from_secs(60))),
    );
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let st = &got.task_states["web"];
    assert_eq!(st.state, "dead");
    assert!(st.failed);
    assert_eq!(st.restarts, 2);
    assert_eq!(got.client_description, "Failed tasks");
    let types = event_types(&got, "web");
    assert_eq!(
        types.iter().filter(|t| *t == "Started").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "Terminated").count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "Restarting").count(),
        2,
        "{types:?}"
    );
    let evs = events(&got, "web");
    let last = evs.last().unwrap();
    assert_eq!(last.event_type, "Not Restarting");
    assert_eq!(
        last.display_message,
        "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\""
    );
    assert!(last.fails_task);
    let term = evs.iter().find(|e| e.event_type == "Terminated").unwrap();
    assert_eq!(term.display_message, "Exit Code: 3");
    assert_eq!(term.details["exit_code"], "3");
    let restarting = evs.iter().find(|e| e.event_type == "Restarting").unwrap();
    assert!(
        restarting
            .display_message
            .starts_with("Task restarting in "),
        "{}",
        restarting.display_message
    );
    assert!(restarting.start_delay >= 50_000_000 && restarting.start_delay <= 62_500_000);
    // stderr went to the rotated log files.
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let err = read_logs(&dir, "web", "stderr", Origin::Start, 0, 1 << 20).unwrap();
    assert_eq!(String::from_utf8_lossy(&err), "boom\nboom\nboom\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_mode_keeps_retrying() {
    let env = start().await;
    let t = raw_exec_task("web", "/bin/sh", &["-c", "exit 1"]);
    let j = job(
        "delay",
        "service",
        vec![t],
        Some(policy(1, "delay", Nanos::from_millis(400))),
    );
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            a.task_states.get("web").is_some_and(|s| s.restarts >= 4)
        })
        .await
        .unwrap();
    assert_ne!(got.client_status, "failed");
    assert!(!got.task_states["web"].failed);
    assert!(events(&got, "web")
        .iter()
        .any(|e| e.event_type == "Restarting"
            && e.restart_reason == "Exceeded allowed attempts, applying a delay"
            && e.display_message
                .starts_with("Exceeded allowed attempts, applying a delay - Task restarting in")));
    env.server.stop_alloc(&a.id);
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_runs_prestart_sidecar_main_poststart_poststop_in_order() {
    let env = start().await;
    let log = "${NOMAD_ALLOC_DIR}/data/order";
    let sh = |name: &str, script: String| raw_exec_task(name, "/bin/sh", &["-c", &script]);
    let mut pre = sh("pre", format!("sleep 0.3; echo pre >> {log}"));
    pre.lifecycle = Some(TaskLifecycle {
        hook: "prestart".into(),
        sidecar: false,
    });
    let mut side = sh("side", format!("echo side >> {log}; exec sleep 1000"));
    side.lifecycle = Some(TaskLifecycle {
        hook: "prestart".into(),
        sidecar: true,
    });
    let main = sh(
        "main",
        format!("test -f {log} && grep -q pre {log} && echo main >> {log}; sleep 0.3"),
    );
    let mut post = sh("post", format!("echo post >> {log}"));
    post.lifecycle = Some(TaskLifecycle {
        hook: "poststart".into(),
        sidecar: false,
    });
    let mut stop = sh("stop", format!("echo stop >> {log}"));
    stop.lifecycle = Some(TaskLifecycle {
        hook: "poststop".into(),
        sidecar: false,
    });
    let j = job("life", "batch", vec![stop, post, main, side, pre], None);
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let order =
        String::from_utf8(nomad_client::allocdir::cat(&dir, "alloc/data/order").unwrap()).unwrap();
    let lines: Vec<&str> = order.lines().collect();
    let pos = |w: &str| {
        lines
            .iter()
            .position(|l| *l == w)
            .unwrap_or_else(|| panic!("{w} missing in {lines:?}"))
    };
    assert!(pos("pre") < pos("main"), "{lines:?}");
    assert!(pos("side") < pos("main"), "{lines:?}");
    assert!(
        pos("main") < pos("post") || pos("post") > pos("pre"),
        "{lines:?}"
    );
    assert_eq!(lines.last(), Some(&"stop"), "{lines:?}");
    let ts = |t: &str| got.task_states[t].clone();
    assert!(ts("main").started_at.to_unix_nanos() >= ts("pre").finished_at.to_unix_nanos());
    assert!(ts("stop").started_at.to_unix_nanos() >= ts("main").finished_at.to_unix_nanos());
    // The sidecar was killed because the main tasks died, without failing.
    let side_types = event_types(&got, "side");
    assert!(
        side_types.contains(&"Main Tasks Dead".to_string()),
        "{side_types:?}"
    );
    assert!(side_types.contains(&"Killed".to_string()), "{side_types:?}");
    assert!(!ts("side").failed);
    for t in ["pre", "side", "main", "post", "stop"] {
        assert_eq!(ts(t).state, "dead", "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_prestart_fails_the_alloc_and_main_never_runs() {
    let env = start().await;
    let mut pre = raw_exec_task("pre", "/bin/sh", &["-c", "exit 2"]);
    pre.lifecycle = Some(TaskLifecycle {
        hook: "prestart".into(),
        sidecar: false,
    });
    let main = raw_exec_task("main", "/bin/sh", &["-c", "echo ran"]);
    let j = job(
        "prefail",
        "batch",
        vec![pre, main],
        Some(policy(0, "fail", Nanos::from_secs(60))),
    );
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            a.client_status == "failed" && a.task_states.values().all(|s| s.state == "dead")
        })
        .await
        .unwrap();
    assert!(got.task_states["main"].started_at.is_zero());
    assert!(!event_types(&got, "main").contains(&"Started".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_vars_are_visible_to_the_task() {
    let env = start().await;
    let mut t = raw_exec_task("web", "/usr/bin/env", &[]);
    t.env.insert(
        "GREETING".into(),
        "hi-${NOMAD_TASK_NAME}-${attr.kernel.name}-${node.datacenter}".into(),
    );
    t.meta.insert("owner".into(), "team-a".into());
    let mut j = job("envjob", "batch", vec![t], None);
    j.meta.insert("tier".into(), "gold".into());
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let out =
        String::from_utf8(read_logs(&dir, "web", "stdout", Origin::Start, 0, 1 << 20).unwrap())
            .unwrap();
    let vars: std::collections::BTreeMap<&str, &str> =
        out.lines().filter_map(|l| l.split_once('=')).collect();
    let alloc_dir = dir.root.display().to_string();
    let want = [
        ("NOMAD_ALLOC_ID", a.id.as_str()),
        ("NOMAD_SHORT_ALLOC_ID", &a.id[..8]),
        ("NOMAD_ALLOC_INDEX", "0"),
        ("NOMAD_ALLOC_NAME", "envjob.group[0]"),
        ("NOMAD_JOB_ID", "envjob"),
        ("NOMAD_JOB_NAME", "envjob"),
        ("NOMAD_GROUP_NAME", "group"),
        ("NOMAD_TASK_NAME", "web"),
        ("NOMAD_DC", "dc1"),
        ("NOMAD_REGION", "global"),
        ("NOMAD_NAMESPACE", "default"),
        ("NOMAD_CPU_LIMIT", "100"),
        ("NOMAD_MEMORY_LIMIT", "64"),
        ("NOMAD_META_owner", "team-a"),
        ("NOMAD_META_OWNER", "team-a"),
        ("NOMAD_META_tier", "gold"),
        ("GREETING", "hi-web-linux-dc1"),
    ];
    for (k, v) in want {
        assert_eq!(vars.get(k).copied(), Some(v), "{k} in\n{out}");
    }
    assert_eq!(vars["NOMAD_ALLOC_DIR"], format!("{alloc_dir}/alloc"));
    assert_eq!(vars["NOMAD_TASK_DIR"], format!("{alloc_dir}/web/local"));
    assert_eq!(
        vars["NOMAD_SECRETS_DIR"],
        format!("{alloc_dir}/web/secrets")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_render_into_local_and_feed_the_env() {
    let env = start().await;
    let mut t = raw_exec_task(
        "web",
        "/bin/sh",
        &["-c", "cat local/app.conf; echo \"FOO=$FOO\""],
    );
    t.templates.push(nomad_types::Template {
        embedded_tmpl: Some(
            "name={{ env \"NOMAD_TASK_NAME\" }}\n{{ range $i, $p := split \",\" \"a,b\" }}p{{ $i }}={{ $p }}\n{{ end }}".into(),
        ),
        dest_path: Some("local/app.conf".into()),
        ..Default::default()
    });
    t.templates.push(nomad_types::Template {
        embedded_tmpl: Some("FOO={{ env \"NOMAD_JOB_ID\" | toUpper }}\n".into()),
        dest_path: Some("secrets/env.txt".into()),
        envvars: Some(true),
        ..Default::default()
    });
    let j = job("tmpl", "batch", vec![t], None);
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let conf = std::fs::read_to_string(dir.root.join("web/local/app.conf")).unwrap();
    assert_eq!(conf, "name=web\np0=a\np1=b\n");
    let out =
        String::from_utf8(read_logs(&dir, "web", "stdout", Origin::Start, 0, 1 << 20).unwrap())
            .unwrap();
    assert_eq!(out, "name=web\np0=a\np1=b\nFOO=TMPL\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_template_is_a_hook_failure() {
    let env = start().await;
    let mut t = raw_exec_task("web", "/bin/true", &[]);
    t.templates.push(nomad_types::Template {
        embedded_tmpl: Some("{{ key \"consul/thing\" }}".into()),
        dest_path: Some("local/x".into()),
        ..Default::default()
    });
    let j = job(
        "badtmpl",
        "batch",
        vec![t],
        Some(policy(0, "fail", Nanos::from_secs(60))),
    );
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let ev = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Task hook failed")
        .unwrap();
    assert!(
        ev.display_message.starts_with("template: "),
        "{}",
        ev.display_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_rotate_by_size_and_count() {
    let env = start().await;
    let mut t = raw_exec_task(
        "web",
        "/bin/sh",
        &["-c", "head -c 2621440 /dev/zero | tr '\\0' x"],
    );
    t.log_config = Some(nomad_types::LogConfig {
        max_files: Some(2),
        max_file_size_mb: Some(1),
        ..Default::default()
    });
    let j = job("logs", "batch", vec![t], None);
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let mut names: Vec<(String, u64)> = nomad_client::allocdir::list(&dir, "alloc/logs")
        .unwrap()
        .into_iter()
        .filter(|f| f.name.starts_with("web.stdout."))
        .map(|f| (f.name, f.size))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("web.stdout.1".to_string(), 1 << 20),
            ("web.stdout.2".to_string(), 512 << 10)
        ]
    );
    let tail = read_logs(&dir, "web", "stdout", Origin::End, 10, 1 << 20).unwrap();
    assert_eq!(tail, b"xxxxxxxxxx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_from_server_kills_the_task_and_reports_complete() {
    let env = start().await;
    let mut t = raw_exec_task(
        "web",
        "/bin/sh",
        &[
            "-c",
            "trap 'echo got-int; exit 0' INT; while true; do sleep 0.05; done",
        ],
    );
    t.kill_timeout = Some(Nanos::from_secs(3));
    let j = job("stopme", "service", vec![t], None);
    let a = alloc(j, env.client.node_id());
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    let handle = env.client.task_handle(&a.id, "web").unwrap();
    let pid = handle.driver_state["task"]["pid"].as_i64().unwrap() as i32;
    assert!(is_alive(pid));
    env.server.stop_alloc(&a.id);
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    assert!(!is_alive(pid));
    let types = event_types(&got, "web");
    let tail: Vec<&str> = types
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(tail, vec!["Killing", "Terminated", "Killed"], "{types:?}");
    let killing = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Killing")
        .unwrap();
    assert_eq!(
        killing.display_message,
        "Sent interrupt. Waiting 3s before force killing"
    );
    assert!(!got.task_states["web"].failed);
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let out = read_logs(&dir, "web", "stdout", Origin::Start, 0, 1024).unwrap();
    assert_eq!(out, b"got-int\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_driver_fails_setup() {
    let env = start().await;
    let mut t = raw_exec_task("web", "/bin/true", &[]);
    t.driver = "nope".into();
    let a = alloc(
        job("nodriver", "batch", vec![t], None),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let ev = events(&got, "web").last().unwrap().clone();
    assert_eq!(ev.event_type, "Setup Failure");
    assert!(ev.display_message.contains("\"nope\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_allocs_beyond_gc_max_are_destroyed() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(nomad_client::testing::FakeServer::new());
    let mut cfg = config(dir.path());
    cfg.gc.max_allocs = 1;
    let client = nomad_client::Client::start(cfg, server.clone())
        .await
        .unwrap();
    wait_registered(&server, client.node_id()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let a = alloc(
            job(
                &format!("gc{i}"),
                "batch",
                vec![raw_exec_task("t", "/bin/true", &[])],
                None,
            ),
            client.node_id(),
        );
        server.add_alloc(a.clone());
        server
            .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
            .await
            .unwrap();
        ids.push(a.id);
    }
    let alloc_root = dir.path().join("alloc");
    for _ in 0..200 {
        let left: Vec<_> = ids
            .iter()
            .filter(|id| alloc_root.join(id).exists())
            .collect();
        if left.len() == 1 {
            assert_eq!(left[0], &ids[2]);
            assert_eq!(client.alloc_ids(), vec![ids[2].clone()]);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("terminal allocations were not collected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloc_removed_by_server_is_destroyed() {
    let env = start().await;
    let a = alloc(
        job(
            "gone",
            "service",
            vec![raw_exec_task("t", "/bin/sleep", &["1000"])],
            None,
        ),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    let pid = env.client.task_handle(&a.id, "t").unwrap().driver_state["task"]["pid"]
        .as_i64()
        .unwrap() as i32;
    env.server.remove_alloc(&a.id);
    for _ in 0..400 {
        if env.client.alloc(&a.id).is_none() && !env.dir.path().join("alloc").join(&a.id).exists() {
            assert!(!is_alive(pid));
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("allocation was not destroyed");
}
