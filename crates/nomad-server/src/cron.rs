//! Cron expressions as Nomad's periodic jobs accept them, and the next
//! launch of a periodic configuration in its time zone.
//!
//! Fields, in order: seconds (optional), minutes, hours, day of month,
//! month, day of week, year (optional). Five fields are minutes to day of
//! week (seconds 0, any year); six add a year; seven start with seconds.
//! Each field is a list of `*` (or `?`), values, ranges `a-b` and steps
//! `*/n`, `a/n`, `a-b/n`; months and weekdays take English names (`jan`,
//! `monday`), 7 is Sunday too. Day of month also takes `L` (last day),
//! `LW` (last weekday) and `15W` (the weekday nearest the 15th, not
//! crossing the month); day of week takes `5L` (the last Friday) and
//! `5#3` (the third Friday). When both day fields are restricted a day
//! matching either runs, as in crontab. Macros: `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Years run from
//! 1970 to 2099; a spec with no time left has no next launch.
//!
//! A spec type `test` (as in Nomad's own tests) is a comma-separated list
//! of Unix seconds.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use nomad_types::job::PeriodicConfig;

const FIRST_YEAR: i16 = 1970;
const LAST_YEAR: i16 = 2099;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    seconds: u64,
    minutes: u64,
    hours: u64,
    months: u64,
    /// Bit `y - 1970` of word `(y - 1970) / 64`.
    years: [u64; 3],
    dom: Dom,
    dow: Dow,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Dom {
    restricted: bool,
    days: u64,
    last: bool,
    last_workday: bool,
    /// `nW`: bit n.
    workdays: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Dow {
    restricted: bool,
    /// Bit 0 = Sunday.
    days: u64,
    /// `dL`: bit d.
    last_of_month: u64,
    /// `d#n`: (weekday, n).
    nth: Vec<(u8, u8)>,
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Full names of the values from `min` on; their first three letters
    /// name them too.
    names: &'static [&'static str],
}

const MONTH_NAMES: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DOW_NAMES: &[&str] = &[
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTH_NAMES,
};
/// 7 is accepted and folded onto 0 (Sunday).
const DOW: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: DOW_NAMES,
};
const YEAR: Field = Field {
    name: "year",
    min: 1970,
    max: 2099,
    names: &[],
};

impl Field {
    fn value(&self, s: &str) -> Option<u32> {
        let v = match s.parse::<u32>() {
            Ok(v) => v,
            Err(_) => {
                let i = self.names.iter().position(|n| *n == s || n[..3] == *s)?;
                self.min + i as u32
            }
        };
        (self.min..=self.max).contains(&v).then_some(v)
    }
}

/// One list entry: `None` for a wildcard, else the values it covers.
fn entry(f: Field, s: &str) -> Result<Option<Vec<u32>>, String> {
    let err = || format!("syntax error in {} field: '{s}'", f.name);
    let (base, step) = match s.split_once('/') {
        Some((b, st)) => {
            let st: u32 = st.parse().map_err(|_| err())?;
            if st == 0 || st > f.max {
                return Err(format!("invalid interval {s}"));
            }
            (b, Some(st))
        }
        None => (s, None),
    };
    let (lo, hi) = if base == "*" || base == "?" {
        if step.is_none() {
            return Ok(None);
        }
        (f.min, f.max)
    } else if let Some((a, b)) = base.split_once('-') {
        (f.value(a).ok_or_else(err)?, f.value(b).ok_or_else(err)?)
    } else {
        let v = f.value(base).ok_or_else(err)?;
        (v, if step.is_some() { f.max } else { v })
    };
    Ok(Some(
        (lo..=hi).step_by(step.unwrap_or(1) as usize).collect(),
    ))
}

/// A field's values as a bit set, bit `v - base` of word `(v - base) / 64`
/// (`base` is 1970 for years, else 0).
fn bits(f: Field, s: &str) -> Result<[u64; 3], String> {
    let base = if f.min >= FIRST_YEAR as u32 { f.min } else { 0 };
    let mut out = [0u64; 3];
    let mut set = |v: u32| {
        let i = (v - base) as usize;
        out[i / 64] |= 1 << (i % 64);
    };
    for part in s.split(',') {
        match entry(f, part)? {
            None => (f.min..=f.max).for_each(&mut set),
            Some(vs) => vs.into_iter().for_each(&mut set),
        }
    }
    Ok(out)
}

fn parse_dom(s: &str) -> Result<Dom, String> {
    let mut d = Dom {
        restricted: true,
        ..Dom::default()
    };
    for part in s.split(',') {
        match part {
            "l" => d.last = true,
            "lw" => d.last_workday = true,
            p if p.len() > 1 && p.ends_with('w') => {
                let v = DOM
                    .value(&p[..p.len() - 1])
                    .ok_or_else(|| format!("syntax error in day-of-month field: '{part}'"))?;
                d.workdays |= 1 << v;
            }
            p => match entry(DOM, p)? {
                None => {
                    d.restricted = false;
                    d.days |= bits(DOM, "*")?[0];
                }
                Some(vs) => vs.iter().for_each(|v| d.days |= 1 << v),
            },
        }
    }
    Ok(d)
}

fn parse_dow(s: &str) -> Result<Dow, String> {
    let mut d = Dow {
        restricted: true,
        ..Dow::default()
    };
    let bad = |p: &str| format!("syntax error in day-of-week field: '{p}'");
    for part in s.split(',') {
        if let Some(w) = part.strip_suffix('l').filter(|w| !w.is_empty()) {
            let v = DOW.value(w).ok_or_else(|| bad(part))? % 7;
            d.last_of_month |= 1 << v;
        } else if let Some((w, n)) = part.split_once('#') {
            let v = DOW.value(w).ok_or_else(|| bad(part))? % 7;
            let n: u8 = n.parse().map_err(|_| bad(part))?;
            if !(1..=5).contains(&n) {
                return Err(bad(part));
            }
            d.nth.push((v as u8, n));
        } else {
            match entry(DOW, part)? {
                None => {
                    d.restricted = false;
                    d.days |= 0x7f;
                }
                Some(vs) => vs.iter().for_each(|v| d.days |= 1 << (v % 7)),
            }
        }
    }
    Ok(d)
}

impl CronExpr {
    /// Parses a spec (case-insensitive), or says what is wrong with it.
    pub fn parse(spec: &str) -> Result<CronExpr, String> {
        let lower = spec.trim().to_ascii_lowercase();
        let expanded = match lower.as_str() {
            "@yearly" | "@annually" => "0 0 0 1 1 * *",
            "@monthly" => "0 0 0 1 * * *",
            "@weekly" => "0 0 0 * * 0 *",
            "@daily" | "@midnight" => "0 0 0 * * * *",
            "@hourly" => "0 0 * * * * *",
            s if s.starts_with('@') => return Err(format!("unknown macro {s}")),
            s => s,
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest, year) = match f.len() {
            5 => ("0", &f[..], "*"),
            6 => ("0", &f[..5], f[5]),
            7 => (f[0], &f[1..6], f[6]),
            n => return Err(format!("expected 5 to 7 fields, got {n}")),
        };
        Ok(CronExpr {
            seconds: bits(SECOND, sec)?[0],
            minutes: bits(MINUTE, rest[0])?[0],
            hours: bits(HOUR, rest[1])?[0],
            dom: parse_dom(rest[2])?,
            months: bits(MONTH, rest[3])?[0],
            dow: parse_dow(rest[4])?,
            years: bits(YEAR, year)?,
        })
    }

    fn year_ok(&self, y: i16) -> bool {
        let i = (y - FIRST_YEAR) as usize;
        self.years[i / 64] & (1 << (i % 64)) != 0
    }

    /// The matching days of a month, ascending.
    fn days(&self, year: i16, month: i8) -> Vec<i8> {
        let first = match Date::new(year, month, 1) {
            Ok(d) => d,
            Err(_) => return Vec::new(),
        };
        let last = first.days_in_month();
        let (dom, dow) = (&self.dom, &self.dow);
        if !dom.restricted && !dow.restricted {
            return (1..=last).collect();
        }
        let weekday = |d: i8| (first.weekday().to_sunday_zero_offset() + d - 1).rem_euclid(7);
        let workday = |d: i8| match weekday(d) {
            6 if d > 1 => d - 1,
            6 => d + 2,
            0 if d < last => d + 1,
            0 => d - 2,
            _ => d,
        };
        let mut set = 0u64;
        if dom.restricted {
            if dom.last {
                set |= 1 << last;
            }
            if dom.last_workday {
                set |= 1 << workday(last);
            }
            for d in 1..=last {
                if dom.days & (1 << d) != 0 {
                    set |= 1 << d;
                }
                if dom.workdays & (1 << d) != 0 {
                    set |= 1 << workday(d);
                }
            }
        }
        if dow.restricted {
            for d in 1..=last {
                let w = weekday(d);
                if dow.days & (1 << w) != 0
                    || (dow.last_of_month & (1 << w) != 0 && d + 7 > last)
                    || dow.nth.contains(&(w as u8, ((d - 1) / 7 + 1) as u8))
                {
                    set |= 1 << d;
                }
            }
        }
        (1..=last).filter(|d| set & (1 << d) != 0).collect()
    }

    /// The first civil time strictly after `after` (second resolution)
    /// that matches, if any before the end of 2099.
    pub fn next_civil(&self, after: DateTime) -> Option<DateTime> {
        let start = after
            .with()
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(jiff::SignedDuration::from_secs(1))
            .ok()?;
        let set = |bits: u64, from: i8, to: i8| -> Vec<i8> {
            (from..=to).filter(|v| bits & (1 << v) != 0).collect()
        };
        for year in start.year().max(FIRST_YEAR)..=LAST_YEAR {
            if !self.year_ok(year) {
                continue;
            }
            let y0 = year == start.year();
            for month in set(self.months, if y0 { start.month() } else { 1 }, 12) {
                let m0 = y0 && month == start.month();
                for day in self.days(year, month) {
                    if m0 && day < start.day() {
                        continue;
                    }
                    let d0 = m0 && day == start.day();
                    for hour in set(self.hours, if d0 { start.hour() } else { 0 }, 23) {
                        let h0 = d0 && hour == start.hour();
                        for minute in set(self.minutes, if h0 { start.minute() } else { 0 }, 59) {
                            let i0 = h0 && minute == start.minute();
                            if let Some(&second) =
                                set(self.seconds, if i0 { start.second() } else { 0 }, 59).first()
                            {
                                return DateTime::new(year, month, day, hour, minute, second, 0)
                                    .ok();
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// The first instant strictly after `after` (whole seconds) that
    /// matches in `tz`. A civil time skipped by a DST gap runs at the same
    /// wall-clock distance after the gap; a repeated one runs once, at its
    /// first occurrence.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let mut civil = tz.to_datetime(after);
        for _ in 0..1000 {
            let cand = self.next_civil(civil)?;
            let ts = tz.to_ambiguous_timestamp(cand).compatible().ok()?;
            if ts.as_second() > after.as_second() {
                return Some(ts);
            }
            civil = cand;
        }
        None
    }
}

/// The time zone of a periodic configuration (`UTC` when unset; `Local`
/// is the server's own zone).
pub fn time_zone(p: &PeriodicConfig) -> Result<TimeZone, String> {
    match p.time_zone.as_deref().unwrap_or("") {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => TimeZone::try_system().map_err(|e| format!("local time zone: {e}")),
        name => jiff::tz::db()
            .get(name)
            .map_err(|e| format!("unknown time zone {name:?}: {e}")),
    }
}

/// The next launch of `p` strictly after `after` (Unix nanoseconds), in
/// Unix nanoseconds: the earliest over its specs. `Ok(None)` when no
/// launch is left.
pub fn next_launch(p: &PeriodicConfig, after: i64) -> Result<Option<i64>, String> {
    let after_ts = Timestamp::from_nanosecond(after as i128).map_err(|e| e.to_string())?;
    let specs: Vec<&str> = match p.spec.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => vec![s],
        None => p.specs.iter().map(String::as_str).collect(),
    };
    if specs.is_empty() {
        return Err("periodic job has no cron spec".into());
    }
    if p.spec_type.as_deref() == Some("test") {
        let mut best: Option<i64> = None;
        for s in &specs {
            for t in s.split(',').filter(|t| !t.trim().is_empty()) {
                let secs: i64 = t
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid test launch time {t:?}"))?;
                let n = secs.saturating_mul(1_000_000_000);
                if n > after && best.is_none_or(|b| n < b) {
                    best = Some(n);
                }
            }
        }
        return Ok(best);
    }
    let tz = time_zone(p)?;
    let mut best: Option<i64> = None;
    for s in specs {
        let e = CronExpr::parse(s)
            .map_err(|e| format!("failed parsing cron expression: {s:?}: {e}"))?;
        if let Some(ts) = e.next(after_ts, &tz) {
            let n = ts.as_nanosecond() as i64;
            if best.is_none_or(|b| n < b) {
                best = Some(n);
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn next(spec: &str, after: &str) -> Option<String> {
        CronExpr::parse(spec)
            .unwrap()
            .next_civil(dt(after))
            .map(|d| d.to_string())
    }

    #[test]
    fn fields_and_macros() {
        assert_eq!(
            next("* * * * *", "2024-01-01T10:00:30").as_deref(),
            Some("2024-01-01T10:01:00")
        );
        assert_eq!(
            next("* * * * * * *", "2024-01-01T10:00:30.5").as_deref(),
            Some("2024-01-01T10:00:31")
        );
        assert_eq!(
            next("*/15 * * * *", "2024-01-01T10:16:00").as_deref(),
            Some("2024-01-01T10:30:00")
        );
        assert_eq!(
            next("0 9 * * mon-fri", "2024-01-05T09:00:00").as_deref(),
            Some("2024-01-08T09:00:00")
        );
        assert_eq!(
            next("@hourly", "2024-01-01T10:00:00").as_deref(),
            Some("2024-01-01T11:00:00")
        );
        assert_eq!(
            next("@DAILY", "2024-01-01T10:00:00").as_deref(),
            Some("2024-01-02T00:00:00")
        );
        assert_eq!(
            next("@weekly", "2024-01-01T10:00:00").as_deref(),
            Some("2024-01-07T00:00:00")
        );
        assert_eq!(
            next("@yearly", "2024-03-01T00:00:00").as_deref(),
            Some("2025-01-01T00:00:00")
        );
        // Six fields: minutes .. weekday, year.
        assert_eq!(
            next("0 0 1 1 * 2030", "2024-03-01T00:00:00").as_deref(),
            Some("2030-01-01T00:00:00")
        );
        assert_eq!(next("0 0 1 1 * 2020", "2024-03-01T00:00:00"), None);
        // Seven fields: seconds first.
        assert_eq!(
            next("30 0 12 * * * *", "2024-03-01T00:00:00").as_deref(),
            Some("2024-03-01T12:00:30")
        );
        // 7 is Sunday; names are case-insensitive.
        assert_eq!(
            next("0 0 * * 7", "2024-01-01T00:00:00").as_deref(),
            Some("2024-01-07T00:00:00")
        );
        assert_eq!(
            next("0 0 1 JUL *", "2024-01-01T00:00:00").as_deref(),
            Some("2024-07-01T00:00:00")
        );
        assert_eq!(
            next("0 0 * * wed", "2024-01-01T00:00:00").as_deref(),
            Some("2024-01-03T00:00:00")
        );
    }

    #[test]
    fn day_rules() {
        // Either day field matches when both are restricted.
        assert_eq!(
            next("0 0 13 * fri", "2024-09-01T00:00:00").as_deref(),
            Some("2024-09-06T00:00:00")
        );
        assert_eq!(
            next("0 0 L * *", "2024-02-01T00:00:00").as_deref(),
            Some("2024-02-29T00:00:00")
        );
        // 2024-06-30 is a Sunday: the last weekday is Friday the 28th.
        assert_eq!(
            next("0 0 LW * *", "2024-06-01T00:00:00").as_deref(),
            Some("2024-06-28T00:00:00")
        );
        // 2024-06-01 is a Saturday: 1W is Monday the 3rd.
        assert_eq!(
            next("0 0 1W * *", "2024-05-31T00:00:00").as_deref(),
            Some("2024-06-03T00:00:00")
        );
        assert_eq!(
            next("0 0 * * 5L", "2024-06-01T00:00:00").as_deref(),
            Some("2024-06-28T00:00:00")
        );
        assert_eq!(
            next("0 0 * * 5#3", "2024-06-01T00:00:00").as_deref(),
            Some("2024-06-21T00:00:00")
        );
        assert_eq!(
            next("0 0 31 * *", "2024-04-01T00:00:00").as_deref(),
            Some("2024-05-31T00:00:00")
        );
        assert_eq!(
            next("0 0 29 2 *", "2025-01-01T00:00:00").as_deref(),
            Some("2028-02-29T00:00:00")
        );
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "@reboot",
            "* * * * * 1969",
            "x * * * *",
            "* * * * 5#6",
        ] {
            assert!(CronExpr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_zones_and_specs() {
        let mut p = PeriodicConfig {
            spec: Some("0 9 * * *".into()),
            time_zone: Some("America/New_York".into()),
            ..PeriodicConfig::default()
        };
        let after: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let n = next_launch(&p, after.as_nanosecond() as i64)
            .unwrap()
            .unwrap();
        let want: Timestamp = "2024-01-01T14:00:00Z".parse().unwrap();
        assert_eq!(n, want.as_nanosecond() as i64);
        // The earliest of several specs.
        p.spec = None;
        p.time_zone = None;
        p.specs = vec!["0 12 * * *".into(), "0 6 * * *".into()];
        let n = next_launch(&p, after.as_nanosecond() as i64)
            .unwrap()
            .unwrap();
        let want: Timestamp = "2024-01-01T06:00:00Z".parse().unwrap();
        assert_eq!(n, want.as_nanosecond() as i64);
        p.time_zone = Some("Nowhere/Atlantis".into());
        assert!(next_launch(&p, 0).is_err());
        // Test specs: Unix seconds.
        let t = PeriodicConfig {
            spec: Some("100,50,200".into()),
            spec_type: Some("test".into()),
            ..PeriodicConfig::default()
        };
        assert_eq!(
            next_launch(&t, 60_000_000_000).unwrap(),
            Some(100_000_000_000)
        );
        assert_eq!(next_launch(&t, 200_000_000_000).unwrap(), None);
    }

    #[test]
    fn dst_gap_moves_forward() {
        let tz = jiff::tz::db().get("America/New_York").unwrap();
        let e = CronExpr::parse("30 2 * * *").unwrap();
        // 2024-03-10 02:30 does not exist in New York.
        let after: Timestamp = "2024-03-10T05:00:00Z".parse().unwrap();
        let n = e.next(after, &tz).unwrap();
        assert_eq!(n.to_string(), "2024-03-10T07:30:00Z");
    }
}
