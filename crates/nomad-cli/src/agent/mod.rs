//! `nomad agent`: the agent's flags and configuration files, and the hook
//! through which the binary composes the agent.
//!
//! This crate owns the agent's configuration (flags as Nomad spells them,
//! HCL files through `nomad-hcl`) but not its composition: the server,
//! client and HTTP API are built by the `nomad` binary, which registers an
//! [`AgentRunner`] with [`set_agent_runner`]. That keeps the CLI library free
//! of the server and driver crates.
//!
//! Split by concern: `flags` parses the command line, `config` reads
//! the HCL and JSON files, and `joins` reconciles the server join settings
//! that both can give.

mod config;
mod flags;
mod joins;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::Io;

pub use config::{apply_body, json_config};
pub use flags::parse;

/// Everything after `nomad agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Agent flags (`-dev`, `-config FILE`, `-server`, `-client`, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// The agent's configuration: flags over files over defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `-dev`.
    pub dev: bool,
    /// Region.
    pub region: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node (and server) name; empty: the hostname.
    pub name: String,
    /// Data directory; `None` in dev mode (a temporary directory).
    pub data_dir: Option<PathBuf>,
    /// Address every listener binds.
    pub bind_addr: String,
    /// HTTP port (4646).
    pub http_port: u16,
    /// RPC port (4647).
    pub rpc_port: u16,
    /// Serf (gossip) port, `ports { serf }` (4648): where `server join`
    /// and `retry_join` addresses without a port are contacted.
    pub serf_port: u16,
    /// Log level (`INFO`, `DEBUG` in dev mode).
    pub log_level: String,
    /// Run a server.
    pub server: bool,
    /// `server { bootstrap_expect }`, `-bootstrap-expect`.
    pub bootstrap_expect: usize,
    /// Servers to join at start, retrying until one answers:
    /// `server { server_join { retry_join } }`, the older
    /// `server { retry_join }`, or `-retry-join` (repeatable). Addresses are
    /// `host[:port]` (the Serf port by default).
    pub retry_join: Vec<String>,
    /// Time between join attempts: `server_join { retry_interval }`,
    /// `server { retry_interval }` or `-retry-interval` (a Go duration;
    /// default 30s).
    pub retry_interval: Duration,
    /// Join attempts before the agent gives up and exits:
    /// `server_join { retry_max }`, `server { retry_max }` or `-retry-max`;
    /// 0 retries forever.
    pub retry_max: usize,
    /// Servers to join once at start (the agent fails if none answers):
    /// `server_join { start_join }`, `server { start_join }` or `-join`
    /// (repeatable).
    pub start_join: Vec<String>,
    /// `server { num_schedulers }` (0: the CPU count).
    pub num_schedulers: usize,
    /// `server { event_buffer_size }`: events kept for
    /// `/v1/event/stream` (None: the default, 0: no events).
    pub event_buffer_size: Option<usize>,
    /// `server { heartbeat_grace }` (None: Nomad's 10s).
    pub heartbeat_grace: Option<Duration>,
    /// `server { min_heartbeat_ttl }` (None: Nomad's 10s).
    pub min_heartbeat_ttl: Option<Duration>,
    /// `server { raft_snapshot_threshold }` (None: Nomad's 8192).
    pub raft_snapshot_threshold: Option<u64>,
    /// `server { raft_snapshot_interval }` (None: Nomad's 120s).
    pub raft_snapshot_interval: Option<Duration>,
    /// `server { raft_trailing_logs }` (None: the Raft crate's default).
    pub raft_trailing_logs: Option<u64>,
    /// Garbage collection settings given in the `server` block, by Nomad's
    /// key (`eval_gc_threshold`, `batch_eval_gc_threshold`,
    /// `job_gc_threshold`, `job_gc_interval`, `node_gc_threshold`,
    /// `deployment_gc_threshold`).
    pub gc: BTreeMap<String, Duration>,
    /// Run a client.
    pub client: bool,
    /// `client { servers }`.
    pub servers: Vec<String>,
    /// `client { node_class }`.
    pub node_class: String,
    /// `client { meta }`.
    pub meta: BTreeMap<String, String>,
    /// `plugin "NAME" { config { … } }`, as JSON.
    pub plugins: BTreeMap<String, serde_json::Value>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            dev: false,
            region: "global".into(),
            datacenter: "dc1".into(),
            name: String::new(),
            data_dir: None,
            bind_addr: "0.0.0.0".into(),
            http_port: 4646,
            rpc_port: 4647,
            serf_port: 4648,
            log_level: "INFO".into(),
            server: false,
            bootstrap_expect: 0,
            retry_join: Vec::new(),
            retry_interval: DEFAULT_RETRY_INTERVAL,
            retry_max: 0,
            start_join: Vec::new(),
            num_schedulers: 0,
            event_buffer_size: None,
            heartbeat_grace: None,
            min_heartbeat_ttl: None,
            raft_snapshot_threshold: None,
            raft_snapshot_interval: None,
            raft_trailing_logs: None,
            gc: BTreeMap::new(),
            client: false,
            servers: Vec::new(),
            node_class: String::new(),
            meta: BTreeMap::new(),
            plugins: BTreeMap::new(),
        }
    }
}

/// `retry_interval` when none is set.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The garbage collection keys of the `server` block the agent reads.
pub const GC_KEYS: [&str; 6] = [
    "eval_gc_threshold",
    "batch_eval_gc_threshold",
    "job_gc_threshold",
    "job_gc_interval",
    "node_gc_threshold",
    "deployment_gc_threshold",
];

impl AgentConfig {
    /// Nomad's `-dev` configuration.
    pub fn dev() -> Self {
        let mut plugins = BTreeMap::new();
        plugins.insert("raw_exec".to_string(), serde_json::json!({"enabled": true}));
        AgentConfig {
            dev: true,
            bind_addr: "127.0.0.1".into(),
            log_level: "DEBUG".into(),
            server: true,
            bootstrap_expect: 1,
            client: true,
            plugins,
            ..AgentConfig::default()
        }
    }
}

/// Composes and runs an agent; returns the exit code.
pub type AgentRunner = fn(AgentConfig) -> i32;

static RUNNER: OnceLock<AgentRunner> = OnceLock::new();

/// Registers the function that runs an agent (the `nomad` binary does).
pub fn set_agent_runner(runner: AgentRunner) {
    let _ = RUNNER.set(runner);
}

/// `nomad agent …`.
pub fn run(args: AgentArgs, io: &mut Io<'_>) -> i32 {
    let config = match parse(&args.rest) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io.err, "==> Error: {e}");
            return 1;
        }
    };
    match RUNNER.get() {
        Some(r) => r(config),
        None => {
            let _ = writeln!(
                io.err,
                "nomad agent is not available in this build (no agent runner registered)"
            );
            1
        }
    }
}
