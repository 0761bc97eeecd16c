//! The simulator: an evaluation queue in front of the scheduler, the plan
//! applier behind it, and the blocked-evaluation bookkeeping Nomad's
//! server does.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use nomad_scheduler::rng::Rng;
use nomad_scheduler::{process_eval, SchedulerOptions};
use nomad_types::consts::{eval_status, eval_trigger};
use nomad_types::{Evaluation, Job, Node};

use crate::applier::Applier;
use crate::error::SimError;
use crate::parse::parse_config;
use crate::report::{Report, ReportBuilder, Utilisation};
use crate::spec::{ClusterSpec, JobTemplate, NodeGroup, SchedulerSettings, SimOptions};
use crate::store::Store;
use crate::util::{mix, uuid};

/// Nanoseconds the simulated clock advances per evaluation.
const EVAL_TICK_NS: i64 = 1_000_000;

/// A simulated cluster. Cloning it ([`Simulator::fork`]) is cheap and gives
/// an independent copy for what-if questions.
#[derive(Clone, Debug)]
pub struct Simulator {
    store: Store,
    options: SimOptions,
    queue: VecDeque<Evaluation>,
    blocked: BTreeMap<(String, String), Evaluation>,
    delayed: Vec<Evaluation>,
    clock: i64,
    evals_done: u64,
    ids: Rng,
    seeds: u64,
}

impl Simulator {
    /// An empty cluster.
    pub fn new(options: SimOptions, scheduler: &SchedulerSettings) -> Self {
        Simulator {
            store: Store::new(scheduler.configuration()),
            clock: options.start_time,
            ids: Rng::new(mix(options.seed ^ 0x51a1)),
            seeds: options.seed,
            options,
            queue: VecDeque::new(),
            blocked: BTreeMap::new(),
            delayed: Vec::new(),
            evals_done: 0,
        }
    }

    /// The cluster a spec describes: its nodes added and its jobs
    /// registered (their evaluations queued, not yet run).
    pub fn from_spec(spec: &ClusterSpec) -> Result<Self, SimError> {
        let mut sim = Simulator::new(spec.options.clone(), &spec.scheduler);
        for group in &spec.node_groups {
            sim.add_node_group(group);
        }
        for t in &spec.jobs {
            sim.add_jobs(t)?;
        }
        Ok(sim)
    }

    /// The cluster a configuration text describes (see [`crate::parse`]).
    pub fn from_config(text: &str) -> Result<Self, SimError> {
        Simulator::from_spec(&parse_config(text)?)
    }

    /// An independent copy of the cluster, its queue and its clock.
    pub fn fork(&self) -> Simulator {
        self.clone()
    }

    /// The cluster state.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The options the simulator runs with.
    pub fn options(&self) -> &SimOptions {
        &self.options
    }

    /// Changes how the simulator runs (the seed of a fork, the workers, …).
    pub fn set_options(&mut self, options: SimOptions) {
        if options.seed != self.options.seed {
            self.ids = Rng::new(mix(options.seed ^ 0x51a1));
            self.seeds = options.seed;
        }
        self.options = options;
    }

    /// Utilisation now.
    pub fn utilisation(&self) -> Utilisation {
        Utilisation::of(&self.store)
    }

    /// Evaluations waiting to run.
    pub fn pending_evals(&self) -> usize {
        self.queue.len()
    }

    /// Evaluations blocked until capacity changes, one per job.
    pub fn blocked_evals(&self) -> impl Iterator<Item = &Evaluation> {
        self.blocked.values()
    }

    /// Adds nodes (replacing those with the same ID). New capacity
    /// unblocks every blocked evaluation, as Nomad's blocked-evals tracker
    /// does when a node becomes ready.
    pub fn add_nodes(&mut self, nodes: Vec<Node>) {
        self.store.upsert_nodes(nodes);
        self.unblock();
    }

    /// Adds a group of identical nodes.
    pub fn add_node_group(&mut self, group: &NodeGroup) {
        let nodes = group.build(self.options.seed);
        self.add_nodes(nodes);
    }

    /// Registers the jobs of a template.
    pub fn add_jobs(&mut self, template: &JobTemplate) -> Result<Vec<Arc<Job>>, SimError> {
        template
            .build()?
            .into_iter()
            .map(|j| self.register_job(j))
            .collect()
    }

    /// Registers a job (a new version when it exists), canonicalized and
    /// validated, and queues its evaluation.
    pub fn register_job(&mut self, mut job: Job) -> Result<Arc<Job>, SimError> {
        job.canonicalize();
        job.validate().map_err(|errors| SimError::InvalidJob {
            job: job.id().to_string(),
            reason: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        let stored = self.store.upsert_job(job);
        let trigger = if stored.is_stopped() {
            eval_trigger::JOB_DEREGISTER
        } else {
            eval_trigger::JOB_REGISTER
        };
        self.enqueue(&stored, trigger);
        Ok(stored)
    }

    /// Sets a group's count (a new job version) and queues the evaluation.
    pub fn scale(
        &mut self,
        namespace: &str,
        job_id: &str,
        group: &str,
        count: i64,
    ) -> Result<Arc<Job>, SimError> {
        let mut job = (*self.current_job(namespace, job_id)?).clone();
        let tg = job
            .task_groups
            .iter_mut()
            .find(|g| g.name() == group)
            .ok_or_else(|| SimError::UnknownGroup {
                job: job_id.to_string(),
                group: group.to_string(),
            })?;
        tg.count = Some(count.max(0));
        self.register_job(job)
    }

    /// Stops a job (its allocations are stopped by the next run).
    pub fn stop_job(&mut self, namespace: &str, job_id: &str) -> Result<Arc<Job>, SimError> {
        let mut job = (*self.current_job(namespace, job_id)?).clone();
        job.stop = Some(true);
        self.register_job(job)
    }

    fn current_job(&self, namespace: &str, job_id: &str) -> Result<Arc<Job>, SimError> {
        use nomad_scheduler::State;
        self.store
            .job_by_id(namespace, job_id)
            .ok_or_else(|| SimError::UnknownJob {
                namespace: namespace.to_string(),
                job: job_id.to_string(),
            })
    }

    fn enqueue(&mut self, job: &Job, trigger: &str) {
        let id = uuid(&mut self.ids);
        let mut eval = nomad_scheduler::testing::eval_for(job, &id);
        eval.triggered_by = trigger.to_string();
        eval.create_time = self.clock;
        eval.modify_time = self.clock;
        // A newer evaluation supersedes the job's blocked one.
        self.blocked
            .remove(&(eval.namespace.clone(), eval.job_id.clone()));
        self.queue.push_back(eval);
    }

    fn unblock(&mut self) {
        let blocked = std::mem::take(&mut self.blocked);
        self.queue.extend(blocked.into_values());
    }

    /// Processes queued evaluations until none is left (or
    /// [`SimOptions::max_evals`] were processed), `workers` at a time
    /// against one snapshot, and reports what happened.
    pub fn run(&mut self) -> Result<Report, SimError> {
        let mut report = ReportBuilder::new(self.options.record_placements);
        let mut processed = 0usize;
        while !self.queue.is_empty() && processed < self.options.max_evals {
            let n = self
                .options
                .workers
                .max(1)
                .min(self.queue.len())
                .min(self.options.max_evals - processed);
            let batch: Vec<Evaluation> = self.queue.drain(..n).collect();
            processed += n;
            let snapshot = self.store.clone();
            let mut applier = Applier::new(&mut self.store, self.options.client_ack);
            let mut outcomes = Vec::with_capacity(n);
            let mut error = None;
            for eval in &batch {
                self.clock += EVAL_TICK_NS;
                self.evals_done += 1;
                let options = SchedulerOptions {
                    now: self.clock,
                    seed: mix(self.seeds ^ mix(self.evals_done)),
                };
                match process_eval(&snapshot, &mut applier, eval, &options) {
                    Ok(outcome) => outcomes.push((eval, outcome)),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            // Let go of every other reference to the new allocations, so
            // the store keeps them without copying.
            let freed = applied_freed_capacity(&outcomes);
            for (eval, outcome) in &mut outcomes {
                report.eval(outcome, eval);
                outcome.last_plan = None;
            }
            let placed = applier.take_placed();
            report.placed(&placed, applier.store());
            drop(placed);
            drop(snapshot);
            let applied = applier.finish();
            report.plans(applied.stats);
            for e in applied
                .evals
                .created
                .into_iter()
                .chain(applied.evals.reblocked)
            {
                if e.status == eval_status::BLOCKED {
                    self.blocked
                        .insert((e.namespace.clone(), e.job_id.clone()), e);
                } else if !e.wait_until.is_zero() {
                    self.delayed.push(e);
                } else {
                    self.queue.push_back(e);
                }
            }
            if let Some(e) = error {
                return Err(e.into());
            }
            if freed {
                self.unblock();
            }
        }
        Ok(report.finish(&self.store, self.blocked.len()))
    }
}

/// Whether any processed plan stopped or evicted allocations (capacity a
/// blocked evaluation may now use).
fn applied_freed_capacity(outcomes: &[(&Evaluation, nomad_scheduler::EvalOutcome)]) -> bool {
    outcomes.iter().any(|(_, o)| {
        o.last_plan
            .as_ref()
            .is_some_and(|p| !p.node_update.is_empty() || !p.node_preemptions.is_empty())
    })
}
