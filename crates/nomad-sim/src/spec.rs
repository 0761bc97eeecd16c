//! What to simulate: groups of identical nodes and job templates, built in
//! Rust ([`NodeGroup`], [`JobTemplate`], [`ClusterSpec`]) or read from the
//! small text format of [`crate::parse`].

use std::collections::BTreeMap;

use nomad_scheduler::rng::Rng;
use nomad_scheduler::testing;
use nomad_types::group::EphemeralDisk;
use nomad_types::resources::Port;
use nomad_types::{
    Affinity, Constraint, DriverInfo, Job, NetworkResource, Node, SchedulerConfiguration, Spread,
};

use crate::error::SimError;
use crate::store::ClientAck;
use crate::util::{mix, uuid};

/// A group of identical client nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeGroup {
    /// Group name; nodes are named `<name>-<index>`.
    pub name: String,
    /// How many nodes.
    pub count: usize,
    /// Datacenter.
    pub datacenter: String,
    /// `node_class`.
    pub node_class: String,
    /// Node pool.
    pub node_pool: String,
    /// CPU, MHz.
    pub cpu_mhz: i64,
    /// CPU cores.
    pub cores: u16,
    /// Memory, MB.
    pub memory_mb: i64,
    /// Disk, MB.
    pub disk_mb: i64,
    /// What each node keeps for itself: CPU MHz, memory MB, disk MB.
    pub reserved: (i64, i64, i64),
    /// Attributes; a key with several values hands them out in turn
    /// (node 0 gets the first, node 1 the second, …).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Node metadata, handed out like attributes.
    pub meta: BTreeMap<String, Vec<String>>,
    /// Healthy task drivers.
    pub drivers: Vec<String>,
    /// `node_max_allocs` (0: no limit).
    pub max_allocs: i64,
}

impl NodeGroup {
    /// `count` nodes of 4,000 MHz (4 cores), 8,192 MB and 100 GiB of disk in
    /// `dc1` and the `default` pool, with `exec` and `docker` drivers.
    pub fn new(name: impl Into<String>, count: usize) -> Self {
        NodeGroup {
            name: name.into(),
            count,
            datacenter: "dc1".to_string(),
            node_class: String::new(),
            node_pool: "default".to_string(),
            cpu_mhz: 4000,
            cores: 4,
            memory_mb: 8192,
            disk_mb: 100 * 1024,
            reserved: (0, 0, 0),
            attributes: BTreeMap::new(),
            meta: BTreeMap::new(),
            drivers: vec!["exec".to_string(), "docker".to_string()],
            max_allocs: 0,
        }
    }

    /// Sets the datacenter.
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = dc.into();
        self
    }

    /// Sets the node class.
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.node_class = class.into();
        self
    }

    /// Sets the node pool.
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.node_pool = pool.into();
        self
    }

    /// Sets CPU (MHz) and cores.
    pub fn cpu(mut self, mhz: i64, cores: u16) -> Self {
        self.cpu_mhz = mhz;
        self.cores = cores;
        self
    }

    /// Sets memory (MB).
    pub fn memory(mut self, mb: i64) -> Self {
        self.memory_mb = mb;
        self
    }

    /// Sets disk (MB).
    pub fn disk(mut self, mb: i64) -> Self {
        self.disk_mb = mb;
        self
    }

    /// Adds an attribute; several values are handed out in turn.
    pub fn attr<I, V>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.attributes
            .insert(key.into(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Adds node metadata; several values are handed out in turn.
    pub fn meta<I, V>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.meta
            .insert(key.into(), values.into_iter().map(Into::into).collect());
        self
    }

    /// The group's nodes. IDs are UUID-shaped, derived from `seed`, the
    /// group name and the index, so the same spec gives the same cluster.
    pub fn build(&self, seed: u64) -> Vec<Node> {
        let base = seed ^ crate::util::hash_str(&self.name);
        let width = self.count.saturating_sub(1).to_string().len().max(3);
        (0..self.count)
            .map(|i| {
                let id = uuid(&mut Rng::new(mix(base ^ mix(i as u64 + 1))));
                let mut n = testing::node(&id);
                n.name = format!("{}-{i:0width$}", self.name);
                n.datacenter = self.datacenter.clone();
                n.node_class = self.node_class.clone();
                n.node_pool = self.node_pool.clone();
                n.node_max_allocs = self.max_allocs;
                if let Some(r) = n.node_resources.as_mut() {
                    r.cpu.cpu_shares = self.cpu_mhz;
                    r.cpu.total_cpu_cores = self.cores;
                    r.memory.memory_mb = self.memory_mb;
                    r.disk.disk_mb = self.disk_mb;
                }
                let (cpu, mem, disk) = self.reserved;
                if cpu != 0 || mem != 0 || disk != 0 {
                    let mut res = nomad_types::node::NodeReservedResources::default();
                    res.cpu.cpu_shares = cpu;
                    res.memory.memory_mb = mem;
                    res.disk.disk_mb = disk;
                    n.reserved_resources = Some(res);
                }
                n.attributes
                    .insert("unique.hostname".into(), n.name.clone());
                for (k, values) in &self.attributes {
                    if let Some(v) = pick(values, i) {
                        n.attributes.insert(k.clone(), v.to_string());
                    }
                }
                for (k, values) in &self.meta {
                    if let Some(v) = pick(values, i) {
                        n.meta.insert(k.clone(), v.to_string());
                    }
                }
                n.drivers.clear();
                for d in &self.drivers {
                    n.drivers.insert(
                        d.clone(),
                        DriverInfo {
                            detected: true,
                            healthy: true,
                            ..DriverInfo::default()
                        },
                    );
                    n.attributes.insert(format!("driver.{d}"), "1".to_string());
                }
                n
            })
            .collect()
    }
}

fn pick(values: &[String], i: usize) -> Option<&str> {
    if values.is_empty() {
        None
    } else {
        Some(values[i % values.len()].as_str())
    }
}

/// A job (or `copies` identical jobs) with one task group of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct JobTemplate {
    /// Job ID; with several copies, the IDs are `<name>-0000`, `<name>-0001`, ….
    pub name: String,
    /// `service`, `batch`, `system` or `sysbatch`.
    pub job_type: String,
    /// How many such jobs.
    pub copies: usize,
    /// The group's count (ignored by system jobs).
    pub count: i64,
    /// The group's name.
    pub group: String,
    /// The task's driver.
    pub driver: String,
    /// Datacenters (globs allowed).
    pub datacenters: Vec<String>,
    /// Node pool.
    pub node_pool: Option<String>,
    /// Priority (default 50).
    pub priority: Option<i64>,
    /// CPU, MHz.
    pub cpu_mhz: i64,
    /// Memory, MB.
    pub memory_mb: i64,
    /// Ephemeral disk, MB (`None`: Nomad's default of 300).
    pub disk_mb: Option<i64>,
    /// Dynamic ports, by label.
    pub ports: Vec<String>,
    /// Job-level constraints.
    pub constraints: Vec<Constraint>,
    /// Job-level affinities.
    pub affinities: Vec<Affinity>,
    /// Job-level spreads.
    pub spreads: Vec<Spread>,
    /// Commit all placements or none.
    pub all_at_once: bool,
}

impl JobTemplate {
    /// One service job with a group `web` of `count`, one `exec` task of
    /// 500 MHz and 256 MB, in `dc1`.
    pub fn new(name: impl Into<String>, count: i64) -> Self {
        JobTemplate {
            name: name.into(),
            job_type: "service".to_string(),
            copies: 1,
            count,
            group: "web".to_string(),
            driver: "exec".to_string(),
            datacenters: vec!["dc1".to_string()],
            node_pool: None,
            priority: None,
            cpu_mhz: 500,
            memory_mb: 256,
            disk_mb: None,
            ports: Vec::new(),
            constraints: Vec::new(),
            affinities: Vec::new(),
            spreads: Vec::new(),
            all_at_once: false,
        }
    }

    /// Sets the job type.
    pub fn job_type(mut self, t: impl Into<String>) -> Self {
        self.job_type = t.into();
        self
    }

    /// Sets how many such jobs to register.
    pub fn copies(mut self, n: usize) -> Self {
        self.copies = n;
        self
    }

    /// Sets the datacenters.
    pub fn datacenters<I: IntoIterator<Item = S>, S: Into<String>>(mut self, dcs: I) -> Self {
        self.datacenters = dcs.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the task's CPU (MHz) and memory (MB).
    pub fn resources(mut self, cpu_mhz: i64, memory_mb: i64) -> Self {
        self.cpu_mhz = cpu_mhz;
        self.memory_mb = memory_mb;
        self
    }

    /// Adds a constraint (`operator` is Nomad's: `=`, `regexp`, `distinct_hosts`, …).
    pub fn constraint(mut self, l: &str, operator: &str, r: &str) -> Self {
        self.constraints.push(Constraint::new(l, operator, r));
        self
    }

    /// Adds a spread over `attribute`.
    pub fn spread(mut self, attribute: &str, weight: i8) -> Self {
        self.spreads.push(Spread {
            attribute: attribute.to_string(),
            weight: Some(weight),
            spread_target: Vec::new(),
        });
        self
    }

    /// The job IDs this template registers.
    pub fn ids(&self) -> Vec<String> {
        if self.copies == 1 {
            return vec![self.name.clone()];
        }
        let width = self.copies.saturating_sub(1).to_string().len().max(4);
        (0..self.copies)
            .map(|i| format!("{}-{i:0width$}", self.name))
            .collect()
    }

    /// The jobs, canonicalized and validated.
    pub fn build(&self) -> Result<Vec<Job>, SimError> {
        self.ids()
            .into_iter()
            .map(|id| self.build_one(&id))
            .collect()
    }

    fn build_one(&self, id: &str) -> Result<Job, SimError> {
        let mut job = testing::job(id, &self.job_type, self.count);
        job.canonicalize();
        job.datacenters = self.datacenters.clone();
        job.node_pool = self.node_pool.clone();
        if let Some(p) = self.priority {
            job.priority = Some(p);
        }
        job.all_at_once = Some(self.all_at_once);
        job.constraints = self.constraints.clone();
        job.affinities = self.affinities.clone();
        job.spreads = self.spreads.clone();
        if let Some(tg) = job.task_groups.first_mut() {
            tg.name = Some(self.group.clone());
            if let Some(size) = self.disk_mb {
                tg.ephemeral_disk = Some(EphemeralDisk {
                    size_mb: Some(size),
                    ..tg.ephemeral_disk.clone().unwrap_or_default()
                });
            }
            if !self.ports.is_empty() {
                tg.networks = vec![NetworkResource {
                    dynamic_ports: self
                        .ports
                        .iter()
                        .map(|label| Port {
                            label: label.clone(),
                            ..Port::default()
                        })
                        .collect(),
                    ..NetworkResource::default()
                }];
            }
            if let Some(task) = tg.tasks.first_mut() {
                task.driver = self.driver.clone();
                if let Some(r) = task.resources.as_mut() {
                    r.cpu = Some(self.cpu_mhz);
                    r.memory_mb = Some(self.memory_mb);
                }
            }
        }
        job.canonicalize();
        job.validate().map_err(|errors| SimError::InvalidJob {
            job: id.to_string(),
            reason: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        Ok(job)
    }
}

/// Scheduler settings of a simulated cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// `binpack` or `spread`.
    pub algorithm: String,
    /// Job types whose placements may preempt lower-priority ones.
    pub preemption: Vec<String>,
    /// Whether memory oversubscription (`memory_max`) is on.
    pub memory_oversubscription: bool,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        let d = SchedulerConfiguration::default();
        let mut preemption = Vec::new();
        for (on, name) in [
            (d.preemption_config.system_scheduler_enabled, "system"),
            (d.preemption_config.sys_batch_scheduler_enabled, "sysbatch"),
            (d.preemption_config.batch_scheduler_enabled, "batch"),
            (d.preemption_config.service_scheduler_enabled, "service"),
        ] {
            if on {
                preemption.push(name.to_string());
            }
        }
        SchedulerSettings {
            algorithm: d.effective_algorithm().to_string(),
            preemption,
            memory_oversubscription: d.memory_oversubscription_enabled,
        }
    }
}

impl SchedulerSettings {
    /// The scheduler configuration these settings describe.
    pub fn configuration(&self) -> SchedulerConfiguration {
        let mut c = SchedulerConfiguration {
            scheduler_algorithm: self.algorithm.clone(),
            memory_oversubscription_enabled: self.memory_oversubscription,
            ..SchedulerConfiguration::default()
        };
        let on = |t: &str| self.preemption.iter().any(|p| p == t);
        c.preemption_config.system_scheduler_enabled = on("system");
        c.preemption_config.sys_batch_scheduler_enabled = on("sysbatch");
        c.preemption_config.batch_scheduler_enabled = on("batch");
        c.preemption_config.service_scheduler_enabled = on("service");
        c
    }
}

/// How the simulator runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// Seed for node IDs, evaluation IDs and every scheduling decision.
    pub seed: u64,
    /// Schedulers working at once: this many evaluations plan against the
    /// same snapshot and the plan applier serialises their plans, so later
    /// ones can conflict and retry (Nomad runs one worker per core).
    pub workers: usize,
    /// How the simulated clients answer.
    pub client_ack: ClientAck,
    /// Keep one [`crate::Placement`] per new allocation in reports (turn off
    /// for million-allocation runs).
    pub record_placements: bool,
    /// Upper bound on evaluations processed by one run (a safety net).
    pub max_evals: usize,
    /// The clock at the first evaluation, Unix nanoseconds.
    pub start_time: i64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            workers: 1,
            client_ack: ClientAck::Immediate,
            record_placements: true,
            max_evals: 1_000_000,
            start_time: 1_767_225_600_000_000_000,
        }
    }
}

/// A whole simulated cluster: options, scheduler settings, nodes, jobs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterSpec {
    /// How the simulator runs.
    pub options: SimOptions,
    /// Scheduler configuration.
    pub scheduler: SchedulerSettings,
    /// Node groups, in order.
    pub node_groups: Vec<NodeGroup>,
    /// Jobs, registered in order.
    pub jobs: Vec<JobTemplate>,
}

/// Nomad's constraint operators the text format accepts.
pub(crate) const OPERATORS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "regexp",
    "version",
    "semver",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "is_set",
    "is_not_set",
    "distinct_hosts",
    "distinct_property",
];
