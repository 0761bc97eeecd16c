//! Server configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one server (Nomad's `server` block plus what the agent adds).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Region (`global`).
    pub region: String,
    /// Datacenter (`dc1`).
    pub datacenter: String,
    /// Server name (hostname by default).
    pub node_name: String,
    /// Data directory; Raft lives in `<data_dir>/server/raft`. `None`: a
    /// temporary directory removed at shutdown (dev mode).
    pub data_dir: Option<PathBuf>,
    /// Raft id of this server. 0: the id recorded in the data directory, or
    /// a new random one for a new data directory (1 in dev mode).
    pub raft_id: u64,
    /// The RPC listener (Nomad's port 4647): client RPCs, server RPCs and
    /// Raft share it. Port 0 picks one.
    pub rpc_bind: SocketAddr,
    /// The serf listener (Nomad's port 4648): where `server join` and
    /// `retry_join` addresses point. Port 0 picks one.
    pub serf_bind: SocketAddr,
    /// The address announced to other servers when `rpc_bind`/`serf_bind`
    /// is a wildcard (`0.0.0.0`); loopback by default.
    pub advertise_ip: Option<std::net::IpAddr>,
    /// Servers expected before bootstrapping; 1 elects itself at once.
    pub bootstrap_expect: usize,
    /// Servers to join once at start (`server { start_join = [...] }`).
    pub start_join: Vec<String>,
    /// Servers to join, retried until one answers (`server_join { retry_join }`).
    pub retry_join: Vec<String>,
    /// Time between join attempts (30s).
    pub retry_interval: Duration,
    /// Join attempts before giving up; 0 = forever.
    pub retry_max: u32,
    /// Scheduler workers (Nomad's `num_schedulers`; default: the CPU count).
    pub num_schedulers: usize,
    /// Scheduler types the workers take.
    pub enabled_schedulers: Vec<String>,
    /// Lowest heartbeat TTL handed to clients (10s).
    pub min_heartbeat_ttl: Duration,
    /// Heartbeats per second the TTL is scaled for (50).
    pub max_heartbeats_per_second: f64,
    /// Extra time past the TTL before a node is marked down (10s).
    pub heartbeat_grace: Duration,
    /// TTL every known node gets after a leader change (5m).
    pub failover_heartbeat_ttl: Duration,
    /// Raft snapshot settings (`raft_snapshot_threshold`,
    /// `raft_snapshot_interval`, `raft_trailing_logs`); `None` keeps
    /// nomad-raft's defaults, which are Nomad's.
    pub raft_snapshot_threshold: Option<u64>,
    /// See `raft_snapshot_threshold`.
    pub raft_snapshot_interval: Option<Duration>,
    /// See `raft_snapshot_threshold`.
    pub raft_trailing_logs: Option<u64>,
    /// How long a dequeued evaluation may stay unacknowledged (60s).
    pub eval_nack_timeout: Duration,
    /// Deliveries of one evaluation before it is failed (3).
    pub eval_delivery_limit: u32,
    /// Garbage collection: ages and intervals (see [`GcConfig`]).
    pub gc: GcConfig,
    /// The plan applier's tracker of nodes whose plans keep being rejected
    /// (`server { plan_rejection_tracker { ... } }`).
    pub plan_rejection: crate::bad_nodes::PlanRejectionConfig,
    /// Events kept for `/v1/event/stream` (`server { event_buffer_size }`;
    /// `None`: the state store's default, 0: no events).
    pub event_buffer_size: Option<usize>,
}

/// Garbage collection settings (Nomad's `server` block keys of the same
/// names; the intervals other than `job_gc_interval` are not agent keys in
/// Nomad, only server settings). An object is collected once it has been
/// terminal for longer than its threshold; `system gc` ignores the
/// thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcConfig {
    /// Terminal evaluations (and their allocations) of non-batch jobs
    /// (`eval_gc_threshold`, 1h).
    pub eval_gc_threshold: Duration,
    /// Terminal evaluations of batch jobs (`batch_eval_gc_threshold`, 24h).
    pub batch_eval_gc_threshold: Duration,
    /// Stopped or dead jobs (`job_gc_threshold`, 4h).
    pub job_gc_threshold: Duration,
    /// Down nodes (`node_gc_threshold`, 24h).
    pub node_gc_threshold: Duration,
    /// Terminal deployments (`deployment_gc_threshold`, 1h).
    pub deployment_gc_threshold: Duration,
    /// How often evaluations are collected (5m).
    pub eval_gc_interval: Duration,
    /// How often jobs are collected (`job_gc_interval`, 5m).
    pub job_gc_interval: Duration,
    /// How often nodes are collected (5m).
    pub node_gc_interval: Duration,
    /// How often deployments are collected (5m).
    pub deployment_gc_interval: Duration,
    /// How often evaluations blocked after running out of plan attempts
    /// are retried (1m, Nomad's `failedEvalUnblockInterval`).
    pub failed_eval_unblock_interval: Duration,
}

impl Default for GcConfig {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 60 * MIN;
        GcConfig {
            eval_gc_threshold: Duration::from_secs(HOUR),
            batch_eval_gc_threshold: Duration::from_secs(24 * HOUR),
            job_gc_threshold: Duration::from_secs(4 * HOUR),
            node_gc_threshold: Duration::from_secs(24 * HOUR),
            deployment_gc_threshold: Duration::from_secs(HOUR),
            eval_gc_interval: Duration::from_secs(5 * MIN),
            job_gc_interval: Duration::from_secs(5 * MIN),
            node_gc_interval: Duration::from_secs(5 * MIN),
            deployment_gc_interval: Duration::from_secs(5 * MIN),
            failed_eval_unblock_interval: Duration::from_secs(MIN),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            region: "global".into(),
            datacenter: "dc1".into(),
            node_name: "nomad-server".into(),
            data_dir: None,
            raft_id: 0,
            rpc_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            serf_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_ip: None,
            bootstrap_expect: 1,
            start_join: Vec::new(),
            retry_join: Vec::new(),
            retry_interval: Duration::from_secs(30),
            retry_max: 0,
            num_schedulers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            enabled_schedulers: vec![
                "service".into(),
                "batch".into(),
                "system".into(),
                "sysbatch".into(),
            ],
            min_heartbeat_ttl: Duration::from_secs(10),
            max_heartbeats_per_second: 50.0,
            heartbeat_grace: Duration::from_secs(10),
            failover_heartbeat_ttl: Duration::from_secs(300),
            raft_snapshot_threshold: None,
            raft_snapshot_interval: None,
            raft_trailing_logs: None,
            eval_nack_timeout: Duration::from_secs(60),
            eval_delivery_limit: 3,
            gc: GcConfig::default(),
            plan_rejection: Default::default(),
            event_buffer_size: None,
        }
    }
}

impl ServerConfig {
    /// Nomad's `-dev` server: in a temporary directory, bootstrap_expect 1.
    pub fn dev() -> Self {
        ServerConfig::default()
    }
}
