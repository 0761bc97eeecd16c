//! Every kind of feasibility check filters the nodes it should, with
//! Nomad's reasons.

use nomad_types::group::VolumeRequest;
use nomad_types::node::ClientHostVolumeConfig;
use nomad_types::resources::Port;
use nomad_types::{DrainStrategy, DriverInfo, NetworkResource};

use super::*;

#[test]
fn job_constraint_filters_with_nomads_label() {
    let mut h = H::with_nodes(3);
    h.add_node({
        let mut n = node("win-0");
        n.attributes.insert("kernel.name".into(), "windows".into());
        n
    });
    let mut j = service("web", 1);
    j.constraints
        .push(constraint("${attr.kernel.name}", "=", "windows"));
    let out = h.run(j);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(h.nodes_of("web"), vec!["win-0"]);
    let metric = h.live("web")[0].metrics.clone().unwrap();
    // One node of the Linux class is checked, the others hit the class cache.
    let filtered: i64 = metric.constraint_filtered.values().sum();
    assert_eq!(metric.nodes_filtered, filtered);
    assert!(metric.nodes_filtered <= 3);
}

#[test]
fn group_and_task_constraints_filter() {
    let mut h = H::with_nodes(4);
    let mut n = node("big");
    n.meta.insert("tier".into(), "gold".into());
    n.attributes.insert("os.version".into(), "22.04".into());
    h.add_node(n);
    let mut j = service("web", 1);
    j.task_groups[0]
        .constraints
        .push(constraint("${meta.tier}", "=", "gold"));
    j.task_groups[0].tasks[0].constraints.push(constraint(
        "${attr.os.version}",
        "version",
        ">= 20.04",
    ));
    h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["big"]);
}

#[test]
fn operators_regexp_set_and_is_set() {
    let mut h = H::new();
    for (id, tags) in [("a", "ssd,gpu"), ("b", "ssd"), ("c", "hdd")] {
        let mut n = node(id);
        n.meta.insert("tags".into(), tags.into());
        n.meta.insert("unique.serial".into(), id.into());
        h.add_node(n);
    }
    let mut j = service("web", 1);
    j.constraints
        .push(constraint("${meta.tags}", "set_contains", "ssd,gpu"));
    j.constraints
        .push(constraint("${meta.tags}", "regexp", "^ssd"));
    j.constraints.push(constraint("${meta.tags}", "is_set", ""));
    h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["a"]);

    // A constraint on unique data escapes the class cache: evaluated per node.
    let mut j = service("uniq", 1);
    j.constraints
        .push(constraint("${meta.unique.serial}", "=", "c"));
    let out = h.run(j);
    assert_eq!(h.nodes_of("uniq"), vec!["c"]);
    assert_eq!(out.eval.status, "complete");
}

#[test]
fn drivers_must_be_detected_and_healthy() {
    let mut h = H::with_nodes(2);
    let mut sick = node("sick");
    sick.drivers.insert(
        "podman".into(),
        DriverInfo {
            detected: true,
            healthy: false,
            ..DriverInfo::default()
        },
    );
    h.add_node(sick);
    let mut good = node("good");
    good.drivers.insert(
        "podman".into(),
        DriverInfo {
            detected: true,
            healthy: true,
            ..DriverInfo::default()
        },
    );
    h.add_node(good);
    let mut legacy = node("legacy");
    legacy.attributes.insert("driver.podman".into(), "1".into());
    h.add_node(legacy);
    let mut j = service("web", 2);
    j.task_groups[0].tasks[0].driver = "podman".into();
    h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["good", "legacy"]);
}

#[test]
fn node_pools_and_datacenter_globs() {
    let mut h = H::new();
    for (id, dc, pool) in [
        ("a", "dc1", "default"),
        ("b", "dc2", "default"),
        ("c", "eu1", "default"),
        ("d", "dc1", "gpu"),
    ] {
        let mut n = node(id);
        n.datacenter = dc.into();
        n.node_pool = pool.into();
        h.add_node(n);
    }
    let mut j = service("web", 2);
    j.datacenters = vec!["dc*".into()];
    j.task_groups[0]
        .constraints
        .push(constraint("", "distinct_hosts", ""));
    h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["a", "b"]);

    let mut j = service("gpu", 1);
    j.datacenters = vec!["*".into()];
    j.node_pool = Some("gpu".into());
    h.run(j);
    assert_eq!(h.nodes_of("gpu"), vec!["d"]);

    let mut j = service("all", 4);
    j.datacenters = vec!["*".into()];
    j.node_pool = Some("all".into());
    j.constraints.push(constraint("", "distinct_hosts", "true"));
    h.run(j);
    assert_eq!(h.nodes_of("all"), vec!["a", "b", "c", "d"]);
}

#[test]
fn only_ready_eligible_undrained_nodes() {
    let mut h = H::with_nodes(1);
    let mut down = node("down");
    down.status = "down".into();
    h.add_node(down);
    let mut inel = node("inel");
    inel.scheduling_eligibility = "ineligible".into();
    h.add_node(inel);
    let mut drain = node("drain");
    drain.drain_strategy = Some(DrainStrategy::default());
    h.add_node(drain);
    let mut j = service("web", 3);
    j.constraints.push(constraint("", "distinct_hosts", ""));
    let out = h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["node-00"]);
    let failed = &out.eval.failed_tg_allocs["web"];
    assert_eq!(failed.nodes_in_pool, 1);
    assert_eq!(failed.constraint_filtered.get("distinct_hosts"), Some(&1));
}

#[test]
fn distinct_hosts_limits_one_per_node() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 3);
    j.task_groups[0]
        .constraints
        .push(constraint("", "distinct_hosts", ""));
    let out = h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["node-00", "node-01"]);
    assert_eq!(out.eval.queued_allocations["web"], 1);
    let failed = &out.eval.failed_tg_allocs["web"];
    assert_eq!(failed.constraint_filtered["distinct_hosts"], 2);
    assert_eq!(failed.nodes_evaluated, 2);
}

#[test]
fn distinct_property_counts_existing_and_proposed() {
    let mut h = H::new();
    for i in 0..6 {
        let mut n = node(&format!("n{i}"));
        n.meta.insert("rack".into(), format!("r{}", i % 2));
        h.add_node(n);
    }
    let mut j = service("web", 5);
    j.constraints
        .push(constraint("${meta.rack}", "distinct_property", "2"));
    let out = h.run(j.clone());
    assert_eq!(h.live("web").len(), 4);
    let failed = &out.eval.failed_tg_allocs["web"];
    let reasons: Vec<&String> = failed.constraint_filtered.keys().collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("distinct_property: ${meta.rack}=r")),
        "{reasons:?}"
    );
    // A second evaluation counts the existing allocations: still four.
    let job = h.p.store.job_by_id("default", "web").unwrap();
    h.eval(&job);
    assert_eq!(h.live("web").len(), 4);
    let mut racks: Vec<String> = h
        .live("web")
        .iter()
        .map(|a| h.node(&a.node_id).meta["rack"].clone())
        .collect();
    racks.sort();
    assert_eq!(racks, vec!["r0", "r0", "r1", "r1"]);
}

fn with_static_port(j: &mut Job, port: i64) {
    j.task_groups[0].networks = vec![NetworkResource {
        reserved_ports: vec![Port {
            label: "http".into(),
            value: port,
            host_network: "default".into(),
            ..Port::default()
        }],
        dynamic_ports: vec![Port {
            label: "admin".into(),
            host_network: "default".into(),
            to: -1,
            ..Port::default()
        }],
        ..NetworkResource::default()
    }];
}

#[test]
fn static_port_collisions_exhaust_nodes() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 3);
    with_static_port(&mut j, 8080);
    let out = h.run(j);
    assert_eq!(h.nodes_of("web"), vec!["node-00", "node-01"]);
    let failed = &out.eval.failed_tg_allocs["web"];
    assert_eq!(
        failed
            .dimension_exhausted
            .get("network: reserved port collision http=8080"),
        Some(&2)
    );
    for a in h.live("web") {
        let shared = &a.allocated_resources.as_ref().unwrap().shared;
        let http = shared.ports.iter().find(|p| p.label == "http").unwrap();
        assert_eq!(http.value, 8080);
        let admin = shared.ports.iter().find(|p| p.label == "admin").unwrap();
        assert!((20_000..32_000).contains(&admin.value), "{admin:?}");
        assert_eq!(admin.to, admin.value);
        assert_eq!(http.host_ip, shared.networks[0].ip);
    }
    // Another job asking for the same static port finds no room either.
    let mut other = service("other", 1);
    with_static_port(&mut other, 8080);
    let out = h.run(other);
    assert!(out.eval.failed_tg_allocs.contains_key("web"));
}

#[test]
fn dynamic_ports_do_not_collide_on_one_node() {
    let mut h = H::with_nodes(1);
    let mut j = service("web", 5);
    j.task_groups[0].networks = vec![NetworkResource {
        dynamic_ports: vec![Port {
            label: "http".into(),
            host_network: "default".into(),
            ..Port::default()
        }],
        ..NetworkResource::default()
    }];
    h.run(j);
    let mut ports: Vec<i64> = h
        .live("web")
        .iter()
        .map(|a| a.allocated_resources.as_ref().unwrap().shared.ports[0].value)
        .collect();
    assert_eq!(ports.len(), 5);
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 5);
}

#[test]
fn host_volumes_must_exist_and_be_writable() {
    let mut h = H::with_nodes(2);
    let mut ro = node("ro");
    ro.host_volumes.insert(
        "data".into(),
        ClientHostVolumeConfig {
            name: "data".into(),
            path: "/srv/data".into(),
            read_only: true,
            ..ClientHostVolumeConfig::default()
        },
    );
    h.add_node(ro);
    let mut rw = node("rw");
    rw.host_volumes.insert(
        "data".into(),
        ClientHostVolumeConfig {
            name: "data".into(),
            path: "/srv/data".into(),
            ..ClientHostVolumeConfig::default()
        },
    );
    h.add_node(rw);
    let volume = |read_only| VolumeRequest {
        name: "data".into(),
        volume_type: "host".into(),
        source: "data".into(),
        read_only,
        ..VolumeRequest::default()
    };

    let mut j = service("writer", 1);
    j.task_groups[0]
        .volumes
        .insert("data".into(), volume(false));
    h.run(j);
    assert_eq!(h.nodes_of("writer"), vec!["rw"]);

    let mut j = service("reader", 2);
    j.task_groups[0].volumes.insert("data".into(), volume(true));
    j.task_groups[0]
        .constraints
        .push(constraint("", "distinct_hosts", ""));
    h.run(j);
    assert_eq!(h.nodes_of("reader"), vec!["ro", "rw"]);

    let mut j = service("missing", 1);
    j.task_groups[0].volumes.insert(
        "logs".into(),
        VolumeRequest {
            source: "logs".into(),
            ..volume(true)
        },
    );
    let out = h.run(j);
    let failed = &out.eval.failed_tg_allocs["web"];
    assert_eq!(
        failed.constraint_filtered["missing compatible host volumes"],
        4
    );
}

#[test]
fn network_mode_must_exist() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 1);
    j.task_groups[0].networks = vec![NetworkResource {
        mode: "bridge".into(),
        ..NetworkResource::default()
    }];
    let out = h.run(j);
    let failed = &out.eval.failed_tg_allocs["web"];
    assert_eq!(failed.nodes_filtered, 2);
    assert!(failed.constraint_filtered.contains_key("missing network"));
}

#[test]
fn every_operator_filters() {
    let mut h = H::new();
    for (id, version, cores) in [("old", "1.2.0", "2"), ("new", "2.5.1", "16")] {
        let mut n = node(id);
        n.attributes.insert("nomad.version".into(), version.into());
        n.attributes.insert("cpu.numcores".into(), cores.into());
        h.add_node(n);
    }
    let cases: &[(&str, &str, &str, &str)] = &[
        ("${attr.cpu.numcores}", ">", "4", "new"),
        ("${attr.cpu.numcores}", "<=", "2", "old"),
        ("${attr.cpu.numcores}", "!=", "2", "new"),
        ("${attr.nomad.version}", "semver", ">= 2.0.0", "new"),
        ("${attr.nomad.version}", "version", "< 2.0", "old"),
        (
            "${attr.nomad.version}",
            "set_contains_any",
            "1.2.0,9.9",
            "old",
        ),
        ("${attr.missing}", "is_not_set", "", "new"),
        ("${node.unique.name}", "=", "old", "old"),
    ];
    for (i, (l, op, r, want)) in cases.iter().enumerate() {
        let id = format!("j{i}");
        let mut j = service(&id, 1);
        j.constraints.push(constraint(l, op, r));
        if *op == "is_not_set" {
            j.constraints
                .push(constraint("${node.unique.name}", "=", "new"));
        }
        h.run(j);
        assert_eq!(h.nodes_of(&id), vec![want.to_string()], "{l} {op} {r}");
    }
}

#[test]
fn devices_are_matched_and_assigned() {
    use nomad_types::node::{NodeDevice, NodeDeviceResource};
    let mut h = H::with_nodes(2);
    let mut gpu = node("gpu");
    if let Some(res) = gpu.node_resources.as_mut() {
        res.devices.push(NodeDeviceResource {
            vendor: "nvidia".into(),
            device_type: "gpu".into(),
            name: "t4".into(),
            instances: (0..2)
                .map(|i| NodeDevice {
                    id: format!("GPU-{i}"),
                    healthy: true,
                    ..NodeDevice::default()
                })
                .collect(),
            ..NodeDeviceResource::default()
        });
    }
    h.add_node(gpu);
    let mut j = service("ml", 3);
    if let Some(r) = j.task_groups[0].tasks[0].resources.as_mut() {
        r.devices.push(nomad_types::RequestedDevice {
            name: "nvidia/gpu".into(),
            count: Some(1),
            ..Default::default()
        });
    }
    let out = h.run(j);
    let live = h.live("ml");
    assert_eq!(live.len(), 2);
    let mut ids: Vec<String> = live
        .iter()
        .flat_map(|a| {
            a.allocated_resources.as_ref().unwrap().tasks["web"].devices[0]
                .device_ids
                .clone()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["GPU-0", "GPU-1"]);
    let m = &out.eval.failed_tg_allocs["web"];
    // The GPU-less class was found ineligible on the first placement and
    // is skipped from the cache afterwards.
    assert_eq!(m.nodes_filtered, 2);
    assert_eq!(
        m.constraint_filtered.get("computed class ineligible"),
        Some(&2)
    );
    assert!(
        m.dimension_exhausted
            .keys()
            .any(|k| k.starts_with("devices: ")),
        "{m:?}"
    );
}

#[test]
fn reserved_cores_are_exclusive() {
    let mut h = H::with_nodes(1);
    let mut j = service("pin", 3);
    if let Some(r) = j.task_groups[0].tasks[0].resources.as_mut() {
        r.cores = Some(2);
        r.cpu = None;
    }
    let out = h.run(j);
    let live = h.live("pin");
    assert_eq!(live.len(), 2);
    let mut cores: Vec<u16> = live
        .iter()
        .flat_map(|a| {
            a.allocated_resources.as_ref().unwrap().tasks["web"]
                .cpu
                .reserved_cores
                .clone()
        })
        .collect();
    cores.sort();
    assert_eq!(cores, vec![0, 1, 2, 3]);
    assert_eq!(
        live[0].allocated_resources.as_ref().unwrap().tasks["web"]
            .cpu
            .cpu_shares,
        2000
    );
    assert_eq!(
        out.eval.failed_tg_allocs["web"]
            .dimension_exhausted
            .get("cores"),
        Some(&1)
    );
}

#[test]
fn templated_host_networks_resolve_per_node() {
    use nomad_types::node::NodeNetworkAddress;
    let mut h = H::with_nodes(1);
    let mut pubnode = node("pub");
    pubnode.meta.insert("net".into(), "public".into());
    if let Some(res) = pubnode.node_resources.as_mut() {
        res.node_networks[0].addresses.push(NodeNetworkAddress {
            alias: "public".into(),
            address: "203.0.113.7".into(),
            ..NodeNetworkAddress::default()
        });
    }
    h.add_node(pubnode);
    let mut j = service("edge", 1);
    j.task_groups[0].networks = vec![NetworkResource {
        dynamic_ports: vec![Port {
            label: "https".into(),
            host_network: "${meta.net}".into(),
            ..Port::default()
        }],
        ..NetworkResource::default()
    }];
    h.run(j);
    assert_eq!(h.nodes_of("edge"), vec!["pub"]);
    let a = &h.live("edge")[0];
    let port = &a.allocated_resources.as_ref().unwrap().shared.ports[0];
    assert_eq!(port.host_ip, "203.0.113.7");
}
