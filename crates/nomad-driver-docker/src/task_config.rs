//! The task's `config` block.
//!
//! Every key of Nomad's docker task config is accepted (unknown keys are an
//! error). Not implemented, and refused when set: `load` (image archives),
//! `isolation` (Windows), `port_map` (legacy task networks; use `ports`).
//! Accepted and ignored: `advertise_ipv6_address`, `auth_soft_fail`,
//! `cpuset_cpus` (Nomad ignores it too), `container_exists_attempts`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::de;

/// `config { … }` of a docker task.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerTaskConfig {
    /// Image reference (required).
    pub image: String,
    /// Advertise the IPv6 address (accepted, not used).
    pub advertise_ipv6_address: bool,
    /// Arguments: appended to `command`, or the image's entrypoint's
    /// arguments when there is no command.
    pub args: Vec<String>,
    /// Registry credentials for the pull.
    #[serde(deserialize_with = "de::block")]
    pub auth: RegistryAuth,
    /// Go on when auth lookup fails (accepted, not used).
    pub auth_soft_fail: bool,
    /// Capabilities to add (must be in the plugin's `allow_caps`).
    pub cap_add: Vec<String>,
    /// Capabilities to drop.
    pub cap_drop: Vec<String>,
    /// `cgroupns` mode (`host`, `private`).
    pub cgroupns: String,
    /// Command to run (replaces the image's `CMD`).
    pub command: String,
    /// Ignored, as in Nomad (reserved cores come from `resources.cores`).
    pub cpuset_cpus: String,
    /// Limit CPU to the task's MHz with a CFS quota.
    pub cpu_hard_limit: bool,
    /// CFS period in µs (0: 100000).
    pub cpu_cfs_period: i64,
    /// Accepted, not used.
    pub container_exists_attempts: Option<u64>,
    /// Host devices.
    #[serde(deserialize_with = "de::blocks")]
    pub devices: Vec<DockerDevice>,
    /// DNS search domains.
    pub dns_search_domains: Vec<String>,
    /// DNS options.
    pub dns_options: Vec<String>,
    /// DNS servers.
    pub dns_servers: Vec<String>,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// `/etc/hosts` entries (`host:ip`).
    pub extra_hosts: Vec<String>,
    /// Pull even when the image is present.
    pub force_pull: bool,
    /// Extra groups.
    pub group_add: Vec<String>,
    /// `healthchecks { disable = true }` turns off the image's healthcheck.
    #[serde(deserialize_with = "de::block")]
    pub healthchecks: Healthchecks,
    /// Container hostname.
    pub hostname: String,
    /// Run docker-init as PID 1.
    pub init: bool,
    /// Keep stdin open.
    pub interactive: bool,
    /// IPC namespace mode.
    pub ipc_mode: String,
    /// Static IPv4 address on a user network.
    pub ipv4_address: String,
    /// Static IPv6 address on a user network.
    pub ipv6_address: String,
    /// Windows isolation (refused on Linux).
    pub isolation: String,
    /// Extra container labels.
    #[serde(deserialize_with = "de::string_map")]
    pub labels: BTreeMap<String, String>,
    /// Image archive to load (not implemented).
    pub load: String,
    /// Docker log driver for this container.
    #[serde(deserialize_with = "de::block")]
    pub logging: TaskLogging,
    /// MAC address.
    pub mac_address: String,
    /// Hard memory limit in MB; `resources.memory` becomes the reservation.
    pub memory_hard_limit: i64,
    /// `mount { … }` blocks.
    #[serde(deserialize_with = "de::blocks")]
    pub mount: Vec<DockerMount>,
    /// Pre-1.0 `mounts = [{ … }]`.
    #[serde(deserialize_with = "de::blocks")]
    pub mounts: Vec<DockerMount>,
    /// Aliases on a user network.
    pub network_aliases: Vec<String>,
    /// `bridge`, `host`, `none`, `container:<id>`, or a user network.
    pub network_mode: String,
    /// OOM score adjustment.
    pub oom_score_adj: i64,
    /// Runtime (must be in the plugin's `allow_runtimes`).
    pub runtime: String,
    /// Max processes (0: the plugin's limit, else unlimited).
    pub pids_limit: i64,
    /// PID namespace mode.
    pub pid_mode: String,
    /// Labels of the group network's ports to publish.
    pub ports: Vec<String>,
    /// Legacy task-network port mapping (refused).
    #[serde(deserialize_with = "de::int_map")]
    pub port_map: BTreeMap<String, i64>,
    /// Privileged container (needs the plugin's `allow_privileged`).
    pub privileged: bool,
    /// Bound on the whole pull (default: the plugin's, 5m).
    pub image_pull_timeout: String,
    /// Read-only root filesystem.
    pub readonly_rootfs: bool,
    /// `--security-opt` values.
    pub security_opt: Vec<String>,
    /// `/dev/shm` size in bytes.
    pub shm_size: i64,
    /// Storage driver options.
    #[serde(deserialize_with = "de::string_map")]
    pub storage_opt: BTreeMap<String, String>,
    /// Namespaced sysctls.
    #[serde(deserialize_with = "de::string_map")]
    pub sysctl: BTreeMap<String, String>,
    /// Allocate a TTY for the main process (logs then come as one stream,
    /// written to stdout).
    pub tty: bool,
    /// `name = "soft[:hard]"` ulimits.
    #[serde(deserialize_with = "de::string_map")]
    pub ulimit: BTreeMap<String, String>,
    /// UTS namespace mode.
    pub uts_mode: String,
    /// User namespace mode.
    pub userns_mode: String,
    /// `host:container[:mode]` binds; relative host paths are under the
    /// task directory.
    pub volumes: Vec<String>,
    /// Volume driver for `volumes`.
    pub volume_driver: String,
    /// Working directory inside the container.
    pub work_dir: String,
}

/// `auth { … }` of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryAuth {
    /// User.
    pub username: String,
    /// Password.
    pub password: String,
    /// Email.
    pub email: String,
    /// Registry.
    pub server_address: String,
}

impl RegistryAuth {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty() && self.password.is_empty() && self.server_address.is_empty()
    }
}

/// `devices { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerDevice {
    /// Device on the host (required).
    pub host_path: String,
    /// Path in the container (default: the host path).
    pub container_path: String,
    /// `rwm` subset (default `rwm`).
    pub cgroup_permissions: String,
}

/// `healthchecks { disable }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Healthchecks {
    /// Disable the image's healthcheck.
    pub disable: bool,
}

/// `logging { type, config }` of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskLogging {
    /// Log driver.
    #[serde(rename = "type")]
    pub log_type: String,
    /// Older spelling of `type`.
    pub driver: String,
    /// Log driver options.
    #[serde(deserialize_with = "de::string_map")]
    pub config: BTreeMap<String, String>,
}

/// `mount { … }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerMount {
    /// `bind`, `volume` (default) or `tmpfs`.
    #[serde(rename = "type")]
    pub mount_type: String,
    /// Path in the container.
    pub target: String,
    /// Host path (bind; relative to the task dir) or volume name.
    pub source: String,
    /// Read-only.
    pub readonly: bool,
    /// `bind_options { propagation }`.
    #[serde(deserialize_with = "de::block")]
    pub bind_options: BindOptions,
    /// `tmpfs_options { size, mode }`.
    #[serde(deserialize_with = "de::block")]
    pub tmpfs_options: TmpfsOptions,
    /// `volume_options { … }`.
    #[serde(deserialize_with = "de::block")]
    pub volume_options: VolumeOptions,
}

/// `bind_options { propagation }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BindOptions {
    /// `rprivate`, `private`, `rshared`, `shared`, `rslave`, `slave`.
    pub propagation: String,
}

/// `tmpfs_options { size, mode }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TmpfsOptions {
    /// Size in bytes.
    pub size: i64,
    /// File mode.
    pub mode: i64,
}

/// `volume_options { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeOptions {
    /// Do not copy the image's content into a new volume.
    pub no_copy: bool,
    /// Volume labels.
    #[serde(deserialize_with = "de::string_map")]
    pub labels: BTreeMap<String, String>,
    /// Volume driver and options.
    #[serde(deserialize_with = "de::block")]
    pub driver_config: VolumeDriverConfig,
}

/// `driver_config { name, options }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeDriverConfig {
    /// Driver name.
    pub name: String,
    /// Driver options.
    #[serde(deserialize_with = "de::string_map")]
    pub options: BTreeMap<String, String>,
}

impl DockerTaskConfig {
    /// Checks what can be checked without Docker.
    pub fn validate(&self) -> Result<(), String> {
        if self.image.trim().is_empty() {
            return Err("image name required for docker driver".into());
        }
        if !self.command.is_empty() && self.command.trim() != self.command {
            return Err(format!(
                "command contains extra white space: {:?}",
                self.command
            ));
        }
        if !self.load.is_empty() {
            return Err("load (image archives) is not supported by this driver".into());
        }
        if !self.isolation.is_empty() {
            return Err(format!(
                "Failed to create container configuration, cannot use isolation mode \"{}\" on linux",
                self.isolation
            ));
        }
        if !self.port_map.is_empty() {
            return Err("'port_map' cannot map group network ports, use 'ports' instead".into());
        }
        if self.cpu_cfs_period < 0 || self.cpu_cfs_period > 1_000_000 {
            return Err("invalid value for cpu_cfs_period".into());
        }
        Ok(())
    }

    /// The image reference with Nomad's `https://` prefix tolerance.
    pub fn image_ref(&self) -> String {
        self.image.trim().trim_start_matches("https://").to_string()
    }
}

/// Splits an image reference into repository and tag (default `latest`);
/// digests (`repo@sha256:…`) are kept whole with an empty tag.
pub fn split_image(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<DockerTaskConfig, String> {
        let c: DockerTaskConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn decodes_the_jobspec_shape() {
        let c = parse(json!({
            "image": "nginx:1.25-alpine",
            "ports": ["http"],
            "mount": [{"type": "bind", "source": "local/x", "target": "/x", "readonly": true}],
            "logging": [{"type": "json-file", "config": [{"max-file": "3"}]}],
            "labels": [{"team": "web"}],
            "ulimit": {"nofile": "1024:2048"},
        }))
        .unwrap();
        assert_eq!(c.ports, vec!["http"]);
        assert_eq!(c.mount[0].mount_type, "bind");
        assert!(c.mount[0].readonly);
        assert_eq!(c.logging.config["max-file"], "3");
        assert_eq!(c.labels["team"], "web");
    }

    #[test]
    fn rejects_unknown_and_invalid() {
        assert!(parse(json!({"image": "x", "imgae": "y"}))
            .unwrap_err()
            .contains("imgae"));
        assert!(parse(json!({"command": "sh"})).is_err());
        assert!(parse(json!({"image": "x", "command": "sh "})).is_err());
        assert!(parse(json!({"image": "x", "port_map": [{"http": 80}]})).is_err());
        assert!(parse(json!({"image": "x", "load": "img.tar"})).is_err());
    }

    #[test]
    fn splits_image_references() {
        assert_eq!(split_image("redis"), ("redis".into(), "latest".into()));
        assert_eq!(split_image("redis:7"), ("redis".into(), "7".into()));
        assert_eq!(
            split_image("localhost:5000/a/b:1"),
            ("localhost:5000/a/b".into(), "1".into())
        );
        assert_eq!(
            split_image("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), "latest".into())
        );
        assert_eq!(split_image("a@sha256:00").1, "");
    }
}
