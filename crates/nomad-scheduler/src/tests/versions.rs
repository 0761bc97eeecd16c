//! Which job version a replacement runs while a newer version rolls out.
//!
//! Nomad's rules: while a new version waits for its canaries to be
//! promoted, a failed, lost or migrating allocation that is not a canary is
//! replaced with the version the group last rolled out (its downgrade);
//! during a rolling update without canaries the replacement runs the new
//! version and takes one of the `max_parallel` slots.

use super::*;
use nomad_reconcile::descriptions::{ALLOC_MIGRATING, ALLOC_RESCHEDULED, ALLOC_UPDATING};
use nomad_types::{AllocDeploymentStatus, DrainStrategy, UpdateStrategy};

fn update(max_parallel: i64, canary: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..UpdateStrategy::default_strategy()
    }
}

/// `web` (count 3, 256 MB) with `update`.
fn versioned(u: &UpdateStrategy) -> Job {
    let mut j = service("web", 3);
    j.update = Some(u.clone());
    j.task_groups[0].update = Some(u.clone());
    j
}

/// The same job asking for `memory_mb`: a destructive change.
fn with_memory(mut j: Job, memory_mb: i64) -> Job {
    resources(&mut j, 500, memory_mb);
    j
}

fn memory_of(a: &Allocation) -> i64 {
    a.allocated_resources.as_ref().unwrap().tasks["web"]
        .memory
        .memory_mb
}

fn version_of(a: &Allocation) -> u64 {
    a.job.as_ref().and_then(|j| j.version).unwrap_or(u64::MAX)
}

/// Marks every live allocation running and healthy, and the latest
/// deployment successful (what clients and the deployment watcher do).
fn settle(h: &mut H) {
    for a in h.live("web") {
        let mut a = (*a).clone();
        a.client_status = "running".into();
        a.deployment_status = Some(AllocDeploymentStatus {
            healthy: Some(true),
            canary: a.deployment_status.as_ref().is_some_and(|d| d.canary),
            ..AllocDeploymentStatus::default()
        });
        h.p.store.upsert_alloc(a);
    }
    if let Some(d) = h.p.store.latest_deployment_by_job("default", "web") {
        let mut d = (*d).clone();
        d.status = "successful".into();
        for s in d.task_groups.values_mut() {
            s.healthy_allocs = s.desired_total;
        }
        h.p.store.upsert_deployment(d);
    }
}

/// v0 (3 allocations, healthy), then v1 with a destructive change
/// registered and evaluated once.
fn rollout(u: &UpdateStrategy) -> (H, Arc<Job>) {
    let mut h = H::with_nodes(5);
    let v0 = h.register(versioned(u));
    h.eval(&v0);
    settle(&mut h);
    let v1 = h.register(with_memory(versioned(u), 300));
    h.eval(&v1);
    (h, v1)
}

fn old_allocs(h: &H) -> Vec<Arc<Allocation>> {
    let mut v: Vec<_> = h
        .live("web")
        .into_iter()
        .filter(|a| version_of(a) == 0)
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[test]
fn while_canarying_a_failed_old_allocation_is_replaced_with_the_old_version() {
    let (mut h, v1) = rollout(&update(1, 1));
    let live = h.live("web");
    assert_eq!(live.len(), 4, "three of v0 and one canary");
    let canaries: Vec<_> = live.iter().filter(|a| version_of(a) == 1).collect();
    assert_eq!(canaries.len(), 1);
    assert!(canaries[0].deployment_status.as_ref().unwrap().canary);
    let old_deployment =
        h.p.store
            .deployments_by_job("default", "web")
            .into_iter()
            .find(|d| d.job_version == 0)
            .expect("v0's deployment");

    let victim = old_allocs(&h)[0].clone();
    let mut failed = (*victim).clone();
    failed.client_status = "failed".into();
    failed.modify_time = 1_600_000_000_000_000_000;
    h.p.store.upsert_alloc(failed);
    let out = h.eval(&v1);
    assert_eq!(out.eval.status, "complete");

    let live = h.live("web");
    let replacement = live
        .iter()
        .find(|a| a.previous_allocation == victim.id)
        .expect("the failed allocation is replaced");
    assert_eq!(
        version_of(replacement),
        0,
        "runs the version being replaced"
    );
    assert_eq!(memory_of(replacement), 256, "with that version's resources");
    assert!(replacement
        .deployment_status
        .as_ref()
        .is_none_or(|d| !d.canary));
    assert_eq!(replacement.deployment_id, old_deployment.id);
    assert_eq!(replacement.name, victim.name);
    let stopped = h.p.store.alloc_by_id(&victim.id).unwrap();
    assert_eq!(stopped.desired_status, "stop");
    assert_eq!(stopped.desired_description, ALLOC_RESCHEDULED);
    // Still one v1 allocation: the canary, waiting for promotion.
    assert_eq!(live.iter().filter(|a| version_of(a) == 1).count(), 1);
    assert_eq!(live.iter().filter(|a| version_of(a) == 0).count(), 3);
}

#[test]
fn while_canarying_a_drained_old_allocation_migrates_with_its_version() {
    let (mut h, v1) = rollout(&update(1, 1));
    let victim = old_allocs(&h)[1].clone();
    let mut drained = (*h.node(&victim.node_id)).clone();
    drained.drain_strategy = Some(DrainStrategy::default());
    drained.scheduling_eligibility = "ineligible".into();
    h.add_node(drained);
    let mut migrating = (*victim).clone();
    migrating.desired_transition.migrate = Some(true);
    h.p.store.upsert_alloc(migrating);

    let out = h.eval(&v1);
    assert_eq!(out.eval.status, "complete");
    let live = h.live("web");
    let replacement = live
        .iter()
        .find(|a| a.previous_allocation == victim.id)
        .expect("the drained allocation is replaced");
    assert_eq!(version_of(replacement), 0);
    assert_eq!(memory_of(replacement), 256);
    assert_ne!(replacement.node_id, victim.node_id);
    let stopped = h.p.store.alloc_by_id(&victim.id).unwrap();
    assert_eq!(stopped.desired_description, ALLOC_MIGRATING);
    assert_eq!(live.iter().filter(|a| version_of(a) == 1).count(), 1);
}

#[test]
fn after_promotion_replacements_run_the_promoted_version() {
    let (mut h, v1) = rollout(&update(1, 1));
    // Promote v1's canary (what `job promote` records).
    let d =
        h.p.store
            .latest_deployment_by_job("default", "web")
            .unwrap();
    assert_eq!(d.job_version, 1);
    let mut promoted = (*d).clone();
    for s in promoted.task_groups.values_mut() {
        s.promoted = true;
    }
    h.p.store.upsert_deployment(promoted);
    let victim = old_allocs(&h)[0].clone();
    let mut failed = (*victim).clone();
    failed.client_status = "failed".into();
    failed.modify_time = 1_600_000_000_000_000_000;
    h.p.store.upsert_alloc(failed);
    h.eval(&v1);
    let replacement = h
        .live("web")
        .into_iter()
        .find(|a| a.previous_allocation == victim.id)
        .expect("replaced");
    assert_eq!(version_of(&replacement), 1);
    assert_eq!(memory_of(&replacement), 300);
}

/// Nomad's rolling update (no canaries): the replacement of a failed
/// allocation of the old version runs the new version at once, and it
/// takes the slot `max_parallel` would have given the next destructive
/// update.
#[test]
fn during_a_rolling_update_a_failed_old_allocation_is_replaced_by_the_new_version() {
    let (mut h, v1) = rollout(&update(1, 0));
    let updated: Vec<_> = h
        .live("web")
        .into_iter()
        .filter(|a| version_of(a) == 1)
        .collect();
    assert_eq!(updated.len(), 1, "max_parallel = 1");
    // The first new allocation becomes healthy: the rollout may update
    // one more, but a failure of the old version takes that slot.
    settle_one(&mut h, &updated[0]);
    let victim = old_allocs(&h)[0].clone();
    let mut failed = (*victim).clone();
    failed.client_status = "failed".into();
    failed.modify_time = 1_600_000_000_000_000_000;
    h.p.store.upsert_alloc(failed);
    let out = h.eval(&v1);
    assert_eq!(out.eval.status, "complete");

    let live = h.live("web");
    let replacement = live
        .iter()
        .find(|a| a.previous_allocation == victim.id)
        .expect("replaced");
    assert_eq!(version_of(replacement), 1);
    assert_eq!(memory_of(replacement), 300);
    let plan = out.last_plan.expect("a plan");
    let destructive = plan
        .node_update
        .values()
        .flatten()
        .filter(|a| a.desired_description == ALLOC_UPDATING)
        .count();
    assert_eq!(destructive, 0, "the replacement used the max_parallel slot");
    assert_eq!(old_allocs(&h).len(), 1);
}

fn settle_one(h: &mut H, a: &Allocation) {
    let mut a = a.clone();
    a.client_status = "running".into();
    a.deployment_status = Some(AllocDeploymentStatus {
        healthy: Some(true),
        ..AllocDeploymentStatus::default()
    });
    h.p.store.upsert_alloc(a);
}
