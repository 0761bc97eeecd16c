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
