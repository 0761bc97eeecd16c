//! CIDR functions: `cidrhost`, `cidrnetmask`, `cidrsubnet`, `cidrsubnets`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hcl::Value;

use super::{int_arg, str_arg, FnCtx};

type R = Result<Value, String>;

/// A parsed prefix: the network address as a number, its width in bits
/// (32 or 128) and the prefix length.
struct Prefix {
    addr: u128,
    bits: u32,
    len: u32,
}

fn parse(text: &str) -> Result<Prefix, String> {
    let bad = || format!("invalid CIDR prefix {text:?}");
    let (ip, len) = text.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (addr, bits) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    if len > bits {
        return Err(bad());
    }
    let host_bits = bits - len;
    let mask = if host_bits >= 128 {
        0
    } else {
        !0u128 << host_bits
    };
    let width_mask = if bits == 128 {
        !0u128
    } else {
        (1u128 << bits) - 1
    };
    Ok(Prefix {
        addr: addr & mask & width_mask,
        bits,
        len,
    })
}

fn show(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(u32::try_from(addr).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

fn size(host_bits: u32) -> u128 {
    if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    }
}

pub(super) fn cidrhost(_: &FnCtx, a: Vec<Value>) -> R {
    let p = parse(str_arg(&a, 0))?;
    let n = int_arg(&a, 1, "hostnum")?;
    let count = size(p.bits - p.len);
    let offset = if n < 0 {
        count.checked_sub(u128::from(n.unsigned_abs()))
    } else {
        Some(u128::from(n.unsigned_abs())).filter(|o| *o < count)
    };
    let offset =
        offset.ok_or_else(|| format!("prefix {} has no host number {n}", str_arg(&a, 0)))?;
    Ok(Value::String(show(p.addr + offset, p.bits)))
}

pub(super) fn cidrnetmask(_: &FnCtx, a: Vec<Value>) -> R {
    let p = parse(str_arg(&a, 0))?;
    if p.bits != 32 {
        return Err("only IPv4 prefixes have a netmask".into());
    }
    let mask = if p.len == 0 {
        0
    } else {
        u32::MAX << (32 - p.len)
    };
    Ok(Value::String(Ipv4Addr::from(mask).to_string()))
}

fn subnet(p: &Prefix, newbits: i64, netnum: u128) -> Result<(u128, u32), String> {
    let newbits = u32::try_from(newbits).map_err(|_| "newbits must not be negative".to_string())?;
    let len = p.len + newbits;
    if len > p.bits {
        return Err(format!(
            "adding {newbits} bits to a /{} prefix exceeds {} bits",
            p.len, p.bits
        ));
    }
    if netnum >= size(newbits) {
        return Err(format!(
            "network number {netnum} does not fit in {newbits} bits"
        ));
    }
    Ok((p.addr | (netnum << (p.bits - len)), len))
}

pub(super) fn cidrsubnet(_: &FnCtx, a: Vec<Value>) -> R {
    let p = parse(str_arg(&a, 0))?;
    let netnum = u128::try_from(int_arg(&a, 2, "netnum")?)
        .map_err(|_| "netnum must not be negative".to_string())?;
    let (addr, len) = subnet(&p, int_arg(&a, 1, "newbits")?, netnum)?;
    Ok(Value::String(format!("{}/{len}", show(addr, p.bits))))
}

/// Consecutive subnets of the given sizes, each aligned to its own size.
pub(super) fn cidrsubnets(_: &FnCtx, a: Vec<Value>) -> R {
    let p = parse(str_arg(&a, 0))?;
    let mut next = p.addr;
    let mut out = Vec::new();
    for i in 1..a.len() {
        let newbits = u32::try_from(int_arg(&a, i, "newbits")?)
            .map_err(|_| "newbits must not be negative".to_string())?;
        let len = p.len + newbits;
        if newbits == 0 || len > p.bits {
            return Err(format!("invalid newbits {newbits} for a /{} prefix", p.len));
        }
        let step = size(p.bits - len);
        let aligned = next
            .div_ceil(step)
            .checked_mul(step)
            .ok_or("not enough address space")?;
        let end = aligned
            .checked_add(step)
            .ok_or("not enough address space")?;
        if end - p.addr > size(p.bits - p.len) {
            return Err(format!(
                "not enough address space in {} for all the subnets",
                str_arg(&a, 0)
            ));
        }
        out.push(Value::String(format!("{}/{len}", show(aligned, p.bits))));
        next = end;
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: fn(&FnCtx, Vec<Value>) -> R, args: Vec<Value>) -> String {
        let ctx = FnCtx {
            base_dir: std::path::Path::new("."),
        };
        match f(&ctx, args) {
            Ok(Value::String(s)) => s,
            Ok(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn cidr() {
        assert_eq!(
            call(cidrhost, vec!["10.12.112.0/20".into(), 16.into()]),
            "10.12.112.16"
        );
        assert_eq!(
            call(cidrhost, vec!["10.12.112.0/20".into(), (-1).into()]),
            "10.12.127.255"
        );
        assert_eq!(
            call(cidrhost, vec!["fd00:fd12:3456:7890::/56".into(), 16.into()]),
            "fd00:fd12:3456:7800::10"
        );
        assert!(call(cidrhost, vec!["10.0.0.0/30".into(), 4.into()]).starts_with("ERR"));
        assert_eq!(
            call(cidrnetmask, vec!["172.16.0.0/12".into()]),
            "255.240.0.0"
        );
        assert_eq!(
            call(cidrsubnet, vec!["172.16.0.0/12".into(), 4.into(), 2.into()]),
            "172.18.0.0/16"
        );
        assert_eq!(
            call(cidrsubnet, vec!["10.1.2.0/24".into(), 4.into(), 15.into()]),
            "10.1.2.240/28"
        );
        assert_eq!(
            call(
                cidrsubnets,
                vec!["10.1.0.0/16".into(), 4.into(), 4.into(), 8.into(), 4.into()]
            ),
            "10.1.0.0/20,10.1.16.0/20,10.1.32.0/24,10.1.48.0/20"
        );
        assert!(
            call(cidrsubnet, vec!["10.0.0.0/8".into(), 40.into(), 0.into()]).starts_with("ERR")
        );
    }
}
