//! The parser: a hand-written recursive descent over go-bexpr's grammar
//! (see the parent module), with go-bexpr's PEG backtracking where a
//! keyword may also be a field name (`not`, `any`, `all`).

use regex::{Regex, RegexBuilder};

use super::{Binding, Collection, Expr, FilterError, Match, Selector, Test};

/// The deepest nesting of parentheses, `not`s and `any`/`all` blocks.
const MAX_DEPTH: usize = 64;

/// Parses `src` into an expression.
pub(super) fn parse(src: &str) -> Result<Expr, FilterError> {
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
    };
    let parsed = p.or_expr().and_then(|expr| {
        p.skip_ws();
        if p.pos < src.len() {
            return Err(p.expected("\"and\", \"or\" or the end of the filter"));
        }
        Ok(expr)
    });
    parsed.map_err(|e| {
        let (line, column) = line_col(src, e.pos);
        FilterError::Syntax {
            line,
            column,
            message: e.message,
        }
    })
}

struct SyntaxError {
    /// Byte offset into the source.
    pos: usize,
    message: String,
    /// Not retried by another alternative (nesting too deep).
    fatal: bool,
}

/// The error of the alternative that got further (go-bexpr is a PEG).
fn furthest(first: SyntaxError, second: SyntaxError) -> SyntaxError {
    if first.fatal || first.pos >= second.pos {
        first
    } else {
        second
    }
}

type PResult<T> = Result<T, SyntaxError>;

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '/'
}

/// A first operand: a selector, or a value if `in` follows.
enum Operand {
    Selector(Selector),
    Quoted(String),
    Raw(String),
    Number(String),
}

struct Parser<'s> {
    src: &'s str,
    /// Byte offset, always on a char boundary.
    pos: usize,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    /// The run of name characters at the cursor (keywords are whole words).
    fn word(&self) -> &'s str {
        let rest = self.rest();
        &rest[..rest.find(|c| !is_word_char(c)).unwrap_or(rest.len())]
    }

    /// Whether the keyword `kw` comes next (after whitespace); consumes it.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let hit = self.word() == kw;
        if hit {
            self.pos += kw.len();
        }
        hit
    }

    /// Whether `kw` is next and followed by whitespace or one of `also`.
    fn at_prefix_keyword(&self, kw: &str, also: &[char]) -> bool {
        self.word() == kw
            && self.rest()[kw.len()..]
                .starts_with(|c: char| c.is_ascii_whitespace() || also.contains(&c))
    }

    fn error_at(&self, pos: usize, message: String) -> SyntaxError {
        SyntaxError {
            pos,
            message,
            fatal: false,
        }
    }

    fn expected(&self, what: &str) -> SyntaxError {
        self.error_at(
            self.pos,
            format!("expected {what}, found {}", self.describe(self.pos)),
        )
    }

    /// The text at `pos`, for "found …".
    fn describe(&self, pos: usize) -> String {
        let rest = &self.src[pos..];
        let Some(c) = rest.chars().next() else {
            return "end of input".to_string();
        };
        let quoted = c == '"' || c == '`';
        let wordish = |c: char| is_word_char(c) || c == '-' || c == '.';
        let token = if quoted {
            rest[1..].find(c).map_or(rest, |n| &rest[..n + 2])
        } else if wordish(c) {
            &rest[..rest.find(|c| !wordish(c)).unwrap_or(rest.len())]
        } else if rest.starts_with("==") || rest.starts_with("!=") {
            &rest[..2]
        } else {
            &rest[..c.len_utf8()]
        };
        let mut shown: String = token.chars().take(24).collect();
        if token.chars().count() > 24 {
            shown.push('…');
        }
        if quoted {
            shown.replace('\n', "\\n")
        } else {
            format!("\"{}\"", shown.escape_debug())
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let mut e = self.error_at(
                self.pos,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            );
            e.fatal = true;
            return Err(e);
        }
        Ok(())
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut items = vec![self.and_expr()?];
        while self.eat_keyword("or") {
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut items = vec![self.unary()?];
        while self.eat_keyword("and") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.skip_ws();
        let (start, depth) = (self.pos, self.depth);
        if !self.at_prefix_keyword("not", &['(']) {
            return self.primary();
        }
        // `not <expr>`, or else a match on a field named `not`.
        self.enter()?;
        self.pos += 3;
        let negated = self.unary();
        self.depth = depth;
        match negated {
            Ok(Expr::Not(inner)) => Ok(*inner),
            Ok(e) => Ok(Expr::Not(Box::new(e))),
            Err(e1) => {
                self.pos = start;
                self.primary().map_err(|e2| furthest(e1, e2))
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        self.skip_ws();
        let (start, depth) = (self.pos, self.depth);
        if self.peek() == Some('(') {
            self.enter()?;
            self.pos += 1;
            let expr = self.or_expr()?;
            self.skip_ws();
            if self.peek() != Some(')') {
                let (line, col) = line_col(self.src, start);
                return Err(self.expected(&format!("\")\" to close the \"(\" at {line}:{col}")));
            }
            self.pos += 1;
            self.depth = depth;
            return Ok(expr);
        }
        if self.at_prefix_keyword("any", &[]) || self.at_prefix_keyword("all", &[]) {
            match self.collection() {
                Ok(e) => return Ok(e),
                Err(e1) => {
                    (self.pos, self.depth) = (start, depth);
                    return self.match_expr().map_err(|e2| furthest(e1, e2));
                }
            }
        }
        self.match_expr()
    }

    fn collection(&mut self) -> PResult<Expr> {
        let all = self.word() == "all";
        let keyword = if all { "all" } else { "any" };
        self.pos += 3;
        self.skip_ws();
        let selector = self.selector_after(keyword)?;
        if !self.eat_keyword("as") {
            return Err(self.expected(&format!("\"as\" after \"{keyword} {}\"", selector.text)));
        }
        let first = self.binding_name()?;
        self.skip_ws();
        let second = if self.peek() == Some(',') {
            self.pos += 1;
            Some(self.binding_name()?)
        } else {
            None
        };
        let binding = match (first, second) {
            (Some(n), None) => Binding::Default(n),
            (Some(i), Some(Some(v))) if i == v => {
                return Err(self.error_at(
                    self.pos,
                    format!("\"{i}\" cannot name both the index and the value"),
                ))
            }
            (Some(i), Some(Some(v))) => Binding::Both(i, v),
            (Some(i), Some(None)) => Binding::Index(i),
            (None, Some(Some(v))) => Binding::Value(v),
            (None, _) => return Err(self.expected("a name for the element after \"_,\"")),
        };
        self.skip_ws();
        if self.peek() != Some('{') {
            return Err(self.expected("\"{\" after the names"));
        }
        self.enter()?;
        self.pos += 1;
        let inner = self.or_expr()?;
        self.skip_ws();
        if self.peek() != Some('}') {
            return Err(self.expected(&format!("\"}}\" to close the \"{keyword}\" block")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Expr::Collection(Box::new(Collection {
            all,
            selector,
            binding,
            inner,
        })))
    }

    /// A name in an `as` binding: `Some(name)`, or `None` for `_`.
    fn binding_name(&mut self) -> PResult<Option<String>> {
        self.skip_ws();
        if self.peek() == Some('_') && !self.rest()[1..].starts_with(is_word_char) {
            self.pos += 1;
            return Ok(None);
        }
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(self.expected("a name (or \"_\") after \"as\""));
        }
        Ok(Some(self.name()))
    }

    fn match_expr(&mut self) -> PResult<Expr> {
        self.skip_ws();
        let start = self.pos;
        let first = self.operand("a selector, a value, \"not\" or \"(\"")?;
        let first_text = self.src[start..self.pos].to_string();
        self.skip_ws();
        let rest = self.rest();
        let (op, negated) = if rest.starts_with("==") || rest.starts_with("!=") {
            self.pos += 2;
            ("==", rest.starts_with('!'))
        } else {
            let negated = self.eat_keyword("not");
            self.skip_ws();
            let op = match self.word() {
                op @ ("contains" | "matches" | "in") => op,
                "is" if !negated => "is",
                _ if negated => {
                    return Err(self.expected("\"contains\", \"matches\" or \"in\" after \"not\""))
                }
                _ => {
                    return Err(self.expected(&format!(
                        "an operator (==, !=, is, in, contains, matches) after {first_text}"
                    )))
                }
            };
            self.pos += op.len();
            (op, negated)
        };
        let op_text = match (op, negated) {
            ("==", true) => "!=".to_string(),
            (op, true) => format!("not {op}"),
            (op, false) => op.to_string(),
        };
        let (selector, test, negated, value) = match op {
            "is" => {
                let negated = self.eat_keyword("not");
                self.skip_ws();
                let test = match self.word() {
                    "empty" => Test::Empty,
                    "nil" => Test::Nil,
                    _ => {
                        let after = if negated { "is not" } else { "is" };
                        return Err(
                            self.expected(&format!("\"empty\" or \"nil\" after \"{after}\""))
                        );
                    }
                };
                self.pos += self.word().len();
                (
                    self.as_selector(first, start, "is")?,
                    test,
                    negated,
                    String::new(),
                )
            }
            "in" => {
                self.skip_ws();
                let selector = self.selector_after(&op_text)?;
                (selector, Test::Contains, negated, operand_text(first))
            }
            _ => {
                let selector = self.as_selector(first, start, &op_text)?;
                self.skip_ws();
                let value_pos = self.pos;
                let what = format!("a value (\"…\", `…` or a number) after {op_text}");
                let value = operand_text(self.operand(&what)?);
                let test = match op {
                    "matches" => Test::Matches(
                        compile_regex(&value).map_err(|m| self.error_at(value_pos, m))?,
                    ),
                    "contains" => Test::Contains,
                    _ => Test::Equal,
                };
                (selector, test, negated, value)
            }
        };
        Ok(Expr::Match(Box::new(Match {
            selector,
            test,
            negated,
            value,
        })))
    }

    /// A selector, a string or a number; `what` names the expectation.
    fn operand(&mut self, what: &str) -> PResult<Operand> {
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => Ok(Operand::Selector(self.selector()?)),
            Some('"') => Ok(Operand::Quoted(self.string()?)),
            Some('`') => Ok(Operand::Raw(self.string()?)),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(what).map(Operand::Number),
            _ => Err(self.expected(what)),
        }
    }

    /// The selector that a first operand must be, before `op`.
    fn as_selector(&self, first: Operand, start: usize, op: &str) -> PResult<Selector> {
        match first {
            Operand::Selector(s) => Ok(s),
            Operand::Quoted(s) => self.pointer_selector(&s, start),
            Operand::Raw(_) | Operand::Number(_) => Err(self.error_at(
                start,
                format!(
                    "expected a selector (such as Status or Meta[\"key\"]) before {op}, found {}",
                    self.describe(start)
                ),
            )),
        }
    }

    /// The quoted selector `s` (at `start`): a JSON pointer.
    fn pointer_selector(&self, s: &str, start: usize) -> PResult<Selector> {
        json_pointer(s).ok_or_else(|| {
            let message = "a quoted selector must be a JSON pointer such as \"/Meta/env\"";
            self.error_at(start, format!("{message}, found \"{s}\""))
        })
    }

    /// The selector after `in` or `any`/`all`.
    fn selector_after(&mut self, after: &str) -> PResult<Selector> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => self.selector(),
            Some('"') => {
                let quoted = self.string()?;
                self.pointer_selector(&quoted, start)
            }
            _ => Err(self.expected(&format!("a selector after \"{after}\""))),
        }
    }

    /// `[A-Za-z][A-Za-z0-9_/]*`; the cursor is on a letter.
    fn name(&mut self) -> String {
        let name = self.word();
        self.pos += name.len();
        name.to_string()
    }

    /// A dotted selector; the cursor is on a letter.
    fn selector(&mut self) -> PResult<Selector> {
        let start = self.pos;
        let mut parts = vec![self.name()];
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c.is_ascii_alphabetic() => parts.push(self.name()),
                        Some(c) if c.is_ascii_digit() => {
                            let rest = self.rest();
                            let n = rest
                                .find(|c: char| !c.is_ascii_digit())
                                .unwrap_or(rest.len());
                            parts.push(rest[..n].to_string());
                            self.pos += n;
                        }
                        _ => return Err(self.expected("a name or an index after \".\"")),
                    }
                }
                Some('[') => {
                    self.pos += 1;
                    self.skip_ws();
                    if !matches!(self.peek(), Some('"' | '`')) {
                        return Err(self.expected("a quoted map key after \"[\""));
                    }
                    parts.push(self.string()?);
                    self.skip_ws();
                    if self.peek() != Some(']') {
                        return Err(self.expected("\"]\" to close the index"));
                    }
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let text = self.src[start..self.pos].to_string();
        Ok(Selector { parts, text })
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?`, then a space, `)`, `}` or the end.
    fn number(&mut self, what: &str) -> PResult<String> {
        let (start, b) = (self.pos, self.src.as_bytes());
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start + usize::from(b[start] == b'-');
        i = match b.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i),
            _ => return Err(self.expected(what)),
        };
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1);
        }
        if !matches!(
            b.get(i),
            None | Some(b' ' | b'\t' | b'\r' | b'\n' | b')' | b'}')
        ) {
            return Err(self.error_at(
                start,
                format!(
                    "invalid number {}: write numbers like 42, -7 or 0.25, and quote other values",
                    self.describe(start)
                ),
            ));
        }
        self.pos = i;
        Ok(self.src[start..i].to_string())
    }

    /// A `"…"` (Go escapes) or `` `…` `` (raw) string; the cursor is on the quote.
    fn string(&mut self) -> PResult<String> {
        let start = self.pos;
        let unterminated = |p: &Self, q: char| {
            p.error_at(
                start,
                format!("unterminated string: this {q} is never closed"),
            )
        };
        if self.peek() == Some('`') {
            let rest = &self.rest()[1..];
            let Some(n) = rest.find('`') else {
                return Err(unterminated(self, '`'));
            };
            self.pos += n + 2;
            return Ok(rest[..n].replace('\r', ""));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let at = self.pos;
            let Some(c) = self.peek() else {
                return Err(unterminated(self, '"'));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\n' => return Err(self.error_at(at, "newline in string (use \\n)".to_string())),
                '\\' if self.pos == self.src.len() => return Err(unterminated(self, '"')),
                '\\' => out.push(self.escape(at)?),
                c => out.push(c),
            }
        }
    }

    /// The character of the escape after the `\` at `at`.
    fn escape(&mut self, at: usize) -> PResult<char> {
        let rest = self.rest();
        let bad = |p: &Self, len: usize| {
            let seq: String = p.src[at..].chars().take(len).collect();
            p.error_at(at, format!("invalid escape sequence {seq} in string"))
        };
        let Some(e) = rest.chars().next() else {
            return Err(bad(self, 1)); // (`string` reports a `\` at the end)
        };
        self.pos += e.len_utf8();
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        let (len, radix, from) = match e {
            'x' => (2, 16, 1),
            'u' => (4, 16, 1),
            'U' => (8, 16, 1),
            '0'..='7' => (3, 8, 0),
            _ => return Err(bad(self, 2)),
        };
        let digits = rest
            .get(from..from + len)
            .filter(|d| d.chars().all(|c| c.is_digit(radix)));
        let Some(digits) = digits else {
            return Err(bad(self, 1 + from + len));
        };
        // The escape's letter (or first octal digit) is consumed already.
        self.pos += len + from - 1;
        let code = u32::from_str_radix(digits, radix).unwrap_or(u32::MAX);
        match char::from_u32(code) {
            // Go's \x and octal escapes are bytes: only ASCII ones are characters.
            Some(c) if e == 'u' || e == 'U' || c.is_ascii() => Ok(c),
            _ => Err(bad(self, 1 + from + len)),
        }
    }
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    (
        line,
        before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
    )
}

/// An operand's text as a value (a selector's dotted path, as go-bexpr).
fn operand_text(operand: Operand) -> String {
    match operand {
        Operand::Selector(s) => s.parts.join("."),
        Operand::Quoted(s) | Operand::Raw(s) | Operand::Number(s) => s,
    }
}

/// `/a/b~1c` → ["a", "b/c"]: go-bexpr's quoted selector.
fn json_pointer(s: &str) -> Option<Selector> {
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.~:|".contains(c))
    };
    let parts = s.strip_prefix('/')?.split('/');
    let parts: Option<Vec<String>> = parts
        .map(|seg| segment_ok(seg).then(|| seg.replace("~1", "/").replace("~0", "~")))
        .collect();
    Some(Selector {
        parts: parts?,
        text: format!("\"{s}\""),
    })
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let reason = text
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(&text);
            format!(
                "invalid regular expression \"{pattern}\": {}",
                reason.trim()
            )
        })
}
