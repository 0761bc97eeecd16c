//! "Did you mean ...?" suggestions by edit distance.

/// Edit distance in characters (insertions, deletions, substitutions and
/// swaps of neighbours each count one).
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a likely typo
/// (fewer than three edits, or the same apart from letter case).
pub fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    if name.len() > 256 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if *c == name || c.len() > 256 {
            continue;
        }
        let d = if c.eq_ignore_ascii_case(name) {
            0
        } else {
            distance(name, c)
        };
        if d < 3 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            did_you_mean("cuont", &["count", "constraint"]),
            Some("count".into())
        );
        assert_eq!(did_you_mean("image", &["imgae", "x"]), Some("imgae".into()));
        assert_eq!(did_you_mean("Count", &["count"]), Some("count".into()));
        assert_eq!(did_you_mean("zzzzzz", &["count"]), None);
        assert_eq!(did_you_mean("count", &["count"]), None);
        assert_eq!(distance("vra", "var"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
