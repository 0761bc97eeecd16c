//! The driver's fingerprint: healthy when the daemon answers, with the
//! engine's version, runtimes, OS type and bridge IP, and whether volumes
//! and privileged containers are enabled.

use std::time::Duration;

use bollard::Docker;
use nomad_driver::Fingerprint;

use crate::config::DockerConfig;

/// How long the daemon may take to answer a fingerprint.
pub(crate) const FINGERPRINT_TIMEOUT: Duration = Duration::from_secs(5);

/// Nomad's description when the daemon does not answer.
pub const CONNECT_FAILED: &str = "Failed to connect to docker daemon";

/// The fingerprint of a daemon that answered `version`.
pub(crate) async fn healthy(docker: &Docker, config: &DockerConfig) -> Result<Fingerprint, String> {
    let version = tokio::time::timeout(FINGERPRINT_TIMEOUT, docker.version())
        .await
        .map_err(|_| format!("no answer within {FINGERPRINT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let mut fp = Fingerprint::healthy()
        .with_attribute("driver.docker", "true")
        .with_attribute("driver.docker.version", version.version.unwrap_or_default());
    if config.allow_privileged {
        fp = fp.with_attribute("driver.docker.privileged.enabled", "true");
    }
    if config.volumes.enabled {
        fp = fp.with_attribute("driver.docker.volumes.enabled", "true");
    }
    if config.pids_limit > 0 {
        fp = fp.with_attribute("driver.docker.pids.limit", config.pids_limit.to_string());
    }
    match tokio::time::timeout(FINGERPRINT_TIMEOUT, docker.info()).await {
        Ok(Ok(info)) => {
            let mut runtimes: Vec<String> = info
                .runtimes
                .map(|r| r.into_keys().collect())
                .unwrap_or_default();
            runtimes.sort();
            fp = fp
                .with_attribute("driver.docker.runtimes", runtimes.join(","))
                .with_attribute("driver.docker.os_type", info.os_type.unwrap_or_default());
        }
        other => {
            tracing::warn!(error = ?other.map(|r| r.map(|_| ())), "failed to get Docker system info")
        }
    }
    match tokio::time::timeout(
        FINGERPRINT_TIMEOUT,
        docker.inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        ),
    )
    .await
    {
        Ok(Ok(net)) => {
            let gateway = net
                .ipam
                .and_then(|i| i.config)
                .and_then(|c| c.into_iter().next())
                .and_then(|c| c.gateway);
            if let Some(gw) = gateway.filter(|g| !g.is_empty()) {
                fp = fp.with_attribute("driver.docker.bridge_ip", gw);
            }
        }
        other => {
            tracing::debug!(error = ?other.map(|r| r.map(|_| ())), "bridge_ip could not be discovered")
        }
    }
    Ok(fp)
}
