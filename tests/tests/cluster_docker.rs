//! The seed's walkthrough on a real cluster: three `nomad-server` processes
//! formed by `bootstrap_expect = 3` and two `nomad-client` processes on
//! loopback, a Docker job (the locally built busybox image) with count 2
//! submitted through the CLI to a follower. Both allocations run, one per
//! client; `status`, `alloc logs` and `job stop` show what a user expects.

use std::collections::BTreeSet;
use std::path::Path;

use nomad_driver_docker::testing::{docker_or_skip, ContainerSweep, TEST_IMAGE};
use nomad_e2e::{nomad_at, wait_until, Cluster};

const TASK: &str = "e2e-cluster";

fn job() -> String {
    format!(
        r#"
job "web" {{
  datacenters = ["dc1"]
  type        = "service"
  constraint {{
    operator = "distinct_hosts"
    value    = "true"
  }}
  group "web" {{
    count = 2
    update {{
      max_parallel     = 2
      min_healthy_time = "1s"
      healthy_deadline = "2m"
    }}
    task "{TASK}" {{
      driver = "docker"
      config {{
        image   = "{TEST_IMAGE}"
        command = "/bin/sh"
        args    = ["-c", "trap 'exit 0' TERM; echo hello from ${{node.unique.name}} alloc $NOMAD_ALLOC_INDEX; sleep 3600 & wait"]
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"#
    )
}

/// (id, name, status) rows of `nomad node status`.
fn nodes(d: &Path, addr: &str) -> Vec<(String, String, String)> {
    // ID  Node Pool  DC  Name  Class  Drain  Eligibility  Status
    nomad_at(d, addr, &["node", "status"])
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8).then(|| (f[0].into(), f[3].into(), f[7].into()))
        })
        .collect()
}

/// (alloc id, node id, desired, status) rows of the Allocations section of
/// `nomad status JOB`.
fn allocs(out: &str) -> Vec<(String, String, String, String)> {
    // ID  Node ID  Task Group  Version  Desired  Status  Created  Modified
    out.lines()
        .skip_while(|l| !l.starts_with("Allocations"))
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].into(), f[1].into(), f[4].into(), f[5].into()))
        })
        .collect()
}

/// The running containers of this test's task.
fn containers() -> usize {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("name={TASK}-")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn three_servers_two_clients_run_a_docker_job() {
    if !docker_or_skip("three_servers_two_clients_run_a_docker_job") {
        return;
    }
    // Containers outlive their clients (as in Nomad): remove this test's
    // whatever happens.
    let _sweep = ContainerSweep::new(format!("{TASK}-"));
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    // Three servers elect one leader; every one of them says so.
    let mut cluster = Cluster::start_servers(d, 3);
    let leader = cluster.wait_formed(60);
    let follower = (leader + 1) % 3;
    let addr = cluster.addr(follower).to_string();
    let members = nomad_at(d, &addr, &["server", "members"]);
    assert_eq!(members.code, 0, "{members:?}");
    let rows: Vec<&str> = members.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{}", members.stdout);
    assert!(
        rows.iter().all(|r| r.contains(" alive ")),
        "{}",
        members.stdout
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.split_whitespace().nth(4) == Some("true"))
            .count(),
        1,
        "one leader:\n{}",
        members.stdout
    );
    let peers = nomad_at(d, &addr, &["operator", "raft", "list-peers"]);
    assert_eq!(peers.code, 0, "{peers:?}");
    // Node  ID  Address  State  Voter  RaftProtocol
    let peer_rows: Vec<Vec<&str>> = peers
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        peer_rows.len() == 3
            && peer_rows.iter().all(|f| f.get(4) == Some(&"true"))
            && peer_rows
                .iter()
                .filter(|f| f.get(3) == Some(&"leader"))
                .count()
                == 1,
        "three voters, one leader:\n{}",
        peers.stdout
    );

    // Two clients register and are ready, with Docker detected.
    cluster.add_client("c1", "", "");
    cluster.add_client("c2", "", "");
    wait_until(
        "two ready clients",
        60,
        || cluster.logs(),
        || nodes(d, &addr).iter().filter(|n| n.2 == "ready").count() == 2,
    );
    let node_ids: Vec<(String, String)> = nodes(d, &addr)
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    let names: BTreeSet<&str> = node_ids.iter().map(|n| n.1.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["c1", "c2"]), "{node_ids:?}");
    for (id, name) in &node_ids {
        wait_until(
            &format!("docker detected on {name}"),
            60,
            || cluster.logs(),
            || {
                nomad_at(d, &addr, &["node", "status", "-verbose", id])
                    .stdout
                    .lines()
                    .any(|l| l.starts_with("driver.docker ") && l.trim_end().ends_with("= 1"))
            },
        );
    }

    // `nomad job run` through the follower: the monitor shows both
    // placements and a successful deployment.
    std::fs::write(d.join("web.nomad.hcl"), job()).expect("job file");
    let run = nomad_at(d, &addr, &["job", "run", "web.nomad.hcl"]);
    assert_eq!(run.code, 0, "job run: {run:?}\n{}", cluster.logs());
    assert!(
        run.stdout.contains("==> ") && run.stdout.contains("Monitoring evaluation"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("created: node").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Evaluation status changed: \"pending\" -> \"complete\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("successfully"),
        "deployment not reported successful:\n{}",
        run.stdout
    );

    // `nomad status web`: running, one allocation on each client.
    let status = nomad_at(d, &addr, &["status", "web"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("Status") && l.ends_with("= running")),
        "{}",
        status.stdout
    );
    let live = allocs(&status.stdout);
    let running: Vec<_> = live.iter().filter(|a| a.3 == "running").collect();
    assert_eq!(running.len(), 2, "{}", status.stdout);
    let on: BTreeSet<&str> = running.iter().map(|a| a.1.as_str()).collect();
    let expected: BTreeSet<&str> = node_ids.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(
        on, expected,
        "one allocation per client:\n{}",
        status.stdout
    );
    assert_eq!(containers(), 2, "two containers running");

    // `alloc logs`: each container says hello from its own client.
    for a in &running {
        let name = &node_ids
            .iter()
            .find(|n| n.0 == a.1)
            .expect("node of the allocation")
            .1;
        let mut logs = String::new();
        wait_until(
            "the container's output",
            30,
            || cluster.logs(),
            || {
                logs = nomad_at(d, &addr, &["alloc", "logs", &a.0, TASK]).stdout;
                logs.contains("hello from")
            },
        );
        assert!(
            logs.starts_with(&format!("hello from {name} alloc ")),
            "alloc logs {}: {logs:?}",
            a.0
        );
    }

    // `nomad job stop`: the job is dead and its containers are gone.
    let stop = nomad_at(d, &addr, &["job", "stop", "web"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        stop.stdout.contains("Monitoring evaluation"),
        "{}",
        stop.stdout
    );
    wait_until(
        "the job dead",
        60,
        || {
            let status = nomad_at(d, &addr, &["status", "web"]).stdout;
            format!("{status}\n{}", cluster.logs())
        },
        || {
            let status = nomad_at(d, &addr, &["status", "web"]).stdout;
            status
                .lines()
                .any(|l| l.starts_with("Status") && l.ends_with("= dead (stopped)"))
                && allocs(&status)
                    .iter()
                    .all(|a| a.2 == "stop" && a.3 == "complete")
        },
    );
    wait_until(
        "the containers removed",
        60,
        || cluster.logs(),
        || containers() == 0,
    );
    drop(cluster);
}
