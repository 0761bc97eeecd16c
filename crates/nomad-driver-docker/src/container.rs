//! Turning a task into a container: name, command, environment, labels,
//! binds and mounts, published ports, resources and security options.
//!
//! Pure functions of the task, its `config` block and the plugin config,
//! so that they are tested without Docker.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig, Mount, MountBindOptions,
    MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkingConfig, PortBinding, ResourcesUlimits,
};
use nomad_driver::TaskConfig;

use crate::config::DockerConfig;
use crate::task_config::{DockerMount, DockerTaskConfig};

/// Label: allocation id (always set by Nomad).
pub const LABEL_ALLOC_ID: &str = "com.hashicorp.nomad.alloc_id";
/// Label: job id.
pub const LABEL_JOB_ID: &str = "com.hashicorp.nomad.job_id";
/// Label: job name.
pub const LABEL_JOB_NAME: &str = "com.hashicorp.nomad.job_name";
/// Label: task group.
pub const LABEL_TASK_GROUP: &str = "com.hashicorp.nomad.task_group_name";
/// Label: task.
pub const LABEL_TASK_NAME: &str = "com.hashicorp.nomad.task_name";
/// Label: namespace.
pub const LABEL_NAMESPACE: &str = "com.hashicorp.nomad.namespace";

/// Where the shared alloc dir, the task's local and secrets dirs appear.
pub const ALLOC_MOUNT: &str = "/alloc";
/// See [`ALLOC_MOUNT`].
pub const LOCAL_MOUNT: &str = "/local";
/// See [`ALLOC_MOUNT`].
pub const SECRETS_MOUNT: &str = "/secrets";

/// Minimum CPU shares (the kernel's).
const MIN_CPU_SHARES: i64 = 2;
/// Maximum CPU shares on cgroups v1.
const MAX_CPU_SHARES: i64 = 262_144;

/// Docker's port bindings: `"8080/tcp"` → host bindings.
pub type PortBindings = HashMap<String, Option<Vec<PortBinding>>>;

/// What [`build`] produces.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Container name (`<task>-<alloc_id>`, as Nomad names it).
    pub name: String,
    /// The create request.
    pub body: ContainerCreateBody,
}

/// The container name Nomad gives a task.
pub fn container_name(cfg: &TaskConfig) -> String {
    format!("{}-{}", cfg.name.replace('/', "_"), cfg.alloc_id)
}

/// Builds the create request. `image` is the reference (or id) to run;
/// `mhz_per_core` is used for `cpu_hard_limit`.
pub fn build(
    cfg: &TaskConfig,
    tc: &DockerTaskConfig,
    plugin: &DockerConfig,
    image: &str,
    mhz_per_core: f64,
) -> Result<ContainerSpec, String> {
    let mut host = HostConfig {
        binds: Some(binds(cfg, tc, plugin)?),
        ..HostConfig::default()
    };
    resources(&mut host, cfg, tc, plugin, mhz_per_core)?;
    security(&mut host, tc, plugin)?;
    namespaces(&mut host, tc, plugin)?;

    let mut mounts = Vec::new();
    for m in tc.mount.iter().chain(tc.mounts.iter()) {
        mounts.push(mount(cfg, m, plugin)?);
    }
    if !mounts.is_empty() {
        host.mounts = Some(mounts);
    }

    let log_type = if tc.logging.log_type.is_empty() {
        tc.logging.driver.clone()
    } else {
        tc.logging.log_type.clone()
    };
    host.log_config = Some(if log_type.is_empty() && tc.logging.config.is_empty() {
        HostConfigLogConfig {
            typ: Some(plugin.logging.log_type.clone()),
            config: Some(to_hash(&plugin.logging.config)),
        }
    } else {
        HostConfigLogConfig {
            typ: Some(log_type),
            config: Some(to_hash(&tc.logging.config)),
        }
    });

    host.network_mode = Some(if tc.network_mode.is_empty() {
        "default".to_string()
    } else {
        tc.network_mode.clone()
    });
    let mut exposed = Vec::new();
    if !tc.ports.is_empty() && !tc.network_mode.starts_with("container:") {
        let (bindings, ports) = port_bindings(cfg, &tc.ports)?;
        host.port_bindings = Some(bindings);
        exposed = ports;
    }

    let cmd = if !tc.command.is_empty() {
        let mut c = vec![tc.command.clone()];
        c.extend(tc.args.iter().cloned());
        Some(c)
    } else if !tc.args.is_empty() {
        Some(tc.args.clone())
    } else {
        None
    };

    let mut labels: HashMap<String, String> = to_hash(&tc.labels);
    for (k, v) in [
        (LABEL_ALLOC_ID, &cfg.alloc_id),
        (LABEL_JOB_ID, &cfg.job_id),
        (LABEL_JOB_NAME, &cfg.job_name),
        (LABEL_TASK_GROUP, &cfg.task_group),
        (LABEL_TASK_NAME, &cfg.name),
        (LABEL_NAMESPACE, &cfg.namespace),
    ] {
        labels.insert(k.to_string(), v.clone());
    }

    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd,
        entrypoint: tc.entrypoint.clone(),
        env: Some(cfg.env_list()),
        user: non_empty(&cfg.user),
        working_dir: non_empty(&tc.work_dir),
        hostname: non_empty(&tc.hostname),
        tty: Some(tc.tty),
        open_stdin: Some(tc.interactive),
        labels: Some(labels),
        stop_signal: stop_signal(&cfg.kill_signal)?,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: tc.healthchecks.disable.then(|| HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..HealthConfig::default()
        }),
        host_config: Some(host),
        networking_config: networking(tc)?,
        ..ContainerCreateBody::default()
    };
    Ok(ContainerSpec {
        name: container_name(cfg),
        body,
    })
}

/// The container's stop signal: the task's `kill_signal`, by its canonical
/// name, so that a `docker stop` by hand behaves like the client's stop.
fn stop_signal(kill_signal: &str) -> Result<Option<String>, String> {
    if kill_signal.trim().is_empty() {
        return Ok(None);
    }
    let sig = nomad_driver::signal::parse_signal(kill_signal).map_err(|e| e.to_string())?;
    Ok(nomad_driver::signal::signal_name(sig).map(str::to_string))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn to_hash(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Lexically cleans a path (`a/./b/../c` → `a/c`), as Go's `filepath.Clean`.
pub(crate) fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() && !p.is_absolute() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A host path of a bind: absolute as is, relative under the task dir.
fn expand(task_dir: &Path, src: &str) -> PathBuf {
    let p = Path::new(src);
    if p.is_absolute() {
        clean_path(p)
    } else {
        clean_path(&task_dir.join(p))
    }
}

fn escapes(parent: &Path, child: &Path) -> bool {
    !clean_path(child).starts_with(clean_path(parent))
}

/// The alloc, local and secrets dirs, the read-only logs dir, then
/// `volumes`.
fn binds(
    cfg: &TaskConfig,
    tc: &DockerTaskConfig,
    plugin: &DockerConfig,
) -> Result<Vec<String>, String> {
    let d = &cfg.dirs;
    let local_volumes = tc.volume_driver.is_empty();
    if !plugin.volumes.enabled && !local_volumes {
        return Err(format!(
            "volumes are not enabled; cannot use volume driver {:?}",
            tc.volume_driver
        ));
    }
    let mut binds = vec![
        format!("{}:{ALLOC_MOUNT}", d.shared_alloc_dir.display()),
        format!("{}:{LOCAL_MOUNT}", d.local_dir.display()),
        format!("{}:{SECRETS_MOUNT}", d.secrets_dir.display()),
        format!("{}:{ALLOC_MOUNT}/logs:ro", d.log_dir.display()),
    ];
    for spec in &tc.volumes {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
            return Err(format!(
                "invalid docker volume {spec:?}: not <src>:<destination> format"
            ));
        }
        let src = if local_volumes {
            expand(&d.task_dir, parts[0])
        } else {
            clean_path(Path::new(parts[0]))
        };
        if !plugin.volumes.enabled && escapes(&d.alloc_dir, &src) {
            return Err(format!(
                "volumes are not enabled; cannot mount host path: {spec:?}"
            ));
        }
        let mut bind = format!("{}:{}", src.display(), parts[1]);
        if parts.len() > 2 && !parts[2].is_empty() {
            bind.push(':');
            bind.push_str(&parts[2..].join(":"));
        }
        binds.push(bind);
    }
    Ok(binds)
}

fn mount(cfg: &TaskConfig, m: &DockerMount, plugin: &DockerConfig) -> Result<Mount, String> {
    if m.target.is_empty() {
        return Err("mount: target is required".into());
    }
    let mut out = Mount {
        target: Some(m.target.clone()),
        read_only: Some(m.readonly),
        ..Mount::default()
    };
    match m.mount_type.as_str() {
        "bind" => {
            let src = expand(&cfg.dirs.task_dir, &m.source);
            if !plugin.volumes.enabled && escapes(&cfg.dirs.alloc_dir, &src) {
                return Err(format!(
                    "volumes are not enabled; cannot mount host path: {:?}",
                    src.display().to_string()
                ));
            }
            out.typ = Some(MountType::BIND);
            out.source = Some(src.display().to_string());
            let propagation = match m.bind_options.propagation.as_str() {
                "" => None,
                "private" => Some(MountBindOptionsPropagationEnum::PRIVATE),
                "rprivate" => Some(MountBindOptionsPropagationEnum::RPRIVATE),
                "shared" => Some(MountBindOptionsPropagationEnum::SHARED),
                "rshared" => Some(MountBindOptionsPropagationEnum::RSHARED),
                "slave" => Some(MountBindOptionsPropagationEnum::SLAVE),
                "rslave" => Some(MountBindOptionsPropagationEnum::RSLAVE),
                other => return Err(format!("mount: invalid bind propagation {other:?}")),
            };
            out.bind_options = propagation.map(|p| MountBindOptions {
                propagation: Some(p),
                ..MountBindOptions::default()
            });
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(r#"invalid source, must be "" for tmpfs"#.into());
            }
            out.typ = Some(MountType::TMPFS);
            out.tmpfs_options = Some(MountTmpfsOptions {
                size_bytes: (m.tmpfs_options.size > 0).then_some(m.tmpfs_options.size),
                mode: (m.tmpfs_options.mode > 0).then_some(m.tmpfs_options.mode),
                ..MountTmpfsOptions::default()
            });
        }
        "volume" | "" => {
            if !plugin.volumes.enabled {
                return Err(format!(
                    "volumes are not enabled; cannot mount volume: {:?}",
                    m.source
                ));
            }
            let vo = &m.volume_options;
            out.typ = Some(MountType::VOLUME);
            out.source = non_empty(&m.source);
            out.volume_options = Some(MountVolumeOptions {
                no_copy: Some(vo.no_copy),
                labels: Some(to_hash(&vo.labels)),
                driver_config: (!vo.driver_config.name.is_empty()).then(|| {
                    MountVolumeOptionsDriverConfig {
                        name: Some(vo.driver_config.name.clone()),
                        options: Some(to_hash(&vo.driver_config.options)),
                    }
                }),
                ..MountVolumeOptions::default()
            });
        }
        other => {
            return Err(format!(
                r#"invalid mount type, must be "bind", "volume", "tmpfs": {other:?}"#
            ))
        }
    }
    Ok(out)
}

/// Port bindings for the labels in `ports`, from the allocated ports:
/// `to` inside the container (the host port when 0), on the host IP and
/// port, for tcp and udp (as Nomad does). Returns the bindings and the
/// exposed ports.
pub(crate) fn port_bindings(
    cfg: &TaskConfig,
    labels: &[String],
) -> Result<(PortBindings, Vec<String>), String> {
    let mut bindings = PortBindings::new();
    let mut exposed = Vec::new();
    for label in labels {
        let Some(p) = cfg.resources.ports.iter().find(|p| &p.label == label) else {
            return Err(format!("Port {label:?} not found, check network block"));
        };
        let to = if p.to == 0 { p.value } else { p.to };
        if !(1..=65535).contains(&to) || !(1..=65535).contains(&p.value) {
            return Err(format!(
                "port {label:?}: invalid mapping {} -> {to}",
                p.value
            ));
        }
        for proto in ["tcp", "udp"] {
            let key = format!("{to}/{proto}");
            let binding = PortBinding {
                host_ip: non_empty(&p.host_ip),
                host_port: Some(p.value.to_string()),
            };
            let entry = bindings.entry(key.clone()).or_insert_with(|| {
                exposed.push(key.clone());
                Some(Vec::new())
            });
            if let Some(v) = entry {
                v.push(binding);
            }
        }
    }
    Ok((bindings, exposed))
}

/// (hard limit, reservation) in bytes as Nomad computes them with
/// `memory_hard_limit` and `memory_max`: `(0, _)` means no hard limit.
pub(crate) fn memory_limits(cfg: &TaskConfig, tc: &DockerTaskConfig) -> (i64, i64) {
    let mb = |v: i64| v.saturating_mul(1024 * 1024);
    let r = &cfg.resources;
    if r.memory_max_mb == nomad_types::resources::MEMORY_NO_LIMIT {
        return (0, mb(r.memory_mb));
    }
    let high = tc.memory_hard_limit.max(r.memory_max_mb);
    if high <= 0 {
        (mb(r.memory_mb), 0)
    } else {
        (mb(high), mb(r.memory_mb))
    }
}

fn cgroups_v1() -> bool {
    !Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn resources(
    host: &mut HostConfig,
    cfg: &TaskConfig,
    tc: &DockerTaskConfig,
    plugin: &DockerConfig,
    mhz_per_core: f64,
) -> Result<(), String> {
    let (memory, reservation) = memory_limits(cfg, tc);
    if memory > 0 && reservation > memory {
        return Err(format!(
            "task memory requirements exceed driver hard limit of {} MB",
            tc.memory_hard_limit
        ));
    }
    if memory > 0 {
        host.memory = Some(memory);
        // No swap: the limit is the limit.
        host.memory_swap = Some(memory);
    }
    if reservation > 0 {
        host.memory_reservation = Some(reservation);
    }
    if cgroups_v1() {
        host.memory_swappiness = Some(0);
    }
    host.cpu_shares = Some(cfg.resources.cpu_mhz.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES));
    if !cfg.resources.cpuset_cpus.is_empty() {
        host.cpuset_cpus = Some(cfg.resources.cpuset_cpus.clone());
    }
    if tc.cpu_hard_limit {
        let period = if tc.cpu_cfs_period == 0 {
            100_000
        } else {
            tc.cpu_cfs_period
        };
        let cores = if mhz_per_core > 0.0 {
            cfg.resources.cpu_mhz as f64 / mhz_per_core
        } else {
            1.0
        };
        host.cpu_period = Some(period);
        host.cpu_quota = Some(((cores * period as f64) as i64).max(1000));
    }
    let mut pids = -1;
    if plugin.pids_limit > 0 {
        pids = plugin.pids_limit;
    }
    if tc.pids_limit > 0 {
        if plugin.pids_limit > 0 && tc.pids_limit > plugin.pids_limit {
            return Err(format!(
                "pids_limit cannot be greater than nomad plugin config pids_limit: {}",
                plugin.pids_limit
            ));
        }
        pids = tc.pids_limit;
    }
    if pids > 0 {
        host.pids_limit = Some(pids);
    }
    if tc.shm_size > 0 {
        host.shm_size = Some(tc.shm_size);
    }
    if tc.oom_score_adj != 0 {
        host.oom_score_adj = Some(tc.oom_score_adj);
    }
    let mut ulimits = Vec::new();
    for (name, value) in &tc.ulimit {
        let mut it = value.splitn(2, ':');
        let parse = |s: Option<&str>| -> Result<Option<i64>, String> {
            match s {
                None => Ok(None),
                Some(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("failed to parse ulimit {name:?}: {value:?}")),
            }
        };
        let soft = parse(it.next())?;
        let hard = parse(it.next())?.or(soft);
        ulimits.push(ResourcesUlimits {
            name: Some(name.clone()),
            soft,
            hard,
        });
    }
    if !ulimits.is_empty() {
        host.ulimits = Some(ulimits);
    }
    Ok(())
}

fn normalize_cap(c: &str) -> String {
    let c = c.trim().to_ascii_lowercase();
    c.strip_prefix("cap_").map(str::to_string).unwrap_or(c)
}

fn security(
    host: &mut HostConfig,
    tc: &DockerTaskConfig,
    plugin: &DockerConfig,
) -> Result<(), String> {
    if tc.privileged && !plugin.allow_privileged {
        return Err("Docker privileged mode is disabled on this Nomad agent".into());
    }
    host.privileged = Some(tc.privileged);
    let allowed: Vec<String> = plugin.allow_caps.iter().map(|c| normalize_cap(c)).collect();
    if !allowed.iter().any(|c| c == "all") {
        let denied: Vec<String> = tc
            .cap_add
            .iter()
            .map(|c| normalize_cap(c))
            .filter(|c| c != "all" && !allowed.contains(c))
            .collect();
        if !denied.is_empty() || tc.cap_add.iter().any(|c| normalize_cap(c) == "all") {
            return Err(format!(
                "Docker driver doesn't have the following caps allowlisted on this Nomad agent: {:?}",
                if denied.is_empty() {
                    vec!["all".to_string()]
                } else {
                    denied
                }
            ));
        }
    }
    if !tc.cap_add.is_empty() {
        host.cap_add = Some(tc.cap_add.clone());
    }
    if !tc.cap_drop.is_empty() {
        host.cap_drop = Some(tc.cap_drop.clone());
    }
    if !tc.runtime.is_empty() && !plugin.allow_runtimes.contains(&tc.runtime) {
        return Err(format!("requested runtime {:?} is not allowed", tc.runtime));
    }
    host.runtime = non_empty(&tc.runtime);
    if !tc.security_opt.is_empty() {
        host.security_opt = Some(tc.security_opt.clone());
    }
    host.readonly_rootfs = Some(tc.readonly_rootfs);
    if tc.init {
        host.init = Some(true);
    }
    let mut devices = Vec::new();
    for d in &tc.devices {
        if d.host_path.is_empty() {
            return Err("host path must be set in configuration for devices".into());
        }
        let perms = if d.cgroup_permissions.is_empty() {
            "rwm".to_string()
        } else {
            d.cgroup_permissions.clone()
        };
        if perms.is_empty() || !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(format!("invalid cgroup permission string: {perms:?}"));
        }
        devices.push(DeviceMapping {
            path_on_host: Some(d.host_path.clone()),
            path_in_container: Some(if d.container_path.is_empty() {
                d.host_path.clone()
            } else {
                d.container_path.clone()
            }),
            cgroup_permissions: Some(perms),
        });
    }
    if !devices.is_empty() {
        host.devices = Some(devices);
    }
    if !tc.storage_opt.is_empty() {
        host.storage_opt = Some(to_hash(&tc.storage_opt));
    }
    if !tc.sysctl.is_empty() {
        host.sysctls = Some(to_hash(&tc.sysctl));
    }
    host.volume_driver = non_empty(&tc.volume_driver);
    Ok(())
}

fn check_mode(allowed: &[String], field: &str, mode: &str) -> Result<(), String> {
    let m = if mode.is_empty() { "private" } else { mode };
    if allowed.is_empty() || allowed.iter().any(|a| a == m) {
        Ok(())
    } else {
        Err(format!(
            "{field} {m:?} is not allowed by the plugin's allowed_modes ({allowed:?})"
        ))
    }
}

fn namespaces(
    host: &mut HostConfig,
    tc: &DockerTaskConfig,
    plugin: &DockerConfig,
) -> Result<(), String> {
    let a = &plugin.allowed_modes;
    check_mode(&a.ipc, "ipc_mode", &tc.ipc_mode)?;
    check_mode(&a.pid, "pid_mode", &tc.pid_mode)?;
    check_mode(&a.uts, "uts_mode", &tc.uts_mode)?;
    check_mode(&a.userns, "userns_mode", &tc.userns_mode)?;
    host.ipc_mode = non_empty(&tc.ipc_mode);
    host.pid_mode = non_empty(&tc.pid_mode);
    host.uts_mode = non_empty(&tc.uts_mode);
    host.userns_mode = non_empty(&tc.userns_mode);
    host.cgroupns_mode = match tc.cgroupns.as_str() {
        "" => None,
        "host" => Some(HostConfigCgroupnsModeEnum::HOST),
        "private" => Some(HostConfigCgroupnsModeEnum::PRIVATE),
        other => return Err(format!("invalid cgroupns mode {other:?}")),
    };
    if !tc.dns_servers.is_empty() {
        host.dns = Some(tc.dns_servers.clone());
    }
    if !tc.dns_search_domains.is_empty() {
        host.dns_search = Some(tc.dns_search_domains.clone());
    }
    if !tc.dns_options.is_empty() {
        host.dns_options = Some(tc.dns_options.clone());
    }
    if !tc.extra_hosts.is_empty() {
        host.extra_hosts = Some(tc.extra_hosts.clone());
    }
    if !tc.group_add.is_empty() {
        host.group_add = Some(tc.group_add.clone());
    }
    Ok(())
}

fn networking(tc: &DockerTaskConfig) -> Result<Option<NetworkingConfig>, String> {
    if tc.network_aliases.is_empty()
        && tc.ipv4_address.is_empty()
        && tc.ipv6_address.is_empty()
        && tc.mac_address.is_empty()
    {
        return Ok(None);
    }
    for (field, addr) in [
        ("ipv4_address", &tc.ipv4_address),
        ("ipv6_address", &tc.ipv6_address),
    ] {
        if !addr.is_empty() && addr.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("failed to parse {field} {addr:?}"));
        }
    }
    let network = if tc.network_mode.is_empty() {
        "default".to_string()
    } else {
        tc.network_mode.clone()
    };
    let ipam =
        (!tc.ipv4_address.is_empty() || !tc.ipv6_address.is_empty()).then(|| EndpointIpamConfig {
            ipv4_address: non_empty(&tc.ipv4_address),
            ipv6_address: non_empty(&tc.ipv6_address),
            ..EndpointIpamConfig::default()
        });
    let settings = EndpointSettings {
        aliases: (!tc.network_aliases.is_empty()).then(|| tc.network_aliases.clone()),
        ipam_config: ipam,
        mac_address: non_empty(&tc.mac_address),
        ..EndpointSettings::default()
    };
    Ok(Some(NetworkingConfig {
        endpoints_config: Some([(network, settings)].into_iter().collect()),
    }))
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
