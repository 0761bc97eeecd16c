use super::*;

fn addr<'a>(alias: &'a str, address: &'a str, reserved_ports: &'a str) -> HostAddress<'a> {
    HostAddress {
        alias,
        address,
        reserved_ports,
    }
}

fn node(reserved: &str, addresses: &[HostAddress<'_>]) -> NodePorts {
    let config =
        NodePortConfig::new(reserved, &[], addresses, None, None).unwrap_or_else(|e| panic!("{e}"));
    NodePorts::new(Arc::new(config))
}

fn dynamic(label: &str) -> PortRequest<'_> {
    PortRequest {
        label,
        value: 0,
        to: -1,
        host_network: "default",
        ignore_collision: false,
    }
}

fn fixed(label: &str, value: i64) -> PortRequest<'_> {
    PortRequest {
        label,
        value,
        to: 0,
        host_network: "default",
        ignore_collision: false,
    }
}

#[test]
fn port_specs_parse_like_nomad() {
    assert_eq!(parse_port_ranges(""), Ok(vec![]));
    assert_eq!(parse_port_ranges("22"), Ok(vec![22]));
    assert_eq!(
        parse_port_ranges("10,12-14,16"),
        Ok(vec![10, 12, 13, 14, 16])
    );
    assert_eq!(parse_port_ranges(" 80 , 443 "), Ok(vec![80, 443]));
    assert_eq!(parse_port_ranges("80,80"), Ok(vec![80, 80]));
    assert_eq!(parse_port_ranges("65536"), Ok(vec![65536]));
    assert_eq!(parse_port_ranges("80,,443"), Err(PortSpecError::Empty));
    assert_eq!(parse_port_ranges("0"), Err(PortSpecError::Zero));
    assert_eq!(parse_port_ranges("0-5"), Err(PortSpecError::Zero));
    assert_eq!(
        parse_port_ranges("65537"),
        Err(PortSpecError::TooLarge(65537))
    );
    assert_eq!(
        parse_port_ranges("10-5"),
        Err(PortSpecError::ReversedRange { start: 10, end: 5 })
    );
    assert_eq!(parse_port_ranges("1-2-3"), Err(PortSpecError::BadSyntax));
    assert!(matches!(
        parse_port_ranges("+80"),
        Err(PortSpecError::NotANumber(_))
    ));
    assert!(matches!(
        parse_port_ranges("1 - 5"),
        Err(PortSpecError::NotANumber(_))
    ));
    assert!(matches!(
        parse_port_ranges("http"),
        Err(PortSpecError::NotANumber(_))
    ));
    assert_eq!(parse_port_ranges("1-65536").map(|p| p.len()), Ok(65536));
    // Nomad counts a range as end − start ports, so this is 65536, allowed…
    assert_eq!(parse_port_ranges("1-65536,7").map(|p| p.len()), Ok(65537));
    // …and one more is too many.
    assert_eq!(
        parse_port_ranges("1-65536,7,8").map(|p| p.len()),
        Err(PortSpecError::TooMany)
    );
}

#[test]
fn config_merges_global_and_per_address_reservations() {
    let config = NodePortConfig::new(
        "22",
        &["10.0.0.9"],
        &[
            addr("default", "10.0.0.1", "80,443"),
            addr("public", "1.2.3.4", "1-1000"),
            addr("default", "10.0.0.2", ""),
        ],
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ports = NodePorts::new(Arc::new(config));
    let ip = |s: &str| ports.ip_index(s).unwrap_or(u32::MAX);
    assert!(ports.is_used(ip("10.0.0.9"), 22));
    assert!(!ports.is_used(ip("10.0.0.9"), 80));
    assert!(ports.is_used(ip("10.0.0.1"), 22));
    assert!(ports.is_used(ip("10.0.0.1"), 443));
    assert!(!ports.is_used(ip("10.0.0.1"), 444));
    assert!(ports.is_used(ip("1.2.3.4"), 1000));
    assert!(!ports.is_used(ip("1.2.3.4"), 1001));
    assert!(ports.is_used(ip("10.0.0.2"), 22));
    assert!(!ports.is_used(ip("10.0.0.2"), 80));
    assert_eq!(ports.config().min_dynamic_port(), 20_000);
    assert_eq!(ports.config().max_dynamic_port(), 32_000);
    assert_eq!(ports.ip(ip("1.2.3.4")), Some("1.2.3.4"));
    assert_eq!(ports.ip(99), None);
}

#[test]
fn config_errors() {
    let err = NodePortConfig::new("22,x", &[], &[], None, None).map(|_| ());
    assert!(matches!(
        err,
        Err(PortError::ReservedSpec { network: None, .. })
    ));
    let err =
        NodePortConfig::new("", &[], &[addr("public", "1.2.3.4", "0")], None, None).map(|_| ());
    assert_eq!(
        err,
        Err(PortError::ReservedSpec {
            network: Some("public".into()),
            source: PortSpecError::Zero
        })
    );
    // Zero keeps the default dynamic bounds.
    let config =
        NodePortConfig::new("", &[], &[], Some(0), Some(40_000)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.min_dynamic_port(), 20_000);
    assert_eq!(config.max_dynamic_port(), 40_000);
}

#[test]
fn recording_allocation_ports_detects_collisions() {
    let mut ports = node("22", &[addr("default", "10.0.0.1", "")]);
    let used = |value, ignore_collision| UsedPort {
        host_ip: "10.0.0.1",
        value,
        ignore_collision,
    };
    assert_eq!(ports.add_port(used(8080, false)), Ok(()));
    assert_eq!(
        ports.add_port(used(8080, false)),
        Err(PortError::InUse { port: 8080 })
    );
    assert_eq!(ports.add_port(used(8080, true)), Ok(()));
    assert_eq!(
        ports.add_port(used(22, false)),
        Err(PortError::InUse { port: 22 })
    );
    assert_eq!(
        ports.add_port(used(65536, false)),
        Err(PortError::OutOfRange(65536))
    );
    assert_eq!(
        ports.add_port(used(-1, false)),
        Err(PortError::OutOfRange(-1))
    );
    // Collisions do not stop the remaining ports from being recorded.
    assert_eq!(
        ports.add_ports(&[used(8080, false), used(9090, false)]),
        Err(PortError::InUse { port: 8080 })
    );
    let ip = ports.ip_index("10.0.0.1").unwrap_or(u32::MAX);
    assert!(ports.is_used(ip, 9090));
    // Unknown IPs get their own set.
    assert_eq!(
        ports.add_port(UsedPort {
            host_ip: "192.168.1.1",
            value: 8080,
            ignore_collision: false
        }),
        Ok(())
    );
    assert!(ports.ip_index("192.168.1.1").is_some());
}

#[test]
fn clones_are_independent() {
    let base = node("", &[addr("default", "10.0.0.1", "")]);
    let mut a = base.clone();
    let used = UsedPort {
        host_ip: "10.0.0.1",
        value: 5000,
        ignore_collision: false,
    };
    assert_eq!(a.add_port(used), Ok(()));
    assert!(a.is_used(0, 5000));
    assert!(!base.is_used(0, 5000));
}

#[test]
fn assigns_static_and_dynamic_ports() {
    let mut ports = node("", &[addr("default", "10.0.0.1", "")]);
    let reserved = [fixed("http", 8080)];
    let dynamic_ports = [dynamic("db"), dynamic("metrics")];
    let ask = PortAsk {
        reserved: &reserved,
        dynamic: &dynamic_ports,
    };
    let mut rng = Rng::new(1);
    let mut offer = Vec::new();
    assert_eq!(ports.assign(&ask, &mut rng, &mut offer), Ok(()));
    assert_eq!(offer.len(), 3);
    assert_eq!(offer[0].kind, PortKind::Static);
    assert_eq!(offer[0].value, 8080);
    assert_eq!(offer[0].to, 0);
    for port in &offer[1..] {
        assert_eq!(port.kind, PortKind::Dynamic);
        assert!((20_000..32_000).contains(&port.value));
        assert_eq!(port.to, i64::from(port.value));
        assert_eq!(ports.ip(port.ip), Some("10.0.0.1"));
    }
    assert_ne!(offer[1].value, offer[2].value);
    // Same seed, same offer.
    let mut again = Vec::new();
    assert_eq!(ports.assign(&ask, &mut Rng::new(1), &mut again), Ok(()));
    assert_eq!(offer, again);
    // Recording the offer makes the static port collide next time.
    assert_eq!(ports.add_offer(&offer), Ok(()));
    assert_eq!(
        ports.assign(&ask, &mut rng, &mut offer),
        Err(PortError::StaticCollision {
            label: "http".into(),
            port: 8080
        })
    );
    let shared = [PortRequest {
        ignore_collision: true,
        ..fixed("http", 8080)
    }];
    let ask = PortAsk {
        reserved: &shared,
        dynamic: &[],
    };
    assert_eq!(ports.assign(&ask, &mut rng, &mut offer), Ok(()));
    assert_eq!(ports.add_offer(&offer), Ok(()));
}

#[test]
fn static_port_falls_through_to_next_address() {
    let ports = node(
        "",
        &[
            addr("default", "10.0.0.1", "8080"),
            addr("default", "10.0.0.2", ""),
        ],
    );
    let reserved = [fixed("http", 8080)];
    let mut offer = Vec::new();
    let ask = PortAsk {
        reserved: &reserved,
        dynamic: &[],
    };
    assert_eq!(ports.assign(&ask, &mut Rng::new(3), &mut offer), Ok(()));
    assert_eq!(ports.ip(offer[0].ip), Some("10.0.0.2"));
}

#[test]
fn assignment_errors() {
    let ports = node("", &[addr("default", "10.0.0.1", "")]);
    let mut offer = Vec::new();
    let mut rng = Rng::new(9);
    let public = [PortRequest {
        host_network: "public",
        ..dynamic("x")
    }];
    let ask = PortAsk {
        reserved: &[],
        dynamic: &public,
    };
    assert_eq!(
        ports.assign(&ask, &mut rng, &mut offer),
        Err(PortError::NoAddresses("public".into()))
    );
    let bad = [fixed("x", 70_000)];
    let ask = PortAsk {
        reserved: &bad,
        dynamic: &[],
    };
    assert_eq!(
        ports.assign(&ask, &mut rng, &mut offer),
        Err(PortError::OutOfRange(70_000))
    );
}

#[test]
fn dynamic_ports_avoid_used_reserved_and_offered() {
    // A range of 3 ports where 20001 is reserved by the node and 20000 by
    // the request itself: only 20002 can be chosen (20002 is the inclusive
    // upper bound, reachable only through the exhaustive fallback).
    let config = NodePortConfig::new(
        "20001",
        &[],
        &[addr("default", "10.0.0.1", "")],
        Some(20_000),
        Some(20_002),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ports = NodePorts::new(Arc::new(config));
    let reserved = [fixed("static", 20_000)];
    let one = [dynamic("d")];
    let ask = PortAsk {
        reserved: &reserved,
        dynamic: &one,
    };
    let mut offer = Vec::new();
    for seed in 0..50 {
        assert_eq!(ports.assign(&ask, &mut Rng::new(seed), &mut offer), Ok(()));
        assert_eq!(offer[1].value, 20_002);
    }
    // A second dynamic port has nowhere to go.
    let two = [dynamic("d"), dynamic("e")];
    let ask = PortAsk {
        reserved: &reserved,
        dynamic: &two,
    };
    assert_eq!(
        ports.assign(&ask, &mut Rng::new(1), &mut offer),
        Err(PortError::DynamicExhausted)
    );
}

#[test]
fn degenerate_dynamic_ranges() {
    // min == max: the random draw always yields min.
    let config = NodePortConfig::new(
        "",
        &[],
        &[addr("default", "10.0.0.1", "")],
        Some(30_000),
        Some(30_000),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut ports = NodePorts::new(Arc::new(config));
    let one = [dynamic("d")];
    let ask = PortAsk {
        reserved: &[],
        dynamic: &one,
    };
    let mut offer = Vec::new();
    assert_eq!(ports.assign(&ask, &mut Rng::new(1), &mut offer), Ok(()));
    assert_eq!(offer[0].value, 30_000);
    assert_eq!(ports.add_offer(&offer), Ok(()));
    assert_eq!(
        ports.assign(&ask, &mut Rng::new(1), &mut offer),
        Err(PortError::DynamicExhausted)
    );
    // min > max: Nomad's random draw still yields min; the exhaustive
    // fallback has nothing to scan.
    let config = NodePortConfig::new(
        "",
        &[],
        &[addr("default", "10.0.0.1", "")],
        Some(30_000),
        Some(29_000),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut ports = NodePorts::new(Arc::new(config));
    assert_eq!(ports.assign(&ask, &mut Rng::new(1), &mut offer), Ok(()));
    assert_eq!(offer[0].value, 30_000);
    assert_eq!(ports.add_offer(&offer), Ok(()));
    assert_eq!(
        ports.assign(&ask, &mut Rng::new(1), &mut offer),
        Err(PortError::DynamicExhausted)
    );
    // A range reaching past 65535 never offers an invalid port.
    let config = NodePortConfig::new(
        "",
        &[],
        &[addr("default", "10.0.0.1", "")],
        Some(65_535),
        Some(70_000),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ports = NodePorts::new(Arc::new(config));
    for seed in 0..20 {
        assert_eq!(ports.assign(&ask, &mut Rng::new(seed), &mut offer), Ok(()));
        assert_eq!(offer[0].value, 65_535);
    }
}

#[test]
fn fallback_finds_the_last_free_port_in_a_full_range() {
    // Reserve every dynamic port but one: random draws almost surely miss,
    // the exhaustive fallback finds it.
    let config = NodePortConfig::new(
        "20000-31990,31992-32000",
        &[],
        &[addr("default", "10.0.0.1", "")],
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ports = NodePorts::new(Arc::new(config));
    let one = [dynamic("d")];
    let ask = PortAsk {
        reserved: &[],
        dynamic: &one,
    };
    let mut offer = Vec::new();
    assert_eq!(ports.assign(&ask, &mut Rng::new(77), &mut offer), Ok(()));
    assert_eq!(offer[0].value, 31_991);
}
