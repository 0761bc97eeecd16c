//! Every type serialises with exactly Nomad's JSON field names, in Nomad's
//! order (Go marshals fields in declaration order). The expected lists are
//! in `fixtures/go_fields.txt`.

use std::collections::BTreeMap;

use nomad_types::alloc::*;
use nomad_types::deployment::*;
use nomad_types::diff::*;
use nomad_types::eval::*;
use nomad_types::group::*;
use nomad_types::job::*;
use nomad_types::node::*;
use nomad_types::policies::*;
use nomad_types::resources::*;
use nomad_types::services::*;
use nomad_types::task::*;
use serde::Serialize;

fn expected() -> BTreeMap<String, Vec<String>> {
    include_str!("fixtures/go_fields.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(name, fields)| {
            (
                name.to_string(),
                fields.split(',').map(str::to_string).collect(),
            )
        })
        .collect()
}

fn keys<T: Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value).unwrap() {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

macro_rules! check_types {
    ($($ty:ident),* $(,)?) => {{
        let expected = expected();
        let mut failures = Vec::new();
        let mut seen = 0;
        $(
            seen += 1;
            let want = expected
                .get(stringify!($ty))
                .unwrap_or_else(|| panic!("no fixture for {}", stringify!($ty)));
            let got = keys(&<$ty>::default());
            // omitempty fields are absent from a default value.
            let want_present: Vec<String> = want
                .iter()
                .filter(|f| !f.ends_with('?'))
                .cloned()
                .collect();
            if got != want_present {
                failures.push(format!("{}:\n  want {:?}\n  got  {:?}", stringify!($ty), want_present, got));
            }
        )*
        assert!(failures.is_empty(), "field mismatches:\n{}", failures.join("\n"));
        assert_eq!(seen, expected.len(), "every fixture line is checked");
    }};
}

#[test]
fn json_field_names_and_order_match_nomad() {
    check_types!(
        Job,
        TaskGroup,
        Task,
        Resources,
        NetworkResource,
        Port,
        DnsConfig,
        CniConfig,
        RequestedDevice,
        NumaResource,
        Constraint,
        Affinity,
        Spread,
        SpreadTarget,
        RestartPolicy,
        ReschedulePolicy,
        UpdateStrategy,
        MigrateStrategy,
        DisconnectStrategy,
        EphemeralDisk,
        VolumeRequest,
        CsiMountOptions,
        VolumeMount,
        ScalingPolicy,
        Service,
        ServiceCheck,
        CheckRestart,
        ServiceWeights,
        Template,
        WaitConfig,
        ChangeScript,
        TaskArtifact,
        LogConfig,
        TaskLifecycle,
        DispatchPayloadConfig,
        Vault,
        Consul,
        Secret,
        WorkloadIdentity,
        Action,
        TaskCsiPluginConfig,
        TaskSchedule,
        TaskScheduleCron,
        PeriodicConfig,
        ParameterizedJobConfig,
        Multiregion,
        MultiregionStrategy,
        MultiregionRegion,
        JobUiConfig,
        JobUiLink,
        JobVersionTag,
        JobDiff,
        TaskGroupDiff,
        TaskDiff,
        FieldDiff,
        ObjectDiff,
        PlanAnnotations,
        DesiredUpdates,
        JobPlanResponse,
        Node,
        NodeResources,
        NodeCpuResources,
        NodeProcessorResources,
        NodeMemoryResources,
        NodeDiskResources,
        NodeDeviceResource,
        NodeDevice,
        NodeNetworkResource,
        NodeNetworkAddress,
        NodeReservedResources,
        NodeReservedCpuResources,
        NodeReservedNetworkResources,
        DriverInfo,
        DrainSpec,
        DrainMetadata,
        NodeEvent,
        ClientHostVolumeConfig,
        ClientHostNetworkConfig,
        NodeListStub,
        Allocation,
        AllocationListStub,
        AllocMetric,
        NodeScoreMeta,
        AllocDeploymentStatus,
        RescheduleTracker,
        RescheduleEvent,
        DesiredTransition,
        AllocatedResources,
        AllocatedTaskResources,
        AllocatedSharedResources,
        AllocatedCpuResources,
        AllocatedMemoryResources,
        AllocatedPortMapping,
        AllocatedDeviceResource,
        AllocNetworkStatus,
        AllocState,
        TaskState,
        TaskEvent,
        Evaluation,
        EvaluationStub,
        Deployment,
        DeploymentState,
        JobSummary,
        JobChildrenSummary,
        TaskGroupSummary,
        JobListStub,
        DrainStrategy,
    );
}

#[test]
fn omitempty_fields_appear_when_set() {
    let task = Task {
        csi_plugin_config: Some(Box::default()),
        ..Task::default()
    };
    assert!(keys(&task).contains(&"CSIPluginConfig".to_string()));
    let stub = JobListStub {
        namespace: "default".into(),
        meta: BTreeMap::from([("a".into(), "b".into())]),
        ..JobListStub::default()
    };
    let k = keys(&stub);
    assert_eq!(k[3], "Namespace");
    assert_eq!(k.last().map(String::as_str), Some("Meta"));
}
