//! Plugin and task configuration of the exec driver.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nomad_driver::executor::IdRanges;
use nomad_driver::DriverError;
use serde::Deserialize;

use crate::chroot::default_chroot_env;

/// A plugin config that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad shape or unknown field.
    #[error("exec plugin config: {0}")]
    Decode(#[from] serde_json::Error),
    /// A bad value.
    #[error("exec plugin config: {0}")]
    Invalid(String),
}

impl From<ConfigError> for DriverError {
    fn from(e: ConfigError) -> Self {
        DriverError::InvalidConfig(e.to_string())
    }
}

/// `plugin "exec" { config { … } }`, plus the client settings the driver
/// needs (`chroot_env`, where to keep state).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// Use `chroot` instead of `pivot_root` (Nomad's `no_pivot_root`).
    pub no_pivot_root: bool,
    /// `private` (default) or `host`.
    pub default_pid_mode: String,
    /// `private` (default) or `host`.
    pub default_ipc_mode: String,
    /// Capabilities tasks may have (default: Nomad's default set).
    pub allow_caps: Vec<String>,
    /// Uids tasks may not run as (`"0,10-20"`).
    pub denied_host_uids: String,
    /// Gids tasks may not run as.
    pub denied_host_gids: String,
    /// Host path → chroot path (Nomad's client `chroot_env`).
    pub chroot_env: BTreeMap<String, String>,
    /// Cgroup parent: `<mount>/<parent>/…` (v1), `<parent>.slice` (v2).
    pub cgroup_parent: String,
    /// `pids.max` of each task (not a Nomad option; none by default).
    pub pids_limit: Option<i64>,
    /// User for tasks without `user` (Nomad: `nobody`).
    pub default_user: String,
    /// Where task status files live (the client passes a directory under
    /// its data dir).
    #[serde(skip)]
    pub state_dir: PathBuf,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            no_pivot_root: false,
            default_pid_mode: "private".into(),
            default_ipc_mode: "private".into(),
            allow_caps: crate::caps::NOMAD_DEFAULTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            denied_host_uids: String::new(),
            denied_host_gids: String::new(),
            chroot_env: default_chroot_env(),
            cgroup_parent: "nomad".into(),
            pids_limit: None,
            default_user: "nobody".into(),
            state_dir: std::env::temp_dir().join("nomad-rs-exec"),
        }
    }
}

impl ExecConfig {
    /// Parses the plugin's `config` block (as JSON).
    pub fn from_plugin_config(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let cfg = if value.is_null() {
            ExecConfig::default()
        } else {
            ExecConfig::deserialize(value)?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Defaults, keeping state under `state_dir`.
    pub fn with_state_dir(state_dir: impl Into<PathBuf>) -> Self {
        ExecConfig {
            state_dir: state_dir.into(),
            ..ExecConfig::default()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (k, v) in [
            ("default_pid_mode", &self.default_pid_mode),
            ("default_ipc_mode", &self.default_ipc_mode),
        ] {
            if !matches!(v.as_str(), "private" | "host") {
                return Err(ConfigError::Invalid(format!(
                    "{k} must be \"private\" or \"host\", not {v:?}"
                )));
            }
        }
        if self.cgroup_parent.is_empty() || self.cgroup_parent.contains(['/', '.']) {
            return Err(ConfigError::Invalid(format!(
                "cgroup_parent {:?} must be a plain name",
                self.cgroup_parent
            )));
        }
        self.denied_uids()?;
        self.denied_gids()?;
        Ok(())
    }

    pub(crate) fn denied_uids(&self) -> Result<IdRanges, ConfigError> {
        IdRanges::parse(&self.denied_host_uids).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    pub(crate) fn denied_gids(&self) -> Result<IdRanges, ConfigError> {
        IdRanges::parse(&self.denied_host_gids).map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// The task's `config` block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecTaskConfig {
    /// Program, as seen inside the chroot: a path, or a name looked up in
    /// `/local`, `/` and the task's `PATH`.
    pub command: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// `private` or `host` (default: the plugin's).
    #[serde(default)]
    pub pid_mode: String,
    /// `private` or `host` (default: the plugin's).
    #[serde(default)]
    pub ipc_mode: String,
    /// Capabilities to add (must be in the plugin's `allow_caps`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`"all"` drops every one).
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// Absolute working directory inside the chroot (default `/`).
    #[serde(default)]
    pub work_dir: String,
}

/// A task's effective isolation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Modes {
    pub private_pid: bool,
    pub private_ipc: bool,
    /// Capability bounding set.
    pub caps: u64,
}

impl ExecTaskConfig {
    pub(crate) fn validate(&self, plugin: &ExecConfig) -> Result<Modes, DriverError> {
        if self.command.trim().is_empty() {
            return Err(DriverError::InvalidConfig(
                "command must not be empty".into(),
            ));
        }
        if !self.work_dir.is_empty() && !self.work_dir.starts_with('/') {
            return Err(DriverError::InvalidConfig(format!(
                "work_dir must be absolute but got relative path {:?}",
                self.work_dir
            )));
        }
        let mode = |v: &str, default: &str, what: &str| -> Result<bool, DriverError> {
            match if v.is_empty() { default } else { v } {
                "private" => Ok(true),
                "host" => Ok(false),
                other => Err(DriverError::InvalidConfig(format!(
                    "{what} must be \"private\" or \"host\", not {other:?}"
                ))),
            }
        };
        Ok(Modes {
            private_pid: mode(&self.pid_mode, &plugin.default_pid_mode, "pid_mode")?,
            private_ipc: mode(&self.ipc_mode, &plugin.default_ipc_mode, "ipc_mode")?,
            caps: crate::caps::task_caps(&plugin.allow_caps, &self.cap_add, &self.cap_drop)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plugin_config_parses_and_validates() {
        let c = ExecConfig::from_plugin_config(&json!({"no_pivot_root": true})).unwrap();
        assert!(c.no_pivot_root);
        assert_eq!(c.default_user, "nobody");
        assert!(c.chroot_env.contains_key("/usr"));
        assert!(ExecConfig::from_plugin_config(&json!({"default_pid_mode": "shared"})).is_err());
        assert!(ExecConfig::from_plugin_config(&json!({"cgroup_parent": "../x"})).is_err());
        assert!(ExecConfig::from_plugin_config(&json!({"bogus": 1})).is_err());
    }

    #[test]
    fn task_config_validation() {
        let plugin = ExecConfig::default();
        let tc = |v: serde_json::Value| serde_json::from_value::<ExecTaskConfig>(v).unwrap();
        let m = tc(json!({"command": "x"})).validate(&plugin).unwrap();
        assert!(m.private_pid && m.private_ipc);
        let m = tc(json!({"command": "x", "pid_mode": "host"}))
            .validate(&plugin)
            .unwrap();
        assert!(!m.private_pid);
        assert!(tc(json!({"command": "x", "work_dir": "rel"}))
            .validate(&plugin)
            .is_err());
        assert!(tc(json!({"command": "x", "cap_add": ["net_raw"]}))
            .validate(&plugin)
            .is_err());
        assert!(tc(json!({"command": ""})).validate(&plugin).is_err());
    }
}
