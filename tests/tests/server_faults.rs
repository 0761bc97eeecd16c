//! Three `nomad-server` processes on loopback, formed by `bootstrap_expect`
//! and `retry_join`, under a steady stream of job registrations:
//!
//! * `kill -9` the leader: every acknowledged write is on both survivors, and
//!   a new leader accepts writes (the time it took is printed);
//! * the killed server restarts on its data dir and catches up;
//! * all three are killed and restarted: the state is identical on every
//!   server (compared by a digest of every table of each server's snapshot).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nomad_api_client::{Client, Config, QueryOptions};
use nomad_e2e::{bin, free_port};

struct Srv {
    name: &'static str,
    http: u16,
    rpc: u16,
    child: Option<Child>,
}

impl Srv {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    fn start(&mut self, dir: &Path) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", self.name)))
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(bin("nomad-server"));
        cmd.args(["-config", &format!("{}.hcl", self.name)])
            .current_dir(dir)
            .stdout(out)
            .stderr(err);
        for (k, _) in std::env::vars() {
            if k.starts_with("NOMAD_") {
                cmd.env_remove(k);
            }
        }
        self.child = Some(cmd.spawn().expect("start nomad-server"));
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn logs(dir: &Path, servers: &[Srv]) -> String {
    servers
        .iter()
        .map(|s| {
            let text =
                std::fs::read_to_string(dir.join(format!("{}.log", s.name))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {} ---\n{}", s.name, tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn client(url: &str) -> Client {
    Client::new(Config {
        address: url.to_string(),
        ..Config::default()
    })
    .expect("client")
}

fn job(id: &str) -> nomad_types::Job {
    let text = format!(
        r#"{{"ID":"{id}","Name":"{id}","Type":"batch","Datacenters":["dc1"],
            "TaskGroups":[{{"Name":"g","Count":1,"Tasks":[{{"Name":"t","Driver":"raw_exec",
            "Config":{{"command":"/bin/true"}}}}]}}]}}"#
    );
    nomad_types::json::from_str(&text).expect("job json")
}

/// Index of the server whose RPC port is the leader's, asked of any server.
async fn leader(servers: &[Srv]) -> Option<usize> {
    for s in servers.iter().filter(|s| s.child.is_some()) {
        let c = client(&s.url());
        if let Ok(Ok(addr)) =
            tokio::time::timeout(Duration::from_secs(1), c.status_leader("")).await
        {
            if let Some(i) = servers
                .iter()
                .position(|x| addr.ends_with(&format!(":{}", x.rpc)) && x.child.is_some())
            {
                return Some(i);
            }
        }
    }
    None
}

async fn wait_for_cluster(servers: &[Srv], dir: &Path) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(i) = leader(servers).await {
            let c = client(&servers[i].url());
            if let Ok(cfg) = c.raft_configuration().await {
                if cfg.servers.len() == 3 {
                    return i;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no 3-server cluster formed\n{}",
            logs(dir, servers)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers `job-<n>` on the live servers in turn; returns the acknowledged ids.
async fn write(servers: &[Srv], n: usize) -> Option<String> {
    let id = format!("job-{n}");
    for s in servers.iter().filter(|s| s.child.is_some()) {
        let c = client(&s.url());
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            c.job_register(&nomad_types::api::JobRegisterRequest {
                job: Some(job(&id)),
                ..Default::default()
            }),
        )
        .await;
        if let Ok(Ok(_)) = r {
            return Some(id);
        }
    }
    None
}

async fn job_ids(url: &str) -> Option<BTreeSet<String>> {
    let c = client(url);
    let q = QueryOptions::default().param("stale", "true");
    let jobs = tokio::time::timeout(Duration::from_secs(5), c.jobs_list(&q))
        .await
        .ok()?
        .ok()?;
    Some(jobs.0.into_iter().map(|j| j.id).collect())
}

async fn digest(url: &str) -> Option<nomad_state::StateDigest> {
    let c = client(url);
    let (_, image) = tokio::time::timeout(Duration::from_secs(10), c.snapshot_save())
        .await
        .ok()?
        .ok()?;
    let mut store = nomad_state::StateStore::new(nomad_state::StoreConfig::default());
    store.restore_from(image.as_slice()).ok()?;
    Some(store.digest())
}

#[test]
fn kill_9_the_leader_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut servers: Vec<Srv> = ["a", "b", "c"]
        .into_iter()
        .map(|name| Srv {
            name,
            http: free_port(),
            rpc: free_port(),
            child: None,
        })
        .collect();
    let serf: Vec<u16> = servers.iter().map(|_| free_port()).collect();
    let join = serf
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    for (s, sp) in servers.iter().zip(&serf) {
        let hcl = format!(
            "name = \"{name}\"\ndata_dir = \"{dir}/{name}\"\nbind_addr = \"127.0.0.1\"\n\
             ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {sp}\n}}\n\
             server {{\n  enabled = true\n  bootstrap_expect = 3\n  \
             server_join {{\n    retry_join = [{join}]\n    retry_interval = \"1s\"\n  }}\n}}\n",
            name = s.name,
            dir = d.display(),
            http = s.http,
            rpc = s.rpc,
        );
        std::fs::write(d.join(format!("{}.hcl", s.name)), hcl).expect("config");
    }
    for s in &mut servers {
        s.start(d);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let li = wait_for_cluster(&servers, d).await;
        let mut acked = BTreeSet::new();
        let mut n = 0;
        // Steady writes, then kill -9 the leader mid-stream.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            n += 1;
            acked.extend(write(&servers, n).await);
        }
        assert!(
            acked.len() > 10,
            "too few writes acknowledged: {}",
            acked.len()
        );
        servers[li].kill9();
        let killed_at = Instant::now();
        let mut recovered = None;
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until
            && (recovered.is_none() || killed_at.elapsed() < Duration::from_secs(3))
        {
            n += 1;
            if let Some(id) = write(&servers, n).await {
                recovered.get_or_insert(killed_at.elapsed());
                acked.insert(id);
            }
        }
        let recovered = recovered.unwrap_or_else(|| {
            panic!(
                "no write accepted after the leader died\n{}",
                logs(d, &servers)
            )
        });
        eprintln!(
            "leader {} killed; writes accepted again after {} ms; {} writes acknowledged",
            servers[li].name,
            recovered.as_millis(),
            acked.len()
        );
        for s in servers.iter().filter(|s| s.child.is_some()) {
            let ids = job_ids(&s.url()).await.expect("list jobs");
            let missing: Vec<_> = acked.difference(&ids).collect();
            assert!(
                missing.is_empty(),
                "{} lost acknowledged writes: {missing:?}",
                s.name
            );
        }

        // The killed server comes back on its data dir.
        servers[li].start(d);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(ids) = job_ids(&servers[li].url()).await {
                if acked.is_subset(&ids) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "restarted server did not catch up\n{}",
                logs(d, &servers)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Kill all three, restart all three: same state everywhere.
        for s in &mut servers {
            s.kill9();
        }
        for s in &mut servers {
            s.start(d);
        }
        wait_for_cluster(&servers, d).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut ds = Vec::new();
            for s in &servers {
                ds.push(digest(&s.url()).await);
            }
            if ds.iter().all(|x| x.is_some()) && ds.windows(2).all(|w| w[0] == w[1]) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "servers disagree after a full restart: {ds:?}\n{}",
                logs(d, &servers)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for s in &servers {
            let ids = job_ids(&s.url()).await.expect("list jobs");
            assert!(
                acked.is_subset(&ids),
                "{} lost writes across the full restart",
                s.name
            );
        }
    });
}
