//! Bin packing: whether a feasible node has room for the group now, what it
//! would assign (ports, devices, cores), and the fit score.
//!
//! The order of checks and the exhaustion reasons are Nomad's: existing
//! port collisions (`network: port collision`), port assignment
//! (`network: <error>`), devices (`devices: <error>`), cores (`cores`),
//! then the fit check (`max allocation exceeded`, `cpu`, `memory`,
//! `disk`). With preemption on, a node that does not fit may evict
//! lower-priority allocations ([`crate::preempt`]).

use crate::context::Ctx;
use crate::feasible::NetworkAsk;
use crate::metrics::{ScoreRow, Scorer};
use crate::ports::{PortAsk, PortRequest};
use crate::resources::{alloc_cores, mhz_per_core, usable_cores};
use crate::score::{fit_score, ScoreSheet};
use crate::select::{Candidate, Parts};
use crate::state::State;
use crate::target::Target;

/// A group's port requests with their host networks resolved.
pub(crate) struct PortRequests<'a> {
    pub reserved: Vec<PortRequest<'a>>,
    pub dynamic: Vec<PortRequest<'a>>,
}

/// Builds the requests; `network(i)` names the host network of the i-th
/// port (static ports first).
pub(crate) fn port_requests<'a>(
    net: &'a NetworkAsk,
    network: impl Fn(usize) -> &'a str,
) -> PortRequests<'a> {
    let request = |i: usize, p: &'a nomad_types::resources::Port, ignore: bool| PortRequest {
        label: &p.label,
        value: p.value,
        to: p.to,
        host_network: network(i),
        ignore_collision: ignore && p.ignore_collision,
    };
    let n = net.reserved.len();
    PortRequests {
        reserved: net
            .reserved
            .iter()
            .enumerate()
            .map(|(i, p)| request(i, p, true))
            .collect(),
        dynamic: net
            .dynamic
            .iter()
            .enumerate()
            .map(|(i, p)| request(n + i, p, false))
            .collect(),
    }
}

/// The requests of a group whose host networks are all literal (the
/// common case), prepared once per selection; `None` when some port names
/// its host network through a template.
pub(crate) fn literal_port_requests(net: &NetworkAsk) -> Option<PortRequests<'_>> {
    let ports: Vec<&nomad_types::resources::Port> =
        net.reserved.iter().chain(net.dynamic.iter()).collect();
    if ports.iter().any(|p| p.host_network.starts_with("${")) {
        return None;
    }
    Some(port_requests(net, move |i| {
        match ports.get(i).map_or("", |p| p.host_network.as_str()) {
            "" => "default",
            hn => hn,
        }
    }))
}

impl<S: State + ?Sized> Ctx<'_, S> {
    /// Counts `slot` as exhausted in `reason` (its node class looked up
    /// only now: most candidates fit).
    fn exhaust(&mut self, slot: u32, reason: &str) {
        let nclass = self.node_class_of(slot);
        let id = match self.label_ids.dimension(reason) {
            Some(id) => id,
            None => self.labels.intern(reason),
        };
        self.metrics.exhaust(nclass, id);
    }

    /// Counts `slot` as short of `dim`, noting how much it had `free`.
    fn exhausted(&mut self, slot: u32, dim: &str, free: crate::resources::Res) {
        self.exhaust(slot, dim);
        match dim {
            "cpu" => self.metrics.note_free(0, slot, free.cpu),
            "memory" => self.metrics.note_free(1, slot, free.memory_mb),
            "disk" => self.metrics.note_free(2, slot, free.disk_mb),
            _ => {}
        }
    }

    /// Ranks `slot` for group `g`; false (with the reason counted) when it
    /// has no room.
    pub(crate) fn binpack(
        &mut self,
        p: &Parts<'_>,
        slot: u32,
        evict: bool,
        cand: &mut Candidate,
        row: &mut ScoreRow,
        sheet: &mut ScoreSheet,
    ) -> bool {
        let (g, pre) = (p.group, p.ports.as_ref());
        let (used, count) = self.usage(slot);
        let limits = self.limits(slot);
        let available = limits.capacity.minus(limits.reserved);
        let simple = g.network.as_ref().is_none_or(|n| !n.has_ports())
            && g.devices.is_empty()
            && g.ask.cores == 0;
        if simple && !evict {
            // Nothing but CPU, memory and disk to check: a full node is
            // turned away without being read.
            let short = if limits.max_allocs != 0 && limits.max_allocs < count + 1 {
                Some("max allocation exceeded")
            } else {
                available.first_short(used.plus(g.ask.total))
            };
            if let Some(dim) = short {
                self.exhausted(slot, dim, available.minus(used));
                return false;
            }
        }
        // Only ports with templated host networks, devices and reserved
        // cores read the node here: a plain group does not touch it (the
        // reference count alone is a write to a cold cache line).
        let needs_node = !simple;
        let node = needs_node.then(|| self.table.node(slot).clone());
        let node_ref = || node.as_deref().expect("node read only when needed");

        if let Some(net) = g.network.as_ref().filter(|n| n.has_ports()) {
            if let Err(reason) = self.ports(slot) {
                self.exhaust(slot, &reason);
                return false;
            }
            // Templated host networks resolve per node; literal ones were
            // prepared once for the selection.
            let names: Vec<String>;
            let owned: PortRequests<'_>;
            let requests = match pre {
                Some(r) => r,
                None => {
                    let resolved: Option<Vec<String>> = net
                        .reserved
                        .iter()
                        .chain(net.dynamic.iter())
                        .map(|p| match p.host_network.as_str() {
                            "" => Some("default".to_string()),
                            hn => Target::parse(hn).resolve(node_ref()).map(str::to_string),
                        })
                        .collect();
                    let Some(resolved) = resolved else {
                        return false;
                    };
                    names = resolved;
                    owned = port_requests(net, |i| names.get(i).map_or("", String::as_str));
                    &owned
                }
            };
            let ask = PortAsk {
                reserved: &requests.reserved,
                dynamic: &requests.dynamic,
            };
            let assigned = match &self.slots[slot as usize].ports {
                Some(Ok(ports)) => ports.assign(&ask, &mut self.rng, &mut cand.ports),
                _ => return false,
            };
            if let Err(e) = assigned {
                // Evicting for ports is not supported: the node is full.
                self.exhaust(slot, &format!("network: {e}"));
                return false;
            }
        }

        let mut device_score = None;
        if !g.devices.is_empty() {
            let proposed = self.proposed_allocs(slot);
            let used_ids = crate::devices::used_ids(proposed.iter().map(|(a, _)| &**a));
            match crate::devices::assign(node_ref(), &g.devices, &used_ids, &mut self.cache) {
                Ok((offers, score)) => {
                    cand.devices = offers;
                    device_score = score;
                }
                Err(e) => {
                    self.exhaust(slot, &format!("devices: {e}"));
                    return false;
                }
            }
        }

        if g.ask.cores > 0 {
            let proposed = self.proposed_allocs(slot);
            let mut free = usable_cores(node_ref());
            for (a, _) in &proposed {
                for core in alloc_cores(a) {
                    free.retain(|c| *c != core);
                }
            }
            if free.len() < g.ask.cores as usize {
                self.exhaust(slot, "cores");
                return false;
            }
            let mut next = free.into_iter();
            for (i, t) in g.ask.tasks.iter().enumerate() {
                if t.cores > 0 {
                    cand.cores
                        .push((i, next.by_ref().take(t.cores as usize).collect()));
                }
            }
        }

        let ask = if g.ask.cores > 0 {
            g.ask.total_on(mhz_per_core(node_ref()))
        } else {
            g.ask.total
        };
        let util = used.plus(ask);
        let (capacity, reserved) = (limits.capacity, limits.reserved);
        let short = if limits.max_allocs != 0 && limits.max_allocs < count + 1 {
            Some("max allocation exceeded")
        } else {
            available.first_short(util)
        };
        if let Some(dim) = short {
            let victims = if evict {
                self.preempt_for_group(slot, ask, g)
            } else {
                None
            };
            match victims {
                Some(v) => cand.preempted = v,
                None => {
                    self.exhausted(slot, dim, available.minus(used));
                    return false;
                }
            }
        }

        let score = fit_score(
            self.algorithm,
            capacity.cpu_mem(),
            reserved.cpu_mem(),
            util.cpu_mem(),
        );
        sheet.push(score);
        row.set(Scorer::Binpack, score);
        if let Some(d) = device_score {
            sheet.push(d);
            row.set(Scorer::Devices, d);
        }
        true
    }
}
