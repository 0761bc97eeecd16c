//! The driver conformance kit, run for real against exec (root and cgroups
//! needed: skipped loudly otherwise, failing under CI=true).

mod common;

use std::sync::Arc;

use nomad_driver::conformance::{ConformanceOptions, ConformanceSetup, DriverFactory};
use nomad_driver::Driver;
use nomad_driver_exec::ExecDriver;

fn setup() -> Option<ConformanceSetup> {
    if !common::can_run("exec conformance") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = common::config(dir.path());
    let factory: DriverFactory =
        Arc::new(move || Arc::new(ExecDriver::new(config.clone())) as Arc<dyn Driver>);
    let options = ConformanceOptions::new(dir.path().join("allocs"));
    Some(ConformanceSetup {
        factory,
        options,
        guard: Box::new(dir),
    })
}

nomad_driver::conformance_tests!(setup);
