//! `nomad alloc exec` with a terminal, run inside a pseudo-terminal made by
//! `script(1)`: `-job` picks the job's running allocation, the remote
//! terminal gets the local size, the local terminal is in raw mode while
//! attached and restored afterwards, and `~.` detaches.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nomad_e2e::{bin, nomad_at, DevAgent};

const JOB: &str = r#"
job "ttyjob" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
    }
  }
}
"#;

/// Runs `shell` under `script` (a pseudo-terminal on its stdin and stdout)
/// with `nomad` on PATH and `NOMAD_ADDR` set; writes `input` after
/// `delay`; what the terminal showed, and how long it took.
fn in_pty(d: &Path, addr: &str, shell: &str, input: &[u8], delay: Duration) -> (String, Duration) {
    let nomad_dir = bin("nomad")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = format!(
        "{}:{}",
        nomad_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", shell, "/dev/null"])
        .current_dir(d)
        .env("PATH", path)
        .env("NOMAD_ADDR", addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(delay);
    let _ = stdin.write_all(input);
    let _ = stdin.flush();
    // Kept open until the end: EOF on script's input would reach the
    // terminal.
    let waiter = std::thread::spawn(move || child.wait_with_output());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiter.is_finished() {
        assert!(Instant::now() < deadline, "script did not finish: {shell}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = waiter.join().expect("join").expect("script output");
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        started.elapsed(),
    )
}

#[test]
fn alloc_exec_with_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let agent = DevAgent::start(d);
    let addr = agent.addr.clone();
    std::fs::write(d.join("tty.nomad.hcl"), JOB).expect("job");
    let run = nomad_at(d, &addr, &["job", "run", "-detach", "tty.nomad.hcl"]);
    assert_eq!(run.code, 0, "{run:?}");
    agent.wait_for("a running allocation", 30, || {
        nomad_at(d, &addr, &["job", "allocs", "ttyjob"])
            .stdout
            .contains("running")
    });

    // Flags checked before anything runs.
    let r = nomad_at(
        d,
        &addr,
        &["alloc", "exec", "-e", "ab", "-job", "ttyjob", "true"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("-e requires 'none' or a single character"),
        "{r:?}"
    );
    let r = nomad_at(
        d,
        &addr,
        &["alloc", "exec", "-t", "-i=false", "-job", "ttyjob", "true"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("-i must be enabled if running with tty"),
        "{r:?}"
    );
    let r = nomad_at(d, &addr, &["alloc", "exec", "-job", "nosuchjob", "true"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Error fetching allocations: job \"nosuchjob\" doesn't exist"),
        "{r:?}"
    );
    // Without a terminal, -job runs the command in the job's allocation.
    let r = nomad_at(
        d,
        &addr,
        &[
            "alloc",
            "exec",
            "-job",
            "ttyjob",
            "sh",
            "-c",
            "echo $NOMAD_JOB_NAME",
        ],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "ttyjob\n"), "{r:?}");

    // A terminal: the remote one has the local size; the local one is
    // restored after.
    let shell = "stty rows 33 cols 77; a=$(stty -g); \
                 nomad alloc exec -job ttyjob sh -c 'stty size'; \
                 echo rc=$?; b=$(stty -g); [ \"$a\" = \"$b\" ] && echo RESTORED";
    let (out, _) = in_pty(d, &addr, shell, b"", Duration::ZERO);
    assert!(out.contains("33 77"), "the remote terminal's size: {out}");
    assert!(out.contains("rc=0"), "{out}");
    assert!(
        out.contains("RESTORED"),
        "the terminal mode is restored: {out}"
    );

    // `~.` at the start of a line detaches from a long command; the input
    // has no newline after it, so it only arrives in raw mode.
    let shell = "a=$(stty -g); nomad alloc exec -job ttyjob sleep 60; \
                 echo rc=$?; b=$(stty -g); [ \"$a\" = \"$b\" ] && echo RESTORED";
    let (out, took) = in_pty(d, &addr, shell, b"\r~.", Duration::from_secs(2));
    assert!(out.contains("Connection closed"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(out.contains("RESTORED"), "{out}");
    assert!(took < Duration::from_secs(20), "detached at once: {took:?}");

    let stop = nomad_at(d, &addr, &["job", "stop", "-detach", "ttyjob"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    agent.wait_for("the task stopped", 30, || {
        !nomad_at(d, &addr, &["job", "allocs", "ttyjob"])
            .stdout
            .contains("running")
    });
    assert_eq!(agent.stop(), Some(0));
}
