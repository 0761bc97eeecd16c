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
    /// Log level (`INFO`, `DEBUG` in dev mode).
    pub log_level: String,
    /// Run a server.
    pub server: bool,
    /// `server { bootstrap_expect }`.
    pub bootstrap_expect: usize,
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
            log_level: "INFO".into(),
            server: false,
            bootstrap_expect: 0,
            num_schedulers: 0,
            client: false,
            servers: Vec::new(),
            node_class: String::new(),
            meta: BTreeMap::new(),
            plugins: BTreeMap::new(),
        }
    }
}

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
    for (k, v) in &flags {
        if k == "config" {
            let path = v.clone().unwrap_or_default();
            load_path(&mut c, Path::new(&path))?;
        }
    }
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
            other => return Err(format!("flag provided but not defined: -{other}")),
        }
    }
    if !c.server && !c.client {
        return Err("Must specify either server, client or dev mode for the agent.".into());
    }
    if !c.dev && c.data_dir.is_none() {
        return Err("Must specify data directory".into());
    }
    Ok(c)
}

fn load_path(c: &mut AgentConfig, path: &Path) -> Result<(), String> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hcl" || x == "json"))
            .collect();
        files.sort();
        for f in files {
            load_file(c, &f)?;
        }
        Ok(())
    } else {
        load_file(c, path)
    }
}

fn load_file(c: &mut AgentConfig, path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading configuration from {}: {e}", path.display()))?;
    let body = nomad_hcl::parse_config(&src, &path.to_string_lossy())
        .map_err(|e| format!("Error loading configuration from {}: {e}", path.display()))?;
    apply_body(c, &body)
        .map_err(|e| format!("Error loading configuration from {}: {e}", path.display()))
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

/// Applies one parsed configuration file.
pub fn apply_body(c: &mut AgentConfig, b: &nomad_hcl::tree::Body) -> Result<(), String> {
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
}
