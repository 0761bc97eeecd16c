//! Service registrations and health checks (group and task `service` blocks).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Nanos;
use crate::serde_util::{nullable, sorted_value};
use crate::task::WorkloadIdentity;

/// A service to register in Consul or Nomad's catalog.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Service {
    /// Service name; defaults to `<job>-<group>[-<task>]`.
    pub name: String,
    /// Tags.
    #[serde(with = "nullable")]
    pub tags: Vec<String>,
    /// Tags used while the allocation is a canary.
    #[serde(with = "nullable")]
    pub canary_tags: Vec<String>,
    /// Let Consul override tags.
    pub enable_tag_override: bool,
    /// Port label or number.
    pub port_label: String,
    /// `auto`, `host`, `driver`, `alloc`, `alloc_ipv6`.
    pub address_mode: String,
    /// Explicit address.
    pub address: String,
    /// Health checks.
    #[serde(with = "nullable")]
    pub checks: Vec<ServiceCheck>,
    /// Restart tasks on failing checks (applies to every check).
    pub check_restart: Option<CheckRestart>,
    /// Consul service mesh settings, kept as opaque JSON.
    #[serde(with = "sorted_value")]
    pub connect: Option<serde_json::Value>,
    /// Service metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Metadata while a canary.
    #[serde(with = "nullable")]
    pub canary_meta: BTreeMap<String, String>,
    /// Extra addresses for Consul.
    #[serde(with = "nullable")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Task providing the service (group services).
    pub task_name: String,
    /// Deployment health behaviour.
    pub on_update: String,
    /// Workload identity for the service.
    pub identity: Option<WorkloadIdentity>,
    /// Consul DNS weights.
    pub weights: Option<ServiceWeights>,
    /// `consul` or `nomad`.
    pub provider: String,
    /// Consul cluster.
    pub cluster: String,
    /// Consul service kind.
    pub kind: String,
}

/// A health check of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceCheck {
    /// Check name.
    pub name: String,
    /// `http`, `tcp`, `grpc` or `script`.
    #[serde(rename = "Type")]
    pub check_type: String,
    /// Script command.
    pub command: String,
    /// Script arguments.
    #[serde(with = "nullable")]
    pub args: Vec<String>,
    /// HTTP path.
    pub path: String,
    /// HTTP protocol (`http`/`https`).
    pub protocol: String,
    /// Port label or number.
    pub port_label: String,
    /// Expose through the Connect proxy.
    pub expose: bool,
    /// Address mode.
    pub address_mode: String,
    /// Advertised address.
    pub advertise: String,
    /// Run interval.
    pub interval: Nanos,
    /// Timeout.
    pub timeout: Nanos,
    /// Initial status.
    pub initial_status: String,
    /// Notes.
    pub notes: String,
    /// TLS server name.
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    /// Skip TLS verification.
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    /// HTTP headers.
    #[serde(with = "nullable")]
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP method.
    pub method: String,
    /// Restart behaviour on failure.
    pub check_restart: Option<CheckRestart>,
    /// gRPC service.
    #[serde(rename = "GRPCService")]
    pub grpc_service: String,
    /// gRPC over TLS.
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
    /// Task to run a script check in.
    pub task_name: String,
    /// Successes before passing.
    pub success_before_passing: i64,
    /// Failures before critical.
    pub failures_before_critical: i64,
    /// Failures before warning.
    pub failures_before_warning: i64,
    /// HTTP body.
    pub body: String,
    /// Deployment health behaviour.
    pub on_update: String,
}

impl ServiceCheck {
    /// True for check types that talk to a port (`http`, `tcp`, `grpc`).
    pub fn requires_port(&self) -> bool {
        matches!(self.check_type.as_str(), "http" | "tcp" | "grpc")
    }
}

/// Restart a task when its checks keep failing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CheckRestart {
    /// Consecutive failures before restarting (0 = never).
    pub limit: i64,
    /// Wait after a (re)start before counting failures; defaults to 1s.
    pub grace: Option<Nanos>,
    /// Treat warnings as passing.
    pub ignore_warnings: bool,
}

impl CheckRestart {
    /// Combines a service-level setting with a check-level override: the
    /// check's positive limit, its grace and a `true` ignore-warnings win.
    pub fn merged(
        service: Option<&CheckRestart>,
        check: Option<&CheckRestart>,
    ) -> Option<CheckRestart> {
        let Some(base) = service else {
            return check.cloned();
        };
        let mut out = base.clone();
        if let Some(o) = check {
            if o.limit > 0 {
                out.limit = o.limit;
            }
            if o.grace.is_some() {
                out.grace = o.grace;
            }
            if o.ignore_warnings {
                out.ignore_warnings = true;
            }
        }
        Some(out)
    }
}

/// Consul DNS SRV weights.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceWeights {
    /// Weight while passing.
    pub passing: i64,
    /// Weight while warning.
    pub warning: i64,
}
