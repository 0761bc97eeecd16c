//! Byte offsets to `file:line:col` (1-based, columns in characters).

use std::ops::Range;

use crate::diag::{Pos, Span};

/// One source text and the table that turns byte offsets into positions.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap {
    pub(crate) file: String,
    pub(crate) text: String,
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub(crate) fn new(file: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        SourceMap {
            file: file.into(),
            text,
            line_starts,
        }
    }

    /// The position of a byte offset (clamped to the text, floored to a char boundary).
    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        Pos {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn span(&self, range: Option<Range<usize>>) -> Span {
        let range = range.unwrap_or(0..0);
        Span {
            file: self.file.clone(),
            start: self.pos(range.start),
            end: self.pos(range.end),
        }
    }

    /// The source text of a byte range, if it is valid.
    pub(crate) fn slice(&self, range: &Range<usize>) -> Option<&str> {
        self.text.get(range.clone())
    }

    /// A span covering the whole text.
    pub(crate) fn whole(&self) -> Span {
        self.span(Some(0..self.text.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let m = SourceMap::new("f", "ab\néé x\n");
        assert_eq!(m.pos(0), Pos { line: 1, col: 1 });
        assert_eq!(m.pos(3), Pos { line: 2, col: 1 });
        // 'x' is after two 2-byte chars and a space.
        assert_eq!(m.pos(8), Pos { line: 2, col: 4 });
        // Inside a multi-byte char: floored.
        assert_eq!(m.pos(4), Pos { line: 2, col: 1 });
        assert_eq!(m.pos(999), Pos { line: 3, col: 1 });
    }
}
