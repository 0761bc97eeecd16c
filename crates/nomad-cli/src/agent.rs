//! `nomad agent`: the agent's flags and configuration files, and the hook
//! through which the binary composes the agent.
//!
//! This crate owns the agent's configuration (flags as Nomad spells them,
//! HCL files through `nomad-hcl`) but not its composition: the server,
//! client and HTTP API are built by the `nomad` binary, which registers an
//! [`AgentRunner`] with [`set_agent_runner`]. That keeps the CLI library free
//! of the server and driver crates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Io;

/// Everything after `nomad agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Agent flags (`-dev`, `-config FILE`, `-server`, `-client`, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// The agent's configuration: flags over files over defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `-dev`.
    pub dev: bool,
    /// Region.
    pub region: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node (and server) name; empty: the hostname.
    pub name: String,
    /// Data directory; `None` in dev mode (a temporary directory).
    pub data_dir: Option<PathBuf>,
    /// Address every listener binds.
    pub bind_addr: String,
    /// HTTP port (4646).
    pub http_port: u16,
    /// RPC port (4647).
    pub rpc_port: u16,
    /// Serf (gossip) port, `ports { serf }` (4648): where `server join`
    /// and `retry_join` addresses without a port are contacted.
    pub serf_port: u16,
    /// Log level (`INFO`, `DEBUG` in dev mode).
    pub log_level: String,
    /// Run a server.
    pub server: bool,
    /// `server { bootstrap_expect }`, `-bootstrap-expect`.
    pub bootstrap_expect: usize,
    /// Servers to join at start, retrying until one answers:
    /// `server { server_join { retry_join } }`, the older
    /// `server { retry_join }`, or `-retry-join` (repeatable). Addresses are
    /// `host[:port]` (the Serf port by default).
    pub retry_join: Vec<String>,
    /// Time between join attempts: `server_join { retry_interval }`,
    /// `server { retry_interval }` or `-retry-interval` (a Go duration;
    /// default 30s).
    pub retry_interval: Duration,
    /// Join attempts before the agent gives up and exits:
    /// `server_join { retry_max }`, `server { retry_max }` or `-retry-max`;
    /// 0 retries forever.
    pub retry_max: usize,
    /// Servers to join once at start (the agent fails if none answers):
    /// `server_join { start_join }`, `server { start_join }` or `-join`
    /// (repeatable).
    pub start_join: Vec<String>,
    /// `server { num_schedulers }` (0: the CPU count).
    pub num_schedulers: usize,
    /// Run a client.
    pub client: bool,
    /// `client { servers }`.
    pub servers: Vec<String>,
    /// `client { node_class }`.
    pub node_class: String,
    /// `client { meta }`.
    pub meta: BTreeMap<String, String>,
    /// `plugin "NAME" { config { … } }`, as JSON.
    pub plugins: BTreeMap<String, serde_json::Value>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            dev: false,
            region: "global".into(),
            datacenter: "dc1".into(),
            name: String::new(),
            data_dir: None,
            bind_addr: "0.0.0.0".into(),
            http_port: 4646,
            rpc_port: 4647,
            serf_port: 4648,
            log_level: "INFO".into(),
            server: false,
            bootstrap_expect: 0,
            retry_join: Vec::new(),
            retry_interval: DEFAULT_RETRY_INTERVAL,
            retry_max: 0,
            start_join: Vec::new(),
            num_schedulers: 0,
            client: false,
            servers: Vec::new(),
            node_class: String::new(),
            meta: BTreeMap::new(),
            plugins: BTreeMap::new(),
        }
    }
}

/// `retry_interval` when none is set.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(30);

impl AgentConfig {
    /// Nomad's `-dev` configuration.
    pub fn dev() -> Self {
        let mut plugins = BTreeMap::new();
        plugins.insert("raw_exec".to_string(), serde_json::json!({"enabled": true}));
        AgentConfig {
            dev: true,
            bind_addr: "127.0.0.1".into(),
            log_level: "DEBUG".into(),
            server: true,
            bootstrap_expect: 1,
            client: true,
            plugins,
            ..AgentConfig::default()
        }
    }
}

/// Composes and runs an agent; returns the exit code.
pub type AgentRunner = fn(AgentConfig) -> i32;

static RUNNER: OnceLock<AgentRunner> = OnceLock::new();

/// Registers the function that runs an agent (the `nomad` binary does).
pub fn set_agent_runner(runner: AgentRunner) {
    let _ = RUNNER.set(runner);
}

/// `nomad agent …`.
pub fn run(args: AgentArgs, io: &mut Io<'_>) -> i32 {
    let config = match parse(&args.rest) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(io.err, "==> Error: {e}");
            return 1;
        }
    };
    match RUNNER.get() {
        Some(r) => r(config),
        None => {
            let _ = writeln!(
                io.err,
                "nomad agent is not available in this build (no agent runner registered)"
            );
            1
        }
    }
}

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

/// Where the join settings came from: the `server_join` block (and the
/// flags) or the older attributes directly in `server`. Nomad refuses some
/// mixes of the two, so they are kept apart until every file and flag is
/// read.
#[derive(Debug, Default)]
struct Joins {
    /// `server { retry_join start_join retry_max retry_interval }`; the
    /// lists of several files add up.
    legacy: JoinSettings,
    /// `server { server_join { … } }` and the flags; a later list replaces
    /// an earlier one.
    server_join: JoinSettings,
}

#[derive(Debug, Default)]
struct JoinSettings {
    retry_join: Vec<String>,
    start_join: Vec<String>,
    retry_max: Option<usize>,
    retry_interval: Option<Duration>,
}

impl Joins {
    /// Checks the mixes Nomad refuses (with its words) and sets the
    /// config's join fields.
    fn finish(self, c: &mut AgentConfig) -> Result<(), String> {
        let Joins {
            legacy,
            server_join: sj,
        } = self;
        const PREFER: &str = "prefer setting the server_join block";
        if !sj.retry_join.is_empty() {
            if !legacy.retry_join.is_empty() {
                return Err(format!(
                    "server_join and retry_join cannot both be defined; {PREFER}"
                ));
            }
            if !legacy.start_join.is_empty() {
                return Err(format!(
                    "server_join and start_join cannot both be defined; {PREFER}"
                ));
            }
            if legacy.retry_max.is_some_and(|n| n != 0) {
                return Err(format!(
                    "server_join and retry_max cannot both be defined; {PREFER}"
                ));
            }
            if legacy.retry_interval.is_some_and(|d| !d.is_zero()) {
                return Err(format!(
                    "server_join and retry_interval cannot both be defined; {PREFER}"
                ));
            }
            if !sj.start_join.is_empty() {
                return Err("retry_join and start_join cannot both be defined".into());
            }
        }
        if !legacy.start_join.is_empty() && !sj.start_join.is_empty() {
            return Err(format!(
                "server_join and start_join cannot both be defined; {PREFER}"
            ));
        }
        // What nothing sets stays as it was (the defaults, in `parse`).
        if !legacy.retry_join.is_empty() || !sj.retry_join.is_empty() {
            c.retry_join = legacy.retry_join.into_iter().chain(sj.retry_join).collect();
        }
        if !legacy.start_join.is_empty() || !sj.start_join.is_empty() {
            c.start_join = legacy.start_join.into_iter().chain(sj.start_join).collect();
        }
        let nonzero_max = |m: Option<usize>| m.filter(|n| *n != 0);
        if let Some(n) = nonzero_max(legacy.retry_max)
            .or(sj.retry_max)
            .or(legacy.retry_max)
        {
            c.retry_max = n;
        }
        let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        if let Some(d) = nonzero(legacy.retry_interval).or(nonzero(sj.retry_interval)) {
            c.retry_interval = d;
        }
        Ok(())
    }
}

/// A Go duration (`30s`, `1m30s`); negative ones are refused.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let n: nomad_types::Nanos = s.trim().parse().map_err(|e| format!("time: {e}"))?;
    n.to_std()
        .ok_or_else(|| format!("time: invalid duration {s:?}: must not be negative"))
}

fn load_path(c: &mut AgentConfig, joins: &mut Joins, path: &Path) -> Result<(), String> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hcl" || x == "json"))
            .collect();
        files.sort();
        for f in files {
            load_file(c, joins, &f)?;
        }
        Ok(())
    } else {
        load_file(c, joins, path)
    }
}

fn load_file(c: &mut AgentConfig, joins: &mut Joins, path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| {
        format!("Error loading configuration from {}: {e}", path.display())
    };
    let src = std::fs::read_to_string(path).map_err(|e| err(&e))?;
    let body = if path.extension().is_some_and(|x| x == "json") {
        json_config(&src).map_err(|e| err(&e))?
    } else {
        nomad_hcl::parse_config(&src, &path.to_string_lossy()).map_err(|e| err(&e))?
    };
    apply_body_to(c, joins, &body).map_err(|e| err(&e))
}

/// Blocks of the agent configuration, by the block they may appear in
/// (`""` for the top level), and whether they carry a label: in a JSON file
/// every other key is an attribute.
const CONFIG_BLOCKS: &[(&str, &str, bool)] = &[
    ("", "ports", false),
    ("", "server", false),
    ("", "client", false),
    ("", "plugin", true),
    ("server", "server_join", false),
    ("client", "server_join", false),
    ("plugin", "config", false),
];

/// A JSON agent configuration (`{"server": {"enabled": true}, …}`, blocks
/// as objects or lists of objects, `plugin` keyed by its label), read into
/// the same tree an HCL file gives.
pub fn json_config(src: &str) -> Result<nomad_hcl::tree::Body, String> {
    let v: serde_json::Value =
        serde_json::from_str(src).map_err(|e| format!("invalid JSON: {e}"))?;
    json_body("", v)
}

fn json_body(parent: &str, v: serde_json::Value) -> Result<nomad_hcl::tree::Body, String> {
    let serde_json::Value::Object(map) = v else {
        let what = if parent.is_empty() {
            "the configuration"
        } else {
            parent
        };
        return Err(format!("{what}: expected an object"));
    };
    let mut body = nomad_hcl::tree::Body::default();
    for (key, value) in map {
        let block = CONFIG_BLOCKS
            .iter()
            .find(|(p, ident, _)| *p == parent && *ident == key);
        match block {
            Some((_, ident, labelled)) => {
                let items = match value {
                    serde_json::Value::Array(items) => items,
                    other => vec![other],
                };
                for item in items {
                    if *labelled {
                        let serde_json::Value::Object(by_label) = item else {
                            return Err(format!("{ident}: expected an object keyed by name"));
                        };
                        for (label, inner) in by_label {
                            body.blocks.push(nomad_hcl::tree::Block {
                                ident: ident.to_string(),
                                labels: vec![label],
                                span: Default::default(),
                                body: json_body(ident, inner)?,
                            });
                        }
                    } else {
                        body.blocks.push(nomad_hcl::tree::Block {
                            ident: ident.to_string(),
                            labels: Vec::new(),
                            span: Default::default(),
                            body: json_body(ident, item)?,
                        });
                    }
                }
            }
            None => {
                let value: nomad_hcl::Value =
                    serde_json::from_value(value).map_err(|e| format!("{key}: {e}"))?;
                body.attributes.push(nomad_hcl::tree::Attribute {
                    key,
                    key_span: Default::default(),
                    value,
                    value_span: Default::default(),
                    object_literal: false,
                });
            }
        }
    }
    Ok(body)
}

fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn str_of(b: &nomad_hcl::tree::Body, key: &str) -> Option<String> {
    b.attribute(key).and_then(|a| match json(&a.value) {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(x) => Some(x.to_string()),
        _ => None,
    })
}

fn bool_of(b: &nomad_hcl::tree::Body, key: &str) -> Option<bool> {
    b.attribute(key).and_then(|a| json(&a.value).as_bool())
}

fn num_of(b: &nomad_hcl::tree::Body, key: &str) -> Result<Option<u64>, String> {
    match b.attribute(key).map(|a| json(&a.value)) {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key}: expected a whole number")),
        Some(serde_json::Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{key}: expected a number, got {s:?}")),
        Some(_) => Err(format!("{key}: expected a number")),
    }
}

fn strings_of(b: &nomad_hcl::tree::Body, key: &str) -> Result<Option<Vec<String>>, String> {
    match b.attribute(key).map(|a| json(&a.value)) {
        None => Ok(None),
        Some(serde_json::Value::Array(l)) => l
            .into_iter()
            .map(|x| match x {
                serde_json::Value::String(s) => Ok(s),
                other => Err(format!("{key}: expected a list of strings, found {other}")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(serde_json::Value::String(s)) => Ok(Some(vec![s])),
        Some(other) => Err(format!("{key}: expected a list of strings, found {other}")),
    }
}

/// The join settings of a `server` or `server_join` block.
fn join_settings(
    b: &nomad_hcl::tree::Body,
    into: &mut JoinSettings,
    append: bool,
    block: &str,
) -> Result<(), String> {
    let ctx = |e: String| format!("{block}: {e}");
    for (key, list) in [
        ("retry_join", &mut into.retry_join),
        ("start_join", &mut into.start_join),
    ] {
        if let Some(v) = strings_of(b, key).map_err(ctx)? {
            if append {
                list.extend(v);
            } else if !v.is_empty() {
                *list = v;
            }
        }
    }
    if let Some(n) = num_of(b, "retry_max").map_err(ctx)? {
        into.retry_max =
            Some(usize::try_from(n).map_err(|_| ctx("retry_max out of range".into()))?);
    }
    if let Some(v) = str_of(b, "retry_interval") {
        into.retry_interval =
            Some(parse_duration(&v).map_err(|e| ctx(format!("retry_interval: {e}")))?);
    }
    Ok(())
}

/// Applies one parsed configuration file. Join settings are checked within
/// this file alone; [`parse`] checks them across every file and flag.
pub fn apply_body(c: &mut AgentConfig, b: &nomad_hcl::tree::Body) -> Result<(), String> {
    let mut joins = Joins::default();
    apply_body_to(c, &mut joins, b)?;
    joins.finish(c)
}

fn apply_body_to(
    c: &mut AgentConfig,
    joins: &mut Joins,
    b: &nomad_hcl::tree::Body,
) -> Result<(), String> {
    if let Some(v) = str_of(b, "region") {
        c.region = v;
    }
    if let Some(v) = str_of(b, "datacenter") {
        c.datacenter = v;
    }
    if let Some(v) = str_of(b, "name") {
        c.name = v;
    }
    if let Some(v) = str_of(b, "data_dir") {
        c.data_dir = Some(PathBuf::from(v));
    }
    if let Some(v) = str_of(b, "bind_addr") {
        c.bind_addr = v;
    }
    if let Some(v) = str_of(b, "log_level") {
        c.log_level = v.to_uppercase();
    }
    for p in b.blocks_of("ports") {
        if let Some(n) = num_of(&p.body, "http")? {
            c.http_port = u16::try_from(n).map_err(|_| "ports.http out of range")?;
        }
        if let Some(n) = num_of(&p.body, "rpc")? {
            c.rpc_port = u16::try_from(n).map_err(|_| "ports.rpc out of range")?;
        }
        if let Some(n) = num_of(&p.body, "serf")? {
            c.serf_port = u16::try_from(n).map_err(|_| "ports.serf out of range")?;
        }
    }
    for s in b.blocks_of("server") {
        if let Some(v) = bool_of(&s.body, "enabled") {
            c.server = v;
        }
        if let Some(n) = num_of(&s.body, "bootstrap_expect")? {
            c.bootstrap_expect = n as usize;
        }
        if let Some(n) = num_of(&s.body, "num_schedulers")? {
            c.num_schedulers = n as usize;
        }
        join_settings(&s.body, &mut joins.legacy, true, "server")?;
        for j in s.body.blocks_of("server_join") {
            join_settings(&j.body, &mut joins.server_join, false, "server_join")?;
        }
    }
    for s in b.blocks_of("client") {
        if let Some(v) = bool_of(&s.body, "enabled") {
            c.client = v;
        }
        if let Some(v) = str_of(&s.body, "node_class") {
            c.node_class = v;
        }
        if let Some(a) = s.body.attribute("servers") {
            if let serde_json::Value::Array(l) = json(&a.value) {
                c.servers = l
                    .into_iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
            }
        }
        if let Some(a) = s.body.attribute("meta") {
            if let serde_json::Value::Object(m) = json(&a.value) {
                for (k, v) in m {
                    c.meta.insert(
                        k,
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    );
                }
            }
        }
        for m in s.body.blocks_of("meta") {
            for a in &m.body.attributes {
                c.meta
                    .insert(a.key.clone(), str_of(&m.body, &a.key).unwrap_or_default());
            }
        }
    }
    for p in b.blocks_of("plugin") {
        let Some(name) = p.labels.first() else {
            continue;
        };
        let mut cfg = serde_json::Map::new();
        for cb in p.body.blocks_of("config") {
            for a in &cb.body.attributes {
                cfg.insert(a.key.clone(), json(&a.value));
            }
            for inner in &cb.body.blocks {
                let mut m = serde_json::Map::new();
                for a in &inner.body.attributes {
                    m.insert(a.key.clone(), json(&a.value));
                }
                cfg.insert(inner.ident.clone(), serde_json::Value::Object(m));
            }
        }
        c.plugins
            .insert(name.clone(), serde_json::Value::Object(cfg));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn dev_flags_and_config_file() {
        let c = parse(&args("-dev")).unwrap();
        assert!(c.server && c.client && c.dev);
        assert_eq!(c.bind_addr, "127.0.0.1");
        assert_eq!(c.bootstrap_expect, 1);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.hcl");
        std::fs::write(
            &f,
            "datacenter = \"east\"\nports { http = 5656 }\nserver {\n enabled = true\n bootstrap_expect = 1\n}\nplugin \"raw_exec\" {\n config { enabled = true }\n}\n",
        )
        .unwrap();
        let c = parse(&args(&format!(
            "-config {} -data-dir /tmp/x -node n1",
            f.display()
        )))
        .unwrap();
        assert_eq!(c.datacenter, "east");
        assert_eq!(c.http_port, 5656);
        assert!(c.server && !c.client);
        assert_eq!(c.name, "n1");
        assert_eq!(c.plugins["raw_exec"]["enabled"], serde_json::json!(true));
        assert!(parse(&args("-bogus")).unwrap_err().contains("-bogus"));
        assert!(parse(&args("-server"))
            .unwrap_err()
            .contains("data directory"));
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        f.display().to_string()
    }

    #[test]
    fn dev_keeps_its_defaults_for_joining() {
        let c = parse(&args("-dev")).unwrap();
        assert_eq!(
            (c.serf_port, c.retry_interval, c.retry_max),
            (4648, Duration::from_secs(30), 0)
        );
        assert!(c.retry_join.is_empty() && c.start_join.is_empty());
        assert_eq!(c, AgentConfig::dev());
        let c = parse(&args("-dev -retry-join 10.0.0.2")).unwrap();
        assert!(c.dev && c.server && c.client);
        assert_eq!(c.retry_join, ["10.0.0.2"]);
    }

    #[test]
    fn server_join_block_and_serf_port() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            &dir,
            "server.hcl",
            r#"
data_dir = "/tmp/nomad"
ports {
  serf = 5648
}
server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join     = ["10.0.0.1", "10.0.0.2:4648"]
    retry_interval = "15s"
    retry_max      = 3
  }
}
"#,
        );
        let c = parse(&args(&format!("-config {f}"))).unwrap();
        assert_eq!(c.serf_port, 5648);
        assert_eq!(c.bootstrap_expect, 3);
        assert_eq!(c.retry_join, ["10.0.0.1", "10.0.0.2:4648"]);
        assert_eq!(c.retry_interval, Duration::from_secs(15));
        assert_eq!(c.retry_max, 3);
        assert!(c.start_join.is_empty());

        // Flags fill the same block: a flag list replaces the file's.
        let c = parse(&args(&format!(
            "-config {f} -retry-join 10.0.0.7 -retry-join=10.0.0.8 -retry-interval 1m30s -retry-max 9 -bootstrap-expect 5"
        )))
        .unwrap();
        assert_eq!(c.retry_join, ["10.0.0.7", "10.0.0.8"]);
        assert_eq!(c.retry_interval, Duration::from_secs(90));
        assert_eq!(c.retry_max, 9);
        assert_eq!(c.bootstrap_expect, 5);

        // retry_join and start_join exclude each other in server_join.
        let e = parse(&args(&format!("-config {f} -join 10.0.0.9"))).unwrap_err();
        assert_eq!(e, "retry_join and start_join cannot both be defined");
    }

    #[test]
    fn older_server_attributes_and_their_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            &dir,
            "old.hcl",
            r#"
server {
  enabled        = true
  retry_join     = ["a.example"]
  start_join     = ["b.example"]
  retry_interval = "1m"
  retry_max      = 2
}
"#,
        );
        let c = parse(&args(&format!("-config {f} -data-dir /tmp/x"))).unwrap();
        assert_eq!(c.retry_join, ["a.example"]);
        assert_eq!(c.start_join, ["b.example"]);
        assert_eq!(c.retry_interval, Duration::from_secs(60));
        assert_eq!(c.retry_max, 2);

        // Several files add their older lists up; -join is start_join.
        let g = write(
            &dir,
            "more.hcl",
            "server {\n retry_join = [\"c.example\"]\n}\n",
        );
        let c = parse(&args(&format!("-config {f} -config {g} -data-dir /x"))).unwrap();
        assert_eq!(c.retry_join, ["a.example", "c.example"]);
        let h = write(&dir, "plain.hcl", "server {\n enabled = true\n}\n");
        let c = parse(&args(&format!(
            "-config {h} -data-dir /x -join s1 -join s2:4648"
        )))
        .unwrap();
        assert_eq!(c.start_join, ["s1", "s2:4648"]);

        // Mixing them with server_join is refused, in Nomad's words.
        let e = parse(&args(&format!("-config {f} -data-dir /x -retry-join z"))).unwrap_err();
        assert_eq!(
            e,
            "server_join and retry_join cannot both be defined; prefer setting the server_join block"
        );
        let e = parse(&args(&format!(
            "-config {h} -config {g} -data-dir /x -retry-join z"
        )))
        .unwrap_err();
        assert!(e.starts_with("server_join and retry_join"), "{e}");
    }

    #[test]
    fn bad_join_settings_are_clear_errors() {
        assert_eq!(
            parse(&args("-dev -retry-join")).unwrap_err(),
            "flag needs an argument: -retry-join"
        );
        let e = parse(&args("-dev -retry-interval soon")).unwrap_err();
        assert!(
            e.starts_with("invalid -retry-interval: time: invalid duration"),
            "{e}"
        );
        assert!(parse(&args("-dev -retry-max -1"))
            .unwrap_err()
            .contains("-retry-max"));
        assert_eq!(
            parse(&args("-dev -retry-joins=x")).unwrap_err(),
            "flag provided but not defined: -retry-joins"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            &dir,
            "bad.hcl",
            "server {\n server_join {\n retry_interval = \"often\"\n }\n}\n",
        );
        let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
        assert!(
            e.starts_with("Error loading configuration from ")
                && e.contains("server_join: retry_interval: time: invalid duration"),
            "{e}"
        );
        let f = write(&dir, "bad2.hcl", "server {\n retry_join = [1]\n}\n");
        let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
        assert!(
            e.contains("server: retry_join: expected a list of strings"),
            "{e}"
        );
        let f = write(&dir, "bad3.hcl", "ports {\n serf = 70000\n}\n");
        let e = parse(&args(&format!("-dev -config {f}"))).unwrap_err();
        assert!(e.contains("ports.serf out of range"), "{e}");
    }

    #[test]
    fn json_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            &dir,
            "agent.json",
            r#"{
  "data_dir": "/tmp/nomad",
  "datacenter": "east",
  "ports": {"http": 5656, "serf": 4700},
  "server": {
    "enabled": true,
    "bootstrap_expect": 3,
    "server_join": [{"retry_join": ["10.0.0.1"], "retry_max": 4}]
  },
  "client": {"enabled": true, "meta": {"rack": "r1"}},
  "plugin": {"raw_exec": {"config": {"enabled": true}}}
}"#,
        );
        let c = parse(&args(&format!("-config {f}"))).unwrap();
        assert_eq!(c.datacenter, "east");
        assert_eq!((c.http_port, c.serf_port), (5656, 4700));
        assert!(c.server && c.client);
        assert_eq!(c.bootstrap_expect, 3);
        assert_eq!(c.retry_join, ["10.0.0.1"]);
        assert_eq!(c.retry_max, 4);
        assert_eq!(c.meta["rack"], "r1");
        assert_eq!(c.plugins["raw_exec"]["enabled"], serde_json::json!(true));
        let g = write(&dir, "broken.json", "{\"server\": ");
        let e = parse(&args(&format!("-config {g}"))).unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
    }
}
