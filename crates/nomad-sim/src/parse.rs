//! The cluster configuration text format: `key = value` lines, grouped by
//! `[nodes <name>]` and `[job <name>]` headers, `#` comments.
//!
//! ```text
//! seed      = 42
//! algorithm = binpack            # or spread
//! workers   = 2                  # schedulers planning at once
//!
//! [nodes small]                  # a group of identical nodes
//! count      = 100
//! datacenter = dc1
//! class      = general
//! cpu        = 4000              # MHz
//! cores      = 4
//! memory     = 16384             # MB
//! disk       = 102400            # MB
//! attr.rack  = r1, r2, r3        # several values are handed out in turn
//! meta.tier  = gold
//!
//! [job web]
//! type        = service          # service, batch, system, sysbatch
//! count       = 20
//! copies      = 1                # register this many such jobs
//! datacenters = dc1, dc2
//! cpu         = 250
//! memory      = 512
//! constraint  = ${meta.tier} = gold    # repeatable: left operator right
//! spread      = ${attr.rack} 50        # attribute [weight]
//! affinity    = ${node.class} = general 50
//! ports       = http
//! ```
//!
//! Other keys: top level `preemption` (job types, comma-separated),
//! `memory_oversubscription`, `client_ack` (`immediate` or `none`),
//! `record_placements`; nodes `pool`, `reserved_cpu`, `reserved_memory`,
//! `reserved_disk`, `drivers`, `max_allocs`; jobs `group`, `driver`,
//! `pool`, `priority`, `disk`, `distinct_hosts`, `all_at_once`.
//! Values may be quoted with `"`. Every problem is reported with its line.

use nomad_types::{Affinity, Constraint, Spread};

use crate::error::SimError;
use crate::spec::{ClusterSpec, JobTemplate, NodeGroup, OPERATORS};
use crate::store::ClientAck;

enum Section {
    Top,
    Nodes(usize),
    Job(usize),
}

/// Parses a cluster configuration.
pub fn parse_config(text: &str) -> Result<ClusterSpec, SimError> {
    let mut spec = ClusterSpec::default();
    let mut section = Section::Top;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| SimError::Config { line, message };
        let content = strip_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        if let Some(header) = content.strip_prefix('[') {
            let header = header
                .strip_suffix(']')
                .ok_or_else(|| err("a section header must end with ']'".into()))?;
            let (kind, name) = header
                .trim()
                .split_once(|c: char| c == '.' || c.is_whitespace())
                .map(|(k, n)| (k.trim(), unquote(n.trim())))
                .ok_or_else(|| err(format!("section [{header}] needs a name")))?;
            if name.is_empty() {
                return Err(err(format!("section [{header}] needs a name")));
            }
            section = match kind {
                "nodes" | "node" => {
                    spec.node_groups.push(NodeGroup::new(name, 1));
                    Section::Nodes(spec.node_groups.len() - 1)
                }
                "job" => {
                    spec.jobs.push(JobTemplate::new(name, 1));
                    Section::Job(spec.jobs.len() - 1)
                }
                other => {
                    return Err(err(format!(
                        "unknown section [{other} …]: expected [nodes <name>] or [job <name>]"
                    )))
                }
            };
            continue;
        }
        let (key, value) = content
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| err(format!("expected `key = value`, found {content:?}")))?;
        let result = match section {
            Section::Top => top(&mut spec, key, value),
            Section::Nodes(n) => nodes(&mut spec.node_groups[n], key, value),
            Section::Job(j) => job(&mut spec.jobs[j], key, value),
        };
        result.map_err(err)?;
    }
    Ok(spec)
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(unquote)
        .filter(|s| !s.is_empty())
        .collect()
}

fn int<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    unquote(v)
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{key}: {v:?} is not a valid number"))
}

fn boolean(key: &str, v: &str) -> Result<bool, String> {
    match unquote(v).as_str() {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        other => Err(format!("{key}: expected true or false, found {other:?}")),
    }
}

fn top(spec: &mut ClusterSpec, key: &str, v: &str) -> Result<(), String> {
    match key {
        "seed" => spec.options.seed = int(key, v)?,
        "workers" => spec.options.workers = int::<usize>(key, v)?.max(1),
        "algorithm" => {
            let a = unquote(v);
            if a != "binpack" && a != "spread" {
                return Err(format!(
                    "algorithm: expected binpack or spread, found {a:?}"
                ));
            }
            spec.scheduler.algorithm = a;
        }
        "preemption" => {
            let types = list(v);
            if let Some(bad) = types
                .iter()
                .find(|t| !matches!(t.as_str(), "service" | "batch" | "system" | "sysbatch"))
            {
                return Err(format!("preemption: unknown job type {bad:?}"));
            }
            spec.scheduler.preemption = types;
        }
        "memory_oversubscription" => spec.scheduler.memory_oversubscription = boolean(key, v)?,
        "client_ack" => {
            spec.options.client_ack = match unquote(v).as_str() {
                "immediate" => ClientAck::Immediate,
                "none" => ClientAck::None,
                other => {
                    return Err(format!(
                        "client_ack: expected immediate or none, found {other:?}"
                    ))
                }
            }
        }
        "record_placements" => spec.options.record_placements = boolean(key, v)?,
        other => return Err(format!("unknown top-level key {other:?}")),
    }
    Ok(())
}

fn nodes(g: &mut NodeGroup, key: &str, v: &str) -> Result<(), String> {
    if let Some(attr) = key.strip_prefix("attr.") {
        g.attributes.insert(attr.to_string(), list(v));
        return Ok(());
    }
    if let Some(meta) = key.strip_prefix("meta.") {
        g.meta.insert(meta.to_string(), list(v));
        return Ok(());
    }
    match key {
        "count" => g.count = int(key, v)?,
        "datacenter" => g.datacenter = unquote(v),
        "class" => g.node_class = unquote(v),
        "pool" => g.node_pool = unquote(v),
        "cpu" => g.cpu_mhz = int(key, v)?,
        "cores" => g.cores = int(key, v)?,
        "memory" => g.memory_mb = int(key, v)?,
        "disk" => g.disk_mb = int(key, v)?,
        "reserved_cpu" => g.reserved.0 = int(key, v)?,
        "reserved_memory" => g.reserved.1 = int(key, v)?,
        "reserved_disk" => g.reserved.2 = int(key, v)?,
        "drivers" => g.drivers = list(v),
        "max_allocs" => g.max_allocs = int(key, v)?,
        other => return Err(format!("unknown node key {other:?}")),
    }
    Ok(())
}

/// `left operator right` (or `left is_set`).
fn constraint(v: &str) -> Result<Constraint, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    match parts.as_slice() {
        [l, op] if OPERATORS.contains(op) => Ok(Constraint::new(unquote(l), *op, "")),
        [l, op, rest @ ..] if OPERATORS.contains(op) => {
            Ok(Constraint::new(unquote(l), *op, unquote(&rest.join(" "))))
        }
        _ => Err(format!(
            "constraint: expected `<attribute> <operator> <value>`, found {v:?}"
        )),
    }
}

fn weight(key: &str, w: &str) -> Result<i8, String> {
    let w: i64 = int(key, w)?;
    i8::try_from(w)
        .ok()
        .filter(|w| (-100..=100).contains(w))
        .ok_or_else(|| format!("{key}: weight {w} is outside -100..100"))
}

fn job(j: &mut JobTemplate, key: &str, v: &str) -> Result<(), String> {
    match key {
        "type" => {
            let t = unquote(v);
            if !matches!(t.as_str(), "service" | "batch" | "system" | "sysbatch") {
                return Err(format!("type: unknown job type {t:?}"));
            }
            j.job_type = t;
        }
        "count" => j.count = int(key, v)?,
        "copies" => j.copies = int(key, v)?,
        "group" => j.group = unquote(v),
        "driver" => j.driver = unquote(v),
        "datacenters" => j.datacenters = list(v),
        "pool" => j.node_pool = Some(unquote(v)),
        "priority" => j.priority = Some(int(key, v)?),
        "cpu" => j.cpu_mhz = int(key, v)?,
        "memory" => j.memory_mb = int(key, v)?,
        "disk" => j.disk_mb = Some(int(key, v)?),
        "ports" => j.ports = list(v),
        "all_at_once" => j.all_at_once = boolean(key, v)?,
        "distinct_hosts" => {
            if boolean(key, v)? {
                j.constraints
                    .push(Constraint::new("", "distinct_hosts", "true"));
            }
        }
        "constraint" => j.constraints.push(constraint(v)?),
        "affinity" => {
            let mut parts: Vec<&str> = v.split_whitespace().collect();
            let w = match parts.last() {
                Some(last) if parts.len() >= 4 => {
                    let w = weight(key, last)?;
                    parts.pop();
                    w
                }
                _ => 50,
            };
            let c = constraint(&parts.join(" "))?;
            j.affinities.push(Affinity {
                l_target: c.l_target,
                r_target: c.r_target,
                operand: c.operand,
                weight: Some(w),
            });
        }
        "spread" => {
            let parts: Vec<&str> = v.split_whitespace().collect();
            let (attribute, w) = match parts.as_slice() {
                [a] => (unquote(a), 50),
                [a, w] => (unquote(a), weight(key, w)?),
                _ => {
                    return Err(format!(
                        "spread: expected `<attribute> [weight]`, found {v:?}"
                    ))
                }
            };
            j.spreads.push(Spread {
                attribute,
                weight: Some(w),
                spread_target: Vec::new(),
            });
        }
        other => return Err(format!("unknown job key {other:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example() {
        let text = include_str!("parse.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```text"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let spec = parse_config(&text).expect("example parses");
        assert_eq!(spec.options.seed, 42);
        assert_eq!(spec.options.workers, 2);
        let g = &spec.node_groups[0];
        assert_eq!(
            (g.name.as_str(), g.count, g.memory_mb),
            ("small", 100, 16384)
        );
        assert_eq!(g.attributes["rack"], vec!["r1", "r2", "r3"]);
        let j = &spec.jobs[0];
        assert_eq!(j.datacenters, vec!["dc1", "dc2"]);
        assert_eq!(
            j.constraints[0],
            Constraint::new("${meta.tier}", "=", "gold")
        );
        assert_eq!(j.spreads[0].weight, Some(50));
        assert_eq!(j.affinities[0].r_target, "general");
        assert_eq!(j.ports, vec!["http"]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_config("seed = 1\n[nodes a]\ncuont = 3\n").unwrap_err();
        assert_eq!(
            e,
            SimError::Config {
                line: 3,
                message: "unknown node key \"cuont\"".into()
            }
        );
        assert!(matches!(
            parse_config("[job x]\ncount = lots"),
            Err(SimError::Config { line: 2, .. })
        ));
        assert!(parse_config("[job x]\nconstraint = a ~ b").is_err());
        assert!(parse_config("[cluster x]").is_err());
        assert!(parse_config("[job]").is_err());
    }
}
