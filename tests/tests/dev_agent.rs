//! `nomad agent -dev` end to end: one node, a raw_exec service job with two
//! allocations running, `nomad status`, then a graceful stop.

use nomad_e2e::{nomad_at, DevAgent};

const JOB: &str = r#"
job "sleeper" {
  datacenters = ["dc1"]
  type        = "service"
  group "g" {
    count = 2
    task "sleep" {
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

#[test]
fn dev_agent_runs_a_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = DevAgent::start(dir.path());
    let addr = agent.addr.clone();

    // One ready node.
    agent.wait_for("a ready node", 30, || {
        let r = nomad_at(dir.path(), &addr, &["node", "status"]);
        r.code == 0
            && r.stdout
                .lines()
                .skip(1)
                .filter(|l| l.contains("ready"))
                .count()
                == 1
    });

    std::fs::write(dir.path().join("sleeper.nomad.hcl"), JOB).expect("job file");
    let run = nomad_at(
        dir.path(),
        &addr,
        &["job", "run", "-detach", "sleeper.nomad.hcl"],
    );
    assert_eq!(
        run.code,
        0,
        "job run failed: {run:?}\nagent:\n{}",
        agent.logs()
    );

    agent.wait_for("two running allocations", 30, || {
        let r = nomad_at(dir.path(), &addr, &["status", "sleeper"]);
        let running = r
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .filter(|l| l.contains(" run ") && l.contains("running"))
            .count();
        r.code == 0 && running == 2
    });
    let status = nomad_at(dir.path(), &addr, &["status", "sleeper"]);
    assert!(
        status.stdout.contains("Status        = running"),
        "{}",
        status.stdout
    );

    // Stop the job (its tasks end), then the agent.
    let stop = nomad_at(dir.path(), &addr, &["job", "stop", "-detach", "sleeper"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    agent.wait_for("allocations to stop", 30, || {
        let r = nomad_at(dir.path(), &addr, &["status", "sleeper"]);
        r.stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .filter(|l| l.contains("running"))
            .count()
            == 0
    });
    let logs = agent.logs();
    assert_eq!(agent.stop(), Some(0), "agent did not stop cleanly:\n{logs}");
}
