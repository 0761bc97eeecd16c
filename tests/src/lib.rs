//! Support for end-to-end tests: finding the built binaries and running them
//! the way a user would, in a scratch directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The path of a workspace binary (`nomad`, `nomad-server`, `nomad-client`).
///
/// Test executables live in `<target>/<profile>/deps/`, binaries one level
/// up; a harness binary sits beside them.
/// `scripts/test` builds the binaries before the tests run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot locate the test executable: {e}"));
    // A test runs from `<profile>/deps/`; a harness binary (benches/) from
    // `<profile>/` itself.
    let exe_dir = exe
        .parent()
        .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
    let profile_dir = if exe_dir.file_name().is_some_and(|n| n == "deps") {
        exe_dir.parent().unwrap_or(exe_dir)
    } else {
        exe_dir
    };
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `nomad <args>` in `dir` with a clean `NOMAD_*` environment.
pub fn nomad(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("nomad"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("NOMAD_") {
            cmd.env_remove(k);
        }
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run nomad: {e}"))
        .into()
}

/// Runs `nomad <args>` in `dir` against the agent at `addr` (`NOMAD_ADDR`).
pub fn nomad_at(dir: &Path, addr: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("nomad"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("NOMAD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NOMAD_ADDR", addr);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run nomad: {e}"))
        .into()
}

/// A free TCP port on 127.0.0.1 (bound and released), never one this
/// process was given before: the kernel may hand a released port out again
/// at once, and a cluster's servers each take three (an agent once got the
/// same port for its RPC and HTTP listeners and did not start).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<BTreeSet<u16>> = std::sync::Mutex::new(BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot find a free port: {e}"));
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.insert(port) {
            return port;
        }
    }
}

/// A `nomad agent -dev` running in the background on free ports; it is
/// interrupted (SIGINT, then killed) when dropped.
pub struct DevAgent {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// Where the agent's stdout and stderr go.
    pub log_dir: PathBuf,
    /// Base name of its log files.
    name: String,
}

impl DevAgent {
    /// Polls `f` every 250 ms until it holds; after `secs` seconds fails the
    /// test with `what` and the agent's output.
    pub fn wait_for(&self, what: &str, secs: u64, mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !f() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; agent log:\n{}",
                self.logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// Starts `nomad agent -dev` with its config and logs in `dir` and waits
    /// until its HTTP API answers (up to 20 s).
    pub fn start(dir: &Path) -> DevAgent {
        let port = free_port();
        let config = dir.join("agent.hcl");
        std::fs::write(
            &config,
            format!("ports {{\n  http = {port}\n  rpc  = 0\n}}\n"),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
        let config = config.to_string_lossy().into_owned();
        DevAgent::spawn(
            "nomad",
            &["agent", "-dev", "-config", &config],
            dir,
            "agent",
            Some(port),
        )
    }

    /// Starts binary `bin` with `args` in `dir`, logging to `<name>.out` and
    /// `<name>.err`; with `http_port`, waits until that port answers.
    pub fn spawn(
        bin_name: &str,
        args: &[&str],
        dir: &Path,
        name: &str,
        http_port: Option<u16>,
    ) -> DevAgent {
        let out = std::fs::File::create(dir.join(format!("{name}.out")))
            .unwrap_or_else(|e| panic!("{name}.out: {e}"));
        let err = std::fs::File::create(dir.join(format!("{name}.err")))
            .unwrap_or_else(|e| panic!("{name}.err: {e}"));
        let mut cmd = Command::new(bin(bin_name));
        cmd.args(args).current_dir(dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("NOMAD_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin_name}: {e}"));
        let agent = DevAgent {
            child,
            addr: http_port
                .map(|p| format!("http://127.0.0.1:{p}"))
                .unwrap_or_default(),
            log_dir: dir.to_path_buf(),
            name: name.to_string(),
        };
        if let Some(port) = http_port {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{bin_name} did not start; output:\n{}",
                    agent.logs()
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        agent
    }

    /// The base name of its log files (`agent`, `s1`, `c1`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The agent's stdout and stderr so far.
    pub fn logs(&self) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.log_dir.join(format!("{}.{ext}", self.name)))
                .unwrap_or_default()
        };
        format!("{}\n{}", read("out"), read("err"))
    }

    /// Sends `signal` (a name `kill` knows: `STOP`, `CONT`, ...) to the
    /// agent: SIGSTOP/SIGCONT make a client unreachable and bring it back
    /// with its tasks untouched, as a network partition would.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args([format!("-{signal}").as_str(), &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {pid} failed");
    }

    /// Kills the agent with SIGKILL (no shutdown at all) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Interrupts the agent and waits for it to exit (up to 10 s); its exit code.
    pub fn stop(mut self) -> Option<i32> {
        self.interrupt()
    }

    fn interrupt(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for DevAgent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.interrupt();
        }
    }
}

/// Polls `f` every 100 ms until it holds; after `secs` seconds panics with
/// `what` and `logs()`.
pub fn wait_until(what: &str, secs: u64, logs: impl Fn() -> String, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; logs:\n{}",
            logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A cluster on loopback: `nomad-server` processes `s1`, `s2`, … formed by
/// `bootstrap_expect` + `retry_join`, and `nomad-client` processes that
/// know every server's RPC address. Every process is interrupted when the
/// cluster is dropped.
pub struct Cluster {
    /// Clients first, so that they are stopped before the servers.
    pub clients: Vec<DevAgent>,
    pub servers: Vec<DevAgent>,
    /// The servers' RPC ports, in the order of `servers`.
    pub rpc_ports: Vec<u16>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts `servers` servers (`bootstrap_expect = servers`) in `dir`,
    /// each with its config `sN.hcl`, data dir `sN/` and logs `sN.out|err`.
    /// Returns once their HTTP ports answer; see [`Cluster::wait_formed`].
    pub fn start_servers(dir: &Path, servers: usize) -> Cluster {
        let ports: Vec<(u16, u16, u16)> = (0..servers)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let join = ports
            .iter()
            .map(|p| format!("\"127.0.0.1:{}\"", p.2))
            .collect::<Vec<_>>()
            .join(", ");
        let mut started = Vec::new();
        for (i, (http, rpc, serf)) in ports.iter().enumerate() {
            let name = format!("s{}", i + 1);
            let hcl = format!(
                "name = \"{name}\"\ndata_dir = \"{dir}/{name}\"\nbind_addr = \"127.0.0.1\"\n\
                 ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n\
                 server {{\n  enabled = true\n  bootstrap_expect = {servers}\n  \
                 server_join {{\n    retry_join = [{join}]\n    retry_interval = \"1s\"\n  }}\n}}\n",
                dir = dir.display(),
            );
            let config = format!("{name}.hcl");
            std::fs::write(dir.join(&config), hcl)
                .unwrap_or_else(|e| panic!("writing {config}: {e}"));
            started.push(DevAgent::spawn(
                "nomad-server",
                &["-config", &config],
                dir,
                &name,
                Some(*http),
            ));
        }
        Cluster {
            clients: Vec::new(),
            servers: started,
            rpc_ports: ports.iter().map(|p| p.1).collect(),
            dir: dir.to_path_buf(),
        }
    }

    /// Starts a `nomad-client` named `name` (config `<name>.hcl`, data dir
    /// `<name>/`, logs `<name>.out|err`) that knows every server.
    /// `client_block` goes inside its `client { }` block, `extra` after it
    /// (`plugin` blocks, say).
    pub fn add_client(&mut self, name: &str, client_block: &str, extra: &str) {
        let servers = self
            .rpc_ports
            .iter()
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let hcl = format!(
            "name = \"{name}\"\ndata_dir = \"{dir}/{name}\"\nbind_addr = \"127.0.0.1\"\n\
             ports {{\n  http = {http}\n}}\n\
             client {{\n  enabled = true\n  servers = [{servers}]\n{client_block}\n}}\n{extra}\n",
            dir = self.dir.display(),
            http = free_port(),
        );
        let config = format!("{name}.hcl");
        std::fs::write(self.dir.join(&config), hcl)
            .unwrap_or_else(|e| panic!("writing {config}: {e}"));
        self.clients.push(DevAgent::spawn(
            "nomad-client",
            &["-config", &config],
            &self.dir,
            name,
            None,
        ));
    }

    /// The HTTP address of server `i` (`http://127.0.0.1:PORT`).
    pub fn addr(&self, i: usize) -> &str {
        &self.servers[i].addr
    }

    /// `nomad server members` as (name, status, leader) rows, asked of server `i`.
    pub fn members(&self, i: usize) -> Vec<(String, String, bool)> {
        // Name  Address  Port  Status  Leader  Raft Version  Build  Datacenter  Region
        nomad_at(&self.dir, self.addr(i), &["server", "members"])
            .stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5).then(|| (f[0].to_string(), f[3].to_string(), f[4] == "true"))
            })
            .collect()
    }

    /// The index of the leader as server `i` sees it (from `server members`).
    pub fn leader_seen_by(&self, i: usize) -> Option<usize> {
        let name = self.members(i).into_iter().find(|m| m.2).map(|m| m.0)?;
        let short = name.split('.').next().unwrap_or_default();
        self.servers.iter().position(|s| s.name == short)
    }

    /// Waits until every server lists all servers alive and they agree on
    /// one leader; returns the leader's index.
    pub fn wait_formed(&self, secs: u64) -> usize {
        let mut leader = None;
        wait_until(
            "the servers to form a cluster",
            secs,
            || self.logs(),
            || {
                let seen: Vec<Option<usize>> = (0..self.servers.len())
                    .map(|i| {
                        let m = self.members(i);
                        let all_alive =
                            m.len() == self.servers.len() && m.iter().all(|x| x.1 == "alive");
                        if all_alive {
                            self.leader_seen_by(i)
                        } else {
                            None
                        }
                    })
                    .collect();
                leader = seen[0];
                leader.is_some() && seen.iter().all(|s| *s == leader)
            },
        );
        leader.unwrap_or_default()
    }

    /// Everything every process printed so far.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .chain(&self.clients)
            .map(|a| format!("--- {} ---\n{}", a.name, a.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::free_port;

    #[test]
    fn free_ports_are_never_given_twice() {
        // Enough picks that the kernel, which may hand a released port out
        // again at once, would repeat some.
        let mut ports: Vec<u16> = (0..2_000).map(|_| free_port()).collect();
        ports.sort_unstable();
        let n = ports.len();
        ports.dedup();
        assert_eq!(ports.len(), n, "a port was given twice");
    }
}
