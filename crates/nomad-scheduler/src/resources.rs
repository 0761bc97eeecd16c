//! Resource arithmetic: what a task group asks for, what an allocation
//! uses, what a node offers, with Nomad's lifecycle rules.
//!
//! Tasks of one allocation do not all run at once: prestart tasks finish
//! before the main tasks start (unless they are sidecars) and poststop
//! tasks run after them. Like Nomad's `AllocatedResources.Comparable`, an
//! allocation's CPU and memory use is therefore the largest of three
//! phases, field by field: prestart (prestart tasks and sidecars), main
//! (main tasks, sidecars, poststart tasks) and poststop. Reserved cores
//! are never shared between phases and always add up. Disk is the group's
//! ephemeral disk.

use nomad_types::alloc::{AllocatedResources, AllocatedTaskResources};
use nomad_types::group::DEFAULT_EPHEMERAL_DISK_MB;
use nomad_types::node::Node;
use nomad_types::resources::{DEFAULT_CPU, DEFAULT_MEMORY_MB};
use nomad_types::task::{Task, TaskLifecycle};
use nomad_types::{Allocation, TaskGroup};

use crate::score::CpuMem;

/// CPU, memory and disk amounts: the dimensions the fit check compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Res {
    /// CPU shares, MHz.
    pub cpu: i64,
    /// Memory, MB.
    pub memory_mb: i64,
    /// Disk, MB.
    pub disk_mb: i64,
}

impl Res {
    /// Adds `other` field by field (saturating: hostile inputs cannot
    /// overflow).
    pub fn add(&mut self, other: Res) {
        self.cpu = self.cpu.saturating_add(other.cpu);
        self.memory_mb = self.memory_mb.saturating_add(other.memory_mb);
        self.disk_mb = self.disk_mb.saturating_add(other.disk_mb);
    }

    /// Subtracts `other` field by field.
    pub fn sub(&mut self, other: Res) {
        self.cpu = self.cpu.saturating_sub(other.cpu);
        self.memory_mb = self.memory_mb.saturating_sub(other.memory_mb);
        self.disk_mb = self.disk_mb.saturating_sub(other.disk_mb);
    }

    /// `self + other`.
    pub fn plus(mut self, other: Res) -> Res {
        self.add(other);
        self
    }

    /// `self - other`.
    pub fn minus(mut self, other: Res) -> Res {
        self.sub(other);
        self
    }

    fn max_with(&mut self, other: Res) {
        self.cpu = self.cpu.max(other.cpu);
        self.memory_mb = self.memory_mb.max(other.memory_mb);
        self.disk_mb = self.disk_mb.max(other.disk_mb);
    }

    /// The CPU and memory part, for scoring.
    pub fn cpu_mem(self) -> CpuMem {
        CpuMem {
            cpu: self.cpu,
            memory_mb: self.memory_mb,
        }
    }

    /// The first dimension (in Nomad's order: cpu, memory, disk) in which
    /// `self` cannot hold `used`, or `None` when it can.
    pub fn first_short(self, used: Res) -> Option<&'static str> {
        if self.cpu < used.cpu {
            Some("cpu")
        } else if self.memory_mb < used.memory_mb {
            Some("memory")
        } else if self.disk_mb < used.disk_mb {
            Some("disk")
        } else {
            None
        }
    }
}

/// Which phase of an allocation's life a task runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Prestart,
    PrestartSidecar,
    Main,
    Poststop,
}

fn phase(lifecycle: Option<&TaskLifecycle>) -> Phase {
    match lifecycle {
        None => Phase::Main,
        Some(l) => match l.hook.as_str() {
            "prestart" if l.sidecar => Phase::PrestartSidecar,
            "prestart" => Phase::Prestart,
            "poststop" => Phase::Poststop,
            _ => Phase::Main,
        },
    }
}

/// Accumulates per-task CPU and memory into the three phases.
#[derive(Default)]
struct Phases {
    prestart: Res,
    main: Res,
    poststop: Res,
    /// CPU of tasks with reserved cores (never shared between phases).
    pinned_cpu: i64,
}

impl Phases {
    fn add(&mut self, phase: Phase, cpu: i64, memory_mb: i64, pinned: bool) {
        if pinned {
            self.pinned_cpu = self.pinned_cpu.saturating_add(cpu);
        }
        let r = Res {
            cpu: if pinned { 0 } else { cpu },
            memory_mb,
            disk_mb: 0,
        };
        match phase {
            Phase::Prestart => self.prestart.add(r),
            Phase::PrestartSidecar => {
                self.prestart.add(r);
                self.main.add(r);
            }
            Phase::Main => self.main.add(r),
            Phase::Poststop => self.poststop.add(r),
        }
    }

    fn total(mut self, disk_mb: i64) -> Res {
        self.main.max_with(self.prestart);
        self.main.max_with(self.poststop);
        self.main.cpu = self.main.cpu.saturating_add(self.pinned_cpu);
        self.main.disk_mb = disk_mb;
        self.main
    }
}

/// What one task asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskAsk {
    pub name: String,
    pub lifecycle: Option<TaskLifecycle>,
    pub cpu: i64,
    /// Memory including the secrets directory.
    pub memory_mb: i64,
    pub memory_max_mb: i64,
    pub cores: u32,
}

impl TaskAsk {
    pub(crate) fn of(task: &Task) -> TaskAsk {
        let r = task.resources.as_ref();
        let cpu = r.and_then(|r| r.cpu).unwrap_or(DEFAULT_CPU);
        let memory = r.and_then(|r| r.memory_mb).unwrap_or(DEFAULT_MEMORY_MB);
        let secrets = r.and_then(|r| r.secrets_mb).unwrap_or(0).max(0);
        let memory_max = r.and_then(|r| r.memory_max_mb).unwrap_or(0);
        let cores = r.and_then(|r| r.cores).unwrap_or(0).clamp(0, 4096) as u32;
        TaskAsk {
            name: task.name.clone(),
            lifecycle: task.lifecycle.clone(),
            cpu: cpu.max(0),
            memory_mb: memory.max(0).saturating_add(secrets),
            memory_max_mb: if memory_max > 0 {
                memory_max.saturating_add(secrets)
            } else {
                memory_max
            },
            cores,
        }
    }
}

/// What a task group asks for, per task and in total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupAsk {
    pub tasks: Vec<TaskAsk>,
    pub disk_mb: i64,
    /// Totals with lifecycle phases folded, CPU of cores-tasks excluded
    /// (their CPU depends on the node; see [`GroupAsk::total_on`]).
    pub total: Res,
    pub cores: u32,
}

impl GroupAsk {
    pub(crate) fn of(tg: &TaskGroup) -> GroupAsk {
        let tasks: Vec<TaskAsk> = tg.tasks.iter().map(TaskAsk::of).collect();
        let disk_mb = group_disk_mb(tg);
        let mut phases = Phases::default();
        let mut cores = 0u32;
        for t in &tasks {
            if t.cores > 0 {
                cores = cores.saturating_add(t.cores);
                phases.add(phase(t.lifecycle.as_ref()), 0, t.memory_mb, true);
            } else {
                phases.add(phase(t.lifecycle.as_ref()), t.cpu, t.memory_mb, false);
            }
        }
        GroupAsk {
            tasks,
            disk_mb,
            total: phases.total(disk_mb),
            cores,
        }
    }

    /// The total on a node where one reserved core is worth `mhz_per_core`.
    pub(crate) fn total_on(&self, mhz_per_core: i64) -> Res {
        let mut total = self.total;
        total.cpu = total
            .cpu
            .saturating_add(i64::from(self.cores).saturating_mul(mhz_per_core));
        total
    }
}

/// The group's ephemeral disk in MB (Nomad's default when unset).
pub(crate) fn group_disk_mb(tg: &TaskGroup) -> i64 {
    tg.ephemeral_disk
        .as_ref()
        .and_then(|d| d.size_mb)
        .unwrap_or(DEFAULT_EPHEMERAL_DISK_MB)
        .max(0)
}

/// The resources an allocation holds, lifecycle phases folded.
pub fn alloc_usage(alloc: &Allocation) -> Res {
    match &alloc.allocated_resources {
        Some(ar) => allocated_usage(ar),
        None => alloc
            .resources
            .as_ref()
            .map(|r| Res {
                cpu: r.cpu.unwrap_or(0),
                memory_mb: r.memory_mb.unwrap_or(0),
                disk_mb: r.disk_mb.unwrap_or(0),
            })
            .unwrap_or_default(),
    }
}

/// The resources of an [`AllocatedResources`], lifecycle phases folded.
pub fn allocated_usage(ar: &AllocatedResources) -> Res {
    let mut phases = Phases::default();
    for (name, task) in &ar.tasks {
        let lifecycle = ar.task_lifecycles.get(name).and_then(Option::as_ref);
        let pinned = !task.cpu.reserved_cores.is_empty();
        phases.add(
            phase(lifecycle),
            task.cpu.cpu_shares,
            task.memory.memory_mb,
            pinned,
        );
    }
    phases.total(ar.shared.disk_mb)
}

/// Reserved cores an allocation holds.
pub(crate) fn alloc_cores(alloc: &Allocation) -> impl Iterator<Item = u16> + '_ {
    alloc
        .allocated_resources
        .iter()
        .flat_map(|ar| ar.tasks.values())
        .flat_map(|t: &AllocatedTaskResources| t.cpu.reserved_cores.iter().copied())
}

/// A node's total capacity.
pub fn node_capacity(node: &Node) -> Res {
    node.node_resources
        .as_ref()
        .map(|r| Res {
            cpu: r.cpu.cpu_shares,
            memory_mb: r.memory.memory_mb,
            disk_mb: r.disk.disk_mb,
        })
        .unwrap_or_default()
}

/// What a node keeps back for itself.
pub fn node_reserved(node: &Node) -> Res {
    node.reserved_resources
        .as_ref()
        .map(|r| Res {
            cpu: r.cpu.cpu_shares,
            memory_mb: r.memory.memory_mb,
            disk_mb: r.disk.disk_mb,
        })
        .unwrap_or_default()
}

/// A node's cores usable for reservations: its reservable cores (or, when
/// it lists none, `0..total`) minus the ones it keeps for itself.
pub(crate) fn usable_cores(node: &Node) -> Vec<u16> {
    let Some(res) = &node.node_resources else {
        return Vec::new();
    };
    let mut cores: Vec<u16> = if res.cpu.reservable_cpu_cores.is_empty() {
        (0..res.cpu.total_cpu_cores).collect()
    } else {
        res.cpu.reservable_cpu_cores.clone()
    };
    if let Some(reserved) = &node.reserved_resources {
        cores.retain(|c| !reserved.cpu.reserved_cpu_cores.contains(c));
    }
    cores.sort_unstable();
    cores.dedup();
    cores
}

/// MHz one reserved core is worth on `node`.
pub(crate) fn mhz_per_core(node: &Node) -> i64 {
    node.node_resources
        .as_ref()
        .filter(|r| r.cpu.total_cpu_cores > 0)
        .map_or(0, |r| r.cpu.cpu_shares / i64::from(r.cpu.total_cpu_cores))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::resources::Resources;

    fn task(name: &str, cpu: i64, mem: i64, hook: Option<(&str, bool)>) -> Task {
        let mut t = Task::new(name, "exec");
        t.resources = Some(Resources {
            cpu: Some(cpu),
            memory_mb: Some(mem),
            ..Resources::default()
        });
        t.lifecycle = hook.map(|(h, sidecar)| TaskLifecycle {
            hook: h.into(),
            sidecar,
        });
        t
    }

    #[test]
    fn lifecycle_phases_take_the_max() {
        let mut tg = TaskGroup::new("g", 1);
        tg.tasks = vec![
            task("main", 500, 256, None),
            task("init", 1000, 64, Some(("prestart", false))),
            task("side", 100, 128, Some(("prestart", true))),
            task("cleanup", 50, 1024, Some(("poststop", false))),
        ];
        let ask = GroupAsk::of(&tg);
        // prestart: 1100 / 192; main: 600 / 384; poststop: 50 / 1024.
        assert_eq!(
            ask.total,
            Res {
                cpu: 1100,
                memory_mb: 1024,
                disk_mb: 300
            }
        );
    }

    #[test]
    fn defaults_apply() {
        let mut tg = TaskGroup::new("g", 1);
        tg.tasks = vec![Task::new("t", "exec")];
        let ask = GroupAsk::of(&tg);
        assert_eq!(ask.total.cpu, 100);
        assert_eq!(ask.total.memory_mb, 300);
    }

    #[test]
    fn fit_dimensions_in_nomads_order() {
        let cap = Res {
            cpu: 100,
            memory_mb: 100,
            disk_mb: 100,
        };
        assert_eq!(cap.first_short(Res::default()), None);
        assert_eq!(
            cap.first_short(Res {
                cpu: 200,
                memory_mb: 200,
                disk_mb: 0
            }),
            Some("cpu")
        );
        assert_eq!(
            cap.first_short(Res {
                cpu: 0,
                memory_mb: 0,
                disk_mb: 101
            }),
            Some("disk")
        );
    }
}
