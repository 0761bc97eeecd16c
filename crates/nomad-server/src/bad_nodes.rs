//! The plan applier's tracker of nodes whose plans keep being rejected
//! (Nomad's `CachedBadNodeTracker`, `nomad/plan_apply_node_tracker.go`).
//!
//! Every rejection of a node's part of a plan is recorded with its time.
//! When a node has at least `threshold` rejections within the last
//! `window`, the applier marks it ineligible in the same entry as the plan
//! (`ApplyPlanResults::ineligible_nodes`), so the schedulers stop picking a
//! node that their view says fits but the applier's does not, instead of
//! looping on it. An operator makes it eligible again
//! (`nomad node eligibility -enable`). To avoid mass-marking nodes, at most
//! 10 nodes are reported at once and 5 more per 30 minutes (a token
//! bucket), and only the 50 most recently rejected nodes are tracked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Nodes tracked at once (Nomad's `CacheSize`).
pub const CACHE_SIZE: usize = 50;
/// Nodes that may be marked at once (Nomad's `BurstSize`).
pub const BURST: f64 = 10.0;
/// Nodes that may be marked per second afterwards: 5 per 30 minutes
/// (Nomad's `RateLimit`).
pub const RATE_PER_SEC: f64 = 5.0 / (30.0 * 60.0);

/// Settings (Nomad's `server { plan_rejection_tracker { ... } }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRejectionConfig {
    /// Whether nodes are marked at all (`enabled`).
    pub enabled: bool,
    /// Rejections within `window` that make a node bad (`node_threshold`, 100).
    pub node_threshold: usize,
    /// The window (`node_window`, 5m).
    pub node_window: Duration,
}

impl Default for PlanRejectionConfig {
    fn default() -> Self {
        PlanRejectionConfig {
            // Nomad ships the tracker disabled; we enable it by default
            // (issue #5: a node whose plans keep failing must not make the
            // schedulers loop). The threshold and window are Nomad's.
            enabled: true,
            node_threshold: 100,
            node_window: Duration::from_secs(5 * 60),
        }
    }
}

struct Stats {
    history: Vec<Instant>,
    last_used: Instant,
}

/// Rejections per node.
pub struct BadNodeTracker {
    config: PlanRejectionConfig,
    nodes: HashMap<String, Stats>,
    tokens: f64,
    refilled: Instant,
}

impl BadNodeTracker {
    /// A tracker with a full token bucket.
    pub fn new(config: PlanRejectionConfig) -> Self {
        BadNodeTracker {
            config,
            nodes: HashMap::new(),
            tokens: BURST,
            refilled: Instant::now(),
        }
    }

    /// Records one rejection of `node_id` at `now`; true when the node has
    /// now reached the threshold within the window (and the rate limit
    /// allows reporting it).
    pub fn add(&mut self, node_id: &str, now: Instant) -> bool {
        if !self.config.enabled {
            return false;
        }
        if !self.nodes.contains_key(node_id) && self.nodes.len() >= CACHE_SIZE {
            let oldest = self
                .nodes
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.nodes.remove(&k);
            }
        }
        let window = self.config.node_window;
        let stats = self.nodes.entry(node_id.to_string()).or_insert(Stats {
            history: Vec::new(),
            last_used: now,
        });
        stats.last_used = now;
        stats.history.push(now);
        let start = now.checked_sub(window);
        stats.history.retain(|t| start.is_none_or(|s| *t >= s));
        let score = stats.history.len();
        if score < self.config.node_threshold.max(1) {
            return false;
        }
        if !self.allow(now) {
            tracing::info!(
                node_id,
                score,
                "node has too many plan rejections, but marking nodes ineligible is rate limited"
            );
            return false;
        }
        true
    }

    /// The number of rejections of `node_id` within the window before `now`.
    pub fn score(&self, node_id: &str, now: Instant) -> usize {
        let start = now.checked_sub(self.config.node_window);
        self.nodes.get(node_id).map_or(0, |s| {
            s.history
                .iter()
                .filter(|t| start.is_none_or(|st| **t >= st))
                .count()
        })
    }

    fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * RATE_PER_SEC).min(BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(threshold: usize, window_secs: u64) -> PlanRejectionConfig {
        PlanRejectionConfig {
            enabled: true,
            node_threshold: threshold,
            node_window: Duration::from_secs(window_secs),
        }
    }

    #[test]
    fn threshold_within_the_window() {
        let mut t = BadNodeTracker::new(cfg(3, 60));
        let t0 = Instant::now();
        assert!(!t.add("n", t0));
        assert!(!t.add("n", t0 + Duration::from_secs(1)));
        assert!(t.add("n", t0 + Duration::from_secs(2)));
        assert_eq!(t.score("n", t0 + Duration::from_secs(2)), 3);
        // The oldest rejection leaves the window.
        assert_eq!(t.score("n", t0 + Duration::from_secs(61)), 2);
        // Rejections spread wider than the window never add up.
        let mut t = BadNodeTracker::new(cfg(3, 10));
        for i in 0..10 {
            assert!(!t.add("m", t0 + Duration::from_secs(i * 6)));
        }
    }

    #[test]
    fn disabled_tracker_never_reports() {
        let mut t = BadNodeTracker::new(PlanRejectionConfig {
            enabled: false,
            ..cfg(1, 60)
        });
        assert!(!t.add("n", Instant::now()));
    }

    #[test]
    fn rate_limited_to_a_burst_then_five_per_half_hour() {
        let mut t = BadNodeTracker::new(cfg(1, 60));
        let t0 = Instant::now();
        let marked = (0..20).filter(|i| t.add(&format!("n{i}"), t0)).count();
        assert_eq!(marked, BURST as usize);
        assert!(!t.add("late", t0 + Duration::from_secs(60)));
        // 6 minutes later one more token has come.
        assert!(t.add("later", t0 + Duration::from_secs(6 * 60 + 1)));
    }

    #[test]
    fn tracks_a_bounded_number_of_nodes() {
        let mut t = BadNodeTracker::new(cfg(1000, 60));
        let t0 = Instant::now();
        for i in 0..(CACHE_SIZE + 10) {
            t.add(&format!("n{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(t.nodes.len(), CACHE_SIZE);
        assert_eq!(t.score("n0", t0), 0);
    }
}
