//! The server join settings (`retry_join`, `start_join`, `retry_max`,
//! `retry_interval`): from the `server_join` block and the flags, or from
//! the older attributes of `server`, and the mixes Nomad refuses.

use std::time::Duration;

use super::config::{num_of, str_of, strings_of};
use super::flags::parse_duration;
use super::AgentConfig;

/// Where the join settings came from: the `server_join` block (and the
/// flags) or the older attributes directly in `server`. Nomad refuses some
/// mixes of the two, so they are kept apart until every file and flag is
/// read.
#[derive(Debug, Default)]
pub(super) struct Joins {
    /// `server { retry_join start_join retry_max retry_interval }`; the
    /// lists of several files add up.
    pub(super) legacy: JoinSettings,
    /// `server { server_join { … } }` and the flags; a later list replaces
    /// an earlier one.
    pub(super) server_join: JoinSettings,
}

#[derive(Debug, Default)]
pub(super) struct JoinSettings {
    pub(super) retry_join: Vec<String>,
    pub(super) start_join: Vec<String>,
    pub(super) retry_max: Option<usize>,
    pub(super) retry_interval: Option<Duration>,
}

impl Joins {
    /// Checks the mixes Nomad refuses (with its words) and sets the
    /// config's join fields.
    pub(super) fn finish(self, c: &mut AgentConfig) -> Result<(), String> {
        let Joins {
            legacy,
            server_join: sj,
        } = self;
        const PREFER: &str = "prefer setting the server_join block";
        if !sj.retry_join.is_empty() {
            if !legacy.retry_join.is_empty() {
                return Err(format!(
                    "server_join and retry_join cannot both be defined; {PREFER}"
                ));
            }
            if !legacy.start_join.is_empty() {
                return Err(format!(
                    "server_join and start_join cannot both be defined; {PREFER}"
                ));
            }
            if legacy.retry_max.is_some_and(|n| n != 0) {
                return Err(format!(
                    "server_join and retry_max cannot both be defined; {PREFER}"
                ));
            }
            if legacy.retry_interval.is_some_and(|d| !d.is_zero()) {
                return Err(format!(
                    "server_join and retry_interval cannot both be defined; {PREFER}"
                ));
            }
            if !sj.start_join.is_empty() {
                return Err("retry_join and start_join cannot both be defined".into());
            }
        }
        if !legacy.start_join.is_empty() && !sj.start_join.is_empty() {
            return Err(format!(
                "server_join and start_join cannot both be defined; {PREFER}"
            ));
        }
        // What nothing sets stays as it was (the defaults, in `parse`).
        if !legacy.retry_join.is_empty() || !sj.retry_join.is_empty() {
            c.retry_join = legacy.retry_join.into_iter().chain(sj.retry_join).collect();
        }
        if !legacy.start_join.is_empty() || !sj.start_join.is_empty() {
            c.start_join = legacy.start_join.into_iter().chain(sj.start_join).collect();
        }
        let nonzero_max = |m: Option<usize>| m.filter(|n| *n != 0);
        if let Some(n) = nonzero_max(legacy.retry_max)
            .or(sj.retry_max)
            .or(legacy.retry_max)
        {
            c.retry_max = n;
        }
        let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        if let Some(d) = nonzero(legacy.retry_interval).or(nonzero(sj.retry_interval)) {
            c.retry_interval = d;
        }
        Ok(())
    }
}

/// The join settings of a `server` or `server_join` block.
pub(super) fn join_settings(
    b: &nomad_hcl::tree::Body,
    into: &mut JoinSettings,
    append: bool,
    block: &str,
) -> Result<(), String> {
    let ctx = |e: String| format!("{block}: {e}");
    for (key, list) in [
        ("retry_join", &mut into.retry_join),
        ("start_join", &mut into.start_join),
    ] {
        if let Some(v) = strings_of(b, key).map_err(ctx)? {
            if append {
                list.extend(v);
            } else if !v.is_empty() {
                *list = v;
            }
        }
    }
    if let Some(n) = num_of(b, "retry_max").map_err(ctx)? {
        into.retry_max =
            Some(usize::try_from(n).map_err(|_| ctx("retry_max out of range".into()))?);
    }
    if let Some(v) = str_of(b, "retry_interval") {
        into.retry_interval =
            Some(parse_duration(&v).map_err(|e| ctx(format!("retry_interval: {e}")))?);
    }
    Ok(())
}
