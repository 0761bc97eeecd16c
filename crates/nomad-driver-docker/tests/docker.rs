//! Docker driver behaviour beyond the conformance kit, against the local
//! engine (skipped loudly without Docker, failing under CI=true).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bollard::query_parameters::InspectContainerOptions;
use common::{ctx, driver, read, run, set, wait};
use nomad_driver::{
    exec_capture, Driver, DriverError, ExecRequest, ExecStreams, HealthState, TerminalSize,
};
use nomad_driver_docker::container::{
    LABEL_ALLOC_ID, LABEL_JOB_ID, LABEL_JOB_NAME, LABEL_TASK_GROUP, LABEL_TASK_NAME,
};
use nomad_driver_docker::{DockerConfig, DockerDriver, CONNECT_FAILED};
use nomad_types::alloc::AllocatedPortMapping;
use serde_json::json;

async fn container_of(d: &DockerDriver, id: &str) -> bollard::models::ContainerInspectResponse {
    let status = d.inspect_task(id).await.expect("inspect_task");
    let cid = status.driver_attributes["container_id"].clone();
    d.docker()
        .await
        .expect("docker")
        .inspect_container(&cid, None::<InspectContainerOptions>)
        .await
        .expect("inspect container")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprint_reports_the_engine_and_options() {
    let Some(_c) = ctx("fingerprint_reports_the_engine_and_options") else {
        return;
    };
    let fp = driver().fingerprint().await;
    assert_eq!(fp.health, HealthState::Healthy, "{fp:?}");
    assert_eq!(fp.health_description, "Healthy");
    let a = &fp.attributes;
    assert_eq!(a["driver.docker"], "true");
    assert!(!a["driver.docker.version"].is_empty());
    assert!(a["driver.docker.runtimes"].contains("runc"), "{a:?}");
    assert_eq!(a["driver.docker.os_type"], "linux");
    assert!(!a.contains_key("driver.docker.volumes.enabled"));
    assert!(!a.contains_key("driver.docker.privileged.enabled"));
    assert_eq!(fp.node_attributes("docker")["driver.docker"], "1");

    let fp = DockerDriver::new(DockerConfig::permissive())
        .fingerprint()
        .await;
    assert_eq!(fp.attributes["driver.docker.volumes.enabled"], "true");
    assert_eq!(fp.attributes["driver.docker.privileged.enabled"], "true");

    let absent = DockerConfig {
        endpoint: "unix:///nonexistent/docker.sock".into(),
        ..DockerConfig::default()
    };
    let fp = DockerDriver::new(absent).fingerprint().await;
    assert_eq!(fp.health, HealthState::Undetected);
    assert!(fp.health_description.starts_with(CONNECT_FAILED), "{fp:?}");
    assert!(fp.node_attributes("docker").is_empty());
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_are_published_on_the_host() {
    let Some(c) = ctx("ports_are_published_on_the_host") else {
        return;
    };
    let d = driver();
    let port = free_port();
    let mut cfg = c.task(
        "web",
        "mkdir -p /tmp/www && echo hello-from-container > /tmp/www/index.html && \
         exec httpd -f -p 8080 -h /tmp/www",
    );
    cfg.resources.ports = vec![AllocatedPortMapping {
        label: "http".into(),
        value: i64::from(port),
        to: 8080,
        host_ip: "127.0.0.1".into(),
        ignore_collision: false,
    }];
    set(&mut cfg, "ports", json!(["http"]));
    let id = cfg.id.clone();
    d.start_task(cfg).await.expect("start_task");
    let info = container_of(&d, &id).await;
    let bindings = info
        .host_config
        .and_then(|h| h.port_bindings)
        .expect("bindings");
    let b = bindings["8080/tcp"].as_ref().expect("8080/tcp");
    assert_eq!(b[0].host_port.as_deref(), Some(port.to_string().as_str()));
    assert_eq!(b[0].host_ip.as_deref(), Some("127.0.0.1"));

    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Some(b) = http_get(port).filter(|b| b.contains("hello-from-container")) {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} never served the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.starts_with("HTTP/1."), "{body}");
    d.destroy_task(&id, true).await.expect("destroy");
    assert!(http_get(port).is_none(), "port still open after destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloc_dirs_are_mounted_and_writable() {
    let Some(c) = ctx("alloc_dirs_are_mounted_and_writable") else {
        return;
    };
    let d = driver();
    let cfg = c.task(
        "dirs",
        "echo a > /alloc/data/from-task && echo l > /local/from-task && \
         echo s > /secrets/from-task && \
         if touch /alloc/logs/nope 2>/dev/null; then echo logs-writable; fi; \
         cat /local/from-host",
    );
    std::fs::write(cfg.dirs.local_dir.join("from-host"), "host-file\n").expect("write");
    let dirs = cfg.dirs.clone();
    let (exit, out, err) = run(&d, cfg).await;
    assert!(exit.successful(), "{exit:?} {err}");
    assert_eq!(out, "host-file\n");
    assert_eq!(read(&dirs.shared_alloc_dir.join("data/from-task")), "a\n");
    assert_eq!(read(&dirs.local_dir.join("from-task")), "l\n");
    assert_eq!(read(&dirs.secrets_dir.join("from-task")), "s\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_resources_and_options_reach_the_container() {
    let Some(c) = ctx("labels_resources_and_options_reach_the_container") else {
        return;
    };
    let d = driver();
    let mut cfg = c.task("opts", "pwd; ip -o link | wc -l; while :; do sleep 1; done");
    cfg.resources.cpu_mhz = 300;
    cfg.resources.memory_mb = 32;
    cfg.resources.memory_max_mb = 48;
    set(&mut cfg, "work_dir", json!("/tmp"));
    set(&mut cfg, "network_mode", json!("none"));
    set(&mut cfg, "labels", json!([{"team": "web"}]));
    let (id, alloc_id, out) = (
        cfg.id.clone(),
        cfg.alloc_id.clone(),
        cfg.stdout_path.clone(),
    );
    d.start_task(cfg).await.expect("start_task");
    let info = container_of(&d, &id).await;
    let labels = info.config.and_then(|c| c.labels).expect("labels");
    assert_eq!(labels[LABEL_ALLOC_ID], alloc_id);
    assert_eq!(labels[LABEL_JOB_ID], "job-id");
    assert_eq!(labels[LABEL_JOB_NAME], "job-name");
    assert_eq!(labels[LABEL_TASK_GROUP], "group");
    assert_eq!(labels[LABEL_TASK_NAME], "opts");
    assert_eq!(labels["team"], "web");
    assert_eq!(
        info.name.as_deref(),
        Some(format!("/opts-{alloc_id}").as_str())
    );
    let h = info.host_config.expect("host config");
    assert_eq!(h.memory, Some(48 << 20));
    assert_eq!(h.memory_reservation, Some(32 << 20));
    assert_eq!(h.cpu_shares, Some(300));
    assert_eq!(h.privileged, Some(false));
    common::eventually("pwd and link count", || read(&out) == "/tmp\n1\n").await;
    d.destroy_task(&id, true).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_is_enforced_and_oom_reported() {
    let Some(c) = ctx("memory_limit_is_enforced_and_oom_reported") else {
        return;
    };
    let d = driver();
    // Within the limit: 4 MB in a shell variable.
    let mut cfg = c.task(
        "fits",
        "x=$(head -c 4000000 /dev/zero | tr '\\0' a); echo ${#x}",
    );
    cfg.resources.memory_mb = 32;
    let (exit, out, _) = run(&d, cfg).await;
    assert!(exit.successful() && !exit.oom_killed, "{exit:?}");
    assert_eq!(out, "4000000\n");

    // Far past it: tail keeps the whole newline-free stream in memory.
    let mut cfg = c.task("hog", "tail /dev/zero");
    cfg.resources.memory_mb = 16;
    let id = cfg.id.clone();
    d.start_task(cfg).await.expect("start_task");
    let exit = wait(&d, &id).await;
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.exit_code, 137, "{exit:?}");
    assert_eq!(exit.signal, 9, "{exit:?}");
    assert_eq!(exit.err.as_deref(), Some("OOM Killed"));
    let ev = exit.to_task_event(0);
    assert_eq!(ev.details["oom_killed"], "true");
    d.destroy_task(&id, false).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_fails_fast_with_a_clear_error() {
    let Some(c) = ctx("a_missing_image_fails_fast_with_a_clear_error") else {
        return;
    };
    let d = driver();
    let mut events = d.task_events().expect("events");
    let mut cfg = c.task("missing", "true");
    set(&mut cfg, "image", json!("nomad-test/definitely-missing:1"));
    let id = cfg.id.clone();
    let t0 = Instant::now();
    let err = d
        .start_task(cfg)
        .await
        .expect_err("a missing image started");
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let msg = err.to_string();
    assert!(matches!(err, DriverError::StartFailed(_)), "{err:?}");
    assert!(
        msg.contains("Failed to pull `nomad-test/definitely-missing:1`"),
        "{msg}"
    );
    let ev = events.try_recv().expect("a Downloading image event");
    assert_eq!(ev.message, "Downloading image");
    assert_eq!(ev.annotations["image"], "nomad-test/definitely-missing:1");
    assert!(d.inspect_task(&id).await.unwrap_err().is_not_found());

    // force_pull of a present image needs the registry too: same failure.
    let mut cfg = c.task("forced", "true");
    set(&mut cfg, "force_pull", json!(true));
    let err = d
        .start_task(cfg)
        .await
        .expect_err("force_pull without a registry");
    assert!(err.to_string().contains("Failed to pull"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_reattaches_and_keeps_logs_whole() {
    let Some(c) = ctx("recovery_reattaches_and_keeps_logs_whole") else {
        return;
    };
    let d = driver();
    let cfg = c.task(
        "counter",
        "trap 'echo stopping; exit 0' TERM; i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.1; done",
    );
    let (id, out) = (cfg.id.clone(), cfg.stdout_path.clone());
    let handle = d.start_task(cfg).await.expect("start_task");
    common::eventually("first lines", || read(&out).contains("line-3\n")).await;
    drop(d);
    // The client is down for a while; the container keeps logging.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let json = serde_json::to_string(&handle).expect("handle");
    let d = driver();
    d.recover_task(&serde_json::from_str(&json).expect("handle"))
        .await
        .expect("recover_task");
    let status = d.inspect_task(&id).await.expect("inspect");
    assert_eq!(status.state, nomad_driver::TaskState::Running);
    common::eventually("lines after recovery", || read(&out).contains("line-30\n")).await;
    d.stop_task(&id, Duration::from_secs(5), "SIGTERM")
        .await
        .expect("stop");
    assert!(wait(&d, &id).await.successful());
    common::eventually("the stop message", || read(&out).contains("stopping\n")).await;
    // Every line once, in order: nothing lost or repeated across the restart.
    let text = read(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("line-")).collect();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(
            *l,
            format!("line-{i}"),
            "log lines around the restart: {text}"
        );
    }
    d.destroy_task(&id, false).await.expect("destroy");

    // A container removed behind the driver's back cannot be recovered.
    let cfg = c.task("gone", "sleep 30");
    let d = driver();
    let handle = d.start_task(cfg).await.expect("start_task");
    let cid = d
        .inspect_task(&handle.config.id)
        .await
        .expect("inspect")
        .driver_attributes["container_id"]
        .clone();
    drop(d);
    let d = driver();
    d.docker()
        .await
        .expect("docker")
        .remove_container(
            &cid,
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .expect("remove");
    let err = d
        .recover_task(&handle)
        .await
        .expect_err("recovered a removed container");
    assert!(matches!(err, DriverError::RecoverFailed(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_inside_the_container() {
    let Some(c) = ctx("exec_runs_inside_the_container") else {
        return;
    };
    let d = driver();
    let cfg = c.task("shell", "echo ready; while :; do sleep 1; done");
    let (id, out) = (cfg.id.clone(), cfg.stdout_path.clone());
    std::fs::write(cfg.dirs.local_dir.join("marker"), "in-local\n").expect("write");
    d.start_task(cfg).await.expect("start_task");
    common::eventually("ready", || read(&out).contains("ready")).await;

    // Inside: the container's filesystem and the task's mounts.
    let o = exec_capture(
        &d,
        &id,
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "cat /local/marker; ls /bin/busybox; echo $PATH".into(),
        ],
        None,
        Duration::from_secs(20),
    )
    .await
    .expect("exec");
    assert!(o.exit.successful(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "in-local\n/bin/busybox\n/bin\n"
    );

    // A TTY session: stdin and stdout are one pseudo-terminal. (The size
    // is sent too; this machine's ptys cannot report it back, so it is not
    // checked.)
    let (mut streams, out_buf, _) = ExecStreams::capture(None);
    streams.initial_size = Some(TerminalSize {
        cols: 100,
        rows: 30,
    });
    let req = ExecRequest {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "tty; test -t 1 && echo out-is-tty".into(),
        ],
        tty: true,
    };
    let exit = tokio::time::timeout(Duration::from_secs(20), d.exec_task(&id, req, streams))
        .await
        .expect("tty exec timed out")
        .expect("tty exec");
    let text = out_buf.take_string();
    assert!(exit.successful(), "{exit:?} {text:?}");
    assert!(
        text.contains("/dev/pts/") && text.contains("out-is-tty"),
        "{text:?}"
    );

    // Dropping the exec future kills the command.
    let req = ExecRequest::new(["/bin/sleep", "777"]);
    let (streams, _, _) = ExecStreams::capture(None);
    let r = tokio::time::timeout(Duration::from_millis(1500), d.exec_task(&id, req, streams)).await;
    assert!(r.is_err(), "sleep 777 returned early");
    let mut gone = false;
    for _ in 0..50 {
        let ps = exec_capture(&d, &id, vec!["ps".into()], None, Duration::from_secs(20))
            .await
            .expect("ps");
        if !String::from_utf8_lossy(&ps.stdout).contains("sleep 777") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the dropped exec's command still runs");
    d.destroy_task(&id, true).await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_and_privileged_need_the_plugin_config() {
    let Some(c) = ctx("volumes_and_privileged_need_the_plugin_config") else {
        return;
    };
    let host_dir = c.dir.path().join("host-data");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("f"), "from-host\n").expect("write");
    let volume = format!("{}:/hostdata:ro", host_dir.display());

    // host_dir is outside the allocation: refused unless volumes are enabled.
    let mut cfg = c.task("vol", "cat /hostdata/f; cat /m/f");
    set(&mut cfg, "volumes", json!([volume]));
    set(
        &mut cfg,
        "mount",
        json!([{"type": "bind", "source": host_dir.display().to_string(), "target": "/m"}]),
    );
    let err = driver()
        .start_task(cfg.clone())
        .await
        .expect_err("volume accepted");
    assert!(matches!(err, DriverError::InvalidConfig(_)), "{err:?}");
    assert!(err.to_string().contains("volumes are not enabled"), "{err}");
    let permissive = DockerDriver::new(DockerConfig::permissive());
    let (exit, out, _) = run(&permissive, cfg).await;
    assert!(exit.successful(), "{exit:?}");
    assert_eq!(out, "from-host\nfrom-host\n");

    let mut cfg = c.task("priv", "echo privileged");
    set(&mut cfg, "privileged", json!(true));
    let err = driver()
        .start_task(cfg.clone())
        .await
        .expect_err("privileged accepted");
    assert!(matches!(err, DriverError::InvalidConfig(_)), "{err:?}");
    assert!(
        err.to_string().contains("privileged mode is disabled"),
        "{err}"
    );
    // Allowed, the container is privileged. (A sandboxed engine may lack
    // the capabilities to run one: then Docker, not the driver, refuses.)
    match permissive.start_task(cfg.clone()).await {
        Ok(_) => {
            let info = container_of(&permissive, &cfg.id).await;
            assert_eq!(info.host_config.and_then(|h| h.privileged), Some(true));
            assert!(wait(&permissive, &cfg.id).await.successful());
            permissive
                .destroy_task(&cfg.id, true)
                .await
                .expect("destroy");
        }
        Err(DriverError::StartFailed(msg)) => {
            assert!(msg.contains("Failed to start container"), "{msg}");
            eprintln!("note: this engine cannot run privileged containers: {msg}");
        }
        Err(e) => panic!("privileged start with allow_privileged: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_and_the_default_stop_signal() {
    let Some(c) = ctx("entrypoint_and_the_default_stop_signal") else {
        return;
    };
    let d = driver();
    // entrypoint replaces the image's; args follow it (no command).
    let mut cfg = c.task("ep", "");
    cfg.driver_config.remove("command");
    set(
        &mut cfg,
        "entrypoint",
        json!(["/bin/echo", "from-entrypoint"]),
    );
    set(&mut cfg, "args", json!(["and-args"]));
    let (exit, out, _) = run(&d, cfg).await;
    assert!(exit.successful(), "{exit:?}");
    assert_eq!(out, "from-entrypoint and-args\n");

    // A stop without a signal sends the task's kill_signal (the container's
    // stop signal), as `docker stop` would.
    let mut cfg = c.task(
        "stopper",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.1; done",
    );
    cfg.kill_signal = "SIGUSR1".into();
    let (id, out) = (cfg.id.clone(), cfg.stdout_path.clone());
    d.start_task(cfg).await.expect("start_task");
    common::eventually("ready", || read(&out).contains("ready")).await;
    d.stop_task(&id, Duration::from_secs(10), "")
        .await
        .expect("stop_task");
    let exit = wait(&d, &id).await;
    assert!(exit.successful(), "{exit:?}");
    common::eventually("the trap's output", || read(&out).contains("got-usr1")).await;
    d.destroy_task(&id, false).await.expect("destroy");
}
