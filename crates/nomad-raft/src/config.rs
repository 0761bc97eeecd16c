//! Node configuration.

use std::time::Duration;

use crate::error::RaftError;

/// Configuration of one Raft node.
///
/// The defaults (50 ms tick, election after 10–20 ticks, heartbeat every 2 ticks) replace a
/// killed leader in about 0.5–1.1 s.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's id; must not be 0 and must be unique in the cluster.
    pub id: u64,
    /// Cluster (region) name recorded in the data directory and checked by the transport
    /// handshake. Empty means "do not check".
    pub cluster_id: String,
    /// The logical clock period.
    pub tick_interval: Duration,
    /// Ticks without hearing from a leader before a follower campaigns (randomised in
    /// `[election_ticks, 2 * election_ticks)`).
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// At most this many queued requests/messages are taken into one Ready (one disk sync).
    pub max_batch: usize,
    /// Take an FSM snapshot and compact the log when, at a snapshot check (see
    /// `snapshot_interval`), at least this many entries were applied since the last snapshot.
    pub snapshot_threshold: u64,
    /// How often a snapshot is considered (hashicorp/raft's `SnapshotInterval`, Nomad's
    /// `raft_snapshot_interval`): each check comes after this interval plus a random jitter of
    /// up to the interval, so servers do not snapshot in step. Snapshots a follower needs are
    /// taken at once, whatever the interval.
    pub snapshot_interval: Duration,
    /// Entries kept in the log behind a snapshot so that slightly lagging followers catch up
    /// from the log instead of a snapshot.
    pub trailing_logs: u64,
    /// How long a proposal, read or membership change may wait before it fails with
    /// [`RaftError::Timeout`].
    pub request_timeout: Duration,
    /// Forward proposals and reads made at a follower to the leader over the Raft transport
    /// (otherwise they fail with [`RaftError::NotLeader`]).
    pub forward_proposals: bool,
    /// Pre-vote (Raft thesis 9.6): a partitioned node rejoining does not disrupt the leader.
    pub pre_vote: bool,
    /// The leader steps down when it has not heard from a quorum for an election timeout.
    pub check_quorum: bool,
    /// Maximum bytes of entries in one append message.
    pub max_size_per_msg: u64,
    /// Maximum in-flight append messages per follower.
    pub max_inflight_msgs: usize,
    /// Seed for election-timeout randomisation and request ids; `None` = from the clock.
    pub seed: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            id: 0,
            cluster_id: String::new(),
            tick_interval: Duration::from_millis(50),
            election_ticks: 10,
            heartbeat_ticks: 2,
            max_batch: 4096,
            snapshot_threshold: 8192,
            snapshot_interval: Duration::from_secs(120),
            trailing_logs: 1024,
            request_timeout: Duration::from_secs(10),
            forward_proposals: true,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            seed: None,
        }
    }
}

impl Config {
    /// A default configuration for node `id`.
    pub fn new(id: u64) -> Self {
        Config {
            id,
            ..Config::default()
        }
    }

    /// Checks the values; returns every problem found in one error.
    pub fn validate(&self) -> Result<(), RaftError> {
        let mut problems = Vec::new();
        if self.id == 0 {
            problems.push("id must not be 0".to_string());
        }
        if self.tick_interval.is_zero() {
            problems.push("tick_interval must be > 0".to_string());
        }
        if self.heartbeat_ticks == 0 {
            problems.push("heartbeat_ticks must be > 0".to_string());
        }
        if self.election_ticks <= self.heartbeat_ticks {
            problems.push(format!(
                "election_ticks ({}) must be greater than heartbeat_ticks ({})",
                self.election_ticks, self.heartbeat_ticks
            ));
        }
        if self.max_batch == 0 {
            problems.push("max_batch must be > 0".to_string());
        }
        if self.snapshot_threshold == 0 {
            problems.push("snapshot_threshold must be > 0".to_string());
        }
        if self.snapshot_interval.is_zero() {
            problems.push("snapshot_interval must be > 0".to_string());
        }
        if self.max_inflight_msgs == 0 {
            problems.push("max_inflight_msgs must be > 0".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RaftError::Config(problems.join("; ")))
        }
    }

    /// The request timeout in ticks (at least one).
    pub(crate) fn request_timeout_ticks(&self) -> u64 {
        let t = self.request_timeout.as_nanos() / self.tick_interval.as_nanos().max(1);
        (t as u64).max(1)
    }

    /// The snapshot interval in ticks (at least one, rounded up).
    pub(crate) fn snapshot_interval_ticks(&self) -> u64 {
        let tick = self.tick_interval.as_nanos().max(1);
        (self.snapshot_interval.as_nanos().div_ceil(tick) as u64).max(1)
    }

    pub(crate) fn to_raft(&self, applied: u64) -> raft::Config {
        raft::Config {
            id: self.id,
            election_tick: self.election_ticks,
            heartbeat_tick: self.heartbeat_ticks,
            applied,
            max_size_per_msg: self.max_size_per_msg,
            max_inflight_msgs: self.max_inflight_msgs,
            check_quorum: self.check_quorum,
            pre_vote: self.pre_vote,
            // raft-rs 0.7's batch_append can merge entries into an empty MsgAppend whose
            // index does not precede them; a follower then acknowledges entries it does not
            // have. Proposals are batched into one MsgPropose per Ready instead.
            batch_append: false,
            read_only_option: raft::ReadOnlyOption::Safe,
            ..raft::Config::default()
        }
    }
}
