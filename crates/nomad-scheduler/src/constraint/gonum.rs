//! Number parsing with Go's `strconv` acceptance rules.
//!
//! Nomad's ordering operators try `strconv.ParseInt(s, 10, 64)` on both
//! sides, then `strconv.ParseFloat(s, 64)`, then fall back to comparing the
//! strings. Which strings count as numbers therefore decides the result, so
//! this module accepts exactly what Go accepts:
//!
//! * integers: optional `+`/`-`, ASCII digits only, within `i64`;
//! * floats: optional sign, decimal digits with at most one `.` and an
//!   optional `e` exponent, or hexadecimal (`0x1.8p3`, exponent required);
//!   `_` separators only between digits (or right after a `0x` prefix);
//!   `inf`, `infinity` (optionally signed) and `nan`, in any letter case;
//!   a value that overflows `f64` is an error (Go reports a range error),
//!   one that underflows becomes zero.

/// Go's `strconv.ParseInt(s, 10, 64)`.
#[inline]
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    // Rust's integer parser accepts the same language for base 10: an
    // optional sign and at least one ASCII digit, no spaces, no `_`, and it
    // rejects out-of-range values.
    s.parse::<i64>().ok()
}

/// Go's `strconv.ParseFloat(s, 64)`, `None` where Go returns an error.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if let Some(special) = parse_special(s) {
        return Some(special);
    }
    let syntax = scan_float(s)?;
    let value = if syntax.hex {
        hex_value(s)?
    } else if syntax.underscores {
        let cleaned: String = s.chars().filter(|&c| c != '_').collect();
        cleaned.parse::<f64>().ok()?
    } else {
        s.parse::<f64>().ok()?
    };
    // Specials were handled above, so an infinity here is an overflow, which
    // Go reports as an error.
    value.is_finite().then_some(value)
}

/// `inf`, `infinity` (with an optional sign) and `nan` (without), ignoring
/// case; anything after them makes Go reject the whole string.
fn parse_special(s: &str) -> Option<f64> {
    if s.len() > 9 {
        return None;
    }
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let signed = body.len() != s.len();
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if !signed && body.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    None
}

struct FloatSyntax {
    hex: bool,
    underscores: bool,
}

/// Checks `s` against Go's float grammar; the whole string must be consumed.
fn scan_float(s: &str) -> Option<FloatSyntax> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let mut underscores = false;
    let mut saw_dot = false;
    let mut saw_digits = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'_' => underscores = true,
            b'.' if !saw_dot => saw_dot = true,
            b'0'..=b'9' => saw_digits = true,
            _ if hex && c.is_ascii_hexdigit() => saw_digits = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    let exp_char = if hex { b'p' } else { b'e' };
    if i < b.len() && b[i].eq_ignore_ascii_case(&exp_char) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            underscores |= b[i] == b'_';
            i += 1;
        }
    } else if hex {
        // A hexadecimal float must have a binary exponent.
        return None;
    }
    if i != b.len() {
        return None;
    }
    if underscores && !underscores_ok(s) {
        return None;
    }
    Some(FloatSyntax { hex, underscores })
}

/// Go's rule for `_` in numbers: each one must sit between two digits, or
/// between a base prefix and a digit.
fn underscores_ok(s: &str) -> bool {
    #[derive(PartialEq)]
    enum Last {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let mut last = Last::Start;
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        last = Last::Digit;
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            last = Last::Digit;
        } else if c == b'_' {
            if last != Last::Digit {
                return false;
            }
            last = Last::Underscore;
        } else {
            if last == Last::Underscore {
                return false;
            }
            last = Last::Other;
        }
    }
    last != Last::Underscore
}

/// The value of a hexadecimal float already checked by [`scan_float`],
/// correctly rounded to nearest-even; `None` on overflow.
fn hex_value(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    i += 2; // "0x"

    // Up to 16 significant hex digits fit in a u64; later ones only matter
    // as a "sticky" bit for rounding.
    let mut mantissa: u64 = 0;
    let mut significant = 0u32;
    let mut sticky = false;
    let mut exp: i64 = 0;
    let mut after_dot = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' {
            after_dot = true;
        } else if c == b'_' {
            // separators carry no value
        } else if let Some(d) = (c as char).to_digit(16) {
            if mantissa == 0 && d == 0 {
                // leading zero: only shifts the point
            } else if significant < 16 {
                mantissa = (mantissa << 4) | u64::from(d);
                significant += 1;
            } else {
                sticky |= d != 0;
                exp += 4;
            }
            if after_dot {
                exp -= 4;
            }
        } else {
            break; // the 'p'
        }
        i += 1;
    }
    // Binary exponent after 'p'.
    i += 1;
    let mut exp_negative = false;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        exp_negative = b[i] == b'-';
        i += 1;
    }
    let mut p: i64 = 0;
    for &c in &b[i..] {
        if c.is_ascii_digit() && p < 100_000 {
            p = p * 10 + i64::from(c - b'0');
        }
    }
    exp += if exp_negative { -p } else { p };

    let sign_bit = if negative { 1u64 << 63 } else { 0 };
    if mantissa == 0 {
        return Some(f64::from_bits(sign_bit));
    }
    // value = mantissa * 2^exp; find the exponent of its top bit.
    let bits = i64::from(64 - mantissa.leading_zeros());
    let top = exp + bits - 1;
    if top > 1023 {
        return None;
    }
    // Number of low bits to drop: keep 53 bits for a normal result, or
    // whatever reaches down to 2^-1074 for a subnormal one.
    let shift = if top >= -1022 { bits - 53 } else { -1074 - exp };
    let (mut kept, mut unit) = if shift <= 0 {
        (u128::from(mantissa) << (-shift).min(127), exp + shift)
    } else if shift >= 66 {
        (0u128, exp + shift)
    } else {
        let m = u128::from(mantissa);
        let kept = m >> shift;
        let dropped = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let round_up = dropped > half || (dropped == half && (sticky || kept & 1 == 1));
        (kept + u128::from(round_up), exp + shift)
    };
    if kept == 1u128 << 53 {
        kept >>= 1;
        unit += 1;
    }
    if kept == 0 {
        return Some(f64::from_bits(sign_bit));
    }
    let bits = if kept >= 1u128 << 52 {
        let biased = unit + 52 + 1023;
        if biased >= 2047 {
            return None;
        }
        ((biased as u64) << 52) | ((kept as u64) & ((1u64 << 52) - 1))
    } else {
        // Subnormal: the exponent field is zero and the unit is 2^-1074.
        kept as u64
    };
    Some(f64::from_bits(bits | sign_bit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_follow_go() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("+42"), Some(42));
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        for bad in ["", "+", "-", " 1", "1 ", "1_000", "0x10", "1.0", "1e3"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimal_floats_follow_go() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("+1.5"), Some(1.5));
        assert_eq!(parse_float("-0.25"), Some(-0.25));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("1E-2"), Some(0.01));
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("1e1_0"), Some(1e10));
        assert_eq!(parse_float("1e-400"), Some(0.0));
        assert_eq!(parse_float("0e99999"), Some(0.0));
        for bad in [
            "", ".", "+", "e5", "1e", "1e+", "1.2.3", "1,5", " 1", "1 ", "_1", "1_", "1__0",
            "1_.5", "1._5", "1e400", "-1e400", "1.5x", "0b101", "0o17", "3.14abc",
        ] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn specials_follow_go() {
        assert_eq!(parse_float("inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-INFINITY"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert!(parse_float("nan").is_some_and(f64::is_nan));
        for bad in ["+nan", "-NaN", "infin", "infinityy", "nan1", "in"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hex_floats_follow_go() {
        assert_eq!(parse_float("0x1p-2"), Some(0.25));
        assert_eq!(parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_float("-0X10P0"), Some(-16.0));
        assert_eq!(parse_float("0x_1p0"), Some(1.0));
        assert_eq!(parse_float("0x.8p0"), Some(0.5));
        assert_eq!(parse_float("0x0p0"), Some(0.0));
        assert_eq!(parse_float("0x1p1023"), Some(2f64.powi(1023)));
        assert_eq!(parse_float("0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_float("0x1.fffffffffffffp1023"), Some(f64::MAX));
        // 2^-1075 is exactly half the smallest subnormal: ties to even (0).
        assert_eq!(parse_float("0x1p-1075"), Some(0.0));
        // Just above half rounds up to the smallest subnormal.
        assert_eq!(
            parse_float("0x1.0000000000001p-1075"),
            Some(f64::from_bits(1))
        );
        // 1 + 2^-53 is a tie between 1 and 1+2^-52: even wins (1.0); with
        // any further set bit it rounds up.
        assert_eq!(parse_float("0x1.00000000000008p0"), Some(1.0));
        assert_eq!(
            parse_float("0x1.00000000000008000001p0"),
            Some(1.0 + f64::EPSILON)
        );
        assert_eq!(
            parse_float("0x1.00000000000018p0"),
            Some(1.0 + 2.0 * f64::EPSILON)
        );
        for bad in [
            "0x", "0x1", "0x1.8", "0xp1", "0x1p", "0x1p1.5", "0x1p1024", "0xg",
        ] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn underscore_rule() {
        assert!(underscores_ok("1_000"));
        assert!(underscores_ok("-1_0"));
        assert!(underscores_ok("0x_ff"));
        assert!(!underscores_ok("_1"));
        assert!(!underscores_ok("1_"));
        assert!(!underscores_ok("1__2"));
        assert!(!underscores_ok("1_.2"));
    }
}
