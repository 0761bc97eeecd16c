//! Artifacts through the real agent: a `.tar.gz` served over HTTP is
//! unpacked into the task's `local/` by the low-privilege helper process
//! (`nobody` when the agent runs as root), handed back to the agent's user,
//! and a hostile archive fails the task without writing outside it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use nomad_e2e::{free_port, nomad_at, DevAgent};

/// Serves the files of `root` by name (`GET /name`) on 127.0.0.1 until the
/// test ends.
fn serve_dir(root: &Path) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let name = req
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let (status, body) = match std::fs::read(root.join(&name)) {
                Ok(b) if !name.contains('/') => ("200 OK", b),
                _ => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn sh(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .expect("sh");
    assert!(st.success(), "{script}");
}

/// This process's effective uid (the agent runs as the same user).
fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

fn job(name: &str, url: &str, command: &str) -> String {
    format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      artifact {{
        source = "{url}"
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "{command}"]
      }}
    }}
  }}
}}
"#
    )
}

/// The allocation of `job` once it is terminal: (ID, client status).
fn finished_alloc(agent: &DevAgent, d: &Path, job: &str) -> (String, String) {
    let mut out = (String::new(), String::new());
    agent.wait_for(&format!("{job}'s allocation to finish"), 60, || {
        let r = nomad_at(d, &agent.addr, &["job", "allocs", "-json", job]);
        let allocs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let Some(a) = allocs.as_array().and_then(|l| l.first()) else {
            return false;
        };
        let status = a["ClientStatus"].as_str().unwrap_or("").to_string();
        if status == "complete" || status == "failed" {
            out = (a["ID"].as_str().unwrap_or("").to_string(), status);
            return true;
        }
        false
    });
    out
}

#[test]
fn artifacts_are_unpacked_by_the_low_privilege_helper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The archives: a good one, and one with an entry leaving the task dir.
    let files = d.join("files");
    std::fs::create_dir_all(files.join("src/site")).expect("mkdir");
    std::fs::write(files.join("src/site/hello.txt"), "hello from artifact\n").expect("write");
    sh(&files, "tar -czf site.tar.gz -C src site");
    std::fs::create_dir_all(files.join("evil/in")).expect("mkdir");
    std::fs::write(files.join("evil/x"), "x").expect("write");
    sh(&files.join("evil/in"), "tar -czPf ../../evil.tar.gz ../x");
    let base = serve_dir(&files);

    let port = free_port();
    std::fs::write(
        d.join("agent.hcl"),
        format!("log_level = \"DEBUG\"\nports {{\n  http = {port}\n  rpc = 0\n}}\n"),
    )
    .expect("agent.hcl");
    let agent = DevAgent::spawn(
        "nomad",
        &["agent", "-dev", "-config", "agent.hcl"],
        d,
        "agent",
        Some(port),
    );
    let addr = agent.addr.clone();
    agent.wait_for("a ready node", 30, || {
        nomad_at(d, &addr, &["node", "status"])
            .stdout
            .contains("ready")
    });

    // The good archive: unpacked into local/, owned by the agent's user.
    std::fs::write(
        d.join("good.nomad.hcl"),
        job(
            "art-good",
            &format!("{base}/site.tar.gz"),
            "cat local/site/hello.txt; stat -c owner=%u local/site/hello.txt local/site; ls -a tmp",
        ),
    )
    .expect("job");
    let run = nomad_at(d, &addr, &["job", "run", "-detach", "good.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (alloc, status) = finished_alloc(&agent, d, "art-good");
    let logs = nomad_at(d, &addr, &["alloc", "logs", &alloc, "t"]);
    assert_eq!(status, "complete", "{logs:?}\n{}", agent.logs());
    assert!(logs.stdout.starts_with("hello from artifact\n"), "{logs:?}");
    // `alloc fs`: the task's directory listed, the file printed and stated.
    let ls = nomad_at(d, &addr, &["alloc", "fs", &alloc, "t/local/site"]);
    assert_eq!(ls.code, 0, "{ls:?}");
    assert!(ls.stdout.starts_with("Mode "), "{ls:?}");
    assert!(
        ls.stdout.contains("Modified Time") && ls.stdout.contains(" hello.txt\n"),
        "{ls:?}"
    );
    let cat = nomad_at(d, &addr, &["alloc", "fs", &alloc, "t/local/site/hello.txt"]);
    assert_eq!(
        (cat.code, cat.stdout.as_str()),
        (0, "hello from artifact\n"),
        "{cat:?}"
    );
    let stat = nomad_at(
        d,
        &addr,
        &[
            "alloc",
            "fs",
            "-stat",
            "-H",
            &alloc,
            "t/local/site/hello.txt",
        ],
    );
    let row = stat.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        row.starts_with("-rw") && row.split_whitespace().nth(1) == Some("20"),
        "{stat:?}"
    );
    let missing = nomad_at(d, &addr, &["alloc", "fs", &alloc, "t/nope"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing.stderr.starts_with("Error stating file: "),
        "{missing:?}"
    );
    let me = euid();
    assert_eq!(
        logs.stdout.matches(&format!("owner={me}\n")).count(),
        2,
        "the unpacked files belong to the agent's user: {logs:?}"
    );
    assert!(
        !logs.stdout.contains(".artifact-stage"),
        "the staging directory is removed: {logs:?}"
    );
    // The helper ran as nobody (as the agent's own user when not root).
    let child_uid = if me == 0 { 65534 } else { me };
    let log = agent.logs();
    let line = log
        .lines()
        .find(|l| l.contains("artifact unpacked by the helper process"))
        .unwrap_or_else(|| panic!("no helper log line:\n{log}"));
    assert!(line.contains(&format!("uid={child_uid} ")), "{line}");
    assert!(
        line.contains(&alloc),
        "the line names the allocation: {line}"
    );

    // The hostile archive fails the task; nothing lands outside it.
    std::fs::write(
        d.join("evil.nomad.hcl"),
        job("art-evil", &format!("{base}/evil.tar.gz"), "true"),
    )
    .expect("job");
    let run = nomad_at(d, &addr, &["job", "run", "-detach", "evil.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (alloc, status) = finished_alloc(&agent, d, "art-evil");
    assert_eq!(status, "failed");
    let st = nomad_at(d, &addr, &["alloc", "status", &alloc]);
    assert!(
        st.stdout.contains("escapes the task directory"),
        "{st:?}\n{}",
        agent.logs()
    );
    assert_eq!(agent.stop(), Some(0));
}
