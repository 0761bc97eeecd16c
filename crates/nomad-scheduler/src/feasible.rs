//! Feasibility: whether a node can run a job's task group at all,
//! regardless of what else runs there.
//!
//! The checks, in Nomad's order, each with the reason it records when it
//! filters a node:
//!
//! | check | level | reason |
//! |---|---|---|
//! | job constraints | job | the constraint, as `LTarget Operand RTarget` |
//! | drivers present, detected and healthy | group | `missing drivers` |
//! | group and task constraints | group | the constraint |
//! | devices present (type, vendor, name, constraints, healthy count) | group | `missing devices` |
//! | network mode and host networks | group | `missing network`, `missing host network "…" for port "…"` |
//! | host volumes (present; writable unless mounted read-only) | group | `missing compatible host volumes` |
//!
//! All but host volumes depend only on what a node's computed class
//! covers, so their outcome is cached per class for the evaluation
//! ([`Eligibility`]); constraints naming unique node data (`unique.*`)
//! "escape" the cache and are evaluated on every node.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::consts::operand;
use nomad_types::resources::Port;
use nomad_types::{Constraint, Job, Node, RequestedDevice, TaskGroup};

use crate::constraint::CompiledConstraint;
use crate::resources::GroupAsk;
use crate::target::Target;
use crate::util::Interner;

/// A constraint ready to evaluate, with its reason label interned.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub compiled: CompiledConstraint,
    pub label: u32,
    pub source: Constraint,
}

impl Checked {
    fn new(c: &Constraint, labels: &mut Interner) -> Checked {
        Checked {
            compiled: CompiledConstraint::new(&c.l_target, &c.operand, &c.r_target),
            label: labels.intern(&c.to_string()),
            source: c.clone(),
        }
    }
}

/// Nomad's test for a target that escapes computed classes (any
/// interpolation of `unique.` data).
fn target_escapes(target: &str) -> bool {
    [
        "${unique.",
        "${node.unique.",
        "${attr.unique.",
        "${meta.unique.",
    ]
    .iter()
    .any(|p| target.starts_with(p))
}

fn constraint_escapes(c: &Constraint) -> bool {
    target_escapes(&c.l_target) || target_escapes(&c.r_target)
}

fn is_distinct(c: &Constraint) -> bool {
    c.operand == operand::DISTINCT_HOSTS || c.operand == operand::DISTINCT_PROPERTY
}

/// Whether a `distinct_hosts` constraint is among `constraints` and on
/// (an empty or unparsable value counts as on).
fn has_distinct_hosts(constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .find(|c| c.operand == operand::DISTINCT_HOSTS)
        .is_some_and(|c| c.r_target.is_empty() || parse_go_bool(&c.r_target).unwrap_or(true))
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A `distinct_property` constraint: at most `allowed` allocations per
/// value of `attribute` (or the error Nomad reports on every node).
#[derive(Clone, Debug)]
pub(crate) struct DistinctProperty {
    pub attribute: String,
    pub allowed: Result<u64, String>,
}

impl DistinctProperty {
    fn of(c: &Constraint) -> DistinctProperty {
        let allowed = if c.r_target.is_empty() {
            Ok(1)
        } else {
            c.r_target.parse::<u64>().map_err(|_| {
                format!(
                    "failed to convert RTarget {:?} to uint64: strconv.ParseUint: parsing {:?}: invalid syntax",
                    c.r_target, c.r_target
                )
            })
        };
        DistinctProperty {
            attribute: c.l_target.clone(),
            allowed,
        }
    }
}

/// An affinity ready to evaluate.
#[derive(Clone, Debug)]
pub(crate) struct AffinitySpec {
    pub compiled: CompiledConstraint,
    pub weight: i8,
}

/// A spread block.
#[derive(Clone, Debug)]
pub(crate) struct SpreadSpec {
    pub attribute: String,
    pub weight: i8,
    pub targets: Vec<(String, u8)>,
}

impl SpreadSpec {
    fn of(s: &nomad_types::Spread) -> SpreadSpec {
        SpreadSpec {
            attribute: s.attribute.clone(),
            weight: s.weight.unwrap_or(nomad_types::DEFAULT_WEIGHT),
            targets: s
                .spread_target
                .iter()
                .map(|t| (t.value.clone(), t.percent))
                .collect(),
        }
    }
}

/// The job-level part of feasibility and ranking, prepared once.
#[derive(Debug)]
pub(crate) struct JobSpec {
    pub job: Arc<Job>,
    pub constraints: Vec<Checked>,
    pub escaped: bool,
    pub distinct_hosts: bool,
    pub distinct_properties: Vec<DistinctProperty>,
    pub priority: i64,
}

impl JobSpec {
    pub(crate) fn new(job: Arc<Job>, labels: &mut Interner) -> JobSpec {
        let constraints = job
            .constraints
            .iter()
            .filter(|c| !is_distinct(c))
            .map(|c| Checked::new(c, labels))
            .collect();
        JobSpec {
            escaped: job.constraints.iter().any(constraint_escapes),
            distinct_hosts: has_distinct_hosts(&job.constraints),
            distinct_properties: job
                .constraints
                .iter()
                .filter(|c| c.operand == operand::DISTINCT_PROPERTY)
                .map(DistinctProperty::of)
                .collect(),
            priority: job.priority(),
            constraints,
            job,
        }
    }
}

/// A static or dynamic port of a group network.
pub(crate) type PortAskList = Vec<Port>;

/// A group's network request.
#[derive(Clone, Debug)]
pub(crate) struct NetworkAsk {
    pub mode: String,
    pub reserved: PortAskList,
    pub dynamic: PortAskList,
    pub resource: nomad_types::NetworkResource,
}

impl NetworkAsk {
    pub(crate) fn has_ports(&self) -> bool {
        !self.reserved.is_empty() || !self.dynamic.is_empty()
    }
}

/// A host volume request.
#[derive(Clone, Debug)]
pub(crate) struct HostVolumeAsk {
    pub source: String,
    pub read_only: bool,
    pub per_alloc: bool,
    pub sticky: bool,
}

/// One requested device with the task it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct DeviceAsk {
    pub task: usize,
    pub request: RequestedDevice,
    pub constraints: Vec<CompiledConstraint>,
}

/// The group-level part of feasibility and ranking, prepared once per
/// evaluation and group.
#[derive(Debug)]
pub(crate) struct GroupSpec {
    pub name: String,
    pub count: i64,
    pub drivers: Vec<String>,
    pub constraints: Vec<Checked>,
    pub escaped: bool,
    pub devices: Vec<DeviceAsk>,
    pub network: Option<NetworkAsk>,
    pub host_volumes: Vec<HostVolumeAsk>,
    pub ask: GroupAsk,
    pub affinities: Vec<AffinitySpec>,
    /// The group's spreads, then the job's (Nomad's property-set order).
    pub spreads: Vec<SpreadSpec>,
    pub distinct_hosts: bool,
    pub distinct_properties: Vec<DistinctProperty>,
}

impl GroupSpec {
    pub(crate) fn new(job: &Job, tg: &TaskGroup, labels: &mut Interner) -> GroupSpec {
        let mut drivers: Vec<String> = Vec::new();
        let mut all_constraints: Vec<&Constraint> = tg.constraints.iter().collect();
        for task in &tg.tasks {
            if !drivers.contains(&task.driver) {
                drivers.push(task.driver.clone());
            }
            all_constraints.extend(task.constraints.iter());
        }
        let escaped = all_constraints.iter().any(|c| constraint_escapes(c));
        let constraints = all_constraints
            .iter()
            .filter(|c| !is_distinct(c))
            .map(|c| Checked::new(c, labels))
            .collect();

        let mut devices = Vec::new();
        for (i, task) in tg.tasks.iter().enumerate() {
            if let Some(r) = &task.resources {
                for d in &r.devices {
                    devices.push(DeviceAsk {
                        task: i,
                        request: d.clone(),
                        constraints: d
                            .constraints
                            .iter()
                            .map(|c| CompiledConstraint::new(&c.l_target, &c.operand, &c.r_target))
                            .collect(),
                    });
                }
            }
        }

        let network = tg.networks.first().map(|n| NetworkAsk {
            mode: if n.mode.is_empty() {
                "host".to_string()
            } else {
                n.mode.clone()
            },
            reserved: n.reserved_ports.clone(),
            dynamic: n.dynamic_ports.clone(),
            resource: n.clone(),
        });

        let host_volumes = tg
            .volumes
            .values()
            .filter(|v| v.volume_type == "host")
            .map(|v| HostVolumeAsk {
                source: v.source.clone(),
                read_only: v.read_only,
                per_alloc: v.per_alloc,
                sticky: v.sticky,
            })
            .collect();

        let mut affinities = Vec::new();
        let task_affinities = tg.tasks.iter().flat_map(|t| t.affinities.iter());
        for a in job
            .affinities
            .iter()
            .chain(tg.affinities.iter())
            .chain(task_affinities)
        {
            affinities.push(AffinitySpec {
                compiled: CompiledConstraint::new(&a.l_target, &a.operand, &a.r_target),
                weight: a.weight.unwrap_or(nomad_types::DEFAULT_WEIGHT),
            });
        }

        let spreads = job
            .spreads
            .iter()
            .chain(tg.spreads.iter())
            .map(SpreadSpec::of)
            .collect();

        GroupSpec {
            name: tg.name().to_string(),
            count: tg.count(),
            drivers,
            constraints,
            escaped,
            devices,
            network,
            host_volumes,
            ask: GroupAsk::of(tg),
            affinities,
            spreads,
            distinct_hosts: has_distinct_hosts(&tg.constraints),
            distinct_properties: tg
                .constraints
                .iter()
                .filter(|c| c.operand == operand::DISTINCT_PROPERTY)
                .map(DistinctProperty::of)
                .collect(),
        }
    }

    pub(crate) fn has_affinities_or_spreads(&self) -> bool {
        !self.affinities.is_empty() || !self.spreads.is_empty()
    }
}

/// Whether the node runs every driver, detected and healthy (or, for old
/// clients without driver info, with a true `driver.<name>` attribute).
pub(crate) fn has_drivers(node: &Node, drivers: &[String]) -> bool {
    drivers.iter().all(|driver| match node.drivers.get(driver) {
        Some(info) => info.detected && info.healthy,
        None => {
            let key = format!("driver.{driver}");
            node.attributes
                .get(&key)
                .and_then(|v| parse_go_bool(v))
                .unwrap_or(false)
        }
    })
}

/// Whether the node has an address on host network `alias`. A node that
/// reports no host networks at all is taken to have its legacy networks
/// under `default`.
pub(crate) fn has_host_network(node: &Node, alias: &str) -> bool {
    let Some(res) = &node.node_resources else {
        return false;
    };
    if res.node_networks.is_empty() {
        return alias == "default" && !res.networks.is_empty();
    }
    res.node_networks
        .iter()
        .any(|n| n.addresses.iter().any(|a| a.alias == alias))
}

/// Nomad's network checker: the node offers the group's network mode, and
/// every port's host network. `Err` carries the filter reason.
pub(crate) fn check_network(node: &Node, ask: &NetworkAsk) -> Result<(), String> {
    if ask.mode == "none" {
        return Ok(());
    }
    let has_mode = node.node_resources.as_ref().is_some_and(|res| {
        res.networks
            .iter()
            .any(|n| mode_or_host(&n.mode) == ask.mode)
            || res
                .node_networks
                .iter()
                .any(|n| mode_or_host(&n.mode) == ask.mode)
    });
    if !has_mode {
        return Err("missing network".to_string());
    }
    for port in ask.dynamic.iter().chain(ask.reserved.iter()) {
        if port.host_network.is_empty() {
            continue;
        }
        let target = Target::parse(&port.host_network);
        let Some(alias) = crate::target::Target::resolve(&target, node) else {
            return Err(format!(
                "invalid host network {:?} template for port {:?}",
                port.host_network, port.label
            ));
        };
        if !has_host_network(node, alias) {
            return Err(format!(
                "missing host network {:?} for port {:?}",
                alias, port.label
            ));
        }
    }
    Ok(())
}

fn mode_or_host(mode: &str) -> &str {
    if mode.is_empty() {
        "host"
    } else {
        mode
    }
}

/// The volume source a request resolves to for an allocation name.
pub(crate) fn volume_source(ask: &HostVolumeAsk, alloc_name: &str) -> String {
    if ask.per_alloc {
        let suffix = alloc_name.rfind('[').map_or("", |at| &alloc_name[at..]);
        format!("{}{}", ask.source, suffix)
    } else {
        ask.source.clone()
    }
}

/// Whether the node has every requested host volume, writable unless the
/// request is read-only. Sticky requests need dynamic host volumes, which
/// this scheduler does not track, so they never fit.
pub(crate) fn has_host_volumes(node: &Node, asks: &[HostVolumeAsk], alloc_name: &str) -> bool {
    asks.iter().all(|ask| {
        let source = volume_source(ask, alloc_name);
        match node.host_volumes.get(&source) {
            None => false,
            Some(cfg) => !ask.sticky && (ask.read_only || !cfg.read_only),
        }
    })
}

/// Per computed class feasibility memo for one evaluation. Groups are
/// identified by their index in the job.
#[derive(Debug, Default)]
pub(crate) struct Eligibility {
    class_names: Interner,
    job: Vec<Status>,
    groups: Vec<Vec<Status>>,
    pub job_escaped: bool,
    pub group_escaped: Vec<bool>,
}

fn set(v: &mut Vec<Status>, class: u32, eligible: bool) {
    let i = class as usize;
    if v.len() <= i {
        v.resize(i + 1, Status::Unknown);
    }
    v[i] = if eligible {
        Status::Eligible
    } else {
        Status::Ineligible
    };
}

/// What is known about a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Status {
    #[default]
    Unknown,
    Eligible,
    Ineligible,
    Escaped,
}

/// The verdicts of an [`Eligibility`] without its class names, set aside
/// while a placement runs against another version of the job.
#[derive(Debug)]
pub(crate) struct SavedVerdicts {
    job: Vec<Status>,
    groups: Vec<Vec<Status>>,
    job_escaped: bool,
    group_escaped: Vec<bool>,
}

impl Eligibility {
    /// Sets the verdicts aside and starts afresh for `job` (class names,
    /// which slots refer to, are kept).
    pub(crate) fn set_aside(&mut self, job: &JobSpec, groups: Vec<bool>) -> SavedVerdicts {
        let saved = SavedVerdicts {
            job: std::mem::take(&mut self.job),
            groups: std::mem::take(&mut self.groups),
            job_escaped: self.job_escaped,
            group_escaped: std::mem::take(&mut self.group_escaped),
        };
        self.set_job(job, groups);
        saved
    }

    /// Puts verdicts set aside back.
    pub(crate) fn restore(&mut self, saved: SavedVerdicts) {
        self.job = saved.job;
        self.groups = saved.groups;
        self.job_escaped = saved.job_escaped;
        self.group_escaped = saved.group_escaped;
    }

    /// Notes which of the job's constraints escape the class cache
    /// (`groups`: per group index, whether its constraints escape).
    pub(crate) fn set_job(&mut self, job: &JobSpec, groups: Vec<bool>) {
        self.job_escaped = job.escaped;
        self.groups = vec![Vec::new(); groups.len()];
        self.group_escaped = groups;
    }

    /// Forgets everything (the system scheduler does this per node).
    pub(crate) fn reset(&mut self) {
        self.job.clear();
        for g in &mut self.groups {
            g.clear();
        }
    }

    pub(crate) fn class_id(&mut self, class: &str) -> u32 {
        self.class_names.intern(class)
    }

    pub(crate) fn job_status(&self, class: u32) -> Status {
        if self.job_escaped {
            return Status::Escaped;
        }
        self.job.get(class as usize).copied().unwrap_or_default()
    }

    pub(crate) fn set_job_status(&mut self, class: u32, eligible: bool) {
        set(&mut self.job, class, eligible);
    }

    pub(crate) fn group_status(&self, group: u32, class: u32) -> Status {
        if self
            .group_escaped
            .get(group as usize)
            .copied()
            .unwrap_or(false)
        {
            return Status::Escaped;
        }
        self.groups
            .get(group as usize)
            .and_then(|v| v.get(class as usize))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn set_group_status(&mut self, group: u32, class: u32, eligible: bool) {
        if let Some(v) = self.groups.get_mut(group as usize) {
            set(v, class, eligible);
        }
    }

    /// Whether any constraint of the job escaped the class cache.
    pub(crate) fn has_escaped(&self) -> bool {
        self.job_escaped || self.group_escaped.iter().any(|e| *e)
    }

    /// Class → eligible, as a blocked evaluation records it: eligible for
    /// some group wins over ineligible for another; the job's own verdict
    /// fills the rest, and an ineligible job verdict always wins.
    pub(crate) fn classes(&self) -> BTreeMap<String, bool> {
        let mut out: BTreeMap<String, bool> = BTreeMap::new();
        for statuses in &self.groups {
            for (i, s) in statuses.iter().enumerate() {
                let name = self.class_names.name(i as u32);
                match s {
                    Status::Eligible => {
                        out.insert(name.to_string(), true);
                    }
                    Status::Ineligible => {
                        out.entry(name.to_string()).or_insert(false);
                    }
                    _ => {}
                }
            }
        }
        for (i, s) in self.job.iter().enumerate() {
            let name = self.class_names.name(i as u32);
            match s {
                Status::Eligible => {
                    out.entry(name.to_string()).or_insert(true);
                }
                Status::Ineligible => {
                    out.insert(name.to_string(), false);
                }
                _ => {}
            }
        }
        out
    }
}
