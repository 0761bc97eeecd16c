//! Linux capabilities of exec tasks, computed as Nomad does: the task gets
//! Nomad's default set intersected with the plugin's `allow_caps`, minus its
//! `cap_drop`, plus its `cap_add` (which must be allowed). Everything else
//! is dropped from the task's bounding set, so even a task running as root
//! cannot regain it (no `CAP_SYS_ADMIN`, no `CAP_NET_RAW`…).

use std::collections::BTreeSet;

use nomad_driver::DriverError;

/// Capability names by number (Linux `capability.h`).
const NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Nomad's default capabilities for exec tasks (Docker's defaults without
/// `NET_RAW`); also the default `allow_caps`.
pub const NOMAD_DEFAULTS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn normalize(name: &str) -> String {
    let up = name.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

/// Parses names (`"net_raw"`, `"CAP_NET_RAW"`, `"all"`) into a set.
fn parse(names: &[String]) -> Result<BTreeSet<usize>, DriverError> {
    let mut set = BTreeSet::new();
    for n in names {
        let norm = normalize(n);
        if norm == "ALL" {
            set.extend(0..NAMES.len());
            continue;
        }
        match NAMES.iter().position(|c| *c == norm) {
            Some(i) => {
                set.insert(i);
            }
            None => {
                return Err(DriverError::InvalidConfig(format!(
                    "unknown capability {n:?}"
                )))
            }
        }
    }
    Ok(set)
}

/// The task's capabilities as a bit mask (bit n = capability n).
pub fn task_caps(allow: &[String], add: &[String], drop: &[String]) -> Result<u64, DriverError> {
    let defaults = parse(
        &NOMAD_DEFAULTS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )?;
    let allow = parse(allow)?;
    let add = parse(add)?;
    let drop = parse(drop)?;
    let missing: Vec<&str> = add.difference(&allow).map(|i| NAMES[*i]).collect();
    if !missing.is_empty() {
        return Err(DriverError::InvalidConfig(format!(
            "driver does not allow the following capabilities: {}",
            missing.join(", ")
        )));
    }
    let result: BTreeSet<usize> = defaults
        .intersection(&allow)
        .filter(|c| !drop.contains(c))
        .chain(add.iter())
        .copied()
        .collect();
    Ok(result.iter().fold(0u64, |m, c| m | (1u64 << c)))
}

/// Names of the capabilities in a mask (for logs and errors).
pub fn names(mask: u64) -> Vec<&'static str> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn calculates_like_nomad() {
        let allow = v(NOMAD_DEFAULTS);
        let m = task_caps(&allow, &[], &[]).unwrap();
        assert_eq!(names(m).len(), NOMAD_DEFAULTS.len());
        assert!(!names(m).contains(&"NET_RAW") && !names(m).contains(&"SYS_ADMIN"));

        let m = task_caps(&allow, &[], &v(&["cap_chown", "kill"])).unwrap();
        assert!(!names(m).contains(&"CHOWN") && !names(m).contains(&"KILL"));

        let err = task_caps(&allow, &v(&["net_raw"]), &[]).unwrap_err();
        assert!(err.to_string().contains("NET_RAW"), "{err}");
        let m = task_caps(&v(&["all"]), &v(&["net_raw"]), &v(&["all"])).unwrap();
        assert_eq!(names(m), vec!["NET_RAW"]);
        assert!(task_caps(&allow, &v(&["bogus"]), &[]).is_err());
    }
}
