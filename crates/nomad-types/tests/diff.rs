//! The job diff `nomad job plan` shows.

use nomad_types::diff::{diff_jobs, try_diff_jobs, DiffType, FieldDiff, ObjectDiff};
use nomad_types::json;
use nomad_types::{Job, Nanos};

fn base() -> Job {
    let mut j: Job = json::from_str(
        r#"{"ID":"web","Datacenters":["dc1"],"Meta":{"owner":"ann"},
            "TaskGroups":[{"Name":"frontend","Count":2,
              "Networks":[{"DynamicPorts":[{"Label":"http","To":80}]}],
              "Tasks":[{"Name":"nginx","Driver":"docker",
                "Config":{"image":"nginx:1.24","ports":["http"],"port_map":[{"http":80}]},
                "Env":{"MODE":"prod"},
                "Resources":{"CPU":500,"MemoryMB":256}}]}]}"#,
    )
    .unwrap();
    j.canonicalize();
    j
}

fn field<'a>(fields: &'a [FieldDiff], name: &str) -> &'a FieldDiff {
    fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name} in {fields:#?}"))
}

fn object<'a>(objects: &'a [ObjectDiff], name: &str) -> &'a ObjectDiff {
    objects
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object {name} in {objects:#?}"))
}

#[test]
fn identical_jobs_have_no_diff() {
    let a = base();
    let d = diff_jobs(Some(&a), &a.clone(), false);
    assert_eq!(d.diff_type, DiffType::None);
    assert!(d.fields.is_empty() && d.objects.is_empty());
    assert_eq!(d.task_groups.len(), 1);
    assert_eq!(d.task_groups[0].diff_type, DiffType::None);
}

#[test]
fn new_job_is_added_with_flattened_fields() {
    let j = base();
    let d = diff_jobs(None, &j, false);
    assert_eq!(d.diff_type, DiffType::Added);
    assert_eq!(d.id, "web");
    let p = field(&d.fields, "Priority");
    assert_eq!(
        (p.diff_type, p.old.as_str(), p.new.as_str()),
        (DiffType::Added, "", "50")
    );
    assert_eq!(field(&d.fields, "Meta[owner]").new, "ann");
    assert!(
        d.fields.iter().all(|f| f.name != "ID"),
        "ID is not a diffed field"
    );
    let g = &d.task_groups[0];
    assert_eq!(g.diff_type, DiffType::Added);
    assert_eq!(field(&g.fields, "Count").new, "2");
    let t = &g.tasks[0];
    assert_eq!(field(&t.fields, "Driver").new, "docker");
    assert_eq!(field(&t.fields, "Env[MODE]").new, "prod");
    assert_eq!(field(&t.fields, "KillTimeout").new, "5000000000");
    let config = object(&t.objects, "Config");
    assert_eq!(config.diff_type, DiffType::Added);
    assert_eq!(field(&config.fields, "image").new, "nginx:1.24");
    assert_eq!(field(&config.fields, "ports[0]").new, "http");
    assert_eq!(field(&config.fields, "port_map[0][http]").new, "80");
}

#[test]
fn edits_are_reported_with_old_and_new_values() {
    let old = base();
    let mut new = old.clone();
    new.priority = Some(80);
    new.meta.remove("owner");
    new.datacenters.push("dc2".into());
    let g = &mut new.task_groups[0];
    g.count = Some(5);
    g.restart_policy.as_mut().unwrap().attempts = Some(0);
    let t = &mut g.tasks[0];
    t.config.insert("image".into(), "nginx:1.25".into());
    t.resources.as_mut().unwrap().memory_mb = Some(512);
    t.kill_timeout = Some(Nanos::from_secs(30));

    let d = diff_jobs(Some(&old), &new, false);
    assert_eq!(d.diff_type, DiffType::Edited);
    let p = field(&d.fields, "Priority");
    assert_eq!(
        (p.diff_type, p.old.as_str(), p.new.as_str()),
        (DiffType::Edited, "50", "80")
    );
    let m = field(&d.fields, "Meta[owner]");
    assert_eq!((m.diff_type, m.old.as_str()), (DiffType::Deleted, "ann"));
    let dcs = object(&d.objects, "Datacenters");
    assert_eq!(dcs.diff_type, DiffType::Added);
    assert_eq!(dcs.fields.len(), 1);
    assert_eq!(dcs.fields[0].new, "dc2");

    let g = &d.task_groups[0];
    assert_eq!(g.diff_type, DiffType::Edited);
    let c = field(&g.fields, "Count");
    assert_eq!((c.old.as_str(), c.new.as_str()), ("2", "5"));
    let restart = object(&g.objects, "RestartPolicy");
    assert_eq!(restart.diff_type, DiffType::Edited);
    assert_eq!(
        restart.fields.len(),
        1,
        "only the changed field without contextual"
    );
    assert_eq!(field(&restart.fields, "Attempts").new, "0");

    let t = &g.tasks[0];
    assert_eq!(t.diff_type, DiffType::Edited);
    let k = field(&t.fields, "KillTimeout");
    assert_eq!(
        (k.old.as_str(), k.new.as_str()),
        ("5000000000", "30000000000")
    );
    let image = field(&object(&t.objects, "Config").fields, "image");
    assert_eq!(
        (image.old.as_str(), image.new.as_str()),
        ("nginx:1.24", "nginx:1.25")
    );
    let mem = field(&object(&t.objects, "Resources").fields, "MemoryMB");
    assert_eq!((mem.old.as_str(), mem.new.as_str()), ("256", "512"));
}

#[test]
fn contextual_diff_includes_unchanged_fields_of_changed_blocks() {
    let old = base();
    let mut new = old.clone();
    new.task_groups[0].tasks[0].resources.as_mut().unwrap().cpu = Some(1000);
    let d = diff_jobs(Some(&old), &new, true);
    let res = object(&d.task_groups[0].tasks[0].objects, "Resources");
    let mem = field(&res.fields, "MemoryMB");
    assert_eq!(
        (mem.diff_type, mem.old.as_str(), mem.new.as_str()),
        (DiffType::None, "256", "256")
    );
    assert_eq!(field(&res.fields, "CPU").diff_type, DiffType::Edited);
}

#[test]
fn groups_tasks_ports_and_constraints_added_and_removed() {
    let old = base();
    let mut new = old.clone();
    new.constraints.push(nomad_types::Constraint::new(
        "${attr.kernel.name}",
        "=",
        "linux",
    ));
    let mut extra = new.task_groups[0].clone();
    extra.name = Some("backend".into());
    new.task_groups.push(extra);
    let g = &mut new.task_groups[0];
    g.networks[0].dynamic_ports[0].to = 8080;
    g.tasks.push(nomad_types::Task::new("sidecar", "exec"));

    let d = diff_jobs(Some(&old), &new, false);
    let c = object(&d.objects, "Constraint");
    assert_eq!(c.diff_type, DiffType::Added);
    assert_eq!(field(&c.fields, "RTarget").new, "linux");

    let names: Vec<(&str, DiffType)> = d
        .task_groups
        .iter()
        .map(|g| (g.name.as_str(), g.diff_type))
        .collect();
    assert_eq!(
        names,
        vec![("backend", DiffType::Added), ("frontend", DiffType::Edited)]
    );

    let front = &d.task_groups[1];
    let tasks: Vec<(&str, DiffType)> = front
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.diff_type))
        .collect();
    assert_eq!(
        tasks,
        vec![("nginx", DiffType::None), ("sidecar", DiffType::Added)]
    );
    // Networks are compared as a set: the changed network is deleted and re-added.
    let nets: Vec<DiffType> = front
        .objects
        .iter()
        .filter(|o| o.name == "Network")
        .map(|o| o.diff_type)
        .collect();
    assert_eq!(nets, vec![DiffType::Added, DiffType::Deleted]);
    let added = front
        .objects
        .iter()
        .find(|o| o.name == "Network" && o.diff_type == DiffType::Added)
        .unwrap();
    let port = object(&added.objects, "Dynamic Port");
    assert_eq!(field(&port.fields, "To").new, "8080");
    assert_eq!(field(&port.fields, "HostNetwork").new, "default");
}

#[test]
fn diff_serialises_like_nomad() {
    let old = base();
    let mut new = old.clone();
    new.task_groups[0].count = Some(3);
    let d = diff_jobs(Some(&old), &new, false);
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["Type"], "Edited");
    assert_eq!(v["ID"], "web");
    assert_eq!(v["Fields"], serde_json::Value::Null);
    let g = &v["TaskGroups"][0];
    assert_eq!(g["Fields"][0]["Name"], "Count");
    assert_eq!(g["Fields"][0]["Old"], "2");
    assert_eq!(g["Fields"][0]["New"], "3");
    assert_eq!(g["Fields"][0]["Annotations"], serde_json::Value::Null);
    assert_eq!(g["Updates"], serde_json::Value::Null);
}

#[test]
fn jobs_with_different_ids_are_rejected_by_try_diff() {
    let a = base();
    let mut b = a.clone();
    b.id = Some("other".into());
    assert!(try_diff_jobs(Some(&a), &b, false).is_err());
}
