//! Each error class: its message and its position.

use super::{errors, in_group, in_task, summary};

#[test]
fn unknown_argument_with_suggestion() {
    let d = errors(&in_group("    cuont = 2"));
    assert_eq!(d.0.len(), 1);
    let e = &d.0[0];
    assert_eq!((e.span.start.line, e.span.start.col), (3, 5));
    assert!(
        e.message
            .starts_with("unsupported argument \"cuont\" in group \"g\"; valid arguments: count,"),
        "{}",
        e.message
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean \"count\"?"));
    assert!(d
        .to_string()
        .contains("job.nomad.hcl:3:5: unsupported argument \"cuont\""));
}

#[test]
fn unknown_block_lists_valid_blocks() {
    let d = errors(&in_group(
        "    service {\n      healthcheck {\n      }\n    }",
    ));
    let e = &d.0[0];
    assert_eq!((e.span.start.line, e.span.start.col), (4, 7));
    assert!(e.message.starts_with("unsupported block type \"healthcheck\" in service; valid blocks: check, check_restart, connect"), "{}", e.message);
    let d = errors(&in_group("    netwrok {\n    }"));
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean \"network\"?"));
}

#[test]
fn wrong_value_types() {
    let d = errors(&in_group("    count = \"three\""));
    assert_eq!(summary(&d), vec![(3, 13, "job.nomad.hcl:3:13: invalid value for count: a number is required, got the string \"three\"".to_string())]);
    // Strings holding numbers and bools convert, as in Nomad.
    let ok = super::job(&in_group(
        "    count = \"3\"\n    task \"t\" {\n      driver = 5\n      leader = \"true\"\n    }",
    ));
    assert_eq!(ok["TaskGroups"][0]["Count"], 3);
    assert_eq!(ok["TaskGroups"][0]["Tasks"][0]["Driver"], "5");
    assert_eq!(ok["TaskGroups"][0]["Tasks"][0]["Leader"], true);
    let d = errors(&in_group("    count = 1.5"));
    assert!(
        d.0[0]
            .message
            .contains("a whole number is required, got 1.5"),
        "{}",
        d.0[0].message
    );
    let d = errors(&in_task("      meta {\n        a = [1]\n      }"));
    assert!(
        d.0[0]
            .message
            .starts_with("invalid value for a: a string is required"),
        "{}",
        d.0[0].message
    );
    let d = errors("job \"j\" {\n  datacenters = \"dc1\"\n}\n");
    assert!(
        d.0[0].message.contains("a list of strings is required"),
        "{}",
        d.0[0].message
    );
    let d = errors(&in_group("    spread {\n      weight = 300\n    }"));
    assert!(
        d.0[0].message.contains("300 is out of range (-128 to 127)"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn bad_durations() {
    let d = errors(&in_group(
        "    restart {\n      interval = \"5 minutes\"\n    }",
    ));
    let e = &d.0[0];
    assert_eq!((e.span.start.line, e.span.start.col), (4, 18));
    assert!(
        e.message.starts_with(
            "invalid duration for interval: unknown unit \" minutes\" in duration \"5 minutes\""
        ),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("such as \"30s\", \"1h30m\" or \"500ms\""),
        "{}",
        e.message
    );
    let d = errors(&in_task("      kill_timeout = true"));
    assert!(
        d.0[0]
            .message
            .starts_with("invalid duration for kill_timeout: a duration is required, got bool"),
        "{}",
        d.0[0].message
    );
    // Integers are nanoseconds, as Nomad accepts them.
    let j = super::job(&in_task("      kill_timeout = 1000"));
    assert_eq!(j["TaskGroups"][0]["Tasks"][0]["KillTimeout"], 1000);
}

#[test]
fn missing_labels() {
    let d = errors("job {\n}\n");
    assert_eq!(
        summary(&d),
        vec![(
            1,
            5,
            "job.nomad.hcl:1:5: missing name label for the job block: write job \"name\" { ... }"
                .to_string()
        )]
    );
    let d = errors(&in_group("    task {\n      driver = \"exec\"\n    }"));
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (3, 10));
    assert!(d.0[0]
        .message
        .starts_with("missing name label for the task block"));
    let d = errors("job \"a\" \"b\" {\n}\n");
    assert!(d.0[0].message.contains("takes 1 label(s), but has 2"));
    let d = errors(&in_group("    network {\n      port {\n      }\n    }"));
    assert!(
        d.0[0]
            .message
            .starts_with("missing label label for the port block"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn duplicate_groups_and_tasks() {
    let d = errors("job \"j\" {\n  group \"api\" {\n  }\n  group \"api\" {\n  }\n}\n");
    assert_eq!(summary(&d), vec![(4, 3, "job.nomad.hcl:4:3: duplicate group \"api\" in job \"j\": group names must be unique within a job (the first is at 2:3)".to_string())]);
    let d = errors(&in_group("    task \"w\" {\n      driver = \"exec\"\n    }\n    task \"w\" {\n      driver = \"exec\"\n    }"));
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (6, 5));
    assert!(
        d.0[0]
            .message
            .starts_with("duplicate task \"w\" in group \"g\""),
        "{}",
        d.0[0].message
    );
}

#[test]
fn more_than_one_job_or_none() {
    let d = errors("job \"a\" {\n}\njob \"b\" {\n}\n");
    assert_eq!(summary(&d), vec![(3, 1, "job.nomad.hcl:3:1: duplicate job block: a file holds only one job (the first is at 1:1)".to_string())]);
    let d = errors("");
    assert!(d.0[0].message.starts_with("missing job block"));
    let d = errors("jobb \"x\" {\n}\n");
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean \"job\"?"));
}

#[test]
fn blocks_that_may_appear_once() {
    let d = errors(&in_group("    update {\n    }\n    update {\n    }"));
    assert_eq!((d.0[0].span.start.line, d.0[0].span.start.col), (5, 5));
    assert_eq!(
        d.0[0].message,
        "only one update block is allowed in group \"g\" (the first is at 3:5)"
    );
    let d = errors(&in_task("      meta {\n      }\n      meta {\n      }"));
    assert!(
        d.0[0].message.starts_with("meta is defined more than once"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn blocks_and_arguments_swapped() {
    let d = errors("job \"j\" {\n  update = {\n    canary = 1\n  }\n}\n");
    assert_eq!(summary(&d), vec![(2, 3, "job.nomad.hcl:2:3: update is a block, not an argument: write update { ... } without \"=\"".to_string())]);
    let d = errors(&in_task("      driver {\n      }"));
    assert!(
        d.0.iter()
            .any(|e| e.message == "driver is an argument, not a block: write driver = <value>"),
        "{d}"
    );
}

#[test]
fn required_arguments_and_enums() {
    let d = errors(&in_task(
        "      lifecycle {\n        sidecar = true\n      }",
    ));
    assert_eq!(
        d.0[0].message,
        "the lifecycle block needs the argument \"hook\""
    );
    let d = errors(&in_task("      scaling \"disk\" {\n      }"));
    assert!(
        d.0[0].message.starts_with("invalid scaling policy name"),
        "{}",
        d.0[0].message
    );
    let d = errors(&in_group("    scaling {\n      min = 1\n    }"));
    assert!(
        d.0[0].message.contains("needs the argument \"max\""),
        "{}",
        d.0[0].message
    );
    let d = errors(&in_group(
        "    scaling {\n      max = 2\n      type = \"vertical\"\n    }",
    ));
    assert!(
        d.0[0].message.starts_with("invalid group scaling type"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn all_errors_are_collected() {
    let d = errors(&in_group("    cuont = 1\n    task \"t\" {\n      drvier = \"exec\"\n      kill_timeout = \"x\"\n    }\n    bogus {\n    }"));
    let lines: Vec<u32> = d.0.iter().map(|e| e.span.start.line).collect();
    assert_eq!(lines, vec![3, 5, 6, 8], "{d}");
}
