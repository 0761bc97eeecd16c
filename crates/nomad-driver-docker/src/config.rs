//! The plugin config (`plugin "docker" { config { … } }`).
//!
//! Every key Nomad's docker plugin accepts is accepted here (unknown keys
//! are an error). Implemented: `endpoint`, `allow_privileged`, `allow_caps`,
//! `allow_runtimes`, `volumes { enabled }`, `gc { image, image_delay,
//! container }`, `logging`, `image_pull_timeout`, `pull_activity_timeout`,
//! `pids_limit`, `disable_log_collection`, `allowed_modes`. Accepted and
//! ignored: `auth`, `tls`, `extra_labels` (the job, group, task and
//! namespace labels are always set), `infra_image`,
//! `infra_image_pull_timeout`, `gc { dangling_containers }`,
//! `nvidia_runtime`, `container_exists_attempts`, `oom_score_adj`,
//! `volumes { selinuxlabel }`, `windows_allow_insecure_container_admin`.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use nomad_types::Nanos;
use serde::Deserialize;

use crate::de;
use crate::error::DockerError;

/// The default Docker endpoint.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Nomad's default `allow_caps`: Docker's default capability set.
pub const DEFAULT_ALLOW_CAPS: &[&str] = &[
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
];

/// `plugin "docker" { config { … } }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// `unix:///var/run/docker.sock` (default: `$DOCKER_HOST`, then that),
    /// `tcp://host:port` or `http://host:port`.
    pub endpoint: String,
    /// Registry auth (accepted, not used: no registry auth is implemented).
    #[serde(deserialize_with = "de::block")]
    pub auth: AuthConfig,
    /// TLS to the daemon (accepted, not used).
    #[serde(deserialize_with = "de::block")]
    pub tls: TlsConfig,
    /// Extra labels to set (accepted; all of them are always set).
    pub extra_labels: Vec<String>,
    /// Default log driver of containers.
    #[serde(deserialize_with = "de::block")]
    pub logging: LoggingConfig,
    /// Garbage collection.
    #[serde(deserialize_with = "de::block")]
    pub gc: GcConfig,
    /// Host volumes.
    #[serde(deserialize_with = "de::block")]
    pub volumes: VolumesConfig,
    /// Tasks may set `privileged = true`.
    pub allow_privileged: bool,
    /// Capabilities tasks may add (`["all"]` allows any).
    pub allow_caps: Vec<String>,
    /// Name of the NVIDIA runtime (accepted, not used).
    pub nvidia_runtime: String,
    /// Runtimes tasks may ask for with `runtime`.
    pub allow_runtimes: Vec<String>,
    /// Pause-container image for bridge networking (accepted, not used:
    /// group network namespaces are not created by this driver).
    pub infra_image: String,
    /// Pull timeout of the infra image (accepted, not used).
    pub infra_image_pull_timeout: String,
    /// Default `image_pull_timeout` of tasks.
    pub image_pull_timeout: String,
    /// Retries when a container name is taken (accepted, not used).
    pub container_exists_attempts: u64,
    /// OOM score of containers (accepted, not used).
    pub oom_score_adj: i64,
    /// A pull is cancelled when Docker reports no progress for this long.
    pub pull_activity_timeout: String,
    /// Upper bound of every container's pids limit (0: none).
    pub pids_limit: i64,
    /// Do not copy container logs into the task's log files.
    pub disable_log_collection: bool,
    /// Windows only (accepted, not used).
    pub windows_allow_insecure_container_admin: bool,
    /// Namespace modes tasks may ask for.
    #[serde(deserialize_with = "de::block")]
    pub allowed_modes: AllowedModes,
}

/// `auth { config, helper }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Path to a Docker `config.json`.
    pub config: String,
    /// Credential helper name.
    pub helper: String,
}

/// `tls { cert, key, ca }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Client certificate.
    pub cert: String,
    /// Client key.
    pub key: String,
    /// CA.
    pub ca: String,
}

/// `logging { type, config }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// Docker log driver.
    #[serde(rename = "type")]
    pub log_type: String,
    /// Its options.
    #[serde(deserialize_with = "de::string_map")]
    pub config: BTreeMap<String, String>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            log_type: "json-file".into(),
            config: [("max-file", "2"), ("max-size", "2m")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// `gc { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    /// Remove images this driver pulled once no task uses them.
    pub image: bool,
    /// How long after the last use.
    pub image_delay: String,
    /// Remove containers when their task is destroyed.
    pub container: bool,
    /// Dangling-container reconciler (accepted, not used).
    #[serde(deserialize_with = "de::block")]
    pub dangling_containers: DanglingContainers,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            image: true,
            image_delay: "3m".into(),
            container: true,
            dangling_containers: DanglingContainers::default(),
        }
    }
}

/// `gc { dangling_containers { … } }` (accepted, not used).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DanglingContainers {
    /// Enabled.
    pub enabled: Option<bool>,
    /// Scan period.
    pub period: String,
    /// Grace period for new containers.
    pub creation_grace: String,
    /// Only log.
    pub dry_run: bool,
}

/// `volumes { enabled, selinuxlabel }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumesConfig {
    /// Host paths outside the allocation, named volumes and volume drivers
    /// are allowed.
    pub enabled: bool,
    /// SELinux label for binds (accepted, not used).
    pub selinuxlabel: String,
}

/// `allowed_modes { pid, ipc, userns, uts }`: empty lists allow anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowedModes {
    /// `pid_mode` values.
    pub pid: Vec<String>,
    /// `ipc_mode` values.
    pub ipc: Vec<String>,
    /// `userns_mode` values.
    pub userns: Vec<String>,
    /// `uts_mode` values.
    pub uts: Vec<String>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            endpoint: String::new(),
            auth: AuthConfig::default(),
            tls: TlsConfig::default(),
            extra_labels: Vec::new(),
            logging: LoggingConfig::default(),
            gc: GcConfig::default(),
            volumes: VolumesConfig::default(),
            allow_privileged: false,
            allow_caps: DEFAULT_ALLOW_CAPS.iter().map(|s| s.to_string()).collect(),
            nvidia_runtime: "nvidia".into(),
            allow_runtimes: vec!["runc".into(), "nvidia".into()],
            infra_image: String::new(),
            infra_image_pull_timeout: "5m".into(),
            image_pull_timeout: "5m".into(),
            container_exists_attempts: 5,
            oom_score_adj: 0,
            pull_activity_timeout: "2m".into(),
            pids_limit: 0,
            disable_log_collection: false,
            windows_allow_insecure_container_admin: false,
            allowed_modes: AllowedModes::default(),
        }
    }
}

/// Nomad refuses a `pull_activity_timeout` below one minute.
const PULL_ACTIVITY_MINIMUM: Duration = Duration::from_secs(60);

/// Parses a Go duration string (`"2m"`, `"90s"`).
pub(crate) fn parse_duration(field: &str, text: &str) -> Result<Duration, String> {
    Nanos::from_str(text.trim())
        .ok()
        .and_then(Nanos::to_std)
        .ok_or_else(|| format!("failed to parse '{field}' duration {text:?}"))
}

impl DockerConfig {
    /// Parses the plugin's `config` block (as JSON; `null` gives defaults)
    /// and checks its values.
    pub fn from_plugin_config(value: &serde_json::Value) -> Result<Self, DockerError> {
        let cfg = if value.is_null() {
            DockerConfig::default()
        } else {
            DockerConfig::deserialize(value)
                .map_err(|e| DockerError::PluginConfig(e.to_string()))?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks durations and the endpoint.
    pub fn validate(&self) -> Result<(), DockerError> {
        let bad = DockerError::PluginConfig;
        if self.pull_activity_timeout()? < PULL_ACTIVITY_MINIMUM {
            return Err(bad(format!(
                "pull_activity_timeout is less than minimum, {PULL_ACTIVITY_MINIMUM:?}"
            )));
        }
        self.image_delay()?;
        self.image_pull_timeout()?;
        if !self.infra_image_pull_timeout.is_empty() {
            parse_duration("infra_image_pull_timeout", &self.infra_image_pull_timeout)
                .map_err(bad)?;
        }
        Endpoint::parse(&self.endpoint())?;
        Ok(())
    }

    /// The endpoint to use: the config's, else `$DOCKER_HOST`, else the
    /// default socket.
    pub fn endpoint(&self) -> String {
        if !self.endpoint.trim().is_empty() {
            return self.endpoint.trim().to_string();
        }
        match std::env::var("DOCKER_HOST") {
            Ok(h) if !h.trim().is_empty() => h.trim().to_string(),
            _ => DEFAULT_ENDPOINT.to_string(),
        }
    }

    /// `pull_activity_timeout` as a duration.
    pub fn pull_activity_timeout(&self) -> Result<Duration, DockerError> {
        parse_duration("pull_activity_timeout", &self.pull_activity_timeout)
            .map_err(DockerError::PluginConfig)
    }

    /// `gc.image_delay` as a duration.
    pub fn image_delay(&self) -> Result<Duration, DockerError> {
        parse_duration("image_delay", &self.gc.image_delay).map_err(DockerError::PluginConfig)
    }

    /// The plugin's default `image_pull_timeout`.
    pub fn image_pull_timeout(&self) -> Result<Duration, DockerError> {
        parse_duration("image_pull_timeout", &self.image_pull_timeout)
            .map_err(DockerError::PluginConfig)
    }

    /// A config with host volumes and privileged containers allowed (tests).
    pub fn permissive() -> Self {
        DockerConfig {
            allow_privileged: true,
            volumes: VolumesConfig {
                enabled: true,
                selinuxlabel: String::new(),
            },
            ..DockerConfig::default()
        }
    }
}

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(String),
    /// `host:port` over plain HTTP.
    Http(String),
}

impl Endpoint {
    /// Parses `unix:///path`, `/path`, `tcp://h:p` or `http://h:p`.
    pub fn parse(s: &str) -> Result<Endpoint, DockerError> {
        if let Some(p) = s.strip_prefix("unix://") {
            Ok(Endpoint::Unix(p.to_string()))
        } else if s.starts_with('/') {
            Ok(Endpoint::Unix(s.to_string()))
        } else if let Some(h) = s
            .strip_prefix("tcp://")
            .or_else(|| s.strip_prefix("http://"))
        {
            Ok(Endpoint::Http(h.to_string()))
        } else {
            Err(DockerError::PluginConfig(format!(
                "unsupported endpoint {s:?} (use unix:///path or tcp://host:port)"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_nomad() {
        let c = DockerConfig::from_plugin_config(&json!(null)).unwrap();
        assert!(!c.allow_privileged);
        assert!(!c.volumes.enabled);
        assert!(c.gc.image && c.gc.container);
        assert_eq!(c.image_delay().unwrap(), Duration::from_secs(180));
        assert_eq!(c.pull_activity_timeout().unwrap(), Duration::from_secs(120));
        assert_eq!(c.logging.log_type, "json-file");
        assert!(c.allow_caps.iter().any(|c| c == "chown"));
    }

    #[test]
    fn parses_hcl_shaped_blocks() {
        let c = DockerConfig::from_plugin_config(&json!({
            "endpoint": "unix:///run/docker.sock",
            "allow_privileged": true,
            "volumes": [{"enabled": true}],
            "gc": [{"image": false, "container": false, "image_delay": "10s",
                    "dangling_containers": [{"enabled": false}]}],
            "pull_activity_timeout": "90s",
            "infra_image": "registry.example/pause:3",
            "extra_labels": ["job_name"],
        }))
        .unwrap();
        assert!(c.allow_privileged && c.volumes.enabled);
        assert!(!c.gc.image && !c.gc.container);
        assert_eq!(c.endpoint(), "unix:///run/docker.sock");
        assert_eq!(
            Endpoint::parse(&c.endpoint()).unwrap(),
            Endpoint::Unix("/run/docker.sock".into())
        );
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        for bad in [
            json!({"allow_priviledged": true}),
            json!({"volumes": {"enable": true}}),
            json!({"gc": {"imgae": true}}),
            json!({"pull_activity_timeout": "10s"}),
            json!({"pull_activity_timeout": "soon"}),
            json!({"endpoint": "ftp://x"}),
        ] {
            assert!(
                DockerConfig::from_plugin_config(&bad).is_err(),
                "accepted {bad}"
            );
        }
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Http("127.0.0.1:2375".into())
        );
    }
}
