//! Signal names as jobs write them (`kill_signal = "SIGTERM"`,
//! `change_signal = "SIGHUP"`) and their numbers on Linux.

use crate::error::DriverError;

/// The signal a stop uses when the task sets no `kill_signal` (Nomad's
/// executor defaults to SIGINT).
pub const DEFAULT_KILL_SIGNAL: &str = "SIGINT";

const SIGNALS: &[(&str, i32)] = &[
    ("SIGABRT", libc::SIGABRT),
    ("SIGALRM", libc::SIGALRM),
    ("SIGBUS", libc::SIGBUS),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGCONT", libc::SIGCONT),
    ("SIGFPE", libc::SIGFPE),
    ("SIGHUP", libc::SIGHUP),
    ("SIGILL", libc::SIGILL),
    ("SIGINT", libc::SIGINT),
    ("SIGIO", libc::SIGIO),
    ("SIGIOT", libc::SIGIOT),
    ("SIGKILL", libc::SIGKILL),
    ("SIGPIPE", libc::SIGPIPE),
    ("SIGPROF", libc::SIGPROF),
    ("SIGPWR", libc::SIGPWR),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGSTKFLT", libc::SIGSTKFLT),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGSYS", libc::SIGSYS),
    ("SIGTERM", libc::SIGTERM),
    ("SIGTRAP", libc::SIGTRAP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGTTIN", libc::SIGTTIN),
    ("SIGTTOU", libc::SIGTTOU),
    ("SIGURG", libc::SIGURG),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
];

/// Parses a signal name: `SIGTERM`, `TERM` or `sigterm`. Numbers are not
/// accepted (Nomad takes names only).
pub fn parse_signal(name: &str) -> Result<i32, DriverError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS
        .iter()
        .find(|(n, _)| *n == full)
        .map(|(_, v)| *v)
        .ok_or_else(|| DriverError::InvalidSignal(name.to_string()))
}

/// Parses a kill signal, using [`DEFAULT_KILL_SIGNAL`] when empty.
pub fn parse_kill_signal(name: &str) -> Result<i32, DriverError> {
    if name.trim().is_empty() {
        parse_signal(DEFAULT_KILL_SIGNAL)
    } else {
        parse_signal(name)
    }
}

/// The name of signal `sig` (`"SIGTERM"`), if it has one.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(n, v)| *v == sig && *n != "SIGIOT")
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_and_without_prefix() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("term").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal(" SIGusr1 ").unwrap(), libc::SIGUSR1);
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("15").is_err());
        assert_eq!(parse_kill_signal("").unwrap(), libc::SIGINT);
        assert_eq!(signal_name(libc::SIGKILL), Some("SIGKILL"));
        assert_eq!(signal_name(libc::SIGABRT), Some("SIGABRT"));
    }
}
