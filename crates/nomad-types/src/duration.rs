//! Time values as Nomad's JSON carries them.
//!
//! * [`Nanos`]: a duration, written as a bare integer count of nanoseconds
//!   (that is how Go's `time.Duration` marshals).
//! * [`GoTime`]: a wall-clock instant written as an RFC 3339 string
//!   (how Go's `time.Time` marshals); the zero instant is
//!   `"0001-01-01T00:00:00Z"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

const NS_PER_US: i64 = 1_000;
const NS_PER_MS: i64 = 1_000_000;
const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_MIN: i64 = 60 * NS_PER_SEC;
const NS_PER_HOUR: i64 = 60 * NS_PER_MIN;

/// A signed duration in nanoseconds, serialised as a JSON integer.
///
/// `Display` renders the way Nomad prints durations (`"30s"`, `"1h0m0s"`,
/// `"1.5ms"`); `FromStr` accepts the same syntax (`"1h30m"`, `"250ms"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Nanos(pub i64);

impl Nanos {
    /// Zero length.
    pub const ZERO: Nanos = Nanos(0);

    /// Whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Nanos(secs.saturating_mul(NS_PER_SEC))
    }
    /// Whole milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Nanos(ms.saturating_mul(NS_PER_MS))
    }
    /// Whole minutes.
    pub const fn from_mins(mins: i64) -> Self {
        Nanos(mins.saturating_mul(NS_PER_MIN))
    }
    /// Whole hours.
    pub const fn from_hours(hours: i64) -> Self {
        Nanos(hours.saturating_mul(NS_PER_HOUR))
    }
    /// The raw nanosecond count.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
    /// Whole seconds (truncated toward zero).
    pub const fn as_secs(self) -> i64 {
        self.0 / NS_PER_SEC
    }
    /// True for negative durations.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
    /// Converts to a std duration; negative values become `None`.
    pub fn to_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.0)
            .ok()
            .map(std::time::Duration::from_nanos)
    }
    /// Converts from a std duration, saturating at `i64::MAX` nanoseconds.
    pub fn from_std(d: std::time::Duration) -> Self {
        Nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl From<std::time::Duration> for Nanos {
    fn from(d: std::time::Duration) -> Self {
        Nanos::from_std(d)
    }
}

/// Writes `value / 10^prec` with its decimal fraction, trailing zeros removed.
fn write_fraction(out: &mut String, value: u128, prec: u32) {
    let scale = 10u128.pow(prec);
    let whole = value / scale;
    let frac = value % scale;
    out.push_str(&whole.to_string());
    if frac != 0 {
        let digits = format!("{:0width$}", frac, width = prec as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        if self.0 < 0 {
            out.push('-');
        }
        let u = self.0.unsigned_abs() as u128;
        if u == 0 {
            return f.write_str("0s");
        }
        if u < NS_PER_SEC as u128 {
            if u < NS_PER_US as u128 {
                out.push_str(&u.to_string());
                out.push_str("ns");
            } else if u < NS_PER_MS as u128 {
                write_fraction(&mut out, u, 3);
                out.push_str("µs");
            } else {
                write_fraction(&mut out, u, 6);
                out.push_str("ms");
            }
            return f.write_str(&out);
        }
        let mut parts = String::new();
        write_fraction(&mut parts, u % NS_PER_MIN as u128, 9);
        parts.push('s');
        let mins_total = u / NS_PER_MIN as u128;
        if mins_total > 0 {
            parts = format!("{}m{}", mins_total % 60, parts);
            let hours = mins_total / 60;
            if hours > 0 {
                parts = format!("{hours}h{parts}");
            }
        }
        out.push_str(&parts);
        f.write_str(&out)
    }
}

/// Error returned when a duration string cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct ParseDurationError {
    /// The rejected text.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl FromStr for Nanos {
    type Err = ParseDurationError;

    /// Parses Go duration syntax: a sequence of decimal numbers with unit
    /// suffixes (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), optionally signed.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: input.to_string(),
            reason,
        };
        let mut s = input;
        let mut negative = false;
        if let Some(rest) = s.strip_prefix('-') {
            negative = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(Nanos(0));
        }
        if s.is_empty() {
            return Err(err("empty duration"));
        }
        let mut total: i128 = 0;
        while !s.is_empty() {
            let num_len = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let num = &s[..num_len];
            if num.is_empty() || num == "." || num.matches('.').count() > 1 {
                return Err(err("expected a number"));
            }
            s = &s[num_len..];
            let unit_len = s
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(s.len());
            let unit = &s[..unit_len];
            s = &s[unit_len..];
            let scale: i128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => NS_PER_US as i128,
                "ms" => NS_PER_MS as i128,
                "s" => NS_PER_SEC as i128,
                "m" => NS_PER_MIN as i128,
                "h" => NS_PER_HOUR as i128,
                "" => return Err(err("missing unit")),
                _ => return Err(err("unknown unit")),
            };
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            let whole: i128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| err("number out of range"))?
            };
            let mut value = whole
                .checked_mul(scale)
                .ok_or_else(|| err("duration out of range"))?;
            let mut frac_scale = scale;
            for digit in frac.bytes() {
                frac_scale /= 10;
                if frac_scale == 0 {
                    break;
                }
                value += i128::from(digit - b'0') * frac_scale;
            }
            total = total
                .checked_add(value)
                .ok_or_else(|| err("duration out of range"))?;
            if total > i64::MAX as i128 + 1 {
                return Err(err("duration out of range"));
            }
        }
        if negative {
            total = -total;
        }
        i64::try_from(total)
            .map(Nanos)
            .map_err(|_| err("duration out of range"))
    }
}

/// The zero instant as Go writes it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A timestamp in Go's `time.Time` JSON form (RFC 3339 with optional
/// nanosecond fraction). Kept as text so values round-trip untouched.
///
/// `Default` is Go's zero time; `null` is read as the zero time too, as Go
/// does. Written as a newtype (JSON: the bare string), so that serializers
/// can tell it from a plain string whose default is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GoTime(pub String);

impl Default for GoTime {
    fn default() -> Self {
        GoTime(GO_ZERO_TIME.to_string())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .map(GoTime)
            .unwrap_or_default())
    }
}

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl GoTime {
    /// Go's zero time.
    pub fn zero() -> Self {
        GoTime::default()
    }

    /// True for Go's zero time (or an empty string).
    pub fn is_zero(&self) -> bool {
        self.0.is_empty() || self.0 == GO_ZERO_TIME
    }

    /// Formats Unix nanoseconds as UTC RFC 3339 with the fraction trimmed,
    /// which is Go's `RFC3339Nano` layout.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        let secs = nanos.div_euclid(NS_PER_SEC);
        let frac = nanos.rem_euclid(NS_PER_SEC);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            mo,
            d,
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        );
        if frac != 0 {
            let digits = format!("{frac:09}");
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
        s.push('Z');
        GoTime(s)
    }

    /// Parses the timestamp back into Unix nanoseconds. `None` for the zero
    /// time, unparseable text, or instants outside the `i64` range.
    pub fn to_unix_nanos(&self) -> Option<i64> {
        if self.is_zero() {
            return None;
        }
        let s = self.0.as_bytes();
        let num = |a: usize, b: usize| -> Option<i64> {
            std::str::from_utf8(s.get(a..b)?).ok()?.parse().ok()
        };
        if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't') {
            return None;
        }
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        let mut i = 19;
        let mut frac: i64 = 0;
        if s.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            let digits = std::str::from_utf8(&s[start..i]).ok()?;
            let mut scale = NS_PER_SEC;
            for c in digits.bytes() {
                scale /= 10;
                frac += i64::from(c - b'0') * scale;
            }
        }
        let offset = match s.get(i)? {
            b'Z' | b'z' => 0,
            sign @ (b'+' | b'-') => {
                let oh = num(i + 1, i + 3)?;
                let om = num(i + 4, i + 6)?;
                let off = oh * 3600 + om * 60;
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
        secs.checked_mul(NS_PER_SEC)?.checked_add(frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_go() {
        let cases = [
            (0, "0s"),
            (5, "5ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (NS_PER_SEC * 30, "30s"),
            (NS_PER_SEC * 90, "1m30s"),
            (NS_PER_HOUR, "1h0m0s"),
            (NS_PER_HOUR * 24, "24h0m0s"),
            (NS_PER_SEC * 5 / 2, "2.5s"),
            (-NS_PER_SEC, "-1s"),
        ];
        for (n, want) in cases {
            assert_eq!(Nanos(n).to_string(), want);
        }
    }

    #[test]
    fn parse_round_trips() {
        for s in ["30s", "1h0m0s", "1.5ms", "2h45m", "100µs", "250ms", "-3s"] {
            let n: Nanos = s.parse().unwrap();
            let again: Nanos = n.to_string().parse().unwrap();
            assert_eq!(n, again, "{s}");
        }
        assert_eq!("1h30m".parse::<Nanos>().unwrap(), Nanos::from_mins(90));
        assert!("10".parse::<Nanos>().is_err());
        assert!("1x".parse::<Nanos>().is_err());
        assert!("".parse::<Nanos>().is_err());
    }

    #[test]
    fn go_time_round_trip() {
        let t = GoTime::from_unix_nanos(1_700_000_000_123_000_000);
        assert_eq!(t.0, "2023-11-14T22:13:20.123Z");
        assert_eq!(t.to_unix_nanos(), Some(1_700_000_000_123_000_000));
        let t = GoTime("2023-11-14T23:13:20+01:00".into());
        assert_eq!(t.to_unix_nanos(), Some(1_700_000_000_000_000_000));
        assert_eq!(GoTime::default().to_unix_nanos(), None);
    }
}
