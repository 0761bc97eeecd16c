//! The client-facing commands against a real dev agent running a raw_exec
//! job: `alloc exec` (output, input, exit codes), `alloc status -stats`,
//! `node status -self -stats`, `alloc restart`, `alloc signal`, and
//! `alloc fs -tail` / `-f` over a file the test writes through `alloc exec`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use nomad_e2e::{bin, nomad_at, DevAgent};

const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

/// Stops the job and waits until its task is gone (a stopped agent leaves
/// its tasks running).
fn stop_job(dir: &std::path::Path, agent: &DevAgent) {
    let r = nomad_at(dir, &agent.addr, &["job", "stop", "-detach", "web"]);
    assert_eq!(r.code, 0, "{r:?}");
    agent.wait_for("the job's allocation to stop", 30, || {
        let r = nomad_at(dir, &agent.addr, &["job", "allocs", "web"]);
        !r.stdout.contains("running")
    });
}

/// Starts a dev agent running `JOB`; the agent and the allocation's ID.
fn running_alloc(dir: &std::path::Path) -> (DevAgent, String) {
    let agent = DevAgent::start(dir);
    std::fs::write(dir.join("web.nomad.hcl"), JOB).expect("job file");
    let run = nomad_at(
        dir,
        &agent.addr,
        &["job", "run", "-detach", "web.nomad.hcl"],
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", agent.logs());
    let mut id = String::new();
    agent.wait_for("a running allocation", 30, || {
        let r = nomad_at(dir, &agent.addr, &["job", "allocs", "-json", "web"]);
        let allocs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let running = allocs.as_array().and_then(|l| {
            l.iter()
                .find(|a| a["ClientStatus"] == "running")
                .and_then(|a| a["ID"].as_str())
        });
        match running {
            Some(a) => {
                id = a.to_string();
                true
            }
            None => false,
        }
    });
    (agent, id)
}

#[test]
fn alloc_exec_runs_commands_in_the_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, alloc) = running_alloc(dir.path());
    let addr = agent.addr.clone();

    let r = nomad_at(dir.path(), &addr, &["alloc", "exec", &alloc, "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");

    let r = nomad_at(
        dir.path(),
        &addr,
        &[
            "alloc",
            "exec",
            "-task",
            "t",
            &alloc[..8],
            "sh",
            "-c",
            "echo oops >&2; exit 3",
        ],
    );
    assert_eq!((r.code, r.stderr.as_str()), (3, "oops\n"), "{r:?}");

    // The task's environment, and standard input passed through.
    let mut child = Command::new(bin("nomad"))
        .args([
            "alloc",
            "exec",
            &alloc,
            "sh",
            "-c",
            "cat; echo $NOMAD_TASK_NAME",
        ])
        .env("NOMAD_ADDR", &addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nomad");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"from stdin\n")
        .expect("write stdin");
    let out = child.wait_with_output().expect("nomad alloc exec");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from stdin\nt\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));

    let r = nomad_at(
        dir.path(),
        &addr,
        &["alloc", "exec", &alloc, "/no/such/command"],
    );
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("failed to exec into task"), "{r:?}");
    let r = nomad_at(
        dir.path(),
        &addr,
        &["alloc", "exec", "-task", "nope", &alloc, "true"],
    );
    assert_eq!(
        (r.code, r.stderr.trim()),
        (1, "Could not find task named: nope")
    );
    stop_job(dir.path(), &agent);
}

#[test]
fn stats_restart_and_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, alloc) = running_alloc(dir.path());
    let addr = agent.addr.clone();

    // `0/100 MHz  1.2 MiB/64 MiB`: usage over what the task was given.
    let r = nomad_at(dir.path(), &addr, &["alloc", "status", "-stats", &alloc]);
    assert_eq!(r.code, 0, "{r:?}");
    let row = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Task Resources"))
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let cols: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert!(cols.len() >= 3, "{}", r.stdout);
    assert!(
        cols[0].trim().ends_with("/100 MHz") && cols[0].contains('/'),
        "{row:?}"
    );
    assert!(cols[1].trim().ends_with("/64 MiB"), "{row:?}");
    assert!(
        !cols[1].trim().starts_with("0 B/"),
        "no memory measured: {row:?}"
    );
    assert!(
        r.stdout.contains("Memory Stats\nRSS") && r.stdout.contains("CPU Stats\nPercent"),
        "{}",
        r.stdout
    );

    let r = nomad_at(dir.path(), &addr, &["node", "status", "-self", "-stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    for section in ["Host Resource Utilization", "CPU Stats", "Memory Stats"] {
        assert!(
            r.stdout.contains(section),
            "{section} missing:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("Status          = ready"), "{}", r.stdout);

    let r = nomad_at(dir.path(), &addr, &["alloc", "restart", &alloc]);
    assert_eq!(r.code, 0, "{r:?}");
    agent.wait_for("the restart's events", 30, || {
        let r = nomad_at(dir.path(), &addr, &["alloc", "status", &alloc]);
        r.stdout
            .contains("Restart Signaled  User requested restart")
            && r.stdout.contains("Task restarting in 0s")
            && r.stdout.contains("Task \"t\" is \"running\"")
    });

    let r = nomad_at(
        dir.path(),
        &addr,
        &["alloc", "signal", "-s", "SIGHUP", &alloc, "t"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    agent.wait_for("the signal's event", 30, || {
        let r = nomad_at(dir.path(), &addr, &["alloc", "status", &alloc]);
        r.stdout
            .contains("Task being sent signal SIGHUP: User requested signal")
    });
    let r = nomad_at(dir.path(), &addr, &["alloc", "signal", &alloc, "nope"]);
    assert_eq!(r.code, 1, "{r:?}");
    stop_job(dir.path(), &agent);
}

/// Runs `script` in the task with `sh -c` (the file under test is written
/// this way, as the task itself would).
fn task_sh(dir: &std::path::Path, addr: &str, alloc: &str, script: &str) {
    let r = nomad_at(dir, addr, &["alloc", "exec", alloc, "sh", "-c", script]);
    assert_eq!(r.code, 0, "{script}: {r:?}");
}

#[test]
fn alloc_fs_tails_and_follows_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (agent, alloc) = running_alloc(dir.path());
    let addr = agent.addr.clone();
    let file = r#""$NOMAD_ALLOC_DIR/data.txt""#;
    task_sh(
        dir.path(),
        &addr,
        &alloc,
        &format!("printf 'a\\nb\\nc\\n' > {file}"),
    );

    for (flags, want) in [
        (&["-tail", "-n", "2"][..], "b\nc\n"),
        (&["-tail", "-c", "2"][..], "c\n"),
        (&["-tail"][..], "a\nb\nc\n"),
    ] {
        let mut args = vec!["alloc", "fs"];
        args.extend_from_slice(flags);
        args.extend([alloc.as_str(), "alloc/data.txt"]);
        let r = nomad_at(dir.path(), &addr, &args);
        assert_eq!((r.code, r.stdout.as_str()), (0, want), "{flags:?}: {r:?}");
    }
    // -job: an allocation of the job, named by the job's ID.
    let r = nomad_at(
        dir.path(),
        &addr,
        &["alloc", "fs", "-job", "web", "alloc/data.txt"],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "a\nb\nc\n"), "{r:?}");
    let r = nomad_at(dir.path(), &addr, &["alloc", "fs", "-f", &alloc, "alloc"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("is a directory"), "{r:?}");

    // `-f`: what is there, then appends, a truncation (reading restarts at
    // the start) and the deletion, which ends the stream.
    let mut child = Command::new(bin("nomad"))
        .args(["alloc", "fs", "-f", &alloc, "alloc/data.txt"])
        .env("NOMAD_ADDR", &addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nomad alloc fs -f");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.lock().expect("lock").push_str(&text);
            }
        })
    };
    let printed = |want: &'static str| {
        let seen = seen.clone();
        move || seen.lock().expect("lock").as_str() == want
    };
    agent.wait_for("the file's contents", 30, printed("a\nb\nc\n"));
    task_sh(dir.path(), &addr, &alloc, &format!("echo d >> {file}"));
    agent.wait_for("the appended line", 30, printed("a\nb\nc\nd\n"));
    task_sh(
        dir.path(),
        &addr,
        &alloc,
        &format!(": > {file}; echo e >> {file}"),
    );
    agent.wait_for("the file after truncation", 30, printed("a\nb\nc\nd\ne\n"));
    task_sh(dir.path(), &addr, &alloc, &format!("rm {file}"));
    agent.wait_for("the stream to end with the file", 30, || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let out = child.wait_with_output().expect("nomad alloc fs -f");
    reader.join().expect("reader");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(seen.lock().expect("lock").as_str(), "a\nb\nc\nd\ne\n");
    stop_job(dir.path(), &agent);
}
