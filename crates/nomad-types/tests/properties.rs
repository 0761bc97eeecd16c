//! Properties that must hold for any input.

use nomad_types::json;
use nomad_types::{GoTime, Job, Nanos, Task, TaskGroup};
use proptest::prelude::*;

proptest! {
    #[test]
    fn durations_print_and_parse_back(n in any::<i64>()) {
        let text = Nanos(n).to_string();
        prop_assert_eq!(text.parse::<Nanos>().ok(), Some(Nanos(n)), "{}", text);
    }

    #[test]
    fn timestamps_round_trip(n in any::<i64>()) {
        prop_assert_eq!(GoTime::from_unix_nanos(n).to_unix_nanos(), Some(n));
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = json::from_str::<Job>(&text);
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(
        key in "[A-Za-z]{1,12}",
        value in prop_oneof![
            Just("null".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "[a-z]{0,5}".prop_map(|s| format!("{s:?}")),
        ],
    ) {
        let text = format!(r#"{{"{key}": {value}, "TaskGroups": [{{"{key}": {value}, "Tasks": [{{"{key}": {value}}}]}}]}}"#);
        let _ = json::from_str::<Job>(&text);
    }

    #[test]
    fn canonicalize_is_idempotent_and_validate_never_panics(
        job_type in prop::option::of(prop_oneof![
            Just("service"), Just("batch"), Just("system"), Just("sysbatch"), Just("bogus")
        ]),
        priority in prop::option::of(-5i64..200),
        count in prop::option::of(-2i64..5),
        attempts in prop::option::of(-1i64..5),
        cpu in prop::option::of(-10i64..2000),
        memory in prop::option::of(-10i64..2000),
        kill in prop::option::of(-5_000_000_000i64..50_000_000_000),
        with_update in any::<bool>(),
    ) {
        let mut task = Task::new("t", "exec");
        task.kill_timeout = kill.map(Nanos);
        if cpu.is_some() || memory.is_some() {
            task.resources = Some(nomad_types::Resources { cpu, memory_mb: memory, ..Default::default() });
        }
        let mut group = TaskGroup::new("g", 1);
        group.count = count;
        group.tasks.push(task);
        if let Some(a) = attempts {
            group.restart_policy = Some(nomad_types::RestartPolicy { attempts: Some(a), ..Default::default() });
        }
        let mut job = Job::new("j", "service");
        job.job_type = job_type.map(str::to_string);
        job.priority = priority;
        job.task_groups.push(group);
        if with_update {
            job.update = Some(nomad_types::UpdateStrategy { canary: Some(1), ..Default::default() });
        }

        let mut once = job.clone();
        once.canonicalize();
        let mut twice = once.clone();
        twice.canonicalize();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(once.task_groups[0].count, Some(count.unwrap_or(1)));
        if let Some(a) = attempts {
            prop_assert_eq!(once.task_groups[0].restart_policy.as_ref().unwrap().attempts, Some(a));
        }
        // Validation is a pure function of the job and does not panic.
        let first = job.validate();
        prop_assert_eq!(first, job.validate());
        let _ = nomad_types::diff_jobs(Some(&job), &once, true);
    }
}
