//! Host fingerprints: CPU, memory, storage, kernel and OS, host name and
//! network address, Nomad's own version. Read from `/proc`, `/sys`,
//! `uname(2)`, `statvfs(3)`, `getifaddrs(3)` and `/etc/os-release`.
//!
//! Attribute names are Nomad's (`cpu.numcores`, `memory.totalbytes`,
//! `unique.storage.bytesfree`, …); drivers add theirs in
//! [`crate::drivers`].

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use nomad_types::node::{
    NodeCpuResources, NodeDiskResources, NodeMemoryResources, NodeNetworkAddress,
    NodeNetworkResource, NodeReservedCpuResources, NodeReservedNetworkResources,
    NodeReservedResources,
};
use nomad_types::{NetworkResource, NodeResources};

use crate::config::ClientConfig;

/// Git revision advertised as `nomad.revision`.
pub const REVISION: &str = "nomad-rs";

/// What the host fingerprints found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostFingerprint {
    /// Node attributes.
    pub attributes: BTreeMap<String, String>,
    /// Node resources.
    pub resources: NodeResources,
    /// Resources reserved for the host.
    pub reserved: NodeReservedResources,
}

/// CPU facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuInfo {
    /// Logical cores.
    pub cores: u32,
    /// MHz of one core.
    pub mhz: f64,
    /// Model name.
    pub model: String,
}

/// Parses `/proc/cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => info.cores += 1,
            "model name" if info.model.is_empty() => info.model = v.to_string(),
            "cpu MHz" if info.mhz == 0.0 => info.mhz = v.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    info
}

/// The host's CPU: cores from `/proc/cpuinfo`, frequency from cpufreq's
/// maximum when present (as Nomad prefers), else `cpu MHz`.
pub fn cpu_info() -> CpuInfo {
    let mut info = fs::read_to_string("/proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default();
    if info.cores == 0 {
        info.cores = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
    }
    if let Ok(khz) = fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") {
        if let Ok(khz) = khz.trim().parse::<f64>() {
            if khz > 0.0 {
                info.mhz = khz / 1000.0;
            }
        }
    }
    if info.mhz <= 0.0 {
        // No frequency anywhere (some VMs): Nomad's fallback is 1000 MHz/core.
        info.mhz = 1000.0;
    }
    info
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Free and total bytes of the file system holding `path`.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let bs = st.f_frsize as u64;
    Some((st.f_bavail as u64 * bs, st.f_blocks as u64 * bs))
}

/// The device mounted at the longest mount point containing `path`
/// (`/proc/self/mounts`), Nomad's `unique.storage.volume`.
pub fn volume_of(path: &Path, mounts: &str) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut it = line.split_whitespace();
        let (Some(dev), Some(mnt)) = (it.next(), it.next()) else {
            continue;
        };
        let mnt = mnt.replace("\\040", " ");
        if path.starts_with(&mnt) && best.as_ref().is_none_or(|(l, _)| mnt.len() >= *l) {
            best = Some((mnt.len(), dev.to_string()));
        }
    }
    best.map(|(_, d)| d)
}

struct Uname {
    sysname: String,
    release: String,
    machine: String,
    nodename: String,
}

fn uname() -> Option<Uname> {
    // SAFETY: uname fills the zeroed struct; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let s = |f: &[libc::c_char]| {
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Some(Uname {
        sysname: s(&u.sysname),
        release: s(&u.release),
        machine: s(&u.machine),
        nodename: s(&u.nodename),
    })
}

/// `ID` and `VERSION_ID` of an os-release file.
pub fn parse_os_release(text: &str) -> (String, String) {
    let mut id = String::new();
    let mut version = String::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "ID" => id = v,
                "VERSION_ID" => version = v,
                _ => {}
            }
        }
    }
    (id, version)
}

/// Go's name for the architecture (`amd64`, `arm64`), as `cpu.arch` says it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// IPv4 addresses by interface name, from `getifaddrs`.
pub fn interface_addrs() -> Vec<(String, Ipv4Addr)> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we walk read-only and free once.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null()
            && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET
        {
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
                .to_string_lossy()
                .into_owned();
            out.push((name, ip));
        }
        cur = ifa.ifa_next;
    }
    unsafe { libc::freeifaddrs(ifap) };
    out
}

/// The interface of the default route (`/proc/net/route`).
pub fn default_route_interface(route_table: &str) -> Option<String> {
    route_table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
    })
}

/// The interface and address the node advertises: the configured
/// interface, else the default route's, else the first non-loopback, else
/// loopback.
pub fn advertise_address(interface: &str) -> (String, Ipv4Addr) {
    let addrs = interface_addrs();
    let wanted = if interface.is_empty() {
        fs::read_to_string("/proc/net/route")
            .ok()
            .and_then(|t| default_route_interface(&t))
    } else {
        Some(interface.to_string())
    };
    if let Some(w) = wanted {
        if let Some((n, ip)) = addrs.iter().find(|(n, _)| *n == w) {
            return (n.clone(), *ip);
        }
    }
    addrs
        .iter()
        .find(|(_, ip)| !ip.is_loopback())
        .or_else(|| addrs.first())
        .cloned()
        .unwrap_or_else(|| ("lo".to_string(), Ipv4Addr::LOCALHOST))
}

/// Runs every host fingerprint.
pub fn fingerprint_host(config: &ClientConfig) -> HostFingerprint {
    let mut attrs = BTreeMap::new();
    let cpu = cpu_info();
    let total_compute = config
        .cpu_total_compute
        .unwrap_or((cpu.mhz * f64::from(cpu.cores)) as i64);
    attrs.insert("cpu.numcores".into(), cpu.cores.to_string());
    attrs.insert("cpu.frequency".into(), format!("{}", cpu.mhz as i64));
    attrs.insert("cpu.totalcompute".into(), total_compute.to_string());
    attrs.insert(
        "cpu.usablecompute".into(),
        (total_compute - config.reserved.cpu).max(0).to_string(),
    );
    if !cpu.model.is_empty() {
        attrs.insert("cpu.modelname".into(), cpu.model.clone());
    }
    attrs.insert("cpu.arch".into(), go_arch().into());

    let mem_bytes = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo_total(&t))
        .unwrap_or(0);
    let memory_mb = config
        .memory_total_mb
        .unwrap_or((mem_bytes / (1024 * 1024)) as i64);
    let total_bytes = if config.memory_total_mb.is_some() {
        (memory_mb as u64) * 1024 * 1024
    } else {
        mem_bytes
    };
    attrs.insert("memory.totalbytes".into(), total_bytes.to_string());

    let alloc_dir = config.alloc_dir();
    let probe = if alloc_dir.exists() {
        alloc_dir.clone()
    } else {
        config.data_dir.clone()
    };
    let (free, total) = disk_space(&probe).unwrap_or((0, 0));
    attrs.insert("unique.storage.bytesfree".into(), free.to_string());
    attrs.insert("unique.storage.bytestotal".into(), total.to_string());
    if let Some(vol) = fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|m| volume_of(&probe, &m))
    {
        attrs.insert("unique.storage.volume".into(), vol);
    }

    if let Some(u) = uname() {
        attrs.insert("kernel.name".into(), u.sysname.to_lowercase());
        attrs.insert("kernel.version".into(), u.release.clone());
        attrs.insert("kernel.arch".into(), u.machine.clone());
        attrs.insert("unique.hostname".into(), u.nodename.clone());
    }
    let (os_name, os_version) = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    if !os_name.is_empty() {
        attrs.insert("os.name".into(), os_name);
        attrs.insert("os.version".into(), os_version);
    }
    attrs.insert("os.signals".into(), SIGNALS.join(","));

    let (iface, ip) = advertise_address(&config.network_interface);
    attrs.insert("unique.network.ip-address".into(), ip.to_string());
    attrs.insert("nomad.version".into(), config.version.clone());
    attrs.insert("nomad.revision".into(), REVISION.into());
    attrs.insert("nomad.service_discovery".into(), "true".into());

    let net = NetworkResource {
        mode: "host".into(),
        device: iface.clone(),
        cidr: format!("{ip}/32"),
        ip: ip.to_string(),
        ..NetworkResource::default()
    };
    let resources = NodeResources {
        cpu: NodeCpuResources {
            cpu_shares: total_compute,
            total_cpu_cores: cpu.cores.min(u32::from(u16::MAX)) as u16,
            reservable_cpu_cores: (0..cpu.cores.min(u32::from(u16::MAX)) as u16).collect(),
        },
        memory: NodeMemoryResources { memory_mb },
        disk: NodeDiskResources {
            disk_mb: (free / (1024 * 1024)) as i64,
        },
        networks: vec![net],
        node_networks: vec![NodeNetworkResource {
            mode: "host".into(),
            device: iface,
            addresses: vec![NodeNetworkAddress {
                family: "ipv4".into(),
                alias: "default".into(),
                address: ip.to_string(),
                ..NodeNetworkAddress::default()
            }],
            ..NodeNetworkResource::default()
        }],
        min_dynamic_port: config.min_dynamic_port,
        max_dynamic_port: config.max_dynamic_port,
        ..NodeResources::default()
    };
    let reserved = NodeReservedResources {
        cpu: NodeReservedCpuResources {
            cpu_shares: config.reserved.cpu,
            reserved_cpu_cores: parse_cpuset(&config.reserved.cores),
        },
        memory: NodeMemoryResources {
            memory_mb: config.reserved.memory_mb,
        },
        disk: NodeDiskResources {
            disk_mb: config.reserved.disk_mb,
        },
        networks: NodeReservedNetworkResources {
            reserved_host_ports: config.reserved.reserved_ports.clone(),
        },
    };
    HostFingerprint {
        attributes: attrs,
        resources,
        reserved,
    }
}

/// Parses a cpuset list (`0-1,3`); bad parts are skipped.
pub fn parse_cpuset(spec: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    out.push(v);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

const SIGNALS: &[&str] = &[
    "SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT",
    "SIGIO", "SIGIOT", "SIGKILL", "SIGPIPE", "SIGPROF", "SIGQUIT", "SIGSEGV", "SIGSTOP", "SIGSYS",
    "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2",
    "SIGWINCH", "SIGXCPU", "SIGXFSZ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let c = parse_cpuinfo(
            "processor\t: 0\nmodel name\t: Xeon\ncpu MHz\t\t: 2400.5\n\nprocessor\t: 1\nmodel name\t: Xeon\ncpu MHz\t\t: 1200\n",
        );
        assert_eq!(c.cores, 2);
        assert_eq!(c.model, "Xeon");
        assert_eq!(c.mhz, 2400.5);
        assert_eq!(
            parse_meminfo_total("MemTotal:       16318480 kB\nMemFree: 1 kB\n"),
            Some(16318480 * 1024)
        );
        let (id, v) = parse_os_release("NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!((id.as_str(), v.as_str()), ("debian", "12"));
        let route =
            "Iface\tDestination\tGateway\nlo\t0000007F\t00000000\neth0\t00000000\t0100A8C0\n";
        assert_eq!(default_route_interface(route).as_deref(), Some("eth0"));
        let mounts = "/dev/sda1 / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n";
        assert_eq!(
            volume_of(Path::new("/tmp/x"), mounts).as_deref(),
            Some("tmpfs")
        );
        assert_eq!(
            volume_of(Path::new("/var"), mounts).as_deref(),
            Some("/dev/sda1")
        );
        assert_eq!(parse_cpuset("0-2, 5,x"), vec![0, 1, 2, 5]);
    }

    #[test]
    fn host_fingerprint_has_nomads_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ClientConfig {
            cpu_total_compute: Some(4000),
            ..ClientConfig::dev(dir.path())
        };
        let fp = fingerprint_host(&cfg);
        for k in [
            "cpu.numcores",
            "cpu.totalcompute",
            "cpu.frequency",
            "memory.totalbytes",
            "unique.storage.bytesfree",
            "kernel.name",
            "kernel.version",
            "kernel.arch",
            "cpu.arch",
            "unique.hostname",
            "unique.network.ip-address",
            "nomad.version",
            "nomad.revision",
        ] {
            assert!(fp.attributes.contains_key(k), "missing {k}");
        }
        assert_eq!(fp.attributes["kernel.name"], "linux");
        assert_eq!(fp.attributes["cpu.totalcompute"], "4000");
        assert_eq!(fp.resources.cpu.cpu_shares, 4000);
        assert_eq!(fp.resources.min_dynamic_port, 20000);
        assert_eq!(fp.resources.max_dynamic_port, 32000);
        assert!(fp.resources.memory.memory_mb > 0);
    }
}
