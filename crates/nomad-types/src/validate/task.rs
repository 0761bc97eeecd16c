//! Validation of tasks, their resources, templates and services.

use std::collections::{BTreeMap, BTreeSet};

use super::rules;
use super::Errors;
use crate::consts::{
    address_mode, getter_mode, job_type, lifecycle_hook, on_update, operand, service_provider,
    template_change_mode,
};
use crate::duration::Nanos;
use crate::group::TaskGroup;
use crate::resources::{Resources, MEMORY_NO_LIMIT, MIN_CPU, MIN_MEMORY_MB};
use crate::services::{Service, ServiceCheck};
use crate::task::{Task, Template};

const MIN_CHECK_INTERVAL: Nanos = Nanos::from_secs(1);
const MIN_CHECK_TIMEOUT: Nanos = Nanos::from_secs(1);

pub(super) fn task(
    p: &str,
    t: &Task,
    g: &TaskGroup,
    kind: &str,
    ports: &BTreeSet<String>,
    e: &mut Errors,
) {
    let name_path = format!("{p}.Name");
    if t.name.is_empty() {
        e.add(&name_path, "missing task name");
    } else if t.name == "alloc" {
        e.add(&name_path, "task cannot be named \"alloc\"");
    } else if t.name.contains(['/', '\\']) {
        e.add(&name_path, "task name cannot include slashes");
    } else if t.name.contains('\0') {
        e.add(&name_path, "task name cannot include null characters");
    }
    if t.driver.is_empty() {
        e.add(format!("{p}.Driver"), "missing driver");
    }
    let kill_timeout = t.kill_timeout.unwrap_or_default();
    if kill_timeout.is_negative() {
        e.add(
            format!("{p}.KillTimeout"),
            format!("kill_timeout must not be negative (got {kill_timeout})"),
        );
    } else if kind == job_type::SERVICE {
        if let Some(progress) = g.update.as_ref().and_then(|u| u.progress_deadline) {
            if progress.0 > 0 && kill_timeout > progress {
                e.add(
                    format!("{p}.KillTimeout"),
                    format!("kill_timeout ({kill_timeout}) is longer than the group's progress_deadline ({progress})"),
                );
            }
        }
    }
    if t.shutdown_delay.is_negative() {
        e.add(
            format!("{p}.ShutdownDelay"),
            "shutdown_delay must not be negative",
        );
    }
    if let Some(r) = &t.resources {
        resources(&format!("{p}.Resources"), r, e);
    }
    if let Some(l) = &t.log_config {
        let files = l.max_files.unwrap_or(0);
        let size = l.max_file_size_mb.unwrap_or(0);
        if files < 1 {
            e.add(
                format!("{p}.LogConfig.MaxFiles"),
                format!("minimum number of files is 1 (got {files})"),
            );
        }
        if size < 1 {
            e.add(
                format!("{p}.LogConfig.MaxFileSizeMB"),
                format!("minimum file size is 1 MB (got {size})"),
            );
        }
        if let Some(disk) = g.ephemeral_disk.as_ref().and_then(|d| d.size_mb) {
            let usage = files.saturating_mul(size);
            if files >= 1 && size >= 1 && disk <= usage {
                e.add(
                    format!("{p}.LogConfig"),
                    format!(
                        "log storage ({usage} MB) must be less than the ephemeral disk ({disk} MB)"
                    ),
                );
            }
        }
    }
    rules::constraints(&format!("{p}.Constraints"), &t.constraints, e);
    for (i, c) in t.constraints.iter().enumerate() {
        if c.operand == operand::DISTINCT_HOSTS || c.operand == operand::DISTINCT_PROPERTY {
            e.add(
                format!("{p}.Constraints[{i}].Operand"),
                format!("operator {:?} is not allowed at task level", c.operand),
            );
        }
    }
    if kind == job_type::SYSTEM && !t.affinities.is_empty() {
        e.add(
            format!("{p}.Affinities"),
            "system jobs may not have an affinity block",
        );
    } else {
        rules::affinities(&format!("{p}.Affinities"), &t.affinities, e);
    }
    let mut known = BTreeSet::new();
    for (i, s) in t.services.iter().enumerate() {
        let sp = format!("{p}.Services[{i}]");
        service(&sp, s, ports, false, e);
        if !known.insert((s.name.clone(), s.port_label.clone())) {
            e.add(
                format!("{sp}.Name"),
                format!("service {:?} is duplicate", s.name),
            );
        }
        if s.connect.is_some() {
            e.add(
                format!("{sp}.Connect"),
                "only group-level services may have a connect block",
            );
        }
    }
    for (i, a) in t.artifacts.iter().enumerate() {
        let ap = format!("{p}.Artifacts[{i}]");
        if a.getter_source.as_deref().unwrap_or("").is_empty() {
            e.add(format!("{ap}.GetterSource"), "source must be specified");
        }
        match a.getter_mode.as_deref().unwrap_or("") {
            "" | getter_mode::ANY | getter_mode::FILE | getter_mode::DIR => {}
            other => e.add(
                format!("{ap}.GetterMode"),
                format!("invalid artifact mode {other:?}: must be any, file or dir"),
            ),
        }
        if escapes_task_dir(a.relative_dest.as_deref().unwrap_or("")) {
            e.add(
                format!("{ap}.RelativeDest"),
                "destination escapes the allocation directory",
            );
        }
    }
    let mut dests: BTreeMap<String, usize> = BTreeMap::new();
    for (i, tmpl) in t.templates.iter().enumerate() {
        let tp = format!("{p}.Templates[{i}]");
        template(&tp, tmpl, e);
        let dest = tmpl.dest_path.clone().unwrap_or_default();
        if let Some(first) = dests.get(&dest) {
            e.add(
                format!("{tp}.DestPath"),
                format!("same destination as Templates[{first}]"),
            );
        } else {
            dests.insert(dest, i);
        }
    }
    let mut actions = BTreeSet::new();
    for (i, a) in t.actions.iter().enumerate() {
        if a.name.is_empty() {
            e.add(format!("{p}.Actions[{i}].Name"), "missing action name");
        } else if !actions.insert(a.name.as_str()) {
            e.add(
                format!("{p}.Actions[{i}].Name"),
                format!("action {:?} defined multiple times", a.name),
            );
        }
        if a.command.is_empty() {
            e.add(
                format!("{p}.Actions[{i}].Command"),
                "missing action command",
            );
        }
    }
    if let Some(d) = &t.dispatch_payload {
        if escapes_task_dir(&format!("local/{}", d.file)) {
            e.add(
                format!("{p}.DispatchPayload.File"),
                "destination escapes the allocation directory",
            );
        }
    }
    if let Some(l) = &t.lifecycle {
        match l.hook.as_str() {
            lifecycle_hook::PRESTART | lifecycle_hook::POSTSTART | lifecycle_hook::POSTSTOP => {}
            "" => e.add(format!("{p}.Lifecycle.Hook"), "no lifecycle hook provided"),
            other => e.add(
                format!("{p}.Lifecycle.Hook"),
                format!("invalid hook {other:?}: must be prestart, poststart or poststop"),
            ),
        }
    }
    for (i, vm) in t.volume_mounts.iter().enumerate() {
        let vp = format!("{p}.VolumeMounts[{i}]");
        let vol = vm.volume.as_deref().unwrap_or("");
        if vol.is_empty() {
            e.add(
                format!("{vp}.Volume"),
                "volume mount must reference a volume",
            );
        } else if !g.volumes.contains_key(vol) {
            e.add(
                format!("{vp}.Volume"),
                format!("references undefined volume {vol:?}"),
            );
        }
        match vm.propagation_mode.as_deref().unwrap_or("") {
            "" | "private" | "host-to-task" | "bidirectional" => {}
            other => e.add(
                format!("{vp}.PropagationMode"),
                format!("invalid propagation mode {other:?}"),
            ),
        }
        match vm.selinux_label.as_deref().unwrap_or("") {
            "" | "z" | "Z" => {}
            other => e.add(
                format!("{vp}.SELinuxLabel"),
                format!("invalid SELinux label {other:?}"),
            ),
        }
    }
    if let Some(csi) = &t.csi_plugin_config {
        if csi.id.is_empty() {
            e.add(
                format!("{p}.CSIPluginConfig.ID"),
                "CSI plugin must have a non-empty ID",
            );
        }
        if !matches!(csi.plugin_type.as_str(), "node" | "controller" | "monolith") {
            e.add(
                format!("{p}.CSIPluginConfig.Type"),
                format!(
                    "plugin type must be node, controller or monolith (got {:?})",
                    csi.plugin_type
                ),
            );
        }
    }
    let mut secrets = BTreeSet::new();
    for (i, s) in t.secrets.iter().enumerate() {
        if !secrets.insert(s.name.as_str()) {
            e.add(
                format!("{p}.Secrets[{i}].Name"),
                format!("duplicate secret {:?}", s.name),
            );
        }
        if s.provider == "vault" && t.vault.is_none() {
            e.add(
                format!("{p}.Secrets[{i}].Provider"),
                format!(
                    "secret {:?} uses provider \"vault\" but the task has no vault block",
                    s.name
                ),
            );
        }
    }
}

/// Relative paths must stay inside the task directory.
fn escapes_task_dir(path: &str) -> bool {
    if path.starts_with('/') {
        return false;
    }
    let mut depth: i64 = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        // One level up from the task directory reaches the shared alloc dir.
        if depth < -1 {
            return true;
        }
    }
    depth < -1
}

fn resources(p: &str, r: &Resources, e: &mut Errors) {
    let cpu = r.cpu.unwrap_or(0);
    let cores = r.cores.unwrap_or(0);
    let memory = r.memory_mb.unwrap_or(0);
    if cores > 0 && cpu > 0 {
        e.add(
            format!("{p}.Cores"),
            "task can only ask for 'cpu' or 'cores', not both",
        );
    }
    if cores < 0 {
        e.add(
            format!("{p}.Cores"),
            format!("cores cannot be negative (got {cores})"),
        );
    }
    if cores == 0 && cpu < MIN_CPU {
        e.add(
            format!("{p}.CPU"),
            format!("minimum CPU value is {MIN_CPU} (got {cpu})"),
        );
    }
    if memory < MIN_MEMORY_MB {
        e.add(
            format!("{p}.MemoryMB"),
            format!("minimum MemoryMB value is {MIN_MEMORY_MB} (got {memory})"),
        );
    }
    if let Some(max) = r.memory_max_mb {
        if max != 0 && max != MEMORY_NO_LIMIT && max < memory {
            e.add(
                format!("{p}.MemoryMaxMB"),
                format!("MemoryMaxMB ({max}) must not be less than MemoryMB ({memory})"),
            );
        }
    }
    if r.disk_mb.unwrap_or(0) > 0 {
        e.add(
            format!("{p}.DiskMB"),
            "tasks cannot ask for disk; use the group's ephemeral_disk",
        );
    }
    if let Some(secrets) = r.secrets_mb {
        if secrets > memory {
            e.add(
                format!("{p}.SecretsMB"),
                format!("SecretsMB ({secrets}) cannot be larger than MemoryMB ({memory})"),
            );
        }
    }
    let mut names = BTreeSet::new();
    for (i, d) in r.devices.iter().enumerate() {
        if d.name.is_empty() {
            e.add(
                format!("{p}.Devices[{i}].Name"),
                "device name must be given",
            );
        }
        names.insert(d.name.as_str());
        rules::constraints(&format!("{p}.Devices[{i}].Constraints"), &d.constraints, e);
        rules::affinities(&format!("{p}.Devices[{i}].Affinities"), &d.affinities, e);
    }
    if let Some(numa) = &r.numa {
        if !matches!(numa.affinity.as_str(), "" | "none" | "prefer" | "require") {
            e.add(
                format!("{p}.NUMA.Affinity"),
                format!("invalid NUMA affinity {:?}", numa.affinity),
            );
        }
        for dev in &numa.devices {
            if !names.contains(dev.as_str()) {
                e.add(
                    format!("{p}.NUMA.Devices"),
                    format!("NUMA device {dev:?} not requested as a task resource"),
                );
            }
        }
    }
}

fn template(p: &str, t: &Template, e: &mut Errors) {
    let source = t.source_path.as_deref().unwrap_or("");
    let data = t.embedded_tmpl.as_deref().unwrap_or("");
    let dest = t.dest_path.as_deref().unwrap_or("");
    if source.is_empty() && data.is_empty() {
        e.add(p, "must specify a source path or an embedded template");
    }
    if dest.is_empty() {
        e.add(format!("{p}.DestPath"), "must specify a destination");
    } else if escapes_task_dir(dest) {
        e.add(
            format!("{p}.DestPath"),
            "destination escapes the allocation directory",
        );
    }
    match t.change_mode.as_deref().unwrap_or("") {
        template_change_mode::NOOP | template_change_mode::RESTART => {}
        template_change_mode::SIGNAL => {
            if t.change_signal.as_deref().unwrap_or("").is_empty() {
                e.add(
                    format!("{p}.ChangeSignal"),
                    "must specify a signal when change_mode is signal",
                );
            }
            if t.envvars.unwrap_or(false) {
                e.add(
                    format!("{p}.ChangeMode"),
                    "cannot use signals with env var templates",
                );
            }
        }
        template_change_mode::SCRIPT => match &t.change_script {
            None => e.add(
                format!("{p}.ChangeScript"),
                "must specify a change script when change_mode is script",
            ),
            Some(cs) if cs.command.as_deref().unwrap_or("").is_empty() => e.add(
                format!("{p}.ChangeScript.Command"),
                "must specify a script path",
            ),
            Some(_) => {}
        },
        other => e.add(
            format!("{p}.ChangeMode"),
            format!("invalid change mode {other:?}: must be restart, signal, noop or script"),
        ),
    }
    if t.splay.is_some_and(Nanos::is_negative) {
        e.add(format!("{p}.Splay"), "splay must not be negative");
    }
    if let Some(perms) = t.perms.as_deref() {
        if !perms.is_empty() && u16::from_str_radix(perms, 8).map_or(true, |v| v > 0o7777) {
            e.add(
                format!("{p}.Perms"),
                format!("failed to parse {perms:?} as octal permissions"),
            );
        }
    }
    if let Some(w) = &t.wait {
        if let (Some(min), Some(max)) = (w.min, w.max) {
            if min > max {
                e.add(
                    format!("{p}.Wait"),
                    format!("wait min ({min}) is greater than max ({max})"),
                );
            }
        }
    }
}

/// Service names: RFC 1123 labels, ignoring `${...}` interpolations.
fn valid_service_name(name: &str) -> bool {
    let mut stripped = String::new();
    let mut rest = name;
    while let Some(start) = rest.find("${") {
        stripped.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                stripped.push_str("ENV-VAR");
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    stripped.push_str(rest);
    let len = stripped.len();
    (1..=63).contains(&len)
        && stripped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !stripped.starts_with('-')
        && !stripped.ends_with('-')
}

pub(super) fn service(
    p: &str,
    s: &Service,
    ports: &BTreeSet<String>,
    group_level: bool,
    e: &mut Errors,
) {
    if !valid_service_name(&s.name) {
        e.add(
            format!("{p}.Name"),
            format!(
                "service name {:?} must be valid per RFC 1123: alphanumerics and dashes, at most 63 characters",
                s.name
            ),
        );
    }
    match s.address_mode.as_str() {
        "" | address_mode::AUTO => {}
        address_mode::HOST
        | address_mode::DRIVER
        | address_mode::ALLOC
        | address_mode::ALLOC_IPV6 => {
            if !s.address.is_empty() {
                e.add(
                    format!("{p}.Address"),
                    "address_mode must be \"auto\" when an address is set",
                );
            }
            if !group_level
                && matches!(
                    s.address_mode.as_str(),
                    address_mode::ALLOC | address_mode::ALLOC_IPV6
                )
            {
                e.add(
                    format!("{p}.AddressMode"),
                    format!(
                        "address_mode {:?} is only allowed for group services",
                        s.address_mode
                    ),
                );
            }
        }
        other => e.add(
            format!("{p}.AddressMode"),
            format!(
                "invalid address_mode {other:?}: must be auto, host, driver, alloc or alloc_ipv6"
            ),
        ),
    }
    if !matches!(
        s.on_update.as_str(),
        "" | on_update::REQUIRE_HEALTHY | on_update::IGNORE_WARNINGS | on_update::IGNORE
    ) {
        e.add(
            format!("{p}.OnUpdate"),
            format!("invalid on_update {:?}", s.on_update),
        );
    }
    let nomad = match s.provider.as_str() {
        service_provider::CONSUL | "" => false,
        service_provider::NOMAD => true,
        other => {
            e.add(
                format!("{p}.Provider"),
                format!("provider must be \"consul\" or \"nomad\" (got {other:?})"),
            );
            false
        }
    };
    if nomad && s.connect.is_some() {
        e.add(
            format!("{p}.Connect"),
            "services with provider nomad cannot have a connect block",
        );
    }
    if !s.port_label.is_empty() && !ports.contains(&s.port_label) {
        let numeric = s.port_label.parse::<u16>().is_ok();
        if !(numeric && (s.address_mode == address_mode::DRIVER || group_level)) {
            e.add(
                format!("{p}.PortLabel"),
                format!(
                    "port label {:?} is not defined by any network",
                    s.port_label
                ),
            );
        }
    }
    let mut names = BTreeSet::new();
    for (i, c) in s.checks.iter().enumerate() {
        let cp = format!("{p}.Checks[{i}]");
        if !names.insert(c.name.as_str()) {
            e.add(
                format!("{cp}.Name"),
                format!("check {:?} is duplicate", c.name),
            );
        }
        check(&cp, c, s, nomad, group_level, e);
    }
}

fn check(p: &str, c: &ServiceCheck, s: &Service, nomad: bool, group_level: bool, e: &mut Errors) {
    let kind = c.check_type.to_lowercase();
    let allowed: &[&str] = if nomad {
        &["http", "tcp"]
    } else {
        &["grpc", "http", "script", "tcp"]
    };
    if !allowed.contains(&kind.as_str()) {
        e.add(
            format!("{p}.Type"),
            format!(
                "invalid check type {kind:?}: must be one of {}",
                allowed.join(", ")
            ),
        );
    }
    if c.requires_port() && c.port_label.is_empty() && s.port_label.is_empty() {
        e.add(
            format!("{p}.PortLabel"),
            "check requires a port but neither the check nor the service has one",
        );
    }
    match kind.as_str() {
        "http" if c.path.is_empty() => e.add(format!("{p}.Path"), "http checks must have a path"),
        "http" if c.path.contains("://") => {
            e.add(format!("{p}.Path"), "http check path must be relative")
        }
        "script" if c.command.is_empty() => {
            e.add(format!("{p}.Command"), "script checks must have a command")
        }
        _ => {}
    }
    if c.interval < MIN_CHECK_INTERVAL {
        e.add(
            format!("{p}.Interval"),
            format!(
                "interval must be at least {MIN_CHECK_INTERVAL} (got {})",
                c.interval
            ),
        );
    }
    if c.timeout < MIN_CHECK_TIMEOUT {
        e.add(
            format!("{p}.Timeout"),
            format!(
                "timeout must be at least {MIN_CHECK_TIMEOUT} (got {})",
                c.timeout
            ),
        );
    }
    if !matches!(
        c.initial_status.as_str(),
        "" | "passing" | "warning" | "critical"
    ) {
        e.add(
            format!("{p}.InitialStatus"),
            format!(
                "invalid initial status {:?}: must be passing, warning, critical or empty",
                c.initial_status
            ),
        );
    }
    match c.address_mode.as_str() {
        "" | address_mode::HOST | address_mode::DRIVER => {}
        address_mode::ALLOC | address_mode::ALLOC_IPV6 if group_level => {}
        address_mode::ALLOC | address_mode::ALLOC_IPV6 => e.add(
            format!("{p}.AddressMode"),
            format!(
                "address_mode {:?} is only allowed for checks of group services",
                c.address_mode
            ),
        ),
        other => e.add(
            format!("{p}.AddressMode"),
            format!("invalid check address_mode {other:?}"),
        ),
    }
    if !matches!(
        c.on_update.as_str(),
        "" | on_update::REQUIRE_HEALTHY | on_update::IGNORE_WARNINGS | on_update::IGNORE
    ) {
        e.add(
            format!("{p}.OnUpdate"),
            format!("invalid on_update {:?}", c.on_update),
        );
    }
    if let Some(cr) = &c.check_restart {
        if c.on_update == on_update::IGNORE {
            e.add(
                format!("{p}.OnUpdate"),
                "on_update \"ignore\" is not compatible with check_restart",
            );
        }
        if cr.limit < 0 {
            e.add(
                format!("{p}.CheckRestart.Limit"),
                "limit must not be negative",
            );
        }
        if cr.grace.is_some_and(Nanos::is_negative) {
            e.add(
                format!("{p}.CheckRestart.Grace"),
                "grace must not be negative",
            );
        }
    }
    if nomad {
        for (cond, field, what) in [
            (c.expose, "Expose", "expose"),
            (
                c.success_before_passing != 0,
                "SuccessBeforePassing",
                "success_before_passing",
            ),
            (
                c.failures_before_critical != 0,
                "FailuresBeforeCritical",
                "failures_before_critical",
            ),
            (
                c.failures_before_warning != 0,
                "FailuresBeforeWarning",
                "failures_before_warning",
            ),
            (
                !c.tls_server_name.is_empty(),
                "TLSServerName",
                "tls_server_name",
            ),
        ] {
            if cond {
                e.add(
                    format!("{p}.{field}"),
                    format!("{what} may only be set for Consul service checks"),
                );
            }
        }
    }
}
