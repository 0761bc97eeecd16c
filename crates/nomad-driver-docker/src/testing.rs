//! Test support: the local busybox test image, skipping (or failing, under
//! `CI=true`) when Docker is absent, and sweeping containers a test left.
//!
//! No registry is reachable where the tests run, so the image is built
//! locally: `FROM scratch` plus Debian's static busybox and a symlink per
//! applet. `scripts/build-test-images` at the repository root does the same
//! for CI; [`ensure_test_image`] is idempotent and safe to call from
//! concurrent test processes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::container::LABEL_ALLOC_ID;

/// The test image.
pub const TEST_IMAGE: &str = "nomad-test/busybox:1";
/// The static busybox the image is built from (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";
/// The Docker socket the tests use.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

fn stderr_line(msg: &str) {
    // Straight to fd 2, past the test harness's output capture.
    let _ = fs::OpenOptions::new()
        .write(true)
        .open("/dev/stderr")
        .and_then(|mut f| f.write_all(msg.as_bytes()));
}

/// True when the tests should run against Docker. Without the socket: under
/// `CI=true` this panics (CI must run them), otherwise it prints loudly that
/// `test` is skipped and returns false. With the socket it makes sure the
/// test image exists, panicking when it cannot be built.
pub fn docker_or_skip(test: &str) -> bool {
    if !Path::new(DOCKER_SOCKET).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{test} needs Docker ({DOCKER_SOCKET} is absent), and CI=true requires it to run"
            );
        }
        stderr_line(&format!(
            "\n*** SKIPPED {test}: no Docker daemon ({DOCKER_SOCKET} is absent) ***\n"
        ));
        return false;
    }
    if let Err(e) = ensure_test_image() {
        panic!("{test}: cannot build the test image {TEST_IMAGE}: {e}");
    }
    true
}

fn image_exists() -> bool {
    Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Builds [`TEST_IMAGE`] unless it exists. Concurrent callers (test
/// processes) serialize on a lock file.
pub fn ensure_test_image() -> Result<(), String> {
    if image_exists() {
        return Ok(());
    }
    let lock_path = std::env::temp_dir().join("nomad-test-busybox-image.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("opening {lock_path:?}: {e}"))?;
    lock.lock()
        .map_err(|e| format!("locking {lock_path:?}: {e}"))?;
    if image_exists() {
        return Ok(());
    }
    if !Path::new(BUSYBOX).exists() {
        // The script installs Debian's busybox-static first.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-images");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("running {script:?}: {e}"))?;
        if !out.status.success() || !image_exists() {
            return Err(format!(
                "{script:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        return Ok(());
    }
    build_image()
}

fn build_image() -> Result<(), String> {
    let ctx = tempfile_dir()?;
    let result = (|| {
        let root = ctx.join("rootfs");
        let bin = root.join("bin");
        fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        fs::copy(BUSYBOX, bin.join("busybox")).map_err(|e| format!("copying {BUSYBOX}: {e}"))?;
        let list = Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .map_err(|e| format!("{BUSYBOX} --list: {e}"))?;
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            symlink("busybox", bin.join(applet)).map_err(|e| e.to_string())?;
        }
        for (dir, mode) in [("tmp", 0o1777), ("etc", 0o755), ("root", 0o700)] {
            let d = root.join(dir);
            fs::create_dir_all(&d).map_err(|e| e.to_string())?;
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())?;
        }
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        .map_err(|e| e.to_string())?;
        fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")
            .map_err(|e| e.to_string())?;
        fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"/bin/sh\"]\n",
        )
        .map_err(|e| e.to_string())?;
        let out = Command::new("docker")
            .args(["build", "--quiet", "-t", TEST_IMAGE])
            .arg(&ctx)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .map_err(|e| format!("docker build: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "docker build failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&ctx);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "nomad-test-image-{}-{}",
        std::process::id(),
        nomad_driver::unix_nanos(std::time::SystemTime::now())
    ));
    fs::create_dir_all(&dir).map_err(|e| format!("creating {dir:?}: {e}"))?;
    Ok(dir)
}

/// Force-removes every container whose allocation label starts with
/// `prefix`; returns how many.
pub fn remove_containers(prefix: &str) -> usize {
    let Ok(out) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={LABEL_ALLOC_ID}"),
            "--format",
            &format!("{{{{.ID}}}} {{{{.Label \"{LABEL_ALLOC_ID}\"}}}}"),
        ])
        .output()
    else {
        return 0;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, alloc) = l.split_once(' ')?;
            alloc.starts_with(prefix).then(|| id.to_string())
        })
        .collect();
    if ids.is_empty() {
        return 0;
    }
    let _ = Command::new("docker")
        .args(["rm", "-f", "-v"])
        .args(&ids)
        .output();
    ids.len()
}

/// Removes the containers of allocations starting with its prefix when
/// dropped, so that a failing test leaves nothing behind.
#[derive(Debug)]
pub struct ContainerSweep {
    /// Allocation-id prefix.
    pub prefix: String,
}

impl ContainerSweep {
    /// A sweep of allocations starting with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        ContainerSweep {
            prefix: prefix.into(),
        }
    }
}

impl Drop for ContainerSweep {
    fn drop(&mut self) {
        let n = remove_containers(&self.prefix);
        if n > 0 {
            stderr_line(&format!(
                "removed {n} leftover container(s) of allocations {}*\n",
                self.prefix
            ));
        }
    }
}
