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
    // Nomad's port layout (HTTP below RPC, as 4646 and 4647); the next
    // test moves the HTTP port elsewhere.
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

/// `GET path` on `addr` (`http://host:port`); the status code and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = addr.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// The job IDs of a `/v1/jobs` answer.
fn job_ids(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let mut ids: Vec<String> = v
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|j| j["ID"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The server's HTTP port is nowhere near its RPC port: the client-only
/// agent learns the address the server publishes, and follows it when the
/// server comes back on another HTTP port.
#[test]
fn a_client_only_agent_forwards_to_the_http_address_its_server_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (rpc, serf, chttp) = (free_port(), free_port(), free_port());
    let mut http = free_port();
    while http == rpc - 1 || http == 4646 {
        http = free_port();
    }
    let server_hcl = |http: u16| {
        format!(
            "data_dir = \"{}/s\"\nbind_addr = \"127.0.0.1\"\nports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\nserver {{\n  enabled = true\n  bootstrap_expect = 1\n}}\n",
            d.display()
        )
    };
    let client_hcl = format!(
        "data_dir = \"{}/c\"\nbind_addr = \"127.0.0.1\"\nname = \"remote\"\nports {{\n  http = {chttp}\n}}\nclient {{\n  enabled = true\n  servers = [\"127.0.0.1:{rpc}\"]\n}}\nplugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\n",
        d.display()
    );
    std::fs::write(d.join("server.hcl"), server_hcl(http)).expect("server.hcl");
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
        d.join("fwd.nomad.hcl"),
        "job \"fwd-ports\" {\n  datacenters = [\"dc1\"]\n  type = \"batch\"\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n",
    )
    .expect("job");
    let run = nomad_at(d, &caddr, &["job", "run", "-detach", "fwd.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}\n{}", client.logs());
    // `/v1/jobs` through the client is the server's answer.
    let (code, body) = http_get(&caddr, "/v1/jobs");
    assert_eq!(code, 200, "{body}\n{}", client.logs());
    assert_eq!(job_ids(&body), vec!["fwd-ports".to_string()], "{body}");
    assert_eq!(
        job_ids(&http_get(&server.addr, "/v1/jobs").1),
        job_ids(&body)
    );
    assert!(
        client.logs().contains(&format!("\"127.0.0.1:{http}\"")),
        "the client should name the server's HTTP address:\n{}",
        client.logs()
    );

    // The server comes back with the same RPC port and another HTTP port.
    assert_eq!(server.stop(), Some(0));
    let mut http2 = free_port();
    while http2 == http || http2 == rpc - 1 || http2 == 4646 {
        http2 = free_port();
    }
    std::fs::write(d.join("server.hcl"), server_hcl(http2)).expect("server.hcl");
    let server = DevAgent::spawn(
        "nomad-server",
        &["-config", "server.hcl"],
        d,
        "server2",
        Some(http2),
    );
    client.wait_for("/v1/jobs forwarded to the new HTTP port", 40, || {
        let (code, body) = http_get(&caddr, "/v1/jobs");
        code == 200 && job_ids(&body) == vec!["fwd-ports".to_string()]
    });
    assert!(
        client.logs().contains(&format!("\"127.0.0.1:{http2}\"")),
        "{}",
        client.logs()
    );
    assert_eq!(client.stop(), Some(0));
    assert_eq!(server.stop(), Some(0));
}
