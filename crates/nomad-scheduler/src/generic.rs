//! The generic scheduler: service and batch jobs.
//!
//! One evaluation: load the job, its allocations and the tainted nodes,
//! let the cluster reconciler decide what to stop, update and place, find
//! nodes for the placements, submit the plan, retry on conflicts (up to 5
//! attempts for services, 2 for batch, resetting whenever a plan makes
//! progress), create a blocked evaluation for what did not fit and
//! follow-up evaluations for delayed reschedules, and record the
//! evaluation's outcome — all as Nomad's `GenericScheduler` does.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_reconcile::{precheck_update, reconcile, ClusterInput, Placement, UpdateDecision};
use nomad_types::consts::{
    alloc_client_status, alloc_desired_status, eval_status, eval_trigger, job_type, node_status,
};
use nomad_types::{AllocDeploymentStatus, Allocation, Deployment, Evaluation, Job, TaskGroup};

use crate::context::{Ctx, Kind};
use crate::explain::explain;
use crate::metrics::exhaust_resources;
use crate::nodes::{in_any_dc, in_pool, job_pool, ready_nodes};
use crate::placement::{
    penalty_nodes, reschedule_tracker, LAST_RESCHEDULE_FAILED_TO_PLACE, LAST_RESCHEDULE_SUCCESS,
};
use crate::process::{Run, SchedulerError};
use crate::rng::{shuffle, shuffle_seed, Rng};
use crate::select::{SelectOptions, Source};
use crate::state::State;
use crate::util::IdSource;

/// Plan attempts for service jobs.
pub const MAX_SERVICE_SCHEDULE_ATTEMPTS: u32 = 5;
/// Plan attempts for batch jobs.
pub const MAX_BATCH_SCHEDULE_ATTEMPTS: u32 = 2;

/// Triggers the generic scheduler handles.
pub(crate) const GENERIC_TRIGGERS: &[&str] = &[
    eval_trigger::JOB_REGISTER,
    eval_trigger::JOB_DEREGISTER,
    eval_trigger::NODE_DRAIN,
    eval_trigger::NODE_UPDATE,
    eval_trigger::ALLOC_STOP,
    eval_trigger::ALLOC_RESCHEDULE,
    eval_trigger::ROLLING_UPDATE,
    eval_trigger::QUEUED_ALLOCS,
    eval_trigger::PERIODIC_JOB,
    eval_trigger::MAX_PLANS,
    eval_trigger::DEPLOYMENT_WATCHER,
    eval_trigger::RETRY_FAILED_ALLOC,
    eval_trigger::FAILED_FOLLOW_UP,
    eval_trigger::PREEMPTION,
    eval_trigger::SCALING,
    eval_trigger::MAX_DISCONNECT_TIMEOUT,
    eval_trigger::RECONNECT,
];

/// Nodes of the job's allocations that are down, draining, disconnected
/// or gone (Nomad's `taintedNodes`).
pub(crate) fn tainted_nodes<S: State + ?Sized>(
    state: &S,
    allocs: &[Arc<Allocation>],
) -> nomad_reconcile::TaintedNodes {
    let mut out = nomad_reconcile::TaintedNodes::new();
    let mut seen = crate::util::FxHashSet::default();
    for alloc in allocs {
        if !seen.insert(alloc.node_id.as_str()) {
            continue;
        }
        match state.node_by_id(&alloc.node_id) {
            None => {
                out.insert(alloc.node_id.clone(), None);
            }
            Some(node) => {
                if node.status == node_status::DOWN
                    || node.drain_strategy.is_some()
                    || node.status == node_status::DISCONNECTED
                {
                    out.insert(alloc.node_id.clone(), Some(node));
                }
            }
        }
    }
    out
}

/// The update oracle: whether `existing` can be updated in place to
/// `job`, checking that its node still fits the new group.
pub(crate) fn inplace_decision<S: State + ?Sized>(
    ctx: &mut Ctx<'_, S>,
    existing: &Allocation,
    job: &Job,
    tg: &TaskGroup,
) -> UpdateDecision {
    if let Some(decision) = precheck_update(existing, job, tg) {
        return decision;
    }
    let Some(node) = ctx.state.node_by_id(&existing.node_id) else {
        return UpdateDecision::Destructive;
    };
    if !in_any_dc(&node, &job.datacenters) || !in_pool(&node, job_pool(job)) {
        return UpdateDecision::Destructive;
    }
    let Some(g) = ctx.groups.iter().position(|s| s.name == tg.name()) else {
        return UpdateDecision::Destructive;
    };
    let slot = ctx.slot_of_node(&node);
    ctx.stop(
        existing,
        nomad_reconcile::descriptions::ALLOC_IN_PLACE,
        None,
        None,
    );
    let opts = SelectOptions {
        alloc_name: &existing.name,
        ..SelectOptions::default()
    };
    let option = ctx.select(g, &opts, Source::Single(slot));
    ctx.pop_stop(existing);
    let Some(option) = option else {
        return UpdateDecision::Destructive;
    };
    let mut resources = ctx.allocated_resources(g, &option);
    // Networks, devices and cores stay as they were.
    if let Some(old) = &existing.allocated_resources {
        let resources = Arc::make_mut(&mut resources);
        for (name, task) in resources.tasks.iter_mut() {
            if let Some(prev) = old.tasks.get(name) {
                task.networks = prev.networks.clone();
                task.devices = prev.devices.clone();
                task.cpu.reserved_cores = prev.cpu.reserved_cores.clone();
            }
        }
        resources.shared.networks = old.shared.networks.clone();
        resources.shared.ports = old.shared.ports.clone();
    }
    let mut updated = existing.clone();
    updated.eval_id = ctx.eval.id.clone();
    updated.job = ctx.job.clone();
    updated.resources = None;
    updated.allocated_resources = Some(resources);
    UpdateDecision::InPlace(Box::new(updated))
}

/// One attempt of the generic scheduler.
pub(crate) struct Generic<'r, 'a, S> {
    pub run: &'r mut Run<'a, S>,
    pub batch: bool,
}

impl<S: State> Generic<'_, '_, S> {
    /// Runs one attempt against `state`; `Ok(true)` when done.
    pub(crate) fn attempt(&mut self, state: &S) -> Result<bool, SchedulerError> {
        let run = &mut *self.run;
        let eval = run.eval;
        let job = state.job_by_id(&eval.namespace, &eval.job_id);
        let kind = if self.batch {
            Kind::Batch
        } else {
            Kind::Service
        };
        let (mut ring, by_dc) = match job.as_ref().filter(|j| !j.is_stopped()) {
            Some(j) => ready_nodes(state, j),
            None => (Vec::new(), BTreeMap::new()),
        };
        let seed = run.options.seed ^ shuffle_seed(&eval.id, state.latest_index());
        shuffle(&mut Rng::new(seed), &mut ring);
        let deployment = if self.batch {
            None
        } else {
            state.latest_deployment_by_job(&eval.namespace, &eval.job_id)
        };
        let ids = std::mem::replace(&mut run.ids, IdSource::new(0));
        let mut ctx = Ctx::new(
            state,
            eval,
            job,
            kind,
            ring,
            by_dc,
            run.options.now,
            seed,
            ids,
        );
        run.failed.clear();
        run.queued.clear();
        run.annotations = None;

        let followups = compute_job_allocs(&mut ctx, run, deployment);
        run.ids = std::mem::replace(&mut ctx.ids, IdSource::new(0));
        run.note_eligibility(&ctx);

        if eval.status != eval_status::BLOCKED
            && !run.failed.is_empty()
            && run.blocked.is_none()
            && (followups.is_empty() || wait_until_passed(eval, run.options.now))
        {
            run.create_blocked(false, None)?;
        }

        if ctx.plan.is_no_op() && !eval.annotate_plan {
            return Ok(true);
        }

        if !followups.is_empty() && eval.wait_until.is_zero() {
            for mut f in followups {
                f.previous_eval = eval.id.clone();
                run.next_eval = Some(f.id.clone());
                run.planner_create_eval(&f)?;
            }
        }

        if eval.annotate_plan {
            ctx.plan.annotations = run.annotations.clone();
        }
        let created = std::mem::take(&mut ctx.created);
        let plan = std::mem::take(&mut ctx.plan);
        drop(ctx);
        run.submit(plan, &created, true)
    }
}

fn wait_until_passed(eval: &Evaluation, now: i64) -> bool {
    eval.wait_until.to_unix_nanos().is_none_or(|t| now > t)
}

/// Reconciles and places; returns the follow-up evaluations to create.
fn compute_job_allocs<S: State>(
    ctx: &mut Ctx<'_, S>,
    run: &mut Run<'_, S>,
    deployment: Option<Arc<Deployment>>,
) -> Vec<Evaluation> {
    let state = ctx.state;
    let eval = ctx.eval;
    let allocs = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let tainted = tainted_nodes(state, &allocs);

    let input = ClusterInput {
        job: ctx.job.clone(),
        job_id: eval.job_id.clone(),
        namespace: eval.namespace.clone(),
        eval_id: eval.id.clone(),
        eval_priority: eval.priority,
        eval_trigger: eval.triggered_by.clone(),
        batch: ctx.kind == Kind::Batch,
        existing: &allocs,
        tainted_nodes: &tainted,
        deployment: deployment.clone(),
        now: ctx.now,
    };
    let mut id_rng = IdSource::new(crate::util::digest(&eval.id) ^ run.options.seed ^ 0x1D);
    let mut new_id = || id_rng.next_id();
    let result = {
        let mut update = |existing: &Allocation, job: &Job, tg: &TaskGroup| {
            inplace_decision(ctx, existing, job, tg)
        };
        reconcile(&input, &mut update, &mut new_id)
    };

    run.annotations = Some(nomad_types::PlanAnnotations {
        desired_tg_updates: result.desired_tg_updates.clone(),
        preempted_allocs: Vec::new(),
    });
    ctx.plan.deployment = result.deployment.clone();
    ctx.plan.deployment_updates = result.deployment_updates.clone();
    let followups: Vec<Evaluation> = result
        .desired_followup_evals
        .values()
        .flatten()
        .cloned()
        .collect();
    let deployment_id = match &result.deployment {
        Some(d) => Some(d.id.clone()),
        None => deployment.as_ref().map(|d| d.id.clone()),
    };
    let active_deployment = match &result.deployment {
        Some(d) => d.active().then(|| d.id.clone()),
        None => deployment
            .as_ref()
            .filter(|d| d.active())
            .map(|d| d.id.clone()),
    };
    run.deployment_id = deployment_id.clone();
    let has_deployment = deployment_id.is_some();

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
    for update in &result.inplace_update {
        let mut update = update.clone();
        let did = deployment_id.clone().unwrap_or_default();
        if update.deployment_id != did {
            update.deployment_id = did;
            update.deployment_status = None;
        }
        let existing = state.alloc_by_id(&update.id);
        ctx.place(update, existing.as_deref());
    }
    for update in result.attribute_updates.values() {
        let existing = state.alloc_by_id(&update.id);
        ctx.place(update.clone(), existing.as_deref());
    }

    if let Some(job) = ctx.job.clone() {
        for tg in &job.task_groups {
            run.queued.insert(tg.name().to_string(), 0);
        }
    }
    if result.place.is_empty() && result.destructive_update.is_empty() {
        return followups;
    }
    for p in &result.destructive_update {
        *run.queued.entry(p.place_task_group.clone()).or_default() += 1;
    }
    for p in &result.place {
        *run.queued.entry(p.task_group.clone()).or_default() += 1;
    }

    ctx.reserve(result.place.len() + result.destructive_update.len());
    ctx.reset_limit();
    ctx.ring.rewind();
    let preempt = ctx
        .config
        .preemption_enabled(ctx.job.as_ref().map_or(job_type::SERVICE, |j| j.job_type()));
    for d in &result.destructive_update {
        let placement = Placement {
            name: d.place_name.clone(),
            task_group: d.place_task_group.clone(),
            index: nomad_reconcile::allocs::name_index(&d.place_name),
            previous_alloc: Some(d.stop_alloc.clone()),
            reschedule: false,
            canary: false,
            lost: false,
            downgrade_non_canary: false,
            min_job_version: 0,
        };
        place_one(
            ctx,
            run,
            &placement,
            Some(&d.stop_description),
            preempt,
            active_deployment.as_deref(),
            has_deployment,
        );
    }
    for p in &result.place {
        place_one(
            ctx,
            run,
            p,
            None,
            preempt,
            active_deployment.as_deref(),
            has_deployment,
        );
    }
    followups
}

/// Finds a node for one placement and adds it to the plan, or records the
/// failure.
#[allow(clippy::too_many_arguments)]
fn place_one<S: State>(
    ctx: &mut Ctx<'_, S>,
    run: &mut Run<'_, S>,
    missing: &Placement,
    stop_previous: Option<&str>,
    preempt: bool,
    deployment_id: Option<&str>,
    has_deployment: bool,
) {
    let Some(g) = ctx.groups.iter().position(|s| s.name == missing.task_group) else {
        return;
    };
    let Some(job) = ctx.job.clone() else { return };
    let Some(tg) = job.lookup_task_group(&missing.task_group) else {
        return;
    };
    if let Some(metric) = run.failed.get_mut(&missing.task_group) {
        metric.coalesced_failures += 1;
        exhaust_resources(metric, tg);
        return;
    }

    // A replacement of an allocation that is not a canary, while a newer
    // version is canarying, runs the version the group last rolled out
    // (Nomad's downgrade), not the version waiting for promotion.
    let older = missing
        .downgrade_non_canary
        .then(|| {
            downgraded_job(
                ctx.state,
                &job,
                &missing.task_group,
                missing.min_job_version,
            )
        })
        .flatten()
        .filter(|(j, _)| {
            j.version() >= missing.min_job_version
                && j.lookup_task_group(&missing.task_group).is_some()
        });
    match older {
        Some((old, old_deployment)) => {
            let old_tg = old
                .lookup_task_group(&missing.task_group)
                .expect("checked above");
            let swap = ctx.begin_job_swap(g, old.clone(), old_tg);
            let deployment = (!old_deployment.is_empty()).then_some(old_deployment.as_str());
            place_for(
                ctx,
                run,
                missing,
                stop_previous,
                preempt,
                deployment,
                false,
                (&old, g),
            );
            ctx.end_job_swap(g, swap);
        }
        None => place_for(
            ctx,
            run,
            missing,
            stop_previous,
            preempt,
            deployment_id,
            has_deployment,
            (&job, g),
        ),
    }
}

/// The version of the job a non-canary replacement in `group` runs while
/// a newer version is canarying, with the ID of the deployment that
/// rolled it out (empty when none did): the newest version whose
/// deployment promoted the group or placed it without canaries; else,
/// when the job had no update block then, the version `job_version` the
/// replaced allocation ran (Nomad's `downgradedJobForPlacement`).
fn downgraded_job<S: State + ?Sized>(
    state: &S,
    job: &Job,
    group: &str,
    job_version: u64,
) -> Option<(Arc<Job>, String)> {
    let (ns, id) = (job.namespace(), job.id());
    let mut deployments = state.deployments_by_job(ns, id);
    deployments.sort_by_key(|d| std::cmp::Reverse(d.job_version));
    for d in &deployments {
        if let Some(s) = d.task_groups.get(group) {
            if s.promoted || s.desired_canaries == 0 {
                return state
                    .job_by_id_and_version(ns, id, d.job_version)
                    .map(|j| (j, d.id.clone()));
            }
        }
    }
    let old = state.job_by_id_and_version(ns, id, job_version)?;
    nomad_reconcile::deployment::update_is_empty(old.update.as_ref()).then(|| (old, String::new()))
}

/// Finds a node for one placement of `job`'s group `g` and adds it to the
/// plan, or records the failure.
#[allow(clippy::too_many_arguments)]
fn place_for<S: State>(
    ctx: &mut Ctx<'_, S>,
    run: &mut Run<'_, S>,
    missing: &Placement,
    stop_previous: Option<&str>,
    preempt: bool,
    deployment_id: Option<&str>,
    has_deployment: bool,
    (job, g): (&Arc<Job>, usize),
) {
    let Some(tg) = job.lookup_task_group(&missing.task_group) else {
        return;
    };
    let prev = missing.previous_alloc.clone();
    let preferred = prev.as_ref().and_then(|p| preferred_node(ctx, job, tg, p));
    if let (Some(desc), Some(p)) = (stop_previous, &prev) {
        ctx.stop(p, desc, None, None);
    }
    let penalties = prev.as_deref().map(penalty_nodes).unwrap_or_default();
    let mut opts = SelectOptions {
        penalty_nodes: &penalties,
        preferred,
        preempt: false,
        alloc_name: &missing.name,
    };
    let mut option = ctx.select(g, &opts, Source::Ring);
    if option.is_none() && preempt {
        opts.preempt = true;
        option = ctx.select(g, &opts, Source::Ring);
    }
    let mut metric = ctx.metrics.to_alloc_metric(
        &ctx.labels,
        &ctx.classes,
        &mut ctx.table,
        ctx.state,
        &mut ctx.map_memo,
    );
    metric.nodes_available = ctx.by_dc.clone();
    metric.nodes_in_pool = ctx.table.ring_len as i64;
    metric.node_pool = ctx.pool.clone();

    let Some(option) = option else {
        exhaust_resources(&mut metric, tg);
        metric.explanation = explain(ctx, g, &metric);
        run.failed.insert(missing.task_group.clone(), metric);
        if let (Some(_), Some(p)) = (stop_previous, &prev) {
            ctx.pop_stop(p);
        }
        if let Some(p) = prev.as_ref().filter(|_| missing.reschedule) {
            mark_failed_to_reschedule(ctx, p);
        }
        return;
    };

    let node = ctx.table.node(option.slot).clone();
    let resources = ctx.allocated_resources(g, &option);
    let mut alloc = Allocation {
        id: ctx.ids.next_id(),
        namespace: job.namespace().to_string(),
        eval_id: ctx.eval.id.clone(),
        name: missing.name.clone(),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.id().to_string(),
        job: Some(job.clone()),
        task_group: missing.task_group.clone(),
        allocated_resources: Some(resources),
        metrics: None,
        desired_status: alloc_desired_status::RUN.to_string(),
        client_status: alloc_client_status::PENDING.to_string(),
        deployment_id: deployment_id.unwrap_or_default().to_string(),
        create_time: ctx.now,
        modify_time: ctx.now,
        ..Allocation::default()
    };
    if let Some(p) = &prev {
        alloc.previous_allocation = p.id.clone();
        if missing.reschedule {
            alloc.reschedule_tracker = Some(reschedule_tracker(p, ctx.now));
            annotate_previous(ctx, p, LAST_RESCHEDULE_SUCCESS);
        }
    }
    if missing.canary && has_deployment {
        alloc.deployment_status = Some(AllocDeploymentStatus {
            canary: true,
            ..AllocDeploymentStatus::default()
        });
    }
    for victim in &option.preempted {
        ctx.preempt(victim, &alloc.id);
        alloc.preempted_allocations.push(victim.id.clone());
        if let Some(a) = run.annotations.as_mut() {
            a.preempted_allocs.push(victim.stub());
            if let Some(d) = a.desired_tg_updates.get_mut(&missing.task_group) {
                d.preemptions += 1;
            }
        }
    }
    alloc.metrics = Some(metric);
    ctx.created.insert(alloc.id.clone());
    ctx.place_on(alloc, None, Some(option.slot));
}

/// The node a replacement should try first: the previous allocation's,
/// when its ephemeral disk is sticky or migrates and the node is ready.
fn preferred_node<S: State + ?Sized>(
    ctx: &Ctx<'_, S>,
    job: &Job,
    tg: &TaskGroup,
    prev: &Allocation,
) -> Option<Arc<nomad_types::Node>> {
    let prev_job = prev.job.as_ref()?;
    if job_pool(prev_job) != job_pool(job) || prev_job.datacenters != job.datacenters {
        return None;
    }
    let disk = tg.ephemeral_disk.as_ref()?;
    if !(disk.sticky.unwrap_or(false) || disk.migrate.unwrap_or(false)) {
        return None;
    }
    ctx.state
        .node_by_id(&prev.node_id)
        .filter(|n| crate::nodes::is_ready(n))
}

/// Sets `LastReschedule` on the plan's copy of `prev`.
fn annotate_previous<S: State + ?Sized>(ctx: &mut Ctx<'_, S>, prev: &Allocation, note: &str) {
    for list in [
        ctx.plan.node_update.get_mut(&prev.node_id),
        ctx.plan.node_allocation.get_mut(&prev.node_id),
    ]
    .into_iter()
    .flatten()
    {
        for a in list.iter_mut().filter(|a| a.id == prev.id) {
            let a = Arc::make_mut(a);
            a.reschedule_tracker
                .get_or_insert_with(Default::default)
                .last_reschedule = note.to_string();
        }
    }
}

/// Records that `prev` could not be replaced, so the next blocked
/// evaluation retries it without losing its reschedule history.
fn mark_failed_to_reschedule<S: State + ?Sized>(ctx: &mut Ctx<'_, S>, prev: &Allocation) {
    let mut updated = prev.clone();
    updated
        .reschedule_tracker
        .get_or_insert_with(Default::default)
        .last_reschedule = LAST_RESCHEDULE_FAILED_TO_PLACE.to_string();
    ctx.pop_stop(prev);
    if let Some(list) = ctx.plan.node_allocation.get_mut(&prev.node_id) {
        if let Some(slot) = list.iter_mut().find(|a| a.id == prev.id) {
            *slot = Arc::new(updated);
            return;
        }
    }
    ctx.place(updated, Some(prev));
}
