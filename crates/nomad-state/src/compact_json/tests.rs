use std::collections::BTreeMap;
use std::path::Path;

use nomad_types::{
    Evaluation, GoTime, Job, PreemptionConfig, SchedulerConfiguration, Task, TaskGroup,
};
use serde_json::json;

use super::*;

fn round_trip<T>(v: &T) -> (T, String)
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let mut out = Vec::new();
    to_writer(&mut out, v).expect("encodes");
    let text = String::from_utf8(out).expect("utf-8");
    (serde_json::from_str(&text).expect("decodes"), text)
}

#[test]
fn zero_fields_are_left_out_and_come_back() {
    let mut job = Job::new("web", "service");
    job.task_groups = vec![TaskGroup {
        name: Some("g".into()),
        count: Some(1),
        tasks: vec![Task::new("t", "raw_exec")],
        ..TaskGroup::default()
    }];
    job.canonicalize();
    let full = serde_json::to_string(&job).expect("encodes");
    let (back, text) = round_trip(&job);
    assert_eq!(back, job);
    assert!(!text.contains("null"), "{text}");
    assert!(!text.contains(r#""User":"""#), "{text}");
    assert!(
        text.len() * 5 < full.len() * 3,
        "{} vs {}",
        text.len(),
        full.len()
    );
}

#[test]
fn zeros_that_are_not_the_default_are_written() {
    // Some(false) and Some(0) differ from None; map values and list items
    // are data, not fields; GoTime's default is not "".
    let mut job = Job::new("web", "service");
    job.stop = Some(false);
    job.priority = Some(0);
    job.meta = BTreeMap::from([("empty".to_string(), String::new())]);
    job.datacenters = vec![String::new()];
    let mut task = Task::new("t", "raw_exec");
    task.config = BTreeMap::from([
        ("args".to_string(), json!(null)),
        ("n".to_string(), json!(0)),
        ("flag".to_string(), json!(false)),
    ]);
    job.task_groups = vec![TaskGroup {
        tasks: vec![task],
        ..TaskGroup::default()
    }];
    let (back, text) = round_trip(&job);
    assert_eq!(back, job, "{text}");
    assert!(text.contains(r#""Stop":false"#), "{text}");
    assert!(text.contains(r#""args":null"#), "{text}");

    let eval = Evaluation {
        wait_until: GoTime(String::new()),
        ..Evaluation::default()
    };
    let (back, text) = round_trip(&eval);
    assert_eq!(back, eval, "{text}");
}

#[test]
fn structs_with_non_zero_defaults_keep_every_field() {
    // PreemptionConfig defaults system preemption to true: false must be
    // written, or it would come back true.
    let cfg = SchedulerConfiguration {
        preemption_config: PreemptionConfig {
            system_scheduler_enabled: false,
            ..PreemptionConfig::default()
        },
        scheduler_algorithm: String::new(),
        ..SchedulerConfiguration::default()
    };
    let (back, text) = round_trip(&cfg);
    assert_eq!(back, cfg, "{text}");
}

/// Named structs that derive `Deserialize`, with whether they carry a
/// container-level `#[serde(default)]`, and the types with a hand-written
/// `Default` or a hand-written `Deserialize`, read from the sources of
/// `dir`.
fn scan(dir: &Path, structs: &mut Vec<(String, bool, String)>, custom: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("source dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scan(&path, structs, custom);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source file");
        let mut attrs: Vec<&str> = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line
                .strip_prefix("impl Default for ")
                .or_else(|| line.strip_prefix("impl<'de> Deserialize<'de> for "))
            {
                custom.push(rest.trim_end_matches(" {").to_string());
            }
            if line.starts_with("#[") {
                attrs.push(line);
                continue;
            }
            if line.starts_with("///") || line.starts_with("//") {
                continue;
            }
            let item = line
                .strip_prefix("pub struct ")
                .or_else(|| line.strip_prefix("pub(crate) struct "))
                .or_else(|| line.strip_prefix("struct "));
            if let Some(item) = item {
                // Written and read back by derive; hand-written readers are
                // collected apart.
                let derives_de = attrs.iter().any(|a| {
                    let derived: Vec<&str> = a
                        .strip_prefix("#[derive(")
                        .unwrap_or_default()
                        .split([',', ')'])
                        .map(str::trim)
                        .collect();
                    derived.contains(&"Serialize") && derived.contains(&"Deserialize")
                });
                let named = item.ends_with('{');
                if derives_de && named {
                    let name = item
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let default = attrs
                        .iter()
                        .any(|a| a.starts_with("#[serde(") && a.contains("default"));
                    let renamed = attrs
                        .iter()
                        .any(|a| a.starts_with("#[serde(") && a.contains("rename ="));
                    assert!(
                        !renamed,
                        "{name} in {}: a renamed container; teach this test its serde name",
                        path.display()
                    );
                    structs.push((name, default, path.display().to_string()));
                }
            }
            if !line.is_empty() && !line.starts_with("#[") {
                attrs.clear();
            }
        }
    }
}

#[test]
fn write_all_fields_names_every_struct_that_needs_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut structs, mut custom) = (Vec::new(), Vec::new());
    for dir in ["src", "../nomad-types/src"] {
        scan(&root.join(dir), &mut structs, &mut custom);
    }
    assert!(structs.len() > 100, "found only {} structs", structs.len());
    assert!(
        custom.iter().any(|c| c == "SchedulerConfiguration"),
        "{custom:?}"
    );
    let mut missing = Vec::new();
    for (name, default, file) in &structs {
        let needs = !default || custom.contains(name);
        if needs && !WRITE_ALL_FIELDS.contains(&name.as_str()) {
            missing.push(format!("{name} ({file})"));
        }
    }
    assert!(
        missing.is_empty(),
        "add to WRITE_ALL_FIELDS (or give them #[serde(default)] and a derived Default): {missing:?}"
    );
}
