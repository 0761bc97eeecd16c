//! Parsing HCL2 text with hcl-edit, turning syntax errors into [`Diagnostic`]s
//! that say what HCL users expect to hear (an unclosed block points at its
//! `{`, a missing `=` at the argument name).

use hcl_edit::structure::Body as EditBody;

use crate::diag::{Diagnostic, Diagnostics};
use crate::source::SourceMap;

/// The byte offset of the outermost `{` that is never closed, skipping
/// strings, comments and heredocs.
fn unclosed_brace(src: &str) -> Option<usize> {
    #[derive(PartialEq)]
    enum Open {
        Brace,
        Interp,
    }
    let b = src.as_bytes();
    let mut stack: Vec<(Open, usize)> = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                b'$' | b'%' if next == Some(c) && b.get(i + 2) == Some(&b'{') => i += 2,
                b'$' | b'%' if next == Some(b'{') => {
                    stack.push((Open::Interp, i));
                    in_string = false;
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'#' => i = src[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if next == Some(b'/') => i = src[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if next == Some(b'*') => {
                i = src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 1)
            }
            b'"' => in_string = true,
            b'<' if next == Some(b'<') => {
                let rest = &src[i + 2..];
                let rest = rest.strip_prefix('-').unwrap_or(rest);
                let delim: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !delim.is_empty() && rest[delim.len()..].starts_with('\n') {
                    let body_start = src.len() - rest.len() + delim.len() + 1;
                    let mut pos = body_start;
                    let mut end = b.len();
                    for line in src[body_start..].split_inclusive('\n') {
                        if line.trim() == delim {
                            end = pos + line.len();
                            break;
                        }
                        pos += line.len();
                    }
                    i = end;
                    continue;
                }
            }
            b'{' => stack.push((Open::Brace, i)),
            b'}' => {
                if let Some((Open::Interp, _)) = stack.pop() {
                    in_string = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    stack
        .into_iter()
        .find(|(k, _)| *k == Open::Brace)
        .map(|(_, at)| at)
}

fn syntax_error(map: &SourceMap, err: &hcl_edit::parser::Error) -> Diagnostics {
    let mut offset = err.location().offset().min(map.text.len());
    while !map.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let raw = err.message();
    let line_start = map.text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &map.text[line_start..offset];

    let (at, message) = if map.text[offset..].trim().is_empty()
        && unclosed_brace(&map.text).is_some()
    {
        let brace = unclosed_brace(&map.text).unwrap_or(offset);
        (
            brace,
            "unclosed block: this { has no matching } before the end of the file".to_string(),
        )
    } else if raw.starts_with("invalid structure") && !before.trim().is_empty() {
        // `count 3`: a name followed by neither `=` nor a block.
        let key_at = line_start + (before.len() - before.trim_start().len());
        let key: String = before
            .trim_start()
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        (
            key_at,
            format!("expected \"=\" after the argument name \"{key}\" (or labels and \"{{\" for a block): {raw}"),
        )
    } else if raw.starts_with("invalid block body") && before.contains('{') && before.contains('=')
    {
        (
            offset,
            "a single-line block may hold only a single argument; put each argument on its own line".to_string(),
        )
    } else {
        (offset, format!("syntax error: {raw}"))
    };
    let pos = map.pos(at);
    let span = crate::diag::Span {
        file: map.file.clone(),
        start: pos,
        end: pos,
    };
    Diagnostics(vec![Diagnostic::new(span, message)])
}

/// Parses a whole HCL file.
pub(crate) fn parse_body(map: &SourceMap) -> Result<EditBody, Diagnostics> {
    hcl_edit::parser::parse_body(&map.text).map_err(|e| syntax_error(map, &e))
}

/// Parses a template file (as `templatefile` reads it).
pub(crate) fn parse_template(map: &SourceMap) -> Result<hcl_edit::template::Template, Diagnostics> {
    hcl_edit::parser::parse_template(&map.text).map_err(|e| syntax_error(map, &e))
}

#[cfg(test)]
mod tests {
    use super::unclosed_brace;

    #[test]
    fn finds_the_outermost_unclosed_brace() {
        assert_eq!(unclosed_brace("a {\n b { }\n"), Some(2));
        assert_eq!(unclosed_brace("a { x = \"}${1}\" }\n"), None);
        assert_eq!(unclosed_brace("a { # }\n"), Some(2));
        assert_eq!(unclosed_brace("x = <<EOF\n}\nEOF\ny {"), Some(18));
        assert_eq!(unclosed_brace("x = \"%%{ $${\" {"), Some(14));
    }
}
