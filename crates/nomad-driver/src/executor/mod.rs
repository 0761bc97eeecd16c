//! Support for drivers that run host processes (Nomad's
//! `drivers/shared/executor`): launching a task under a shim that outlives
//! the client and records the exit status, supervising it (wait, signal,
//! stop escalation, recovery by pid and start time), `/proc` statistics,
//! user lookup and exec sessions.
//!
//! Linux only. `raw_exec` uses it as is; `exec` adds namespaces, a chroot
//! and cgroups through [`launch::LaunchSpec`]'s namespace fields and a
//! [`launch::ChildSetup`].

mod child;
pub mod launch;
pub mod procfs;
pub mod session;
pub mod supervise;
pub mod user;

pub use launch::{
    launch, program_candidates, ChildFailure, ChildSetup, LaunchError, LaunchSpec, Launched,
};
pub use procfs::{CpuTimes, CpuTracker, ProcRef};
pub use session::run_session;
pub use supervise::{ExitHook, Reservation, Supervisor, TaskStore};
pub use user::{is_root, lookup_user, IdRanges, UserIds};

use std::path::{Path, PathBuf};

/// A file name for task `id` that is safe in a directory: the id's
/// characters outside `[A-Za-z0-9._-]` become `_`, plus a short hash of the
/// whole id so that different ids never collide.
pub fn task_file_name(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(96)
        .collect();
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{clean}-{:08x}", h as u32)
}

/// Where a driver keeps the status file of task `id` under `state_dir`.
pub fn status_path(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join(format!("{}.exit", task_file_name(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_file_names_are_safe_and_distinct() {
        let a = task_file_name("abc/web/1");
        let b = task_file_name("abc_web_1");
        assert!(a.starts_with("abc_web_1-"));
        assert_ne!(a, b);
        assert!(!task_file_name("../../etc").contains('/'));
    }
}
