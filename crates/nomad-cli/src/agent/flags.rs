//! The agent's command-line flags, Go-style (`-flag value`,
//! `-flag=value`), over the configuration files they name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::load_path;
use super::joins::Joins;
use super::AgentConfig;

/// Parses agent flags (Go-style, `-flag value` or `-flag=value`) and the
/// configuration files they name.
pub fn parse(rest: &[String]) -> Result<AgentConfig, String> {
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let takes_value = |f: &str| {
        matches!(
            f,
            "config"
                | "data-dir"
                | "bind"
                | "log-level"
                | "node"
                | "bootstrap-expect"
                | "region"
                | "dc"
                | "http-port"
                | "servers"
                | "node-class"
                | "num-schedulers"
                | "retry-join"
                | "join"
                | "retry-interval"
                | "retry-max"
        )
    };
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i].trim_start_matches('-');
        if !rest[i].starts_with('-') {
            return Err(format!("unexpected argument {:?}", rest[i]));
        }
        if let Some((k, v)) = a.split_once('=') {
            flags.push((k.to_string(), Some(v.to_string())));
        } else if takes_value(a) {
            let v = rest
                .get(i + 1)
                .ok_or_else(|| format!("flag needs an argument: -{a}"))?;
            flags.push((a.to_string(), Some(v.clone())));
            i += 1;
        } else {
            flags.push((a.to_string(), None));
        }
        i += 1;
    }
    let dev = flags.iter().any(|(k, _)| k == "dev");
    let mut c = if dev {
        AgentConfig::dev()
    } else {
        AgentConfig::default()
    };
    let mut joins = Joins::default();
    for (k, v) in &flags {
        if k == "config" {
            let path = v.clone().unwrap_or_default();
            load_path(&mut c, &mut joins, Path::new(&path))?;
        }
    }
    // As Nomad's, the join flags fill the `server_join` block: each list
    // given on the command line replaces the files' list.
    let mut flag_retry_join = Vec::new();
    let mut flag_start_join = Vec::new();
    for (k, v) in flags {
        let v = v.unwrap_or_default();
        let bool_of = |v: &str| v.is_empty() || v == "true" || v == "1";
        match k.as_str() {
            "dev" | "config" => {}
            "server" => c.server = bool_of(&v),
            "client" => c.client = bool_of(&v),
            "data-dir" => c.data_dir = Some(PathBuf::from(v)),
            "bind" => c.bind_addr = v,
            "log-level" => c.log_level = v.to_uppercase(),
            "node" => c.name = v,
            "region" => c.region = v,
            "dc" => c.datacenter = v,
            "node-class" => c.node_class = v,
            "servers" => c.servers = v.split(',').map(str::to_string).collect(),
            "bootstrap-expect" => {
                c.bootstrap_expect = v
                    .parse()
                    .map_err(|_| format!("invalid -bootstrap-expect {v:?}"))?
            }
            "num-schedulers" => {
                c.num_schedulers = v
                    .parse()
                    .map_err(|_| format!("invalid -num-schedulers {v:?}"))?
            }
            "http-port" => {
                c.http_port = v.parse().map_err(|_| format!("invalid -http-port {v:?}"))?
            }
            "retry-join" => flag_retry_join.push(v),
            "join" => flag_start_join.push(v),
            "retry-max" => {
                joins.server_join.retry_max =
                    Some(v.parse().map_err(|_| format!("invalid -retry-max {v:?}"))?)
            }
            "retry-interval" => {
                joins.server_join.retry_interval =
                    Some(parse_duration(&v).map_err(|e| format!("invalid -retry-interval: {e}"))?)
            }
            other => return Err(format!("flag provided but not defined: -{other}")),
        }
    }
    if !flag_retry_join.is_empty() {
        joins.server_join.retry_join = flag_retry_join;
    }
    if !flag_start_join.is_empty() {
        joins.server_join.start_join = flag_start_join;
    }
    joins.finish(&mut c)?;
    if !c.server && !c.client {
        return Err("Must specify either server, client or dev mode for the agent.".into());
    }
    if !c.dev && c.data_dir.is_none() {
        return Err("Must specify data directory".into());
    }
    Ok(c)
}

/// A Go duration (`30s`, `1m30s`); negative ones are refused.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let n: nomad_types::Nanos = s.trim().parse().map_err(|e| format!("time: {e}"))?;
    n.to_std()
        .ok_or_else(|| format!("time: invalid duration {s:?}: must not be negative"))
}
