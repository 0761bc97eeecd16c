//! The `nomad` commands against an in-process API server (the in-memory
//! cluster on 127.0.0.1:0): tables, monitor lines, exit codes.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;

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

fn nomad(addr: &str, dir: &Path, args: &[&str]) -> Out {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut stdin: &[u8] = b"";
    let mut io = nomad_cli::Io {
        out: &mut out,
        err: &mut err,
        stdin: &mut stdin,
        env: vec![("NOMAD_ADDR".to_string(), addr.to_string())],
    };
    let mut argv: Vec<OsString> = vec!["nomad".into()];
    for a in args {
        let p = dir.join(a);
        // Job file arguments are relative to the test's directory.
        if (a.ends_with(".nomad") || a.ends_with(".hcl")) && !a.starts_with('-') {
            argv.push(p.into_os_string());
        } else {
            argv.push(a.into());
        }
    }
    let code = nomad_cli::run(argv, &mut io);
    Out {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

const JOB: &str = r#"job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = 1
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"#;

fn setup(with_node: bool) -> (Arc<InMemoryCluster>, String, tempfile::TempDir, String) {
    let cluster = Arc::new(InMemoryCluster::new());
    let node = if with_node {
        cluster.add_node("worker-1").expect("node")
    } else {
        String::new()
    };
    let addr = cluster.clone().spawn().expect("serve");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("example.nomad.hcl"), JOB).expect("write");
    (cluster, addr, dir, node)
}

#[test]
fn node_status_and_server_members() {
    let (_c, addr, dir, node) = setup(true);
    let r = nomad(&addr, dir.path(), &["node", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(
        lines[0], "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status",
        "{r:?}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{}  default    dc1  worker-1  <none>  false  eligible     ready",
            &node[..8]
        )
    );
    let r = nomad(&addr, dir.path(), &["node", "status", "-verbose"]);
    assert!(r.out.contains(&node), "{r:?}");
    assert!(
        r.out
            .lines()
            .next()
            .is_some_and(|l| l.contains("Address") && l.contains("Version")),
        "{r:?}"
    );

    let r = nomad(&addr, dir.path(), &["node", "status", &node[..6]]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.starts_with(&format!("ID              = {node}\n")),
        "{r:?}"
    );
    assert!(
        r.out.contains("Driver Status   = docker,exec,raw_exec"),
        "{r:?}"
    );
    assert!(r.out.contains("\nNode Events\nTime"), "{r:?}");
    assert!(r.out.contains("\nAllocated Resources\nCPU"), "{r:?}");
    let r = nomad(&addr, dir.path(), &["node", "status", "zz"]);
    assert_eq!(
        (r.code, r.err.trim()),
        (1, "No node(s) with prefix \"zz\" found")
    );
    let r = nomad(&addr, dir.path(), &["node", "status", "a"]);
    assert_eq!(
        (r.code, r.err.trim()),
        (1, "Identifier must contain at least two characters.")
    );

    let r = nomad(&addr, dir.path(), &["server", "members"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Name                  Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region");
    let want = format!("nomad-rs-test.global  127.0.0.1  4648  alive   true    3             {}  dc1         global", env!("CARGO_PKG_VERSION"));
    assert_eq!(lines[1], want);
    let r = nomad(&addr, dir.path(), &["server", "members", "-detailed"]);
    assert!(
        r.out.contains("Protocol") && r.out.contains("Tags"),
        "{r:?}"
    );
}

#[test]
fn run_status_alloc_plan_check_index_stop() {
    let (cluster, addr, dir, node) = setup(true);
    // The seed runs `nomad job run example.nomad` after `job init` wrote
    // example.nomad.hcl.
    let r = nomad(&addr, dir.path(), &["job", "run", "example.nomad"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.err.contains("does not exist; reading"), "{r:?}");
    let lines: Vec<&str> = r.out.lines().collect();
    assert!(
        lines[0].starts_with("==> ") && lines[0].contains(": Monitoring evaluation \""),
        "{r:?}"
    );
    assert!(
        r.out
            .contains(": Evaluation triggered by job \"example\"\n"),
        "{r:?}"
    );
    let created = lines
        .iter()
        .find(|l| l.contains("created: node"))
        .expect("alloc line");
    assert!(created.starts_with("    "), "{created}");
    assert!(
        created.ends_with(&format!(
            "created: node \"{}\", group \"cache\"",
            &node[..8]
        )),
        "{created}"
    );
    assert!(
        r.out
            .contains(": Evaluation status changed: \"pending\" -> \"complete\"\n"),
        "{r:?}"
    );
    assert!(
        lines.last().is_some_and(
            |l| l.starts_with("==> ") && l.ends_with("finished with status \"complete\"")
        ),
        "{r:?}"
    );

    // Status of the job.
    let allocs = cluster.alloc_ids();
    let alloc = allocs[0].clone();
    cluster
        .set_alloc_client_status(&alloc, "running")
        .expect("running");
    let r = nomad(&addr, dir.path(), &["status", "example"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .starts_with("ID            = example\nName          = example\nSubmit Date   = "),
        "{r:?}"
    );
    for want in [
        "Type          = service",
        "Priority      = 50",
        "Datacenters   = dc1",
        "Namespace     = default",
        "Node Pool     = default",
        "Status        = running",
        "Periodic      = false",
        "Parameterized = false",
        "\nSummary\nTask Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\ncache       0       0         1        0       0         0     0\n",
        "\nAllocations\nID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n",
    ] {
        assert!(r.out.contains(want), "{want:?} missing:\n{r:?}");
    }
    assert!(
        r.out.contains(&format!(
            "{}  {}  cache       0        run      running  ",
            &alloc[..8],
            &node[..8]
        )),
        "{r:?}"
    );
    let r = nomad(&addr, dir.path(), &["job", "status"]);
    assert!(r.out.starts_with("ID       Type     Priority  Status   Submit Date\nexample  service  50        running  "), "{r:?}");

    // Allocation status by prefix.
    let r = nomad(&addr, dir.path(), &["alloc", "status", &alloc[..8]]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.starts_with(&format!(
            "ID                  = {alloc}\nEval ID             = "
        )),
        "{r:?}"
    );
    for want in [
        "Name                = example.cache[0]",
        &format!("Node ID             = {}", &node[..8]),
        "Node Name           = worker-1",
        "Job ID              = example",
        "Job Version         = 0",
        "Client Status       = running",
        "Desired Status      = run",
        "\nTask \"redis\" is \"running\"\nTask Resources:\nCPU      Memory   Disk     Addresses\n500 MHz  256 MiB  300 MiB  \n",
        "Task Events:\nStarted At     = ",
        "Total Restarts = 0",
        "Recent Events:\nTime                  Type      Description\n",
        "Started   Task started by client",
    ] {
        assert!(r.out.contains(want), "{want:?} missing:\n{r:?}");
    }

    // Logs.
    cluster.set_log(
        &alloc,
        "redis",
        "stdout",
        "1:M Ready to accept connections\n",
    );
    let r = nomad(&addr, dir.path(), &["alloc", "logs", &alloc[..8], "redis"]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "1:M Ready to accept connections\n"),
        "{r:?}"
    );
    let r = nomad(
        &addr,
        dir.path(),
        &["logs", "-tail", "-n", "1", &alloc[..8]],
    );
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "1:M Ready to accept connections\n"),
        "{r:?}"
    );

    // Plan: no change exits 0; a change exits 1 and shows the diff.
    let r = nomad(&addr, dir.path(), &["job", "plan", "example.nomad"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.starts_with("Job: \"example\"\nTask Group: \"cache\" (1 ignore)\n  Task: \"redis\"\n\nScheduler dry-run:\n- All tasks successfully allocated.\n"), "{r:?}");
    let job_modify_index = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("Job Modify Index: "))
        .expect("index")
        .to_string();
    let hint = r
        .out
        .lines()
        .find(|l| l.starts_with("nomad job run -check-index"))
        .expect("hint");
    assert!(
        hint.starts_with(&format!("nomad job run -check-index {job_modify_index} ")),
        "{r:?}"
    );
    assert!(
        hint.ends_with("/example.nomad"),
        "the hint names the file as given: {hint}"
    );
    std::fs::write(
        dir.path().join("example.nomad.hcl"),
        JOB.replace("count = 1", "count = 3"),
    )
    .expect("write");
    let r = nomad(&addr, dir.path(), &["job", "plan", "example.nomad"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.out.starts_with("+/- Job: \"example\"\n+/- Task Group: \"cache\" (2 create, 1 ignore)\n  +/- Count: \"1\" => \"3\"\n"), "{r:?}");

    // A stale -check-index is refused; the right one runs.
    let r = nomad(
        &addr,
        dir.path(),
        &["job", "run", "-check-index", "9999", "example.nomad"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.err.lines().filter(|l| !l.starts_with("Note:")).collect::<Vec<_>>(),
        [
            format!("Enforcing job modify index 9999: job exists with conflicting job modify index: {job_modify_index}").as_str(),
            "Job not updated"
        ],
        "{r:?}"
    );
    let r = nomad(
        &addr,
        dir.path(),
        &[
            "job",
            "run",
            "-check-index",
            &job_modify_index,
            "-detach",
            "example.nomad",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .starts_with("Job registration successful\nEvaluation ID: "),
        "{r:?}"
    );
    let r = nomad(&addr, dir.path(), &["job", "allocs", "example"]);
    assert_eq!(r.out.lines().count(), 4, "{r:?}");

    // Evaluations and deployments.
    let r = nomad(&addr, dir.path(), &["eval", "list"]);
    assert!(r.out.starts_with("ID        Priority  Triggered By  Job ID   Namespace  Node ID  Status    Placement Failures\n"), "{r:?}");
    let eval = r
        .out
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("eval")
        .to_string();
    let r = nomad(&addr, dir.path(), &["eval", "status", &eval]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("TriggeredBy        = job-register"), "{r:?}");
    let r = nomad(&addr, dir.path(), &["deployment", "list"]);
    assert_eq!((r.code, r.out.trim()), (0, "No deployments found"));

    // -filter: go-bexpr over whole objects; a bad one is Nomad's 400.
    let r = nomad(
        &addr,
        dir.path(),
        &["eval", "list", "-filter", "JobID == \"nope\""],
    );
    assert_eq!((r.code, r.out.trim()), (0, "No evals found"), "{r:?}");
    let r = nomad(
        &addr,
        dir.path(),
        &["eval", "list", "-filter", "JobID == \"example\""],
    );
    let rows: Vec<&str> = r.out.lines().skip(1).collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|l| l.contains(" example ")),
        "{r:?}"
    );
    let r = nomad(
        &addr,
        dir.path(),
        &["job", "status", "-filter", "TaskGroups.0.Name == \"cache\""],
    );
    assert!(r.out.contains("example"), "{r:?}");
    let r = nomad(
        &addr,
        dir.path(),
        &["job", "status", "-filter", "Status == \"dead\""],
    );
    assert_eq!((r.code, r.out.trim()), (0, "No running jobs"), "{r:?}");
    let r = nomad(
        &addr,
        dir.path(),
        &["node", "status", "-filter", "Status =="],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err
            .contains("400 (failed to read filter expression: 1:10: expected a value"),
        "{r:?}"
    );

    // Stop, monitored.
    let r = nomad(&addr, dir.path(), &["job", "stop", "example"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("Evaluation triggered by job \"example\""),
        "{r:?}"
    );
    assert!(r.out.contains("finished with status \"complete\""), "{r:?}");
    let r = nomad(&addr, dir.path(), &["job", "status", "example"]);
    assert!(r.out.contains("(stopped)"), "{r:?}");
    assert!(r.out.contains("  stop     "), "{r:?}");

    let r = nomad(&addr, dir.path(), &["job", "status", "nope"]);
    assert_eq!(
        (r.code, r.err.trim()),
        (1, "No job(s) with prefix or ID \"nope\" found")
    );
    let r = nomad(&addr, dir.path(), &["system", "gc"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = nomad(&addr, dir.path(), &["agent-info"]);
    assert!(r.out.contains("nomad\n  bootstrap = true\n"), "{r:?}");
}

#[test]
fn placement_failures_exit_2() {
    let (_c, addr, dir, _) = setup(false);
    let r = nomad(&addr, dir.path(), &["job", "run", "example.nomad.hcl"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.out
            .contains("finished with status \"complete\" but failed to place all allocations:"),
        "{r:?}"
    );
    assert!(r.out.contains(": Task Group \"cache\" (failed to place 1 allocation):\n      * No nodes were eligible for evaluation\n"), "{r:?}");
    assert!(
        r.out
            .contains("waiting for additional capacity to place remainder"),
        "{r:?}"
    );
}

#[test]
fn unreachable_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = nomad("http://127.0.0.1:1", dir.path(), &["node", "status"]);
    assert_eq!(r.code, 1);
    assert!(r.err.starts_with("Error querying node status: "), "{r:?}");
}
