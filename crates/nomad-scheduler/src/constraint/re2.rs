//! Go (RE2) regular expressions on top of the `regex` crate.
//!
//! Nomad compiles `regexp` constraints with Go's `regexp` package and
//! reports a pattern that does not compile as "constraint not met". The
//! `regex` crate implements nearly the same language; [`translate`] rewrites
//! a Go pattern so that the two agree where they differ:
//!
//! * `\d \D \w \W \s \S \b \B` are ASCII-only in Go (Unicode in `regex`);
//! * `\Q…\E` quotes a literal in Go (unsupported by `regex`);
//! * `\<` and `\>` (any escaped punctuation) are plain literals in Go;
//! * inside a class, `[`, `&&`, `--` and `~~` are literals or ranges in Go
//!   but nesting and set operations in `regex`;
//! * Go rejects stacked repetition (`a**`, `a+*`, `a{2}{3}`), repeat counts
//!   above 1000, flags other than `i m s U`, and `\1`…`\7` back-references,
//!   all of which `regex` would accept;
//! * Go treats a `{` that does not open a valid repeat (`x{,3}`, `\b{start}`)
//!   as a literal.
//!
//! Patterns Go rejects translate to `None`. Go's octal escapes (`\0`,
//! `\012`) are supported by enabling octal in the `regex` builder.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

/// Go's maximum repeat count.
const MAX_REPEAT: u32 = 1000;

/// Compiles a Go regular expression, `None` if Go would reject it (or if
/// `regex` cannot build it, e.g. past its size limit).
pub fn compile(pattern: &str) -> Option<Regex> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated).octal(true).build().ok()
}

/// A cache of compiled patterns, owned by the caller (typically one per
/// evaluation), so that a pattern used on many nodes compiles once.
/// Patterns that fail to compile are remembered too.
#[derive(Debug, Default, Clone)]
pub struct RegexCache {
    compiled: HashMap<Box<str>, Option<Regex>>,
}

impl RegexCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compiled form of `pattern`, compiling it on first use; `None`
    /// when the pattern is invalid.
    pub fn get(&mut self, pattern: &str) -> Option<&Regex> {
        if !self.compiled.contains_key(pattern) {
            self.compiled.insert(pattern.into(), compile(pattern));
        }
        self.compiled.get(pattern).and_then(Option::as_ref)
    }

    /// Number of distinct patterns seen.
    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// Whether no pattern has been compiled yet.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }
}

/// Rewrites a Go pattern into an equivalent `regex` pattern, or `None` when
/// Go would not compile it.
pub fn translate(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    // Whether the previous item was a repetition operator (Go forbids
    // stacking them).
    let mut after_repeat = false;
    while i < chars.len() {
        let c = chars[i];
        let mut is_repeat = false;
        match c {
            '\\' => {
                i = escape_outside_class(&chars, i, &mut out)?;
                after_repeat = false;
                continue;
            }
            '[' => {
                i = class(&chars, i, &mut out)?;
                after_repeat = false;
                continue;
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    i = group_flags(&chars, i, &mut out)?;
                    after_repeat = false;
                    continue;
                }
                out.push('(');
            }
            '*' | '+' | '?' => {
                if after_repeat {
                    return None;
                }
                out.push(c);
                is_repeat = true;
                if chars.get(i + 1) == Some(&'?') {
                    out.push('?');
                    i += 1;
                }
            }
            '{' => match repeat_count(&chars, i) {
                Some((end, counts_ok)) => {
                    if after_repeat || !counts_ok {
                        return None;
                    }
                    out.extend(&chars[i..end]);
                    i = end;
                    is_repeat = true;
                    if chars.get(i) == Some(&'?') {
                        out.push('?');
                        i += 1;
                    }
                    after_repeat = is_repeat;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' => out.push_str("\\}"),
            ']' => out.push_str("\\]"),
            _ => out.push(c),
        }
        after_repeat = is_repeat;
        i += 1;
    }
    Some(out)
}

/// If `chars[start]` opens a Go repeat (`{n}`, `{n,}`, `{n,m}`), returns
/// the index after its `}` and whether its counts are acceptable to Go.
fn repeat_count(chars: &[char], start: usize) -> Option<(usize, bool)> {
    let mut i = start + 1;
    let number = |i: &mut usize| -> Option<u32> {
        let begin = *i;
        // Go does not read "01" as a count: the brace is then a literal.
        if chars.get(begin) == Some(&'0') && chars.get(begin + 1).is_some_and(char::is_ascii_digit)
        {
            return None;
        }
        let mut value: u32 = 0;
        while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(d);
            *i += 1;
        }
        (*i > begin).then_some(value)
    };
    let min = number(&mut i)?;
    let max = if chars.get(i) == Some(&',') {
        i += 1;
        if chars.get(i) == Some(&'}') {
            None
        } else {
            Some(number(&mut i)?)
        }
    } else {
        Some(min)
    };
    if chars.get(i) != Some(&'}') {
        return None;
    }
    let ok = min <= MAX_REPEAT && max.is_none_or(|m| m <= MAX_REPEAT && m >= min);
    Some((i + 1, ok))
}

/// `(?…`: named groups pass through; flag groups may use only `imsU-`.
fn group_flags(chars: &[char], start: usize, out: &mut String) -> Option<usize> {
    let mut i = start + 2;
    match chars.get(i) {
        Some('P') if chars.get(i + 1) == Some(&'<') => {
            out.push_str("(?P<");
            return Some(i + 2);
        }
        Some('<') => {
            out.push_str("(?<");
            return Some(i + 1);
        }
        _ => {}
    }
    // Go accepts "(?)" as a no-op group; `regex` does not, so it is dropped.
    let mut flags = String::from("(?");
    let mut negated = false;
    let mut saw_flag = false;
    loop {
        match chars.get(i)? {
            c @ ('i' | 'm' | 's' | 'U') => {
                flags.push(*c);
                saw_flag = true;
            }
            '-' => {
                if negated {
                    return None;
                }
                negated = true;
                saw_flag = false;
                flags.push('-');
            }
            c @ (':' | ')') => {
                if negated && !saw_flag {
                    return None;
                }
                if *c == ')' && flags == "(?" {
                    return Some(i + 1);
                }
                flags.push(*c);
                out.push_str(&flags);
                return Some(i + 1);
            }
            _ => return None,
        }
        i += 1;
    }
}

/// ASCII versions of Go's Perl classes, for use outside a class.
fn perl_class(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        's' => "[\\t\\n\\x0C\\r ]",
        'S' => "[^\\t\\n\\x0C\\r ]",
        'b' => "(?-u:\\b)",
        'B' => "(?-u:\\B)",
        _ => return None,
    })
}

/// The same classes as members of an enclosing class.
fn perl_class_member(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "0-9",
        'D' => "[^0-9]",
        'w' => "0-9A-Za-z_",
        'W' => "[^0-9A-Za-z_]",
        's' => "\\t\\n\\x0C\\r ",
        'S' => "[^\\t\\n\\x0C\\r ]",
        _ => return None,
    })
}

/// Pushes `c` as a literal, escaped if `regex` gives it a meaning.
fn push_literal(out: &mut String, c: char) {
    if regex_syntax_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Characters that need a backslash to be literal in `regex`, in or out
/// of classes.
fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// Copies an escape with a braced or fixed-length argument (`\x41`,
/// `\x{263a}`, `\pL`, `\p{Greek}`); returns the index after it.
fn copy_argument_escape(chars: &[char], i: usize, out: &mut String) -> Option<usize> {
    // chars[i] is the letter after the backslash.
    out.push('\\');
    out.push(chars[i]);
    let mut j = i + 1;
    if chars.get(j) == Some(&'{') {
        while j < chars.len() {
            out.push(chars[j]);
            j += 1;
            if chars[j - 1] == '}' {
                return Some(j);
            }
        }
        return None;
    }
    let fixed = if chars[i] == 'x' { 2 } else { 1 };
    for _ in 0..fixed {
        out.push(*chars.get(j)?);
        j += 1;
    }
    Some(j)
}

/// Handles `\…` outside a class; returns the index after the escape.
fn escape_outside_class(chars: &[char], start: usize, out: &mut String) -> Option<usize> {
    let c = *chars.get(start + 1)?;
    let next = start + 2;
    if let Some(replacement) = perl_class(c) {
        out.push_str(replacement);
        // A brace after \b is a literal in Go (regex reads `\b{start}`).
        return Some(next);
    }
    match c {
        'Q' => {
            let mut j = next;
            while j < chars.len() {
                if chars[j] == '\\' && chars.get(j + 1) == Some(&'E') {
                    return Some(j + 2);
                }
                push_literal(out, chars[j]);
                j += 1;
            }
            Some(j)
        }
        'x' | 'p' | 'P' => copy_argument_escape(chars, start + 1, out),
        '1'..='7' => {
            // A lone digit would be a back-reference, which Go rejects; with
            // more octal digits it is an octal escape.
            if !chars.get(next).is_some_and(|d| ('0'..='7').contains(d)) {
                return None;
            }
            octal(chars, start, out)
        }
        '0' => octal(chars, start, out),
        'a' | 'f' | 'n' | 'r' | 't' | 'v' | 'A' | 'z' => {
            out.push('\\');
            out.push(c);
            Some(next)
        }
        _ if c.is_ascii() && !c.is_ascii_alphanumeric() => {
            push_literal(out, c);
            Some(next)
        }
        _ => None,
    }
}

/// Copies an octal escape of up to three digits.
fn octal(chars: &[char], start: usize, out: &mut String) -> Option<usize> {
    out.push('\\');
    let mut j = start + 1;
    while j < chars.len() && j < start + 4 && ('0'..='7').contains(&chars[j]) {
        out.push(chars[j]);
        j += 1;
    }
    Some(j)
}

/// Translates a class starting at `chars[start] == '['`; returns the index
/// after its closing `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Option<usize> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            out.push(']');
            return Some(i + 1);
        }
        first = false;
        // POSIX class such as [:alpha:].
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let close = (i + 2..chars.len().saturating_sub(1))
                .find(|&k| chars[k] == ':' && chars[k + 1] == ']');
            if let Some(close) = close {
                out.extend(&chars[i..close + 2]);
                i = close + 2;
                continue;
            }
        }
        // Perl classes and \p classes cannot start a range.
        if c == '\\' {
            let e = *chars.get(i + 1)?;
            if let Some(member) = perl_class_member(e) {
                out.push_str(member);
                i += 2;
                continue;
            }
            if e == 'p' || e == 'P' {
                i = copy_argument_escape(chars, i + 1, out)?;
                continue;
            }
        }
        let (lo, after_lo) = class_char(chars, i, out)?;
        i = after_lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']') {
            out.push('-');
            let (hi, after_hi) = class_char(chars, i + 1, out)?;
            if hi < lo {
                return None;
            }
            i = after_hi;
        }
    }
}

/// Reads one literal character of a class (plain or escaped), writes it to
/// `out`, and returns its value and the index after it.
fn class_char(chars: &[char], i: usize, out: &mut String) -> Option<(char, usize)> {
    let c = chars[i];
    if c != '\\' {
        push_literal(out, c);
        return Some((c, i + 1));
    }
    let e = *chars.get(i + 1)?;
    let value = match e {
        'a' => '\x07',
        'f' => '\x0C',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0B',
        'x' => {
            let mut scratch = String::new();
            let end = copy_argument_escape(chars, i + 1, &mut scratch)?;
            let digits: String = chars[i + 2..end]
                .iter()
                .filter(|c| c.is_ascii_hexdigit())
                .collect();
            let value = char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?;
            push_literal(out, value);
            return Some((value, end));
        }
        '0'..='7' => {
            let mut j = i + 1;
            let mut code = 0u32;
            while j < chars.len() && j < i + 4 && ('0'..='7').contains(&chars[j]) {
                code = code * 8 + chars[j].to_digit(8)?;
                j += 1;
            }
            // A lone non-zero digit is a back-reference in Go: rejected.
            if j == i + 2 && e != '0' {
                return None;
            }
            let value = char::from_u32(code)?;
            push_literal(out, value);
            return Some((value, j));
        }
        _ if e.is_ascii() && !e.is_ascii_alphanumeric() => e,
        _ => return None,
    };
    push_literal(out, value);
    Some((value, i + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(pattern: &str, text: &str) -> bool {
        compile(pattern).is_some_and(|re| re.is_match(text))
    }

    #[test]
    fn plain_patterns_pass_through() {
        for p in [
            "linux|darwin",
            "^5\\.1[0-9]",
            "a.*b",
            "(?i)LINUX",
            "x{2,3}",
            "(a)(?P<n>b)(?<m>c)",
        ] {
            assert_eq!(translate(p).as_deref(), Some(p), "{p}");
        }
        assert!(is_match("^linux$", "linux"));
        assert!(is_match("inu", "linux"));
        assert!(!is_match("^inu", "linux"));
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(is_match("^\\d+$", "123"));
        assert!(!is_match("^\\d+$", "١٢٣")); // Arabic-Indic digits
        assert!(!is_match("^\\w$", "é"));
        assert!(is_match("^\\W$", "é"));
        assert!(!is_match("^\\s$", "\u{a0}"));
        assert!(!is_match("^\\s$", "\x0b")); // Go's \s has no vertical tab
        assert!(is_match("^[\\d.]+$", "1.2.3"));
        assert!(!is_match("^[\\d]$", "١"));
        assert!(is_match("^[\\D]$", "x"));
        assert!(is_match("\\bfoo\\b", "a foo b"));
    }

    #[test]
    fn go_literals_stay_literal() {
        assert!(is_match("^\\Qa.b*\\E$", "a.b*"));
        assert!(!is_match("^\\Qa.b\\E$", "axb"));
        assert!(is_match("^\\Qa.b", "a.b"));
        assert!(is_match("^\\<\\>$", "<>"));
        assert!(is_match("^x{,3}$", "x{,3}"));
        assert!(is_match("^a}$", "a}"));
        assert!(is_match("\\b{start}", "a{start}"));
        assert!(!is_match("^\\b{start}", "{start}"));
        // Inside classes.
        assert!(is_match("^[[a]]$", "a]"));
        assert!(is_match("^[[a]]$", "[]"));
        assert!(is_match("^[a&&b]+$", "&&ab"));
        assert!(is_match("^[a~~b]+$", "~"));
        assert!(is_match("^[+--]+$", "+,-"));
        assert!(is_match("^[]a]+$", "]a"));
        assert!(is_match("^[^]a]$", "b"));
        assert!(is_match("^[[:alpha:]]+$", "abc"));
        assert!(is_match("^[\\x41-\\x{43}]+$", "ABC"));
        assert!(is_match("^[\\pL]+$", "é"));
        assert!(is_match("^\\x{263a}$", "\u{263a}"));
        assert!(is_match("^\\101$", "A"));
        assert!(is_match("^[\\101]$", "A"));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for p in [
            "a**",
            "a+*",
            "a*+",
            "a??*",
            "a{2}{3}",
            "a{2}*",
            "x{1001}",
            "x{1,1001}",
            "x{3,2}",
            "(?x)a",
            "(?R)a",
            "(?u)a",
            "(?i-)",
            "(?-)",
            "(?i--s)",
            "\\1",
            "(a)\\1",
            "[\\1]",
            "\\C",
            "\\Z",
            "\\e",
            "[z-a]",
            "(",
            "[a",
            "*a",
            "\\",
            "\\pX",
        ] {
            assert!(compile(p).is_none(), "{p}");
        }
        // Lazy forms are fine.
        for p in [
            "a*?", "a+?", "a??", "a{2,3}?", "x{1000}", "(?i-s:a)", "(?U)a+", "(?)a", "(?:)",
        ] {
            assert!(compile(p).is_some(), "{p}");
        }
        assert!(is_match("^(?)a$", "a"));
        assert!(is_match("^x{01}$", "x{01}"));
        assert!(is_match("^a\\ b]$", "a b]"));
        assert!(is_match("^[[:x]+$", "[:x"));
    }

    #[test]
    fn cache_compiles_once() {
        let mut cache = RegexCache::new();
        assert!(cache.is_empty());
        assert!(cache.get("^a+$").is_some_and(|re| re.is_match("aaa")));
        assert!(cache.get("^a+$").is_some());
        assert!(cache.get("a**").is_none());
        assert!(cache.get("a**").is_none());
        assert_eq!(cache.len(), 2);
    }
}
