//! Forwarding requests to another agent's HTTP API, as Nomad's agents do:
//! `/v1/client/*` for an allocation (or `?node_id=`) to the node that
//! runs it (its registered `HTTPAddr`), and every other request of a
//! client-only agent to its servers.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::cluster::{ClusterApi, ClusterError};

/// Request headers passed on.
const PASS_REQUEST: &[&str] = &["x-nomad-token", "content-type", "accept", "index"];
/// Response headers passed back.
const PASS_RESPONSE: &[&str] = &[
    "content-type",
    "x-nomad-index",
    "x-nomad-knownleader",
    "x-nomad-lastcontact",
    "x-nomad-nexttoken",
    "digest",
    "content-encoding",
    "cache-control",
    "location",
];

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// `http://ADDR` for an address that may lack the scheme.
pub(crate) fn base_url(addr: &str) -> String {
    if addr.contains("://") {
        addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{addr}")
    }
}

/// The allocation a `/v1/client/*` path names, if any.
pub(crate) fn alloc_of_path(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/v1/client/allocation/") {
        return rest.split('/').next().filter(|s| !s.is_empty());
    }
    let rest = path.strip_prefix("/v1/client/fs/")?;
    let (_, alloc) = rest.split_once('/')?;
    Some(alloc.trim_end_matches('/')).filter(|s| !s.is_empty() && !s.contains('/'))
}

/// The HTTP address of the node that must answer this `/v1/client/*`
/// request, when it is not this agent's client; `None` to answer here.
pub(crate) fn remote_for(
    api: &dyn ClusterApi,
    path: &str,
    query: &[(String, String)],
) -> Option<String> {
    let local = api.client_fs().map(|c| c.node_id()).unwrap_or_default();
    let snap = api.state().ok()?.snapshot();
    let node_id = match alloc_of_path(path) {
        Some(alloc) => snap.alloc_by_id(alloc)?.node_id.clone(),
        None if path.trim_end_matches('/') == "/v1/client/stats" => query
            .iter()
            .find(|(k, v)| k == "node_id" && !v.is_empty())
            .map(|(_, v)| v.clone())?,
        None => return None,
    };
    if node_id.is_empty() || node_id == local {
        return None;
    }
    let addr = snap.node_by_id(&node_id)?.http_addr.clone();
    (!addr.is_empty()).then_some(addr)
}

/// Sends the request to the first of `targets` that answers and relays
/// the response (streamed: followed logs work through it).
pub(crate) async fn proxy(
    targets: &[String],
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ClusterError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut last = ClusterError::Internal("no servers to forward the request to".into());
    for target in targets {
        let url = format!("{}{path}", base_url(target));
        let mut rb = http().request(method.clone(), &url).body(body.clone());
        for (k, v) in headers {
            if PASS_REQUEST.contains(&k.as_str()) {
                rb = rb.header(k, v);
            }
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(target = %target, error = %e, "forwarding request");
                last = ClusterError::Internal(format!("forwarding to {target}: {e}"));
                continue;
            }
        };
        tracing::debug!(target = %target, path, status = resp.status().as_u16(), "forwarded request");
        let status = StatusCode::from_u16(resp.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut out_headers = Vec::new();
        for (k, v) in resp.headers() {
            if PASS_RESPONSE.contains(&k.as_str()) {
                if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
                    out_headers.push((k.as_str().to_string(), v));
                }
            }
        }
        let stream = futures_util::stream::unfold(Some(resp), |resp| async move {
            let mut resp = resp?;
            match resp.chunk().await {
                Ok(Some(c)) => Some((Ok::<_, std::io::Error>(c), Some(resp))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        });
        let mut out = Response::new(Body::from_stream(stream));
        *out.status_mut() = status;
        for (k, v) in out_headers {
            if let Ok(name) = axum::http::HeaderName::from_bytes(k.as_bytes()) {
                out.headers_mut().insert(name, v);
            }
        }
        return Ok(out);
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_ids_are_found_in_client_paths() {
        assert_eq!(
            alloc_of_path("/v1/client/allocation/abc/stats"),
            Some("abc")
        );
        assert_eq!(alloc_of_path("/v1/client/allocation/abc/exec"), Some("abc"));
        assert_eq!(alloc_of_path("/v1/client/fs/logs/abc"), Some("abc"));
        assert_eq!(alloc_of_path("/v1/client/fs/cat/abc/"), Some("abc"));
        assert_eq!(alloc_of_path("/v1/client/stats"), None);
        assert_eq!(alloc_of_path("/v1/client/fs/logs/"), None);
        assert_eq!(base_url("1.2.3.4:4646"), "http://1.2.3.4:4646");
        assert_eq!(base_url("http://a:1/"), "http://a:1");
    }
}
