//! Node affinity scoring.
//!
//! A task group's affinities are its job's, its own and its tasks', all
//! together. Each has a weight in −100..=100 (never 0) and a condition
//! evaluated like a constraint. A node's affinity score is the sum of the
//! weights of the affinities it matches, divided by the sum of the absolute
//! weights of all of them, so it lies in −1..=1: 1 when it matches every
//! positive affinity and no negative one.

/// The node affinity scorer's value for one node. `affinities` yields each
/// affinity's weight and whether the node matches it. Returns `None` (no
/// score appended) when there are no affinities.
///
/// Weights are validated non-zero by Nomad; if all weights were zero the
/// result would be NaN (0/0), as in Nomad.
pub fn normalized_affinity_score<I>(affinities: I) -> Option<f64>
where
    I: IntoIterator<Item = (i8, bool)>,
{
    let mut any = false;
    let mut total_weight = 0.0f64;
    let mut matched = 0.0f64;
    for (weight, is_match) in affinities {
        any = true;
        let weight = f64::from(weight);
        total_weight += weight.abs();
        if is_match {
            matched += weight;
        }
    }
    any.then(|| matched / total_weight)
}

/// The device affinity score appended by the bin-packing scorer: the
/// matched device affinity weight over the total absolute weight of the
/// requested devices' affinities, or `None` when that total is zero (no
/// device affinities).
pub fn device_affinity_score(matched_weight: f64, total_weight: f64) -> Option<f64> {
    (total_weight != 0.0).then(|| matched_weight / total_weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_affinities_no_score() {
        assert_eq!(normalized_affinity_score(std::iter::empty()), None);
    }

    #[test]
    fn weights_are_normalised_by_absolute_sum() {
        // Matches the +50 and +100 affinities but not the −50 one.
        assert_eq!(
            normalized_affinity_score([(50, true), (-50, false), (100, true)]),
            Some(0.75)
        );
        // Matching a negative affinity lowers the score.
        assert_eq!(
            normalized_affinity_score([(50, false), (-50, true)]),
            Some(-0.5)
        );
        assert_eq!(normalized_affinity_score([(100, true)]), Some(1.0));
        assert_eq!(normalized_affinity_score([(-100, true)]), Some(-1.0));
        assert_eq!(normalized_affinity_score([(25, false)]), Some(0.0));
    }

    #[test]
    fn zero_weights_give_nan_like_nomad() {
        assert!(normalized_affinity_score([(0, true)]).is_some_and(f64::is_nan));
    }

    #[test]
    fn device_affinity() {
        assert_eq!(device_affinity_score(0.0, 0.0), None);
        assert_eq!(device_affinity_score(50.0, 100.0), Some(0.5));
    }
}
