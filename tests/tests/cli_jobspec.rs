//! The README's first steps, as a user runs them: `job init`, `job validate`,
//! `job run -output`, and what a broken job file prints.

use nomad_e2e::nomad;

#[test]
fn job_init_then_validate_then_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = nomad(dir.path(), &["job", "init"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout.trim(),
        "Example job file written to example.nomad.hcl"
    );
    assert!(dir.path().join("example.nomad.hcl").exists());

    // A second init refuses to overwrite.
    let r = nomad(dir.path(), &["job", "init"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Job 'example.nomad.hcl' already exists"),
        "{r:?}"
    );

    let r = nomad(dir.path(), &["job", "validate", "example.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Job validation successful"), "{r:?}");

    let r = nomad(dir.path(), &["job", "run", "-output", "example.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("-output prints JSON");
    let job = &v["Job"];
    assert_eq!(job["ID"], "example");
    assert_eq!(job["Name"], "example");
    assert_eq!(job["Type"], "service");
    let tg = &job["TaskGroups"][0];
    assert_eq!(tg["Name"], "cache");
    assert_eq!(tg["Count"], 1);
    let task = &tg["Tasks"][0];
    assert_eq!(task["Name"], "redis");
    assert_eq!(task["Driver"], "docker");
    assert_eq!(task["Config"]["image"], "redis:7");
    assert_eq!(task["Resources"]["CPU"], 500);
    assert_eq!(task["Resources"]["MemoryMB"], 256);
    assert_eq!(tg["Networks"][0]["DynamicPorts"][0]["Label"], "db");
    assert_eq!(tg["Networks"][0]["DynamicPorts"][0]["To"], 6379);
    assert_eq!(tg["Services"][0]["Name"], "redis-cache");
    // Durations are integer nanoseconds, as in Nomad's API.
    assert_eq!(job["Update"]["HealthyDeadline"], 180_000_000_000u64);
    // Unset fields are null, not defaulted: defaults are the server's job.
    assert!(job["Priority"].is_null(), "{}", job["Priority"]);
}

#[test]
fn short_init_and_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = nomad(dir.path(), &["job", "init", "-short", "short.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(dir.path().join("short.nomad.hcl")).expect("written");
    assert!(!text.contains('#'), "-short has no comments");
    assert!(text.contains("image          = \"redis:7\""));
}

#[test]
fn broken_job_file_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.nomad.hcl");
    std::fs::write(
        &path,
        "job \"web\" {\n  group \"g\" {\n    cuont = 3\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n}\n",
    )
    .expect("write");
    let r = nomad(dir.path(), &["job", "validate", "bad.nomad.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("bad.nomad.hcl:3:5"), "{}", r.stderr);
    assert!(r.stderr.contains("count"), "did you mean: {}", r.stderr);
}

#[test]
fn validation_errors_point_at_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nodriver.nomad.hcl");
    std::fs::write(
        &path,
        "job \"web\" {\n  priority = 500\n  group \"g\" {\n    task \"t\" {\n    }\n  }\n}\n",
    )
    .expect("write");
    let r = nomad(dir.path(), &["job", "validate", "nodriver.nomad.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Job validation errors:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("2 errors occurred"),
        "both errors at once: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("nodriver.nomad.hcl:2:"),
        "priority position: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("nodriver.nomad.hcl:4:"),
        "task position: {}",
        r.stderr
    );
}

#[test]
fn usage_errors_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = nomad(dir.path(), &["job", "validate"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = nomad(dir.path(), &["version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("Nomad v"), "{r:?}");
}

#[test]
fn output_json_feeds_back_into_validate_and_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(nomad(dir.path(), &["job", "init"]).code, 0);
    let r = nomad(dir.path(), &["job", "run", "-output", "example.nomad.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    std::fs::write(dir.path().join("example.json"), &r.stdout).expect("write");
    let v = nomad(dir.path(), &["job", "validate", "-json", "example.json"]);
    assert_eq!(v.code, 0, "{v:?}");
    let again = nomad(
        dir.path(),
        &["job", "run", "-output", "-json", "example.json"],
    );
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.stdout, r.stdout, "HCL -> JSON -> JSON is stable");
}

#[test]
fn variables_from_flags_files_and_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("vars.nomad.hcl"),
        r#"variable "image" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

job "web" {
  group "g" {
    count = var.replicas
    task "t" {
      driver = "docker"
      config {
        image = "${var.image}-${NOMAD_ALLOC_INDEX}"
      }
    }
  }
}
"#,
    )
    .expect("write");
    std::fs::write(dir.path().join("prod.hcl"), "replicas = 3\n").expect("write");

    // No value for `image`: an error that says how to give one.
    let r = nomad(dir.path(), &["job", "validate", "vars.nomad.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("\"image\"") && r.stderr.contains("-var"),
        "{}",
        r.stderr
    );

    let r = nomad(
        dir.path(),
        &[
            "job",
            "run",
            "-output",
            "-var",
            "image=nginx:1.25",
            "-var-file=prod.hcl",
            "vars.nomad.hcl",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let tg = &v["Job"]["TaskGroups"][0];
    assert_eq!(tg["Count"], 3, "var file sets replicas");
    // var.* is evaluated, the runtime interpolation is kept for the client.
    assert_eq!(
        tg["Tasks"][0]["Config"]["image"],
        "nginx:1.25-${NOMAD_ALLOC_INDEX}"
    );

    // NOMAD_VAR_* from the environment, overridden by -var.
    let out = std::process::Command::new(nomad_e2e::bin("nomad"))
        .args([
            "job",
            "run",
            "-output",
            "-var",
            "replicas=5",
            "vars.nomad.hcl",
        ])
        .env("NOMAD_VAR_image", "redis:7")
        .env("NOMAD_VAR_replicas", "2")
        .current_dir(dir.path())
        .output()
        .expect("run nomad");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["Job"]["TaskGroups"][0]["Count"], 5);
    assert_eq!(
        v["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "redis:7-${NOMAD_ALLOC_INDEX}"
    );

    // -hcl2-strict=false ignores a value for an undeclared variable.
    let r = nomad(
        dir.path(),
        &[
            "job",
            "validate",
            "-var",
            "image=x",
            "-var",
            "nope=1",
            "vars.nomad.hcl",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("\"nope\""), "{}", r.stderr);
    let r = nomad(
        dir.path(),
        &[
            "job",
            "validate",
            "-hcl2-strict=false",
            "-var",
            "image=x",
            "-var",
            "nope=1",
            "vars.nomad.hcl",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
}
