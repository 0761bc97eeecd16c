//! The seed's first promise: `nomad agent -dev` runs a Docker job. A real
//! container from the locally built test image (no registry here) serves
//! HTTP on a dynamic port; `alloc logs` shows its output; `job stop`
//! removes the container.

use std::time::Duration;

use nomad_driver_docker::testing::{docker_or_skip, ensure_test_image, ContainerSweep, TEST_IMAGE};
use nomad_e2e::{nomad_at, DevAgent};

fn job() -> String {
    format!(
        r#"
job "web" {{
  datacenters = ["dc1"]
  group "web" {{
    network {{
      port "http" {{}}
    }}
    task "e2e-httpd" {{
      driver = "docker"
      config {{
        image   = "{TEST_IMAGE}"
        command = "/bin/sh"
        args    = ["-c", "echo serving on $NOMAD_PORT_http; mkdir -p /www; echo hello-from-docker > /www/index.html; exec httpd -f -p $NOMAD_PORT_http -h /www"]
        ports   = ["http"]
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

fn containers_of(alloc_prefix: &str) -> usize {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("name={alloc_prefix}")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn dev_agent_runs_a_docker_job() {
    if !docker_or_skip("dev_agent_runs_a_docker_job") {
        return;
    }
    ensure_test_image().expect("test image");
    // Containers outlive an agent that stops (as in Nomad); remove this
    // test's whatever happens.
    let _sweep = ContainerSweep::new("e2e-httpd-");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let agent = DevAgent::start(d);
    let addr = agent.addr.clone();

    // The node fingerprints docker as healthy.
    agent.wait_for("docker detected on the node", 60, || {
        let list = nomad_at(d, &addr, &["node", "status"]);
        let Some(id) = list
            .stdout
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
        else {
            return false;
        };
        let r = nomad_at(d, &addr, &["node", "status", "-verbose", id]);
        r.stdout
            .lines()
            .any(|l| l.starts_with("driver.docker ") && l.trim_end().ends_with("= 1"))
    });

    std::fs::write(d.join("web.nomad.hcl"), job()).expect("job file");
    let run = nomad_at(d, &addr, &["job", "run", "-detach", "web.nomad.hcl"]);
    assert_eq!(run.code, 0, "job run: {run:?}\n{}", agent.logs());

    let mut alloc = String::new();
    agent.wait_for("the docker allocation running", 60, || {
        let r = nomad_at(d, &addr, &["job", "status", "web"]);
        match r
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("Allocations"))
            .find(|l| l.contains("running"))
        {
            Some(l) => {
                alloc = l.split_whitespace().next().unwrap_or_default().to_string();
                true
            }
            None => false,
        }
    });

    // The port Nomad picked is where the container answers.
    let st = nomad_at(d, &addr, &["alloc", "status", &alloc]);
    assert_eq!(st.code, 0, "{st:?}");
    // "Allocation Addresses": `*http  yes  IP:PORT`, on the node's address.
    let target: std::net::SocketAddr = st
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("*http"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no http address in alloc status:\n{}", st.stdout));
    let port = target.port();
    let mut body = String::new();
    agent.wait_for("the container's HTTP answer", 60, || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(2))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").is_err() {
            return false;
        }
        body.clear();
        let _ = s.read_to_string(&mut body);
        body.contains("hello-from-docker")
    });

    let logs = nomad_at(d, &addr, &["alloc", "logs", &alloc, "e2e-httpd"]);
    assert!(
        logs.stdout.contains(&format!("serving on {port}")),
        "alloc logs: {logs:?}"
    );

    let stop = nomad_at(d, &addr, &["job", "stop", "-detach", "web"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    agent.wait_for("the container removed", 60, || containers_of(&alloc) == 0);
    drop(agent);
}
