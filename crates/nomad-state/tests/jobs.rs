//! Jobs: versions, modify indexes, statuses, summaries, deregistration.

mod common;

use common::*;
use nomad_state::command::*;
use nomad_state::{ApplyError, Command, StoreConfig, Table};
use nomad_types::consts::job_status;

#[test]
fn register_sets_indexes_version_and_submit_time() {
    let mut c = Cluster::default();
    let r = c.register(job("web", &[("g", 1)]));
    assert_eq!(r.index, 1);
    assert_eq!(
        r.job_modify_index,
        Some(1),
        "JobModifyIndex is the entry's index"
    );
    assert_eq!(r.job_version, Some(0));
    assert_eq!(r.spec_changed, Some(true));
    assert_eq!(r.evals, vec!["eval-web-1".to_string()]);
    let s = c.snap();
    let j = s.job_by_id("default", "web").unwrap();
    assert_eq!(
        (j.create_index, j.modify_index, j.job_modify_index),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(j.submit_time, Some(1_700_000_000_000_000_001));
    assert_eq!(j.node_pool.as_deref(), Some("default"));
    assert_eq!(
        j.status.as_deref(),
        Some(job_status::PENDING),
        "a pending eval makes it pending"
    );
    assert_eq!(s.eval_by_id("eval-web-1").unwrap().job_modify_index, 1);
    assert_eq!(s.table_index(Table::Jobs), 1);
    assert_eq!(s.latest_index(), 1);
    let summary = s.job_summary("default", "web").unwrap();
    assert!(summary.summary.contains_key("g"));
    assert_eq!(summary.create_index, 1);
}

#[test]
fn new_version_only_when_the_spec_changes() {
    let mut c = Cluster::default();
    c.register(job("web", &[("g", 1)]));
    // Same spec again: no new version, JobModifyIndex unchanged, eval written.
    let r = c.register(job("web", &[("g", 1)]));
    assert_eq!(r.spec_changed, Some(false));
    assert_eq!(r.job_modify_index, Some(1));
    assert_eq!(r.job_version, Some(0));
    let s = c.snap();
    assert_eq!(s.job_versions("default", "web").len(), 1);
    assert!(s.eval_by_id("eval-web-2").is_some());
    assert_eq!(s.eval_by_id("eval-web-2").unwrap().job_modify_index, 1);

    // Changed count: version 1 at index 3.
    let r = c.register(job("web", &[("g", 3)]));
    assert_eq!((r.job_modify_index, r.job_version), (Some(3), Some(1)));
    let s = c.snap();
    let j = s.job_by_id("default", "web").unwrap();
    assert_eq!(
        (j.create_index, j.job_modify_index, j.version),
        (Some(1), Some(3), Some(1))
    );
    let versions: Vec<u64> = s
        .job_versions("default", "web")
        .iter()
        .map(|j| j.version())
        .collect();
    assert_eq!(versions, vec![1, 0], "newest first");
    assert_eq!(
        s.job_by_id_and_version("default", "web", 0)
            .unwrap()
            .task_groups[0]
            .count,
        Some(1)
    );
}

#[test]
fn keeps_the_last_six_versions_and_the_newest_stable_one() {
    let mut c = Cluster::default();
    for n in 0..8 {
        c.register(job("web", &[("g", n + 1)]));
    }
    let s = c.snap();
    let versions: Vec<u64> = s
        .job_versions("default", "web")
        .iter()
        .map(|j| j.version())
        .collect();
    assert_eq!(versions, vec![7, 6, 5, 4, 3, 2]);

    // Mark version 2 stable; the next registration keeps it in place of 3.
    c.ok(Command::JobStability(JobStability {
        namespace: "default".into(),
        job_id: "web".into(),
        job_version: 2,
        stable: true,
    }));
    c.register(job("web", &[("g", 100)]));
    let s = c.snap();
    let versions: Vec<u64> = s
        .job_versions("default", "web")
        .iter()
        .map(|j| j.version())
        .collect();
    assert_eq!(versions, vec![8, 7, 6, 5, 4, 2]);
    assert_eq!(s.job_by_id("default", "web").unwrap().stable, Some(false));

    // A smaller history is configurable.
    let mut c = Cluster {
        store: nomad_state::StateStore::new(StoreConfig {
            job_tracked_versions: 2,
        }),
        next: 1,
    };
    for n in 0..4 {
        c.register(job("web", &[("g", n + 1)]));
    }
    assert_eq!(c.snap().job_versions("default", "web").len(), 2);
}

#[test]
fn a_job_marked_canonical_is_stored_as_one_canonicalized_on_apply() {
    // The API's register path canonicalizes before proposing and marks the
    // entry; apply then skips canonicalizing. The state must not differ.
    let mut submitted = job("web", &[("g", 2)]);
    submitted.task_groups[0].tasks[0].kill_timeout = None;
    submitted.datacenters.clear();
    let mut canonical = submitted.clone();
    canonical.canonicalize();
    let (mut a, mut b) = (Cluster::default(), Cluster::default());
    a.ok(Command::JobRegister(JobRegister {
        job: submitted,
        ..JobRegister::default()
    }));
    b.ok(Command::JobRegister(JobRegister {
        job: canonical,
        canonical: true,
        ..JobRegister::default()
    }));
    let (ja, jb) = (
        a.snap().job_by_id("default", "web"),
        b.snap().job_by_id("default", "web"),
    );
    assert!(ja.is_some());
    assert_eq!(ja, jb);
    assert_eq!(
        jb.map(|j| j.datacenters.clone()),
        Some(vec!["*".to_string()]),
        "the stored job is canonical"
    );
}

#[test]
fn check_index_is_enforced() {
    let mut c = Cluster::default();
    let reg = |idx: Option<u64>, count| {
        Command::JobRegister(JobRegister {
            job: job("web", &[("g", count)]),
            enforce_index: idx,
            ..JobRegister::default()
        })
    };
    c.ok(reg(Some(0), 1));
    let r = c.apply(reg(Some(0), 2));
    assert!(
        matches!(r.error, Some(ApplyError::Conflict(ref m)) if m.contains("already exists")),
        "{r:?}"
    );
    let r = c.apply(reg(Some(7), 2));
    assert!(r.error.is_some());
    assert_eq!(
        c.snap().job_by_id("default", "web").unwrap().version(),
        0,
        "refused entries change nothing"
    );
    let r = c.ok(reg(Some(1), 2));
    assert_eq!(r.job_version, Some(1));
}

#[test]
fn status_follows_evals_and_allocs() {
    let mut c = Cluster::default();
    c.add_node("n1");
    c.register(job("web", &[("g", 1)]));
    let status = |c: &Cluster| {
        c.snap()
            .job_by_id("default", "web")
            .unwrap()
            .status
            .clone()
            .unwrap()
    };
    assert_eq!(status(&c), job_status::PENDING);

    let j = c.snap().job_by_id("default", "web").unwrap();
    c.place(&j, vec![alloc("a1", "web", "g", "n1", "eval-web-2")]);
    assert_eq!(
        status(&c),
        job_status::RUNNING,
        "a live allocation makes it running"
    );
    c.complete_eval("eval-web-2");
    assert_eq!(status(&c), job_status::RUNNING);

    c.client_status("a1", "complete");
    assert_eq!(
        status(&c),
        job_status::DEAD,
        "all allocations and evals terminal"
    );

    // Stop: a new version, stopped, dead once nothing runs.
    let r = c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        submit_time: 42,
        ..JobDeregister::default()
    }));
    let j = c.snap().job_by_id("default", "web").unwrap();
    assert_eq!(j.stop, Some(true));
    assert_eq!(j.submit_time, Some(42));
    assert_eq!(r.job_version, Some(1));
    assert_eq!(j.status.as_deref(), Some(job_status::DEAD));
}

#[test]
fn system_and_periodic_jobs_run_until_stopped() {
    let mut c = Cluster::default();
    let mut sys = job("sys", &[("g", 1)]);
    sys.job_type = Some("system".into());
    c.ok(Command::JobRegister(JobRegister {
        job: sys,
        ..JobRegister::default()
    }));
    assert_eq!(
        c.snap()
            .job_by_id("default", "sys")
            .unwrap()
            .status
            .as_deref(),
        Some(job_status::RUNNING)
    );

    let mut p = job("cron", &[("g", 1)]);
    p.periodic = Some(nomad_types::PeriodicConfig {
        spec: Some("*/5 * * * *".into()),
        ..Default::default()
    });
    c.ok(Command::JobRegister(JobRegister {
        job: p,
        submit_time: 777,
        ..JobRegister::default()
    }));
    let s = c.snap();
    assert_eq!(
        s.job_by_id("default", "cron").unwrap().status.as_deref(),
        Some(job_status::RUNNING)
    );
    assert_eq!(
        s.periodic_launch("default", "cron").unwrap().launch,
        777,
        "registration time recorded as first launch"
    );

    // A child of the periodic job records its launch time on the parent.
    let mut child = job("cron/periodic-1700000000", &[("g", 1)]);
    child.parent_id = Some("cron".into());
    c.ok(Command::JobRegister(JobRegister {
        job: child,
        submit_time: 800,
        ..JobRegister::default()
    }));
    let s = c.snap();
    assert_eq!(
        s.periodic_launch("default", "cron").unwrap().launch,
        1_700_000_000_000_000_000
    );
    let children = s
        .job_summary("default", "cron")
        .unwrap()
        .children
        .clone()
        .unwrap();
    assert_eq!(children.pending, 1, "the parent counts its pending child");
}

#[test]
fn purge_removes_the_job_and_everything_of_it() {
    let mut c = Cluster::default();
    c.add_node("n1");
    c.register(job("web", &[("g", 1)]));
    let j = c.snap().job_by_id("default", "web").unwrap();
    c.place(&j, vec![alloc("a1", "web", "g", "n1", "eval-web-2")]);
    let r = c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        eval: Some(eval("ev-dereg", "web")),
        ..JobDeregister::default()
    }));
    let s = c.snap();
    assert!(s.job_by_id("default", "web").is_none());
    assert!(s.job_versions("default", "web").is_empty());
    assert!(s.job_summary("default", "web").is_none());
    assert!(s.allocs_by_job("default", "web").is_empty());
    assert!(s.allocs_by_node("n1").is_empty());
    assert!(s.alloc_by_id("a1").is_none());
    assert_eq!(
        s.eval_by_id("eval-web-2").unwrap().status,
        "complete",
        "pending evals completed"
    );
    assert_eq!(s.eval_by_id("ev-dereg").unwrap().job_modify_index, r.index);
    s.check_indexes().unwrap();

    // Deregistering a missing job reports it but still writes the eval.
    let r = c.apply(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "nope".into(),
        eval: Some(eval("ev-nope", "nope")),
        ..JobDeregister::default()
    }));
    assert!(matches!(r.error, Some(ApplyError::NotFound { .. })));
    assert!(c.snap().eval_by_id("ev-nope").is_some());
}

#[test]
fn job_prefix_lookups_stay_in_their_namespace() {
    let mut c = Cluster::default();
    for id in ["web", "web-2", "api"] {
        c.register(job(id, &[("g", 1)]));
    }
    let mut other = job("web-3", &[("g", 1)]);
    other.namespace = Some("prod".into());
    c.ok(Command::JobRegister(JobRegister {
        job: other,
        ..JobRegister::default()
    }));
    let s = c.snap();
    let ids: Vec<&str> = s
        .jobs_by_id_prefix("default", "web")
        .map(|j| j.id())
        .collect();
    assert_eq!(ids, ["web", "web-2"]);
    assert_eq!(s.jobs_by_namespace("prod").count(), 1);
    assert_eq!(s.jobs().count(), 4);
}

#[test]
fn extreme_values_do_not_overflow() {
    let mut c = Cluster::default();
    let mut j = job("web", &[("g", i64::MAX)]);
    j.version = Some(u64::MAX);
    c.ok(Command::JobRegister(JobRegister {
        job: j.clone(),
        ..JobRegister::default()
    }));
    j.task_groups[0].count = Some(1);
    let r = c.ok(Command::JobRegister(JobRegister {
        job: j,
        ..JobRegister::default()
    }));
    assert_eq!(
        r.job_version,
        Some(u64::MAX),
        "saturates instead of wrapping"
    );
}

#[test]
fn scaling_events_keep_the_newest_per_group_and_go_with_the_job() {
    use nomad_types::api::ScalingEvent;
    let mut c = Cluster::default();
    c.register(job("web", &[("g", 1)]));
    // A count change registers the job (new version) and its evaluation in
    // the same entry as the event.
    let r = c.ok(Command::ScalingEventRegister(ScalingEventRegister {
        namespace: "default".into(),
        job_id: "web".into(),
        task_group: "g".into(),
        event: ScalingEvent {
            count: Some(3),
            previous_count: 1,
            eval_id: Some("eval-scale".into()),
            ..ScalingEvent::default()
        },
        job_register: Some(JobRegister {
            job: job("web", &[("g", 3)]),
            eval: Some(eval("eval-scale", "web")),
            submit_time: 9,
            ..JobRegister::default()
        }),
    }));
    assert_eq!(r.job_version, Some(1));
    assert_eq!(r.evals, vec!["eval-scale".to_string()]);
    let s = c.snap();
    assert_eq!(
        s.job_by_id("default", "web").unwrap().task_groups[0].count,
        Some(3)
    );
    let ev = s.scaling_events("default", "web").unwrap();
    assert_eq!(ev.scaling_events["g"][0].create_index, r.index);
    assert_eq!(s.table_index(Table::ScalingEvent), r.index);

    // Events alone, newest first, capped.
    for i in 0..25 {
        c.ok(Command::ScalingEventRegister(ScalingEventRegister {
            namespace: "default".into(),
            job_id: "web".into(),
            task_group: "g".into(),
            event: ScalingEvent {
                message: format!("m{i}"),
                ..ScalingEvent::default()
            },
            job_register: None,
        }));
    }
    let s = c.snap();
    let events = &s.scaling_events("default", "web").unwrap().scaling_events["g"];
    assert_eq!(events.len(), nomad_state::JOB_TRACKED_SCALING_EVENTS);
    assert_eq!(events[0].message, "m24");
    assert_eq!(s.job_by_id("default", "web").unwrap().version, Some(1));

    // Round trip through a snapshot image.
    let mut image = Vec::new();
    s.write_to(&mut image).unwrap();
    let mut restored = nomad_state::StateStore::default();
    restored.restore_from(&image[..]).unwrap();
    assert_eq!(
        restored.snapshot().scaling_events("default", "web"),
        s.scaling_events("default", "web")
    );

    // A missing job is refused; a purge removes the events.
    let r = c.apply(Command::ScalingEventRegister(ScalingEventRegister {
        namespace: "default".into(),
        job_id: "nope".into(),
        task_group: "g".into(),
        ..ScalingEventRegister::default()
    }));
    assert!(
        matches!(r.error, Some(ApplyError::NotFound { .. })),
        "{r:?}"
    );
    c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        ..JobDeregister::default()
    }));
    assert!(c.snap().scaling_events("default", "web").is_none());
}
