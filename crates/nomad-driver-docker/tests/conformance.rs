//! The driver conformance kit, run for real against the local Docker Engine
//! with the locally built busybox image (skipped loudly without Docker,
//! failing under CI=true).

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_driver::conformance::{ConformanceOptions, ConformanceSetup, DriverFactory};
use nomad_driver::Driver;
use nomad_driver_docker::testing::{self, ContainerSweep, TEST_IMAGE};
use nomad_driver_docker::{DockerConfig, DockerDriver};
use serde_json::{json, Value};

fn setup() -> Option<ConformanceSetup> {
    if !testing::docker_or_skip("docker conformance") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let factory: DriverFactory =
        Arc::new(|| Arc::new(DockerDriver::new(DockerConfig::default())) as Arc<dyn Driver>);
    let mut options = ConformanceOptions::new(dir.path().join("allocs"));
    options.command_config = Arc::new(|command: &str, args: &[String]| {
        let mut m = BTreeMap::new();
        m.insert("image".to_string(), json!(TEST_IMAGE));
        m.insert("command".to_string(), Value::String(command.to_string()));
        m.insert("args".to_string(), json!(args));
        m
    });
    // The kit names allocations conf-<pid>-<check>-<n>: sweep this check's
    // even if it panics. libtest names the test's thread after the test
    // (`conformance::<check>`); when it does not (one test per process),
    // the whole process's prefix is ours alone.
    let pid = std::process::id();
    let sweep = match std::thread::current()
        .name()
        .and_then(|n| n.rsplit_once("::"))
    {
        Some((_, check)) => ContainerSweep::new(format!("conf-{pid}-{check}-")),
        None => ContainerSweep::new(format!("conf-{pid}-")),
    };
    Some(ConformanceSetup {
        factory,
        options,
        guard: Box::new((sweep, dir)),
    })
}

nomad_driver::conformance_tests!(setup);
