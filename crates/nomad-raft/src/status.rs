//! Snapshot of a node's Raft state, for API headers (`X-Nomad-KnownLeader`,
//! `X-Nomad-LastContact`), operator commands and tests.

use std::collections::BTreeMap;
use std::time::Duration;

/// The node's role in the current term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Following a leader (or waiting for one).
    #[default]
    Follower,
    /// Running a pre-vote.
    PreCandidate,
    /// Running an election.
    Candidate,
    /// The leader.
    Leader,
}

impl From<raft::StateRole> for Role {
    fn from(r: raft::StateRole) -> Self {
        match r {
            raft::StateRole::Follower => Role::Follower,
            raft::StateRole::PreCandidate => Role::PreCandidate,
            raft::StateRole::Candidate => Role::Candidate,
            raft::StateRole::Leader => Role::Leader,
        }
    }
}

/// A point-in-time view of one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RaftStatus {
    /// This node's id.
    pub id: u64,
    /// Role in the current term.
    pub role: Role,
    /// The leader this node knows of.
    pub leader_id: Option<u64>,
    /// The known leader's Raft address.
    pub leader_address: Option<String>,
    /// Current term.
    pub term: u64,
    /// Highest index known to be committed.
    pub commit: u64,
    /// Highest index applied to the local state machine.
    pub applied: u64,
    /// First index still in the log.
    pub first_index: u64,
    /// Last index in the log.
    pub last_index: u64,
    /// Index of the latest stored snapshot.
    pub snapshot_index: u64,
    /// Time since this node last heard from the leader: zero on the leader, `None` when it
    /// has never heard from one. Granularity is one tick.
    pub last_contact: Option<Duration>,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members.
    pub learners: Vec<u64>,
    /// Known Raft addresses of members.
    pub peers: BTreeMap<u64, String>,
    /// Whether the node has Raft state (was bootstrapped or joined a cluster).
    pub initialized: bool,
    /// Snapshots received from a leader and installed.
    pub snapshots_installed: u64,
    /// Snapshots taken locally (log compactions).
    pub snapshots_taken: u64,
}

impl RaftStatus {
    /// True when a leader is known (Nomad's `X-Nomad-KnownLeader`).
    pub fn known_leader(&self) -> bool {
        self.leader_id.is_some()
    }

    /// True when this node is the leader.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}

/// Nomad's wording for a single-server cluster (bootstrap_expect = 1).
pub const SINGLE_SERVER_WARNING: &str =
    "WARNING: Bootstrap mode enabled! Potentially unsafe operation. \
     This cluster has a single server: it does not provide any fault tolerance, and data loss is \
     inevitable if this server fails";
