use super::*;
use nomad_driver::{TaskDirs, TaskResources};
use nomad_types::alloc::AllocatedPortMapping;
use serde_json::json;

fn task() -> TaskConfig {
    TaskConfig {
        id: "a1/web/1".into(),
        alloc_id: "a1".into(),
        namespace: "default".into(),
        job_id: "job".into(),
        job_name: "Job".into(),
        task_group: "grp".into(),
        name: "web".into(),
        env: [("A".to_string(), "1".to_string())].into(),
        kill_signal: "SIGTERM".into(),
        resources: TaskResources {
            cpu_mhz: 500,
            memory_mb: 64,
            ports: vec![AllocatedPortMapping {
                label: "http".into(),
                value: 23456,
                to: 8080,
                host_ip: "127.0.0.1".into(),
                ignore_collision: false,
            }],
            ..TaskResources::default()
        },
        dirs: TaskDirs::new("/data/alloc/a1", "web"),
        ..TaskConfig::default()
    }
}

fn tc(v: serde_json::Value) -> DockerTaskConfig {
    serde_json::from_value(v).unwrap()
}

fn host(spec: &ContainerSpec) -> &HostConfig {
    spec.body.host_config.as_ref().unwrap()
}

#[test]
fn builds_command_env_labels_and_alloc_binds() {
    let t = task();
    let c = tc(
        json!({"image": "img:1", "command": "/bin/sh", "args": ["-c", "x"],
        "work_dir": "/w", "labels": {"team": "a"}}),
    );
    let s = build(&t, &c, &DockerConfig::default(), "img:1", 2000.0).unwrap();
    assert_eq!(s.name, "web-a1");
    let b = &s.body;
    assert_eq!(b.cmd.as_deref().unwrap(), ["/bin/sh", "-c", "x"]);
    assert_eq!(b.env.as_deref().unwrap(), ["A=1"]);
    assert_eq!(b.working_dir.as_deref(), Some("/w"));
    assert_eq!(b.stop_signal.as_deref(), Some("SIGTERM"));
    let l = b.labels.as_ref().unwrap();
    assert_eq!(l[LABEL_ALLOC_ID], "a1");
    assert_eq!(l[LABEL_JOB_ID], "job");
    assert_eq!(l[LABEL_JOB_NAME], "Job");
    assert_eq!(l[LABEL_TASK_GROUP], "grp");
    assert_eq!(l[LABEL_TASK_NAME], "web");
    assert_eq!(l["team"], "a");
    let binds = host(&s).binds.as_ref().unwrap();
    assert_eq!(
        binds,
        &[
            "/data/alloc/a1/alloc:/alloc",
            "/data/alloc/a1/web/local:/local",
            "/data/alloc/a1/web/secrets:/secrets",
            "/data/alloc/a1/alloc/logs:/alloc/logs:ro",
        ]
    );
    let mut t2 = t.clone();
    t2.kill_signal = "int".into();
    let s = build(&t2, &c, &DockerConfig::default(), "img:1", 2000.0).unwrap();
    assert_eq!(s.body.stop_signal.as_deref(), Some("SIGINT"));
    t2.kill_signal = "SIGNOPE".into();
    assert!(build(&t2, &c, &DockerConfig::default(), "img:1", 2000.0).is_err());
    // Only args: the image's entrypoint gets them.
    let c = tc(json!({"image": "img", "args": ["x"]}));
    let s = build(&t, &c, &DockerConfig::default(), "img", 2000.0).unwrap();
    assert_eq!(s.body.cmd.as_deref().unwrap(), ["x"]);
}

#[test]
fn memory_cpu_and_pids() {
    let mut t = task();
    let c = tc(json!({"image": "i"}));
    let s = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap();
    let h = host(&s);
    assert_eq!(h.memory, Some(64 << 20));
    assert_eq!(h.memory_swap, Some(64 << 20));
    assert_eq!(h.memory_reservation, None);
    assert_eq!(h.cpu_shares, Some(500));
    assert_eq!(h.pids_limit, None);

    t.resources.memory_max_mb = 128;
    let s = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap();
    assert_eq!(host(&s).memory, Some(128 << 20));
    assert_eq!(host(&s).memory_reservation, Some(64 << 20));

    t.resources.memory_max_mb = -1;
    let s = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap();
    assert_eq!(host(&s).memory, None);
    assert_eq!(host(&s).memory_reservation, Some(64 << 20));

    t.resources.memory_max_mb = 0;
    t.resources.cpu_mhz = 1;
    let c = tc(json!({"image": "i", "cpu_hard_limit": true, "pids_limit": 50}));
    let s = build(&t, &c, &DockerConfig::default(), "i", 1000.0).unwrap();
    assert_eq!(host(&s).cpu_shares, Some(2));
    assert_eq!(host(&s).cpu_period, Some(100_000));
    assert_eq!(host(&s).pids_limit, Some(50));

    let plugin = DockerConfig {
        pids_limit: 10,
        ..DockerConfig::default()
    };
    assert!(build(&t, &c, &plugin, "i", 1000.0)
        .unwrap_err()
        .contains("pids_limit"));
}

#[test]
fn ports_map_to_host_bindings() {
    let t = task();
    let c = tc(json!({"image": "i", "ports": ["http"]}));
    let s = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap();
    let pb = host(&s).port_bindings.as_ref().unwrap();
    for proto in ["tcp", "udp"] {
        let b = pb[&format!("8080/{proto}")].as_ref().unwrap();
        assert_eq!(b[0].host_port.as_deref(), Some("23456"));
        assert_eq!(b[0].host_ip.as_deref(), Some("127.0.0.1"));
    }
    let mut exposed = s.body.exposed_ports.clone().unwrap();
    exposed.sort();
    assert_eq!(exposed, ["8080/tcp", "8080/udp"]);

    let c = tc(json!({"image": "i", "ports": ["nope"]}));
    let err = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap_err();
    assert!(err.contains("Port \"nope\" not found"), "{err}");

    // `to` unset: the host port inside too.
    let mut t2 = task();
    t2.resources.ports[0].to = 0;
    let c = tc(json!({"image": "i", "ports": ["http"]}));
    let s = build(&t2, &c, &DockerConfig::default(), "i", 2000.0).unwrap();
    assert!(host(&s)
        .port_bindings
        .as_ref()
        .unwrap()
        .contains_key("23456/tcp"));
}

#[test]
fn volumes_and_mounts_need_the_plugin_to_allow_them() {
    let t = task();
    let off = DockerConfig::default();
    let on = DockerConfig::permissive();

    let c = tc(json!({"image": "i", "volumes": ["/etc:/host-etc:ro"]}));
    let err = build(&t, &c, &off, "i", 2000.0).unwrap_err();
    assert!(err.contains("volumes are not enabled"), "{err}");
    let s = build(&t, &c, &on, "i", 2000.0).unwrap();
    assert!(host(&s)
        .binds
        .as_ref()
        .unwrap()
        .contains(&"/etc:/host-etc:ro".to_string()));

    // Relative paths stay inside the allocation: always allowed.
    let c = tc(json!({"image": "i", "volumes": ["local/data:/data"]}));
    let s = build(&t, &c, &off, "i", 2000.0).unwrap();
    assert!(host(&s)
        .binds
        .as_ref()
        .unwrap()
        .contains(&"/data/alloc/a1/web/local/data:/data".to_string()));
    let c = tc(json!({"image": "i", "volumes": ["../../../../etc:/x"]}));
    assert!(build(&t, &c, &off, "i", 2000.0).is_err());
    let c = tc(json!({"image": "i", "volumes": ["nocolon"]}));
    assert!(build(&t, &c, &on, "i", 2000.0).is_err());

    let c =
        tc(json!({"image": "i", "mount": [{"type": "bind", "source": "/etc", "target": "/e"}]}));
    assert!(build(&t, &c, &off, "i", 2000.0).is_err());
    let s = build(&t, &c, &on, "i", 2000.0).unwrap();
    let m = &host(&s).mounts.as_ref().unwrap()[0];
    assert_eq!(m.typ, Some(MountType::BIND));
    assert_eq!(m.source.as_deref(), Some("/etc"));

    let c = tc(
        json!({"image": "i", "mount": [{"type": "bind", "source": "local/x", "target": "/x",
        "readonly": true, "bind_options": [{"propagation": "rslave"}]}]}),
    );
    let s = build(&t, &c, &off, "i", 2000.0).unwrap();
    let m = &host(&s).mounts.as_ref().unwrap()[0];
    assert_eq!(m.source.as_deref(), Some("/data/alloc/a1/web/local/x"));
    assert_eq!(m.read_only, Some(true));

    let c = tc(
        json!({"image": "i", "mount": {"type": "tmpfs", "target": "/t",
        "tmpfs_options": {"size": 1000}}}),
    );
    let s = build(&t, &c, &off, "i", 2000.0).unwrap();
    assert_eq!(
        host(&s).mounts.as_ref().unwrap()[0].typ,
        Some(MountType::TMPFS)
    );
    let c = tc(json!({"image": "i", "mount": {"type": "volume", "source": "v", "target": "/v"}}));
    assert!(build(&t, &c, &off, "i", 2000.0).is_err());
    assert!(build(&t, &c, &on, "i", 2000.0).is_ok());
    let c = tc(json!({"image": "i", "mount": {"type": "nfs", "target": "/v"}}));
    assert!(build(&t, &c, &on, "i", 2000.0).is_err());
    let c = tc(json!({"image": "i", "volume_driver": "local", "volumes": ["v:/v"]}));
    assert!(build(&t, &c, &off, "i", 2000.0).is_err());
}

#[test]
fn privileged_caps_and_runtimes_follow_the_plugin() {
    let t = task();
    let c = tc(json!({"image": "i", "privileged": true}));
    let err = build(&t, &c, &DockerConfig::default(), "i", 2000.0).unwrap_err();
    assert!(err.contains("privileged mode is disabled"), "{err}");
    let s = build(&t, &c, &DockerConfig::permissive(), "i", 2000.0).unwrap();
    assert_eq!(host(&s).privileged, Some(true));

    let c = tc(json!({"image": "i", "cap_add": ["CAP_CHOWN", "net_bind_service"]}));
    assert!(build(&t, &c, &DockerConfig::default(), "i", 2000.0).is_ok());
    let c = tc(json!({"image": "i", "cap_add": ["SYS_ADMIN"]}));
    assert!(build(&t, &c, &DockerConfig::default(), "i", 2000.0).is_err());
    let all = DockerConfig {
        allow_caps: vec!["all".into()],
        ..DockerConfig::default()
    };
    assert!(build(&t, &c, &all, "i", 2000.0).is_ok());

    let c = tc(json!({"image": "i", "runtime": "kata"}));
    assert!(build(&t, &c, &DockerConfig::default(), "i", 2000.0).is_err());
    let c = tc(json!({"image": "i", "pid_mode": "host"}));
    let mut plugin = DockerConfig::default();
    plugin.allowed_modes.pid = vec!["private".into()];
    assert!(build(&t, &c, &plugin, "i", 2000.0).is_err());
    assert!(build(&t, &c, &DockerConfig::default(), "i", 2000.0).is_ok());
}

#[test]
fn logging_defaults_to_the_plugin() {
    let t = task();
    let s = build(
        &t,
        &tc(json!({"image": "i"})),
        &DockerConfig::default(),
        "i",
        1.0,
    )
    .unwrap();
    let lc = host(&s).log_config.as_ref().unwrap();
    assert_eq!(lc.typ.as_deref(), Some("json-file"));
    assert_eq!(lc.config.as_ref().unwrap()["max-size"], "2m");
    let c =
        tc(json!({"image": "i", "logging": [{"type": "local", "config": [{"max-size": "5m"}]}]}));
    let s = build(&t, &c, &DockerConfig::default(), "i", 1.0).unwrap();
    assert_eq!(
        host(&s).log_config.as_ref().unwrap().typ.as_deref(),
        Some("local")
    );
}

#[test]
fn cleans_paths_like_go() {
    assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    assert_eq!(clean_path(Path::new("/../x")), PathBuf::from("/x"));
    assert!(escapes(Path::new("/data/a1"), Path::new("/data/a1/../a2")));
    assert!(!escapes(
        Path::new("/data/a1"),
        Path::new("/data/a1/web/../x")
    ));
}
