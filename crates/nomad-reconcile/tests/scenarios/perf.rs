//! Large jobs: the reconcilers stay near-linear.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn large_cluster_job_reconciles_quickly() {
    let mut v0 = service(5000);
    set_update(&mut v0, |u| u.max_parallel = Some(50));
    let a0 = Arc::new(v0.clone());
    let mut v1 = next_version(&v0, true);
    web(&mut v1).count = Some(5200);
    let mut existing = Vec::new();
    for i in 0..5000u64 {
        let mut a = alloc_in(&a0, "web", i, &format!("n{}", i % 400));
        match i % 50 {
            0 => a = failed_at(a, NOW - 10 * MINUTE),
            1 => a.desired_transition.migrate = Some(true),
            _ => {}
        }
        existing.push(a);
    }
    let c = Cluster::new(&v1, existing)
        .taint(node("n7", "down"))
        .taint(draining("n1"));
    let start = Instant::now();
    let r = c.run();
    let took = start.elapsed();
    assert!(!r.place.is_empty());
    assert!(r.place.len() as i64 <= 5200);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn large_system_job_reconciles_quickly() {
    let v0 = job_of("system", 1);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let ids: Vec<String> = (0..5000).map(|i| format!("n{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let existing = (0..4900)
        .map(|i| {
            let mut a = alloc_in(&a0, "web", 0, &format!("n{i}"));
            a.id = format!("a{i}");
            a
        })
        .collect();
    let c = Nodes::new(&v1, &refs, existing);
    let start = Instant::now();
    let r = c.run();
    let took = start.elapsed();
    assert_eq!(r.place.len(), 100);
    assert_eq!(r.destructive_update.len(), 1);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
