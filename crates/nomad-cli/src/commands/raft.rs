//! `nomad operator raft list-peers` and `nomad operator raft remove-peer`.

use clap::Args;
use nomad_api_client::QueryOptions;

use crate::ctx::{Ctx, GlobalArgs};
use crate::format::format_list_with_spaces;
use crate::Io;

#[derive(Debug, Args)]
pub struct ListPeersArgs {
    /// Let any server answer (for a cluster without a leader).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    stale: bool,
}

/// `nomad operator raft list-peers`: one row per server of the Raft
/// configuration, sorted by node name.
pub fn list_peers(args: ListPeersArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let q = QueryOptions {
        allow_stale: args.stale,
        ..QueryOptions::default()
    };
    let mut servers = match ctx.block(ctx.client.raft_configuration_with(&q)) {
        Ok(c) => c.servers,
        Err(e) => {
            let _ = writeln!(io.err, "Failed to retrieve raft configuration: {e}");
            return 1;
        }
    };
    servers.sort_by(|a, b| a.node.cmp(&b.node));
    let mut rows = vec!["Node|ID|Address|State|Voter|RaftProtocol".to_string()];
    for s in &servers {
        let state = if s.leader { "leader" } else { "follower" };
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}",
            s.node, s.id, s.address, state, s.voter, s.raft_protocol
        ));
    }
    let _ = writeln!(io.out, "{}", format_list_with_spaces(&rows));
    0
}

#[derive(Debug, Args)]
pub struct RemovePeerArgs {
    /// The Raft (RPC) address of the server to remove, `host:port`.
    #[arg(long = "peer-address", value_name = "addr")]
    peer_address: Option<String>,
    /// The Raft ID of the server to remove.
    #[arg(long = "peer-id", value_name = "id")]
    peer_id: Option<String>,
}

/// `nomad operator raft remove-peer -peer-address=ADDR | -peer-id=ID`.
pub fn remove_peer(args: RemovePeerArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let address = args.peer_address.unwrap_or_default();
    let id = args.peer_id.unwrap_or_default();
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let result = match (address.is_empty(), id.is_empty()) {
        (true, true) => Err("an address or id is required for the peer to remove".to_string()),
        (false, false) => Err("cannot give both an address and id".to_string()),
        (false, true) => ctx
            .block(ctx.client.raft_remove_peer_by_address(&address))
            .map_err(|e| e.to_string()),
        (true, false) => ctx
            .block(ctx.client.raft_remove_peer_by_id(&id))
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        let _ = writeln!(io.err, "Error removing peer: {e}");
        return 1;
    }
    if !address.is_empty() {
        let _ = writeln!(io.out, "Removed peer with address {address:?}");
    } else {
        let _ = writeln!(io.out, "Removed peer with id {id:?}");
    }
    0
}
