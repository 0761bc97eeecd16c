use std::collections::BTreeMap;

use nomad_types::resources::Port;
use nomad_types::task::{LogConfig, TaskLifecycle, Template};
use nomad_types::{Constraint, Service, Task};

use super::*;

/// A change applied to a copy of the test job.
type Change = Box<dyn FnOnce(&mut Job)>;

fn job() -> Job {
    let mut task = Task::new("web", "docker");
    task.config
        .insert("image".into(), Value::String("nginx:1".into()));
    task.env.insert("A".into(), "1".into());
    let mut g = TaskGroup::new("g", 3);
    g.tasks.push(task);
    g.networks.push(NetworkResource {
        mode: "bridge".into(),
        dynamic_ports: vec![Port {
            label: "http".into(),
            to: 8080,
            ..Port::default()
        }],
        ..NetworkResource::default()
    });
    let mut j = Job::new("example", "service");
    j.task_groups.push(g);
    j.canonicalize();
    j
}

fn changed(f: impl FnOnce(&mut Job)) -> Option<&'static str> {
    let old = job();
    let mut new = old.clone();
    f(&mut new);
    tasks_updated_reason(&old, &new, "g")
}

fn task(j: &mut Job) -> &mut Task {
    &mut j.task_groups[0].tasks[0]
}

#[test]
fn identical_jobs_are_not_updated() {
    assert_eq!(changed(|_| {}), None);
    assert!(!tasks_updated(&job(), &job(), "g"));
}

#[test]
fn destructive_changes() {
    let cases: Vec<(&str, Change)> = vec![
        ("task driver", Box::new(|j| task(j).driver = "exec".into())),
        ("task user", Box::new(|j| task(j).user = "nobody".into())),
        (
            "task config",
            Box::new(|j| {
                task(j)
                    .config
                    .insert("image".into(), Value::String("nginx:2".into()));
            }),
        ),
        (
            "task env",
            Box::new(|j| {
                task(j).env.insert("B".into(), "2".into());
            }),
        ),
        (
            "task cpu",
            Box::new(|j| task(j).resources.as_mut().unwrap().cpu = Some(500)),
        ),
        (
            "task memory",
            Box::new(|j| task(j).resources.as_mut().unwrap().memory_mb = Some(512)),
        ),
        (
            "task meta",
            Box::new(|j| {
                j.meta.insert("owner".into(), "ops".into());
            }),
        ),
        (
            "task templates",
            Box::new(|j| task(j).templates.push(Template::default())),
        ),
        (
            "task artifacts",
            Box::new(|j| task(j).artifacts.push(Default::default())),
        ),
        (
            "network port map",
            Box::new(|j| j.task_groups[0].networks[0].dynamic_ports[0].to = 9090),
        ),
        (
            "network mode",
            Box::new(|j| j.task_groups[0].networks[0].mode = "host".into()),
        ),
        (
            "ephemeral disk",
            Box::new(|j| j.task_groups[0].ephemeral_disk.as_mut().unwrap().size_mb = Some(1000)),
        ),
        (
            "number of tasks",
            Box::new(|j| j.task_groups[0].tasks.push(Task::new("side", "docker"))),
        ),
        (
            "task log disabled",
            Box::new(|j| task(j).log_config.as_mut().unwrap().disabled = Some(true)),
        ),
        (
            "group restart render_templates",
            Box::new(|j| {
                j.task_groups[0]
                    .restart_policy
                    .as_mut()
                    .unwrap()
                    .render_templates = Some(true)
            }),
        ),
        (
            "volume request",
            Box::new(|j| {
                j.task_groups[0]
                    .volumes
                    .insert("data".into(), Default::default());
            }),
        ),
    ];
    for (want, f) in cases {
        assert_eq!(changed(f), Some(want), "{want}");
    }
}

#[test]
fn in_place_changes() {
    let cases: Vec<Change> = vec![
        Box::new(|j| j.task_groups[0].count = Some(10)),
        Box::new(|j| {
            j.task_groups[0]
                .constraints
                .push(Constraint::new("${attr.kernel.name}", "=", "linux"))
        }),
        Box::new(|j| {
            j.task_groups[0].services.push(Service {
                name: "web".into(),
                ..Service::default()
            })
        }),
        Box::new(|j| task(j).kill_timeout = Some(nomad_types::Nanos::from_secs(30))),
        Box::new(|j| {
            task(j).log_config = Some(LogConfig {
                max_files: Some(3),
                ..LogConfig::default_config()
            })
        }),
        Box::new(|j| {
            task(j).lifecycle = Some(TaskLifecycle {
                hook: "prestart".into(),
                sidecar: false,
            })
        }),
        // A dynamic port's assigned value does not matter.
        Box::new(|j| j.task_groups[0].networks[0].dynamic_ports[0].value = 23456),
        Box::new(|j| j.priority = Some(80)),
    ];
    for (i, f) in cases.into_iter().enumerate() {
        assert_eq!(changed(f), None, "case {i}");
    }
}

#[test]
fn meta_layers_merge_before_comparing() {
    // Moving a key from the job to the task with the same value is no change.
    let mut old = job();
    old.meta.insert("k".into(), "v".into());
    let mut new = job();
    task(&mut new).meta.insert("k".into(), "v".into());
    assert!(!tasks_updated(&old, &new, "g"));
    // The task value shadows the job value.
    task(&mut new).meta.insert("k".into(), "other".into());
    assert!(tasks_updated(&old, &new, "g"));
}

#[test]
fn connect_changes() {
    let with_connect = |port: &str| {
        let mut j = job();
        let mut sidecar = serde_json::Map::new();
        sidecar.insert("Port".into(), Value::String(port.into()));
        let mut connect = serde_json::Map::new();
        connect.insert("SidecarService".into(), Value::Object(sidecar));
        j.task_groups[0].services.push(Service {
            name: "api".into(),
            port_label: "http".into(),
            connect: Some(Value::Object(connect)),
            ..Service::default()
        });
        j
    };
    let a = with_connect("http");
    assert!(!tasks_updated(&a, &with_connect("http"), "g"));
    assert_eq!(
        tasks_updated_reason(&a, &with_connect("admin"), "g"),
        Some("connect port")
    );
    let mut b = with_connect("http");
    b.task_groups[0].services[0].port_label = "other".into();
    assert_eq!(
        tasks_updated_reason(&a, &b, "g"),
        Some("connect service port label")
    );
    let mut c = with_connect("http");
    c.task_groups[0].services[0].tags.push("v2".into());
    assert!(!tasks_updated(&a, &c, "g"));
}

#[test]
fn missing_group_is_destructive() {
    let old = job();
    let mut new = old.clone();
    new.task_groups[0].name = Some("other".into());
    assert!(tasks_updated(&old, &new, "g"));
    assert!(tasks_updated(&new, &old, "g"));
}

#[test]
fn uncanonicalized_defaults_match_canonical() {
    let mut raw = Job::new("example", "service");
    let mut g = TaskGroup::new("g", 1);
    g.tasks.push(Task::new("web", "docker"));
    raw.task_groups.push(g);
    let mut canon = raw.clone();
    canon.canonicalize();
    assert!(!tasks_updated(&raw, &canon, "g"));
}

#[test]
fn precheck() {
    let old = Arc::new(job());
    let alloc = Allocation {
        job: Some(old.clone()),
        task_group: "g".into(),
        client_status: "running".into(),
        ..Allocation::default()
    };
    let g = old.task_groups[0].clone();
    assert_eq!(
        precheck_update(&alloc, &old, &g),
        Some(UpdateDecision::Ignore)
    );
    let mut newer = (*old).clone();
    newer.job_modify_index = Some(7);
    assert_eq!(precheck_update(&alloc, &newer, &g), None);
    task(&mut newer).driver = "exec".into();
    assert_eq!(
        precheck_update(&alloc, &newer, &g),
        Some(UpdateDecision::Destructive)
    );
    let no_job = Allocation::default();
    assert_eq!(
        precheck_update(&no_job, &newer, &g),
        Some(UpdateDecision::Destructive)
    );
    let _ = BTreeMap::<String, String>::new();
}

use std::sync::Arc;
