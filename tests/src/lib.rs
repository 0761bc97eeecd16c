//! Support for end-to-end tests: finding the built binaries and running them
//! the way a user would, in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The path of a workspace binary (`nomad`, `nomad-server`, `nomad-client`).
///
/// Test executables live in `<target>/<profile>/deps/`; binaries one level up.
/// `scripts/test` builds the binaries before the tests run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot locate the test executable: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
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

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
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

    /// The agent's stdout and stderr so far.
    pub fn logs(&self) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.log_dir.join(format!("{}.{ext}", self.name)))
                .unwrap_or_default()
        };
        format!("{}\n{}", read("out"), read("err"))
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
