//! The keys an agent configuration may hold, as Nomad's agent accepts
//! them: a key Nomad does not know is an error naming its `file:line:col`
//! (a typo must not be ignored silently). Keys Nomad knows but this agent
//! does not use yet are accepted; the blocks listed in [`OPAQUE`] are not
//! looked into.

use nomad_hcl::{Body, Span};

const TOP: &[&str] = &[
    "region",
    "datacenter",
    "name",
    "data_dir",
    "plugin_dir",
    "log_level",
    "log_json",
    "log_file",
    "log_rotate_duration",
    "log_rotate_bytes",
    "log_rotate_max_files",
    "log_include_location",
    "bind_addr",
    "enable_debug",
    "ports",
    "addresses",
    "advertise",
    "client",
    "server",
    "telemetry",
    "leave_on_interrupt",
    "leave_on_terminate",
    "enable_syslog",
    "syslog_facility",
    "disable_update_check",
    "disable_anonymous_signature",
    "consul",
    "vault",
    "tls",
    "http_api_response_headers",
    "acl",
    "sentinel",
    "autopilot",
    "plugin",
    "limits",
    "audit",
    "ui",
    "reporting",
    "keyring",
];

const PORTS: &[&str] = &["http", "rpc", "serf"];

const SERVER: &[&str] = &[
    "enabled",
    "bootstrap_expect",
    "data_dir",
    "protocol_version",
    "raft_protocol",
    "raft_multiplier",
    "num_schedulers",
    "enabled_schedulers",
    "node_gc_threshold",
    "eval_gc_threshold",
    "batch_eval_gc_threshold",
    "job_gc_threshold",
    "job_gc_interval",
    "deployment_gc_threshold",
    "csi_volume_claim_gc_threshold",
    "csi_volume_claim_gc_interval",
    "csi_plugin_gc_threshold",
    "acl_token_gc_threshold",
    "root_key_gc_interval",
    "root_key_gc_threshold",
    "root_key_rotation_threshold",
    "heartbeat_grace",
    "min_heartbeat_ttl",
    "max_heartbeats_per_second",
    "failover_heartbeat_ttl",
    "rejoin_after_leave",
    "encrypt",
    "authoritative_region",
    "non_voting_server",
    "redundancy_zone",
    "upgrade_version",
    "server_join",
    "retry_join",
    "retry_max",
    "retry_interval",
    "start_join",
    "default_scheduler_config",
    "plan_rejection_tracker",
    "license_path",
    "event_buffer_size",
    "raft_snapshot_threshold",
    "raft_snapshot_interval",
    "raft_trailing_logs",
    "raft_boltdb",
    "search",
    "job_max_priority",
    "job_default_priority",
    "job_tracked_versions",
    "deployment_query_rate_limit",
    "oidc_issuer",
    "start_timeout",
];

const CLIENT: &[&str] = &[
    "enabled",
    "state_dir",
    "alloc_dir",
    "alloc_mounts_dir",
    "servers",
    "node_class",
    "node_pool",
    "options",
    "meta",
    "network_interface",
    "preferred_address_family",
    "network_speed",
    "cpu_total_compute",
    "memory_total_mb",
    "disk_total_mb",
    "disk_free_mb",
    "max_kill_timeout",
    "max_dynamic_port",
    "min_dynamic_port",
    "reserved",
    "chroot_env",
    "host_volume",
    "host_network",
    "gc_interval",
    "gc_disk_usage_threshold",
    "gc_inode_usage_threshold",
    "gc_parallel_destroys",
    "gc_max_allocs",
    "gc_volumes_on_node_gc",
    "no_host_uuid",
    "server_join",
    "template",
    "artifact",
    "cni_path",
    "cni_config_dir",
    "bridge_network_name",
    "bridge_network_subnet",
    "bridge_network_subnet_ipv6",
    "bridge_network_hairpin_mode",
    "cgroup_parent",
    "host_volumes_dir",
    "host_volume_plugin_dir",
    "drain_on_shutdown",
    "nomad_service_discovery",
    "reservable_cores",
    "disable_remote_exec",
    "users",
    "node_max_allocs",
    "fingerprint",
    "common_plugin_dir",
];

const SERVER_JOIN: &[&str] = &["retry_join", "retry_max", "retry_interval", "start_join"];

const PLUGIN: &[&str] = &["config", "args"];

/// Blocks whose contents are not checked (free-form, or settings this
/// agent does not use).
const OPAQUE: &[&str] = &[
    "addresses",
    "advertise",
    "telemetry",
    "consul",
    "vault",
    "tls",
    "http_api_response_headers",
    "acl",
    "sentinel",
    "autopilot",
    "limits",
    "audit",
    "ui",
    "reporting",
    "keyring",
    "options",
    "meta",
    "reserved",
    "chroot_env",
    "host_volume",
    "host_network",
    "template",
    "artifact",
    "drain_on_shutdown",
    "default_scheduler_config",
    "plan_rejection_tracker",
    "raft_boltdb",
    "search",
    "config",
    "users",
    "fingerprint",
];

fn known(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "" => Some(TOP),
        "ports" => Some(PORTS),
        "server" => Some(SERVER),
        "client" => Some(CLIENT),
        "server_join" => Some(SERVER_JOIN),
        "plugin" => Some(PLUGIN),
        _ => None,
    }
}

fn at(span: &Span) -> String {
    if span.file.is_empty() || span.start.line == 0 {
        String::new()
    } else {
        format!("{span}: ")
    }
}

fn unknown(key: &str, block: &str, keys: &[&str], span: &Span) -> String {
    let within = if block.is_empty() {
        "the agent configuration".to_string()
    } else {
        format!("the {block} block")
    };
    let hint = nomad_hcl::did_you_mean(key, keys)
        .map(|k| format!("; did you mean {k:?}?"))
        .unwrap_or_default();
    format!("{}unknown key {key:?} in {within}{hint}", at(span))
}

/// Checks every key of an agent configuration file.
pub fn check(body: &Body) -> Result<(), String> {
    check_block(body, "")
}

fn check_block(body: &Body, block: &str) -> Result<(), String> {
    let Some(keys) = known(block) else {
        return Ok(());
    };
    for a in &body.attributes {
        if !keys.contains(&a.key.as_str()) {
            return Err(unknown(&a.key, block, keys, &a.key_span));
        }
    }
    for b in &body.blocks {
        if !keys.contains(&b.ident.as_str()) {
            return Err(unknown(&b.ident, block, keys, &b.span));
        }
        if !OPAQUE.contains(&b.ident.as_str()) {
            check_block(&b.body, &b.ident)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_src(src: &str) -> Result<(), String> {
        let body = nomad_hcl::parse_config(src, "agent.hcl").map_err(|e| e.to_string())?;
        check(&body)
    }

    #[test]
    fn nomads_keys_are_accepted() {
        check_src(
            "data_dir = \"/tmp\"\nleave_on_interrupt = true\ntelemetry {\n  anything = 1\n}\n\
             server {\n  enabled = true\n  event_buffer_size = 10\n  server_join {\n    retry_join = [\"a\"]\n  }\n}\n\
             client {\n  enabled = true\n  reserved {\n    cpu = 10\n  }\n}\n\
             plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n",
        )
        .expect("valid");
    }

    #[test]
    fn unknown_keys_name_their_position() {
        assert_eq!(
            check_src("server {\n  enabled = true\n  event_bufer_size = 10\n}\n").unwrap_err(),
            "agent.hcl:3:3: unknown key \"event_bufer_size\" in the server block; \
             did you mean \"event_buffer_size\"?"
        );
        assert_eq!(
            check_src("datacentre = \"x\"\n").unwrap_err(),
            "agent.hcl:1:1: unknown key \"datacentre\" in the agent configuration; \
             did you mean \"datacenter\"?"
        );
        assert_eq!(
            check_src("server {\n  server_join {\n    retry_joins = []\n  }\n}\n").unwrap_err(),
            "agent.hcl:3:5: unknown key \"retry_joins\" in the server_join block; \
             did you mean \"retry_join\"?"
        );
    }
}
