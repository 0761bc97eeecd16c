//! Spread scoring: steering a task group's allocations across the values of
//! a node attribute, by target percentages or evenly.
//!
//! For each spread block (the group's own, then the job's), Nomad tracks how
//! many of the group's allocations use each attribute value (existing ones,
//! plus those proposed by the plan, minus those the plan stops). With
//! targets, values not named by any target are counted together under the
//! implicit target `*` ([`SpreadDesired::targeted`]).
//!
//! A node's spread score is the sum over spread blocks of:
//! * −1 when the node lacks the attribute;
//! * with targets ([`SpreadScorer::target_boost`]): `((desired − used) /
//!   desired) × weight / Σweights`, where `used` counts this placement too
//!   and `desired = percent/100 × count` (the `*` target getting whatever
//!   the explicit targets leave); −1 for a value with no desired count at
//!   all; and for a desired count of zero, the lowest boost seen so far in
//!   the evaluation (starting at −1);
//! * without targets ([`even_spread_boost`]): a boost towards the least used
//!   values.
//!
//! The total is appended to the node's scores only when it is non-zero.

/// The implicit target that collects every value not named by a target.
pub const IMPLICIT_TARGET: &str = "*";

/// Added for a spread block whose attribute the node lacks, or whose value
/// has no desired count.
pub const SPREAD_MISSING_PENALTY: f64 = -1.0;

/// One `target` of a spread block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpreadTarget<'a> {
    /// The attribute value, e.g. `"dc1"` (or `"*"`).
    pub value: &'a str,
    /// Desired share of the group's allocations, 0..=100.
    pub percent: u8,
}

/// Desired allocation counts per attribute value for one spread block of one
/// task group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpreadDesired {
    /// The values the targets name.
    targets: Vec<Box<str>>,
    /// Desired count per value, in insertion order; `*` may be among them.
    desired: Vec<(Box<str>, f64)>,
}

impl SpreadDesired {
    /// Computes desired counts for a group of `group_count` allocations:
    /// `percent / 100 × count` per target, and the remainder for `*` when
    /// the targets ask for some but not all of the count (overriding an
    /// explicit `*` target). No targets means even spreading.
    pub fn new(targets: &[SpreadTarget<'_>], group_count: u32) -> Self {
        let count = f64::from(group_count);
        let mut this = SpreadDesired::default();
        let mut sum = 0.0;
        for target in targets {
            let desired = (f64::from(target.percent) / 100.0) * count;
            this.set(target.value, desired);
            this.targets.push(target.value.into());
            sum += desired;
        }
        if sum > 0.0 && sum < count {
            this.set(IMPLICIT_TARGET, count - sum);
        }
        this
    }

    fn set(&mut self, value: &str, desired: f64) {
        match self.desired.iter_mut().find(|(v, _)| &**v == value) {
            Some(entry) => entry.1 = desired,
            None => self.desired.push((value.into(), desired)),
        }
    }

    /// Whether the block has no targets (even spreading).
    pub fn is_even(&self) -> bool {
        self.desired.is_empty()
    }

    /// The value under which `value` is counted: itself when the block has
    /// no targets or a target names it, otherwise `*`.
    pub fn targeted<'v>(&self, value: &'v str) -> &'v str {
        if self.targets.is_empty() || self.targets.iter().any(|t| &**t == value) {
            value
        } else {
            IMPLICIT_TARGET
        }
    }

    /// The desired count for a targeted value, falling back to `*`'s.
    pub fn desired_for(&self, targeted: &str) -> Option<f64> {
        let lookup = |key: &str| {
            self.desired
                .iter()
                .find(|(v, _)| &**v == key)
                .map(|(_, d)| *d)
        };
        lookup(targeted).or_else(|| lookup(IMPLICIT_TARGET))
    }
}

/// One spread block as seen from one candidate node.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpread<'a> {
    /// The block's desired counts.
    pub desired: &'a SpreadDesired,
    /// The block's weight (1..=100).
    pub weight: i8,
    /// The node's value of the spread attribute, `None` if unset.
    pub node_value: Option<&'a str>,
    /// Allocations per value, keyed by [`SpreadDesired::targeted`] values,
    /// not counting the placement being scored.
    pub counts: &'a [(&'a str, u64)],
}

/// Per-evaluation spread scoring state.
///
/// Nomad keeps two values across the whole evaluation (they live on its
/// spread iterator): the sum of spread weights, which grows each time a
/// task group's spreads are prepared and is never reset in between, so
/// later groups' weights are divided by a larger sum; and the lowest boost
/// seen, which scores values whose desired count is zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpreadScorer {
    lowest_boost: f64,
    sum_weights: i32,
}

impl Default for SpreadScorer {
    fn default() -> Self {
        Self::new()
    }
}

impl SpreadScorer {
    /// Fresh state: lowest boost −1, weight sum 0.
    pub const fn new() -> Self {
        Self {
            lowest_boost: -1.0,
            sum_weights: 0,
        }
    }

    /// Adds a task group's spread weights (its own and its job's) to the
    /// running sum, as Nomad does when it first prepares the group.
    pub fn add_group_weights<I: IntoIterator<Item = i8>>(&mut self, weights: I) {
        for weight in weights {
            self.sum_weights += i32::from(weight);
        }
    }

    /// The running sum of spread weights.
    pub fn sum_weights(&self) -> i32 {
        self.sum_weights
    }

    /// The lowest boost seen so far.
    pub fn lowest_boost(&self) -> f64 {
        self.lowest_boost
    }

    /// The boost of one targeted spread block for a node whose attribute
    /// value counts as `targeted` and is already used `used` times.
    pub fn target_boost(
        &mut self,
        desired: &SpreadDesired,
        weight: i8,
        targeted: &str,
        used: u64,
    ) -> f64 {
        let Some(desired_count) = desired.desired_for(targeted) else {
            return SPREAD_MISSING_PENALTY;
        };
        if desired_count == 0.0 {
            return self.lowest_boost;
        }
        let share = f64::from(weight) / f64::from(self.sum_weights);
        let placed = used.saturating_add(1) as f64;
        let boost = ((desired_count - placed) / desired_count) * share;
        if boost < self.lowest_boost {
            self.lowest_boost = boost;
        }
        boost
    }

    /// The node's total spread score over `spreads`, or `None` when it is
    /// exactly zero (Nomad appends nothing then).
    pub fn node_score(&mut self, spreads: &[NodeSpread<'_>]) -> Option<f64> {
        let mut total = 0.0;
        for spread in spreads {
            let Some(value) = spread.node_value else {
                total += SPREAD_MISSING_PENALTY;
                continue;
            };
            if spread.desired.is_even() {
                total += even_spread_boost(Some(value), spread.counts.iter().copied());
            } else {
                let targeted = spread.desired.targeted(value);
                let used = count_of(spread.counts, targeted);
                total += self.target_boost(spread.desired, spread.weight, targeted, used);
            }
        }
        (total != 0.0).then_some(total)
    }
}

fn count_of(counts: &[(&str, u64)], value: &str) -> u64 {
    counts
        .iter()
        .find(|(v, _)| *v == value)
        .map_or(0, |(_, n)| *n)
}

/// The even-spread boost for a node whose attribute value is `node_value`,
/// given how many allocations use each value (`counts`, excluding this
/// placement):
///
/// * 0 when nothing is placed yet; −1 when the node lacks the attribute;
/// * if the node's value is used more (or less) than the least used value:
///   `(min − current) / min` (−1 when `min` is 0);
/// * if it is the least used and all values are used equally: −1;
/// * if it is the least used with a count of 0: +1;
/// * otherwise `(max − min) / min`.
///
/// Nomad finds the minimum and maximum with a loop in which a zero minimum
/// is replaced by the next value it meets; with zero counts present the
/// result therefore depends on iteration order (Go's map order is random).
/// This function follows the same rule over `counts` in the given order.
pub fn even_spread_boost<'a, I>(node_value: Option<&str>, counts: I) -> f64
where
    I: IntoIterator<Item = (&'a str, u64)>,
{
    let mut any = false;
    let mut current = 0u64;
    let mut min = 0u64;
    let mut max = 0u64;
    for (value, count) in counts {
        any = true;
        if Some(value) == node_value {
            current = count;
        }
        if min == 0 || count < min {
            min = count;
        }
        if max == 0 || count > max {
            max = count;
        }
    }
    if !any {
        return 0.0;
    }
    if node_value.is_none() {
        return SPREAD_MISSING_PENALTY;
    }
    let delta_boost = if min == 0 {
        -1.0
    } else {
        // Go subtracts unsigned integers and converts the wrapped result to
        // a signed one: the same as a signed difference.
        min.wrapping_sub(current) as i64 as f64 / min as f64
    };
    if current != min {
        delta_boost
    } else if min == max {
        -1.0
    } else if min == 0 {
        1.0
    } else {
        max.wrapping_sub(min) as i64 as f64 / min as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(value: &str, percent: u8) -> SpreadTarget<'_> {
        SpreadTarget { value, percent }
    }

    #[test]
    fn desired_counts() {
        let d = SpreadDesired::new(&[t("dc1", 80)], 10);
        assert_eq!(d.desired_for("dc1"), Some(8.0));
        assert_eq!(d.desired_for("*"), Some(2.0));
        assert_eq!(d.desired_for("dc2"), Some(2.0));
        assert_eq!(d.targeted("dc1"), "dc1");
        assert_eq!(d.targeted("dc2"), "*");

        // Targets summing to the whole count: no implicit remainder.
        let d = SpreadDesired::new(&[t("dc1", 50), t("dc2", 50)], 8);
        assert_eq!(d.desired_for("dc3"), None);
        // An explicit zero-percent "*".
        let d = SpreadDesired::new(&[t("dc1", 50), t("dc2", 50), t("*", 0)], 8);
        assert_eq!(d.desired_for("dc3"), Some(0.0));
        // The remainder overrides an explicit "*".
        let d = SpreadDesired::new(&[t("dc1", 50), t("*", 10)], 10);
        assert_eq!(d.desired_for("*"), Some(4.0));
        // No targets: even spreading, values count as themselves.
        let d = SpreadDesired::new(&[], 10);
        assert!(d.is_even());
        assert_eq!(d.targeted("dc9"), "dc9");
    }

    // Nomad's TestSpreadIterator_SingleAttribute: count 10, 80% in dc1,
    // allocations already on two dc1 nodes.
    #[test]
    fn single_attribute() {
        let d = SpreadDesired::new(&[t("dc1", 80)], 10);
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([100]);
        let counts = [("dc1", 2)];
        let score = |scorer: &mut SpreadScorer, dc: &str| {
            scorer.node_score(&[NodeSpread {
                desired: &d,
                weight: 100,
                node_value: Some(dc),
                counts: &counts,
            }])
        };
        assert_eq!(score(&mut scorer, "dc1"), Some(0.625));
        assert_eq!(score(&mut scorer, "dc2"), Some(0.5));
        // With 7 already in dc1, a dc1 placement makes exactly the desired 8:
        // boost 0, so nothing is appended; dc2 stays at 0.5.
        let counts = [("dc1", 7)];
        let spread = |dc| NodeSpread {
            desired: &d,
            weight: 100,
            node_value: Some(dc),
            counts: &counts,
        };
        assert_eq!(scorer.node_score(&[spread("dc1")]), None);
        assert_eq!(scorer.node_score(&[spread("dc2")]), Some(0.5));
    }

    // Nomad's TestSpreadIterator_MultipleAttributes.
    #[test]
    fn multiple_attributes() {
        let dcs = SpreadDesired::new(&[t("dc1", 60), t("dc2", 40)], 10);
        let racks = SpreadDesired::new(&[t("r1", 40), t("r2", 60)], 10);
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([100, 50]);
        let dc_counts = [("dc1", 2)];
        let rack_counts = [("r1", 1), ("r2", 1)];
        let mut score = |dc, rack| {
            scorer
                .node_score(&[
                    NodeSpread {
                        desired: &dcs,
                        weight: 100,
                        node_value: Some(dc),
                        counts: &dc_counts,
                    },
                    NodeSpread {
                        desired: &racks,
                        weight: 50,
                        node_value: Some(rack),
                        counts: &rack_counts,
                    },
                ])
                .map(|s| format!("{s:.3}"))
        };
        assert_eq!(score("dc1", "r1").as_deref(), Some("0.500"));
        assert_eq!(score("dc2", "r1").as_deref(), Some("0.667"));
        assert_eq!(score("dc1", "r2").as_deref(), Some("0.556"));
    }

    // Nomad's TestSpreadIterator_EvenSpread steps.
    #[test]
    fn even_spread() {
        assert_eq!(even_spread_boost(Some("dc1"), []), 0.0);
        let two_in_dc1 = [("dc1", 2)];
        assert_eq!(even_spread_boost(Some("dc1"), two_in_dc1), -1.0);
        assert_eq!(even_spread_boost(Some("dc2"), two_in_dc1), 1.0);
        let three_two = [("dc1", 2), ("dc2", 3)];
        assert_eq!(even_spread_boost(Some("dc1"), three_two), 0.5);
        assert_eq!(even_spread_boost(Some("dc2"), three_two), -0.5);
        let level = [("dc1", 3), ("dc2", 3)];
        assert_eq!(even_spread_boost(Some("dc1"), level), -1.0);
        assert_eq!(even_spread_boost(Some("dc3"), level), 1.0);
        assert_eq!(even_spread_boost(None, level), -1.0);
    }

    // Nomad's Test_evenSpreadScoreBoost: zero counts after stops.
    #[test]
    fn even_spread_with_zero_counts_any_order() {
        let counts = [("dc2", 0), ("dc1", 1), ("dc3", 0)];
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let ordered = order.map(|k| counts[k]);
            let boost = even_spread_boost(Some("dc2"), ordered);
            assert_eq!(boost, 1.0, "{ordered:?}");
        }
    }

    #[test]
    fn missing_attribute_is_penalised() {
        let d = SpreadDesired::new(&[t("dc1", 50)], 4);
        let even = SpreadDesired::new(&[], 4);
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([50, 50]);
        let missing = |desired| NodeSpread {
            desired,
            weight: 50,
            node_value: None,
            counts: &[],
        };
        assert_eq!(scorer.node_score(&[missing(&d)]), Some(-1.0));
        // Even spreading with nothing placed still penalises a missing value.
        assert_eq!(scorer.node_score(&[missing(&even)]), Some(-1.0));
        assert_eq!(
            scorer.node_score(&[missing(&d), missing(&even)]),
            Some(-2.0)
        );
    }

    // Nomad's TestSpreadIterator_NoInfinity: zero-percent targets score the
    // lowest boost seen so far instead of −∞.
    #[test]
    fn zero_desired_uses_lowest_boost() {
        let d = SpreadDesired::new(&[t("dc1", 50), t("dc2", 50), t("*", 0)], 8);
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([100]);
        let mut score = |dc| {
            scorer.node_score(&[NodeSpread {
                desired: &d,
                weight: 100,
                node_value: Some(dc),
                counts: &[],
            }])
        };
        assert_eq!(score("dc1"), Some(0.75));
        assert_eq!(score("dc2"), Some(0.75));
        assert_eq!(score("dc3"), Some(-1.0));

        let d = SpreadDesired::new(&[t("dc1", 99), t("dc2", 1), t("*", 0)], 8);
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([100]);
        let mut score = |dc| {
            scorer.node_score(&[NodeSpread {
                desired: &d,
                weight: 100,
                node_value: Some(dc),
                counts: &[],
            }])
        };
        let desired = 8.0 * 0.99;
        assert_eq!(score("dc1"), Some((desired - 1.0) / desired));
        assert_eq!(score("dc2"), Some(-11.5));
        assert_eq!(score("dc3"), Some(-11.5));
    }

    #[test]
    fn weight_sum_accumulates_across_groups() {
        let mut scorer = SpreadScorer::new();
        scorer.add_group_weights([50]);
        scorer.add_group_weights([50]);
        assert_eq!(scorer.sum_weights(), 100);
        let d = SpreadDesired::new(&[t("a", 100)], 2);
        // (2 − 1) / 2 × 50 / 100
        assert_eq!(scorer.target_boost(&d, 50, "a", 0), 0.25);
        assert_eq!(scorer.lowest_boost(), -1.0);
        assert_eq!(scorer.target_boost(&d, 50, "a", 5), -1.0);
        assert_eq!(scorer.target_boost(&d, 50, "a", 9), -2.0);
        assert_eq!(scorer.lowest_boost(), -2.0);
    }
}
