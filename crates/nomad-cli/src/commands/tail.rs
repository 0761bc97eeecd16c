//! `-f`, `-tail`, `-n` and `-c`, shared by `alloc logs` and `alloc fs`:
//! where to start reading and how much of the first read to print.

use clap::Args;

/// Lines shown by `-tail` without `-n` or `-c`.
const DEFAULT_TAIL_LINES: i64 = 10;
/// Nomad's guess of a line's length, turning `-n` into a byte offset.
const BYTES_PER_LINE: i64 = 120;

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Keep printing what is appended.
    #[arg(short = 'f')]
    pub follow: bool,
    /// Start near the end (the last 10 lines unless -n or -c says).
    #[arg(long)]
    pub tail: bool,
    /// Lines to show with -tail.
    #[arg(short = 'n', default_value_t = -1, allow_negative_numbers = true)]
    pub lines: i64,
    /// Bytes to show with -tail.
    #[arg(short = 'c', default_value_t = -1, allow_negative_numbers = true)]
    pub bytes: i64,
}

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// `offset` counts back from the end.
    pub from_end: bool,
    /// Bytes from the start or the end.
    pub offset: i64,
    /// Print only this many last lines of the first read (`-n`).
    pub keep_lines: Option<i64>,
}

impl Position {
    /// `start` or `end`, as the API takes it.
    pub fn origin(&self) -> &'static str {
        if self.from_end {
            "end"
        } else {
            "start"
        }
    }
}

impl TailArgs {
    /// The start position these flags ask for; an error when both -n and
    /// -c are given.
    pub fn position(&self) -> Result<Position, &'static str> {
        if !self.tail {
            return Ok(Position {
                from_end: false,
                offset: 0,
                keep_lines: None,
            });
        }
        let (offset, keep_lines) = match (self.lines, self.bytes) {
            (n, c) if n != -1 && c != -1 => return Err("both -n and -c set"),
            (n, _) if n != -1 => (n * BYTES_PER_LINE, Some(n)),
            (_, c) if c != -1 => (c, None),
            _ => (
                DEFAULT_TAIL_LINES * BYTES_PER_LINE,
                Some(DEFAULT_TAIL_LINES),
            ),
        };
        Ok(Position {
            from_end: true,
            offset,
            keep_lines,
        })
    }
}

/// Cuts the first chunk printed to its last `-n` lines; later chunks pass.
pub struct FirstChunk {
    keep_lines: Option<i64>,
}

impl FirstChunk {
    pub fn new(pos: Position) -> Self {
        FirstChunk {
            keep_lines: pos.keep_lines,
        }
    }

    /// What of `chunk` to print.
    pub fn cut(&mut self, chunk: Vec<u8>) -> Vec<u8> {
        match self.keep_lines.take() {
            Some(n) => last_lines(&chunk, n),
            None => chunk,
        }
    }
}

/// The last `n` lines of `data`.
fn last_lines(data: &[u8], n: i64) -> Vec<u8> {
    let n = usize::try_from(n).unwrap_or(0);
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let starts: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    if starts.len() < n {
        return data.to_vec();
    }
    let from = if n == 0 {
        data.len()
    } else {
        starts[starts.len() - n]
    };
    data[from..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 5), b"a\nb\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 1), b"c");
    }

    #[test]
    fn tail_flags_turn_into_a_position() {
        let args = |tail, lines, bytes| TailArgs {
            follow: false,
            tail,
            lines,
            bytes,
        };
        assert_eq!(args(false, 3, -1).position().unwrap().offset, 0);
        let p = args(true, -1, -1).position().unwrap();
        assert_eq!(
            (p.origin(), p.offset, p.keep_lines),
            ("end", 1200, Some(10))
        );
        let p = args(true, -1, 7).position().unwrap();
        assert_eq!((p.offset, p.keep_lines), (7, None));
        assert_eq!(args(true, 2, 7).position(), Err("both -n and -c set"));
    }
}
