//! Validation reports every problem at once, with field paths.

use nomad_types::json;
use nomad_types::Job;

fn errors(text: &str) -> Vec<String> {
    let job: Job = json::from_str(text).unwrap();
    match job.validate() {
        Ok(()) => Vec::new(),
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}

fn has(errs: &[String], prefix: &str) -> bool {
    errs.iter().any(|e| e.starts_with(prefix))
}

#[test]
fn a_valid_job_passes() {
    let job: Job = json::from_str(include_str!("fixtures/full_job.json")).unwrap();
    assert_eq!(job.validate(), Ok(()));
    let minimal: Job = json::from_str(
        r#"{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"docker"}]}]}"#,
    )
    .unwrap();
    assert_eq!(minimal.validate(), Ok(()));
}

#[test]
fn several_problems_are_reported_together_with_paths() {
    let errs = errors(
        r#"{"ID":"my job","Priority":150,"Type":"service",
            "TaskGroups":[
              {"Name":"web","Count":-1,"Tasks":[
                 {"Name":"a","Driver":"docker"},
                 {"Name":"b","Resources":{"CPU":0,"MemoryMB":4}},
                 {"Name":"a","Driver":"exec"}]},
              {"Name":"web","Tasks":[{"Name":"x","Driver":"exec"}]}
            ]}"#,
    );
    assert!(
        errs.contains(&"ID: job ID contains a space".to_string()),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "Priority: job priority must be between [1, 100]"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "TaskGroups[0].Count: count cannot be negative"),
        "{errs:#?}"
    );
    assert!(
        errs.contains(&"TaskGroups[0].Tasks[1].Driver: missing driver".to_string()),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Tasks[1].Resources.CPU: minimum CPU value is 1"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Tasks[1].Resources.MemoryMB: minimum MemoryMB value is 10"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Tasks[2].Name: task name \"a\" is already used by Tasks[0]"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[1].Name: task group name \"web\" is already used by TaskGroups[0]"
        ),
        "{errs:#?}"
    );
    assert!(errs.len() >= 8);
}

#[test]
fn missing_essentials() {
    let errs = errors(r#"{"Type":"cron"}"#);
    assert!(has(&errs, "ID: missing job ID"), "{errs:#?}");
    assert!(has(&errs, "Name: missing job name"), "{errs:#?}");
    assert!(has(&errs, "Type: invalid job type \"cron\""), "{errs:#?}");
    assert!(
        has(&errs, "TaskGroups: job must have at least one task group"),
        "{errs:#?}"
    );
    let errs = errors(r#"{"ID":"x","Type":"","TaskGroups":[{"Name":"g"}]}"#);
    assert!(has(&errs, "Type: missing job type"), "{errs:#?}");
    assert!(
        has(&errs, "TaskGroups[0].Tasks: missing tasks"),
        "{errs:#?}"
    );
}

#[test]
fn policies_are_checked() {
    let errs = errors(
        r#"{"ID":"x","TaskGroups":[{"Name":"g",
            "RestartPolicy":{"Mode":"explode"},
            "ReschedulePolicy":{"Delay":1000000000,"DelayFunction":"linear"},
            "Update":{"MinHealthyTime":600000000000,"MaxParallel":-1,"Canary":-2},
            "EphemeralDisk":{"SizeMB":5},
            "Tasks":[{"Name":"t","Driver":"exec","KillTimeout":-1,
               "Resources":{"MemoryMB":512,"MemoryMaxMB":256},
               "LogConfig":{"MaxFiles":0}}]}]}"#,
    );
    for want in [
        "TaskGroups[0].RestartPolicy.Mode: unsupported restart mode \"explode\"",
        "TaskGroups[0].ReschedulePolicy.Delay: delay cannot be less than 5s (got 1s)",
        "TaskGroups[0].ReschedulePolicy.DelayFunction: invalid delay function \"linear\"",
        "TaskGroups[0].Update.MaxParallel: max_parallel cannot be negative",
        "TaskGroups[0].Update.Canary: canary count cannot be negative",
        "TaskGroups[0].Update.MinHealthyTime: min_healthy_time (10m0s) must be less than healthy_deadline (5m0s)",
        "TaskGroups[0].EphemeralDisk.SizeMB: ephemeral disk must be at least 10 MB",
        "TaskGroups[0].Tasks[0].KillTimeout: kill_timeout must not be negative",
        "TaskGroups[0].Tasks[0].Resources.MemoryMaxMB: MemoryMaxMB (256) must not be less than MemoryMB (512)",
        "TaskGroups[0].Tasks[0].LogConfig.MaxFiles: minimum number of files is 1",
    ] {
        assert!(has(&errs, want), "missing {want:?} in {errs:#?}");
    }
}

#[test]
fn constraints_affinities_and_spreads() {
    let errs = errors(
        r#"{"ID":"x","Constraints":[
               {"LTarget":"${attr.os.name}","Operand":"~=","RTarget":"x"},
               {"LTarget":"${attr.os.name}","Operand":"regexp","RTarget":"(unclosed"},
               {"LTarget":"${attr.os.name}","Operand":"is_set","RTarget":"x"},
               {"Operand":"distinct_hosts"},
               {"LTarget":"${meta.rack}","Operand":"distinct_property","RTarget":"zero"}],
            "Affinities":[{"LTarget":"${node.class}","RTarget":"a","Weight":0},
                          {"LTarget":"${node.class}","RTarget":"b","Weight":120}],
            "Spreads":[{"Attribute":"${node.datacenter}","Weight":50,
                        "SpreadTarget":[{"Value":"dc1","Percent":70},{"Value":"dc2","Percent":40}]}],
            "TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec",
               "Constraints":[{"Operand":"distinct_hosts"}]}]}]}"#,
    );
    for want in [
        "Constraints[0].Operand: unknown constraint operator \"~=\"",
        "Constraints[1].RTarget: regular expression failed to compile",
        "Constraints[2].RTarget: operator \"is_set\" does not take a value",
        "Constraints[4].RTarget: failed to convert \"zero\"",
        "Affinities[0].Weight: affinity weight cannot be zero",
        "Affinities[1].Weight: affinity weight must be within [-100, 100]",
        "Spreads[0].SpreadTarget: sum of spread target percentages must not exceed 100 (got 110)",
        "TaskGroups[0].Tasks[0].Constraints[0].Operand: operator \"distinct_hosts\" is not allowed at task level",
    ] {
        assert!(has(&errs, want), "missing {want:?} in {errs:#?}");
    }
    assert!(
        !has(&errs, "Constraints[3]"),
        "distinct_hosts needs no attribute: {errs:#?}"
    );
}

#[test]
fn job_type_rules() {
    let errs = errors(
        r#"{"ID":"x","Type":"system","Reschedule":{"Attempts":1},
            "TaskGroups":[{"Name":"g","Count":3,"Tasks":[{"Name":"t","Driver":"exec"}]}]}"#,
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Count: count cannot exceed 1 with the system scheduler"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "Reschedule: system and sysbatch jobs may not have a reschedule policy"
        ),
        "{errs:#?}"
    );

    let errs = errors(
        r#"{"ID":"x","Type":"batch","Update":{"MaxParallel":2},
            "TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}"#,
    );
    assert!(
        has(
            &errs,
            "Update: job type \"batch\" does not allow an update block"
        ),
        "{errs:#?}"
    );
    assert_eq!(
        errs.iter().filter(|e| e.contains("update block")).count(),
        1,
        "{errs:#?}"
    );

    // Nomad's server writes "no update block" as an all-zero one; that is accepted.
    let errs = errors(
        r#"{"ID":"x","Type":"batch","Update":{"Stagger":0,"MaxParallel":0,"HealthCheck":"",
              "MinHealthyTime":0,"HealthyDeadline":0,"ProgressDeadline":0,"Canary":0,
              "AutoRevert":false,"AutoPromote":false},
            "TaskGroups":[{"Name":"g","Update":null,"Tasks":[{"Name":"t","Driver":"exec"}]}]}"#,
    );
    assert!(errs.is_empty(), "{errs:#?}");

    let errs = errors(
        r#"{"ID":"x","Type":"service","Periodic":{"Spec":"61 * * * *"},
            "TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec",
               "Lifecycle":{"Hook":"sometime"}}]}]}"#,
    );
    assert!(
        has(
            &errs,
            "Periodic: periodic can only be used with \"batch\" or \"sysbatch\" jobs"
        ),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "Periodic.Spec: invalid cron spec \"61 * * * *\""),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Tasks[0].Lifecycle.Hook: invalid hook \"sometime\""
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "TaskGroups[0].Tasks: task group must have at least one main"
        ),
        "{errs:#?}"
    );
}

#[test]
fn networks_ports_and_services() {
    let errs = errors(
        r#"{"ID":"x","TaskGroups":[{"Name":"g",
            "Networks":[{"ReservedPorts":[{"Label":"http","Value":70000},{"Label":"admin","Value":8080}],
                         "DynamicPorts":[{"Label":"http"},{"Label":"b","Value":8080}]}],
            "Services":[{"Name":"bad_name!","PortLabel":"nope"}],
            "Tasks":[{"Name":"t","Driver":"exec",
              "Services":[{"Name":"api","PortLabel":"admin","Checks":[{"Type":"http","Interval":100000000,"Timeout":1000000000}]}]}]}]}"#,
    );
    for want in [
        "TaskGroups[0].Networks[0].ReservedPorts[0].Value: port \"http\" must be within [0, 65535]",
        "TaskGroups[0].Networks[0].DynamicPorts[0].Label: port label \"http\" already in use",
        "TaskGroups[0].Networks[0].DynamicPorts[1].Value: static port 8080 already reserved",
        "TaskGroups[0].Services[0].Name: service name \"bad_name!\" must be valid per RFC 1123",
        "TaskGroups[0].Services[0].PortLabel: port label \"nope\" is not defined by any network",
        "TaskGroups[0].Tasks[0].Services[0].Checks[0].Path: http checks must have a path",
        "TaskGroups[0].Tasks[0].Services[0].Checks[0].Interval: interval must be at least 1s (got 100ms)",
    ] {
        assert!(has(&errs, want), "missing {want:?} in {errs:#?}");
    }
}

#[test]
fn validation_error_display_is_path_colon_message() {
    let job: Job =
        json::from_str(r#"{"ID":"x","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t"}]}]}"#).unwrap();
    let errs = job.validate().unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "TaskGroups[0].Tasks[0].Driver");
    assert_eq!(errs[0].message, "missing driver");
    assert_eq!(
        errs[0].to_string(),
        "TaskGroups[0].Tasks[0].Driver: missing driver"
    );
}
