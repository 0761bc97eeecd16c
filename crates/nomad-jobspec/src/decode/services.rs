//! `service` blocks with their checks, and Consul Connect (`connect`,
//! `sidecar_service`, `proxy`, `upstreams`, `sidecar_task`, gateways).

use super::schema::{attr, by_label, many, one, schema, Schema};
use super::task::{IDENTITY, LOGS, RESOURCES, VOLUME_MOUNT};
use super::value::Kind::{
    Bool, Dur, Free, HeaderMap, Int, IntList, MapBlock, Str, StrList, Uint16,
};

static CHECK_RESTART: Schema = schema(
    "check_restart",
    &[],
    &[
        attr("limit", "Limit", Int),
        attr("grace", "Grace", Dur),
        attr("ignore_warnings", "IgnoreWarnings", Bool),
    ],
);

static CHECK: Schema = schema(
    "check",
    &[],
    &[
        attr("name", "Name", Str),
        attr("type", "Type", Str),
        attr("command", "Command", Str),
        attr("args", "Args", StrList),
        attr("path", "Path", Str),
        attr("protocol", "Protocol", Str),
        attr("port", "PortLabel", Str),
        attr("expose", "Expose", Bool),
        attr("address_mode", "AddressMode", Str),
        attr("advertise", "Advertise", Str),
        attr("interval", "Interval", Dur),
        attr("timeout", "Timeout", Dur),
        attr("initial_status", "InitialStatus", Str),
        attr("notes", "Notes", Str),
        attr("tls_server_name", "TLSServerName", Str),
        attr("tls_skip_verify", "TLSSkipVerify", Bool),
        attr("header", "Header", HeaderMap),
        attr("method", "Method", Str),
        one("check_restart", "CheckRestart", &CHECK_RESTART),
        attr("grpc_service", "GRPCService", Str),
        attr("grpc_use_tls", "GRPCUseTLS", Bool),
        attr("task", "TaskName", Str),
        attr("success_before_passing", "SuccessBeforePassing", Int),
        attr("failures_before_critical", "FailuresBeforeCritical", Int),
        attr("failures_before_warning", "FailuresBeforeWarning", Int),
        attr("body", "Body", Str),
        attr("on_update", "OnUpdate", Str),
    ],
);

static WEIGHTS: Schema = schema(
    "weights",
    &[],
    &[
        attr("passing", "Passing", Int),
        attr("warning", "Warning", Int),
    ],
);

static EXPOSE_PATH: Schema = schema(
    "path",
    &[],
    &[
        attr("path", "Path", Str),
        attr("protocol", "Protocol", Str),
        attr("local_path_port", "LocalPathPort", Int),
        attr("listener_port", "ListenerPort", Str),
    ],
);

static EXPOSE: Schema = schema("expose", &[], &[many("path", "Paths", &EXPOSE_PATH)]);

static MESH_GATEWAY: Schema = schema("mesh_gateway", &[], &[attr("mode", "Mode", Str)]);

static UPSTREAM: Schema = schema(
    "upstreams",
    &[],
    &[
        attr("destination_name", "DestinationName", Str),
        attr("destination_namespace", "DestinationNamespace", Str),
        attr("destination_peer", "DestinationPeer", Str),
        attr("destination_partition", "DestinationPartition", Str),
        attr("destination_type", "DestinationType", Str),
        attr("local_bind_port", "LocalBindPort", Int),
        attr("datacenter", "Datacenter", Str),
        attr("local_bind_address", "LocalBindAddress", Str),
        attr("local_bind_socket_path", "LocalBindSocketPath", Str),
        attr("local_bind_socket_mode", "LocalBindSocketMode", Str),
        one("mesh_gateway", "MeshGateway", &MESH_GATEWAY),
        attr("config", "Config", Free),
    ],
);

static TRANSPARENT_PROXY: Schema = schema(
    "transparent_proxy",
    &[],
    &[
        attr("uid", "UID", Str),
        attr("outbound_port", "OutboundPort", Uint16),
        attr("exclude_inbound_ports", "ExcludeInboundPorts", StrList),
        attr("exclude_outbound_ports", "ExcludeOutboundPorts", IntList),
        attr("exclude_outbound_cidrs", "ExcludeOutboundCIDRs", StrList),
        attr("exclude_uids", "ExcludeUIDs", StrList),
        attr("no_dns", "NoDNS", Bool),
    ],
);

static PROXY: Schema = schema(
    "proxy",
    &[],
    &[
        attr("local_service_address", "LocalServiceAddress", Str),
        attr("local_service_port", "LocalServicePort", Int),
        one("expose", "Expose", &EXPOSE),
        many("upstreams", "Upstreams", &UPSTREAM),
        one("transparent_proxy", "TransparentProxy", &TRANSPARENT_PROXY),
        attr("config", "Config", Free),
    ],
);

static SIDECAR_SERVICE: Schema = schema(
    "sidecar_service",
    &[],
    &[
        attr("tags", "Tags", StrList),
        attr("port", "Port", Str),
        one("proxy", "Proxy", &PROXY),
        attr("disable_default_tcp_check", "DisableDefaultTCPCheck", Bool),
        attr("meta", "Meta", MapBlock),
    ],
);

static SIDECAR_TASK: Schema = schema(
    "sidecar_task",
    &[],
    &[
        attr("name", "Name", Str),
        attr("driver", "Driver", Str),
        attr("user", "User", Str),
        attr("config", "Config", Free),
        attr("env", "Env", MapBlock),
        one("resources", "Resources", &RESOURCES),
        attr("meta", "Meta", MapBlock),
        attr("kill_timeout", "KillTimeout", Dur),
        one("logs", "LogConfig", &LOGS),
        attr("shutdown_delay", "ShutdownDelay", Dur),
        attr("kill_signal", "KillSignal", Str),
        many("volume_mount", "VolumeMounts", &VOLUME_MOUNT),
        many("identity", "Identities", &IDENTITY),
    ],
);

static BIND_ADDRESS: Schema = schema(
    "envoy_gateway_bind_addresses",
    &[("Name", "name")],
    &[attr("address", "Address", Str), attr("port", "Port", Int)],
);

static GATEWAY_PROXY: Schema = schema(
    "proxy",
    &[],
    &[
        attr("connect_timeout", "ConnectTimeout", Dur),
        attr(
            "envoy_gateway_bind_tagged_addresses",
            "EnvoyGatewayBindTaggedAddresses",
            Bool,
        ),
        by_label(
            "envoy_gateway_bind_addresses",
            "EnvoyGatewayBindAddresses",
            &BIND_ADDRESS,
        ),
        attr(
            "envoy_gateway_no_default_bind",
            "EnvoyGatewayNoDefaultBind",
            Bool,
        ),
        attr("envoy_dns_discovery_type", "EnvoyDNSDiscoveryType", Str),
        attr("config", "Config", Free),
    ],
);

static SDS: Schema = schema(
    "sds",
    &[],
    &[
        attr("cluster_name", "ClusterName", Str),
        attr("cert_resource", "CertResource", Str),
    ],
);

static GATEWAY_TLS: Schema = schema(
    "tls",
    &[],
    &[
        attr("enabled", "Enabled", Bool),
        attr("tls_min_version", "TLSMinVersion", Str),
        attr("tls_max_version", "TLSMaxVersion", Str),
        attr("cipher_suites", "CipherSuites", StrList),
        one("sds", "SDS", &SDS),
    ],
);

static HEADER_MODIFIERS: Schema = schema(
    "request_headers",
    &[],
    &[
        attr("add", "Add", MapBlock),
        attr("set", "Set", MapBlock),
        attr("remove", "Remove", StrList),
    ],
);

static INGRESS_SERVICE: Schema = schema(
    "service",
    &[],
    &[
        attr("name", "Name", Str),
        attr("hosts", "Hosts", StrList),
        one("tls", "TLS", &GATEWAY_TLS),
        one("request_headers", "RequestHeaders", &HEADER_MODIFIERS),
        one("response_headers", "ResponseHeaders", &HEADER_MODIFIERS),
        attr("max_connections", "MaxConnections", Int),
        attr("max_pending_requests", "MaxPendingRequests", Int),
        attr("max_concurrent_requests", "MaxConcurrentRequests", Int),
    ],
);

static LISTENER: Schema = schema(
    "listener",
    &[],
    &[
        attr("port", "Port", Int),
        attr("protocol", "Protocol", Str),
        many("service", "Services", &INGRESS_SERVICE),
    ],
);

static INGRESS: Schema = schema(
    "ingress",
    &[],
    &[
        one("tls", "TLS", &GATEWAY_TLS),
        many("listener", "Listeners", &LISTENER),
    ],
);

static LINKED_SERVICE: Schema = schema(
    "service",
    &[],
    &[
        attr("name", "Name", Str),
        attr("ca_file", "CAFile", Str),
        attr("cert_file", "CertFile", Str),
        attr("key_file", "KeyFile", Str),
        attr("sni", "SNI", Str),
    ],
);

static TERMINATING: Schema = schema(
    "terminating",
    &[],
    &[many("service", "Services", &LINKED_SERVICE)],
);

static MESH: Schema = schema("mesh", &[], &[]);

static GATEWAY: Schema = schema(
    "gateway",
    &[],
    &[
        one("proxy", "Proxy", &GATEWAY_PROXY),
        one("ingress", "Ingress", &INGRESS),
        one("terminating", "Terminating", &TERMINATING),
        one("mesh", "Mesh", &MESH),
    ],
);

static CONNECT: Schema = schema(
    "connect",
    &[],
    &[
        attr("native", "Native", Bool),
        one("gateway", "Gateway", &GATEWAY),
        one("sidecar_service", "SidecarService", &SIDECAR_SERVICE),
        one("sidecar_task", "SidecarTask", &SIDECAR_TASK),
    ],
);

pub(crate) static SERVICE: Schema = schema(
    "service",
    &[],
    &[
        attr("name", "Name", Str),
        attr("tags", "Tags", StrList),
        attr("canary_tags", "CanaryTags", StrList),
        attr("enable_tag_override", "EnableTagOverride", Bool),
        attr("port", "PortLabel", Str),
        attr("address_mode", "AddressMode", Str),
        attr("address", "Address", Str),
        many("check", "Checks", &CHECK),
        one("check_restart", "CheckRestart", &CHECK_RESTART),
        one("connect", "Connect", &CONNECT),
        attr("meta", "Meta", MapBlock),
        attr("canary_meta", "CanaryMeta", MapBlock),
        attr("tagged_addresses", "TaggedAddresses", MapBlock),
        attr("task", "TaskName", Str),
        attr("on_update", "OnUpdate", Str),
        one("identity", "Identity", &IDENTITY),
        one("weights", "Weights", &WEIGHTS),
        attr("provider", "Provider", Str),
        attr("cluster", "Cluster", Str),
        attr("kind", "Kind", Str),
    ],
);
