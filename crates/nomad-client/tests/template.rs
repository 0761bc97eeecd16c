//! Templates re-rendered while the task runs, and their change modes.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, raw_exec_task};
use nomad_types::{Allocation, Nanos, RestartPolicy, Template};

fn no_restart() -> Option<RestartPolicy> {
    Some(RestartPolicy {
        attempts: Some(0),
        interval: Some(Nanos::from_secs(60)),
        delay: Some(Nanos::from_millis(10)),
        mode: Some("fail".into()),
        render_templates: None,
    })
}

fn template(embedded: &str, source: &str, dest: &str, mode: &str, signal: &str) -> Template {
    Template {
        embedded_tmpl: Some(embedded.into()),
        source_path: Some(source.into()),
        dest_path: Some(dest.into()),
        change_mode: Some(mode.into()),
        change_signal: Some(signal.into()),
        splay: Some(Nanos(0)),
        ..Default::default()
    }
}

/// The task directory `web` of allocation `a`, created before the client
/// sees the allocation so that templates can read files put there.
fn task_dir(env: &Env, a: &Allocation) -> PathBuf {
    let dir = config(env.dir.path())
        .alloc_dir()
        .join(&a.id)
        .join("web/local");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stdout(env: &Env, a: &Allocation) -> String {
    // Empty until the client has picked the allocation up.
    let Ok(dir) = env.client.alloc_dir(&a.id) else {
        return String::new();
    };
    String::from_utf8_lossy(
        &read_logs(&dir, "web", "stdout", Origin::Start, 0, 1 << 20).unwrap_or_default(),
    )
    .into_owned()
}

async fn wait_stdout(env: &Env, a: &Allocation, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = stdout(env, a);
        if out.contains(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stdout never showed {want:?}: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_template_restarts_the_task_when_its_source_changes() {
    let env = start().await;
    let mut t = raw_exec_task(
        "web",
        "/bin/sh",
        &["-c", "cat local/out.txt; echo; exec sleep 60"],
    );
    t.templates.push(template(
        "",
        "local/app.tpl",
        "local/out.txt",
        "restart",
        "",
    ));
    // No restarts allowed by policy: a template restart is not counted.
    let a = alloc(
        job("tmplrestart", "service", vec![t], no_restart()),
        env.client.node_id(),
    );
    let local = task_dir(&env, &a);
    std::fs::write(local.join("app.tpl"), "v={{ file \"local/in.txt\" }}").unwrap();
    std::fs::write(local.join("in.txt"), "one").unwrap();
    env.server.add_alloc(a.clone());
    wait_stdout(&env, &a, "v=one\n").await;

    std::fs::write(local.join("in.txt"), "two").unwrap();
    wait_stdout(&env, &a, "v=one\nv=two\n").await;
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            event_types(a, "web")
                .iter()
                .filter(|t| *t == "Started")
                .count()
                == 2
                && a.task_states["web"].state == "running"
        })
        .await
        .unwrap();
    assert_eq!(got.client_status, "running");
    let evs = events(&got, "web");
    let i = evs
        .iter()
        .position(|e| e.event_type == "Restart Signaled")
        .expect("Restart Signaled event");
    assert_eq!(
        evs[i].display_message,
        "Template with change_mode restart re-rendered"
    );
    let after: Vec<&str> = evs[i + 1..].iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(after, ["Terminated", "Restarting", "Started"], "{after:?}");
    assert_eq!(evs[i + 2].display_message, "Task restarting in 0s");

    // The source template itself is watched too.
    std::fs::write(local.join("app.tpl"), "w={{ file \"local/in.txt\" }}").unwrap();
    wait_stdout(&env, &a, "v=two\nw=two\n").await;

    env.server.stop_alloc(&a.id);
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_and_noop_templates_signal_or_only_rewrite() {
    let env = start().await;
    let script = "trap 'echo got-usr1; cat local/sig.out; echo' USR1; \
                  echo ready; while true; do sleep 0.05; done";
    let mut t = raw_exec_task("web", "/bin/sh", &["-c", script]);
    t.templates.push(template(
        "n={{ file \"local/noop.in\" }}",
        "",
        "local/noop.out",
        "noop",
        "",
    ));
    t.templates.push(template(
        "s={{ file \"local/sig.in\" }}",
        "",
        "local/sig.out",
        "signal",
        "SIGUSR1",
    ));
    let a = alloc(
        job("tmplsig", "service", vec![t], no_restart()),
        env.client.node_id(),
    );
    let local = task_dir(&env, &a);
    std::fs::write(local.join("noop.in"), "1").unwrap();
    std::fs::write(local.join("sig.in"), "1").unwrap();
    env.server.add_alloc(a.clone());
    wait_stdout(&env, &a, "ready\n").await;

    // noop: the file is rewritten, the task is left alone.
    std::fs::write(local.join("noop.in"), "22").unwrap();
    let deadline = Instant::now() + WAIT;
    while std::fs::read_to_string(local.join("noop.out")).unwrap_or_default() != "n=22" {
        assert!(Instant::now() < deadline, "noop template never re-rendered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // signal: the task gets SIGUSR1 and sees the new content.
    std::fs::write(local.join("sig.in"), "333").unwrap();
    wait_stdout(&env, &a, "got-usr1\ns=333\n").await;
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            event_types(a, "web").contains(&"Signaling".into())
        })
        .await
        .unwrap();
    let evs = events(&got, "web");
    let signaling: Vec<_> = evs.iter().filter(|e| e.event_type == "Signaling").collect();
    assert_eq!(signaling.len(), 1, "one signal for one change: {evs:?}");
    assert_eq!(signaling[0].task_signal, "SIGUSR1");
    assert_eq!(signaling[0].display_message, "Template re-rendered");
    // The noop change, handled before, neither restarted nor signalled.
    assert!(!event_types(&got, "web").contains(&"Restart Signaled".into()));
    assert_eq!(got.task_states["web"].restarts, 0);
    assert_eq!(stdout(&env, &a).matches("got-usr1").count(), 1);

    env.server.stop_alloc(&a.id);
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
}
