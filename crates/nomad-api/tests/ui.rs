//! The web UI as the agent serves it: `/` redirects to `/ui/`, every
//! embedded asset is served with its content type and cache headers (and
//! answers conditional requests), `/ui/` and deep links return the index
//! page, unknown asset paths are 404, every file the page loads (from
//! `index.html` and through the modules' imports) is reachable over HTTP,
//! and the `/v1` API still answers beside it. With Node installed, every
//! page is also rendered against this server (tests/js/render.mjs in
//! nomad-ui); without it that check is skipped with a note.

use std::collections::BTreeSet;
use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};

const JOB: &str = r#"{"Job": {"ID": "example", "Name": "example", "Type": "service",
  "Datacenters": ["dc1"],
  "TaskGroups": [{"Name": "cache", "Count": 2,
    "Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"},
               "Resources": {"CPU": 500, "MemoryMB": 256}}]}]}}"#;

async fn server() -> String {
    let cluster = Arc::new(InMemoryCluster::new());
    cluster.add_node("node-a").expect("node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let api: Arc<dyn nomad_api::ClusterApi> = cluster;
    tokio::spawn(nomad_api::serve(listener, api, std::future::pending()));
    base
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(base: &str, path: &str) -> (u16, HeaderMap, Vec<u8>) {
    let r = http()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("send");
    let code = r.status().as_u16();
    let h = r.headers().clone();
    (code, h, r.bytes().await.expect("body").to_vec())
}

fn header(h: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn root_and_ui_redirect_to_the_ui() {
    let base = server().await;
    let (code, h, _) = get(&base, "/").await;
    assert_eq!(code, 307);
    assert_eq!(header(&h, LOCATION), "/ui/");
    let (code, h, _) = get(&base, "/ui").await;
    assert_eq!(code, 301);
    assert_eq!(header(&h, LOCATION), "/ui/");
}

#[tokio::test]
async fn the_index_answers_every_page_path() {
    let base = server().await;
    for path in [
        "/ui/",
        "/ui/jobs",
        "/ui/jobs/example",
        "/ui/jobs/example/versions?namespace=default",
        "/ui/jobs/periodic%2Fchild-1",
        "/ui/allocations/0b83c308-b9ac-4c26-b834-7d2caee0b82d",
        "/ui/clients",
        "/ui/settings/tokens",
    ] {
        let (code, h, body) = get(&base, path).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(
            header(&h, CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(header(&h, CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(header(&h, ETAG), format!("\"{}\"", nomad_ui::version()));
        assert!(header(&h, "content-security-policy").contains("default-src 'self'"));
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(body, nomad_ui::index_html().as_bytes(), "{path}");
    }
    // HEAD: the headers without the body.
    let r = http()
        .head(format!("{base}/ui/jobs"))
        .send()
        .await
        .expect("head");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        header(r.headers(), "content-length"),
        nomad_ui::index_html().len().to_string()
    );
    // Only reads.
    let r = http()
        .post(format!("{base}/ui/jobs"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(header(r.headers(), "allow"), "GET, HEAD");
}

#[tokio::test]
async fn every_asset_is_served_with_its_type_and_cache_headers() {
    let base = server().await;
    let v = nomad_ui::version();
    assert!(!nomad_ui::assets().is_empty());
    for a in nomad_ui::assets() {
        let path = format!("/ui/assets/{v}/{}", a.path);
        let (code, h, body) = get(&base, &path).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(header(&h, CONTENT_TYPE), a.content_type, "{path}");
        assert_eq!(
            header(&h, CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(body, a.bytes, "{path}");
        let expected_type = match a.path.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?}: add it here"),
        };
        assert_eq!(a.content_type, expected_type, "{path}");
        // A revalidation with the ETag is a 304 without a body.
        let r = http()
            .get(format!("{base}{path}"))
            .header(IF_NONE_MATCH, header(&h, ETAG))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 304, "{path}");
        assert!(r.bytes().await.expect("body").is_empty());
    }
}

#[tokio::test]
async fn unknown_asset_paths_are_404() {
    let base = server().await;
    let v = nomad_ui::version();
    for path in [
        format!("/ui/assets/{v}/nope.js"),
        format!("/ui/assets/{v}/views/nope.js"),
        format!("/ui/assets/{v}/index.html"),
        format!("/ui/assets/{v}/"),
        "/ui/assets/0000000000000000/app.js".to_string(),
        "/ui/assets/app.js".to_string(),
        "/ui/assets/".to_string(),
        "/ui/assets".to_string(),
    ] {
        let (code, h, body) = get(&base, &path).await;
        assert_eq!(code, 404, "{path}");
        assert_eq!(header(&h, CONTENT_TYPE), "text/plain", "{path}");
        assert_eq!(body, b"404 page not found", "{path}");
    }
}

/// Follows the page's references as a browser would: index.html's
/// `src`/`href` to assets, then each module's imports, all over HTTP.
#[tokio::test]
async fn everything_the_page_loads_is_served() {
    let base = server().await;
    let (_, _, index) = get(&base, "/ui/jobs/example").await;
    let index = String::from_utf8(index).expect("utf8");
    let prefix = format!("/ui/assets/{}/", nomad_ui::version());
    let mut todo: Vec<String> = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for piece in index.split(attr).skip(1) {
            let url = piece.split('"').next().unwrap_or("");
            if url.starts_with("/ui/assets/") {
                todo.push(url.to_string());
            }
        }
    }
    assert!(todo.iter().any(|u| u.ends_with("/app.js")), "{todo:?}");
    let mut seen = BTreeSet::new();
    while let Some(url) = todo.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        let (code, _, body) = get(&base, &url).await;
        assert_eq!(code, 200, "{url}");
        if !url.ends_with(".js") {
            continue;
        }
        let text = String::from_utf8(body).expect("utf8");
        let dir = &url[..url.rfind('/').expect("slash") + 1];
        for line in text.lines() {
            let line = line.trim();
            if !(line.starts_with("import ") || line.starts_with("} from ")) {
                continue;
            }
            let Some(spec) = line.split(['\'', '"']).nth(1) else {
                continue;
            };
            let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
            for p in spec.split('/') {
                match p {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            let target = parts.join("/");
            assert!(
                target.starts_with(&prefix),
                "{url} imports {spec} outside the assets"
            );
            todo.push(target);
        }
    }
    assert_eq!(
        seen.len(),
        nomad_ui::assets().len(),
        "the page should load every embedded asset: {seen:?}"
    );
}

#[tokio::test]
async fn the_api_still_answers_beside_the_ui() {
    let base = server().await;
    let r = http()
        .put(format!("{base}/v1/jobs"))
        .body(JOB)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let (code, h, body) = get(&base, "/v1/jobs").await;
    assert_eq!(code, 200);
    assert_eq!(header(&h, CONTENT_TYPE), "application/json");
    assert!(String::from_utf8_lossy(&body).contains("\"example\""));
    let (code, _, body) = get(&base, "/v1/nope").await;
    assert_eq!(code, 404);
    assert_eq!(body, b"404 page not found");
    let (code, _, _) = get(&base, "/uix").await;
    assert_eq!(code, 404);
}

/// Renders every page under Node (with a small DOM stand-in) against this
/// server; skipped when `node` is not installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_under_node_if_installed() {
    let has_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node {
        eprintln!("skipped: `node` is not installed (optional check; CI does not need it)");
        return;
    }
    let base = server().await;
    let r = http()
        .put(format!("{base}/v1/jobs"))
        .body(JOB)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nomad-ui/tests/js/render.mjs"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(&base)
            .arg("--write")
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all pages rendered"), "{stdout}");
    println!("{stdout}");
}
