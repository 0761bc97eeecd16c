//! JSON behaviour a user of the API notices: round trips, Go's leniency,
//! null handling and error paths.

use nomad_types::json;
use nomad_types::{Allocation, Evaluation, Job, Nanos, Node};
use serde_json::Value;

const FULL_JOB: &str = include_str!("fixtures/full_job.json");

#[test]
fn fully_populated_job_round_trips() {
    let job: Job = json::from_str(FULL_JOB).unwrap();
    let group = &job.task_groups[0];
    assert_eq!(group.count, Some(3));
    assert_eq!(
        group.tasks[0].resources.as_ref().unwrap().memory_max_mb,
        Some(512)
    );
    assert_eq!(group.networks[0].dynamic_ports[0].to, 80);
    assert_eq!(group.tasks[0].kill_timeout, Some(Nanos::from_secs(10)));
    assert_eq!(group.tasks[0].config["image"], "nginx:1.25");
    assert_eq!(job.submit_time, Some(1_700_000_000_000_000_000));

    // Same JSON value back (every field, every null).
    let original: Value = serde_json::from_str(FULL_JOB).unwrap();
    let written = serde_json::to_value(&job).unwrap();
    assert_eq!(written, original);

    // And the typed value survives a second trip.
    let again: Job = json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
    assert_eq!(again, job);
}

#[test]
fn map_keys_are_written_sorted_like_go() {
    let job: Job = json::from_str(FULL_JOB).unwrap();
    let text = json::to_string_go(&job).unwrap();
    let z = text.find("\"Z-Key\"").unwrap();
    let owner = text.find("\"owner\":\"platform\"").unwrap();
    assert!(z < owner, "Go sorts map keys bytewise: uppercase first");
    // Nested free-form config objects are sorted too.
    let mut raw: Value =
        serde_json::from_str(r#"{"Config":{"b":{"z":1,"a":2},"a":true}}"#).unwrap();
    let task: nomad_types::Task = json::from_value(raw.take()).unwrap();
    let written = serde_json::to_value(&task).unwrap();
    assert_eq!(
        serde_json::to_string(&written["Config"]).unwrap(),
        r#"{"a":true,"b":{"a":2,"z":1}}"#
    );
}

#[test]
fn unset_pointer_fields_and_empty_lists_are_written_as_null() {
    let job = Job::new("example", "batch");
    let v = serde_json::to_value(&job).unwrap();
    assert_eq!(v["ID"], "example");
    assert_eq!(v["Priority"], Value::Null);
    assert_eq!(v["TaskGroups"], Value::Null);
    assert_eq!(v["Meta"], Value::Null);
    assert_eq!(v["Dispatched"], false);
    assert!(
        v.as_object().unwrap().contains_key("Update"),
        "None is written, not skipped"
    );
}

#[test]
fn field_names_match_ignoring_case_and_unknown_fields_are_ignored() {
    let text = r#"{
        "id": "api", "TYPE": "service", "priority": 60, "SomethingNew": {"x": 1},
        "meta": {"Owner": "Ann", "owner": "bob"},
        "taskgroups": [{
            "name": "g", "COUNT": 2,
            "tasks": [{
                "name": "t", "driver": "docker",
                "env": {"Mixed_Case": "1"},
                "config": {"Image": "redis"},
                "resources": {"cpu": 200, "memorymb": 128, "memorymaxmb": 256},
                "killtimeout": 3000000000
            }],
            "networks": [{"dynamicports": [{"label": "db", "to": 6379}]}],
            "restartpolicy": {"attempts": 0}
        }]
    }"#;
    let job: Job = json::from_str(text).unwrap();
    assert_eq!(job.id.as_deref(), Some("api"));
    assert_eq!(job.job_type.as_deref(), Some("service"));
    assert_eq!(job.priority, Some(60));
    // Map keys keep their exact case; both variants stay distinct.
    assert_eq!(job.meta.get("Owner").map(String::as_str), Some("Ann"));
    assert_eq!(job.meta.get("owner").map(String::as_str), Some("bob"));
    let g = &job.task_groups[0];
    assert_eq!(g.count, Some(2));
    assert_eq!(g.restart_policy.as_ref().unwrap().attempts, Some(0));
    assert_eq!(g.networks[0].dynamic_ports[0].label, "db");
    let t = &g.tasks[0];
    assert_eq!(t.env.get("Mixed_Case").map(String::as_str), Some("1"));
    assert!(
        t.config.contains_key("Image"),
        "free-form config keys are untouched"
    );
    let r = t.resources.as_ref().unwrap();
    assert_eq!(
        (r.cpu, r.memory_mb, r.memory_max_mb),
        (Some(200), Some(128), Some(256))
    );
    assert_eq!(t.kill_timeout, Some(Nanos::from_secs(3)));
}

#[test]
fn exact_case_match_is_preferred_and_duplicates_are_reported() {
    let ok: Job = json::from_str(r#"{"NAME": "upper"}"#).unwrap();
    assert_eq!(ok.name.as_deref(), Some("upper"));
    // Two spellings of one field: Go keeps the last; we refuse rather than guess.
    let err = json::from_str::<Job>(r#"{"name": "lower", "Name": "exact"}"#).unwrap_err();
    assert!(err.message.contains("duplicate field `Name`"), "{err}");
}

#[test]
fn nulls_read_as_empty() {
    let job: Job = json::from_str(
        r#"{"ID":"x","TaskGroups":null,"Meta":null,"Datacenters":null,"Update":null}"#,
    )
    .unwrap();
    assert!(job.task_groups.is_empty());
    assert!(job.meta.is_empty());
    assert!(job.update.is_none());
}

#[test]
fn decoded_lists_hold_no_spare_room() {
    // A decoder grows a list as it reads it; a job is then kept for as long
    // as it exists, so the room it did not use is given back. (One task
    // group of about 1 KiB was kept in 4 KiB.)
    let job: Job = json::from_str(
        r#"{"ID":"x","Datacenters":["dc1"],"TaskGroups":[{"Name":"g","Tasks":[{"Name":"t"}]}]}"#,
    )
    .unwrap();
    assert_eq!(job.task_groups.capacity(), 1);
    assert_eq!(job.datacenters.capacity(), 1);
    let job: Job =
        serde_json::from_str(r#"{"TaskGroups":[{"Name":"a"},{"Name":"b"},{"Name":"c"}]}"#).unwrap();
    assert_eq!(job.task_groups.capacity(), 3);
}

#[test]
fn type_errors_report_the_field_path() {
    let err = json::from_str::<Job>(r#"{"ID":"x","TaskGroups":[{"Name":"g","Count":"three"}]}"#)
        .unwrap_err();
    assert_eq!(err.path, "TaskGroups[0].Count");
    assert_eq!(
        err.to_string(),
        r#"TaskGroups[0].Count: invalid type: string "three", expected i64"#
    );
    assert!(err.line > 0);

    // Paths use Nomad's field names even when the input used another case.
    let err = json::from_str::<Job>(r#"{"taskgroups":[{"tasks":[{"resources":{"cpu":true}}]}]}"#)
        .unwrap_err();
    assert_eq!(err.path, "TaskGroups[0].Tasks[0].Resources.CPU");

    let err = json::from_str::<Job>(r#""nope""#).unwrap_err();
    assert_eq!(err.path, "");
    assert_eq!(
        err.to_string(),
        r#"invalid type: string "nope", expected struct Job"#
    );
    let err = json::from_str::<Job>(r#"{"ID":"x"} trailing"#).unwrap_err();
    assert!(err.message.contains("trailing"), "{err}");
}

#[test]
fn server_objects_decode_from_nomad_json() {
    let node: Node = json::from_str(
        r#"{"ID":"f0a5b9c3-1111-2222-3333-444455556666","Name":"n1","Status":"ready",
            "SchedulingEligibility":"eligible","NodeResources":{"Cpu":{"CpuShares":4000,"TotalCpuCores":4,"ReservableCpuCores":[0,1,2,3]},
            "Memory":{"MemoryMB":8192},"Disk":{"DiskMB":100000},"MinDynamicPort":20000,"MaxDynamicPort":32000},
            "Drivers":{"docker":{"Detected":true,"Healthy":true,"HealthDescription":"Healthy","UpdateTime":"2024-01-02T03:04:05.5Z","Attributes":{"driver.docker":"true"}}},
            "DrainStrategy":{"Deadline":3600000000000,"IgnoreSystemJobs":true,"ForceDeadline":"2024-01-02T04:04:05Z","StartedAt":"2024-01-02T03:04:05Z"}}"#,
    )
    .unwrap();
    assert_eq!(node.short_id(), "f0a5b9c3");
    assert_eq!(node.node_resources.as_ref().unwrap().cpu.total_cpu_cores, 4);
    assert!(node.drivers["docker"].healthy);
    let drain = node.drain_strategy.as_ref().unwrap();
    assert!(drain.spec().ignore_system_jobs);
    assert_eq!(drain.deadline, Nanos::from_hours(1));

    let alloc: Allocation = json::from_str(
        r#"{"ID":"a1","JobID":"web","TaskGroup":"frontend","Name":"web.frontend[2]","DesiredStatus":"run","ClientStatus":"failed",
            "TaskStates":{"nginx":{"State":"dead","Failed":true,"Restarts":2,"Events":[{"Type":"Terminated","Time":1,"ExitCode":137,"Details":{"exit_code":"137"}}]}},
            "AllocatedResources":{"Tasks":{"nginx":{"Cpu":{"CpuShares":500},"Memory":{"MemoryMB":256,"MemoryMaxMB":512}}},"Shared":{"DiskMB":300,"Ports":[{"Label":"http","Value":23456,"To":80,"HostIP":"10.0.0.1"}]}},
            "DeploymentStatus":{"Healthy":null,"Canary":true},"RescheduleTracker":{"Events":[{"RescheduleTime":5,"PrevAllocID":"a0","PrevNodeID":"n0","Delay":30000000000}]}}"#,
    )
    .unwrap();
    assert!(alloc.terminal_status());
    assert!(alloc.client_terminal_status() && !alloc.server_terminal_status());
    assert_eq!(alloc.index(), 2);
    assert_eq!(alloc.task_states["nginx"].events[0].exit_code, 137);
    assert_eq!(alloc.deployment_status.as_ref().unwrap().healthy, None);
    let stub = alloc.stub();
    assert_eq!(stub.client_status, "failed");

    let eval: Evaluation = json::from_str(
        r#"{"ID":"e1","Status":"blocked","FailedTGAllocs":{"frontend":{"NodesEvaluated":3,"DimensionExhausted":{"memory":3},"ScoreMetaData":[{"NodeID":"n1","Scores":{"binpack":0.5},"NormScore":0.5}]}}}"#,
    )
    .unwrap();
    assert!(eval.is_blocked() && !eval.terminal_status());
    assert_eq!(
        eval.failed_tg_allocs["frontend"].dimension_exhausted["memory"],
        3
    );
}

#[test]
fn go_output_escapes_html_characters() {
    let mut job = Job::new("x", "batch");
    job.meta.insert("expr".into(), "a < b && c > d".into());
    let text = json::to_string_pretty_go(&job).unwrap();
    assert!(
        text.contains(r#""expr": "a \u003c b \u0026\u0026 c \u003e d""#),
        "{text}"
    );
    assert!(text.starts_with("{\n    \"Region\": null,"));
}
