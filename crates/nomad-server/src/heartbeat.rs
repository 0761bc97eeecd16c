//! Node heartbeat timers (leader only), after Nomad's `nomad/heartbeat.go`.
//!
//! The TTL handed to a client is rate-scaled so that the cluster sees at
//! most `max_heartbeats_per_second`: `max(min_heartbeat_ttl, nodes / rate)`,
//! plus a random stagger of up to the same amount. The server marks a node
//! down once `TTL + heartbeat_grace` passes without a heartbeat. After a
//! leader change every known node gets `failover_heartbeat_ttl`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Heartbeat deadlines by node.
#[derive(Default)]
pub struct Heartbeats {
    timers: Mutex<HashMap<String, Instant>>,
}

/// `max(min, n / rate)`: the interval at which `n` nodes heartbeating stay
/// under `rate` per second.
pub fn rate_scaled_interval(rate: f64, min: Duration, n: usize) -> Duration {
    if rate <= 0.0 {
        return min;
    }
    let d = Duration::from_secs_f64(n as f64 / rate);
    d.max(min)
}

impl Heartbeats {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resets a node's timer and returns the TTL to give the client.
    pub fn reset(&self, node_id: &str, rate: f64, min_ttl: Duration, grace: Duration) -> Duration {
        let mut t = self.lock();
        let base = rate_scaled_interval(rate, min_ttl, t.len());
        let stagger = base.mul_f64(fastrand::f64());
        let ttl = base + stagger;
        t.insert(node_id.to_string(), Instant::now() + ttl + grace);
        ttl
    }

    /// Sets a node's deadline `after` from now (leader failover).
    pub fn set(&self, node_id: &str, after: Duration) {
        self.lock()
            .insert(node_id.to_string(), Instant::now() + after);
    }

    /// Stops tracking a node.
    pub fn clear(&self, node_id: &str) {
        self.lock().remove(node_id);
    }

    /// Stops tracking every node.
    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// Nodes whose deadline passed (they stop being tracked).
    pub fn expired(&self) -> Vec<String> {
        let now = Instant::now();
        let mut t = self.lock();
        let gone: Vec<String> = t
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            t.remove(k);
        }
        gone
    }

    /// Number of tracked nodes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no node is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rule() {
        let min = Duration::from_secs(10);
        assert_eq!(rate_scaled_interval(50.0, min, 10), min);
        assert_eq!(
            rate_scaled_interval(50.0, min, 1000),
            Duration::from_secs(20)
        );
        let h = Heartbeats::default();
        let ttl = h.reset("n1", 50.0, min, Duration::from_secs(10));
        assert!(ttl >= min && ttl < 2 * min, "{ttl:?}");
        assert!(h.expired().is_empty());
        h.set("n2", Duration::ZERO);
        assert_eq!(h.expired(), ["n2"]);
    }
}
