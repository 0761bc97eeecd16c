//! Node scoring: resource fit, penalties, affinities, spreads, and the final
//! normalisation, with Nomad's formulas and constants.
//!
//! Nomad scores a candidate node with a chain of scorers, each of which may
//! append one score to the node's list; the final score is the plain mean of
//! the appended scores ([`ScoreSheet`]). Which scorers append, and when:
//!
//! | scorer | appends | value |
//! |---|---|---|
//! | bin packing ([`fit_score`]) | always | fitness / 18, in 0..=1 |
//! | device affinities | when the devices requested have affinities | matched weight / total weight |
//! | job anti-affinity ([`job_anti_affinity_penalty`]) | only with ≥ 1 collision | −(collisions + 1) / count |
//! | rescheduling penalty ([`reschedule_penalty`]) | only on a penalised node | −1 |
//! | node affinity ([`affinity::normalized_affinity_score`]) | only if the group has affinities | Σ matched weights / Σ \|weights\|, in −1..=1 |
//! | spread ([`spread::SpreadScorer`]) | only if the total is non-zero | Σ per-spread boosts |
//! | preemption ([`preemption_score`]) | only when allocations would be preempted | logistic of their net priority |
//!
//! A scorer that does not append does not dilute the mean: a node with a
//! bin-packing score of 0.8 and nothing else scores 0.8, not 0.8 / 7.

pub mod affinity;
pub mod spread;

use std::str::FromStr;

use thiserror::Error;

/// The highest bin-packing or spread fitness; fitness is divided by it so
/// that the bin-packing score lies in `0..=1`.
pub const BINPACK_MAX_FIT_SCORE: f64 = 18.0;

/// The score appended on a node where the allocation being rescheduled ran
/// before.
pub const RESCHEDULE_PENALTY: f64 = -1.0;

/// Preemption scoring: slope of the logistic curve.
pub const PREEMPTION_SCORE_RATE: f64 = 0.0048;

/// Preemption scoring: net priority at which the score is 0.5.
pub const PREEMPTION_SCORE_ORIGIN: f64 = 2048.0;

/// How the scheduler ranks resource fit (`scheduler_algorithm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SchedulerAlgorithm {
    /// Prefer fuller nodes (Nomad's default).
    #[default]
    Binpack,
    /// Prefer emptier nodes.
    Spread,
}

/// A `scheduler_algorithm` value other than `binpack` or `spread`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown scheduler algorithm {0:?} (expected \"binpack\" or \"spread\")")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for SchedulerAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "binpack" => Ok(SchedulerAlgorithm::Binpack),
            "spread" => Ok(SchedulerAlgorithm::Spread),
            _ => Err(UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// CPU (MHz shares) and memory (MB) amounts, as used by fit scoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuMem {
    /// CPU shares in MHz.
    pub cpu: i64,
    /// Memory in MB.
    pub memory_mb: i64,
}

/// The free fraction of CPU and memory on a node once `used` (every
/// non-terminal allocation on it, including the one being placed) is
/// counted: `1 − used / (total − reserved)` for each.
///
/// A node with no capacity left after reservations yields an infinite or
/// NaN fraction, exactly as Nomad's float arithmetic does.
pub fn free_fractions(total: CpuMem, reserved: CpuMem, used: CpuMem) -> (f64, f64) {
    let cpu = (total.cpu - reserved.cpu) as f64;
    let mem = (total.memory_mb - reserved.memory_mb) as f64;
    (
        1.0 - used.cpu as f64 / cpu,
        1.0 - used.memory_mb as f64 / mem,
    )
}

/// Bin-packing fitness (Google's "BestFit v3"): `20 − (10^freeCpu +
/// 10^freeMem)`, clamped to `0..=18`. A full node scores 18, an empty one 0.
pub fn binpack_fitness(free_cpu: f64, free_mem: f64) -> f64 {
    clamp_fitness(20.0 - (10f64.powf(free_cpu) + 10f64.powf(free_mem)))
}

/// Spread fitness ("worst fit"): `(10^freeCpu + 10^freeMem) − 2`, clamped
/// to `0..=18`. An empty node scores 18, a full one 0.
pub fn spread_fitness(free_cpu: f64, free_mem: f64) -> f64 {
    clamp_fitness(10f64.powf(free_cpu) + 10f64.powf(free_mem) - 2.0)
}

/// Nomad's clamp; a NaN passes through unchanged, as in Go.
fn clamp_fitness(score: f64) -> f64 {
    score.clamp(0.0, BINPACK_MAX_FIT_SCORE)
}

/// The bin-packing scorer's appended value: the algorithm's fitness
/// divided by [`BINPACK_MAX_FIT_SCORE`].
pub fn fit_score(
    algorithm: SchedulerAlgorithm,
    total: CpuMem,
    reserved: CpuMem,
    used: CpuMem,
) -> f64 {
    let (free_cpu, free_mem) = free_fractions(total, reserved, used);
    let fitness = match algorithm {
        SchedulerAlgorithm::Binpack => binpack_fitness(free_cpu, free_mem),
        SchedulerAlgorithm::Spread => spread_fitness(free_cpu, free_mem),
    };
    fitness / BINPACK_MAX_FIT_SCORE
}

/// The job anti-affinity penalty for placing on a node that already runs
/// `collisions` allocations of the same job and task group (proposed
/// placements included): `−(collisions + 1) / desired_count`, or `None`
/// (nothing appended) when there is no collision.
pub fn job_anti_affinity_penalty(collisions: u32, desired_count: u32) -> Option<f64> {
    (collisions > 0).then(|| -(f64::from(collisions) + 1.0) / f64::from(desired_count))
}

/// The rescheduling penalty: [`RESCHEDULE_PENALTY`] on a node where the
/// allocation being replaced previously ran, otherwise nothing appended.
pub fn reschedule_penalty(is_penalty_node: bool) -> Option<f64> {
    is_penalty_node.then_some(RESCHEDULE_PENALTY)
}

/// The net priority of a set of allocations to preempt: the highest job
/// priority plus the sum of priorities divided by that maximum, which
/// penalises many low-priority victims as well as one high-priority one.
pub fn net_priority<I: IntoIterator<Item = i32>>(priorities: I) -> f64 {
    let mut max = 0.0f64;
    let mut sum = 0i64;
    for priority in priorities {
        if f64::from(priority) > max {
            max = f64::from(priority);
        }
        sum += i64::from(priority);
    }
    max + sum as f64 / max
}

/// The preemption scorer's value: a logistic curve falling from ~1 for
/// cheap preemptions to ~0 for costly ones, 0.5 at a net priority of 2048.
pub fn preemption_score(net_priority: f64) -> f64 {
    1.0 / (1.0 + (PREEMPTION_SCORE_RATE * (net_priority - PREEMPTION_SCORE_ORIGIN)).exp())
}

/// Collects the scores appended for one node and produces its final score
/// (their mean, summed in the order appended, as Nomad does).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScoreSheet {
    sum: f64,
    count: u32,
}

impl ScoreSheet {
    /// An empty sheet.
    pub const fn new() -> Self {
        Self { sum: 0.0, count: 0 }
    }

    /// Appends one scorer's value.
    #[inline]
    pub fn push(&mut self, score: f64) {
        self.sum += score;
        self.count += 1;
    }

    /// Appends a value if the scorer produced one.
    #[inline]
    pub fn push_opt(&mut self, score: Option<f64>) {
        if let Some(score) = score {
            self.push(score);
        }
    }

    /// Number of values appended.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The mean of the appended values; 0 when none was appended (Nomad
    /// leaves such a node's final score at its initial 0).
    pub fn final_score(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / f64::from(self.count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    /// Nomad's TestScoreFitBinPack node: 4096 MHz and 8192 MB, of which
    /// 2048 MHz and 4096 MB are reserved.
    const TOTAL: CpuMem = CpuMem {
        cpu: 4096,
        memory_mb: 8192,
    };
    const RESERVED: CpuMem = CpuMem {
        cpu: 2048,
        memory_mb: 4096,
    };

    #[test]
    fn fitness_matches_nomads_reference_cases() {
        let case = |cpu, memory_mb| {
            let (c, m) = free_fractions(TOTAL, RESERVED, CpuMem { cpu, memory_mb });
            (binpack_fitness(c, m), spread_fitness(c, m))
        };
        // Exactly full after reservations.
        let (b, s) = case(2048, 4096);
        assert!(close(b, 18.0) && close(s, 0.0), "{b} {s}");
        // Unused.
        let (b, s) = case(0, 0);
        assert!(close(b, 0.0) && close(s, 18.0), "{b} {s}");
        // Half used: 20 − 2·√10 = 13.675, and 2·√10 − 2 = 4.325.
        let (b, s) = case(1024, 2048);
        assert!(close(b, 13.675) && close(s, 4.325), "{b} {s}");
        assert!(close(b + s, 18.0));
    }

    #[test]
    fn fitness_is_clamped() {
        // Over-committed: free fractions below zero push past 18.
        assert_eq!(binpack_fitness(-1.0, -1.0), 18.0);
        assert_eq!(spread_fitness(-1.0, -1.0), 0.0);
        // 10^1 + 10^1 = 20: binpack 0 exactly; spread 18.
        assert_eq!(binpack_fitness(1.0, 1.0), 0.0);
        assert_eq!(spread_fitness(1.0, 1.0), 18.0);
        // Free fractions above 1 (negative usage) clamp the other way.
        assert_eq!(binpack_fitness(2.0, 0.0), 0.0);
        assert_eq!(spread_fitness(2.0, 2.0), 18.0);
    }

    #[test]
    fn fit_score_is_normalised() {
        let half = CpuMem {
            cpu: 1024,
            memory_mb: 2048,
        };
        let b = fit_score(SchedulerAlgorithm::Binpack, TOTAL, RESERVED, half);
        let s = fit_score(SchedulerAlgorithm::Spread, TOTAL, RESERVED, half);
        assert!(close(b, 13.675 / 18.0));
        assert!(close(s, 4.325 / 18.0));
        // A quarter used on a 4000 MHz / 16 GiB node with no reservations:
        // 20 − 2·10^0.75 = 8.7534; / 18 = 0.4863.
        let node = CpuMem {
            cpu: 4000,
            memory_mb: 16384,
        };
        let quarter = CpuMem {
            cpu: 1000,
            memory_mb: 4096,
        };
        let b = fit_score(
            SchedulerAlgorithm::Binpack,
            node,
            CpuMem::default(),
            quarter,
        );
        assert!(close(b, 0.4863), "{b}");
    }

    #[test]
    fn zero_capacity_behaves_like_go() {
        // No capacity and no use: 0/0 = NaN fractions, NaN score (Go too).
        let (c, m) = free_fractions(CpuMem::default(), CpuMem::default(), CpuMem::default());
        assert!(c.is_nan() && m.is_nan());
        assert!(binpack_fitness(c, m).is_nan());
        // No capacity but some use: −inf fractions, fully packed.
        let used = CpuMem {
            cpu: 1,
            memory_mb: 1,
        };
        let (c, m) = free_fractions(CpuMem::default(), CpuMem::default(), used);
        assert_eq!(binpack_fitness(c, m), 18.0);
    }

    #[test]
    fn algorithms_parse() {
        assert_eq!("binpack".parse(), Ok(SchedulerAlgorithm::Binpack));
        assert_eq!("spread".parse(), Ok(SchedulerAlgorithm::Spread));
        assert!("Spread".parse::<SchedulerAlgorithm>().is_err());
        assert_eq!(SchedulerAlgorithm::default(), SchedulerAlgorithm::Binpack);
    }

    #[test]
    fn anti_affinity_and_reschedule_penalties() {
        assert_eq!(job_anti_affinity_penalty(0, 10), None);
        assert_eq!(job_anti_affinity_penalty(1, 4), Some(-0.5));
        assert_eq!(job_anti_affinity_penalty(2, 3), Some(-1.0));
        assert_eq!(job_anti_affinity_penalty(1, 10), Some(-0.2));
        assert_eq!(reschedule_penalty(true), Some(-1.0));
        assert_eq!(reschedule_penalty(false), None);
    }

    #[test]
    fn preemption_scoring() {
        assert_eq!(preemption_score(2048.0), 0.5);
        assert!(preemption_score(0.0) > 0.99);
        assert!(preemption_score(5000.0) < 0.01);
        // One victim at priority 50: 50 + 50/50 = 51.
        assert_eq!(net_priority([50]), 51.0);
        // Three victims at 20, 30, 50: 50 + 100/50 = 52.
        assert_eq!(net_priority([20, 30, 50]), 52.0);
        assert!(preemption_score(net_priority([50])) > preemption_score(net_priority([70])));
    }

    #[test]
    fn final_score_is_the_mean_of_appended_scores() {
        let mut sheet = ScoreSheet::new();
        assert!(sheet.is_empty());
        assert_eq!(sheet.final_score(), 0.0);
        sheet.push(0.8);
        assert_eq!(sheet.final_score(), 0.8);
        sheet.push_opt(job_anti_affinity_penalty(0, 3));
        sheet.push_opt(reschedule_penalty(false));
        assert_eq!(sheet.len(), 1);
        sheet.push_opt(job_anti_affinity_penalty(1, 4));
        sheet.push_opt(reschedule_penalty(true));
        // (0.8 − 0.5 − 1.0) / 3
        assert!((sheet.final_score() - (-0.7 / 3.0)).abs() < 1e-12);
    }
}
