//! Reading processes from `/proc`: identity (pid + start time, so that a
//! recycled pid is never mistaken for our task), process trees and CPU/memory
//! counters.

use std::fs;
use std::io;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::status::{CpuStats, MemoryStats, ResourceUsage};

/// The fields of `/proc/<pid>/stat` that drivers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// Command name (without the parentheses).
    pub comm: String,
    /// State letter (`R`, `S`, `Z`…).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub session: i32,
    /// User-mode time, clock ticks.
    pub utime: u64,
    /// Kernel-mode time, clock ticks.
    pub stime: u64,
    /// Start time since boot, clock ticks.
    pub starttime: u64,
    /// Resident set, pages.
    pub rss_pages: u64,
}

/// Parses the text of `/proc/<pid>/stat`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text.get(..open)?.trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field n is rest[n - 3].
    let field = |n: usize| rest.get(n - 3).copied();
    let num = |n: usize| field(n).and_then(|s| s.parse::<i64>().ok());
    Some(ProcStat {
        pid,
        comm,
        state: field(3)?.chars().next()?,
        ppid: i32::try_from(num(4)?).ok()?,
        pgrp: i32::try_from(num(5)?).ok()?,
        session: i32::try_from(num(6)?).ok()?,
        utime: u64::try_from(num(14)?).ok()?,
        stime: u64::try_from(num(15)?).ok()?,
        starttime: u64::try_from(num(22)?).ok()?,
        rss_pages: u64::try_from(num(24)?.max(0)).ok()?,
    })
}

/// Reads `/proc/<pid>/stat`.
pub fn read_stat(pid: i32) -> io::Result<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unparsable /proc/{pid}/stat"),
        )
    })
}

/// A process identified by pid and start time: survives pid reuse checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRef {
    /// Pid in the driver's (host) pid namespace.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22);
    /// 0 when the process was gone before it could be read.
    pub start_time: u64,
}

impl ProcRef {
    /// Identifies the live process `pid`.
    pub fn of(pid: i32) -> io::Result<Self> {
        let st = read_stat(pid)?;
        Ok(ProcRef {
            pid,
            start_time: st.starttime,
        })
    }

    /// True while the process exists (zombies excluded) and is the same
    /// process as when this reference was taken.
    pub fn is_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match read_stat(self.pid) {
            Ok(st) => st.starttime == self.start_time && st.state != 'Z' && st.state != 'X',
            Err(_) => false,
        }
    }

    /// True while the pid exists with the same start time, zombie or not.
    pub fn exists(&self) -> bool {
        self.pid > 0
            && read_stat(self.pid)
                .map(|st| st.starttime == self.start_time)
                .unwrap_or(false)
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(100)
    })
}

/// Page size in bytes.
pub fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(4096)
    })
}

/// MHz of one core, from `/proc/cpuinfo` (fallback 1000).
pub fn mhz_per_core() -> f64 {
    static MHZ: OnceLock<f64> = OnceLock::new();
    *MHZ.get_or_init(|| {
        fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .filter(|l| l.starts_with("cpu MHz"))
                    .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
                    .reduce(f64::max)
            })
            .filter(|v| *v > 0.0)
            .unwrap_or(1000.0)
    })
}

/// All pids whose session is `sid` (the task and everything it started that
/// did not start a session of its own).
pub fn session_members(sid: i32) -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_stat(pid).ok())
        .filter(|st| st.session == sid && st.state != 'Z')
        .collect()
}

/// `VmSwap` of a process, in bytes.
pub fn swap_bytes(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmSwap:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPU time consumed, split in user and system, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuTimes {
    /// User seconds.
    pub user: f64,
    /// System seconds.
    pub system: f64,
}

impl CpuTimes {
    /// From clock ticks.
    pub fn from_ticks(utime: u64, stime: u64) -> Self {
        let hz = clock_ticks() as f64;
        CpuTimes {
            user: utime as f64 / hz,
            system: stime as f64 / hz,
        }
    }
}

/// Turns cumulative CPU times into percentages between samples, as Nomad's
/// stats do (percent of one core; `TotalTicks` = percent × MHz of a core).
#[derive(Debug, Default)]
pub struct CpuTracker {
    last: Mutex<Option<(Instant, CpuTimes)>>,
}

impl CpuTracker {
    /// Records a sample and returns the CPU stats since the previous one.
    pub fn sample(&self, now: CpuTimes, measured: &[&str]) -> CpuStats {
        let at = Instant::now();
        let mut last = match self.last.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (user, system) = match *last {
            Some((t, prev)) => {
                let wall = at.duration_since(t).as_secs_f64();
                if wall > 0.0 {
                    (
                        ((now.user - prev.user) / wall * 100.0).max(0.0),
                        ((now.system - prev.system) / wall * 100.0).max(0.0),
                    )
                } else {
                    (0.0, 0.0)
                }
            }
            None => (0.0, 0.0),
        };
        *last = Some((at, now));
        let percent = user + system;
        CpuStats {
            system_mode: system,
            user_mode: user,
            total_ticks: percent / 100.0 * mhz_per_core(),
            throttled_periods: 0,
            throttled_time: 0,
            percent,
            measured: measured.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Memory fields measured from `/proc` (Nomad's basic executor stats).
pub const PROC_MEASURED_MEMORY: &[&str] = &["RSS", "Swap"];
/// CPU fields measured from `/proc`.
pub const PROC_MEASURED_CPU: &[&str] = &["System Mode", "User Mode", "Percent"];

/// Memory and cumulative CPU of a set of processes.
pub fn processes_usage(procs: &[ProcStat]) -> (MemoryStats, CpuTimes) {
    let page = page_size();
    let mut mem = MemoryStats {
        measured: PROC_MEASURED_MEMORY.iter().map(|s| s.to_string()).collect(),
        ..MemoryStats::default()
    };
    let (mut ut, mut st) = (0u64, 0u64);
    for p in procs {
        mem.rss += p.rss_pages * page;
        mem.swap += swap_bytes(p.pid);
        ut += p.utime;
        st += p.stime;
    }
    (mem, CpuTimes::from_ticks(ut, st))
}

/// Per-process usage (no CPU percentages), keyed by pid.
pub fn per_process_usage(procs: &[ProcStat]) -> std::collections::BTreeMap<String, ResourceUsage> {
    procs
        .iter()
        .map(|p| {
            let (mem, _) = processes_usage(std::slice::from_ref(p));
            (
                p.pid.to_string(),
                ResourceUsage {
                    memory_stats: mem,
                    cpu_stats: CpuStats::default(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_and_parens_in_comm() {
        let text = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000000 250 18446744073709551615";
        let st = parse_stat(text).unwrap();
        assert_eq!(st.pid, 1234);
        assert_eq!(st.comm, "my (odd) cmd");
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.session, 1234);
        assert_eq!((st.utime, st.stime), (7, 3));
        assert_eq!(st.starttime, 98765);
        assert_eq!(st.rss_pages, 250);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_is_alive_and_recycled_pid_is_not() {
        let me = ProcRef::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let other = ProcRef {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
        assert!(!ProcRef {
            pid: 0,
            start_time: 0
        }
        .is_alive());
    }

    #[test]
    fn cpu_tracker_reports_zero_first_then_delta() {
        let t = CpuTracker::default();
        let first = t.sample(
            CpuTimes {
                user: 1.0,
                system: 0.0,
            },
            PROC_MEASURED_CPU,
        );
        assert_eq!(first.percent, 0.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = t.sample(
            CpuTimes {
                user: 1.01,
                system: 0.0,
            },
            PROC_MEASURED_CPU,
        );
        assert!(
            second.percent > 0.0 && second.percent <= 100.0,
            "{second:?}"
        );
    }
}
