//! Artifacts from a local HTTP server, unpacked and checksum-verified.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, raw_exec_task};
use nomad_types::{Nanos, RestartPolicy, TaskArtifact};
use sha2::{Digest, Sha256};

/// Serves `body` for every request, `n` times, on 127.0.0.1.
fn serve(body: Vec<u8>, n: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn tarball() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut b = tar::Builder::new(&mut gz);
        let data = b"hello from artifact\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "site/hello.txt", &data[..]).unwrap();
        b.finish().unwrap();
    }
    gz.finish().unwrap()
}

fn no_restart() -> Option<RestartPolicy> {
    Some(RestartPolicy {
        attempts: Some(0),
        interval: Some(Nanos::from_secs(60)),
        delay: Some(Nanos::from_millis(10)),
        mode: Some("fail".into()),
        render_templates: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_artifact_is_verified_and_unpacked() {
    let env = start().await;
    let body = tarball();
    let sum: String = Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = serve(body, 1);
    let mut t = raw_exec_task("web", "/bin/cat", &["local/site/hello.txt"]);
    t.artifacts.push(TaskArtifact {
        getter_source: Some(format!("{base}/site.tar.gz")),
        getter_options: [("checksum".to_string(), format!("sha256:{sum}"))].into(),
        ..Default::default()
    });
    let a = alloc(
        job("art", "batch", vec![t], no_restart()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    assert!(event_types(&got, "web").contains(&"Downloading Artifacts".to_string()));
    let dir = env.client.alloc_dir(&a.id).unwrap();
    let out = read_logs(&dir, "web", "stdout", Origin::Start, 0, 1024).unwrap();
    assert_eq!(out, b"hello from artifact\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_checksum_and_escaping_destination_fail_the_task() {
    let env = start().await;
    let base = serve(tarball(), 1);
    let mut t = raw_exec_task("web", "/bin/true", &[]);
    t.artifacts.push(TaskArtifact {
        getter_source: Some(format!(
            "{base}/site.tar.gz?checksum=sha256:{}",
            "0".repeat(64)
        )),
        ..Default::default()
    });
    let a = alloc(
        job("badart", "batch", vec![t], no_restart()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let ev = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Failed Artifact Download")
        .unwrap();
    assert!(
        ev.display_message.contains("checksums did not match"),
        "{}",
        ev.display_message
    );

    let mut t2 = raw_exec_task("other", "/bin/true", &[]);
    t2.artifacts.push(TaskArtifact {
        getter_source: Some(format!("{base}/x.bin")),
        relative_dest: Some("../../escape".into()),
        ..Default::default()
    });
    let a = alloc(
        job("escart", "batch", vec![t2], no_restart()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let ev = events(&got, "other")
        .iter()
        .find(|e| e.event_type == "Failed Artifact Download")
        .unwrap();
    assert!(
        ev.display_message.contains("escapes the task directory"),
        "{}",
        ev.display_message
    );
    assert!(!env.dir.path().join("alloc/escape").exists());
}

/// A tar with a harmless-looking symlink to `.`, a symlink through it to
/// the destination's parent, and a file written through that.
fn hostile_tarball() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let entries: [(&str, tar::EntryType, &str); 4] = [
        ("first.txt", tar::EntryType::Regular, ""),
        ("d", tar::EntryType::Symlink, "."),
        ("d2", tar::EntryType::Symlink, "d/.."),
        ("d2/pwned", tar::EntryType::Regular, ""),
    ];
    for (path, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(0);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..path.len()].copy_from_slice(path.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_escaping_through_its_own_symlinks_is_refused_and_nothing_unpacked() {
    let env = start().await;
    let base = serve(hostile_tarball(), 1);
    let mut t = raw_exec_task("web", "/bin/true", &[]);
    t.artifacts.push(TaskArtifact {
        getter_source: Some(format!("{base}/site.tar")),
        ..Default::default()
    });
    let a = alloc(
        job("hostile", "batch", vec![t], no_restart()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "failed")
        .await
        .unwrap();
    let ev = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Failed Artifact Download")
        .unwrap();
    assert!(
        ev.display_message.contains("d2 -> d/..")
            && ev.display_message.contains("escapes the task directory"),
        "{}",
        ev.display_message
    );
    assert!(!event_types(&got, "web").contains(&"Started".to_string()));
    let local = env.client.alloc_dir(&a.id).unwrap().root.join("web/local");
    assert!(!local.join("first.txt").exists(), "checked before writing");
    assert!(std::fs::symlink_metadata(local.join("d")).is_err());
    assert!(!env
        .client
        .alloc_dir(&a.id)
        .unwrap()
        .root
        .join("web/pwned")
        .exists());
}
