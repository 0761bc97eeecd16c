//! Plugin and task configuration.

use std::path::PathBuf;

use nomad_driver::executor::IdRanges;
use nomad_driver::DriverError;
use serde::Deserialize;

/// A plugin config that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad shape or unknown field.
    #[error("raw_exec plugin config: {0}")]
    Decode(#[from] serde_json::Error),
    /// Bad `denied_host_uids` / `denied_host_gids`.
    #[error("raw_exec plugin config: {0}")]
    Ids(String),
}

impl From<ConfigError> for DriverError {
    fn from(e: ConfigError) -> Self {
        DriverError::InvalidConfig(e.to_string())
    }
}

/// `plugin "raw_exec" { config { … } }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawExecConfig {
    /// The driver runs tasks only when enabled (default false).
    pub enabled: bool,
    /// Uids tasks may not run as (`"0,10-20"`).
    pub denied_host_uids: String,
    /// Gids tasks may not run as.
    pub denied_host_gids: String,
    /// Legacy option, accepted and ignored (this driver uses no cgroups).
    pub no_cgroups: bool,
    /// Where the driver keeps task status files (not a Nomad option: the
    /// client passes a directory under its data dir).
    #[serde(skip)]
    pub state_dir: PathBuf,
}

impl Default for RawExecConfig {
    fn default() -> Self {
        RawExecConfig {
            enabled: false,
            denied_host_uids: String::new(),
            denied_host_gids: String::new(),
            no_cgroups: false,
            state_dir: std::env::temp_dir().join("nomad-rs-raw_exec"),
        }
    }
}

impl RawExecConfig {
    /// Parses the plugin's `config` block (as JSON).
    pub fn from_plugin_config(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let cfg = if value.is_null() {
            RawExecConfig::default()
        } else {
            RawExecConfig::deserialize(value)?
        };
        cfg.denied_uids()?;
        cfg.denied_gids()?;
        Ok(cfg)
    }

    /// An enabled config keeping state under `state_dir`.
    pub fn enabled(state_dir: impl Into<PathBuf>) -> Self {
        RawExecConfig {
            enabled: true,
            state_dir: state_dir.into(),
            ..RawExecConfig::default()
        }
    }

    pub(crate) fn denied_uids(&self) -> Result<IdRanges, ConfigError> {
        IdRanges::parse(&self.denied_host_uids).map_err(|e| ConfigError::Ids(e.to_string()))
    }

    pub(crate) fn denied_gids(&self) -> Result<IdRanges, ConfigError> {
        IdRanges::parse(&self.denied_host_gids).map_err(|e| ConfigError::Ids(e.to_string()))
    }
}

/// The task's `config` block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecTaskConfig {
    /// Program to run: a path, or a name looked up in `local/`, the task
    /// dir, then the task's `PATH`.
    pub command: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Working directory (default: the task directory).
    #[serde(default)]
    pub work_dir: Option<String>,
    /// `oom_score_adj` of the task (default 0: not the client's).
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plugin_config_defaults_to_disabled() {
        assert!(
            !RawExecConfig::from_plugin_config(&json!(null))
                .unwrap()
                .enabled
        );
        assert!(
            !RawExecConfig::from_plugin_config(&json!({}))
                .unwrap()
                .enabled
        );
        let c =
            RawExecConfig::from_plugin_config(&json!({"enabled": true, "denied_host_uids": "0"}))
                .unwrap();
        assert!(c.enabled);
        assert!(c.denied_uids().unwrap().contains(0));
    }

    #[test]
    fn plugin_config_rejects_unknown_and_bad_ranges() {
        assert!(RawExecConfig::from_plugin_config(&json!({"enable": true})).is_err());
        assert!(RawExecConfig::from_plugin_config(&json!({"denied_host_uids": "x"})).is_err());
    }
}
