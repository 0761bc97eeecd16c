//! Server membership: how servers find each other and form one Raft
//! cluster, as Nomad does it with Serf (no pre-built peer list).
//!
//! Every server keeps a table of the servers it knows ([`MemberInfo`] plus
//! its own view of each one's health). Once a second it exchanges that table
//! with every known server over the RPC protocol (`Serf.PushPull`, on the
//! RPC port or the serf port; both serve the same protocol), so one
//! `nomad server join` or `retry_join` address is enough for everybody to
//! learn everybody. A server that fails three exchanges in a row is
//! `failed`; one that answers again is `alive`.
//!
//! From that table:
//!
//! * **bootstrap**: a server with `bootstrap_expect = N > 1` and no Raft
//!   state bootstraps the cluster with every alive server of its region that
//!   expects the same N, once it knows N of them and none of them reports Raft
//!   state (then the cluster exists already and the leader adds it);
//! * **reconcile** (the leader): an alive server that is not a voter is
//!   added (a stale voter at the same address, from a server that lost its
//!   data dir, is removed first); a server that `left` is removed. One
//!   change per round, as Raft allows one pending configuration change.
//!   Failed servers stay voters: a restart with the same data dir comes back
//!   as the same voter; `nomad operator raft remove-peer` removes one for
//!   good.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Server, ServerError};

/// Consecutive failed exchanges after which a member is `failed`.
const FAILS_BEFORE_FAILED: u32 = 3;

/// What a server announces about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MemberInfo {
    /// `<node name>.<region>`, unique in the cluster.
    pub name: String,
    /// Region.
    pub region: String,
    /// Datacenter.
    pub datacenter: String,
    /// Raft id.
    #[serde(rename = "RaftID")]
    pub raft_id: u64,
    /// RPC (and Raft) address, `ip:port`.
    pub rpc_addr: String,
    /// Serf address, `ip:port`.
    pub serf_addr: String,
    /// The agent's HTTP API address, `ip:port` (empty until the agent has
    /// bound it, and from servers of older builds). Client-only agents
    /// forward `/v1` requests there.
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    /// Version of the server binary.
    pub build: String,
    /// The server's `bootstrap_expect`.
    pub bootstrap_expect: usize,
    /// Whether the server has Raft state.
    pub raft_initialized: bool,
}

/// A member's health as this server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Answering.
    Alive,
    /// Not answering.
    Failed,
    /// Removed by `force-leave`.
    Left,
}

impl MemberStatus {
    /// Serf's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Failed => "failed",
            MemberStatus::Left => "left",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    info: MemberInfo,
    status: MemberStatus,
    failures: u32,
}

/// The member table.
#[derive(Debug)]
pub(crate) struct Members {
    me: Mutex<MemberInfo>,
    others: Mutex<BTreeMap<String, Entry>>,
}

/// `Serf.PushPull` request and reply body.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct PushPull {
    /// The caller (absent in replies).
    pub from: Option<MemberInfo>,
    /// Every member the sender knows, itself included.
    pub known: Vec<MemberInfo>,
}

impl Members {
    pub fn new(me: MemberInfo) -> Self {
        Members {
            me: Mutex::new(me),
            others: Mutex::new(BTreeMap::new()),
        }
    }

    fn others(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.others.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn me(&self) -> MemberInfo {
        self.me.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_http_addr(&self, addr: String) {
        self.me.lock().unwrap_or_else(|e| e.into_inner()).http_addr = addr;
    }

    pub fn set_initialized(&self, yes: bool) {
        self.me
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .raft_initialized = yes;
    }

    /// Everybody, this server first, with their status.
    pub fn all(&self) -> Vec<(MemberInfo, MemberStatus)> {
        let mut out = vec![(self.me(), MemberStatus::Alive)];
        out.extend(self.others().values().map(|e| (e.info.clone(), e.status)));
        out
    }

    /// What a push-pull carries.
    pub fn known(&self) -> Vec<MemberInfo> {
        let mut out = vec![self.me()];
        out.extend(
            self.others()
                .values()
                .filter(|e| e.status != MemberStatus::Left)
                .map(|e| e.info.clone()),
        );
        out
    }

    /// Learns members from someone else's table; keeps this server's view of
    /// their health. Returns the names that were new.
    pub fn merge(&self, infos: Vec<MemberInfo>) -> Vec<String> {
        let me = self.me().name;
        let mut others = self.others();
        let mut new = Vec::new();
        for info in infos {
            if info.name.is_empty() || info.name == me {
                continue;
            }
            match others.get_mut(&info.name) {
                Some(e) => e.info = info,
                None => {
                    new.push(info.name.clone());
                    others.insert(
                        info.name.clone(),
                        Entry {
                            info,
                            status: MemberStatus::Alive,
                            failures: 0,
                        },
                    );
                }
            }
        }
        new
    }

    /// A direct exchange with `name` succeeded (or it called us).
    pub fn heard_from(&self, info: MemberInfo) {
        let name = info.name.clone();
        if name == self.me().name {
            return;
        }
        let mut others = self.others();
        let e = others.entry(name.clone()).or_insert_with(|| Entry {
            info: info.clone(),
            status: MemberStatus::Alive,
            failures: 0,
        });
        if e.status == MemberStatus::Failed {
            tracing::info!(member = %name, "server member is alive again");
        }
        e.info = info;
        e.status = MemberStatus::Alive;
        e.failures = 0;
    }

    /// A direct exchange with `name` failed.
    pub fn failed_exchange(&self, name: &str) {
        let mut others = self.others();
        if let Some(e) = others.get_mut(name) {
            e.failures += 1;
            if e.failures >= FAILS_BEFORE_FAILED && e.status == MemberStatus::Alive {
                e.status = MemberStatus::Failed;
                tracing::warn!(member = %name, "server member failed");
            }
        }
    }

    /// Marks a member as left. False if unknown.
    pub fn force_leave(&self, name: &str) -> bool {
        let mut others = self.others();
        let key = if others.contains_key(name) {
            Some(name.to_string())
        } else {
            // `nomad server force-leave` takes the name with or without the region.
            others
                .keys()
                .find(|k| k.split('.').next() == Some(name))
                .cloned()
        };
        match key.and_then(|k| others.get_mut(&k)) {
            Some(e) => {
                e.status = MemberStatus::Left;
                true
            }
            None => false,
        }
    }
}

/// `host` or `host:port`; the serf port when none is given.
pub(crate) fn with_default_port(addr: &str, port: u16) -> String {
    let a = addr.trim();
    if a.parse::<std::net::SocketAddr>().is_ok() {
        return a.to_string();
    }
    if a.starts_with('[') || a.matches(':').count() > 1 {
        // IPv6 without a port.
        let bare = a.trim_start_matches('[').trim_end_matches(']');
        return format!("[{bare}]:{port}");
    }
    if a.contains(':') {
        a.to_string()
    } else {
        format!("{a}:{port}")
    }
}

impl Server {
    /// Records the agent's HTTP API address (known once the agent has bound
    /// it, after the server started); it travels with this server's member
    /// entry, so every server and the `Status.Members` RPC know it.
    pub fn set_http_addr(&self, addr: impl Into<String>) {
        self.inner.members.set_http_addr(addr.into());
    }

    /// The servers of this region a client can talk to, for the
    /// `Status.Members` RPC: this server first, then the alive others.
    pub fn server_endpoints(&self) -> Vec<crate::rpc::ServerEndpoint> {
        let region = self.config().region.clone();
        self.inner
            .members
            .all()
            .into_iter()
            .filter(|(m, s)| *s == MemberStatus::Alive && m.region == region)
            .map(|(m, _)| crate::rpc::ServerEndpoint {
                name: m.name,
                rpc_addr: m.rpc_addr,
                http_addr: m.http_addr,
            })
            .collect()
    }

    /// Exchanges member tables with `addr`; on success records the peer as
    /// alive and merges what it knows.
    async fn push_pull(&self, addr: &str) -> Result<MemberInfo, ServerError> {
        let members = &self.inner.members;
        let req = PushPull {
            from: Some(members.me()),
            known: members.known(),
        };
        let body = serde_json::to_value(&req).map_err(|e| ServerError::Internal(e.to_string()))?;
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            crate::rpc::call_one(addr, "Serf.PushPull", body),
        )
        .await
        .map_err(|_| ServerError::Raft(format!("{addr}: no answer in 2s")))??;
        let reply: PushPull = serde_json::from_value(reply)
            .map_err(|e| ServerError::Internal(format!("{addr}: Serf.PushPull: {e}")))?;
        let peer = reply
            .known
            .first()
            .cloned()
            .ok_or_else(|| ServerError::Internal(format!("{addr}: empty member list")))?;
        members.merge(reply.known);
        members.heard_from(peer.clone());
        Ok(peer)
    }

    /// The other side of [`push_pull`](Self::push_pull).
    pub(crate) fn handle_push_pull(&self, req: PushPull) -> PushPull {
        let members = &self.inner.members;
        if let Some(from) = req.from {
            if from.region != self.config().region {
                tracing::warn!(member = %from.name, region = %from.region, "server of another region ignored");
            } else {
                members.merge(req.known);
                members.heard_from(from);
            }
        }
        PushPull {
            from: None,
            known: members.known(),
        }
    }

    /// `nomad server join`: contacts each address (`host[:port]`, port 4648
    /// by default). Returns how many answered.
    pub async fn join(&self, addrs: &[String]) -> Result<usize, ServerError> {
        let mut joined = 0;
        let mut last = None;
        let me = self.inner.members.me();
        for a in addrs {
            let addr = with_default_port(a, 4648);
            // A retry_join list usually names every server, this one too.
            if addr == me.serf_addr || addr == me.rpc_addr {
                continue;
            }
            match self.push_pull(&addr).await {
                Ok(peer) => {
                    tracing::info!(address = %addr, member = %peer.name, "joined server");
                    joined += 1;
                }
                Err(e) => {
                    tracing::warn!(address = %addr, error = %e, "join failed");
                    last = Some(format!("{addr}: {e}"));
                }
            }
        }
        if joined > 0 {
            self.maybe_bootstrap().await;
        }
        match (joined, last) {
            (0, Some(e)) => Err(ServerError::BadRequest(format!(
                "Error joining address(es): {e}"
            ))),
            (n, _) => Ok(n),
        }
    }

    /// `nomad server force-leave NODE`.
    pub async fn force_leave(&self, node: &str) -> Result<(), ServerError> {
        if !self.inner.members.force_leave(node) {
            return Err(ServerError::NotFound(format!("member {node:?} not found")));
        }
        if self.is_leader() {
            self.reconcile_voters().await;
        }
        Ok(())
    }

    /// Bootstraps Raft once `bootstrap_expect` servers are known (see the
    /// module docs).
    pub(crate) async fn maybe_bootstrap(&self) {
        let expect = self.config().bootstrap_expect;
        if expect <= 1 || self.raft().status().initialized {
            return;
        }
        let region = &self.config().region;
        let mut voters = Vec::new();
        for (m, status) in self.inner.members.all() {
            if status != MemberStatus::Alive || &m.region != region {
                continue;
            }
            if m.raft_initialized {
                tracing::info!(member = %m.name, "existing Raft cluster found; waiting to be added");
                return;
            }
            if m.bootstrap_expect != expect {
                tracing::error!(member = %m.name, theirs = m.bootstrap_expect, ours = expect,
                    "servers disagree on bootstrap_expect; not bootstrapping");
                return;
            }
            voters.push((m.raft_id, m.rpc_addr.clone()));
        }
        if voters.len() < expect {
            return;
        }
        tracing::info!(
            servers = voters.len(),
            "bootstrap_expect reached; bootstrapping the cluster"
        );
        if let Err(e) = self.raft().bootstrap(voters).await {
            tracing::warn!(error = %e, "raft bootstrap");
        }
    }

    /// The leader's membership duty: one Raft configuration change per call
    /// (see the module docs).
    pub(crate) async fn reconcile_voters(&self) {
        let st = self.raft().status();
        let region = &self.config().region;
        for (m, status) in self.inner.members.all() {
            if &m.region != region || m.raft_id == 0 || m.raft_id == st.id {
                continue;
            }
            let is_voter = st.voters.contains(&m.raft_id);
            match status {
                MemberStatus::Left if is_voter => {
                    tracing::info!(member = %m.name, raft_id = m.raft_id, "removing server that left");
                    if let Err(e) = self.raft().remove_voter(m.raft_id).await {
                        tracing::warn!(error = %e, "removing raft peer");
                    }
                    return;
                }
                MemberStatus::Alive if !is_voter => {
                    let stale = st
                        .peers
                        .iter()
                        .find(|(id, a)| {
                            **a == m.rpc_addr && **id != m.raft_id && st.voters.contains(id)
                        })
                        .map(|(id, _)| *id);
                    if let Some(old) = stale {
                        tracing::info!(member = %m.name, old_id = old, "removing stale raft peer with the same address");
                        if let Err(e) = self.raft().remove_voter(old).await {
                            tracing::warn!(error = %e, "removing raft peer");
                        }
                        return;
                    }
                    tracing::info!(member = %m.name, raft_id = m.raft_id, address = %m.rpc_addr, "adding server as voter");
                    if let Err(e) = self.raft().add_voter(m.raft_id, m.rpc_addr.clone()).await {
                        tracing::warn!(error = %e, "adding raft peer");
                    }
                    return;
                }
                _ => {}
            }
        }
    }

    /// Removes a Raft peer by id or address (`operator raft remove-peer`).
    pub async fn raft_remove_peer(
        &self,
        id: Option<&str>,
        address: Option<&str>,
    ) -> Result<(), ServerError> {
        let st = self.raft().status();
        let target = match (id, address) {
            (Some(i), None) => {
                let n: u64 = i.trim().parse().map_err(|_| {
                    ServerError::BadRequest(format!("invalid peer id {i:?}: a Raft id is a number"))
                })?;
                st.voters.contains(&n).then_some(n)
            }
            (None, Some(a)) => st
                .peers
                .iter()
                .find(|(id, addr)| addr.as_str() == a.trim() && st.voters.contains(id))
                .map(|(id, _)| *id),
            _ => {
                return Err(ServerError::BadRequest(
                    "must specify exactly one of id or address".into(),
                ))
            }
        };
        let Some(target) = target else {
            return Err(ServerError::BadRequest(format!(
                "id {:?} or address {:?} was not found in the Raft configuration",
                id.unwrap_or(""),
                address.unwrap_or("")
            )));
        };
        self.raft().remove_voter(target).await?;
        Ok(())
    }
}

/// Gossip, bootstrap and reconcile, once a second; start and retry joins.
pub(crate) async fn membership_loop(server: Server) {
    let cfg = server.config().clone();
    if !cfg.start_join.is_empty() {
        if let Err(e) = server.join(&cfg.start_join).await {
            tracing::error!(error = %e, "start_join failed");
        }
    }
    let mut retry_at = (!cfg.retry_join.is_empty()).then(tokio::time::Instant::now);
    let mut attempts: u32 = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(at) = retry_at {
            if tokio::time::Instant::now() >= at {
                attempts += 1;
                match server.join(&cfg.retry_join).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(joined = n, "retry_join succeeded");
                        retry_at = None;
                    }
                    Ok(_) => {
                        retry_at = Some(tokio::time::Instant::now() + cfg.retry_interval);
                    }
                    Err(e) if cfg.retry_max > 0 && attempts >= cfg.retry_max => {
                        tracing::error!(error = %e, attempts, "retry_join: max attempts reached; giving up");
                        retry_at = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?cfg.retry_interval, "retry_join failed");
                        retry_at = Some(tokio::time::Instant::now() + cfg.retry_interval);
                    }
                }
            }
        }
        server
            .inner
            .members
            .set_initialized(server.raft().status().initialized);
        let peers: Vec<MemberInfo> = server
            .inner
            .members
            .all()
            .into_iter()
            .skip(1)
            .filter(|(_, s)| *s != MemberStatus::Left)
            .map(|(m, _)| m)
            .collect();
        for m in peers {
            let addr = if m.rpc_addr.is_empty() {
                m.serf_addr.clone()
            } else {
                m.rpc_addr.clone()
            };
            if let Err(e) = server.push_pull(&addr).await {
                tracing::debug!(member = %m.name, error = %e, "member exchange failed");
                server.inner.members.failed_exchange(&m.name);
            }
        }
        server.maybe_bootstrap().await;
        if server.is_leader() {
            server.reconcile_voters().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, id: u64) -> MemberInfo {
        MemberInfo {
            name: name.into(),
            region: "global".into(),
            raft_id: id,
            ..MemberInfo::default()
        }
    }

    #[test]
    fn merge_learns_and_keeps_own_view() {
        let m = Members::new(info("a.global", 1));
        assert_eq!(
            m.merge(vec![info("a.global", 1), info("b.global", 2)]),
            vec!["b.global"]
        );
        for _ in 0..FAILS_BEFORE_FAILED {
            m.failed_exchange("b.global");
        }
        assert_eq!(m.all()[1].1, MemberStatus::Failed);
        // Someone else's table does not revive it; a direct exchange does.
        m.merge(vec![info("b.global", 2)]);
        assert_eq!(m.all()[1].1, MemberStatus::Failed);
        m.heard_from(info("b.global", 2));
        assert_eq!(m.all()[1].1, MemberStatus::Alive);
        assert!(m.force_leave("b"));
        assert_eq!(m.all()[1].1, MemberStatus::Left);
        assert_eq!(m.known().len(), 1);
        assert!(!m.force_leave("zzz"));
    }

    #[test]
    fn the_http_address_travels_with_the_member() {
        let a = Members::new(info("a.global", 1));
        a.set_http_addr("10.0.0.1:8000".into());
        let b = Members::new(info("b.global", 2));
        b.merge(a.known());
        let (m, _) = &b.all()[1];
        assert_eq!(m.http_addr, "10.0.0.1:8000");
        // Over the wire, and from servers that do not send it.
        let wire = serde_json::to_value(a.me()).unwrap();
        assert_eq!(wire["HTTPAddr"], "10.0.0.1:8000");
        let old: MemberInfo = serde_json::from_str(r#"{"Name":"c.global"}"#).unwrap();
        assert_eq!(old.http_addr, "");
    }

    #[test]
    fn default_port() {
        assert_eq!(with_default_port("10.0.0.1", 4648), "10.0.0.1:4648");
        assert_eq!(with_default_port("10.0.0.1:5000", 4648), "10.0.0.1:5000");
        assert_eq!(with_default_port("host.example", 4648), "host.example:4648");
        assert_eq!(with_default_port("::1", 4648), "[::1]:4648");
        assert_eq!(with_default_port("[::1]:9", 4648), "[::1]:9");
    }
}
