//! `nomad server join` and `nomad server force-leave`.

use clap::Args;

use crate::ctx::{Ctx, GlobalArgs};
use crate::Io;

/// Nomad's `commandErrorText`: where to find the usage.
pub(crate) fn help_hint(command: &str) -> String {
    format!("For additional help try 'nomad {command} -help'")
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Server addresses, `host[:port]` (the Serf port, 4648, by default).
    #[arg(value_name = "addr")]
    addresses: Vec<String>,
}

/// `nomad server join <addr> [<addr>...]`.
pub fn join(args: JoinArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    if args.addresses.is_empty() {
        let _ = writeln!(
            io.err,
            "One or more node addresses must be given as arguments"
        );
        let _ = writeln!(io.err, "{}", help_hint("server join"));
        return 1;
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    // Nomad's API client turns both a failed request and a join that
    // reached nobody into `failed joining: …`.
    let error = match ctx.block(ctx.client.agent_join(&args.addresses)) {
        Ok(r) if r.error.is_empty() => {
            let _ = writeln!(io.out, "Joined {} servers successfully", r.num_joined);
            return 0;
        }
        Ok(r) => r.error,
        Err(e) => e.to_string(),
    };
    let _ = writeln!(io.err, "Error joining: failed joining: {error}");
    1
}

#[derive(Debug, Args)]
pub struct ForceLeaveArgs {
    /// The server's member name (`name.region`, as `server members` lists it).
    #[arg(value_name = "node")]
    nodes: Vec<String>,
}

/// `nomad server force-leave <node>`: prints nothing on success.
pub fn force_leave(args: ForceLeaveArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let [node] = args.nodes.as_slice() else {
        let _ = writeln!(io.err, "This command takes one argument: <node>");
        let _ = writeln!(io.err, "{}", help_hint("server force-leave"));
        return 1;
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    match ctx.block(ctx.client.agent_force_leave(node)) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "Error force-leaving server {node}: {e}");
            1
        }
    }
}
