//! `GET /v1/client/fs/stream/:alloc` over the in-memory agent: Nomad's
//! frames, `plain` bytes, the position parameters and their errors, and
//! the typed client decoding the frames.

use std::sync::Arc;

use base64::Engine;
use nomad_api::testing::InMemoryCluster;
use nomad_api_client::{Client, Config, FileStreamRequest};
use serde_json::Value;

const JOB: &str = r#"{"Job": {"ID": "example", "Name": "example", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "cache", "Count": 1,
    "Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"}}]}]}}"#;

/// An agent holding one allocation whose `alloc/logs/redis.stdout.0` is
/// `hello world\n`; its base address and the allocation ID.
async fn agent() -> (String, String) {
    let cluster =
        Arc::new(InMemoryCluster::new().with_event_heartbeat(std::time::Duration::from_millis(50)));
    cluster.add_node("node-a").expect("node");
    let base = cluster.clone().spawn().expect("serve");
    let http = reqwest::Client::new();
    let resp = http
        .put(format!("{base}/v1/jobs"))
        .body(JOB)
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 200);
    let allocs: Value = http
        .get(format!("{base}/v1/allocations"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let id = allocs[0]["ID"].as_str().expect("alloc id").to_string();
    cluster.set_log(&id, "redis", "stdout", "hello world\n");
    (base, id)
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("send");
    let code = resp.status().as_u16();
    (code, resp.text().await.expect("body"))
}

/// The frames of a framed body (concatenated JSON objects).
fn frames(body: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(body)
        .into_iter::<Value>()
        .map(|f| f.expect("a JSON frame"))
        .collect()
}

#[tokio::test]
async fn stream_sends_nomads_frames_or_plain_bytes() {
    let (base, id) = agent().await;
    let url = |q: &str| {
        format!("{base}/v1/client/fs/stream/{id}?path=alloc/logs/redis.stdout.0&follow=false&{q}")
    };
    let (code, body) = get(&url("origin=end&offset=6")).await;
    assert_eq!(code, 200, "{body}");
    let frames = frames(&body);
    let mut data = Vec::new();
    for f in &frames {
        let mut keys: Vec<&str> = f
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["Data", "File", "Offset"], "{f}");
        assert_eq!(f["File"], "alloc/logs/redis.stdout.0");
        let b64 = f["Data"].as_str().expect("data");
        data.extend(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
        );
    }
    assert_eq!(data, b"world\n");
    // Offsets are where each frame's data ends in the file.
    assert_eq!(frames.last().expect("a frame")["Offset"], 12);

    let (code, body) = get(&url("offset=6&plain=true")).await;
    assert_eq!((code, body.as_str()), (200, "world\n"));
}

#[tokio::test]
async fn stream_refuses_bad_parameters_with_their_names() {
    let (base, id) = agent().await;
    let file = "path=alloc/logs/redis.stdout.0";
    for (q, code, want) in [
        ("follow=false".to_string(), 400, "must provide a file name"),
        (
            format!("{file}&origin=middle"),
            400,
            "origin: origin must be start or end",
        ),
        (
            format!("{file}&offset=-3"),
            400,
            "offset: must be a positive offset",
        ),
        (format!("{file}&follow=maybe"), 400, "follow"),
        (
            "path=alloc/none&follow=false".to_string(),
            404,
            "file not found",
        ),
    ] {
        let (got, body) = get(&format!("{base}/v1/client/fs/stream/{id}?{q}")).await;
        assert_eq!(got, code, "{q}: {body}");
        assert!(body.contains(want), "{q}: {body}");
    }
    let (got, _) = get(&format!("{base}/v1/client/fs/stream/nope?{file}")).await;
    assert_eq!(got, 404);
}

#[tokio::test]
async fn the_typed_client_decodes_frames_and_follows() {
    let (base, id) = agent().await;
    let client = Client::new(Config {
        address: base,
        ..Config::default()
    })
    .expect("client");
    let mut req = FileStreamRequest {
        path: "alloc/logs/redis.stdout.0".into(),
        offset: 0,
        from_end: false,
        follow: false,
    };
    let mut s = client.alloc_fs_stream(&id, &req).await.expect("stream");
    let mut data = Vec::new();
    while let Some(f) = s.next().await.expect("frame") {
        assert_eq!(f.file, "alloc/logs/redis.stdout.0");
        data.extend(f.data);
    }
    assert_eq!(data, b"hello world\n");

    // Following: the data there now arrives and the stream stays open.
    req.follow = true;
    req.from_end = true;
    req.offset = 3;
    let mut s = client.alloc_fs_stream(&id, &req).await.expect("stream");
    let first = s.next().await.expect("frame").expect("data");
    assert_eq!((first.data.as_slice(), first.offset), (&b"ld\n"[..], 12));
    let more = tokio::time::timeout(std::time::Duration::from_millis(200), s.next()).await;
    assert!(more.is_err(), "a followed stream stays open: {more:?}");
}

#[tokio::test]
async fn a_followed_stream_sends_heartbeats_while_the_file_is_quiet() {
    let (base, id) = agent().await;
    let url = format!("{base}/v1/client/fs/stream/{id}?path=alloc/logs/redis.stdout.0&offset=12");
    let mut resp = reqwest::get(&url).await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    // Nothing past offset 12: the first frames are heartbeats, `{}` as
    // Nomad's (every field of a frame is left out when empty).
    let mut body = Vec::new();
    while body.len() < 4 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
            .await
            .expect("a heartbeat within 5 s")
            .expect("chunk")
            .expect("stream open");
        body.extend_from_slice(&chunk);
    }
    assert_eq!(&body[..4], b"{}{}");
}
