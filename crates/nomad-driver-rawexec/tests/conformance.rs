//! The driver conformance kit, run for real against raw_exec (needs no root).

use std::sync::Arc;

use nomad_driver::conformance::{ConformanceOptions, ConformanceSetup, DriverFactory};
use nomad_driver::Driver;
use nomad_driver_rawexec::{RawExecConfig, RawExecDriver};

fn setup() -> Option<ConformanceSetup> {
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("state");
    let factory: DriverFactory = Arc::new(move || {
        Arc::new(RawExecDriver::new(RawExecConfig::enabled(
            state_dir.clone(),
        ))) as Arc<dyn Driver>
    });
    let options = ConformanceOptions::new(dir.path().join("allocs"));
    Some(ConformanceSetup {
        factory,
        options,
        guard: Box::new(dir),
    })
}

nomad_driver::conformance_tests!(setup);
