//! The in-memory cluster's servers: itself (the leader) and the servers
//! `agent_join` has "contacted". Joined servers are alive voters until
//! `agent_force_leave` marks them `left` (and drops them from the Raft
//! configuration) or `raft_remove_peer` drops them from the configuration.
//! Nothing is contacted: an address joins unless it is malformed or was
//! marked unreachable with [`super::InMemoryCluster::set_unreachable`].

use std::collections::BTreeSet;

use nomad_types::api::{AgentMember, RaftServer};

use super::VERSION;
use crate::cluster::ClusterError;

/// The default Serf port of a join address without one.
pub(super) const SERF_PORT: u16 = 4648;
/// The RPC (and Raft) port every in-memory server reports.
pub(super) const RPC_PORT: u16 = 4647;

/// One server as the in-memory cluster knows it.
#[derive(Debug, Clone)]
pub(super) struct TestServer {
    /// `<name>.<region>`.
    pub name: String,
    /// Gossip host.
    pub host: String,
    /// Gossip port.
    pub serf_port: u16,
    /// Raft server ID.
    pub id: String,
    /// `alive` or `left`.
    pub status: String,
    /// Whether it is in the Raft configuration.
    pub in_raft: bool,
    /// Whether it is the leader (only the cluster itself).
    pub leader: bool,
}

impl TestServer {
    /// The Raft (RPC) address, `host:4647`.
    pub fn raft_address(&self) -> String {
        join_host_port(&self.host, RPC_PORT)
    }
}

/// The servers, the cluster's own first.
#[derive(Debug, Default)]
pub(super) struct Servers {
    pub list: Vec<TestServer>,
    /// `host:port` join addresses that fail as a refused connection.
    pub unreachable: BTreeSet<String>,
}

impl Servers {
    /// Just the cluster itself: the leader, a voter, at 127.0.0.1.
    pub fn new(name: &str) -> Servers {
        Servers {
            list: vec![TestServer {
                name: name.to_string(),
                host: "127.0.0.1".into(),
                serf_port: SERF_PORT,
                id: "1".into(),
                status: "alive".into(),
                in_raft: true,
                leader: true,
            }],
            unreachable: BTreeSet::new(),
        }
    }

    /// Contacts each address; the number that answered, or (when none did)
    /// every failure as Go's multierror text, as memberlist reports them.
    pub fn join(
        &mut self,
        addresses: &[String],
        region: &str,
        mut new_id: impl FnMut() -> String,
    ) -> Result<usize, ClusterError> {
        let mut joined = 0;
        let mut errors = Vec::new();
        for addr in addresses {
            let (host, port) = match split_host_port(addr) {
                Ok(x) => x,
                Err(e) => {
                    errors.push(format!("Failed to join {addr}: {e}"));
                    continue;
                }
            };
            let target = join_host_port(&host, port);
            if self.unreachable.contains(&target) || self.unreachable.contains(addr) {
                errors.push(format!(
                    "Failed to join {target}: dial tcp {target}: connect: connection refused"
                ));
                continue;
            }
            joined += 1;
            match self.list.iter_mut().find(|s| s.host == host) {
                Some(s) => {
                    s.status = "alive".into();
                    s.in_raft = true;
                }
                None => self.list.push(TestServer {
                    name: format!("{host}.{region}"),
                    host,
                    serf_port: port,
                    id: new_id(),
                    status: "alive".into(),
                    in_raft: true,
                    leader: false,
                }),
            }
        }
        if joined == 0 && !errors.is_empty() {
            return Err(ClusterError::Internal(crate::query::multierror(&errors)));
        }
        Ok(joined)
    }

    /// Marks a server `left` and drops it from the Raft configuration. As
    /// Serf's, a name that is no member (or the cluster itself, which is
    /// alive and refutes it) changes nothing.
    pub fn force_leave(&mut self, node: &str, region: &str) {
        let full = format!("{node}.{region}");
        if let Some(s) = self
            .list
            .iter_mut()
            .find(|s| !s.leader && (s.name == node || s.name == full))
        {
            s.status = "left".into();
            s.in_raft = false;
        }
    }

    /// Drops one server from the Raft configuration, by ID or by address,
    /// with Nomad's words when it is not there.
    pub fn remove_peer(
        &mut self,
        id: Option<&str>,
        address: Option<&str>,
    ) -> Result<(), ClusterError> {
        let found = self.list.iter_mut().find(|s| {
            s.in_raft
                && match (id, address) {
                    (Some(id), _) => s.id == id,
                    (None, Some(a)) => s.raft_address() == a,
                    (None, None) => false,
                }
        });
        match (found, id, address) {
            (Some(s), _, _) => {
                s.in_raft = false;
                Ok(())
            }
            (None, Some(id), _) => Err(ClusterError::Internal(format!(
                "id {id:?} was not found in the Raft configuration"
            ))),
            (None, None, Some(a)) => Err(ClusterError::Internal(format!(
                "address {a:?} was not found in the Raft configuration"
            ))),
            (None, None, None) => Err(ClusterError::BadRequest(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
                    .into(),
            )),
        }
    }

    /// The Raft configuration.
    pub fn raft_servers(&self) -> Vec<RaftServer> {
        self.list
            .iter()
            .filter(|s| s.in_raft)
            .map(|s| RaftServer {
                id: s.id.clone(),
                node: s.name.clone(),
                address: s.raft_address(),
                leader: s.leader,
                voter: true,
                raft_protocol: "3".into(),
            })
            .collect()
    }

    /// The gossip members.
    pub fn members(&self, region: &str, dc: &str) -> Vec<AgentMember> {
        self.list
            .iter()
            .map(|s| {
                let mut m = AgentMember::nomad_server(
                    s.name.clone(),
                    s.host.clone(),
                    s.serf_port,
                    RPC_PORT,
                    region,
                    dc,
                    VERSION,
                    s.status.clone(),
                );
                if s.leader {
                    m.tags.insert("bootstrap".into(), "1".into());
                }
                m
            })
            .collect()
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the Serf port by default.
fn split_host_port(addr: &str) -> Result<(String, u16), String> {
    let addr = addr.trim();
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {addr}: missing ']' in address"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("address {addr}: unexpected text after ']'")),
        }
    } else {
        match addr.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => return Err(format!("address {addr}: too many colons in address")),
            None => (addr, None),
        }
    };
    if host.is_empty() {
        return Err(format!("address {addr}: missing host"));
    }
    let port = match port {
        None => SERF_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("address {addr}: invalid port"))?,
    };
    Ok((host.to_string(), port))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_addresses() {
        assert_eq!(split_host_port("10.0.0.2"), Ok(("10.0.0.2".into(), 4648)));
        assert_eq!(
            split_host_port("10.0.0.2:5000"),
            Ok(("10.0.0.2".into(), 5000))
        );
        assert_eq!(split_host_port("[::1]:1"), Ok(("::1".into(), 1)));
        assert!(split_host_port("a:b:c").is_err());
        assert!(split_host_port("a:x").is_err());
        assert!(split_host_port(":1").is_err());
    }

    #[test]
    fn join_leave_remove() {
        let mut s = Servers::new("me.global");
        let mut n = 0;
        let mut id = || {
            n += 1;
            format!("id-{n}")
        };
        s.unreachable.insert("10.0.0.9:4648".into());
        let r = s.join(&["10.0.0.9".into(), "10.0.0.2".into()], "global", &mut id);
        assert_eq!(r, Ok(1));
        let err = s.join(&["10.0.0.9".into()], "global", &mut id).unwrap_err();
        assert!(err.to_string().contains("connection refused"), "{err}");
        assert_eq!(s.raft_servers().len(), 2);
        s.force_leave("10.0.0.2", "global");
        assert_eq!(s.raft_servers().len(), 1);
        assert_eq!(s.members("global", "dc1")[1].status, "left");
        assert!(s.remove_peer(Some("nope"), None).is_err());
        assert_eq!(s.remove_peer(None, Some("127.0.0.1:4647")), Ok(()));
        assert!(s.raft_servers().is_empty());
    }
}
