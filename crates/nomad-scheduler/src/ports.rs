//! Per-node port bookkeeping: reserved (static) ports, ports used by
//! allocations, and dynamic port selection, with Nomad's rules.
//!
//! A node's configuration ([`NodePortConfig`]: reserved port specs, host
//! network addresses, dynamic range) is built once and shared behind an
//! `Arc`; the per-evaluation view ([`NodePorts`]) adds the ports taken by
//! allocations as a small sorted list, so cloning it per candidate node is
//! one reference-count increment and one short copy.
//!
//! Nomad's rules carried over:
//! * ports are tracked per IP address; the node's global `reserved_ports`
//!   apply to every address, each host network address adds its own;
//! * the dynamic range defaults to 20000–32000 and can be set per node;
//! * a dynamic port is drawn at random from `[min, max)` up to 20 times,
//!   rejecting ports in use on the address, ports the same request reserves
//!   statically on that host network, and ports already offered to the
//!   request; if all 20 draws fail, one port is picked uniformly among every
//!   free port of `[min, max]` (note the inclusive upper bound there), and
//!   only if none is free does the request fail on that address;
//! * a request's static ports must be free unless they ignore collisions;
//!   each port goes to the first address of its host network that can take
//!   it.

use std::sync::Arc;

use thiserror::Error;

use crate::rng::Rng;

/// Lowest dynamic port by default.
pub const DEFAULT_MIN_DYNAMIC_PORT: u32 = 20_000;
/// Highest dynamic port by default.
pub const DEFAULT_MAX_DYNAMIC_PORT: u32 = 32_000;
/// Random draws per dynamic port before the exhaustive fallback.
pub const MAX_RANDOM_PORT_ATTEMPTS: u32 = 20;
/// One past the highest port number.
pub const MAX_VALID_PORT: u32 = 65_536;

const WORDS: usize = (MAX_VALID_PORT / 64) as usize;

/// A malformed port specification (`"22,80,8000-8100"`).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PortSpecError {
    /// An empty item, as in `"80,,443"`.
    #[error("can't specify empty port")]
    Empty,
    /// Not a decimal number.
    #[error("invalid port number {0:?}")]
    NotANumber(String),
    /// Port 0.
    #[error("port must be > 0")]
    Zero,
    /// Above 65536.
    #[error("port must be < {MAX_VALID_PORT} but found {0}")]
    TooLarge(u64),
    /// A range whose end is below its start.
    #[error("invalid range: ending value ({end}) less than starting ({start}) value")]
    ReversedRange {
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
    },
    /// More than 65536 ports in total.
    #[error("maximum of {MAX_VALID_PORT} ports can be reserved")]
    TooMany,
    /// An item with more than one `-`.
    #[error("can only parse single port numbers or port ranges (ex. 80,100-120,150)")]
    BadSyntax,
}

/// Why ports could not be recorded or assigned.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PortError {
    /// A node's reserved port specification is malformed.
    #[error("error parsing reserved_ports{}: {source}", network.as_ref().map(|n| format!(" for network {n:?}")).unwrap_or_default())]
    ReservedSpec {
        /// The host network alias, for a per-address specification.
        network: Option<String>,
        /// What is wrong with it.
        source: PortSpecError,
    },
    /// A port number outside 0..65536.
    #[error("invalid port {0} (out of range)")]
    OutOfRange(i64),
    /// A port already taken on the address.
    #[error("port {port} already in use")]
    InUse {
        /// The port.
        port: u32,
    },
    /// A requested static port is taken on every address of its network.
    #[error("reserved port collision {label}={port}")]
    StaticCollision {
        /// The port's label in the job.
        label: String,
        /// The port.
        port: u32,
    },
    /// The node has no address on the requested host network.
    #[error("no addresses available for {0} network")]
    NoAddresses(String),
    /// No free dynamic port on any address of the host network.
    #[error("dynamic port selection failed")]
    DynamicExhausted,
}

/// Go's `strconv.ParseUint(s, 10, 64)`: digits only, no sign.
fn parse_uint(s: &str) -> Result<u64, PortSpecError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortSpecError::NotANumber(s.to_owned()));
    }
    s.parse::<u64>()
        .map_err(|_| PortSpecError::NotANumber(s.to_owned()))
}

/// Parses a port specification such as `"22,80,8000-8100"` into the list
/// of ports, as Nomad's `ParsePortRanges`: items are trimmed, ranges are
/// inclusive, duplicates are kept, an empty string is an empty list, and
/// port 65536 is (oddly) accepted.
pub fn parse_port_ranges(spec: &str) -> Result<Vec<u32>, PortSpecError> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut ports = Vec::new();
    let mut count: u64 = 0;
    for part in spec.split(',') {
        let part = part.trim();
        let mut bounds = part.split('-');
        let (first, second, extra) = (bounds.next(), bounds.next(), bounds.next());
        match (first, second, extra) {
            (Some(single), None, _) => {
                if single.is_empty() {
                    return Err(PortSpecError::Empty);
                }
                let port = parse_uint(single)?;
                if port == 0 {
                    return Err(PortSpecError::Zero);
                }
                if port > u64::from(MAX_VALID_PORT) {
                    return Err(PortSpecError::TooLarge(port));
                }
                count += 1;
                if count > u64::from(MAX_VALID_PORT) {
                    return Err(PortSpecError::TooMany);
                }
                ports.push(port as u32);
            }
            (Some(start), Some(end), None) => {
                let start = parse_uint(start)?;
                let end = parse_uint(end)?;
                if end < start {
                    return Err(PortSpecError::ReversedRange { start, end });
                }
                if start == 0 {
                    return Err(PortSpecError::Zero);
                }
                if end > u64::from(MAX_VALID_PORT) {
                    return Err(PortSpecError::TooLarge(end));
                }
                // Nomad counts a range as end − start ports here.
                count += end - start;
                if count > u64::from(MAX_VALID_PORT) {
                    return Err(PortSpecError::TooMany);
                }
                ports.extend(start as u32..=end as u32);
            }
            _ => return Err(PortSpecError::BadSyntax),
        }
    }
    Ok(ports)
}

/// One address of a node's host network (`client.host_network`, or the
/// node's default network under the alias `"default"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostAddress<'a> {
    /// Host network name, e.g. `"default"` or `"public"`.
    pub alias: &'a str,
    /// The IP address.
    pub address: &'a str,
    /// Ports reserved on this address only (a port specification).
    pub reserved_ports: &'a str,
}

#[derive(Clone, Debug)]
struct IpEntry {
    ip: Box<str>,
    /// Ports reserved by configuration; `None` when there are none.
    reserved: Option<Box<[u64]>>,
}

#[derive(Clone, Debug)]
struct Network {
    alias: Box<str>,
    /// Indexes into the IP table, in address order.
    ips: Vec<u32>,
}

/// A node's static port configuration, built once per node.
#[derive(Clone, Debug)]
pub struct NodePortConfig {
    min_dynamic: u32,
    max_dynamic: u32,
    ips: Vec<IpEntry>,
    networks: Vec<Network>,
}

impl NodePortConfig {
    /// Builds the configuration from the node's global `reserved_ports`
    /// specification, the IPs of its legacy task networks (which get only
    /// the global reservations), its host network addresses, and its dynamic
    /// port range (`None` or 0 keeps the default bound, as in Nomad).
    pub fn new(
        reserved_ports: &str,
        task_network_ips: &[&str],
        addresses: &[HostAddress<'_>],
        min_dynamic_port: Option<u32>,
        max_dynamic_port: Option<u32>,
    ) -> Result<Self, PortError> {
        let global =
            parse_port_ranges(reserved_ports).map_err(|source| PortError::ReservedSpec {
                network: None,
                source,
            })?;
        let mut config = NodePortConfig {
            min_dynamic: min_dynamic_port
                .filter(|&p| p > 0)
                .unwrap_or(DEFAULT_MIN_DYNAMIC_PORT),
            max_dynamic: max_dynamic_port
                .filter(|&p| p > 0)
                .unwrap_or(DEFAULT_MAX_DYNAMIC_PORT),
            ips: Vec::new(),
            networks: Vec::new(),
        };
        for ip in task_network_ips {
            let idx = config.ip_slot(ip);
            config.reserve(idx, &global);
        }
        for address in addresses {
            let idx = config.ip_slot(address.address);
            match config
                .networks
                .iter_mut()
                .find(|n| &*n.alias == address.alias)
            {
                Some(network) => network.ips.push(idx),
                None => config.networks.push(Network {
                    alias: address.alias.into(),
                    ips: vec![idx],
                }),
            }
            config.reserve(idx, &global);
            let own = parse_port_ranges(address.reserved_ports).map_err(|source| {
                PortError::ReservedSpec {
                    network: Some(address.alias.to_owned()),
                    source,
                }
            })?;
            config.reserve(idx, &own);
        }
        Ok(config)
    }

    fn ip_slot(&mut self, ip: &str) -> u32 {
        if let Some(k) = self.ips.iter().position(|e| &*e.ip == ip) {
            return k as u32;
        }
        self.ips.push(IpEntry {
            ip: ip.into(),
            reserved: None,
        });
        (self.ips.len() - 1) as u32
    }

    fn reserve(&mut self, idx: u32, ports: &[u32]) {
        if ports.is_empty() {
            return;
        }
        let bits = self.ips[idx as usize]
            .reserved
            .get_or_insert_with(|| vec![0u64; WORDS].into_boxed_slice());
        for &port in ports {
            // Port 65536 passes Nomad's parser but has no slot; skip it.
            if port < MAX_VALID_PORT {
                bits[(port / 64) as usize] |= 1u64 << (port % 64);
            }
        }
    }

    /// The lowest dynamic port.
    pub fn min_dynamic_port(&self) -> u32 {
        self.min_dynamic
    }

    /// The highest dynamic port.
    pub fn max_dynamic_port(&self) -> u32 {
        self.max_dynamic
    }
}

/// A port an allocation already holds (from its allocated resources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsedPort<'a> {
    /// The IP the port is bound on.
    pub host_ip: &'a str,
    /// The port number.
    pub value: i64,
    /// Whether the port may be shared (`ignore_collision`).
    pub ignore_collision: bool,
}

/// One port of a group's `network` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRequest<'a> {
    /// The port's label.
    pub label: &'a str,
    /// The static port number (ignored for dynamic ports).
    pub value: i64,
    /// The port inside the task; −1 for a dynamic port means "the same as
    /// the host port".
    pub to: i64,
    /// The host network to bind on (`"default"` normally).
    pub host_network: &'a str,
    /// Whether a static port may collide with another user.
    pub ignore_collision: bool,
}

/// Whether an assigned port came from the static or the dynamic list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// From [`PortAsk::reserved`].
    Static,
    /// From [`PortAsk::dynamic`].
    Dynamic,
}

/// A group's port request.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortAsk<'a> {
    /// Static ports.
    pub reserved: &'a [PortRequest<'a>],
    /// Dynamic ports.
    pub dynamic: &'a [PortRequest<'a>],
}

/// One port of an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignedPort {
    /// Which list of the ask it answers.
    pub kind: PortKind,
    /// Its index in that list.
    pub index: usize,
    /// The host port.
    pub value: u32,
    /// The port inside the task.
    pub to: i64,
    /// The IP, as an index for [`NodePorts::ip`].
    pub ip: u32,
    /// Carried over from the request (always false for dynamic ports).
    pub ignore_collision: bool,
}

/// A node's ports as seen by one evaluation: configuration plus ports in
/// use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NodePorts {
    config: Arc<NodePortConfig>,
    /// (IP index, port), sorted.
    used: Vec<(u32, u16)>,
    /// IPs seen in allocations but not configured on the node.
    extra_ips: Vec<Box<str>>,
}

impl NodePorts {
    /// A view with no ports in use beyond the configured reservations.
    pub fn new(config: Arc<NodePortConfig>) -> Self {
        Self {
            config,
            used: Vec::new(),
            extra_ips: Vec::new(),
        }
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodePortConfig {
        &self.config
    }

    /// The IP behind an index from an [`AssignedPort`].
    pub fn ip(&self, index: u32) -> Option<&str> {
        let k = index as usize;
        let configured = self.config.ips.len();
        if k < configured {
            Some(&self.config.ips[k].ip)
        } else {
            self.extra_ips.get(k - configured).map(|ip| &**ip)
        }
    }

    /// The index of `ip`, if known.
    pub fn ip_index(&self, ip: &str) -> Option<u32> {
        if let Some(k) = self.config.ips.iter().position(|e| &*e.ip == ip) {
            return Some(k as u32);
        }
        self.extra_ips
            .iter()
            .position(|e| &**e == ip)
            .map(|k| (k + self.config.ips.len()) as u32)
    }

    fn ip_index_or_add(&mut self, ip: &str) -> u32 {
        match self.ip_index(ip) {
            Some(k) => k,
            None => {
                self.extra_ips.push(ip.into());
                (self.config.ips.len() + self.extra_ips.len() - 1) as u32
            }
        }
    }

    /// Whether `port` is taken on the IP with index `ip`.
    pub fn is_used(&self, ip: u32, port: u32) -> bool {
        let Ok(port16) = u16::try_from(port) else {
            return false;
        };
        let reserved = self
            .config
            .ips
            .get(ip as usize)
            .and_then(|e| e.reserved.as_deref())
            .is_some_and(|bits| bits[(port / 64) as usize] & (1u64 << (port % 64)) != 0);
        reserved || self.used.binary_search(&(ip, port16)).is_ok()
    }

    /// Marks one port as used, as Nomad's `AddReservedPorts` does for each
    /// port: out of range is an error; a port already used is a collision
    /// unless `ignore_collision`; otherwise it is recorded.
    pub fn add_port(&mut self, port: UsedPort<'_>) -> Result<(), PortError> {
        if port.value < 0 || port.value >= i64::from(MAX_VALID_PORT) {
            return Err(PortError::OutOfRange(port.value));
        }
        let value = port.value as u32;
        let ip = self.ip_index_or_add(port.host_ip);
        if self.is_used(ip, value) {
            if port.ignore_collision {
                return Ok(());
            }
            return Err(PortError::InUse { port: value });
        }
        let key = (ip, value as u16);
        if let Err(at) = self.used.binary_search(&key) {
            self.used.insert(at, key);
        }
        Ok(())
    }

    /// Records an allocation's ports. Like Nomad, an out-of-range port stops
    /// at once, while collisions are reported (the first one) after every
    /// other port has been recorded.
    pub fn add_ports(&mut self, ports: &[UsedPort<'_>]) -> Result<(), PortError> {
        let mut first_collision = None;
        for &port in ports {
            match self.add_port(port) {
                Ok(()) => {}
                Err(e @ PortError::OutOfRange(_)) => return Err(e),
                Err(e) => {
                    first_collision.get_or_insert(e);
                }
            }
        }
        first_collision.map_or(Ok(()), Err)
    }

    /// Records the ports of an offer made by [`NodePorts::assign`].
    pub fn add_offer(&mut self, offer: &[AssignedPort]) -> Result<(), PortError> {
        let mut first_collision = None;
        for port in offer {
            let key = (port.ip, port.value as u16);
            if self.is_used(port.ip, port.value) {
                if !port.ignore_collision {
                    first_collision.get_or_insert(PortError::InUse { port: port.value });
                }
            } else if let Err(at) = self.used.binary_search(&key) {
                self.used.insert(at, key);
            }
        }
        first_collision.map_or(Ok(()), Err)
    }

    fn network(&self, alias: &str) -> &[u32] {
        self.config
            .networks
            .iter()
            .find(|n| &*n.alias == alias)
            .map_or(&[], |n| &n.ips)
    }

    /// Offers ports for a group's `network` block, as Nomad's `AssignPorts`:
    /// static ports first, then dynamic ones, written to `out` (cleared
    /// first). The node's state is not changed; record an accepted offer
    /// with [`NodePorts::add_offer`].
    pub fn assign(
        &self,
        ask: &PortAsk<'_>,
        rng: &mut Rng,
        out: &mut Vec<AssignedPort>,
    ) -> Result<(), PortError> {
        out.clear();
        for (index, request) in ask.reserved.iter().enumerate() {
            let ips = self.network(request.host_network);
            let mut collision = None;
            let mut chosen = None;
            for &ip in ips {
                if request.value < 0 || request.value >= i64::from(MAX_VALID_PORT) {
                    return Err(PortError::OutOfRange(request.value));
                }
                let value = request.value as u32;
                if !request.ignore_collision && self.is_used(ip, value) {
                    collision = Some(PortError::StaticCollision {
                        label: request.label.to_owned(),
                        port: value,
                    });
                    continue;
                }
                chosen = Some(AssignedPort {
                    kind: PortKind::Static,
                    index,
                    value,
                    to: request.to,
                    ip,
                    ignore_collision: request.ignore_collision,
                });
                break;
            }
            match chosen {
                Some(port) => out.push(port),
                None => {
                    return Err(collision.unwrap_or_else(|| {
                        PortError::NoAddresses(request.host_network.to_owned())
                    }))
                }
            }
        }

        for (index, request) in ask.dynamic.iter().enumerate() {
            let ips = self.network(request.host_network);
            let mut chosen = None;
            for &ip in ips {
                let pick = self
                    .random_free_port(ip, request.host_network, ask, out, rng)
                    .or_else(|| self.any_free_port(ip, request.host_network, ask, out, rng));
                if let Some(value) = pick {
                    chosen = Some(AssignedPort {
                        kind: PortKind::Dynamic,
                        index,
                        value,
                        to: if request.to == -1 {
                            i64::from(value)
                        } else {
                            request.to
                        },
                        ip,
                        ignore_collision: false,
                    });
                    break;
                }
            }
            match chosen {
                Some(port) => out.push(port),
                None if ips.is_empty() => {
                    return Err(PortError::NoAddresses(request.host_network.to_owned()))
                }
                None => return Err(PortError::DynamicExhausted),
            }
        }
        Ok(())
    }

    /// Whether a dynamic candidate is acceptable on `ip`.
    fn dynamic_ok(
        &self,
        ip: u32,
        port: u32,
        network: &str,
        ask: &PortAsk<'_>,
        offered: &[AssignedPort],
    ) -> bool {
        port < MAX_VALID_PORT
            && !self.is_used(ip, port)
            && !ask
                .reserved
                .iter()
                .any(|r| r.host_network == network && r.value == i64::from(port))
            && !offered.iter().any(|o| o.value == port)
    }

    /// Up to [`MAX_RANDOM_PORT_ATTEMPTS`] uniform draws from `[min, max)`.
    fn random_free_port(
        &self,
        ip: u32,
        network: &str,
        ask: &PortAsk<'_>,
        offered: &[AssignedPort],
        rng: &mut Rng,
    ) -> Option<u32> {
        let (min, max) = (self.config.min_dynamic, self.config.max_dynamic);
        for _ in 0..MAX_RANDOM_PORT_ATTEMPTS {
            let port = if max > min {
                min + rng.below(u64::from(max - min)) as u32
            } else {
                min
            };
            if self.dynamic_ok(ip, port, network, ask, offered) {
                return Some(port);
            }
        }
        None
    }

    /// A uniformly chosen free port of `[min, max]`, by counting then
    /// selecting (no allocation).
    fn any_free_port(
        &self,
        ip: u32,
        network: &str,
        ask: &PortAsk<'_>,
        offered: &[AssignedPort],
        rng: &mut Rng,
    ) -> Option<u32> {
        let (min, max) = (
            self.config.min_dynamic,
            self.config.max_dynamic.min(MAX_VALID_PORT - 1),
        );
        if min > max {
            return None;
        }
        let free = |p: &u32| self.dynamic_ok(ip, *p, network, ask, offered);
        let count = (min..=max).filter(free).count();
        if count == 0 {
            return None;
        }
        let nth = rng.below_usize(count);
        (min..=max).filter(free).nth(nth)
    }
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
