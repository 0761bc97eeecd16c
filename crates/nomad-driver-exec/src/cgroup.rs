//! Task cgroups: limits, membership, statistics and OOM detection, for
//! cgroups v1 (one hierarchy per controller) and v2 (the unified hierarchy),
//! chosen at runtime from the host's mounts.
//!
//! Layout, as Nomad's:
//!
//! * v1: `<controller mount>/<parent>/<name>` for `memory`, `cpu`,
//!   `cpuacct`, `pids` (and `cpuset` when cores are reserved);
//! * v2: `<mount>/<parent>.slice/<name>.scope`, with `cpu`, `memory`,
//!   `pids` enabled in the parents' `cgroup.subtree_control`.
//!
//! Limits: the hard memory limit (`memory.limit_in_bytes` / `memory.max`),
//! the soft one with `memory_max` (`memory.soft_limit_in_bytes` /
//! `memory.low`), no swap, `cpu.shares` = MHz clamped to 2..=262144 (v2:
//! `cpu.weight` converted from shares), `pids.max`.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nomad_driver::executor::procfs::CpuTimes;
use nomad_driver::{MemoryStats, TaskResources};
use serde::{Deserialize, Serialize};

/// `cpu.shares` bounds (as Nomad clamps them).
pub const MIN_CPU_SHARES: i64 = 2;
/// Upper bound of `cpu.shares`.
pub const MAX_CPU_SHARES: i64 = 262_144;

/// A cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No usable cgroup mount.
    #[error("no cgroup mount point found")]
    NotMounted,
    /// The memory controller is missing (it is required for limits).
    #[error("the memory cgroup controller is not available")]
    NoMemoryController,
    /// A file operation on a cgroup failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was done.
        op: &'static str,
        /// The cgroup file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Which cgroup hierarchy the host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroups v1: controller name → mount point.
    V1(BTreeMap<String, PathBuf>),
    /// cgroups v2: the unified mount point.
    V2(PathBuf),
}

/// Parses `/proc/self/mountinfo` text into a [`CgroupMode`]: v2 when the
/// unified hierarchy is mounted at `/sys/fs/cgroup` (or no v1 memory
/// controller exists but a v2 mount has controllers), else v1.
pub fn parse_mountinfo(
    text: &str,
    v2_has_controllers: impl Fn(&Path) -> bool,
) -> Option<CgroupMode> {
    let mut v1 = BTreeMap::new();
    let mut v2 = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split_whitespace().nth(4) else {
            continue;
        };
        let mount_point = PathBuf::from(unescape_mount(mount_point));
        let mut r = right.split_whitespace();
        let fstype = r.next().unwrap_or_default();
        let _source = r.next();
        let super_opts = r.next().unwrap_or_default();
        match fstype {
            "cgroup2" => v2.push(mount_point),
            "cgroup" => {
                for opt in super_opts.split(',') {
                    if matches!(
                        opt,
                        "memory" | "cpu" | "cpuacct" | "pids" | "cpuset" | "freezer"
                    ) {
                        v1.entry(opt.to_string())
                            .or_insert_with(|| mount_point.clone());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(root) = v2.iter().find(|p| *p == Path::new("/sys/fs/cgroup")) {
        return Some(CgroupMode::V2(root.clone()));
    }
    if v1.contains_key("memory") {
        return Some(CgroupMode::V1(v1));
    }
    v2.into_iter()
        .find(|p| v2_has_controllers(p))
        .map(CgroupMode::V2)
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

/// Detects the host's cgroup mode.
pub fn detect() -> Option<CgroupMode> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_mountinfo(&text, |p| {
        fs::read_to_string(p.join("cgroup.controllers"))
            .map(|c| !c.trim().is_empty())
            .unwrap_or(false)
    })
}

/// `cpu.shares` for a CPU request in MHz.
pub fn cpu_shares(mhz: i64) -> u64 {
    mhz.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES) as u64
}

/// v2 `cpu.weight` for v1 shares (the conversion runc uses).
pub fn cpu_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.saturating_sub(2)) * 9999) / 262_142
}

/// A task's cgroup(s). Serializable: the driver keeps it in the task handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCgroup {
    /// 1 or 2.
    pub version: u8,
    /// v1: controller → directory; v2: `"unified"` → directory.
    pub paths: BTreeMap<String, PathBuf>,
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io_err("writing", path))
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, oom_control).
fn read_keyed(path: &Path) -> BTreeMap<String, u64> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

impl TaskCgroup {
    /// Creates the cgroup `name` under `parent` and applies the limits.
    pub fn create(
        mode: &CgroupMode,
        parent: &str,
        name: &str,
        res: &TaskResources,
        pids_limit: Option<i64>,
    ) -> Result<Self, CgroupError> {
        match mode {
            CgroupMode::V1(mounts) => Self::create_v1(mounts, parent, name, res, pids_limit),
            CgroupMode::V2(root) => Self::create_v2(root, parent, name, res, pids_limit),
        }
    }

    fn create_v1(
        mounts: &BTreeMap<String, PathBuf>,
        parent: &str,
        name: &str,
        res: &TaskResources,
        pids_limit: Option<i64>,
    ) -> Result<Self, CgroupError> {
        if !mounts.contains_key("memory") {
            return Err(CgroupError::NoMemoryController);
        }
        let mut wanted = vec!["memory", "cpu", "cpuacct", "pids"];
        if !res.cpuset_cpus.is_empty() {
            wanted.push("cpuset");
        }
        let mut paths = BTreeMap::new();
        for ctrl in wanted {
            let Some(mount) = mounts.get(ctrl) else {
                tracing::debug!(
                    controller = ctrl,
                    "cgroup v1 controller not mounted; skipping"
                );
                continue;
            };
            let parent_dir = mount.join(parent);
            let dir = parent_dir.join(name);
            fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
            if ctrl == "cpuset" {
                // A new v1 cpuset is empty: copy mems from the root, set cpus.
                for d in [&parent_dir, &dir] {
                    for f in ["cpuset.mems", "cpuset.cpus"] {
                        let root_val = fs::read_to_string(mount.join(f)).unwrap_or_default();
                        let cur = fs::read_to_string(d.join(f)).unwrap_or_default();
                        if cur.trim().is_empty() {
                            write(&d.join(f), root_val.trim())?;
                        }
                    }
                }
                write(&dir.join("cpuset.cpus"), &res.cpuset_cpus)?;
            }
            paths.insert(ctrl.to_string(), dir);
        }
        let cg = TaskCgroup { version: 1, paths };
        if let Some(mem) = cg.paths.get("memory") {
            let (hard, soft) = res.memory_limits_bytes();
            if let Some(hard) = hard {
                write(&mem.join("memory.limit_in_bytes"), &hard.to_string())?;
                // No swap beyond the limit; absent without swap accounting.
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    let _ = fs::write(&memsw, hard.to_string());
                }
            }
            if let Some(soft) = soft {
                write(&mem.join("memory.soft_limit_in_bytes"), &soft.to_string())?;
            }
            let _ = fs::write(mem.join("memory.swappiness"), "0");
        }
        if let Some(cpu) = cg.paths.get("cpu") {
            write(
                &cpu.join("cpu.shares"),
                &cpu_shares(res.cpu_mhz).to_string(),
            )?;
        }
        if let Some(pids) = cg.paths.get("pids") {
            let v = pids_limit
                .filter(|v| *v > 0)
                .map_or("max".to_string(), |v| v.to_string());
            write(&pids.join("pids.max"), &v)?;
        }
        Ok(cg)
    }

    fn create_v2(
        root: &Path,
        parent: &str,
        name: &str,
        res: &TaskResources,
        pids_limit: Option<i64>,
    ) -> Result<Self, CgroupError> {
        let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let mut enable: Vec<&str> = ["cpu", "memory", "pids", "cpuset"]
            .into_iter()
            .filter(|c| available.split_whitespace().any(|a| a == *c))
            .collect();
        if res.cpuset_cpus.is_empty() {
            enable.retain(|c| *c != "cpuset");
        }
        if !enable.contains(&"memory") {
            return Err(CgroupError::NoMemoryController);
        }
        let control: String = enable.iter().map(|c| format!("+{c} ")).collect();
        let slice = root.join(format!("{parent}.slice"));
        fs::create_dir_all(&slice).map_err(io_err("creating", &slice))?;
        write(&root.join("cgroup.subtree_control"), control.trim())?;
        write(&slice.join("cgroup.subtree_control"), control.trim())?;
        let dir = slice.join(format!("{name}.scope"));
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;

        let (hard, soft) = res.memory_limits_bytes();
        write(
            &dir.join("memory.max"),
            &hard.map_or("max".to_string(), |v| v.to_string()),
        )?;
        if let Some(soft) = soft {
            write(&dir.join("memory.low"), &soft.to_string())?;
        }
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            let _ = fs::write(&swap, "0");
        }
        if enable.contains(&"cpu") {
            let w = cpu_weight(cpu_shares(res.cpu_mhz));
            write(&dir.join("cpu.weight"), &w.to_string())?;
        }
        if enable.contains(&"pids") {
            let v = pids_limit
                .filter(|v| *v > 0)
                .map_or("max".to_string(), |v| v.to_string());
            write(&dir.join("pids.max"), &v)?;
        }
        if enable.contains(&"cpuset") {
            write(&dir.join("cpuset.cpus"), &res.cpuset_cpus)?;
        }
        let mut paths = BTreeMap::new();
        paths.insert("unified".to_string(), dir);
        Ok(TaskCgroup { version: 2, paths })
    }

    /// The directories, deduplicated (co-mounted v1 controllers share one).
    fn dirs(&self) -> Vec<&PathBuf> {
        let mut d: Vec<&PathBuf> = self.paths.values().collect();
        d.sort();
        d.dedup();
        d
    }

    fn dir(&self, controller: &str) -> Option<&PathBuf> {
        if self.version == 2 {
            self.paths.get("unified")
        } else {
            self.paths.get(controller)
        }
    }

    /// `cgroup.procs` of every directory, opened for writing: the task
    /// process writes `0` to each to join before it execs.
    pub fn open_procs(&self) -> Result<Vec<OwnedFd>, CgroupError> {
        self.dirs()
            .into_iter()
            .map(|d| {
                let p = d.join("cgroup.procs");
                OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map(OwnedFd::from)
                    .map_err(io_err("opening", &p))
            })
            .collect()
    }

    /// Pids in the cgroup.
    pub fn procs(&self) -> Vec<i32> {
        let Some(dir) = self
            .dir("memory")
            .or_else(|| self.dirs().into_iter().next())
        else {
            return Vec::new();
        };
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// True when the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = self.dir("memory") else {
            return false;
        };
        if self.version == 2 {
            return read_keyed(&dir.join("memory.events"))
                .get("oom_kill")
                .is_some_and(|v| *v > 0);
        }
        let ctl = read_keyed(&dir.join("memory.oom_control"));
        match ctl.get("oom_kill") {
            Some(v) => *v > 0,
            // Kernels before 4.13 have no counter: hitting the limit while
            // under OOM is the best evidence left.
            None => {
                ctl.get("under_oom").is_some_and(|v| *v > 0)
                    || read_u64(&dir.join("memory.failcnt")).is_some_and(|v| v > 0)
            }
        }
    }

    /// Memory statistics and cumulative CPU times.
    pub fn stats(&self) -> (MemoryStats, CpuTimes, u64, u64) {
        let mut mem = MemoryStats::default();
        let mut cpu = CpuTimes::default();
        let (mut throttled_periods, mut throttled_ns) = (0, 0);
        if self.version == 2 {
            if let Some(dir) = self.dir("memory") {
                let stat = read_keyed(&dir.join("memory.stat"));
                mem.rss = stat.get("anon").copied().unwrap_or(0);
                mem.cache = stat.get("file").copied().unwrap_or(0);
                mem.swap = read_u64(&dir.join("memory.swap.current")).unwrap_or(0);
                mem.usage = read_u64(&dir.join("memory.current")).unwrap_or(0);
                mem.max_usage = read_u64(&dir.join("memory.peak")).unwrap_or(0);
                mem.measured = ["RSS", "Cache", "Swap", "Usage", "Max Usage"]
                    .map(String::from)
                    .to_vec();
                let cs = read_keyed(&dir.join("cpu.stat"));
                cpu.user = cs.get("user_usec").copied().unwrap_or(0) as f64 / 1e6;
                cpu.system = cs.get("system_usec").copied().unwrap_or(0) as f64 / 1e6;
                throttled_periods = cs.get("nr_throttled").copied().unwrap_or(0);
                throttled_ns = cs.get("throttled_usec").copied().unwrap_or(0) * 1000;
            }
            return (mem, cpu, throttled_periods, throttled_ns);
        }
        if let Some(dir) = self.dir("memory") {
            let stat = read_keyed(&dir.join("memory.stat"));
            let get = |k: &str| {
                stat.get(&format!("total_{k}"))
                    .or_else(|| stat.get(k))
                    .copied()
                    .unwrap_or(0)
            };
            mem.rss = get("rss");
            mem.cache = get("cache");
            mem.swap = get("swap");
            mem.usage = read_u64(&dir.join("memory.usage_in_bytes")).unwrap_or(0);
            mem.max_usage = read_u64(&dir.join("memory.max_usage_in_bytes")).unwrap_or(0);
            mem.kernel_usage = read_u64(&dir.join("memory.kmem.usage_in_bytes")).unwrap_or(0);
            mem.kernel_max_usage =
                read_u64(&dir.join("memory.kmem.max_usage_in_bytes")).unwrap_or(0);
            mem.measured = [
                "RSS",
                "Cache",
                "Swap",
                "Usage",
                "Max Usage",
                "Kernel Usage",
                "Kernel Max Usage",
            ]
            .map(String::from)
            .to_vec();
        }
        if let Some(dir) = self.dir("cpuacct") {
            // cpuacct.stat is in USER_HZ ticks.
            let st = read_keyed(&dir.join("cpuacct.stat"));
            cpu = CpuTimes::from_ticks(
                st.get("user").copied().unwrap_or(0),
                st.get("system").copied().unwrap_or(0),
            );
        }
        if let Some(dir) = self.dir("cpu") {
            let cs = read_keyed(&dir.join("cpu.stat"));
            throttled_periods = cs.get("nr_throttled").copied().unwrap_or(0);
            throttled_ns = cs.get("throttled_time").copied().unwrap_or(0);
        }
        (mem, cpu, throttled_periods, throttled_ns)
    }

    /// SIGKILLs every process in the cgroup, until it is empty (bounded).
    /// Blocking.
    pub fn kill_all(&self) {
        for _ in 0..50 {
            let procs = self.procs();
            if procs.is_empty() {
                return;
            }
            for pid in procs {
                // SAFETY: plain kill; pids come from the task's own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills what is left and removes the cgroup directories. Blocking.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        self.kill_all();
        for dir in self.dirs() {
            let mut last = None;
            for _ in 0..100 {
                match fs::remove_dir(dir) {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        last = None;
                        break;
                    }
                    Err(e) => {
                        last = Some(e);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            if let Some(e) = last {
                return Err(io_err("removing", dir)(e));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
35 31 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
36 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
37 31 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_hosts_use_v1_with_comounted_controllers() {
        let mode = parse_mountinfo(HYBRID, |_| false).unwrap();
        let CgroupMode::V1(m) = mode else {
            panic!("expected v1: {mode:?}");
        };
        assert_eq!(m["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(m["cpu"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m["cpuacct"], m["cpu"]);
        assert_eq!(m["pids"], PathBuf::from("/sys/fs/cgroup/pids"));
    }

    #[test]
    fn unified_hosts_use_v2() {
        let text = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            parse_mountinfo(text, |_| true),
            Some(CgroupMode::V2(PathBuf::from("/sys/fs/cgroup")))
        );
        assert_eq!(parse_mountinfo("", |_| true), None);
        // A v2 mount elsewhere counts only if it has controllers.
        let odd = "30 25 0:26 / /cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(parse_mountinfo(odd, |_| false), None);
        assert!(matches!(
            parse_mountinfo(odd, |_| true),
            Some(CgroupMode::V2(_))
        ));
    }

    #[test]
    fn shares_and_weights_follow_nomad_and_runc() {
        assert_eq!(cpu_shares(0), 2);
        assert_eq!(cpu_shares(500), 500);
        assert_eq!(cpu_shares(10_000_000), 262_144);
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(262_144), 10_000);
        assert_eq!(cpu_weight(1024), 39);
    }

    fn res(mhz: i64, mem: i64, max: i64) -> TaskResources {
        TaskResources {
            cpu_mhz: mhz,
            memory_mb: mem,
            memory_max_mb: max,
            ..TaskResources::default()
        }
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap().trim().to_string()
    }

    #[test]
    fn v2_writes_limits_into_a_scope_under_the_slice() {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let mode = CgroupMode::V2(root.path().to_path_buf());
        let cg = TaskCgroup::create(&mode, "nomad", "a.web", &res(500, 64, 128), Some(32)).unwrap();
        let dir = root.path().join("nomad.slice/a.web.scope");
        assert_eq!(cg.version, 2);
        assert_eq!(cg.paths["unified"], dir);
        assert_eq!(
            read(&root.path().join("cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        assert_eq!(
            read(&root.path().join("nomad.slice/cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        assert_eq!(read(&dir.join("memory.max")), (128u64 << 20).to_string());
        assert_eq!(read(&dir.join("memory.low")), (64u64 << 20).to_string());
        assert_eq!(read(&dir.join("cpu.weight")), cpu_weight(500).to_string());
        assert_eq!(read(&dir.join("pids.max")), "32");

        // Counters as the kernel writes them.
        fs::write(dir.join("memory.stat"), "anon 4096\nfile 8192\n").unwrap();
        fs::write(dir.join("memory.current"), "16384\n").unwrap();
        fs::write(dir.join("cpu.stat"), "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_throttled 2\nthrottled_usec 5\n").unwrap();
        let (mem, cpu, periods, throttled) = cg.stats();
        assert_eq!((mem.rss, mem.cache, mem.usage), (4096, 8192, 16384));
        assert_eq!((cpu.user, cpu.system), (2.0, 1.0));
        assert_eq!((periods, throttled), (2, 5000));
        assert!(!cg.oom_killed());
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert!(cg.oom_killed());

        // No hard limit with memory_max = -1.
        let cg = TaskCgroup::create(&mode, "nomad", "a.nolimit", &res(100, 64, -1), None).unwrap();
        let d = &cg.paths["unified"];
        assert_eq!(read(&d.join("memory.max")), "max");
        assert_eq!(read(&d.join("pids.max")), "max");
    }

    #[test]
    fn v2_without_memory_controller_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
        let mode = CgroupMode::V2(root.path().to_path_buf());
        assert!(matches!(
            TaskCgroup::create(&mode, "nomad", "x", &res(100, 64, 0), None),
            Err(CgroupError::NoMemoryController)
        ));
    }

    #[test]
    fn v1_writes_limits_per_controller() {
        let root = tempfile::tempdir().unwrap();
        let mut mounts = BTreeMap::new();
        for c in ["memory", "cpu", "pids"] {
            mounts.insert(c.to_string(), root.path().join(c));
        }
        // cpu and cpuacct co-mounted, as on many hosts.
        mounts.insert("cpuacct".to_string(), root.path().join("cpu"));
        let mode = CgroupMode::V1(mounts);
        let cg = TaskCgroup::create(&mode, "nomad", "a.web", &res(250, 64, 0), None).unwrap();
        let mem = root.path().join("memory/nomad/a.web");
        assert_eq!(
            read(&mem.join("memory.limit_in_bytes")),
            (64u64 << 20).to_string()
        );
        assert!(!mem.join("memory.soft_limit_in_bytes").exists());
        assert_eq!(read(&root.path().join("cpu/nomad/a.web/cpu.shares")), "250");
        assert_eq!(read(&root.path().join("pids/nomad/a.web/pids.max")), "max");
        assert_eq!(
            cg.dirs().len(),
            3,
            "co-mounted controllers share a directory"
        );

        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        )
        .unwrap();
        assert!(!cg.oom_killed());
        fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert!(cg.oom_killed());
        fs::write(
            mem.join("memory.stat"),
            "cache 10\nrss 20\ntotal_cache 11\ntotal_rss 21\nswap 0\n",
        )
        .unwrap();
        let (m, _, _, _) = cg.stats();
        assert_eq!((m.rss, m.cache), (21, 11), "hierarchical totals win");
    }
}
