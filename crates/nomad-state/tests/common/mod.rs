//! Builders shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_state::command::*;
use nomad_state::{ApplyResult, Command, StateSnapshot, StateStore};
use nomad_types::consts::{alloc_client_status, alloc_desired_status, eval_status, node_status};
use nomad_types::{Allocation, Evaluation, Job, Node, Task, TaskGroup};

/// A store that numbers entries itself.
pub struct Cluster {
    pub store: StateStore,
    pub next: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            store: StateStore::default(),
            next: 1,
        }
    }
}

impl Cluster {
    pub fn apply(&mut self, cmd: Command) -> ApplyResult {
        let idx = self.next;
        self.next += 1;
        self.store.apply(idx, cmd)
    }

    /// Applies and asserts success.
    pub fn ok(&mut self, cmd: Command) -> ApplyResult {
        let name = cmd.type_name();
        let r = self.apply(cmd);
        assert!(r.is_ok(), "{name} failed: {:?}", r.error);
        r
    }

    pub fn snap(&self) -> StateSnapshot {
        self.store.snapshot()
    }

    pub fn register(&mut self, job: Job) -> ApplyResult {
        let id = job.id().to_string();
        self.ok(Command::JobRegister(JobRegister {
            eval: Some(eval(&format!("eval-{id}-{}", self.next), &id)),
            job,
            submit_time: 1_700_000_000_000_000_000 + self.next as i64,
            ..JobRegister::default()
        }))
    }

    pub fn add_node(&mut self, id: &str) -> ApplyResult {
        self.ok(Command::NodeRegister(NodeRegister { node: node(id) }))
    }

    /// Places `allocs` (no job inside) for `job` through a plan.
    pub fn place(&mut self, job: &Arc<Job>, allocs: Vec<Allocation>) -> ApplyResult {
        self.ok(Command::ApplyPlanResults(ApplyPlanResults {
            job: Some(Arc::clone(job)),
            allocs_updated: allocs,
            ..ApplyPlanResults::default()
        }))
    }

    pub fn client_status(&mut self, alloc_id: &str, status: &str) -> ApplyResult {
        self.ok(Command::AllocClientUpdate(AllocClientUpdate {
            allocs: vec![ClientAllocUpdate {
                id: alloc_id.into(),
                client_status: status.into(),
                modify_time: 5,
                ..ClientAllocUpdate::default()
            }],
            evals: vec![],
        }))
    }

    /// Completes an evaluation.
    pub fn complete_eval(&mut self, id: &str) -> ApplyResult {
        let mut e = (*self.snap().eval_by_id(id).expect("eval exists")).clone();
        e.status = eval_status::COMPLETE.into();
        self.ok(Command::EvalUpdate(EvalUpdate { evals: vec![e] }))
    }
}

pub fn job(id: &str, groups: &[(&str, i64)]) -> Job {
    let mut j = Job::new(id, "service");
    j.datacenters = vec!["dc1".into()];
    j.task_groups = groups
        .iter()
        .map(|(name, count)| TaskGroup {
            name: Some(name.to_string()),
            count: Some(*count),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                ..Task::default()
            }],
            ..TaskGroup::default()
        })
        .collect();
    j
}

pub fn eval(id: &str, job_id: &str) -> Evaluation {
    Evaluation {
        id: id.into(),
        namespace: "default".into(),
        priority: 50,
        eval_type: "service".into(),
        triggered_by: "job-register".into(),
        job_id: job_id.into(),
        status: eval_status::PENDING.into(),
        ..Evaluation::default()
    }
}

pub fn node(id: &str) -> Node {
    let mut attributes = BTreeMap::new();
    attributes.insert("kernel.name".to_string(), "linux".to_string());
    Node {
        id: id.into(),
        name: format!("name-{id}"),
        datacenter: "dc1".into(),
        status: node_status::READY.into(),
        status_updated_at: 1_700_000_000,
        attributes,
        ..Node::default()
    }
}

pub fn alloc(id: &str, job_id: &str, group: &str, node_id: &str, eval_id: &str) -> Allocation {
    Allocation {
        id: id.into(),
        namespace: "default".into(),
        eval_id: eval_id.into(),
        name: format!("{job_id}.{group}[0]"),
        node_id: node_id.into(),
        job_id: job_id.into(),
        task_group: group.into(),
        desired_status: alloc_desired_status::RUN.into(),
        client_status: alloc_client_status::PENDING.into(),
        ..Allocation::default()
    }
}

/// A small but complete scenario: two nodes, two jobs, placements, client
/// updates, a stop, a deregistration. Used by determinism and snapshot
/// tests.
pub fn scenario() -> Vec<Command> {
    let mut cmds = vec![
        Command::NodeRegister(NodeRegister {
            node: node("node-a"),
        }),
        Command::NodeRegister(NodeRegister {
            node: node("node-b"),
        }),
    ];
    for j in ["web", "api"] {
        cmds.push(Command::JobRegister(JobRegister {
            job: job(j, &[("g", 2)]),
            eval: Some(eval(&format!("ev-{j}"), j)),
            submit_time: 10,
            ..JobRegister::default()
        }));
    }
    cmds
}

/// The plan entries of [`scenario`], given the registered jobs.
pub fn scenario_plans(snap: &StateSnapshot) -> Vec<Command> {
    let mut cmds = Vec::new();
    for j in ["web", "api"] {
        let job = snap.job_by_id("default", j).expect("registered");
        cmds.push(Command::ApplyPlanResults(ApplyPlanResults {
            job: Some(job),
            allocs_updated: vec![
                alloc(&format!("{j}-1"), j, "g", "node-a", &format!("ev-{j}")),
                alloc(&format!("{j}-2"), j, "g", "node-b", &format!("ev-{j}")),
            ],
            eval_id: format!("ev-{j}"),
            ..ApplyPlanResults::default()
        }));
    }
    cmds.push(Command::AllocClientUpdate(AllocClientUpdate {
        allocs: vec![ClientAllocUpdate {
            id: "web-1".into(),
            client_status: "running".into(),
            modify_time: 7,
            ..ClientAllocUpdate::default()
        }],
        evals: vec![],
    }));
    cmds.push(Command::ApplyPlanResults(ApplyPlanResults {
        allocs_stopped: vec![AllocStop {
            id: "api-2".into(),
            desired_description: "alloc not needed".into(),
            ..AllocStop::default()
        }],
        ..ApplyPlanResults::default()
    }));
    cmds.push(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "api".into(),
        submit_time: 99,
        ..JobDeregister::default()
    }));
    cmds
}
