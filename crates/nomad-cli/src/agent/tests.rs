//! The agent's flags and configuration files.

use super::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn dev_flags_and_config_file() {
    let c = parse(&args("-dev")).unwrap();
    assert!(c.server && c.client && c.dev);
    assert_eq!(c.bind_addr, "127.0.0.1");
    assert_eq!(c.bootstrap_expect, 1);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.hcl");
    std::fs::write(
        &f,
        "datacenter = \"east\"\nports { http = 5656 }\nserver {\n enabled = true\n bootstrap_expect = 1\n}\nplugin \"raw_exec\" {\n config { enabled = true }\n}\n",
    )
    .unwrap();
    let c = parse(&args(&format!(
        "-config {} -data-dir /tmp/x -node n1",
        f.display()
    )))
    .unwrap();
    assert_eq!(c.datacenter, "east");
    assert_eq!(c.http_port, 5656);
    assert!(c.server && !c.client);
    assert_eq!(c.name, "n1");
    assert_eq!(c.plugins["raw_exec"]["enabled"], serde_json::json!(true));
    assert!(parse(&args("-bogus")).unwrap_err().contains("-bogus"));
    assert!(parse(&args("-server"))
        .unwrap_err()
        .contains("data directory"));
}

/// `nomad agent -config PATH`.
fn parse_config(path: &str) -> Result<AgentConfig, String> {
    parse(&args(&format!("-config {path}")))
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let f = dir.path().join(name);
    std::fs::write(&f, text).unwrap();
    f.display().to_string()
}

#[test]
fn dev_keeps_its_defaults_for_joining() {
    let c = parse(&args("-dev")).unwrap();
    assert_eq!(
        (c.serf_port, c.retry_interval, c.retry_max),
        (4648, Duration::from_secs(30), 0)
    );
    assert!(c.retry_join.is_empty() && c.start_join.is_empty());
    assert_eq!(c, AgentConfig::dev());
    let c = parse(&args("-dev -retry-join 10.0.0.2")).unwrap();
    assert!(c.dev && c.server && c.client);
    assert_eq!(c.retry_join, ["10.0.0.2"]);
}

#[test]
fn server_join_block_and_serf_port() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "server.hcl",
        r#"
data_dir = "/tmp/nomad"
ports {
  serf = 5648
}
server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join     = ["10.0.0.1", "10.0.0.2:4648"]
    retry_interval = "15s"
    retry_max      = 3
  }
}
"#,
    );
    let c = parse_config(&f).unwrap();
    assert_eq!(c.serf_port, 5648);
    assert_eq!(c.bootstrap_expect, 3);
    assert_eq!(c.retry_join, ["10.0.0.1", "10.0.0.2:4648"]);
    assert_eq!(c.retry_interval, Duration::from_secs(15));
    assert_eq!(c.retry_max, 3);
    assert!(c.start_join.is_empty());

    // Flags fill the same block: a flag list replaces the file's.
    let c = parse(&args(&format!(
        "-config {f} -retry-join 10.0.0.7 -retry-join=10.0.0.8 -retry-interval 1m30s -retry-max 9 -bootstrap-expect 5"
    )))
    .unwrap();
    assert_eq!(c.retry_join, ["10.0.0.7", "10.0.0.8"]);
    assert_eq!(c.retry_interval, Duration::from_secs(90));
    assert_eq!(c.retry_max, 9);
    assert_eq!(c.bootstrap_expect, 5);

    // retry_join and start_join exclude each other in server_join.
    let e = parse(&args(&format!("-config {f} -join 10.0.0.9"))).unwrap_err();
    assert_eq!(e, "retry_join and start_join cannot both be defined");
}

#[test]
fn older_server_attributes_and_their_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "old.hcl",
        r#"
server {
  enabled        = true
  retry_join     = ["a.example"]
  start_join     = ["b.example"]
  retry_interval = "1m"
  retry_max      = 2
}
"#,
    );
    let c = parse(&args(&format!("-config {f} -data-dir /tmp/x"))).unwrap();
    assert_eq!(c.retry_join, ["a.example"]);
    assert_eq!(c.start_join, ["b.example"]);
    assert_eq!(c.retry_interval, Duration::from_secs(60));
    assert_eq!(c.retry_max, 2);

    // Several files add their older lists up; -join is start_join.
    let g = write(
        &dir,
        "more.hcl",
        "server {\n retry_join = [\"c.example\"]\n}\n",
    );
    let c = parse(&args(&format!("-config {f} -config {g} -data-dir /x"))).unwrap();
    assert_eq!(c.retry_join, ["a.example", "c.example"]);
    let h = write(&dir, "plain.hcl", "server {\n enabled = true\n}\n");
    let c = parse(&args(&format!(
        "-config {h} -data-dir /x -join s1 -join s2:4648"
    )))
    .unwrap();
    assert_eq!(c.start_join, ["s1", "s2:4648"]);

    // Mixing them with server_join is refused, in Nomad's words.
    let e = parse(&args(&format!("-config {f} -data-dir /x -retry-join z"))).unwrap_err();
    assert_eq!(
        e,
        "server_join and retry_join cannot both be defined; prefer setting the server_join block"
    );
    let e = parse(&args(&format!(
        "-config {h} -config {g} -data-dir /x -retry-join z"
    )))
    .unwrap_err();
    assert!(e.starts_with("server_join and retry_join"), "{e}");
}

#[test]
fn bad_join_settings_are_clear_errors() {
    assert_eq!(
        parse(&args("-dev -retry-join")).unwrap_err(),
        "flag needs an argument: -retry-join"
    );
    let e = parse(&args("-dev -retry-interval soon")).unwrap_err();
    assert!(
        e.starts_with("invalid -retry-interval: time: invalid duration"),
        "{e}"
    );
    assert!(parse(&args("-dev -retry-max -1"))
        .unwrap_err()
        .contains("-retry-max"));
    assert_eq!(
        parse(&args("-dev -retry-joins=x")).unwrap_err(),
        "flag provided but not defined: -retry-joins"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "bad.hcl",
        "server {\n server_join {\n retry_interval = \"often\"\n }\n}\n",
    );
    let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
    assert!(
        e.starts_with("Error loading configuration from ")
            && e.contains("server_join: retry_interval: time: invalid duration"),
        "{e}"
    );
    let f = write(&dir, "bad2.hcl", "server {\n retry_join = [1]\n}\n");
    let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
    assert!(
        e.contains("server: retry_join: expected a list of strings"),
        "{e}"
    );
    let f = write(&dir, "bad3.hcl", "ports {\n serf = 70000\n}\n");
    let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
    assert!(e.contains("ports.serf out of range"), "{e}");
}

#[test]
fn json_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "agent.json",
        r#"{
  "data_dir": "/tmp/nomad",
  "datacenter": "east",
  "ports": {"http": 5656, "serf": 4700},
  "server": {
    "enabled": true,
    "bootstrap_expect": 3,
    "server_join": [{"retry_join": ["10.0.0.1"], "retry_max": 4}]
  },
  "client": {"enabled": true, "meta": {"rack": "r1"}},
  "plugin": {"raw_exec": {"config": {"enabled": true}}}
}"#,
    );
    let c = parse_config(&f).unwrap();
    assert_eq!(c.datacenter, "east");
    assert_eq!((c.http_port, c.serf_port), (5656, 4700));
    assert!(c.server && c.client);
    assert_eq!(c.bootstrap_expect, 3);
    assert_eq!(c.retry_join, ["10.0.0.1"]);
    assert_eq!(c.retry_max, 4);
    assert_eq!(c.meta["rack"], "r1");
    assert_eq!(c.plugins["raw_exec"]["enabled"], serde_json::json!(true));
    let g = write(&dir, "broken.json", "{\"server\": ");
    let e = parse_config(&g).unwrap_err();
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn server_heartbeat_and_gc_settings() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "server.hcl",
        r#"
data_dir = "/tmp/nomad"
server {
  enabled           = true
  heartbeat_grace   = "2s"
  min_heartbeat_ttl = "500ms"
  raft_snapshot_threshold = 1000
  raft_snapshot_interval  = "30s"
  raft_trailing_logs      = 2000
  job_gc_threshold  = "1h"
  eval_gc_threshold = "30m"
}
"#,
    );
    let c = parse_config(&f).unwrap();
    assert_eq!(c.heartbeat_grace, Some(Duration::from_secs(2)));
    assert_eq!(c.min_heartbeat_ttl, Some(Duration::from_millis(500)));
    assert_eq!(c.raft_snapshot_threshold, Some(1000));
    assert_eq!(c.raft_snapshot_interval, Some(Duration::from_secs(30)));
    assert_eq!(c.raft_trailing_logs, Some(2000));
    assert_eq!(
        c.gc.get("job_gc_threshold"),
        Some(&Duration::from_secs(3600))
    );
    assert_eq!(
        c.gc.get("eval_gc_threshold"),
        Some(&Duration::from_secs(1800))
    );
    let bad = write(
        &dir,
        "bad.hcl",
        "data_dir = \"/tmp/nomad\"\nserver {\n  job_gc_threshold = \"soon\"\n}\n",
    );
    let e = parse_config(&bad).unwrap_err();
    assert!(e.contains("server.job_gc_threshold"), "{e}");
}

#[test]
fn event_buffer_size_and_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "server.hcl",
        "data_dir = \"/tmp/nomad\"\nserver {\n  enabled = true\n  event_buffer_size = 250\n}\n",
    );
    let c = parse_config(&f).unwrap();
    assert_eq!(c.event_buffer_size, Some(250));
    let c = parse(&args("-dev")).unwrap();
    assert_eq!(c.event_buffer_size, None);

    let bad = write(
        &dir,
        "bad.hcl",
        "data_dir = \"/tmp/nomad\"\nserver {\n  event_buffer_size = \"many\"\n}\n",
    );
    let e = parse_config(&bad).unwrap_err();
    assert!(e.contains("server.event_buffer_size"), "{e}");

    // A typo is an error at its position, not silently ignored.
    let typo = write(
        &dir,
        "typo.hcl",
        "server {\n  enabled = true\n  event_buffer = 5\n}\n",
    );
    let e = parse_config(&typo).unwrap_err();
    assert!(
        e.contains(&format!(
            "{typo}:3:3: unknown key \"event_buffer\" in the server block"
        )),
        "{e}"
    );
    let json = write(&dir, "typo.json", r#"{"server": {"enabeld": true}}"#);
    let e = parse_config(&json).unwrap_err();
    assert!(
        e.contains("unknown key \"enabeld\" in the server block; did you mean \"enabled\"?"),
        "{e}"
    );
}

#[test]
fn zero_raft_snapshot_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "server.hcl",
        "server {\n  enabled = true\n  raft_snapshot_threshold = 0\n}\n",
    );
    let e = parse_config(&f).unwrap_err();
    assert!(
        e.contains("server.raft_snapshot_threshold must be a positive number"),
        "{e}"
    );
}
