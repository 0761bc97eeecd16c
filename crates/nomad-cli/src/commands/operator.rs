//! `nomad server members`, `nomad system gc`, `nomad agent-info`.

use std::collections::BTreeMap;

use clap::Args;
use nomad_types::api::AgentMember;

use crate::ctx::{Ctx, GlobalArgs};
use crate::format::columnize;
use crate::Io;

#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Protocol versions and tags too.
    #[arg(long)]
    detailed: bool,
    /// Same as -detailed.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn members(args: MembersArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let verbose = args.detailed || args.verbose;
    let mut m = match ctx.block(ctx.client.agent_members()) {
        Ok(m) => m.members,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying servers: {e}");
            return 1;
        }
    };
    m.sort_by(|a, b| a.name.cmp(&b.name));
    // The leader of each region, as `host:rpc-port`.
    let mut leaders: BTreeMap<String, String> = BTreeMap::new();
    let mut leader_err = None;
    for region in m
        .iter()
        .filter(|x| x.status != "left")
        .filter_map(|x| x.tags.get("region"))
    {
        if leaders.contains_key(region) {
            continue;
        }
        match ctx.block(ctx.client.status_leader(region)) {
            Ok(l) => {
                leaders.insert(region.clone(), l);
            }
            Err(e) => leader_err = Some(format!("Region {region:?}: {e}")),
        }
    }
    let is_leader = |x: &AgentMember| {
        let tag = |k: &str| x.tags.get(k).cloned().unwrap_or_default();
        let addr = if x.addr.contains(':') {
            format!("[{}]:{}", x.addr, tag("port"))
        } else {
            format!("{}:{}", x.addr, tag("port"))
        };
        leaders.get(&tag("region")).is_some_and(|l| *l == addr)
    };
    if args.json {
        let mut m = m.clone();
        for x in &mut m {
            let l = is_leader(x);
            x.tags.insert("Leader".into(), l.to_string());
        }
        return match nomad_types::json::to_string_pretty_go(&m) {
            Ok(s) => {
                let _ = writeln!(io.out, "{s}");
                0
            }
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                1
            }
        };
    }
    let mut rows = Vec::new();
    if verbose {
        rows.push(
            "Name|Address|Port|Status|Leader|Protocol|Raft Version|Build|Datacenter|Region|Tags"
                .to_string(),
        );
    } else {
        rows.push(
            "Name|Address|Port|Status|Leader|Raft Version|Build|Datacenter|Region".to_string(),
        );
    }
    for x in &m {
        let tag = |k: &str| x.tags.get(k).cloned().unwrap_or_default();
        if verbose {
            let tags: Vec<String> = x.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rows.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                x.name,
                x.addr,
                x.port,
                x.status,
                is_leader(x),
                x.protocol_cur,
                tag("raft_vsn"),
                tag("build"),
                tag("dc"),
                tag("region"),
                tags.join(",")
            ));
        } else {
            rows.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                x.name,
                x.addr,
                x.port,
                x.status,
                is_leader(x),
                tag("raft_vsn"),
                tag("build"),
                tag("dc"),
                tag("region")
            ));
        }
    }
    let _ = writeln!(io.out, "{}", columnize(&rows, "  ", None));
    if let Some(e) = leader_err {
        let _ = writeln!(io.out);
        let _ = writeln!(io.err, "Error determining leaders: {e}");
        return 1;
    }
    0
}

pub fn system_gc(g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    match ctx.block(ctx.client.system_gc()) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "Error running system garbage-collection: {e}");
            1
        }
    }
}

#[derive(Debug, Args)]
pub struct AgentInfoArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn agent_info(args: AgentInfoArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let info = match ctx.block(ctx.client.agent_self()) {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying agent info: {e}");
            return 1;
        }
    };
    if args.json {
        return match nomad_types::json::to_string_pretty_go(&info) {
            Ok(s) => {
                let _ = writeln!(io.out, "{s}");
                0
            }
            Err(e) => {
                let _ = writeln!(io.err, "Error formatting output: {e}");
                1
            }
        };
    }
    for (section, kv) in &info.stats {
        let _ = writeln!(io.out, "{section}");
        for (k, v) in kv {
            let _ = writeln!(io.out, "  {k} = {v}");
        }
    }
    0
}
