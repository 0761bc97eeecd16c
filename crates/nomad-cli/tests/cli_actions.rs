//! `job history|revert|eval|dispatch|periodic force|scale|scaling-events`,
//! `deployment list|status|promote|fail|pause|resume`, `node
//! drain|eligibility`, the deployment phase of `job run`'s monitor, and the
//! rescheduling lines of `alloc status` and `job status`, `alloc stop`, against the
//! in-memory cluster over HTTP: Nomad's output shapes and exit codes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_api::testing::InMemoryCluster;
use nomad_types::{Deployment, DeploymentState, Nanos};

struct Out {
    code: i32,
    out: String,
    err: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

struct Env {
    cluster: Arc<InMemoryCluster>,
    addr: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(cluster: InMemoryCluster) -> Env {
        let cluster = Arc::new(cluster);
        cluster.add_node("worker-1").expect("node");
        let addr = cluster.clone().spawn().expect("serve");
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [
            ("v0.nomad.hcl", JOB.to_string()),
            ("v1.nomad.hcl", JOB.replace("redis:7", "redis:8")),
            ("batchp.nomad.hcl", PARAM_JOB.to_string()),
            ("cron.nomad.hcl", PERIODIC_JOB.to_string()),
            ("payload.txt", "hello payload".to_string()),
        ] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        Env { cluster, addr, dir }
    }

    fn nomad(&self, args: &[&str]) -> Out {
        self.nomad_stdin(args, b"")
    }

    fn nomad_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut input: &[u8] = stdin;
        let mut io = nomad_cli::Io {
            out: &mut out,
            err: &mut err,
            stdin: &mut input,
            env: vec![("NOMAD_ADDR".to_string(), self.addr.clone())],
        };
        let argv: Vec<OsString> = std::iter::once(OsString::from("nomad"))
            .chain(args.iter().map(|a| {
                if a.ends_with(".hcl") || a.ends_with(".txt") {
                    self.dir.path().join(a).into_os_string()
                } else {
                    OsString::from(a)
                }
            }))
            .collect();
        let code = nomad_cli::run(argv, &mut io);
        Out {
            code,
            out: String::from_utf8_lossy(&out).into_owned(),
            err: String::from_utf8_lossy(&err).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> Out {
        let r = self.nomad(args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r
    }

    fn allocs_of(&self, job: &str) -> Vec<nomad_types::Allocation> {
        self.cluster
            .reader()
            .snapshot()
            .allocs_by_job("default", job)
            .iter()
            .map(|a| (**a).clone())
            .collect()
    }
}

/// Runs `f` on a thread until it returns true (a stand-in for a client
/// reporting health while the CLI monitors).
fn in_background(f: impl Fn() -> bool + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        while !f() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

const JOB: &str = r#"job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = 1
    reschedule {
      attempts       = 3
      interval       = "1h"
      delay          = "30s"
      delay_function = "constant"
      unlimited      = false
    }
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
    }
  }
}
"#;

const PARAM_JOB: &str = r#"job "batchp" {
  type        = "batch"
  datacenters = ["dc1"]
  parameterized {
    payload       = "optional"
    meta_required = ["who"]
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
"#;

const PERIODIC_JOB: &str = r#"job "cron" {
  type        = "batch"
  datacenters = ["dc1"]
  periodic {
    cron = "*/15 * * * *"
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
"#;

/// The line of `text` that starts with `prefix`.
fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

#[test]
fn history_and_revert() {
    let e = Env::new(InMemoryCluster::new());
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);
    e.ok(&["job", "run", "-detach", "v1.nomad.hcl"]);

    let r = e.ok(&["job", "history", "example"]);
    let blocks: Vec<&str> = r.out.trim_end().split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{r:?}");
    assert!(
        blocks[0].starts_with("Version     = 1\nStable      = false\nSubmit Date = 20"),
        "{r:?}"
    );
    assert!(blocks[1].starts_with("Version     = 0\n"), "{r:?}");
    assert!(!r.out.contains("Diff"), "{r:?}");

    let r = e.ok(&["job", "history", "-p", "example"]);
    assert!(
        r.out
            .contains("Diff        = \n+/- Job: \"example\"\n+/- Task Group: \"cache\"\n"),
        "{r:?}"
    );
    assert!(
        r.out.contains("redis:7") && r.out.contains("redis:8"),
        "{r:?}"
    );
    let v0 = r.out.split("Version     = 0").nth(1).unwrap_or_default();
    assert!(
        !v0.contains("Diff"),
        "the oldest version has no diff: {r:?}"
    );

    let r = e.ok(&["job", "history", "-version", "0", "-full", "example"]);
    assert!(r.out.starts_with("Version     = 0\n"), "{r:?}");
    assert!(
        r.out.contains("\nFull        = JSON Job:\n{\n    \""),
        "{r:?}"
    );
    let r = e.ok(&["job", "history", "-json", "example"]);
    let v: serde_json::Value = serde_json::from_str(&r.out).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2));

    for (args, err) in [
        (
            &["job", "history"][..],
            "This command takes one argument: <job>\nFor additional help try 'nomad job history -help'\n",
        ),
        (
            &["job", "history", "-json", "-p", "example"][..],
            "-json and -t are exclusive with -p and -full\n",
        ),
        (
            &["job", "history", "nope"][..],
            "No job(s) with prefix or ID \"nope\" found\n",
        ),
        (
            &["job", "history", "-version", "7", "example"][..],
            "Error printing job history for non-existing job or job version\n",
        ),
        (
            &["job", "history", "-version", "x", "example"][..],
            "Error parsing version value \"x\": strconv.ParseUint: parsing \"x\": invalid syntax\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }

    // Revert, detached then monitored.
    let r = e.ok(&["job", "revert", "-detach", "example", "0"]);
    assert!(r.out.starts_with("Evaluation ID: "), "{r:?}");
    assert_eq!(r.out.trim().len(), "Evaluation ID: ".len() + 36, "{r:?}");
    let r = e.ok(&["job", "revert", "example", "1"]);
    assert!(r.out.starts_with("==> "), "{r:?}");
    assert!(r.out.contains(": Monitoring evaluation \""), "{r:?}");
    assert!(
        line(r.out.lines().last().unwrap_or_default(), "==> ")
            .ends_with("finished with status \"complete\""),
        "{r:?}"
    );
    let r = e.ok(&["job", "history", "example"]);
    assert!(r.out.starts_with("Version     = 3\n"), "{r:?}");

    let r = e.nomad(&["job", "revert", "example", "3"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.err,
        "Error retrieving job versions: Unexpected response code: 400 (can't revert to current version)\n"
    );
    let r = e.nomad(&["job", "revert", "example"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "This command takes two arguments: <job> <version|tag>\nFor additional help try 'nomad job revert -help'\n"
        )
    );
}

#[test]
fn dispatch_and_periodic_force() {
    let e = Env::new(InMemoryCluster::new());
    let r = e.ok(&["job", "run", "batchp.nomad.hcl"]);
    assert_eq!(r.out, "Job registration successful\n", "{r:?}");
    e.ok(&["job", "run", "cron.nomad.hcl"]);
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);

    let r = e.ok(&[
        "job",
        "dispatch",
        "-meta",
        "who=me",
        "-detach",
        "batchp",
        "payload.txt",
    ]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(
        lines[0].starts_with("Dispatched Job ID = batchp/dispatch-"),
        "{r:?}"
    );
    assert!(lines[1].starts_with("Evaluation ID     = "), "{r:?}");
    assert_eq!(lines[1].len(), "Evaluation ID     = ".len() + 8, "{r:?}");
    let child = lines[0]
        .trim_start_matches("Dispatched Job ID = ")
        .to_string();
    let job = e
        .cluster
        .reader()
        .snapshot()
        .job_by_id("default", &child)
        .expect("child");
    assert_eq!(job.meta.get("who").map(String::as_str), Some("me"));
    assert_eq!(job.payload.as_deref(), Some("aGVsbG8gcGF5bG9hZA=="));

    // Monitored, with a payload from stdin, a template and a token.
    let args = [
        "job",
        "dispatch",
        "-meta",
        "who=you",
        "-id-prefix-template",
        "nightly",
        "-idempotency-token",
        "t1",
        "batchp",
        "-",
    ];
    let r = e.nomad_stdin(&args, b"from stdin");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .starts_with("Dispatched Job ID = batchp/dispatch-nightly-"),
        "{r:?}"
    );
    assert!(
        r.out.contains("\n\n==> "),
        "a blank line, then the monitor: {r:?}"
    );
    assert!(
        r.out
            .trim_end()
            .ends_with("finished with status \"complete\""),
        "{r:?}"
    );
    let first = line(&r.out, "Dispatched Job ID").to_string();
    // The same token: the same child, and no evaluation to monitor.
    let r = e.nomad_stdin(&args, b"from stdin");
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, format!("{first}\n").as_str()),
        "{r:?}"
    );

    let r = e.ok(&["status", "batchp"]);
    assert!(
        r.out.contains("\nParameterized Job\nPayload           = optional\nRequired Metadata = who\nOptional Metadata = <none>\n"),
        "{r:?}"
    );
    assert!(r.out.contains("\nDispatched Jobs\nID "), "{r:?}");
    assert!(r.out.contains(&child), "{r:?}");

    for (args, err) in [
        (
            &["job", "dispatch", "-meta", "novalue", "batchp"][..],
            "Error parsing meta value: novalue\n",
        ),
        (
            &["job", "dispatch", "example"][..],
            "No job(s) with prefix or ID \"example\" found\n",
        ),
        (
            &["job", "dispatch"][..],
            "This command takes one or two argument: <parameterized job> [input source]\nFor additional help try 'nomad job dispatch -help'\n",
        ),
        (
            &["job", "dispatch", "batchp"][..],
            "Failed to dispatch job: Unexpected response code: 400 (Dispatch did not provide required meta keys: [who])\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }
    let r = e.nomad(&[
        "job",
        "dispatch",
        "-meta",
        "who=x",
        "batchp",
        "/no/such/file",
    ]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "Error reading input data: open /no/such/file: no such file or directory\n"
        )
    );

    // Periodic force.
    let r = e.ok(&["job", "periodic", "force", "-detach", "cron"]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Force periodic successful", "{r:?}");
    assert!(lines[1].starts_with("Evaluation ID: "), "{r:?}");
    let r = e.ok(&["status", "cron"]);
    assert!(r.out.contains("\nPreviously Launched Jobs\nID "), "{r:?}");
    assert!(r.out.contains("cron/periodic-"), "{r:?}");
    let r = e.nomad(&["job", "periodic", "force", "example"]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "No periodic job(s) with prefix or ID \"example\" found\n"
        )
    );
    // A second launch in the same second has the same ID; wait for the next.
    std::thread::sleep(Duration::from_millis(1100));
    let r = e.ok(&["job", "periodic", "force", "cron"]);
    assert!(r.out.starts_with("==> "), "{r:?}");
    assert!(
        r.out
            .contains("Evaluation triggered by job \"cron/periodic-"),
        "{r:?}"
    );
}

#[test]
fn scale_and_scaling_events() {
    let e = Env::new(InMemoryCluster::new());
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);
    let r = e.ok(&["job", "scaling-events", "example"]);
    assert_eq!(r.out, "No events found\n");

    let r = e.ok(&["job", "scale", "example", "3"]);
    assert!(r.out.starts_with("==> "), "{r:?}");
    assert_eq!(r.out.matches("created: node").count(), 2, "{r:?}");
    assert_eq!(e.allocs_of("example").len(), 3);
    let r = e.ok(&["job", "scale", "-detach", "example", "cache", "2"]);
    assert!(r.out.starts_with("Evaluation ID: "), "{r:?}");

    let r = e.ok(&["job", "scaling-events", "example"]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Task Group  Count  PrevCount  Date", "{r:?}");
    assert!(
        lines[1].starts_with("cache       2      3          20"),
        "{r:?}"
    );
    assert!(
        lines[2].starts_with("cache       3      1          20"),
        "{r:?}"
    );
    let r = e.ok(&["job", "scaling-events", "-verbose", "example"]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert!(
        lines[0].starts_with(
            "Task Group  Count  PrevCount  Error  Message                        Eval ID"
        ),
        "{r:?}"
    );
    assert!(
        lines[1].contains("false  submitted using the Nomad CLI  "),
        "{r:?}"
    );

    for (args, err) in [
        (
            &["job", "scale", "example"][..],
            "Command requires at least two arguments and no more than three\n",
        ),
        (
            &["job", "scale", "example", "web", "2"][..],
            "Group web not found within job\n",
        ),
        (
            &["job", "scale", "example", "many"][..],
            "Failed to convert count string to int: strconv.Atoi: parsing \"many\": invalid syntax\n",
        ),
        (
            &["job", "scale", "example", "-1"][..],
            "Error submitting scaling request: Unexpected response code: 400 (scaling action count can't be negative)\n",
        ),
        (
            &["job", "scaling-events"][..],
            "This command takes one argument: <job_id>\nFor additional help try 'nomad job scaling-events -help'\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }
}

/// Marks every pending allocation of `job` in a deployment healthy (or
/// not), from another thread, as a client would.
fn report_health(
    c: &Arc<InMemoryCluster>,
    job: &str,
    healthy: bool,
) -> std::thread::JoinHandle<()> {
    let c = c.clone();
    let job = job.to_string();
    in_background(move || {
        let snap = c.reader().snapshot();
        let pending: Vec<String> = snap
            .allocs_by_job("default", &job)
            .iter()
            .filter(|a| !a.deployment_id.is_empty() && a.deployment_status.is_none())
            .filter(|a| a.desired_status == "run")
            .map(|a| a.id.clone())
            .collect();
        if pending.is_empty() {
            return false;
        }
        // Let the monitor see the deployment running first.
        std::thread::sleep(Duration::from_millis(300));
        for id in pending {
            let _ = c.set_alloc_health(&id, healthy);
        }
        true
    })
}

#[test]
fn job_run_monitors_the_deployment() {
    let e = Env::new(InMemoryCluster::new().with_deployments());
    let helper = report_health(&e.cluster, "example", true);
    let r = e.nomad(&["job", "run", "v0.nomad.hcl"]);
    helper.join().expect("helper");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains(": Evaluation within deployment: \""),
        "{r:?}"
    );
    let monitoring = line(&r.out, "==> ").to_string();
    assert!(monitoring.contains(": Monitoring evaluation \""), "{r:?}");
    assert!(
        r.out.contains("\"\n==> ") && r.out.contains(": Monitoring deployment \""),
        "{r:?}"
    );
    // Each refresh: the prefix line, the time, the deployment.
    let tail = r
        .out
        .split(": Monitoring deployment")
        .nth(1)
        .unwrap_or_default();
    assert!(tail.contains("\n    \n20"), "{r:?}");
    assert!(
        tail.contains("\nDeployed\nTask Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\ncache       1        1       "),
        "{r:?}"
    );
    let last = tail.rsplit("\n    \n").next().unwrap_or_default();
    assert!(last.contains("\nJob ID      = example\nJob Version = 0\nStatus      = successful\nDescription = Deployment completed successfully\n"), "{r:?}");
    assert!(
        last.contains("\ncache       1        1       1        0          20"),
        "{r:?}"
    );

    // A failed deployment makes `job run` exit 1.
    let helper = report_health(&e.cluster, "example", false);
    let r = e.nomad(&["job", "run", "v1.nomad.hcl"]);
    helper.join().expect("helper");
    assert_eq!(r.code, 1, "{r:?}");
    let last = r.out.rsplit("\n    \n").next().unwrap_or_default();
    assert!(
        last.contains("Status      = failed\nDescription = Failed due to unhealthy allocations\n"),
        "{r:?}"
    );

    // `job status` shows the latest deployment.
    let r = e.ok(&["job", "status", "example"]);
    assert!(
        r.out.contains("\nLatest Deployment\nID          = "),
        "{r:?}"
    );
    assert!(r.out.contains("Status      = failed\n"), "{r:?}");
}

#[test]
fn deployment_commands() {
    let e = Env::new(InMemoryCluster::new().with_deployments());
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);
    let deps = e
        .cluster
        .reader()
        .snapshot()
        .deployments_by_job("default", "example")
        .to_vec();
    let first = deps[0].id.clone();

    let r = e.ok(&["deployment", "list"]);
    assert_eq!(
        line(&r.out, "ID"),
        "ID        Job ID   Job Version  Status   Description"
    );
    assert_eq!(
        line(&r.out, &first[..8]),
        format!(
            "{}  example  0            running  Deployment is running",
            &first[..8]
        )
    );

    // A deployment with canaries, auto-revert and a progress deadline
    // shows every optional column; a group without canaries shows N/A.
    let alloc = e.allocs_of("example").remove(0);
    let canary_dep = Deployment {
        id: "1a2b3c4d-0000-4000-8000-000000000001".into(),
        namespace: "default".into(),
        job_id: "example".into(),
        job_version: 0,
        job_create_index: deps[0].job_create_index,
        status: "running".into(),
        status_description: "Deployment is running but requires manual promotion".into(),
        task_groups: BTreeMap::from([
            (
                "cache".to_string(),
                DeploymentState {
                    auto_revert: true,
                    progress_deadline: Nanos(600_000_000_000),
                    desired_canaries: 1,
                    desired_total: 3,
                    placed_canaries: vec![alloc.id.clone()],
                    ..DeploymentState::default()
                },
            ),
            (
                "db".to_string(),
                DeploymentState {
                    desired_total: 2,
                    placed_allocs: 2,
                    healthy_allocs: 2,
                    ..DeploymentState::default()
                },
            ),
        ]),
        ..Deployment::default()
    };
    e.cluster.upsert_deployment(canary_dep).expect("deployment");
    let r = e.ok(&["deployment", "status", "1a2b"]);
    assert_eq!(
        r.out,
        "ID          = 1a2b3c4d\nJob ID      = example\nJob Version = 0\nStatus      = running\n\
         Description = Deployment is running but requires manual promotion\n\nDeployed\n\
         Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline\n\
         cache       true         false     3        1         0       0        0          N/A\n\
         db          false        N/A       2        0         2       2        0          N/A\n",
        "{r:?}"
    );
    let r = e.nomad(&["deployment", "promote", "1a2b"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.err,
        "Error promoting deployment: Unexpected response code: 409 (Task group \"cache\" has 0/1 healthy allocations)\n"
    );
    // A healthy canary can be promoted.
    let mut canary = alloc.clone();
    canary.deployment_id = "1a2b3c4d-0000-4000-8000-000000000001".into();
    canary.deployment_status = Some(nomad_types::AllocDeploymentStatus {
        healthy: Some(true),
        canary: true,
        ..Default::default()
    });
    e.cluster.upsert_alloc(canary).expect("alloc");
    let r = e.ok(&["deployment", "promote", "-detach", "1a2b"]);
    assert!(r.out.starts_with("Evaluation ID: "), "{r:?}");
    let r = e.ok(&["deployment", "status", "1a2b"]);
    assert!(
        r.out.contains("\ncache       true         true      3 "),
        "{r:?}"
    );

    let r = e.ok(&["deployment", "pause", "1a2b"]);
    assert_eq!(
        r.out,
        "Deployment \"1a2b3c4d-0000-4000-8000-000000000001\" paused\n"
    );
    let r = e.ok(&["deployment", "status", "1a2b"]);
    assert!(
        r.out
            .contains("Status      = paused\nDescription = Deployment is paused\n"),
        "{r:?}"
    );
    let r = e.ok(&["deployment", "resume", "-detach", "1a2b"]);
    assert_eq!(
        r.out,
        "Deployment \"1a2b3c4d-0000-4000-8000-000000000001\" resumed\n"
    );
    let r = e.ok(&["deployment", "fail", "-detach", "1a2b"]);
    assert_eq!(
        r.out,
        "Deployment \"1a2b3c4d-0000-4000-8000-000000000001\" failed\n"
    );

    // Without -detach, the evaluation is monitored, and with it the
    // (failed) deployment: exit 1, as Nomad's monitor does.
    let r = e.nomad(&["deployment", "fail", &first[..8]]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.out
            .starts_with(&format!("Deployment {first:?} failed\n\n==> ")),
        "{r:?}"
    );
    assert!(
        r.out
            .contains("Description = Deployment marked as failed\n"),
        "{r:?}"
    );
    let r = e.nomad(&["deployment", "fail", &first[..8]]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (
            1,
            "Error failing deployment: Unexpected response code: 400 (can't fail terminal deployment)\n"
        )
    );
    for (args, err) in [
        (
            &["deployment", "pause"][..],
            "This command takes one argument: <deployment id>\nFor additional help try 'nomad deployment pause -help'\n",
        ),
        (
            &["deployment", "resume", "zz"][..],
            "Error retrieving deployment: Deployment ID \"zz\" matched no deployments\n",
        ),
        (
            &["deployment", "promote", "a"][..],
            "Error retrieving deployment: Identifier must contain at least two characters.\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }

    // -monitor on a finished deployment prints it once, unprefixed.
    let r = e.ok(&["deployment", "status", "-monitor", "1a2b"]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert!(
        lines[0].ends_with(": Monitoring deployment \"1a2b3c4d\""),
        "{r:?}"
    );
    assert_eq!(lines[1], "", "{r:?}");
    assert!(lines[2].starts_with("20"), "{r:?}");
    assert_eq!(lines[3], "ID          = 1a2b3c4d", "{r:?}");
}

#[test]
fn node_drain_and_eligibility() {
    let e = Env::new(InMemoryCluster::new());
    let second = e.cluster.add_node("worker-2").expect("node");
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);
    // Drain the allocation's node; the other one takes its replacement.
    let alloc = e.allocs_of("example").remove(0);
    let node = alloc.node_id.clone();
    let other = if node == second {
        e.cluster
            .reader()
            .snapshot()
            .nodes()
            .iter()
            .find(|n| n.id != second)
            .map(|n| n.id.clone())
            .expect("worker-1")
    } else {
        second
    };
    e.cluster
        .set_alloc_client_status(&alloc.id, "running")
        .expect("running");
    e.cluster.spawn_drainer(Duration::from_millis(250));

    // A prefix asks first; no answer cancels.
    let r = e.nomad(&["node", "drain", "-enable", &node[..6]]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (
            0,
            format!("Are you sure you want to enable drain mode for node {node:?}? [y/N] Canceling drain toggle\n").as_str()
        ),
        "{r:?}"
    );

    let r = e.ok(&["node", "drain", "-enable", "-yes", &node]);
    let lines: Vec<&str> = r.out.lines().collect();
    assert!(
        lines[0].ends_with(": Ctrl-C to stop monitoring: will not cancel the node drain"),
        "{r:?}"
    );
    assert!(
        lines[1].ends_with(&format!(": Node {node:?} drain strategy set")),
        "{r:?}"
    );
    for want in [
        format!(": Alloc {:?} marked for migration", alloc.id),
        format!(": Alloc {:?} status running -> complete", alloc.id),
        format!(": All allocations on node {node:?} have stopped"),
        format!(": Drain complete for node {node}"),
    ] {
        assert!(r.out.contains(&format!("{want}\n")), "{want}: {r:?}");
    }
    assert!(
        e.allocs_of("example")
            .iter()
            .any(|a| a.node_id == other && a.desired_status == "run"),
        "replaced on the other node"
    );
    let r = e.ok(&["node", "status"]);
    assert!(
        line(&r.out, &node[..8]).contains("  false  ineligible   ready"),
        "{r:?}"
    );

    let r = e.nomad(&["node", "drain", "-monitor", &node]);
    assert_eq!(
        (r.code, r.err.as_str()),
        (0, "No drain strategy set\n"),
        "{r:?}"
    );
    let r = e.ok(&[
        "node",
        "drain",
        "-enable",
        "-detach",
        "-yes",
        "-deadline",
        "30m",
        &other,
    ]);
    assert_eq!(r.out, format!("Node {other:?} drain strategy set\n"));
    let r = e.ok(&["node", "drain", "-disable", "-yes", &other]);
    assert_eq!(r.out, format!("Node {other:?} drain strategy unset\n"));

    let r = e.ok(&["node", "eligibility", "-enable", &node]);
    assert_eq!(
        r.out,
        format!("Node {node:?} scheduling eligibility set: eligible for scheduling\n")
    );
    let r = e.ok(&["node", "eligibility", "-disable", &node[..8]]);
    assert_eq!(
        r.out,
        format!("Node {node:?} scheduling eligibility set: ineligible for scheduling\n")
    );

    for (args, err) in [
        (
            &["node", "drain", "x1"][..],
            "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'\nFor additional help try 'nomad node drain -help'\n",
        ),
        (
            &["node", "drain", "-enable", "-monitor", "x1"][..],
            "The -monitor flag cannot be used with the '-enable' or '-disable' flags\nFor additional help try 'nomad node drain -help'\n",
        ),
        (
            &["node", "drain", "-enable"][..],
            "Node ID must be specified if -self isn't being used\nFor additional help try 'nomad node drain -help'\n",
        ),
        (
            &["node", "drain", "-disable", "-force", "x1"][..],
            "-disable can't be combined with flags configuring drain strategy\nFor additional help try 'nomad node drain -help'\n",
        ),
        (
            &["node", "drain", "-enable", "-force", "-deadline", "1h", "x1"][..],
            "-deadline can't be combined with -force or -no-deadline\nFor additional help try 'nomad node drain -help'\n",
        ),
        (
            &["node", "drain", "-enable", "-deadline", "0s", "x1"][..],
            "A positive drain duration must be given\n",
        ),
        (
            &["node", "drain", "-enable", "-deadline", "soon", "x1"][..],
            "Failed to parse deadline \"soon\": time: invalid duration \"soon\"\n",
        ),
        (
            &["node", "drain", "-enable", "-yes", "zz"][..],
            "No node(s) with prefix or id \"zz\" found\n",
        ),
        (
            &["node", "drain", "-enable", "-yes", "z"][..],
            "Identifier must contain at least two characters.\n",
        ),
        (
            &["node", "eligibility", "x1"][..],
            "Either the '-enable' or '-disable' flag must be set\nFor additional help try 'nomad node eligibility -help'\n",
        ),
        (
            &["node", "eligibility", "-enable", "-self"][..],
            "Nomad not running in client mode\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }
}

#[test]
fn rescheduling_in_alloc_and_job_status() {
    let e = Env::new(InMemoryCluster::new());
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    // A follow-up evaluation a minute away, and a failed allocation that
    // was rescheduled once and waits for it.
    let followup = nomad_types::Evaluation {
        id: "9f8e7d6c-0000-4000-8000-000000000002".into(),
        namespace: "default".into(),
        job_id: "example".into(),
        eval_type: "service".into(),
        triggered_by: "alloc-failure".into(),
        status: "pending".into(),
        wait_until: nomad_types::GoTime::from_unix_nanos(now + 90_000_000_000),
        ..nomad_types::Evaluation::default()
    };
    e.cluster.upsert_eval(followup).expect("eval");
    let mut a = e.allocs_of("example").remove(0);
    a.client_status = "failed".into();
    a.next_allocation = "5e4d3c2b-0000-4000-8000-000000000003".into();
    a.followup_eval_id = "9f8e7d6c-0000-4000-8000-000000000002".into();
    a.modify_time = now;
    a.reschedule_tracker = Some(nomad_types::RescheduleTracker {
        events: vec![nomad_types::RescheduleEvent {
            reschedule_time: now - 5_000_000_000,
            ..Default::default()
        }],
        ..Default::default()
    });
    e.cluster.upsert_alloc(a.clone()).expect("alloc");

    let r = e.ok(&["alloc", "status", &a.id[..8]]);
    assert!(r.out.contains("\nReschedule Attempts    = 1/3\n"), "{r:?}");
    assert!(
        r.out.contains("\nReplacement Alloc ID   = 5e4d3c2b\n"),
        "{r:?}"
    );
    let elig = line(&r.out, "Reschedule Eligibility = ");
    assert!(elig.ends_with("s from now"), "{r:?}");

    let r = e.ok(&["status", "example"]);
    assert!(
        r.out.contains("\nFuture Rescheduling Attempts\nTask Group  Eval ID   Eval Time\ncache       9f8e7d6c  "),
        "{r:?}"
    );
    let r = e.ok(&["job", "status", "-verbose", "example"]);
    assert!(
        r.out.contains("\nFuture Rescheduling Attempts\nTask Group  Reschedule Policy                                 Eval ID"),
        "{r:?}"
    );
    assert!(
        r.out.contains("cache       3/1h0m0s with constant delay, max_delay = 1h0m0s  9f8e7d6c-0000-4000-8000-000000000002  "),
        "{r:?}"
    );
}

#[test]
fn job_eval_creates_and_monitors_an_evaluation() {
    let e = Env::new(InMemoryCluster::new());
    e.ok(&["job", "run", "-detach", "v0.nomad.hcl"]);

    let r = e.ok(&["job", "eval", "-detach", "exam"]);
    assert!(r.out.starts_with("Created eval ID: \""), "{r:?}");
    assert_eq!(
        r.out.trim().len(),
        "Created eval ID: \"\"".len() + 8,
        "{r:?}"
    );

    let r = e.ok(&["job", "eval", "-force-reschedule", "-verbose", "example"]);
    assert!(r.out.contains(": Monitoring evaluation \""), "{r:?}");
    assert!(
        line(r.out.lines().last().unwrap_or_default(), "==> ")
            .ends_with("finished with status \"complete\""),
        "{r:?}"
    );
    // The registration's evaluation and the two made here.
    let evals = e.ok(&["job", "status", "-evals", "example"]);
    assert_eq!(evals.out.matches("job-register").count(), 3, "{evals:?}");

    for (args, err) in [
        (
            &["job", "eval"][..],
            "This command takes one argument: <job>\nFor additional help try 'nomad job eval -help'\n",
        ),
        (
            &["job", "eval", "nope"][..],
            "No job(s) with prefix or ID \"nope\" found\n",
        ),
    ] {
        let r = e.nomad(args);
        assert_eq!((r.code, r.err.as_str()), (1, err), "{args:?}: {r:?}");
    }
}

#[test]
fn alloc_stop_stops_and_monitors_the_replacement() {
    let e = Env::new(InMemoryCluster::new());
    e.ok(&["job", "run", "v0.nomad.hcl"]);
    let allocs = e.ok(&["job", "allocs", "-verbose", "example"]);
    let id = allocs
        .out
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert_eq!(id.len(), 36, "{allocs:?}");

    let r = e.ok(&["alloc", "stop", &id[..8]]);
    assert!(r.out.contains(": Monitoring evaluation \""), "{r:?}");
    assert!(
        line(r.out.lines().last().unwrap_or_default(), "==> ")
            .ends_with("finished with status \"complete\""),
        "{r:?}"
    );
    let status = e.ok(&["alloc", "status", &id]);
    assert!(
        status.out.contains("Desired Status      = stop"),
        "{status:?}"
    );

    let r = e.ok(&["alloc", "stop", "-detach", &id]);
    assert_eq!(r.out.trim().len(), 36, "the evaluation's full ID: {r:?}");
    let r = e.nomad(&["alloc", "stop", "ffff0000"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err
            .contains("No allocation(s) with prefix or id \"ffff0000\" found"),
        "{r:?}"
    );
}
