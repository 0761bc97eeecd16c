//! Defaults Nomad fills when a job is submitted.

use nomad_types::json;
use nomad_types::{Job, Nanos};

fn job(text: &str) -> Job {
    json::from_str(text).unwrap()
}

const MINIMAL_SERVICE: &str = r#"{
    "ID": "web",
    "TaskGroups": [{
        "Name": "frontend",
        "Tasks": [{"Name": "nginx", "Driver": "docker", "Config": {"image": "nginx"}}]
    }]
}"#;

#[test]
fn service_job_gets_nomads_defaults() {
    let mut j = job(MINIMAL_SERVICE);
    j.canonicalize();
    assert_eq!(j.name.as_deref(), Some("web"));
    assert_eq!(j.region.as_deref(), Some("global"));
    assert_eq!(j.namespace.as_deref(), Some("default"));
    assert_eq!(j.priority, Some(50));
    assert_eq!(j.job_type.as_deref(), Some("service"));
    assert_eq!(j.datacenters, vec!["*"]);
    assert_eq!(j.node_pool.as_deref(), Some("default"));
    assert_eq!(j.all_at_once, Some(false));

    let g = &j.task_groups[0];
    assert_eq!(g.count, Some(1));
    let restart = g.restart_policy.as_ref().unwrap();
    assert_eq!(restart.attempts, Some(2));
    assert_eq!(restart.interval, Some(Nanos::from_mins(30)));
    assert_eq!(restart.delay, Some(Nanos::from_secs(15)));
    assert_eq!(restart.mode.as_deref(), Some("fail"));
    let resched = g.reschedule_policy.as_ref().unwrap();
    assert_eq!(resched.unlimited, Some(true));
    assert_eq!(resched.delay_function.as_deref(), Some("exponential"));
    assert_eq!(resched.delay, Some(Nanos::from_secs(30)));
    assert_eq!(resched.max_delay, Some(Nanos::from_hours(1)));
    let update = g.update.as_ref().unwrap();
    assert_eq!(update.max_parallel, Some(1));
    assert_eq!(update.health_check.as_deref(), Some("checks"));
    assert_eq!(update.min_healthy_time, Some(Nanos::from_secs(10)));
    assert_eq!(update.healthy_deadline, Some(Nanos::from_mins(5)));
    assert_eq!(update.progress_deadline, Some(Nanos::from_mins(10)));
    assert_eq!(update.stagger, Some(Nanos::from_secs(30)));
    assert_eq!(update.canary, Some(0));
    assert_eq!(update.auto_revert, Some(false));
    let migrate = g.migrate.as_ref().unwrap();
    assert_eq!(migrate.max_parallel, Some(1));
    assert_eq!(migrate.healthy_deadline, Some(Nanos::from_mins(5)));
    assert_eq!(g.ephemeral_disk.as_ref().unwrap().size_mb, Some(300));

    let t = &g.tasks[0];
    let r = t.resources.as_ref().unwrap();
    assert_eq!(
        (r.cpu, r.memory_mb, r.cores),
        (Some(100), Some(300), Some(0))
    );
    assert_eq!(t.kill_timeout, Some(Nanos::from_secs(5)));
    let logs = t.log_config.as_ref().unwrap();
    assert_eq!(
        (logs.max_files, logs.max_file_size_mb),
        (Some(10), Some(10))
    );
    assert_eq!(
        t.restart_policy, g.restart_policy,
        "tasks inherit the group policy"
    );
}

#[test]
fn batch_job_gets_batch_defaults_and_no_update_block() {
    let mut j = job(MINIMAL_SERVICE);
    j.job_type = Some("batch".into());
    j.canonicalize();
    assert!(j.update.is_none());
    let g = &j.task_groups[0];
    assert!(g.update.is_none());
    assert!(g.migrate.is_none());
    let restart = g.restart_policy.as_ref().unwrap();
    assert_eq!(restart.attempts, Some(3));
    assert_eq!(restart.interval, Some(Nanos::from_hours(24)));
    assert_eq!(restart.delay, Some(Nanos::from_secs(15)));
    let resched = g.reschedule_policy.as_ref().unwrap();
    assert_eq!(resched.attempts, Some(1));
    assert_eq!(resched.interval, Some(Nanos::from_hours(24)));
    assert_eq!(resched.delay, Some(Nanos::from_secs(5)));
    assert_eq!(resched.delay_function.as_deref(), Some("constant"));
    assert_eq!(resched.unlimited, Some(false));
}

#[test]
fn system_and_sysbatch_jobs_do_not_reschedule() {
    for (kind, attempts) in [("system", 2), ("sysbatch", 3)] {
        let mut j = job(MINIMAL_SERVICE);
        j.job_type = Some(kind.into());
        j.canonicalize();
        let g = &j.task_groups[0];
        assert!(g.reschedule_policy.is_none(), "{kind}");
        assert_eq!(
            g.restart_policy.as_ref().unwrap().attempts,
            Some(attempts),
            "{kind}"
        );
        assert_eq!(g.update.is_some(), kind == "system");
    }
}

#[test]
fn explicit_zeros_survive_canonicalize() {
    let mut j = job(r#"{"ID":"web","TaskGroups":[{"Name":"g","Count":0,
            "RestartPolicy":{"Attempts":0},
            "Update":{"Canary":0,"MaxParallel":0},
            "Tasks":[{"Name":"t","Driver":"exec","Resources":{"CPU":250}}]}]}"#);
    j.canonicalize();
    let g = &j.task_groups[0];
    assert_eq!(g.count, Some(0));
    let restart = g.restart_policy.as_ref().unwrap();
    assert_eq!(restart.attempts, Some(0), "explicit attempts = 0 is kept");
    assert_eq!(
        restart.interval,
        Some(Nanos::from_mins(30)),
        "other fields still defaulted"
    );
    assert_eq!(
        g.tasks[0].restart_policy.as_ref().unwrap().attempts,
        Some(0)
    );
    assert_eq!(g.update.as_ref().unwrap().max_parallel, Some(0));
    let r = g.tasks[0].resources.as_ref().unwrap();
    assert_eq!((r.cpu, r.memory_mb), (Some(250), Some(300)));
}

#[test]
fn job_level_policies_merge_into_groups_field_by_field() {
    let mut j = job(r#"{"ID":"web","Type":"service",
            "Update":{"MaxParallel":3,"Canary":2},
            "Reschedule":{"Attempts":5,"Interval":3600000000000,"Unlimited":false},
            "TaskGroups":[
              {"Name":"a","Update":{"Canary":0},"Tasks":[{"Name":"t","Driver":"exec"}]},
              {"Name":"b","ReschedulePolicy":{"Delay":60000000000},"Tasks":[{"Name":"t","Driver":"exec",
                "RestartPolicy":{"Attempts":7}}]}
            ]}"#);
    j.canonicalize();
    let a = &j.task_groups[0];
    let ua = a.update.as_ref().unwrap();
    assert_eq!(ua.max_parallel, Some(3), "inherited from the job");
    assert_eq!(ua.canary, Some(0), "group override wins");
    assert_eq!(ua.healthy_deadline, Some(Nanos::from_mins(5)));
    let b = &j.task_groups[1];
    assert_eq!(b.update.as_ref().unwrap().canary, Some(2));
    let rb = b.reschedule_policy.as_ref().unwrap();
    assert_eq!(rb.attempts, Some(5));
    assert_eq!(rb.delay, Some(Nanos::from_mins(1)));
    assert_eq!(
        rb.delay_function.as_deref(),
        Some("exponential"),
        "type default fills the rest"
    );
    let task_restart = b.tasks[0].restart_policy.as_ref().unwrap();
    assert_eq!(task_restart.attempts, Some(7));
    assert_eq!(task_restart.delay, Some(Nanos::from_secs(15)));
}

#[test]
fn blocks_get_their_defaults() {
    let mut j = job(r#"{"ID":"web","Type":"batch",
            "Constraints":[{"LTarget":"${attr.kernel.name}","RTarget":"linux"}],
            "Periodic":{"Spec":"*/5 * * * *"},
            "ParameterizedJob":{},
            "TaskGroups":[{"Name":"g","Scaling":{"Min":2,"Max":5},
              "Spreads":[{"Attribute":"${node.datacenter}"}],
              "Affinities":[{"LTarget":"${node.class}","RTarget":"big"}],
              "Networks":[{"DynamicPorts":[{"Label":"http"}]}],
              "Services":[{"PortLabel":"http","Checks":[{"Type":"tcp","Interval":10000000000,"Timeout":2000000000}]}],
              "Tasks":[{"Name":"t","Driver":"exec",
                "Templates":[{"EmbeddedTmpl":"x","DestPath":"local/x","ChangeMode":"signal"}],
                "Artifacts":[{"GetterSource":"https://example.com/a/app.zip","GetterMode":"file"}]}]}]}"#);
    j.canonicalize();
    assert_eq!(j.constraints[0].operand, "=");
    let p = j.periodic.as_ref().unwrap();
    assert_eq!(
        (p.enabled, p.time_zone.as_deref(), p.spec_type.as_deref()),
        (Some(true), Some("UTC"), Some("cron"))
    );
    assert_eq!(j.parameterized_job.as_ref().unwrap().payload, "optional");
    let g = &j.task_groups[0];
    assert_eq!(g.count, Some(2), "count comes from scaling.min");
    assert_eq!(g.scaling.as_ref().unwrap().enabled, Some(true));
    assert_eq!(g.spreads[0].weight, Some(50));
    assert_eq!(g.affinities[0].weight, Some(50));
    assert_eq!(g.affinities[0].operand, "=");
    assert_eq!(g.networks[0].dynamic_ports[0].host_network, "default");
    let s = &g.services[0];
    assert_eq!(s.name, "web-g");
    assert_eq!(
        (s.provider.as_str(), s.address_mode.as_str()),
        ("consul", "auto")
    );
    assert_eq!(s.checks[0].name, "service: \"web-g\" check");
    let t = &g.tasks[0];
    let tmpl = &t.templates[0];
    assert_eq!(tmpl.change_signal.as_deref(), Some("SIGHUP"));
    assert_eq!(tmpl.splay, Some(Nanos::from_secs(5)));
    assert_eq!(tmpl.perms.as_deref(), Some("0644"));
    assert_eq!(
        t.artifacts[0].relative_dest.as_deref(),
        Some("local/app.zip")
    );
}

#[test]
fn canonicalize_is_idempotent() {
    let mut once: Job = json::from_str(include_str!("fixtures/full_job.json")).unwrap();
    once.canonicalize();
    let mut twice = once.clone();
    twice.canonicalize();
    assert_eq!(once, twice);

    let mut small = job(MINIMAL_SERVICE);
    small.canonicalize();
    let mut again = small.clone();
    again.canonicalize();
    assert_eq!(small, again);
}
