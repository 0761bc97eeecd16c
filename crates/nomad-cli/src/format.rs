//! Nomad's output helpers (`command/helpers.go`): columnize tables and
//! key/value blocks, short IDs, times, relative times and byte sizes.
//!
//! Times are printed in UTC (`2006-01-02T15:04:05Z07:00` with a `Z`); Nomad
//! prints the local zone, which is the same on UTC machines.

/// Short (8-character) IDs, as Nomad prints by default.
pub const SHORT_ID: usize = 8;
/// Full IDs, with `-verbose`.
pub const FULL_ID: usize = 36;

/// Nomad's `limit`: the first `n` characters.
pub fn limit(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `columnize` with a glue and an optional empty-cell placeholder.
pub fn columnize(lines: &[String], glue: &str, empty: Option<&str>) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            l.split('|')
                .map(|c| {
                    let c = c.trim();
                    match empty {
                        Some(e) if c.is_empty() => e.to_string(),
                        _ => c.to_string(),
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            let w = c.chars().count();
            if i >= widths.len() {
                widths.push(w);
            } else if w > widths[i] {
                widths[i] = w;
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(c);
            } else {
                out.push_str(c);
                out.push_str(&" ".repeat(widths[i] - c.chars().count()));
                out.push_str(glue);
            }
        }
        out.push('\n');
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// `formatList`: columns glued by two spaces, empty cells as `<none>`.
pub fn format_list(lines: &[String]) -> String {
    columnize(lines, "  ", Some("<none>"))
}

/// `formatListWithSpaces`: like [`format_list`] but empty cells stay empty.
pub fn format_list_with_spaces(lines: &[String]) -> String {
    columnize(lines, "  ", None)
}

/// `formatKV`: `Key = value` lines aligned on `=`.
pub fn format_kv(lines: &[String]) -> String {
    columnize(lines, " = ", Some("<none>"))
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// `formatUnixNanoTime`: `2006-01-02T15:04:05Z`, empty before 1970.
pub fn format_unix_nanos(nanos: i64) -> String {
    if nanos < 1_000_000_000 {
        return String::new();
    }
    nomad_types::GoTime::from_unix_nanos(nanos.div_euclid(1_000_000_000) * 1_000_000_000).0
}

/// `formatTime(time.Now())`.
pub fn now_time() -> String {
    format_unix_nanos(now_nanos())
}

/// A Go RFC 3339 time as `formatTime` prints it (empty for the zero time).
pub fn format_go_time(t: &nomad_types::GoTime) -> String {
    t.to_unix_nanos().map(format_unix_nanos).unwrap_or_default()
}

/// `prettyTimeDiff(first, now)`: `5m3s ago`, `2h from now`; at most the two
/// largest units; empty for the zero time.
pub fn pretty_time_diff(first_nanos: i64, now_nanos: i64) -> String {
    if first_nanos == 0 {
        return String::new();
    }
    let round = |n: i64| (n + 500_000_000).div_euclid(1_000_000_000);
    let (first, second) = (round(first_nanos), round(now_nanos));
    let (mut u, suffix) = if second >= first {
        ((second - first) as u64, "ago")
    } else {
        ((first - second) as u64, "from now")
    };
    let mut parts: Vec<String> = Vec::new();
    let secs = u % 60;
    if secs > 0 {
        parts.push(format!("{secs}s"));
    }
    u /= 60;
    if u > 0 {
        let mins = u % 60;
        if mins > 0 {
            parts.push(format!("{mins}m"));
        }
        u /= 60;
        if u > 0 {
            let hrs = u % 24;
            if hrs > 0 {
                parts.push(format!("{hrs}h"));
            }
            u /= 24;
        }
        if u > 0 {
            let days = u % 30;
            if days > 0 {
                parts.push(format!("{days}d"));
            }
            u /= 30;
        }
        if u > 0 {
            let months = u % 12;
            if months > 0 {
                parts.push(format!("{months}mo"));
            }
            u /= 12;
        }
        if u > 0 {
            parts.push(format!("{u}y"));
        }
    }
    if parts.is_empty() {
        return format!("0s {suffix}");
    }
    // Largest units first; Nomad keeps the two largest.
    parts.reverse();
    parts.truncate(2);
    format!("{} {suffix}", parts.concat())
}

/// go-humanize's `IBytes`: `256 MiB`, `8.0 GiB`, `5.1 MiB`, `300 B`.
pub fn ibytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1024f64.ln()).floor() as usize;
    let e = e.min(UNITS.len() - 1);
    let val = ((n as f64) / 1024f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", UNITS[e])
    } else {
        format!("{val:.0} {}", UNITS[e])
    }
}

/// Megabytes as `ibytes`.
pub fn mb(n: i64) -> String {
    ibytes(u64::try_from(n).unwrap_or(0) * 1024 * 1024)
}

/// Nomad's `sanitizeUUIDPrefix`: an odd number of hex digits is cut by one
/// (prefix lookups work on whole bytes).
pub fn sanitize_uuid_prefix(prefix: &str) -> String {
    let hyphens = prefix.matches('-').count();
    if (prefix.len() - hyphens) % 2 == 1 {
        prefix[..prefix.len() - 1].to_string()
    } else {
        prefix.to_string()
    }
}

/// Go's `%v` of a Nanos duration (`10s`, `1m30s`).
pub fn go_duration(n: nomad_types::Nanos) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_like_columnize() {
        let t = format_list(&["ID|DC|Class".into(), "abcdef12|dc1|".into()]);
        assert_eq!(t, "ID        DC   Class\nabcdef12  dc1  <none>");
        let kv = format_kv(&["ID|x".into(), "Submit Date|".into()]);
        assert_eq!(kv, "ID          = x\nSubmit Date = <none>");
    }

    #[test]
    fn relative_times_and_sizes() {
        let s = 1_000_000_000i64;
        assert_eq!(pretty_time_diff(100 * s, 100 * s), "0s ago");
        assert_eq!(pretty_time_diff(100 * s, 403 * s), "5m3s ago");
        assert_eq!(
            pretty_time_diff(100 * s, (100 + 3 * 3600 + 125) * s),
            "3h2m ago"
        );
        assert_eq!(pretty_time_diff(200 * s, 100 * s), "1m40s from now");
        assert_eq!(pretty_time_diff(0, 100 * s), "");
        assert_eq!(ibytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(ibytes(8 * 1024 * 1024 * 1024), "8.0 GiB");
        assert_eq!(ibytes(5), "5 B");
        assert_eq!(format_unix_nanos(1_700_000_000 * s), "2023-11-14T22:13:20Z");
        assert_eq!(sanitize_uuid_prefix("abc"), "ab");
        assert_eq!(limit("abcdefghijk", 8), "abcdefgh");
    }
}
