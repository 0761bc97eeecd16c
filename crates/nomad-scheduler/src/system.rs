//! The system scheduler: system and sysbatch jobs, one allocation of each
//! group on every eligible node.
//!
//! The node reconciler decides per node what to place, stop and update;
//! this module checks each placement's node with the system stack
//! (feasibility and bin packing on that one node, preemption when the
//! scheduler configuration allows it: on by default for system jobs), and
//! follows Nomad's rules for failures: a node that cannot run the group at
//! all is simply skipped (the group is reported failed only when it fits
//! nowhere and runs nowhere), while a node that lacks room gets a blocked
//! evaluation of its own.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use nomad_reconcile::{reconcile_nodes, NodeInput, NodePlacement};
use nomad_types::consts::{alloc_client_status, alloc_desired_status, eval_trigger};
use nomad_types::{AllocMetric, Allocation, Job, TaskGroup};

use crate::context::{Ctx, Kind};
use crate::explain::explain;
use crate::generic::{inplace_decision, tainted_nodes};
use crate::metrics::{exhaust_resources, merge_filtered};
use crate::nodes::{in_pool, is_ready, job_pool, ready_nodes};
use crate::process::{Run, SchedulerError};
use crate::select::{SelectOptions, Source};
use crate::state::State;
use crate::util::IdSource;

/// Plan attempts for system jobs.
pub const MAX_SYSTEM_SCHEDULE_ATTEMPTS: u32 = 5;
/// Plan attempts for sysbatch jobs.
pub const MAX_SYSBATCH_SCHEDULE_ATTEMPTS: u32 = 2;

/// Triggers the system scheduler handles.
pub(crate) const SYSTEM_TRIGGERS: &[&str] = &[
    eval_trigger::JOB_REGISTER,
    eval_trigger::NODE_UPDATE,
    eval_trigger::FAILED_FOLLOW_UP,
    eval_trigger::JOB_DEREGISTER,
    eval_trigger::ROLLING_UPDATE,
    eval_trigger::PREEMPTION,
    eval_trigger::DEPLOYMENT_WATCHER,
    eval_trigger::NODE_DRAIN,
    eval_trigger::ALLOC_STOP,
    eval_trigger::QUEUED_ALLOCS,
    eval_trigger::SCALING,
    eval_trigger::RECONNECT,
];

/// One attempt of the system scheduler.
pub(crate) struct System<'r, 'a, S> {
    pub run: &'r mut Run<'a, S>,
    pub sysbatch: bool,
}

impl<S: State> System<'_, '_, S> {
    /// Runs one attempt against `state`; `Ok(true)` when done.
    pub(crate) fn attempt(&mut self, state: &S) -> Result<bool, SchedulerError> {
        let run = &mut *self.run;
        let eval = run.eval;
        let job = state.job_by_id(&eval.namespace, &eval.job_id);
        let runnable = job.as_ref().filter(|j| !j.is_stopped());
        let (nodes, by_dc) = match runnable {
            Some(j) => ready_nodes(state, j),
            None => (Vec::new(), BTreeMap::new()),
        };
        let not_ready: HashSet<String> = match runnable {
            Some(j) => state
                .nodes()
                .iter()
                .filter(|n| in_pool(n, job_pool(j)) && !is_ready(n))
                .map(|n| n.id.clone())
                .collect(),
            None => HashSet::new(),
        };
        let deployment = state.latest_deployment_by_job(&eval.namespace, &eval.job_id);
        let kind = if self.sysbatch {
            Kind::SysBatch
        } else {
            Kind::System
        };
        let ids = std::mem::replace(&mut run.ids, IdSource::new(0));
        let seed = run.options.seed ^ crate::rng::shuffle_seed(&eval.id, state.latest_index());
        let mut ctx = Ctx::new(
            state,
            eval,
            job.clone(),
            kind,
            nodes.clone(),
            by_dc,
            run.options.now,
            seed,
            ids,
        );
        run.failed.clear();
        run.queued.clear();
        run.annotations = None;

        let allocs = state.allocs_by_job(&eval.namespace, &eval.job_id);
        let tainted = tainted_nodes(state, &allocs);
        let nodes: Vec<Arc<nomad_types::Node>> = nodes.iter().map(|n| n.arc().clone()).collect();
        let input = NodeInput {
            job: job.clone(),
            job_id: eval.job_id.clone(),
            namespace: eval.namespace.clone(),
            eval_id: eval.id.clone(),
            eval_priority: eval.priority,
            ready_nodes: &nodes,
            not_ready_nodes: &not_ready,
            tainted_nodes: &tainted,
            existing: &allocs,
            deployment: deployment.clone(),
            now: run.options.now,
        };
        let mut id_rng = IdSource::new(crate::util::digest(&eval.id) ^ run.options.seed ^ 0x5E);
        let mut new_id = || id_rng.next_id();
        let result = {
            let c = &mut ctx;
            let mut update = |existing: &Allocation, job: &Job, tg: &TaskGroup| {
                inplace_decision(c, existing, job, tg)
            };
            reconcile_nodes(&input, &mut update, &mut new_id)
        };

        let mut annotations = nomad_types::PlanAnnotations {
            desired_tg_updates: result.desired_tg_updates.clone(),
            preempted_allocs: Vec::new(),
        };
        ctx.plan.deployment = result.deployment.clone();
        ctx.plan.deployment_updates = result.deployment_updates.clone();
        let current = result
            .deployment
            .clone()
            .or_else(|| deployment.as_deref().cloned());
        run.deployment_id = current.as_ref().map(|d| d.id.clone());
        let active = current
            .as_ref()
            .filter(|d| d.active())
            .map(|d| d.id.clone());

        for stop in &result.stop {
            ctx.stop(
                &stop.alloc,
                &stop.description,
                stop.client_status.as_deref(),
                stop.followup_eval_id.as_deref(),
            );
        }
        for update in result
            .disconnect_updates
            .values()
            .chain(result.reconnect_updates.values())
        {
            let existing = state.alloc_by_id(&update.id);
            ctx.place(update.clone(), existing.as_deref());
        }
        let mut exists: BTreeMap<String, bool> = BTreeMap::new();
        for update in &result.inplace_update {
            exists.insert(update.task_group.clone(), true);
            let mut update = update.clone();
            let did = run.deployment_id.clone().unwrap_or_default();
            if update.deployment_id != did {
                update.deployment_id = did;
                update.deployment_status = None;
            }
            let existing = state.alloc_by_id(&update.id);
            ctx.place(update, existing.as_deref());
        }
        for (tg, d) in &result.desired_tg_updates {
            if d.ignore > 0 {
                exists.insert(tg.clone(), true);
            }
        }

        let mut placements: Vec<NodePlacement> = Vec::new();
        for d in &result.destructive_update {
            ctx.stop(&d.stop_alloc, &d.stop_description, None, None);
            placements.push(d.place.clone());
        }
        placements.extend(result.place.iter().cloned());

        if let Some(job) = runnable {
            for tg in &job.task_groups {
                run.queued.insert(tg.name().to_string(), 0);
            }
        }
        for p in &placements {
            *run.queued.entry(p.task_group.clone()).or_default() += 1;
        }

        let preempt = ctx
            .config
            .preemption_enabled(job.as_ref().map_or("system", |j| j.job_type()));
        let mut filtered: BTreeMap<String, AllocMetric> = BTreeMap::new();
        for p in &placements {
            place_on_node(
                &mut ctx,
                run,
                p,
                preempt,
                active.as_deref(),
                &mut annotations,
                &mut filtered,
                &exists,
            )?;
        }
        run.annotations = Some(annotations);
        run.ids = std::mem::replace(&mut ctx.ids, IdSource::new(0));

        if ctx.plan.is_no_op() && !eval.annotate_plan {
            return Ok(true);
        }
        if eval.annotate_plan {
            ctx.plan.annotations = run.annotations.clone();
        }
        let created = std::mem::take(&mut ctx.created);
        let plan = std::mem::take(&mut ctx.plan);
        drop(ctx);
        run.submit(plan, &created, false)
    }
}

#[allow(clippy::too_many_arguments)]
fn place_on_node<S: State>(
    ctx: &mut Ctx<'_, S>,
    run: &mut Run<'_, S>,
    p: &NodePlacement,
    preempt: bool,
    deployment_id: Option<&str>,
    annotations: &mut nomad_types::PlanAnnotations,
    filtered: &mut BTreeMap<String, AllocMetric>,
    exists: &BTreeMap<String, bool>,
) -> Result<(), SchedulerError> {
    let Some(slot) = ctx.table.slot(&p.node_id) else {
        return Ok(());
    };
    let Some(g) = ctx.groups.iter().position(|s| s.name == p.task_group) else {
        return Ok(());
    };
    let Some(job) = ctx.job.clone() else {
        return Ok(());
    };
    let Some(tg) = job.lookup_task_group(&p.task_group) else {
        return Ok(());
    };
    let opts = SelectOptions {
        preempt,
        alloc_name: &p.name,
        ..SelectOptions::default()
    };
    let option = ctx.select(g, &opts, Source::Single(slot));
    let mut metric = ctx.metrics.to_alloc_metric(
        &ctx.labels,
        &ctx.classes,
        &mut ctx.table,
        ctx.state,
        &mut ctx.map_memo,
    );

    let Some(option) = option else {
        if metric.nodes_filtered > 0 {
            // The node cannot run the group at all: not a failure unless
            // no node can and none runs it already.
            if let Some(q) = run.queued.get_mut(&p.task_group) {
                *q -= 1;
            }
            let acc = filtered.entry(p.task_group.clone()).or_default();
            merge_filtered(acc, &metric);
            let queued = run.queued.get(&p.task_group).copied().unwrap_or(0);
            if queued <= 0 && !exists.get(&p.task_group).copied().unwrap_or(false) {
                let mut m = acc.clone();
                m.explanation = explain(ctx, g, &m);
                run.failed.insert(p.task_group.clone(), m);
            }
            return Ok(());
        }
        if let Some(m) = run.failed.get_mut(&p.task_group) {
            m.coalesced_failures += 1;
            exhaust_resources(m, tg);
            return Ok(());
        }
        metric.nodes_available = ctx.by_dc.clone();
        metric.nodes_in_pool = ctx.table.ring_len as i64;
        metric.node_pool = ctx.pool.clone();
        exhaust_resources(&mut metric, tg);
        metric.explanation = explain(ctx, g, &metric);
        run.failed.insert(p.task_group.clone(), metric);
        run.note_eligibility(ctx);
        run.create_blocked(false, Some(&p.node_id))?;
        return Ok(());
    };

    metric.nodes_available = ctx.by_dc.clone();
    metric.nodes_in_pool = ctx.table.ring_len as i64;
    let node = ctx.table.node(option.slot).clone();
    let resources = ctx.allocated_resources(g, &option);
    let mut alloc = Allocation {
        id: ctx.ids.next_id(),
        namespace: job.namespace().to_string(),
        eval_id: ctx.eval.id.clone(),
        name: p.name.clone(),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.id().to_string(),
        job: Some(Arc::clone(&job)),
        task_group: p.task_group.clone(),
        allocated_resources: Some(resources),
        desired_status: alloc_desired_status::RUN.to_string(),
        client_status: alloc_client_status::PENDING.to_string(),
        deployment_id: deployment_id.unwrap_or_default().to_string(),
        create_time: ctx.now,
        modify_time: ctx.now,
        ..Allocation::default()
    };
    if let Some(prev) = &p.previous_alloc {
        alloc.previous_allocation = prev.id.clone();
    }
    if p.canary && deployment_id.is_some() {
        alloc.deployment_status = Some(nomad_types::AllocDeploymentStatus {
            canary: true,
            ..nomad_types::AllocDeploymentStatus::default()
        });
    }
    for victim in &option.preempted {
        ctx.preempt(victim, &alloc.id);
        alloc.preempted_allocations.push(victim.id.clone());
        if ctx.eval.annotate_plan {
            annotations.preempted_allocs.push(victim.stub());
            if let Some(d) = annotations.desired_tg_updates.get_mut(&p.task_group) {
                d.preemptions += 1;
            }
        }
    }
    alloc.metrics = Some(metric);
    ctx.created.insert(alloc.id.clone());
    ctx.place_on(alloc, None, Some(option.slot));
    Ok(())
}
