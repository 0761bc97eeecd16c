//! The client's task drivers: the built-in ones made from their plugin
//! configs (`raw_exec`, `exec`, `docker`), plus any the embedding program adds, and
//! their fingerprints merged into the node.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nomad_driver::{unix_nanos, Driver, Fingerprint};
use nomad_driver_exec::{ExecConfig, ExecDriver};
use nomad_driver_rawexec::{RawExecConfig, RawExecDriver};
use nomad_types::{DriverInfo, Node};

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

/// True when `key` is one of driver `name`'s node attributes
/// (`driver.<name>` or `driver.<name>.*`).
fn is_driver_attr(key: &str, name: &str) -> bool {
    key.strip_prefix("driver.")
        .and_then(|rest| rest.strip_prefix(name))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Applies fresh driver fingerprints (as [`DriverSet::fingerprint`]
/// returns them) to `node`: the `Drivers` entries whose detection, health,
/// description or attributes changed (the others keep their update time)
/// and each changed driver's `driver.*` node attributes. Returns the names
/// of the drivers that changed, empty when the node is unchanged.
pub fn apply_fingerprints(
    node: &mut Node,
    infos: BTreeMap<String, DriverInfo>,
    attrs: BTreeMap<String, String>,
) -> Vec<String> {
    let same = |a: &DriverInfo, b: &DriverInfo| {
        a.detected == b.detected
            && a.healthy == b.healthy
            && a.health_description == b.health_description
            && a.attributes == b.attributes
    };
    let mut changed = Vec::new();
    for (name, info) in infos {
        let old_attrs: BTreeMap<&String, &String> = node
            .attributes
            .iter()
            .filter(|(k, _)| is_driver_attr(k, &name))
            .collect();
        let new_attrs: BTreeMap<&String, &String> = attrs
            .iter()
            .filter(|(k, _)| is_driver_attr(k, &name))
            .collect();
        let attrs_moved = old_attrs != new_attrs;
        let info_moved = node.drivers.get(&name).is_none_or(|old| !same(old, &info));
        if !attrs_moved && !info_moved {
            continue;
        }
        if attrs_moved {
            node.attributes.retain(|k, _| !is_driver_attr(k, &name));
            node.attributes.extend(
                attrs
                    .iter()
                    .filter(|(k, _)| is_driver_attr(k, &name))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        node.drivers.insert(name.clone(), info);
        changed.push(name);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::GoTime;

    fn info(healthy: bool, desc: &str, at: i64) -> DriverInfo {
        DriverInfo {
            attributes: BTreeMap::new(),
            detected: true,
            healthy,
            health_description: desc.into(),
            update_time: GoTime::from_unix_nanos(at),
        }
    }

    #[test]
    fn only_changed_drivers_move() {
        let mut node = Node::default();
        node.drivers.insert("a".into(), info(true, "Healthy", 1));
        node.drivers.insert("ab".into(), info(true, "Healthy", 1));
        node.attributes.insert("driver.a".into(), "1".into());
        node.attributes
            .insert("driver.a.version".into(), "1".into());
        node.attributes.insert("driver.ab".into(), "1".into());
        node.attributes.insert("kernel.name".into(), "linux".into());

        let attrs: BTreeMap<String, String> = [
            ("driver.a".to_string(), "1".to_string()),
            ("driver.a.version".to_string(), "1".to_string()),
            ("driver.ab".to_string(), "1".to_string()),
        ]
        .into();
        let same = [
            ("a".to_string(), info(true, "Healthy", 2)),
            ("ab".to_string(), info(true, "Healthy", 2)),
        ];
        assert!(apply_fingerprints(&mut node, same.clone().into(), attrs.clone()).is_empty());
        assert_eq!(node.drivers["a"].update_time, GoTime::from_unix_nanos(1));

        let sick = [
            ("a".to_string(), info(false, "daemon gone", 3)),
            ("ab".to_string(), info(true, "Healthy", 3)),
        ];
        let mut attrs2 = attrs.clone();
        attrs2.insert("driver.a.version".into(), "2".into());
        assert_eq!(apply_fingerprints(&mut node, sick.into(), attrs2), ["a"]);
        assert!(!node.drivers["a"].healthy);
        assert_eq!(node.attributes["driver.a.version"], "2");
        assert_eq!(node.attributes["driver.ab"], "1");
        assert_eq!(node.attributes["kernel.name"], "linux");
        assert_eq!(node.drivers["ab"].update_time, GoTime::from_unix_nanos(1));

        // An undetected driver loses its attributes.
        let gone = [("a".to_string(), info(false, "daemon gone", 4))];
        let attrs3: BTreeMap<String, String> = [("driver.ab".to_string(), "1".to_string())].into();
        assert_eq!(apply_fingerprints(&mut node, gone.into(), attrs3), ["a"]);
        assert!(!node.attributes.contains_key("driver.a"));
        assert!(!node.attributes.contains_key("driver.a.version"));
    }
}
