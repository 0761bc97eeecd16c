//! Task users: name lookup (`/etc/passwd` through libc) and the
//! `denied_host_uids` / `denied_host_gids` ranges of Nomad's plugin configs.

use std::ffi::{CStr, CString};

use crate::error::DriverError;

/// The ids a task process switches to before `execve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    /// User name.
    pub name: String,
    /// Uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary groups (including the primary one).
    pub groups: Vec<u32>,
    /// Home directory.
    pub home: String,
}

/// Looks a user up by name, or by numeric uid (`"65534"`).
pub fn lookup_user(name: &str) -> Result<UserIds, DriverError> {
    let bad = || DriverError::InvalidConfig(format!("failed to identify user {name:?}"));
    let cname = CString::new(name).map_err(|_| bad())?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data; it is only read after getpw*_r filled it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = if let Ok(uid) = name.parse::<u32>() {
        // SAFETY: all pointers are valid for the sizes given.
        unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) }
    } else {
        // SAFETY: as above; cname is NUL-terminated.
        unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        }
    };
    if rc != 0 || result.is_null() {
        return Err(bad());
    }
    // SAFETY: getpw*_r succeeded, so pw_name/pw_dir point into buf.
    let (pw_name, home) = unsafe {
        (
            CStr::from_ptr(pwd.pw_name).to_owned(),
            CStr::from_ptr(pwd.pw_dir).to_string_lossy().into_owned(),
        )
    };
    let groups = group_list(&pw_name, pwd.pw_gid);
    Ok(UserIds {
        name: pw_name.to_string_lossy().into_owned(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        groups,
        home,
    })
}

fn group_list(name: &CStr, gid: u32) -> Vec<u32> {
    let mut n: libc::c_int = 64;
    for _ in 0..4 {
        let mut groups = vec![0 as libc::gid_t; usize::try_from(n).unwrap_or(64)];
        let mut count = n;
        // SAFETY: groups has room for `count` entries.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(usize::try_from(count).unwrap_or(0));
            return groups;
        }
        n = count.max(n * 2);
    }
    vec![gid]
}

/// The uid and gid this process runs as.
pub fn current_ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// True when running as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A set of id ranges such as `"0,10-20"` (Nomad's `denied_host_uids`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdRanges(Vec<(u32, u32)>);

impl IdRanges {
    /// Parses `"0,10-20"`; an empty string is the empty set.
    pub fn parse(spec: &str) -> Result<Self, DriverError> {
        let mut out = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || DriverError::InvalidConfig(format!("invalid id range {part:?}"));
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (
                    a.trim().parse::<u32>().map_err(|_| bad())?,
                    b.trim().parse::<u32>().map_err(|_| bad())?,
                ),
                None => {
                    let v = part.parse::<u32>().map_err(|_| bad())?;
                    (v, v)
                }
            };
            if lo > hi {
                return Err(bad());
            }
            out.push((lo, hi));
        }
        Ok(IdRanges(out))
    }

    /// True when `id` is in one of the ranges.
    pub fn contains(&self, id: u32) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&id))
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_root_by_name_and_id() {
        let root = lookup_user("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(lookup_user("0").unwrap().name, "root");
        assert!(lookup_user("no-such-user-xyz").is_err());
        assert!(lookup_user("bad\0name").is_err());
    }

    #[test]
    fn id_ranges() {
        let r = IdRanges::parse("0, 10-20").unwrap();
        assert!(r.contains(0) && r.contains(15) && !r.contains(21) && !r.contains(5));
        assert!(IdRanges::parse("").unwrap().is_empty());
        assert!(IdRanges::parse("5-1").is_err());
        assert!(IdRanges::parse("x").is_err());
    }
}
