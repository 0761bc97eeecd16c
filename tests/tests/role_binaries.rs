//! `nomad-server` and `nomad-client` as separate processes: the client
//! reaches the server through its RPC listener.

use std::time::{Duration, Instant};

use nomad_e2e::{free_port, nomad_at, DevAgent};

#[test]
fn separate_server_and_client_run_a_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (http, rpc, serf, chttp) = (free_port(), free_port(), free_port(), free_port());
    let server_hcl = format!(
        "data_dir = \"{}/s\"\nbind_addr = \"127.0.0.1\"\nports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\nserver {{\n  enabled = true\n  bootstrap_expect = 1\n}}\n",
        d.display()
    );
    let client_hcl = format!(
        "data_dir = \"{}/c\"\nbind_addr = \"127.0.0.1\"\nname = \"remote\"\nports {{\n  http = {chttp}\n}}\nclient {{\n  enabled = true\n  servers = [\"127.0.0.1:{rpc}\"]\n}}\nplugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\n",
        d.display()
    );
    std::fs::write(d.join("server.hcl"), server_hcl).expect("server.hcl");
    std::fs::write(d.join("client.hcl"), client_hcl).expect("client.hcl");
    let server = DevAgent::spawn(
        "nomad-server",
        &["-config", "server.hcl"],
        d,
        "server",
        Some(http),
    );
    let client = DevAgent::spawn(
        "nomad-client",
        &["-config", "client.hcl"],
        d,
        "client",
        None,
    );
    let addr = server.addr.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = nomad_at(d, &addr, &["node", "status"]);
        if r.stdout.contains("remote") && r.stdout.contains("ready") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "client never ready: {r:?}\n{}\n{}",
            server.logs(),
            client.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(
        d.join("j.nomad.hcl"),
        "job \"j\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }\n    }\n  }\n}\n",
    )
    .expect("job");
    let run = nomad_at(d, &addr, &["job", "run", "-detach", "j.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = nomad_at(d, &addr, &["status", "j"]);
        if r.stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .any(|l| l.contains("running"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not running: {r:?}\n{}",
            client.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stop = nomad_at(d, &addr, &["job", "stop", "-detach", "j"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = nomad_at(d, &addr, &["status", "j"]);
        if !r
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .any(|l| l.contains("running"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "not stopped: {r:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(client.stop(), Some(0));
    assert_eq!(server.stop(), Some(0));
}

/// Two free ports next to each other (`p`, `p + 1`).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < u16::MAX
            && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
    panic!("no two adjacent free ports");
}

/// A client-only agent serves the whole `/v1` API: `/v1/client/*` from its
/// own client, everything else forwarded to the server.
#[test]
fn a_client_only_agent_forwards_the_api_to_its_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The server's HTTP port sits below its RPC port, as Nomad's defaults
    // (4646, 4647): that is where the client finds it.
    let http = free_port_pair();
    let (rpc, serf, chttp) = (http + 1, free_port(), free_port());
    let server_hcl = format!(
        "data_dir = \"{}/s\"\nbind_addr = \"127.0.0.1\"\nports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\nserver {{\n  enabled = true\n  bootstrap_expect = 1\n  event_buffer_size = 100\n}}\n",
        d.display()
    );
    let client_hcl = format!(
        "data_dir = \"{}/c\"\nbind_addr = \"127.0.0.1\"\nname = \"remote\"\nports {{\n  http = {chttp}\n}}\nclient {{\n  enabled = true\n  servers = [\"127.0.0.1:{rpc}\"]\n}}\nplugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\n",
        d.display()
    );
    std::fs::write(d.join("server.hcl"), server_hcl).expect("server.hcl");
    std::fs::write(d.join("client.hcl"), client_hcl).expect("client.hcl");
    let server = DevAgent::spawn(
        "nomad-server",
        &["-config", "server.hcl"],
        d,
        "server",
        Some(http),
    );
    let client = DevAgent::spawn(
        "nomad-client",
        &["-config", "client.hcl"],
        d,
        "client",
        Some(chttp),
    );
    let caddr = client.addr.clone();
    client.wait_for("the node through the client's API", 30, || {
        let r = nomad_at(d, &caddr, &["node", "status"]);
        r.stdout.contains("remote") && r.stdout.contains("ready")
    });
    std::fs::write(
        d.join("j.nomad.hcl"),
        "job \"j\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }\n    }\n  }\n}\n",
    )
    .expect("job");
    // A write and a read forwarded to the server.
    let run = nomad_at(d, &caddr, &["job", "run", "-detach", "j.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}\n{}", client.logs());
    let jobs = nomad_at(d, &caddr, &["status"]);
    assert!(jobs.stdout.contains("j "), "{jobs:?}");
    let mut alloc = String::new();
    client.wait_for("a running allocation", 30, || {
        let r = nomad_at(d, &caddr, &["job", "allocs", "-json", "j"]);
        let allocs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        if let Some(id) = allocs.as_array().and_then(|l| {
            l.iter()
                .find(|a| a["ClientStatus"] == "running")
                .and_then(|a| a["ID"].as_str())
        }) {
            alloc = id.to_string();
        }
        !alloc.is_empty()
    });
    // Answered by the client itself, and by the server through the node's
    // HTTP address.
    let me = nomad_at(d, &caddr, &["node", "status", "-self"]);
    assert!(me.stdout.contains("Name            = remote"), "{me:?}");
    for addr in [&caddr, &server.addr] {
        let r = nomad_at(
            d,
            addr,
            &["alloc", "exec", &alloc, "sh", "-c", "echo hi; exit 5"],
        );
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (5, "hi\n"),
            "via {addr}: {r:?}"
        );
    }
    let stop = nomad_at(d, &caddr, &["job", "stop", "-detach", "j"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    client.wait_for("the job stopped", 30, || {
        let r = nomad_at(d, &server.addr, &["job", "allocs", "j"]);
        !r.stdout.contains("running")
    });
    assert_eq!(client.stop(), Some(0));
    assert_eq!(server.stop(), Some(0));
}
