//! Shared by the exec driver's integration tests.
#![allow(dead_code)]

use std::path::Path;

use nomad_driver_exec::{cgroup, ExecConfig};

/// True when the exec driver can run here (root, a cgroup mount). Outside
/// CI a test that cannot run says so loudly and passes; with `CI=true` it
/// fails instead.
pub fn can_run(test: &str) -> bool {
    let why = if !nomad_driver::executor::is_root() {
        Some("needs root")
    } else if cgroup::detect().is_none() {
        Some("needs a cgroup mount")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test} {why}, and CI=true requires it to run")
        }
        Some(why) => {
            loud(&format!("\n*** SKIPPED {test}: {why} ***\n"));
            false
        }
    }
}

/// A driver config for tests: state in `dir`, its own cgroup parent.
pub fn config(dir: &Path) -> ExecConfig {
    ExecConfig {
        cgroup_parent: "nomad-rs-test".into(),
        ..ExecConfig::with_state_dir(dir.join("state"))
    }
}

/// Kills every task process that lives in a cgroup whose tasks' directories
/// are under `dir`, removes those cgroups and unmounts anything mounted
/// under `dir`: what a test that failed half-way leaves behind. Blocking.
pub fn force_cleanup(dir: &Path) {
    use std::fs;
    let Some(mode) = cgroup::detect() else {
        return;
    };
    let parents: Vec<std::path::PathBuf> = match &mode {
        cgroup::CgroupMode::V1(m) => m.values().map(|p| p.join("nomad-rs-test")).collect(),
        cgroup::CgroupMode::V2(root) => vec![root.join("nomad-rs-test.slice")],
    };
    // Task cgroups are named after task ids, which hold the alloc dir name;
    // the state dir's status files name the ids of this test's tasks.
    let ids: Vec<String> = fs::read_dir(dir.join("state"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".exit")
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default();
    for parent in &parents {
        for id in &ids {
            for cg in [parent.join(id), parent.join(format!("{id}.scope"))] {
                if !cg.exists() {
                    continue;
                }
                for _ in 0..50 {
                    let procs = fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
                    if procs.trim().is_empty() {
                        break;
                    }
                    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        // SAFETY: plain kill of a leaked test task.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let _ = fs::remove_dir(&cg);
            }
        }
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: valid path string.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Writes straight to fd 2, past the test harness's output capture.
pub fn loud(msg: &str) {
    // SAFETY: writing a valid buffer to stderr.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}
