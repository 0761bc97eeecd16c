//! Preemption: higher-priority work evicts allocations at least 10
//! priority levels lower when the scheduler configuration allows it.

use nomad_types::SchedulerConfiguration;

use super::*;

/// One node nearly full with `count` allocations of a low job at
/// `priority`.
fn full_node(priority: i64) -> H {
    let mut h = H::with_nodes(1);
    let mut low = service("low", 3);
    low.priority = Some(priority);
    resources(&mut low, 1000, 2500);
    let out = h.run(low);
    assert_eq!(out.allocs_placed, 3);
    h
}

fn system_job(priority: i64) -> Job {
    let mut j = job("sys", "system", 1);
    j.priority = Some(priority);
    resources(&mut j, 1500, 2048);
    j
}

#[test]
fn system_job_preempts_lower_priority() {
    let mut h = full_node(20);
    let out = h.run(system_job(50));
    assert_eq!(out.eval.status, "complete");
    assert_eq!(h.live("sys").len(), 1);
    let placed = h.live("sys")[0].clone();
    assert_eq!(placed.preempted_allocations.len(), 1);
    let plan = h.p.plans.last().unwrap();
    let evicted: Vec<_> = plan.node_preemptions.values().flatten().collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].desired_status, "evict");
    assert_eq!(evicted[0].preempted_by_allocation, placed.id);
    assert_eq!(
        evicted[0].desired_description,
        format!("Preempted by alloc ID {}", placed.id)
    );
    assert_eq!(h.live("low").len(), 2);
}

#[test]
fn does_not_preempt_within_ten_priority_levels() {
    let mut h = full_node(45);
    let out = h.run(system_job(50));
    assert!(h.live("sys").is_empty());
    assert_eq!(h.live("low").len(), 3);
    let m = &out.eval.failed_tg_allocs["web"];
    assert_eq!(m.dimension_exhausted.get("cpu"), Some(&1));
}

#[test]
fn service_preemption_is_off_by_default_and_can_be_enabled() {
    let mut h = full_node(20);
    let mut high = service("high", 1);
    high.priority = Some(70);
    resources(&mut high, 1500, 2048);
    let out = h.run(high.clone());
    assert!(h.live("high").is_empty());
    assert!(out.blocked_eval.is_some());

    let mut config = SchedulerConfiguration::default();
    config.preemption_config.service_scheduler_enabled = true;
    h.p.store.set_scheduler_config(config);
    let job = h.p.store.job_by_id("default", "high").unwrap();
    let mut eval = h.next_eval(&job);
    eval.annotate_plan = true;
    let out = h.process(&eval);
    assert_eq!(h.live("high").len(), 1);
    assert_eq!(h.live("low").len(), 2);
    let ann = out.eval.plan_annotations.unwrap();
    assert_eq!(ann.preempted_allocs.len(), 1);
    assert_eq!(ann.desired_tg_updates["web"].preemptions, 1);
    let high = h.live("high");
    let meta = &high[0].metrics.as_ref().unwrap().score_meta_data;
    assert!(meta.iter().any(|m| m.scores.contains_key("preemption")));
}

#[test]
fn evicts_the_fewest_needed() {
    let mut h = H::with_nodes(1);
    let mut low = service("low", 4);
    low.priority = Some(10);
    resources(&mut low, 900, 1900);
    h.run(low);
    let mut j = system_job(60);
    resources(&mut j, 500, 2000);
    h.run(j);
    // 8192 − 4 × 1900 = 592 MB free; one eviction frees enough.
    assert_eq!(h.live("sys").len(), 1);
    assert_eq!(h.live("low").len(), 3);
}
