//! Driver fingerprints taken again while the client runs.
//!
//! A driver's health changes under a running agent (the Docker daemon
//! stops or starts, a plugin loses its cgroups…). As Nomad does, the client
//! fingerprints its drivers again every
//! [`crate::ClientConfig::driver_fingerprint_interval`] (30 s by default;
//! zero turns it off) and, when a driver's detection, health, description
//! or attributes changed, updates its node and sends it to the servers
//! (a `Node.Register` of the updated node, as Nomad's client does), so that
//! the scheduler stops placing work on a driver that went unhealthy and
//! resumes when it recovers.

use std::sync::Arc;
use std::time::Duration;

use nomad_types::consts::node_status;

use super::Inner;

/// The longest a round of fingerprints may take before it is abandoned.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Re-fingerprints the drivers forever (spawned by the client).
pub(super) async fn driver_loop(inner: Arc<Inner>) {
    let period = inner.config.driver_fingerprint_interval;
    if period.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok((infos, attrs)) = tokio::time::timeout(
            ROUND_TIMEOUT.min(period.max(Duration::from_secs(1))),
            inner.drivers.fingerprint(),
        )
        .await
        else {
            tracing::warn!("driver fingerprints timed out; keeping the previous ones");
            continue;
        };
        let registered = *inner.registered.borrow();
        let changed = {
            let mut guard = inner.node.write().unwrap_or_else(|p| p.into_inner());
            let mut node = (**guard).clone();
            let changed = crate::drivers::apply_fingerprints(&mut node, infos, attrs);
            if !changed.is_empty() {
                node.computed_class = node.compute_class();
                if registered {
                    // The servers already know the node is up; an update
                    // must not send it back to "initializing".
                    node.status = node_status::READY.into();
                }
                *guard = Arc::new(node);
            }
            changed
        };
        if changed.is_empty() {
            continue;
        }
        {
            let node = inner.node.read().unwrap_or_else(|p| p.into_inner());
            for name in &changed {
                if let Some(d) = node.drivers.get(name) {
                    tracing::info!(driver = %name, detected = d.detected, healthy = d.healthy,
                        description = %d.health_description, "driver fingerprint changed");
                }
            }
        }
        // Before the first registration the register loop sends the
        // updated node anyway.
        if registered {
            inner.register().await;
        }
    }
}
