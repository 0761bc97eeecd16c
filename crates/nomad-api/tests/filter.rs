//! `?filter=` on the list routes, over the in-memory agent: the expression
//! sees whole objects (a job's task groups, not only its list stub), pages
//! count only what passes, and bad expressions are 400s that say where.

use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;
use serde_json::Value;

fn job(id: &str, count: u32, env: &str) -> String {
    format!(
        r#"{{"Job": {{"ID": "{id}", "Name": "{id}", "Type": "service", "Priority": {p},
  "Datacenters": ["dc1"], "Meta": {{"env": "{env}"}},
  "TaskGroups": [{{"Name": "cache", "Count": {count},
    "Tasks": [{{"Name": "redis", "Driver": "docker", "Config": {{"image": "redis:7"}}}}]}}]}}}}"#,
        p = 40 + count * 10
    )
}

struct Env {
    base: String,
    http: reqwest::Client,
}

async fn env() -> Env {
    let cluster = Arc::new(InMemoryCluster::new());
    cluster.add_node("node-a").expect("node");
    let base = cluster.clone().spawn().expect("serve");
    let e = Env {
        base,
        http: reqwest::Client::new(),
    };
    for (id, count, env) in [("api", 1, "prod"), ("batch", 2, "dev"), ("web", 3, "prod")] {
        let resp = e
            .http
            .put(format!("{}/v1/jobs", e.base))
            .body(job(id, count, env))
            .send()
            .await
            .expect("register");
        assert_eq!(resp.status().as_u16(), 200);
    }
    e
}

impl Env {
    /// `GET path?filter=expr&extra`: status, body and the next-page token.
    async fn list(&self, path: &str, expr: &str, extra: &[(&str, &str)]) -> (u16, String, String) {
        let mut q = vec![("filter", expr)];
        q.extend_from_slice(extra);
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .query(&q)
            .send()
            .await
            .expect("send");
        let code = resp.status().as_u16();
        let next = resp
            .headers()
            .get("X-Nomad-NextToken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (code, resp.text().await.expect("body"), next)
    }

    /// The `ID`s a filtered list returns.
    async fn ids(&self, path: &str, expr: &str) -> Vec<String> {
        let (code, body, _) = self.list(path, expr, &[]).await;
        assert_eq!(code, 200, "{expr}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v.as_array()
            .expect("a list")
            .iter()
            .map(|o| o["ID"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

#[tokio::test]
async fn job_lists_are_filtered_on_the_whole_job() {
    let e = env().await;
    assert_eq!(
        e.ids("/v1/jobs", r#"Meta.env == "prod""#).await,
        ["api", "web"]
    );
    // Fields the list stub does not carry: task groups, priority.
    assert_eq!(
        e.ids("/v1/jobs", "any TaskGroups as g { g.Count == 3 }")
            .await,
        ["web"]
    );
    assert_eq!(e.ids("/v1/jobs", "Priority == 60").await, ["batch"]);
    assert_eq!(
        e.ids(
            "/v1/jobs",
            r#"TaskGroups.0.Count != 1 and not (ID matches "^w")"#
        )
        .await,
        ["batch"]
    );
    assert_eq!(e.ids("/v1/jobs", r#""dc1" in Datacenters"#).await.len(), 3);
    assert_eq!(e.ids("/v1/jobs", "Meta.owner is empty").await.len(), 3);
    // An empty filter is no filter.
    assert_eq!(e.ids("/v1/jobs", "").await.len(), 3);
}

#[tokio::test]
async fn pages_count_only_what_passes() {
    let e = env().await;
    let prod = r#"Meta.env == "prod""#;
    let (code, body, next) = e.list("/v1/jobs", prod, &[("per_page", "1")]).await;
    assert_eq!(code, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page[0]["ID"], "api");
    // The next page starts at the next job that passes, not at "batch".
    assert_eq!(next, "web");
    let (_, body, next) = e
        .list(
            "/v1/jobs",
            prod,
            &[("per_page", "1"), ("next_token", &next)],
        )
        .await;
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((page[0]["ID"].as_str(), next.as_str()), (Some("web"), ""));
}

#[tokio::test]
async fn other_lists_take_filters_too() {
    let e = env().await;
    let allocs = e
        .ids(
            "/v1/allocations",
            r#"JobID == "web" and TaskGroup == "cache""#,
        )
        .await;
    assert_eq!(allocs.len(), 3);
    let nodes = e
        .ids("/v1/nodes", r#"Status == "ready" and Datacenter == "dc1""#)
        .await;
    assert_eq!(nodes.len(), 1);
    assert!(e.ids("/v1/nodes", r#"Status != "ready""#).await.is_empty());
    let evals = e.ids("/v1/evaluations", r#"JobID == "batch""#).await;
    assert_eq!(evals.len(), 1);
    let (code, body, _) = e.list("/v1/deployments", r#"JobID == "nope""#, &[]).await;
    assert_eq!((code, body.as_str()), (200, "[]"));
}

#[tokio::test]
async fn bad_filters_are_400s_that_say_where() {
    let e = env().await;
    for (expr, want) in [
        (
            r#"Status =="#,
            "failed to read filter expression: 1:10: expected a value",
        ),
        (
            r#"Status == "running" AND ID == "x""#,
            r#"failed to read filter expression: 1:21: expected "and", "or" or the end of the filter, found "AND""#,
        ),
        (
            r#"Stauts == "running""#,
            r#"failed to read result page: error finding value in datum: /Stauts at part 0: couldn't find key "Stauts""#,
        ),
    ] {
        let (code, body, _) = e.list("/v1/jobs", expr, &[]).await;
        assert_eq!(code, 400, "{expr}: {body}");
        assert!(body.starts_with(want), "{expr}: {body}");
    }
}
