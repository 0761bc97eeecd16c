//! The client's task drivers: the built-in ones made from their plugin
//! configs (`raw_exec`, `exec`, `docker`), plus any the embedding program adds, and
//! their fingerprints merged into the node.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nomad_driver::{unix_nanos, Driver, Fingerprint};
use nomad_driver_exec::{ExecConfig, ExecDriver};
use nomad_driver_rawexec::{RawExecConfig, RawExecDriver};
use nomad_types::DriverInfo;

use crate::error::ClientError;

/// Drivers by name.
#[derive(Clone, Default)]
pub struct DriverSet {
    drivers: BTreeMap<String, Arc<dyn Driver>>,
}

impl std::fmt::Debug for DriverSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.drivers.keys()).finish()
    }
}

impl DriverSet {
    /// The built-in drivers listed in `configs` (name → plugin config),
    /// keeping their task status files under `state_dir/<driver>`.
    pub fn builtin(
        configs: &BTreeMap<String, serde_json::Value>,
        state_dir: &Path,
    ) -> Result<Self, ClientError> {
        let mut set = DriverSet::default();
        for (name, cfg) in configs {
            let dir = state_dir.join(name);
            let driver: Arc<dyn Driver> = match name.as_str() {
                nomad_driver_rawexec::DRIVER_NAME => {
                    let mut c = RawExecConfig::from_plugin_config(cfg)
                        .map_err(|e| ClientError::Config(e.to_string()))?;
                    c.state_dir = dir;
                    Arc::new(RawExecDriver::new(c))
                }
                nomad_driver_exec::DRIVER_NAME => {
                    let mut c = ExecConfig::from_plugin_config(cfg)
                        .map_err(|e| ClientError::Config(e.to_string()))?;
                    c.state_dir = dir;
                    Arc::new(ExecDriver::new(c))
                }
                nomad_driver_docker::DRIVER_NAME => {
                    let c = nomad_driver_docker::DockerConfig::from_plugin_config(cfg)
                        .map_err(|e| ClientError::Config(e.to_string()))?;
                    Arc::new(nomad_driver_docker::DockerDriver::new(c))
                }
                other => {
                    return Err(ClientError::Config(format!(
                        "unknown built-in driver {other:?} (add it with Client::with_drivers)"
                    )))
                }
            };
            set.insert(driver);
        }
        Ok(set)
    }

    /// Adds (or replaces) a driver under its own name.
    pub fn insert(&mut self, driver: Arc<dyn Driver>) {
        self.drivers.insert(driver.name().to_string(), driver);
    }

    /// The driver called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Driver>> {
        self.drivers.get(name).cloned()
    }

    /// Driver names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.drivers.keys().map(String::as_str)
    }

    /// Fingerprints every driver: the node's `Drivers` map and the
    /// attributes to merge into `Node.Attributes`.
    pub async fn fingerprint(&self) -> (BTreeMap<String, DriverInfo>, BTreeMap<String, String>) {
        let now = unix_nanos(std::time::SystemTime::now());
        let mut infos = BTreeMap::new();
        let mut attrs = BTreeMap::new();
        for (name, d) in &self.drivers {
            let fp: Fingerprint = d.fingerprint().await;
            attrs.extend(fp.node_attributes(name));
            infos.insert(name.clone(), fp.to_driver_info(now));
        }
        (infos, attrs)
    }
}
