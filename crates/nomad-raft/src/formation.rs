//! Cluster formation as Nomad does it.
//!
//! * `bootstrap_expect = 1`: the server bootstraps alone at once and elects itself; a
//!   single-server cluster has no fault tolerance, and the node logs
//!   [`SINGLE_SERVER_WARNING`](crate::SINGLE_SERVER_WARNING).
//! * `bootstrap_expect = N > 1`: servers start without Raft state and learn of each other
//!   (the server layer's join); once N servers are known, the cluster is bootstrapped with all
//!   N as voters. Bootstrapping on every server with the same list is safe (they all write the
//!   same initial state); servers that do not bootstrap receive it from the leader.
//! * `bootstrap_expect = 0`: never bootstrap; join an existing cluster through the leader's
//!   [`add_voter`](crate::RaftHandle::add_voter).

use std::collections::BTreeMap;

/// Tracks known servers until `bootstrap_expect` of them are known.
#[derive(Debug, Clone)]
pub struct BootstrapExpect {
    expect: usize,
    servers: BTreeMap<u64, String>,
    fired: bool,
}

impl BootstrapExpect {
    /// `expect` servers are required; this server (`id` at `addr`) is the first known one.
    pub fn new(expect: usize, id: u64, addr: impl Into<String>) -> Self {
        let mut servers = BTreeMap::new();
        servers.insert(id, addr.into());
        BootstrapExpect {
            expect,
            servers,
            fired: false,
        }
    }

    /// Records a server that joined. Returns the voter list exactly once: when the expected
    /// number of servers is first known.
    pub fn join(&mut self, id: u64, addr: impl Into<String>) -> Option<Vec<(u64, String)>> {
        self.servers.insert(id, addr.into());
        self.ready()
    }

    /// The voter list if enough servers are known and it was not handed out yet (with
    /// `expect == 1`, immediately).
    pub fn ready(&mut self) -> Option<Vec<(u64, String)>> {
        if self.fired || self.expect == 0 || self.servers.len() < self.expect {
            return None;
        }
        self.fired = true;
        Some(self.servers.iter().map(|(i, a)| (*i, a.clone())).collect())
    }

    /// Servers known so far.
    pub fn known(&self) -> usize {
        self.servers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_at_expect() {
        let mut b = BootstrapExpect::new(3, 1, "a");
        assert!(b.ready().is_none());
        assert!(b.join(2, "b").is_none());
        assert!(b.join(2, "b").is_none());
        let v = b.join(3, "c").unwrap();
        assert_eq!(v.len(), 3);
        assert!(b.join(4, "d").is_none());
        let mut one = BootstrapExpect::new(1, 1, "a");
        assert_eq!(one.ready().unwrap(), vec![(1, "a".to_string())]);
        let mut zero = BootstrapExpect::new(0, 1, "a");
        assert!(zero.join(2, "b").is_none());
    }
}
