//! The dispatch payload hook: a dispatched job's payload (base64 in
//! `Job.Payload`) is written to `local/<dispatch_payload.file>` before the
//! task starts, as Nomad's client does.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use nomad_types::{Job, Task};

/// Writes the payload where the task asks for it. `Ok(None)` when the task
/// has no `dispatch_payload` block or the job no payload.
pub fn write(job: Option<&Job>, task: &Task, local_dir: &Path) -> Result<Option<PathBuf>, String> {
    let Some(cfg) = task
        .dispatch_payload
        .as_ref()
        .filter(|c| !c.file.is_empty())
    else {
        return Ok(None);
    };
    let Some(payload) = job.and_then(|j| j.payload.as_deref()) else {
        return Ok(None);
    };
    let rel = Path::new(&cfg.file);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "dispatch_payload file {:?} must be a relative path inside the task's local directory",
            cfg.file
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| format!("the job's payload is not valid base64: {e}"))?;
    let path = local_dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::DispatchPayloadConfig;

    fn task(file: &str) -> Task {
        Task {
            dispatch_payload: Some(DispatchPayloadConfig { file: file.into() }),
            ..Task::default()
        }
    }

    fn job(payload: &str) -> Job {
        Job {
            payload: Some(base64::engine::general_purpose::STANDARD.encode(payload)),
            ..Job::default()
        }
    }

    #[test]
    fn writes_the_decoded_payload_under_local() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(Some(&job("hello\n")), &task("in/input.txt"), dir.path())
            .expect("write")
            .expect("a path");
        assert_eq!(p, dir.path().join("in/input.txt"));
        assert_eq!(std::fs::read_to_string(p).expect("read"), "hello\n");
    }

    #[test]
    fn nothing_without_a_block_or_a_payload() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(
            write(Some(&job("x")), &Task::default(), dir.path()),
            Ok(None)
        );
        assert_eq!(
            write(Some(&Job::default()), &task("f"), dir.path()),
            Ok(None)
        );
        assert_eq!(write(None, &task("f"), dir.path()), Ok(None));
    }

    #[test]
    fn refuses_paths_that_leave_local() {
        let dir = tempfile::tempdir().expect("tmp");
        for bad in ["../escape", "/etc/passwd", "a/../../b"] {
            let e = write(Some(&job("x")), &task(bad), dir.path()).unwrap_err();
            assert!(e.contains("relative path inside"), "{bad}: {e}");
        }
    }
}
