//! Support for end-to-end tests: finding the built binaries and running them
//! the way a user would, in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The path of a workspace binary (`nomad`, `nomad-server`, `nomad-client`).
///
/// Test executables live in `<target>/<profile>/deps/`; binaries one level up.
/// `scripts/test` builds the binaries before the tests run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot locate the test executable: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `nomad <args>` in `dir` with a clean `NOMAD_*` environment.
pub fn nomad(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("nomad"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("NOMAD_") {
            cmd.env_remove(k);
        }
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run nomad: {e}"))
        .into()
}
