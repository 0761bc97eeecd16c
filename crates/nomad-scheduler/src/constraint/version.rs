//! Versions as hashicorp/go-version parses and orders them.
//!
//! Nomad's `version` and `semver` operators both parse the node's value
//! with go-version's lenient parser and compare with go-version's ordering,
//! which differs from SemVer 2.0 (and from the `semver` crate) in several
//! ways this module reproduces on purpose:
//!
//! * any number of numeric segments (`1`, `1.2`, `1.2.3.4`), an optional
//!   leading `v`, padded with zeros to at least three (`1.2` is `1.2.0`);
//!   leading zeros are allowed (`1.02` is `1.2`);
//! * the lenient form accepts a pre-release without a dash when it starts
//!   with a letter (`1.2.3beta`); the strict form ([`Version::parse_semver`])
//!   requires the dash;
//! * pre-releases only order versions whose segment lists are identical in
//!   length and value; otherwise segments alone decide (`1.2.3-beta` equals
//!   `1.2.3.0`);
//! * pre-release identifiers compare part by part; a part that is missing
//!   from the shorter pre-release is *smaller* than a numeric part but
//!   *larger* than a non-numeric one (`1.0-alpha` > `1.0-alpha.beta`), and
//!   numerically equal parts spelled differently (`01` and `1`) compare as
//!   less-than in both directions;
//! * build metadata (`+…`) never affects ordering.

use std::borrow::Cow;
use std::cmp::Ordering;

use thiserror::Error;

/// Segments stored without allocation when there are few of them.
const INLINE_SEGMENTS: usize = 6;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segments {
    Inline {
        len: u8,
        values: [i64; INLINE_SEGMENTS],
    },
    Heap(Box<[i64]>),
}

impl Segments {
    fn as_slice(&self) -> &[i64] {
        match self {
            Segments::Inline { len, values } => &values[..usize::from(*len)],
            Segments::Heap(values) => values,
        }
    }
}

/// Accumulates segments inline, spilling to the heap past six.
struct SegmentsBuilder {
    inline: [i64; INLINE_SEGMENTS],
    len: usize,
    heap: Vec<i64>,
}

impl SegmentsBuilder {
    fn new() -> Self {
        Self {
            inline: [0; INLINE_SEGMENTS],
            len: 0,
            heap: Vec::new(),
        }
    }

    fn push(&mut self, value: i64) {
        if self.len < INLINE_SEGMENTS {
            self.inline[self.len] = value;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(value);
        }
        self.len += 1;
    }

    fn finish(self) -> Segments {
        if self.len <= INLINE_SEGMENTS {
            Segments::Inline {
                len: self.len as u8,
                values: self.inline,
            }
        } else {
            Segments::Heap(self.heap.into_boxed_slice())
        }
    }
}

/// A parsed version. Borrows its pre-release and metadata from the input;
/// [`Version::into_owned`] detaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version<'a> {
    segments: Segments,
    /// Segments written in the input, before zero padding.
    written: usize,
    pre: Cow<'a, str>,
    meta: Cow<'a, str>,
}

/// A version string go-version would reject.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("malformed version: {0}")]
pub struct VersionError(pub String);

impl<'a> Version<'a> {
    /// go-version's `NewVersion`: the lenient grammar.
    pub fn parse(input: &'a str) -> Result<Self, VersionError> {
        Self::parse_with(input, false).ok_or_else(|| VersionError(input.to_owned()))
    }

    /// go-version's `NewSemver`: the same, but a pre-release must follow a
    /// dash.
    pub fn parse_semver(input: &'a str) -> Result<Self, VersionError> {
        Self::parse_with(input, true).ok_or_else(|| VersionError(input.to_owned()))
    }

    /// Parses without building an error (the hot path).
    pub(crate) fn parse_with(input: &'a str, strict: bool) -> Option<Self> {
        let body = input.strip_prefix('v').unwrap_or(input);
        let bytes = body.as_bytes();

        // Numeric segments: digits, then any number of ".digits".
        let mut segments = SegmentsBuilder::new();
        let mut i = 0;
        loop {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            segments.push(body[start..i].parse::<i64>().ok()?);
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        let written = segments.len;
        while segments.len < 3 {
            segments.push(0);
        }

        // What follows is "pre-release" then "+metadata"; neither may
        // contain '+', so the first '+' splits them.
        let rest = &body[i..];
        let (pre_region, meta) = match rest.find('+') {
            Some(plus) => {
                let meta = &rest[plus + 1..];
                if !is_identifier_list(meta) {
                    return None;
                }
                (&rest[..plus], meta)
            }
            None => (rest, ""),
        };
        let pre = if pre_region.is_empty() {
            ""
        } else {
            prerelease(pre_region, strict)?
        };

        Some(Version {
            segments: segments.finish(),
            written,
            pre: Cow::Borrowed(pre),
            meta: Cow::Borrowed(meta),
        })
    }

    /// Detaches the version from the input string.
    pub fn into_owned(self) -> Version<'static> {
        Version {
            segments: self.segments,
            written: self.written,
            pre: Cow::Owned(self.pre.into_owned()),
            meta: Cow::Owned(self.meta.into_owned()),
        }
    }

    /// The numeric segments, zero-padded to at least three.
    pub fn segments(&self) -> &[i64] {
        self.segments.as_slice()
    }

    /// The pre-release, without its dash (`""` when there is none).
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata, without its `+` (`""` when there is none).
    pub fn metadata(&self) -> &str {
        &self.meta
    }

    /// How many segments the input spelled out (before padding).
    pub(crate) fn written_segments(&self) -> usize {
        self.written
    }

    /// go-version's ordering (see the module documentation).
    pub fn compare(&self, other: &Version<'_>) -> Ordering {
        let mine = self.segments();
        let theirs = other.segments();
        if mine == theirs {
            return match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prereleases(&self.pre, &other.pre),
            };
        }
        // Segment lists differ: compare position by position; where one
        // list is longer, its extra segments decide only if any is non-zero.
        let common = mine.len().min(theirs.len());
        for k in 0..common {
            match mine[k].cmp(&theirs[k]) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        if mine[common..].iter().any(|&s| s != 0) {
            Ordering::Greater
        } else if theirs[common..].iter().any(|&s| s != 0) {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }

    /// Whether both versions have exactly the same segment list.
    pub(crate) fn same_segments(&self, other: &Version<'_>) -> bool {
        self.segments() == other.segments()
    }
}

/// Characters allowed in pre-release and metadata identifiers.
fn is_identifier_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'~'
}

/// One or more non-empty dot-separated identifiers.
fn is_identifier_list(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(is_identifier_char))
}

/// Extracts the pre-release from the text between the segments and the
/// metadata, trying go-version's alternatives in its order.
fn prerelease(region: &str, strict: bool) -> Option<&str> {
    let bytes = region.as_bytes();
    let starts_alpha = |c: u8| c.is_ascii_alphabetic() || c == b'-' || c == b'~';
    if bytes[0] == b'-' {
        let after = &region[1..];
        if let Some(&first) = after.as_bytes().first() {
            // "-" then a numeric-led or letter-led identifier list.
            if (first.is_ascii_digit() || starts_alpha(first)) && is_identifier_list(after) {
                return Some(after);
            }
        }
        if strict {
            return None;
        }
    } else if strict {
        return None;
    }
    // Lenient only: the pre-release may start without a dash, with a letter,
    // '-' or '~' (which makes a lone dash, or a dash before a dot, part of
    // the pre-release itself).
    (starts_alpha(bytes[0]) && is_identifier_list(region)).then_some(region)
}

fn compare_prereleases(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => match compare_part(l.unwrap_or(""), r.unwrap_or("")) {
                Ordering::Equal => {}
                decided => return decided,
            },
        }
    }
}

/// go-version's comparison of one pre-release identifier.
fn compare_part(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a_num = a.parse::<i64>().ok();
    let b_num = b.parse::<i64>().ok();
    if a.is_empty() {
        return if b_num.is_some() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    if b.is_empty() {
        return if a_num.is_some() {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    match (a_num, b_num) {
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) if a > b => Ordering::Greater,
        (Some(x), Some(y)) if x > y => Ordering::Greater,
        _ => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version<'_> {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        v(a).compare(&v(b))
    }

    #[test]
    fn parses_lenient_forms() {
        let x = v("1.2.3-beta.1+build.5");
        assert_eq!(x.segments(), &[1, 2, 3]);
        assert_eq!(x.prerelease(), "beta.1");
        assert_eq!(x.metadata(), "build.5");

        assert_eq!(v("v1.2").segments(), &[1, 2, 0]);
        assert_eq!(v("1").segments(), &[1, 0, 0]);
        assert_eq!(v("1.02.3").segments(), &[1, 2, 3]);
        assert_eq!(v("1.2.3.4.5.6.7.8").segments(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(v("1.2.3beta").prerelease(), "beta");
        assert_eq!(v("1.2.3~rc1").prerelease(), "~rc1");
        assert_eq!(v("1.2.3-1").prerelease(), "1");
        assert_eq!(v("1.2.3--x").prerelease(), "-x");
        assert_eq!(v("5.15.0-91-generic").prerelease(), "91-generic");
        // A dash that cannot start a pre-release becomes part of one.
        assert_eq!(v("1.2.3-").prerelease(), "-");
        assert_eq!(v("1.2.3-.x").prerelease(), "-.x");
        assert_eq!(v("1.2.3-+m").prerelease(), "-");
        assert_eq!(v("1.2.3+m").prerelease(), "");
        assert_eq!(v("1.2.3+m").metadata(), "m");
    }

    #[test]
    fn rejects_what_go_version_rejects() {
        for bad in [
            "",
            "v",
            "V1.2",
            "1.",
            "1..2",
            ".1",
            "1.2.x",
            "1.2.3-beta..1",
            "1.2.3+",
            "1.2.3+a+b",
            "1.2.3+a..b",
            " 1.2",
            "1.2 ",
            "1.2.3-b@d",
            "a1",
            "99999999999999999999",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn strict_form_needs_the_dash() {
        assert!(Version::parse_semver("1.2.3beta").is_err());
        assert!(Version::parse_semver("1.2.3-").is_err());
        assert_eq!(
            Version::parse_semver("1.2.3-beta").map(|x| x.prerelease().to_owned()),
            Ok("beta".to_owned())
        );
        assert_eq!(
            Version::parse_semver("1.2.3--x").map(|x| x.prerelease().to_owned()),
            Ok("-x".to_owned())
        );
        // "Strict" still allows any segment count and a 'v'.
        assert!(Version::parse_semver("v1").is_ok());
        assert!(Version::parse_semver("1.2.3.4").is_ok());
    }

    #[test]
    fn orders_like_go_version() {
        use Ordering::*;
        assert_eq!(cmp("1.2.3", "1.2.3"), Equal);
        assert_eq!(cmp("1.2", "1.2.0"), Equal);
        assert_eq!(cmp("1.2.0.0", "1.2"), Equal);
        assert_eq!(cmp("1.2.3.1", "1.2.3"), Greater);
        assert_eq!(cmp("1.2.3", "1.2.3.1"), Less);
        assert_eq!(cmp("1.10", "1.9"), Greater);
        assert_eq!(cmp("v1.2.3", "1.2.3"), Equal);
        assert_eq!(cmp("1.2.3+a", "1.2.3+b"), Equal);
        assert_eq!(cmp("1.2.3-beta", "1.2.3"), Less);
        assert_eq!(cmp("1.2.3", "1.2.3-beta"), Greater);
        assert_eq!(cmp("1.2.3-alpha", "1.2.3-beta"), Less);
        assert_eq!(cmp("1.2.3-beta.2", "1.2.3-beta.11"), Less);
        assert_eq!(cmp("1.2.3-1", "1.2.3-alpha"), Less);
        assert_eq!(cmp("1.2.3-alpha.1", "1.2.3-alpha"), Greater);
        // go-version quirks.
        assert_eq!(cmp("1.2.3-alpha", "1.2.3-alpha.beta"), Greater);
        assert_eq!(cmp("1.2.3-beta", "1.2.3.0"), Equal);
        assert_eq!(cmp("1.2.3.0-beta", "1.2.3"), Equal);
        assert_eq!(cmp("1.2.3-01", "1.2.3-1"), Less);
        assert_eq!(cmp("1.2.3-1", "1.2.3-01"), Less);
        assert_eq!(cmp("1.2.4-beta", "1.2.3"), Greater);
    }

    #[test]
    fn owned_versions_compare_the_same() {
        let text = String::from("2.0.0-rc.1");
        let owned = Version::parse(&text).map(Version::into_owned);
        drop(text);
        let owned = owned.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(owned.prerelease(), "rc.1");
        assert_eq!(owned.compare(&v("2.0.0")), Ordering::Less);
        assert_eq!(owned.written_segments(), 3);
    }
}
