//! Healing with real processes: one `nomad-server` and two `nomad-client`s.
//! A client killed with SIGKILL goes down after its heartbeat TTL and its
//! allocation is replaced on the other client; the client comes back on its
//! data dir; then `node drain` empties a node into the other one. A client
//! cut off (SIGSTOP) with a `disconnect` block goes `disconnected`, its
//! allocation `unknown` and replaced; back (SIGCONT), it keeps the original.

use nomad_e2e::{free_port, nomad_at, DevAgent};

fn node_rows(d: &std::path::Path, addr: &str) -> Vec<(String, String, String, String)> {
    // ID  Node Pool  DC  Name  Class  Drain  Eligibility  Status
    nomad_at(d, addr, &["node", "status"])
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8).then(|| (f[0].into(), f[3].into(), f[6].into(), f[7].into()))
        })
        .collect()
}

/// (alloc id, node id, desired, status) of `job status JOB`.
fn allocs(d: &std::path::Path, addr: &str, job: &str) -> Vec<(String, String, String, String)> {
    // ID  Node ID  Task Group  Version  Desired  Status  Created  Modified
    nomad_at(d, addr, &["job", "status", job])
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Allocations"))
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].into(), f[1].into(), f[4].into(), f[5].into()))
        })
        .collect()
}

fn job(name: &str, count: u32) -> String {
    format!(
        r#"
job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    count = {count}
    migrate {{
      max_parallel     = 1
      min_healthy_time = "1s"
    }}
    update {{
      min_healthy_time = "1s"
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["120"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
    )
}

/// One server (1 s heartbeat TTL and grace) and configs for clients c1 and
/// c2 in `d`: the server and its HTTP address.
fn one_server(d: &std::path::Path) -> (DevAgent, String) {
    let (http, rpc, serf) = (free_port(), free_port(), free_port());
    std::fs::write(
        d.join("server.hcl"),
        format!(
            "data_dir = \"{}/s\"\nbind_addr = \"127.0.0.1\"\nports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n\
             server {{\n  enabled = true\n  bootstrap_expect = 1\n  heartbeat_grace = \"1s\"\n  min_heartbeat_ttl = \"1s\"\n}}\n",
            d.display()
        ),
    )
    .expect("server.hcl");
    for c in ["c1", "c2"] {
        std::fs::write(
            d.join(format!("{c}.hcl")),
            format!(
                "data_dir = \"{}/{c}\"\nbind_addr = \"127.0.0.1\"\nname = \"{c}\"\nports {{\n  http = {}\n}}\n\
                 client {{\n  enabled = true\n  servers = [\"127.0.0.1:{rpc}\"]\n}}\n\
                 plugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\n",
                d.display(),
                free_port()
            ),
        )
        .expect("client config");
    }
    let server = DevAgent::spawn(
        "nomad-server",
        &["-config", "server.hcl"],
        d,
        "server",
        Some(http),
    );
    let addr = server.addr.clone();
    (server, addr)
}

fn spawn_client(d: &std::path::Path, c: &str) -> DevAgent {
    DevAgent::spawn(
        "nomad-client",
        &["-config", &format!("{c}.hcl")],
        d,
        c,
        None,
    )
}

#[test]
fn a_killed_client_is_replaced_and_a_drain_empties_a_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (server, addr) = one_server(d);
    let spawn_client = |c: &str| spawn_client(d, c);
    let mut clients = vec![Some(spawn_client("c1")), Some(spawn_client("c2"))];
    server.wait_for("two ready clients", 30, || {
        node_rows(d, &addr)
            .iter()
            .filter(|n| n.3 == "ready")
            .count()
            == 2
    });

    // A killed client's allocation is replaced on the other client.
    std::fs::write(d.join("one.nomad.hcl"), job("one", 1)).expect("job");
    let r = nomad_at(d, &addr, &["job", "run", "-detach", "one.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut first = (String::new(), String::new());
    server.wait_for("the allocation running", 30, || {
        match allocs(d, &addr, "one")
            .into_iter()
            .find(|a| a.3 == "running")
        {
            Some(a) => {
                first = (a.0, a.1);
                true
            }
            None => false,
        }
    });
    let nodes = node_rows(d, &addr);
    let victim = nodes
        .iter()
        .find(|n| n.0 == first.1)
        .expect("victim node")
        .1
        .clone();
    let vi = if victim == "c1" { 0 } else { 1 };
    clients[vi].as_mut().expect("client").kill9();
    server.wait_for(
        "the killed client down and its allocation replaced",
        30,
        || {
            let down = node_rows(d, &addr)
                .iter()
                .any(|n| n.1 == victim && n.3 == "down");
            let a = allocs(d, &addr, "one");
            let lost = a.iter().any(|x| x.0 == first.0 && x.3 == "lost");
            let replaced = a.iter().any(|x| x.1 != first.1 && x.3 == "running");
            down && lost && replaced
        },
    );

    // It comes back on its data dir.
    clients[vi] = Some(spawn_client(&victim));
    server.wait_for("the client back", 30, || {
        node_rows(d, &addr)
            .iter()
            .filter(|n| n.3 == "ready")
            .count()
            == 2
    });

    // A drain empties one node into the other, one migration at a time.
    std::fs::write(d.join("four.nomad.hcl"), job("four", 4)).expect("job");
    let r = nomad_at(d, &addr, &["job", "run", "-detach", "four.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    server.wait_for("four running", 30, || {
        allocs(d, &addr, "four")
            .iter()
            .filter(|a| a.3 == "running")
            .count()
            == 4
    });
    let busiest = {
        let a = allocs(d, &addr, "four");
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for x in a.iter().filter(|x| x.3 == "running") {
            *by.entry(x.1.clone()).or_default() += 1;
        }
        by.into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k)
            .expect("a node")
    };
    let drain = nomad_at(
        d,
        &addr,
        &[
            "node",
            "drain",
            "-enable",
            "-yes",
            "-deadline",
            "2m",
            &busiest,
        ],
    );
    assert_eq!(drain.code, 0, "{drain:?}\n{}", server.logs());
    assert!(drain.stdout.contains("Drain complete"), "{}", drain.stdout);
    // By migrations, each replacement healthy before the next moved (by
    // its group's migrate block: the job's deployment had finished), not by
    // the deadline's force-stops.
    let logs = server.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("node drain complete") && l.contains("deadline_reached=false")),
        "the drain ended at its deadline:\n{logs}"
    );
    let live: Vec<_> = allocs(d, &addr, "four")
        .into_iter()
        .filter(|a| a.2 == "run")
        .collect();
    assert_eq!(live.len(), 4, "{live:?}");
    assert!(
        live.iter().all(|a| a.1 != busiest),
        "nothing left on the drained node: {live:?}"
    );
    assert!(
        node_rows(d, &addr)
            .iter()
            .any(|n| n.0 == busiest && n.2 == "ineligible"),
        "a drained node stays ineligible"
    );
    for j in ["one", "four"] {
        let _ = nomad_at(d, &addr, &["job", "stop", "-detach", j]);
    }
    drop(clients);
}

#[test]
fn a_disconnected_client_keeps_its_allocation_when_it_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (server, addr) = one_server(d);
    let clients = [spawn_client(d, "c1"), spawn_client(d, "c2")];
    server.wait_for("two ready clients", 30, || {
        node_rows(d, &addr)
            .iter()
            .filter(|n| n.3 == "ready")
            .count()
            == 2
    });
    std::fs::write(
        d.join("dis.nomad.hcl"),
        r#"
job "dis" {
  datacenters = ["dc1"]
  group "g" {
    count = 1
    disconnect {
      lost_after = "1h"
      replace    = true
      reconcile  = "keep_original"
    }
    update {
      min_healthy_time = "1s"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["120"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#,
    )
    .expect("job");
    let r = nomad_at(d, &addr, &["job", "run", "-detach", "dis.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut original = (String::new(), String::new());
    server.wait_for("the allocation running", 30, || {
        match allocs(d, &addr, "dis")
            .into_iter()
            .find(|a| a.3 == "running")
        {
            Some(a) => {
                original = (a.0, a.1);
                true
            }
            None => false,
        }
    });
    // An allocation of a deployment still under way is not replaced
    // (Nomad's rule): let the deployment finish first.
    server.wait_for("the deployment successful", 30, || {
        let out = nomad_at(d, &addr, &["job", "status", "dis"]).stdout;
        out.lines()
            .skip_while(|l| !l.starts_with("Latest Deployment"))
            .any(|l| l.starts_with("Status") && l.contains("successful"))
    });
    let host = node_rows(d, &addr)
        .into_iter()
        .find(|n| n.0 == original.1)
        .expect("its node")
        .1;
    let cut = clients
        .iter()
        .find(|c| c.name() == host)
        .expect("the client running it");

    // Cut off: the node goes disconnected (not down), the allocation
    // unknown, and a replacement runs on the other client.
    cut.signal("STOP");
    server.wait_for(
        "the node disconnected, its allocation unknown and replaced",
        30,
        || {
            let disconnected = node_rows(d, &addr)
                .iter()
                .any(|n| n.1 == host && n.3 == "disconnected");
            let a = allocs(d, &addr, "dis");
            let unknown = a.iter().any(|x| x.0 == original.0 && x.3 == "unknown");
            let replaced = a
                .iter()
                .any(|x| x.1 != original.1 && x.2 == "run" && x.3 == "running");
            disconnected && unknown && replaced
        },
    );

    // Back: keep_original keeps it running and stops the replacement.
    cut.signal("CONT");
    server.wait_for(
        "the original running again and the replacement stopped",
        30,
        || {
            let ready = node_rows(d, &addr)
                .iter()
                .any(|n| n.1 == host && n.3 == "ready");
            let a = allocs(d, &addr, "dis");
            let original_runs = a
                .iter()
                .any(|x| x.0 == original.0 && x.2 == "run" && x.3 == "running");
            let replacement_stopped = a
                .iter()
                .filter(|x| x.1 != original.1)
                .all(|x| x.2 == "stop");
            ready && original_runs && replacement_stopped
        },
    );
    // Tasks outlive their agent (as in Nomad): stop them before the
    // clients go.
    let r = nomad_at(d, &addr, &["job", "stop", "-detach", "dis"]);
    assert_eq!(r.code, 0, "{r:?}");
    server.wait_for("the job's tasks stopped", 30, || {
        allocs(d, &addr, "dis")
            .iter()
            .all(|a| a.3 != "running" && a.3 != "pending")
    });
    drop(clients);
}
