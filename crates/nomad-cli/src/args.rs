//! Go-style flags on top of clap.
//!
//! Nomad's commands take flags the way Go's `flag` package parses them: one
//! dash for long names (`-check-index 5`, `-var-file=x.hcl`), two dashes
//! accepted too, and flag parsing stops at the first positional argument after
//! the command path. Clap wants two dashes for long names, so the arguments
//! are rewritten before clap sees them.

use std::ffi::OsString;

/// Commands whose arguments after the first positional belong to someone else
/// (a command to run in a task, a payload), so that nothing past it is touched.
const PASSTHROUGH: &[&[&str]] = &[&["alloc", "exec"], &["exec"]];

/// Flags of the passthrough commands (and the global ones) that take a
/// value as the next argument (`-task web`, `-e none`): that argument is
/// not the first positional.
const VALUE_FLAGS: &[&str] = &["task", "e", "address", "region", "namespace", "token"];

/// Rewrites `-name` into `--name` for every flag until the first positional
/// argument that follows the subcommand words (for passthrough commands) or
/// until `--`.
pub fn normalize(args: impl IntoIterator<Item = OsString>, subcommands: &[&str]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut iter = args.into_iter();
    if let Some(bin) = iter.next() {
        out.push(bin);
    }
    let mut path: Vec<String> = Vec::new();
    let mut in_path = true;
    let mut stop = false;
    let mut value_next = false;
    for arg in iter {
        if stop {
            out.push(arg);
            continue;
        }
        if std::mem::take(&mut value_next) {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            stop = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = s.strip_prefix('-') {
            // `-` alone means stdin; `-x` single letters stay as they are;
            // `--name` is already clap's form; negative numbers are values.
            let is_long_single_dash = rest.len() > 1
                && !rest.starts_with('-')
                && !rest.starts_with(|c: char| c.is_ascii_digit());
            let name = rest.trim_start_matches('-');
            value_next = !name.contains('=') && VALUE_FLAGS.contains(&name);
            if is_long_single_dash {
                out.push(OsString::from(format!("-{s}")));
            } else {
                out.push(arg);
            }
            continue;
        }
        if in_path && subcommands.contains(&s) {
            path.push(s.to_string());
        } else {
            in_path = false;
            if PASSTHROUGH
                .iter()
                .any(|p| path.iter().map(String::as_str).eq(p.iter().copied()))
            {
                stop = true;
            }
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Vec<String> {
        normalize(
            args.iter().map(OsString::from),
            &["job", "run", "alloc", "exec"],
        )
        .into_iter()
        .map(|s| s.into_string().unwrap_or_default())
        .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double() {
        assert_eq!(
            n(&[
                "nomad",
                "job",
                "run",
                "-check-index",
                "23",
                "-var=a=b",
                "example.nomad"
            ]),
            [
                "nomad",
                "job",
                "run",
                "--check-index",
                "23",
                "--var=a=b",
                "example.nomad"
            ]
        );
    }

    #[test]
    fn stdin_dash_short_flags_and_double_dash_untouched() {
        assert_eq!(
            n(&["nomad", "job", "run", "-", "-h", "--json"]),
            ["nomad", "job", "run", "-", "-h", "--json"]
        );
    }

    #[test]
    fn exec_command_arguments_are_passed_through() {
        assert_eq!(
            n(&["nomad", "alloc", "exec", "-task", "web", "abcd", "sh", "-c", "echo hi"]),
            ["nomad", "alloc", "exec", "--task", "web", "abcd", "sh", "-c", "echo hi"]
        );
        // A flag's value is not the first positional.
        assert_eq!(
            n(&["nomad", "alloc", "exec", "-e", "none", "-job", "j", "sh", "-job"]),
            ["nomad", "alloc", "exec", "-e", "none", "--job", "j", "sh", "-job"]
        );
        assert_eq!(
            n(&["nomad", "-address", "a", "alloc", "exec", "-task=t", "-i=false", "x", "-i"]),
            [
                "nomad",
                "--address",
                "a",
                "alloc",
                "exec",
                "--task=t",
                "--i=false",
                "x",
                "-i"
            ]
        );
    }
}
