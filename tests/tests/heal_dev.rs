//! A cluster that heals itself, driven from the CLI against `nomad agent
//! -dev` as a user would: a periodic job launching on a short cron, a
//! dispatched job whose task reads its payload, a canary deployment
//! promoted by hand, and a bad version rolled back by auto_revert.

use nomad_e2e::{nomad_at, DevAgent, Run};

struct Cli<'a> {
    agent: &'a DevAgent,
    dir: &'a std::path::Path,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Run {
        nomad_at(self.dir, &self.agent.addr, args)
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code,
            0,
            "nomad {args:?}: {r:?}\nagent:\n{}",
            self.agent.logs()
        );
        r
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).expect("write file");
    }

    /// Allocation rows of `job status JOB`: (id, version, desired, status).
    fn allocs(&self, job: &str) -> Vec<(String, String, String, String)> {
        let r = self.run(&["job", "status", job]);
        r.stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .skip(2)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 6).then(|| (f[0].into(), f[3].into(), f[4].into(), f[5].into()))
            })
            .collect()
    }
}

/// The rows of the "Deployed" table of `deployment status`, by column name
/// (multi-word headers joined: `TaskGroup`, `AutoRevert`, …).
fn deployed(out: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.starts_with("Deployed"))
        .skip(1);
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<String> = header
        .replace("Task Group", "TaskGroup")
        .replace("Auto Revert", "AutoRevert")
        .replace("Progress Deadline", "ProgressDeadline")
        .split_whitespace()
        .map(String::from)
        .collect();
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            names
                .iter()
                .cloned()
                .zip(l.split_whitespace().map(String::from))
                .collect()
        })
        .collect()
}

const WEB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    update {
      max_parallel     = 1
      canary           = CANARY
      auto_revert      = true
      min_healthy_time = "1s"
      healthy_deadline = "6s"
      progress_deadline = "10s"
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "srv" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "COMMAND"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

fn web(canary: u32, command: &str) -> String {
    WEB.replace("CANARY", &canary.to_string())
        .replace("COMMAND", command)
}

#[test]
fn periodic_dispatch_canary_and_auto_revert_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = DevAgent::start(dir.path());
    let cli = Cli {
        agent: &agent,
        dir: dir.path(),
    };
    agent.wait_for("a ready node", 30, || {
        cli.run(&["node", "status"]).stdout.contains("ready")
    });

    // A periodic job on a 2-second cron (seconds field first, Nomad's 7-field form).
    cli.write(
        "tick.nomad.hcl",
        r#"
job "tick" {
  datacenters = ["dc1"]
  type        = "batch"
  periodic {
    crons            = ["*/2 * * * * * *"]
    prohibit_overlap = false
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"#,
    );
    cli.ok(&["job", "run", "-detach", "tick.nomad.hcl"]);
    agent.wait_for("two periodic launches", 30, || {
        cli.run(&["job", "status", "tick"])
            .stdout
            .matches("tick/periodic-")
            .count()
            >= 2
    });
    let forced = cli.ok(&["job", "periodic", "force", "-detach", "tick"]);
    assert!(
        forced.stdout.contains("Force periodic successful"),
        "{forced:?}"
    );
    cli.ok(&["job", "stop", "-detach", "tick"]);

    // A parameterized job; the dispatched task prints its payload and meta.
    cli.write(
        "proc.nomad.hcl",
        r#"
job "proc" {
  datacenters = ["dc1"]
  type        = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["who"]
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      dispatch_payload {
        file = "input.txt"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "cat $NOMAD_TASK_DIR/input.txt; echo for $NOMAD_META_who"]
      }
    }
  }
}
"#,
    );
    cli.ok(&["job", "run", "-detach", "proc.nomad.hcl"]);
    cli.write("payload.txt", "the payload line\n");
    let missing = cli.run(&["job", "dispatch", "-detach", "proc", "payload.txt"]);
    assert_eq!(missing.code, 1, "meta_required is enforced: {missing:?}");
    let d = cli.ok(&[
        "job",
        "dispatch",
        "-detach",
        "-meta",
        "who=alice",
        "proc",
        "payload.txt",
    ]);
    let child = d
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Dispatched Job ID = "))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no child id: {d:?}"))
        .to_string();
    assert!(child.starts_with("proc/dispatch-"), "{child}");
    let mut alloc = String::new();
    agent.wait_for("the dispatched allocation to complete", 30, || {
        match cli.allocs(&child).into_iter().find(|a| a.3 == "complete") {
            Some(a) => {
                alloc = a.0;
                true
            }
            None => false,
        }
    });
    let logs = cli.ok(&["alloc", "logs", &alloc, "t"]);
    assert!(
        logs.stdout.contains("the payload line") && logs.stdout.contains("for alice"),
        "{logs:?}"
    );

    // Version 0, then a canary of version 1 promoted by hand.
    cli.write("web.nomad.hcl", &web(1, "echo v0; exec sleep 120"));
    cli.ok(&["job", "run", "web.nomad.hcl"]);
    cli.write("web.nomad.hcl", &web(1, "echo v1; exec sleep 120"));
    cli.ok(&["job", "run", "-detach", "web.nomad.hcl"]);
    let mut deployment = String::new();
    agent.wait_for("a healthy canary waiting for promotion", 30, || {
        let r = cli.run(&["deployment", "list"]);
        let Some(line) = r.stdout.lines().find(|l| l.contains(" running ")) else {
            return false;
        };
        deployment = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let st = cli.run(&["deployment", "status", &deployment]);
        deployed(&st.stdout).iter().any(|row| {
            row.get("TaskGroup").map(String::as_str) == Some("web")
                && row.get("Promoted").map(String::as_str) == Some("false")
                && row.get("Healthy").map(String::as_str) == Some("1")
        })
    });
    let before: Vec<_> = cli
        .allocs("web")
        .into_iter()
        .filter(|a| a.2 == "run")
        .collect();
    assert_eq!(
        before.iter().filter(|a| a.1 == "1").count(),
        1,
        "exactly one canary before promotion: {before:?}"
    );
    let p = cli.run(&["deployment", "promote", "-detach", &deployment]);
    if p.code != 0 {
        let st = cli.run(&["deployment", "status", "-verbose", &deployment]);
        let js = cli.run(&["job", "status", "-verbose", "web"]);
        let mut allocs = String::new();
        for a in cli.allocs("web") {
            allocs.push_str(&cli.run(&["alloc", "status", "-json", &a.0]).stdout);
        }
        panic!("promote: {p:?}\n{}\n{}\n{allocs}", st.stdout, js.stdout);
    }
    agent.wait_for("the promoted deployment to succeed", 60, || {
        cli.run(&["deployment", "status", &deployment])
            .stdout
            .contains("successful")
    });
    let live: Vec<_> = cli
        .allocs("web")
        .into_iter()
        .filter(|a| a.2 == "run")
        .collect();
    assert!(
        live.len() == 2 && live.iter().all(|a| a.1 == "1" && a.3 == "running"),
        "after promotion every live allocation runs version 1: {live:?}"
    );

    // Version 2's canary fails; auto_revert rolls back to version 1, whose
    // allocations never stopped: version 3 (= version 1) updates them in place.
    cli.write("web.nomad.hcl", &web(1, "echo v2; exit 1"));
    let bad = cli.run(&["job", "run", "web.nomad.hcl"]);
    assert_eq!(bad.code, 1, "a failed deployment exits 1: {bad:?}");
    assert!(
        bad.stdout.contains("rolling back to job version 1"),
        "the monitor says it rolls back: {}",
        bad.stdout
    );
    agent.wait_for("the reverted version running", 60, || {
        let live: Vec<_> = cli
            .allocs("web")
            .into_iter()
            .filter(|a| a.2 == "run")
            .collect();
        live.len() == 2 && live.iter().all(|a| a.1 == "3" && a.3 == "running")
    });
    let history = cli.ok(&["job", "history", "web"]);
    assert!(
        history.stdout.contains("Version     = 3"),
        "{}",
        history.stdout
    );
    let v3 = cli.ok(&["job", "inspect", "-version", "3", "web"]);
    assert!(
        v3.stdout.contains("echo v1"),
        "version 3 is version 1's spec"
    );
    for j in ["web", "proc"] {
        let _ = cli.run(&["job", "stop", "-detach", j]);
    }
}
