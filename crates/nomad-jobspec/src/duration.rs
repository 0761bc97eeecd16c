//! Go duration strings (`"30s"`, `"1h30m"`, `"500ms"`, `"-1.5h"`) as integer
//! nanoseconds, with the same grammar and limits as Go's `time.ParseDuration`.

/// What a valid duration looks like, for error messages.
pub const VALID_FORMS: &str =
    "use a number with a unit, such as \"30s\", \"1h30m\" or \"500ms\" (units: ns, us, ms, s, m, h), or a whole number of nanoseconds";

fn unit_ns(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses a Go duration into nanoseconds.
pub fn parse(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid duration {text:?}");
    let (neg, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // Accumulate in units of 1e-9 ns... exactly: whole part times unit plus
    // the fraction scaled by the unit, like Go (truncating the fraction).
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..n];
            rest = &after_dot[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(format!("missing unit in duration {text:?}"));
        }
        let scale =
            unit_ns(unit).ok_or_else(|| format!("unknown unit {unit:?} in duration {text:?}"))?;
        let overflow = || format!("duration {text:?} is too large");
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<u128>().map_err(|_| overflow())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(overflow)?;
        if !frac_part.is_empty() {
            // Use at most 30 digits of fraction; more cannot change the result.
            let digits = &frac_part[..frac_part.len().min(30)];
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(digits.len() as u32);
            value = value
                .checked_add(f.checked_mul(scale).ok_or_else(overflow)? / denom)
                .ok_or_else(overflow)?;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(overflow());
        }
    }
    if neg {
        Ok(i64::try_from(-(total as i128)).unwrap_or(i64::MIN))
    } else {
        i64::try_from(total).map_err(|_| format!("duration {text:?} is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn go_durations() {
        assert_eq!(parse("30s"), Ok(30_000_000_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse("500ms"), Ok(500_000_000));
        assert_eq!(parse("2.5s"), Ok(2_500_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("72h"), Ok(259_200_000_000_000));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(parse("1us"), Ok(1_000));
        assert_eq!(parse("1µs"), Ok(1_000));
        assert_eq!(parse(".5s"), Ok(500_000_000));
        assert!(parse("5 minutes").is_err());
        assert!(parse("10").is_err());
        assert!(parse("").is_err());
        assert!(parse("s").is_err());
        assert!(parse("1.s").is_ok());
        assert!(parse("3000000h").is_err());
        assert!(parse("99999999999999999999999999999999999999999h").is_err());
        assert_eq!(parse("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert!(parse("2562047h47m16.854775808s").is_err());
    }
}
