//! The local terminal during `nomad alloc exec -t`: raw mode for as long
//! as the session lasts (restored when the guard drops, on every path out),
//! the terminal's size, and the escape sequence that detaches (`~.` at the
//! start of a line, as ssh and Nomad's `escapingio` read it).

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::termios::{self, SetArg, Termios};
use nomad_api_client::TerminalSize;

/// Standard input in raw mode; the saved mode comes back on drop.
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Puts standard input (a terminal) in raw mode: no echo, no line
    /// editing, no signals from Ctrl-C or Ctrl-Z (those bytes go to the
    /// remote command).
    pub fn enter() -> Result<RawMode, String> {
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("duplicating stdin: {e}"))?;
        let saved =
            termios::tcgetattr(&fd).map_err(|e| format!("reading the terminal mode: {e}"))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&fd, SetArg::TCSANOW, &raw)
            .map_err(|e| format!("setting the terminal to raw mode: {e}"))?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, SetArg::TCSANOW, &self.saved);
    }
}

nix::ioctl_read_bad!(tiocgwinsz, nix::libc::TIOCGWINSZ, nix::libc::winsize);

/// The size of the terminal on stdout (or stdin); `None` when neither is
/// a terminal.
pub fn size() -> Option<TerminalSize> {
    use std::os::fd::AsRawFd;
    for fd in [
        std::io::stdout().as_fd().as_raw_fd(),
        std::io::stdin().as_fd().as_raw_fd(),
    ] {
        let mut ws = nix::libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into `ws`, which lives
        // for the call; `fd` is this process's stdin or stdout.
        if unsafe { tiocgwinsz(fd, &mut ws) }.is_ok() && ws.ws_row > 0 && ws.ws_col > 0 {
            return Some(TerminalSize {
                height: ws.ws_row,
                width: ws.ws_col,
            });
        }
    }
    None
}

/// Nomad's `-e` escape: at the start of a line (the first input, or after
/// a carriage return or newline), the escape character is held back; then
/// `.` detaches, the escape character again sends one, and anything else
/// sends both.
#[derive(Debug, Clone)]
pub struct Escaper {
    ch: Option<u8>,
    line_start: bool,
    held: bool,
}

impl Escaper {
    /// `ch`: the escape character; `None` (`-e none`) passes everything.
    pub fn new(ch: Option<u8>) -> Self {
        Escaper {
            ch,
            line_start: true,
            held: false,
        }
    }

    /// The bytes of `input` to send on, and whether the user asked to
    /// detach (what follows the escape is then dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let Some(esc) = self.ch else {
            return (input.to_vec(), false);
        };
        let mut out = Vec::with_capacity(input.len() + 1);
        for &b in input {
            if self.held {
                self.held = false;
                match b {
                    b'.' => return (out, true),
                    _ if b == esc => {
                        out.push(esc);
                        self.line_start = false;
                        continue;
                    }
                    _ => out.push(esc),
                }
            } else if self.line_start && b == esc {
                self.held = true;
                continue;
            }
            out.push(b);
            self.line_start = b == b'\r' || b == b'\n';
        }
        (out, false)
    }

    /// At the end of input: a held escape character is sent after all.
    pub fn finish(&mut self) -> Vec<u8> {
        match (self.held, self.ch) {
            (true, Some(esc)) => {
                self.held = false;
                vec![esc]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_dot_at_line_start_detaches() {
        let mut e = Escaper::new(Some(b'~'));
        assert_eq!(e.feed(b"~."), (Vec::new(), true));
        let mut e = Escaper::new(Some(b'~'));
        assert_eq!(e.feed(b"ls\r~."), (b"ls\r".to_vec(), true));
        // Split across reads.
        let mut e = Escaper::new(Some(b'~'));
        assert_eq!(e.feed(b"echo\n~"), (b"echo\n".to_vec(), false));
        assert_eq!(e.feed(b"."), (Vec::new(), true));
    }

    #[test]
    fn other_escapes_pass_through() {
        let mut e = Escaper::new(Some(b'~'));
        // Not at line start.
        assert_eq!(e.feed(b"a~."), (b"a~.".to_vec(), false));
        let mut e = Escaper::new(Some(b'~'));
        assert_eq!(e.feed(b"~~x"), (b"~x".to_vec(), false));
        let mut e = Escaper::new(Some(b'~'));
        assert_eq!(e.feed(b"~x\n~"), (b"~x\n".to_vec(), false));
        assert_eq!(e.finish(), b"~".to_vec());
        // A different escape character, and none.
        let mut e = Escaper::new(Some(b'%'));
        assert_eq!(e.feed(b"~.%."), (b"~.%.".to_vec(), false));
        let mut e = Escaper::new(Some(b'%'));
        assert_eq!(e.feed(b"%."), (Vec::new(), true));
        let mut e = Escaper::new(None);
        assert_eq!(e.feed(b"~."), (b"~.".to_vec(), false));
    }
}
