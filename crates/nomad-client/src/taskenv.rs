//! A task's environment (Nomad's `taskenv`): the `NOMAD_*` variables, the
//! job's `env` block, the host's environment, and `${…}` interpolation of
//! those plus `${attr.*}`, `${node.*}`, `${meta.*}` and `${env.*}` in
//! driver config, env values and artifact/template fields.

use std::collections::BTreeMap;

use nomad_driver::{FsIsolation, TaskDirs};
use nomad_types::{Allocation, Node, Task};
use serde_json::Value;

/// The environment of one task and the node values interpolation sees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskEnv {
    /// Environment variables of the task.
    pub env: BTreeMap<String, String>,
    /// `node.*`, `attr.*`, `meta.*` values.
    pub node_attrs: BTreeMap<String, String>,
}

/// Inputs of [`TaskEnv::build`].
#[derive(Debug, Clone, Copy)]
pub struct EnvInputs<'a> {
    /// The node.
    pub node: &'a Node,
    /// The allocation (with its job).
    pub alloc: &'a Allocation,
    /// The task.
    pub task: &'a Task,
    /// Its directories on the host.
    pub dirs: &'a TaskDirs,
    /// How the driver isolates the file system: `None` gets host paths,
    /// others `/alloc`, `/local`, `/secrets`.
    pub fs_isolation: FsIsolation,
    /// Region of the client.
    pub region: &'a str,
    /// Host variables the task must not inherit.
    pub env_denylist: &'a [String],
    /// Variables from `env = true` templates (override everything).
    pub template_env: &'a BTreeMap<String, String>,
}

impl TaskEnv {
    /// The node values alone (for interpolation before a task env exists).
    pub fn node_attrs(node: &Node, region: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("node.unique.id".into(), node.id.clone());
        m.insert("node.unique.name".into(), node.name.clone());
        m.insert("node.datacenter".into(), node.datacenter.clone());
        m.insert("node.region".into(), region.to_string());
        m.insert("node.class".into(), node.node_class.clone());
        m.insert("node.pool".into(), node.node_pool.clone());
        for (k, v) in &node.attributes {
            m.insert(format!("attr.{k}"), v.clone());
        }
        for (k, v) in &node.meta {
            m.insert(format!("meta.{k}"), v.clone());
        }
        m
    }

    /// Builds the task's environment as Nomad does: `NOMAD_*` values, task
    /// meta, the host environment (not overriding), the task's `env`
    /// (interpolated, overriding), then template variables.
    pub fn build(i: EnvInputs<'_>) -> TaskEnv {
        let node_attrs = Self::node_attrs(i.node, i.region);
        let mut env = BTreeMap::new();
        let alloc = i.alloc;
        let job = alloc.job.as_deref();

        let (alloc_dir, local_dir, secrets_dir) = match i.fs_isolation {
            FsIsolation::None => (
                i.dirs.shared_alloc_dir.display().to_string(),
                i.dirs.local_dir.display().to_string(),
                i.dirs.secrets_dir.display().to_string(),
            ),
            _ => ("/alloc".into(), "/local".into(), "/secrets".into()),
        };
        env.insert("NOMAD_ALLOC_DIR".into(), alloc_dir);
        env.insert("NOMAD_TASK_DIR".into(), local_dir);
        env.insert("NOMAD_SECRETS_DIR".into(), secrets_dir);

        let tr = alloc
            .allocated_resources
            .as_ref()
            .and_then(|r| r.tasks.get(&i.task.name));
        let (cpu, mem, mem_max, cores) = match tr {
            Some(tr) => (
                tr.cpu.cpu_shares,
                tr.memory.memory_mb,
                tr.memory.memory_max_mb,
                tr.cpu.reserved_cores.clone(),
            ),
            None => {
                let r = i.task.resources.clone().unwrap_or_default();
                (
                    r.cpu.unwrap_or(nomad_types::resources::DEFAULT_CPU),
                    r.memory_mb
                        .unwrap_or(nomad_types::resources::DEFAULT_MEMORY_MB),
                    r.memory_max_mb.unwrap_or(0),
                    Vec::new(),
                )
            }
        };
        if mem != 0 {
            env.insert("NOMAD_MEMORY_LIMIT".into(), mem.to_string());
        }
        if mem_max != 0 {
            env.insert("NOMAD_MEMORY_MAX_LIMIT".into(), mem_max.to_string());
        }
        if cpu != 0 {
            env.insert("NOMAD_CPU_LIMIT".into(), cpu.to_string());
        }
        if !cores.is_empty() {
            env.insert("NOMAD_CPU_CORES".into(), cpuset_string(&cores));
        }

        if !alloc.id.is_empty() {
            env.insert("NOMAD_ALLOC_ID".into(), alloc.id.clone());
            env.insert(
                "NOMAD_SHORT_ALLOC_ID".into(),
                alloc.id.get(..8).unwrap_or(&alloc.id).to_string(),
            );
        }
        set(&mut env, "NOMAD_ALLOC_NAME", &alloc.name);
        set(&mut env, "NOMAD_GROUP_NAME", &alloc.task_group);
        env.insert("NOMAD_ALLOC_INDEX".into(), alloc.index().to_string());
        set(&mut env, "NOMAD_TASK_NAME", &i.task.name);
        if let Some(job) = job {
            set(&mut env, "NOMAD_JOB_ID", job.id());
            set(&mut env, "NOMAD_JOB_NAME", job.name());
            set(
                &mut env,
                "NOMAD_JOB_PARENT_ID",
                job.parent_id.as_deref().unwrap_or(""),
            );
        } else {
            set(&mut env, "NOMAD_JOB_ID", &alloc.job_id);
        }
        set(&mut env, "NOMAD_DC", &i.node.datacenter);
        set(&mut env, "NOMAD_NAMESPACE", &alloc.namespace);
        set(&mut env, "NOMAD_REGION", i.region);

        build_ports(&mut env, alloc, &i.task.name);

        // Meta: job < group < task, as NOMAD_META_<key> and upper-cased.
        let mut meta = BTreeMap::new();
        if let Some(job) = job {
            meta.extend(job.meta.clone());
            if let Some(g) = alloc.task_group_spec() {
                meta.extend(g.meta.clone());
            }
        }
        meta.extend(i.task.meta.clone());
        let snapshot = env.clone();
        for (k, v) in meta {
            let v = replace_env(&v, &[&node_attrs, &snapshot]);
            env.insert(format!("NOMAD_META_{}", k.to_uppercase()), v.clone());
            env.insert(format!("NOMAD_META_{k}"), v);
        }

        for (k, v) in std::env::vars() {
            if i.env_denylist.iter().any(|d| d == &k) || env.contains_key(&k) {
                continue;
            }
            env.insert(k, v);
        }

        for (k, v) in &i.task.env {
            let v = replace_env(v, &[&node_attrs, &env]);
            env.insert(k.clone(), v);
        }
        for (k, v) in i.template_env {
            env.insert(k.clone(), v.clone());
        }

        let env = env
            .into_iter()
            .map(|(k, v)| {
                const CLEAN: [&str; 5] = [
                    "NOMAD_ADDR_",
                    "NOMAD_IP_",
                    "NOMAD_PORT_",
                    "NOMAD_HOST_PORT_",
                    "NOMAD_META_",
                ];
                if CLEAN.iter().any(|p| k.starts_with(p)) {
                    (clean_env_var(&k), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        TaskEnv { env, node_attrs }
    }

    /// Replaces `${…}` references; unknown ones are left as written.
    pub fn replace(&self, s: &str) -> String {
        replace_env(s, &[&self.node_attrs, &self.env])
    }

    /// Interpolates every string inside a JSON value (driver config).
    pub fn replace_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.replace(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.replace_value(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.replace_value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn set(env: &mut BTreeMap<String, String>, k: &str, v: &str) {
    if !v.is_empty() {
        env.insert(k.to_string(), v.to_string());
    }
}

fn cpuset_string(cores: &[u16]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cores.len() {
        let start = cores[i];
        let mut end = start;
        while i + 1 < cores.len() && cores[i + 1] == end + 1 {
            i += 1;
            end = cores[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn join_host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Port variables from the allocation's networks and port mappings.
fn build_ports(env: &mut BTreeMap<String, String>, alloc: &Allocation, task: &str) {
    let Some(res) = &alloc.allocated_resources else {
        return;
    };
    if let Some(tr) = res.tasks.get(task) {
        for n in &tr.networks {
            for p in n.ports() {
                let port = p.value.to_string();
                env.insert(format!("NOMAD_IP_{}", p.label), n.ip.clone());
                env.insert(format!("NOMAD_HOST_PORT_{}", p.label), port.clone());
                env.insert(
                    format!("NOMAD_ADDR_{}", p.label),
                    join_host_port(&n.ip, p.value),
                );
                env.insert(format!("NOMAD_PORT_{}", p.label), port);
            }
        }
    }
    for (other, tr) in &res.tasks {
        if other == task {
            continue;
        }
        for n in &tr.networks {
            for p in n.ports() {
                env.insert(
                    format!("NOMAD_ADDR_{other}_{}", p.label),
                    join_host_port(&n.ip, p.value),
                );
                env.insert(format!("NOMAD_IP_{other}_{}", p.label), n.ip.clone());
                env.insert(
                    format!("NOMAD_PORT_{other}_{}", p.label),
                    p.value.to_string(),
                );
            }
        }
    }
    for n in &res.shared.networks {
        for p in n.ports() {
            let v = if p.to > 0 { p.to } else { p.value };
            env.insert(format!("NOMAD_PORT_{}", p.label), v.to_string());
            env.insert(format!("NOMAD_HOST_PORT_{}", p.label), p.value.to_string());
        }
    }
    for p in &res.shared.ports {
        let hp = p.value.to_string();
        let addr = join_host_port(&p.host_ip, p.value);
        env.insert(format!("NOMAD_ADDR_{}", p.label), addr.clone());
        env.insert(format!("NOMAD_HOST_ADDR_{}", p.label), addr);
        env.insert(format!("NOMAD_IP_{}", p.label), p.host_ip.clone());
        env.insert(format!("NOMAD_HOST_IP_{}", p.label), p.host_ip.clone());
        let v = if p.to > 0 { p.to } else { p.value }.to_string();
        env.insert(format!("NOMAD_PORT_{}", p.label), v.clone());
        env.insert(format!("NOMAD_ALLOC_PORT_{}", p.label), v);
        env.insert(format!("NOMAD_HOST_PORT_{}", p.label), hp);
    }
}

/// Nomad's `CleanEnvVar`: characters other than `[A-Za-z0-9_]` become `_`.
pub fn clean_env_var(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Replaces each `${name}` (name of `[A-Za-z0-9_.-]`) found in one of the
/// maps, first map first; `${env.X}` looks `X` up in the maps too. Others
/// are kept as written.
pub fn replace_env(s: &str, maps: &[&BTreeMap<String, String>]) -> String {
    if !s.contains("${") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(after.len());
        if end > 0 && after[end..].starts_with('}') {
            let name = &after[..end];
            let found = maps.iter().find_map(|m| m.get(name)).or_else(|| {
                name.strip_prefix("env.")
                    .and_then(|k| maps.iter().rev().find_map(|m| m.get(k)))
            });
            match found {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_known_and_keeps_unknown() {
        let mut a = BTreeMap::new();
        a.insert("attr.kernel.name".to_string(), "linux".to_string());
        let mut e = BTreeMap::new();
        e.insert("NOMAD_ALLOC_ID".to_string(), "abc".to_string());
        let s = replace_env(
            "${attr.kernel.name}/${NOMAD_ALLOC_ID}/${env.NOMAD_ALLOC_ID}/${nope}/${ bad}/$${x",
            &[&a, &e],
        );
        assert_eq!(s, "linux/abc/abc/${nope}/${ bad}/$${x");
        assert_eq!(cpuset_string(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(clean_env_var("NOMAD_META_a.b-c"), "NOMAD_META_a_b_c");
    }
}
