//! How many scored candidates a placement looks at, and which one it takes.
//!
//! Nomad does not score every feasible node. It walks the shuffled nodes and
//! stops after a small number of scored options (the *limit*), then takes the
//! best of those. The rules, from Nomad's generic stack:
//!
//! * batch jobs look at [`BATCH_LIMIT`] (2) options: "power of two choices";
//! * service jobs look at `max(2, ceil(log2(N)))` options for `N` candidate
//!   nodes ([`candidate_limit`]);
//! * a task group with affinities or spreads raises the limit to the
//!   scheduler's `node_limit_for_feasibility_checks` (default
//!   [`DEFAULT_NODE_LIMIT_FOR_FEASIBILITY_CHECKS`], 100) or to the group's
//!   count when that is larger ([`affinity_spread_limit`]). Nomad sets this
//!   on the shared limit and does not put it back for later groups of the same
//!   evaluation; only the next node-set change restores the log rule;
//! * while walking, up to [`MAX_SKIP`] (3) options whose final score is at or
//!   below [`SKIP_SCORE_THRESHOLD`] (0.0) are set aside in the hope of better
//!   ones; they are used only if the walk runs out of nodes ([`Limiter`]);
//! * of the options returned, the first one with the highest final score
//!   wins ([`select_best`]).

/// Options looked at for a batch job.
pub const BATCH_LIMIT: usize = 2;

/// The floor of the limit for service jobs.
pub const MIN_SERVICE_LIMIT: usize = 2;

/// Default of the scheduler configuration's
/// `node_limit_for_feasibility_checks`, used when it is unset or zero.
pub const DEFAULT_NODE_LIMIT_FOR_FEASIBILITY_CHECKS: usize = 100;

/// Options scoring at or below this are candidates for skipping.
pub const SKIP_SCORE_THRESHOLD: f64 = 0.0;

/// At most this many low-scoring options are skipped per selection.
pub const MAX_SKIP: usize = 3;

/// `ceil(log2(n))` for `n >= 1`, computed exactly on integers (what Nomad's
/// `math.Ceil(math.Log2(n))` gives for every node count that fits in memory).
fn ceil_log2(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

/// The number of options scored per placement for a node set of
/// `node_count` candidates: [`BATCH_LIMIT`] for batch jobs, otherwise
/// `max(2, ceil(log2(node_count)))` (2 for an empty node set).
pub fn candidate_limit(batch: bool, node_count: usize) -> usize {
    if batch || node_count == 0 {
        return BATCH_LIMIT;
    }
    ceil_log2(node_count).max(MIN_SERVICE_LIMIT)
}

/// The limit for a task group that has affinities or spreads: the
/// configured `node_limit_for_feasibility_checks` (zero meaning the default
/// of 100) when the group's count is below it, otherwise the count.
pub fn affinity_spread_limit(
    group_count: usize,
    node_limit_for_feasibility_checks: usize,
) -> usize {
    let configured = if node_limit_for_feasibility_checks == 0 {
        DEFAULT_NODE_LIMIT_FOR_FEASIBILITY_CHECKS
    } else {
        node_limit_for_feasibility_checks
    };
    if group_count < configured {
        configured
    } else {
        group_count
    }
}

/// Stops a stream of scored options after `limit` of them, skipping a few
/// low scorers along the way, with the exact semantics of Nomad's limit
/// iterator.
///
/// `T` is whatever identifies an option (typically a small index), so the
/// limiter never allocates. The source passed to [`Limiter::next`] must keep
/// returning `None` once exhausted.
///
/// Behaviour worth knowing (all Nomad's):
/// * an option counts towards the limit when it is returned, not when it is
///   skipped;
/// * once [`MAX_SKIP`] options have been set aside, nothing more is skipped
///   for the rest of the selection;
/// * when the source runs dry, the set-aside options are returned in the
///   order they were skipped, still bounded by the limit.
#[derive(Clone, Debug)]
pub struct Limiter<T> {
    limit: usize,
    threshold: f64,
    max_skip: usize,
    seen: usize,
    skipped: [Option<T>; MAX_SKIP],
    skipped_len: usize,
    skipped_next: usize,
}

impl<T: Copy> Limiter<T> {
    /// A limiter with Nomad's threshold (0.0) and skip count (3).
    pub fn new(limit: usize) -> Self {
        Self::with_skip(limit, SKIP_SCORE_THRESHOLD, MAX_SKIP)
    }

    /// A limiter with a custom skip threshold and skip count (the count is
    /// capped at [`MAX_SKIP`]).
    pub fn with_skip(limit: usize, threshold: f64, max_skip: usize) -> Self {
        Self {
            limit,
            threshold,
            max_skip: max_skip.min(MAX_SKIP),
            seen: 0,
            skipped: [None; MAX_SKIP],
            skipped_len: 0,
            skipped_next: 0,
        }
    }

    /// Changes the limit without resetting the walk.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Starts a new selection: forgets what was returned and skipped.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.skipped = [None; MAX_SKIP];
        self.skipped_len = 0;
        self.skipped_next = 0;
    }

    /// The next option to consider, or `None` when the limit is reached or
    /// every option (including skipped ones) has been returned.
    pub fn next<S, F>(&mut self, mut source: S, score: F) -> Option<T>
    where
        S: FnMut() -> Option<T>,
        F: Fn(&T) -> f64,
    {
        if self.seen == self.limit {
            return None;
        }
        let mut current = Some(self.source_or_skipped(&mut source)?);
        while self.skipped_len < self.max_skip {
            match current {
                Some(candidate) if score(&candidate) <= self.threshold => {
                    self.skipped[self.skipped_len] = Some(candidate);
                    self.skipped_len += 1;
                    current = source();
                }
                _ => break,
            }
        }
        self.seen += 1;
        // If the source ran out while skipping, fall back to the options set
        // aside.
        current.or_else(|| self.source_or_skipped(&mut source))
    }

    /// Pulls from the source; once it is dry, hands out skipped options in
    /// the order they were skipped.
    fn source_or_skipped<S>(&mut self, source: &mut S) -> Option<T>
    where
        S: FnMut() -> Option<T>,
    {
        if let Some(option) = source() {
            return Some(option);
        }
        if self.skipped_next < self.skipped_len {
            let option = self.skipped[self.skipped_next];
            self.skipped_next += 1;
            return option;
        }
        None
    }
}

/// Drains `options` and returns the first one with the strictly highest
/// score (ties keep the earlier option), as Nomad's max-score iterator does.
pub fn select_best<T, I, F>(options: I, score: F) -> Option<T>
where
    I: IntoIterator<Item = T>,
    F: Fn(&T) -> f64,
{
    let mut best: Option<(T, f64)> = None;
    for option in options {
        let s = score(&option);
        let better = match &best {
            None => true,
            Some((_, best_score)) => s > *best_score,
        };
        if better {
            best = Some((option, s));
        }
    }
    best.map(|(option, _)| option)
}

/// Runs a whole selection: walks `source` through a fresh [`Limiter`] with
/// `limit`, and returns the best option it lets through.
pub fn limit_and_select<T, S, F>(limit: usize, mut source: S, score: F) -> Option<T>
where
    T: Copy,
    S: FnMut() -> Option<T>,
    F: Fn(&T) -> f64,
{
    let mut limiter = Limiter::new(limit);
    let through = std::iter::from_fn(|| limiter.next(&mut source, &score));
    select_best(through, &score)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a limiter over `scores` (option i has score `scores[i]`) and
    /// returns the indexes it yields, in order.
    fn walk(limit: usize, scores: &[f64]) -> Vec<usize> {
        let mut limiter = Limiter::new(limit);
        let mut next = 0usize;
        let mut source = || {
            if next < scores.len() {
                next += 1;
                Some(next - 1)
            } else {
                None
            }
        };
        let score = |i: &usize| scores[*i];
        let mut out = Vec::new();
        while let Some(i) = limiter.next(&mut source, score) {
            out.push(i);
            assert!(out.len() <= scores.len() + MAX_SKIP, "runaway limiter");
        }
        out
    }

    #[test]
    fn limits_follow_nomads_rules() {
        assert_eq!(candidate_limit(true, 5000), 2);
        assert_eq!(candidate_limit(false, 0), 2);
        assert_eq!(candidate_limit(false, 1), 2);
        assert_eq!(candidate_limit(false, 4), 2);
        assert_eq!(candidate_limit(false, 5), 3);
        assert_eq!(candidate_limit(false, 8), 3);
        assert_eq!(candidate_limit(false, 9), 4);
        assert_eq!(candidate_limit(false, 1000), 10);
        assert_eq!(candidate_limit(false, 1024), 10);
        assert_eq!(candidate_limit(false, 1025), 11);
        assert_eq!(candidate_limit(false, 5000), 13);
        assert_eq!(candidate_limit(false, 10_000), 14);
    }

    #[test]
    fn ceil_log2_matches_float_formula() {
        for n in 1..5000usize {
            let float = (n as f64).log2().ceil() as usize;
            assert_eq!(ceil_log2(n), float, "n = {n}");
        }
    }

    #[test]
    fn affinity_and_spread_raise_the_limit() {
        assert_eq!(affinity_spread_limit(10, 0), 100);
        assert_eq!(affinity_spread_limit(10, 100), 100);
        assert_eq!(affinity_spread_limit(99, 100), 100);
        assert_eq!(affinity_spread_limit(100, 100), 100);
        assert_eq!(affinity_spread_limit(300, 100), 300);
        assert_eq!(affinity_spread_limit(30, 50), 50);
    }

    #[test]
    fn returns_up_to_limit_when_scores_are_good() {
        assert_eq!(walk(2, &[0.5, 0.6, 0.7]), vec![0, 1]);
        assert_eq!(walk(5, &[0.5, 0.6]), vec![0, 1]);
        assert_eq!(walk(0, &[0.5]), Vec::<usize>::new());
    }

    #[test]
    fn skips_low_scores_while_better_ones_remain() {
        // Option 0 scores 0 and option 1 is negative: both are skipped.
        assert_eq!(walk(2, &[0.0, -0.5, 0.4, 0.3, 0.2]), vec![2, 3]);
    }

    #[test]
    fn skips_at_most_three() {
        // Four bad options: three are skipped, the fourth is returned once
        // the skip budget is spent.
        assert_eq!(walk(2, &[-1.0, -1.0, -1.0, -1.0, 0.5]), vec![3, 4]);
    }

    #[test]
    fn falls_back_to_skipped_options_when_source_runs_dry() {
        assert_eq!(walk(2, &[-1.0, -0.5]), vec![0, 1]);
        assert_eq!(walk(3, &[-1.0, 0.5, -0.2]), vec![1, 0, 2]);
        assert_eq!(walk(1, &[-1.0, -0.5]), vec![0]);
    }

    #[test]
    fn reset_starts_over() {
        let scores = [0.5, 0.6, 0.7, 0.8];
        let mut limiter = Limiter::new(1);
        let mut next = 0usize;
        let mut source = || {
            next += 1;
            (next <= scores.len()).then_some(next - 1)
        };
        let score = |i: &usize| scores[*i];
        assert_eq!(limiter.next(&mut source, score), Some(0));
        assert_eq!(limiter.next(&mut source, score), None);
        limiter.reset();
        assert_eq!(limiter.next(&mut source, score), Some(1));
        limiter.set_limit(3);
        assert_eq!(limiter.limit(), 3);
        assert_eq!(limiter.next(&mut source, score), Some(2));
    }

    #[test]
    fn best_is_first_highest() {
        let scores = [0.2, 0.9, 0.9, 0.1];
        assert_eq!(select_best(0..4usize, |i| scores[*i]), Some(1));
        assert_eq!(select_best(std::iter::empty::<usize>(), |_| 0.0), None);
        // Negative scores still select something.
        assert_eq!(select_best([-3.0, -1.0, -2.0], |s| *s), Some(-1.0));
    }

    #[test]
    fn whole_selection() {
        let scores = [-0.5, 0.3, 0.8, 0.9, 1.0];
        let mut i = 0usize;
        let picked = limit_and_select(
            2,
            || {
                i += 1;
                (i <= scores.len()).then_some(i - 1)
            },
            |k| scores[*k],
        );
        // Option 0 is skipped, options 1 and 2 are scored, 2 wins; 3 and 4
        // are never looked at.
        assert_eq!(picked, Some(2));
    }
}
