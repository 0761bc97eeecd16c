//! The agent's configuration files: HCL through `nomad-hcl`, JSON read
//! into the same tree, a directory's `.hcl` and `.json` files in order.

use std::path::{Path, PathBuf};

use super::joins::{join_settings, Joins};
use super::AgentConfig;

pub(super) fn load_path(c: &mut AgentConfig, joins: &mut Joins, path: &Path) -> Result<(), String> {
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

pub(super) fn str_of(b: &nomad_hcl::tree::Body, key: &str) -> Option<String> {
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

pub(super) fn num_of(b: &nomad_hcl::tree::Body, key: &str) -> Result<Option<u64>, String> {
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

pub(super) fn strings_of(
    b: &nomad_hcl::tree::Body,
    key: &str,
) -> Result<Option<Vec<String>>, String> {
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

/// Applies one parsed configuration file. Join settings are checked within
/// this file alone; [`super::parse`] checks them across every file and flag.
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
    super::schema::check(b)?;
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
        if let Some(n) = num_of(&s.body, "event_buffer_size").map_err(|e| format!("server.{e}"))? {
            c.event_buffer_size =
                Some(usize::try_from(n).map_err(|_| "server.event_buffer_size out of range")?);
        }
        for key in super::GC_KEYS {
            if let Some(v) = str_of(&s.body, key) {
                let d =
                    super::flags::parse_duration(&v).map_err(|e| format!("server.{key}: {e}"))?;
                c.gc.insert(key.to_string(), d);
            }
        }
        for (key, slot) in [
            ("raft_snapshot_threshold", &mut c.raft_snapshot_threshold),
            ("raft_trailing_logs", &mut c.raft_trailing_logs),
        ] {
            if let Some(n) = num_of(&s.body, key).map_err(|e| format!("server.{e}"))? {
                if n == 0 {
                    return Err(format!("server.{key} must be a positive number"));
                }
                *slot = Some(n);
            }
        }
        for (key, slot) in [
            ("heartbeat_grace", &mut c.heartbeat_grace),
            ("min_heartbeat_ttl", &mut c.min_heartbeat_ttl),
            ("raft_snapshot_interval", &mut c.raft_snapshot_interval),
        ] {
            if let Some(v) = str_of(&s.body, key) {
                *slot = Some(
                    super::flags::parse_duration(&v).map_err(|e| format!("server.{key}: {e}"))?,
                );
            }
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
